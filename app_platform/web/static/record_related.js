// "360" view on a record's page: every record in the app that links to this one (a
// customer's credit applications, orders and receipts...), grouped by form, newest first,
// each group with its count and a link to the full filtered list.
(function () {
  "use strict";
  const root = document.getElementById("record-detail");
  const box = document.getElementById("related-records");
  if (!root || !box) return;
  const appKey = root.dataset.app;
  const entityKey = root.dataset.entity;
  const recordId = root.dataset.recordId;
  const SHOWN = ["text", "select", "money", "number", "date", "datetime", "auto_number", "formula", "percent"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    });
    children.forEach((c) => node.appendChild(c));
    return node;
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  }

  function cell(value) {
    if (value === null || value === undefined) return "";
    if (Array.isArray(value)) return value.join(", ");
    if (typeof value === "object") return value.masked || value.name || "";
    return String(value);
  }

  async function group(entity, field) {
    const params = new URLSearchParams({ [field.key]: recordId, limit: "20", sort: "-id" });
    const page = await getJSON(`/api/v1/apps/${appKey}/entities/${entity.key}/records?${params}`);
    if (!page.total) return null;
    const columns = entity.fields.filter((f) => SHOWN.includes(f.type) && f.key !== field.key).slice(0, 6);
    const list = `/apps/${appKey}/entities/${entity.key}?${new URLSearchParams({ [field.key]: recordId })}`;
    const more = page.total_exact === false ? `${page.total}+` : String(page.total);
    return el("div", { class: "related-group", "data-related": entity.key },
      el("h3", {}, el("a", { href: list, text: `${entity.label || entity.key}` }),
        el("span", { class: "muted", text: ` · ${field.label || field.key} · ${more}` })),
      el("table", { class: "grid" },
        el("thead", {}, el("tr", {}, el("th", { text: "#" }),
          ...columns.map((c) => el("th", { text: c.label || c.key })))),
        el("tbody", {}, ...page.items.map((item) => el("tr", {},
          el("td", {}, el("a", { href: `/apps/${appKey}/entities/${entity.key}/${item.id}`, text: `#${item.id}` })),
          ...columns.map((c) => el("td", {
            class: ["money", "number", "percent", "formula"].includes(c.type) ? "num" : "",
            text: cell(item[c.key]) })))))));
  }

  getJSON(`/api/v1/apps/${appKey}/entities`).then(async ({ items }) => {
    const links = [];
    for (const entity of items) {
      for (const field of entity.fields) {
        if (field.type === "relation" && field.target === entityKey && !field.many) links.push([entity, field]);
      }
    }
    const groups = (await Promise.all(links.map(([e, f]) => group(e, f).catch(() => null)))).filter(Boolean);
    if (!groups.length) return;
    box.replaceChildren(el("h2", { text: "关联记录 Related records" }), ...groups);
    box.hidden = false;
  }).catch(() => {});
})();
