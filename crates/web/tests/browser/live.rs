//! Teammates' pages follow the workspace live, in real headless Chromium at desktop and phone
//! sizes, while Ada uses the Messenger on the company's site in a browser of her own. A chat is
//! sent to her; with the message's page open, its "seen" figure goes to 1 when she opens the
//! Messenger; with the message list open, her click on the chat's link shows in the list; with the
//! activity feed open, her reply joins "Latest replies"; with the conversation open, her next
//! words appear in it. No page reloads for any of it (each is marked, and checked afterwards),
//! and Chromium reports no Content Security Policy violation. Screenshots of each page land in
//! the temporary folder (`tidings-live-{desktop,phone}-{message,messages,activity,conversation}.png`).

use serde_json::json;

use crate::app::App;
use crate::csp::{mark_page, no_violations, same_page};
use crate::host::Host;
use crate::messages::{click_shadow, log_in, shadow, wait_contains, wait_online, wait_text};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip, wait_for_path};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teammates_pages_follow_the_workspace_live_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teammates_pages_follow_the_workspace_live_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let host = Host::start(&app.base, &app.app_id, &app.identity_secret).await.unwrap_or_else(|e| panic!("{e}"));
    let teammate = Browser::start(&driver, width, height, width < 700)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start a browser: {e}"));
    let ada =
        Browser::start(&driver, 1000, 800, false).await.unwrap_or_else(|e| panic!("[{size}] start a browser: {e}"));
    let result = scenario(&app, &host, &teammate, &ada, size).await;
    let _ = teammate.quit().await;
    let _ = ada.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
}

async fn scenario(app: &App, host: &Host, t: &Browser, ada: &Browser, size: &str) -> Result<()> {
    let ada_id = app.id("ada@acme.test");
    ada.goto(&host.page_of("ada@acme.test")).await?;
    wait_online(app, ada_id).await?;
    log_in(app, t).await?;

    // A chat to Ada: her Messenger shows it, unread.
    let body = format!("Hello Ada, anything we can help with? [Read the guide]({}/guide)", host.base);
    let m = app
        .api
        .post(
            "/manual_messages",
            json!({"title": "Live figures", "channel": "chat", "body": body, "audience": {"contact_ids": [ada_id.to_string()]}, "send": true}),
        )
        .await?;
    let id = m["id"].as_str().ok_or_else(|| fail!("no message id: {m}"))?.to_owned();
    ada.wait_for("Ada's unread badge", WAIT, async || {
        let badge = shadow(ada, ".launcher .badge").await?;
        if badge == "1" { Ok(()) } else { Err(fail!("badge {badge:?}")) }
    })
    .await?;

    // 1. The message's page: nobody has seen it; Ada opens her Messenger, and the figure moves.
    let path = format!("/app/messages/{id}");
    t.goto(&app.url(&path)).await?;
    wait_text(t, "[data-stat=seen]", "0").await?;
    read_again(t, &format!("/manual_messages/{id}")).await?;
    mark_page(t).await?;
    click_shadow(ada, ".launcher").await?;
    wait_text(t, "[data-stat=seen]", "1").await?;
    same_page(t, "Ada saw the message").await?;
    shot(t, size, "message").await?;
    crate::check_layout(t, false).await?;
    no_violations(t, "the message's page").await?;

    // 2. The message list: Ada follows the chat's link, and its row counts the click.
    t.goto(&app.url("/app/messages")).await?;
    let clicked = format!("#messages tr[data-id=\"{id}\"] [data-stat=clicked]");
    wait_text(t, &clicked, "0").await?;
    read_again(t, "/manual_messages?").await?;
    mark_page(t).await?;
    click_shadow(ada, ".part[data-delivery] a[href]").await?;
    wait_text(t, &clicked, "1").await?;
    same_page(t, "Ada followed the link").await?;
    shot(t, size, "messages").await?;
    crate::check_layout(t, false).await?;
    no_violations(t, "the message list").await?;

    // 3. The activity feed: nobody waits for a reply until Ada answers the chat.
    t.goto(&app.url("/app/activity")).await?;
    wait_for_path(t, app, "/app/activity").await?;
    read_again(t, "/app/activity").await?;
    let replies = t.find("#replies").await?.text().await?;
    assert!(!replies.contains("Ada"), "Ada waits for a reply before writing one: {replies:?}");
    mark_page(t).await?;
    ada_writes(ada, "Great, thanks! One question though.").await?;
    wait_contains(t, "#replies", "Ada Lovelace").await?;
    same_page(t, "Ada replied").await?;
    shot(t, size, "activity").await?;
    crate::check_layout(t, false).await?;
    no_violations(t, "the activity feed").await?;

    // 4. Her conversation, from the feed: her next words appear in it.
    t.find("#replies a[href^=\"/app/conversations/\"]").await?.click().await?;
    let conversation = t
        .wait_for("the conversation's page", WAIT, async || {
            let url = t.current_url().await?;
            let path = url.strip_prefix(&app.base).unwrap_or_default().to_owned();
            if path.starts_with("/app/conversations/") { Ok(path) } else { Err(fail!("at {url}")) }
        })
        .await?;
    wait_contains(t, "#parts", "One question though.").await?;
    read_again(t, &conversation).await?;
    mark_page(t).await?;
    ada_writes(ada, "Can I change my plan in the middle of the month?").await?;
    wait_contains(t, "#parts", "Can I change my plan in the middle of the month?").await?;
    same_page(t, "Ada wrote again").await?;
    shot(t, size, "conversation").await?;
    crate::check_layout(t, false).await?;
    no_violations(t, "the conversation").await?;
    Ok(())
}

/// Waits until the page has read through `path` since it was loaded: its stream opened and said
/// `ready`. What happens from then on reaches the page as an event, not in that first read.
async fn read_again(b: &Browser, path: &str) -> Result<()> {
    b.wait_for(&format!("the page to read {path} when its stream opened"), WAIT, async || {
        let n = b
            .execute(
                "return performance.getEntriesByType('resource').filter((e) => e.name.includes(arguments[0])).length;",
                json!([path]),
            )
            .await?;
        if n.as_u64().unwrap_or(0) > 0 { Ok(()) } else { Err(fail!("{n} reads")) }
    })
    .await
}

/// Ada writes in her open Messenger, as she would by typing and pressing Send.
async fn ada_writes(ada: &Browser, words: &str) -> Result<()> {
    ada.execute(
        "const r = document.getElementById('tidings-messenger').shadowRoot; \
         r.querySelector('textarea').value = arguments[0]; r.querySelector('form').requestSubmit();",
        json!([words]),
    )
    .await
    .map(drop)
}

async fn shot(b: &Browser, size: &str, page: &str) -> Result<()> {
    let path = std::env::temp_dir().join(format!("tidings-live-{size}-{page}.png"));
    b.screenshot(&path).await?;
    eprintln!("[{size}] screenshot: {}", path.display());
    Ok(())
}
