// Tidings admin app: the Inbox, kept live. On any event about a conversation (a part added, a
// state, assignee or read mark changed) it fetches this same page again and takes its lists,
// counts and title, which the server rendered and escaped. Events are hints; the page is the truth.
(() => {
  "use strict";
  const root = document.getElementById("inbox");
  if (!root) return;
  const { follow } = window.TidingsAdmin;
  const KINDS = new Set(["part_added", "conversation_changed"]);
  const PARTS = ["inbox-views", "inbox-tabs", "inbox-list", "inbox-pager"];

  async function refresh() {
    const r = await fetch(window.location.href, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    for (const id of PARTS) {
      const fresh = doc.getElementById(id);
      const here = document.getElementById(id);
      if (fresh && here) here.replaceChildren(...fresh.childNodes);
    }
    const empty = doc.getElementById("inbox-empty");
    const shown = document.getElementById("inbox-empty");
    if (empty && !shown) document.getElementById("inbox-list").after(empty);
    if (!empty && shown) shown.remove();
    document.title = doc.title;
  }
  follow((e) => KINDS.has(e.type), refresh);

  // The order applies as soon as it is chosen.
  const sort = document.getElementById("inbox-sort");
  if (sort) sort.addEventListener("change", () => sort.form.submit());
})();
