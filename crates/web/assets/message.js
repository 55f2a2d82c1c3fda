// Tidings admin app: live figures on the message list and a message's page, and the message's
// actions (send, unschedule, stop, follow up). Plain JavaScript, no build step. The figures are
// read again when the workspace's events say a message shown here moved (see `follow` in
// common.js), never on a timer.
(() => {
  "use strict";
  const { api, errorText, follow } = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);
  // The events that change a message's figures or state.
  const MOVES = new Set(["message_sent", "message_stopped", "message_changed", "deliveries_moved"]);

  function setFigures(scope, stats) {
    for (const cell of scope.querySelectorAll("[data-stat]")) {
      const v = stats[cell.dataset.stat];
      if (v !== undefined && cell.textContent !== String(v)) cell.textContent = String(v);
    }
  }

  // The list: the figures of the rows on screen (the same page of the API's list).
  const list = $("message-list");
  if (list) {
    const { tab, search, cursor, perPage } = list.dataset;
    const shown = new Set([...list.querySelectorAll("tr[data-id]")].map((row) => row.dataset.id));
    follow((e) => MOVES.has(e.type) && shown.has(e.message_id), async () => {
      const q = new URLSearchParams({ state: tab, per_page: perPage });
      if (search) q.set("search", search);
      if (cursor) q.set("starting_after", cursor);
      const r = await fetch(`/manual_messages?${q}`, { credentials: "same-origin" });
      if (!r.ok) return;
      const page = await r.json();
      for (const m of page.data) {
        const row = list.querySelector(`tr[data-id="${m.id}"]`);
        if (row) setFigures(row, m.stats);
      }
    });
  }

  // A message's page.
  const page = $("message");
  if (!page) return;
  const id = page.dataset.id;
  const showError = (e) => { $("message-error").textContent = errorText(e); $("message-error").hidden = false; };

  // An email's reasons for skips, bounces and failures, in the words the page uses.
  const WORDS = {
    no_email: "no email address", unsubscribed: "unsubscribed from emails", hard_bounced: "address hard-bounced before",
    marked_as_spam: "marked an email as spam", contact_deleted: "contact deleted",
  };
  function setReasons(reasons) {
    const box = $("reasons");
    if (!box || !reasons) return;
    box.replaceChildren(...reasons.map((r) => {
      const li = document.createElement("li");
      const n = document.createElement("strong");
      n.textContent = String(r.count);
      li.append(n, ` ${r.state}: ${WORDS[r.reason] || r.reason}`);
      return li;
    }));
    $("reasons-card").hidden = reasons.length === 0;
  }

  // An email's clicks per link.
  function setLinks(links) {
    const body = $("links");
    if (!body || !links) return;
    body.replaceChildren(...links.map((l) => {
      const tr = document.createElement("tr");
      for (const [text, cls] of [[l.url, "link-url"], [String(l.clicks)], [String(l.people)]]) {
        const td = document.createElement("td");
        td.textContent = text;
        if (cls) td.className = cls;
        tr.append(td);
      }
      return tr;
    }));
    $("links-card").hidden = links.length === 0;
  }

  follow((e) => MOVES.has(e.type) && e.message_id === id, async () => {
    const m = await api("GET", `/manual_messages/${id}`);
    setFigures(page, m.stats);
    setReasons(m.stats.reasons);
    setLinks(m.stats.links);
    if (m.state !== page.dataset.state) window.location.reload();
  });

  const on = (button, run) => {
    const b = $(button);
    if (!b) return;
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await run();
      } catch (e) {
        showError(e);
      } finally {
        b.disabled = false;
      }
    });
  };
  on("send-now", async () => {
    if (!window.confirm("Send this message to its audience now?")) return;
    await api("POST", `/manual_messages/${id}/send`);
    window.location.reload();
  });
  on("unschedule", async () => {
    await api("POST", `/manual_messages/${id}/unschedule`);
    window.location.reload();
  });
  on("stop", async () => {
    const ok = window.confirm(
      "Stop this message? Nobody who has not received it yet will receive it.\n\n" +
      "This cannot be undone: a stopped message can never be resumed. To send it again, create a new message to those who did not receive it.",
    );
    if (!ok) return;
    await api("POST", `/manual_messages/${id}/stop`);
    window.location.reload();
  });
  on("follow-up", async () => {
    const draft = await api("POST", `/manual_messages/${id}/follow_up`);
    window.location.href = `/app/messages/${draft.id}/edit`;
  });
})();
