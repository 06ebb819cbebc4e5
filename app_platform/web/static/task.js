// The task page (record form with this step's field permissions, the approval actions,
// comment, progress diagram, history) and the instance page (status, current tasks,
// diagram, history, withdraw / retry). Both read everything from the REST API.
(function () {
  "use strict";
  const { L, api, h, banner, describe, statusBadge, when, renderHistory, showDiagram, actionLabel } = window.LoomFlows;

  function meta(list, pairs) {
    list.replaceChildren(...pairs.filter(([, v]) => v !== null && v !== undefined && v !== "").flatMap(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]));
  }

  async function diagramAndHistory(diagramEl, historyEl, instance) {
    let names = {};
    try {
      diagramEl.replaceChildren();
      names = (await showDiagram(diagramEl, instance, instance.history)).names;
    } catch (error) {
      diagramEl.replaceChildren(h("p", { class: "muted", text: `${L("无法显示流程图", "Cannot show the diagram")}: ${describe(error)}` }));
    }
    renderHistory(historyEl, instance.history, names);
  }

  // ---------------------------------------------------------------- the task page
  const taskRoot = document.getElementById("task-page");
  if (taskRoot) {
    const taskId = Number(taskRoot.dataset.task);
    const me = taskRoot.dataset.me;
    const bannerEl = document.getElementById("task-banner");
    const extra = document.getElementById("action-extra");
    let detail = null;
    let instance = null;
    let form = null;

    const comment = () => document.getElementById("task-comment").value.trim() || undefined;

    function buildForm() {
      const editable = new Set(Object.entries(detail.field_permissions).filter(([, a]) => a === "edit").map(([k]) => k));
      const required = new Set(detail.required);
      const mine = detail.actions.includes("approve");
      const definition = { ...detail.entity, fields: detail.entity.fields.map((f) => ({ ...f,
        read_only: f.read_only || !mine || !editable.has(f.key), required: mine && editable.has(f.key) && (required.has(f.key) || f.required) })) };
      form = window.LoomForm.build(document.getElementById("task-fields"), definition, { values: detail.record, appKey: detail.instance.app, mode: "edit" });
      for (const [key, control] of form.controls) control.wrapper.dataset.access = detail.field_permissions[key] || "read";
    }

    async function act(path, body, done) {
      banner(bannerEl, "", "");
      taskRoot.querySelectorAll("#task-actions button").forEach((b) => { b.disabled = true; });
      try {
        await api("POST", `/api/v1/tasks/${taskId}/${path}`, body);
        await load();
        banner(bannerEl, "ok", done);
      } catch (error) {
        if (error.details && form) form.showErrors(error.details);
        banner(bannerEl, "error", describe(error));
        taskRoot.querySelectorAll("#task-actions button").forEach((b) => { b.disabled = false; });
      }
    }

    function complete(action) {
      const body = { action, comment: comment() };
      if (action === "approve") {
        const { data, problems } = form.collect();
        if (problems.length) { banner(bannerEl, "error", L("请修正标出的字段", "Fix the marked fields")); return; }
        const editable = Object.entries(detail.field_permissions).filter(([, a]) => a === "edit").map(([k]) => k);
        body.data = Object.fromEntries(editable.filter((k) => k in data).map((k) => [k, data[k]]));
      }
      if (action === "return") body.return_to = document.getElementById("return-to").value || undefined;
      act("complete", body, actionLabel(action));
    }

    function returnTargets() {
      const seen = new Map();
      for (const item of instance.history) {
        if (item.node_id && item.node_id !== detail.task.node_id && ["approve", "submit"].includes(item.action)) seen.set(item.node_id, item.node_id);
      }
      return [["", L("上一步", "Previous step")], ["initiator", L("发起人", "Initiator")], ...seen.entries()];
    }

    /** The inputs an action needs (whom to, until when, before/after), then its button. */
    function openExtra(kind) {
      const confirm = h("button", { type: "button", class: "btn-primary", id: "extra-confirm", text: L("确定", "Confirm") });
      const user = h("input", { type: "text", id: "extra-user", class: "mono", list: "extra-users", placeholder: L("用户名", "username") });
      const users = h("datalist", { id: "extra-users" });
      api("GET", "/api/v1/users?limit=500").then((b) => users.replaceChildren(...b.items.map((u) => h("option", { value: u.username, text: u.display_name || u.username })))).catch(() => null);
      const parts = [];
      if (kind === "return") {
        parts.push(h("label", {}, L("退回到", "Return to"), h("select", { id: "return-to" }, returnTargets().map(([v, t]) => h("option", { value: v, text: t })))));
        confirm.addEventListener("click", () => complete("return"));
      } else {
        parts.push(user, users);
        const until = h("input", { type: "datetime-local", id: "extra-until" });
        const position = h("select", { id: "extra-position" }, h("option", { value: "before", text: L("在我之前", "before me") }), h("option", { value: "after", text: L("在我之后", "after me") }));
        if (kind === "delegate") parts.push(h("label", {}, L("委托至", "until"), until));
        if (kind === "add-signer") parts.push(position);
        confirm.addEventListener("click", () => {
          const body = { to_user: user.value.trim(), comment: comment() };
          if (kind === "delegate" && until.value) body.until = new Date(until.value).toISOString();
          if (kind === "add-signer") body.position = position.value;
          act(kind, body, { transfer: L("已转办", "Transferred"), delegate: L("已委托", "Delegated"), "add-signer": L("已加签", "Signer added") }[kind]);
        });
      }
      extra.replaceChildren(...parts, confirm, h("button", { type: "button", text: L("取消", "Cancel"), onclick: () => { extra.hidden = true; } }));
      extra.hidden = false;
    }

    function buttons() {
      const box = document.getElementById("task-actions");
      const labels = { claim: L("认领", "Claim"), approve: L("同意", "Approve"), reject: L("驳回", "Reject"), return: L("退回", "Return"),
        transfer: L("转办", "Transfer"), delegate: L("委托", "Delegate"), "add-signer": L("加签", "Add signer"), urge: L("催办", "Urge") };
      const actions = [...detail.actions];
      if (detail.task.initiator === me && detail.task.state === "open" && detail.task.assignee !== me) actions.push("urge");
      if (detail.task.submit) actions.splice(0, actions.length, ...actions.filter((a) => ["approve", "claim"].includes(a)));
      box.replaceChildren(...actions.map((action) => h("button", {
        type: "button", "data-action": action, class: action === "approve" ? "btn-primary" : action === "reject" ? "btn-danger" : null,
        text: detail.task.submit && action === "approve" ? L("重新提交", "Resubmit") : labels[action] || action,
        onclick: () => {
          if (action === "approve" || action === "reject") complete(action);
          else if (action === "claim") act("claim", undefined, L("已认领", "Claimed"));
          else if (action === "urge") act("urge", { comment: comment() }, L("已催办", "Reminder sent"));
          else openExtra(action);
        },
      })));
      document.getElementById("action-panel").hidden = !actions.length;
      extra.hidden = true;
    }

    async function load() {
      detail = await api("GET", `/api/v1/tasks/${taskId}`);
      instance = await api("GET", `/api/v1/instances/${detail.task.instance_id}`);
      const task = detail.task;
      document.getElementById("task-title").textContent = task.name;
      document.getElementById("crumb-task").textContent = task.name;
      document.getElementById("task-state").replaceChildren(statusBadge(task.state));
      meta(document.getElementById("task-meta"), [
        [L("流程", "Process"), `${instance.process.name} v${instance.process.version}`],
        [L("实例", "Instance"), h("a", { href: `/instances/${instance.id}`, text: `#${instance.id}` }, " ", statusBadge(instance.status))],
        [L("记录", "Record"), h("a", { href: `/apps/${instance.app}/entities/${instance.entity}/${instance.record_id}`, text: `${instance.entity} #${instance.record_id}` })],
        [L("发起人", "Initiator"), instance.initiator],
        [L("处理人", "Assignee"), task.assignee || [...task.candidate_users, ...task.candidate_roles.map((r) => `@${r}`)].join(", ")],
        [L("委托自", "Delegated by"), task.delegated_from], [L("到期", "Due"), when(task.due_at)],
        [L("处理结果", "Decision"), task.action ? `${actionLabel(task.action)} · ${task.completed_by} · ${when(task.completed_at)}` : null],
      ]);
      buildForm();
      buttons();
      await diagramAndHistory(document.getElementById("task-diagram"), document.getElementById("task-history"), instance);
    }

    load().catch((error) => banner(bannerEl, "error", describe(error)));
  }

  // ---------------------------------------------------------------- the instance page
  const instanceRoot = document.getElementById("instance-page");
  if (instanceRoot) {
    const instanceId = Number(instanceRoot.dataset.instance);
    const me = instanceRoot.dataset.me;
    const bannerEl = document.getElementById("instance-banner");

    async function run(path, done) {
      try {
        await api("POST", `/api/v1/instances/${instanceId}/${path}`, {});
        await load();
        banner(bannerEl, "ok", done);
      } catch (error) { banner(bannerEl, "error", describe(error)); }
    }

    async function load() {
      const instance = await api("GET", `/api/v1/instances/${instanceId}`);
      document.getElementById("instance-title").textContent = `${instance.process.name} #${instance.id}`;
      document.getElementById("instance-status").replaceChildren(statusBadge(instance.status));
      meta(document.getElementById("instance-meta"), [
        [L("流程", "Process"), `${instance.process.key} v${instance.process.version}`],
        [L("记录", "Record"), h("a", { href: `/apps/${instance.app}/entities/${instance.entity}/${instance.record_id}`, text: `${instance.entity} #${instance.record_id}` })],
        [L("发起人", "Initiator"), instance.initiator], [L("发起时间", "Started"), when(instance.created_at)],
        [L("结束时间", "Ended"), when(instance.ended_at)],
        [L("错误", "Error"), instance.error ? `${instance.error.element || ""} ${instance.error.message}` : null],
      ]);
      document.getElementById("instance-tasks").replaceChildren(...(instance.tasks.length ? instance.tasks.map((t) => h("li", {},
        h("a", { href: `/tasks/${t.id}`, text: t.name }), " · ", t.assignee || [...t.candidate_users, ...t.candidate_roles.map((r) => `@${r}`)].join(", "), " ", statusBadge(t.state)))
        : [h("li", { class: "muted", text: L("无", "None") })]));
      const actions = [];
      if (instance.status === "running" && instance.initiator === me) actions.push(h("button", { type: "button", id: "withdraw", text: L("撤回", "Withdraw"), onclick: () => run("withdraw", L("已撤回", "Withdrawn")) }));
      if (instance.status === "errored") actions.push(h("button", { type: "button", id: "retry", text: L("重试", "Retry"), onclick: () => run("retry", L("已重试", "Running again")) }));
      document.getElementById("instance-actions").replaceChildren(...actions);
      await diagramAndHistory(document.getElementById("instance-diagram"), document.getElementById("instance-history"), instance);
    }

    load().catch((error) => banner(bannerEl, "error", describe(error)));
  }
})();
