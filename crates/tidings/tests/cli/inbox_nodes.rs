//! Two teammates and one contact, each in a headless Chromium of their own, on two
//! `tidings serve` processes joined by a `nats-server` of the test's own on one PostgreSQL: the
//! owner works on node A, Grace on node B, and Ada's Messenger (on her company's page) talks to
//! node B. Every change one of them makes shows on the others' screens live, across the nodes and
//! with no reload: Ada's new conversation in the owner's Inbox; who is viewing and typing; the
//! owner's reply in Grace's page and in Ada's open thread; Grace's note in the owner's page (and
//! never in Ada's Messenger); Ada's answer in both teammates' pages; an assignment and a close.
//!
//! Needs Debian's `chromium` and `chromium-driver`, and `nats-server`: under CI (`CI=true`) the
//! test fails without them; elsewhere it says so loudly and skips.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;
use tidings_store::TeammateRole;

use crate::host::Host;
use crate::nodes::{Nats, Node, free_port};
use crate::webdriver::{Browser, CHROMIUM, Result, chromedriver};
use crate::{Db, setup};

/// How long a change may take to show on another screen before the test fails: a bound, not a
/// measurement (that is `tidings bench inbox`).
const WAIT: Duration = Duration::from_secs(20);
const ENTER: char = '\u{E007}';
const CONTROL: char = '\u{E009}';
const RELEASE: char = '\u{E000}';
const MESSENGER: &str = "tidings-messenger";

fn chromedriver_or_skip() -> Option<PathBuf> {
    let driver = chromedriver();
    if std::path::Path::new(CHROMIUM).is_file() && driver.is_some() {
        return driver;
    }
    let why = "the browser tests need chromium and chromium-driver (apt-get install chromium chromium-driver)";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("\n!!! SKIPPED: {why}\n");
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_teammates_and_a_contact_see_each_other_live_across_two_nodes() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let db = Db::postgres().await;
    let nats = Nats::start(free_port());
    let p = setup(&db, "owner@acme.test");
    let ws_id = p["workspace_id"].as_i64().unwrap();
    let ws = db.store.workspace(ws_id).await.unwrap().unwrap();
    tidings_web::provision::teammate(
        &db.store,
        &ws,
        "Grace Hopper",
        "grace@acme.test",
        "grace-long-password",
        TeammateRole::Member,
    )
    .await
    .unwrap();
    let (a, b) = (Node::start(&db, &nats.url()), Node::start(&db, &nats.url()));
    let token = p["token"].as_str().unwrap();
    let created = reqwest::Client::new()
        .post(format!("{}/contacts", a.url))
        .bearer_auth(token)
        .json(&json!({"role": "user", "name": "Ada Lovelace", "email": "ada@acme.test"}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "Ada is added");
    let host =
        Host::start(&b.url, p["app_id"].as_str().unwrap(), p["identity_secret"].as_str().unwrap()).await.unwrap();

    let owner = Browser::start(&driver, 1280, 800, false).await.unwrap();
    let grace = Browser::start(&driver, 1280, 800, false).await.unwrap();
    let ada = Browser::start(&driver, 1000, 800, false).await.unwrap();
    let result = scenario(&db, ws_id, (&a, &b), &host, (&owner, &grace, &ada)).await;
    for browser in [owner, grace, ada] {
        let _ = browser.quit().await;
    }
    drop((a, b, nats));
    db.cleanup().await;
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn scenario(
    db: &Db,
    ws: i64,
    (a, b): (&Node, &Node),
    host: &Host,
    (owner, grace, ada): (&Browser, &Browser, &Browser),
) -> Result<()> {
    log_in(owner, &a.url, "owner@acme.test", "a-long-password").await?;
    log_in(grace, &b.url, "grace@acme.test", "grace-long-password").await?;
    owner.goto(&format!("{}/app/inbox?view=unassigned", a.url)).await?;
    owner.wait_fetched("/app/inbox?view=unassigned", WAIT).await?;
    mark_page(owner).await?;

    // 1. Ada writes from her Messenger (node B): the owner's Inbox (node A) shows it, unread.
    ada.goto(&host.page_of("ada@acme.test")).await?;
    click_shadow(ada, ".launcher").await?;
    click_shadow(ada, ".new-conversation").await?;
    ada.find_in_shadow(MESSENGER, "textarea")
        .await?
        .send_keys(&format!("Hello, my export is stuck at 99%{ENTER}"))
        .await?;
    let cid = ada
        .wait_for("Ada's conversation", WAIT, async || {
            let all = db.store.conversations_of_contact(ws, ada_id(db, ws).await?).await.map_err(|e| fail!("{e}"))?;
            all.first().map(|c| c.id).ok_or_else(|| fail!("none yet"))
        })
        .await?;
    let entry = format!("#inbox-list .inbox-entry.unread[data-id=\"{cid}\"]");
    wait_contains(owner, &entry, "export is stuck").await?;
    same_page(owner, "Ada wrote in").await?;

    // 2. Both teammates open it; each sees the other, across the nodes.
    // The Inbox replaces its list on each event about the conversation, and several follow its
    // start: an entry found a moment before its click can be stale, so found again until it lands.
    let link = format!("{entry} a");
    owner.wait_for("a click on Ada's entry", WAIT, async || owner.find(&link).await?.click().await).await?;
    let page = format!("/app/conversations/{cid}");
    grace.goto(&format!("{}{page}", b.url)).await?;
    owner.wait_fetched(&page, WAIT).await?;
    grace.wait_fetched(&page, WAIT).await?;
    mark_page(owner).await?;
    mark_page(grace).await?;
    wait_contains(owner, "#presence", "Grace Hopper is viewing").await?;
    wait_contains(grace, "#presence", "is viewing").await?;
    grace.find("#reply-body").await?.send_keys("Let me").await?;
    wait_contains(owner, "#presence", "Grace Hopper is typing").await?;
    grace.find("#reply-body").await?.clear().await?;

    // 3. The owner replies (node A): Grace's page and Ada's open thread (node B) show it.
    owner
        .find("#reply-body")
        .await?
        .send_keys(&format!("Sorry {{{{first_name}}}}, restarting it now.{CONTROL}{ENTER}{RELEASE}"))
        .await?;
    wait_contains(grace, "#parts .from-team", "Sorry Ada, restarting it now.").await?;
    wait_shadow_contains(ada, ".thread", "Sorry Ada, restarting it now.").await?;

    // 4. Grace's note (node B) shows on the owner's page (node A), never in Ada's Messenger.
    grace.find("#mode-note").await?.click().await?;
    grace.find("#reply-body").await?.send_keys("Exports over 1 GB hit the old worker").await?;
    grace.find("#reply").await?.click().await?;
    wait_contains(owner, "#parts .look-note", "Exports over 1 GB hit the old worker").await?;

    // 5. Ada answers (node B): both teammates see it.
    ada.find_in_shadow(MESSENGER, "textarea").await?.send_keys(&format!("It finished, thank you!{ENTER}")).await?;
    wait_contains(owner, "#parts", "It finished, thank you!").await?;
    wait_contains(grace, "#parts", "It finished, thank you!").await?;
    let thread = shadow_text(ada, ".thread").await?;
    assert!(!thread.contains("old worker"), "a note never reaches the contact: {thread:?}");

    // 6. The owner assigns it to Grace and closes it: Grace's page follows.
    let grace_id =
        db.store.teammates(ws).await.map_err(|e| fail!("{e}"))?.iter().find(|t| t.name == "Grace Hopper").map(|t| t.id);
    owner.find("#assignee").await?.select(&grace_id.ok_or_else(|| fail!("no Grace"))?.to_string()).await?;
    wait_contains(grace, "#parts", "assigned this conversation to Grace Hopper").await?;
    owner.find("#close").await?.click().await?;
    wait_contains(grace, "#conversation-state", "closed").await?;
    same_page(owner, "the conversation was worked").await?;
    same_page(grace, "the conversation was worked").await?;
    Ok(())
}

async fn ada_id(db: &Db, ws: i64) -> Result<i64> {
    db.store
        .user_by_email(ws, "ada@acme.test")
        .await
        .map_err(|e| fail!("{e}"))?
        .map(|c| c.id)
        .ok_or_else(|| fail!("no Ada"))
}

async fn log_in(b: &Browser, base: &str, email: &str, password: &str) -> Result<()> {
    b.goto(&format!("{base}/app/login")).await?;
    b.find("input[name=email]").await?.send_keys(email).await?;
    b.find("input[name=password]").await?.send_keys(password).await?;
    b.find("form.login button[type=submit]").await?.click().await?;
    b.wait_for("the login to land", WAIT, async || {
        let url = b.current_url().await?;
        if url.contains("/app/contacts") { Ok(()) } else { Err(fail!("at {url}")) }
    })
    .await
}

async fn wait_contains(b: &Browser, css: &str, want: &str) -> Result<()> {
    b.wait_for(&format!("{css} to contain {want:?}"), WAIT, async || {
        let text = b.find(css).await?.text().await?;
        if text.contains(want) { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await
}

async fn shadow_text(b: &Browser, css: &str) -> Result<String> {
    let v = b
        .execute(
            "const h = document.getElementById(arguments[0]); const e = h && h.shadowRoot.querySelector(arguments[1]); \
             return e ? e.textContent : null;",
            json!([MESSENGER, css]),
        )
        .await?;
    v.as_str().map(str::to_owned).ok_or_else(|| fail!("no {css} in the Messenger"))
}

async fn wait_shadow_contains(b: &Browser, css: &str, want: &str) -> Result<()> {
    b.wait_for(&format!("the Messenger's {css} to contain {want:?}"), WAIT, async || {
        let text = shadow_text(b, css).await?;
        if text.contains(want) { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await
}

async fn click_shadow(b: &Browser, css: &str) -> Result<()> {
    b.wait_for(&format!("{css} in the Messenger"), WAIT, async || {
        let v = b
            .execute(
                "const h = document.getElementById(arguments[0]); const e = h && h.shadowRoot.querySelector(arguments[1]); \
                 if (e) e.click(); return !!e;",
                json!([MESSENGER, css]),
            )
            .await?;
        if v == json!(true) { Ok(()) } else { Err(fail!("not there")) }
    })
    .await
}

async fn mark_page(b: &Browser) -> Result<()> {
    b.execute("window.tidingsTestMark = true;", json!([])).await.map(drop)
}

async fn same_page(b: &Browser, after: &str) -> Result<()> {
    let still = b.execute("return window.tidingsTestMark === true;", json!([])).await?;
    if still == json!(true) { Ok(()) } else { Err(fail!("the page reloaded after {after}")) }
}
