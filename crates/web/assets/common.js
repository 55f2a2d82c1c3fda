// Tidings admin app: what every page's script shares. Plain JavaScript, no build step.
// `TidingsAdmin.api` calls the REST API with the session cookie and the page's CSRF token;
// `TidingsAdmin.follow` keeps a page's live parts fresh from the workspace's events;
// `TidingsAdmin.filterBuilder` is the filter builder of the user list and the composer;
// `TidingsAdmin.menu` makes a button and the panel it shows into a menu every page closes alike;
// `TidingsAdmin.confirmInPage` asks in the page's own dialog.
(() => {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  const el = (tag, props = {}, ...kids) => {
    const e = document.createElement(tag);
    Object.assign(e, props);
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  };
  const option = (value, label, sel) => el("option", { value, textContent: label, selected: sel });

  /** Calls the API; resolves with the JSON body, rejects with the `error.list` body. */
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (_) {
      throw { errors: [{ message: "Could not reach Tidings. Check your connection and try again." }] };
    }
    const json = await r.json().catch(() => ({}));
    if (!r.ok) throw json;
    return json;
  }

  /** The first message of an `error.list`, with the field it names. */
  function errorText(e, fallback) {
    const err = e && e.errors && e.errors[0];
    if (!err) return fallback || "Something went wrong. Reload the page and try again.";
    return err.field && !err.message.includes(err.field) ? `${err.message} (${err.field})` : err.message;
  }

  /**
   * Calls `run` (an async refresh) for every `kick()`, coalescing bursts: one run at a time, then
   * a pause of `gapMs`, and all the kicks that came meanwhile make one more run after it. A
   * thousand contacts seeing a message in a second cost a few fetches, not a thousand.
   */
  function coalesced(run, gapMs = 500) {
    let busy = false;
    let again = false;
    const start = async () => {
      busy = true;
      try {
        await run();
      } catch (_) { /* the next event, or the next (re)connect, reads again */ }
      setTimeout(() => {
        busy = false;
        if (again) {
          again = false;
          start();
        }
      }, gapMs);
    };
    return () => {
      if (busy) again = true;
      else start();
    };
  }

  // How long a stream that gave up waits before it is opened again (doubling up to the last),
  // and how long a hidden page keeps its stream.
  const FIRST_WAIT_MS = 5000;
  const LAST_WAIT_MS = 60000;
  const HIDDEN_MS = 60000;

  /**
   * Follows the workspace's events (`GET /app/events`, Server-Sent Events; see
   * `crates/web/src/admin/live.rs`) and runs `refresh` when `about(event)` says an event concerns
   * this page (`{type, message_id}` or `{type, conversation_id}`), and on every `ready` (each
   * (re)connect: the page may have missed something since it was rendered) and `resync` (events
   * were lost). An event is only a hint: `refresh` reads through the API. Runs coalesce.
   *
   * The browser reconnects by itself when a stream drops or ends (the server ends each one after
   * a minute). It gives up for good when an answer is no stream: a proxy's 502 while Tidings
   * restarts, or a 401 once the session has ended. Then the stream is opened again after a
   * growing wait, which brings the page back to life after a restart without polling. A page
   * hidden for a while lets its stream go (over HTTP/1.1 a browser allows about six connections
   * to a server, shared by every tab) and opens it again, and reads again, once shown.
   */
  function follow(about, refresh) {
    const kick = coalesced(refresh);
    let source = null;
    let wait = FIRST_WAIT_MS;
    let reopen = null;
    let hidden = null;
    const open = () => {
      clearTimeout(reopen);
      if (source) return;
      const es = new EventSource("/app/events");
      source = es;
      es.addEventListener("open", () => { wait = FIRST_WAIT_MS; });
      es.addEventListener("message", (m) => {
        let e;
        try {
          e = JSON.parse(m.data);
        } catch (_) {
          return;
        }
        if (e.type === "ready" || e.type === "resync" || about(e)) kick();
      });
      es.addEventListener("error", () => {
        if (es.readyState !== EventSource.CLOSED || source !== es) return;
        source = null;
        reopen = setTimeout(open, wait);
        wait = Math.min(wait * 2, LAST_WAIT_MS);
      });
    };
    const close = () => {
      clearTimeout(reopen);
      if (source) source.close();
      source = null;
    };
    document.addEventListener("visibilitychange", () => {
      clearTimeout(hidden);
      if (document.visibilityState === "hidden") hidden = setTimeout(close, HIDDEN_MS);
      else open();
    });
    open();
  }

  /**
   * A menu: `button` shows and hides `panel` (an element with `hidden`). Escape, or a click
   * anywhere outside both, closes it; Escape, and a click outside that lands on nothing
   * focusable, give focus back to the button that opened it. `manual` leaves the button's
   * clicks to the page (which calls `toggle` when a click means the menu). Returns
   * `{open, close, toggle, isOpen}`.
   */
  function menu(button, panel, { manual = false } = {}) {
    button.setAttribute("aria-haspopup", "true");
    button.setAttribute("aria-expanded", "false");
    if (panel.id) button.setAttribute("aria-controls", panel.id);
    const isOpen = () => !panel.hidden;
    const close = (focus = true) => {
      if (!isOpen()) return;
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (focus) button.focus();
    };
    const open = () => {
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      panel.querySelector("button, a[href], input, select, textarea")?.focus();
    };
    const toggle = () => (isOpen() ? close() : open());
    if (!manual) button.addEventListener("click", toggle);
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape" || !isOpen()) return;
      ev.preventDefault();
      close();
    });
    document.addEventListener("click", (ev) => {
      if (!isOpen() || panel.contains(ev.target) || button.contains(ev.target)) return;
      const active = document.activeElement;
      close(!active || active === document.body || panel.contains(active));
    });
    return { open, close, toggle, isOpen };
  }

  /**
   * Asks in the page, never with the browser's `confirm()`: shows `dialog` (a `<dialog>` holding
   * `[data-confirm-text]`, `[data-confirm-ok]` and `[data-confirm-cancel]`) with `text` and, when
   * given, the OK button's `ok` label. Resolves true for OK, false for Cancel or Escape. Cancel is
   * focused first, so a stray Enter does nothing, and focus goes back to `opener` (named, as not
   * every browser focuses a button it clicks).
   */
  function confirmInPage(dialog, opener, text, ok) {
    const okButton = dialog.querySelector("[data-confirm-ok]");
    const cancel = dialog.querySelector("[data-confirm-cancel]");
    dialog.querySelector("[data-confirm-text]").textContent = text;
    if (ok) okButton.textContent = ok;
    return new Promise((resolve) => {
      const done = (answer) => {
        okButton.removeEventListener("click", yes);
        cancel.removeEventListener("click", no);
        dialog.removeEventListener("cancel", escape);
        if (dialog.open) dialog.close();
        opener.focus();
        resolve(answer);
      };
      const yes = () => done(true);
      const no = () => done(false);
      const escape = (ev) => { ev.preventDefault(); done(false); };
      okButton.addEventListener("click", yes);
      cancel.addEventListener("click", no);
      dialog.addEventListener("cancel", escape);
      dialog.showModal();
      cancel.focus();
    });
  }

  const OPS = {
    "=": "is", "!=": "is not", IN: "is any of", NIN: "is none of", "~": "contains", "!~": "does not contain",
    "^": "starts with", $: "ends with", ">": "greater than", "<": "less than", ">=": "at least", "<=": "at most",
    more_than_days_ago: "more than … days ago", less_than_days_ago: "less than … days ago",
    exactly_days_ago: "exactly … days ago", unknown: "is unknown", known: "has any value",
  };
  const DATE_OPS = { "=": "on", ">": "after", "<": "before" };

  /**
   * A list of filter rows (attribute, operator, value) inside `rowsBox`, over the attributes,
   * tags, segments and messages of `schema`. `onChange` runs after every edit; `query(match)`
   * returns the rows as a query-language group, or null when no row is complete.
   */
  function filterBuilder(rowsBox, schema, onChange) {
    const attrs = new Map(schema.attributes.map((a) => [a.field, a]));
    attrs.set("tag_id", { field: "tag_id", label: "Tag", type: "tag", operators: ["=", "!="] });
    attrs.set("segment_id", { field: "segment_id", label: "Segment", type: "segment", operators: ["=", "!="] });
    if (schema.messages && schema.messages.length) {
      attrs.set("targeted_by_message", { field: "targeted_by_message", label: "Was sent message", type: "message", operators: ["=", "!="] });
      attrs.set("received_message", { field: "received_message", label: "Received message", type: "message", operators: ["=", "!="] });
      attrs.set("seen_message", { field: "seen_message", label: "Seen message", type: "message", operators: ["=", "!="] });
    }
    const filters = [];

    const operatorsFor = (a) => {
      const ops = a.operators.slice();
      if (!["tag", "segment", "message"].includes(a.type)) ops.push("unknown", "known");
      return ops;
    };
    const opLabel = (a, o) => {
      if (a.type === "message") return o === "=" ? "has" : "has not";
      return (a.type === "date" && DATE_OPS[o]) || OPS[o] || o;
    };

    function valueInput(f, a) {
      if (f.op === "unknown" || f.op === "known") return el("span");
      let input;
      if (f.op.endsWith("days_ago")) input = el("input", { type: "number", min: 0, placeholder: "days" });
      else if (a.type === "tag" || a.type === "segment" || a.type === "message") {
        const list = { tag: schema.tags, segment: schema.segments, message: schema.messages }[a.type];
        input = el("select", {}, option("", "Choose…"), ...list.map((t) => option(String(t.id), t.name, String(t.id) === f.value)));
      } else if (a.type === "boolean") input = el("select", {}, option("", "Choose…"), option("true", "true"), option("false", "false"));
      else if (a.type === "date") input = el("input", { type: "date" });
      else if (a.type === "integer" || a.type === "float") input = el("input", { type: "number", step: a.type === "float" ? "any" : "1" });
      else if (a.options && a.options.length && (f.op === "=" || f.op === "!=")) {
        input = el("select", {}, option("", "Choose…"), ...a.options.map((o) => option(o, o)));
      } else input = el("input", { type: "text", placeholder: f.op === "IN" || f.op === "NIN" ? "a, b, c" : "value" });
      input.value = f.value;
      input.className = "value";
      input.setAttribute("aria-label", "Value");
      input.addEventListener(input.tagName === "SELECT" ? "change" : "input", (e) => { f.value = e.target.value; onChange(); });
      return input;
    }

    function render() {
      rowsBox.replaceChildren();
      filters.forEach((f, i) => {
        const a = attrs.get(f.field);
        const field = el("select");
        field.setAttribute("aria-label", "Attribute");
        for (const x of attrs.values()) field.append(option(x.field, x.custom ? `${x.label} (custom)` : x.label, x.field === f.field));
        field.addEventListener("change", () => {
          f.field = field.value;
          f.op = operatorsFor(attrs.get(f.field))[0];
          f.value = "";
          render();
          onChange();
        });
        const op = el("select");
        op.setAttribute("aria-label", "Operator");
        for (const o of operatorsFor(a)) op.append(option(o, opLabel(a, o), o === f.op));
        op.addEventListener("change", () => { f.op = op.value; render(); onChange(); });
        const remove = el("button", { type: "button", textContent: "✕", title: "Remove this filter" });
        remove.addEventListener("click", () => { filters.splice(i, 1); render(); onChange(); });
        rowsBox.append(el("div", { className: "filter-row" }, field, op, valueInput(f, a), remove));
      });
    }

    function leaf(f) {
      const a = attrs.get(f.field);
      if (f.op === "unknown") return { field: f.field, operator: "=", value: null };
      if (f.op === "known") return { field: f.field, operator: "!=", value: null };
      let v = String(f.value).trim();
      if (f.op === "IN" || f.op === "NIN") {
        let items = v.split(",").map((s) => s.trim()).filter(Boolean);
        if (a.type === "integer" || a.type === "float") items = items.map(Number);
        return { field: f.field, operator: f.op, value: items };
      }
      if (f.op.endsWith("days_ago") || a.type === "integer" || a.type === "float") v = Number(v);
      else if (a.type === "boolean") v = v === "true";
      else if (a.type === "date") v = Math.floor(Date.parse(v + "T12:00:00Z") / 1000);
      return { field: f.field, operator: f.op, value: v };
    }

    // Whether a row could have come from this builder: a known attribute, one of its operators,
    // a value that is text (rows also come from addresses people share and edit by hand).
    const fits = (f) => {
      const a = f && typeof f.field === "string" && attrs.get(f.field);
      if (!a || typeof f.op !== "string" || !operatorsFor(a).includes(f.op)) return false;
      if (typeof f.value !== "string" || f.value.length > 1000) return false;
      return a.type !== "message" || (schema.messages || []).some((m) => String(m.id) === f.value);
    };

    // A filter of the query language as a row, or null when no row can show it.
    function fromLeaf(f) {
      if (!f || typeof f.field !== "string" || !attrs.has(f.field) || typeof f.operator !== "string") return null;
      const a = attrs.get(f.field);
      let op = f.operator;
      let value = f.value;
      if (value === null) { op = op === "=" ? "unknown" : op === "!=" ? "known" : op; value = ""; }
      else if (a.type === "date" && !op.endsWith("days_ago") && typeof value === "number") value = new Date(value * 1000).toISOString().slice(0, 10);
      else if (Array.isArray(value)) value = value.join(", ");
      const row = { field: f.field, op, value: String(value) };
      return fits(row) ? row : null;
    }

    return {
      attrs,
      operatorsFor,
      add(field = "email", op = "~", value = "") {
        filters.push({ field, op, value });
        render();
      },
      query(match) {
        const done = filters.filter((f) => f.op === "unknown" || f.op === "known" || String(f.value).trim() !== "");
        return done.length ? { operator: match || "AND", value: done.map(leaf) } : null;
      },
      /** The rows as they stand: `{field, op, value}` each. */
      rows: () => filters.map((f) => ({ field: f.field, op: f.op, value: String(f.value) })),
      /** Replaces the rows, keeping those that fit and dropping the others; returns how many fit. */
      set(rows) {
        filters.splice(0, filters.length, ...(Array.isArray(rows) ? rows : []).filter(fits).map((f) => ({ ...f })));
        render();
        return filters.length;
      },
      /**
       * The rows of a query-language group of plain filters (or one filter): `{match, rows}`, or
       * null when some part of it cannot be shown as a row.
       */
      fromQuery(group) {
        if (!group || typeof group !== "object") return null;
        const grouped = group.operator === "AND" || group.operator === "OR";
        const leaves = grouped ? group.value : [group];
        if (!Array.isArray(leaves)) return null;
        const rows = leaves.map(fromLeaf);
        return rows.every(Boolean) ? { match: group.operator === "OR" ? "OR" : "AND", rows } : null;
      },
      render,
    };
  }

  // Times: the server writes <time datetime title> with the exact time in the workspace's
  // zone; here the text becomes relative ("3 days ago", "in 2 hours") and the exact time stays
  // in the title, on hover. An observer catches the parts `follow` and the pages swap in, and a
  // minute's tick keeps "2 minutes ago" true without asking the server anything.
  const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  function ago(date, now = Date.now()) {
    const seconds = (date.getTime() - now) / 1000;
    for (const [unit, size] of UNITS) {
      if (Math.abs(seconds) >= size) return relative.format(Math.trunc(seconds / size), unit);
    }
    return relative.format(0, "second");
  }
  function relativeTimes(root) {
    const now = Date.now();
    const times = root.matches?.("time[datetime]") ? [root] : root.querySelectorAll?.("time[datetime]") || [];
    for (const t of times) {
      const d = new Date(t.getAttribute("datetime"));
      if (Number.isNaN(d.getTime())) continue;
      if (!t.title) t.title = t.textContent;
      const text = ago(d, now);
      if (t.textContent !== text) t.textContent = text;
    }
  }
  relativeTimes(document);
  new MutationObserver((changes) => {
    for (const c of changes) for (const n of c.addedNodes) if (n.nodeType === 1) relativeTimes(n);
  }).observe(document.body, { childList: true, subtree: true });
  setInterval(() => relativeTimes(document), 60000);

  window.TidingsAdmin = { csrf, el, option, api, errorText, follow, filterBuilder, ago, menu, confirmInPage };
})();
