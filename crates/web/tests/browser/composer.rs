//! The message composer as a careful teammate uses it, in real headless Chromium at desktop
//! (1280×800) and phone (390×844) sizes, on a workspace in Europe/Paris: an empty body, an
//! email without a subject and an audience of nobody are refused in the page, naming the field,
//! before any confirmation; the send is confirmed in the page's own dialog (the recipients'
//! count, Cancel focused, Escape and Cancel send nothing, focus back on Send); the schedule field
//! names the workspace's zone and its time is read there; and Back returns to the page that
//! opened the composer (a contact, the messages), or to the messages when nothing did.

use serde_json::json;

use crate::app::App;
use crate::messages::{log_in, wait_contains, wait_text};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip, wait_for_path};

const ESCAPE: char = '\u{E00C}';
const ZONE: &str = "Europe/Paris";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_composer_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_composer_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start_in_zone(ZONE).await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let phone = width < 700;
    let b = Browser::start(&driver, width, height, phone)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start the browser: {e}"));
    let result = scenario(&app, &b, size, phone).await;
    let _ = b.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
}

async fn scenario(app: &App, b: &Browser, size: &str, phone: bool) -> Result<()> {
    log_in(app, b).await?;

    // Back returns where the composer was opened from; with no such page, to the messages.
    let ada = app.id("ada@acme.test");
    // A phone offers the composer on a contact's page (its round button); a desktop, from the
    // contacts chosen in the list.
    let from = if phone {
        b.goto(&app.url(&format!("/app/contacts/{ada}"))).await?;
        b.find("a.message-fab").await?.click().await?;
        format!("/app/contacts/{ada}")
    } else {
        b.goto(&app.url("/app/contacts")).await?;
        b.wait_for("Ada's row", WAIT, async || b.find(&format!("#contacts tr[data-id=\"{ada}\"] input")).await)
            .await?
            .click()
            .await?;
        b.find("#message-selected").await?.click().await?;
        "/app/contacts".to_owned()
    };
    wait_for_path(b, app, "/app/messages/new").await?;
    assert_eq!(back(b).await?, from, "Back from a contact's composer");
    b.goto(&app.url("/app/messages")).await?;
    b.find("a[href=\"/app/messages/new\"]").await?.click().await?;
    wait_for_path(b, app, "/app/messages/new").await?;
    assert_eq!(back(b).await?, "/app/messages", "Back from the messages' composer");
    b.goto(&app.url("/app/messages/new")).await?;
    assert_eq!(back(b).await?, "/app/messages", "Back with nowhere to return to");
    let everyone = app.ids_where(|p| p.role == "user" || p.role == "lead").len();
    wait_text(b, "#audience-count", &everyone.to_string()).await?;

    // 1. An empty body is refused in the page, naming it, and nothing is confirmed or saved.
    b.find("#send").await?.click().await?;
    wait_contains(b, "#compose-error", "body").await?;
    refused_before_confirming(b, app, "#body").await?;

    // An email without a subject: the same, naming the subject.
    b.find("#body").await?.send_keys("Hi {{first_name | fallback: \"there\"}}, our news").await?;
    b.find("input[name=channel][value=email]").await?.click().await?;
    // The email's preview answers first, so its answer cannot clear the refusal after it.
    b.wait_for("the email's preview", WAIT, async || {
        let from = b.find("#email-from").await?.text().await?;
        if from.is_empty() { Err(fail!("no preview yet")) } else { Ok(()) }
    })
    .await?;
    b.find("#send").await?.click().await?;
    wait_contains(b, "#compose-error", "subject").await?;
    refused_before_confirming(b, app, "#subject").await?;
    b.find("input[name=channel][value=chat]").await?.click().await?;
    b.wait_for("the chat's fields", WAIT, async || {
        let hidden = b.execute("return document.getElementById('email-fields').hidden;", json!([])).await?;
        if hidden == json!(true) { Ok(()) } else { Err(fail!("the email's fields still show")) }
    })
    .await?;

    // 2. An audience of nobody is refused with its reason before any confirmation.
    b.find("#add-filter").await?.click().await?;
    b.find("#rows .filter-row select[aria-label=Attribute]").await?.select("custom_attributes.plan").await?;
    b.find("#rows .filter-row select[aria-label=Operator]").await?.select("=").await?;
    b.find("#rows .filter-row .value").await?.send_keys("enterprise").await?;
    wait_text(b, "#audience-count", "0").await?;
    b.find("#send").await?.click().await?;
    wait_contains(b, "#compose-error", "Nobody matches this audience").await?;
    refused_before_confirming(b, app, "#send").await?;

    // 4. The page's own dialog, with the count: Escape and Cancel send nothing and give focus back.
    let value = b.find("#rows .filter-row .value").await?;
    value.clear().await?;
    value.send_keys("pro").await?;
    let pro = app.ids_where(|p| p.plan == Some("pro")).len();
    wait_text(b, "#audience-count", &pro.to_string()).await?;
    b.find("#send").await?.click().await?;
    dialog_open(b, true).await?;
    assert_eq!(
        b.find("#confirm-send-text").await?.text().await?,
        format!("Send this message to {pro} recipients now?")
    );
    assert_eq!(focused(b).await?, "confirm-cancel", "Cancel is focused first");
    // The dialog fits the screen (`phone` asks more of the contact list, not shown here).
    crate::check_layout(b, false).await?;
    b.screenshot(&std::env::temp_dir().join(format!("tidings-admin-{size}-compose-confirm.png"))).await?;
    b.find("#confirm-cancel").await?.send_keys(&ESCAPE.to_string()).await?;
    dialog_open(b, false).await?;
    assert_eq!(focused(b).await?, "send", "focus returns to Send after Escape");
    b.find("#send").await?.click().await?;
    dialog_open(b, true).await?;
    b.find("#confirm-cancel").await?.click().await?;
    dialog_open(b, false).await?;
    assert_eq!(focused(b).await?, "send", "focus returns to Send after Cancel");
    assert_eq!(messages(app).await?, 0, "Escape or Cancel saved or sent something");

    // 5. The schedule names the workspace's zone and reads its time there: 09:00 in Paris in
    //    July is 07:00 UTC, whatever the browser's own zone.
    assert_eq!(b.find("#schedule-zone").await?.text().await?, ZONE);
    b.execute(
        "const at = document.getElementById('schedule-at'); at.value = '2030-07-01T09:00'; \
         at.dispatchEvent(new Event('input', { bubbles: true }));",
        json!([]),
    )
    .await?;
    b.find("#schedule").await?.click().await?;
    let list = b
        .wait_for("the scheduled message", WAIT, async || {
            let list = app.api.get("/manual_messages?state=scheduled").await?;
            if list["data"].as_array().map(Vec::len) == Some(1) { Ok(list) } else { Err(fail!("{list}")) }
        })
        .await?;
    let m = &list["data"][0];
    assert_eq!(m["scheduled_at"], json!(1_909_119_600), "09:00 in {ZONE} on 1 July 2030: {m}");
    // 3. Its title, not written, comes from its first words with the tag as its fallback.
    assert_eq!(m["title"], "Hi there, our news", "{m}");
    Ok(())
}

/// The Back link's target, once the page's script has set it.
async fn back(b: &Browser) -> Result<String> {
    b.wait_for("the Back link", WAIT, async || {
        let v = b.execute("return document.readyState === 'complete' ? document.getElementById('back').getAttribute('href') : null;", json!([])).await?;
        v.as_str().map(str::to_owned).ok_or_else(|| fail!("page not loaded"))
    })
    .await
}

/// A refusal before confirming: the field is marked, no dialog opened, nothing saved.
async fn refused_before_confirming(b: &Browser, app: &App, field: &str) -> Result<()> {
    if field != "#send" {
        assert_eq!(b.find(field).await?.attribute("aria-invalid").await?.as_deref(), Some("true"), "{field}");
    }
    dialog_open(b, false).await?;
    assert_eq!(messages(app).await?, 0, "a refused send saved a message");
    Ok(())
}

async fn dialog_open(b: &Browser, open: bool) -> Result<()> {
    b.wait_for(&format!("the confirmation to be {}", if open { "open" } else { "closed" }), WAIT, async || {
        let v = b.execute("return document.getElementById('confirm-send').open;", json!([])).await?;
        if v == json!(open) { Ok(()) } else { Err(fail!("open: {v}")) }
    })
    .await
}

async fn focused(b: &Browser) -> Result<String> {
    let v = b.execute("return document.activeElement ? document.activeElement.id : '';", json!([])).await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// How many messages the workspace holds.
async fn messages(app: &App) -> Result<usize> {
    let list = app.api.get("/manual_messages").await?;
    Ok(list["data"].as_array().map_or(0, Vec::len))
}
