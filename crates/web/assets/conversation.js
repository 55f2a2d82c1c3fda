// Tidings admin app: one conversation. Replies, notes, close / reopen / snooze / assign and tags
// go through the REST API with the session (`/conversations/{id}/…`), so the API's rules and
// events apply to them. New parts and changes arrive live: the workspace's events say when this
// conversation changed (see `follow` in common.js) and the page fetches itself again, taking the
// parts and controls the server rendered and escaped. Teammates' presence ("viewing", "typing")
// travels the same stream and is stored nowhere.
(() => {
  "use strict";
  const root = document.getElementById("conversation");
  if (!root) return;
  const { api, csrf, errorText, follow } = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);
  const id = root.dataset.id;
  const me = root.dataset.adminId;
  const team = new Map([...document.querySelectorAll("#team li")].map((li) => [li.dataset.id, li.textContent]));
  const REFRESHED = ["conversation-head", "parts", "seen", "conversation-tags"];
  const CHANGES = new Set(["part_added", "conversation_changed", "conversation_seen"]);
  let mode = "comment";

  const showError = (box, e) => {
    $(box).textContent = errorText(e);
    $(box).hidden = false;
  };

  const nearBottom = () => window.innerHeight + window.scrollY >= document.body.scrollHeight - 160;
  const toBottom = () => $("reply-form").scrollIntoView({ block: "end" });

  // The team has read what the contact wrote once a teammate has it on screen.
  async function markRead() {
    if (document.visibilityState !== "visible") return;
    const last = [...document.querySelectorAll("#parts .part")].pop();
    if (last && last.classList.contains("from-contact")) {
      try { await api("PUT", `/conversations/${id}`, { read: true }); } catch (_) { /* the next visit marks it */ }
    }
  }

  async function refresh() {
    const atEnd = nearBottom();
    const r = await fetch(window.location.pathname, { credentials: "same-origin" });
    if (!r.ok) return;
    const doc = new DOMParser().parseFromString(await r.text(), "text/html");
    for (const part of REFRESHED) {
      const fresh = doc.getElementById(part);
      if (fresh && $(part)) $(part).replaceWith(fresh);
    }
    const fresh = doc.getElementById("conversation");
    if (fresh) root.dataset.state = fresh.dataset.state;
    if (atEnd) toBottom();
    markRead();
  }

  // Presence: who else has this conversation open, and who is typing in it.
  const present = new Map();
  function showPresence() {
    const now = Date.now();
    const words = [];
    for (const [who, p] of present) {
      if (p.until < now) { present.delete(who); continue; }
      words.push(`${team.get(who) || "A teammate"} is ${p.typing ? "typing…" : "viewing"}`);
    }
    $("presence").textContent = words.join(" · ");
  }
  setInterval(showPresence, 2000);
  follow((e) => {
    if (e.type === "teammate_present") {
      if (e.conversation_id === id && e.teammate_id !== me) {
        present.set(e.teammate_id, { typing: e.typing, until: Date.now() + (e.typing ? 6000 : 25000) });
        showPresence();
      }
      return false;
    }
    return CHANGES.has(e.type) && e.conversation_id === id;
  }, refresh);

  let lastSaid = 0;
  function sayPresent(typing) {
    const now = Date.now();
    if (typing && now - lastSaid < 3000) return;
    lastSaid = now;
    const body = new URLSearchParams({ csrf, typing: typing ? "true" : "false" });
    fetch(`/app/conversations/${id}/presence`, { method: "POST", credentials: "same-origin", body }).catch(() => {});
  }
  setInterval(() => { if (document.visibilityState === "visible") sayPresent(false); }, 10000);
  sayPresent(false);

  function setMode(m) {
    mode = m;
    const note = m === "note";
    const form = $("reply-form");
    form.classList.toggle("mode-note", note);
    form.classList.toggle("mode-reply", !note);
    $("mode-reply").classList.toggle("active", !note);
    $("mode-note").classList.toggle("active", note);
    $("mode-reply").setAttribute("aria-selected", String(!note));
    $("mode-note").setAttribute("aria-selected", String(note));
    const box = $("reply-body");
    box.placeholder = note ? box.dataset.note : box.dataset.reply;
    $("reply-label").textContent = note ? box.dataset.note : box.dataset.reply;
    $("reply").textContent = note ? "Add note" : "Send reply";
    box.focus();
  }
  $("mode-reply").addEventListener("click", () => setMode("comment"));
  $("mode-note").addEventListener("click", () => setMode("note"));

  const saved = $("saved-replies");
  if (saved) {
    saved.addEventListener("change", () => {
      const box = $("reply-body");
      if (saved.value) box.value = box.value ? `${box.value}\n${saved.value}` : saved.value;
      saved.value = "";
      box.focus();
    });
  }

  $("reply-body").addEventListener("input", () => sayPresent(true));
  $("reply-body").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      $("reply-form").requestSubmit();
    } else if (ev.key === "Escape") {
      ev.target.blur();
    }
  });

  $("reply-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("reply-body").value;
    if (!text.trim()) return;
    $("reply").disabled = true;
    try {
      await api("POST", `/conversations/${id}/reply`, { message_type: mode, type: "admin", admin_id: me, body: text });
      $("reply-body").value = "";
      $("reply-error").hidden = true;
      await refresh();
      toBottom();
    } catch (e) {
      showError("reply-error", e);
    } finally {
      $("reply").disabled = false;
    }
  });

  async function manage(body) {
    try {
      await api("POST", `/conversations/${id}/parts`, Object.assign({ type: "admin", admin_id: me }, body));
      $("action-error").hidden = true;
      await refresh();
    } catch (e) {
      showError("action-error", e);
    }
  }

  /** UNIX seconds for a snooze choice, in the teammate's own time zone. */
  function snoozeUntil(choice) {
    const at = new Date();
    if (choice === "tomorrow" || choice === "monday") {
      const days = choice === "tomorrow" ? 1 : ((8 - at.getDay()) % 7 || 7);
      at.setDate(at.getDate() + days);
      at.setHours(9, 0, 0, 0);
      return Math.floor(at.getTime() / 1000);
    }
    return Math.floor(at.getTime() / 1000) + Number(choice);
  }

  const toggleState = () => manage({ message_type: root.dataset.state === "open" ? "close" : "open" });

  // The controls are replaced on every refresh: listen on the page, not on each control.
  document.addEventListener("click", (ev) => {
    const t = ev.target;
    if (t.id === "close" || t.id === "reopen") toggleState();
    if (t.classList && t.classList.contains("untag")) {
      api("DELETE", `/conversations/${id}/tags/${t.dataset.tagId}`, { admin_id: me }).then(refresh, (e) => showError("action-error", e));
    }
  });
  document.addEventListener("change", (ev) => {
    const t = ev.target;
    if (t.id === "assignee") manage({ message_type: "assignment", assignee_id: t.value });
    if (t.id === "snooze" && t.value) manage({ message_type: "snoozed", snoozed_until: snoozeUntil(t.value) });
    if (t.id === "add-tag" && t.value) {
      api("POST", `/conversations/${id}/tags`, { id: t.value, admin_id: me }).then(refresh, (e) => showError("action-error", e));
    }
  });

  // Shortcuts, when the teammate is not typing in a field.
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = (ev.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || ev.target.isContentEditable) return;
    const key = ev.key.toLowerCase();
    if (key === "r") { ev.preventDefault(); setMode("comment"); }
    if (key === "n") { ev.preventDefault(); setMode("note"); }
    if (key === "c") { ev.preventDefault(); toggleState(); }
  });
  document.addEventListener("visibilitychange", markRead);
  markRead();
})();
