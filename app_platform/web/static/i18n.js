// UI text in Chinese and English. zh is the default when the browser asks for Chinese
// (navigator.language starts with "zh"); the choice made with the toggle is remembered.
// Markup opts in with data-i18n="key" (text), data-i18n-placeholder, data-i18n-title.
(function () {
  "use strict";
  const DICT = {
    // shared
    "app.apps": ["应用", "Apps"], "lang.toggle": ["EN", "中文"],
    "common.save": ["保存", "Save"], "common.cancel": ["取消", "Cancel"],
    "common.delete": ["删除", "Delete"], "common.edit": ["编辑", "Edit"],
    "common.close": ["关闭", "Close"], "common.add": ["添加", "Add"],
    "common.loading": ["加载中…", "Loading…"], "common.yes": ["是", "Yes"],
    "common.no": ["否", "No"], "common.none": ["（空）", "(empty)"],
    "common.reload": ["重新加载", "Reload"], "common.search": ["搜索", "Search"],
    "common.back": ["返回列表", "Back to list"], "common.confirm": ["确定", "Confirm"],
    // field types
    "type.text": ["单行文本", "Text"], "type.textarea": ["多行文本", "Long text"],
    "type.number": ["数字", "Number"], "type.money": ["金额", "Money"],
    "type.percent": ["百分比", "Percent"], "type.date": ["日期", "Date"],
    "type.datetime": ["日期时间", "Date & time"], "type.boolean": ["是/否", "Yes / no"],
    "type.select": ["单选", "Choice"], "type.multiselect": ["多选", "Multi-select"],
    "type.user": ["成员", "Member"], "type.relation": ["关联记录", "Link"],
    "type.subtable": ["子表单", "Line items"], "type.attachment": ["附件", "Attachment"],
    "type.formula": ["公式", "Formula"], "type.auto_number": ["流水号", "Serial no."],
    "type.card_number": ["银行卡号", "Card no."], "type.email": ["邮箱", "Email"],
    "type.phone": ["电话", "Phone"], "type.url": ["网址", "URL"],
    // palette groups
    "group.basic": ["基础字段", "Basic"], "group.choice": ["选择", "Choice"],
    "group.number": ["数字与金额", "Number & money"], "group.date": ["日期时间", "Date & time"],
    "group.relation": ["关联与子表", "Relations & line items"],
    "group.advanced": ["高级字段", "Advanced"],
    // field properties
    "prop.key": ["字段标识", "Key"], "prop.label": ["标题", "Label"],
    "prop.required": ["必填", "Required"], "prop.unique": ["不允许重复", "Unique"],
    "prop.indexed": ["建立索引", "Indexed"], "prop.default": ["默认值", "Default"],
    "prop.help": ["说明文字", "Help text"], "prop.placeholder": ["占位提示", "Placeholder"],
    "prop.read_only": ["只读", "Read-only"], "prop.visible_if": ["显示条件", "Visible if"],
    "prop.required_if": ["必填条件", "Required if"], "prop.width": ["宽度（列）", "Width (columns)"],
    "prop.min_length": ["最少字数", "Min length"], "prop.max_length": ["最多字数", "Max length"],
    "prop.pattern": ["格式（正则表达式）", "Pattern (regex)"],
    "prop.auto_pattern": ["编号规则", "Number pattern"],
    "prop.scale": ["小数位数", "Decimal places"], "prop.min": ["最小值", "Minimum"],
    "prop.max": ["最大值", "Maximum"], "prop.currency": ["币种", "Currency"],
    "prop.options": ["选项", "Options"], "prop.max_items": ["最多选择", "Max selections"],
    "prop.target": ["关联表单", "Target form"], "prop.many": ["允许关联多条", "Allow many"],
    "prop.display_field": ["显示字段", "Display field"], "prop.fields": ["子表字段", "Columns"],
    "prop.min_rows": ["最少行数", "Min rows"], "prop.max_rows": ["最多行数", "Max rows"],
    "prop.max_files": ["最多文件数", "Max files"], "prop.max_size_mb": ["单个文件上限 MB", "Max size MB"],
    "prop.accept": ["允许的扩展名", "Allowed extensions"], "prop.formula": ["公式", "Formula"],
    "prop.result_type": ["结果类型", "Result type"], "prop.brands": ["卡组织", "Card brands"],
    "prop.permissions": ["字段权限", "Field permissions"],
    "prop.list_hint": ["用逗号分隔", "comma separated"],
    "prop.immutable": ["发布后不可修改", "Fixed once published"],
    // designer
    "designer.title": ["表单设计", "Form designer"], "designer.design": ["设计", "Design"],
    "designer.preview": ["预览", "Preview"], "designer.publish": ["发布", "Publish"],
    "designer.palette": ["字段", "Fields"], "designer.properties": ["属性", "Properties"],
    "designer.form_props": ["表单属性", "Form properties"],
    "designer.form_label": ["表单名称", "Form name"],
    "designer.form_description": ["表单说明", "Description"],
    "designer.title_field": ["标题字段", "Title field"],
    "designer.section": ["分组", "Section"], "designer.section_title": ["分组标题", "Section title"],
    "designer.columns": ["列数", "Columns"], "designer.n_columns": ["{n} 列", "{n} columns"], "designer.add_section": ["添加分组", "Add section"],
    "designer.delete_section": ["删除分组", "Delete section"],
    "designer.drop_here": ["从左侧拖入字段", "Drag fields here from the left"],
    "designer.nothing_selected": ["选中画布上的字段来编辑属性", "Select a field on the canvas to edit it"],
    "designer.delete_field": ["删除字段", "Delete field"],
    "designer.add_option": ["添加选项", "Add option"], "designer.option_value": ["选项值", "Value"],
    "designer.option_label": ["显示名", "Label"],
    "designer.add_column": ["添加列", "Add column"],
    "designer.insert_field": ["插入字段", "Insert field"],
    "designer.insert_function": ["插入函数", "Insert function"],
    "designer.checking": ["检查中…", "Checking…"], "designer.formula_ok": ["公式正确", "Formula OK"],
    "designer.plan_title": ["确认发布", "Publish this version?"],
    "designer.plan_intro": ["发布会对数据表做以下变更：", "Publishing changes the table as follows:"],
    "designer.plan_none": ["数据表结构不变", "No schema change"],
    "designer.published": ["已发布版本 {v}", "Published version {v}"],
    "designer.has_errors": ["有 {n} 处问题，请先修正", "{n} problem(s) to fix first"],
    "designer.stale": ["表单已被他人修改，请重新加载", "Someone else published meanwhile; reload"],
    "designer.new_title": ["新建表单", "New form"],
    "designer.new_key_help": ["英文小写字母开头，只含小写字母、数字和下划线；创建后不可修改",
      "Lower-case letter first, then a-z, 0-9 or _; it never changes"],
    "designer.create": ["创建并开始设计", "Create and design"],
    "designer.version": ["版本", "Version"], "designer.records": ["查看数据", "Open records"],
    "designer.unsaved": ["有未发布的修改", "Unpublished changes"],
    "plan.create_table": ["创建数据表", "creates the table"],
    "plan.add_column": ["新增 {n} 列", "adds {n} column(s)"],
    "plan.add_index": ["新增 {n} 个索引", "adds {n} index(es)"],
    "plan.drop_index": ["删除 {n} 个索引", "drops {n} index(es)"],
    "plan.widen": ["扩宽 {n} 列", "widens {n} column(s)"],
    "plan.convert": ["转换 {n} 列类型", "converts {n} column(s)"],
    "plan.hide": ["隐藏 {n} 个字段（数据保留）", "hides {n} field(s) (data kept)"],
    "plan.restore": ["恢复 {n} 个字段", "restores {n} field(s)"],
    "step.create_table": ["建表", "create table"], "step.add_column": ["新增列", "add column"],
    "step.add_index": ["新增索引", "add index"], "step.drop_index": ["删除索引", "drop index"],
    "step.widen": ["扩宽列", "widen"], "step.convert": ["转换类型", "convert"],
    "step.hide": ["隐藏字段", "hide"], "step.restore": ["恢复字段", "restore"],
    "result.number": ["数字", "number"], "result.text": ["文本", "text"],
    "result.boolean": ["是/否", "yes/no"], "result.date": ["日期", "date"],
    "result.datetime": ["日期时间", "date & time"],
    // record views
    "record.new": ["新建", "New"], "record.new_title": ["新建记录", "New record"],
    "record.edit_title": ["编辑记录", "Edit record"], "record.submit": ["提交", "Submit"],
    "record.saved": ["已保存", "Saved"], "record.details": ["详情", "Details"],
    "record.history": ["历史", "History"], "record.delete_confirm": ["确定删除这条记录？", "Delete this record?"],
    "record.conflict": ["这条记录已被他人修改。请重新加载后再提交。",
      "Someone changed this record meanwhile. Reload it, then submit again."],
    "record.fix": ["请修正标出的 {n} 处问题", "Fix the {n} marked problem(s)"],
    "record.add_row": ["添加一行", "Add row"], "record.remove_row": ["删除此行", "Remove row"],
    "record.pick": ["搜索并选择…", "Search and pick…"], "record.no_match": ["没有匹配的记录", "No matching records"],
    "record.upload": ["上传文件", "Upload file"], "record.uploading": ["上传中…", "Uploading…"],
    "record.uploads_missing": ["附件上传服务未启用", "File uploads are not available"],
    "record.card_keep": ["留空则保留原卡号", "Leave empty to keep the stored card"],
    "record.computed": ["自动计算", "Computed"], "record.created": ["创建", "Created"],
    "record.updated": ["修改", "Updated"], "record.by": ["由", "by"],
    "record.no_history": ["暂无历史", "No history yet"],
    "record.field": ["字段", "Field"], "record.before": ["修改前", "Before"],
    "record.after": ["修改后", "After"], "record.preview_ok": ["校验通过（预览不会保存）", "Valid (the preview saves nothing)"],
    "record.sample": ["填入示例数据", "Fill sample data"], "record.check": ["校验", "Validate"],
    "action.create": ["创建", "created"], "action.update": ["修改", "updated"],
    "action.delete": ["删除", "deleted"], "action.import": ["导入", "imported"],
    // validation
    "v.required": ["必填", "This field is required"],
    "v.min_length": ["至少 {n} 个字", "At least {n} characters"],
    "v.max_length": ["最多 {n} 个字", "At most {n} characters"],
    "v.pattern": ["格式不正确", "Invalid format"],
    "v.email": ["请输入有效的邮箱", "Enter a valid e-mail address"],
    "v.phone": ["请输入有效的电话号码", "Enter a valid phone number"],
    "v.url": ["请输入以 http(s):// 开头的网址", "Enter a URL starting with http(s)://"],
    "v.number": ["请输入数字", "Enter a number"],
    "v.integer": ["请输入整数", "Enter a whole number"],
    "v.scale": ["最多 {n} 位小数", "At most {n} decimal places"],
    "v.min": ["不能小于 {n}", "Must be at least {n}"], "v.max": ["不能大于 {n}", "Must be at most {n}"],
    "v.option": ["请选择列表中的选项", "Pick one of the listed options"],
    "v.max_items": ["最多选择 {n} 项", "Pick at most {n}"],
    "v.date": ["请输入有效日期", "Enter a valid date"],
    "v.min_rows": ["至少 {n} 行", "At least {n} rows"], "v.max_rows": ["最多 {n} 行", "At most {n} rows"],
    "v.card": ["卡号校验失败", "This card number fails the check digit"],
    // record list
    "list.columns": ["显示列", "Columns"], "list.filter": ["筛选", "Filter"],
    "list.add_filter": ["添加筛选", "Add filter"], "list.clear": ["清除", "Clear"],
    "op.eq": ["等于", "is"], "op.ne": ["不等于", "is not"], "op.gt": ["大于", ">"],
    "op.gte": ["大于等于", "≥"], "op.lt": ["小于", "<"], "op.lte": ["小于等于", "≤"],
    "op.contains": ["包含", "contains"], "op.in": ["属于", "is one of"],
    "op.isnull": ["为空", "is empty"],
  };
  const listeners = [];
  let lang = localStorage.getItem("loom.lang") ||
    ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");

  function t(key, vars) {
    const entry = DICT[key];
    let text = entry ? entry[lang === "zh" ? 0 : 1] : key;
    for (const [name, value] of Object.entries(vars || {})) {
      text = text.replaceAll(`{${name}}`, String(value));
    }
    return text;
  }

  function has(key) { return Object.prototype.hasOwnProperty.call(DICT, key); }

  function apply(root) {
    const scope = root || document;
    scope.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    scope.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    scope.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  }

  function setLang(next) {
    lang = next === "en" ? "en" : "zh";
    localStorage.setItem("loom.lang", lang);
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    apply();
    listeners.forEach((fn) => fn(lang));
  }

  document.addEventListener("click", (event) => {
    const toggle = event.target.closest(".lang-toggle");
    if (toggle) setLang(lang === "zh" ? "en" : "zh");
  });

  window.LoomI18n = {
    t, has, apply, setLang,
    get lang() { return lang; },
    onChange(fn) { listeners.push(fn); },
  };
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  apply();
})();
