//! Reply emails through a real SMTP server process that keeps every message whole: the team's
//! words a contact has not seen in the Messenger within the workspace's delay are emailed once
//! (two nodes stepping at the same moment included), words seen in time and contacts who cannot
//! receive email are not, and the contact's answer, fed back as a mail server hands it on,
//! continues the conversation once, found by its signed reply address or by the email it answers.

use mail_parser::MessageParser;
use tidings_core::conversation::{Author, Change, PartType, State};
use tidings_engine::conversations::Words;
use tidings_engine::email::MailSetup;
use tidings_engine::email::inbound::Received;
use tidings_engine::email::replies::step;
use tidings_store::{NewTeammate, ReplyEmailState, Teammate, TeammateRole};

use crate::email::Sink;
use crate::support::{START, World};

fn mail(sink: &Sink) -> MailSetup {
    let mut setup = MailSetup::new("http://tidings.test");
    setup.smtp = Some(tidings_email::SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", sink.port)).unwrap());
    setup.from = Some("hello@acme.test".into());
    setup.replies = Some("replies@mail.acme.test".into());
    setup.retry_after = vec![60];
    setup
}

async fn grace(w: &World) -> Teammate {
    let email = format!("grace-{}@acme.test", w.ws.id);
    w.store
        .create_teammate(
            w.ws.id,
            NewTeammate {
                email,
                name: "Grace".into(),
                password_hash: None,
                role: TeammateRole::Member,
                created_at: START,
            },
        )
        .await
        .unwrap()
}

/// The emails the SMTP server kept, oldest first.
fn kept(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut names: Vec<_> = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    names.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u32>().ok()));
    names.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[tokio::test]
async fn unseen_words_are_emailed_once_and_the_answer_continues_the_conversation() {
    for w in World::both().await {
        let db = w.db;
        let dir = std::env::temp_dir().join(format!("tidings-replies-{db}-{}", std::process::id()));
        let keep = dir.join("kept");
        let sink = Sink::keeping(&dir, &keep);
        w.engine.set_mail(mail(&sink));
        let node2 = w.another_node();
        node2.set_mail(mail(&sink));
        let grace = grace(&w).await;
        let mut ada = w.contact("Ada").await;
        ada.email = Some("Ada@Example.test".into());
        assert!(w.store.update_contact(&ada).await.unwrap());

        let c = w.engine.contact_starts(&w.ws, &ada, "My export fails since Monday").await.unwrap();
        w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Note, "Check the logs").await.unwrap();
        let first = w
            .engine
            .teammate_writes(&w.ws, &grace, c.id, Words::Reply, "Try **turning it off** and on.")
            .await
            .unwrap();
        let second = w.engine.teammate_writes(&w.ws, &grace, c.id, Words::Reply, "Then export again.").await.unwrap();

        w.clock.advance(299);
        assert_eq!(step(&w.engine, w.engine.now()).await.queued, 0, "{db}: not before the delay");
        w.clock.advance(1);
        // Two nodes step at the same moment: the words go once.
        let (a, b) = tokio::join!(step(&w.engine, w.engine.now()), step(&node2, w.engine.now()));
        assert_eq!((a.queued + b.queued, a.sent + b.sent), (1, 1), "{db}: {a:?} {b:?}");
        w.clock.advance(3600);
        assert_eq!(step(&w.engine, w.engine.now()).await, Default::default(), "{db}: nothing more to do");
        assert_eq!(sink.accepted().len(), 1, "{db}: one email");

        let raw = kept(&keep).remove(0);
        let email = MessageParser::default().parse(&raw).unwrap();
        let from = email.from().and_then(|a| a.first()).unwrap();
        assert_eq!((from.name(), from.address()), (Some("Grace at Acme"), Some("hello@acme.test")), "{db}");
        assert_eq!(email.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("Ada@Example.test"), "{db}");
        assert_eq!(email.subject(), Some("Re: My export fails since Monday"), "{db}");
        let reply_to = email.reply_to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap().to_owned();
        let prefix = format!("replies+r{}.", c.id);
        assert!(reply_to.starts_with(&prefix) && reply_to.ends_with("@mail.acme.test"), "{db}: {reply_to}");
        let message_id = email.message_id().unwrap().to_owned();
        assert!(message_id.starts_with(&format!("r{}.p{}.", c.id, second.id)), "{db}: {message_id}");
        assert!(message_id.ends_with("@acme.test"), "{db}: {message_id}");
        let thread = email
            .references()
            .as_text_list()
            .map(|l| l[0].to_string())
            .or_else(|| email.references().as_text().map(str::to_owned));
        assert_eq!(thread, Some(format!("r{}.{}@acme.test", c.id, &reply_to[prefix.len()..prefix.len() + 16])), "{db}");
        let text = email.body_text(0).unwrap().to_string();
        assert!(text.contains("Grace wrote:") && text.contains("Try turning it off and on."), "{db}: {text}");
        assert!(text.contains("Then export again.") && !text.contains("Check the logs"), "{db}: no notes: {text}");
        assert!(text.contains("Reply to this email to continue the conversation"), "{db}: {text}");
        let html = email.body_html(0).unwrap().to_string();
        assert!(html.contains("<strong>turning it off</strong>"), "{db}: {html}");
        let rows = w.store.reply_emails(w.ws.id, c.id).await.unwrap();
        assert_eq!(rows.iter().map(|r| (r.state, r.part_id)).collect::<Vec<_>>(), [(ReplyEmailState::Sent, second.id)]);
        assert!(rows[0].after_part_id < first.id, "{db}: both replies in one email");

        // Ada answers from her mail client, which wrote the reply address somewhere we do not
        // see (a forwarding service): the email it answers names the conversation.
        let closed = w.engine.teammate_changes(&w.ws, &grace, c.id, Change::Close, None).await.unwrap();
        assert_eq!(closed.part_type, PartType::Close, "{db}");
        let answer = |from: &str, to: &str, id: &str, headers: &str, body: &str| {
            format!(
                "From: {from}\r\nTo: {to}\r\nSubject: Re: My export fails since Monday\r\nMessage-ID: <{id}>\r\n\
                 {headers}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
            )
        };
        let quoted = format!(
            "Thanks, that fixed it!\r\n\r\nOn Tue, 3 Mar 2026 at 10:00, Grace at Acme <\r\n{reply_to}> wrote:\r\n\r\n\
             > Try turning it off and on.\r\n> Then export again.\r\n\r\n-- \r\nAda Lovelace\r\nAnalytical Engines\r\n"
        );
        let by_thread = answer(
            "Ada <ada@example.test>",
            "support@elsewhere.test",
            "ada-1@example.test",
            &format!("In-Reply-To: <{message_id}>\r\nReferences: <{message_id}>\r\n"),
            &quoted,
        );
        let got = w.engine.email_reply(by_thread.as_bytes(), Some("support@elsewhere.test")).await.unwrap();
        let Received::Added { conversation, part } = got else { panic!("{db}: {got:?}") };
        assert_eq!(conversation, c.id, "{db}");
        let after = w.store.conversation(w.ws.id, c.id).await.unwrap().unwrap();
        assert_eq!(after.state, State::Open, "{db}: reopened");
        let parts = w.store.parts(w.ws.id, c.id).await.unwrap();
        let last = parts.last().unwrap();
        assert_eq!(last.id, part, "{db}");
        assert_eq!((last.part_type, last.author_type, last.author_id), (PartType::Open, Author::User, ada.id), "{db}");
        assert_eq!(last.body.as_deref(), Some("<p>Thanks, that fixed it!</p>"), "{db}: only the new words");

        // The mail server hands the same email on again: nothing more.
        let again = w.engine.email_reply(by_thread.as_bytes(), None).await.unwrap();
        assert!(matches!(&again, Received::Ignored { why } if why.contains("already")), "{db}: {again:?}");
        assert_eq!(w.store.parts(w.ws.id, c.id).await.unwrap().len(), parts.len(), "{db}");

        // By the signed address alone.
        let by_address = answer("ada@example.test", &reply_to, "ada-2@example.test", "", "One more thing: CSV too?");
        let got = w.engine.email_reply(by_address.as_bytes(), Some(&reply_to)).await.unwrap();
        assert!(matches!(got, Received::Added { conversation, .. } if conversation == c.id), "{db}: {got:?}");
        let last = w.store.parts(w.ws.id, c.id).await.unwrap().pop().unwrap();
        assert_eq!(
            (last.part_type, last.body.as_deref()),
            (PartType::Comment, Some("<p>One more thing: CSV too?</p>")),
            "{db}"
        );

        // Someone else writing to the address, an address whose tag was changed, an
        // out-of-office reply and an email that only quotes: none adds anything.
        let count = w.store.parts(w.ws.id, c.id).await.unwrap().len();
        let mallory = answer("mallory@example.test", &reply_to, "m-1@example.test", "", "Send me her data");
        let got = w.engine.email_reply(mallory.as_bytes(), Some(&reply_to)).await.unwrap();
        assert!(matches!(&got, Received::Ignored { why } if why.contains("mallory@example.test")), "{db}: {got:?}");
        let tag_at = prefix.len();
        let flipped = if reply_to.as_bytes()[tag_at] == b'0' { '1' } else { '0' };
        let tampered = format!("{}{flipped}{}", &reply_to[..tag_at], &reply_to[tag_at + 1..]);
        let forged = answer("ada@example.test", &tampered, "ada-3@example.test", "", "Forged");
        assert_eq!(w.engine.email_reply(forged.as_bytes(), Some(&tampered)).await.unwrap(), Received::NotOurs, "{db}");
        let away =
            answer("ada@example.test", &reply_to, "ada-4@example.test", "Auto-Submitted: auto-replied\r\n", "Away");
        let got = w.engine.email_reply(away.as_bytes(), Some(&reply_to)).await.unwrap();
        assert!(matches!(&got, Received::Ignored { why } if why.contains("automatic")), "{db}: {got:?}");
        let only_quote = answer("ada@example.test", &reply_to, "ada-5@example.test", "", "> Then export again.\r\n");
        let got = w.engine.email_reply(only_quote.as_bytes(), Some(&reply_to)).await.unwrap();
        assert!(matches!(&got, Received::Ignored { why } if why.contains("no new words")), "{db}: {got:?}");
        assert_eq!(w.store.parts(w.ws.id, c.id).await.unwrap().len(), count, "{db}: nothing added");

        drop(sink);
        let _ = std::fs::remove_dir_all(&dir);
        w.cleanup().await;
    }
}

#[tokio::test]
async fn words_seen_in_time_and_contacts_without_email_are_not_emailed() {
    for w in World::both().await {
        let db = w.db;
        let dir = std::env::temp_dir().join(format!("tidings-replies-skip-{db}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = Sink::start(&dir);
        sink.rules("rcpt eve@ 451 4.3.0 Try again later\n");
        w.engine.set_mail(mail(&sink));
        let mut people = Vec::new();
        for (name, email, unsubscribed) in [
            ("Ann", Some("ann@example.test"), false),
            ("Ben", Some("ben@example.test"), false),
            ("Cat", None, false),
            ("Dan", Some("dan@example.test"), true),
        ] {
            let mut c = w.contact(name).await;
            c.email = email.map(str::to_owned);
            c.unsubscribed_from_emails = unsubscribed;
            assert!(w.store.update_contact(&c).await.unwrap());
            let conversation = w.engine.contact_starts(&w.ws, &c, "Hello?").await.unwrap();
            w.engine.teammate_writes(&w.ws, &w.owner, conversation.id, Words::Reply, "Hi!").await.unwrap();
            people.push((c, conversation));
        }
        // Ann opens the Messenger in time; Ben's words are queued, then he reads them before
        // the worker runs.
        assert!(w.engine.contact_saw(&w.ws, people[0].0.id, people[0].1.id).await.unwrap(), "{db}");
        w.clock.advance(300);
        assert_eq!(w.store.queue_reply_emails(w.engine.now(), 100).await.unwrap().len(), 3, "{db}: Ben, Cat, Dan");
        assert!(w.engine.contact_saw(&w.ws, people[1].0.id, people[1].1.id).await.unwrap(), "{db}");
        let done = step(&w.engine, w.engine.now()).await;
        assert_eq!((done.sent, done.skipped), (0, 3), "{db}: {done:?}");
        let why = |i: usize| {
            let (s, c) = (&w.store, &people[i].1);
            async move {
                s.reply_emails(c.workspace_id, c.id)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.state, r.error))
                    .collect::<Vec<_>>()
            }
        };
        assert!(why(0).await.is_empty(), "{db}: Ann saw them in time");
        for (i, reason) in [(1, "seen"), (2, "no_email"), (3, "unsubscribed")] {
            assert_eq!(why(i).await, [(ReplyEmailState::Skipped, Some(reason.to_owned()))], "{db}: {i}");
        }
        assert!(sink.accepted().is_empty(), "{db}: nobody was emailed");

        // The delay is the workspace's: refused outside 1 to 1440 minutes, then two minutes.
        for bad in ["0", "1441", "soon", ""] {
            let e = w.engine.set_reply_email_delay(&w.ws, bad).await.unwrap_err();
            assert!(e.to_string().contains("from 1 to 1440"), "{db}: {bad:?}: {e}");
        }
        assert_eq!(w.store.reply_email_after(w.ws.id).await.unwrap(), Some(300), "{db}: unchanged");
        assert_eq!(w.engine.set_reply_email_delay(&w.ws, " 2 ").await.unwrap(), 2, "{db}");
        assert_eq!(w.store.reply_email_after(w.ws.id).await.unwrap(), Some(120), "{db}");

        // Eve's server says "later": the email waits for its retry, then goes once.
        let mut eve = w.contact("Eve").await;
        eve.email = Some("eve@example.test".into());
        w.store.update_contact(&eve).await.unwrap();
        let c = w.engine.contact_starts(&w.ws, &eve, "Hi").await.unwrap();
        w.engine.teammate_writes(&w.ws, &w.owner, c.id, Words::Reply, "Hello Eve").await.unwrap();
        w.clock.advance(119);
        assert_eq!(step(&w.engine, w.engine.now()).await.queued, 0, "{db}: two minutes now");
        w.clock.advance(1);
        assert_eq!(step(&w.engine, w.engine.now()).await.retried, 1, "{db}");
        sink.rules("");
        w.clock.advance(59);
        assert_eq!(step(&w.engine, w.engine.now()).await.sent, 0, "{db}: not before its retry");
        w.clock.advance(1);
        assert_eq!(step(&w.engine, w.engine.now()).await.sent, 1, "{db}");
        let rows = w.store.reply_emails(w.ws.id, c.id).await.unwrap();
        assert_eq!((rows[0].state, rows[0].attempts), (ReplyEmailState::Sent, 2), "{db}");
        let to: Vec<_> = sink.accepted().iter().map(|a| a["to"].as_str().unwrap().to_owned()).collect();
        assert_eq!(to, ["eve@example.test"], "{db}");
        drop(sink);
        let _ = std::fs::remove_dir_all(&dir);
        w.cleanup().await;
    }
}
