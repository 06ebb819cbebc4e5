// The record detail page: fields laid out like the form (read-only, formatted), linked
// records by their title, line items as a table, and a History tab read from the audit
// trail (/api/v1/apps/{app}/audit?entity=&record_id=). Delete sends the version it shows.
(function () {
  "use strict";
  const root = document.getElementById("record-detail");
  if (!root) return;
  const { api, h, sections, formatValue, liveFields } = window.LoomForm;
  const T = (key, vars) => window.LoomI18n.t(key, vars);
  const appKey = root.dataset.app;
  const entityKey = root.dataset.entity;
  const recordId = Number(root.dataset.recordId);
  const base = `/api/v1/apps/${appKey}/entities/${entityKey}`;
  const banner = document.getElementById("detail-banner");
  let definition = null;
  let record = null;
  let historyLoaded = false;

  function say(message) {
    banner.className = "banner error";
    banner.textContent = message;
    banner.hidden = !message;
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString(window.LoomI18n.lang === "zh" ? "zh-CN" : "en-GB") : "";
  }

  function valueNode(field, value) {
    if (value === null || value === undefined || value === "" || (Array.isArray(value) && !value.length)) {
      return h("span", { class: "muted", text: "—" });
    }
    if (field.type === "subtable") {
      const cols = field.fields || [];
      return h("table", { class: "subtable readonly" },
        h("thead", {}, h("tr", {}, h("th", { class: "rownum", text: "#" }), cols.map((c) => h("th", { text: c.label || c.key })))),
        h("tbody", {}, value.map((row, i) => h("tr", {}, h("td", { class: "rownum", text: String(i + 1) }),
          cols.map((c) => h("td", { class: ["number", "money", "percent"].includes(c.type) ? "num" : null, text: formatValue(c, row[c.key]) }))))));
    }
    if (field.type === "relation") {
      const ids = Array.isArray(value) ? value : [value];
      const box = h("span", { class: "chips" });
      for (const id of ids) {
        const link = h("a", { class: "chip", href: `/apps/${appKey}/entities/${field.target}/${id}`, text: `#${id}` });
        box.append(link);
        resolveTitle(field, id).then((title) => { link.textContent = title; }).catch(() => {});
      }
      return box;
    }
    if (field.type === "attachment") {
      return h("ul", { class: "files" }, value.map((f) => h("li", {}, h("a", { href: `/api/v1/uploads/${f.id}`, target: "_blank", text: f.name || f.id }),
        h("span", { class: "muted", text: f.size ? ` ${(f.size / 1024).toFixed(1)} KB` : "" }))));
    }
    if (field.type === "textarea") return h("div", { class: "prewrap", text: value });
    if (field.type === "url") return h("a", { href: value, target: "_blank", rel: "noopener noreferrer", text: value });
    return h("span", { class: ["number", "money", "percent"].includes(field.type) ? "num" : null, text: formatValue(field, value) });
  }

  const targets = new Map();
  async function resolveTitle(field, id) {
    if (!targets.has(field.target)) targets.set(field.target, api("GET", `/api/v1/apps/${appKey}/entities/${field.target}`));
    const target = await targets.get(field.target);
    const other = await api("GET", `/api/v1/apps/${appKey}/entities/${field.target}/records/${id}`);
    const key = field.display_field || target.title_field ||
      ((target.fields || []).find((f) => ["text", "auto_number", "email", "select"].includes(f.type)) || {}).key;
    return key && other[key] ? `${other[key]}` : `#${id}`;
  }

  function renderDetails() {
    const body = document.getElementById("tab-details");
    body.replaceChildren();
    for (const section of sections(definition)) {
      const grid = h("dl", { class: `detail-grid cols-${section.columns}` });
      for (const field of section.fields) {
        grid.append(h("div", { class: "detail-item", "data-key": field.key, style: `grid-column: span ${Math.min(field.width || 1, section.columns)}` },
          h("dt", { text: field.label || field.key }), h("dd", {}, valueNode(field, record[field.key]))));
      }
      body.append(h("section", { class: "form-section" }, section.title ? h("h2", { class: "section-title", text: section.title }) : null, grid));
    }
    const titleKey = definition.title_field || (liveFields(definition).find((f) => f.type === "text") || {}).key;
    if (titleKey && record[titleKey]) document.getElementById("record-title").textContent = `${record[titleKey]}`;
    document.getElementById("record-meta").textContent =
      `#${record.id} · v${record.version} · ${T("record.created")} ${when(record.created_at)} ${record.created_by || ""}` +
      ` · ${T("record.updated")} ${when(record.updated_at)} ${record.updated_by || ""}`;
  }

  function changeRows(changes) {
    const byKey = new Map(liveFields(definition).map((f) => [f.key, f]));
    return Object.entries(changes || {}).map(([key, pair]) => {
      const field = byKey.get(key) || { key, type: "text" };
      const [before, after] = Array.isArray(pair) ? pair : [null, pair];
      const show = (v) => (v === null || v === undefined || v === "" ? "—" : formatValue(field, v));
      return h("tr", { "data-field": key }, h("td", { text: field.label || key }), h("td", { class: "before", text: show(before) }), h("td", { class: "after", text: show(after) }));
    });
  }

  async function loadHistory() {
    const list = document.getElementById("history-list");
    const page = await api("GET", `/api/v1/apps/${appKey}/audit?entity=${encodeURIComponent(entityKey)}&record_id=${recordId}&limit=100`);
    if (!page.items.length) { list.replaceChildren(h("li", { class: "muted", text: T("record.no_history") })); return; }
    list.replaceChildren(...page.items.map((item) => h("li", { class: `history-item action-${item.action}` },
      h("div", { class: "history-head" },
        h("span", { class: "badge", text: window.LoomI18n.has(`action.${item.action}`) ? T(`action.${item.action}`) : item.action }),
        h("strong", { text: item.actor || "—" }), h("span", { class: "muted", text: when(item.at) }),
        item.source && item.source !== "api" ? h("span", { class: "muted", text: item.source }) : null),
      h("table", { class: "changes" },
        h("thead", {}, h("tr", {}, h("th", { text: T("record.field") }), h("th", { text: T("record.before") }), h("th", { text: T("record.after") }))),
        h("tbody", {}, changeRows(item.changes))))));
  }

  root.querySelector(".tabs").addEventListener("click", (event) => {
    const tab = event.target.closest(".tab");
    if (!tab) return;
    root.querySelectorAll(".tab").forEach((t) => { t.classList.toggle("active", t === tab); t.setAttribute("aria-selected", String(t === tab)); });
    document.getElementById("tab-details").hidden = tab.dataset.tab !== "details";
    document.getElementById("tab-history").hidden = tab.dataset.tab !== "history";
    if (tab.dataset.tab === "history" && !historyLoaded) {
      historyLoaded = true;
      loadHistory().catch((error) => { historyLoaded = false; say(error.message); });
    }
  });

  document.getElementById("delete-record").addEventListener("click", async () => {
    if (!window.confirm(T("record.delete_confirm"))) return;
    try {
      const response = await fetch(`${base}/records/${recordId}`, {
        method: "DELETE", credentials: "same-origin",
        headers: { "If-Match": String(record.version), "X-CSRF-Token": document.querySelector("meta[name=csrf-token]").content },
      });
      if (response.status === 204) { window.location.assign(`/apps/${appKey}/entities/${entityKey}`); return; }
      const body = await response.json().catch(() => ({}));
      say(body.error && body.error.code === "version_conflict" ? T("record.conflict") : ((body.error && body.error.message) || `HTTP ${response.status}`));
    } catch (error) { say(error.message); }
  });

  Promise.all([api("GET", base), api("GET", `${base}/records/${recordId}`)]).then(([d, r]) => {
    definition = d;
    record = r;
    renderDetails();
  }).catch((error) => say(error.message));
  window.LoomI18n.onChange(() => { if (record) renderDetails(); });
})();
