//! The contacts list as a teammate uses it, in real headless Chromium at desktop (1280×800) and
//! phone (390×844) sizes, over the seeded cast and thirty club members (two pages):
//! the search, filters, sort and page live in the address, so a reload and Back show the same
//! list, and an address with odd values shows what it can; the search finds by name, email and
//! user ID; a column's header sorts the rows both ways; "Select all 30 contacts matching" reaches
//! past the first page, and the composer gets it as the filter, whose send reaches all thirty; the
//! selection bar stays in view while the page scrolls; a saved segment is renamed, edited and
//! deleted in the page's own dialogs, and each change is there after a reload; a workspace with no
//! contacts says how to get some. Also the dates: the list's hover names the browser's zone, the
//! conversation's sidebar draws its dates as every page does, and the Inbox's tabs scroll sideways
//! on a phone. Screenshots: `docs/screenshots/contacts-{desktop,phone}.png`, and the temporary
//! folder's `tidings-contacts-{desktop,phone}-*.png`.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use crate::app::App;
use crate::csp::no_violations;
use crate::messages::{accept_confirms, log_in, wait_contains, wait_text};
use crate::webdriver::{Browser, Result};
use crate::{BACKSPACE, CONTROL, RELEASE, WAIT, chromedriver_or_skip, wait_for_path};

/// How many club members are seeded beside the cast: more than the list's page of 25.
const MEMBERS: usize = 30;
/// When every member signed up: 2023-11-14 22:13:20 UTC.
const SIGNED_UP: i64 = 1_700_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contacts_list_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contacts_list_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let phone = width < 700;
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let members = seed(&app).await.unwrap_or_else(|e| panic!("[{size}] seed: {e}"));
    let b = Browser::start(&driver, width, height, phone)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start the browser: {e}"));
    let result = scenario(&app, &b, &members, size, phone).await;
    let _ = b.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
    // A first run: no contacts at all.
    let empty = App::start_empty().await.unwrap_or_else(|e| panic!("[{size}] start an empty Tidings: {e}"));
    let b = Browser::start(&driver, width, height, phone)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start the browser: {e}"));
    let result = first_run(&empty, &b, size).await;
    let _ = b.quit().await;
    if let Err(e) = result {
        panic!("[{size}] first run: {e}");
    }
}

/// Thirty club members ("Member 01" … "Member 30", user IDs `club-01` …), all users who signed
/// up at [`SIGNED_UP`]; returns their ids in order.
async fn seed(app: &App) -> Result<Vec<i64>> {
    let people: Vec<Json> = (1..=MEMBERS)
        .map(|n| {
            json!({"role": "user", "name": format!("Member {n:02}"), "email": format!("member{n:02}@club.test"),
                   "external_id": format!("club-{n:02}"), "signed_up_at": SIGNED_UP})
        })
        .collect();
    app.api.post("/contacts/bulk", json!({"contacts": people})).await?;
    let mut ids = Vec::new();
    for n in 1..=MEMBERS {
        let found = app.api.get(&format!("/contacts/find_by_external_id/club-{n:02}")).await?;
        ids.push(found["id"].as_str().and_then(|s| s.parse().ok()).ok_or_else(|| fail!("member {n}: {found}"))?);
    }
    Ok(ids)
}

fn member(n: usize) -> String {
    format!("Member {n:02}")
}

async fn scenario(app: &App, b: &Browser, members: &[i64], size: &str, phone: bool) -> Result<()> {
    let users = app.ids_where(|p| p.role == "user").len() + MEMBERS;
    log_in(app, b).await?;
    wait_text(b, ".bar .count", &format!("{users} contacts")).await?;

    // 1. Search, sort and page, then a reload: the same list, read back from the address.
    b.find("#search").await?.send_keys("club").await?;
    wait_text(b, ".bar .count", "30 contacts").await?;
    sort_by(b, "name", "ascending").await?;
    expect_names(b, &(1..=25).map(member).collect::<Vec<_>>()).await?;
    b.find("#next").await?.click().await?;
    let page_two: Vec<String> = (26..=30).map(member).collect();
    expect_names(b, &page_two).await?;
    let url = b.current_url().await?;
    for part in ["q=club", "sort=name", "order=asc", "page=2"] {
        assert!(url.contains(part), "the address keeps {part}: {url}");
    }
    b.execute("window.location.reload();", json!([])).await?;
    expect_names(b, &page_two).await?;
    wait_text(b, "#page-info", "Page 2 of 2").await?;
    assert_eq!(b.find("#search").await?.property("value").await?, "club", "the search box after a reload");
    assert_eq!(sorted(b, "name").await?, "ascending", "the sorted column after a reload");

    // 2. The header sorts the other way, from the first page; Back returns to the list before.
    sort_by(b, "name", "descending").await?;
    expect_names(b, &(6..=30).rev().map(member).collect::<Vec<_>>()).await?;
    b.execute("window.history.back();", json!([])).await?;
    expect_names(b, &page_two).await?;
    assert_eq!(sorted(b, "name").await?, "ascending", "Back restores the order");
    // Only the attributes the API sorts by have a button: plan (custom) shows as plain text.
    b.goto(&app.url("/app/contacts?columns=name,custom_attributes.plan")).await?;
    wait_text(b, ".bar .count", &format!("{users} contacts")).await?;
    assert!(b.find_all("th[data-field=\"custom_attributes.plan\"] button").await?.is_empty(), "plan is not sortable");
    assert_eq!(b.find("th[data-field=\"custom_attributes.plan\"]").await?.text().await?, "plan");

    // 3. Odd addresses: what cannot be read is left out, the rest still applies.
    let pro = app.ids_where(|p| p.role == "user" && p.plan == Some("pro"));
    let filters = json!([["custom_attributes.plan", "=", "pro"], ["nope", "=", "x"], ["email", "??", "a"], 7]);
    b.goto(&app.url(&format!(
        "/app/contacts?filters={}&sort=nope&order=sideways&page=-3&columns=zzz&match=maybe",
        urlencoding(&filters.to_string())
    )))
    .await?;
    expect_ids(b, "4 contacts", &pro).await?;
    assert_eq!(b.find_all("#rows .filter-row").await?.len(), 1, "the one readable filter is shown");
    b.goto(&app.url("/app/contacts?filters=%7Bnot%20json&q=ada&page=99")).await?;
    expect_ids(b, "1 contact", &BTreeSet::from([app.id("ada@acme.test")])).await?;
    assert!(b.find("#filter-error").await?.attribute("hidden").await?.is_some(), "no error for an odd address");
    // The search reads user IDs too, and emails.
    search(b, "club-07").await?;
    expect_ids(b, "1 contact", &BTreeSet::from([members[6]])).await?;
    search(b, "NAVY.test").await?;
    expect_ids(b, "1 contact", &BTreeSet::from([app.id("grace@navy.test")])).await?;

    // 4. The dates' hover: the exact time in the browser's zone, which it names.
    b.goto(&app.url("/app/contacts?q=member%2001")).await?;
    let zone = b.execute("return Intl.DateTimeFormat().resolvedOptions().timeZone;", json!([])).await?;
    let zone = zone.as_str().unwrap_or_default().to_owned();
    let time = b
        .wait_for("Member 01's sign-up date", WAIT, async || {
            b.find(&format!("#contacts tr[data-id=\"{}\"] time", members[0])).await
        })
        .await?;
    let title = time.attribute("title").await?.unwrap_or_default();
    assert!(title.ends_with(&format!("({zone})")), "the hover names the browser's zone {zone}: {title:?}");
    if zone == "UTC" || zone == "Etc/UTC" {
        assert_eq!(title, format!("2023-11-14 22:13 ({zone})"));
    }
    assert!(time.text().await?.contains("ago"), "the date itself reads relative");

    // 5. Select the page, then all 30 matching (a filter and the search together); the bar stays
    //    in view while the page scrolls.
    let filters = json!([["email", "$", "@club.test"]]).to_string();
    b.goto(&app.url(&format!("/app/contacts?q=member&filters={}&sort=name&order=asc", urlencoding(&filters)))).await?;
    expect_names(b, &(1..=25).map(member).collect::<Vec<_>>()).await?;
    b.find("#select-page").await?.click().await?;
    wait_text(b, "#selection-text", "25 selected").await?;
    let more = b.find("#select-all-matching").await?;
    assert_eq!(more.text().await?, "Select all 30 contacts matching");
    more.click().await?;
    wait_contains(b, "#selection-text", "All 30 contacts matching these filters are selected").await?;
    let bar = scrolled_bar(b).await?;
    assert!(bar["scrolled"].as_f64() > Some(100.0), "the page scrolled: {bar}");
    let top = bar["top"].as_f64().unwrap_or(-1.0);
    assert!((0.0..=2.0).contains(&top), "the selection bar stays at the top of the screen: {bar}");
    b.screenshot(&std::env::temp_dir().join(format!("tidings-contacts-{size}-scrolled.png"))).await?;
    b.execute("window.scrollTo(0, 0);", json!([])).await?;
    // Clear empties it; select again for the message.
    b.find("#clear-selection").await?.click().await?;
    b.wait_for("the bar to hide", WAIT, async || {
        let hidden = b.execute("return document.getElementById('selection').hidden;", json!([])).await?;
        if hidden == json!(true) { Ok(()) } else { Err(fail!("still shown")) }
    })
    .await?;
    b.find("#select-page").await?.click().await?;
    b.find("#select-all-matching").await?.click().await?;
    wait_contains(b, "#selection-text", "All 30 contacts").await?;
    crate::check_layout(b, phone).await?;
    crate::composer_tools::keep(b, &format!("contacts-{size}")).await?;
    b.screenshot(&std::env::temp_dir().join(format!("tidings-contacts-{size}-list.png"))).await?;
    no_violations(b, "the contacts list").await?;

    // 6. Message: the composer gets the filter, never a list of ids, and the send reaches all 30.
    b.find("#message-selected").await?.click().await?;
    wait_for_path(b, app, "/app/messages/new").await?;
    let url = b.current_url().await?;
    assert!(!url.contains("contacts="), "no list of ids: {url}");
    let audience = audience_of(&url)?;
    assert_eq!(audience["segment_ids"], json!([app_segment(app, "All users").await?]), "{audience}");
    assert_eq!(
        audience["query"]["value"][0],
        json!({"operator": "AND", "value": [{"field": "email", "operator": "$", "value": "@club.test"}]}),
        "the filter: {audience}"
    );
    let words = &audience["query"]["value"][1]["value"];
    assert_eq!(words.as_array().map(Vec::len), Some(3), "name, email and user ID: {audience}");
    assert!(words.as_array().into_iter().flatten().all(|f| f["value"] == "member"), "the search: {audience}");
    wait_text(b, "#audience-count", "30").await?;
    b.find("#body").await?.send_keys("Club news: the pool opens on Monday").await?;
    accept_confirms(b).await?;
    b.find("#send").await?.click().await?;
    let message = b
        .wait_for("the message's page", WAIT, async || {
            let url = b.current_url().await?;
            let id = url.rsplit('/').next().unwrap_or_default().to_owned();
            if url.contains("/app/messages/") && id.chars().all(|c| c.is_ascii_digit()) && !id.is_empty() {
                Ok(id)
            } else {
                Err(fail!("at {url}"))
            }
        })
        .await?;
    let list = app.api.get(&format!("/manual_messages/{message}/recipients?stat=targeted&per_page=150")).await?;
    let targeted: BTreeSet<i64> =
        list["data"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()?.parse().ok()).collect();
    assert_eq!(targeted, members.iter().copied().collect::<BTreeSet<i64>>(), "every member, past the first page too");

    segments(app, b, size).await?;
    sidebar_and_inbox(app, b, size).await
}

/// Saves a segment, renames, edits and deletes it, each seen again after a reload.
async fn segments(app: &App, b: &Browser, size: &str) -> Result<()> {
    let pro = app.ids_where(|p| p.role == "user" && p.plan == Some("pro"));
    let free = app.ids_where(|p| p.role == "user" && p.plan == Some("free"));
    b.goto(&app.url("/app/contacts")).await?;
    assert!(b.find_all("#rename-segment, #edit-segment, #delete-segment").await?.is_empty(), "built-ins stay");
    let filters = json!([["custom_attributes.plan", "=", "pro"]]).to_string();
    b.goto(&app.url(&format!("/app/contacts?filters={}", urlencoding(&filters)))).await?;
    expect_ids(b, "4 contacts", &pro).await?;
    b.find("#save-segment").await?.click().await?;
    dialog_open(b, "name-dialog", true).await?;
    b.find("#segment-name").await?.send_keys("Pro").await?;
    b.find("#name-ok").await?.click().await?;
    wait_text(b, ".bar h1", "Pro").await?;
    expect_ids(b, "4 contacts", &pro).await?;
    wait_text(b, "#segment-filters", "Filters: All users, where plan is pro").await?;

    // Rename: an empty name and a name in use are refused in the dialog, naming the field.
    b.find("#rename-segment").await?.click().await?;
    dialog_open(b, "name-dialog", true).await?;
    let name = b.find("#segment-name").await?;
    assert_eq!(name.property("value").await?, "Pro", "the dialog starts from the name");
    name.send_keys(&format!("{CONTROL}a{RELEASE}{BACKSPACE}")).await?;
    b.find("#name-ok").await?.click().await?;
    wait_contains(b, "#name-error", "name").await?;
    name.send_keys("All users").await?;
    b.find("#name-ok").await?.click().await?;
    wait_text(b, "#name-error", "Another segment has this name: choose another, or edit that one").await?;
    assert_eq!(name.attribute("aria-invalid").await?.as_deref(), Some("true"));
    name.send_keys(&format!("{CONTROL}a{RELEASE}{BACKSPACE}Pro plan")).await?;
    b.find("#name-ok").await?.click().await?;
    wait_text(b, ".bar h1", "Pro plan").await?;
    b.execute("window.location.reload();", json!([])).await?;
    wait_text(b, ".segments a.active", "Pro plan").await?;

    // Edit: its filters load into the builder; "Save changes" keeps the new ones.
    b.find("#edit-segment").await?.click().await?;
    wait_contains(b, "#editing", "Editing the filters of Pro plan").await?;
    let value = b.find("#rows .filter-row .value").await?;
    assert_eq!(value.property("value").await?, "pro", "the segment's filter is in the builder");
    value.send_keys(&format!("{CONTROL}a{RELEASE}{BACKSPACE}free")).await?;
    expect_ids(b, "3 contacts", &free).await?;
    b.screenshot(&std::env::temp_dir().join(format!("tidings-contacts-{size}-editing.png"))).await?;
    crate::check_layout(b, false).await?;
    b.find("#save-edit").await?.click().await?;
    wait_text(b, "#segment-filters", "Filters: All users, where plan is free").await?;
    b.execute("window.location.reload();", json!([])).await?;
    expect_ids(b, "3 contacts", &free).await?;
    assert!(b.find_all("#rows .filter-row").await?.is_empty(), "the saved filters are the segment's, not extra rows");

    // Delete: the page's own dialog; Cancel keeps it, Delete removes it.
    b.find("#delete-segment").await?.click().await?;
    dialog_open(b, "delete-dialog", true).await?;
    b.screenshot(&std::env::temp_dir().join(format!("tidings-contacts-{size}-delete.png"))).await?;
    b.find("#delete-cancel").await?.click().await?;
    dialog_open(b, "delete-dialog", false).await?;
    wait_text(b, ".bar h1", "Pro plan").await?;
    b.find("#delete-segment").await?.click().await?;
    b.find("#delete-ok").await?.click().await?;
    wait_text(b, ".bar h1", "All users").await?;
    b.execute("window.location.reload();", json!([])).await?;
    wait_text(b, ".bar h1", "All users").await?;
    for link in b.find_all(".segments a").await? {
        assert_ne!(link.text().await?, "Pro plan", "the deleted segment is gone");
    }
    no_violations(b, "the segment's dialogs").await
}

/// The conversation's sidebar draws dates as `<time>`; the Inbox's tabs scroll on a phone.
async fn sidebar_and_inbox(app: &App, b: &Browser, size: &str) -> Result<()> {
    let ada = app.id("ada@acme.test");
    app.api.put(&format!("/contacts/{ada}"), json!({"signed_up_at": SIGNED_UP})).await?;
    let started = app
        .api
        .post("/conversations", json!({"from": {"type": "user", "id": ada.to_string()}, "body": "Is the pool open?"}))
        .await?;
    let id = started["conversation_id"].as_str().ok_or_else(|| fail!("no conversation: {started}"))?;
    b.goto(&app.url(&format!("/app/conversations/{id}"))).await?;
    let time = b.find("#side dl.facts time[datetime]").await?;
    assert_eq!(time.attribute("datetime").await?.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(
        time.attribute("title").await?.as_deref(),
        Some("2023-11-14 22:13 (UTC)"),
        "exact, in the workspace's zone"
    );
    assert!(time.text().await?.ends_with("ago"), "relative, as everywhere");

    b.goto(&app.url("/app/inbox")).await?;
    let m = b
        .execute(
            "const t = document.getElementById('inbox-tabs'); const links = [...t.querySelectorAll('a')]; \
             const tops = new Set(links.map((a) => Math.round(a.getBoundingClientRect().top))); \
             t.scrollLeft = 40; const scrolled = t.scrollLeft; t.scrollLeft = 0; \
             return { lines: tops.size, overflow: getComputedStyle(t).overflowX, wider: t.scrollWidth > t.clientWidth, scrolled, \
                      right: Math.round(t.getBoundingClientRect().right), viewport: document.documentElement.clientWidth };",
            json!([]),
        )
        .await?;
    assert_eq!(m["lines"], 1, "the tabs stay on one line: {m}");
    assert_eq!(m["overflow"], "auto", "{m}");
    assert!(m["right"].as_i64() <= m["viewport"].as_i64(), "the tabs stay inside the screen: {m}");
    // Tabs wider than the screen (long counts, a narrow phone) scroll sideways rather than wrap:
    // squeezed to 150 px, they keep one line and scroll.
    let squeezed = b
        .execute(
            "const t = document.getElementById('inbox-tabs'); t.style.maxWidth = '150px';              const tops = new Set([...t.querySelectorAll('a')].map((a) => Math.round(a.getBoundingClientRect().top)));              t.scrollLeft = 40; const scrolled = t.scrollLeft; t.scrollLeft = 0; t.style.maxWidth = '';              return { lines: tops.size, wider: t.scrollWidth > 150, scrolled };",
            json!([]),
        )
        .await?;
    assert_eq!(squeezed["lines"], 1, "squeezed tabs stay on one line: {squeezed}");
    assert!(squeezed["scrolled"].as_f64() > Some(0.0), "and scroll sideways: {squeezed}");
    if m["wider"] == true {
        assert!(m["scrolled"].as_f64() > Some(0.0), "the tabs are wider than the screen and scroll sideways: {m}");
    }
    b.screenshot(&std::env::temp_dir().join(format!("tidings-contacts-{size}-inbox.png"))).await?;
    crate::check_layout(b, false).await
}

/// A workspace with no contacts: the page says how to bring them in and links to the import.
async fn first_run(app: &App, b: &Browser, size: &str) -> Result<()> {
    log_in(app, b).await?;
    wait_text(b, "#first-run h1", "No contacts yet").await?;
    let text = b.find("#first-run").await?.text().await?;
    for words in ["tidings import contacts", "Messenger", "POST /contacts"] {
        assert!(text.contains(words), "the first run mentions {words:?}: {text}");
    }
    let link = b.find("#first-run-import").await?;
    assert_eq!(link.attribute("href").await?.as_deref(), Some("/app/import"));
    assert!(b.find_all("#people").await?.is_empty(), "no empty table and filters on a first run");
    b.screenshot(&std::env::temp_dir().join(format!("tidings-contacts-{size}-first-run.png"))).await?;
    crate::check_layout(b, false).await?;
    no_violations(b, "the first run").await
}

/// Clicks a column's sort button until the column is sorted `order`.
async fn sort_by(b: &Browser, field: &str, order: &str) -> Result<()> {
    for _ in 0..2 {
        if sorted(b, field).await? == order {
            return Ok(());
        }
        let before = sorted(b, field).await?;
        b.find(&format!("th[data-field=\"{field}\"] button.sort")).await?.click().await?;
        b.wait_for("the order to change", WAIT, async || {
            let now = sorted(b, field).await?;
            if now != before { Ok(()) } else { Err(fail!("still {now}")) }
        })
        .await?;
    }
    let now = sorted(b, field).await?;
    if now == order { Ok(()) } else { Err(fail!("{field} sorted {now}, not {order}")) }
}

/// A column header's `aria-sort`, once the table is drawn.
async fn sorted(b: &Browser, field: &str) -> Result<String> {
    b.wait_for(&format!("the {field} header"), WAIT, async || {
        b.find(&format!("th[data-field=\"{field}\"]"))
            .await?
            .attribute("aria-sort")
            .await?
            .ok_or_else(|| fail!("no aria-sort"))
    })
    .await
}

/// Waits until the rows show exactly these names, in this order.
async fn expect_names(b: &Browser, names: &[String]) -> Result<()> {
    b.wait_for(&format!("the rows {names:?}"), WAIT, async || {
        let v = b
            .execute(
                "return [...document.querySelectorAll('#contacts tbody tr[data-id] td:nth-child(2)')].map((td) => td.textContent);",
                json!([]),
            )
            .await?;
        let shown: Vec<String> = serde_json::from_value(v).map_err(|e| fail!("{e}"))?;
        if shown == names { Ok(()) } else { Err(fail!("{shown:?}")) }
    })
    .await
}

async fn expect_ids(b: &Browser, count: &str, ids: &BTreeSet<i64>) -> Result<()> {
    crate::expect_list(b, count, ids).await
}

/// Types into the search box, replacing what it held.
async fn search(b: &Browser, words: &str) -> Result<()> {
    b.find("#search").await?.send_keys(&format!("{CONTROL}a{RELEASE}{BACKSPACE}{words}")).await
}

async fn dialog_open(b: &Browser, id: &str, open: bool) -> Result<()> {
    b.wait_for(&format!("#{id} to be {}", if open { "open" } else { "closed" }), WAIT, async || {
        let v = b.execute("return document.getElementById(arguments[0]).open;", json!([id])).await?;
        if v == json!(open) { Ok(()) } else { Err(fail!("open: {v}")) }
    })
    .await
}

/// Scrolls to the bottom of the page and measures the selection bar.
async fn scrolled_bar(b: &Browser) -> Result<Json> {
    b.execute("window.scrollTo(0, document.documentElement.scrollHeight);", json!([])).await?;
    b.wait_for("the page to scroll", WAIT, async || {
        let m = b
            .execute(
                "const r = document.getElementById('selection').getBoundingClientRect(); \
                 return { scrolled: window.scrollY, top: r.top, bottom: r.bottom, height: window.innerHeight };",
                json!([]),
            )
            .await?;
        if m["scrolled"].as_f64() > Some(0.0) { Ok(m) } else { Err(fail!("{m}")) }
    })
    .await
}

/// The audience the composer was opened with, from its address.
fn audience_of(url: &str) -> Result<Json> {
    let raw = url.split_once("audience=").map(|(_, a)| a.split('&').next().unwrap_or_default()).unwrap_or_default();
    let decoded = percent_decode(raw);
    serde_json::from_str(&decoded).map_err(|e| fail!("the audience in {url}: {e}"))
}

async fn app_segment(app: &App, name: &str) -> Result<String> {
    let list = app.api.get("/segments").await?;
    list["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["name"] == name)
        .and_then(|s| s["id"].as_str().map(str::to_owned))
        .ok_or_else(|| fail!("no segment {name}: {list}"))
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
