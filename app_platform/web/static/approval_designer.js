// The approval designer: a vertical node flow (start → approver / countersign / CC /
// condition branches / parallel branches / auto action → end) with "+" buttons between
// nodes, a property panel per node (approval_props.js), publish (POST/PUT the node JSON;
// 422 details shown at the node they name), "open in modeler", and a simulation dialog
// that runs the draft on the server without storing anything.
(function () {
  "use strict";
  const root = document.getElementById("approval-designer");
  if (!root) return;
  const { L, api, ApiError, h, banner, describe, actionLabel } = window.LoomFlows;
  const Props = window.LoomApprovalProps;
  const appKey = root.dataset.app;
  const canvas = document.getElementById("flow-canvas");
  const panel = document.getElementById("flow-props");
  const bannerEl = document.getElementById("designer-banner");
  const nameInput = document.getElementById("process-name");
  const keyInput = document.getElementById("process-key");
  const entitySelect = document.getElementById("process-entity");
  const TYPES = {
    approver: ["审批人", "Approver"], countersign: ["会签", "Countersign"], cc: ["抄送", "CC"],
    condition: ["条件分支", "Condition"], parallel: ["并行分支", "Parallel"], auto_action: ["自动动作", "Auto action"],
    start: ["发起人", "Initiator"], end: ["结束", "End"],
  };
  const typeLabel = (type) => (TYPES[type] ? L(...TYPES[type]) : type);
  const state = { key: root.dataset.key || "", version: null, nodes: [{ id: "start", type: "start" }], entity: null };
  const ctx = { users: [], roles: [], entity: null, typeLabel };
  let selection = null;
  let errors = new Map(); // node id (or "id#branch") -> message
  let simulation = null;

  // ---------------------------------------------------------------- the model
  function allNodes(list = state.nodes, out = []) {
    for (const node of list) {
      out.push(node);
      for (const branch of (node.settings && node.settings.branches) || []) allNodes(branch.nodes, out);
    }
    return out;
  }

  function newId(type) {
    const taken = new Set(allNodes().map((n) => n.id));
    let i = 1;
    while (taken.has(`${type}_${i}`)) i += 1;
    return `${type}_${i}`;
  }

  function makeNode(type) {
    const id = newId(type);
    const name = typeLabel(type);
    switch (type) {
      case "approver": return { id, type, name, settings: { assignee: { kind: "user" } } };
      case "countersign": return { id, type, name, settings: { assignee: { kind: "role" }, mode: "all" } };
      case "cc": return { id, type, name, settings: { to: [{ kind: "initiator" }] } };
      case "condition": return { id, type, name, settings: { branches: [
        { name: L("条件 1", "Condition 1"), nodes: [] }, { name: L("其他", "Otherwise"), default: true, nodes: [] }] } };
      case "parallel": return { id, type, name, settings: { branches: [{ name: "A", nodes: [] }, { name: "B", nodes: [] }] } };
      default: return { id, type: "auto_action", name, settings: { action: "update_record", params: {} } };
    }
  }

  function findList(node, list = state.nodes) {
    const index = list.indexOf(node);
    if (index >= 0) return list;
    for (const item of list) {
      for (const branch of (item.settings && item.settings.branches) || []) {
        const found = findList(node, branch.nodes);
        if (found) return found;
      }
    }
    return null;
  }

  /** The node JSON as the API wants it: optional parts dropped when empty. */
  function clean(nodes) {
    return nodes.map((node) => {
      const out = { id: node.id, type: node.type };
      if (node.name) out.name = node.name;
      const settings = JSON.parse(JSON.stringify(node.settings || {}));
      if (settings.branches) {
        settings.branches = node.settings.branches.map((b) => {
          const branch = { nodes: clean(b.nodes) };
          if (b.name) branch.name = b.name;
          if (b.default) branch.default = true; else if (b.condition) branch.condition = b.condition;
          return branch;
        });
      }
      if (node.type !== "start" || Object.keys(settings).length) out.settings = settings;
      return out;
    });
  }

  /** Problems the server would also report, found before a round trip. */
  function localProblems() {
    const found = new Map();
    for (const node of allNodes()) {
      const s = node.settings || {};
      const who = [s.assignee, ...((s.timeout && s.timeout.escalate_to) ? [s.timeout.escalate_to] : []), ...(s.to || [])].filter(Boolean);
      if (who.some((a) => Props.NEEDS_VALUE.has(a.kind) && !a.value)) found.set(node.id, L("请填写审批人/接收人", "Say who acts on this step"));
      (s.branches || []).forEach((b, i) => {
        if (node.type === "condition" && !b.default && !b.condition) found.set(`${node.id}#${i}`, L("请填写条件", "This branch needs a condition"));
      });
    }
    return found;
  }

  // ---------------------------------------------------------------- the canvas
  function summary(node) {
    const s = node.settings || {};
    const who = (a) => (a ? `${Props.NEEDS_VALUE.has(a.kind) ? (a.value || "?") : ""} ${a.kind === "user" ? "" : `(${a.kind})`}`.trim() : "");
    if (node.type === "approver") return who(s.assignee) || L("未设置审批人", "No approver yet");
    if (node.type === "countersign") return `${who(s.assignee)} · ${s.mode}${s.n ? ` ${s.n}` : ""}${s.pct ? ` ${s.pct}%` : ""}`;
    if (node.type === "cc") return (s.to || []).map(who).join(", ");
    if (node.type === "auto_action") return `${s.action} ${Object.keys(s.params || {}).join(", ")}`;
    if (node.type === "start") return `${L("表单", "Form")}: ${state.entity || ""}`;
    return "";
  }

  function addSlot(list, index) {
    const button = h("button", { type: "button", class: "add-node", title: L("添加节点", "Add a node"), text: "+" });
    const menu = h("div", { class: "add-menu", hidden: true },
      ["approver", "countersign", "cc", "condition", "parallel", "auto_action"].map((type) =>
        h("button", { type: "button", "data-add": type, class: `add-${type}`, text: typeLabel(type), onclick: (event) => {
          event.stopPropagation();
          const node = makeNode(type);
          list.splice(index, 0, node);
          select({ kind: "node", node });
          changed();
        } })));
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      const open = menu.hidden;
      canvas.querySelectorAll(".add-menu").forEach((m) => { m.hidden = true; });
      menu.hidden = !open;
    });
    return h("div", { class: "add-slot" }, h("span", { class: "connector" }), button, menu);
  }

  function markers(el, id) {
    if (errors.has(id)) {
      el.classList.add("has-error");
      el.append(h("div", { class: "node-error", text: errors.get(id) }));
    }
    if (simulation) el.classList.add(simulation.visited.has(id.split("#")[0]) ? "sim-visited" : "sim-skipped");
  }

  function nodeCard(node) {
    const selected = selection && selection.kind === "node" && selection.node === node;
    const card = h("div", { class: `flow-node node-${node.type}${selected ? " selected" : ""}`, "data-id": node.id, "data-type": node.type, tabindex: "0" },
      h("div", { class: "node-title" }, h("span", { class: "node-type", text: typeLabel(node.type) }),
        node.type !== "start" && node.name && node.name !== typeLabel(node.type) ? h("span", { class: "node-name", text: node.name }) : null),
      h("div", { class: "node-summary", text: summary(node) }));
    card.addEventListener("click", (event) => { event.stopPropagation(); select({ kind: "node", node }); });
    markers(card, node.id);
    if (node.type !== "condition" && node.type !== "parallel") return card;
    const row = h("div", { class: "branch-row" }, node.settings.branches.map((branch, index) => {
      const chosen = selection && selection.kind === "branch" && selection.node === node && selection.index === index;
      const head = h("div", { class: `branch-head${chosen ? " selected" : ""}`, "data-index": index, tabindex: "0" },
        h("strong", { text: branch.name || `${L("分支", "Branch")} ${index + 1}` }),
        h("div", { class: "node-summary mono", text: node.type === "parallel" ? L("同时进行", "runs in parallel")
          : (branch.default ? L("默认（其他情况）", "default (otherwise)") : (branch.condition || L("未设置条件", "no condition yet"))) }));
      head.addEventListener("click", (event) => { event.stopPropagation(); select({ kind: "branch", node, index }); });
      markers(head, `${node.id}#${index}`);
      return h("div", { class: "branch", "data-index": index }, head, list(branch.nodes));
    }));
    return h("div", { class: `branch-block block-${node.type}`, "data-id": node.id }, card, row,
      h("div", { class: "branch-merge", text: node.type === "condition" ? "" : L("汇合", "join") }));
  }

  function list(nodes) {
    const box = h("div", { class: "flow-list" });
    nodes.forEach((node, index) => {
      if (node.type !== "start") box.append(addSlot(nodes, index));
      box.append(nodeCard(node));
    });
    box.append(addSlot(nodes, nodes.length));
    return box;
  }

  function draw() {
    const end = h("div", { class: "flow-node node-end", "data-type": "end" }, h("span", { class: "node-type", text: typeLabel("end") }));
    if (simulation) end.classList.add(simulation.status === "completed" ? "sim-visited" : "sim-skipped");
    canvas.replaceChildren(list(state.nodes), h("span", { class: "connector" }), end);
  }

  function select(next) {
    selection = next;
    draw();
    Props.render(panel, selection, { ...ctx, changed: () => changed(false), remove, addBranch, setDefault });
  }

  function changed(redrawPanel = true) {
    document.getElementById("dirty").hidden = false;
    simulation = null;
    if (errors.size) errors = localProblems();
    draw();
    if (redrawPanel) select(selection);
  }

  function remove(node) {
    const owner = findList(node);
    if (owner) owner.splice(owner.indexOf(node), 1);
    selection = null;
    changed();
  }

  function addBranch(node) {
    node.settings.branches.splice(node.type === "condition" ? node.settings.branches.length - 1 : node.settings.branches.length, 0,
      { name: `${L("分支", "Branch")} ${node.settings.branches.length + 1}`, nodes: [] });
    changed();
  }

  function setDefault(on) {
    const branches = selection.node.settings.branches;
    branches.forEach((b, i) => {
      if (i === selection.index) { b.default = on; if (on) delete b.condition; } else if (on) delete b.default;
    });
    changed(false);
  }

  document.addEventListener("click", () => canvas.querySelectorAll(".add-menu").forEach((m) => { m.hidden = true; }));

  // ---------------------------------------------------------------- errors at the node
  /** Which node (or branch) a 422 detail names: a designer path like
   *  "nodes[1].settings.branches[0].condition" or a BPMN element id "first__decision". */
  function locate(detail) {
    const path = String(detail.field || detail.path || "");
    if (path.startsWith("nodes")) {
      let cursor = { nodes: state.nodes };
      let hit = null;
      for (const [, name, index] of path.matchAll(/\.?([A-Za-z_]+)|\[(\d+)\]/g)) {
        cursor = cursor && (name !== undefined ? cursor[name] : cursor[Number(index)]);
        if (!cursor) break;
        if (cursor.id && cursor.type) hit = cursor.id;
        else if (hit && Array.isArray(cursor.nodes) && name === undefined) hit = `${hit.split("#")[0]}#${index}`;
      }
      return hit;
    }
    const element = String(detail.element || detail.path || "").split("__")[0];
    return allNodes().some((n) => n.id === element) ? element : null;
  }

  function showServerErrors(error) {
    errors = new Map();
    const loose = [];
    for (const detail of error.details || []) {
      const where = locate(detail);
      if (where) errors.set(where, detail.message); else loose.push(detail.path ? `${detail.path}: ${detail.message}` : detail.message);
    }
    draw();
    banner(bannerEl, "error", `${error.message}${loose.length ? " — " + loose.join("; ") : ""}`);
  }

  // ---------------------------------------------------------------- load, publish
  function payload() {
    return { key: keyInput.value.trim(), name: nameInput.value.trim() || keyInput.value.trim(), entity: entitySelect.value, nodes: clean(state.nodes) };
  }

  async function loadEntity() {
    state.entity = entitySelect.value;
    ctx.entity = state.entity ? await api("GET", `/api/v1/apps/${appKey}/entities/${state.entity}`) : null;
    select(selection);
  }

  async function publish() {
    const problems = localProblems();
    if (problems.size) {
      errors = problems;
      draw();
      banner(bannerEl, "error", L(`有 ${problems.size} 处需要补充`, `${problems.size} node(s) need attention`));
      return;
    }
    const body = payload();
    const button = document.getElementById("publish");
    button.disabled = true;
    try {
      const saved = state.version ? await api("PUT", `/api/v1/apps/${appKey}/processes/${state.key}`, body)
        : await api("POST", `/api/v1/apps/${appKey}/processes`, body);
      state.key = saved.key;
      state.version = saved.version;
      errors = new Map();
      simulation = null;
      keyInput.readOnly = true;
      document.getElementById("dirty").hidden = true;
      document.getElementById("title-text").textContent = saved.name;
      const badge = document.getElementById("version-badge");
      badge.textContent = `v${saved.version}`;
      badge.hidden = false;
      history.replaceState(null, "", `/designer/apps/${appKey}/processes/${saved.key}`);
      draw();
      banner(bannerEl, "ok", L(`已发布版本 ${saved.version}`, `Published version ${saved.version}`) +
        (saved.warnings && saved.warnings.length ? ` · ${saved.warnings.join("; ")}` : ""));
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) showServerErrors(error);
      else banner(bannerEl, "error", describe(error));
    } finally {
      button.disabled = false;
    }
  }

  async function start() {
    [ctx.users, ctx.roles] = await Promise.all([
      api("GET", "/api/v1/users?limit=500").then((b) => b.items).catch(() => []),
      api("GET", "/api/v1/roles").then((b) => b.items).catch(() => []),
    ]);
    if (state.key) {
      const process = await api("GET", `/api/v1/apps/${appKey}/processes/${state.key}`);
      nameInput.value = process.name;
      entitySelect.value = process.entity;
      state.version = process.version;
      const badge = document.getElementById("version-badge");
      badge.textContent = `v${process.version}`;
      badge.hidden = false;
      document.getElementById("title-text").textContent = process.name;
      if (process.source_kind !== "nodes") {
        banner(bannerEl, "error", L("这个流程是在 BPMN 建模器中绘制的，请在建模器中编辑。", "This flow was drawn in the BPMN modeler; edit it there."));
        root.querySelector(".flow-workspace").hidden = true;
        return;
      }
      state.nodes = process.nodes;
    }
    await loadEntity();
  }

  nameInput.addEventListener("input", () => { document.getElementById("dirty").hidden = false; });
  entitySelect.addEventListener("change", () => { changed(); loadEntity(); });
  document.getElementById("publish").addEventListener("click", publish);
  document.getElementById("open-modeler").addEventListener("click", () => {
    if (!state.version) { banner(bannerEl, "error", L("请先发布，再在建模器中打开", "Publish first, then open it in the modeler")); return; }
    window.location.assign(`/designer/apps/${appKey}/processes/${state.key}/bpmn`);
  });
  canvas.addEventListener("click", () => { if (selection) select(null); });
  if (window.LoomI18n) window.LoomI18n.onChange(() => select(selection));

  // ---------------------------------------------------------------- simulation
  const dialog = document.getElementById("sim-dialog");
  const simBanner = document.getElementById("sim-banner");
  const simResult = document.getElementById("sim-result");
  let sampleForm = null;

  function openSimulation() {
    const definition = ctx.entity;
    if (!definition) { banner(bannerEl, "error", L("请先选择表单", "Pick a form first")); return; }
    sampleForm = window.LoomForm.build(document.getElementById("sim-fields"), definition, { values: window.LoomForm.sampleValues(definition), appKey });
    const steps = allNodes().filter((n) => n.type === "approver" || n.type === "countersign");
    document.getElementById("sim-decisions").replaceChildren(...steps.map((node) => h("label", { class: "sim-decision" },
      h("span", { text: node.name || node.id }),
      h("select", { name: `decision-${node.id}`, "data-node": node.id },
        ["approve", "reject", "timeout"].map((d) => h("option", { value: d, text: actionLabel(d) }))))));
    simResult.replaceChildren();
    banner(simBanner, "", "");
    dialog.showModal();
  }

  function renderSimulation(run) {
    const items = run.steps.map((step, i) => {
      const who = [...step.assignees, ...step.candidate_roles.map((r) => `${r} [${((step.role_members || {})[r] || []).join(", ")}]`)].join(", ");
      return h("li", { class: `sim-step${step.problem ? " has-problem" : ""}`, "data-node": step.node_id },
        h("strong", { text: step.name }), " → ", h("span", { class: "sim-who", text: who || "—" }),
        h("span", { class: "muted", text: ` · ${actionLabel(step.decision)}` }),
        step.due_at ? h("span", { class: "muted small", text: ` · ${L("超时于", "times out")} ${window.LoomFlows.when(step.due_at)}` }) : null,
        step.problem ? h("div", { class: "fld-error", text: step.problem }) : null);
    });
    const effects = run.effects.filter((e) => e.kind !== "action").map((e) => h("li", { class: "muted", text:
      e.kind === "cc" ? `${L("抄送", "CC")}: ${[...e.users, ...e.roles].join(", ")}` : `${actionLabel(e.kind)} ${e.node || ""}` }));
    const calls = run.actions.map((a) => h("li", { class: "muted mono small", text: `${a.action} ${JSON.stringify(a.params)}` }));
    const outcome = { completed: L("审批通过", "Approved"), rejected: L("被驳回", "Rejected"), errored: L("出错", "Error"), running: L("未结束", "Not finished") }[run.status] || run.status;
    simResult.replaceChildren(h("p", { class: `sim-outcome sim-${run.status}`, "data-status": run.status, text: `${L("结果", "Outcome")}: ${outcome}${run.error ? ` — ${run.error.element || ""} ${run.error.message}` : ""}` }),
      h("ol", { class: "sim-steps" }, items), h("ul", { class: "sim-effects" }, effects, calls));
    simulation = { visited: new Set(run.visited), status: run.status };
    draw();
  }

  async function runSimulation() {
    const body = payload();
    body.decisions = {};
    dialog.querySelectorAll("[data-node]").forEach((el) => { if (el.tagName === "SELECT" && el.value !== "approve") body.decisions[el.dataset.node] = el.value; });
    if (dialog.querySelector("input[name=sim-source]:checked").value === "record") {
      body.record_id = Number(document.getElementById("sim-record").value);
    } else {
      const { data, problems } = sampleForm.collect();
      if (problems.length) return;
      body.data = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== null && v !== ""));
    }
    banner(simBanner, "", "");
    try {
      renderSimulation(await api("POST", `/api/v1/apps/${appKey}/processes/simulate`, body));
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const unmatched = sampleForm ? sampleForm.showErrors(error.details) : error.details;
        if (unmatched.length) showServerErrors({ message: error.message, details: unmatched });
      }
      banner(simBanner, "error", describe(error));
    }
  }

  document.getElementById("simulate").addEventListener("click", openSimulation);
  document.getElementById("sim-run").addEventListener("click", runSimulation);

  start().catch((error) => banner(bannerEl, "error", describe(error)));
})();
