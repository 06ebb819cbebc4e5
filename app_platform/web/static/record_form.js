// Record forms generated from an entity definition: widgets per field type, sections and
// columns from definition.layout, client-side validation that mirrors the server's rules,
// and server 422 details shown next to the field they name. Exposes window.LoomForm
// (the designer's preview reuses it) and runs the create/edit page when #record-form exists.
(function () {
  "use strict";
  const T = (key, vars) => window.LoomI18n.t(key, vars);
  const COMPUTED = new Set(["formula", "auto_number"]);
  const DECIMAL_TYPES = new Set(["number", "money", "percent"]);
  const BUILTIN = {
    email: [/^[^@\s]+@[^@\s]+\.[^@\s]+$/, "v.email"],
    phone: [/^\+?[0-9][0-9 ()-]{2,30}$/, "v.phone"],
    url: [/^https?:\/\/[^\s/$.?#][^\s]*$/, "v.url"],
  };
  const INPUT_TYPES = { email: "email", phone: "tel", url: "url" };

  // ------------------------------------------------------------------ REST helpers
  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `HTTP ${status}`);
      this.status = status;
      this.code = error.code || "";
      this.details = error.details || [];
    }
  }

  async function api(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") init.headers["X-CSRF-Token"] = document.querySelector("meta[name=csrf-token]").content;
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch (_) { data = null; }
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // ------------------------------------------------------------------ small DOM helpers
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = value;
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else el.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        el.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return el;
  }

  function options(field) {
    return (field.options || []).map((o) => (typeof o === "string" ? { value: o, label: o } : { value: o.value, label: o.label || o.value }));
  }

  function liveFields(definition) {
    return (definition.fields || []).filter((f) => !f.removed);
  }

  /** Sections from definition.layout; fields the layout does not place go last. */
  function sections(definition) {
    const byKey = new Map(liveFields(definition).map((f) => [f.key, f]));
    const placed = new Set();
    const out = [];
    for (const s of ((definition.layout || {}).sections || [])) {
      const fields = (s.fields || []).filter((k) => byKey.has(k) && !placed.has(k)).map((k) => { placed.add(k); return byKey.get(k); });
      out.push({ title: s.title || "", columns: Math.min(3, Math.max(1, s.columns || 1)), fields });
    }
    const rest = [...byKey.values()].filter((f) => !placed.has(f.key));
    if (rest.length) {
      if (out.length) out[out.length - 1].fields.push(...rest);
      else out.push({ title: "", columns: 1, fields: rest });
    }
    return out;
  }

  // ------------------------------------------------------------------ values
  function groupDigits(text) {
    const [whole, frac] = String(text).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    const digits = whole.replace("-", "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + digits + (frac !== undefined ? "." + frac : "");
  }

  function formatValue(field, value) {
    if (value === null || value === undefined || value === "") return "";
    switch (field.type) {
      case "money": return `${field.currency || "CNY"} ${groupDigits(value)}`;
      case "percent": return `${value}%`;
      case "number": return groupDigits(value);
      case "boolean": return value ? T("common.yes") : T("common.no");
      case "select": {
        const hit = options(field).find((o) => o.value === value);
        return hit ? hit.label : String(value);
      }
      case "multiselect": return value.map((v) => formatValue({ ...field, type: "select" }, v)).join("、");
      case "datetime": return new Date(value).toLocaleString(window.LoomI18n.lang === "zh" ? "zh-CN" : "en-GB");
      case "card_number": return value.masked || `•••• ${value.last4 || ""}`;
      case "attachment": return value.map((a) => a.name || a.id).join(", ");
      case "relation": return (Array.isArray(value) ? value : [value]).map((v) => `#${v}`).join(", ");
      case "subtable": return T("type.subtable") + ` (${value.length})`;
      default: return typeof value === "object" ? JSON.stringify(value) : String(value);
    }
  }

  function scaleOf(field) {
    if (field.type === "number") return field.scale || 0;
    return field.scale === undefined ? 2 : field.scale;
  }

  /** A decimal typed by a person ("1,234.50", " 7 ") as the canonical string, or null. */
  function normalizeDecimal(raw) {
    const text = String(raw).replace(/[,\s，]/g, "");
    if (!/^-?\d+(\.\d+)?$/.test(text)) return null;
    return text.replace(/^(-?)0+(?=\d)/, "$1");
  }

  function localDateTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function luhnOk(digits) {
    let sum = 0;
    for (let i = 0; i < digits.length; i += 1) {
      let d = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return digits.length >= 12 && sum % 10 === 0;
  }

  /** Check one scalar value as the server would; returns [value to send, message|null]. */
  function checkScalar(field, raw) {
    const empty = raw === null || raw === undefined || raw === "" || (Array.isArray(raw) && raw.length === 0);
    if (empty) return [null, field.required ? T("v.required") : null];
    const type = field.type;
    if (["text", "textarea", "email", "phone", "url", "user"].includes(type)) {
      const length = [...raw].length;
      if (field.min_length && length < field.min_length) return [raw, T("v.min_length", { n: field.min_length })];
      if (field.max_length && length > field.max_length) return [raw, T("v.max_length", { n: field.max_length })];
      if (field.pattern) {
        try { if (!new RegExp(field.pattern, "u").test(raw)) return [raw, T("v.pattern")]; } catch (_) { /* the server decides */ }
      } else if (BUILTIN[type] && !BUILTIN[type][0].test(raw)) return [raw, T(BUILTIN[type][1])];
      return [raw, null];
    }
    if (DECIMAL_TYPES.has(type)) {
      const text = normalizeDecimal(raw);
      if (text === null) return [raw, T("v.number")];
      const scale = scaleOf(field);
      const frac = (text.split(".")[1] || "");
      if (scale === 0 && frac) return [raw, T("v.integer")];
      if (frac.length > scale) return [raw, T("v.scale", { n: scale })];
      if (field.min !== undefined && field.min !== null && Number(text) < Number(field.min)) return [raw, T("v.min", { n: field.min })];
      if (field.max !== undefined && field.max !== null && Number(text) > Number(field.max)) return [raw, T("v.max", { n: field.max })];
      return [type === "number" && scale === 0 ? Number(text) : text, null];
    }
    if (type === "date" || type === "datetime") {
      const value = type === "datetime" ? new Date(raw) : raw;
      if (type === "datetime" && Number.isNaN(value.getTime())) return [raw, T("v.date")];
      const sent = type === "datetime" ? value.toISOString() : raw;
      if (type === "date" && !/^\d{4}-\d{2}-\d{2}$/.test(raw)) return [raw, T("v.date")];
      const cmp = type === "date" ? raw : sent;
      if (field.min && cmp < field.min) return [sent, T("v.min", { n: field.min })];
      if (field.max && cmp > field.max) return [sent, T("v.max", { n: field.max })];
      return [sent, null];
    }
    if (type === "select") {
      return [raw, options(field).some((o) => o.value === raw) ? null : T("v.option")];
    }
    if (type === "multiselect") {
      const allowed = new Set(options(field).map((o) => o.value));
      if (raw.some((v) => !allowed.has(v))) return [raw, T("v.option")];
      if (field.max_items && raw.length > field.max_items) return [raw, T("v.max_items", { n: field.max_items })];
      return [raw, null];
    }
    if (type === "card_number") {
      const digits = String(raw).replace(/[\s-]/g, "");
      return [digits, /^\d+$/.test(digits) && luhnOk(digits) ? null : T("v.card")];
    }
    return [raw, null];
  }

  // ------------------------------------------------------------------ widgets
  function textWidget(field, value) {
    const multiline = field.type === "textarea";
    const input = h(multiline ? "textarea" : "input", {
      type: multiline ? null : (INPUT_TYPES[field.type] || "text"), rows: multiline ? 3 : null,
      name: field.key, placeholder: field.placeholder || null, autocomplete: "off",
    });
    input.value = value === null || value === undefined ? "" : String(value);
    return { el: input, focus: input, read: () => input.value, disable() { input.disabled = true; } };
  }

  function decimalWidget(field, value) {
    const input = h("input", { type: "text", inputmode: "decimal", name: field.key, placeholder: field.placeholder || null, autocomplete: "off" });
    input.value = value === null || value === undefined ? "" : String(value);
    const prefix = field.type === "money" ? h("span", { class: "affix", text: field.currency || "CNY" }) : null;
    const suffix = field.type === "percent" ? h("span", { class: "affix", text: "%" }) : null;
    const box = h("div", { class: "with-affix" }, prefix, input, suffix);
    return { el: box, focus: input, read: () => input.value.trim(), disable() { input.disabled = true; } };
  }

  function dateWidget(field, value) {
    const datetime = field.type === "datetime";
    const input = h("input", { type: datetime ? "datetime-local" : "date", name: field.key, min: datetime ? null : field.min, max: datetime ? null : field.max });
    input.value = value ? (datetime ? localDateTime(value) : value) : "";
    return { el: input, focus: input, read: () => input.value, disable() { input.disabled = true; } };
  }

  function booleanWidget(field, value, ctx) {
    const input = h("input", { type: "checkbox", name: field.key });
    input.checked = value === true;
    let touched = false; // editing: an empty value stays empty unless the box is clicked
    input.addEventListener("change", () => { touched = true; });
    const box = h("label", { class: "switch" }, input, h("span", { text: T("common.yes") }));
    const keepsNull = ctx && ctx.mode === "edit" && (value === null || value === undefined);
    return { el: box, focus: input, read: () => (keepsNull && !touched ? null : input.checked), disable() { input.disabled = true; } };
  }

  function selectWidget(field, value) {
    const select = h("select", { name: field.key }, h("option", { value: "", text: field.placeholder || "—" }),
      options(field).map((o) => h("option", { value: o.value, text: o.label })));
    select.value = value || "";
    return { el: select, focus: select, read: () => select.value, disable() { select.disabled = true; } };
  }

  function multiselectWidget(field, value) {
    const chosen = new Set(value || []);
    const boxes = options(field).map((o) => h("input", { type: "checkbox", value: o.value, checked: chosen.has(o.value) }));
    const el = h("div", { class: "choices" }, boxes.map((box, i) => h("label", {}, box, options(field)[i].label)));
    return { el, focus: boxes[0], read: () => boxes.filter((b) => b.checked).map((b) => b.value), disable() { boxes.forEach((b) => { b.disabled = true; }); } };
  }

  function cardWidget(field, value) {
    const input = h("input", { type: "text", inputmode: "numeric", name: field.key, autocomplete: "off",
      placeholder: value ? `${formatValue(field, value)} · ${T("record.card_keep")}` : (field.placeholder || null) });
    return { el: input, focus: input, read: () => input.value.trim(), keepWhenEmpty: Boolean(value), disable() { input.disabled = true; } };
  }

  function computedWidget(field, value) {
    const out = h("output", { class: "computed", text: value === null || value === undefined ? T("record.computed") : formatValue(field, value) });
    return { el: out, read: () => undefined, computed: true };
  }

  const WIDGETS = {
    text: textWidget, textarea: textWidget, email: textWidget, phone: textWidget, url: textWidget, user: textWidget,
    number: decimalWidget, money: decimalWidget, percent: decimalWidget, date: dateWidget, datetime: dateWidget,
    boolean: booleanWidget, select: selectWidget, multiselect: multiselectWidget, card_number: cardWidget,
    formula: computedWidget, auto_number: computedWidget,
  };

  function widgetFor(field, value, context) {
    const extra = window.LoomWidgets || {};
    const make = WIDGETS[field.type] || extra[field.type] || textWidget;
    return make(field, value, context);
  }

  // ------------------------------------------------------------------ the form
  /** Build a form for ``definition`` into ``container``. Returns a controller:
   *  collect() -> {data, problems}, showErrors(details) -> unmatched details, clear(). */
  function build(container, definition, opts) {
    const settings = { values: {}, appKey: "", mode: "new", ...(opts || {}) };
    const context = { appKey: settings.appKey, mode: settings.mode, api, h, T, checkScalar, widgetFor, formatValue, options };
    const controls = new Map();
    container.replaceChildren();
    for (const section of sections(definition)) {
      const grid = h("div", { class: `form-grid cols-${section.columns}` });
      const box = h("section", { class: "form-section" }, section.title ? h("h2", { class: "section-title", text: section.title }) : null, grid);
      for (const field of section.fields) {
        const widget = widgetFor(field, settings.values[field.key], context);
        const star = h("span", { class: "star", text: "*", hidden: !field.required });
        const label = h("label", { class: "fld-label", for: `f-${field.key}` }, field.label || field.key, star);
        const error = h("div", { class: "fld-error", role: "alert", "data-error-for": field.key });
        const wrapper = h("div", { class: `fld fld-${field.type}`, "data-key": field.key, style: `grid-column: span ${Math.min(field.width || 1, section.columns)}` },
          label, widget.el, field.help ? h("div", { class: "fld-help", text: field.help }) : null, error);
        if (widget.focus) widget.focus.id = `f-${field.key}`;
        if (field.read_only && widget.disable) widget.disable();
        grid.append(wrapper);
        controls.set(field.key, { field, widget, wrapper, error, star });
      }
      container.append(box);
    }
    const conditions = window.LoomConditions;
    function refreshConditions() {
      if (!conditions) return;
      const values = {};
      for (const [key, c] of controls) values[key] = c.widget.computed ? settings.values[key] : c.widget.read();
      for (const c of controls.values()) {
        c.hidden = conditions.test(c.field.visible_if, values, definition) === false;
        c.wrapper.hidden = c.hidden;
        c.requiredNow = Boolean(c.field.required) || conditions.test(c.field.required_if, values, definition) === true;
        c.star.hidden = !c.requiredNow;
      }
    }
    container.addEventListener("input", refreshConditions);
    container.addEventListener("change", refreshConditions);
    refreshConditions();

    function clear() {
      for (const c of controls.values()) { c.error.textContent = ""; c.wrapper.classList.remove("invalid"); }
      container.querySelectorAll(".cell-error").forEach((el) => { el.textContent = ""; });
      container.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    }

    function mark(key, message, row, column) {
      const c = controls.get(key);
      if (!c) return false;
      if (row !== undefined && c.widget.markCell && c.widget.markCell(row, column, message)) {
        c.wrapper.classList.add("invalid");
        return true;
      }
      c.error.textContent = c.error.textContent ? `${c.error.textContent}; ${message}` : message;
      c.wrapper.classList.add("invalid");
      return true;
    }

    function collect() {
      clear();
      const data = {};
      const problems = [];
      for (const [key, c] of controls) {
        if (c.widget.computed || c.hidden || c.field.read_only) continue;
        const raw = c.widget.read();
        if (c.widget.keepWhenEmpty && raw === "") continue;
        const field = { ...c.field, required: c.requiredNow };
        const [value, message, rowProblems] = c.widget.check ? c.widget.check(field, raw) : checkScalar(field, raw);
        if (message) problems.push({ path: key, message });
        for (const p of rowProblems || []) problems.push({ path: `${key}[${p.row}].${p.column}`, message: p.message });
        data[key] = value;
      }
      showErrors(problems);
      return { data, problems };
    }

    /** Put each {path, message} next to its field ("amount", "items[0].qty"); returns
     *  the details that name no field on this form (shown by the page as a banner). */
    function showErrors(details) {
      const unmatched = [];
      for (const d of details || []) {
        const m = /^([a-z][a-z0-9_]*)(?:\.?\[(\d+)\](?:\.([a-z][a-z0-9_]*))?)?/.exec(d.path || "");
        const ok = m && mark(m[1], d.message, m[2] === undefined ? undefined : Number(m[2]), m[3]);
        if (!ok) unmatched.push(d);
      }
      const first = container.querySelector(".invalid input, .invalid select, .invalid textarea");
      if (first) first.focus();
      return unmatched;
    }

    return { collect, showErrors, clear, controls };
  }

  /** Plausible values for every field, for the designer's preview. */
  function sampleValues(definition) {
    const today = new Date().toISOString().slice(0, 10);
    const out = {};
    for (const f of liveFields(definition)) {
      const first = options(f)[0];
      const sample = {
        text: f.label ? `${f.label}示例` : "示例", textarea: "多行文本示例\nSample text", number: f.scale ? "42.5" : 42,
        money: "12800.00", percent: "12.5", date: today, datetime: new Date().toISOString(), boolean: true,
        select: first ? first.value : null, multiselect: first ? [first.value] : null, email: "finance@example.com",
        phone: "+86 21 5555 0100", url: "https://example.com", user: "member",
      }[f.type];
      if (sample !== undefined) out[f.key] = sample;
    }
    return out;
  }

  window.LoomForm = { api, ApiError, h, build, sections, liveFields, options, formatValue, checkScalar, sampleValues, groupDigits };

  // ------------------------------------------------------------------ the create/edit page
  const root = document.getElementById("record-form");
  if (!root) return;
  const appKey = root.dataset.app;
  const entityKey = root.dataset.entity;
  const recordId = root.dataset.recordId ? Number(root.dataset.recordId) : null;
  const base = `/api/v1/apps/${appKey}/entities/${entityKey}`;
  const banner = document.getElementById("form-banner");
  const fieldsBox = document.getElementById("form-fields");
  const detailUrl = (id) => `/apps/${appKey}/entities/${entityKey}/${id}`;
  let record = null;
  let controller = null;

  function say(kind, message, extra) {
    banner.className = `banner ${kind}`;
    banner.replaceChildren(h("span", { text: message }), extra || "");
    banner.hidden = !message;
  }

  async function start() {
    const definition = await api("GET", base);
    if (recordId) record = await api("GET", `${base}/records/${recordId}`);
    controller = build(fieldsBox, definition, { values: record || {}, appKey, mode: recordId ? "edit" : "new" });
    root.querySelector("button[type=submit]").disabled = false;
  }

  root.addEventListener("submit", async (event) => {
    event.preventDefault();
    say("", "");
    const { data, problems } = controller.collect();
    if (problems.length) { say("error", T("record.fix", { n: problems.length })); return; }
    const button = root.querySelector("button[type=submit]");
    if (recordId) {
      // send only what changed, so the audit trail shows the edit and nothing else
      for (const key of Object.keys(data)) {
        if (JSON.stringify(data[key] ?? null) === JSON.stringify(record[key] ?? null)) delete data[key];
      }
      if (!Object.keys(data).length) { window.location.assign(detailUrl(recordId)); return; }
    }
    button.disabled = true;
    try {
      const saved = recordId
        ? await api("PATCH", `${base}/records/${recordId}`, { ...data, version: record.version })
        : await api("POST", `${base}/records`, data);
      window.location.assign(detailUrl(saved.id));
    } catch (error) {
      button.disabled = false;
      if (!(error instanceof ApiError)) { say("error", String(error)); return; }
      if (error.code === "version_conflict") {
        say("error", T("record.conflict"), h("button", { type: "button", class: "link", text: T("common.reload"), onclick: () => window.location.reload() }));
        return;
      }
      const unmatched = controller.showErrors(error.details);
      const marked = error.details.length - unmatched.length;
      const rest = unmatched.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
      say("error", marked ? `${T("record.fix", { n: marked })}${rest ? " · " + rest : ""}` : (rest || error.message));
    }
  });

  start().catch((error) => say("error", error.message));
})();
