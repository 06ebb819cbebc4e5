// The BPMN modeler: bpmn-js with the moddle descriptors of Loom's extensions (and the
// Camunda attributes the engine honours), a small properties panel for the selected user
// task (assignment kind/value, due date) writing loom: extension elements through the
// moddle API, import of a .bpmn file from disk, download, and deploy through the REST
// API with deploy errors marked on the element they name.
(function () {
  "use strict";
  const root = document.getElementById("bpmn-modeler");
  if (!root) return;
  const { L, api, ApiError, h, banner, describe } = window.LoomFlows;
  const appKey = root.dataset.app;
  const bannerEl = document.getElementById("modeler-banner");
  const props = document.getElementById("bpmn-props");
  const nameInput = document.getElementById("process-name");
  const keyInput = document.getElementById("process-key");
  const entitySelect = document.getElementById("process-entity");
  const KINDS = ["user", "role", "dept_head", "initiator", "record_owner", "expression"];

  // Matches engines/flow/bpmn_metadata.py: <loom:assignment kind value>, <loom:countersign
  // mode n pct>, <loom:fieldPermissions><loom:field key access required/>, <loom:submit/>,
  // <loom:outcome value/>. Unknown elements of a registered namespace would be dropped on
  // import, so every element the compiler writes is declared here.
  const LOOM = {
    name: "Loom", uri: "http://loom.dev/schema/bpmn", prefix: "loom", xml: { tagAlias: "lowerCase" },
    types: [
      { name: "Assignment", superClass: ["Element"], properties: [
        { name: "kind", isAttr: true, type: "String" }, { name: "value", isAttr: true, type: "String" }] },
      { name: "Countersign", superClass: ["Element"], properties: [
        { name: "mode", isAttr: true, type: "String" }, { name: "n", isAttr: true, type: "String" },
        { name: "pct", isAttr: true, type: "String" }] },
      { name: "FieldPermissions", superClass: ["Element"], properties: [{ name: "field", isMany: true, type: "Field" }] },
      { name: "Field", superClass: ["Element"], properties: [
        { name: "key", isAttr: true, type: "String" }, { name: "access", isAttr: true, type: "String" },
        { name: "required", isAttr: true, type: "String" }] },
      { name: "Submit", superClass: ["Element"] },
      { name: "Outcome", superClass: ["Element"], properties: [{ name: "value", isAttr: true, type: "String" }] },
    ],
  };
  const CAMUNDA = {
    name: "Camunda", uri: "http://camunda.org/schema/1.0/bpmn", prefix: "camunda", xml: { tagAlias: "lowerCase" },
    types: [{ name: "UserTaskAttributes", isAbstract: true, extends: ["bpmn:UserTask"], properties:
      ["assignee", "candidateUsers", "candidateGroups", "formKey", "dueDate"].map((name) => ({ name, isAttr: true, type: "String" })) }],
  };
  const BLANK = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="Definitions_1" targetNamespace="http://loom.dev/bpmn">
  <bpmn:process id="Process_1" isExecutable="true"><bpmn:startEvent id="StartEvent_1"/></bpmn:process>
  <bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1">
    <bpmndi:BPMNShape id="StartEvent_1_di" bpmnElement="StartEvent_1"><dc:Bounds x="180" y="160" width="36" height="36"/></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>`;

  const modeler = new window.BpmnJS({ container: "#bpmn-canvas", moddleExtensions: { loom: LOOM, camunda: CAMUNDA } });
  const state = { key: root.dataset.key || "", version: null, marked: [] };

  // ---------------------------------------------------------------- loom: extensions
  function extensionValues(bo) {
    return bo.extensionElements ? bo.extensionElements.get("values") : [];
  }

  /** Replace the extension elements of ``type`` on the element with ``items`` (moddle). */
  function setExtensions(element, type, items) {
    const moddle = modeler.get("moddle");
    const modeling = modeler.get("modeling");
    const bo = element.businessObject;
    let holder = bo.extensionElements;
    if (!holder) {
      holder = moddle.create("bpmn:ExtensionElements", { values: [] });
      holder.$parent = bo;
      modeling.updateProperties(element, { extensionElements: holder });
    }
    const created = items.map((attrs) => {
      const item = moddle.create(type, attrs);
      item.$parent = holder;
      return item;
    });
    const others = holder.get("values").filter((v) => v.$type !== type);
    modeling.updateModdleProperties(element, holder, { values: [...others, ...created] });
  }

  function field(label, control) {
    return h("div", { class: "fld" }, h("label", { class: "fld-label" }, label, control));
  }

  function userTaskPanel(element) {
    const bo = element.businessObject;
    const assignment = extensionValues(bo).find((v) => v.$type === "loom:Assignment");
    const kind = h("select", { name: "bpmn-assignment-kind" }, h("option", { value: "", text: "—" }),
      KINDS.map((k) => h("option", { value: k, text: k, selected: assignment && assignment.kind === k })));
    const value = h("input", { type: "text", class: "mono", name: "bpmn-assignment-value", value: (assignment && assignment.value) || "" });
    const due = h("input", { type: "text", class: "mono", name: "bpmn-due-date", value: bo.get("camunda:dueDate") || "", placeholder: "2030-01-31T18:00:00+08:00" });
    const writeAssignment = () => {
      const attrs = kind.value ? [{ kind: kind.value, ...(value.value.trim() ? { value: value.value.trim() } : {}) }] : [];
      setExtensions(element, "loom:Assignment", attrs);
    };
    kind.addEventListener("change", writeAssignment);
    value.addEventListener("change", writeAssignment);
    due.addEventListener("change", () => {
      modeler.get("modeling").updateProperties(element, { "camunda:dueDate": due.value.trim() || undefined });
    });
    const camunda = ["assignee", "candidateUsers", "candidateGroups"].map((name) => [name, bo.get(`camunda:${name}`)]).filter(([, v]) => v);
    return [h("h4", { text: L("Loom 分配", "Loom assignment") }), field(L("方式", "Kind"), kind), field(L("值", "Value"), value),
      field(L("到期时间（ISO 8601 或表达式）", "Due date (ISO 8601 or expression)"), due),
      camunda.length ? h("p", { class: "muted small", text: `Camunda: ${camunda.map(([k, v]) => `${k}=${v}`).join(", ")}` }) : null];
  }

  function renderPanel(element) {
    props.replaceChildren();
    if (!element || element.type === "bpmn:Process") {
      props.append(h("p", { class: "muted", text: L("选中一个用户任务来设置审批人", "Select a user task to set who acts on it") }));
      return;
    }
    const bo = element.businessObject;
    props.append(h("div", { class: "props-head" }, h("strong", { text: element.type.replace("bpmn:", "") }), h("span", { class: "mono small muted", text: element.id })));
    if (bo.name) props.append(h("p", { text: bo.name }));
    if (element.type === "bpmn:UserTask") props.append(...userTaskPanel(element).filter(Boolean));
  }

  modeler.on("selection.changed", ({ newSelection }) => renderPanel(newSelection.length === 1 ? newSelection[0] : null));

  // ---------------------------------------------------------------- load, import, deploy
  function clearMarks() {
    const canvas = modeler.get("canvas");
    state.marked.forEach((id) => canvas.removeMarker(id, "flow-error"));
    state.marked = [];
  }

  async function show(xml) {
    clearMarks();
    const { warnings } = await modeler.importXML(xml);
    modeler.get("canvas").zoom("fit-viewport", "auto");
    root.dataset.loaded = "true";
    renderPanel(null);
    if (warnings.length) banner(bannerEl, "error", `${L("导入警告", "Import warnings")}: ${warnings.map((w) => w.message).join("; ")}`);
  }

  async function deploy() {
    const { xml } = await modeler.saveXML({ format: true });
    const body = { key: keyInput.value.trim(), name: nameInput.value.trim() || keyInput.value.trim(), entity: entitySelect.value, bpmn_xml: xml };
    clearMarks();
    try {
      const saved = state.version ? await api("PUT", `/api/v1/apps/${appKey}/processes/${state.key}`, body)
        : await api("POST", `/api/v1/apps/${appKey}/processes`, body);
      state.key = saved.key;
      state.version = saved.version;
      keyInput.readOnly = true;
      document.getElementById("version-badge").textContent = `v${saved.version}`;
      document.getElementById("version-badge").hidden = false;
      history.replaceState(null, "", `/designer/apps/${appKey}/processes/${saved.key}/bpmn`);
      banner(bannerEl, "ok", L(`已部署版本 ${saved.version}`, `Deployed version ${saved.version}`) +
        (saved.warnings && saved.warnings.length ? ` · ${saved.warnings.join("; ")}` : ""));
    } catch (error) {
      if (error instanceof ApiError) {
        const registry = modeler.get("elementRegistry");
        for (const detail of error.details || []) {
          const id = detail.element || detail.path;
          if (id && registry.get(id)) {
            modeler.get("canvas").addMarker(id, "flow-error");
            state.marked.push(id);
          }
        }
        if (state.marked.length) modeler.get("selection").select(registry.get(state.marked[0]));
      }
      banner(bannerEl, "error", describe(error));
    }
  }

  document.getElementById("save").addEventListener("click", () => { deploy(); });
  document.getElementById("import-file").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    try {
      await show(await file.text());
      banner(bannerEl, "ok", L(`已导入 ${file.name}，检查后点击部署`, `Imported ${file.name}; check it, then deploy`));
    } catch (error) {
      banner(bannerEl, "error", `${L("无法读取这个文件", "Cannot read this file")}: ${error.message}`);
    }
    event.target.value = "";
  });
  document.getElementById("download").addEventListener("click", async () => {
    const { xml } = await modeler.saveXML({ format: true });
    const link = h("a", { href: URL.createObjectURL(new Blob([xml], { type: "application/xml" })), download: `${keyInput.value || "process"}.bpmn` });
    link.click();
    URL.revokeObjectURL(link.href);
  });

  async function start() {
    if (!state.key) { await show(BLANK); return; }
    const process = await api("GET", `/api/v1/apps/${appKey}/processes/${state.key}`);
    nameInput.value = process.name;
    entitySelect.value = process.entity;
    state.version = process.version;
    document.getElementById("title-text").textContent = process.name;
    document.getElementById("version-badge").textContent = `v${process.version}`;
    document.getElementById("version-badge").hidden = false;
    await show(process.bpmn_xml);
  }

  start().catch((error) => banner(bannerEl, "error", describe(error)));
})();
