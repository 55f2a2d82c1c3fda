//! Menus and confirmations as a keyboard or mouse user meets them, in real headless Chromium at
//! desktop (1280×800) and phone (390×844) sizes: the contact list's Message menu and the
//! composer's Heading menu close on Escape (focus back on the button that opened them) and on a
//! click outside; a message's page asks before Send and Stop in its own dialog, never with the
//! browser's `confirm()`, and Escape and Cancel do nothing.

use serde_json::json;

use crate::app::App;
use crate::messages::{log_in, wait_text};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip, wait_for_path};

pub(crate) const ESCAPE: char = '\u{E00C}';

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menus_and_confirmations_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn menus_and_confirmations_at_phone_size() {
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
    let result = scenario(&app, &b).await;
    let _ = b.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
}

async fn scenario(app: &App, b: &Browser) -> Result<()> {
    log_in(app, b).await?;

    // The contact list's Message menu, with nobody selected.
    wait_text(b, "#count", "8").await?;
    menu_closes(b, "#message", "#message-menu", "#count").await?;

    // The composer's Heading menu; choosing from it closes it too, and writes the heading.
    b.goto(&app.url("/app/messages/new")).await?;
    b.find("#body").await?.send_keys("Our news").await?;
    menu_closes(b, "#heading-button", "#heading-menu", "h1").await?;
    b.find("#heading-button").await?.click().await?;
    b.find("#heading-menu button[data-md=h2]").await?.click().await?;
    assert!(!open(b, "#heading-menu").await?, "choosing a heading closes the menu");
    assert_eq!(b.find("#body").await?.property("value").await?, "## Our news");

    // A message's page asks in its own dialog; the browser's confirm() would fail the test.
    let draft = app
        .api
        .post(
            "/manual_messages",
            json!({"title": "Asked first", "body": "Hello", "channel": "chat", "audience": {"everyone": true}}),
        )
        .await?;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    b.goto(&app.url(&format!("/app/messages/{id}"))).await?;
    refuse_browser_confirm(b).await?;
    b.find("#send-now").await?.click().await?;
    dialog(b, true).await?;
    let everyone = app.ids_where(|p| p.role == "user" || p.role == "lead").len();
    wait_text(b, "#confirm-text", &format!("Send this message to {everyone} recipients now?")).await?;
    assert_eq!(focused(b).await?, "confirm-cancel", "Cancel is focused first");
    crate::check_layout(b, false).await?;
    b.find("#confirm-cancel").await?.send_keys(&ESCAPE.to_string()).await?;
    dialog(b, false).await?;
    assert_eq!(focused(b).await?, "send-now", "focus returns to Send after Escape");
    b.find("#send-now").await?.click().await?;
    dialog(b, true).await?;
    b.find("#confirm-cancel").await?.click().await?;
    dialog(b, false).await?;
    assert_eq!(focused(b).await?, "send-now", "focus returns to Send after Cancel");
    assert_eq!(state_of(app, &id).await?, "draft", "Escape or Cancel sent the message");
    b.find("#send-now").await?.click().await?;
    dialog(b, true).await?;
    b.find("#confirm-ok").await?.click().await?;
    b.wait_for("the message to be sent", WAIT, async || {
        let s = state_of(app, &id).await?;
        if s == "sent" { Ok(()) } else { Err(fail!("{s}")) }
    })
    .await?;

    // Stop: the same dialog, saying it cannot be undone.
    wait_for_path(b, app, &format!("/app/messages/{id}")).await?;
    b.wait_for("the Stop button", WAIT, async || b.find("#stop").await).await?;
    refuse_browser_confirm(b).await?;
    b.find("#stop").await?.click().await?;
    dialog(b, true).await?;
    assert!(b.find("#confirm-text").await?.text().await?.contains("cannot be undone"));
    assert_eq!(b.find("#confirm-ok").await?.text().await?, "Stop");
    b.find("#confirm-cancel").await?.click().await?;
    dialog(b, false).await?;
    assert_eq!(focused(b).await?, "stop", "focus returns to Stop");
    assert_eq!(state_of(app, &id).await?, "sent", "Cancel stopped the message");
    b.find("#stop").await?.click().await?;
    dialog(b, true).await?;
    b.find("#confirm-ok").await?.click().await?;
    b.wait_for("the message to be stopped", WAIT, async || {
        let s = state_of(app, &id).await?;
        if s == "stopped" { Ok(()) } else { Err(fail!("{s}")) }
    })
    .await?;
    let used = b.execute("return window.browserConfirmUsed === true;", json!([])).await?;
    assert_eq!(used, json!(false), "the page used the browser's confirm()");
    Ok(())
}

/// A menu opened by `button` closes on Escape (focus back on the button) and on a click on
/// `outside` (something that takes no focus: focus back on the button too).
pub(crate) async fn menu_closes(b: &Browser, button: &str, panel: &str, outside: &str) -> Result<()> {
    b.find(button).await?.click().await?;
    assert!(open(b, panel).await?, "{button} opens {panel}");
    assert_eq!(b.find(button).await?.attribute("aria-expanded").await?.as_deref(), Some("true"));
    let inside = b.execute("return document.activeElement.closest(arguments[0]) !== null;", json!([panel])).await?;
    assert_eq!(inside, json!(true), "opening {panel} moves focus into it");
    b.find(&format!("{panel} button")).await?.send_keys(&ESCAPE.to_string()).await?;
    assert!(!open(b, panel).await?, "Escape closes {panel}");
    assert_eq!(b.find(button).await?.attribute("aria-expanded").await?.as_deref(), Some("false"));
    assert_eq!(format!("#{}", focused(b).await?), button, "Escape gives focus back to {button}");
    b.find(button).await?.click().await?;
    assert!(open(b, panel).await?, "{button} opens {panel} again");
    b.find(outside).await?.click().await?;
    assert!(!open(b, panel).await?, "a click outside closes {panel}");
    assert_eq!(format!("#{}", focused(b).await?), button, "a click outside gives focus back to {button}");
    Ok(())
}

async fn open(b: &Browser, panel: &str) -> Result<bool> {
    let v = b.execute("return !document.querySelector(arguments[0]).hidden;", json!([panel])).await?;
    Ok(v == json!(true))
}

/// Makes the browser's `confirm()` remember it was called and answer no.
async fn refuse_browser_confirm(b: &Browser) -> Result<()> {
    b.execute("window.confirm = () => { window.browserConfirmUsed = true; return false; };", json!([])).await.map(drop)
}

async fn dialog(b: &Browser, open: bool) -> Result<()> {
    b.wait_for(&format!("the dialog to be {}", if open { "open" } else { "closed" }), WAIT, async || {
        let v = b.execute("return document.getElementById('confirm').open;", json!([])).await?;
        if v == json!(open) { Ok(()) } else { Err(fail!("open: {v}")) }
    })
    .await
}

pub(crate) async fn focused(b: &Browser) -> Result<String> {
    let v = b.execute("return document.activeElement ? document.activeElement.id : '';", json!([])).await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

async fn state_of(app: &App, id: &str) -> Result<String> {
    let m = app.api.get(&format!("/manual_messages/{id}")).await?;
    Ok(m["state"].as_str().unwrap_or_default().to_owned())
}
