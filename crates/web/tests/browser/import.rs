//! Importing contacts from the admin app, in real headless Chromium at desktop (1280×800) and
//! phone (390×844) sizes, on an empty workspace: from the contacts' Import button, a CSV with a
//! `plan` column, a `tags` column, a column to skip and two bad rows is uploaded; its preview
//! shows each column with values; `plan` becomes a new string attribute and `notes` is skipped;
//! the import runs on the server to 100% with its counts; the report of the rejected rows is
//! fetched from its link and read; and the contacts are in the list with their plan and tags.
//! A file that is not CSV is refused on the page with the reason. Each size runs in the light
//! theme and the dark one, every page held to 4.5:1 contrast and to no CSP violation.
//! Screenshots of the finished import (light) land in `docs/screenshots/import-{desktop,phone}.png`,
//! the others in the temporary folder.

use std::path::Path;

use serde_json::json;

use crate::app::App;
use crate::csp::no_violations;
use crate::messages::{log_in, wait_contains, wait_text};
use crate::webdriver::{Browser, Result, scratch_dir};
use crate::{WAIT, check_layout, chromedriver_or_skip, definitions, fact, wait_for_path};

const PEOPLE: &str = "email,name,plan,notes,tags\n\
                      ada@import.test,Ada Import,pro,likes tea,\"vip, beta\"\n\
                      bob@import.test,Bob Import,free,,beta\n\
                      not-an-email,Bad Email,pro,,\n\
                      cy@import.test,Cy Import,team,x,vip\n\
                      short@import.test,Short Row\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_contacts_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_contacts_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    for dark in [false, true] {
        let theme = if dark { "dark" } else { "light" };
        let app = App::start_empty().await.unwrap_or_else(|e| panic!("[{size}, {theme}] start Tidings: {e}"));
        let b = Browser::start_themed(&driver, width, height, width < 700, dark)
            .await
            .unwrap_or_else(|e| panic!("[{size}, {theme}] start the browser: {e}"));
        let result = scenario(&app, &b, size, dark).await;
        let _ = b.quit().await;
        if let Err(e) = result {
            panic!("[{size}, {theme}] {e}");
        }
    }
}

/// Words readable on their background (4.5:1), nothing sticking out, no CSP violation; a
/// screenshot in the temporary folder.
async fn page_checks(b: &Browser, size: &str, dark: bool, page: &str) -> Result<()> {
    let poor = b.execute(crate::everywhere::CONTRAST, json!([])).await?;
    if poor.as_array().is_none_or(|p| !p.is_empty()) {
        return Err(fail!("{page}: words below 4.5:1 contrast on their background: {poor:#}"));
    }
    check_layout(b, false).await?;
    no_violations(b, page).await?;
    let theme = if dark { "dark" } else { "light" };
    b.screenshot(&std::env::temp_dir().join(format!("tidings-admin-{size}-{theme}-import-{page}.png"))).await
}

async fn scenario(app: &App, b: &Browser, size: &str, dark: bool) -> Result<()> {
    log_in(app, b).await?;
    // A workspace with no contacts yet: the contacts page is the first run's, pointing to import.
    b.find("#first-run-import").await?.click().await?;
    wait_for_path(b, app, "/app/import").await?;
    let dir = scratch_dir("tidings-browser-import")?;

    // A file that is neither CSV nor JSON lines is refused in the page, saying why.
    let sheet = dir.join("people.xlsx");
    std::fs::write(&sheet, b"PK\x03\x04\x00\x00\x00binary").map_err(|e| fail!("{e}"))?;
    b.find("#import-file").await?.send_keys(&sheet.display().to_string()).await?;
    wait_contains(b, "#upload-error", "neither CSV nor JSON lines").await?;
    page_checks(b, size, dark, "upload").await?;

    // The CSV: its preview shows every column with its values and what it will set.
    let csv = dir.join("people.csv");
    std::fs::write(&csv, PEOPLE).map_err(|e| fail!("{e}"))?;
    b.execute("document.getElementById('import-file').value = '';", json!([])).await?;
    b.find("#import-file").await?.send_keys(&csv.display().to_string()).await?;
    b.wait_for("the preview", WAIT, async || b.find("#preview-columns").await).await?;
    let url = b.current_url().await?;
    let id = url.rsplit('/').next().unwrap_or_default().to_owned();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(fail!("the preview's address {url}"));
    }
    let columns = b
        .execute(
            "return [...document.querySelectorAll('#preview-columns tbody tr')].map((tr) => [tr.dataset.column, \
             tr.querySelector('.samples').textContent, tr.querySelector('select') ? tr.querySelector('select').value : '']);",
            json!([]),
        )
        .await?;
    assert_eq!(
        columns,
        json!([
            ["email", "ada@import.test · bob@import.test · not-an-email", "attribute:email"],
            ["name", "Ada Import · Bob Import · Bad Email", "attribute:name"],
            ["plan", "pro · free · pro", "new:string"],
            ["notes", "likes tea · x", "new:string"],
            ["tags", "vip, beta · beta · vip", "tags"],
        ]),
        "the preview"
    );
    b.find("tr[data-column=plan] select").await?.select("new:string").await?;
    b.find("tr[data-column=notes] select").await?.select("skip").await?;
    page_checks(b, size, dark, "preview").await?;
    b.find("#start-import").await?.click().await?;

    // It runs on the server to the end; the page follows it and shows the counts.
    wait_for_path(b, app, &format!("/app/import/{id}")).await?;
    wait_text(b, "#job-percent", "100%").await?;
    wait_text(b, "#job-status", "Done").await?;
    let counts = definitions(b).await?;
    for (label, want) in [("Rows read", "5"), ("Created", "3"), ("Updated", "0"), ("Unchanged", "0"), ("Rejected", "2")]
    {
        assert_eq!(fact(&counts, label), Some(want), "{label}: {counts:?}");
    }
    wait_contains(b, "#job-summary", "3 contacts created").await?;

    // The report of the rejected rows: each with its line, field, reason and values.
    let href = b.find("#rejected-report").await?.attribute("href").await?.unwrap_or_default();
    assert_eq!(href, format!("/app/import/{id}/rejected.csv"));
    let report = b
        .execute(
            "return fetch(arguments[0], {credentials: 'same-origin'}).then(async (r) => \
             [r.status, r.headers.get('content-type'), await r.text()]);",
            json!([href]),
        )
        .await?;
    assert_eq!(report[0], json!(200), "{report}");
    assert!(report[1].as_str().unwrap_or_default().starts_with("text/csv"), "{report}");
    let text = report[2].as_str().unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "line,field,reason,email,name,plan,notes,tags", "{text}");
    assert_eq!(lines[1], "4,email,not-an-email is not a valid email address,not-an-email,Bad Email,pro,,", "{text}");
    assert!(lines[2].starts_with("6,,") && lines[2].contains("fields"), "the short row: {text}");
    assert_eq!(lines.len(), 3, "{text}");

    page_checks(b, size, dark, "done").await?;
    if !dark {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).map_err(|e| fail!("{e}"))?;
        b.screenshot(&docs.join(format!("import-{size}.png"))).await?;
    }

    // The contacts are in the list, with their plan and tags.
    b.find("#job-summary a[href=\"/app/contacts\"]").await?.click().await?;
    wait_for_path(b, app, "/app/contacts").await?;
    let ada = b
        .wait_for("Ada in the list", WAIT, async || {
            let rows = b.find_all("#contacts tbody tr[data-id]").await?;
            if rows.len() != 3 {
                return Err(fail!("{} rows", rows.len()));
            }
            for row in rows {
                if row.text().await?.contains("Ada Import") {
                    return Ok(row.attribute("data-id").await?.unwrap_or_default());
                }
            }
            Err(fail!("no Ada"))
        })
        .await?;
    b.goto(&app.url(&format!("/app/contacts/{ada}"))).await?;
    let facts = definitions(b).await?;
    assert_eq!(fact(&facts, "plan"), Some("pro"), "{facts:?}");
    assert_eq!(fact(&facts, "notes"), None, "notes was skipped: {facts:?}");
    let tags = b
        .execute("return [...document.querySelectorAll('ul.tags li')].map((li) => li.textContent).sort();", json!([]))
        .await?;
    assert_eq!(tags, json!(["beta", "vip"]));

    // The same file again changes nothing.
    b.goto(&app.url("/app/import")).await?;
    b.find("#import-file").await?.send_keys(&csv.display().to_string()).await?;
    b.wait_for("the second preview", WAIT, async || b.find("#preview-columns").await).await?;
    assert_eq!(b.find("tr[data-column=plan] select").await?.property("value").await?, "attribute:plan");
    b.find("tr[data-column=notes] select").await?.select("skip").await?;
    b.find("#start-import").await?.click().await?;
    wait_text(b, "#job-status", "Done").await?;
    let counts = definitions(b).await?;
    for (label, want) in [("Created", "0"), ("Updated", "0"), ("Unchanged", "3"), ("Rejected", "2")] {
        assert_eq!(fact(&counts, label), Some(want), "again, {label}: {counts:?}");
    }
    if !dark {
        live_progress(app, b, &dir).await?;
    }
    Ok(())
}

/// Contacts in the file whose import the page follows while it runs: enough for the import,
/// which records its progress once a second, to take several seconds even through the bulk
/// write path.
const MANY: usize = 250_000;

/// A file large enough to take seconds: the page's counts and bar move while it runs, without
/// the page being loaded again; a reload shows the same import going on; it ends at 100%.
async fn live_progress(app: &App, b: &Browser, dir: &Path) -> Result<()> {
    let mut text = String::from("email,name,plan,tags\n");
    for i in 0..MANY {
        text.push_str(&format!(
            "many{i}@import.test,Person {i},{},\"crowd\"\n",
            if i % 2 == 0 { "pro" } else { "free" }
        ));
    }
    let big = dir.join("many.csv");
    std::fs::write(&big, text).map_err(|e| fail!("{e}"))?;
    b.goto(&app.url("/app/import")).await?;
    b.find("#import-file").await?.send_keys(&big.display().to_string()).await?;
    b.wait_for("the preview of many.csv", WAIT, async || b.find("#preview-columns").await).await?;
    b.find("#start-import").await?.click().await?;
    b.wait_for("the import's page", WAIT, async || b.find("#job").await).await?;
    b.execute("window.sameImportPage = true;", json!([])).await?;
    let number = |s: String| s.parse::<u64>().map_err(|_| fail!("not a number: {s:?}"));
    let seen = b
        .wait_for("the counts to move while the import runs", WAIT, async || {
            let status = b.find("#job-status").await?.text().await?;
            let lines = number(b.find("#count-lines").await?.text().await?)?;
            let percent = b.find("#job-progress").await?.property("value").await?;
            if status == "Importing…" && lines > 0 && (lines as usize) < MANY && percent != "0" {
                Ok(lines)
            } else {
                Err(fail!("{status:?}, {lines} rows, {percent}%"))
            }
        })
        .await?;
    let same = b.execute("return window.sameImportPage === true;", json!([])).await?;
    assert_eq!(same, json!(true), "the counts moved without loading the page again");

    // Loaded again, the page shows the same import, at least as far along.
    let url = b.current_url().await?;
    b.goto(&url).await?;
    // The page draws itself again when the import ends: read it in one go, again if it did.
    let (name, after) = b
        .wait_for("the import's page again", WAIT, async || {
            let name = b.find("#job .file-name").await?.text().await?;
            let lines = number(b.find("#count-lines").await?.text().await?)?;
            Ok((name, lines))
        })
        .await?;
    assert_eq!(name, "many.csv");
    assert!(after >= seen, "{after} rows after the reload, {seen} before");
    b.wait_for("the import to end", std::time::Duration::from_secs(120), async || {
        let status = b.find("#job-status").await?.text().await?;
        if status == "Done" { Ok(()) } else { Err(fail!("{status:?}")) }
    })
    .await?;
    wait_text(b, "#job-percent", "100%").await?;
    let counts = definitions(b).await?;
    let many = MANY.to_string();
    for (label, want) in [("Rows read", many.as_str()), ("Created", many.as_str()), ("Rejected", "0")] {
        assert_eq!(fact(&counts, label), Some(want), "{label}: {counts:?}");
    }
    Ok(())
}
