// Shared by the flow pages (designer, modeler, inbox, task, instance): labels in Chinese
// and English, the REST helper, the history timeline and the progress diagram (bpmn-js
// NavigatedViewer with done/current steps marked). Exposes window.LoomFlows.
(function () {
  "use strict";
  const { api, ApiError, h } = window.LoomForm;
  const lang = () => (window.LoomI18n ? window.LoomI18n.lang : "zh");
  /** Pick the text for the current language. */
  const L = (zh, en) => (lang() === "zh" ? zh : en);

  const ACTIONS = {
    start: ["发起", "started"], submit: ["提交", "submitted"], approve: ["同意", "approved"],
    reject: ["驳回", "rejected"], return: ["退回", "returned"], transfer: ["转办", "transferred"],
    delegate: ["委托", "delegated"], add_signer: ["加签", "added a signer"], claim: ["认领", "claimed"],
    urge: ["催办", "urged"], remind: ["提醒", "reminder"], cc: ["抄送", "CC"], timer: ["超时", "timer fired"],
    action: ["自动动作", "auto action"], withdraw: ["撤回", "withdrawn"], retry: ["重试", "retried"],
    error: ["出错", "error"], completed: ["审批通过", "approved (end)"], rejected: ["已驳回", "rejected (end)"],
    timeout: ["超时", "timeout"],
  };
  const STATUS = {
    running: ["审批中", "running"], completed: ["已通过", "approved"], rejected: ["已驳回", "rejected"],
    withdrawn: ["已撤回", "withdrawn"], errored: ["出错", "errored"], open: ["待处理", "open"],
    done: ["已处理", "done"], waiting: ["等待加签", "waiting"], cancelled: ["已取消", "cancelled"],
  };
  const pick = (table, key) => (table[key] ? L(table[key][0], table[key][1]) : key);
  const actionLabel = (key) => pick(ACTIONS, key);
  const statusLabel = (key) => pick(STATUS, key);

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang() === "zh" ? "zh-CN" : "en-GB");
  }

  function statusBadge(status) {
    return h("span", { class: `status status-${status}`, "data-status": status, text: statusLabel(status) });
  }

  /** The history timeline: one entry per recorded action, oldest first. */
  function renderHistory(container, history, names) {
    container.replaceChildren();
    const list = h("ol", { class: "timeline" });
    for (const item of history || []) {
      const node = item.node_id ? (names && names[item.node_id]) || item.node_id : "";
      const extra = [];
      if (item.to) extra.push(`→ ${item.to}`);
      if (item.users && item.users.length) extra.push(item.users.join(", "));
      if (item.until) extra.push(`${L("至", "until")} ${when(item.until)}`);
      if (item.message) extra.push(item.message);
      if (item.on_behalf_of) extra.push(`${L("代", "for")} ${item.on_behalf_of}`);
      const diff = Object.entries(item.data_diff || {}).map(([k, [a, b]]) => `${k}: ${a ?? "—"} → ${b ?? "—"}`);
      list.append(h("li", { class: `tl-item tl-${item.action}`, "data-action": item.action, "data-actor": item.actor || "" },
        h("div", { class: "tl-head" },
          h("strong", { class: "tl-action", text: actionLabel(item.action) }),
          node ? h("span", { class: "tl-node", text: node }) : null,
          h("span", { class: "tl-actor", text: item.actor || L("系统", "system") }),
          h("time", { class: "muted small", text: when(item.at) })),
        extra.length ? h("div", { class: "muted small", text: extra.join(" · ") }) : null,
        item.comment ? h("blockquote", { class: "tl-comment", text: item.comment }) : null,
        diff.length ? h("div", { class: "tl-diff small mono", text: diff.join("; ") }) : null));
    }
    if (!list.children.length) list.append(h("li", { class: "muted", text: L("暂无记录", "Nothing yet") }));
    container.append(list);
  }

  /** The instance's process version in a NavigatedViewer; done steps (from the history)
   *  and current ones (open tasks) get canvas markers. Returns the element names. */
  async function showDiagram(container, instance, history) {
    const process = await api("GET", `/api/v1/apps/${instance.app}/processes/${instance.process.key}?version=${instance.process.version}`);
    const viewer = new window.BpmnJS({ container });
    await viewer.importXML(process.bpmn_xml);
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    canvas.zoom("fit-viewport", "auto");
    const current = new Set((instance.tasks || []).filter((t) => t.state === "open" || t.state === "waiting").map((t) => t.node_id));
    const done = new Set((history || []).filter((e) => e.node_id && !["claim", "urge", "error"].includes(e.action)).map((e) => e.node_id));
    const names = {};
    registry.forEach((element) => {
      if (element.businessObject && element.businessObject.name) names[element.id] = element.businessObject.name;
    });
    for (const id of done) if (registry.get(id) && !current.has(id)) canvas.addMarker(id, "flow-done");
    for (const id of current) if (registry.get(id)) canvas.addMarker(id, "flow-current");
    if (instance.error && instance.error.element && registry.get(instance.error.element)) {
      canvas.addMarker(instance.error.element, "flow-error");
    }
    container.dataset.rendered = "true";
    return { viewer, names };
  }

  function banner(el, kind, message) {
    el.className = `banner ${kind}`;
    el.textContent = message;
    el.hidden = !message;
  }

  /** An API error as one line: the message plus each detail's path. */
  function describe(error) {
    if (!(error instanceof ApiError)) return String(error && error.message ? error.message : error);
    const details = (error.details || []).map((d) => (d.path ? `${d.path}: ${d.message}` : d.message));
    return details.length ? `${error.message} — ${details.join("; ")}` : error.message;
  }

  window.LoomFlows = { L, api, ApiError, h, actionLabel, statusLabel, statusBadge, when, renderHistory, showDiagram, banner, describe };
})();
