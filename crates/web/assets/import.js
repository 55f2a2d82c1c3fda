// Tidings admin app: importing contacts (/app/import). Uploads the chosen or dropped file with
// the session's CSRF token and opens its preview; on an import's page, follows its progress from
// the workspace's events (no polling) and shows the summary once it ends.
(() => {
  "use strict";
  const A = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);

  // The upload.
  const input = $("import-file");
  const zone = $("dropzone");
  if (input && zone) {
    const maxBytes = Number(input.dataset.max || "100") * 1024 * 1024;
    const error = $("upload-error");
    const row = $("upload-row");
    const bar = $("upload-progress");
    const percent = $("upload-percent");
    const show = (text) => {
      error.textContent = text;
      error.hidden = false;
    };
    const setPercent = (p) => {
      bar.value = p;
      bar.textContent = `${p}%`;
      percent.textContent = `${p}%`;
    };
    const send = (file) => {
      error.hidden = true;
      if (!file) return;
      if (file.size === 0) return show("The file is empty: choose a file with contacts in it.");
      if (file.size > maxBytes) return show(`The file is larger than ${input.dataset.max} MB. Split it into smaller files.`);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/app/import/upload?name=${encodeURIComponent(file.name)}`);
      xhr.setRequestHeader("X-CSRF-Token", A.csrf);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) setPercent(Math.floor((e.loaded * 100) / e.total));
      });
      xhr.addEventListener("load", () => {
        let body = {};
        try {
          body = JSON.parse(xhr.responseText);
        } catch (_) { /* an answer that is not JSON: said below */ }
        if (xhr.status >= 200 && xhr.status < 300 && body.url) {
          window.location.assign(body.url);
          return;
        }
        row.hidden = true;
        zone.classList.remove("busy");
        show(A.errorText(body, "The upload failed. Try again."));
      });
      xhr.addEventListener("error", () => {
        row.hidden = true;
        zone.classList.remove("busy");
        show("Could not reach Tidings. Check your connection and try again.");
      });
      setPercent(0);
      row.hidden = false;
      zone.classList.add("busy");
      xhr.send(file);
    };
    input.addEventListener("change", () => send(input.files[0]));
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      const files = e.dataTransfer && e.dataTransfer.files;
      if (files && files.length > 0) send(files[0]);
    });
  }

  // A running import's page.
  const job = $("job");
  if (job && job.dataset.status === "running") {
    const id = job.dataset.id;
    const counts = ["lines", "created", "updated", "unchanged", "rejected"];
    const refresh = async () => {
      const r = await fetch(`/app/import/${id}/state`, { credentials: "same-origin" });
      if (!r.ok) return;
      const s = await r.json();
      if (s.finished) {
        // The summary, the report and the links are the page's: draw it again.
        window.location.reload();
        return;
      }
      const bar = $("job-progress");
      bar.value = s.percent;
      bar.textContent = `${s.percent}%`;
      $("job-percent").textContent = `${s.percent}%`;
      $("job-status").textContent = s.status_text;
      for (const c of counts) $(`count-${c}`).textContent = String(s[c]);
    };
    A.follow((e) => e.type === "import_changed" && e.import_id === id, refresh);
  }
})();
