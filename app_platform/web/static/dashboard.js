// Dashboards: a 12-column grid of report cards (ECharts, KPI, table, pivot), global
// filters, auto-refresh, PNG/CSV export, drill-down, and the layout editor (edit mode).
// window.LoomReports.renderResult is shared with the report designer's live preview.
(function () {
  "use strict";
  const NULL_LABEL = "（空）";
  const GRID_COLUMNS = 12;
  const csrf = () => (document.querySelector("meta[name=csrf-token]") || {}).content || "";

  async function api(method, url, body) {
    const init = { method, headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf();
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.error ? data.error.message : response.statusText);
      error.details = data.error ? data.error.details : [];
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  const label = (value) => (value === null || value === undefined ? NULL_LABEL : String(value));

  // ------------------------------------------------------------ rendering one result
  function renderKpi(body, view) {
    const box = el("div", { class: "kpi-cards" });
    for (const card of view.cards || []) {
      const item = el("div", { class: "kpi", "data-measure": card.key },
        el("div", { class: "kpi-label", text: card.label }),
        el("div", { class: "kpi-value", text: card.value === null ? "—" : String(card.value) }));
      if ("previous" in card) {
        const up = card.delta !== null && !String(card.delta).startsWith("-");
        const pct = card.delta_pct === null ? "" : ` (${card.delta_pct}%)`;
        item.append(el("div", { class: "kpi-delta " + (up ? "up" : "down"),
          text: `${up ? "▲" : "▼"} ${card.delta === null ? "—" : card.delta}${pct} 较上期` }));
        item.append(el("div", { class: "muted kpi-prev", text: `上期 previous: ${label(card.previous)}` }));
      }
      box.append(item);
    }
    body.replaceChildren(box);
  }

  function renderTable(body, view) {
    const columns = view.columns || [];
    const head = el("tr", {}, ...columns.map((c) => el("th", { text: c.label })));
    const rows = (view.rows || []).slice(0, view.page_size || 50).map((row) =>
      el("tr", {}, ...columns.map((c) => el("td", {
        class: c.role === "measure" ? "num" : "", text: label(row[c.key]) }))));
    const table = el("table", { class: "grid compact" }, el("thead", {}, head), el("tbody", {}, ...rows));
    body.replaceChildren(view.empty ? el("p", { class: "empty", text: "暂无数据 No data" }) : el("div", { class: "scroll" }, table));
  }

  function renderPivot(body, view) {
    const measures = view.measures || [];
    const headerName = (h) => (h.total ? "合计 Total" : h.key.map(label).join(" / ") + (h.subtotal ? " 小计" : ""));
    const head = el("tr", {}, el("th", { text: (view.row_dimensions || []).map((d) => d.label).join(" / ") }));
    for (const column of view.columns || []) {
      for (const m of measures) {
        head.append(el("th", { class: "num" + (column.total || column.subtotal ? " sub" : ""),
          text: measures.length > 1 ? `${headerName(column)} · ${m.label}` : headerName(column) }));
      }
    }
    const rows = (view.rows || []).map((row) => {
      const tr = el("tr", { class: row.total ? "total" : row.subtotal ? "sub" : "" }, el("th", { text: headerName(row) }));
      for (const cell of row.cells) {
        for (const m of measures) tr.append(el("td", { class: "num", text: cell ? label(cell[m.key]) : "" }));
      }
      return tr;
    });
    body.replaceChildren(el("div", { class: "scroll" },
      el("table", { class: "grid compact pivot" }, el("thead", {}, head), el("tbody", {}, ...rows))));
  }

  // The clicked chart element back to the result row it was drawn from.
  function rowForClick(result, params) {
    const dims = result.columns.filter((c) => c.role === "dimension");
    if (!dims.length || params.componentType !== "series") return null;
    if (String(params.seriesName || "").includes("移动平均")) return null;
    return result.rows.find((row) => label(row[dims[0].key]) === params.name &&
      (dims.length < 2 || label(row[dims[1].key]) === params.seriesName)) || null;
  }

  // Renders data (or an error) into body; returns the ECharts instance, if any.
  function renderResult(body, result, onClick, animate = true) {
    const old = window.echarts && echarts.getInstanceByDom(body);
    if (old) old.dispose();
    const view = result.chart || {};
    if (view.type === "kpi") return renderKpi(body, view);
    if (view.type === "table") return renderTable(body, view);
    if (view.type === "pivot") return renderPivot(body, view);
    body.replaceChildren();
    const chart = echarts.init(body, null, { renderer: "canvas" });
    chart.setOption(animate ? view : { ...view, animation: false }, true);
    if (onClick) chart.on("click", (params) => onClick(rowForClick(result, params), params));
    return chart;
  }

  function renderError(body, error) {
    const old = window.echarts && echarts.getInstanceByDom(body);
    if (old) old.dispose();
    body.replaceChildren(el("div", { class: "needs-fixing", role: "alert", text: error.message }));
  }

  window.LoomReports = { api, el, renderResult, renderError, label };

  const root = document.getElementById("dashboard");
  if (!root) return;
  const app = root.dataset.app;
  const base = `/api/v1/apps/${app}`;
  const mode = root.dataset.mode;

  // ------------------------------------------------------------ index page
  if (mode === "index") {
    const link = (href, title, sub) => el("li", { class: "card" },
      el("a", { href }, el("h3", { text: title }), el("p", { class: "muted", text: sub })));
    api("GET", `${base}/dashboards`).then((page) => {
      document.getElementById("dashboard-list").replaceChildren(...page.items.map((d) =>
        link(`/apps/${app}/dashboards/${d.key}`, d.name, `${d.key} · v${d.version}`)));
    });
    api("GET", `${base}/reports`).then((page) => {
      document.getElementById("report-list").replaceChildren(...page.items.map((r) =>
        link(`/designer/apps/${app}/reports/${r.key}`, r.name, `${r.entity} · ${r.chart.type} · v${r.version}`)));
    });
    return;
  }

  // ------------------------------------------------------------ view / edit
  const state = { key: root.dataset.key, version: null, definition: null, cards: [],
    filterValues: {}, charts: new Map(), timer: null, reports: [] };
  const grid = document.getElementById("dash-grid");

  function filterParams(card) {
    const params = new URLSearchParams();
    for (const spec of state.definition.filters || []) {
      const field = card.filter_fields ? card.filter_fields[spec.key] : spec.field;
      const value = state.filterValues[spec.key];
      if (!field || !value) continue;
      if (spec.type === "date_range") {
        if (value.from) params.append(`${field}__gte`, value.from);
        if (value.to) params.append(`${field}__lte`, value.to);
      } else if (value !== "") {
        params.append(field, value);
      }
    }
    return params;
  }

  async function drill(card, row) {
    if (!row) return;
    const query = filterParams(card).toString();
    try {
      const target = await api("POST", `${base}/reports/${card.report}/drill${query ? "?" + query : ""}`, { row });
      window.location.assign(target.url);
    } catch (error) {
      const note = grid.querySelector(`[data-report="${card.report}"] .card-note`);
      if (note) note.textContent = error.message;
    }
  }

  async function loadCard(card, node) {
    const body = node.querySelector(".card-body");
    if (card.problem) return renderError(body, { message: card.problem });
    const query = filterParams(card).toString();
    try {
      const result = await api("GET", `${base}/reports/${card.report}/data${query ? "?" + query : ""}`);
      const chart = renderResult(body, result, (row) => drill(card, row));
      if (chart) state.charts.set(card.report, chart);
      else state.charts.delete(card.report);
      node.dataset.loaded = String(Date.now());
    } catch (error) {
      renderError(body, error);
      node.dataset.loaded = String(Date.now());
    }
  }

  function exportPng(card) {
    const chart = state.charts.get(card.report);
    if (!chart) return;
    const link = el("a", { href: chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" }),
      download: `${card.report}.png` });
    document.body.append(link);
    link.click();
    link.remove();
  }

  function cardNode(item, card, index) {
    const csvQuery = () => { const p = filterParams(card); p.set("format", "csv"); return p.toString(); };
    const head = el("div", { class: "card-head" }, el("strong", { class: "card-title", text: card.name || item.report }));
    const tools = el("span", { class: "card-tools" });
    if (mode === "edit") {
      const resize = (dw, dh) => () => {
        item.w = Math.min(GRID_COLUMNS, Math.max(1, item.w + dw));
        item.h = Math.min(12, Math.max(1, item.h + dh));
        pack();
      };
      tools.append(el("span", { class: "drag-handle", title: "拖动 Drag", text: "⠿" }),
        el("button", { type: "button", class: "small w-minus", onclick: resize(-1, 0), text: "W−" }),
        el("button", { type: "button", class: "small w-plus", onclick: resize(1, 0), text: "W+" }),
        el("button", { type: "button", class: "small h-minus", onclick: resize(0, -1), text: "H−" }),
        el("button", { type: "button", class: "small h-plus", onclick: resize(0, 1), text: "H+" }),
        el("button", { type: "button", class: "small remove", text: "✕", onclick: () => {
          state.definition.items.splice(index, 1);
          state.cards.splice(index, 1);
          renderGrid();
        } }));
    } else {
      tools.append(el("button", { type: "button", class: "small export-png", text: "PNG", onclick: () => exportPng(card) }),
        el("a", { class: "button small export-csv", href: `${base}/reports/${card.report}/data?${csvQuery()}`,
          download: `${card.report}.csv`, text: "CSV", onclick: (event) => {
            event.currentTarget.href = `${base}/reports/${card.report}/data?${csvQuery()}`;
          } }));
    }
    head.append(tools);
    const node = el("div", { class: "dash-card", "data-report": item.report, "data-index": String(index) },
      head, el("div", { class: "card-body" }), el("div", { class: "card-note muted" }));
    place(node, item);
    return node;
  }

  function place(node, item) {
    node.style.gridColumn = `${item.x + 1} / span ${item.w}`;
    node.style.gridRow = `${item.y + 1} / span ${item.h}`;
  }

  // Row-by-row packing in list order: what "drag to move" means on a 12-column grid.
  function pack() {
    let x = 0, y = 0, rowHeight = 0;
    for (const item of state.definition.items) {
      if (x + item.w > GRID_COLUMNS) { x = 0; y += rowHeight; rowHeight = 0; }
      item.x = x; item.y = y;
      x += item.w; rowHeight = Math.max(rowHeight, item.h);
    }
    grid.querySelectorAll(".dash-card").forEach((node, i) => place(node, state.definition.items[i]));
    state.charts.forEach((chart) => chart.resize());
  }

  function renderGrid() {
    state.charts.forEach((chart) => chart.dispose());
    state.charts.clear();
    const nodes = state.definition.items.map((item, i) => cardNode(item, state.cards[i] || { report: item.report }, i));
    grid.replaceChildren(...nodes);
    if (mode === "edit") pack();
    nodes.forEach((node, i) => loadCard(state.cards[i] || { report: state.definition.items[i].report }, node));
  }

  function refreshAll() {
    grid.querySelectorAll(".dash-card").forEach((node, i) => loadCard(state.cards[i], node));
    document.getElementById("dash-updated").textContent = `更新于 ${new Date().toLocaleTimeString()}`;
  }

  function renderFilters() {
    const form = document.getElementById("dash-filters");
    const parts = [];
    for (const spec of state.definition.filters || []) {
      const value = state.filterValues[spec.key] || (spec.type === "date_range" ? {} : "");
      state.filterValues[spec.key] = value;
      if (spec.type === "date_range") {
        parts.push(el("label", {}, `${spec.label || spec.field} `,
          el("input", { type: "date", name: `${spec.key}__from`, value: value.from || "" }), " – ",
          el("input", { type: "date", name: `${spec.key}__to`, value: value.to || "" })));
      } else {
        const select = el("select", { name: spec.key }, el("option", { value: "", text: "全部 All" }),
          ...(spec.options || []).map((o) => el("option", { value: o, text: o })));
        select.value = value;
        parts.push(el("label", {}, `${spec.label || spec.field} `, select));
      }
    }
    if (parts.length) parts.push(el("button", { type: "submit", id: "dash-apply", text: "应用 Apply" }));
    form.replaceChildren(...parts);
  }

  document.getElementById("dash-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(event.target);
    for (const spec of state.definition.filters || []) {
      state.filterValues[spec.key] = spec.type === "date_range"
        ? { from: data.get(`${spec.key}__from`) || "", to: data.get(`${spec.key}__to`) || "" }
        : data.get(spec.key) || "";
    }
    refreshAll();
  });

  function startTimer() {
    if (state.timer) clearInterval(state.timer);
    const seconds = state.definition.refresh_seconds || 0;
    if (mode === "view" && seconds > 0) state.timer = setInterval(refreshAll, seconds * 1000);
  }

  window.addEventListener("resize", () => state.charts.forEach((chart) => chart.resize()));
  window.LoomDashboard = state;

  // ------------------------------------------------------------ layout editor
  function settingsToDefinition() {
    const form = new FormData(document.getElementById("dash-settings"));
    const filters = [];
    const dateField = (form.get("date_field") || "").trim();
    const selectField = (form.get("select_field") || "").trim();
    if (dateField) filters.push({ key: "period", type: "date_range", field: dateField, label: "日期 Date" });
    if (selectField) {
      const options = String(form.get("select_options") || "").split(",").map((s) => s.trim()).filter(Boolean);
      filters.push({ key: "choice", type: "select", field: selectField, options });
    }
    const definition = { key: String(form.get("key") || "").trim(), name: String(form.get("name") || "").trim(),
      refresh_seconds: Number(form.get("refresh_seconds") || 0), filters,
      items: state.definition.items.map((i) => ({ report: i.report, x: i.x, y: i.y, w: i.w, h: i.h })) };
    if (state.version !== null) definition.version = state.version;
    return definition;
  }

  async function save() {
    const errors = document.getElementById("dash-errors");
    errors.hidden = true;
    const definition = settingsToDefinition();
    try {
      const saved = state.version === null
        ? await api("POST", `${base}/dashboards`, definition)
        : await api("PUT", `${base}/dashboards/${state.key}`, definition);
      window.location.assign(`/apps/${app}/dashboards/${saved.key}`);
    } catch (error) {
      errors.hidden = false;
      errors.textContent = [error.message, ...(error.details || []).map((d) => `${d.path}: ${d.message}`)].join(" · ");
    }
  }

  function fillSettings() {
    const form = document.getElementById("dash-settings");
    const d = state.definition;
    form.elements.name.value = d.name || "";
    form.elements.refresh_seconds.value = d.refresh_seconds || 0;
    const date = (d.filters || []).find((f) => f.type === "date_range");
    const choice = (d.filters || []).find((f) => f.type === "select");
    if (date) form.elements.date_field.value = date.field;
    if (choice) {
      form.elements.select_field.value = choice.field;
      form.elements.select_options.value = (choice.options || []).join(",");
    }
    const select = document.getElementById("add-report-select");
    select.replaceChildren(...state.reports.map((r) => el("option", { value: r.key, text: `${r.name} (${r.key})` })));
  }

  function setupEditor() {
    fillSettings();
    document.getElementById("dash-save").addEventListener("click", save);
    document.getElementById("add-report").addEventListener("click", () => {
      const key = document.getElementById("add-report-select").value;
      const report = state.reports.find((r) => r.key === key);
      if (!report) return;
      state.definition.items.push({ report: key, x: 0, y: 0, w: 6, h: 4 });
      state.cards.push({ report: key, name: report.name, chart_type: report.chart.type, filter_fields: {} });
      renderGrid();
    });
    Sortable.create(grid, { handle: ".drag-handle", animation: 150, forceFallback: true,
      onEnd: () => {
        const order = [...grid.querySelectorAll(".dash-card")].map((n) => Number(n.dataset.index));
        state.definition.items = order.map((i) => state.definition.items[i]);
        state.cards = order.map((i) => state.cards[i]);
        renderGrid();
      } });
  }

  async function start() {
    if (mode === "edit") state.reports = (await api("GET", `${base}/reports`)).items;
    if (state.key) {
      const dashboard = await api("GET", `${base}/dashboards/${state.key}`);
      state.version = dashboard.version;
      state.cards = dashboard.cards;
      state.definition = dashboard;
      document.getElementById("dash-title").textContent = dashboard.name;
    } else {
      state.definition = { name: "", filters: [], items: [], refresh_seconds: 0 };
      document.getElementById("dash-title").textContent = "新仪表盘 New dashboard";
    }
    if (mode === "edit") setupEditor();
    else renderFilters();
    renderGrid();
    document.getElementById("dash-updated").textContent = `更新于 ${new Date().toLocaleTimeString()}`;
    startTimer();
  }

  start().catch((error) => {
    grid.replaceChildren(el("p", { class: "error", role: "alert", text: error.message }));
  });
})();
