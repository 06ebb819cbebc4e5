// Property panels of the approval designer: who approves, countersign mode, timeout and
// what happens then, field permissions per step, CC recipients, auto actions, and the
// condition of each branch (with a small builder that writes the expression, turning
// money into the integer minor units the flow compares). Exposes window.LoomApprovalProps.
(function () {
  "use strict";
  const { L, h } = window.LoomFlows;

  const KINDS = [
    ["user", "指定成员", "Specific user(s)"], ["role", "角色", "Role"], ["dept_head", "部门主管", "Department head"],
    ["initiator", "发起人自己", "The initiator"], ["record_owner", "记录负责人", "Record owner"],
    ["expression", "表达式", "Expression"],
  ];
  const NEEDS_VALUE = new Set(["user", "role", "dept_head", "expression"]);
  const MODES = [["all", "会签（全部同意）", "All must approve"], ["any", "或签（一人即可）", "Any one decides"],
    ["n_of_m", "票签（N 人同意）", "N of M approve"], ["percentage", "按比例同意", "Percentage approve"]];
  const TIMEOUT_ACTIONS = [["remind", "催办提醒", "Remind"], ["escalate", "转交他人", "Escalate"],
    ["auto_approve", "自动同意", "Auto approve"], ["auto_reject", "自动驳回", "Auto reject"]];
  const OPS = [">=", ">", "==", "!=", "<", "<="];
  const ACCESS = [["read", "只读", "Read"], ["edit", "可编辑", "Edit"], ["hidden", "隐藏", "Hidden"]];

  const opt = (value, label, current) => h("option", { value, text: label, selected: value === current });
  const field = (label, control, help) => h("div", { class: "fld" }, h("label", { class: "fld-label" }, label, control), help ? h("div", { class: "fld-help", text: help }) : null);
  const liveFields = (entity) => (entity ? window.LoomForm.liveFields(entity) : []);

  /** "50000.5" with scale 2 -> "5000050"; null when it is not a decimal or too precise. */
  function toMinor(text, scale) {
    const clean = String(text).replace(/[,\s]/g, "");
    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(clean);
    if (!m || (m[3] || "").length > scale) return null;
    const digits = (m[2] + (m[3] || "").padEnd(scale, "0")).replace(/^0+(?=\d)/, "");
    return m[1] && digits !== "0" ? `-${digits}` : digits;
  }

  const quote = (text) => `'${String(text).replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

  /** A comparison as a flow expression; [expression, problem]. */
  function buildCondition(fieldDef, op, raw) {
    if (!fieldDef) return [null, L("请选择字段", "Pick a field")];
    if (["money", "number", "percent"].includes(fieldDef.type)) {
      const scale = fieldDef.type === "number" ? (fieldDef.scale || 0) : (fieldDef.scale === undefined ? 2 : fieldDef.scale);
      const value = fieldDef.type === "money" ? toMinor(raw, scale) : (/^-?\d+(\.\d+)?$/.test(String(raw).trim()) ? String(raw).trim() : null);
      if (value === null) return [null, L("请输入数字", "Enter a number")];
      return [`${fieldDef.key} ${op} ${value}`, null];
    }
    if (fieldDef.type === "boolean") return [`${fieldDef.key} ${op === "!=" ? "!=" : "=="} ${/^(1|true|是|yes)$/i.test(raw) ? "True" : "False"}`, null];
    return [`${fieldDef.key} ${op} ${quote(raw)}`, null];
  }

  function assigneeEditor(assignee, ctx, names, onChange) {
    const kind = h("select", { name: `${names}-kind` }, KINDS.map(([k, zh, en]) => opt(k, L(zh, en), assignee.kind)));
    const listId = `${names}-list`;
    const value = h("input", { type: "text", name: `${names}-value`, list: listId, value: assignee.value || "", class: "mono", autocomplete: "off" });
    const datalist = h("datalist", { id: listId });
    const hint = h("div", { class: "fld-help" });
    function refresh() {
      const k = kind.value;
      value.hidden = !NEEDS_VALUE.has(k);
      const items = k === "user" ? ctx.users.map((u) => [u.username, u.display_name])
        : k === "role" ? ctx.roles.map((r) => [r.key, r.name])
          : k === "dept_head" ? liveFields(ctx.entity).map((f) => [f.key, f.label]) : [];
      datalist.replaceChildren(...items.map(([v, label]) => h("option", { value: v, text: label || v })));
      hint.textContent = {
        user: L("用户名，多个用逗号分隔", "Usernames, comma separated"),
        role: L("角色成员中的一人认领处理", "One member of the role claims the task"),
        dept_head: L("存放部门的字段", "The field holding the department"),
        expression: L("表达式，结果为用户名或用户名列表", "An expression giving a username or a list"),
      }[k] || "";
    }
    const update = () => {
      assignee.kind = kind.value;
      if (NEEDS_VALUE.has(kind.value) && value.value.trim()) assignee.value = value.value.trim();
      else delete assignee.value;
      refresh();
      onChange();
    };
    kind.addEventListener("change", update);
    value.addEventListener("input", update);
    refresh();
    return h("div", { class: "assignee" }, kind, value, datalist, hint);
  }

  function permissionsEditor(settings, ctx) {
    const current = new Map((settings.field_permissions || []).map((p) => [p.key, p]));
    const save = () => {
      const list = [...current.values()].filter((p) => p.access !== "read" || p.required);
      if (list.length) settings.field_permissions = list; else delete settings.field_permissions;
      ctx.changed();
    };
    const rows = liveFields(ctx.entity).map((f) => {
      const entry = current.get(f.key) || { key: f.key, access: "read" };
      const select = h("select", { name: `perm-${f.key}` }, ACCESS.map(([v, zh, en]) => opt(v, L(zh, en), entry.access || "read")));
      const required = h("input", { type: "checkbox", name: `perm-required-${f.key}`, checked: Boolean(entry.required) });
      const sync = () => {
        entry.access = select.value;
        entry.required = select.value === "edit" && required.checked;
        required.disabled = select.value !== "edit";
        if (!entry.required) delete entry.required;
        current.set(f.key, entry);
        save();
      };
      required.disabled = (entry.access || "read") !== "edit";
      select.addEventListener("change", sync);
      required.addEventListener("change", sync);
      return h("tr", {}, h("td", { text: f.label || f.key }), h("td", {}, select), h("td", {}, h("label", {}, required, L("必填", "Required"))));
    });
    return h("div", { class: "perm-editor" }, h("h4", { text: L("字段权限", "Field permissions") }),
      rows.length ? h("table", { class: "perm-table" }, h("tbody", {}, rows)) : h("p", { class: "muted", text: L("表单没有字段", "The form has no fields") }));
  }

  function timeoutEditor(settings, ctx) {
    const timeout = settings.timeout || { after: "P1D", action: "remind" };
    const enabled = h("input", { type: "checkbox", name: "prop-timeout", checked: Boolean(settings.timeout) });
    const m = /^P(?:(\d+)D)?(?:T(\d+)H)?$/.exec(timeout.after || "") || [];
    const amount = h("input", { type: "number", min: "1", name: "prop-timeout-amount", value: m[2] || m[1] || "1" });
    const unit = h("select", { name: "prop-timeout-unit" }, opt("D", L("天", "days"), m[2] ? "H" : "D"), opt("H", L("小时", "hours"), m[2] ? "H" : "D"));
    const action = h("select", { name: "prop-timeout-action" }, TIMEOUT_ACTIONS.map(([v, zh, en]) => opt(v, L(zh, en), timeout.action)));
    const escalate = h("div", { class: "escalate" });
    const body = h("div", { class: "timeout-body" }, h("div", { class: "inline" }, amount, unit, action), escalate);
    const sync = () => {
      body.hidden = !enabled.checked;
      if (!enabled.checked) { delete settings.timeout; ctx.changed(); return; }
      const n = Math.max(1, parseInt(amount.value, 10) || 1);
      timeout.after = unit.value === "H" ? `PT${n}H` : `P${n}D`;
      timeout.action = action.value;
      if (timeout.action === "escalate") timeout.escalate_to = timeout.escalate_to || { kind: "user" };
      else delete timeout.escalate_to;
      settings.timeout = timeout;
      escalate.replaceChildren(timeout.escalate_to ? assigneeEditor(timeout.escalate_to, ctx, "prop-escalate", ctx.changed) : "");
      ctx.changed();
    };
    [enabled, amount, unit, action].forEach((el) => el.addEventListener("change", sync));
    body.hidden = !enabled.checked;
    if (timeout.escalate_to) escalate.append(assigneeEditor(timeout.escalate_to, ctx, "prop-escalate", ctx.changed));
    return h("div", { class: "timeout-editor" }, h("h4", {}, h("label", {}, enabled, L("超时处理", "Timeout"))), body);
  }

  function countersignEditor(settings, ctx) {
    const mode = h("select", { name: "prop-mode" }, MODES.map(([v, zh, en]) => opt(v, L(zh, en), settings.mode)));
    const n = h("input", { type: "number", min: "1", name: "prop-n", value: settings.n || 2 });
    const pct = h("input", { type: "number", min: "1", max: "100", name: "prop-pct", value: settings.pct || 60 });
    const sync = () => {
      settings.mode = mode.value;
      n.closest(".fld").hidden = mode.value !== "n_of_m";
      pct.closest(".fld").hidden = mode.value !== "percentage";
      if (mode.value === "n_of_m") settings.n = Math.max(1, parseInt(n.value, 10) || 1); else delete settings.n;
      if (mode.value === "percentage") settings.pct = Math.min(100, Math.max(1, parseInt(pct.value, 10) || 1)); else delete settings.pct;
      ctx.changed();
    };
    [mode, n, pct].forEach((el) => el.addEventListener("change", sync));
    const box = h("div", {}, field(L("会签方式", "Mode"), mode), field("N", n), field("%", pct));
    n.closest(".fld").hidden = settings.mode !== "n_of_m";
    pct.closest(".fld").hidden = settings.mode !== "percentage";
    return box;
  }

  function ccEditor(settings, ctx) {
    const box = h("div", { class: "cc-editor" });
    const draw = () => {
      box.replaceChildren(h("h4", { text: L("抄送给", "Send a copy to") }),
        ...settings.to.map((who, i) => h("div", { class: "cc-row" },
          assigneeEditor(who, ctx, `prop-cc-${i}`, ctx.changed),
          settings.to.length > 1 ? h("button", { type: "button", class: "icon-btn", title: L("删除", "Remove"), text: "×",
            onclick: () => { settings.to.splice(i, 1); draw(); ctx.changed(); } }) : null)),
        h("button", { type: "button", text: `+ ${L("添加", "Add")}`, onclick: () => { settings.to.push({ kind: "user" }); draw(); ctx.changed(); } }));
    };
    draw();
    return box;
  }

  function actionEditor(settings, ctx) {
    const action = h("select", { name: "prop-action" }, opt("update_record", L("更新本记录", "Update this record"), settings.action),
      opt("create_record", L("新建记录", "Create a record"), settings.action));
    action.addEventListener("change", () => { settings.action = action.value; ctx.changed(); });
    const rows = h("div", { class: "param-rows" });
    const draw = () => {
      const params = Object.entries(settings.params || {});
      rows.replaceChildren(...params.map(([key, expr], i) => {
        const k = h("input", { type: "text", class: "mono", value: key, name: `prop-param-key-${i}`, placeholder: L("字段", "field") });
        const v = h("input", { type: "text", class: "mono", value: expr, name: `prop-param-value-${i}`, placeholder: "'approved'" });
        const sync = () => {
          const next = {};
          rows.querySelectorAll(".param-row").forEach((row) => {
            const [a, b] = row.querySelectorAll("input");
            if (a.value.trim()) next[a.value.trim()] = b.value;
          });
          settings.params = next;
          ctx.changed();
        };
        k.addEventListener("change", sync);
        v.addEventListener("change", sync);
        return h("div", { class: "param-row inline" }, k, h("span", { text: "=" }), v);
      }), h("button", { type: "button", text: `+ ${L("参数", "Parameter")}`, onclick: () => {
        settings.params = { ...(settings.params || {}), [`field_${params.length + 1}`]: "''" };
        draw(); ctx.changed();
      } }));
    };
    draw();
    return h("div", {}, field(L("动作", "Action"), action), h("h4", { text: L("参数（表达式）", "Parameters (expressions)") }), rows);
  }

  function conditionEditor(branch, ctx) {
    const fields = liveFields(ctx.entity);
    const isDefault = h("input", { type: "checkbox", name: "prop-default", checked: Boolean(branch.default) });
    const raw = h("textarea", { name: "prop-condition", rows: 2, class: "mono" });
    raw.value = branch.condition || "";
    const pickField = h("select", { name: "cond-field" }, h("option", { value: "", text: "—" }), fields.map((f) => opt(f.key, f.label || f.key, "")));
    const op = h("select", { name: "cond-op" }, OPS.map((o) => opt(o, o, ">=")));
    const value = h("input", { type: "text", name: "cond-value", placeholder: "50000" });
    const problem = h("div", { class: "fld-error" });
    const build = h("button", { type: "button", name: "cond-build", text: L("生成条件", "Build") });
    build.addEventListener("click", () => {
      const [expression, message] = buildCondition(fields.find((f) => f.key === pickField.value), op.value, value.value);
      problem.textContent = message || "";
      if (!expression) return;
      raw.value = expression;
      branch.condition = expression;
      ctx.changed();
    });
    raw.addEventListener("input", () => {
      if (raw.value.trim()) branch.condition = raw.value.trim(); else delete branch.condition;
      ctx.changed();
    });
    const builder = h("div", { class: "cond-builder" }, h("div", { class: "inline" }, pickField, op, value, build), problem,
      field(L("条件表达式", "Condition expression"), raw, L("金额按最小单位（分）比较：50,000.00 元写作 5000000", "Money compares in minor units: 50,000.00 is 5000000")));
    isDefault.addEventListener("change", () => {
      ctx.setDefault(isDefault.checked);
      builder.hidden = isDefault.checked;
    });
    builder.hidden = Boolean(branch.default);
    return h("div", {}, h("label", { class: "check" }, isDefault, L("默认分支（其他条件都不满足时）", "Default branch (when no other condition holds)")), builder);
  }

  /** Fill ``panel`` for the selection: {kind: "node", node} or {kind: "branch", node, index}. */
  function render(panel, selection, ctx) {
    panel.replaceChildren();
    if (!selection) {
      panel.append(h("p", { class: "muted", text: L("点击流程中的节点来编辑它", "Click a node to edit it") }));
      return;
    }
    const { node } = selection;
    if (selection.kind === "branch") {
      const branch = node.settings.branches[selection.index];
      const name = h("input", { type: "text", name: "prop-branch-name", value: branch.name || "" });
      name.addEventListener("input", () => { branch.name = name.value; ctx.changed(); });
      panel.append(h("div", { class: "props-head" }, h("strong", { text: node.type === "condition" ? L("条件分支", "Condition branch") : L("并行分支", "Parallel branch") })),
        field(L("分支名称", "Branch name"), name));
      if (node.type === "condition") panel.append(conditionEditor(branch, ctx));
      return;
    }
    const settings = node.settings || (node.settings = {});
    const title = h("input", { type: "text", name: "prop-name", value: node.name || "", maxlength: "200" });
    title.addEventListener("input", () => { node.name = title.value; ctx.changed(); });
    panel.append(h("div", { class: "props-head" }, h("strong", { text: ctx.typeLabel(node.type) }), h("span", { class: "muted mono small", text: node.id })));
    if (node.type !== "start") panel.append(field(L("节点名称", "Name"), title));
    if (node.type === "approver" || node.type === "countersign") {
      panel.append(h("h4", { text: node.type === "countersign" ? L("会签人", "Signers") : L("审批人", "Approver") }),
        assigneeEditor(settings.assignee, ctx, "prop-assignee", ctx.changed));
      if (node.type === "countersign") panel.append(countersignEditor(settings, ctx));
      panel.append(timeoutEditor(settings, ctx), permissionsEditor(settings, ctx));
    } else if (node.type === "start") {
      panel.append(h("p", { class: "muted", text: L("发起人提交表单；被退回给发起人时按以下权限编辑。", "The initiator submits the form; when returned to them, these permissions apply.") }),
        permissionsEditor(settings, ctx));
    } else if (node.type === "cc") {
      panel.append(ccEditor(settings, ctx));
    } else if (node.type === "auto_action") {
      panel.append(actionEditor(settings, ctx));
    } else if (node.type === "condition" || node.type === "parallel") {
      panel.append(h("button", { type: "button", name: "add-branch", text: `+ ${L("添加分支", "Add branch")}`, onclick: () => ctx.addBranch(node) }));
    }
    if (node.type !== "start") {
      panel.append(h("button", { type: "button", class: "btn-danger wide", name: "delete-node", text: L("删除节点", "Delete node"), onclick: () => ctx.remove(node) }));
    }
  }

  window.LoomApprovalProps = { render, buildCondition, toMinor, NEEDS_VALUE };
})();
