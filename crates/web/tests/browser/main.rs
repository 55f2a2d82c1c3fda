//! The admin app end to end in a real headless Chromium, at desktop (1280×800) and phone
//! (390×844) sizes: log in through the form (after one wrong password), read the live count and
//! rows of "All users", build filters with the filter builder, save them as a segment, add a
//! column with the column chooser, open a profile and the settings, and measure each page so
//! nothing sticks out of a phone's screen. Screenshots of each size land in the temporary folder
//! (`tidings-admin-{desktop,phone}-{list,profile,settings}.png`) for people to look at.
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the tests fail under CI
//! (`CI=true`) and are skipped, loudly, elsewhere.

#[macro_use]
mod webdriver;
mod app;
mod asking;
mod composer;
mod composer_tools;
mod contacts;
mod csp;
mod email;
mod everywhere;
mod host;
mod import;
mod inbox;
mod live;
mod message_page;
mod messages;
mod messenger;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value as Json, json};

use app::{App, OWNER_EMAIL, OWNER_PASSWORD};
use webdriver::{Browser, CHROMIUM, Result};

/// WebDriver key codes: Control (held until [`RELEASE`]), release all keys, Backspace.
const CONTROL: char = '\u{E009}';
const RELEASE: char = '\u{E000}';
const BACKSPACE: char = '\u{E003}';

/// The longest any one page update may take. Updates take milliseconds; the margin is for a
/// loaded two-core machine running both sizes at once.
const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_app_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_app_at_phone_size() {
    run("phone", 390, 844).await;
}

/// ChromeDriver's path, or `None` (after saying so) when the browser is missing outside CI.
fn chromedriver_or_skip() -> Option<PathBuf> {
    let driver = webdriver::chromedriver();
    if Path::new(CHROMIUM).is_file() && driver.is_some() {
        return driver;
    }
    let why = format!(
        "the browser tests need {CHROMIUM} and chromedriver on PATH: install the Debian packages \
         chromium and chromium-driver (apt-get install chromium chromium-driver)"
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}");
    }
    eprintln!("\n!!!!!!!!!!\n!!! SKIPPED: {why}\n!!!!!!!!!!\n");
    None
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let started = std::time::Instant::now();
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let phone = width < 700;
    let browser = Browser::start(&driver, width, height, phone)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start the browser: {e}"));
    if let Err(e) = scenario(&app, &browser, size, (width, height), phone).await {
        panic!("[{size}] {e}");
    }
    browser.quit().await.unwrap_or_else(|e| panic!("[{size}] end the session: {e}"));
    eprintln!("[{size}] passed in {:.1?}", started.elapsed());
}

async fn scenario(app: &App, b: &Browser, size: &str, (width, height): (u32, u32), phone: bool) -> Result<()> {
    let all_users = app.ids_where(|p| p.role == "user");
    let pro_users = app.ids_where(|p| p.role == "user" && p.plan == Some("pro"));
    let ada = app.id("ada@acme.test");
    assert_eq!(all_users.len(), 8, "the seed has eight users");
    assert_eq!(pro_users.len(), 4, "the seed has four pro users");

    // 1. The user list needs a session: it sends us to the login form, which we fill in.
    b.goto(&app.url("/app/contacts")).await?;
    wait_for_path(b, app, "/app/login").await?;
    // The page really is as wide as asked, or the layout checks below prove nothing. (Measured
    // on a page of ours: a phone lays out pages without a viewport meta tag 980 px wide.)
    let inner = b.execute("return [window.innerWidth, window.innerHeight];", json!([])).await?;
    assert_eq!(inner, json!([width, height]), "viewport size");
    // A wrong password first: the form comes back with an error and the email kept.
    b.find("input[name=email]").await?.send_keys(OWNER_EMAIL).await?;
    b.find("input[name=password]").await?.send_keys("not-the-password").await?;
    b.find("form.login button[type=submit]").await?.click().await?;
    wait_for_text(b, "form.login .error", "That email and password do not match. Check both and try again.").await?;
    let email = b.find("input[name=email]").await?;
    assert_eq!(email.property("value").await?, OWNER_EMAIL, "the login form keeps the email");
    email.clear().await?;
    email.send_keys(OWNER_EMAIL).await?;
    b.find("input[name=password]").await?.send_keys(OWNER_PASSWORD).await?;
    b.find("form.login button[type=submit]").await?.click().await?;
    wait_for_path(b, app, "/app/contacts").await?;

    // 2. "All users": every user, and not the lead.
    assert_eq!(b.find(".bar h1").await?.text().await?, "All users");
    expect_list(b, "8 contacts", &all_users).await?;

    // 3. The filter builder: plan is "pro".
    b.find("#add-filter").await?.click().await?;
    let row = b.find("#rows .filter-row").await?;
    let attribute = row.find("select[aria-label=Attribute]").await?;
    let plan_label = attribute.find("option[value=\"custom_attributes.plan\"]").await?.text().await?;
    assert_eq!(plan_label, "plan (custom)", "custom attributes are offered");
    attribute.select("custom_attributes.plan").await?;
    // Choosing an attribute rebuilds the row with that attribute's operators: look it up again.
    let row = b.find("#rows .filter-row").await?;
    assert_eq!(row.find("select[aria-label=Attribute]").await?.property("value").await?, "custom_attributes.plan");
    let operator = row.find("select[aria-label=Operator]").await?;
    let mut offered = Vec::new();
    for option in operator.find_all("option").await? {
        offered.push(option.property("value").await?);
    }
    assert_eq!(
        offered,
        ["=", "!=", "IN", "NIN", "~", "!~", "^", "$", "unknown", "known"],
        "text attributes offer the string operators"
    );
    operator.select("=").await?;
    let row = b.find("#rows .filter-row").await?;
    let value = row.find(".value").await?;
    assert_eq!(value.property("type").await?, "text");
    value.send_keys("pro").await?;
    expect_list(b, "4 contacts", &pro_users).await?;

    // A second filter, ANDed: the default one (email contains …) narrows to Ada alone. The lead
    // also matches both filters and must stay out.
    b.find("#add-filter").await?.click().await?;
    let rows = b.find_all("#rows .filter-row").await?;
    assert_eq!(rows.len(), 2, "two filter rows");
    assert_eq!(rows[1].find("select[aria-label=Attribute]").await?.property("value").await?, "email");
    let contains = rows[1].find(".value").await?;
    contains.send_keys("nasa").await?;
    expect_list(b, "1 contact", &BTreeSet::from([app.id("katherine@nasa.test")])).await?;
    // Emptying the value as a person does (select all, delete) drops the filter rather than
    // matching nothing. (WebDriver's Element Clear fires no `input` event, so it is not used.)
    contains.send_keys(&format!("{CONTROL}a{RELEASE}{BACKSPACE}")).await?;
    expect_list(b, "4 contacts", &pro_users).await?;
    contains.send_keys("acme").await?;
    expect_list(b, "1 contact", &BTreeSet::from([ada])).await?;

    // The page with two filter rows and a wide table is the one most likely to break on a phone.
    // The screenshot comes first so a broken layout can be looked at.
    let shot = std::env::temp_dir().join(format!("tidings-admin-{size}-list.png"));
    b.screenshot(&shot).await?;
    eprintln!("[{size}] screenshot: {}", shot.display());
    check_layout(b, phone).await?;

    // Removing the second filter brings the pro users back.
    b.find("#rows .filter-row:nth-child(2) button[title=\"Remove this filter\"]").await?.click().await?;
    expect_list(b, "4 contacts", &pro_users).await?;

    // 4. Save as segment: the name is asked for in the page's own dialog.
    b.find("#save-segment").await?.click().await?;
    b.find("#segment-name").await?.send_keys("Pro users").await?;
    b.find("#name-ok").await?.click().await?;
    let url = b
        .wait_for("the new segment's page", WAIT, async || {
            let url = b.current_url().await?;
            // "All users" was shown as plain /app/contacts, so any segment= names the new one.
            if url.contains("/app/contacts?segment=") { Ok(url) } else { Err(fail!("URL {url}")) }
        })
        .await?;
    wait_for_text(b, ".bar h1", "Pro users").await?;
    // The saved segment keeps the "All users" base: the pro lead stays out.
    expect_list(b, "4 contacts", &pro_users).await?;
    let active = b.find(".segments a.active").await?;
    assert_eq!(active.text().await?, "Pro users");
    assert!(
        url.ends_with(&active.attribute("href").await?.unwrap_or_default()),
        "the active segment link points at this page ({url})"
    );
    assert!(b.find_all("#rows .filter-row").await?.is_empty(), "a segment page starts without extra filters");

    // The column chooser starts closed, opens on "Columns", and adds the custom attribute as a
    // column with each contact's value.
    let chooser_open = async || -> Result<bool> {
        Ok(b.execute("return document.getElementById('columns').getClientRects().length > 0;", json!([])).await?
            == json!(true))
    };
    assert!(!chooser_open().await?, "the column chooser starts closed");
    b.find("#choose-columns").await?.click().await?;
    assert!(chooser_open().await?, "\"Columns\" opens the column chooser");
    let plan_box = b
        .wait_for("a plan checkbox in the column chooser", WAIT, async || {
            for label in b.find_all("#columns label").await? {
                if label.text().await?.trim() == "plan" {
                    return label.find("input[type=checkbox]").await;
                }
            }
            Err(fail!("no label \"plan\""))
        })
        .await?;
    plan_box.click().await?;
    b.wait_for("a plan column showing pro", WAIT, async || {
        let heads = b.find_all("#contacts thead th").await?;
        let last = heads.last().ok_or_else(|| fail!("no header"))?.text().await?;
        let cell = b.find(&format!("#contacts tbody tr[data-id=\"{ada}\"] td:last-child")).await?.text().await?;
        if last == "plan" && cell == "pro" { Ok(()) } else { Err(fail!("last header {last:?}, Ada's cell {cell:?}")) }
    })
    .await?;
    b.find("#choose-columns").await?.click().await?;
    assert!(!chooser_open().await?, "\"Columns\" closes the column chooser again");

    // 5. The first column links to the profile.
    let link = b.find(&format!("#contacts tbody tr[data-id=\"{ada}\"] td a")).await?;
    assert_eq!(link.text().await?, "Ada Lovelace");
    link.click().await?;
    wait_for_path(b, app, &format!("/app/contacts/{ada}")).await?;
    let title = b.find(".profile h1").await?.text().await?;
    assert!(title.starts_with("Ada Lovelace"), "profile title {title:?}");
    let facts = definitions(b).await?;
    assert_eq!(fact(&facts, "Email"), Some("ada@acme.test"), "profile facts {facts:?}");
    assert_eq!(fact(&facts, "Role"), Some("user"), "profile facts {facts:?}");
    assert_eq!(fact(&facts, "plan"), Some("pro"), "profile facts {facts:?}");
    let shot = std::env::temp_dir().join(format!("tidings-admin-{size}-profile.png"));
    b.screenshot(&shot).await?;
    eprintln!("[{size}] screenshot: {}", shot.display());
    check_layout(b, false).await?;

    // Settings holds wide tables too (API tokens): it must fit a phone as well.
    b.find(".top a[href=\"/app/settings\"]").await?.click().await?;
    wait_for_path(b, app, "/app/settings").await?;
    wait_for_text(b, "#tokens h2", "API access tokens").await?;
    let shot = std::env::temp_dir().join(format!("tidings-admin-{size}-settings.png"));
    b.screenshot(&shot).await?;
    eprintln!("[{size}] screenshot: {}", shot.display());
    check_layout(b, false).await?;
    Ok(())
}

/// Waits until the page shown is `path` on the app (query strings ignored).
async fn wait_for_path(b: &Browser, app: &App, path: &str) -> Result<()> {
    b.wait_for(&format!("the page {path}"), WAIT, async || {
        let url = b.current_url().await?;
        let shown = url.strip_prefix(&app.base).unwrap_or(&url).split('?').next().unwrap_or_default();
        if shown == path { Ok(()) } else { Err(fail!("URL {url}")) }
    })
    .await
}

async fn wait_for_text(b: &Browser, css: &str, want: &str) -> Result<()> {
    b.wait_for(&format!("{css} to read {want:?}"), WAIT, async || {
        let text = b.find(css).await?.text().await?;
        if text == want { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await
}

/// Waits until the live count reads `count` (e.g. "4 contacts") and the table shows exactly the
/// contacts `ids`, by their `data-id`.
async fn expect_list(b: &Browser, count: &str, ids: &BTreeSet<i64>) -> Result<()> {
    b.wait_for(&format!("the count {count:?} and rows {ids:?}"), WAIT, async || {
        // The table is re-rendered on every change, so an element found here may be stale
        // by the time it is read: that is an error, and the next poll tries again.
        let shown_count = b.find(".bar .count").await?.text().await?;
        let mut shown = BTreeSet::new();
        for row in b.find_all("#contacts tbody tr[data-id]").await? {
            let id = row.attribute("data-id").await?.unwrap_or_default();
            shown.insert(id.parse::<i64>().map_err(|_| fail!("row id {id:?}"))?);
        }
        if shown_count == count && shown == *ids { Ok(()) } else { Err(fail!("count {shown_count:?}, rows {shown:?}")) }
    })
    .await
}

/// Every `<dt>`/`<dd>` pair on the page, in order.
async fn definitions(b: &Browser) -> Result<Vec<(String, String)>> {
    let v = b
        .execute(
            "return [...document.querySelectorAll('dt')].map((dt) => \
             [dt.textContent.trim(), dt.nextElementSibling.textContent.trim()]);",
            json!([]),
        )
        .await?;
    serde_json::from_value(v).map_err(|e| fail!("definitions: {e}"))
}

fn fact<'a>(facts: &'a [(String, String)], label: &str) -> Option<&'a str> {
    facts.iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str())
}

/// Measures the page in the browser: nothing may stick out past the viewport or make the whole
/// page scroll sideways. On a phone, filter rows must wrap onto several lines and the contacts
/// table must scroll inside its own box instead of widening the page.
async fn check_layout(b: &Browser, phone: bool) -> Result<()> {
    let m = b
        .execute(
            r#"
            const vw = document.documentElement.clientWidth;
            const visible = (e) => e.getClientRects().length > 0;
            // Inside a box that scrolls sideways, overflowing is the point: skip those.
            const scrolls = (e) => {
              for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
                if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return true;
              }
              return false;
            };
            const cut = [...document.querySelectorAll('body *')]
              .filter((e) => visible(e) && !scrolls(e))
              .filter((e) => { const r = e.getBoundingClientRect(); return r.left < -1 || r.right > vw + 1; })
              .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className ? '.' + e.className : ''} `
                + `[${Math.round(e.getBoundingClientRect().left)}, ${Math.round(e.getBoundingClientRect().right)}]`);
            const rows = [...document.querySelectorAll('.filter-row')]
              .map((r) => new Set([...r.children].map((c) => Math.round(c.getBoundingClientRect().top))).size);
            const wrap = document.querySelector('.table-wrap');
            let scrolled = null;
            if (wrap) { wrap.scrollLeft = 60; scrolled = wrap.scrollLeft; wrap.scrollLeft = 0; }
            return {
              viewport: vw,
              page_width: document.documentElement.scrollWidth,
              cut,
              row_lines: rows,
              table_overflows: wrap ? wrap.scrollWidth > wrap.clientWidth : null,
              table_scrolled: scrolled,
            };
            "#,
            json!([]),
        )
        .await?;
    let viewport = m["viewport"].as_i64().unwrap_or_default();
    let page_width = m["page_width"].as_i64().unwrap_or_default();
    if page_width > viewport {
        return Err(fail!("the page is wider ({page_width}px) than the viewport ({viewport}px): {m}"));
    }
    if m["cut"].as_array().is_none_or(|c| !c.is_empty()) {
        return Err(fail!("elements stick out of the viewport: {}", m["cut"]));
    }
    if phone {
        let lines = m["row_lines"].as_array().cloned().unwrap_or_default();
        if lines.is_empty() || lines.iter().any(|n| n.as_i64() < Some(2)) {
            return Err(fail!("filter rows do not wrap on a phone: {m}"));
        }
        if m["table_overflows"] != Json::Bool(true) || m["table_scrolled"].as_f64().unwrap_or_default() <= 0.0 {
            return Err(fail!("the contacts table does not scroll sideways inside its box: {m}"));
        }
    }
    Ok(())
}
