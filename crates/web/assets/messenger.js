// The Tidings Messenger: the widget a company embeds in its own site.
//
//   <script>
//     window.Tidings = window.Tidings || function () { (window.Tidings.q = window.Tidings.q || []).push(arguments); };
//     Tidings('boot', { app_id: 'abc12345', user_id: '42', name: 'Ada', user_hash: '<hex HMAC from your server>' });
//   </script>
//   <script async src="https://your-tidings/messenger.js"></script>
//
// API (shaped like Intercom's): boot, update, shutdown, show, hide, showMessages, showNewMessage,
// onUnreadCountChange, onShow, onHide. Calls made before this script loads are replayed.
// Protocol: docs/messenger.md. Plain JavaScript, no dependencies, no build step.
//
// What it shows, as Intercom's does: a home (the workspace's name and greeting, its team), the
// contact's conversations (newest first, each with its unread count), each conversation as a
// thread of its own, and each announcement as a card of its own. Every text is inserted as text;
// only the server's bodies (`html`, sanitised by Tidings) are inserted as HTML.
(() => {
  "use strict";
  const script = document.currentScript;
  const origin = script ? new URL(script.src, location.href).origin : location.origin;
  const queued = (window.Tidings && window.Tidings.q) || [];
  const listeners = { unread: [], show: [], hide: [] };
  const DEFAULT_COLOR = "#1f5fd6";

  let settings = null;
  let session = null;
  let app = null; // {id, name, color} from boot
  let me = null; // the contact, from boot
  let home = null; // GET /home, once per boot
  let threads = []; // GET /conversations: the contact's conversations, newest first
  let announcements = [];
  let unread = 0;
  let isOpen = false;
  let view = "home"; // home | list | thread | new | post
  let tab = "home"; // the tab a thread or a card goes back to
  let thread = null; // the open thread: {id, delivery_id, state, parts, teammate}
  let card = null; // the open announcement
  let sending = false;
  let socket = null;
  let retry = 0;
  let pinger = null;
  let ticker = null;
  let resyncing = null;
  let rebooting = false;
  let ui = null; // the elements, once mounted

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
    if (typeof n !== "number" || n === unread) return;
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
      app = r.app || {};
      me = r.contact || {};
      home = null;
      if (!identified) localStorage.setItem(storeKey(), session);
      mount();
      setUnread(r.unread_count);
      if (isOpen) loadHome(); // shown before the session was there
      render();
      await sync();
      connect();
      clearInterval(pinger);
      pinger = setInterval(() => { if (document.visibilityState === "visible") call("POST", "/ping").catch(() => {}); }, 60000);
    } catch (e) {
      console.error("Tidings: boot failed:", e.message);
    }
  }

  /// Reads the contact's conversations and announcements again (this also delivers what is
  /// pending), and the open thread.
  async function sync() {
    if (!session) return;
    const r = await call("GET", "/conversations");
    threads = r.conversations || [];
    announcements = r.announcements || [];
    setUnread(r.unread_count);
    if (isOpen && view === "thread" && thread && thread.id) await loadThread(thread.id);
    render();
  }

  /// Bursts of events (a teammate typing fast, several tabs) make one read, not one each.
  function resyncSoon() {
    if (resyncing) return;
    resyncing = setTimeout(() => { resyncing = null; sync().catch(() => {}); }, 150);
  }

  async function loadHome() {
    try {
      home = await call("GET", "/home");
      setUnread(home.unread_count);
      render();
    } catch (e) { /* the home shows what boot said meanwhile */ }
  }

  function connect() {
    if (!session) return;
    const url = base().replace(/^http/, "ws") + "/ws?session=" + encodeURIComponent(session);
    // A boot again (an ended session) replaces the socket: the old one goes quietly.
    if (socket) { const old = socket; socket = null; old.close(); }
    const ws = new WebSocket(url);
    socket = ws;
    let opened = false;
    ws.onopen = () => { opened = true; retry = 0; sync().catch(() => {}); };
    ws.onmessage = (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame.type === "conversation_part") heard(frame.conversation_id, frame.part);
      else if (frame.type === "message" || frame.type === "conversation_seen" || frame.type === "resync") resyncSoon();
    };
    ws.onclose = () => {
      if (socket !== ws || !session) return;
      // Refused before it opened: a fetch tells an ended session (and boots again) from a
      // server that is away.
      if (!opened) sync().catch(() => {});
      // Reconnect with backoff; the read on open catches up on anything missed.
      const delay = Math.min(30000, 1000 * 2 ** retry++) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    };
  }

  /// A teammate's words pushed over the WebSocket: shown at once in their open thread (and seen
  /// there if the contact is looking); the list and its badges are read again.
  function heard(conversationId, part) {
    if (thread && thread.id === conversationId && part && !thread.parts.some((p) => p.id === part.id)) {
      thread.parts.push(part);
      render();
      if (looking()) markSeen();
    }
    resyncSoon();
  }

  const looking = () => isOpen && view === "thread" && document.visibilityState === "visible";

  async function loadThread(id) {
    const r = await call("GET", `/conversations/${encodeURIComponent(id)}`);
    if (!thread || thread.id !== id) return;
    thread.parts = r.parts || [];
    thread.state = r.state;
    thread.delivery_id = r.delivery_id || thread.delivery_id;
  }

  /// Marks what is open seen: a conversation, a chat nobody answered yet, or an announcement.
  async function markSeen() {
    try {
      const { id, delivery_id: delivery } = (view === "thread" && thread) || {};
      if (id) {
        const r = await call("POST", `/conversations/${encodeURIComponent(id)}/seen`, {});
        clearBadge((t) => t.id === id);
        setUnread(r.unread_count);
      } else if (delivery) {
        const r = await call("POST", "/seen", { delivery_ids: [delivery] });
        clearBadge((t) => !t.id && t.delivery_id === delivery);
        setUnread(r.unread_count);
      } else if (view === "post" && card && !card.seen_at) {
        card.seen_at = Math.floor(Date.now() / 1000);
        const r = await call("POST", "/seen", { delivery_ids: [card.delivery_id] });
        setUnread(r.unread_count);
      }
    } catch (e) { /* seen again next time it is opened */ }
    render();
  }

  function clearBadge(which) {
    threads.forEach((t) => { if (which(t)) t.unread_count = 0; });
  }

  // --- moving between views ----------------------------------------------------------------

  /// What is being written belongs to one thread (or to a new conversation): moving to another
  /// starts an empty box.
  let draftOf = null;
  function draftFor(key) {
    if (draftOf !== key && ui) { ui.box.value = ""; ui.error.textContent = ""; grow(); }
    draftOf = key;
  }

  function openThread(entry) {
    draftFor(entry.id || `d${entry.delivery_id}`);
    view = "thread";
    thread = {
      id: entry.id || null,
      delivery_id: entry.delivery_id || null,
      state: entry.state,
      teammate: entry.teammate,
      parts: entry.id ? [] : [entry.last_part].filter(Boolean),
    };
    render(true);
    const ready = entry.id ? loadThread(entry.id) : Promise.resolve();
    ready.then(() => { render(true); if (looking()) markSeen(); }).catch(() => render());
    focusComposer();
  }

  function openNew(prefill) {
    draftFor("new");
    view = "new";
    thread = null;
    render(true);
    if (typeof prefill === "string" && prefill) ui.box.value = prefill;
    grow();
    focusComposer();
  }

  function openCard(item) {
    view = "post";
    card = item;
    render(true);
    markSeen();
  }

  function goTo(which) {
    tab = which;
    view = which;
    thread = null;
    card = null;
    render(true);
  }

  function focusComposer() {
    // Not on a phone: the keyboard would cover the thread the contact opened to read.
    if (ui && window.innerWidth > 450) setTimeout(() => ui.box.focus(), 0);
  }

  function show(options) {
    const o = options || {};
    isOpen = true;
    if (!home) loadHome();
    if (o.view === "new") openNew(o.text);
    else if (o.view === "list") goTo("list");
    else {
      // What is new opens at once: the newest unread conversation, else an unread announcement.
      const fresh = threads.find((t) => t.unread_count > 0);
      const news = announcements.find((a) => !a.seen_at);
      if (fresh) openThread(fresh);
      else if (news) openCard(news);
      else if (view === "thread" && thread && thread.id) openThread(thread);
      else render(true);
    }
    listeners.show.forEach((cb) => cb());
  }

  function hide() {
    isOpen = false;
    render();
    listeners.hide.forEach((cb) => cb());
  }

  function shutdown() {
    session = null;
    isOpen = false;
    if (settings) localStorage.removeItem(storeKey());
    if (socket) socket.close();
    socket = null;
    clearInterval(pinger);
    clearInterval(ticker);
    threads = [];
    announcements = [];
    thread = null;
    card = null;
    home = null;
    view = tab = "home";
    setUnread(0);
    if (ui) ui.host.remove();
    ui = null;
  }

  async function send() {
    const words = ui.box.value.trim();
    if (!words || sending) return;
    sending = true;
    ui.sendButton.disabled = true;
    ui.error.textContent = "";
    try {
      let path = "/conversations";
      if (view === "thread" && thread && thread.id) path = `/conversations/${encodeURIComponent(thread.id)}/reply`;
      else if (view === "thread" && thread && thread.delivery_id) path = `/deliveries/${encodeURIComponent(thread.delivery_id)}/reply`;
      const from = thread;
      const r = await call("POST", path, { body: words });
      // The contact may have moved on while it was sent: only the thread still open shows it.
      if (thread === from && (view === "thread" || view === "new")) {
        ui.box.value = "";
        grow();
        view = "thread";
        thread = { id: r.id, delivery_id: r.delivery_id, state: r.state, parts: r.parts || [], teammate: from && from.teammate };
        draftOf = r.id;
        render(true);
      }
      resyncSoon();
    } catch (e) {
      ui.error.textContent = "Your message was not sent. Try again.";
      console.error("Tidings: could not send:", e.message);
    } finally {
      sending = false;
      ui.sendButton.disabled = false;
    }
  }

  // --- building the interface, in a shadow root so the page's styles cannot break it --------

  /// An element with properties, listeners and children; strings become text nodes.
  function h(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c != null && c !== false) e.append(c);
    return e;
  }

  /// A body the server rendered and sanitised (a message, a part): the only HTML inserted.
  function html(markup) {
    const e = h("div", { class: "html" });
    e.innerHTML = markup || "";
    return e;
  }

  /// A body's words as plain text, one line per paragraph, for a preview. Parsed in an inert
  /// document: nothing in it loads or runs.
  function plain(markup) {
    const doc = new DOMParser().parseFromString(markup || "", "text/html");
    doc.body.querySelectorAll("p, li, h1, h2, h3, h4, br, div, blockquote, pre").forEach((e) => e.after("\n"));
    return doc.body.textContent.split("\n").map((l) => l.replace(/\s+/g, " ").trim()).filter(Boolean);
  }

  const ICONS = {
    chat: '<path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>',
    close: '<path d="M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6L6.4 19 5 17.6 10.6 12 5 6.4z"/>',
    back: '<path d="M15.4 4.6 8 12l7.4 7.4-1.4 1.4L5.2 12 14 3.2z"/>',
    send: '<path d="M3 20.5 21.5 12 3 3.5 3 10l13 2-13 2z"/>',
    home: '<path d="M12 3 2 11.5h3V21h5.5v-6h3v6H19v-9.5h3z"/>',
    news: '<path d="M3 10v4a1 1 0 0 0 1 1h2l5 4V5L6 9H4a1 1 0 0 0-1 1zm13.5 2A4.5 4.5 0 0 0 14 8v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z"/>',
    arrow: '<path d="M9.4 4.6 16.8 12l-7.4 7.4L8 18l6-6-6-6z"/>',
  };

  /// One of the widget's own icons (constant markup, never anyone's text).
  function icon(name) {
    const e = h("span", { class: "icon", "aria-hidden": "true" });
    e.innerHTML = `<svg viewBox="0 0 24 24" fill="currentColor">${ICONS[name]}</svg>`;
    return e;
  }

  const initials = (name) =>
    (String(name || "").trim().split(/\s+/).filter(Boolean).slice(0, 2).map((w) => Array.from(w)[0]).join("") || "?").toUpperCase();

  /// A teammate's picture, or their initials on the workspace's colour when they have none (or
  /// it does not load).
  function avatar(person, size) {
    const name = (person && person.name) || workspaceName();
    const e = h("span", { class: `avatar ${size || ""}`, title: name }, h("span", { text: initials(name) }));
    const url = person && person.avatar;
    if (typeof url === "string" && /^https?:\/\//i.test(url)) {
      const img = h("img", { alt: "", referrerpolicy: "no-referrer", loading: "lazy" });
      img.addEventListener("error", () => img.remove());
      img.src = url;
      e.append(img);
    }
    return e;
  }

  const workspaceName = () => (home && home.name) || (app && app.name) || "Messages";

  const locale = () => (navigator.languages && navigator.languages[0]) || navigator.language || undefined;

  /// A time in the contact's own language: "now", "2 min. ago", a time of day today, a weekday
  /// this week, a date before.
  function when(ts) {
    if (!ts) return "";
    const d = new Date(ts * 1000);
    const ago = Math.max(0, (Date.now() - d.getTime()) / 1000);
    try {
      const rtf = new Intl.RelativeTimeFormat(locale(), { numeric: "auto", style: "short" });
      if (ago < 45) return rtf.format(0, "second");
      if (ago < 3600) return rtf.format(-Math.max(1, Math.round(ago / 60)), "minute");
    } catch (e) {
      if (ago < 3600) return `${Math.max(1, Math.round(ago / 60))} min ago`;
    }
    const now = new Date();
    if (d.toDateString() === now.toDateString()) return d.toLocaleTimeString(locale(), { hour: "numeric", minute: "2-digit" });
    if (ago < 6 * 86400) return d.toLocaleDateString(locale(), { weekday: "short" });
    const year = d.getFullYear() === now.getFullYear() ? undefined : "numeric";
    return d.toLocaleDateString(locale(), { day: "numeric", month: "short", year });
  }

  function time(ts) {
    if (!ts) return null;
    const d = new Date(ts * 1000);
    return h("time", { datetime: d.toISOString(), title: d.toLocaleString(locale()), "data-ts": ts, text: when(ts) });
  }

  /// The colour of the launcher, the header and the contact's words: the boot setting
  /// `action_color`, else the workspace's; and a text colour that reads on it.
  function paint() {
    const valid = (c) => typeof c === "string" && /^#[0-9a-f]{6}$/i.test(c);
    const color = [settings && settings.action_color, home && home.color, app && app.color].find(valid) || DEFAULT_COLOR;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16) / 255);
    const light = 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.6;
    ui.wrap.style.setProperty("--accent", color);
    ui.wrap.style.setProperty("--on-accent", light ? "#1d2330" : "#ffffff");
  }

  function badge(n, label) {
    return n > 0 ? h("span", { class: "badge", "aria-label": `${n} ${label}`, text: n > 99 ? "99+" : String(n) }) : null;
  }

  function mount(into) {
    if (ui) return;
    const host = document.createElement("div");
    host.id = "tidings-messenger";
    (into || document.body).appendChild(host);
    const root = host.attachShadow({ mode: "open" });
    const box = h("textarea", { rows: "1", placeholder: "Write a message…", "aria-label": "Your message", title: "Enter sends; Shift+Enter starts a new line" });
    const sendButton = h("button", { type: "submit", class: "send", "aria-label": "Send" }, icon("send"));
    const error = h("p", { class: "send-error", role: "alert" });
    const composer = h("form", { class: "composer" }, box, sendButton);
    const launcher = h("button", { class: "launcher", type: "button", "aria-label": "Open messages" });
    const head = h("header", { class: "head" });
    const body = h("div", { class: "body" });
    const tabs = h("nav", { class: "tabs", "aria-label": "Messenger" });
    const panel = h("section", { class: "panel", role: "dialog", "aria-label": "Messages", hidden: true }, head, body, tabs, error, composer);
    const wrap = h("div", { class: "tm" }, launcher, panel);
    // A constructed style sheet is not inline style to a Content Security Policy, so the widget
    // keeps its looks on a site that refuses 'unsafe-inline'; older browsers get a <style>.
    if (root.adoptedStyleSheets && typeof CSSStyleSheet === "function" && "replaceSync" in CSSStyleSheet.prototype) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(h("style", { text: CSS }));
    }
    root.append(wrap);
    ui = { host, wrap, launcher, panel, head, body, tabs, composer, box, sendButton, error };

    launcher.addEventListener("click", () => (isOpen ? hide() : show()));
    composer.addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
    // Enter sends and Shift+Enter starts a new line, as in every chat; never while an input
    // method is still composing a character.
    box.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        send();
      }
    });
    box.addEventListener("input", grow);
    // A click on a link of a message counts for its delivery.
    body.addEventListener("click", (ev) => {
      const link = ev.target.closest("a[href]");
      const item = link && link.closest("[data-delivery]");
      if (item && item.dataset.delivery) call("POST", `/deliveries/${encodeURIComponent(item.dataset.delivery)}/click`).catch(() => {});
    });
    document.addEventListener("visibilitychange", () => { if (looking()) markSeen(); });
    ticker = setInterval(() => {
      if (!ui || !isOpen) return;
      ui.body.querySelectorAll("time[data-ts]").forEach((t) => { t.textContent = when(Number(t.dataset.ts)); });
    }, 30000);
  }

  /// The box grows with what is written, up to a few lines.
  function grow() {
    if (!ui) return;
    ui.box.style.height = "auto";
    const wanted = ui.box.scrollHeight + 2; // its borders
    ui.box.style.height = `${Math.min(wanted, 120)}px`;
    ui.box.style.overflowY = wanted > 120 ? "auto" : "hidden";
  }

  function render(fresh) {
    if (!ui) return;
    paint();
    const hideLauncher = settings && settings.hide_default_launcher;
    ui.launcher.hidden = !!hideLauncher;
    ui.launcher.setAttribute("aria-label", isOpen ? "Close messages" : "Open messages");
    ui.launcher.replaceChildren(icon(isOpen ? "close" : "chat"), badge(unread, "unread") || "");
    ui.wrap.classList.toggle("open", isOpen);
    ui.panel.hidden = !isOpen;
    if (!isOpen) return;
    const b = ui.body;
    const atBottom = b.scrollHeight - b.scrollTop - b.clientHeight < 40;
    const kept = b.scrollTop;
    ui.panel.dataset.view = view;
    ui.head.replaceChildren(...header());
    b.replaceChildren(content());
    const tabbed = view === "home" || view === "list";
    ui.tabs.hidden = !tabbed;
    if (tabbed) ui.tabs.replaceChildren(tabButton("home", "Home", "home", 0), tabButton("list", "Messages", "chat", threadsUnread()));
    const writing = view === "thread" || view === "new";
    ui.composer.hidden = !writing;
    if (!writing) ui.error.textContent = "";
    if (view === "thread" && (fresh || atBottom)) b.scrollTop = b.scrollHeight;
    else b.scrollTop = fresh ? 0 : kept;
  }

  const threadsUnread = () => threads.reduce((n, t) => n + (t.unread_count || 0), 0);

  function tabButton(which, label, glyph, count) {
    return h("button", { type: "button", class: `tab${view === which ? " active" : ""}`, "data-tab": which, "aria-current": view === which ? "page" : null, onclick: () => goTo(which) },
      h("span", { class: "tab-icon" }, icon(glyph), badge(count, "unread")), h("span", { text: label }));
  }

  const closeButton = () => h("button", { type: "button", class: "close", "aria-label": "Close", onclick: hide }, icon("close"));
  const backButton = () => h("button", { type: "button", class: "back", "aria-label": "Back", onclick: () => goTo(tab) }, icon("back"));

  function header() {
    if (view === "home") return [h("strong", { class: "head-title", text: workspaceName() }), closeButton()];
    if (view === "list") return [h("strong", { class: "head-title center", text: "Messages" }), closeButton()];
    if (view === "post") return [backButton(), h("strong", { class: "head-title", text: workspaceName() }), closeButton()];
    const who = view === "thread" && thread ? thread.teammate || lastTeammate(thread.parts) : null;
    const team = (home && home.teammates) || [];
    const faces = who ? [avatar(who, "small")] : team.slice(0, 3).map((t) => avatar(t, "small"));
    return [
      backButton(),
      h("span", { class: "faces" }, faces),
      h("span", { class: "head-who" }, h("strong", { text: (who && who.name) || workspaceName() }),
        who ? h("small", { text: workspaceName() }) : home && home.greeting ? h("small", { text: home.greeting }) : null),
      closeButton(),
    ];
  }

  function lastTeammate(parts) {
    const p = (parts || []).slice().reverse().find((x) => x.author === "admin" && x.sender && x.sender.name);
    return p ? p.sender : null;
  }

  function content() {
    if (view === "list") return listView();
    if (view === "thread") return threadView();
    if (view === "new") return newView();
    if (view === "post" && card) return cardView(card);
    return homeView();
  }

  function homeView() {
    const team = (home && home.teammates) || [];
    const name = firstName();
    const hero = h("div", { class: "hero" },
      h("div", { class: "crew" }, team.slice(0, 5).map((t) => avatar(t))),
      h("h2", { class: "hello", text: name ? `Hi ${name}` : "Hi there" }),
      home && home.greeting ? h("p", { class: "greeting", text: home.greeting }) : h("p", { class: "greeting", text: "How can we help?" }));
    const ask = h("button", { type: "button", class: "card ask new-conversation", onclick: () => openNew() },
      h("span", { class: "ask-text" }, h("strong", { text: "Send us a message" }), h("small", { text: "We reply here, in this window." })),
      h("span", { class: "ask-go" }, icon("send")));
    const recent = threads[0];
    const cards = h("div", { class: "cards" }, ask);
    if (recent) cards.append(h("div", { class: "card list-card" }, h("h3", { text: "Recent message" }), threadRow(recent)));
    if (announcements.length) {
      cards.append(h("h3", { class: "section", text: "News" }));
      for (const a of announcements) cards.append(newsCard(a));
    }
    return h("div", { class: "home" }, hero, cards);
  }

  /// An announcement as the home lists it: its title and first words; it opens as a card.
  function newsCard(a) {
    const lines = plain(a.html);
    const title = a.title || lines.shift() || "News";
    return h("button", { type: "button", class: `card news${a.seen_at ? "" : " unread"}`, "data-delivery": a.delivery_id, onclick: () => openCard(a) },
      h("span", { class: "news-icon" }, icon("news")),
      h("span", { class: "news-text" },
        h("strong", { text: title }),
        lines.length ? h("small", { class: "preview", text: lines.join(" ") }) : null,
        h("small", { class: "news-meta" }, (a.sender && a.sender.name) || workspaceName(), " · ", time(a.sent_at))),
      a.seen_at ? null : h("span", { class: "dot", "aria-label": "new" }));
  }

  function listView() {
    const list = h("div", { class: "list" });
    if (!threads.length) {
      list.append(h("div", { class: "empty" }, icon("chat"), h("strong", { text: "No conversations yet" }), h("p", { text: "Your conversations with the team show here." })));
    } else {
      list.append(h("ul", { class: "threads" }, threads.map((t) => h("li", null, threadRow(t)))));
    }
    list.append(h("div", { class: "list-foot" }, h("button", { type: "button", class: "primary new-conversation", onclick: () => openNew() }, h("span", { text: "Send us a message" }), icon("send"))));
    return list;
  }

  /// A conversation as a list shows it: who with, its last words, when, and its unread count.
  function threadRow(t) {
    const last = t.last_part || {};
    const mine = last.author && last.author !== "admin";
    const words = plain(last.html).join(" ");
    const who = t.teammate || (last.author === "admin" ? last.sender : null);
    return h("button", { type: "button", class: `thread-row${t.unread_count ? " unread" : ""}`, "data-id": t.id || null, "data-delivery": t.delivery_id || null, onclick: () => openThread(t) },
      avatar(who),
      h("span", { class: "row-text" },
        h("span", { class: "row-top" }, h("strong", { class: "row-name", text: (who && who.name) || workspaceName() }), time(t.updated_at)),
        h("span", { class: "row-bottom" }, h("span", { class: "preview", text: mine ? `You: ${words}` : words }), badge(t.unread_count, "unread"))));
  }

  function threadView() {
    const parts = (thread && thread.parts) || [];
    const list = h("ol", { class: "parts" });
    parts.forEach((p, n) => {
      const team = p.author === "admin";
      // The chat that opened a thread carries its delivery: a click on its links counts for it.
      const delivery = n === 0 && team && thread.delivery_id ? thread.delivery_id : null;
      const name = team ? (p.sender && p.sender.name) || workspaceName() : "You";
      list.append(h("li", { class: `part ${team ? "team" : "mine"}`, "data-id": p.id || null, "data-delivery": delivery },
        team ? avatar(p.sender, "small") : null,
        h("div", { class: "part-body" }, h("div", { class: "bubble" }, html(p.html)),
          h("div", { class: "meta" }, h("span", { class: "who", text: name }), " · ", time(p.created_at)))));
    });
    const body = h("div", { class: "thread" }, list);
    if (thread && thread.state === "closed") body.append(h("p", { class: "closed", text: "This conversation was closed. Write to open it again." }));
    return body;
  }

  const firstName = () => (me && me.name ? String(me.name).trim().split(/\s+/)[0] : "");

  function newView() {
    const name = firstName();
    const intro = `Hi ${name || "there"}, how can we help?`;
    return h("div", { class: "thread new" }, h("ol", { class: "parts" },
      h("li", { class: "part team intro" }, avatar(((home && home.teammates) || [])[0], "small"), h("div", { class: "part-body" }, h("div", { class: "bubble", text: intro })))));
  }

  function cardView(a) {
    return h("article", { class: "post-card", "data-delivery": a.delivery_id },
      a.title ? h("h1", { text: a.title }) : null,
      h("div", { class: "byline" }, avatar(a.sender, "small"), h("span", null, h("strong", { text: (a.sender && a.sender.name) || workspaceName() }), h("small", null, time(a.sent_at)))),
      html(a.html));
  }

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif; }
    .tm { --accent: ${DEFAULT_COLOR}; --on-accent: #fff; --ink: #1d2330; --soft: #667085; --line: #e6e8ee; font-size: 14px; line-height: 1.45; color: var(--ink); }
    [hidden] { display: none !important; }
    button { font: inherit; color: inherit; }
    .icon { display: inline-flex; width: 20px; height: 20px; flex: none; }
    .icon svg { width: 100%; height: 100%; }
    .launcher { position: fixed; right: 20px; bottom: 20px; width: 58px; height: 58px; border-radius: 50%; border: 0; padding: 0;
      background: var(--accent); color: var(--on-accent); cursor: pointer; box-shadow: 0 6px 20px rgba(16,24,40,.28);
      z-index: 2147483000; display: grid; place-items: center; transition: transform .15s ease; }
    .launcher:hover { transform: scale(1.06); }
    .launcher .icon { width: 28px; height: 28px; }
    .badge { display: inline-block; min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px; background: #e5372b; color: #fff;
      font-size: 12px; font-weight: 700; line-height: 20px; text-align: center; }
    .launcher .badge { position: absolute; top: -3px; right: -3px; box-shadow: 0 0 0 2px #fff; }
    .panel { position: fixed; right: 20px; bottom: 92px; width: 384px; max-width: calc(100vw - 40px); height: min(660px, calc(100vh - 116px));
      background: #f5f6f8; border-radius: 16px; box-shadow: 0 16px 48px rgba(16,24,40,.28), 0 0 0 1px rgba(16,24,40,.06);
      display: flex; flex-direction: column; overflow: hidden; z-index: 2147483000; }
    .head { flex: none; display: flex; align-items: center; gap: 10px; min-height: 60px; padding: 10px 12px 10px 16px;
      background: var(--accent); color: var(--on-accent); }
    .head-title { flex: 1; font-size: 16px; font-weight: 650; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .head-title.center { text-align: center; padding-left: 36px; }
    .head-who { flex: 1; display: flex; flex-direction: column; min-width: 0; }
    .head-who strong, .head-who small { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .head-who small { opacity: .8; font-size: 12px; }
    .head button { flex: none; width: 36px; height: 36px; border: 0; border-radius: 8px; background: transparent; color: inherit; cursor: pointer; display: grid; place-items: center; }
    .head button:hover { background: rgba(255,255,255,.16); }
    .panel[data-view="thread"] .head, .panel[data-view="new"] .head, .panel[data-view="post"] .head { padding-left: 6px; }
    .faces { display: flex; flex: none; }
    .faces .avatar + .avatar { margin-left: -8px; }
    .body { flex: 1; overflow-y: auto; overscroll-behavior: contain; }
    .avatar { position: relative; flex: none; display: inline-grid; place-items: center; width: 40px; height: 40px; border-radius: 50%;
      overflow: hidden; background: var(--accent); color: var(--on-accent); font-size: 14px; font-weight: 650; box-shadow: 0 0 0 2px #fff; }
    .avatar img { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; background: #fff; }
    .avatar.small { width: 30px; height: 30px; font-size: 11px; }
    .hero { background: linear-gradient(180deg, rgba(0,0,0,0), rgba(0,0,0,.14)), var(--accent); color: var(--on-accent); padding: 4px 20px 64px; }
    .crew { display: flex; min-height: 40px; margin-bottom: 14px; }
    .crew .avatar { width: 42px; height: 42px; box-shadow: 0 0 0 2px var(--accent); background: rgba(255,255,255,.22); color: var(--on-accent); }
    .crew .avatar + .avatar { margin-left: -10px; }
    .hello { margin: 0; font-size: 26px; line-height: 1.2; font-weight: 700; }
    .greeting { margin: 6px 0 0; font-size: 16px; opacity: .9; overflow-wrap: anywhere; }
    .cards { margin-top: -44px; padding: 0 14px 16px; display: flex; flex-direction: column; gap: 12px; }
    .card { display: block; width: 100%; background: #fff; border: 0; border-radius: 12px; padding: 14px 16px; text-align: left;
      box-shadow: 0 1px 3px rgba(16,24,40,.08), 0 0 0 1px rgba(16,24,40,.05); }
    button.card { cursor: pointer; display: flex; align-items: center; gap: 12px; }
    button.card:hover { box-shadow: 0 2px 8px rgba(16,24,40,.12), 0 0 0 1px rgba(16,24,40,.06); }
    .card h3, .section { margin: 0 0 8px; font-size: 13px; font-weight: 650; color: var(--soft); }
    .section { margin: 6px 2px -4px; }
    .list-card { padding: 12px 8px 8px; }
    .list-card h3 { margin-left: 8px; }
    .ask-text, .news-text { flex: 1; display: flex; flex-direction: column; min-width: 0; }
    .ask-text small, .news-text small { color: var(--soft); }
    .ask-go { color: var(--accent); }
    .news-icon { flex: none; width: 36px; height: 36px; border-radius: 10px; display: grid; place-items: center; background: #eef1f6; color: var(--accent); }
    .news .preview { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .news-meta { margin-top: 2px; font-size: 12px; }
    .dot { flex: none; width: 10px; height: 10px; border-radius: 50%; background: #e5372b; }
    .list { min-height: 100%; display: flex; flex-direction: column; }
    .threads { list-style: none; margin: 0; padding: 6px 0; background: #fff; }
    .threads li + li { border-top: 1px solid var(--line); }
    .thread-row { width: 100%; display: flex; gap: 12px; align-items: center; padding: 12px 16px; border: 0; background: none; text-align: left; cursor: pointer; }
    .thread-row:hover { background: #f7f8fa; }
    .list-card .thread-row { padding: 8px; border-radius: 8px; }
    .row-text { flex: 1; min-width: 0; display: flex; flex-direction: column; gap: 2px; }
    .row-top, .row-bottom { display: flex; align-items: center; gap: 8px; }
    .row-name { flex: 1; font-weight: 500; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .row-top time { flex: none; font-size: 12px; color: var(--soft); }
    .preview { flex: 1; color: var(--soft); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .unread .row-name { font-weight: 700; }
    .unread .preview { color: var(--ink); font-weight: 500; }
    .empty { flex: 1; display: flex; flex-direction: column; align-items: center; justify-content: center; gap: 6px; padding: 40px 24px; color: var(--soft); text-align: center; }
    .empty .icon { width: 36px; height: 36px; color: #c3c8d2; }
    .empty strong { color: var(--ink); font-size: 16px; }
    .empty p { margin: 0; }
    .list-foot { position: sticky; bottom: 0; margin-top: auto; padding: 14px 16px; display: flex; justify-content: center; background: linear-gradient(rgba(245,246,248,0), #f5f6f8 30%); }
    .primary { display: inline-flex; align-items: center; gap: 8px; padding: 10px 18px; border: 0; border-radius: 22px; background: var(--accent); color: var(--on-accent); font-weight: 600; cursor: pointer; box-shadow: 0 4px 12px rgba(16,24,40,.18); }
    .primary .icon { width: 16px; height: 16px; }
    .tabs { flex: none; display: flex; background: #fff; border-top: 1px solid var(--line); }
    .tab { flex: 1; display: flex; flex-direction: column; align-items: center; gap: 2px; padding: 8px 0 10px; border: 0; background: none; color: var(--soft); font-size: 12px; cursor: pointer; }
    .tab.active { color: var(--accent); font-weight: 650; }
    .tab-icon { position: relative; display: inline-flex; }
    .tab-icon .icon { width: 22px; height: 22px; }
    .tab-icon .badge { position: absolute; top: -6px; left: 14px; min-width: 18px; height: 18px; line-height: 18px; font-size: 11px; padding: 0 5px; }
    .thread { padding: 16px 14px 8px; }
    .parts { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 14px; }
    .part { display: flex; align-items: flex-end; gap: 8px; max-width: 88%; }
    .part.team { align-self: flex-start; }
    /* Beside the bubble, not its time: the meta line below is 4px and one 12px line. */
    .part.team > .avatar { margin-bottom: 22px; }
    .part.intro > .avatar { margin-bottom: 0; }
    .part.mine { align-self: flex-end; }
    .part-body { min-width: 0; display: flex; flex-direction: column; }
    .mine .part-body { align-items: flex-end; }
    .bubble { padding: 9px 13px; border-radius: 18px 18px 18px 4px; background: #fff; box-shadow: 0 0 0 1px var(--line); overflow-wrap: anywhere; }
    .mine .bubble { border-radius: 18px 18px 4px 18px; background: var(--accent); color: var(--on-accent); box-shadow: none; }
    .mine .bubble a { color: inherit; }
    .meta { margin: 4px 4px 0; font-size: 12px; color: var(--soft); }
    .closed { margin: 16px 0 4px; text-align: center; font-size: 12px; color: var(--soft); }
    .html > :first-child { margin-top: 0; } .html > :last-child { margin-bottom: 0; }
    .html p { margin: 0 0 8px; } .html h1, .html h2, .html h3 { margin: 0 0 8px; line-height: 1.25; }
    .html h1 { font-size: 20px; } .html h2 { font-size: 17px; } .html h3 { font-size: 15px; }
    .html strong, .html b { font-weight: 700; } .html em, .html i { font-style: italic; }
    .html img { max-width: 100%; height: auto; border-radius: 8px; }
    .html ul, .html ol { margin: 0 0 8px; padding-left: 20px; }
    .html a { color: var(--accent); }
    .html a.tidings-button { display: inline-block; padding: 7px 14px; border-radius: 8px; background: var(--accent); color: var(--on-accent); text-decoration: none; font-weight: 600; }
    .post-card { margin: 14px; padding: 20px; background: #fff; border-radius: 12px; box-shadow: 0 1px 3px rgba(16,24,40,.08), 0 0 0 1px rgba(16,24,40,.05); overflow-wrap: anywhere; }
    .post-card > h1 { margin: 0 0 12px; font-size: 21px; line-height: 1.25; }
    .byline { display: flex; align-items: center; gap: 10px; margin-bottom: 16px; }
    .byline > span:last-child { display: flex; flex-direction: column; }
    .byline small { color: var(--soft); font-size: 12px; }
    .send-error { margin: 0; padding: 6px 16px 0; background: #fff; color: #b42318; font-size: 12px; }
    .send-error:empty { display: none; }
    .composer { flex: none; display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px; background: #fff; border-top: 1px solid var(--line); }
    .composer textarea { flex: 1; min-height: 40px; max-height: 120px; resize: none; overflow-y: hidden; padding: 9px 14px; border: 1px solid #d0d5dd;
      border-radius: 20px; font: inherit; line-height: 20px; color: var(--ink); background: #fff; outline: none; }
    .composer textarea:focus { border-color: var(--accent); box-shadow: 0 0 0 1px var(--accent); }
    .send { flex: none; width: 40px; height: 40px; border: 0; border-radius: 50%; background: var(--accent); color: var(--on-accent); cursor: pointer; display: grid; place-items: center; }
    .send:disabled { opacity: .5; cursor: default; }
    .still .panel { position: relative; top: auto; right: auto; bottom: auto; left: auto; width: 100%; max-width: 384px; height: auto;
      min-height: 200px; border-radius: 16px; z-index: auto; }
    .still .body { overflow: visible; }
    @media (max-width: 450px) {
      .panel { top: 0; left: 0; right: 0; bottom: 0; width: auto; max-width: none; height: auto; border-radius: 0; }
      .open .launcher { display: none; }
      .head { padding-top: max(10px, env(safe-area-inset-top)); }
      .composer { padding-bottom: max(10px, env(safe-area-inset-bottom)); }
      .composer textarea { font-size: 16px; }
    }
  `;

  const api = {
    boot,
    update: (attrs) => (attrs && session ? call("POST", "/update", attrs).then((r) => setUnread(r.unread_count)) : sync()).catch(() => {}),
    shutdown,
    show: () => show(),
    hide,
    showMessages: () => show({ view: "list" }),
    showNewMessage: (text) => show({ view: "new", text: text || "" }),
    onUnreadCountChange: (cb) => { listeners.unread.push(cb); cb(unread); },
    onShow: (cb) => listeners.show.push(cb),
    onHide: (cb) => listeners.hide.push(cb),
    getVisitorId: () => session,
  };

  /// The composer's preview of a message (the admin app loads this script with `data-preview`):
  /// the views and styles a contact's Messenger draws, filled from what it is given here and
  /// never from Tidings, inert, in place in the page rather than floating over it.
  function preview(into, m) {
    const workspace = m.workspace || {};
    settings = { hide_default_launcher: true };
    app = { name: workspace.name, color: workspace.color };
    home = { name: workspace.name, color: workspace.color, teammates: m.sender ? [m.sender] : [] };
    isOpen = true;
    if (m.channel === "post") {
      view = "post";
      card = { title: m.title || null, html: m.html, sender: m.sender, sent_at: m.sent_at, seen_at: m.sent_at };
    } else {
      view = "thread";
      thread = { state: "open", teammate: m.sender, parts: [{ author: "admin", sender: m.sender, html: m.html, created_at: m.sent_at }] };
    }
    mount(into);
    ui.wrap.classList.add("still");
    ui.panel.inert = true;
    render(true);
  }

  function Tidings(method, ...args) {
    const f = api[method];
    if (!f) { console.warn(`Tidings: unknown method ${method}`); return undefined; }
    return f(...args);
  }
  if (script && script.hasAttribute("data-preview")) {
    window.TidingsPreview = { show: preview };
    return;
  }
  window.Tidings = Tidings;
  for (const args of queued) Tidings(...Array.from(args));
  if (!queued.length && window.tidingsSettings && window.tidingsSettings.app_id) boot(window.tidingsSettings);
})();
