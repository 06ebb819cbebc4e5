// Report designer: pick an entity, drag fields into dimensions / measures (SortableJS),
// choose a chart, see it live (POST .../reports/preview), save a new version.
(function () {
  "use strict";
  const root = document.getElementById("report-designer");
  if (!root) return;
  const { api, el, renderResult, renderError } = window.LoomReports;
  const app = root.dataset.app;
  const base = `/api/v1/apps/${app}`;
  const NUMERIC = new Set(["number", "money", "percent"]);
  const TEMPORAL = new Set(["date", "datetime"]);
  const NOT_GROUPABLE = new Set(["multiselect", "subtable", "attachment", "card_number"]);
  const SYSTEM_FIELDS = [
    { key: "created_at", label: "创建时间", type: "datetime" },
    { key: "created_by", label: "创建人", type: "user" },
  ];
  const AGG_LABELS = { count: "计数", count_distinct: "去重计数", sum: "求和", avg: "平均", min: "最小", max: "最大" };
  const BUCKETS = { "": "原值", day: "日", week: "周", month: "月", quarter: "季", year: "年" };
  const $ = (id) => document.getElementById(id);
  const state = { key: root.dataset.key, version: null, entity: "", fields: [], dimensions: [],
    measures: [], timer: null, loaded: false };

  const fieldOf = (key) => state.fields.find((f) => f.key === key) || { key, label: key, type: "text" };

  function aggsFor(field) {
    if (NUMERIC.has(field.type)) return ["sum", "avg", "min", "max", "count_distinct"];
    if (TEMPORAL.has(field.type)) return ["min", "max", "count_distinct"];
    return ["count_distinct"];
  }

  function addDimension(key, at) {
    const field = fieldOf(key);
    if (NOT_GROUPABLE.has(field.type)) return;
    const item = { field: key, bucket: TEMPORAL.has(field.type) ? "day" : "" };
    state.dimensions.splice(at === undefined ? state.dimensions.length : at, 0, item);
  }

  function addMeasure(key, at) {
    const item = key ? { field: key, agg: aggsFor(fieldOf(key))[0] } : { agg: "count" };
    state.measures.splice(at === undefined ? state.measures.length : at, 0, item);
  }

  function select(options, value, onchange, cls) {
    const node = el("select", { class: cls || "" }, ...Object.entries(options).map(([v, t]) => el("option", { value: v, text: t })));
    node.value = value;
    node.addEventListener("change", () => onchange(node.value));
    return node;
  }

  function chip(list, index, text, control) {
    return el("li", { class: "chip placed", "data-index": String(index) },
      el("span", { class: "chip-label", text }), control || "",
      el("button", { type: "button", class: "chip-remove", title: "移除 Remove", text: "✕", onclick: () => {
        list.splice(index, 1);
        renderZones();
      } }));
  }

  function renderZones() {
    $("rd-dimensions").replaceChildren(...state.dimensions.map((d, i) => {
      const field = fieldOf(d.field);
      const control = TEMPORAL.has(field.type)
        ? select(BUCKETS, d.bucket, (v) => { d.bucket = v; changed(); }, "bucket") : null;
      return chip(state.dimensions, i, field.label || field.key, control);
    }));
    $("rd-measures").replaceChildren(...state.measures.map((m, i) => {
      if (m.agg === "count") return chip(state.measures, i, "记录数 Count", null);
      const field = fieldOf(m.field);
      const options = Object.fromEntries(aggsFor(field).map((a) => [a, AGG_LABELS[a]]));
      return chip(state.measures, i, field.label || field.key, select(options, m.agg, (v) => { m.agg = v; changed(); }, "agg"));
    }));
    changed();
  }

  function renderFields() {
    $("rd-fields").replaceChildren(...state.fields.map((f) => el("li", { class: "chip source", "data-field": f.key,
      title: `${f.key} · ${f.type}` }, el("span", { class: "chip-label", text: f.label || f.key }),
      el("span", { class: "chip-type muted", text: f.type }),
      el("button", { type: "button", class: "small add-dim", title: "加为维度", text: "+维", onclick: () => { addDimension(f.key); renderZones(); } }),
      el("button", { type: "button", class: "small add-measure", title: "加为指标", text: "+量", onclick: () => { addMeasure(f.key); renderZones(); } }))));
    const period = $("rd-period-field");
    const current = period.value;
    period.replaceChildren(el("option", { value: "", text: "—" }),
      ...state.fields.filter((f) => TEMPORAL.has(f.type)).map((f) => el("option", { value: f.key, text: f.label || f.key })));
    period.value = current;
  }

  async function loadEntity(key) {
    state.entity = key;
    if (!key) { state.fields = []; renderFields(); return; }
    const entity = await api("GET", `${base}/entities/${key}`);
    const own = entity.fields.filter((f) => !["subtable", "attachment"].includes(f.type));
    state.fields = [...own, ...SYSTEM_FIELDS];
    renderFields();
  }

  function measureKey(m, used) {
    let key = m.agg === "count" ? "count" : `${m.agg}_${m.field.replace(".", "_")}`;
    let n = 2;
    while (used.has(key)) key = `${key.replace(/_\d+$/, "")}_${n++}`;
    used.add(key);
    return key;
  }

  function definition() {
    const type = $("rd-chart").value;
    const used = new Set();
    const dimensions = state.dimensions.map((d) => {
      const spec = { field: d.field };
      if (d.bucket) { spec.bucket = d.bucket; spec.key = `${d.field.replace(".", "_")}_${d.bucket}`; }
      used.add(spec.key || d.field);
      return spec;
    });
    const measures = state.measures.map((m) => ({ key: measureKey(m, used), agg: m.agg, ...(m.field ? { field: m.field } : {}) }));
    const chart = { type };
    if (["bar", "line", "area"].includes(type) && $("rd-stacked").checked) chart.stacked = true;
    if (type === "kpi" && $("rd-compare").checked) chart.compare_previous_period = true;
    const report = { key: $("rd-key").value.trim(), name: $("rd-name").value.trim() || $("rd-key").value.trim(),
      entity: state.entity, dimensions, measures, chart };
    const periodField = $("rd-period-field").value, period = $("rd-period").value;
    if (periodField && period) report.filters = [{ field: periodField, op: "eq", value: { relative: period } }];
    const topN = Number($("rd-topn").value || 0);
    if (topN > 0) report.top_n = { n: topN };
    if (type === "pivot") {
      const keys = dimensions.map((d) => d.key || d.field);
      report.pivot = { rows: keys.slice(0, 1), columns: keys.slice(1) };
    }
    return report;
  }

  function changed() {
    if (!state.loaded) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(preview, 250);
  }

  async function preview() {
    const body = $("rd-preview");
    const report = definition();
    if (!report.entity || !report.measures.length) {
      renderError(body, { message: "选择数据表并拖入至少一个指标 Pick an entity and add a measure" });
      return;
    }
    const { key, ...draft } = report;
    try {
      const result = await api("POST", `${base}/reports/preview`, draft);
      renderResult(body, result, null, false);  // instant feedback while designing
      body.dataset.rows = String(result.rows.length);
    } catch (error) {
      const details = (error.details || []).map((d) => `${d.path}: ${d.message}`).join(" · ");
      renderError(body, { message: details ? `${error.message}: ${details}` : error.message });
    }
  }

  async function save() {
    const errors = $("rd-errors");
    errors.hidden = true;
    const report = definition();
    if (state.version !== null) report.version = state.version;
    try {
      const saved = state.version === null
        ? await api("POST", `${base}/reports`, report)
        : await api("PUT", `${base}/reports/${state.key}`, report);
      state.key = saved.key;
      state.version = saved.version;
      $("rd-key").readOnly = true;
      window.history.replaceState(null, "", `/designer/apps/${app}/reports/${saved.key}`);
      $("rd-status").textContent = `已保存 Saved · v${saved.version}`;
    } catch (error) {
      errors.hidden = false;
      errors.textContent = [error.message, ...(error.details || []).map((d) => `${d.path}: ${d.message}`)].join(" · ");
    }
  }

  function setupDragAndDrop() {
    Sortable.create($("rd-fields"), { group: { name: "fields", pull: "clone", put: false }, sort: false,
      forceFallback: true, filter: "button", preventOnFilter: false });
    const zone = (id, list, add) => Sortable.create($(id), {
      group: { name: id, pull: false, put: ["fields"] }, animation: 120, forceFallback: true,
      filter: "button, select", preventOnFilter: false,
      onAdd: (event) => {
        const key = event.item.dataset.field;
        event.item.remove();
        add(key, event.newIndex);
        renderZones();
      },
      onUpdate: (event) => {
        const [moved] = list().splice(event.oldIndex, 1);
        list().splice(event.newIndex, 0, moved);
        renderZones();
      },
    });
    zone("rd-dimensions", () => state.dimensions, addDimension);
    zone("rd-measures", () => state.measures, addMeasure);
  }

  function applyDefinition(report) {
    state.version = report.version;
    $("rd-name").value = report.name;
    $("rd-chart").value = report.chart.type;
    $("rd-stacked").checked = Boolean(report.chart.stacked);
    $("rd-compare").checked = Boolean(report.chart.compare_previous_period);
    $("rd-topn").value = report.top_n ? report.top_n.n : 0;
    const relative = (report.filters || []).find((f) => f.value && f.value.relative);
    if (relative) { $("rd-period-field").value = relative.field; $("rd-period").value = relative.value.relative; }
    state.dimensions = (report.dimensions || []).map((d) => ({ field: d.field, bucket: d.bucket || "" }));
    state.measures = report.measures.filter((m) => m.agg !== "ratio").map((m) => (m.field ? { field: m.field, agg: m.agg } : { agg: m.agg }));
  }

  async function start() {
    const [entities, types] = await Promise.all([api("GET", `${base}/entities`), api("GET", "/api/v1/types")]);
    $("rd-entity").replaceChildren(el("option", { value: "", text: "— 选择 Pick —" }),
      ...entities.items.map((e) => el("option", { value: e.key, text: `${e.label} (${e.key})` })));
    $("rd-chart").replaceChildren(...types.chart_types.map((t) => el("option", { value: t.name, text: `${t.label} ${t.name}` })));
    $("rd-chart").value = "bar";
    let report = null;
    if (state.key) {
      report = await api("GET", `${base}/reports/${state.key}`);
      $("rd-entity").value = report.entity;
      await loadEntity(report.entity);
      applyDefinition(report);
    }
    $("rd-entity").addEventListener("change", async (event) => {
      state.dimensions = [];
      state.measures = [];
      await loadEntity(event.target.value);
      renderZones();
    });
    for (const id of ["rd-chart", "rd-stacked", "rd-compare", "rd-period-field", "rd-period", "rd-topn", "rd-name"]) {
      $(id).addEventListener("change", changed);
    }
    $("rd-add-count").addEventListener("click", () => { addMeasure(null); renderZones(); });
    $("rd-save").addEventListener("click", save);
    setupDragAndDrop();
    state.loaded = true;
    renderZones();
    root.dataset.ready = "true";
  }

  window.LoomReportDesigner = state;
  start().catch((error) => renderError($("rd-preview"), error));
})();
