//! Email through a real SMTP server process (`scripts/smtp-server`, aiosmtpd): what a send
//! queues, who is skipped and why, what the server's answers do (a 5xx bounces the address, a
//! 4xx waits for a later attempt), the headers every email carries, and unsubscribing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value as Json, json};
use tidings_core::message::{Channel, EmailTemplate};
use tidings_engine::email::MailSetup;
use tidings_engine::messages::{MessageInput, Then};
use tidings_store::{StatFilter, Store};

use crate::support::World;

/// The SMTP server for one test, stopped when dropped.
pub(crate) struct Sink {
    child: Child,
    pub(crate) port: u16,
    out: std::path::PathBuf,
    rules: std::path::PathBuf,
}

impl Sink {
    pub(crate) fn start(dir: &std::path::Path) -> Sink {
        Sink::start_with(dir, &[])
    }

    /// With `--keep DIR`: every accepted message is also kept whole, as `DIR/<n>.eml`.
    pub(crate) fn keeping(dir: &std::path::Path, keep: &std::path::Path) -> Sink {
        std::fs::create_dir_all(keep).unwrap();
        Sink::start_with(dir, &["--keep".as_ref(), keep.as_os_str()])
    }

    fn start_with(dir: &std::path::Path, extra: &[&std::ffi::OsStr]) -> Sink {
        let out = dir.join("sink.jsonl");
        let rules = dir.join("rules.txt");
        std::fs::write(&rules, "").unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/smtp-server");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--out")
            .arg(&out)
            .arg("--rules")
            .arg(&rules)
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the test SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("ready ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            panic!("the test SMTP server did not start (is aiosmtpd installed? scripts/test installs it): {line:?}")
        });
        Sink { child, port, out, rules }
    }

    /// Replaces the rules at once: written beside and renamed over, so the server never reads a
    /// file cut short and answers a recipient as if no rule named it.
    pub(crate) fn rules(&self, text: &str) {
        let next = self.rules.with_extension("next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, &self.rules).unwrap();
    }

    /// What the server accepted, one JSON object per recipient.
    pub(crate) fn accepted(&self) -> Vec<Json> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn until<F: Fn(&tidings_store::MessageStats) -> bool>(
    store: &std::sync::Arc<dyn Store>,
    ws: i64,
    message: i64,
    what: &str,
    ok: F,
) -> tidings_store::MessageStats {
    for _ in 0..400 {
        let s = store.message_stats(ws, message).await.unwrap();
        if ok(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: {:?}", store.message_stats(ws, message).await.unwrap());
}

#[tokio::test]
async fn emails_go_once_to_whoever_can_receive_them_and_bounces_and_unsubscribes_stick() {
    for mut w in World::both().await {
        let db = w.db;
        let dir = std::env::temp_dir().join(format!("tidings-email-{db}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = Sink::start(&dir);
        sink.rules("rcpt bounce@ 550 5.1.1 No such user\nrcpt later@ 451 4.3.0 Try again later\n");
        let mut setup = MailSetup::new("http://tidings.test");
        setup.smtp = Some(tidings_email::SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", sink.port)).unwrap());
        setup.from = Some("hello@acme.test".into());
        setup.connections = 2;
        setup.retry_after = vec![60];
        w.engine.set_mail(setup);

        let mut people = HashMap::new();
        for (name, email, unsubscribed) in [
            ("Ann Lee", Some("ann@example.test"), false),
            ("Bob Bounce", Some("bounce@example.test"), false),
            ("Cat Nomail", None, false),
            ("Dan Gone", Some("dan@example.test"), true),
            ("Eve Later", Some("later@example.test"), false),
        ] {
            let mut c = w.contact(name).await;
            c.email = email.map(str::to_owned);
            c.unsubscribed_from_emails = unsubscribed;
            assert!(w.store.update_contact(&c).await.unwrap());
            people.insert(name, c);
        }
        let ids: Vec<String> = people.values().map(|c| c.id.to_string()).collect();
        let input = MessageInput {
            channel: Some(Channel::Email),
            template: Some(EmailTemplate::Plain),
            subject: Some(Some("News for {{first_name | fallback: \"you\"}}".into())),
            body: Some("Hello {{first_name}}, read [the news](https://acme.test/news).".into()),
            audience: Some(json!({"contact_ids": ids})),
            ..MessageInput::default()
        };
        let m = w.engine.create_message(&w.ws, w.owner.id, input, Then::Send).await.unwrap();
        assert_eq!(m.targeted, 5, "{db}: everyone is counted, whoever cannot receive it too");
        let outbox = w.engine.start_outbox().expect("the mail setup is set");

        // Ann goes; Bob's address is refused for good; Eve's server says "later".
        let s = until(&w.store, w.ws.id, m.id, db, |s| s.sent == 1 && s.bounced == 1 && s.pending == 1).await;
        assert_eq!((s.skipped, s.failed), (2, 0), "{db}: {s:?}");
        let mut reasons: Vec<(String, i64)> = w
            .store
            .delivery_reasons(w.ws.id, m.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|(st, ..)| st.as_str() == "skipped")
            .map(|(_, r, n)| (r, n))
            .collect();
        reasons.sort();
        assert_eq!(reasons, [("no_email".to_owned(), 1), ("unsubscribed".to_owned(), 1)], "{db}: skipped, and why");
        let bob = w.store.contact(w.ws.id, people["Bob Bounce"].id).await.unwrap().unwrap();
        assert!(bob.has_hard_bounced, "{db}: a 5xx marks the contact hard-bounced");

        // Eve's attempt waits for its time: the server now takes it.
        sink.rules("rcpt bounce@ 550 5.1.1 No such user\n");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(w.store.message_stats(w.ws.id, m.id).await.unwrap().sent, 1, "{db}: not before its retry time");
        w.clock.advance(61);
        let s = until(&w.store, w.ws.id, m.id, db, |s| s.sent == 2).await;
        assert_eq!((s.pending, s.bounced, s.skipped), (0, 1, 2), "{db}: {s:?}");

        let accepted = sink.accepted();
        let to: Vec<&str> = accepted.iter().map(|a| a["to"].as_str().unwrap()).collect();
        assert_eq!(to.iter().filter(|t| **t == "ann@example.test").count(), 1, "{db}: Ann got it once: {to:?}");
        assert_eq!(to.iter().filter(|t| **t == "later@example.test").count(), 1, "{db}: Eve got it once: {to:?}");
        assert_eq!(to.len(), 2, "{db}: nobody else got it: {to:?}");
        let ann = accepted.iter().find(|a| a["to"] == "ann@example.test").unwrap();
        assert_eq!(ann["subject"], "News for Ann", "{db}");
        assert_eq!(ann["list_unsubscribe_post"], "List-Unsubscribe=One-Click", "{db}");
        let mid = ann["message_id"].as_str().unwrap();
        assert!(mid.starts_with('<') && mid.ends_with("@acme.test>"), "{db}: {mid}");
        assert_ne!(
            mid,
            accepted.iter().find(|a| a["to"] == "later@example.test").unwrap()["message_id"].as_str().unwrap()
        );

        // Ann's one-click unsubscribe: the next email skips her.
        let link = ann["list_unsubscribe"].as_str().unwrap().trim_matches(['<', '>']);
        let token = link.rsplit('/').next().unwrap();
        assert!(
            w.engine.unsubscribe_by_link("1.2.forged").await.unwrap().is_none(),
            "{db}: a forged link does nothing"
        );
        let target = w.engine.unsubscribe_by_link(token).await.unwrap().expect("Ann's link is hers");
        assert_eq!(target.contact.id, people["Ann Lee"].id, "{db}");
        let s = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!(s.unsubscribed, 1, "{db}: the stats say who unsubscribed from it");
        let (who, _) = w.store.message_recipients(w.ws.id, m.id, StatFilter::Unsubscribed, 0, 10).await.unwrap();
        assert_eq!(who.iter().map(|c| c.id).collect::<Vec<_>>(), [people["Ann Lee"].id], "{db}");
        let again = MessageInput {
            channel: Some(Channel::Email),
            subject: Some(Some("Again".into())),
            body: Some("Once more".into()),
            audience: Some(json!({"contact_ids": [people["Ann Lee"].id.to_string()]})),
            ..MessageInput::default()
        };
        let m2 = w.engine.create_message(&w.ws, w.owner.id, again, Then::Send).await.unwrap();
        let s = until(&w.store, w.ws.id, m2.id, db, |s| s.skipped == 1).await;
        assert_eq!((s.sent, s.pending), (0, 0), "{db}: {s:?}");
        assert_eq!(sink.accepted().len(), 2, "{db}: nothing more went out");

        let events = w.events();
        assert!(
            events.iter().any(|e| matches!(
                e,
                tidings_engine::Event::DeliveriesMoved { what: tidings_engine::bus::Moved::Bounced, .. }
            )),
            "{db}: the bounce is told on the bus"
        );
        outbox.shutdown().await;
        drop(sink);
        let _ = std::fs::remove_dir_all(&dir);
        w.cleanup().await;
    }
}

#[tokio::test]
async fn an_email_cannot_be_sent_without_a_subject_or_a_way_to_send_it() {
    for w in World::both().await {
        let db = w.db;
        let c = w.contact("Ann").await;
        let input = |subject: Option<&str>| MessageInput {
            channel: Some(Channel::Email),
            subject: Some(subject.map(str::to_owned)),
            body: Some("Hi".into()),
            audience: Some(json!({"contact_ids": [c.id.to_string()]})),
            ..MessageInput::default()
        };
        let e = w.engine.create_message(&w.ws, w.owner.id, input(None), Then::Send).await.unwrap_err();
        assert!(e.to_string().contains("subject"), "{db}: {e}");
        let draft = w.engine.create_message(&w.ws, w.owner.id, input(None), Then::Keep).await.unwrap();
        assert_eq!(draft.channel, Channel::Email, "{db}: a draft may wait for its subject");
        let e = w.engine.create_message(&w.ws, w.owner.id, input(Some("Hello")), Then::Send).await.unwrap_err();
        assert!(e.to_string().contains("TIDINGS_SMTP_URL"), "{db}: says what to set up: {e}");
        let (_, total) = w.store.messages(w.ws.id, &Default::default()).await.unwrap();
        assert_eq!(total, 1, "{db}: a refused send leaves no draft behind");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_claim_whose_lease_ran_out_is_taken_again_and_a_leased_one_is_not() {
    for w in World::both().await {
        let db = w.db;
        let mut setup = MailSetup::new("http://tidings.test");
        setup.smtp = Some(tidings_email::SmtpConfig::parse("smtp://127.0.0.1:9").unwrap());
        setup.from = Some("hello@acme.test".into());
        w.engine.set_mail(setup);
        let mut c = w.contact("Ann").await;
        c.email = Some("ann@example.test".into());
        w.store.update_contact(&c).await.unwrap();
        let input = MessageInput {
            channel: Some(Channel::Email),
            subject: Some(Some("Hi".into())),
            body: Some("Hi".into()),
            audience: Some(json!({"contact_ids": [c.id.to_string()]})),
            ..MessageInput::default()
        };
        w.engine.create_message(&w.ws, w.owner.id, input, Then::Send).await.unwrap();
        let now = crate::support::START;
        let first = w.store.claim_emails(now, now + 300, 10).await.unwrap();
        assert_eq!(first.iter().map(|c| c.attempts).collect::<Vec<_>>(), [1], "{db}");
        assert!(w.store.claim_emails(now + 299, now + 600, 10).await.unwrap().is_empty(), "{db}: leased");
        let again = w.store.claim_emails(now + 300, now + 600, 10).await.unwrap();
        assert_eq!(again.len(), 1, "{db}: the lease ran out: another worker takes it");
        assert_eq!((again[0].delivery_id, again[0].attempts), (first[0].delivery_id, 2), "{db}");
        w.cleanup().await;
    }
}
