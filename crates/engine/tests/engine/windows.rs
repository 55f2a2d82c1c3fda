//! Delivery windows, driven by the engine's clock through several time zones and daylight-saving
//! changes: emails reach the real SMTP server (`scripts/smtp-server`) only inside each contact's
//! window, in-app messages wait for the workspace's and stay hidden from the Messenger and the
//! profile until then, and a stop before the window opens sends nothing.

use std::time::Duration;

use serde_json::{Value as Json, json};
use tidings_core::attribute::{DataType, Value};
use tidings_core::contact::Contact;
use tidings_core::message::{Channel, DeliveryWindow, MessageState};
use tidings_engine::bus::Moved;
use tidings_engine::email::MailSetup;
use tidings_engine::messages::{MessageInput, Then};
use tidings_engine::{Event, scheduler, windows};

use crate::email::{Sink, until};
use crate::support::World;

/// An instant written in RFC 3339, in UNIX seconds.
fn utc(text: &str) -> i64 {
    match DataType::Date.coerce(&json!(text)).unwrap() {
        Some(Value::Date(at)) => at,
        other => panic!("{text}: {other:?}"),
    }
}

fn window(days: &[u8], start: &str, end: &str) -> DeliveryWindow {
    DeliveryWindow::parse(&json!({"days": days, "start": start, "end": end})).unwrap()
}

/// Puts the workspace in `zone`.
async fn zone(w: &mut World, zone: &str) {
    w.store.execute_raw(&format!("UPDATE workspaces SET timezone = '{zone}' WHERE id = {}", w.ws.id)).await.unwrap();
    w.ws = w.store.workspace(w.ws.id).await.unwrap().unwrap();
}

async fn person(w: &World, name: &str, email: &str, tz: Option<&str>) -> Contact {
    let mut c = w.contact(name).await;
    c.email = Some(email.into());
    c.timezone = tz.map(str::to_owned);
    assert!(w.store.update_contact(&c).await.unwrap());
    c
}

fn mail(w: &World, sink: &Sink) {
    let mut setup = MailSetup::new("http://tidings.test");
    setup.smtp = Some(tidings_email::SmtpConfig::parse(&format!("smtp://127.0.0.1:{}", sink.port)).unwrap());
    setup.from = Some("hello@acme.test".into());
    setup.connections = 2;
    w.engine.set_mail(setup);
}

fn email_to(people: &[&Contact], w: DeliveryWindow) -> MessageInput {
    MessageInput {
        channel: Some(Channel::Email),
        subject: Some(Some("Office hours".into())),
        body: Some("We are open.".into()),
        delivery_window: Some(Some(w)),
        audience: Some(json!({"contact_ids": people.iter().map(|c| c.id.to_string()).collect::<Vec<_>>()})),
        ..MessageInput::default()
    }
}

/// The addresses the SMTP server accepted, sorted.
fn accepted(sink: &Sink) -> Vec<String> {
    let mut to: Vec<String> = sink.accepted().iter().map(|a| a["to"].as_str().unwrap().to_owned()).collect();
    to.sort();
    to
}

/// `(contact, state, due_at)` of a message's deliveries.
async fn deliveries(w: &World, message: i64) -> Vec<String> {
    w.store
        .strings_raw(&format!(
            "SELECT contact_id || ' ' || state || ' ' || COALESCE(CAST(due_at AS TEXT), '-') FROM deliveries \
             WHERE message_id = {message} ORDER BY contact_id"
        ))
        .await
        .unwrap()
}

#[tokio::test]
async fn emails_reach_each_contact_inside_their_own_window_across_the_us_spring_forward() {
    for mut w in World::both().await {
        let db = w.db;
        let dir = std::env::temp_dir().join(format!("tidings-windows-{db}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = Sink::start(&dir);
        mail(&w, &sink);
        zone(&mut w, "Europe/London").await;
        let ny = person(&w, "Nia York", "ny@example.test", Some("America/New_York")).await;
        let kol = person(&w, "Kavi Kolkata", "kol@example.test", Some("Asia/Kolkata")).await;
        let home = person(&w, "Hal Home", "home@example.test", None).await;
        let odd = person(&w, "Oda Odd", "odd@example.test", Some("Mars/Olympus")).await;

        // Saturday 2026-03-07, noon UTC; the window is weekdays 09:00 to 17:00, local time.
        w.clock.set(utc("2026-03-07T12:00:00Z"));
        let office = window(&[1, 2, 3, 4, 5], "09:00", "17:00");
        let m = w
            .engine
            .create_message(&w.ws, w.owner.id, email_to(&[&ny, &kol, &home, &odd], office), Then::Send)
            .await
            .unwrap();
        assert_eq!(m.delivery_window, Some(office), "{db}");
        // Each waits for Monday 09:00 in its zone: Kolkata is +05:30, London is on GMT, and New
        // York has moved to EDT (-04:00) by Sunday's change; an unknown zone takes the workspace's.
        let monday_kol = utc("2026-03-09T03:30:00Z");
        let monday_london = utc("2026-03-09T09:00:00Z");
        let monday_ny = utc("2026-03-09T13:00:00Z");
        let mut expected = vec![
            format!("{} pending {monday_ny}", ny.id),
            format!("{} pending {monday_kol}", kol.id),
            format!("{} pending {monday_london}", home.id),
            format!("{} pending {monday_london}", odd.id),
        ];
        expected.sort();
        let mut got = deliveries(&w, m.id).await;
        got.sort();
        assert_eq!(got, expected, "{db}");
        let s = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!((s.targeted, s.pending, s.sent), (4, 4, 0), "{db}: waiting deliveries count as pending");

        let outbox = w.engine.start_outbox().expect("the mail setup is set");
        // A delivery made due outside its window (as a retry pushed past the window's end is)
        // goes back to the next opening when it is claimed, not out.
        w.store.execute_raw(&format!("UPDATE deliveries SET due_at = {} WHERE id IN (SELECT id FROM deliveries WHERE message_id = {} AND contact_id = {})", w.engine.now(), m.id, ny.id)).await.unwrap();
        let mut moved_back = false;
        for _ in 0..200 {
            let row = deliveries(&w, m.id).await.into_iter().find(|r| r.starts_with(&format!("{} ", ny.id))).unwrap();
            if row == format!("{} pending {monday_ny}", ny.id) {
                moved_back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(moved_back, "{db}: {:?}", deliveries(&w, m.id).await);
        assert!(accepted(&sink).is_empty(), "{db}: nothing goes out before a window opens");

        // Monday 03:30 UTC: Kolkata's office opens.
        w.clock.set(monday_kol);
        until(&w.store, w.ws.id, m.id, db, |s| s.sent == 1).await;
        assert_eq!(accepted(&sink), ["kol@example.test"], "{db}");
        // A second before London's opening, nothing more.
        w.clock.set(monday_london - 1);
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(accepted(&sink), ["kol@example.test"], "{db}");
        w.clock.set(monday_london);
        until(&w.store, w.ws.id, m.id, db, |s| s.sent == 3).await;
        assert_eq!(accepted(&sink), ["home@example.test", "kol@example.test", "odd@example.test"], "{db}");
        // 09:00 EST would be 14:00 UTC: New York's opens at 13:00 UTC, on EDT.
        w.clock.set(monday_ny);
        let s = until(&w.store, w.ws.id, m.id, db, |s| s.sent == 4).await;
        assert_eq!(s.pending, 0, "{db}: {s:?}");
        assert_eq!(
            accepted(&sink),
            ["home@example.test", "kol@example.test", "ny@example.test", "odd@example.test"],
            "{db}: each once"
        );
        outbox.shutdown().await;
        w.cleanup().await;
    }
}

#[tokio::test]
async fn stopping_a_windowed_or_scheduled_email_cancels_what_waits_and_keeps_what_went() {
    for mut w in World::both().await {
        let db = w.db;
        let dir = std::env::temp_dir().join(format!("tidings-windows-stop-{db}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = Sink::start(&dir);
        mail(&w, &sink);
        zone(&mut w, "UTC").await;
        let kol = person(&w, "Kavi Kolkata", "kol@example.test", Some("Asia/Kolkata")).await;
        let ny = person(&w, "Nia York", "ny@example.test", Some("America/New_York")).await;
        let outbox = w.engine.start_outbox().expect("the mail setup is set");

        // Saturday: a weekday window, stopped before it opens: nothing ever goes out.
        w.clock.set(utc("2026-03-07T12:00:00Z"));
        let office = window(&[1, 2, 3, 4, 5], "09:00", "17:00");
        let early =
            w.engine.create_message(&w.ws, w.owner.id, email_to(&[&kol, &ny], office), Then::Send).await.unwrap();
        let stopped = w.engine.stop_message(&w.ws, early.id).await.unwrap();
        assert_eq!(stopped.state, MessageState::Stopped, "{db}");
        let s = w.store.message_stats(w.ws.id, early.id).await.unwrap();
        assert_eq!((s.targeted, s.pending, s.sent, s.cancelled), (2, 0, 0, 2), "{db}: {s:?}");

        // A scheduled email stopped before its time: no delivery is ever written.
        let input = email_to(&[&kol, &ny], office);
        let at = utc("2026-03-07T13:00:00Z");
        let scheduled = w.engine.create_message(&w.ws, w.owner.id, input, Then::Schedule(at)).await.unwrap();
        let stopped = w.engine.stop_message(&w.ws, scheduled.id).await.unwrap();
        assert_eq!(stopped.state, MessageState::Stopped, "{db}");
        w.clock.set(at);
        assert_eq!(scheduler::step(&w.engine, at).await, 0, "{db}: a stopped message is never sent");
        assert_eq!(w.store.message_stats(w.ws.id, scheduled.id).await.unwrap().targeted, 0, "{db}");

        // Sent on Saturday: Kolkata's window opens first; a stop then keeps the one that went
        // and cancels the one that waits.
        let later =
            w.engine.create_message(&w.ws, w.owner.id, email_to(&[&kol, &ny], office), Then::Send).await.unwrap();
        w.clock.set(utc("2026-03-09T03:30:00Z"));
        until(&w.store, w.ws.id, later.id, db, |s| s.sent == 1).await;
        w.engine.stop_message(&w.ws, later.id).await.unwrap();
        let s = w.store.message_stats(w.ws.id, later.id).await.unwrap();
        assert_eq!((s.sent, s.cancelled, s.pending), (1, 1, 0), "{db}: the stats say what went out before the stop");

        // New York's window opens: nothing more goes out.
        w.clock.set(utc("2026-03-09T13:00:00Z"));
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(accepted(&sink), ["kol@example.test"], "{db}: only what went before the stop");
        outbox.shutdown().await;
        w.cleanup().await;
    }
}

#[tokio::test]
async fn in_app_messages_wait_hidden_for_the_workspace_s_window_and_are_woken_once() {
    for mut w in World::both().await {
        let db = w.db;
        zone(&mut w, "America/New_York").await;
        // A contact's own zone does not count for in-app messages.
        let ann = person(&w, "Ann Lee", "ann@example.test", Some("Asia/Kolkata")).await;
        let bob = person(&w, "Bob Ray", "bob@example.test", None).await;
        let cat = person(&w, "Cat Lo", "cat@example.test", None).await;

        // Sunday 2026-03-08 at midnight in New York (05:00 UTC, still EST); the window is
        // Sundays 09:00 to 17:00, which that day is EDT: 13:00 UTC.
        let night = utc("2026-03-08T05:00:00Z");
        let opens = utc("2026-03-08T13:00:00Z");
        w.clock.set(night);
        let sunday = window(&[7], "09:00", "17:00");
        let chat = MessageInput {
            body: Some("Brunch is served".into()),
            delivery_window: Some(Some(sunday)),
            audience: Some(json!({"contact_ids": [ann.id.to_string(), bob.id.to_string()]})),
            ..MessageInput::default()
        };
        let m = w.engine.create_message(&w.ws, w.owner.id, chat, Then::Send).await.unwrap();
        let one = MessageInput {
            body: Some("A word with you".into()),
            delivery_window: Some(Some(sunday)),
            audience: Some(json!({"contact_ids": [cat.id.to_string()], "conversation": true})),
            ..MessageInput::default()
        };
        let to_cat = w.engine.create_message(&w.ws, w.owner.id, one, Then::Send).await.unwrap();
        w.events();

        // Until the window opens, nothing reaches the Messenger nor the profile.
        for now in [night, opens - 1] {
            w.clock.set(now);
            assert_eq!(windows::step(&w.engine, now).await, 0, "{db}");
            for c in [&ann, &bob, &cat] {
                assert!(w.store.pending_in_app(w.ws.id, c.id, now).await.unwrap().is_empty(), "{db}: hidden");
                assert_eq!(w.engine.deliver_pending(w.ws.id, c.id).await.unwrap(), 0, "{db}: not fetched");
                assert!(w.store.delivered_in_app(w.ws.id, c.id, 50).await.unwrap().is_empty(), "{db}: not received");
            }
            let live = w.engine.deliver_now(w.ws.id, m.id, &[ann.id, bob.id]).await.unwrap();
            assert!(live.is_empty(), "{db}: not pushed to an open Messenger");
            assert!(w.store.conversations_of_contact(w.ws.id, cat.id).await.unwrap().is_empty(), "{db}");
            let s = w.store.message_stats(w.ws.id, m.id).await.unwrap();
            assert_eq!((s.pending, s.sent), (2, 0), "{db}");
        }

        // It opens: one node wakes each delivery, the other finds nothing left to wake.
        w.clock.set(opens);
        let other = w.another_node();
        let woken = windows::step(&w.engine, opens).await + windows::step(&other, opens).await;
        assert_eq!(woken, 3, "{db}: each delivery woken once");
        assert_eq!(windows::step(&other, opens).await, 0, "{db}");
        let events = w.events();
        for id in [m.id, to_cat.id] {
            assert!(
                events.iter().any(|e| matches!(e,
                    Event::DeliveriesMoved { message, what: Moved::WindowOpened, .. } if *message == id)),
                "{db}: the opening is told on the bus, for the Messengers to be delivered: {events:?}"
            );
        }
        // Delivered as a fresh send: to the open Messenger, and to the one that fetches.
        let live = w.engine.deliver_now(w.ws.id, m.id, &[ann.id]).await.unwrap();
        assert_eq!(live.len(), 1, "{db}");
        assert_eq!(w.engine.deliver_pending(w.ws.id, bob.id).await.unwrap(), 1, "{db}");
        assert_eq!(w.store.delivered_in_app(w.ws.id, bob.id, 50).await.unwrap().len(), 1, "{db}: on the profile now");
        assert_eq!(w.store.message_stats(w.ws.id, m.id).await.unwrap().sent, 2, "{db}");
        // The one-contact chat's conversation opens with it.
        assert_eq!(w.store.conversations_of_contact(w.ws.id, cat.id).await.unwrap().len(), 1, "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn an_in_app_window_follows_the_london_autumn_change_and_a_stop_cancels_what_waits() {
    for mut w in World::both().await {
        let db = w.db;
        zone(&mut w, "Europe/London").await;
        let ann = person(&w, "Ann Lee", "ann@example.test", None).await;
        let bob = person(&w, "Bob Ray", "bob@example.test", None).await;
        // 01:30 happens twice on Sunday 2026-10-25; the window opens at the first (BST, 00:30
        // UTC) and closes at 03:00 GMT.
        let saturday = utc("2026-10-24T12:00:00Z");
        let opens = utc("2026-10-25T00:30:00Z");
        w.clock.set(saturday);
        let night = window(&[7], "01:30", "03:00");
        let post = |who: &Contact| MessageInput {
            channel: Some(Channel::Post),
            body: Some("Clocks go back tonight".into()),
            delivery_window: Some(Some(night)),
            audience: Some(json!({"contact_ids": [who.id.to_string()]})),
            ..MessageInput::default()
        };
        let to_ann = w.engine.create_message(&w.ws, w.owner.id, post(&ann), Then::Send).await.unwrap();
        let to_bob = w.engine.create_message(&w.ws, w.owner.id, post(&bob), Then::Send).await.unwrap();
        let rows: Vec<String> = deliveries(&w, to_ann.id).await;
        assert_eq!(rows, [format!("{} pending {opens}", ann.id)], "{db}");

        // Bob's is stopped while it waits: it is cancelled, never delivered.
        w.engine.stop_message(&w.ws, to_bob.id).await.unwrap();
        let s = w.store.message_stats(w.ws.id, to_bob.id).await.unwrap();
        assert_eq!((s.pending, s.cancelled, s.sent), (0, 1, 0), "{db}");

        w.clock.set(opens - 1);
        assert_eq!(windows::step(&w.engine, opens - 1).await, 0, "{db}");
        w.clock.set(opens);
        assert_eq!(windows::step(&w.engine, opens).await, 1, "{db}: only what was not stopped");
        assert_eq!(w.engine.deliver_pending(w.ws.id, ann.id).await.unwrap(), 1, "{db}");
        assert_eq!(w.engine.deliver_pending(w.ws.id, bob.id).await.unwrap(), 0, "{db}");
        let json: Json = night.to_json();
        assert_eq!(json, json!({"days": [7], "start": "01:30", "end": "03:00"}), "{db}");
        w.cleanup().await;
    }
}

#[tokio::test]
async fn emails_a_dead_node_had_claimed_are_cancelled_not_sent_after_a_stop() {
    for w in World::both().await {
        let db = w.db;
        let dir = std::env::temp_dir().join(format!("tidings-windows-claimed-{db}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sink = Sink::start(&dir);
        mail(&w, &sink);
        let ann = person(&w, "Ann Lee", "ann@example.test", None).await;
        let bob = person(&w, "Bob Ray", "bob@example.test", None).await;
        let input = MessageInput { delivery_window: None, ..email_to(&[&ann, &bob], window(&[1], "09:00", "10:00")) };
        let m = w.engine.create_message(&w.ws, w.owner.id, input, Then::Send).await.unwrap();
        // A node claims both and dies before any network I/O.
        let now = w.engine.now();
        assert_eq!(w.store.claim_emails(now, now + 300, 10).await.unwrap().len(), 2, "{db}");
        w.engine.stop_message(&w.ws, m.id).await.unwrap();
        let s = w.store.message_stats(w.ws.id, m.id).await.unwrap();
        assert_eq!((s.pending, s.cancelled), (2, 0), "{db}: claimed emails wait for their lease: {s:?}");

        // Their lease ends; another node claims them again, finds the message stopped, and
        // cancels them instead of sending.
        let outbox = w.engine.start_outbox().expect("the mail setup is set");
        w.clock.advance(301);
        let s = until(&w.store, w.ws.id, m.id, db, |s| s.cancelled == 2).await;
        assert_eq!((s.pending, s.sent), (0, 0), "{db}: {s:?}");
        assert!(accepted(&sink).is_empty(), "{db}: nothing reached the mail server");
        outbox.shutdown().await;
        w.cleanup().await;
    }
}
