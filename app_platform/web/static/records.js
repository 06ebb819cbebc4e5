// Record list: reads the entity definition and a page of records from the REST API.
(function () {
  "use strict";
  const root = document.getElementById("record-list");
  if (!root) return;
  const base = `/api/v1/apps/${root.dataset.app}/entities/${root.dataset.entity}`;
  const state = { offset: 0, limit: 50, q: "", total: 0, fields: [] };
  const numeric = new Set(["number", "money", "percent", "formula"]);

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
      row.appendChild(th);
    }
    root.querySelector("thead").replaceChildren(row);
  }

  async function load() {
    const params = new URLSearchParams({ limit: state.limit, offset: state.offset, sort: "-id" });
    if (state.q) params.set("q", state.q);
    const page = await getJSON(`${base}/records?${params}`);
    state.total = page.total;
    const rows = page.items.map((item) => {
      const tr = document.createElement("tr");
      for (const f of [{ key: "id", type: "number" }, ...state.fields]) {
        const td = document.createElement("td");
        td.textContent = text(item[f.key]);
        if (numeric.has(f.type)) td.className = "num";
        tr.appendChild(td);
      }
      return tr;
    });
    root.querySelector("tbody").replaceChildren(...rows);
    document.getElementById("total").textContent = `共 ${page.total} 条 · ${page.total} records`;
    document.getElementById("prev").disabled = state.offset === 0;
    document.getElementById("next").disabled = state.offset + state.limit >= page.total;
  }

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

  getJSON(base).then((entity) => {
    state.fields = entity.fields.filter((f) => !["subtable", "attachment"].includes(f.type)).slice(0, 12);
    renderHead();
    return load();
  }).catch((error) => {
    root.querySelector("tbody").innerHTML = "";
    document.getElementById("total").textContent = error.message;
  });
})();
