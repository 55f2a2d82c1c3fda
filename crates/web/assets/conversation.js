// Tidings admin app: a conversation's reply box, and new parts appearing as they arrive (the
// workspace's events say when this conversation got a part or changed state; see `follow` in
// common.js). Replies go through the REST API (`POST /conversations/{id}/reply`) with the
// session; what the teammate types is Markdown, rendered and escaped by Tidings like every
// message body.
(() => {
  "use strict";
  const root = document.getElementById("conversation");
  if (!root) return;
  const { api, errorText, follow } = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);
  const id = root.dataset.id;
  const adminId = root.dataset.adminId;

  const CHANGES = new Set(["part_added", "conversation_changed"]);

  // New parts: fetch this page again and take its list, which the server rendered and escaped.
  async function refresh() {
    try {
      const r = await fetch(window.location.pathname, { credentials: "same-origin" });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("parts");
      if (fresh && fresh.children.length !== $("parts").children.length) $("parts").replaceChildren(...fresh.children);
      const state = doc.getElementById("conversation-state");
      if (state) $("conversation-state").textContent = state.textContent;
    } catch (_) { /* the next event, or the next (re)connect, reads again */ }
  }
  follow((e) => CHANGES.has(e.type) && e.conversation_id === id, refresh);

  $("reply-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("reply-body").value;
    if (!text.trim()) return;
    $("reply").disabled = true;
    try {
      await api("POST", `/conversations/${id}/reply`, { message_type: "comment", type: "admin", admin_id: adminId, body: text });
      $("reply-body").value = "";
      $("reply-error").hidden = true;
      await refresh();
    } catch (e) {
      $("reply-error").textContent = errorText(e);
      $("reply-error").hidden = false;
    } finally {
      $("reply").disabled = false;
    }
  });
})();
