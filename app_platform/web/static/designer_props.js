// The designer's property panel, generated from the selected field type's settings schema
// (GET /api/v1/types): booleans become switches, enums selects, numbers number inputs,
// string lists comma-separated inputs. A few settings get richer editors: select options,
// subtable columns, relation target, currency, and expressions (formula, visible_if,
// required_if) with a field picker, a function picker and the live check's verdict.
// Settings this file does not know still appear, generically, so a new field type's
// settings are editable without touching the designer.
(function () {
  "use strict";
  const { h } = window.LoomForm;
  const T = (key, vars) => window.LoomI18n.t(key, vars);
  const SKIP = new Set(["type", "removed", "permissions", "default", "result_type"]);
  const FIRST = ["label", "key", "required", "placeholder", "help"];
  const LAST = ["width", "unique", "indexed", "read_only", "visible_if", "required_if"];
  const EXPRESSIONS = new Set(["formula", "visible_if", "required_if"]);
  const CURRENCIES = ["CNY", "USD", "EUR", "HKD", "JPY", "GBP", "SGD"];
  const CHILD_TYPES = ["text", "textarea", "number", "money", "percent", "date", "datetime", "boolean",
    "select", "email", "phone", "url", "user", "relation"];

  function propLabel(type, name) {
    if (type === "auto_number" && name === "pattern") return T("prop.auto_pattern");
    return window.LoomI18n.has(`prop.${name}`) ? T(`prop.${name}`) : name;
  }

  function orderedProps(schema) {
    const names = Object.keys(schema.properties || {}).filter((n) => !SKIP.has(n));
    const middle = names.filter((n) => !FIRST.includes(n) && !LAST.includes(n));
    return [...FIRST.filter((n) => names.includes(n)), ...middle, ...LAST.filter((n) => names.includes(n))];
  }

  function row(name, label, control, extra) {
    return h("div", { class: "prop-row", "data-prop": name },
      h("label", { class: "prop-label", text: label }), control, extra || null,
      h("div", { class: "prop-error", role: "alert", "data-error-prop": name }));
  }

  function emptyToUndefined(value) {
    return value === "" || value === null || (Array.isArray(value) && !value.length) ? undefined : value;
  }

  // -------------------------------------------------------------- editors
  function optionsEditor(field, set) {
    const list = h("div", { class: "option-list" });
    const items = (field.options || []).map((o) => (typeof o === "string" ? { value: o, label: "" } : { ...o }));
    function commit() {
      set(items.filter((o) => o.value !== "").map((o) => (o.label && o.label !== o.value ? { value: o.value, label: o.label } : o.value)));
    }
    function draw() {
      list.replaceChildren(...items.map((o, i) => h("div", { class: "option-item" },
        h("span", { class: "drag-dot", text: "⋮⋮" }),
        h("input", { type: "text", value: o.value, placeholder: T("designer.option_value"), "aria-label": T("designer.option_value"),
          oninput: (e) => { o.value = e.target.value; commit(); } }),
        h("input", { type: "text", value: o.label || "", placeholder: T("designer.option_label"), "aria-label": T("designer.option_label"),
          oninput: (e) => { o.label = e.target.value; commit(); } }),
        h("button", { type: "button", class: "icon-btn", text: "×", title: T("common.delete"), onclick: () => { items.splice(i, 1); commit(); draw(); } }))));
    }
    draw();
    return h("div", {}, list, h("button", { type: "button", class: "link add-option", text: `+ ${T("designer.add_option")}`,
      onclick: () => { items.push({ value: `${T("prop.options")} ${items.length + 1}`, label: "" }); commit(); draw(); } }));
  }

  function columnsEditor(field, set) {
    const list = h("div", { class: "option-list" });
    const cols = (field.fields || []).map((c) => ({ ...c }));
    const commit = () => set(cols.map((c) => ({ ...c })));
    function draw() {
      list.replaceChildren(...cols.map((c, i) => h("div", { class: "column-item" },
        h("input", { type: "text", value: c.label || "", placeholder: T("prop.label"), "aria-label": T("prop.label"), oninput: (e) => { c.label = e.target.value; commit(); } }),
        h("input", { type: "text", value: c.key, class: "mono", placeholder: T("prop.key"), "aria-label": T("prop.key"), oninput: (e) => { c.key = e.target.value.trim(); commit(); } }),
        h("select", { "aria-label": T("designer.columns"), onchange: (e) => { c.type = e.target.value; if (c.type === "select" && !c.options) c.options = ["A", "B"]; commit(); } },
          CHILD_TYPES.map((t) => h("option", { value: t, text: T(`type.${t}`), selected: c.type === t }))),
        h("label", { class: "mini-check", title: T("prop.required") }, h("input", { type: "checkbox", checked: Boolean(c.required), onchange: (e) => { c.required = e.target.checked || undefined; commit(); } }), "*"),
        h("button", { type: "button", class: "icon-btn", text: "×", title: T("common.delete"), onclick: () => { cols.splice(i, 1); commit(); draw(); } }))));
    }
    draw();
    return h("div", {}, list, h("button", { type: "button", class: "link add-option", text: `+ ${T("designer.add_column")}`,
      onclick: () => { cols.push({ key: `col${cols.length + 1}`, label: `${T("designer.columns")} ${cols.length + 1}`, type: "text" }); commit(); draw(); } }));
  }

  function expressionEditor(name, field, set, ctx) {
    const box = h("textarea", { class: "mono expr", rows: name === "formula" ? 3 : 2, spellcheck: "false", name: `prop-${name}` });
    box.value = field[name] || "";
    box.addEventListener("input", () => { set(emptyToUndefined(box.value.trim())); ctx.liveCheck(name); });
    function insert(text) {
      const start = box.selectionStart; const end = box.selectionEnd;
      box.value = box.value.slice(0, start) + text + box.value.slice(end);
      box.selectionStart = box.selectionEnd = start + text.length;
      box.focus();
      box.dispatchEvent(new Event("input"));
    }
    const fieldPick = h("select", { class: "picker-select", "aria-label": T("designer.insert_field"), onchange: (e) => { if (e.target.value) insert(e.target.value); e.target.value = ""; } },
      h("option", { value: "", text: `${T("designer.insert_field")}…` }),
      ctx.otherFields(field).map((f) => h("option", { value: f.ref, text: `${f.label} · ${f.ref}` })));
    const fnPick = h("select", { class: "picker-select", "aria-label": T("designer.insert_function"), onchange: (e) => { if (e.target.value) insert(`${e.target.value}(`); e.target.value = ""; } },
      h("option", { value: "", text: `${T("designer.insert_function")}…` }),
      ctx.functions.map((f) => h("option", { value: f.name, title: f.doc, text: f.doc.split(":")[0] })));
    const status = h("div", { class: "expr-status", "data-status-prop": name });
    return [h("div", { class: "expr-editor" }, box, h("div", { class: "expr-tools" }, fieldPick, fnPick)), status];
  }

  function genericControl(name, schema, field, set) {
    const value = field[name];
    const types = [].concat(schema.type || []);
    if (schema.enum) {
      return h("select", { name: `prop-${name}`, onchange: (e) => set(emptyToUndefined(e.target.value)) },
        h("option", { value: "", text: "—" }), schema.enum.map((v) => h("option", { value: v, text: String(v), selected: v === value })));
    }
    if (types.length === 1 && types[0] === "boolean") {
      return h("label", { class: "switch" }, h("input", { type: "checkbox", name: `prop-${name}`, checked: Boolean(value),
        onchange: (e) => set(e.target.checked || undefined) }), h("span", { text: T("common.yes") }));
    }
    if (types.length === 1 && (types[0] === "integer" || types[0] === "number")) {
      return h("input", { type: "number", name: `prop-${name}`, value: value ?? "", min: schema.minimum, max: schema.maximum, step: types[0] === "integer" ? 1 : "any",
        oninput: (e) => set(e.target.value === "" ? undefined : Number(e.target.value)) });
    }
    if (types[0] === "array" && (schema.items || {}).type === "string") {
      return h("input", { type: "text", name: `prop-${name}`, value: (value || []).join(", "), placeholder: T("prop.list_hint"),
        oninput: (e) => set(emptyToUndefined(e.target.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean))) });
    }
    if (types.includes("string")) {
      return h("input", { type: "text", name: `prop-${name}`, value: value ?? "", maxlength: schema.maxLength,
        oninput: (e) => set(emptyToUndefined(e.target.value)) });
    }
    return null; // free-form settings (objects, "any") are edited through the API
  }

  /** Render the panel for ``field``. ``ctx``: typeInfo, published (key is fixed), entities,
   *  functions, otherFields(field), change(prop, value), liveCheck(prop). */
  function renderField(container, field, ctx) {
    const schema = ctx.typeInfo.settings_schema || { properties: {} };
    const rows = [];
    for (const name of orderedProps(schema)) {
      const set = (value) => ctx.change(name, value);
      const label = propLabel(field.type, name);
      let control;
      let extra = null;
      if (name === "key") {
        control = h("input", { type: "text", class: "mono", name: "prop-key", value: field.key, disabled: ctx.published, oninput: (e) => set(e.target.value.trim()) });
        if (ctx.published) extra = h("div", { class: "prop-hint", text: T("prop.immutable") });
      } else if (name === "options") control = optionsEditor(field, set);
      else if (name === "fields" && field.type === "subtable") control = columnsEditor(field, set);
      else if (EXPRESSIONS.has(name)) [control, extra] = expressionEditor(name, field, set, ctx);
      else if (name === "target") {
        control = h("select", { name: "prop-target", onchange: (e) => set(e.target.value) },
          ctx.entities.map((e) => h("option", { value: e.key, text: `${e.label} (${e.key})`, selected: e.key === field.target })));
      } else if (name === "currency") {
        const list = CURRENCIES.includes(field.currency || "CNY") ? CURRENCIES : [field.currency, ...CURRENCIES];
        control = h("select", { name: "prop-currency", onchange: (e) => set(e.target.value) },
          list.map((c) => h("option", { value: c, text: c, selected: c === (field.currency || "CNY") })));
      } else if (name === "width") {
        control = h("div", { class: "segmented" }, [1, 2, 3].map((n) => h("button", { type: "button", class: (field.width || 1) === n ? "on" : null, text: String(n),
          onclick: (e) => { set(n === 1 ? undefined : n); e.target.parentElement.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b === e.target)); } })));
      } else control = genericControl(name, schema.properties[name], field, set);
      if (control) rows.push(row(name, label, control, extra));
    }
    if (field.type === "formula" && field.result_type) {
      rows.push(row("result_type", T("prop.result_type"), h("span", { class: "badge", text: T(`result.${field.result_type}`) })));
    }
    container.replaceChildren(
      h("div", { class: "props-head" }, h("span", { class: "type-tag", text: T(`type.${field.type}`) }), h("strong", { text: field.label || field.key })),
      ...rows,
      h("button", { type: "button", class: "btn-danger wide", text: T("designer.delete_field"), onclick: ctx.remove }));
  }

  function renderSection(container, section, ctx) {
    container.replaceChildren(
      h("div", { class: "props-head" }, h("span", { class: "type-tag", text: T("designer.section") })),
      row("title", T("designer.section_title"), h("input", { type: "text", name: "prop-section-title", value: section.title || "", oninput: (e) => ctx.change("title", e.target.value) })),
      row("columns", T("designer.columns"), h("div", { class: "segmented" }, [1, 2, 3].map((n) => h("button", { type: "button", class: section.columns === n ? "on" : null, text: String(n),
        onclick: (e) => { ctx.change("columns", n); e.target.parentElement.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b === e.target)); } })))),
      h("button", { type: "button", class: "btn-danger wide", text: T("designer.delete_section"), onclick: ctx.remove, disabled: !ctx.removable }));
  }

  function renderForm(container, form, ctx) {
    container.replaceChildren(
      h("div", { class: "props-head" }, h("span", { class: "type-tag", text: T("designer.form_props") })),
      row("label", T("designer.form_label"), h("input", { type: "text", name: "prop-form-label", value: form.label || "", oninput: (e) => ctx.change("label", e.target.value) })),
      row("description", T("designer.form_description"), h("textarea", { rows: 3, name: "prop-form-description", oninput: (e) => ctx.change("description", emptyToUndefined(e.target.value)) }, form.description || "")),
      row("title_field", T("designer.title_field"), h("select", { name: "prop-title-field", onchange: (e) => ctx.change("title_field", emptyToUndefined(e.target.value)) },
        h("option", { value: "", text: "—" }), ctx.titleCandidates.map((f) => h("option", { value: f.key, text: `${f.label || f.key} (${f.key})`, selected: f.key === form.title_field })))),
      h("p", { class: "muted small", text: T("designer.nothing_selected") }));
  }

  /** Show {prop: message} under the matching rows; expression rows without a problem say OK. */
  function showErrors(container, byProp, checked) {
    container.querySelectorAll("[data-error-prop]").forEach((el) => {
      el.textContent = byProp[el.dataset.errorProp] || "";
      el.closest(".prop-row").classList.toggle("invalid", Boolean(byProp[el.dataset.errorProp]));
    });
    container.querySelectorAll("[data-status-prop]").forEach((el) => {
      const prop = el.dataset.statusProp;
      const box = container.querySelector(`[name=prop-${prop}]`);
      const ok = checked && !byProp[prop] && box && box.value.trim();
      el.textContent = ok ? `✓ ${T("designer.formula_ok")}` : "";
      el.className = `expr-status${ok ? " ok" : ""}`;
    });
  }

  function showChecking(container, prop) {
    const el = container.querySelector(`[data-status-prop=${prop}]`);
    if (el) { el.textContent = T("designer.checking"); el.className = "expr-status"; }
  }

  window.LoomDesignerProps = { renderField, renderSection, renderForm, showErrors, showChecking };
})();
