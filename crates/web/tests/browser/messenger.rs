//! The Messenger as a contact uses it, in real headless Chromium at desktop (1280×800) and phone
//! (390×844) sizes, on a company's page whose Content Security Policy allows no inline style.
//!
//! The team has a picture for Olga and none for Sam; the workspace is named, coloured and greets.
//! Ada opens the Messenger: its home shows all of that in the workspace's colour (full-screen on
//! a phone). She starts a conversation with Enter, writes two lines with Shift+Enter; Olga's reply
//! arrives live in the open thread with her name and picture. Back in the list, Olga's next words
//! show as an unread badge (on the conversation, the tab, the launcher and through
//! `onUnreadCountChange`) that clears when Ada opens the conversation. An announcement opens as a
//! card of its own; a chat from the team is a conversation she opens and answers. The
//! screenshots `docs/screenshots/messenger-{home,thread}-{desktop,phone}.png` are taken on the way,
//! and `tidings-messenger-{desktop,phone}-{new,list,announcement}.png` land in the temporary folder.

use std::path::Path;

use serde_json::{Value as Json, json};
use tidings_engine::profiles::MessengerLook;
use tidings_store::TeammateRole;

use crate::app::App;
use crate::csp::{mark_page, no_violations, same_page};
use crate::host::Host;
use crate::messages::{click_shadow, wait_online};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip};

/// WebDriver keys: Enter, Shift (held until [`RELEASE`]), release every key.
const ENTER: char = '\u{E007}';
const SHIFT: char = '\u{E008}';
const RELEASE: char = '\u{E000}';
const HOST: &str = "tidings-messenger";
/// The workspace's colour, `#0a7d4f`, as Chromium computes it.
const GREEN: &str = "rgb(10, 125, 79)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_messenger_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_messenger_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let host = Host::start(&app.base, &app.app_id, &app.identity_secret).await.unwrap_or_else(|e| panic!("{e}"));
    let phone = width < 700;
    let b =
        Browser::start(&driver, width, height, phone).await.unwrap_or_else(|e| panic!("[{size}] start a browser: {e}"));
    let result = scenario(&app, &host, &b, size, (width, height)).await;
    let _ = b.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
}

/// Runs `script` with the Messenger's shadow root as `root` (and `arguments` as given).
async fn in_widget(b: &Browser, script: &str, args: Json) -> Result<Json> {
    let script = format!("const root = document.getElementById('{HOST}').shadowRoot; {script}");
    b.execute(&script, args).await
}

/// The text of the first element matching `css` in the Messenger, `None` when there is none.
async fn text(b: &Browser, css: &str) -> Result<Option<String>> {
    let v = in_widget(b, "const e = root.querySelector(arguments[0]); return e ? e.textContent : null;", json!([css]))
        .await?;
    Ok(v.as_str().map(str::to_owned))
}

async fn wait_text(b: &Browser, css: &str, want: &str) -> Result<()> {
    b.wait_for(&format!("{css} to read {want:?}"), WAIT, async || match text(b, css).await? {
        Some(t) if t == want => Ok(()),
        other => Err(fail!("{other:?}")),
    })
    .await
}

async fn wait_gone(b: &Browser, css: &str) -> Result<()> {
    b.wait_for(&format!("{css} to go"), WAIT, async || match text(b, css).await? {
        None => Ok(()),
        Some(t) => Err(fail!("still there: {t:?}")),
    })
    .await
}

async fn style(b: &Browser, css: &str, property: &str) -> Result<String> {
    let v = in_widget(
        b,
        "return getComputedStyle(root.querySelector(arguments[0]))[arguments[1]];",
        json!([css, property]),
    )
    .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

async fn title(b: &Browser) -> Result<String> {
    Ok(b.execute("return document.title;", json!([])).await?.as_str().unwrap_or_default().to_owned())
}

/// Waits until the page's title, which follows `onUnreadCountChange`, reads `want`.
async fn wait_title(b: &Browser, want: &str) -> Result<()> {
    b.wait_for(&format!("the page's title to read {want:?}"), WAIT, async || {
        let t = title(b).await?;
        if t == want { Ok(()) } else { Err(fail!("{t:?}")) }
    })
    .await
}

/// Saves a screenshot where the docs show it.
async fn keep(b: &Browser, name: &str) -> Result<()> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&docs).map_err(|e| fail!("{e}"))?;
    let path = docs.join(format!("{name}.png"));
    b.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// Saves a screenshot in the temporary folder, for people to look at.
async fn shot(b: &Browser, size: &str, what: &str) -> Result<()> {
    let path = std::env::temp_dir().join(format!("tidings-messenger-{size}-{what}.png"));
    b.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// The panel's box, where the launcher is, and whether anything in the Messenger is wider than
/// its panel.
async fn measure(b: &Browser) -> Result<Json> {
    in_widget(
        b,
        "const p = root.querySelector('.panel').getBoundingClientRect(); \
         const l = root.querySelector('.launcher'); \
         const body = root.querySelector('.body'); \
         const cut = [...root.querySelectorAll('.panel *')].filter((e) => e.getClientRects().length) \
           .filter((e) => { const r = e.getBoundingClientRect(); return r.left < p.left - 1 || r.right > p.right + 1; }) \
           .map((e) => e.tagName + '.' + e.className); \
         return {left: p.left, top: p.top, width: p.width, height: p.height, \
                 launcher: getComputedStyle(l).display, scrolls_sideways: body.scrollWidth > body.clientWidth, cut};",
        json!([]),
    )
    .await
}

async fn scenario(app: &App, host: &Host, b: &Browser, size: &str, (width, height): (u32, u32)) -> Result<()> {
    let phone = width < 700;
    let ada = app.id("ada@acme.test");
    let store = app.state.store.clone();
    let ws = store.workspace(app.workspace_id).await.map_err(|e| fail!("{e}"))?.ok_or_else(|| fail!("no workspace"))?;
    let owner = store.teammates(ws.id).await.map_err(|e| fail!("{e}"))?.remove(0);
    let engine = &app.state.engine;
    engine.update_profile(&ws, &owner, "Olga Owens", &host.avatar()).await.map_err(|e| fail!("{e}"))?;
    tidings_web::provision::teammate(&store, &ws, "Sam Lee", "sam@acme.test", "a-long-password", TeammateRole::Member)
        .await
        .map_err(|e| fail!("add Sam: {e:?}"))?;
    let look = MessengerLook {
        name: "Acme Help".into(),
        color: "#0a7d4f".into(),
        greeting: "We usually answer within the hour.".into(),
    };
    engine.update_messenger_look(&ws, &look).await.map_err(|e| fail!("{e}"))?;

    // Ada's page, with the Messenger connected. The launcher wears the workspace's colour.
    b.goto(&host.strict_page_of("ada@acme.test")).await?;
    wait_online(app, ada).await?;
    assert_eq!(style(b, ".launcher", "backgroundColor").await?, GREEN, "the launcher's colour");

    // 1. The home: the workspace's name, greeting and team, in its colour.
    click_shadow(b, ".launcher").await?;
    wait_text(b, ".hello", "Hi Ada").await?;
    assert_eq!(text(b, ".greeting").await?.as_deref(), Some("We usually answer within the hour."));
    assert_eq!(text(b, ".head-title").await?.as_deref(), Some("Acme Help"));
    assert_eq!(style(b, ".head", "backgroundColor").await?, GREEN, "the header's colour");
    let team = b
        .wait_for("Olga's picture to load", WAIT, async || {
            let team = in_widget(
                b,
                "return [...root.querySelectorAll('.crew .avatar')].map((a) => { const i = a.querySelector('img'); \
                 return {initials: a.textContent, picture: i ? i.complete && i.naturalWidth > 0 : false, title: a.title}; });",
                json!([]),
            )
            .await?;
            if team[0]["picture"] == json!(true) { Ok(team) } else { Err(fail!("{team}")) }
        })
        .await?;
    assert_eq!(team.as_array().map(Vec::len), Some(2), "both teammates: {team}");
    assert_eq!((team[0]["title"].as_str(), team[1]["title"].as_str()), (Some("Olga Owens"), Some("Sam Lee")), "{team}");
    assert_eq!(
        (team[1]["initials"].as_str(), &team[1]["picture"]),
        (Some("SL"), &json!(false)),
        "Sam has no picture: {team}"
    );
    let m = measure(b).await?;
    if phone {
        let full = json!({"left": 0.0, "top": 0.0, "width": f64::from(width), "height": f64::from(height)});
        for k in ["left", "top", "width", "height"] {
            assert_eq!(m[k].as_f64(), full[k].as_f64(), "the panel fills the phone's screen: {m}");
        }
        assert_eq!(m["launcher"], "none", "the launcher steps aside on a phone: {m}");
    } else {
        assert_eq!(m["width"].as_f64(), Some(384.0), "a panel beside the page: {m}");
        assert_eq!(m["launcher"], "grid", "{m}");
    }
    assert_eq!((&m["scrolls_sideways"], &m["cut"]), (&json!(false), &json!([])), "nothing sticks out: {m}");

    // 2. A new conversation: Enter sends; Shift+Enter starts a new line.
    click_shadow(b, ".new-conversation").await?;
    let box_ = b.find_in_shadow(HOST, "textarea").await?;
    shot(b, size, "new").await?;
    box_.send_keys(&format!("Hello! I have a question about my invoice.{ENTER}")).await?;
    wait_text(b, ".part.mine .bubble", "Hello! I have a question about my invoice.").await?;
    assert_eq!(text(b, ".part.mine .who").await?.as_deref(), Some("You"));
    let conversation = b
        .wait_for("Ada's conversation", WAIT, async || {
            let all = store.conversations_of_contact(ws.id, ada).await.map_err(|e| fail!("{e}"))?;
            all.first().map(|c| c.id).ok_or_else(|| fail!("none yet"))
        })
        .await?;
    let box_ = b.find_in_shadow(HOST, "textarea").await?;
    assert_eq!(box_.property("value").await?, "", "the box empties once sent");
    box_.send_keys(&format!("It says March.{SHIFT}{ENTER}{RELEASE}Should it say April?")).await?;
    assert_eq!(box_.property("value").await?, "It says March.\nShould it say April?", "Shift+Enter is a new line");
    let mine = in_widget(b, "return root.querySelectorAll('.part.mine').length;", json!([])).await?;
    assert_eq!(mine, json!(1), "Shift+Enter sent nothing");
    box_.send_keys(&ENTER.to_string()).await?;
    b.wait_for("the two lines in the thread", WAIT, async || {
        let html = in_widget(
            b,
            "const m = root.querySelectorAll('.part.mine .bubble'); return m.length === 2 ? m[1].innerHTML : null;",
            json!([]),
        )
        .await?;
        let html = html.as_str().unwrap_or_default();
        if html.contains("It says March.<br>Should it say April?") { Ok(()) } else { Err(fail!("{html:?}")) }
    })
    .await?;

    // 3. Olga's reply arrives in the open thread, live, with her name and picture.
    mark_page(b).await?;
    let reply = |body: &str| json!({"message_type": "comment", "type": "admin", "admin_id": owner.id.to_string(), "body": body});
    app.api
        .post(&format!("/conversations/{conversation}/reply"), reply("Happy to help, **Ada**. Let me look."))
        .await?;
    wait_text(b, ".part.team .who", "Olga Owens").await?;
    assert_eq!(text(b, ".part.team .bubble").await?.as_deref(), Some("Happy to help, Ada. Let me look."));
    let picture =
        in_widget(b, "const i = root.querySelector('.part.team .avatar img'); return i ? i.src : null;", json!([]))
            .await?;
    assert_eq!(picture, json!(host.avatar()), "Olga's picture by her words");
    same_page(b, "Olga's reply").await?;
    let now = b.execute("return new Intl.RelativeTimeFormat(navigator.language, {numeric: 'auto', style: 'short'}).format(0, 'second');", json!([])).await?;
    let times = in_widget(
        b,
        "return [...root.querySelectorAll('.part time')].map((t) => [t.textContent, t.getAttribute('datetime')]);",
        json!([]),
    )
    .await?;
    let times = times.as_array().cloned().unwrap_or_default();
    assert_eq!(times.len(), 3, "every part has its time: {times:?}");
    assert!(times.iter().all(|t| t[1].as_str().is_some_and(|d| d.ends_with('Z'))), "each with its instant: {times:?}");
    assert_eq!(times[2][0], now, "the reply that just came, in the contact's own words");
    // She is looking at it: the team sees it was seen.
    b.wait_for("Olga's reply to be seen", WAIT, async || {
        let c =
            store.conversation(ws.id, conversation).await.map_err(|e| fail!("{e}"))?.ok_or_else(|| fail!("gone"))?;
        if c.contact_seen_part_id >= c.team_part_id && c.team_part_id > 0 { Ok(()) } else { Err(fail!("{c:?}")) }
    })
    .await?;
    wait_title(b, "unread 0").await?;
    keep(b, &format!("messenger-thread-{size}")).await?;

    // 4. The unread badge: Olga writes while Ada is on the list; opening the thread clears it.
    click_shadow(b, ".back").await?;
    click_shadow(b, ".tab[data-tab=list]").await?;
    let row = format!(".thread-row[data-id=\"{conversation}\"]");
    wait_text(b, &format!("{row} .row-name"), "Olga Owens").await?;
    app.api.post(&format!("/conversations/{conversation}/reply"), reply("Found it: fixed, it says April now.")).await?;
    wait_text(b, &format!("{row} .badge"), "1").await?;
    wait_text(b, ".launcher .badge", "1").await?;
    assert_eq!(text(b, ".tab[data-tab=list] .badge").await?.as_deref(), Some("1"));
    assert_eq!(text(b, &format!("{row} .preview")).await?.as_deref(), Some("Found it: fixed, it says April now."));
    wait_title(b, "unread 1").await?;
    shot(b, size, "list").await?;
    click_shadow(b, &row).await?;
    wait_text(b, ".part.team:last-child .bubble", "Found it: fixed, it says April now.").await?;
    wait_gone(b, ".launcher .badge").await?;
    wait_title(b, "unread 0").await?;
    click_shadow(b, ".back").await?;
    wait_text(b, &format!("{row} .row-name"), "Olga Owens").await?;
    assert_eq!(text(b, &format!("{row} .badge")).await?, None, "the conversation's badge cleared");

    // 5. An announcement opens as a card of its own, not in a thread.
    let to_ada = |channel: &str, title: &str, body: &str| json!({"title": title, "channel": channel, "body": body, "audience": {"contact_ids": [ada.to_string()]}, "send": true});
    app.api
        .post("/manual_messages", to_ada("post", "Spring release", "# Spring release\n\nDark mode is **here**."))
        .await?;
    wait_text(b, ".launcher .badge", "1").await?;
    click_shadow(b, ".tab[data-tab=home]").await?;
    wait_text(b, ".news strong", "Spring release").await?;
    // The home with something on it: the latest conversation and the news.
    wait_text(b, ".list-card .row-name", "Olga Owens").await?;
    keep(b, &format!("messenger-home-{size}")).await?;
    click_shadow(b, ".news").await?;
    wait_text(b, ".post-card h1", "Spring release").await?;
    assert!(text(b, ".post-card .html").await?.is_some_and(|t| t.contains("Dark mode is here.")));
    assert_eq!(text(b, ".parts").await?, None, "an announcement is no thread");
    assert_eq!(style(b, ".composer", "display").await?, "none", "and takes no reply");
    wait_gone(b, ".launcher .badge").await?;
    shot(b, size, "announcement").await?;

    // 6. A chat from the team is a conversation of its own, opened and answered.
    app.api
        .post("/manual_messages", to_ada("chat", "Plan check", "How is the new plan working out, {{first_name}}?"))
        .await?;
    wait_text(b, ".launcher .badge", "1").await?;
    click_shadow(b, ".back").await?;
    click_shadow(b, ".tab[data-tab=list]").await?;
    wait_text(b, ".thread-row:not([data-id]) .preview", "How is the new plan working out, Ada?").await?;
    click_shadow(b, ".thread-row:not([data-id])").await?;
    wait_text(b, ".part[data-delivery] .bubble", "How is the new plan working out, Ada?").await?;
    wait_gone(b, ".launcher .badge").await?;
    b.find_in_shadow(HOST, "textarea").await?.send_keys(&format!("Very well, thanks!{ENTER}")).await?;
    wait_text(b, ".part.mine .bubble", "Very well, thanks!").await?;
    let all = store.conversations_of_contact(ws.id, ada).await.map_err(|e| fail!("{e}"))?;
    assert_eq!(all.len(), 2, "the reply opened the chat's conversation");
    assert!(all.iter().any(|c| c.message_id.is_some()), "about the chat: {all:?}");
    let m = measure(b).await?;
    assert_eq!((&m["scrolls_sideways"], &m["cut"]), (&json!(false), &json!([])), "nothing sticks out of a thread: {m}");
    same_page(b, "everything above").await?;
    no_violations(b, "the Messenger on a page that allows no inline style").await?;
    Ok(())
}
