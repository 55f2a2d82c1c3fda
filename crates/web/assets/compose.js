// Tidings admin app: the message composer. The simple composer sends to chosen contacts; the
// manual message composer to segments and filters. Both show a live count of recipients and a
// preview as a chosen contact would see it, and save, schedule or send through the API.
// An email's preview is the letter Tidings will send, shown in a sandboxed frame that its own
// route fills (`/app/email/preview.html`, under a policy where nothing runs); "Send a test to
// me" sends it to the signed-in teammate.
(() => {
  "use strict";
  const root = document.getElementById("composer");
  if (!root) return;
  const { el, option, api, errorText, filterBuilder, confirmInPage } = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);
  const mode = root.dataset.mode;
  const schema = JSON.parse(root.dataset.schema);
  const initial = JSON.parse(root.dataset.audience || "{}");
  const look = JSON.parse(root.dataset.look || "{}");
  let messageId = root.dataset.messageId || null;
  let countSeq = 0;
  let previewSeq = 0;
  let countTimer = null;
  let previewTimer = null;
  let builder = null;
  let recipients = null;
  // A filter the builder cannot show (a nested group, a message it does not list) is kept as it
  // was, never silently dropped: the audience would otherwise widen when the draft is saved.
  let keptQuery = null;

  // What the error shown came from: a count or a preview that answers later clears only its own
  // error, never a refusal the teammate has not read yet.
  let errorFrom = null;
  function showError(e, from = "action") {
    const box = $("compose-error");
    box.textContent = errorText(e);
    box.hidden = false;
    errorFrom = from;
  }
  const clearError = (...from) => {
    if (from.length && !from.includes(errorFrom)) return;
    $("compose-error").hidden = true;
    errorFrom = null;
  };

  // The segments chosen, and the filter rows, make the audience; nothing chosen is everyone.
  const channel = () => document.querySelector('input[name="channel"]:checked').value;
  const isEmail = () => channel() === "email";
  const template = () => document.querySelector('input[name="template"]:checked')?.value || "personal";

  function audience() {
    if (mode === "contacts") {
      const ids = initial.contact_ids || [];
      // An in-app message to one chosen contact is a conversation with them; an email is not.
      return { contact_ids: ids, conversation: ids.length === 1 && !isEmail() };
    }
    const segs = [...document.querySelectorAll("#segments input:checked")].map((c) => c.value);
    const group = keptQuery || builder.query($("match").value);
    const a = {};
    if (segs.length) a.segment_ids = segs;
    if (group) a.query = group;
    if (!segs.length && !group) a.everyone = true;
    return a;
  }

  // The audience as a contact search, to offer contacts to preview as.
  function audienceQuery(a) {
    const parts = [];
    if (a.contact_ids) return { field: "id", operator: "IN", value: a.contact_ids.map(String) };
    if (a.segment_ids) parts.push({ operator: "OR", value: a.segment_ids.map((id) => ({ field: "segment_id", operator: "=", value: id })) });
    if (a.query) parts.push(a.query);
    if (!parts.length) return { operator: "OR", value: [{ field: "role", operator: "=", value: "user" }, { field: "role", operator: "=", value: "lead" }] };
    return parts.length === 1 ? parts[0] : { operator: "AND", value: parts };
  }

  async function count() {
    const mine = ++countSeq;
    try {
      const r = await api("POST", "/manual_messages/audience_count", { audience: audience() });
      if (mine !== countSeq) return;
      recipients = r.count;
      $("audience-count").textContent = r.count.toLocaleString();
      $("audience-count-label").textContent = r.count === 1 ? "recipient" : "recipients";
      if (r.count > 0) clearError("count", "audience");
      else clearError("count");
    } catch (e) {
      if (mine === countSeq) { $("audience-count").textContent = "?"; showError(e, "count"); }
    }
    candidates();
  }

  async function candidates() {
    const a = audience();
    try {
      const list = await api("POST", "/contacts/search", { query: audienceQuery(a), pagination: { per_page: 20 } });
      const select = $("preview-as");
      const keep = select.value;
      select.replaceChildren(...list.data.map((c) => option(c.id, c.name || c.email || `Contact ${c.id}`, c.id === keep)));
      preview();
    } catch (_) { /* the count shows the error */ }
  }

  // The email's fields as the preview and test routes take them.
  const emailFields = () => ({
    sender_id: $("sender").value,
    subject: $("subject").value,
    body: $("body").value,
    template: template(),
    contact_id: $("preview-as").value,
  });

  const person = (name, address) => (address ? (name ? `${name} <${address}>` : address) : (name || "—"));

  async function emailPreview(mine) {
    const f = emailFields();
    try {
      const r = await api("POST", "/app/email/preview", f);
      if (mine !== previewSeq) return;
      $("email-subject").textContent = r.subject || "(no subject yet)";
      $("email-from").textContent = r.from_address ? person(r.from_name, r.from_address)
        : `${r.from_name} (no sender address yet: set one in Settings › Email)`;
      $("email-to").textContent = person(r.to_name, r.to_address);
      $("email-text").textContent = r.text;
      // The HTML goes into the sandboxed frame through its own route, never into this page.
      const form = $("email-frame-form");
      for (const [k, v] of Object.entries(f)) form.elements[k].value = v;
      form.submit();
      clearError("preview");
    } catch (e) {
      if (mine === previewSeq) showError(e, "preview");
    }
  }

  async function preview() {
    const mine = ++previewSeq;
    const contact = $("preview-as").value;
    const body = $("body").value;
    if (isEmail()) {
      if (!body.trim()) { $("email-subject").textContent = ""; $("email-text").textContent = "Write a message to see it here."; return; }
      emailPreview(mine);
      return;
    }
    const note = (text) => {
      $("preview-note").textContent = text;
      $("preview-note").hidden = false;
      $("messenger-preview").hidden = true;
    };
    if (!body.trim()) { note("Write a message to see it here."); return; }
    if (!contact) { note("Nobody in this audience to preview as."); return; }
    try {
      const r = await api("POST", "/manual_messages/preview", { body, contact_id: contact });
      if (mine !== previewSeq) return;
      // Drawn by the Messenger's own script and styles (`/messenger.js`, loaded for the preview),
      // as the contact's Messenger will draw it: a chat as a conversation, an announcement as a card.
      const sender = $("sender").selectedOptions[0];
      $("preview-note").hidden = true;
      $("messenger-preview").hidden = false;
      window.TidingsPreview.show($("messenger-preview"), {
        channel: channel(),
        html: r.html,
        sender: sender ? { name: sender.textContent, avatar: sender.dataset.avatar || null } : null,
        workspace: look,
        sent_at: Math.floor(Date.now() / 1000),
      });
      clearError("preview");
    } catch (e) {
      if (mine === previewSeq) showError(e, "preview");
    }
  }

  function changed() {
    clearTimeout(countTimer);
    countTimer = setTimeout(count, 250);
  }

  function fields() {
    const f = {
      title: $("title").value,
      sender_id: $("sender").value,
      channel: channel(),
      body: $("body").value,
      audience: audience(),
    };
    if (isEmail()) {
      f.subject = $("subject").value;
      f.template = template();
    }
    f.delivery_window = deliveryWindow();
    return f;
  }

  // "Only send during": the days and hours, or null for any time.
  function deliveryWindow() {
    if (!$("window-on").checked) return null;
    const days = [...document.querySelectorAll("input[name=window-day]:checked")].map((d) => Number(d.value));
    return { days, start: $("window-start").value, end: $("window-end").value };
  }
  function showWindow() { $("window").hidden = !$("window-on").checked; }
  $("window-on").addEventListener("change", showWindow);
  if (root.dataset.window) {
    const w = JSON.parse(root.dataset.window);
    $("window-on").checked = true;
    for (const d of document.querySelectorAll("input[name=window-day]")) d.checked = w.days.includes(Number(d.value));
    $("window-start").value = w.start;
    $("window-end").value = w.end;
  }
  showWindow();

  // Creates or saves the message; `then` is send or schedule, done through the API's own routes.
  async function save(then, scheduledAt) {
    clearError();
    const f = fields();
    let m;
    if (messageId) m = await api("PUT", `/manual_messages/${messageId}`, f);
    else {
      if (then === "send") f.send = true;
      if (then === "schedule") f.scheduled_at = scheduledAt;
      m = await api("POST", "/manual_messages", f);
      messageId = m.id;
      return m;
    }
    if (then === "send") m = await api("POST", `/manual_messages/${messageId}/send`);
    if (then === "schedule") m = await api("POST", `/manual_messages/${messageId}/schedule`, { scheduled_at: scheduledAt });
    return m;
  }

  // A field the page refuses before anything is saved or confirmed: marked, focused, named.
  function refuse(id, message, field) {
    if (id) {
      $(id).setAttribute("aria-invalid", "true");
      $(id).focus();
    }
    showError({ errors: [{ message, field }] }, field);
  }

  // What must hold before a send or schedule is even offered for confirmation.
  function invalid(then) {
    if (!$("body").value.trim()) {
      refuse("body", "Write a message first: its body is empty.", "body");
      return true;
    }
    if (then === "draft") return false;
    if (isEmail() && !$("subject").value.trim()) {
      refuse("subject", "An email needs a subject: write one before sending or scheduling.", "subject");
      return true;
    }
    if (then === "send" && recipients === 0) {
      refuse(null, "Nobody matches this audience now: change the audience before sending.", "audience");
      return true;
    }
    return false;
  }

  // Asks in the page's own dialog (never the browser's confirm()); focus goes back to Send.
  const confirmSend = (text) => confirmInPage($("confirm-send"), $("send"), text);

  // The offset of `zone` from UTC at instant `t` (ms), from what Intl says the wall clock reads.
  function zoneOffset(t, zone) {
    const parts = {};
    const format = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    for (const p of format.formatToParts(new Date(t))) parts[p.type] = Number(p.value);
    return Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second) - t;
  }

  // A `datetime-local` value read as a wall-clock time in the workspace's zone, not the
  // browser's: the team schedules by the workspace's clock wherever each teammate is.
  function zonedSeconds(value) {
    const [date, time] = value.split("T");
    const [y, mo, d] = date.split("-").map(Number);
    const [h, mi] = time.split(":").map(Number);
    const wall = Date.UTC(y, mo - 1, d, h, mi);
    const zone = root.dataset.timezone || "UTC";
    let t = wall - zoneOffset(wall, zone);
    // Once more, in case the first guess fell on the other side of a daylight-saving change.
    t = wall - zoneOffset(t, zone);
    return Math.floor(t / 1000);
  }

  async function act(then) {
    let at;
    if (invalid(then)) return;
    if (then === "schedule") {
      const v = $("schedule-at").value;
      if (!v) { refuse("schedule-at", "Choose when to send it first.", "scheduled_at"); return; }
      at = zonedSeconds(v);
    }
    if (then === "send") {
      const n = recipients === null ? "the chosen" : recipients.toLocaleString();
      if (!(await confirmSend(`Send this message to ${n} recipient${recipients === 1 ? "" : "s"} now?`))) return;
    }
    for (const b of document.querySelectorAll(".send-actions button")) b.disabled = true;
    try {
      const m = await save(then, at);
      window.location.href = `/app/messages/${m.id}`;
    } catch (e) {
      showError(e);
    } finally {
      for (const b of document.querySelectorAll(".send-actions button")) b.disabled = false;
    }
  }

  // Filter rows from a saved or passed-on query; false when some part cannot be shown as a row.
  function showable(f) {
    if (!f || !f.field || !builder.attrs.has(f.field)) return false;
    const a = builder.attrs.get(f.field);
    if (a.type !== "message") return true;
    return (schema.messages || []).some((m) => String(m.id) === String(f.value));
  }

  function prefill(group) {
    if (!group) return true;
    const leaves = group.operator && Array.isArray(group.value) ? group.value : [group];
    if (!leaves.every(showable)) return false;
    if (group.operator) $("match").value = group.operator === "OR" ? "OR" : "AND";
    for (const f of leaves) {
      const a = builder.attrs.get(f.field);
      let op = f.operator;
      let value = f.value;
      if (value === null) { op = op === "=" ? "unknown" : "known"; value = ""; }
      else if (a.type === "date" && !op.endsWith("days_ago")) value = new Date(value * 1000).toISOString().slice(0, 10);
      else if (Array.isArray(value)) value = value.join(", ");
      builder.add(f.field, op, String(value));
    }
    return true;
  }

  if (mode !== "contacts") {
    const box = $("segments");
    const chosen = (initial.segment_ids || []).map(String);
    for (const s of schema.segments) {
      const c = el("input", { type: "checkbox", value: String(s.id), checked: chosen.includes(String(s.id)) });
      c.addEventListener("change", changed);
      box.append(el("label", {}, c, " " + s.name));
    }
    builder = filterBuilder($("rows"), schema, changed);
    if (!prefill(initial.query)) {
      keptQuery = initial.query;
      $("rows").replaceChildren(el("p", { className: "muted", id: "kept-filters",
        textContent: "This audience's filters cannot be shown here; they are kept as they are. Segments can still be added." }));
      $("add-filter").hidden = true;
      $("match").disabled = true;
    }
    $("add-filter").addEventListener("click", () => builder.add());
    $("match").addEventListener("change", changed);
  }
  // The form only groups the fields, and the buttons act through the API: Enter in the title
  // must not submit it.
  $("compose-form").addEventListener("submit", (ev) => ev.preventDefault());
  $("body").addEventListener("input", () => { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 250); });
  $("preview-as").addEventListener("change", preview);
  const previewSoon = () => { clearTimeout(previewTimer); previewTimer = setTimeout(preview, 250); };
  // Fields that mean nothing for the chosen channel hide.
  function channelChanged() {
    const email = isEmail();
    $("email-fields").hidden = !email;
    $("email-preview").hidden = !email;
    $("preview").hidden = email;
    $("test-result").textContent = "";
    changed();
    preview();
  }
  for (const r of document.querySelectorAll('input[name="channel"]')) r.addEventListener("change", channelChanged);
  for (const r of document.querySelectorAll('input[name="template"]')) r.addEventListener("change", preview);
  $("subject").addEventListener("input", () => { $("subject").removeAttribute("aria-invalid"); previewSoon(); });
  $("body").addEventListener("input", () => $("body").removeAttribute("aria-invalid"));
  $("schedule-at").addEventListener("input", () => $("schedule-at").removeAttribute("aria-invalid"));

  // Back goes where the teammate came from (a contact, the contact list with its filters, the
  // messages), when that was a page of this app other than a composer; else to the messages.
  try {
    const from = new URL(document.referrer);
    const composer = /^\/app\/messages\/(new|\d+\/edit)$/;
    if (from.origin === window.location.origin && from.pathname.startsWith("/app/") && !composer.test(from.pathname)) {
      $("back").href = from.pathname + from.search;
    }
  } catch (_) { /* no referrer: the messages list */ }
  $("sender").addEventListener("change", preview);
  $("send-test").addEventListener("click", async () => {
    const result = $("test-result");
    const button = $("send-test");
    button.disabled = true;
    result.textContent = "Sending…";
    clearError();
    try {
      const r = await api("POST", "/app/email/test", emailFields());
      result.textContent = `Test sent to ${r.sent_to}.`;
    } catch (e) {
      result.textContent = "";
      showError(e);
    } finally {
      button.disabled = false;
    }
  });
  $("save-draft").addEventListener("click", () => act("draft"));
  $("schedule").addEventListener("click", () => act("schedule"));
  $("send").addEventListener("click", () => act("send"));
  count();
})();
