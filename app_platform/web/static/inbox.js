// The task inbox: to do / done / started by me / CC'd to me with counts, filters and
// search, paging, and batch approve (each selected task is completed with "approve";
// a task that needs input at its step reports its problem and stays in the list).
(function () {
  "use strict";
  const root = document.getElementById("inbox");
  if (!root) return;
  const { L, api, h, banner, describe, statusBadge, when } = window.LoomFlows;
  const table = document.getElementById("inbox-table");
  const bannerEl = document.getElementById("inbox-banner");
  const batch = document.getElementById("batch-approve");
  const PAGE = 25;
  const state = { view: root.dataset.view || "todo", offset: 0, total: 0 };

  const link = (href, text) => h("a", { href, text });

  function filters() {
    const params = new URLSearchParams({ view: state.view, limit: PAGE, offset: state.offset });
    for (const name of ["q", "app", "process"]) {
      const value = document.getElementById(`inbox-${name}`).value.trim();
      if (value) params.set(name, value);
    }
    return params;
  }

  function taskRow(task) {
    const overdue = task.due_at && new Date(task.due_at) < new Date() && task.state === "open";
    const who = task.assignee || [...task.candidate_users, ...task.candidate_roles.map((r) => `@${r}`)].join(", ");
    return h("tr", { "data-task": task.id, class: overdue ? "overdue" : "" },
      h("td", { class: "check" }, state.view === "todo" ? h("input", { type: "checkbox", name: "pick", value: task.id, "aria-label": `#${task.id}` }) : null),
      h("td", {}, link(`/tasks/${task.id}`, task.name), task.urge_count ? h("span", { class: "badge", text: `${L("催办", "urged")} ×${task.urge_count}` }) : null),
      h("td", { class: "mono", text: `${task.process} v${task.process_version}` }),
      h("td", {}, link(`/instances/${task.instance_id}`, `#${task.instance_id}`), h("span", { class: "muted", text: ` ${task.entity} #${task.record_id}` })),
      h("td", { text: task.initiator }), h("td", { text: who }),
      h("td", {}, state.view === "done" ? h("span", { text: window.LoomFlows.actionLabel(task.action) }) : statusBadge(task.state)),
      h("td", { class: "muted small", text: when(state.view === "done" ? task.completed_at : (task.due_at || task.created_at)) }));
  }

  // a task a rule created (kind "rule"): no process or instance; completed through
  // /rule-tasks/{id}/complete (its id is its own, hence data-rule-task, not data-task)
  function ruleTaskRow(task) {
    const overdue = task.due_at && new Date(task.due_at) < new Date() && task.state === "open";
    const todo = state.view === "todo";
    const record = task.entity && task.record_id
      ? link(`/apps/${task.app}/entities/${task.entity}/${task.record_id}`, `${task.entity} #${task.record_id}`) : null;
    return h("tr", { "data-rule-task": task.id, class: overdue ? "overdue rule-task" : "rule-task" },
      h("td", { class: "check" }, todo ? h("input", { type: "checkbox", name: "pick", value: task.id, "data-kind": "rule", "aria-label": `#${task.id}` }) : null),
      h("td", {}, h("span", { class: "task-name", text: task.name }),
        todo ? h("button", { type: "button", class: "rule-done", "data-id": task.id, text: L("完成", "Done") }) : null),
      h("td", { class: "mono", text: `${L("规则", "rule")} ${task.rule || ""}` }),
      h("td", {}, h("span", { class: "mono", text: `${task.app} ` }), record),
      h("td", { class: "muted", text: "—" }), h("td", { text: task.completed_by || task.assignee }),
      h("td", {}, statusBadge(task.state)),
      h("td", { class: "muted small", text: when(state.view === "done" ? task.completed_at : (task.due_at || task.created_at)) }));
  }

  const completeRuleTask = (id) => api("POST", `/api/v1/rule-tasks/${id}/complete`, {});

  function instanceRow(instance, extra) {
    return h("tr", { "data-instance": instance.id },
      h("td", {}, link(`/instances/${instance.id}`, `#${instance.id} ${instance.process.name}`)),
      h("td", { class: "mono", text: `${instance.app} · ${instance.entity} #${instance.record_id}` }),
      h("td", { text: instance.initiator }), h("td", {}, statusBadge(instance.status)),
      h("td", { class: "muted small", text: extra || when(instance.created_at) }));
  }

  function header() {
    const tasks = [["", "check"], [L("任务", "Task")], [L("流程", "Process")], [L("实例 / 记录", "Instance / record")],
      [L("发起人", "Initiator")], [L("处理人", "Assignee")], [L("状态", "State")], [state.view === "done" ? L("处理时间", "Done at") : L("到期 / 创建", "Due / created")]];
    const instances = [[L("流程实例", "Instance")], [L("应用 / 记录", "App / record")], [L("发起人", "Initiator")], [L("状态", "Status")], [L("时间", "When")]];
    const cols = state.view === "todo" || state.view === "done" ? tasks : instances;
    table.tHead.replaceChildren(h("tr", {}, cols.map(([text, cls]) => h("th", { class: cls || null, text }))));
  }

  async function load() {
    banner(bannerEl, "", "");
    root.querySelectorAll(".tab").forEach((tab) => tab.classList.toggle("active", tab.dataset.view === state.view));
    batch.parentElement.hidden = state.view !== "todo";
    header();
    const body = await api("GET", `/api/v1/tasks?${filters()}`);
    state.total = body.total;
    for (const [view, count] of Object.entries(body.counts)) {
      root.querySelector(`[data-count=${view}]`).textContent = count;
    }
    const nav = document.getElementById("nav-todo-count");
    if (nav) { nav.textContent = String(body.counts.todo); nav.hidden = !body.counts.todo; }
    const rows = body.items.map((item) => (state.view === "started" ? instanceRow(item)
      : state.view === "cc" ? instanceRow(item.instance, `${L("抄送于", "CC at")} ${when(item.created_at)}`)
        : item.kind === "rule" ? ruleTaskRow(item) : taskRow(item)));
    table.tBodies[0].replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 8, class: "muted", text: L("没有内容", "Nothing here") }))]));
    document.getElementById("page-info").textContent = body.total ? `${state.offset + 1}–${state.offset + body.items.length} / ${body.total}` : "";
    document.getElementById("prev").disabled = state.offset === 0;
    document.getElementById("next").disabled = state.offset + PAGE >= body.total;
    batch.disabled = true;
  }

  function reload() { load().catch((error) => banner(bannerEl, "error", describe(error))); }

  root.querySelectorAll(".tab").forEach((tab) => tab.addEventListener("click", () => {
    state.view = tab.dataset.view;
    state.offset = 0;
    history.replaceState(null, "", `/inbox?view=${state.view}`);
    reload();
  }));
  document.getElementById("inbox-filters").addEventListener("submit", (event) => { event.preventDefault(); state.offset = 0; reload(); });
  document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE); reload(); });
  document.getElementById("next").addEventListener("click", () => { state.offset += PAGE; reload(); });
  table.addEventListener("change", () => { batch.disabled = !table.querySelector("input[name=pick]:checked"); });
  table.addEventListener("click", async (event) => {
    const button = event.target.closest("button.rule-done");
    if (!button) return;
    button.disabled = true;
    try {
      await completeRuleTask(button.dataset.id);
      await load();
      banner(bannerEl, "ok", L("任务已完成", "Task completed"));
    } catch (error) { button.disabled = false; banner(bannerEl, "error", describe(error)); }
  });

  batch.addEventListener("click", async () => {
    const picks = [...table.querySelectorAll("input[name=pick]:checked")].map((box) => [Number(box.value), box.dataset.kind]);
    const ids = picks.map(([id]) => id);
    batch.disabled = true;
    const failed = [];
    for (const [id, kind] of picks) { // one at a time: each completion is its own transaction
      try {
        if (kind === "rule") await completeRuleTask(id);
        else await api("POST", `/api/v1/tasks/${id}/complete`, { action: "approve", comment: L("批量同意", "Approved in batch") });
      } catch (error) { failed.push(`#${id}: ${describe(error)}`); }
    }
    await load().catch(() => null);
    banner(bannerEl, failed.length ? "error" : "ok", failed.length
      ? `${L("部分任务未能同意", "Some tasks were not approved")}: ${failed.join("; ")}`
      : L(`已同意 ${ids.length} 个任务`, `Approved ${ids.length} task(s)`));
  });

  api("GET", "/api/v1/apps").then((body) => {
    const select = document.getElementById("inbox-app");
    for (const app of body.items || []) select.append(h("option", { value: app.key, text: app.name }));
  }).catch(() => null);
  reload();
})();
