//! The admin app under its own Content Security Policy (no `unsafe-inline`), in real headless
//! Chromium at desktop and phone sizes: every page loads and is used without Chromium reporting a
//! single violation, and the composer and the conversation's reply form, which once relied on
//! inline `onsubmit` handlers, still send through the API without the page reloading. Last, an
//! inline script is shown to be refused, so the test would notice the policy going missing.
//! Screenshots land in the temporary folder (`tidings-csp-{desktop,phone}-{page}.png`).

use serde_json::json;

use crate::app::App;
use crate::messages::{accept_confirms, log_in, wait_contains};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip, wait_for_path, wait_for_text};

/// WebDriver's Enter key.
const ENTER: char = '\u{E007}';

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_app_keeps_its_content_security_policy_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_app_keeps_its_content_security_policy_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let b = Browser::start(&driver, width, height, width < 700)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start the browser: {e}"));
    let result = scenario(&app, &b, size).await;
    let _ = b.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
}

async fn scenario(app: &App, b: &Browser, size: &str) -> Result<()> {
    let ada = app.id("ada@acme.test");
    let started = app
        .api
        .post("/conversations", json!({"from": {"type": "user", "id": ada.to_string()}, "body": "Hello from Ada"}))
        .await?;
    let conversation = started["conversation_id"].as_str().ok_or_else(|| fail!("no conversation id: {started}"))?;
    let me = app.api.get("/me").await?;
    let admin = me["id"].as_str().ok_or_else(|| fail!("no admin id: {me}"))?;

    // The login page, then the form (a wrong password first: the error page is a page too).
    b.goto(&app.url("/app/login")).await?;
    shot(b, size, "login").await?;
    no_violations(b, "the login page").await?;
    b.find("input[name=email]").await?.send_keys(crate::app::OWNER_EMAIL).await?;
    b.find("input[name=password]").await?.send_keys("not-the-password").await?;
    b.find("form.login button[type=submit]").await?.click().await?;
    wait_for_text(b, "form.login .error", "That email and password do not match. Check both and try again.").await?;
    no_violations(b, "the login page with an error").await?;
    log_in(app, b).await?;

    // The user list, with a filter row built by the script.
    let users = app.ids_where(|p| p.role == "user");
    crate::expect_list(b, &format!("{} contacts", users.len()), &users).await?;
    b.find("#add-filter").await?.click().await?;
    b.find("#rows .filter-row").await?;
    b.find("#choose-columns").await?.click().await?;
    no_violations(b, "the user list").await?;

    for (what, path) in [
        ("a profile", format!("/app/contacts/{ada}")),
        ("the activity feed", "/app/activity".to_owned()),
        ("the message list", "/app/messages".to_owned()),
        ("a teammate's page", format!("/app/teammates/{admin}")),
        ("the settings", "/app/settings".to_owned()),
    ] {
        b.goto(&app.url(&path)).await?;
        wait_for_path(b, app, &path).await?;
        no_violations(b, what).await?;
    }

    // The manual message composer, with a filter row.
    b.goto(&app.url("/app/messages/new")).await?;
    b.wait_for("the audience count", WAIT, async || {
        let n = b.find("#audience-count").await?.text().await?;
        if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() { Ok(()) } else { Err(fail!("{n:?}")) }
    })
    .await?;
    b.find("#add-filter").await?.click().await?;
    b.find("#rows .filter-row").await?;
    no_violations(b, "the manual message composer").await?;

    // The simple composer: the preview is HTML from the API, put in place by the script. Enter in
    // the title must not submit the form (the page would reload, losing the message).
    b.goto(&app.url(&format!("/app/messages/new?contacts={ada}"))).await?;
    b.find("#body").await?.send_keys("Hi {{first_name}}, **welcome** to [Acme](https://acme.test).").await?;
    crate::messages::wait_preview(b, "Hi Ada, welcome to Acme.").await?;
    mark_page(b).await?;
    b.find("#title").await?.send_keys(&format!("Welcome{ENTER}")).await?;
    same_page(b, "Enter in the composer's title").await?;
    shot(b, size, "composer").await?;
    no_violations(b, "the composer").await?;
    accept_confirms(b).await?;
    b.find("#send").await?.click().await?;
    let sent = b
        .wait_for("the sent message's page", WAIT, async || {
            let url = b.current_url().await?;
            let id = url.rsplit('/').next().unwrap_or_default();
            if url.contains("/app/messages/") && id.parse::<i64>().is_ok() { Ok(url) } else { Err(fail!("at {url}")) }
        })
        .await?;
    wait_contains(b, "#state", "sent").await?;
    shot(b, size, "message").await?;
    no_violations(b, &format!("the message's page ({sent})")).await?;

    // The conversation: a reply goes through the API and appears without the page reloading.
    let path = format!("/app/conversations/{conversation}");
    b.goto(&app.url(&path)).await?;
    wait_contains(b, "#parts", "Hello from Ada").await?;
    mark_page(b).await?;
    b.find("#reply-body").await?.send_keys("Thanks, Ada. How can we help?").await?;
    b.find("#reply").await?.click().await?;
    wait_contains(b, "#parts", "Thanks, Ada. How can we help?").await?;
    same_page(b, "sending a reply").await?;
    wait_for_path(b, app, &path).await?;
    let url = b.current_url().await?;
    assert!(!url.contains('?'), "the reply form was submitted to the page: {url}");
    let parts = app.api.get(&format!("/conversations/{conversation}")).await?;
    assert_eq!(parts["conversation_parts"]["total_count"], 2, "the reply was not stored: {parts}");
    shot(b, size, "conversation").await?;
    no_violations(b, "the conversation").await?;

    // The policy is really in force: an inline script is refused, and Chromium says so.
    b.execute(
        "const s = document.createElement('script'); s.textContent = 'window.inlineRan = true;'; \
         document.body.append(s);",
        json!([]),
    )
    .await?;
    let ran = b.execute("return window.inlineRan === true;", json!([])).await?;
    assert_eq!(ran, json!(false), "an inline script ran: the Content Security Policy is missing");
    let mut reported = Vec::new();
    b.wait_for("Chromium to report the refused inline script", WAIT, async || {
        reported.extend(violations(b).await?);
        if reported.iter().any(|v| v.contains("inline script")) { Ok(()) } else { Err(fail!("{reported:?}")) }
    })
    .await?;
    // Anything else reported late still belongs to the pages above.
    let others: Vec<&String> = reported.iter().filter(|v| !v.contains("inline script")).collect();
    assert!(others.is_empty(), "the conversation broke the Content Security Policy: {others:#?}");
    Ok(())
}

/// The Content Security Policy violations Chromium reported since the last look.
async fn violations(b: &Browser) -> Result<Vec<String>> {
    Ok(b.console_log().await?.into_iter().filter(|m| m.contains("Content Security Policy")).collect())
}

pub(crate) async fn no_violations(b: &Browser, page: &str) -> Result<()> {
    let found = violations(b).await?;
    if found.is_empty() { Ok(()) } else { Err(fail!("{page} broke the Content Security Policy: {found:#?}")) }
}

/// Marks the page shown, so [`same_page`] can tell whether it was replaced since.
pub(crate) async fn mark_page(b: &Browser) -> Result<()> {
    b.execute("window.tidingsTestMark = true;", json!([])).await.map(drop)
}

/// Fails when the page marked by [`mark_page`] was replaced (a form was submitted the old way).
/// WebDriver finishes a navigation before it runs a script, so a submission cannot slip past.
pub(crate) async fn same_page(b: &Browser, after: &str) -> Result<()> {
    let still = b.execute("return window.tidingsTestMark === true;", json!([])).await?;
    if still == json!(true) { Ok(()) } else { Err(fail!("the page reloaded after {after}")) }
}

async fn shot(b: &Browser, size: &str, page: &str) -> Result<()> {
    let path = std::env::temp_dir().join(format!("tidings-csp-{size}-{page}.png"));
    b.screenshot(&path).await?;
    eprintln!("[{size}] screenshot: {}", path.display());
    Ok(())
}
