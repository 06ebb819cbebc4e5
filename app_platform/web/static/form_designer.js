// The form designer: palette (one item per registered field type, grouped), canvas
// (sections of 1-3 columns; SortableJS drags palette items in and reorders fields, also
// across sections) and the property panel (designer_props.js). The entity definition is
// the single source of truth: the canvas is drawn from it and every edit writes back to
// it; fields are ordered as the layout shows them, and layout.sections stores the keys.
// Publish asks the server for the schema change plan (PUT ?dry_run=true) first.
(function () {
  "use strict";
  const { api, h, build, sampleValues, ApiError } = window.LoomForm;
  const Props = window.LoomDesignerProps;
  const T = (key, vars) => window.LoomI18n.t(key, vars);
  const GROUPS = [
    ["basic", ["text", "textarea", "email", "phone", "url"]],
    ["choice", ["select", "multiselect", "boolean", "user"]],
    ["number", ["number", "money", "percent"]],
    ["date", ["date", "datetime"]],
    ["relation", ["relation", "subtable"]],
    ["advanced", ["attachment", "formula", "auto_number", "card_number"]],
  ];
  const ICONS = { text: "T", textarea: "¶", email: "@", phone: "☏", url: "↗", select: "◉", multiselect: "☑", boolean: "⊘",
    user: "◎", number: "#", money: "¥", percent: "%", date: "▤", datetime: "◔", relation: "⇄", subtable: "▦",
    attachment: "⇪", formula: "ƒ", auto_number: "№", card_number: "▭" };
  const KEY_RE = /^[a-z][a-z0-9_]{0,62}$/;

  const root = document.getElementById("designer");
  const newRoot = document.getElementById("designer-new");
  if (newRoot) { createEntityForm(newRoot); return; }
  if (!root) return;

  const appKey = root.dataset.app;
  const entityKey = root.dataset.entity;
  const functions = JSON.parse(root.dataset.functions || "[]");
  const url = `/api/v1/apps/${appKey}/entities/${entityKey}`;
  const canvas = document.getElementById("canvas");
  const panel = document.getElementById("props");
  const banner = document.getElementById("designer-banner");
  const state = {
    form: {}, fields: new Map(), sections: [], published: new Set(), version: 0, types: new Map(),
    entities: [], selected: { kind: "form" }, errors: [], checked: false, sentOrder: [], seq: 0, dirty: false,
  };
  let sortables = [];
  let syncTimer = null;
  let checkTimer = null;

  // -------------------------------------------------------------- model
  function load(definition) {
    const { fields, layout, version, removed_fields: _r, updated_at: _u, plan: _p, ...form } = definition;
    state.form = form;
    state.version = version;
    state.fields = new Map();
    state.published = new Set(fields.map((f) => f.key));
    const uidOf = new Map();
    for (const f of fields) {
      const uid = `u${(state.seq += 1)}`;
      state.fields.set(uid, { ...f });
      uidOf.set(f.key, uid);
    }
    const placed = new Set();
    state.sections = ((layout || {}).sections || []).map((s) => ({
      title: s.title || "", columns: Math.min(3, Math.max(1, s.columns || 1)),
      uids: (s.fields || []).filter((k) => uidOf.has(k) && !placed.has(k)).map((k) => { placed.add(k); return uidOf.get(k); }),
    }));
    const rest = fields.filter((f) => !placed.has(f.key)).map((f) => uidOf.get(f.key));
    if (!state.sections.length) state.sections.push({ title: T("designer.section") + " 1", columns: 2, uids: [] });
    state.sections[state.sections.length - 1].uids.push(...rest);
    state.errors = [];
    state.dirty = false;
  }

  function order() { return state.sections.flatMap((s) => s.uids); }

  function clean(field) {
    const out = {};
    for (const [k, v] of Object.entries(field)) if (v !== undefined && v !== "" && v !== null) out[k] = v;
    return out;
  }

  function definition() {
    const uids = order();
    const fields = uids.map((uid) => clean(state.fields.get(uid)));
    const keys = new Set(fields.map((f) => f.key));
    const form = { ...state.form };
    if (form.title_field && !keys.has(form.title_field)) delete form.title_field;
    return {
      def: {
        ...clean(form), key: entityKey, fields, version: state.version,
        layout: { sections: state.sections.map((s) => ({ title: s.title, columns: s.columns, fields: s.uids.map((uid) => state.fields.get(uid).key) })) },
      },
      uids,
    };
  }

  function newField(type) {
    const keys = new Set([...state.fields.values()].map((f) => f.key));
    let n = 1;
    while (keys.has(`${type}${n}`)) n += 1;
    const field = { key: `${type}${n}`, label: T(`type.${type}`), type };
    const optionWord = T("prop.options");
    if (type === "select" || type === "multiselect") field.options = [1, 2, 3].map((i) => `${optionWord} ${i}`);
    if (type === "money") field.currency = "CNY";
    if (type === "relation") field.target = (state.entities.find((e) => e.key !== entityKey) || { key: entityKey }).key;
    if (type === "subtable") {
      field.fields = [{ key: "item", label: T("type.text"), type: "text" }, { key: "amount", label: T("type.money"), type: "money", currency: "CNY" }];
    }
    if (type === "formula") field.formula = "0";
    if (type === "auto_number") field.pattern = "NO-{YYYY}-{seq:5}";
    const uid = `u${(state.seq += 1)}`;
    state.fields.set(uid, field);
    return uid;
  }

  function touch() {
    state.dirty = true;
    document.getElementById("dirty").hidden = false;
  }

  // -------------------------------------------------------------- palette
  function renderPalette() {
    const palette = document.getElementById("palette");
    const known = new Set(state.types.keys());
    const grouped = new Set(GROUPS.flatMap(([, names]) => names));
    const groups = GROUPS.map(([name, names]) => [name, names.filter((n) => known.has(n))]);
    groups[groups.length - 1][1].push(...[...known].filter((n) => !grouped.has(n)));
    palette.replaceChildren(h("h2", { class: "pane-title", text: T("designer.palette") }), ...groups.filter(([, names]) => names.length).map(([name, names]) =>
      h("section", { class: "palette-group" }, h("h3", { text: T(`group.${name}`) }),
        h("ul", { class: "palette-list" }, names.map((type) => h("li", { class: "palette-item", "data-type": type, title: type },
          h("span", { class: "icon", text: ICONS[type] || "▪" }), h("span", { text: T(`type.${type}`) })))))));
    palette.querySelectorAll(".palette-list").forEach((list) => window.Sortable.create(list, {
      group: { name: "fields", pull: "clone", put: false }, sort: false, forceFallback: true, fallbackOnBody: true, animation: 150,
    }));
  }

  // -------------------------------------------------------------- canvas
  function errorsFor(uid) { return state.errors.filter((e) => e.uid === uid); }

  function mock(field) {
    const type = field.type;
    if (type === "boolean") return h("div", { class: "mock mock-check" }, h("span", { class: "box" }), T("common.yes"));
    if (type === "select" || type === "multiselect") {
      const opts = window.LoomForm.options(field).slice(0, 4);
      return h("div", { class: "mock mock-choices" }, opts.map((o) => h("span", { class: type === "select" ? "radio" : "check" }, o.label)));
    }
    if (type === "subtable") {
      return h("div", { class: "mock mock-table" }, (field.fields || []).map((c) => h("span", { text: c.label || c.key })));
    }
    if (type === "formula") return h("div", { class: "mock mock-formula mono", text: `= ${field.formula || ""}` });
    if (type === "textarea") return h("div", { class: "mock mock-area", text: field.placeholder || "" });
    const hint = { money: field.currency || "CNY", percent: "%", date: "YYYY-MM-DD", datetime: "YYYY-MM-DD hh:mm", relation: `⇄ ${field.target || ""}`,
      attachment: "⇪", auto_number: field.pattern || "", card_number: "•••• •••• •••• ••••" }[type];
    return h("div", { class: "mock", text: field.placeholder || hint || "" });
  }

  function card(uid, columns) {
    const field = state.fields.get(uid);
    const errors = errorsFor(uid);
    const selected = state.selected.kind === "field" && state.selected.uid === uid;
    return h("div", { class: `field-card${selected ? " selected" : ""}${errors.length ? " has-error" : ""}`, "data-uid": uid, "data-key": field.key,
      style: `grid-column: span ${Math.min(field.width || 1, columns)}` },
    h("div", { class: "field-card-head" },
      h("span", { class: "field-label" }, field.label || field.key, field.required ? h("span", { class: "star", text: "*" }) : null),
      h("span", { class: "field-key mono", text: field.key }),
      h("span", { class: "type-tag", text: T(`type.${field.type}`) })),
    mock(field),
    field.visible_if ? h("div", { class: "cond muted", text: `${T("prop.visible_if")}: ${field.visible_if}` }) : null,
    h("div", { class: "field-error", role: "alert", text: errors.map((e) => e.message).join("; ") }),
    h("button", { type: "button", class: "field-del", title: T("designer.delete_field"), "aria-label": T("designer.delete_field"), text: "×", "data-action": "delete" }));
  }

  function renderCanvas() {
    sortables.forEach((s) => s.destroy());
    sortables = [];
    const selectedSection = state.selected.kind === "section" ? state.selected.index : -1;
    const head = h("div", { class: `canvas-form-head${state.selected.kind === "form" ? " selected" : ""}`, "data-select": "form" },
      h("h2", { text: state.form.label || entityKey }), state.form.description ? h("p", { class: "muted", text: state.form.description }) : null);
    const general = state.errors.filter((e) => !e.uid).map((e) => h("li", { text: e.path ? `${e.path}: ${e.message}` : e.message }));
    const blocks = state.sections.map((section, i) => h("div", { class: `canvas-section${i === selectedSection ? " selected" : ""}`, "data-section": i },
      h("div", { class: "section-head", "data-select": "section" },
        h("span", { class: "section-title", text: section.title || `${T("designer.section")} ${i + 1}` }),
        h("span", { class: "muted small", text: T("designer.n_columns", { n: section.columns }) })),
      h("div", { class: `section-fields cols-${section.columns}`, "data-section": i, "data-empty": T("designer.drop_here") },
        section.uids.map((uid) => card(uid, section.columns)))));
    canvas.replaceChildren(h("div", { class: "canvas-inner" }, head,
      general.length ? h("ul", { class: "banner error general-errors" }, general) : null, ...blocks,
      h("button", { type: "button", class: "add-section", "data-action": "add-section", text: `+ ${T("designer.add_section")}` })));
    canvas.querySelectorAll(".section-fields").forEach((list) => {
      sortables.push(window.Sortable.create(list, {
        group: { name: "fields", pull: true, put: true }, animation: 150, forceFallback: true, fallbackOnBody: true,
        draggable: ".field-card, .palette-item", ghostClass: "drag-ghost", chosenClass: "drag-chosen", onSort: scheduleSync,
      }));
    });
  }

  /** After a drop: read the canvas order back into the sections; a palette item that
   *  landed on the canvas becomes a new field (selected, so its properties open). */
  function scheduleSync() {
    clearTimeout(syncTimer);
    syncTimer = setTimeout(() => {
      let created = null;
      canvas.querySelectorAll(".section-fields").forEach((list) => {
        const uids = [];
        for (const child of list.children) {
          if (child.dataset.uid && state.fields.has(child.dataset.uid)) uids.push(child.dataset.uid);
          else if (child.dataset.type) { created = newField(child.dataset.type); uids.push(created); }
        }
        state.sections[Number(list.dataset.section)].uids = uids;
      });
      touch();
      if (created) select({ kind: "field", uid: created });
      else renderCanvas();
    }, 0);
  }

  function select(selection) {
    state.selected = selection;
    renderCanvas();
    renderPanel();
  }

  // -------------------------------------------------------------- property panel
  function refreshCard(uid) {
    const old = canvas.querySelector(`.field-card[data-uid="${uid}"]`);
    if (!old) return;
    const section = state.sections.find((s) => s.uids.includes(uid));
    old.replaceWith(card(uid, section ? section.columns : 1));
  }

  function fieldErrorsByProp(uid) {
    const out = {};
    for (const e of errorsFor(uid)) if (e.prop) out[e.prop] = out[e.prop] ? `${out[e.prop]}; ${e.message}` : e.message;
    return out;
  }

  function renderPanel() {
    const sel = state.selected;
    if (sel.kind === "field" && state.fields.has(sel.uid)) {
      const field = state.fields.get(sel.uid);
      Props.renderField(panel, field, {
        typeInfo: state.types.get(field.type) || { settings_schema: { properties: {} } },
        published: state.published.has(field.key), entities: state.entities, functions,
        otherFields: (self) => [...state.fields.values()].filter((f) => f !== self).flatMap((f) => (f.type === "subtable"
          ? (f.fields || []).map((c) => ({ ref: `${f.key}.${c.key}`, label: `${f.label || f.key} · ${c.label || c.key}` }))
          : [{ ref: f.key, label: f.label || f.key }])),
        change: (prop, value) => {
          if (prop === "key" && !KEY_RE.test(value || "")) {
            Props.showErrors(panel, { key: "a-z, 0-9, _" }, false);
            return;
          }
          if (value === undefined) delete field[prop]; else field[prop] = value;
          if (prop === "formula") delete field.result_type; // the server infers it again
          touch();
          refreshCard(sel.uid);
          panel.querySelector(".props-head strong").textContent = field.label || field.key;
        },
        liveCheck: (prop) => { Props.showChecking(panel, prop); clearTimeout(checkTimer); checkTimer = setTimeout(() => check(), 450); },
        remove: () => removeField(sel.uid),
      });
      Props.showErrors(panel, fieldErrorsByProp(sel.uid), state.checked);
    } else if (sel.kind === "section" && state.sections[sel.index]) {
      const section = state.sections[sel.index];
      Props.renderSection(panel, section, {
        removable: state.sections.length > 1,
        change: (prop, value) => { section[prop] = value; touch(); renderCanvas(); },
        remove: () => {
          const [gone] = state.sections.splice(sel.index, 1);
          const target = state.sections[Math.max(0, sel.index - 1)];
          target.uids.push(...gone.uids);
          touch();
          select({ kind: "form" });
        },
      });
    } else {
      Props.renderForm(panel, state.form, {
        titleCandidates: [...state.fields.values()].filter((f) => ["text", "auto_number", "email", "phone", "select"].includes(f.type)),
        change: (prop, value) => {
          if (value === undefined) delete state.form[prop]; else state.form[prop] = value;
          touch();
          const headTitle = canvas.querySelector(".canvas-form-head h2");
          if (headTitle) headTitle.textContent = state.form.label || entityKey;
        },
      });
    }
  }

  function removeField(uid) {
    for (const s of state.sections) s.uids = s.uids.filter((u) => u !== uid);
    state.fields.delete(uid);
    state.errors = state.errors.filter((e) => e.uid !== uid);
    touch();
    select({ kind: "form" });
  }

  // -------------------------------------------------------------- server checks
  /** Turn 422 details ("fields[2].formula") into errors attached to canvas fields. */
  function applyErrors(details, uids) {
    state.errors = (details || []).map((d) => {
      const m = /^fields\[(\d+)\](?:\.([a-z_]+))?/.exec(d.path || "");
      if (m && uids[Number(m[1])]) return { uid: uids[Number(m[1])], prop: m[2] || null, message: d.message, path: d.path };
      return { uid: null, prop: null, message: d.message, path: d.path };
    });
  }

  function say(kind, message) {
    banner.className = `banner ${kind}`;
    banner.textContent = message;
    banner.hidden = !message;
  }

  async function dryRun() {
    const { def, uids } = definition();
    try {
      const result = await api("PUT", `${url}?dry_run=true`, def);
      state.errors = [];
      return { ok: true, plan: result.plan, def, uids };
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (error.status === 409) { say("error", `${T("designer.stale")} (${error.message})`); return { ok: false }; }
      applyErrors(error.details.length ? error.details : [{ path: "", message: error.message }], uids);
      return { ok: false };
    }
  }

  async function check() {
    const outcome = await dryRun();
    state.checked = true;
    renderCanvas();
    if (state.selected.kind === "field") Props.showErrors(panel, fieldErrorsByProp(state.selected.uid), true);
    return outcome;
  }

  function planText(plan) {
    const counts = {};
    for (const step of plan.steps) counts[step.kind] = (counts[step.kind] || 0) + 1;
    const parts = Object.entries(counts).map(([kind, n]) => (window.LoomI18n.has(`plan.${kind}`) ? T(`plan.${kind}`, { n }) : `${kind} ×${n}`));
    return parts.length ? parts.join("，") : T("designer.plan_none");
  }

  function confirmPlan(plan) {
    const dialog = document.getElementById("plan-dialog");
    document.getElementById("plan-summary").textContent = planText(plan);
    const labels = new Map([...state.fields.values()].map((f) => [f.key, f.label || f.key]));
    document.getElementById("plan-steps").replaceChildren(...plan.steps.map((s) => h("li", { "data-kind": s.kind },
      h("span", { class: `step-kind kind-${s.kind}`, text: window.LoomI18n.has(`step.${s.kind}`) ? T(`step.${s.kind}`) : s.kind }), " ",
      h("strong", { text: labels.get(s.field) || s.field }), " ", h("span", { class: "muted", text: s.detail }))));
    dialog.returnValue = ""; // Escape closes without a value: must not reuse the last "confirm"
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    });
  }

  async function publish() {
    const button = document.getElementById("publish");
    button.disabled = true;
    say("", "");
    try {
      const outcome = await check();
      if (!outcome.ok) {
        if (state.errors.length) say("error", T("designer.has_errors", { n: state.errors.length }));
        return;
      }
      if (!(await confirmPlan(outcome.plan))) return;
      const saved = await api("PUT", url, outcome.def);
      const keepKey = state.selected.kind === "field" ? state.fields.get(state.selected.uid).key : null;
      load(saved);
      const uid = keepKey && [...state.fields.entries()].find(([, f]) => f.key === keepKey);
      state.selected = uid ? { kind: "field", uid: uid[0] } : { kind: "form" };
      document.getElementById("version-badge").textContent = `v${state.version}`;
      document.getElementById("dirty").hidden = true;
      say("ok", `${T("designer.published", { v: state.version })} · ${planText(saved.plan)}`);
      renderCanvas();
      renderPanel();
    } catch (error) {
      if (error instanceof ApiError && error.details.length) {
        applyErrors(error.details, order());
        renderCanvas();
      }
      say("error", error.message);
    } finally {
      button.disabled = false;
    }
  }

  // -------------------------------------------------------------- preview
  function showTab(name) {
    document.querySelectorAll(".designer-tabs .tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === name));
    document.getElementById("design-view").hidden = name !== "design";
    document.getElementById("preview-view").hidden = name !== "preview";
    if (name === "preview") renderPreview({});
  }

  let previewForm = null;
  function renderPreview(values) {
    const { def } = definition();
    document.getElementById("preview-title").textContent = def.label || entityKey;
    document.getElementById("preview-banner").hidden = true;
    previewForm = build(document.getElementById("preview-fields"), def, { values, appKey, mode: "preview" });
  }

  // -------------------------------------------------------------- wiring
  canvas.addEventListener("click", (event) => {
    const action = event.target.closest("[data-action]");
    if (action && action.dataset.action === "delete") { removeField(action.closest(".field-card").dataset.uid); return; }
    if (action && action.dataset.action === "add-section") {
      state.sections.push({ title: `${T("designer.section")} ${state.sections.length + 1}`, columns: 2, uids: [] });
      touch();
      select({ kind: "section", index: state.sections.length - 1 });
      return;
    }
    const fieldCard = event.target.closest(".field-card");
    if (fieldCard && fieldCard.dataset.uid) { select({ kind: "field", uid: fieldCard.dataset.uid }); return; }
    const sectionHead = event.target.closest("[data-select=section]");
    if (sectionHead) { select({ kind: "section", index: Number(sectionHead.parentElement.dataset.section) }); return; }
    if (!event.target.closest(".section-fields")) select({ kind: "form" });
  });
  document.getElementById("palette").addEventListener("click", (event) => {
    const item = event.target.closest(".palette-item");
    if (!item) return;
    const target = state.selected.kind === "section" ? state.sections[state.selected.index] : state.sections[state.sections.length - 1];
    const uid = newField(item.dataset.type);
    target.uids.push(uid);
    touch();
    select({ kind: "field", uid });
  });
  document.getElementById("publish").addEventListener("click", publish);
  document.querySelector(".designer-tabs").addEventListener("click", (event) => {
    const tab = event.target.closest(".tab");
    if (tab) showTab(tab.dataset.tab);
  });
  document.getElementById("preview-sample").addEventListener("click", () => renderPreview(sampleValues(definition().def)));
  document.getElementById("preview-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const { problems } = previewForm.collect();
    const box = document.getElementById("preview-banner");
    box.hidden = false;
    box.className = `banner ${problems.length ? "error" : "ok"}`;
    box.textContent = problems.length ? T("record.fix", { n: problems.length }) : T("record.preview_ok");
  });
  window.LoomI18n.onChange(() => { renderPalette(); renderCanvas(); renderPanel(); });

  Promise.all([api("GET", url), api("GET", "/api/v1/types"), api("GET", `/api/v1/apps/${appKey}/entities`)]).then(([def, types, entities]) => {
    state.types = new Map(types.field_types.map((t) => [t.name, t]));
    state.entities = entities.items.map((e) => ({ key: e.key, label: e.label || e.key }));
    load(def);
    renderPalette();
    renderCanvas();
    renderPanel();
    root.classList.add("ready");
  }).catch((error) => say("error", error.message));

  // -------------------------------------------------------------- new form
  function createEntityForm(box) {
    const form = box.querySelector("form");
    const error = box.querySelector(".fld-error");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const key = String(data.get("key") || "").trim();
      const label = String(data.get("label") || "").trim();
      error.textContent = KEY_RE.test(key) && !key.includes("__") ? "" : T("designer.new_key_help");
      if (error.textContent) return;
      try {
        await api("POST", `/api/v1/apps/${box.dataset.app}/entities`, { key, label: label || key, fields: [] });
        window.location.assign(`/designer/apps/${box.dataset.app}/entities/${key}`);
      } catch (e) {
        error.textContent = e.details && e.details.length ? e.details.map((d) => `${d.path}: ${d.message}`).join("; ") : e.message;
      }
    });
  }
})();
