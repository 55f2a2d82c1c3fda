// Tidings admin app: live figures on the message list and a message's page, and the message's
// actions (send, unschedule, stop, follow up). Plain JavaScript, no build step. The figures are
// read again when the workspace's events say a message shown here moved (see `follow` in
// common.js), never on a timer.
(() => {
  "use strict";
  const { el, api, errorText, follow, confirmInPage } = window.TidingsAdmin;
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

  // The chart: deliveries, views and clicks per bucket of time, as grouped bars in an inline
  // SVG, described for screen readers by its label and by a table of the same figures.
  const SERIES = { sent: "Delivered", seen: page.dataset.email === "true" ? "Opened" : "Seen", clicked: "Clicked" };
  const zone = page.dataset.timezone || undefined;
  function bucketLabel(start, width) {
    const d = new Date(start * 1000);
    const opts = width >= 86400 ? { day: "numeric", month: "short", timeZone: zone }
      : { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: zone };
    return new Intl.DateTimeFormat(undefined, opts).format(d);
  }
  const svg = (tag, attrs = {}, ...kids) => {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    for (const k of kids) e.append(k);
    return e;
  };
  function drawChart(t) {
    const box = $("chart");
    if (!box || !t) return;
    box.dataset.buckets = String(t.buckets.length);
    if (!t.buckets.length) {
      box.replaceChildren(el("p", { className: "muted", textContent: "Nothing delivered yet." }));
      return;
    }
    // Drawn at the box's own width, so its words keep their size on a phone and a desktop.
    const W = Math.max(260, Math.round(box.clientWidth || 640));
    const H = 180;
    const top = 14;
    const bottom = 24;
    const left = 34;
    const plotW = W - left - 6;
    const plotH = H - top - bottom;
    const max = Math.max(1, ...t.buckets.flatMap((b) => t.series.map((k) => b[k])));
    const slot = plotW / t.buckets.length;
    const bar = Math.max(1, Math.min(28, (slot * 0.8) / t.series.length));
    const pad = (slot - bar * t.series.length) / 2;
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img" });
    const totals = t.series.map((k) => `${t.buckets.reduce((n, b) => n + b[k], 0)} ${SERIES[k].toLowerCase()}`);
    chart.setAttribute("aria-label", `Over time, from ${bucketLabel(t.buckets[0].start, t.width)} to ` +
      `${bucketLabel(t.buckets[t.buckets.length - 1].start, t.width)}: ${totals.join(", ")}.`);
    chart.append(svg("line", { x1: left, y1: top + plotH, x2: W - 6, y2: top + plotH, class: "chart-axis" }));
    chart.append(svg("text", { x: left - 6, y: top + 4, class: "chart-label", "text-anchor": "end" }, String(max)));
    chart.append(svg("text", { x: left - 6, y: top + plotH, class: "chart-label", "text-anchor": "end" }, "0"));
    t.buckets.forEach((b, i) => {
      t.series.forEach((k, j) => {
        const h = (b[k] / max) * plotH;
        if (!b[k]) return;
        const r = svg("rect", { x: left + i * slot + pad + j * bar, y: top + plotH - h, width: bar, height: h, class: `chart-${k}` });
        r.append(svg("title", {}, `${bucketLabel(b.start, t.width)}: ${b[k]} ${SERIES[k].toLowerCase()}`));
        chart.append(r);
      });
    });
    const first = svg("text", { x: left, y: H - 6, class: "chart-label" }, bucketLabel(t.buckets[0].start, t.width));
    chart.append(first);
    if (t.buckets.length > 1) {
      chart.append(svg("text", { x: W - 6, y: H - 6, class: "chart-label", "text-anchor": "end" },
        bucketLabel(t.buckets[t.buckets.length - 1].start, t.width)));
    }
    const legend = el("ul", { className: "chart-legend" },
      ...t.series.map((k) => el("li", {}, el("span", { className: `swatch chart-${k}` }), SERIES[k])));
    const head = el("tr", {}, el("th", { scope: "col", textContent: "From" }),
      ...t.series.map((k) => el("th", { scope: "col", textContent: SERIES[k] })));
    const rows = t.buckets.filter((b) => t.series.some((k) => b[k])).map((b) => el("tr", {},
      el("th", { scope: "row", textContent: bucketLabel(b.start, t.width) }),
      ...t.series.map((k) => el("td", { textContent: String(b[k]) }))));
    const table = el("details", { className: "chart-table" }, el("summary", { textContent: "The figures as a table" }),
      el("div", { className: "scroll-x" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...rows))));
    box.replaceChildren(legend, chart, table);
  }
  const chartBox = $("chart");
  let timeline = chartBox ? JSON.parse(chartBox.dataset.timeline || "null") : null;
  if (chartBox) {
    drawChart(timeline);
    let drawn = chartBox.clientWidth;
    window.addEventListener("resize", () => {
      if (Math.abs(chartBox.clientWidth - drawn) < 8) return;
      drawn = chartBox.clientWidth;
      drawChart(timeline);
    });
  }

  follow((e) => MOVES.has(e.type) && e.message_id === id, async () => {
    const m = await api("GET", `/manual_messages/${id}`);
    if (m.state !== page.dataset.state) { window.location.reload(); return; }
    setFigures(page, m.stats);
    setReasons(m.stats.reasons);
    setLinks(m.stats.links);
    if (!chartBox) return;
    const r = await api("GET", `/app/messages/${id}/timeline`);
    timeline = r.timeline;
    drawChart(timeline);
    for (const rate of r.rates) {
      const cell = page.querySelector(`[data-rate="${rate.key}"]`);
      if (cell && cell.textContent !== rate.value) cell.textContent = rate.value;
    }
  });

  // An action of the page: `ask` (when given) confirms first, with the button still enabled so
  // focus can return to it; the button is disabled only while the action runs.
  const on = (button, run, ask) => {
    const b = $(button);
    if (!b) return;
    b.addEventListener("click", async () => {
      try {
        if (ask && !(await ask())) return;
        b.disabled = true;
        await run();
      } catch (e) {
        showError(e);
      } finally {
        b.disabled = false;
      }
    });
  };
  // Sending and stopping ask first, in the page's own dialog: its title, words and OK button
  // name what happens; Cancel and Escape do nothing and give focus back to the button.
  const ask = (button, title, text, ok, danger) => {
    $("confirm-title").textContent = title;
    $("confirm-ok").classList.toggle("danger", !!danger);
    $("confirm-ok").classList.toggle("primary", !danger);
    return confirmInPage($("confirm"), $(button), text, ok);
  };
  on("send-now", async () => {
    await api("POST", `/manual_messages/${id}/send`);
    window.location.reload();
  }, async () => {
    let n = null;
    try {
      const m = await api("GET", `/manual_messages/${id}`);
      n = (await api("POST", "/manual_messages/audience_count", { audience: m.audience })).count;
    } catch (_) { /* asked without the count */ }
    const who = n === null ? "its audience" : `${n.toLocaleString()} recipient${n === 1 ? "" : "s"}`;
    return ask("send-now", "Send now?", `Send this message to ${who} now?`, "Send");
  });
  on("unschedule", async () => {
    await api("POST", `/manual_messages/${id}/unschedule`);
    window.location.reload();
  });
  on("stop", async () => {
    await api("POST", `/manual_messages/${id}/stop`);
    window.location.reload();
  }, () => ask("stop", "Stop this message?",
    "Nobody who has not received it yet will receive it. This cannot be undone: a stopped message " +
    "can never be resumed. To send it again, create a new message to those who did not receive it.",
    "Stop", true));
  on("follow-up", async () => {
    const draft = await api("POST", `/manual_messages/${id}/follow_up`);
    window.location.href = `/app/messages/${draft.id}/edit`;
  });
})();
