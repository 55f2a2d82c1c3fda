//! Manual messages end to end, in real headless Chromium with a separate browser for the
//! teammate and for each contact (each its own profile: no shared cookies or storage). The
//! contacts run the Messenger on the company's own site (another origin, see `host.rs`).
//!
//! The teammate selects two contacts in the user list and sends a chat. Ada, whose Messenger is
//! open, gets it with an unread badge while Grace, who is offline, has it pending (and not on her
//! profile). Ada replies; the reply appears in the teammate's conversation view, and the
//! teammate's answer reaches Ada's open Messenger. Grace opens the Messenger later and only then
//! receives it. A message to a filter reaches only the matching contacts. A stopped message never
//! reaches a contact who comes online afterwards, and its stats still show who got it; the user
//! list then finds everyone who has not received it.

use std::time::Instant;

use serde_json::{Value as Json, json};

use crate::app::{App, OWNER_EMAIL, OWNER_PASSWORD};
use crate::host::Host;
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip, wait_for_path};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_messages_reach_the_chosen_contacts_in_real_time() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("start Tidings: {e}"));
    let host = Host::start(&app.base, &app.app_id, &app.identity_secret).await.unwrap_or_else(|e| panic!("{e}"));
    let teammate = Browser::start(&driver, 1280, 900, false).await.unwrap_or_else(|e| panic!("start a browser: {e}"));
    let ada = Browser::start(&driver, 1000, 800, false).await.unwrap_or_else(|e| panic!("start a browser: {e}"));
    let result = scenario(&app, &host, &driver, &teammate, &ada).await;
    let _ = teammate.quit().await;
    let _ = ada.quit().await;
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn scenario(app: &App, host: &Host, driver: &std::path::Path, t: &Browser, ada: &Browser) -> Result<()> {
    let (ada_id, grace_id) = (app.id("ada@acme.test"), app.id("grace@navy.test"));

    // Ada has the company's site open, with the Messenger connected.
    ada.goto(&host.page_of("ada@acme.test")).await?;
    wait_online(app, ada_id).await?;

    // 1. The teammate selects Ada and Grace in the user list and presses "Message".
    log_in(app, t).await?;
    for id in [ada_id, grace_id] {
        t.wait_for("the contact's row", WAIT, async || t.find(&format!("#contacts tr[data-id=\"{id}\"] input")).await)
            .await?
            .click()
            .await?;
    }
    t.find("#message-selected").await?.click().await?;
    wait_for_path(t, app, "/app/messages/new").await?;
    wait_text(t, "#audience-count", "2").await?;
    let chosen = t.find_all("#chosen li").await?.len();
    assert_eq!(chosen, 2, "the simple composer lists the two chosen contacts");
    t.find("#title").await?.send_keys("Welcome chat").await?;
    let guide = format!("{}/guide", host.base);
    let body = format!("Hi {{{{first_name | fallback: \"there\"}}}}, **how is it going?** [Read the guide]({guide})");
    t.find("#body").await?.send_keys(&body).await?;
    // The preview shows the message as a chosen contact sees it, personalised.
    wait_preview(t, ", how is it going?").await?;
    t.find("#preview-as").await?.select(&ada_id.to_string()).await?;
    wait_preview(t, "Hi Ada, how is it going?").await?;

    // 2. Send: Ada's open Messenger shows it with an unread badge; Grace's delivery is pending.
    accept_confirms(t).await?;
    let sent_at = Instant::now();
    t.find("#send").await?.click().await?;
    let message_url = t.wait_for("the message's page", WAIT, async || page_id(t, "/app/messages/").await).await?;
    let message_id = message_url;
    ada.wait_for("Ada's unread badge", WAIT, async || {
        let badge = shadow(ada, ".launcher .badge").await?;
        if badge == "1" { Ok(()) } else { Err(fail!("badge {badge:?}")) }
    })
    .await?;
    eprintln!("Ada's Messenger showed the chat {:?} after the send was pressed", sent_at.elapsed());
    let title = ada.execute("return document.title;", json!([])).await?;
    assert_eq!(title, json!("unread 1"), "onUnreadCountChange reported the unread chat");
    let figures = stats_of(app, &message_id).await?;
    assert_eq!(
        (figures["targeted"].as_i64(), figures["sent"].as_i64(), figures["pending"].as_i64()),
        (Some(2), Some(1), Some(1))
    );
    // While pending, the message is not on Grace's profile; it is on Ada's.
    assert!(!received_on_profile(t, app, grace_id, "Welcome chat").await?, "a pending message shows on the profile");
    assert!(received_on_profile(t, app, ada_id, "Welcome chat").await?, "a sent message is missing from the profile");

    // 3. Ada opens the Messenger, which opens the unread chat; she reads it (the badge goes)
    //    and replies.
    click_shadow(ada, ".launcher").await?;
    ada.wait_for("the chat in Ada's Messenger", WAIT, async || {
        let text = shadow(ada, ".parts").await?;
        if text.contains("Hi Ada, how is it going?") { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await?;
    ada.wait_for("the badge to go", WAIT, async || match shadow(ada, ".launcher .badge").await {
        Err(_) => Ok(()),
        Ok(b) => Err(fail!("badge still {b:?}")),
    })
    .await?;
    // She follows the link in it: a click, counted for her delivery.
    click_shadow(ada, ".part[data-delivery] a[href]").await?;
    let clicks = t.wait_for("the click in the stats", WAIT, async || {
        let figures = stats_of(app, &message_id).await?;
        if figures["clicked"] == json!(1) { Ok(figures) } else { Err(fail!("{figures}")) }
    });
    clicks.await?;
    ada.execute(
        "const r = document.getElementById('tidings-messenger').shadowRoot; \
         r.querySelector('textarea').value = 'Great, thanks! One question though.'; \
         r.querySelector('form').requestSubmit();",
        json!([]),
    )
    .await?;

    // 4. The reply appears in the teammate's conversation view; the teammate answers, live.
    t.goto(&app.url(&format!("/app/messages/{message_id}"))).await?;
    let link = t
        .wait_for("the conversation on the message's page", WAIT, async || {
            t.goto(&app.url(&format!("/app/messages/{message_id}"))).await?;
            t.find("a[href^=\"/app/conversations/\"]").await?.attribute("href").await?.ok_or_else(|| fail!("no href"))
        })
        .await?;
    t.goto(&app.url(&link)).await?;
    wait_contains(t, "#parts", "Great, thanks! One question though.").await?;
    t.find("#reply-body").await?.send_keys("Sure, ask away.").await?;
    t.find("#reply").await?.click().await?;
    wait_contains(t, "#parts", "Sure, ask away.").await?;
    let shown = t.find("#parts").await?.text().await?;
    assert!(!shown.contains("<p>"), "the reply's markup shows as text: {shown:?}");
    ada.wait_for("the teammate's answer in Ada's open conversation", WAIT, async || {
        let text = shadow(ada, ".parts").await?;
        if text.contains("Sure, ask away.") { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await?;
    let figures = stats_of(app, &message_id).await?;
    assert_eq!((figures["seen"].as_i64(), figures["replied"].as_i64()), (Some(1), Some(1)), "{figures}");

    // 5. Grace opens the Messenger later, and only then receives it.
    assert_eq!(figures["pending"].as_i64(), Some(1), "Grace's delivery waited for her: {figures}");
    let grace = Browser::start(driver, 1000, 800, false).await?;
    let grace_result = async {
        grace.goto(&host.page_of("grace@navy.test")).await?;
        grace
            .wait_for("Grace's unread badge", WAIT, async || {
                let badge = shadow(&grace, ".launcher .badge").await?;
                if badge == "1" { Ok(()) } else { Err(fail!("badge {badge:?}")) }
            })
            .await
    }
    .await;
    let _ = grace.quit().await;
    grace_result?;
    let figures = stats_of(app, &message_id).await?;
    assert_eq!((figures["sent"].as_i64(), figures["pending"].as_i64()), (Some(2), Some(0)), "{figures}");
    assert!(received_on_profile(t, app, grace_id, "Welcome chat").await?, "once sent, it shows on Grace's profile");

    // 6. A manual message to a filter (plan is free) reaches only the matching contacts.
    t.goto(&app.url("/app/messages/new")).await?;
    t.find("#title").await?.send_keys("Free plan announcement").await?;
    t.find("input[name=channel][value=post]").await?.click().await?;
    t.find("#body").await?.send_keys("# Upgrade day\n\nEverything is **half price** today.").await?;
    t.find("#add-filter").await?.click().await?;
    let row = t.find("#rows .filter-row").await?;
    row.find("select[aria-label=Attribute]").await?.select("custom_attributes.plan").await?;
    let row = t.find("#rows .filter-row").await?;
    row.find("select[aria-label=Operator]").await?.select("=").await?;
    let row = t.find("#rows .filter-row").await?;
    row.find(".value").await?.send_keys("free").await?;
    let free = app.ids_where(|p| p.plan == Some("free"));
    wait_text(t, "#audience-count", &free.len().to_string()).await?;
    accept_confirms(t).await?;
    t.find("#send").await?.click().await?;
    let post_id = t.wait_for("the message's page", WAIT, async || page_id(t, "/app/messages/").await).await?;
    let targeted = recipients(app, &post_id, "targeted").await?;
    assert_eq!(targeted, free, "the filter's audience");
    // 7. A chat to everyone on the pro plan, stopped: Ada (online) got it before the stop;
    //    Katherine, who comes online afterwards, never does.
    t.goto(&app.url("/app/messages/new")).await?;
    t.find("#title").await?.send_keys("Outage notice").await?;
    t.find("#body").await?.send_keys("We are looking into an outage.").await?;
    t.find("#add-filter").await?.click().await?;
    t.find("#rows .filter-row select[aria-label=Attribute]").await?.select("custom_attributes.plan").await?;
    t.find("#rows .filter-row select[aria-label=Operator]").await?.select("=").await?;
    t.find("#rows .filter-row .value").await?.send_keys("pro").await?;
    let pro = app.ids_where(|p| p.plan == Some("pro")).len();
    wait_text(t, "#audience-count", &pro.to_string()).await?;
    accept_confirms(t).await?;
    t.find("#send").await?.click().await?;
    let outage = t.wait_for("the message's page", WAIT, async || page_id(t, "/app/messages/").await).await?;
    // Ada goes back to the Messenger's home, whose latest conversation is the outage chat.
    click_shadow(ada, ".back").await?;
    ada.wait_for("the outage chat in Ada's Messenger", WAIT, async || {
        let text = shadow(ada, ".list-card").await?;
        if text.contains("looking into an outage") { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await?;
    // The announcement to free users (step 6) never reached her, though her Messenger was open
    // all along: it went out before this chat, so it would be on her home by now.
    let ada_news = ada
        .execute(
            "return document.getElementById('tidings-messenger').shadowRoot.querySelectorAll('.news, .post-card').length;",
            json!([]),
        )
        .await?;
    assert_eq!(ada_news, json!(0), "an announcement to free users reached Ada");
    accept_confirms(t).await?;
    t.find("#stop").await?.click().await?;
    wait_text(t, "#state", "stopped").await?;
    let katherine = Browser::start(driver, 1000, 800, false).await?;
    let katherine_result = async {
        katherine.goto(&host.page_of("katherine@nasa.test")).await?;
        // The Messenger fetches before it connects: once she is online, that fetch is done.
        wait_online(app, app.id("katherine@nasa.test")).await?;
        click_shadow(&katherine, ".launcher").await?;
        click_shadow(&katherine, ".tab[data-tab=list]").await?;
        let text = shadow(&katherine, ".list").await?;
        Ok::<_, crate::webdriver::Error>(text)
    }
    .await;
    let _ = katherine.quit().await;
    let text = katherine_result?;
    assert!(!text.contains("outage"), "a stopped message reached Katherine: {text:?}");
    let figures = stats_of(app, &outage).await?;
    assert_eq!(figures["sent"].as_i64(), Some(1), "the stats still show who received it: {figures}");
    assert_eq!(figures["cancelled"].as_i64(), Some(pro as i64 - 1), "{figures}");
    assert_eq!(figures["pending"].as_i64(), Some(0), "{figures}");
    // The stop cannot be undone: sending it again is refused.
    let again = t
        .execute(
            "return fetch(arguments[0], {method: 'POST', headers: {'X-CSRF-Token': document.querySelector('meta[name=csrf-token]').content}}).then((r) => r.status);",
            json!([format!("/manual_messages/{outage}/send")]),
        )
        .await?;
    assert_eq!(again, json!(409), "a stopped message was sent again");
    // Its page offers a new message to those who did not receive it.
    t.goto(&app.url(&format!("/app/messages/{outage}"))).await?;
    t.find("#follow-up").await?.click().await?;
    t.wait_for("the follow-up draft in the composer", WAIT, async || {
        let url = t.current_url().await?;
        if url.ends_with("/edit") { Ok(()) } else { Err(fail!("at {url}")) }
    })
    .await?;
    // Those the stopped message targeted who did not receive it: not everyone else.
    wait_text(t, "#audience-count", &(pro - 1).to_string()).await?;
    t.find("#save-draft").await?.click().await?;
    let draft = t.wait_for("the draft's page", WAIT, async || page_id(t, "/app/messages/").await).await?;
    let saved = app.api.get(&format!("/manual_messages/{draft}")).await?;
    let fields: Vec<&str> = saved["audience"]["query"]["value"]
        .as_array()
        .map(|v| v.iter().filter_map(|f| f["field"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
        ["targeted_by_message", "received_message"],
        "saving the follow-up changed its audience: {saved}"
    );

    // 8. The user list's filter builder offers message history: users who have not received it.
    t.goto(&app.url("/app/contacts")).await?;
    t.find("#add-filter").await?.click().await?;
    t.find("#rows .filter-row select[aria-label=Attribute]").await?.select("received_message").await?;
    t.find("#rows .filter-row select[aria-label=Operator]").await?.select("!=").await?;
    t.find("#rows .filter-row .value").await?.select(&outage).await?;
    let users_but_ada = app.ids_where(|p| p.role == "user" && p.email != "ada@acme.test");
    crate::expect_list(t, &format!("{} contacts", users_but_ada.len()), &users_but_ada).await?;
    Ok(())
}

pub(crate) async fn log_in(app: &App, b: &Browser) -> Result<()> {
    b.goto(&app.url("/app/login")).await?;
    b.find("input[name=email]").await?.send_keys(OWNER_EMAIL).await?;
    b.find("input[name=password]").await?.send_keys(OWNER_PASSWORD).await?;
    b.find("form.login button[type=submit]").await?.click().await?;
    wait_for_path(b, app, "/app/contacts").await
}

/// Waits until the server's hub has a Messenger of this contact connected.
pub(crate) async fn wait_online(app: &App, contact: i64) -> Result<()> {
    let deadline = Instant::now() + WAIT;
    while !app.state.hub.is_online(app.workspace_id, contact) {
        if Instant::now() > deadline {
            return Err(fail!("contact {contact}'s Messenger never connected"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Makes the page's confirmations answer yes, as a teammate would click: the browser's
/// `confirm()`, and the composer's own dialog, whose Send button is pressed once it opens
/// (`composer.rs` drives that dialog by hand: Escape, Cancel, focus).
pub(crate) async fn accept_confirms(b: &Browser) -> Result<()> {
    b.execute(
        "window.confirm = () => true; \
         const show = HTMLDialogElement.prototype.showModal; \
         HTMLDialogElement.prototype.showModal = function () { \
           show.call(this); const ok = this.querySelector('#confirm-ok'); if (ok) setTimeout(() => ok.click(), 0); };",
        json!([]),
    )
    .await
    .map(drop)
}

/// The id in a page's path, e.g. `/app/messages/7` → `7`, once the browser is there.
async fn page_id(b: &Browser, prefix: &str) -> Result<String> {
    let url = b.current_url().await?;
    let path =
        url.split_once("://").and_then(|(_, r)| r.split_once('/')).map(|(_, p)| format!("/{p}")).unwrap_or_default();
    match path.strip_prefix(prefix) {
        Some(id) if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) => Ok(id.to_owned()),
        _ => Err(fail!("at {url}")),
    }
}

pub(crate) async fn wait_text(b: &Browser, css: &str, want: &str) -> Result<()> {
    b.wait_for(&format!("{css} to read {want:?}"), WAIT, async || {
        let text = b.find(css).await?.text().await?;
        if text == want { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await
}

/// Waits until the composer's preview, drawn by the Messenger's own script in its shadow root,
/// shows a body containing `want`.
pub(crate) async fn wait_preview(b: &Browser, want: &str) -> Result<()> {
    b.wait_for(&format!("the preview to contain {want:?}"), WAIT, async || {
        let text = b
            .execute(
                "const host = document.querySelector('#messenger-preview #tidings-messenger'); \
                 const body = host && host.shadowRoot.querySelector('.html'); \
                 return body ? body.textContent : null;",
                json!([]),
            )
            .await?;
        match text.as_str() {
            Some(t) if t.contains(want) => Ok(()),
            _ => Err(fail!("{text}")),
        }
    })
    .await
}

pub(crate) async fn wait_contains(b: &Browser, css: &str, want: &str) -> Result<()> {
    b.wait_for(&format!("{css} to contain {want:?}"), WAIT, async || {
        let text = b.find(css).await?.text().await?;
        if text.contains(want) { Ok(()) } else { Err(fail!("{text:?}")) }
    })
    .await
}

/// The text of an element inside the Messenger's shadow root.
pub(crate) async fn shadow(b: &Browser, css: &str) -> Result<String> {
    let v = b
        .execute(
            "const host = document.getElementById('tidings-messenger'); \
             const e = host && host.shadowRoot.querySelector(arguments[0]); return e ? e.textContent : null;",
            json!([css]),
        )
        .await?;
    v.as_str().map(str::to_owned).ok_or_else(|| fail!("no {css} in the Messenger"))
}

pub(crate) async fn click_shadow(b: &Browser, css: &str) -> Result<()> {
    b.wait_for(&format!("{css} in the Messenger"), WAIT, async || {
        let v = b
            .execute(
                "const host = document.getElementById('tidings-messenger'); \
                 const e = host && host.shadowRoot.querySelector(arguments[0]); if (e) e.click(); return !!e;",
                json!([css]),
            )
            .await?;
        if v == json!(true) { Ok(()) } else { Err(fail!("not there")) }
    })
    .await
}

async fn stats_of(app: &App, message: &str) -> Result<Json> {
    Ok(app.api.get(&format!("/manual_messages/{message}")).await?["stats"].clone())
}

/// The contacts behind one figure of a message, by id.
async fn recipients(app: &App, message: &str, stat: &str) -> Result<std::collections::BTreeSet<i64>> {
    let list = app.api.get(&format!("/manual_messages/{message}/recipients?stat={stat}&per_page=150")).await?;
    Ok(list["data"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()?.parse().ok()).collect())
}

/// Whether the contact's profile lists this message among those received.
async fn received_on_profile(b: &Browser, app: &App, contact: i64, title: &str) -> Result<bool> {
    b.goto(&app.url(&format!("/app/contacts/{contact}"))).await?;
    let text = b.find("#received").await?.text().await?;
    Ok(text.contains(title))
}

/// From a phone: the teammate opens a contact from the activity feed, taps the message icon in
/// the bottom left-hand corner, and sends an announcement (the composer starts on a chat). Every
/// page fits the phone's screen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teammate_messages_a_contact_from_a_phone() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("start Tidings: {e}"));
    let phone = Browser::start(&driver, 390, 844, true).await.unwrap_or_else(|e| panic!("start a browser: {e}"));
    let result = from_a_phone(&app, &phone).await;
    let _ = phone.quit().await;
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn from_a_phone(app: &App, b: &Browser) -> Result<()> {
    let alan = app.id("alan@acme.test");
    let now = tidings_web::auth::now();
    app.api.put(&format!("/contacts/{alan}"), json!({"signed_up_at": now - 3600})).await?;
    log_in(app, b).await?;

    // The activity feed lists Alan's fresh sign-up; his profile is a tap away.
    b.goto(&app.url("/app/activity")).await?;
    crate::check_layout(b, false).await?;
    // The feed re-renders live (Alan's change above may arrive after the page), so a link found
    // a moment before its click can be stale: found again until the click lands.
    let link = format!("#signups a[href=\"/app/contacts/{alan}\"]");
    b.wait_for("a click on Alan in the feed", WAIT, async || b.find(&link).await?.click().await).await?;
    wait_for_path(b, app, &format!("/app/contacts/{alan}")).await?;

    // The message icon sits in the bottom left-hand corner of the screen.
    let fab = b
        .execute(
            "const r = document.querySelector('.message-fab').getBoundingClientRect(); \
             return [r.left, window.innerHeight - r.bottom, getComputedStyle(document.querySelector('.message-fab')).position];",
            json!([]),
        )
        .await?;
    let (left, from_bottom) = (fab[0].as_f64().unwrap_or(-1.0), fab[1].as_f64().unwrap_or(-1.0));
    assert!((0.0..=40.0).contains(&left) && (0.0..=40.0).contains(&from_bottom), "message icon at {fab}");
    assert_eq!(fab[2], json!("fixed"), "the message icon stays in the corner while scrolling");
    b.find(".message-fab").await?.click().await?;
    wait_for_path(b, app, "/app/messages/new").await?;
    crate::check_layout(b, false).await?;
    let channel = b.find("input[name=channel]:checked").await?.property("value").await?;
    assert_eq!(channel, "chat", "a message from a phone is an in-app chat by default");
    wait_text(b, "#audience-count", "1").await?;

    // Sent as an announcement instead, only during the chosen days and hours (all week, all
    // day but the last minute: open whenever the test runs, bar that minute).
    b.find("input[name=channel][value=post]").await?.click().await?;
    b.find("#title").await?.send_keys("Welcome aboard").await?;
    b.find("#body").await?.send_keys("Thanks for signing up, {{first_name}}!").await?;
    wait_preview(b, "Thanks for signing up, Alan!").await?;
    let hidden = b.execute("return document.getElementById('window').hidden;", json!([])).await?;
    assert_eq!(hidden, json!(true), "the window's fields wait for the box");
    b.find("#window-on").await?.click().await?;
    for day in ["6", "7"] {
        b.find(&format!("input[name=window-day][value=\"{day}\"]")).await?.click().await?;
    }
    b.execute(
        "document.getElementById('window-start').value = '00:00'; document.getElementById('window-end').value = '23:59';",
        json!([]),
    )
    .await?;
    crate::check_layout(b, false).await?;
    b.screenshot(&std::env::temp_dir().join("tidings-admin-phone-compose-window.png")).await?;
    accept_confirms(b).await?;
    b.find("#send").await?.click().await?;
    let id = b.wait_for("the message's page", WAIT, async || page_id(b, "/app/messages/").await).await?;
    crate::check_layout(b, false).await?;
    let m = app.api.get(&format!("/manual_messages/{id}")).await?;
    assert_eq!((m["channel"].as_str(), m["state"].as_str()), (Some("post"), Some("sent")), "{m}");
    assert_eq!(m["delivery_window"], json!({"days": [1, 2, 3, 4, 5, 6, 7], "start": "00:00", "end": "23:59"}), "{m}");
    let to = recipients(app, &id, "targeted").await?;
    assert_eq!(to, [alan].into_iter().collect(), "only Alan was targeted");
    b.screenshot(&std::env::temp_dir().join("tidings-admin-phone-message.png")).await?;
    Ok(())
}
