// Tidings admin app: the user list's filter builder, live count, paging, columns and selection.
// Plain JavaScript, no build step. Talks to the REST API with the session cookie and CSRF token.
(() => {
  "use strict";
  const root = document.getElementById("people");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const schema = JSON.parse(root.dataset.schema);
  const csrf = root.dataset.csrf;
  const segment = root.dataset.segment;
  const attrs = new Map(schema.attributes.map((a) => [a.field, a]));
  attrs.set("tag_id", { field: "tag_id", label: "Tag", type: "tag", operators: ["=", "!="] });
  attrs.set("segment_id", { field: "segment_id", label: "Segment", type: "segment", operators: ["=", "!="] });
  const OPS = {
    "=": "is", "!=": "is not", IN: "is any of", NIN: "is none of", "~": "contains", "!~": "does not contain",
    "^": "starts with", $: "ends with", ">": "greater than", "<": "less than", ">=": "at least", "<=": "at most",
    more_than_days_ago: "more than … days ago", less_than_days_ago: "less than … days ago",
    exactly_days_ago: "exactly … days ago", unknown: "is unknown", known: "has any value",
  };
  const DATE_OPS = { "=": "on", ">": "after", "<": "before" };
  const perPage = 25;
  let filters = [];
  let columns = ["name", "email", "role", "signed_up_at", "last_seen_at"];
  let cursors = [null];
  let page = 0;
  let seq = 0;
  let timer = null;
  const selected = new Set();

  const el = (tag, props = {}, ...kids) => {
    const e = document.createElement(tag);
    Object.assign(e, props);
    for (const k of kids) e.append(k);
    return e;
  };
  const option = (value, label, sel) => el("option", { value, textContent: label, selected: sel });

  function operatorsFor(a) {
    const ops = a.operators.slice();
    if (a.type !== "tag" && a.type !== "segment") ops.push("unknown", "known");
    return ops;
  }

  function valueInput(f, a) {
    if (f.op === "unknown" || f.op === "known") return el("span");
    const onInput = (e) => { f.value = e.target.value; changed(); };
    let input;
    if (f.op.endsWith("days_ago")) input = el("input", { type: "number", min: 0, placeholder: "days" });
    else if (a.type === "tag" || a.type === "segment") {
      const list = a.type === "tag" ? schema.tags : schema.segments;
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
    input.addEventListener(input.tagName === "SELECT" ? "change" : "input", onInput);
    return input;
  }

  function renderRows() {
    const rows = $("rows");
    rows.replaceChildren();
    filters.forEach((f, i) => {
      const a = attrs.get(f.field);
      const field = el("select", { "ariaLabel": "Attribute" });
      field.setAttribute("aria-label", "Attribute");
      for (const x of attrs.values()) field.append(option(x.field, x.custom ? `${x.label} (custom)` : x.label, x.field === f.field));
      field.addEventListener("change", () => {
        f.field = field.value;
        f.op = operatorsFor(attrs.get(f.field))[0];
        f.value = "";
        renderRows();
        changed();
      });
      const op = el("select");
      op.setAttribute("aria-label", "Operator");
      for (const o of operatorsFor(a)) op.append(option(o, (a.type === "date" && DATE_OPS[o]) || OPS[o] || o, o === f.op));
      op.addEventListener("change", () => { f.op = op.value; renderRows(); changed(); });
      const remove = el("button", { type: "button", textContent: "✕", title: "Remove this filter" });
      remove.addEventListener("click", () => { filters.splice(i, 1); renderRows(); changed(); });
      rows.append(el("div", { className: "filter-row" }, field, op, valueInput(f, a), remove));
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

  function query() {
    const base = { field: "segment_id", operator: "=", value: segment };
    const done = filters.filter((f) => f.op === "unknown" || f.op === "known" || String(f.value).trim() !== "");
    if (!done.length) return base;
    return { operator: "AND", value: [base, { operator: $("match").value, value: done.map(leaf) }] };
  }

  async function api(path, body) {
    const r = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const json = await r.json().catch(() => ({}));
    if (!r.ok) throw json;
    return json;
  }

  function showError(e) {
    const box = $("filter-error");
    const err = e && e.errors && e.errors[0];
    box.textContent = err ? err.message : "Could not load contacts. Check your connection and try again.";
    box.hidden = false;
  }

  function cell(c, field) {
    let v;
    if (field.startsWith("custom_attributes.")) v = c.custom_attributes[field.slice(18)];
    else if (field.startsWith("location.")) v = c.location[field.slice(9)];
    else v = c[field];
    const a = attrs.get(field);
    if (v === null || v === undefined) return "—";
    if (a && a.type === "date") return new Date(v * 1000).toLocaleString();
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
        tr.append(el("td", {}, i === 0 ? el("a", { href: `/app/contacts/${c.id}`, textContent: text === "—" ? (c.email || `#${c.id}`) : text }) : text));
      });
      body.append(tr);
    }
    if (!list.data.length) body.append(el("tr", {}, el("td", { colSpan: columns.length + 1, textContent: "No contacts match these filters.", className: "muted" })));
    updateSelection();
  }

  function updateSelection() {
    $("selection").hidden = selected.size === 0;
    $("selected-count").textContent = String(selected.size);
  }

  async function load() {
    const mine = ++seq;
    const body = { query: query(), pagination: { per_page: perPage, starting_after: cursors[page] }, sort: { field: "created_at", order: "descending" } };
    try {
      const list = await api("/contacts/search", body);
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
      if (a.type === "tag" || a.type === "segment") continue;
      const c = el("input", { type: "checkbox", checked: columns.includes(a.field) });
      c.addEventListener("change", () => {
        columns = c.checked ? [...columns, a.field] : columns.filter((x) => x !== a.field);
        if (!columns.length) columns = ["email"];
        load();
      });
      box.append(el("label", {}, c, " " + a.label));
    }
  }

  $("add-filter").addEventListener("click", () => {
    filters.push({ field: "email", op: "~", value: "" });
    renderRows();
  });
  $("match").addEventListener("change", changed);
  $("next").addEventListener("click", () => { page += 1; load(); });
  $("prev").addEventListener("click", () => { page = Math.max(0, page - 1); load(); });
  $("choose-columns").addEventListener("click", () => { $("columns").hidden = !$("columns").hidden; });
  $("save-segment").addEventListener("click", async () => {
    const name = window.prompt("Name of the new segment");
    if (!name) return;
    try {
      const s = await api("/segments", { name, query: query() });
      window.location.href = `/app/contacts?segment=${s.id}`;
    } catch (e) {
      showError(e);
    }
  });
  renderColumns();
  renderRows();
  load();
})();
