// Live status and progress for any admin list of jobs: every few seconds, ask the console
// for the active jobs of this page (ids from the rows' checkboxes or links) and update
// each row's status badge and progress bar in place. No reload, no dependency.
// Any other element with data-live-job="<id>" (a job's page) is updated the same way;
// with data-reload-on-finish it reloads the page once its job is no longer active.
(function () {
  "use strict";
  const script = document.currentScript;
  const url = script.dataset.url;
  const interval = Number(script.dataset.interval || 3000);
  const ACTIVE = new Set(["pending", "running"]);
  // The job admin's badge colours (jobs/admin.py STATUS_COLOURS), for rows that change status.
  const COLOURS = {
    pending: "#1565c0", running: "#6a1b9a", completed: "#2e7d32", failed: "#c62828", cancelled: "#616161",
  };

  const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

  // Each row's job id: its action checkbox, or (without actions) the link to its page.
  function rows() {
    const found = new Map();
    document.querySelectorAll("#result_list tbody tr").forEach(function (row) {
      const box = row.querySelector("input.action-select");
      const link = row.querySelector("a[href]");
      const id = box ? box.value : (link && (link.getAttribute("href").match(UUID) || [])[0]);
      if (id) { found.set(id, row); }
    });
    document.querySelectorAll("[data-live-job]").forEach(function (el) {
      found.set(el.dataset.liveJob, el);
    });
    return found;
  }

  function human(bytes) {
    const units = ["B", "KB", "MB", "GB", "TB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i ? bytes.toFixed(1) : bytes) + "\u00a0" + units[i];
  }

  function render(row, job) {
    const badge = row.querySelector(".job-status");
    let text = job.label;
    const p = job.progress;
    if (p) {
      text += " · " + (p.phase || "");
      if (typeof p.percent === "number") { text += " " + Math.round(p.percent) + "%"; }
    }
    if (job.cancelling) { text += " · cancelling"; }
    if (badge) {
      badge.textContent = text;
      badge.dataset.status = job.status;
      if (COLOURS[job.status]) { badge.style.background = COLOURS[job.status]; }
    }
    let bar = row.querySelector(".console-bar");
    if (job.status !== "running") { if (bar) { bar.remove(); } return; }
    if (!bar) {
      bar = document.createElement("span");
      bar.className = "console-bar";
      bar.setAttribute("role", "progressbar");
      bar.appendChild(document.createElement("span"));
      (badge || row.lastElementChild).after(bar);
    }
    const known = p && typeof p.percent === "number";
    bar.classList.toggle("indeterminate", !known);
    bar.firstChild.style.width = (known ? Math.max(0, Math.min(100, p.percent)) : 100) + "%";
    bar.title = p ? (p.phase || "") + (p.bytes ? " · " + human(p.bytes) : "") : "started";
    if (known) { bar.setAttribute("aria-valuenow", String(Math.round(p.percent))); }
  }

  let watched = null;  // ids still active after the last answer; null before the first

  function poll() {
    const all = rows();
    const ids = watched === null ? Array.from(all.keys()) : watched.filter(function (id) { return all.has(id); });
    if (ids.length === 0) { return; }
    const query = ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
    fetch(url + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        const next = [];
        Object.entries(data.jobs).forEach(function ([id, job]) {
          const row = all.get(id);
          if (row) { render(row, job); }
          if (ACTIVE.has(job.status)) { next.push(id); }
          else if (row && row.dataset.reloadOnFinish !== undefined && row.dataset.status !== job.status) {
            window.location.reload();
          }
        });
        watched = next;
      })
      .catch(function () { /* a missed refresh is retried at the next tick */ })
      .finally(function () { window.setTimeout(poll, interval); });
  }

  document.addEventListener("DOMContentLoaded", function () { window.setTimeout(poll, 0); });
})();
