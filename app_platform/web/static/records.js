// Record list: reads the entity definition and a page of records from the REST API.
// Rows link to the record's detail page; the column chooser remembers its choice per
// entity in localStorage; filters become field__op=value query parameters.
(function () {
  "use strict";
  const root = document.getElementById("record-list");
  if (!root) return;
  const base = `/api/v1/apps/${root.dataset.app}/entities/${root.dataset.entity}`;
  const pageBase = `/apps/${root.dataset.app}/entities/${root.dataset.entity}`;
  const state = { offset: 0, limit: 50, q: "", total: 0, fields: [], all: [], filters: [], ops: {} };
  const numeric = new Set(["number", "money", "percent", "formula"]);
  const OP_TEXT = { eq: "=", ne: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤", contains: "包含 contains",
    in: "属于 in", isnull: "为空 is empty" };
  const columnsKey = `loom.columns.${root.dataset.app}.${root.dataset.entity}`;
  // Filters in the page's own query string (dashboard drill-down links) start the list.
  for (const [name, value] of new URLSearchParams(window.location.search)) {
    if (["limit", "offset", "sort", "q", "cursor"].includes(name)) continue;
    const [key, op] = name.split("__");
    state.filters.push({ key, op: op || "eq", value });
  }

  function text(value) {
    if (value === null || value === undefined) return "";
    if (Array.isArray(value)) return value.map(text).join(", ");
    if (typeof value === "object") return value.masked || value.name || JSON.stringify(value);
    if (typeof value === "boolean") return value ? "✓" : "";
    return String(value);
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    return body;
  }

  function renderHead() {
    const row = document.createElement("tr");
    for (const f of [{ key: "id", label: "#" }, ...state.fields]) {
      const th = document.createElement("th");
      th.textContent = f.label || f.key;
      if (numeric.has(f.type)) th.className = "num";
      row.appendChild(th);
    }
    root.querySelector("table.grid thead").replaceChildren(row);
  }

  function query() {
    const params = new URLSearchParams({ limit: state.limit, offset: state.offset, sort: "-id" });
    if (state.q) params.set("q", state.q);
    for (const f of state.filters) params.append(`${f.key}__${f.op}`, f.value);
    return params;
  }
  window.LoomRecordQuery = () => query().toString(); // for the export links

  async function load() {
    const params = query();
    let page;
    try {
      page = await getJSON(`${base}/records?${params}`);
    } catch (error) {
      document.getElementById("total").textContent = error.message;
      root.querySelector("table.grid tbody").replaceChildren();
      return;
    }
    state.total = page.total;
    const rows = page.items.map((item) => {
      const tr = document.createElement("tr");
      tr.className = "linked";
      tr.dataset.id = item.id;
      for (const f of [{ key: "id", type: "number" }, ...state.fields]) {
        const td = document.createElement("td");
        if (f.key === "id") {
          const link = document.createElement("a");
          link.href = `${pageBase}/${item.id}`;
          link.textContent = text(item.id);
          td.appendChild(link);
        } else {
          td.textContent = text(item[f.key]);
        }
        if (numeric.has(f.type)) td.className = "num";
        tr.appendChild(td);
      }
      return tr;
    });
    root.querySelector("table.grid tbody").replaceChildren(...rows);
    const shown = page.total_exact === false ? `${page.total.toLocaleString()}+` : String(page.total);
    document.getElementById("total").textContent = `共 ${shown} 条 · ${shown} records`;
    document.getElementById("prev").disabled = state.offset === 0;
    document.getElementById("next").disabled = !page.next_cursor && state.offset + state.limit >= page.total;
  }

  function option(value, label) {
    const el = document.createElement("option");
    el.value = value;
    el.textContent = label;
    return el;
  }

  function renderColumnChooser() {
    const shown = new Set(state.fields.map((f) => f.key));
    const box = document.getElementById("column-chooser");
    box.replaceChildren(...state.all.map((f) => {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.value = f.key;
      input.checked = shown.has(f.key);
      input.addEventListener("change", () => {
        const keys = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        state.fields = state.all.filter((x) => keys.includes(x.key));
        localStorage.setItem(columnsKey, JSON.stringify(keys));
        renderHead();
        load();
      });
      label.append(input, f.label || f.key);
      return label;
    }));
  }

  function renderFilterForm() {
    const form = document.getElementById("filter-form");
    const filterable = state.all.filter((f) => (state.ops[f.type] || []).length);
    form.field.replaceChildren(...filterable.map((f) => option(f.key, f.label || f.key)));
    const sync = () => {
      const field = state.all.find((f) => f.key === form.field.value);
      if (!field) return;
      form.op.replaceChildren(...state.ops[field.type].map((op) => option(op, OP_TEXT[op] || op)));
      form.op.value = state.ops[field.type].includes("contains") ? "contains" : "eq";
      const values = field.type === "boolean" ? ["true", "false"]
        : (field.options || []).map((o) => (typeof o === "string" ? o : o.value));
      document.getElementById("filter-values").replaceChildren(...values.map((v) => option(v, v)));
    };
    form.field.addEventListener("change", sync);
    sync();
  }

  function renderFilterBar() {
    const bar = document.getElementById("filter-bar");
    bar.replaceChildren(...state.filters.map((f, i) => {
      const field = state.all.find((x) => x.key === f.key) || { label: f.key };
      const chip = document.createElement("span");
      chip.className = "filter-chip";
      chip.textContent = `${field.label || f.key} ${OP_TEXT[f.op] || f.op} ${f.op === "isnull" ? "" : f.value}`;
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "chip-x";
      remove.textContent = "×";
      remove.setAttribute("aria-label", "remove filter");
      remove.addEventListener("click", () => { state.filters.splice(i, 1); state.offset = 0; renderFilterBar(); load(); });
      chip.appendChild(remove);
      return chip;
    }));
  }

  document.getElementById("filter-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.target;
    const value = form.op.value === "isnull" ? (form.value.value || "true") : form.value.value.trim();
    if (!form.field.value || value === "") return;
    state.filters.push({ key: form.field.value, op: form.op.value, value });
    form.value.value = "";
    document.getElementById("filter-menu").open = false;
    state.offset = 0;
    renderFilterBar();
    load();
  });
  root.querySelector("table.grid tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (row && !event.target.closest("a")) window.location.assign(`${pageBase}/${row.dataset.id}`);
  });
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = new FormData(event.target).get("q");
    state.offset = 0;
    load();
  });
  document.getElementById("prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - state.limit);
    load();
  });
  document.getElementById("next").addEventListener("click", () => {
    state.offset += state.limit;
    load();
  });

  Promise.all([getJSON(base), getJSON("/api/v1/types").catch(() => ({ field_types: [] }))]).then(([entity, types]) => {
    state.ops = Object.fromEntries(types.field_types.map((t) => [t.name, t.filter_ops]));
    state.all = entity.fields.filter((f) => !["subtable", "attachment"].includes(f.type));
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(columnsKey) || "null"); } catch (_) { saved = null; }
    state.fields = Array.isArray(saved) ? state.all.filter((f) => saved.includes(f.key)) : state.all.slice(0, 12);
    renderHead();
    renderColumnChooser();
    renderFilterForm();
    renderFilterBar();
    return load();
  }).catch((error) => {
    root.querySelector("table.grid tbody").innerHTML = "";
    document.getElementById("total").textContent = error.message;
  });
})();
