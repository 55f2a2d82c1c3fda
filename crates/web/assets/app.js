// Tidings admin app: the user list's filter builder, live count, paging, columns, selection,
// and the "Message" and "Start a conversation" buttons. Plain JavaScript, no build step.
(() => {
  "use strict";
  const root = document.getElementById("people");
  if (!root) return;
  const { el, api, errorText, filterBuilder, menu } = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);
  const schema = JSON.parse(root.dataset.schema);
  const segment = root.dataset.segment;
  const perPage = 25;
  let columns = ["name", "email", "role", "signed_up_at", "last_seen_at"];
  let cursors = [null];
  let page = 0;
  let seq = 0;
  let timer = null;
  const selected = new Set();
  const builder = filterBuilder($("rows"), schema, changed);
  const attrs = builder.attrs;

  function query() {
    const base = { field: "segment_id", operator: "=", value: segment };
    const group = builder.query($("match").value);
    return group ? { operator: "AND", value: [base, group] } : base;
  }

  function showError(e) {
    const box = $("filter-error");
    box.textContent = errorText(e, "Could not load contacts. Check your connection and try again.");
    box.hidden = false;
  }

  function cell(c, field) {
    let v;
    if (field.startsWith("custom_attributes.")) v = c.custom_attributes[field.slice(18)];
    else if (field.startsWith("location.")) v = c.location[field.slice(9)];
    else v = c[field];
    const a = attrs.get(field);
    if (v === null || v === undefined) return "—";
    // A date as every page shows one: a <time> common.js makes relative, exact on hover.
    if (a && a.type === "date") {
      const d = new Date(v * 1000);
      return el("time", { dateTime: d.toISOString(), title: d.toLocaleString(), textContent: d.toLocaleString() });
    }
    return String(v);
  }

  function renderTable(list) {
    const head = el("tr");
    const all = el("input", { type: "checkbox", title: "Select all on this page" });
    all.setAttribute("aria-label", "Select all on this page");
    all.checked = list.data.length > 0 && list.data.every((c) => selected.has(c.id));
    all.addEventListener("change", () => {
      for (const c of list.data) all.checked ? selected.add(c.id) : selected.delete(c.id);
      renderTable(list);
    });
    head.append(el("th", {}, all), ...columns.map((f) => el("th", { textContent: (attrs.get(f) || { label: f }).label })));
    $("contacts").tHead.replaceChildren(head);
    const body = $("contacts").tBodies[0];
    body.replaceChildren();
    for (const c of list.data) {
      const box = el("input", { type: "checkbox", checked: selected.has(c.id) });
      box.setAttribute("aria-label", `Select ${c.name || c.email || c.id}`);
      box.addEventListener("change", () => { box.checked ? selected.add(c.id) : selected.delete(c.id); updateSelection(); });
      const tr = el("tr", {}, el("td", {}, box));
      tr.dataset.id = c.id;
      columns.forEach((f, i) => {
        const text = cell(c, f);
        tr.append(el("td", {}, i === 0 ? el("a", { href: `/app/contacts/${c.id}`, textContent: typeof text !== "string" || text === "—" ? (c.email || `#${c.id}`) : text }) : text));
      });
      body.append(tr);
    }
    if (!list.data.length) body.append(el("tr", {}, el("td", { colSpan: columns.length + 1, textContent: "No contacts match these filters.", className: "muted" })));
    updateSelection();
  }

  function updateSelection() {
    $("selection").hidden = selected.size === 0;
    $("selected-count").textContent = String(selected.size);
    $("start-conversation").disabled = selected.size !== 1;
  }

  async function load() {
    const mine = ++seq;
    const body = { query: query(), pagination: { per_page: perPage, starting_after: cursors[page] }, sort: { field: "created_at", order: "descending" } };
    try {
      const list = await api("POST", "/contacts/search", body);
      if (mine !== seq) return;
      $("filter-error").hidden = true;
      $("count").textContent = list.total_count.toLocaleString();
      $("count-label").textContent = list.total_count === 1 ? "contact" : "contacts";
      const next = list.pages && list.pages.next && list.pages.next.starting_after;
      cursors[page + 1] = next || undefined;
      $("next").disabled = !next;
      $("prev").disabled = page === 0;
      $("page-info").textContent = list.total_count ? `Page ${page + 1} of ${list.pages.total_pages}` : "";
      renderTable(list);
    } catch (e) {
      if (mine === seq) showError(e);
    }
  }

  function changed() {
    page = 0;
    cursors = [null];
    clearTimeout(timer);
    timer = setTimeout(load, 200);
  }

  function renderColumns() {
    const box = $("columns");
    box.replaceChildren(el("legend", { textContent: "Columns" }));
    for (const a of attrs.values()) {
      if (["tag", "segment", "message"].includes(a.type)) continue;
      const c = el("input", { type: "checkbox", checked: columns.includes(a.field) });
      c.addEventListener("change", () => {
        columns = c.checked ? [...columns, a.field] : columns.filter((x) => x !== a.field);
        if (!columns.length) columns = ["email"];
        load();
      });
      box.append(el("label", {}, c, " " + a.label));
    }
  }

  // "Message" with contacts selected opens the simple composer for them; with none selected it
  // offers the manual message composer, starting from this list's segment and filters.
  const composeFor = (ids) => `/app/messages/new?contacts=${[...ids].join(",")}`;
  const messageMenu = menu($("message"), $("message-menu"), { manual: true });
  $("message").addEventListener("click", () => {
    if (selected.size) {
      window.location.href = composeFor(selected);
      return;
    }
    messageMenu.toggle();
  });
  $("manual-message").addEventListener("click", () => {
    const group = builder.query($("match").value);
    const audience = { segment_ids: [segment] };
    if (group) audience.query = group;
    window.location.href = `/app/messages/new?audience=${encodeURIComponent(JSON.stringify(audience))}`;
  });
  $("message-selected").addEventListener("click", () => { window.location.href = composeFor(selected); });
  // A conversation with one contact starts in the light composer and lands in the conversation.
  $("start-conversation").addEventListener("click", () => {
    if (selected.size === 1) window.location.href = `/app/contacts/${[...selected][0]}/conversations/new`;
  });
  $("add-filter").addEventListener("click", () => builder.add());
  $("match").addEventListener("change", changed);
  $("next").addEventListener("click", () => { page += 1; load(); });
  $("prev").addEventListener("click", () => { page = Math.max(0, page - 1); load(); });
  $("choose-columns").addEventListener("click", () => { $("columns").hidden = !$("columns").hidden; });
  $("save-segment").addEventListener("click", async () => {
    const name = window.prompt("Name of the new segment");
    if (!name) return;
    try {
      const s = await api("POST", "/segments", { name, query: query() });
      window.location.href = `/app/contacts?segment=${s.id}`;
    } catch (e) {
      showError(e);
    }
  });
  renderColumns();
  builder.render();
  load();
})();
