// The navigation's to-do count: one small GET on every page (the inbox API returns the
// counts of all views with any page, so limit=1 keeps it cheap).
(function () {
  "use strict";
  const badge = document.getElementById("nav-todo-count");
  if (!badge) return;
  fetch("/api/v1/tasks?view=todo&limit=1", { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => {
      const count = body && body.counts ? body.counts.todo : 0;
      badge.textContent = count > 99 ? "99+" : String(count);
      badge.hidden = !count;
      badge.dataset.count = String(count);
    })
    .catch(() => { badge.hidden = true; });
})();
