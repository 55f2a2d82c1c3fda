//! What a teammate does with email around a send, on both databases: the email settings (every
//! wrong field named, nothing saved; an SMTP URL kept as it was), the preview (the letter a
//! contact will get, links untracked) and the test to oneself through a real SMTP server process
//! (`scripts/smtp-server`), which records no delivery.

use tidings_core::message::EmailTemplate;
use tidings_engine::EngineError;
use tidings_engine::email::MailSetup;
use tidings_engine::email::compose::{DkimInput, EmailDraft, EmailSettingsInput, SmtpChange};

use crate::email::Sink;
use crate::support::World;

fn settings(from: &str, reply_to: &str, smtp: SmtpChange, rate: &str) -> EmailSettingsInput {
    EmailSettingsInput {
        from: from.into(),
        reply_to: reply_to.into(),
        smtp,
        tracking: false,
        rate_per_minute: rate.into(),
        dkim: DkimInput::default(),
    }
}

#[tokio::test]
async fn email_settings_name_every_wrong_field_and_keep_the_smtp_password() {
    for w in World::both().await {
        let db = w.db;
        let before = w.store.workspace(w.ws.id).await.unwrap().unwrap();
        let wrong = settings("nope", "a b@x.test", SmtpChange::Set("http://mail.test".into()), "0");
        let Err(EngineError::Invalid(errors)) = w.engine.update_email_settings(&w.ws, wrong).await else {
            panic!("{db}: wrong settings are refused");
        };
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["from", "reply_to", "smtp_url", "rate_per_minute"], "{db}: {errors:?}");
        let after = w.store.workspace(w.ws.id).await.unwrap().unwrap();
        assert_eq!(format!("{:?}", after.email), format!("{:?}", before.email), "{db}: nothing saved");
        assert_eq!(after.email.secret, before.email.secret);

        let url = "smtp://u:pa%40ss@mail.test:587?tls=starttls";
        let ws = w
            .engine
            .update_email_settings(&w.ws, settings(" news@acme.test ", "", SmtpChange::Set(url.into()), "120"))
            .await
            .unwrap();
        let stored = w.store.workspace(w.ws.id).await.unwrap().unwrap();
        assert_eq!(stored.email.from.as_deref(), Some("news@acme.test"), "{db}");
        assert_eq!(stored.email.reply_to, None, "{db}: empty is none");
        assert_eq!(stored.email.smtp_url.as_deref(), Some(url), "{db}");
        assert_eq!((stored.email.rate_per_minute, stored.email.tracking), (Some(120), false), "{db}");
        assert_eq!(stored.email.secret, before.email.secret, "{db}: the link secret is kept");

        // Saved again without touching the URL: the password stays; then removed.
        let ws =
            w.engine.update_email_settings(&ws, settings("news@acme.test", "", SmtpChange::Keep, "")).await.unwrap();
        let stored = w.store.workspace(w.ws.id).await.unwrap().unwrap();
        assert_eq!(stored.email.smtp_url.as_deref(), Some(url), "{db}: kept");
        assert_eq!(stored.email.rate_per_minute, None, "{db}: no limit");
        w.engine.update_email_settings(&ws, settings("news@acme.test", "", SmtpChange::Remove, "")).await.unwrap();
        assert_eq!(w.store.workspace(w.ws.id).await.unwrap().unwrap().email.smtp_url, None, "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn a_dkim_key_is_checked_before_it_is_saved_and_never_shown_again() {
    let dir = std::env::temp_dir().join(format!("tidings-dkim-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pem = dir.join("k.pem");
    let made =
        std::process::Command::new("openssl").args(["genrsa", "-traditional", "-out"]).arg(&pem).arg("1024").status();
    assert!(made.expect("openssl makes the key").success());
    let key = std::fs::read_to_string(&pem).unwrap();
    for w in World::both().await {
        let db = w.db;
        let with = |selector: &str, domain: &str, private_key: &str| EmailSettingsInput {
            dkim: DkimInput { selector: selector.into(), domain: domain.into(), private_key: private_key.into() },
            ..settings("news@acme.test", "", SmtpChange::Keep, "")
        };
        for (input, field) in [
            (with("s1", "", ""), "dkim_private_key"),
            (with("s1", "", "not a key"), "dkim_private_key"),
            (with("s1", "", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"), "dkim_private_key"),
            (with("", "", &key), "dkim_selector"),
            (with("bad selector!", "", &key), "dkim_selector"),
            (with("s1", "not a domain!", &key), "dkim_domain"),
        ] {
            let Err(EngineError::Invalid(errors)) = w.engine.update_email_settings(&w.ws, input).await else {
                panic!("{db}: a wrong DKIM field is refused ({field})");
            };
            assert_eq!(errors.0.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), [field], "{db}: {errors:?}");
        }
        assert!(w.store.workspace(w.ws.id).await.unwrap().unwrap().email.dkim.is_none(), "{db}: nothing saved");

        let ws = w.engine.update_email_settings(&w.ws, with("s1", "", &key)).await.unwrap();
        let stored = w.store.workspace(w.ws.id).await.unwrap().unwrap().email.dkim.expect("saved");
        assert_eq!((stored.selector.as_str(), stored.domain.as_deref()), ("s1", None), "{db}");
        assert!(!format!("{:?}", ws.email).contains("PRIVATE KEY"), "{db}: never logged");
        // Saved again with the key field empty (it is never shown): the key stays.
        let ws = w.engine.update_email_settings(&ws, with("s2", "Mail.Acme.test", "")).await.unwrap();
        let stored = w.store.workspace(w.ws.id).await.unwrap().unwrap().email.dkim.expect("kept");
        assert_eq!((stored.selector.as_str(), stored.domain.as_deref()), ("s2", Some("mail.acme.test")), "{db}");
        assert_eq!(stored.private_key.trim(), key.trim(), "{db}");
        // An empty selector turns signing off.
        w.engine.update_email_settings(&ws, with("", "", "")).await.unwrap();
        assert!(w.store.workspace(w.ws.id).await.unwrap().unwrap().email.dkim.is_none(), "{db}");
        w.cleanup().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_test_email_reaches_the_teammate_and_is_no_delivery() {
    for w in World::both().await {
        let db = w.db;
        let mut ada = w.contact("Ada Lovelace").await;
        ada.email = Some("ada@example.test".into());
        assert!(w.store.update_contact(&ada).await.unwrap());
        let draft = EmailDraft {
            sender_id: None,
            subject: "News for {{first_name | fallback: \"you\"}}".into(),
            body: "Hi {{first_name}}, see [the news](https://acme.test/news).".into(),
            template: EmailTemplate::Personal,
        };

        // Before email is set up: the preview still shows, the test says what to set.
        let letter = w.engine.preview_email(&w.ws, &w.owner, &draft, Some(ada.id)).await.unwrap();
        assert_eq!(letter.subject, "News for Ada", "{db}");
        assert!(letter.html.contains("Hi Ada, see"), "{db}");
        assert!(letter.html.contains("href=\"https://acme.test/news\""), "{db}: untracked in a preview");
        assert!(letter.text.contains("Hi Ada"), "{db}");
        match w.engine.send_test_email(&w.ws, &w.owner, &draft, Some(ada.id)).await {
            Err(EngineError::Conflict { code: "email_not_set_up", message, .. }) => {
                assert!(message.contains("TIDINGS_SMTP_URL"), "{db}: {message}");
            }
            other => panic!("{db}: {other:?}"),
        }
        let no_subject = EmailDraft { subject: " ".into(), ..draft.clone() };
        let Err(EngineError::Invalid(e)) = w.engine.send_test_email(&w.ws, &w.owner, &no_subject, None).await else {
            panic!("{db}: a test needs a subject");
        };
        assert_eq!(e.0[0].field, "subject");

        let dir = std::env::temp_dir().join(format!("tidings-email-test-{db}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = Sink::start(&dir);
        let mut setup = MailSetup::new("http://tidings.test");
        setup.smtp = Some(tidings_email::SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", sink.port)).unwrap());
        setup.from = Some("hello@acme.test".into());
        w.engine.set_mail(setup);
        assert!(w.engine.email_readiness(&w.ws).ready, "{db}");

        let to = w.engine.send_test_email(&w.ws, &w.owner, &draft, Some(ada.id)).await.unwrap();
        assert_eq!(to, w.owner.email, "{db}");
        let got = sink.accepted();
        assert_eq!(got.len(), 1, "{db}: {got:?}");
        assert_eq!(got[0]["to"], w.owner.email.as_str(), "{db}");
        assert_eq!(got[0]["subject"], "[Test] News for Ada", "{db}");
        assert_eq!(got[0]["from"], "hello@acme.test", "{db}");
        // Personalised as the teammate when no contact is chosen.
        w.engine.send_test_email(&w.ws, &w.owner, &draft, None).await.unwrap();
        assert_eq!(sink.accepted()[1]["subject"], "[Test] News for Owner", "{db}");
        let (messages, total) = w
            .store
            .messages(
                w.ws.id,
                &tidings_store::MessageListQuery {
                    states: vec![
                        tidings_core::message::MessageState::Draft,
                        tidings_core::message::MessageState::Sending,
                    ],
                    search: None,
                    offset: 0,
                    limit: 10,
                },
            )
            .await
            .unwrap();
        assert_eq!((messages.len(), total), (0, 0), "{db}: a test is no message and no delivery");

        // A server that refuses: the teammate is told what to check.
        drop(sink);
        match w.engine.send_test_email(&w.ws, &w.owner, &draft, None).await {
            Err(EngineError::Conflict { code: "email_test_failed", message, .. }) => {
                assert!(message.contains("Check that the SMTP server is running"), "{db}: {message}");
            }
            other => panic!("{db}: {other:?}"),
        }
        let _ = std::fs::remove_dir_all(&dir);
        w.cleanup().await;
    }
}
