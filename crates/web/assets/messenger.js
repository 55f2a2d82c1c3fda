// The Tidings Messenger: the widget a company embeds in its own site.
//
//   <script>
//     window.Tidings = window.Tidings || function () { (window.Tidings.q = window.Tidings.q || []).push(arguments); };
//     Tidings('boot', { app_id: 'abc12345', user_id: '42', name: 'Ada', user_hash: '<hex HMAC from your server>' });
//   </script>
//   <script async src="https://your-tidings/messenger.js"></script>
//
// API (shaped like Intercom's): boot, update, shutdown, show, hide, showNewMessage,
// onUnreadCountChange, onShow, onHide. Calls made before this script loads are replayed.
// Protocol: docs/messenger.md. Plain JavaScript, no dependencies, no build step.
(() => {
  "use strict";
  const script = document.currentScript;
  const origin = script ? new URL(script.src, location.href).origin : location.origin;
  const queued = (window.Tidings && window.Tidings.q) || [];
  const listeners = { unread: [], show: [], hide: [] };
  let settings = null;
  let session = null;
  let items = [];
  let conversations = [];
  let unread = 0;
  let isOpen = false;
  let socket = null;
  let retry = 0;
  let pinger = null;
  let root = null;
  let lastActive = null; // the conversation the team last wrote in: replies go there
  let rebooting = false;

  const base = () => ((settings && settings.api_base) || origin) + "/messenger/v1";
  const storeKey = () => `tidings-session-${settings.app_id}`;

  async function call(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (session) headers["X-Messenger-Session"] = session;
    const r = await fetch(base() + path, { method, headers, body: body ? JSON.stringify(body) : undefined, keepalive: true });
    const json = r.status === 204 ? {} : await r.json().catch(() => ({}));
    // A session that has ended (expired, the identity secret rotated, a visitor who became a
    // user): boot again, once at a time, with the same settings.
    if (r.status === 401 && path !== "/boot" && session && !rebooting) {
      rebooting = true;
      session = null;
      boot(settings).finally(() => { rebooting = false; });
    }
    if (!r.ok) throw Object.assign(new Error((json.errors && json.errors[0] && json.errors[0].message) || r.statusText), { status: r.status });
    return json;
  }

  function setUnread(n) {
    if (n === unread) return;
    unread = n;
    listeners.unread.forEach((cb) => { try { cb(n); } catch (e) { console.error(e); } });
    render();
  }

  async function boot(s) {
    settings = Object.assign({}, s || window.tidingsSettings || {});
    if (!settings.app_id) { console.error("Tidings: boot needs an app_id"); return; }
    const identified = settings.user_id || settings.email;
    const body = Object.assign({}, settings);
    if (!identified) body.session = localStorage.getItem(storeKey()) || undefined;
    try {
      const r = await call("POST", "/boot", body);
      session = r.session;
      settings.app_name = settings.app_name || r.app.name;
      if (!identified) localStorage.setItem(storeKey(), session);
      mount();
      await sync();
      connect();
      clearInterval(pinger);
      pinger = setInterval(() => { if (document.visibilityState === "visible") call("POST", "/ping").catch(() => {}); }, 60000);
    } catch (e) {
      console.error("Tidings: boot failed:", e.message);
    }
  }

  async function sync() {
    if (!session) return;
    const r = await call("GET", "/messages");
    items = r.items;
    conversations = r.conversations;
    setUnread(r.unread_count);
    render();
    if (isOpen) markSeen();
  }

  function connect() {
    if (!session) return;
    const url = base().replace(/^http/, "ws") + "/ws?session=" + encodeURIComponent(session);
    const ws = new WebSocket(url);
    socket = ws;
    let opened = false;
    ws.onopen = () => { opened = true; retry = 0; sync().catch(() => {}); };
    ws.onmessage = (ev) => {
      const frame = JSON.parse(ev.data);
      if (frame.type === "resync") return sync().catch(() => {});
      if (frame.type === "conversation_part") return addPart(frame.conversation_id, frame.part);
      if (frame.type !== "message") return;
      if (!items.some((i) => i.delivery_id === frame.item.delivery_id)) items.unshift(frame.item);
      setUnread(items.filter((i) => !i.seen_at).length);
      render();
      if (isOpen) markSeen();
    };
    ws.onclose = () => {
      if (socket !== ws || !session) return;
      // Refused before it opened: a fetch tells an ended session (and boots again) from a
      // server that is away.
      if (!opened) sync().catch(() => {});
      // Reconnect with backoff; the resync on open catches up on anything missed.
      const delay = Math.min(30000, 1000 * 2 ** retry++) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }

  /// A teammate's reply pushed over the WebSocket: shown in its conversation at once. A
  /// conversation this Messenger has not fetched yet (opened by the team) comes with a refetch.
  function addPart(conversationId, part) {
    const item = items.find((i) => i.conversation && i.conversation.id === conversationId);
    const conversation = item ? item.conversation : conversations.find((c) => c.id === conversationId);
    lastActive = conversationId;
    if (!conversation) { sync().catch(() => {}); return; }
    if (!conversation.parts.some((p) => p.id === part.id)) conversation.parts.push(part);
    render();
  }

  async function markSeen() {
    const ids = items.filter((i) => !i.seen_at).map((i) => i.delivery_id);
    if (!ids.length) return;
    const now = Math.floor(Date.now() / 1000);
    items.forEach((i) => { if (!i.seen_at) i.seen_at = now; });
    const r = await call("POST", "/seen", { delivery_ids: ids }).catch(() => null);
    setUnread(r ? r.unread_count : 0);
  }

  function shutdown() {
    session = null;
    if (settings) localStorage.removeItem(storeKey());
    if (socket) socket.close();
    socket = null;
    clearInterval(pinger);
    items = [];
    conversations = [];
    lastActive = null;
    setUnread(0);
    if (root) root.host.remove();
    root = null;
  }

  function show(prefill) {
    isOpen = true;
    render();
    markSeen();
    listeners.show.forEach((cb) => cb());
    if (typeof prefill === "string" && root) {
      const box = root.querySelector("textarea");
      box.value = prefill;
      box.focus();
    }
  }

  function hide() {
    isOpen = false;
    render();
    listeners.hide.forEach((cb) => cb());
  }

  // --- the interface, in a shadow root so the page's styles cannot break it -----------------
  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: 14px; line-height: 1.45; }
    strong, b { font-weight: 700; } em, i { font-style: italic; } h1, h2, h3 { font-weight: 600; }
    .launcher svg { width: 28px; height: 28px; vertical-align: middle; }
    .launcher { position: fixed; right: 20px; bottom: 20px; width: 56px; height: 56px; border-radius: 50%; border: 0;
      background: var(--accent, #2957d9); color: #fff; font-size: 26px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); z-index: 2147483000; }
    .badge { position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px; border-radius: 11px;
      background: #d92d20; color: #fff; font-size: 12px; line-height: 22px; text-align: center; }
    .panel { position: fixed; right: 20px; bottom: 88px; width: min(380px, calc(100vw - 24px)); height: min(560px, calc(100vh - 110px));
      background: #fff; color: #1d2330; border-radius: 14px; box-shadow: 0 10px 40px rgba(0,0,0,.25); display: flex; flex-direction: column;
      overflow: hidden; z-index: 2147483000; }
    header { padding: 14px 16px; background: var(--accent, #2957d9); color: #fff; font-weight: 600; display: flex; justify-content: space-between; }
    header button { background: none; border: 0; color: #fff; font-size: 18px; cursor: pointer; }
    .list { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px; background: #f6f7f9; }
    .post { background: #fff; border: 1px solid #e3e6ec; border-radius: 10px; padding: 12px; }
    .post h3 { margin: 0 0 6px; font-weight: 600; }
    .chat { align-self: flex-start; max-width: 85%; background: #fff; border: 1px solid #e3e6ec; border-radius: 12px; padding: 8px 12px; }
    .mine { align-self: flex-end; background: var(--accent, #2957d9); color: #fff; border-color: transparent; }
    .from { font-size: 12px; color: #667085; margin-bottom: 2px; }
    .mine .from { color: #dfe6ff; }
    .chat p, .post p { margin: 0 0 6px; } .chat p:last-child, .post p:last-child { margin: 0; }
    a.tidings-button { display: inline-block; padding: 6px 12px; border-radius: 6px; background: var(--accent, #2957d9); color: #fff; text-decoration: none; }
    img { max-width: 100%; }
    .empty { color: #667085; text-align: center; margin-top: 40px; }
    form { display: flex; gap: 6px; padding: 10px; border-top: 1px solid #e3e6ec; }
    textarea { flex: 1; resize: none; height: 42px; padding: 8px; border: 1px solid #e3e6ec; border-radius: 8px; }
    form button { border: 0; border-radius: 8px; background: var(--accent, #2957d9); color: #fff; padding: 0 14px; cursor: pointer; }
  `;

  const ICON = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';

  function mount() {
    if (root) return;
    const host = document.createElement("div");
    host.id = "tidings-messenger";
    document.body.appendChild(host);
    root = host.attachShadow({ mode: "open" });
  }

  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  /// The chat a reply goes to: the conversation the team last wrote in, else the newest chat
  /// message, else the newest conversation the contact started.
  function replyTarget() {
    const active = items.find((i) => i.conversation && i.conversation.id === lastActive);
    if (active) return { path: `/deliveries/${active.delivery_id}/reply` };
    if (conversations.some((c) => c.id === lastActive)) return { path: `/conversations/${lastActive}/reply` };
    const chat = items.find((i) => i.type === "chat");
    if (chat) return { path: `/deliveries/${chat.delivery_id}/reply` };
    if (conversations.length) return { path: `/conversations/${conversations[0].id}/reply` };
    return { path: "/conversations" };
  }

  function bubbles() {
    const out = [];
    const ordered = items.slice().reverse();
    for (const i of ordered) {
      if (i.type === "post") {
        out.push(`<article class="post" data-delivery="${esc(i.delivery_id)}">${i.title ? `<h3>${esc(i.title)}</h3>` : ""}${i.html}</article>`);
        continue;
      }
      const parts = i.conversation ? i.conversation.parts : [{ author: "admin", html: i.html }];
      // Only the message itself carries its delivery (clicks on its links count for it).
      parts.forEach((p, n) => out.push(bubble(p, i.sender.name, n === 0 ? i.delivery_id : "")));
    }
    for (const c of conversations.slice().reverse()) for (const p of c.parts) out.push(bubble(p, "", ""));
    return out.join("") || `<p class="empty">No messages yet. Ask us anything.</p>`;
  }

  function bubble(part, sender, delivery) {
    const mine = part.author !== "admin";
    return `<div class="chat${mine ? " mine" : ""}" data-delivery="${esc(delivery)}"><div class="from">${mine ? "You" : esc((part.sender && part.sender.name) || sender)}</div>${part.html}</div>`;
  }

  function render() {
    if (!root) return;
    const hideLauncher = settings && settings.hide_default_launcher;
    const color = settings && settings.action_color ? `--accent:${esc(settings.action_color)};` : "";
    const draft = root.querySelector("textarea") ? root.querySelector("textarea").value : "";
    root.innerHTML = `<style>${CSS}</style><div style="${color}">
      ${hideLauncher ? "" : `<button class="launcher" aria-label="Open messages">${ICON}${unread ? `<span class="badge" aria-label="${unread} unread">${unread}</span>` : ""}</button>`}
      ${isOpen ? `<section class="panel" role="dialog" aria-label="Messages">
        <header><span>${esc((settings && settings.app_name) || "Messages")}</span><button class="close" aria-label="Close">✕</button></header>
        <div class="list">${bubbles()}</div>
        <form><textarea placeholder="Write a reply…" aria-label="Your message"></textarea><button type="submit">Send</button></form>
      </section>` : ""}</div>`;
    const launcher = root.querySelector(".launcher");
    if (launcher) launcher.onclick = () => (isOpen ? hide() : show());
    const close = root.querySelector(".close");
    if (close) close.onclick = hide;
    const list = root.querySelector(".list");
    if (list) {
      list.onclick = (ev) => {
        const link = ev.target.closest("a[href]");
        const item = link && link.closest("[data-delivery]");
        if (item && item.dataset.delivery) call("POST", `/deliveries/${item.dataset.delivery}/click`).catch(() => {});
      };
    }
    const form = root.querySelector("form");
    if (form) {
      const box = form.querySelector("textarea");
      box.value = draft;
      form.onsubmit = async (ev) => {
        ev.preventDefault();
        const body = box.value.trim();
        if (!body) return;
        box.value = "";
        try {
          await call("POST", replyTarget().path, { body });
          await sync();
        } catch (e) {
          box.value = body;
          console.error("Tidings: could not send:", e.message);
        }
      };
      const list = root.querySelector(".list");
      list.scrollTop = list.scrollHeight;
    }
  }

  const api = {
    boot,
    update: (attrs) => (attrs && session ? call("POST", "/update", attrs).then((r) => setUnread(r.unread_count)) : sync()).catch(() => {}),
    shutdown,
    show: () => show(),
    hide,
    showMessages: () => show(),
    showNewMessage: (text) => show(text || ""),
    onUnreadCountChange: (cb) => { listeners.unread.push(cb); cb(unread); },
    onShow: (cb) => listeners.show.push(cb),
    onHide: (cb) => listeners.hide.push(cb),
    getVisitorId: () => session,
  };

  function Tidings(method, ...args) {
    const f = api[method];
    if (!f) { console.warn(`Tidings: unknown method ${method}`); return undefined; }
    return f(...args);
  }
  window.Tidings = Tidings;
  for (const args of queued) Tidings(...Array.from(args));
  if (!queued.length && window.tidingsSettings && window.tidingsSettings.app_id) boot(window.tidingsSettings);
})();
