// Import and export on the record list. Import uploads the CSV/XLSX (POST .../records/import,
// multipart), then polls the job (GET /api/v1/jobs/{id}) for a progress bar and, at the
// end, the bad rows with their row number, column and message. Export links carry the
// list's current search and filters (records.js publishes them as window.LoomRecordQuery).
(function () {
  "use strict";
  const root = document.getElementById("record-list");
  const dialog = document.getElementById("import-dialog");
  if (!root || !dialog) return;
  const base = `/api/v1/apps/${root.dataset.app}/entities/${root.dataset.entity}/records`;
  const form = document.getElementById("import-form");
  const progress = document.getElementById("import-progress");
  const summary = document.getElementById("import-summary");
  const errorBox = document.getElementById("import-errors");
  const csrf = () => document.querySelector("meta[name=csrf-token]").content;
  const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  }

  function showErrors(errors) {
    const rows = errors.slice(0, 200).map((e) => {
      const tr = document.createElement("tr");
      tr.dataset.row = e.row;
      tr.append(cell(String(e.row)), cell(e.column || e.field || ""), cell(e.message));
      return tr;
    });
    errorBox.querySelector("tbody").replaceChildren(...rows);
    errorBox.hidden = !rows.length;
  }

  async function poll(jobId) {
    for (;;) {
      const response = await fetch(`/api/v1/jobs/${jobId}`, { headers: { Accept: "application/json" } });
      const job = await response.json();
      if (!response.ok) throw new Error(job.error ? job.error.message : response.statusText);
      progress.value = job.progress || 0;
      if (job.state === "done" || job.state === "failed") return job;
      summary.textContent = `处理中 Processing… ${job.processed || 0}`;
      await sleep(300);
    }
  }

  function describe(job) {
    const r = job.result || {};
    if (job.state === "failed") return `导入失败 Import failed: ${r.message || ""}`;
    const bad = r.bad_rows || 0;
    if (r.dry_run) return `检查完成：${r.valid_rows} 行有效，${bad} 行有问题（未导入）· Dry run: ${r.valid_rows} valid, ${bad} bad rows, nothing imported`;
    if (!r.committed) return `未导入：${bad} 行有问题，请修正后重试 · Nothing imported: ${bad} bad rows`;
    return `已导入 ${job.imported} 行${bad ? `，跳过 ${bad} 行` : ""} · Imported ${job.imported} rows${bad ? `, skipped ${bad}` : ""}`;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (!data.get("file") || !data.get("file").name) return;
    const start = document.getElementById("import-start");
    start.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    summary.className = "import-summary";
    summary.textContent = "上传中 Uploading…";
    showErrors([]);
    try {
      const response = await fetch(`${base}/import`, { method: "POST", body: data, headers: { "X-CSRF-Token": csrf(), Accept: "application/json" } });
      const body = await response.json();
      if (!response.ok) {
        const details = (body.error.details || []).map((d) => ({ row: "", column: d.path, message: d.message }));
        showErrors(details);
        throw new Error(body.error.message);
      }
      const job = await poll(body.job_id);
      summary.textContent = describe(job);
      summary.classList.add(job.state === "done" && (job.result || {}).committed && !(job.result || {}).bad_rows ? "ok" : "bad");
      showErrors(job.errors || []);
      if (job.imported) document.getElementById("search-form").requestSubmit();
    } catch (error) {
      summary.textContent = error.message;
      summary.classList.add("bad");
    } finally {
      start.disabled = false;
    }
  });
  document.getElementById("open-import").addEventListener("click", () => {
    form.reset();
    progress.hidden = true;
    summary.textContent = "";
    showErrors([]);
    dialog.showModal();
  });
  document.getElementById("import-close").addEventListener("click", () => dialog.close());

  function exportHref(format) {
    const params = new URLSearchParams((window.LoomRecordQuery && window.LoomRecordQuery()) || "");
    params.delete("limit");
    params.delete("offset");
    params.set("format", format);
    return `${base}/export?${params}`;
  }
  document.getElementById("export-csv").addEventListener("click", (event) => { event.currentTarget.href = exportHref("csv"); });
  document.getElementById("export-xlsx").addEventListener("click", (event) => { event.currentTarget.href = exportHref("xlsx"); });
})();
