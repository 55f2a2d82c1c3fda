//! Email in the admin app, in real headless Chromium, against a real SMTP server process
//! (`scripts/smtp-server`, aiosmtpd).
//!
//! Settings › Email refuses wrong fields, naming each, and keeps an SMTP password without ever
//! showing it. The teammate composes an email to Ada from the contact list; the preview shows it
//! personalised for her in its sandboxed frame; "Send a test to me" reaches the teammate's own
//! address marked `[Test]`; a send without a subject is refused with a clear error; the send
//! reaches Ada's address and the message page counts it, live.
//!
//! And the letters themselves: both templates, rendered as the engine writes them for a
//! personalised Markdown message, are opened at phone width, checked, and kept as the
//! screenshots `docs/email.md` shows (`docs/screenshots/email-{personal,plain}.png`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value as Json, json};
use tidings_core::message::EmailTemplate;
use tidings_engine::email::compose::EmailDraft;

use crate::app::{App, OWNER_EMAIL};
use crate::messages::{accept_confirms, log_in, wait_contains, wait_text};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, check_layout, chromedriver_or_skip, wait_for_path};

/// The SMTP server of one test, stopped when dropped.
struct Sink {
    child: Child,
    port: u16,
    out: PathBuf,
}

impl Sink {
    fn start(dir: &Path) -> Sink {
        let out = dir.join("sink.jsonl");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/smtp-server");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the test SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).expect("the server's first line");
        let port = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            panic!("the test SMTP server did not start (is aiosmtpd installed? scripts/test installs it): {line:?}")
        });
        Sink { child, port, out }
    }

    /// What the server accepted, one JSON object per recipient.
    fn accepted(&self) -> Vec<Json> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until the server accepted an email to `to`, and returns it.
    async fn wait_for(&self, to: &str) -> Result<Json> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(m) = self.accepted().into_iter().find(|m| m["to"] == to) {
                return Ok(m);
            }
            if std::time::Instant::now() > deadline {
                return Err(fail!("no email to {to} reached the SMTP server; it took {:?}", self.accepted()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teammate_sets_up_previews_tests_and_sends_an_email() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let dir = crate::webdriver::scratch_dir("tidings-browser-smtp").unwrap_or_else(|e| panic!("{e}"));
    let sink = Sink::start(&dir);
    let app = App::start_with_mail(Some(sink.port)).await.unwrap_or_else(|e| panic!("start Tidings: {e}"));
    let b = Browser::start(&driver, 1280, 900, false).await.unwrap_or_else(|e| panic!("start a browser: {e}"));
    let result = compose_and_send(&app, &sink, &b).await;
    let _ = b.quit().await;
    drop(sink);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn compose_and_send(app: &App, sink: &Sink, b: &Browser) -> Result<()> {
    let ada = app.id("ada@acme.test");
    log_in(app, b).await?;

    // 1. Settings › Email: it is ready on the server's setup; wrong fields are named.
    b.goto(&app.url("/app/settings")).await?;
    wait_contains(b, "#email-ready", "Email is ready to send: the server's SMTP server, the server's sender address")
        .await?;
    b.find("#email-from").await?.send_keys("not-an-address").await?;
    b.find("#email-rate").await?.send_keys("0").await?;
    b.find("#email-settings button[type=submit]").await?.click().await?;
    wait_contains(b, "#email-error", "Sender address \"not-an-address\" is not an email address").await?;
    wait_contains(b, "#email-error", "Rate limit \"0\" must be a whole number").await?;
    for (field, bad) in [("#email-from", true), ("#email-rate", true), ("#email-reply-to", false)] {
        let marked = b.find(field).await?.attribute("aria-invalid").await?.as_deref() == Some("true");
        assert_eq!(marked, bad, "{field} marked as wrong: {marked}");
    }
    assert_eq!(b.find("#email-from").await?.property("value").await?, "not-an-address", "what was typed stays");
    let ws = app.state.store.workspace(app.workspace_id).await.map_err(|e| fail!("{e}"))?.expect("the workspace");
    assert_eq!(ws.email.from, None, "nothing was saved");

    // A workspace SMTP server with a password: saved, and shown back without it.
    let from = b.find("#email-from").await?;
    from.clear().await?;
    from.send_keys("news@acme.test").await?;
    let rate = b.find("#email-rate").await?;
    rate.clear().await?;
    rate.send_keys("600").await?;
    b.find("#email-reply-to").await?.send_keys("support@acme.test").await?;
    let smtp = format!("smtp://postmaster:s3cret-pass@127.0.0.1:{}", sink.port);
    b.find("#email-smtp-url").await?.send_keys(&smtp).await?;
    b.find("#email-tracking").await?.click().await?;
    b.find("#email-settings button[type=submit]").await?.click().await?;
    wait_text(b, ".settings > .notice", "Email settings saved.").await?;
    let shown = b.find("#email-smtp-url").await?.property("value").await?;
    assert_eq!(shown, format!("smtp://postmaster:***@127.0.0.1:{}", sink.port), "the password is hidden");
    let source = b.execute("return document.documentElement.outerHTML;", json!([])).await?;
    assert!(!source.as_str().unwrap_or_default().contains("s3cret-pass"), "the password never reaches the page");
    let ws = app.state.store.workspace(app.workspace_id).await.map_err(|e| fail!("{e}"))?.expect("the workspace");
    assert_eq!(ws.email.smtp_url.as_deref(), Some(smtp.as_str()));
    assert_eq!(
        (ws.email.from.as_deref(), ws.email.reply_to.as_deref(), ws.email.rate_per_minute, ws.email.tracking),
        (Some("news@acme.test"), Some("support@acme.test"), Some(600), false)
    );
    wait_contains(b, "#email-ready", "this workspace's SMTP server, this workspace's sender address").await?;
    shot(b, "settings-email").await?;
    // Saved again with the hidden URL as shown: the stored password is kept. Then back to the
    // server's SMTP server (this test server takes no passwords).
    b.find("#email-settings button[type=submit]").await?.click().await?;
    wait_text(b, ".settings > .notice", "Email settings saved.").await?;
    let ws = app.state.store.workspace(app.workspace_id).await.map_err(|e| fail!("{e}"))?.expect("the workspace");
    assert_eq!(ws.email.smtp_url.as_deref(), Some(smtp.as_str()), "an unchanged field keeps the password");
    b.find("#email-settings input[name=smtp_remove]").await?.click().await?;
    b.find("#email-settings button[type=submit]").await?.click().await?;
    wait_text(b, ".settings > .notice", "Email settings saved.").await?;
    let ws = app.state.store.workspace(app.workspace_id).await.map_err(|e| fail!("{e}"))?.expect("the workspace");
    assert_eq!(ws.email.smtp_url, None, "the server's SMTP server again");

    // 2. From the contact list: Ada, "Message", Email.
    b.goto(&app.url("/app/contacts")).await?;
    b.wait_for("Ada's row", WAIT, async || b.find(&format!("#contacts tr[data-id=\"{ada}\"] input")).await)
        .await?
        .click()
        .await?;
    b.find("#message-selected").await?.click().await?;
    wait_for_path(b, app, "/app/messages/new").await?;
    wait_text(b, "#audience-count", "1").await?;
    let subject_shown = async || -> Result<bool> {
        Ok(b.execute("return document.getElementById('subject').getClientRects().length > 0;", json!([])).await?
            == json!(true))
    };
    assert!(!subject_shown().await?, "an in-app message has no subject field");
    b.find("input[name=channel][value=email]").await?.click().await?;
    assert!(subject_shown().await?, "an email has a subject field");
    b.find("#title").await?.send_keys("Spring news").await?;
    let body = "# Spring news\n\nHi {{first_name | fallback: \"there\"}}, here is what is new:\n\n- faster search\n- \
                the `tidings` command\n\nRead [the guide](https://acme.test/guide).";
    b.find("#body").await?.send_keys(body).await?;
    b.find("#subject").await?.send_keys("News for {{first_name | fallback: \"you\"}}").await?;
    b.find("#preview-as").await?.select(&ada.to_string()).await?;

    // 3. The preview: Ada's subject, the sender, her address, and the letter in its frame.
    wait_text(b, "#email-subject", "News for Ada").await?;
    wait_text(b, "#email-from", "owner <news@acme.test>").await?;
    wait_text(b, "#email-to", "Ada Lovelace <ada@acme.test>").await?;
    let frame = b.find("#email-frame").await?;
    assert_eq!(frame.attribute("sandbox").await?.as_deref(), Some(""), "the frame allows nothing");
    let in_frame = async |want: &str| -> Result<()> {
        b.wait_for(&format!("the email's frame to show {want:?}"), WAIT, async || {
            b.enter_frame("#email-frame").await?;
            let seen = match b.find("body").await {
                Ok(body) => body.text().await,
                Err(e) => Err(e),
            };
            b.leave_frame().await?;
            let seen = seen?;
            if seen.contains(want) { Ok(()) } else { Err(fail!("{seen:?}")) }
        })
        .await
    };
    in_frame("Hi Ada, here is what is new").await?;
    in_frame("Unsubscribe").await?;
    // The sandbox holds: the frame's document is not the app's (no script reaches into it).
    let reach = b
        .execute(
            "try { return document.getElementById('email-frame').contentDocument === null; } catch (e) { return true; }",
            json!([]),
        )
        .await?;
    assert_eq!(reach, json!(true), "the app's page cannot reach into the email's frame");
    // The frame's document comes under a policy of its own: nothing runs, only our pages frame it.
    let headers = b
        .execute(
            "const body = new URLSearchParams(new FormData(document.getElementById('email-frame-form')));              return fetch('/app/email/preview.html', { method: 'POST', body }).then((r) =>                [r.status, r.headers.get('content-security-policy'), r.headers.get('x-frame-options')]);",
            json!([]),
        )
        .await?;
    assert_eq!(headers[0], 200, "{headers}");
    let policy = headers[1].as_str().unwrap_or_default();
    for part in ["default-src 'none'", "frame-ancestors 'self'", "sandbox"] {
        assert!(policy.contains(part), "the preview's policy has {part}: {policy}");
    }
    assert!(!policy.contains("script-src"), "no script source is allowed: {policy}");
    assert_eq!(headers[2], "SAMEORIGIN", "{headers}");
    let app_policy = b
        .execute("return fetch('/app/messages/new').then((r) => r.headers.get('content-security-policy'));", json!([]))
        .await?;
    assert_eq!(app_policy, tidings_web::headers::CONTENT_SECURITY_POLICY, "the app's own policy is unchanged");
    // The plain-text part, folded away under its summary until asked for.
    b.find(".email-text summary").await?.click().await?;
    wait_contains(b, "#email-text", "Hi Ada, here is what is new").await?;
    // The plain template: signed by the sender.
    b.find("input[name=template][value=plain]").await?.click().await?;
    in_frame("owner\nAcme").await?;
    shot(b, "compose-email").await?;

    // 4. A test to the teammate's own address, marked as one, recorded nowhere.
    b.find("#send-test").await?.click().await?;
    wait_text(b, "#test-result", &format!("Test sent to {OWNER_EMAIL}.")).await?;
    let test = sink.wait_for(OWNER_EMAIL).await?;
    assert_eq!(test["subject"], "[Test] News for Ada", "{test}");
    let (_, total) = app
        .state
        .store
        .messages(
            app.workspace_id,
            &tidings_store::MessageListQuery {
                states: vec![tidings_core::message::MessageState::Draft, tidings_core::message::MessageState::Sending],
                search: None,
                offset: 0,
                limit: 10,
            },
        )
        .await
        .map_err(|e| fail!("{e}"))?;
    assert_eq!(total, 0, "a test is no message");

    // 5. No subject: refused, saying so, nothing sent.
    let subject = b.find("#subject").await?;
    subject.clear().await?;
    accept_confirms(b).await?;
    b.find("#send").await?.click().await?;
    wait_contains(b, "#compose-error", "An email needs a subject").await?;
    assert_eq!(b.find("#subject").await?.attribute("aria-invalid").await?.as_deref(), Some("true"));
    b.find("#subject").await?.send_keys("News for {{first_name | fallback: \"you\"}}").await?;

    // 6. Sent: it reaches Ada's address, and the message page counts it as it happens.
    b.find("#send").await?.click().await?;
    let id = b
        .wait_for("the message's page", WAIT, async || {
            let url = b.current_url().await?;
            match url.rsplit_once("/app/messages/") {
                Some((_, id)) if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) => Ok(id.to_owned()),
                _ => Err(fail!("at {url}")),
            }
        })
        .await?;
    let got = sink.wait_for("ada@acme.test").await?;
    assert_eq!(got["subject"], "News for Ada", "{got}");
    assert!(got["list_unsubscribe"].as_str().is_some_and(|u| u.contains("/email/unsubscribe/")), "{got}");
    wait_text(b, "strong[data-stat=sent]", "1").await?;
    wait_text(b, "#subject", "News for {{first_name | fallback: \"you\"}}").await?;
    let labels: Vec<String> = {
        let mut v = Vec::new();
        for f in b.find_all(".figure span").await? {
            v.push(f.text().await?);
        }
        v
    };
    // Opens and clicks are not tracked in this workspace (switched off above): no figures for
    // them, nor replies, which go to the sender's inbox.
    assert_eq!(labels, ["Targeted", "Sent", "Pending", "Bounced", "Failed", "Skipped", "Unsubscribed"]);
    let m = app.api.get(&format!("/manual_messages/{id}")).await?;
    assert_eq!((m["channel"].as_str(), m["stats"]["sent"].as_i64()), (Some("email"), Some(1)), "{m}");
    shot(b, "message-email").await?;

    // 7. Ada's profile says she receives emails.
    b.goto(&app.url(&format!("/app/contacts/{ada}"))).await?;
    wait_text(b, "#email-status li", "Receives emails.").await?;
    Ok(())
}

async fn shot(b: &Browser, name: &str) -> Result<()> {
    let path = std::env::temp_dir().join(format!("tidings-admin-{name}.png"));
    b.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}

/// Both templates, as the engine writes them for Ada, opened at phone width: the subject and
/// sender (shown above the letter, as a mail client does), the teammate's name, the Markdown's
/// heading, list, link and code, and the unsubscribe footer all show, and nothing sticks out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_render_in_chromium_and_the_docs_keep_their_screenshots() {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("start Tidings: {e}"));
    let b = Browser::start(&driver, 390, 844, true).await.unwrap_or_else(|e| panic!("start a browser: {e}"));
    let result = letters(&app, &b).await;
    let _ = b.quit().await;
    if let Err(e) = result {
        panic!("{e}");
    }
}

async fn letters(app: &App, b: &Browser) -> Result<()> {
    let ada = app.id("ada@acme.test");
    let store = &app.state.store;
    let ws = store.workspace(app.workspace_id).await.map_err(|e| fail!("{e}"))?.expect("the workspace");
    let mut ws = ws;
    ws.email.from = Some("hello@acme.test".into());
    let owner = store.teammates(ws.id).await.map_err(|e| fail!("{e}"))?.remove(0);
    let maria = tidings_web::provision::teammate(
        store,
        &ws,
        "Maria Garcia",
        "maria@acme.test",
        "a-long-password",
        tidings_store::TeammateRole::Member,
    )
    .await
    .map_err(|e| fail!("add a teammate: {e:?}"))?;
    let dir = crate::webdriver::scratch_dir("tidings-browser-letters")?;
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&docs).map_err(|e| fail!("{e}"))?;
    for template in [EmailTemplate::Personal, EmailTemplate::Plain] {
        let draft = EmailDraft {
            sender_id: Some(maria.id),
            subject: "What is new, {{first_name | fallback: \"friend\"}}".into(),
            body: "## Spring at Acme\n\nHi {{first_name | fallback: \"there\"}}, three things are new:\n\n\
                   - search is **twice as fast**\n- run `acme sync` to bring your data in\n- a new [guide](https://acme.test/guide)\n\n\
                   Reply to this email if anything is unclear."
                .into(),
            template,
        };
        let letter = app.state.engine.preview_email(&ws, &owner, &draft, Some(ada)).await.map_err(|e| fail!("{e}"))?;
        assert_eq!(letter.subject, "What is new, Ada");
        // The subject and sender above the letter, as a mail client shows them.
        let head = format!(
            "<div id=\"client-head\" style=\"font-family:sans-serif;padding:12px 16px;border-bottom:1px solid #d5dae1;background:#fff;\">\
             <div style=\"font-size:18px;font-weight:600;color:#1f2933;\">{}</div>\
             <div style=\"font-size:13px;color:#52606d;\">{} &lt;{}&gt;</div></div>",
            letter.subject, letter.from_name, letter.from_address
        );
        let open = letter.html.find("<body").and_then(|i| letter.html[i..].find('>').map(|j| i + j + 1));
        let open = open.ok_or_else(|| fail!("the letter has no <body>"))?;
        let html = format!("{}{head}{}", &letter.html[..open], &letter.html[open..]);
        let file = dir.join(format!("{}.html", template.as_str()));
        std::fs::write(&file, &html).map_err(|e| fail!("{e}"))?;
        b.goto(&format!("file://{}", file.display())).await?;
        let text = b.execute("return document.body.innerText;", json!([])).await?;
        let text = text.as_str().unwrap_or_default().to_owned();
        for want in [
            "What is new, Ada",
            "Spring at Acme",
            "Hi Ada, three things are new:",
            "search is twice as fast",
            "acme sync",
            "guide",
            "Unsubscribe",
            "Maria Garcia",
            "Maria Garcia <hello@acme.test>",
        ] {
            assert!(text.contains(want), "{}: {want:?} shows in {text:?}", template.as_str());
        }
        let facts = b
            .execute(
                "const h = document.querySelector('h2'); const li = document.querySelectorAll('li'); \
                 const code = document.querySelector('code'); const a = [...document.querySelectorAll('a')].find((x) => x.textContent === 'guide'); \
                 return { h2: !!h && getComputedStyle(h).fontSize, items: li.length, code: !!code && getComputedStyle(code).fontFamily, \
                          link: a ? a.href : null, initials: [...document.querySelectorAll('td')].some((td) => td.textContent.trim() === 'MG') };",
                json!([]),
            )
            .await?;
        assert_eq!(facts["h2"], "20px", "{}: the heading is styled on itself: {facts}", template.as_str());
        assert_eq!(facts["items"], 3, "{facts}");
        assert!(facts["code"].as_str().is_some_and(|f| f.contains("monospace")), "{facts}");
        assert_eq!(facts["link"], "https://acme.test/guide", "untracked in a preview: {facts}");
        assert_eq!(facts["initials"], template == EmailTemplate::Personal, "initials only in personal: {facts}");
        check_layout(b, false).await?;
        let path = docs.join(format!("email-{}.png", template.as_str()));
        b.screenshot(&path).await?;
        eprintln!("screenshot: {}", path.display());
    }
    let _ = std::fs::remove_dir_all(&dir);

    // The composer and Settings › Email on the same phone: everything fits its screen.
    log_in(app, b).await?;
    b.goto(&app.url(&format!("/app/messages/new?contacts={ada}&channel=email"))).await?;
    wait_text(b, "#audience-count", "1").await?;
    b.find("#subject").await?.send_keys("Hello {{first_name}}").await?;
    b.find("#body").await?.send_keys("Hi {{first_name}}, a short note.").await?;
    wait_text(b, "#email-subject", "Hello Ada").await?;
    check_layout(b, false).await?;
    shot(b, "phone-compose-email").await?;
    b.goto(&app.url("/app/settings#email")).await?;
    wait_contains(b, "#email-ready", "Email is not ready to send yet").await?;
    check_layout(b, false).await?;
    shot(b, "phone-settings-email").await?;
    Ok(())
}
