//! The outbox: workers that send the emails a send queued.
//!
//! The deliveries table is the queue. One claimer takes due emails in batches, each with a
//! lease, and the claim commits before any network I/O; it hands them to a fixed number of
//! workers, each owning one long-lived SMTP connection, through a bounded channel (so a slow
//! server slows the claims, never fills memory). Each worker records the server's answer at
//! once: `sent` after the 250, a later attempt after a temporary failure (with growing
//! backoff, until the attempts run out and the delivery fails with the reason), `bounced` after
//! a 5xx, which also marks the contact `has_hard_bounced`.
//!
//! Nothing is lost: an email claimed by a node that dies stays `sending` until its lease ends,
//! then is claimed again. Where SMTP itself cannot tell — the node died after the server said
//! 250 and before the `sent` was written — the email is sent again with the same Message-ID,
//! which receivers use to recognise a repeat; that window is the time of one commit.
//!
//! A contact who unsubscribed, hard-bounced or lost their address since the send is skipped at
//! the claim, so an unsubscribe stops the rest of a send under way. A workspace's rate limit
//! moves the emails over it later (their `due_at`), it never puts a worker to sleep. An email
//! claimed outside its message's delivery window moves to the window's next opening.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tidings_core::contact::Contact;
use tidings_core::message::MessageState;
use tidings_core::window::contact_zone;
use tidings_email::{Connection, Dkim, Envelope, Refusal, SmtpConfig};
use tidings_store::{Claimed, EmailOutcome, Message, Teammate, Workspace};
use tokio::sync::{Mutex, mpsc, watch};
use tokio::task::JoinHandle;

use super::MailSetup;
use super::letter::{Stationery, letter};
use crate::Engine;
use crate::bus::Moved;
use crate::render::Composed;

/// How often the claimer looks for due emails when nothing woke it.
const IDLE: Duration = Duration::from_millis(500);

/// One email ready for a worker.
struct Job {
    claimed: Claimed,
    smtp: Arc<SmtpConfig>,
    envelope: Envelope,
    bytes: Vec<u8>,
    /// When the claim ends (seconds): after it, the email may be claimed again, by this node or
    /// another, so a job still waiting then is not sent.
    lease_until: i64,
}

/// The outbox of this node, running.
pub struct Outbox {
    stop: watch::Sender<bool>,
    claimer: JoinHandle<()>,
}

impl Outbox {
    /// Stops claiming; the emails already handed to workers are sent (or, if a worker's
    /// connection is down, handed back for another node or the next start).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.claimer.await;
    }
}

impl Engine {
    /// Starts this node's outbox (the mail setup must be set).
    pub fn start_outbox(self: &Arc<Self>) -> Option<Outbox> {
        let setup = self.mail.get()?.clone();
        let (stop, stopped) = watch::channel(false);
        let claimer = tokio::spawn(run(self.clone(), setup, stopped));
        Some(Outbox { stop, claimer })
    }

    /// Wakes this node's outbox (a send queued emails).
    pub(crate) fn wake_outbox(&self) {
        self.outbox_wake.notify_one();
    }
}

async fn run(engine: Arc<Engine>, setup: Arc<MailSetup>, mut stopped: watch::Receiver<bool>) {
    let workers = setup.connections.max(1);
    let (tx, rx) = mpsc::channel::<Job>(workers * 2);
    let rx = Arc::new(Mutex::new(rx));
    // Room for one outcome per worker: while the database is slow the workers wait, so the
    // emails sent but not yet recorded stay a few per connection.
    let (done_tx, done_rx) = mpsc::channel::<(Claimed, EmailOutcome)>(workers);
    let recorder = tokio::spawn(recorder(engine.clone(), done_rx));
    let handles: Vec<JoinHandle<()>> =
        (0..workers).map(|_| tokio::spawn(work(engine.clone(), setup.clone(), rx.clone(), done_tx.clone()))).collect();
    drop(done_tx);
    let batch = (workers * 20) as i64;
    loop {
        if *stopped.borrow() {
            break;
        }
        let now = engine.now();
        let lease_until = now + setup.lease;
        let claimed = match engine.store.claim_emails(now, lease_until, batch).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim emails; will retry");
                Vec::new()
            }
        };
        if claimed.is_empty() {
            tokio::select! {
                () = tokio::time::sleep(IDLE) => {}
                () = engine.outbox_wake.notified() => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        for job in prepare(&engine, &setup, claimed, lease_until).await {
            if tx.send(job).await.is_err() {
                break;
            }
        }
    }
    drop(tx);
    for h in handles {
        let _ = h.await;
    }
    // The workers are done: what they sent is recorded before the outbox stops.
    let _ = recorder.await;
}

/// Outcomes written in one transaction at most.
const RECORD_BATCH: usize = 256;

/// Writes the workers' outcomes as they come, those waiting together in one transaction: one
/// commit per email would bound the outbox at the database's commit rate. An outcome waits here
/// for the time of one commit, the window in which a crash leaves an email sent but not recorded
/// (see docs/email.md); at most three per connection are in it (one being written, one waiting
/// in the channel, one held by its worker).
async fn recorder(engine: Arc<Engine>, mut done: mpsc::Receiver<(Claimed, EmailOutcome)>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while done.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        record_many(&engine, &batch).await;
        batch.clear();
    }
}

/// What a batch needs from the database, read once per batch.
#[derive(Default)]
struct Batch {
    workspaces: HashMap<i64, Option<Workspace>>,
    messages: HashMap<i64, Option<(Message, Composed, Teammate)>>,
}

/// Turns claimed emails into letters: skips those that cannot go, moves those over a rate limit
/// later, records them, and returns the rest.
async fn prepare(engine: &Arc<Engine>, setup: &MailSetup, claimed: Vec<Claimed>, lease_until: i64) -> Vec<Job> {
    let now = engine.now();
    let mut batch = Batch::default();
    let mut by_ws: BTreeMap<i64, Vec<Claimed>> = BTreeMap::new();
    for c in claimed {
        by_ws.entry(c.workspace_id).or_default().push(c);
    }
    let mut jobs = Vec::new();
    let mut outcomes: Vec<(Claimed, EmailOutcome)> = Vec::new();
    for (ws_id, mut list) in by_ws {
        let ws = match batch.workspaces.get(&ws_id) {
            Some(w) => w.clone(),
            None => {
                let w = engine.store.workspace(ws_id).await.ok().flatten();
                batch.workspaces.insert(ws_id, w.clone());
                w
            }
        };
        let Some(ws) = ws else {
            outcomes.extend(list.into_iter().map(|c| (c, EmailOutcome::Failed("the workspace is gone".into()))));
            continue;
        };
        // The workspace's rate limit: what is over it waits for its turn.
        if let Some(rate) = ws.email.rate_per_minute.filter(|r| *r > 0) {
            let interval = (60_000 / rate).max(1);
            let burst = (rate / 60).max(1);
            let now_ms = now.saturating_mul(1000);
            match engine.store.take_email_slots(ws.id, list.len() as i64, interval, burst, now_ms).await {
                Ok((granted, next_ms)) => {
                    let later = list.split_off((granted as usize).min(list.len()));
                    let at = next_ms.div_euclid(1000) + 1;
                    for c in later {
                        let reason = format!("waiting for the workspace's rate limit ({rate} a minute)");
                        outcomes.push((c, EmailOutcome::Retry { at, reason, counts: false }));
                    }
                }
                Err(e) => {
                    tracing::warn!(workspace = ws.id, error = %e, "could not read the rate limit; trying later");
                    for c in list.drain(..) {
                        outcomes.push((c, EmailOutcome::Retry { at: now + 5, reason: e.to_string(), counts: false }));
                    }
                }
            }
        }
        if list.is_empty() {
            continue;
        }
        let (from, smtp) = match engine.mail_route(&ws) {
            Ok(r) => r,
            Err(why) => {
                for c in list {
                    outcomes.push((c, retry_or_fail(setup, &c, now, why.clone())));
                }
                continue;
            }
        };
        let smtp = Arc::new(smtp);
        let dkim = ws.email.dkim.as_ref().and_then(|k| {
            let domain = k.domain.as_deref().unwrap_or_else(|| from.rsplit_once('@').map_or("", |(_, d)| d));
            Dkim::new(domain, &k.selector, &k.private_key)
                .inspect_err(|e| tracing::warn!(workspace = ws.id, error = %e, "emails go unsigned"))
                .ok()
        });
        let ids: Vec<i64> = list.iter().map(|c| c.contact_id).collect();
        let contacts: HashMap<i64, Contact> = match engine.store.contacts_by_ids(ws.id, &ids).await {
            Ok(cs) => cs.into_iter().map(|c| (c.id, c)).collect(),
            Err(e) => {
                for c in list {
                    outcomes.push((c, EmailOutcome::Retry { at: now + 5, reason: e.to_string(), counts: false }));
                }
                continue;
            }
        };
        for c in list {
            let Some(contact) = contacts.get(&c.contact_id) else {
                outcomes.push((c, EmailOutcome::Skipped("contact_deleted".into())));
                continue;
            };
            if let Some(reason) = unreachable(contact) {
                outcomes.push((c, EmailOutcome::Skipped(reason.into())));
                continue;
            }
            let loaded = match batch.messages.get(&c.message_id) {
                Some(m) => m,
                None => {
                    let m = load_message(engine, &ws, c.message_id).await;
                    batch.messages.entry(c.message_id).or_insert(m)
                }
            };
            let Some((message, composed, sender)) = loaded else {
                outcomes.push((c, EmailOutcome::Failed("the message is gone".into())));
                continue;
            };
            // Stopped since the claim (or claimed again after a dead node's lease ran out):
            // nothing has gone to the mail server, and nothing will.
            if message.state == MessageState::Stopped {
                outcomes.push((c, EmailOutcome::Cancelled));
                continue;
            }
            // Outside its window (a retry pushed past the window's end, a contact who changed
            // time zone): to the next opening, not out now.
            if let Some(w) = &message.delivery_window {
                let at = w.due(now, &contact_zone(contact.timezone.as_deref(), &ws.timezone));
                if at > now {
                    let reason = "waiting for its delivery window".to_owned();
                    outcomes.push((c, EmailOutcome::Retry { at, reason, counts: false }));
                    continue;
                }
            }
            let st = Stationery {
                workspace: &ws,
                message,
                composed,
                sender,
                from_address: &from,
                public_url: &setup.public_url,
                bounces: setup.bounces.as_deref(),
                dkim: dkim.as_ref(),
            };
            match letter(&st, contact, c.delivery_id).to_mime() {
                Ok((envelope, bytes)) => {
                    jobs.push(Job { claimed: c, smtp: smtp.clone(), envelope, bytes, lease_until });
                }
                Err(e) => outcomes.push((c, EmailOutcome::Failed(e.to_string()))),
            }
        }
    }
    for (c, outcome) in outcomes {
        record(engine, &c, &outcome).await;
    }
    jobs
}

/// Why a contact cannot receive an email now, as the stats name it.
pub(super) fn unreachable(c: &Contact) -> Option<&'static str> {
    if c.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
        Some("no_email")
    } else if c.unsubscribed_from_emails {
        Some("unsubscribed")
    } else if c.has_hard_bounced {
        Some("hard_bounced")
    } else if c.marked_email_as_spam {
        Some("marked_as_spam")
    } else {
        None
    }
}

async fn load_message(engine: &Engine, ws: &Workspace, id: i64) -> Option<(Message, Composed, Teammate)> {
    let message = engine.store.message(ws.id, id).await.ok().flatten()?;
    if message.state == MessageState::Draft {
        return None;
    }
    let custom = engine.store.custom_attributes(ws.id).await.ok()?;
    let composed = Composed::of(&message, &custom).ok()?;
    let sender = engine.store.teammate(ws.id, message.sender_id).await.ok().flatten()?;
    Some((message, composed, sender))
}

/// Another attempt after a temporary failure, or the end when the attempts ran out.
fn retry_or_fail(setup: &MailSetup, c: &Claimed, now: i64, reason: String) -> EmailOutcome {
    match setup.retry_after.get((c.attempts - 1).max(0) as usize) {
        Some(after) => EmailOutcome::Retry { at: now + after, reason, counts: true },
        None => EmailOutcome::Failed(format!("gave up after {} attempts: {reason}", c.attempts)),
    }
}

/// The bus's word for an outcome, when it moves a figure.
fn moved_by(outcome: &EmailOutcome) -> Option<Moved> {
    match outcome {
        EmailOutcome::Sent => Some(Moved::Delivered),
        EmailOutcome::Failed(_) => Some(Moved::Failed),
        EmailOutcome::Bounced(_) => Some(Moved::Bounced),
        EmailOutcome::Skipped(_) => Some(Moved::Skipped),
        EmailOutcome::Retry { .. } | EmailOutcome::Cancelled => None,
    }
}

/// Records outcomes in one transaction, retried as [`record`] is, and tells the bus what moved,
/// per workspace, message and figure.
async fn record_many(engine: &Engine, batch: &[(Claimed, EmailOutcome)]) {
    let rows: Vec<(i64, i64, EmailOutcome)> =
        batch.iter().map(|(c, o)| (c.workspace_id, c.delivery_id, o.clone())).collect();
    for attempt in 0..5 {
        match engine.store.record_emails(&rows, engine.now()).await {
            Ok(done) => {
                let mut moved: Vec<((i64, Moved), BTreeMap<i64, u64>)> = Vec::new();
                for ((c, outcome), done) in batch.iter().zip(done) {
                    if let (true, Some(what)) = (done, moved_by(outcome)) {
                        let key = (c.workspace_id, what);
                        let at = match moved.iter().position(|(k, _)| *k == key) {
                            Some(i) => i,
                            None => {
                                moved.push((key, BTreeMap::new()));
                                moved.len() - 1
                            }
                        };
                        *moved[at].1.entry(c.message_id).or_default() += 1;
                    }
                }
                for ((ws, what), counts) in moved {
                    engine.moved(ws, counts, what);
                }
                return;
            }
            Err(e) => {
                tracing::warn!(emails = batch.len(), attempt, error = %e, "could not record emails' outcomes");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
}

async fn record(engine: &Engine, c: &Claimed, outcome: &EmailOutcome) {
    let now = engine.now();
    // A failure to write is retried a few times: the lease brings the email back anyway, but
    // a `sent` not written means it is sent again.
    for attempt in 0..5 {
        match engine.store.record_email(c.workspace_id, c.delivery_id, outcome, now).await {
            Ok(done) => {
                if let (true, Some(what)) = (done, moved_by(outcome)) {
                    engine.moved(c.workspace_id, BTreeMap::from([(c.message_id, 1)]), what);
                }
                return;
            }
            Err(e) => {
                tracing::warn!(delivery = c.delivery_id, attempt, error = %e, "could not record an email's outcome");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
}

/// A worker: one SMTP connection, one email at a time.
async fn work(
    engine: Arc<Engine>,
    setup: Arc<MailSetup>,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    done: mpsc::Sender<(Claimed, EmailOutcome)>,
) {
    let mut conn: Option<Connection> = None;
    loop {
        let job = { rx.lock().await.recv().await };
        let Some(job) = job else { break };
        if conn.as_ref().is_none_or(|c| c.config() != &*job.smtp) {
            if let Some(mut old) = conn.take() {
                old.close().await;
            }
            conn = Some(Connection::new((*job.smtp).clone()));
        }
        // A job that waited in the queue (a slow or stalled server) until its claim is about to
        // end is left: once the lease ends the email is claimed again, and sending this copy
        // too would send it twice. The margin is the longest one attempt may take (connecting,
        // then the letter), or half the lease when the lease is shorter than that.
        let longest = (job.smtp.timeout.as_secs_f64() * 3.0).ceil() as i64 + 1;
        if engine.now() + longest.min(setup.lease / 2) >= job.lease_until {
            tracing::debug!(
                delivery = job.claimed.delivery_id,
                "claim about to end before sending; left to the next claim"
            );
            continue;
        }
        let c = conn.as_mut().expect("set above");
        let outcome = match c.send(&job.envelope, &job.bytes).await {
            Ok(()) => EmailOutcome::Sent,
            Err(Refusal::Permanent(why)) => EmailOutcome::Bounced(why),
            Err(Refusal::Temporary(why)) => {
                tracing::debug!(delivery = job.claimed.delivery_id, reason = %why, "temporary SMTP failure");
                retry_or_fail(&setup, &job.claimed, engine.now(), why)
            }
        };
        if done.send((job.claimed, outcome)).await.is_err() {
            break;
        }
    }
    if let Some(mut c) = conn {
        c.close().await;
    }
}
