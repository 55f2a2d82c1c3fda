//! What comes back after an email went out, through a real SMTP server process that keeps
//! every message whole, read back as a mail client reads it (Python's `email` package): clicks
//! counted per link, a bounce reported later to the VERP return path, an out-of-office reply
//! and a delay that are not bounces, a relay's complaint, and the DKIM signature, checked by an
//! independent verifier (dkimpy) against the public key.

use std::process::Command;

use serde_json::{Value as Json, json};
use tidings_core::message::Channel;
use tidings_engine::email::MailSetup;
use tidings_engine::email::reports::Reported;
use tidings_engine::messages::{MessageInput, Then};
use tidings_store::{DkimKey, LinkClicks};

use crate::email::{Sink, until};
use crate::support::World;

/// A fresh RSA key: the private half in PKCS #1 PEM, and the DNS TXT record of the public half.
fn rsa_key(dir: &std::path::Path) -> (String, String) {
    let key = dir.join("dkim.pem");
    let ok = Command::new("openssl")
        .args(["genrsa", "-traditional", "-out"])
        .arg(&key)
        .arg("2048")
        .output()
        .expect("openssl makes the test's DKIM key")
        .status
        .success();
    assert!(ok, "openssl genrsa failed");
    let public = Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .output()
        .expect("openssl writes the public key");
    use base64::Engine as _;
    let p = base64::engine::general_purpose::STANDARD.encode(&public.stdout);
    (std::fs::read_to_string(&key).unwrap(), format!("v=DKIM1; k=rsa; p={p}"))
}

/// The kept emails, as a mail client reads them.
fn read_emails(keep: &std::path::Path, dkim_txt: &str) -> Vec<Json> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/engine/read_emails.py");
    let out = Command::new("python3").arg(script).arg(keep).arg("--dkim-txt").arg(dkim_txt).output().unwrap();
    assert!(
        out.status.success(),
        "reading the emails failed (is dkimpy installed? scripts/test installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A tracked link's token and the address it leads to.
fn click(href: &str) -> (String, String) {
    let (path, query) = href.split_once("?u=").expect("a tracked link");
    let token = path.rsplit('/').next().unwrap().to_owned();
    let mut url = Vec::new();
    let b = query.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            url.push(u8::from_str_radix(&query[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            url.push(b[i]);
            i += 1;
        }
    }
    (token, String::from_utf8(url).unwrap())
}

/// A delivery status notification as a mail server writes it, about the email `message_id`.
fn dsn(to: &str, rcpt: &str, message_id: &str, action: &str, status: &str) -> String {
    format!(
        "From: MAILER-DAEMON@mx.example.test (Mail Delivery System)\r\nTo: {to}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"B0UND\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n--B0UND\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\nI'm sorry to have to inform you that your message \
         could not be delivered.\r\n\r\n--B0UND\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.example.test\r\nArrival-Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\n\
         Final-Recipient: rfc822; {rcpt}\r\nOriginal-Recipient: rfc822;{rcpt}\r\nAction: {action}\r\n\
         Status: {status}\r\nDiagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: \
         User unknown\r\n\r\n--B0UND\r\nContent-Type: text/rfc822-headers\r\n\r\n\
         From: \"Owner\" <hello@acme.test>\r\nTo: {rcpt}\r\nSubject: Links\r\nMessage-ID: {message_id}\r\n\r\n--B0UND--\r\n"
    )
}

#[tokio::test]
async fn clicks_count_per_link_and_late_bounces_complaints_and_signatures_are_read() {
    for w in World::both().await {
        let db = w.db;
        let dir = std::env::temp_dir().join(format!("tidings-email-reports-{db}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let keep = dir.join("kept");
        let sink = Sink::keeping(&dir, &keep);
        let mut setup = MailSetup::new("http://tidings.test");
        setup.smtp = Some(tidings_email::SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", sink.port)).unwrap());
        setup.from = Some("hello@acme.test".into());
        setup.bounces = Some("bounces@mail.acme.test".into());
        setup.connections = 1;
        w.engine.set_mail(setup);
        let (private_key, txt) = rsa_key(&dir);
        let mut settings = w.ws.email.clone();
        settings.dkim = Some(DkimKey { domain: None, selector: "tidings".into(), private_key });
        assert!(w.store.update_email_settings(w.ws.id, &settings).await.unwrap());

        let mut ids = Vec::new();
        for (name, email) in [("Ann Lee", "ann@example.test"), ("Bob Gone", "bob@example.test")] {
            let mut c = w.contact(name).await;
            c.email = Some(email.into());
            w.store.update_contact(&c).await.unwrap();
            ids.push(c.id);
        }
        let input = MessageInput {
            channel: Some(Channel::Email),
            subject: Some(Some("Links".into())),
            body: Some("Read [the news](https://acme.test/news) or [the docs](https://acme.test/docs?x=1&y=2).".into()),
            audience: Some(json!({"contact_ids": ids.iter().map(i64::to_string).collect::<Vec<_>>()})),
            ..MessageInput::default()
        };
        let m = w.engine.create_message(&w.ws, w.owner.id, input, Then::Send).await.unwrap();
        let outbox = w.engine.start_outbox().unwrap();
        until(&w.store, w.ws.id, m.id, db, |s| s.sent == 2).await;
        outbox.shutdown().await;

        let accepted = sink.accepted();
        let emails = read_emails(&keep, &txt);
        assert_eq!(emails.len(), 2, "{db}");
        let of = |who: &str| emails.iter().find(|e| e["to"].as_str().unwrap().contains(who)).unwrap().clone();
        let (ann, bob) = (of("ann@"), of("bob@"));
        for e in [&ann, &bob] {
            assert_eq!(e["dkim"], true, "{db}: the signature verifies against the published key: {e}");
            // The return path names the delivery the way its Message-ID does.
            let mid = e["message_id"].as_str().unwrap().trim_matches(['<', '>']);
            let reference = mid.split('@').next().unwrap();
            let to = e["to"].as_str().unwrap();
            let envelope = accepted.iter().find(|a| to.contains(a["to"].as_str().unwrap())).unwrap();
            assert_eq!(envelope["from"], format!("bounces+{reference}@mail.acme.test"), "{db}: VERP");
        }

        // Clicks, per link: Ann twice on the news and once on the docs, Bob once on the news.
        let links = |e: &Json| -> Vec<(String, String)> {
            e["hrefs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h.as_str().unwrap().contains("/email/click/"))
                .map(|h| click(h.as_str().unwrap()))
                .collect()
        };
        let (ann_links, bob_links) = (links(&ann), links(&bob));
        assert_eq!(
            ann_links.iter().map(|(_, u)| u.as_str()).collect::<Vec<_>>(),
            ["https://acme.test/news", "https://acme.test/docs?x=1&y=2"],
            "{db}: every link is tracked, its address kept whole"
        );
        for (token, url) in [&ann_links[0], &ann_links[0], &ann_links[1], &bob_links[0]] {
            assert_eq!(w.engine.email_clicked(token, url).await.unwrap().as_deref(), Some(url.as_str()), "{db}");
        }
        let (token, _) = &ann_links[0];
        assert!(
            w.engine.email_clicked(token, "https://evil.test/").await.unwrap().is_none(),
            "{db}: a link pointed elsewhere leads nowhere and counts nothing"
        );
        assert_eq!(
            w.store.link_clicks(w.ws.id, m.id).await.unwrap(),
            [
                LinkClicks { url: "https://acme.test/news".into(), clicks: 3, people: 2 },
                LinkClicks { url: "https://acme.test/docs?x=1&y=2".into(), clicks: 1, people: 1 },
            ],
            "{db}"
        );
        assert_eq!(w.store.message_stats(w.ws.id, m.id).await.unwrap().clicked, 2, "{db}: two people clicked");

        // Bob's server bounces the email after accepting it: the DSN comes to his return path.
        let bob_mid = bob["message_id"].as_str().unwrap();
        let bob_path = accepted.iter().find(|a| a["to"] == "bob@example.test").unwrap()["from"].as_str().unwrap();
        let late = dsn(bob_path, "bob@example.test", bob_mid, "failed", "5.1.1");
        let r = w.engine.email_report(late.as_bytes(), Some(bob_path)).await.unwrap();
        assert!(matches!(r, Reported::Bounced { .. }), "{db}: {r:?}");
        let s = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!((s.sent, s.bounced), (1, 1), "{db}: {s:?}");
        assert!(w.store.contact(w.ws.id, ids[1]).await.unwrap().unwrap().has_hard_bounced, "{db}");
        let again = w.engine.email_report(late.as_bytes(), Some(bob_path)).await.unwrap();
        assert!(matches!(again, Reported::Ignored { .. }), "{db}: a repeated report changes nothing: {again:?}");
        // Without the recipient, the Message-ID it quotes names the delivery too.
        let quoted = w.engine.email_report(late.as_bytes(), None).await.unwrap();
        assert!(matches!(quoted, Reported::Ignored { .. }), "{db}: found by its Message-ID: {quoted:?}");

        // Ann's out-of-office reply and a delay notice are not bounces; a forged reference is not ours.
        let ann_mid = ann["message_id"].as_str().unwrap();
        let ann_path = accepted.iter().find(|a| a["to"] == "ann@example.test").unwrap()["from"].as_str().unwrap();
        let ooo = format!(
            "From: Ann Lee <ann@example.test>\r\nTo: {ann_path}\r\nSubject: Automatic reply: Links\r\n\
             Auto-Submitted: auto-replied\r\nIn-Reply-To: {ann_mid}\r\n\r\nI am away until Monday.\r\n"
        );
        let r = w.engine.email_report(ooo.as_bytes(), Some(ann_path)).await.unwrap();
        assert!(matches!(&r, Reported::Ignored { why } if why.contains("automatic reply")), "{db}: {r:?}");
        let delayed = dsn(ann_path, "ann@example.test", ann_mid, "delayed", "4.4.1");
        let r = w.engine.email_report(delayed.as_bytes(), Some(ann_path)).await.unwrap();
        assert!(matches!(&r, Reported::Ignored { why } if why.contains("delay")), "{db}: {r:?}");
        let reference = ann_mid.trim_matches(['<', '>']).split('@').next().unwrap();
        let forged_ref =
            format!("{}{}", &reference[..reference.len() - 1], if reference.ends_with('0') { '1' } else { '0' });
        let forged =
            dsn("bounces@mail.acme.test", "ann@example.test", &format!("<{forged_ref}@acme.test>"), "failed", "5.1.1");
        assert_eq!(w.engine.email_report(forged.as_bytes(), None).await.unwrap(), Reported::NotOurs, "{db}");
        let ann_now = w.store.contact(w.ws.id, ids[0]).await.unwrap().unwrap();
        assert!(!ann_now.has_hard_bounced && !ann_now.marked_email_as_spam, "{db}: Ann still gets emails");
        assert_eq!(w.store.message_stats(w.ws.id, m.id).await.unwrap().bounced, 1, "{db}");

        // A relay reports Ann's complaint: she gets no more emails.
        let r = w.engine.email_event(&json!({"event": "complaint", "message_id": ann_mid})).await.unwrap();
        assert!(matches!(r, Reported::Complained { .. }), "{db}: {r:?}");
        assert!(w.store.contact(w.ws.id, ids[0]).await.unwrap().unwrap().marked_email_as_spam, "{db}");

        drop(sink);
        let _ = std::fs::remove_dir_all(&dir);
        w.cleanup().await;
    }
}
