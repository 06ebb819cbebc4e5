/* Rule editor: trigger picker, nested AND/OR condition builder (operators and value
   widgets by field type), action list built from the action JSON Schemas (/rule-types),
   save (versioned), enable/disable, "test this rule" (dry run) and the run log.
   Plain JS, no inline handlers (CSP); writes send X-CSRF-Token. */
(function () {
  "use strict";
  const root = document.getElementById("rule-root");
  if (!root) return;
  const APP = root.dataset.app;
  const API = "/api/v1";
  // a new rule is saved disabled: test it, then enable it
  const state = { key: root.dataset.key, version: null, enabled: false, types: null,
                  entities: {}, condition: { kind: "all", children: [] }, actions: [] };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach((c) => node.append(c));
    return node;
  }
  function option(value, label, selected) {
    const o = el("option", { value: value, text: label || value });
    if (selected) o.selected = true;
    return o;
  }
  async function call(method, path, body) {
    const init = { method: method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method !== "GET") init.headers["X-CSRF-Token"] = document.querySelector("meta[name=csrf-token]").content;
    const response = await fetch(API + path, init);
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    return { ok: response.ok, status: response.status, data: data };
  }

  /* ---------------------------------------------------------------- rule list */
  async function showIndex() {
    const res = await call("GET", `/apps/${APP}/rules`);
    const body = document.querySelector("#rl-table tbody");
    (res.data && res.data.items || []).forEach((r) => {
      const enabled = !(r.options && r.options.enabled === false);
      body.append(el("tr", { dataset: { key: r.key } }, [
        el("td", {}, [el("a", { href: `/designer/apps/${APP}/rules/${r.key}`, text: r.key })]),
        el("td", { text: r.name }), el("td", { text: r.trigger.type }),
        el("td", { text: String(r.version) }),
        el("td", { text: (enabled ? "启用 enabled" : "停用 disabled") + (r.flagged ? " ⚠" : "") })]));
    });
  }

  /* ---------------------------------------------------------------- fields */
  const UPDATE_TRIGGERS = ["record_updated", "field_changed"];
  function triggerType() { return $("re-trigger").value; }
  function eventFields() {
    const out = {};
    $("re-event-fields").value.split(",").map((s) => s.trim()).filter(Boolean).forEach((pair) => {
      const [name, type] = pair.split(":").map((s) => s.trim());
      if (name) out[name] = type || "text";
    });
    return out;
  }
  function fieldDefs() {
    if (triggerType() === "event") {
      const defs = {};
      Object.entries(eventFields()).forEach(([k, t]) => { defs[k] = { key: k, label: k, type: t }; });
      return defs;
    }
    const entity = state.entities[$("re-entity").value];
    const defs = {};
    (entity ? entity.fields : []).forEach((f) => { if (!f.removed) defs[f.key] = f; });
    return defs;
  }
  function conditionFields() {
    const defs = fieldDefs();
    const out = [];
    Object.values(defs).forEach((f) => {
      if (state.types.categories[f.type]) out.push({ key: f.key, label: f.label || f.key, def: f });
    });
    if (UPDATE_TRIGGERS.includes(triggerType())) {
      out.slice().forEach((f) => out.push({ key: "old." + f.key, label: "旧 old " + f.label, def: f.def }));
    }
    return out;
  }
  function operatorsFor(def) {
    const category = def ? state.types.categories[def.type] : "string";
    const ops = (state.types.operators[category] || []).slice();
    ops.push("is_empty", "is_not_empty");
    if (UPDATE_TRIGGERS.includes(triggerType())) {
      ops.push("changed");
      if (category !== "list") ops.push("changed_from", "changed_to");
    }
    return ops;
  }
  const OP_LABEL = { eq: "=", ne: "≠", lt: "<", lte: "≤", gt: ">", gte: "≥", in: "属于 in",
    not_in: "不属于 not in", contains: "包含 contains", is_empty: "为空 is empty",
    is_not_empty: "不为空 not empty", changed: "已变化 changed", changed_from: "变化自 changed from",
    changed_to: "变化为 changed to" };

  /* ---------------------------------------------------------------- conditions */
  function fromCondition(node) {
    if (!node) return { kind: "all", children: [] };
    if (node.all || node.any) {
      const kind = node.all ? "all" : "any";
      return { kind: kind, children: node[kind].map(fromCondition) };
    }
    return Object.assign({}, node);
  }
  function toCondition(group) {
    return { [group.kind]: group.children.map((c) => (c.kind ? toCondition(c) : c)) };
  }
  function valueWidget(term, def) {
    const op = term.op;
    if (["is_empty", "is_not_empty", "changed"].includes(op)) { delete term.value; return el("span"); }
    const type = def ? def.type : "text";
    if (op === "in" || op === "not_in") {
      const input = el("input", { class: "cond-value", placeholder: "a, b, c",
        value: Array.isArray(term.value) ? term.value.join(", ") : "" });
      input.addEventListener("change", () => {
        term.value = input.value.split(",").map((s) => s.trim()).filter(Boolean);
      });
      return input;
    }
    if (type === "boolean") {
      const select = el("select", { class: "cond-value" }, [option("true", "是 true", term.value === true),
        option("false", "否 false", term.value === false)]);
      term.value = select.value === "true";
      select.addEventListener("change", () => { term.value = select.value === "true"; });
      return select;
    }
    if ((type === "select" || type === "multiselect") && def.options) {
      const select = el("select", { class: "cond-value" }, def.options.map((o) => option(o, o, term.value === o)));
      term.value = select.value;
      select.addEventListener("change", () => { term.value = select.value; });
      return select;
    }
    if (type === "date" || type === "datetime") {
      const relative = term.value && typeof term.value === "object";
      const box = el("span", { class: "cond-value" });
      const toggle = el("select", { class: "cond-relative" }, [option("fixed", "固定 fixed", !relative),
        option("today", "今天± today±", relative)]);
      const fixed = el("input", { type: type === "date" ? "date" : "datetime-local",
        value: relative ? "" : (term.value || "") });
      const offset = el("input", { type: "number", class: "cond-offset",
        value: relative ? String(term.value.offset_days || 0) : "0" });
      const sync = () => {
        const rel = toggle.value === "today";
        fixed.hidden = rel; offset.hidden = !rel;
        term.value = rel ? { relative: "today", offset_days: parseInt(offset.value || "0", 10) } : fixed.value;
      };
      [toggle, fixed, offset].forEach((n) => n.addEventListener("change", sync));
      sync();
      box.append(toggle, fixed, offset);
      return box;
    }
    const numeric = ["money", "number", "percent"].includes(type);
    const input = el("input", { class: "cond-value", inputmode: numeric ? "decimal" : null,
      value: term.value === undefined ? "" : String(term.value) });
    input.addEventListener("change", () => { term.value = numeric ? input.value.replace(/,/g, "") : input.value; });
    return input;
  }
  function renderTerm(term, parent, index) {
    const li = el("li", { class: "cond-term" });
    if (term.pattern) {
      const raw = el("textarea", { class: "cond-pattern", rows: "2" });
      raw.value = JSON.stringify(term);
      raw.addEventListener("change", () => {
        try { parent.children[index] = JSON.parse(raw.value); raw.classList.remove("invalid"); }
        catch (e) { raw.classList.add("invalid"); }
      });
      li.append(raw);
    } else {
      const fields = conditionFields();
      if (!term.field && fields.length) term.field = fields[0].key;
      const fieldSelect = el("select", { class: "cond-field" },
        fields.map((f) => option(f.key, f.label, f.key === term.field)));
      const def = (fields.find((f) => f.key === term.field) || {}).def;
      const ops = operatorsFor(def);
      if (!ops.includes(term.op)) term.op = ops[0];
      const opSelect = el("select", { class: "cond-op" }, ops.map((o) => option(o, OP_LABEL[o] || o, o === term.op)));
      fieldSelect.addEventListener("change", () => { term.field = fieldSelect.value; delete term.value; renderCondition(); });
      opSelect.addEventListener("change", () => { term.op = opSelect.value; renderCondition(); });
      li.append(fieldSelect, opSelect, valueWidget(term, def));
    }
    const remove = el("button", { type: "button", class: "small cond-remove", text: "×" });
    remove.addEventListener("click", () => { parent.children.splice(index, 1); renderCondition(); });
    li.append(remove);
    return li;
  }
  function renderGroup(group, parent, index) {
    const box = el("div", { class: "cond-group", dataset: { kind: group.kind } });
    const kind = el("select", { class: "cond-kind" }, [option("all", "全部满足 ALL (AND)", group.kind === "all"),
      option("any", "任一满足 ANY (OR)", group.kind === "any")]);
    kind.addEventListener("change", () => { group.kind = kind.value; renderCondition(); });
    const addTerm = el("button", { type: "button", class: "small cond-add-term", text: "+ 条件 condition" });
    addTerm.addEventListener("click", () => { group.children.push({}); renderCondition(); });
    const addGroup = el("button", { type: "button", class: "small cond-add-group", text: "+ 组 group" });
    addGroup.addEventListener("click", () => { group.children.push({ kind: "any", children: [{}] }); renderCondition(); });
    const head = el("div", { class: "cond-head" }, [kind, addTerm, addGroup]);
    if (parent) {
      const remove = el("button", { type: "button", class: "small cond-remove", text: "× 组 group" });
      remove.addEventListener("click", () => { parent.children.splice(index, 1); renderCondition(); });
      head.append(remove);
    }
    const list = el("ul", { class: "cond-list" });
    group.children.forEach((child, i) => {
      list.append(child.kind ? el("li", {}, [renderGroup(child, group, i)]) : renderTerm(child, group, i));
    });
    box.append(head, list);
    return box;
  }
  function renderCondition() {
    const holder = $("re-condition");
    holder.replaceChildren(renderGroup(state.condition, null, 0));
  }

  /* ---------------------------------------------------------------- actions */
  function objectToLines(obj) {
    return Object.entries(obj || {}).map(([k, v]) => {
      if (v && typeof v === "object" && Object.keys(v).length === 1 && v.field) return `${k} = @${v.field}`;
      return `${k} = ${typeof v === "string" ? v : JSON.stringify(v)}`;
    }).join("\n");
  }
  function linesToObject(text) {
    const out = {};
    text.split("\n").map((l) => l.trim()).filter(Boolean).forEach((line) => {
      const at = line.indexOf("=");
      if (at < 1) return;
      const key = line.slice(0, at).trim();
      const raw = line.slice(at + 1).trim();
      if (/^@[a-z][a-z0-9_]*$/.test(raw)) out[key] = { field: raw.slice(1) };
      else if (raw === "true" || raw === "false") out[key] = raw === "true";
      else out[key] = raw;
    });
    return out;
  }
  function propWidget(action, name, schema) {
    const value = action[name];
    let input;
    if (schema.enum) {
      input = el("select", {}, [option("", "—")].concat(schema.enum.map((v) => option(v, v, v === value))));
      input.addEventListener("change", () => { if (input.value) action[name] = input.value; else delete action[name]; });
    } else if (name === "entity") {
      input = el("select", {}, Object.keys(state.entities).map((k) => option(k, state.entities[k].label || k, k === value)));
      action[name] = input.value;
      input.addEventListener("change", () => { action[name] = input.value; });
    } else if (schema.type === "object") {
      input = el("textarea", { rows: "3", placeholder: "field = value   (@field copies the record's field)" });
      input.value = objectToLines(value);
      input.addEventListener("change", () => { action[name] = linesToObject(input.value); });
    } else if (schema.type === "array") {
      input = el("input", { value: (value || []).join(", "), placeholder: "user, role:key, a@b.com" });
      input.addEventListener("change", () => { action[name] = input.value.split(",").map((s) => s.trim()).filter(Boolean); });
    } else if (schema.type === "integer") {
      input = el("input", { type: "number", value: value === undefined ? "" : String(value) });
      input.addEventListener("change", () => { if (input.value === "") delete action[name]; else action[name] = parseInt(input.value, 10); });
    } else {
      input = el("input", { value: value || "" });
      input.addEventListener("change", () => { action[name] = input.value; });
    }
    input.dataset.prop = name;
    return el("label", {}, [document.createTextNode(name + " "), input]);
  }
  function renderActions() {
    const list = $("re-actions");
    list.replaceChildren();
    state.actions.forEach((action, index) => {
      const schema = state.types.actions[action.type] || { properties: {} };
      const li = el("li", { class: "rule-action", dataset: { index: String(index), type: action.type } },
        [el("strong", { text: action.type })]);
      Object.entries(schema.properties).forEach(([name, prop]) => {
        if (name !== "type") li.append(propWidget(action, name, prop));
      });
      const remove = el("button", { type: "button", class: "small", text: "× 删除 remove" });
      remove.addEventListener("click", () => { state.actions.splice(index, 1); renderActions(); });
      li.append(remove);
      list.append(li);
    });
  }

  /* ---------------------------------------------------------------- trigger */
  function renderTriggerFields() {
    const kind = triggerType();
    const shown = { entity: kind !== "event", field: kind === "field_changed",
      event_type: kind === "event", event_fields: kind === "event", cron: kind === "schedule",
      process: kind.startsWith("process") || kind === "step_reached", step: kind === "step_reached" };
    root.querySelectorAll("label[data-for]").forEach((label) => { label.hidden = !shown[label.dataset.for]; });
    const defs = fieldDefs();
    const current = $("re-trigger-field").value;
    $("re-trigger-field").replaceChildren(...Object.keys(defs).map((k) => option(k, defs[k].label || k, k === current)));
  }

  /* ---------------------------------------------------------------- load & save */
  function definition() {
    const kind = triggerType();
    const trigger = { type: kind };
    const body = { key: $("re-key").value.trim(), name: $("re-name").value.trim(), trigger: trigger,
      actions: state.actions, options: { enabled: state.enabled, sync: $("re-sync").checked,
        priority: parseInt($("re-priority").value || "0", 10) } };
    if (kind === "event") {
      trigger.event_type = $("re-event-type").value.trim();
      body.event_fields = eventFields();
    } else if (kind === "schedule" || kind.startsWith("process") || kind === "step_reached") {
      body.entity = $("re-entity").value;
    } else {
      trigger.entity = $("re-entity").value;
    }
    if (kind === "field_changed") trigger.field = $("re-trigger-field").value;
    if (kind === "schedule") { trigger.cron = $("re-cron").value.trim(); trigger.timezone = $("re-timezone").value.trim(); }
    if (kind.startsWith("process") || kind === "step_reached") trigger.process = $("re-process").value.trim();
    if (kind === "step_reached") trigger.step = $("re-step").value.trim();
    if (state.condition.children.length) body.condition = toCondition(state.condition);
    return body;
  }
  function fill(rule) {
    state.version = rule.version;
    state.enabled = !(rule.options && rule.options.enabled === false);
    $("re-name").value = rule.name;
    $("re-priority").value = (rule.options && rule.options.priority) || 0;
    $("re-sync").checked = !!(rule.options && rule.options.sync);
    $("re-trigger").value = rule.trigger.type;
    const entity = rule.trigger.entity || rule.entity;
    if (entity) $("re-entity").value = entity;
    $("re-event-type").value = rule.trigger.event_type || "";
    $("re-event-fields").value = Object.entries(rule.event_fields || {}).map(([k, t]) => `${k}:${t}`).join(", ");
    $("re-cron").value = rule.trigger.cron || "";
    $("re-timezone").value = rule.trigger.timezone || "Asia/Shanghai";
    $("re-process").value = rule.trigger.process || "";
    $("re-step").value = rule.trigger.step || "";
    renderTriggerFields();
    if (rule.trigger.field) $("re-trigger-field").value = rule.trigger.field;
    state.condition = fromCondition(rule.condition);
    if (!state.condition.kind) state.condition = { kind: "all", children: [state.condition] };
    state.actions = rule.actions.map((a) => Object.assign({}, a));
  }
  function showState() {
    $("re-state").textContent = state.version ? `v${state.version} · ${state.enabled ? "启用 enabled" : "停用 disabled"}` : "新 new";
    $("re-toggle").hidden = !state.version;
    $("re-toggle").textContent = state.enabled ? "停用 Disable" : "启用 Enable";
  }
  function showErrors(res) {
    const list = $("re-errors");
    list.replaceChildren();
    const error = res.data && res.data.error;
    if (!error) { list.hidden = true; return; }
    list.append(el("li", { text: error.message }));
    (error.details || []).forEach((d) => list.append(el("li", { class: "detail", dataset: { path: d.path || "" },
      text: `${d.path || ""}: ${d.message}` })));
    list.hidden = false;
  }
  async function save(enabled) {
    const body = definition();
    if (enabled !== undefined) body.options.enabled = enabled;
    let res;
    if (state.version) res = await call("PUT", `/apps/${APP}/rules/${state.key}`, Object.assign(body, { version: state.version }));
    else res = await call("POST", `/apps/${APP}/rules`, body);
    showErrors(res);
    if (!res.ok) { $("re-status").textContent = "保存失败 Not saved"; return; }
    state.key = res.data.key;
    state.version = res.data.version;
    state.enabled = !(res.data.options && res.data.options.enabled === false);
    $("re-key").readOnly = true;
    history.replaceState(null, "", `/designer/apps/${APP}/rules/${state.key}`);
    $("re-status").textContent = `已保存 Saved v${state.version}`;
    showState();
    loadRuns();
  }

  /* ---------------------------------------------------------------- test & runs */
  async function runTest() {
    const body = { rule: definition() };
    const record = $("re-test-record").value.trim();
    const out = $("re-test-result");
    if (record) body.record_id = parseInt(record, 10);
    else {
      try { body.event = JSON.parse($("re-test-event").value || "{}"); }
      catch (e) { out.replaceChildren(el("p", { class: "error", text: "事件不是合法 JSON: " + e.message })); return; }
    }
    const res = await call("POST", `/apps/${APP}/rules/${body.rule.key || "draft"}/test`, body);
    if (!res.ok) {
      out.replaceChildren(el("p", { class: "error test-error", text: (res.data && res.data.error) ? res.data.error.message : "error" }));
      return;
    }
    const r = res.data;
    const verdict = el("p", { class: "test-verdict " + (r.matched ? "hit" : "miss"),
      text: r.matched ? "命中 Matched: the actions would run" : (r.trigger_applies ? "未命中 Not matched" : "触发不适用 Trigger does not apply") });
    const conditions = el("ul", { class: "test-conditions" }, r.conditions.map((c) => el("li", {
      class: c.held ? "held" : "not-held", dataset: { path: c.path },
      text: `${c.held ? "✓" : "✗"} ${c.field || c.pattern} ${OP_LABEL[c.op] || c.op || ""} ${c.value === undefined ? "" : JSON.stringify(c.value)}` })));
    const actions = el("ul", { class: "test-actions" }, r.actions.map((a) => el("li", {
      text: `${a.would_run ? "▶" : "·"} ${a.summary}` })));
    out.replaceChildren(verdict, conditions, actions);
  }
  async function loadRuns() {
    if (!state.version) return;
    const params = new URLSearchParams();
    if ($("re-runs-status").value) params.set("status", $("re-runs-status").value);
    if ($("re-runs-record").value) params.set("record_id", $("re-runs-record").value);
    const res = await call("GET", `/apps/${APP}/rules/${state.key}/runs?${params}`);
    const body = document.querySelector("#re-runs tbody");
    body.replaceChildren(...(res.data ? res.data.items : []).map((run) => el("tr", { dataset: { status: run.status } }, [
      el("td", { text: String(run.id) }), el("td", { text: (run.created_at || "").slice(0, 19) }),
      el("td", { text: String(run.version) }), el("td", { text: run.record_id ? String(run.record_id) : run.event_ref }),
      el("td", { class: "run-status", text: run.status + (run.error ? ": " + run.error : "") }),
      el("td", { text: run.conditions.join(", ") }),
      el("td", { text: run.actions.map((a) => `${a.type}:${a.status}`).join(", ") })])));
  }

  async function start() {
    const [types, entities] = await Promise.all([call("GET", "/rule-types"), call("GET", `/apps/${APP}/entities`)]);
    state.types = types.data;
    (entities.data && entities.data.items || []).forEach((e) => { state.entities[e.key] = e; });
    $("re-trigger").replaceChildren(...state.types.triggers.map((t) => option(t, t)));
    $("re-entity").replaceChildren(...Object.keys(state.entities).map((k) => option(k, state.entities[k].label || k)));
    $("re-action-type").replaceChildren(...Object.keys(state.types.actions).map((t) => option(t, t)));
    if (state.key) {
      const res = await call("GET", `/apps/${APP}/rules/${state.key}`);
      if (res.ok) fill(res.data);
    }
    renderTriggerFields();
    renderCondition();
    renderActions();
    showState();
    $("re-trigger").addEventListener("change", () => { renderTriggerFields(); renderCondition(); });
    $("re-entity").addEventListener("change", () => { renderTriggerFields(); renderCondition(); });
    $("re-event-fields").addEventListener("change", () => { renderTriggerFields(); renderCondition(); });
    $("re-add-action").addEventListener("click", () => { state.actions.push({ type: $("re-action-type").value }); renderActions(); });
    $("re-save").addEventListener("click", () => save());
    $("re-toggle").addEventListener("click", () => save(!state.enabled));
    $("re-test").addEventListener("click", runTest);
    $("re-runs-refresh").addEventListener("click", loadRuns);
    root.dataset.ready = "true";
    loadRuns();
  }

  if (root.dataset.mode === "index") showIndex();
  else start();
})();
