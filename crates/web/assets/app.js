// Tidings admin app: the contacts list. Its filters, search, sort, columns and page live in the
// address (so a reload, the Back button and a shared link show the same list); the table sorts
// by a column's header; a selection can grow to every contact matching, which the composer gets
// as the filter itself; a saved segment can be renamed, edited and deleted in the page's own
// dialogs. Plain JavaScript, no build step.
(() => {
  "use strict";
  const root = document.getElementById("people");
  if (!root) return;
  const { el, api, errorText, filterBuilder, menu } = window.TidingsAdmin;
  const $ = (id) => document.getElementById(id);
  const schema = JSON.parse(root.dataset.schema);
  const segment = root.dataset.segment;
  const defaultSegment = root.dataset.defaultSegment;
  const builtin = root.dataset.builtin === "true";
  const segmentName = root.dataset.segmentName;
  let segmentQuery = null;
  try {
    segmentQuery = JSON.parse(root.dataset.segmentQuery);
  } catch (_) { /* shown as "cannot be edited here" */ }
  const perPage = 25;
  const DEFAULT_COLUMNS = ["name", "email", "role", "signed_up_at", "last_seen_at"];
  const DEFAULT_SORT = "created_at";
  const DEFAULT_ORDER = "desc";
  const MAX_PAGE = 100000;
  // The browser's own zone, named in every date's hover.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const exactFormat = new Intl.DateTimeFormat("en-CA", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  let columns = DEFAULT_COLUMNS.slice();
  let sort = DEFAULT_SORT;
  let order = DEFAULT_ORDER;
  let page = 0;
  let words = "";
  let seq = 0;
  let timer = null;
  let shown = { data: [], total: 0 };
  // The chosen contacts, or (allMatching) every contact the list's filters match.
  const selected = new Set();
  let allMatching = false;
  // While a segment's filters are edited, the list is its base segment and the rows.
  let editing = null;
  const builder = filterBuilder($("rows"), schema, () => changed(false));
  const attrs = builder.attrs;
  const sortable = (field) => {
    const a = attrs.get(field);
    return Boolean(a && a.custom === false && !["tag", "segment", "message"].includes(a.type));
  };
  const columnable = (field) => {
    const a = attrs.get(field);
    return Boolean(a && !["tag", "segment", "message"].includes(a.type));
  };

  // ---- What the list shows, as a query --------------------------------------------------------

  const base = () => (editing ? editing.base : segment);
  const searchGroup = (text) => ({
    operator: "OR",
    value: ["name", "email", "external_id"].map((field) => ({ field, operator: "~", value: text })),
  });

  /** The teammate's filters and search words, without the segment: null when there are none. */
  function narrowing() {
    const parts = [];
    const group = builder.query($("match").value);
    if (group) parts.push(group);
    const text = words.trim();
    if (text) parts.push(searchGroup(text));
    if (!parts.length) return null;
    return parts.length === 1 ? parts[0] : { operator: "AND", value: parts };
  }

  /** The whole list as one query: the segment, and every filter and the search beside it. */
  function query() {
    const seg = { field: "segment_id", operator: "=", value: base() };
    const parts = [seg];
    const group = builder.query($("match").value);
    if (group) parts.push(group);
    const text = words.trim();
    if (text) parts.push(searchGroup(text));
    return parts.length === 1 ? seg : { operator: "AND", value: parts };
  }

  // ---- The address ---------------------------------------------------------------------------

  function readAddress() {
    const p = new URLSearchParams(window.location.search);
    words = (p.get("q") || "").slice(0, 255);
    $("search").value = words;
    $("match").value = p.get("match") === "OR" ? "OR" : "AND";
    let rows = [];
    try {
      const parsed = JSON.parse(p.get("filters") || "[]");
      if (Array.isArray(parsed)) {
        rows = parsed.map((r) => (Array.isArray(r) ? { field: r[0], op: r[1], value: r[2] } : null));
      }
    } catch (_) { /* an unreadable filter list is left out; the rest of the address still counts */ }
    builder.set(rows);
    sort = sortable(p.get("sort")) ? p.get("sort") : DEFAULT_SORT;
    order = p.get("order") === "asc" ? "asc" : p.get("order") === "desc" ? "desc" : DEFAULT_ORDER;
    const n = Number(p.get("page"));
    page = Number.isInteger(n) && n >= 1 && n <= MAX_PAGE ? n - 1 : 0;
    const cols = (p.get("columns") || "").split(",").filter(columnable);
    columns = cols.length ? [...new Set(cols)] : DEFAULT_COLUMNS.slice();
    return p.get("edit") === "1";
  }

  function address() {
    const p = new URLSearchParams();
    if (segment !== defaultSegment) p.set("segment", segment);
    if (editing) p.set("edit", "1");
    if (words.trim()) p.set("q", words);
    const rows = builder.rows();
    if (rows.length) p.set("filters", JSON.stringify(rows.map((r) => [r.field, r.op, r.value])));
    if ($("match").value === "OR") p.set("match", "OR");
    if (sort !== DEFAULT_SORT || order !== DEFAULT_ORDER) {
      p.set("sort", sort);
      p.set("order", order);
    }
    if (columns.join(",") !== DEFAULT_COLUMNS.join(",")) p.set("columns", columns.join(","));
    if (page > 0) p.set("page", String(page + 1));
    const s = p.toString();
    return `${window.location.pathname}${s ? "?" + s : ""}`;
  }

  /** Writes the list's state into the address: a new history entry, or (typing) the same one. */
  function remember(push) {
    const next = address();
    if (next === window.location.pathname + window.location.search) return;
    if (push) window.history.pushState(null, "", next);
    else window.history.replaceState(null, "", next);
  }

  window.addEventListener("popstate", () => {
    const edit = readAddress();
    clearSelection();
    renderColumns();
    if (edit && split && !editing) {
      startEditing(split, true);
      return;
    }
    if (!edit && editing) stopEditing();
    load();
  });

  // ---- The table -----------------------------------------------------------------------------

  function showError(e) {
    const box = $("filter-error");
    box.textContent = errorText(e, "Could not load contacts. Check your connection and try again.");
    box.hidden = false;
  }

  function cell(c, field) {
    let v;
    if (field.startsWith("custom_attributes.")) v = (c.custom_attributes || {})[field.slice(18)];
    else if (field.startsWith("location.")) v = (c.location || {})[field.slice(9)];
    else v = c[field];
    const a = attrs.get(field);
    if (v === null || v === undefined) return "—";
    // A date as every page shows one: a <time> common.js makes relative, exact on hover, in
    // this browser's zone, which the hover names.
    if (a && a.type === "date" && typeof v === "number") {
      const d = new Date(v * 1000);
      const exact = `${exactFormat.format(d).replace(",", "")} (${zone})`;
      return el("time", { dateTime: d.toISOString(), title: exact, textContent: exact });
    }
    return String(v);
  }

  function header(field) {
    const label = (attrs.get(field) || { label: field }).label;
    const th = el("th", { scope: "col" });
    th.dataset.field = field;
    if (!sortable(field)) {
      th.textContent = label;
      return th;
    }
    const on = sort === field;
    th.setAttribute("aria-sort", on ? (order === "asc" ? "ascending" : "descending") : "none");
    const button = el("button", { type: "button", className: "sort" }, label, el("span", {
      className: "sort-mark", textContent: on ? (order === "asc" ? " ▲" : " ▼") : "",
    }));
    button.title = `Sort by ${label}`;
    button.addEventListener("click", () => {
      if (sort === field) order = order === "asc" ? "desc" : "asc";
      else {
        sort = field;
        order = "asc";
      }
      page = 0;
      remember(true);
      load();
    });
    th.append(button);
    return th;
  }

  function renderTable() {
    const list = shown.data;
    const all = el("input", { type: "checkbox", title: "Select all on this page" });
    all.setAttribute("aria-label", "Select all on this page");
    all.id = "select-page";
    all.checked = list.length > 0 && (allMatching || list.every((c) => selected.has(c.id)));
    all.addEventListener("change", () => {
      if (all.checked) for (const c of list) selected.add(c.id);
      else if (allMatching) clearSelection();
      else for (const c of list) selected.delete(c.id);
      renderTable();
    });
    const head = el("tr", {}, el("th", { className: "pick" }, all), ...columns.map(header));
    $("contacts").tHead.replaceChildren(head);
    const body = $("contacts").tBodies[0];
    body.replaceChildren();
    for (const c of list) {
      const box = el("input", { type: "checkbox", checked: allMatching || selected.has(c.id) });
      box.setAttribute("aria-label", `Select ${c.name || c.email || c.id}`);
      box.addEventListener("change", () => {
        if (allMatching) {
          // Leaving one out of "everyone matching" makes it a list again: this page, less one.
          allMatching = false;
          for (const x of list) selected.add(x.id);
        }
        if (box.checked) selected.add(c.id);
        else selected.delete(c.id);
        renderTable();
      });
      const tr = el("tr", {}, el("td", { className: "pick" }, box));
      tr.dataset.id = c.id;
      columns.forEach((f, i) => {
        const text = cell(c, f);
        const first = typeof text !== "string" || text === "—" ? c.name || c.email || `#${c.id}` : text;
        tr.append(el("td", {}, i === 0 ? el("a", { href: `/app/contacts/${c.id}`, textContent: first }) : text));
      });
      body.append(tr);
    }
    if (!list.length) {
      const why = narrowing() ? "No contacts match these filters." : "This segment has no contacts yet.";
      body.append(el("tr", {}, el("td", { colSpan: columns.length + 1, textContent: why, className: "muted" })));
    }
    updateSelection();
  }

  function updateSelection() {
    const total = shown.total;
    const pageIds = shown.data.map((c) => c.id);
    const wholePage = pageIds.length > 0 && pageIds.every((id) => selected.has(id));
    $("selection").hidden = !allMatching && selected.size === 0;
    $("selection").classList.toggle("all-matching", allMatching);
    const more = $("select-all-matching");
    if (allMatching) {
      $("selection-text").textContent =
        `All ${total.toLocaleString()} contacts matching these filters are selected. ` +
        "Message sends to these filters: whoever matches them when it is sent.";
      more.hidden = true;
    } else {
      $("selection-text").replaceChildren(el("span", { id: "selected-count", textContent: String(selected.size) }), " selected");
      more.hidden = !(wholePage && total > selected.size);
      more.textContent = `Select all ${total.toLocaleString()} contacts matching`;
    }
    $("start-conversation").disabled = allMatching || selected.size !== 1;
  }

  function clearSelection() {
    selected.clear();
    allMatching = false;
  }

  async function load() {
    const mine = ++seq;
    const body = {
      query: query(),
      pagination: { per_page: perPage, starting_after: page > 0 ? cursorAt(page * perPage) : null },
      sort: { field: sort, order: order === "asc" ? "ascending" : "descending" },
    };
    try {
      const list = await api("POST", "/contacts/search", body);
      if (mine !== seq) return;
      const last = Math.max(0, (list.pages.total_pages || 1) - 1);
      if (page > last) {
        // A page past the end (an old link, fewer contacts now): the last page instead.
        page = last;
        remember(false);
        load();
        return;
      }
      $("filter-error").hidden = true;
      shown = { data: list.data, total: list.total_count };
      $("count").textContent = list.total_count.toLocaleString();
      $("count-label").textContent = list.total_count === 1 ? "contact" : "contacts";
      $("next").disabled = !(list.pages && list.pages.next);
      $("prev").disabled = page === 0;
      $("page-info").textContent = list.total_count ? `Page ${page + 1} of ${list.pages.total_pages}` : "";
      renderTable();
    } catch (e) {
      if (mine === seq) showError(e);
    }
  }

  // The API's cursors are offsets ("o" and the number, its documented pattern), so a page
  // named in the address is found without walking the pages before it.
  const cursorAt = (offset) => `o${offset}`;

  /** The filters, the match or the search changed: back to the first page. */
  function changed(push) {
    page = 0;
    allMatching = false;
    remember(push);
    clearTimeout(timer);
    timer = setTimeout(load, 250);
  }

  function renderColumns() {
    const box = $("columns");
    box.replaceChildren(el("legend", { textContent: "Columns" }));
    for (const a of attrs.values()) {
      if (!columnable(a.field)) continue;
      const c = el("input", { type: "checkbox", checked: columns.includes(a.field) });
      c.addEventListener("change", () => {
        columns = c.checked ? [...columns, a.field] : columns.filter((x) => x !== a.field);
        if (!columns.length) columns = ["email"];
        remember(true);
        renderTable();
      });
      box.append(el("label", {}, c, " " + a.label));
    }
  }

  // ---- Messaging -----------------------------------------------------------------------------

  // Chosen contacts go to the simple composer as ids; "everyone matching" goes to the manual
  // message composer as the filter itself (segment and query), so contacts beyond this page,
  // and those who match by the time it is sent, are in it too.
  const composeFor = (ids) => `/app/messages/new?contacts=${[...ids].join(",")}`;
  function composeForFilter() {
    const audience = { segment_ids: [base()] };
    const q = narrowing();
    if (q) audience.query = q;
    window.location.href = `/app/messages/new?audience=${encodeURIComponent(JSON.stringify(audience))}`;
  }
  function message() {
    if (allMatching) composeForFilter();
    else if (selected.size) window.location.href = composeFor(selected);
  }
  const messageMenu = menu($("message"), $("message-menu"), { manual: true });
  $("message").addEventListener("click", () => {
    if (allMatching || selected.size) {
      message();
      return;
    }
    messageMenu.toggle();
  });
  $("manual-message").addEventListener("click", composeForFilter);
  $("message-selected").addEventListener("click", message);
  $("select-all-matching").addEventListener("click", () => {
    allMatching = true;
    renderTable();
  });
  $("clear-selection").addEventListener("click", () => {
    clearSelection();
    renderTable();
  });
  // A conversation with one contact starts in the light composer and lands in the conversation.
  $("start-conversation").addEventListener("click", () => {
    if (!allMatching && selected.size === 1) window.location.href = `/app/contacts/${[...selected][0]}/conversations/new`;
  });

  // ---- Saved segments ------------------------------------------------------------------------

  /**
   * A segment's query as this page builds it: its base segment, the rows and the search words;
   * null when it was written another way (through the API), which the page cannot edit.
   */
  function splitSegment(q) {
    const isBase = (f) => f && f.field === "segment_id" && f.operator === "=" && f.value !== null && typeof f.value !== "object";
    if (isBase(q)) return { base: String(q.value), match: "AND", rows: [], words: "" };
    if (!q || q.operator !== "AND" || !Array.isArray(q.value) || !isBase(q.value[0])) return null;
    const out = { base: String(q.value[0].value), match: "AND", rows: [], words: "" };
    for (const part of q.value.slice(1)) {
      const isSearch = part && part.operator === "OR" && Array.isArray(part.value) && part.value.length === 3 &&
        part.value.every((f, i) => f.field === ["name", "email", "external_id"][i] && f.operator === "~" && f.value === part.value[0].value);
      if (isSearch && !out.words) {
        out.words = String(part.value[0].value);
        continue;
      }
      const grouped = builder.fromQuery(part);
      if (!grouped || out.rows.length) return null;
      out.match = grouped.match;
      out.rows = grouped.rows;
    }
    return out;
  }

  function describe(split) {
    const segs = new Map(schema.segments.map((s) => [String(s.id), s.name]));
    const opWords = { "=": "is", "!=": "is not", "~": "contains", "!~": "does not contain", "^": "starts with", $: "ends with",
      ">": "is more than", "<": "is less than", ">=": "is at least", "<=": "is at most", IN: "is any of", NIN: "is none of",
      unknown: "is unknown", known: "has any value", more_than_days_ago: "more than … days ago",
      less_than_days_ago: "less than … days ago", exactly_days_ago: "exactly … days ago" };
    const named = (r) => {
      const a = attrs.get(r.field);
      let value = r.value;
      if (a.type === "tag") value = (schema.tags.find((t) => String(t.id) === value) || { name: value }).name;
      if (a.type === "segment") value = segs.get(value) || value;
      const op = (opWords[r.op] || r.op).replace("…", value);
      return r.op.endsWith("days_ago") || r.op === "unknown" || r.op === "known" ? `${a.label} ${op}` : `${a.label} ${op} ${value}`;
    };
    const parts = split.rows.map(named);
    let text = `${segs.get(split.base) || "Segment " + split.base}`;
    if (parts.length) text += `, where ${parts.join(split.match === "OR" ? " or " : " and ")}`;
    if (split.words) text += `${parts.length ? "," : ""} matching “${split.words}”`;
    return text;
  }

  function stopEditing() {
    editing = null;
    $("editing").hidden = true;
    $("segment-actions").hidden = false;
  }

  function startEditing(split, fromAddress) {
    editing = split;
    $("editing").hidden = false;
    $("editing-name").textContent = segmentName;
    $("segment-actions").hidden = true;
    if (!fromAddress) {
      $("match").value = split.match;
      builder.set(split.rows);
      words = split.words;
      $("search").value = words;
    }
    page = 0;
    clearSelection();
    remember(!fromAddress);
    load();
  }

  const dialogs = {
    open(d, focus) {
      d.showModal();
      if (focus) focus.focus();
    },
  };

  function nameDialog(title, value, onSave) {
    $("name-dialog-title").textContent = title;
    $("segment-name").value = value;
    $("name-error").hidden = true;
    $("segment-name").removeAttribute("aria-invalid");
    nameSave = onSave;
    dialogs.open($("name-dialog"), $("segment-name"));
  }
  let nameSave = null;
  $("name-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const name = $("segment-name").value.trim();
    const fail = (e) => {
      $("name-error").textContent = errorText(e);
      $("name-error").hidden = false;
      $("segment-name").setAttribute("aria-invalid", "true");
      $("segment-name").focus();
    };
    if (!name) {
      fail({ errors: [{ message: "Give the segment a name.", field: "name" }] });
      return;
    }
    $("name-ok").disabled = true;
    try {
      await nameSave(name);
    } catch (e) {
      fail(e);
    } finally {
      $("name-ok").disabled = false;
    }
  });
  $("name-cancel").addEventListener("click", () => $("name-dialog").close());

  $("save-segment").addEventListener("click", () => {
    nameDialog("Save as segment", "", async (name) => {
      const s = await api("POST", "/segments", { name, query: query() });
      window.location.href = `/app/contacts?segment=${s.id}`;
    });
  });

  const segmentPath = `/segments/${segment}`;
  const personType = root.dataset.personType;
  const split = builtin ? null : splitSegment(segmentQuery);
  if (!builtin) {
    const line = $("segment-filters");
    line.hidden = false;
    line.textContent = split ? `Filters: ${describe(split)}` : "This segment's filters were written through the API and cannot be edited here.";
    if (!split) $("edit-segment").disabled = true;
    $("rename-segment").addEventListener("click", () => {
      nameDialog("Rename segment", segmentName, async (name) => {
        await api("PUT", segmentPath, { name, query: segmentQuery, person_type: personType });
        window.location.href = `/app/contacts?segment=${segment}`;
      });
    });
    $("edit-segment").addEventListener("click", () => { if (split) startEditing(split, false); });
    $("cancel-edit").addEventListener("click", () => { window.location.href = `/app/contacts?segment=${segment}`; });
    $("save-edit").addEventListener("click", async () => {
      $("save-edit").disabled = true;
      try {
        await api("PUT", segmentPath, { name: segmentName, query: query(), person_type: personType });
        window.location.href = `/app/contacts?segment=${segment}`;
      } catch (e) {
        showError(e);
      } finally {
        $("save-edit").disabled = false;
      }
    });
    $("delete-segment").addEventListener("click", () => {
      $("delete-error").hidden = true;
      dialogs.open($("delete-dialog"), $("delete-cancel"));
    });
    $("delete-cancel").addEventListener("click", () => $("delete-dialog").close());
    $("delete-ok").addEventListener("click", async () => {
      $("delete-ok").disabled = true;
      try {
        await api("DELETE", segmentPath);
        window.location.href = "/app/contacts";
      } catch (e) {
        $("delete-error").textContent = errorText(e);
        $("delete-error").hidden = false;
      } finally {
        $("delete-ok").disabled = false;
      }
    });
  }

  // ---- Wiring --------------------------------------------------------------------------------

  $("search").addEventListener("input", () => {
    words = $("search").value;
    changed(false);
  });
  $("add-filter").addEventListener("click", () => builder.add());
  $("match").addEventListener("change", () => changed(true));
  $("next").addEventListener("click", () => { page += 1; remember(true); load(); });
  $("prev").addEventListener("click", () => { page = Math.max(0, page - 1); remember(true); load(); });
  $("choose-columns").addEventListener("click", () => { $("columns").hidden = !$("columns").hidden; });

  const editFromAddress = readAddress();
  renderColumns();
  if (editFromAddress && split) startEditing(split, true);
  else load();
})();
