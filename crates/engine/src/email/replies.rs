//! Reply emails: a contact who has not seen the team's words in the Messenger within the
//! workspace's delay (`reply_email_after`, Settings › Email) gets them by email.
//!
//! Each node's background step ([`step`], every second) first queues what is due: one store
//! transaction writes a row per conversation and moves its `emailed_part_id`, with a conditional
//! update, so the same words are queued once whatever the number of nodes. It then claims due
//! rows with a lease (committed before any network I/O), builds each letter
//! ([`super::reply_letter`]) and sends it, and records the outcome against its claim: sent, a
//! later attempt after a temporary failure (the outbox's retry delays), failed when they run
//! out, or skipped with the reason: the contact has no address, unsubscribed, bounced or marked
//! an email as spam, email is not set up, or the contact saw the words by the time the worker
//! ran (the conversation's `contact_seen_part_id` is read again at each claim, so no one is
//! emailed what they already read).

use std::collections::HashMap;
use std::sync::Arc;

use tidings_core::conversation::{Author, visible_to_contact};
use tidings_email::{Connection, Dkim, Envelope, Refusal, SmtpConfig};
use tidings_store::{ReplyEmail, ReplyOutcome, Workspace};

use super::MailSetup;
use super::outbox::unreachable;
use super::reply_letter::{ReplyStationery, TeamWords, reply_letter, reply_subject};
use crate::Engine;
use crate::error::{EngineError, Result};
use crate::render::Composed;

/// Conversations queued per statement, and reply emails claimed per step.
const BATCH: i64 = 100;
const CLAIM: i64 = 20;

/// What one step did, for tests and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stepped {
    pub queued: usize,
    pub sent: usize,
    pub skipped: usize,
    pub retried: usize,
    pub failed: usize,
}

/// One pass at `now`: queues the team's words whose delay has passed, then sends what is due.
/// Does nothing on a node without a mail setup.
pub async fn step(engine: &Arc<Engine>, now: i64) -> Stepped {
    let mut done = Stepped::default();
    let Some(setup) = engine.mail.get().cloned() else { return done };
    loop {
        match engine.store.queue_reply_emails(now, BATCH).await {
            Ok(q) => {
                done.queued += q.len();
                if (q.len() as i64) < BATCH {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not queue reply emails; will retry");
                break;
            }
        }
    }
    let lease_until = now + setup.lease;
    let claimed = match engine.store.claim_reply_emails(now, lease_until, CLAIM).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "could not claim reply emails; will retry");
            return done;
        }
    };
    // One connection per SMTP server for the step's emails, closed at its end.
    let mut connections: Vec<Connection> = Vec::new();
    for r in claimed {
        let outcome = match prepare(engine, &setup, &r).await {
            Ok(Ready::Send(smtp, envelope, bytes)) => {
                // A claim about to end is left to the next one, which would send it too.
                let longest = (smtp.timeout.as_secs_f64() * 3.0).ceil() as i64 + 1;
                if engine.now() + longest.min(setup.lease / 2) >= lease_until {
                    break;
                }
                let conn = match connections.iter().position(|c| c.config() == &smtp) {
                    Some(i) => &mut connections[i],
                    None => {
                        connections.push(Connection::new(smtp));
                        connections.last_mut().expect("just pushed")
                    }
                };
                match conn.send(&envelope, &bytes).await {
                    Ok(()) => ReplyOutcome::Sent,
                    // The address is refused for good: nothing more to try for these words.
                    Err(Refusal::Permanent(why)) => ReplyOutcome::Failed(why),
                    Err(Refusal::Temporary(why)) => retry_or_fail(&setup, &r, engine.now(), why),
                }
            }
            Ok(Ready::Done(outcome)) => outcome,
            Err(e) => ReplyOutcome::Retry { at: engine.now() + 5, reason: e.to_string() },
        };
        match &outcome {
            ReplyOutcome::Sent => done.sent += 1,
            ReplyOutcome::Skipped(_) => done.skipped += 1,
            ReplyOutcome::Retry { .. } => done.retried += 1,
            ReplyOutcome::Failed(_) => done.failed += 1,
        }
        record(engine, &r, &outcome).await;
    }
    for mut c in connections {
        c.close().await;
    }
    done
}

/// A claimed reply email made ready: its letter and where it goes, or already decided.
enum Ready {
    Send(SmtpConfig, Envelope, Vec<u8>),
    Done(ReplyOutcome),
}

fn skip(why: impl Into<String>) -> Result<Ready> {
    Ok(Ready::Done(ReplyOutcome::Skipped(why.into())))
}

async fn prepare(engine: &Engine, setup: &MailSetup, r: &ReplyEmail) -> Result<Ready> {
    let store = &engine.store;
    let Some(ws) = store.workspace(r.workspace_id).await? else { return skip("the workspace is gone") };
    let Some(conversation) = store.conversation(ws.id, r.conversation_id).await? else {
        return skip("conversation_deleted");
    };
    let Some(contact) = store.contact(ws.id, r.contact_id).await? else { return skip("contact_deleted") };
    if let Some(why) = unreachable(&contact) {
        return skip(why);
    }
    // What the contact has not seen, read now: words seen since they were queued are not sent.
    let from = r.after_part_id.max(conversation.contact_seen_part_id);
    let parts = store.parts(ws.id, conversation.id).await?;
    let unseen: Vec<_> = parts
        .iter()
        .filter(|p| p.id > from && p.id <= r.part_id && p.author_type == Author::Admin)
        .filter(|p| visible_to_contact(p.part_type, p.body.is_some()))
        .collect();
    if unseen.is_empty() {
        return skip("seen");
    }
    let (from_address, smtp) = match engine.mail_route(&ws) {
        Ok(route) => route,
        Err(why) => return skip(why),
    };
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut words = Vec::with_capacity(unseen.len());
    for p in unseen {
        let author = match names.get(&p.author_id) {
            Some(name) => name.clone(),
            None => {
                let name = store.teammate(ws.id, p.author_id).await?.map_or_else(|| "The team".to_owned(), |t| t.name);
                names.insert(p.author_id, name.clone());
                name
            }
        };
        words.push(TeamWords { author, html: p.body.clone().unwrap_or_default() });
    }
    // The subject of the message that started the conversation, as this contact read it.
    let subject = match conversation.message_id {
        Some(id) => match store.message(ws.id, id).await? {
            Some(m) if m.subject.is_some() => {
                let custom = store.custom_attributes(ws.id).await?;
                Composed::of(&m, &custom).ok().and_then(|c| c.for_contact(&contact).subject).or(m.subject)
            }
            _ => None,
        },
        None => None,
    };
    let subject = reply_subject(subject.as_deref(), parts.first().and_then(|p| p.body.as_deref()));
    let dkim = ws.email.dkim.as_ref().and_then(|k| {
        let domain = k.domain.as_deref().unwrap_or_else(|| from_address.rsplit_once('@').map_or("", |(_, d)| d));
        Dkim::new(domain, &k.selector, &k.private_key)
            .inspect_err(|e| tracing::warn!(workspace = ws.id, error = %e, "reply emails go unsigned"))
            .ok()
    });
    let st = ReplyStationery {
        workspace: &ws,
        from_address: &from_address,
        reply_base: setup.replies.as_deref().unwrap_or(&from_address),
        bounces: setup.bounces.as_deref(),
        dkim: dkim.as_ref(),
    };
    match reply_letter(&st, &contact, conversation.id, r.part_id, subject, &words).to_mime() {
        Ok((envelope, bytes)) => Ok(Ready::Send(smtp, envelope, bytes)),
        Err(e) => Ok(Ready::Done(ReplyOutcome::Failed(e.to_string()))),
    }
}

/// Another attempt after a temporary failure, or the end when the outbox's delays ran out.
fn retry_or_fail(setup: &MailSetup, r: &ReplyEmail, now: i64, reason: String) -> ReplyOutcome {
    match setup.retry_after.get((r.attempts - 1).max(0) as usize) {
        Some(after) => ReplyOutcome::Retry { at: now + after, reason },
        None => ReplyOutcome::Failed(format!("gave up after {} attempts: {reason}", r.attempts)),
    }
}

async fn record(engine: &Engine, r: &ReplyEmail, outcome: &ReplyOutcome) {
    // Retried a few times: the lease brings the email back anyway, but a `sent` not written
    // means it is sent again.
    for attempt in 0..5 {
        match engine.store.record_reply_email(r.workspace_id, r.id, r.attempts, outcome, engine.now()).await {
            Ok(recorded) => {
                if recorded {
                    tracing::info!(
                        workspace = r.workspace_id,
                        conversation = r.conversation_id,
                        outcome = ?outcome,
                        "reply email"
                    );
                }
                return;
            }
            Err(e) => {
                tracing::warn!(reply_email = r.id, attempt, error = %e, "could not record a reply email's outcome");
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
        }
    }
}

/// The longest a workspace may wait before emailing unseen words: a day, in minutes.
pub const MAX_DELAY_MINUTES: i64 = 1440;

/// The delay a teammate typed, in whole minutes from 1 to 1440.
///
/// # Errors
/// `reply_email_minutes` when it is not such a number.
pub fn reply_email_minutes(typed: &str) -> Result<i64> {
    let typed = typed.trim();
    match typed.parse::<i64>() {
        Ok(n) if (1..=MAX_DELAY_MINUTES).contains(&n) => Ok(n),
        _ => Err(EngineError::invalid(
            "reply_email_minutes",
            format!(
                "Email unseen replies after {typed:?} minutes: write a whole number of minutes from 1 to {MAX_DELAY_MINUTES}"
            ),
        )),
    }
}

impl Engine {
    /// Sets how long the team's words may stay unseen in the Messenger before they are emailed
    /// to the contact, from what a teammate typed (see [`reply_email_minutes`]). Returns the
    /// minutes.
    ///
    /// # Errors
    /// `reply_email_minutes` when it is not a whole number of minutes from 1 to 1440 (nothing
    /// changes), or a database failure.
    pub async fn set_reply_email_delay(&self, ws: &Workspace, minutes: &str) -> Result<i64> {
        let minutes = reply_email_minutes(minutes)?;
        if !self.store.set_reply_email_after(ws.id, minutes * 60).await? {
            return Err(EngineError::conflict("workspace_gone", "The workspace no longer exists"));
        }
        tracing::info!(workspace = ws.id, minutes, "reply email delay saved");
        Ok(minutes)
    }
}
