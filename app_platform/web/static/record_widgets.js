// The composite record-form widgets: relation picker (searches the target entity with q=),
// subtable (line items: add/remove rows, per-cell validation and errors) and attachment
// (uploads through /api/v1/uploads when the platform offers it). Registered on
// window.LoomWidgets; record_form.js builds every other field type itself.
(function () {
  "use strict";
  const definitions = new Map(); // app/entity -> Promise of the entity definition

  function targetDefinition(ctx, target) {
    const key = `${ctx.appKey}/${target}`;
    if (!definitions.has(key)) definitions.set(key, ctx.api("GET", `/api/v1/apps/${ctx.appKey}/entities/${target}`));
    return definitions.get(key);
  }

  const TITLE_TYPES = ["text", "auto_number", "email", "phone", "select", "textarea"];

  function titleOf(definition, field, record) {
    const key = field.display_field || definition.title_field ||
      ((definition.fields || []).find((f) => TITLE_TYPES.includes(f.type)) || {}).key;
    const value = key ? record[key] : null;
    return value === null || value === undefined || value === "" ? `#${record.id}` : `${value}`;
  }

  function relationWidget(field, value, ctx) {
    const { h, T, api } = ctx;
    const many = Boolean(field.many);
    let chosen = (value === null || value === undefined ? [] : (Array.isArray(value) ? value : [value])).map((id) => ({ id, title: `#${id}` }));
    const chips = h("div", { class: "chips" });
    const search = h("input", { type: "search", name: field.key, autocomplete: "off", placeholder: field.placeholder || T("record.pick") });
    const menu = h("ul", { class: "picker-menu", role: "listbox", hidden: true });
    const el = h("div", { class: "picker" }, chips, search, menu);
    const base = `/api/v1/apps/${ctx.appKey}/entities/${field.target}/records`;
    let timer = null;

    function drawChips() {
      chips.replaceChildren(...chosen.map((item) => h("span", { class: "chip", "data-id": item.id },
        h("a", { href: `/apps/${ctx.appKey}/entities/${field.target}/${item.id}`, target: "_blank", text: item.title }),
        h("button", { type: "button", class: "chip-x", "aria-label": T("common.delete"), text: "×",
          onclick: () => { chosen = chosen.filter((c) => c.id !== item.id); drawChips(); el.dispatchEvent(new Event("change", { bubbles: true })); } }))));
      search.hidden = !many && chosen.length > 0;
    }

    let asked = 0; // answers to older lookups (slower than the latest) are dropped
    async function lookup() {
      const ticket = (asked += 1);
      const definition = await targetDefinition(ctx, field.target);
      const params = new URLSearchParams({ limit: "8", sort: "-id" });
      if (search.value.trim()) params.set("q", search.value.trim());
      let page;
      try { page = await api("GET", `${base}?${params}`); } catch (error) {
        if (error.status !== 400 || !params.has("q")) throw error;
        params.delete("q"); // the target has no searchable text fields: show its newest records
        const wanted = Number(search.value.replace(/\D/g, ""));
        if (wanted) params.set("id", String(wanted));
        page = await api("GET", `${base}?${params}`);
      }
      if (ticket !== asked) return;
      const taken = new Set(chosen.map((c) => c.id));
      const items = page.items.filter((r) => !taken.has(r.id)).map((r) => h("li", { role: "option", tabindex: "-1", "data-id": r.id,
        onmousedown: (event) => { event.preventDefault(); pick({ id: r.id, title: titleOf(definition, field, r) }); } },
      h("span", { class: "muted", text: `#${r.id}` }), " ", titleOf(definition, field, r)));
      menu.replaceChildren(...(items.length ? items : [h("li", { class: "muted", text: T("record.no_match") })]));
      menu.hidden = false;
    }

    function pick(item) {
      chosen = many ? [...chosen, item] : [item];
      search.value = "";
      menu.hidden = true;
      drawChips();
      el.dispatchEvent(new Event("change", { bubbles: true }));
    }

    search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => lookup().catch(() => {}), 250); });
    search.addEventListener("focus", () => lookup().catch(() => {}));
    search.addEventListener("blur", () => { setTimeout(() => { menu.hidden = true; }, 150); });
    search.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        const first = menu.querySelector("li[data-id]");
        if (first && !menu.hidden) first.dispatchEvent(new MouseEvent("mousedown"));
      }
    });
    drawChips();
    if (chosen.length) {
      targetDefinition(ctx, field.target).then((definition) => Promise.all(chosen.map((item) =>
        api("GET", `${base}/${item.id}`).then((r) => { item.title = titleOf(definition, field, r); }).catch(() => {}))))
        .then(drawChips).catch(() => {});
    }
    return {
      el, focus: search,
      read: () => (many ? chosen.map((c) => c.id) : (chosen[0] ? chosen[0].id : null)),
      disable() { search.disabled = true; chips.querySelectorAll("button").forEach((b) => { b.disabled = true; }); },
    };
  }

  function subtableWidget(field, value, ctx) {
    const { h, T } = ctx;
    const columns = (field.fields || []);
    const body = h("tbody");
    const rows = [];
    const table = h("table", { class: "subtable" },
      h("thead", {}, h("tr", {}, h("th", { class: "rownum", text: "#" }),
        columns.map((c) => h("th", {}, c.label || c.key, c.required ? h("span", { class: "star", text: "*" }) : null)), h("th"))),
      body);
    const add = h("button", { type: "button", class: "add-row", text: `+ ${T("record.add_row")}`, onclick: () => { addRow({}); renumber(); } });

    function addRow(values) {
      const cells = columns.map((c) => {
        const widget = ctx.widgetFor({ ...c, placeholder: c.placeholder || c.label }, values[c.key], ctx);
        const error = h("div", { class: "cell-error" });
        return { column: c, widget, error, td: h("td", { "data-column": c.key }, widget.el, error) };
      });
      const row = { cells };
      row.tr = h("tr", {}, h("td", { class: "rownum" }), cells.map((c) => c.td),
        h("td", {}, h("button", { type: "button", class: "icon-btn", title: T("record.remove_row"), "aria-label": T("record.remove_row"), text: "×",
          onclick: () => { rows.splice(rows.indexOf(row), 1); row.tr.remove(); renumber(); } })));
      rows.push(row);
      body.append(row.tr);
    }

    function renumber() { rows.forEach((r, i) => { r.tr.firstChild.textContent = String(i + 1); }); }

    for (const item of value || []) addRow(item);
    if (!rows.length && (field.min_rows || 0) > 0) addRow({});
    renumber();
    const el = h("div", { class: "subtable-box" }, h("div", { class: "subtable-scroll" }, table), add);
    return {
      el, focus: add,
      read: () => rows.map((r) => Object.fromEntries(r.cells.map((c) => [c.column.key, c.widget.read()]))),
      check(f, raw) {
        const problems = [];
        const value = raw.map((row, i) => Object.fromEntries(columns.map((c) => {
          const [v, message] = ctx.checkScalar(c, row[c.key]);
          if (message) problems.push({ row: i, column: c.key, message });
          return [c.key, v];
        })));
        let message = null;
        if (f.required && !raw.length) message = T("v.required");
        else if (f.min_rows && raw.length < f.min_rows) message = T("v.min_rows", { n: f.min_rows });
        else if (f.max_rows && raw.length > f.max_rows) message = T("v.max_rows", { n: f.max_rows });
        return [raw.length ? value : (f.required ? [] : null), message, problems];
      },
      markCell(row, column, message) {
        const cell = rows[row] && rows[row].cells.find((c) => c.column.key === column);
        if (!cell) return false;
        cell.error.textContent = message;
        cell.td.classList.add("invalid");
        return true;
      },
      disable() { el.querySelectorAll("input, select, textarea, button").forEach((x) => { x.disabled = true; }); },
    };
  }

  function attachmentWidget(field, value, ctx) {
    const { h, T, api } = ctx;
    let files = (value || []).slice();
    const list = h("ul", { class: "files" });
    const input = h("input", { type: "file", multiple: true, accept: (field.accept || []).map((x) => `.${x.replace(/^\./, "")}`).join(",") || null });
    const status = h("span", { class: "muted" });
    const el = h("div", { class: "attachments" }, list, h("label", { class: "button-like" }, input, `⇪ ${T("record.upload")}`), status);

    function draw() {
      list.replaceChildren(...files.map((f) => h("li", {},
        h("a", { href: `/api/v1/uploads/${f.id}`, target: "_blank", text: f.name || f.id }),
        h("span", { class: "muted", text: f.size ? ` ${(f.size / 1024).toFixed(1)} KB` : "" }),
        h("button", { type: "button", class: "icon-btn", text: "×", "aria-label": T("common.delete"), onclick: () => { files = files.filter((x) => x !== f); draw(); } }))));
    }

    input.addEventListener("change", async () => {
      for (const file of input.files) {
        const form = new FormData();
        form.append("file", file);
        status.textContent = T("record.uploading");
        try {
          const up = await api("POST", "/api/v1/uploads", form);
          files.push({ id: up.id, name: up.name, size: up.size, sha256: up.sha256, content_type: up.content_type });
          status.textContent = "";
        } catch (error) {
          status.textContent = error.status === 404 || error.status === 405 ? T("record.uploads_missing") : error.message;
        }
      }
      input.value = "";
      draw();
    });
    draw();
    return {
      el, focus: input, read: () => files.slice(),
      check: (f, raw) => [raw.length ? raw : null, f.required && !raw.length ? T("v.required") : null],
      disable() { input.disabled = true; },
    };
  }

  window.LoomWidgets = { relation: relationWidget, subtable: subtableWidget, attachment: attachmentWidget };
})();
