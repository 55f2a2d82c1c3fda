//! The Inbox and a conversation in real headless Chromium, with two teammates in browsers of their
//! own (the owner at the size under test, Grace at desktop size): Ada's new conversation appears in
//! the owner's Inbox unread without a reload; both open it, and each sees the other viewing and
//! typing; the owner's reply (Ctrl+Enter) and Grace's note (the N shortcut) appear on the other's
//! screen live; the owner assigns it to Grace, Ada answers, the owner closes it with the C
//! shortcut, and Grace sees each change as it happens; the Closed view lists it. No page reloads
//! (each page is marked, and checked afterwards) and no Content Security Policy violation.
//! Screenshots land in the temporary folder (`tidings-inbox-{desktop,phone}-{inbox,conversation}.png`).

use serde_json::json;
use tidings_store::TeammateRole;

use crate::app::App;
use crate::csp::{mark_page, no_violations, same_page};
use crate::messages::{log_in, wait_contains};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip, wait_for_path};

const GRACE_EMAIL: &str = "grace@example.test";
const GRACE_PASSWORD: &str = "grace-has-a-long-password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_teammates_work_a_conversation_live_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_teammates_work_a_conversation_live_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let owner = Browser::start(&driver, width, height, width < 700)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start a browser: {e}"));
    let grace =
        Browser::start(&driver, 1280, 800, false).await.unwrap_or_else(|e| panic!("[{size}] start a browser: {e}"));
    let result = scenario(&app, &owner, &grace, size).await;
    let _ = owner.quit().await;
    let _ = grace.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
}

async fn scenario(app: &App, owner: &Browser, grace: &Browser, size: &str) -> Result<()> {
    let ws = app
        .state
        .store
        .workspace(app.workspace_id)
        .await
        .map_err(|e| fail!("{e}"))?
        .ok_or_else(|| fail!("no workspace"))?;
    let g = tidings_web::provision::teammate(
        &app.state.store,
        &ws,
        "Grace Hopper",
        GRACE_EMAIL,
        GRACE_PASSWORD,
        TeammateRole::Member,
    )
    .await
    .map_err(|e| fail!("add Grace: {e:?}"))?;
    let ada = app.id("ada@acme.test");
    log_in(app, owner).await?;
    grace.goto(&app.url("/app/login")).await?;
    grace.find("input[name=email]").await?.send_keys(GRACE_EMAIL).await?;
    grace.find("input[name=password]").await?.send_keys(GRACE_PASSWORD).await?;
    grace.find("form.login button[type=submit]").await?.click().await?;
    wait_for_path(grace, app, "/app/contacts").await?;

    // 1. The owner's Inbox, Unassigned: empty until Ada writes in, then her conversation is there,
    //    unread, with her words, and the view's count moved; no reload.
    owner.goto(&app.url("/app/inbox?view=unassigned")).await?;
    wait_for_path(owner, app, "/app/inbox").await?;
    wait_contains(owner, "#inbox-empty", "No open conversations here.").await?;
    owner.wait_fetched("/app/inbox?view=unassigned", WAIT).await?;
    mark_page(owner).await?;
    let started = app
        .api
        .post(
            "/conversations",
            json!({"from": {"type": "user", "id": ada.to_string()}, "body": "My invoice shows the wrong VAT number"}),
        )
        .await?;
    let cid = started["conversation_id"].as_str().ok_or_else(|| fail!("no conversation: {started}"))?.to_owned();
    let entry = format!("#inbox-list .inbox-entry.unread[data-id=\"{cid}\"]");
    wait_contains(owner, &entry, "Ada Lovelace").await?;
    wait_contains(owner, &entry, "wrong VAT number").await?;
    wait_contains(owner, "#inbox-views a.active", "1").await?;
    same_page(owner, "Ada started a conversation").await?;
    shot(owner, size, "inbox").await?;
    crate::check_layout(owner, false).await?;
    no_violations(owner, "the Inbox").await?;

    // 2. Both open it; each sees the other there, then Grace typing.
    owner.find(&format!("{entry} a")).await?.click().await?;
    wait_for_path(owner, app, &format!("/app/conversations/{cid}")).await?;
    grace.goto(&app.url(&format!("/app/conversations/{cid}"))).await?;
    wait_contains(grace, "#parts", "wrong VAT number").await?;
    let page = format!("/app/conversations/{cid}");
    owner.wait_fetched(&page, WAIT).await?;
    grace.wait_fetched(&page, WAIT).await?;
    mark_page(owner).await?;
    mark_page(grace).await?;
    wait_contains(owner, "#presence", "Grace Hopper is viewing").await?;
    wait_contains(grace, "#presence", "owner is viewing").await?;
    grace.find("#reply-body").await?.send_keys("Checking").await?;
    wait_contains(owner, "#presence", "Grace Hopper is typing").await?;
    grace.find("#reply-body").await?.clear().await?;

    // 3. The owner replies with Ctrl+Enter: Grace sees it; the read mark went with it.
    let reply = owner.find("#reply-body").await?;
    reply.send_keys("Sorry about that, **{{first_name}}**: fixing it now.").await?;
    reply.send_keys(&format!("{CONTROL}\u{E007}{RELEASE}")).await?;
    wait_contains(grace, "#parts .from-team", "Sorry about that, Ada: fixing it now.").await?;
    let read = app.api.get(&format!("/conversations/{cid}")).await?;
    assert_eq!(read["read"], json!(true), "the owner had it on screen: {read}");

    // 4. Grace writes a note with the N shortcut: the owner sees it as a note.
    grace.execute("document.activeElement.blur();", json!([])).await?;
    grace.find("body").await?.send_keys("n").await?;
    wait_contains(grace, "#reply", "Add note").await?;
    grace.find("#reply-body").await?.send_keys("VAT fixes go through billing, cc me").await?;
    grace.find("#reply").await?.click().await?;
    wait_contains(owner, "#parts .look-note", "VAT fixes go through billing").await?;

    // 5. The owner assigns it to Grace; Ada answers; the owner closes it with C.
    owner.find("#assignee").await?.select(&g.id.to_string()).await?;
    wait_contains(grace, "#parts", "owner assigned this conversation to Grace Hopper").await?;
    app.api
        .post(
            &format!("/conversations/{cid}/reply"),
            json!({"type": "user", "message_type": "comment", "intercom_user_id": ada.to_string(), "body": "Thanks, the number is GB123"}),
        )
        .await?;
    wait_contains(grace, "#parts", "the number is GB123").await?;
    wait_contains(owner, "#parts", "the number is GB123").await?;
    owner.execute("document.activeElement.blur();", json!([])).await?;
    owner.find("body").await?.send_keys("c").await?;
    wait_contains(grace, "#conversation-state", "closed").await?;
    wait_contains(grace, "#parts", "owner closed this conversation").await?;
    same_page(owner, "the conversation was worked").await?;
    same_page(grace, "the conversation was worked").await?;
    shot(owner, size, "conversation").await?;
    crate::check_layout(owner, false).await?;
    no_violations(owner, "the conversation").await?;
    no_violations(grace, "the conversation").await?;

    // 6. Grace's own Inbox, Closed: the conversation is there.
    grace.goto(&app.url("/app/inbox?view=mine&state=closed")).await?;
    wait_contains(grace, &format!("#inbox-list [data-id=\"{cid}\"]"), "Ada Lovelace").await?;
    Ok(())
}

/// WebDriver key codes: Control (held until [`RELEASE`]) and release all keys.
const CONTROL: char = '\u{E009}';
const RELEASE: char = '\u{E000}';

async fn shot(b: &Browser, size: &str, page: &str) -> Result<()> {
    let path = std::env::temp_dir().join(format!("tidings-inbox-{size}-{page}.png"));
    b.screenshot(&path).await?;
    eprintln!("[{size}] screenshot: {}", path.display());
    Ok(())
}
