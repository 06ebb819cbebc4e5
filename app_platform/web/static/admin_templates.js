// Admin: install shipped templates, import a bundle, export or upgrade installed apps.
(function () {
  "use strict";
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const errorBox = document.getElementById("admin-error");
  const notice = document.getElementById("admin-notice");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    });
    children.forEach((c) => node.appendChild(c));
    return node;
  }

  function say(message, isError) {
    errorBox.hidden = !isError;
    notice.hidden = isError;
    (isError ? errorBox : notice).textContent = message;
  }

  async function call(method, url, body) {
    const init = { method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const details = (data.error && data.error.details || []).slice(0, 5)
        .map((d) => `${d.path}: ${d.message}`).join("; ");
      throw new Error(`${data.error ? data.error.message : response.statusText}${details ? ` (${details})` : ""}`);
    }
    return data;
  }

  async function loadTemplates() {
    const { items } = await call("GET", "/api/v1/templates");
    const list = document.getElementById("template-list");
    list.replaceChildren(...items.map((t) => {
      const sample = el("input", { type: "checkbox", checked: "checked" });
      const appKey = el("input", { name: "app_key", placeholder: `应用标识 app key (${t.key})`,
        pattern: "[a-z][a-z0-9_]{0,62}" });
      const button = el("button", { type: "button", class: "primary-inline", "data-install": t.key, text: "安装 Install" });
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const body = { with_sample_data: sample.checked };
          if (appKey.value) body.app_key = appKey.value;
          const app = await call("POST", `/api/v1/templates/${t.key}/install`, body);
          say(`已安装 Installed: ${app.name} (${app.key})`, false);
          await loadApps();
        } catch (error) {
          say(error.message, true);
        } finally {
          button.disabled = false;
        }
      });
      return el("li", { class: "card", "data-template": t.key },
        el("div", { class: "card-inner" },
          el("h3", { text: t.name }),
          el("p", { class: "muted", text: t.description || "" }),
          el("p", { class: "muted", text: `${t.key} · v${t.version}` }),
          appKey,
          el("label", {}, sample, document.createTextNode(" 含示例数据 with sample data")),
          el("div", {}, button)));
    }));
  }

  async function loadApps() {
    const { items } = await call("GET", "/api/v1/apps");
    const rows = items.map((app) => {
      const actions = el("td", {});
      if (app.my_access !== "use") {
        actions.appendChild(el("a", { href: `/api/v1/apps/${app.key}/export`, "data-export": app.key, text: "导出 Export" }));
      }
      if (app.installed_from && app.my_access === "manage") {
        const upgrade = el("button", { type: "button", class: "link", "data-upgrade": app.key, text: " 升级 Upgrade" });
        upgrade.addEventListener("click", async () => {
          try {
            const result = await call("POST", `/api/v1/apps/${app.key}/upgrade`, {});
            const conflicts = (result.conflicts || []).length;
            say(`升级完成 Upgraded ${app.key}: ${conflicts} 处冲突保留用户修改 conflicts kept`, false);
            await loadApps();
          } catch (error) {
            say(error.message, true);
          }
        });
        actions.appendChild(upgrade);
      }
      return el("tr", { "data-app": app.key },
        el("td", {}, el("a", { href: `/apps/${app.key}`, text: app.name })),
        el("td", { text: app.key }), el("td", { text: app.version || "" }),
        el("td", { text: app.installed_from || "" }), actions);
    });
    document.querySelector("#app-table tbody").replaceChildren(...rows);
  }

  document.getElementById("import-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    if (!form.get("app_key")) form.delete("app_key");
    try {
      const app = await call("POST", "/api/v1/apps/import", form);
      say(`已导入 Imported: ${app.name} (${app.key})`, false);
      event.target.reset();
      await loadApps();
    } catch (error) {
      say(error.message, true);
    }
  });

  Promise.all([loadTemplates(), loadApps()]).catch((error) => say(error.message, true));
})();
