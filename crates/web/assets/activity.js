// Tidings admin app: the activity feed reads its lists again when a conversation gets a part or
// changes state (a contact's reply joins "Latest replies"; a teammate's answer takes it off), and
// on every (re)connect of the workspace's events (see `follow` in common.js). Sign-ups and sessions
// have no events of their own: they are brought up to date with the rest. The lists come from a
// fresh copy of this page, rendered and escaped by the server. Plain JavaScript, no build step.
(() => {
  "use strict";
  const root = document.getElementById("activity");
  if (!root) return;
  const CHANGES = new Set(["part_added", "conversation_changed"]);
  window.TidingsAdmin.follow((e) => CHANGES.has(e.type), async () => {
    const r = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!r.ok) return;
    const fresh = new DOMParser().parseFromString(await r.text(), "text/html").getElementById("activity");
    if (fresh && fresh.innerHTML !== root.innerHTML) root.replaceChildren(...fresh.childNodes);
  });
})();
