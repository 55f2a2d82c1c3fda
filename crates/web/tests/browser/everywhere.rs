//! The admin app's looks on every page, in real headless Chromium at desktop (1280×800) and phone
//! (390×844) sizes, in the light theme and in the dark one (the system's choice, emulated): the
//! favicon Tidings serves with its security headers; words readable on their background (4.5:1
//! at least) everywhere on the profile, the message list, a message's page (its rates and chart),
//! the Inbox and a conversation; times shown relative ("3 minutes ago") with the exact time, in
//! the workspace's zone, on hover; the profile's conversations (each named by its latest words)
//! and messages above its attribute cards, and "Last contacted" and "Last replied" filled in; the message list's figures shown on a
//! phone; nothing sticking out, overlapping or wrapping at 390 px. Screenshots land in the
//! temporary folder
//! (`tidings-everywhere-{desktop,phone}-{light,dark}-{profile,messages,message,inbox,conversation}.png`),
//! and the light theme's in the docs too (`docs/screenshots/{profile,messages,inbox,conversation}-{desktop,phone}.png`).

use serde_json::{Value as Json, json};
use tidings_engine::messages::{MessageInput, Then};

use crate::app::App;
use crate::csp::no_violations;
use crate::messages::{log_in, wait_contains};
use crate::webdriver::{Browser, Result};
use crate::{chromedriver_or_skip, wait_for_path};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_reads_well_at_desktop_size_in_both_themes() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_reads_well_at_phone_size_in_both_themes() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let pages = seed(&app).await.unwrap_or_else(|e| panic!("[{size}] seed: {e}"));
    favicon(&app).await.unwrap_or_else(|e| panic!("[{size}] {e}"));
    for dark in [false, true] {
        let theme = if dark { "dark" } else { "light" };
        let b = Browser::start_themed(&driver, width, height, width < 700, dark)
            .await
            .unwrap_or_else(|e| panic!("[{size} {theme}] start the browser: {e}"));
        let result = scenario(&app, &b, &pages, &format!("{size}-{theme}"), width < 700, dark).await;
        let _ = b.quit().await;
        if let Err(e) = result {
            panic!("[{size} {theme}] {e}");
        }
    }
}

/// What the pages show: Ada's conversation (her words, the owner's reply and a note, her answer)
/// and a message delivered to her. Returns (Ada's id, the conversation's id, the message's title).
struct Seeded {
    ada: i64,
    conversation: String,
    title: &'static str,
}

async fn seed(app: &App) -> Result<Seeded> {
    let ada = app.id("ada@acme.test");
    let store = &app.state.store;
    let ws = store.workspace(app.workspace_id).await.map_err(|e| fail!("{e}"))?.ok_or_else(|| fail!("no workspace"))?;
    let owner = store.teammates(ws.id).await.map_err(|e| fail!("{e}"))?.remove(0);
    let started = app
        .api
        .post("/conversations", json!({"from": {"type": "user", "id": ada.to_string()}, "body": "Where is my parcel?"}))
        .await?;
    let conversation =
        started["conversation_id"].as_str().ok_or_else(|| fail!("no conversation id: {started}"))?.to_owned();
    let admin = |kind: &str, body: &str| json!({"message_type": kind, "type": "admin", "admin_id": owner.id.to_string(), "body": body});
    let path = format!("/conversations/{conversation}/reply");
    app.api.post(&path, admin("note", "Ada is on the premium plan")).await?;
    app.api.post(&path, admin("comment", "It left the warehouse this morning.")).await?;
    app.api
        .post(
            &path,
            json!({"message_type": "comment", "type": "user", "intercom_user_id": ada.to_string(), "body": "Thanks!"}),
        )
        .await?;
    let title = "Spring prices";
    let input = MessageInput {
        title: Some(title.into()),
        body: Some("Hi {{first_name}}, our spring prices are out.".into()),
        audience: Some(json!({"contact_ids": [ada]})),
        ..MessageInput::default()
    };
    let engine = &app.state.engine;
    engine.create_message(&ws, owner.id, input, Then::Send).await.map_err(|e| fail!("send: {e}"))?;
    engine.deliver_pending(ws.id, ada).await.map_err(|e| fail!("deliver: {e}"))?;
    Ok(Seeded { ada, conversation, title })
}

/// `/favicon.svg` is an SVG, with the headers every answer carries.
async fn favicon(app: &App) -> Result<()> {
    let r = reqwest::get(app.url("/favicon.svg")).await.map_err(|e| fail!("GET /favicon.svg: {e}"))?;
    let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (status, kind, csp, nosniff) = (
        r.status().as_u16(),
        header("content-type"),
        header("content-security-policy"),
        header("x-content-type-options"),
    );
    let body = r.text().await.map_err(|e| fail!("the favicon's body: {e}"))?;
    if status != 200 || kind != "image/svg+xml" || !csp.contains("default-src 'self'") || nosniff != "nosniff" {
        return Err(fail!("/favicon.svg answered {status} {kind:?}, CSP {csp:?}, nosniff {nosniff:?}"));
    }
    if !body.starts_with("<svg") {
        return Err(fail!("/favicon.svg is no SVG: {body:.80}"));
    }
    Ok(())
}

async fn scenario(app: &App, b: &Browser, s: &Seeded, shot_name: &str, phone: bool, dark: bool) -> Result<()> {
    log_in(app, b).await?;
    let scheme = b.execute("return matchMedia('(prefers-color-scheme: dark)').matches;", json!([])).await?;
    if scheme != Json::Bool(dark) {
        return Err(fail!("the browser's prefers-color-scheme: dark is {scheme}, wanted {dark}"));
    }
    let icon = b.execute("return document.querySelector('link[rel=icon]')?.href || null;", json!([])).await?;
    if icon != json!(app.url("/favicon.svg")) {
        return Err(fail!("the page's icon is {icon}"));
    }

    // The profile: conversations and messages above the attribute cards, the dates of the last
    // contact and reply filled in.
    b.goto(&app.url(&format!("/app/contacts/{}", s.ada))).await?;
    wait_contains(b, "#history", s.title).await?;
    let order = b
        .execute(
            "const h = document.getElementById('history'); const cards = document.querySelector('.profile .columns:not(#history)'); \
             const dated = (label) => { const dt = [...document.querySelectorAll('dt')].find((d) => d.textContent === label); \
               return !!dt?.nextElementSibling?.querySelector('time[datetime]'); }; \
             return { first: !!(h.compareDocumentPosition(cards) & Node.DOCUMENT_POSITION_FOLLOWING), \
               conversations: h.querySelectorAll('#conversations li').length, \
               named: h.querySelector('#conversations li a')?.textContent, \
               contacted: dated('Last contacted'), replied: dated('Last replied') };",
            json!([]),
        )
        .await?;
    // A conversation is named by its latest words.
    if order != json!({"first": true, "conversations": 1, "named": "Thanks!", "contacted": true, "replied": true}) {
        return Err(fail!("the profile's history or dates: {order}"));
    }
    page_checks(b, shot_name, "profile", phone).await?;

    // The message list: on a phone each figure is on screen, under its name.
    b.goto(&app.url("/app/messages?tab=sent")).await?;
    wait_contains(b, "#messages", s.title).await?;
    let figures = b
        .execute(
            "const vw = document.documentElement.clientWidth; \
             return ['sent', 'seen', 'clicked', 'replied'].map((k) => { \
               const td = document.querySelector(`#messages tbody tr td[data-stat=${k}]`); const r = td.getBoundingClientRect(); \
               const th = document.querySelector('#messages thead').getBoundingClientRect().width > 1; \
               return { k, text: td.textContent.trim(), shown: r.width > 0 && r.left >= 0 && r.right <= vw, \
                 label: th ? 'header' : getComputedStyle(td, '::before').content }; });",
            json!([]),
        )
        .await?;
    for f in figures.as_array().into_iter().flatten() {
        let k = f["k"].as_str().unwrap_or_default();
        let want_label =
            if phone { json!(format!("\"{}{}\"", k[..1].to_uppercase(), &k[1..])) } else { json!("header") };
        if f["shown"] != json!(true)
            || f["text"].as_str().is_none_or(|t| t.parse::<i64>().is_err())
            || f["label"] != want_label
        {
            return Err(fail!("the message list's figure {f} (wanted label {want_label})"));
        }
    }
    page_checks(b, shot_name, "messages", phone).await?;

    // A message's page: its figures with their rates, and the chart of its delivery.
    let sent = app.api.get("/manual_messages?state=sent").await?;
    let id = sent["data"][0]["id"].as_str().ok_or_else(|| fail!("no sent message: {sent}"))?.to_owned();
    b.goto(&app.url(&format!("/app/messages/{id}"))).await?;
    b.wait_for("the message's chart", crate::WAIT, async || b.find("#chart svg rect.chart-sent").await).await?;
    page_checks(b, shot_name, "message", phone).await?;

    // The Inbox and the conversation.
    b.goto(&app.url("/app/inbox?view=all")).await?;
    wait_for_path(b, app, "/app/inbox").await?;
    wait_contains(b, "#inbox-list", "Ada Lovelace").await?;
    page_checks(b, shot_name, "inbox", phone).await?;
    b.goto(&app.url(&format!("/app/conversations/{}", s.conversation))).await?;
    wait_contains(b, "#parts", "It left the warehouse this morning.").await?;
    wait_contains(b, "#parts .look-note", "premium plan").await?;
    page_checks(b, shot_name, "conversation", phone).await?;
    Ok(())
}

/// What every page must hold to: relative times with the exact one on hover, words readable on
/// their backgrounds, nothing outside the screen, overlapping or wrapping, no CSP violation.
async fn page_checks(b: &Browser, shot_name: &str, page: &str, phone: bool) -> Result<()> {
    let path = std::env::temp_dir().join(format!("tidings-everywhere-{shot_name}-{page}.png"));
    // The relative times are written once the scripts ran: wait for the first.
    b.wait_for(&format!("{page}'s times to read relative"), crate::WAIT, async || {
        let t = b.execute(TIMES, json!([])).await?;
        if t["count"].as_i64() > Some(0) && t["bad"].as_array().is_some_and(Vec::is_empty) {
            Ok(())
        } else {
            Err(fail!("{t}"))
        }
    })
    .await?;
    b.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    // The light theme's main screens are the ones the docs show (the message's page is kept by
    // message_page.rs).
    if let Some(size) = shot_name.strip_suffix("-light")
        && page != "message"
    {
        crate::composer_tools::keep(b, &format!("{page}-{size}")).await?;
    }
    let poor = b.execute(CONTRAST, json!([])).await?;
    if poor.as_array().is_none_or(|p| !p.is_empty()) {
        return Err(fail!("{page}: words below 4.5:1 contrast on their background: {poor:#}"));
    }
    crate::check_layout(b, false).await?;
    if phone {
        let crowded = b.execute(CROWDED, json!([])).await?;
        if crowded.as_array().is_none_or(|p| !p.is_empty()) {
            return Err(fail!("{page}: things overlap or wrap at phone size: {crowded:#}"));
        }
    }
    no_violations(b, page).await
}

/// Every `<time>`: its words relative, its title the exact time with the workspace's zone.
const TIMES: &str = r#"
const times = [...document.querySelectorAll('time[datetime]')];
const bad = times.filter((t) => !/^\d{4}-\d\d-\d\d \d\d:\d\d \(.+\)$/.test(t.title)
    || !/(\bnow\b|\bago\b|^in \d|yesterday|tomorrow)/.test(t.textContent)
    || t.textContent === t.title.slice(0, 16))
  .map((t) => `${t.textContent} | ${t.title}`);
return { count: times.length, bad };
"#;

/// Words whose colour is below 4.5:1 against the first opaque background behind them (WCAG's
/// relative luminance), in text and in form fields; disabled controls are exempt, as in WCAG.
pub(crate) const CONTRAST: &str = r#"
const rgba = (s) => (s.match(/[\d.]+/g) || []).map(Number);
const lum = (c) => { const [r, g, b] = c.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const behind = (e) => { for (let p = e; p; p = p.parentElement) { const c = rgba(getComputedStyle(p).backgroundColor);
  if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c; } return [255, 255, 255]; };
const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((m, n) => n - m); return (x + 0.05) / (y + 0.05); };
const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
const texty = (e) => [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())
  || ['INPUT', 'SELECT', 'TEXTAREA', 'BUTTON'].includes(e.tagName);
const poor = [];
for (const e of document.querySelectorAll('body *')) {
  if (!shown(e) || !texty(e) || e.closest(':disabled, svg, iframe, .visually-hidden')) continue;
  if (e.tagName === 'INPUT' && ['checkbox', 'radio', 'hidden'].includes(e.type)) continue;
  const r = ratio(rgba(getComputedStyle(e).color), behind(e));
  if (r < 4.5) poor.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} "${(e.textContent || e.value || '').trim().slice(0, 30)}" ${r.toFixed(2)}`);
}
return poor;
"#;

/// At phone size: siblings in a row that overlap, and one-line things (times, badges, names in
/// the Inbox, figures) that broke onto a second line.
const CROWDED: &str = r#"
const out = [];
const shown = (e) => e.getClientRects().length > 0;
const rows = '.bar, .thread-head, .who, .entry-top, .inbox-entry a, #history li, #messages tbody tr, .top nav, .tabs';
for (const row of document.querySelectorAll(rows)) {
  const kids = [...row.children].filter(shown).map((k) => [k, k.getBoundingClientRect()]);
  for (let i = 0; i < kids.length; i++) for (let j = i + 1; j < kids.length; j++) {
    const [a, ra] = kids[i], [b, rb] = kids[j];
    const w = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left), h = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
    if (w > 1 && h > 1) out.push(`${a.tagName.toLowerCase()}.${a.className} overlaps ${b.tagName.toLowerCase()}.${b.className} in ${row.className || row.tagName}`);
  }
}
for (const e of document.querySelectorAll('time, .badge, .entry-contact, #messages td[data-stat], .note-label')) {
  if (!shown(e)) continue;
  const s = getComputedStyle(e);
  const line = parseFloat(s.lineHeight) || parseFloat(s.fontSize) * 1.45;
  const pad = parseFloat(s.paddingTop) + parseFloat(s.paddingBottom);
  const labelled = e.matches('#messages td[data-stat]') ? 2 : 1;
  if (e.getBoundingClientRect().height > line * labelled * 1.5 + pad) out.push(`${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim()}" wraps`);
}
return out;
"#;
