//! The teammates' live stream: `GET /app/events`, Server-Sent Events that tell a logged-in
//! teammate's pages what changed in their workspace, so that the pages read it again through the
//! API instead of polling.
//!
//! Each stream subscribes to the engine's bus (any [`Bus`](tidings_engine::Bus): every node hears
//! what any node did) and passes on its own workspace's events only, each cut down to what changed
//! and its id (`{"type":"deliveries_moved","message_id":"12"}`). That is a hint to fetch, never
//! data: the page fetches with its session, under the API's rules. A stream starts with
//! `{"type":"ready"}`, and says `{"type":"resync"}` when the bus may have lost events or this
//! stream fell behind; both mean "read everything again", so a page rendered before its stream
//! opened, or one that was disconnected for a while, misses nothing.
//!
//! A comment every [`HEARTBEAT`] keeps proxies from closing a quiet stream. A stream ends when the
//! server begins to stop (a graceful shutdown waits for every response under way, so an open
//! stream would otherwise hold it up), and by itself after [`LIFETIME`]; either way the browser
//! reconnects (to another node, behind a load balancer) and the page reads again. The lifetime
//! means a teammate whose session ended (logged out, expired) hears nothing more within that
//! minute: the reconnect is refused.
//!
//! Every stream hears every workspace's events and drops the others': cheap for the few pages
//! teammates keep open, unlike the Messenger's many connections, which [`crate::messenger::relay`]
//! serves through the hub.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tidings_engine::bus::{self, Event, Heard};
use tokio::sync::broadcast::{self, error::TryRecvError};

use super::session::Admin;
use crate::AppState;

/// How long a stream may stay quiet before a comment is sent.
pub const HEARTBEAT: Duration = Duration::from_secs(20);
/// How long one stream lasts before the browser is made to reconnect (see the module's header).
pub const LIFETIME: Duration = Duration::from_secs(60);
/// How long the browser waits before it reconnects.
const RETRY: Duration = Duration::from_secs(2);
/// The most events read from the bus before the stream sends what it has.
const BURST: usize = 1024;

/// Read everything again: the stream (re)opened.
pub const READY: &str = r#"{"type":"ready"}"#;
/// Read everything again: events may have been missed.
pub const RESYNC: &str = r#"{"type":"resync"}"#;

/// The stream of the logged-in teammate's workspace. Without a session it is refused with 401,
/// not sent to the login form: a stream is no page, and an API token does not open one.
pub async fn events(State(state): State<AppState>, admin: Result<Admin, Response>) -> Response {
    let admin = match admin {
        Ok(admin) => admin,
        Err(to_login) if to_login.status().is_redirection() => {
            return (StatusCode::UNAUTHORIZED, "Log in to follow this workspace.").into_response();
        }
        Err(other) => return other,
    };
    // Subscribed before `ready` goes out, and the page reads on `ready`: whatever commits between
    // the page's last read and this point is in that read, and whatever commits later is heard.
    let heard = state.engine.bus().subscribe();
    let stopping = state.stopping();
    let end = async move {
        tokio::select! {
            () = tokio::time::sleep(LIFETIME) => {},
            () = stopping => {},
        }
    };
    let notices = notices(heard, admin.workspace.id, end);
    let events = futures_util::stream::once(async { sse::Event::default().retry(RETRY) })
        .chain(notices.map(|n| sse::Event::default().data(n)))
        .map(Ok::<_, Infallible>);
    // nginx would otherwise hold events back in its buffer.
    let unbuffered = [(HeaderName::from_static("x-accel-buffering"), "no")];
    (unbuffered, Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT))).into_response()
}

/// What one stream sends: [`READY`], then the notices of `workspace`'s events (see [`burst`]),
/// until `end` resolves or the bus is gone.
fn notices(
    heard: broadcast::Receiver<Heard>,
    workspace: i64,
    end: impl Future<Output = ()> + Send + 'static,
) -> impl Stream<Item = String> + Send + 'static {
    let queue = VecDeque::from([READY.to_owned()]);
    let end = Box::pin(end);
    futures_util::stream::unfold((heard, queue, end), move |(mut heard, mut queue, mut end)| async move {
        loop {
            if let Some(n) = queue.pop_front() {
                return Some((n, (heard, queue, end)));
            }
            let first = tokio::select! {
                h = bus::next(&mut heard) => h?,
                () = &mut end => return None,
            };
            queue = burst(&mut heard, first, workspace);
        }
    })
}

/// The notices for `first` and for what is already queued behind it: each once, in the order
/// first heard, so that a thousand contacts seeing a message at once make one notice, not a
/// thousand. When any of them is a resync, only the resync: the page reads everything anyway.
fn burst(heard: &mut broadcast::Receiver<Heard>, first: Heard, workspace: i64) -> VecDeque<String> {
    let mut out = VecDeque::new();
    let mut sent = HashSet::new();
    let mut next = Some(first);
    let mut read = 0;
    let mut resync = false;
    while let Some(h) = next {
        match h {
            Heard::Resync => resync = true,
            Heard::Event(e) => {
                if let Some(n) = notice(&e, workspace)
                    && sent.insert(n.clone())
                {
                    out.push_back(n);
                }
            }
        }
        read += 1;
        next = match heard.try_recv() {
            _ if read == BURST => None,
            Ok(h) => Some(h),
            Err(TryRecvError::Lagged(_)) => Some(Heard::Resync),
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
        };
    }
    if resync { VecDeque::from([RESYNC.to_owned()]) } else { out }
}

/// What a teammate of `workspace` hears about an event: its kind and the id to fetch again, and
/// nothing about another workspace. Every kind of event is listed, so a new one is decided here.
fn notice(event: &Event, workspace: i64) -> Option<String> {
    if event.workspace() != workspace {
        return None;
    }
    if let Event::TeammatePresent { conversation, teammate, typing, .. } = *event {
        return Some(
            json!({"type": "teammate_present", "conversation_id": conversation.to_string(),
                   "teammate_id": teammate.to_string(), "typing": typing})
            .to_string(),
        );
    }
    let (kind, key, id) = match *event {
        Event::MessageSent { message, .. } => ("message_sent", "message_id", message),
        Event::MessageStopped { message, .. } => ("message_stopped", "message_id", message),
        Event::MessageChanged { message, .. } => ("message_changed", "message_id", message),
        Event::DeliveriesMoved { message, .. } => ("deliveries_moved", "message_id", message),
        Event::PartAdded { conversation, .. } => ("part_added", "conversation_id", conversation),
        Event::ConversationChanged { conversation, .. } => ("conversation_changed", "conversation_id", conversation),
        Event::ConversationSeen { conversation, .. } => ("conversation_seen", "conversation_id", conversation),
        Event::SegmentChanged { segment, .. } => ("segment_changed", "segment_id", segment),
        Event::ImportChanged { import, .. } => ("import_changed", "import_id", import),
        Event::TeammatePresent { .. } => return None,
    };
    Some(json!({"type": kind, key: id.to_string()}).to_string())
}

#[cfg(test)]
mod tests {
    use tidings_core::message::Channel;
    use tidings_engine::bus::{BACKLOG, Moved, StateName};
    use tidings_engine::{Bus, InProcess};

    use super::*;

    fn seen(workspace: i64, message: i64) -> Event {
        Event::DeliveriesMoved { workspace, message, what: Moved::Seen, count: 1 }
    }

    async fn take(stream: &mut (impl Stream<Item = String> + Unpin)) -> Option<String> {
        tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("a notice within 10 s")
    }

    #[test]
    fn a_notice_says_what_changed_and_its_id_in_the_workspace_only() {
        let cases = [
            (Event::MessageSent { workspace: 1, message: 2, channel: Channel::Chat, targeted: 50 }, "message_sent"),
            (Event::MessageStopped { workspace: 1, message: 2, cancelled: 7 }, "message_stopped"),
            (Event::MessageChanged { workspace: 1, message: 2 }, "message_changed"),
            (seen(1, 2), "deliveries_moved"),
        ];
        for (event, kind) in cases {
            assert_eq!(notice(&event, 1).unwrap(), format!(r#"{{"message_id":"2","type":"{kind}"}}"#));
            assert_eq!(notice(&event, 9), None, "another workspace's {kind}");
        }
        let part = Event::PartAdded { workspace: 1, conversation: 3, contact: 4, part: 5, visible: false };
        assert_eq!(notice(&part, 1).unwrap(), r#"{"conversation_id":"3","type":"part_added"}"#);
        let state = Event::ConversationChanged { workspace: 1, conversation: 3, contact: 4, state: StateName::Closed };
        assert_eq!(notice(&state, 1).unwrap(), r#"{"conversation_id":"3","type":"conversation_changed"}"#);
        assert_eq!(notice(&state, 2), None);
        let segment = Event::SegmentChanged { workspace: 1, segment: 6 };
        assert_eq!(notice(&segment, 1).unwrap(), r#"{"segment_id":"6","type":"segment_changed"}"#);
        assert_eq!(notice(&segment, 2), None);
    }

    #[tokio::test]
    async fn a_stream_starts_ready_and_passes_on_its_workspace_once_per_burst() {
        let bus = InProcess::default();
        let mut stream = Box::pin(notices(bus.subscribe(), 1, std::future::pending()));
        assert_eq!(take(&mut stream).await.as_deref(), Some(READY));
        for _ in 0..100 {
            bus.publish(seen(1, 2));
            bus.publish(seen(2, 8));
        }
        bus.publish(seen(1, 3));
        bus.publish(seen(1, 2));
        assert_eq!(take(&mut stream).await.unwrap(), r#"{"message_id":"2","type":"deliveries_moved"}"#);
        assert_eq!(take(&mut stream).await.unwrap(), r#"{"message_id":"3","type":"deliveries_moved"}"#);
        bus.publish(seen(2, 8));
        bus.publish(seen(1, 2));
        assert_eq!(
            take(&mut stream).await.unwrap(),
            r#"{"message_id":"2","type":"deliveries_moved"}"#,
            "heard again after the burst was sent, and nothing of workspace 2"
        );
    }

    #[tokio::test]
    async fn a_stream_that_fell_behind_says_resync() {
        let bus = InProcess::default();
        let mut stream = Box::pin(notices(bus.subscribe(), 1, std::future::pending()));
        assert_eq!(take(&mut stream).await.as_deref(), Some(READY));
        for m in 0..(BACKLOG as i64 + 10) {
            bus.publish(seen(1, m));
        }
        assert_eq!(take(&mut stream).await.as_deref(), Some(RESYNC));
    }

    #[tokio::test]
    async fn a_resync_from_the_bus_stands_for_the_whole_burst_it_came_in() {
        let bus = InProcess::default();
        let mut stream = Box::pin(notices(bus.subscribe(), 1, std::future::pending()));
        assert_eq!(take(&mut stream).await.as_deref(), Some(READY));
        bus.publish(seen(1, 2));
        // What a networked bus relays when it lost its connection.
        bus.relay(Heard::Resync);
        bus.publish(seen(1, 3));
        assert_eq!(take(&mut stream).await.as_deref(), Some(RESYNC));
        bus.publish(seen(1, 4));
        assert_eq!(
            take(&mut stream).await.unwrap(),
            r#"{"message_id":"4","type":"deliveries_moved"}"#,
            "the events around the resync were not sent as well"
        );
    }

    #[tokio::test]
    async fn a_stream_ends_at_its_lifetime_and_when_the_bus_is_gone() {
        let bus = InProcess::default();
        let mut stream = Box::pin(notices(bus.subscribe(), 1, tokio::time::sleep(Duration::from_millis(50))));
        assert_eq!(take(&mut stream).await.as_deref(), Some(READY));
        assert_eq!(take(&mut stream).await, None, "the lifetime is over: the browser reconnects");

        let bus = InProcess::default();
        let mut stream = Box::pin(notices(bus.subscribe(), 1, std::future::pending()));
        assert_eq!(take(&mut stream).await.as_deref(), Some(READY));
        drop(bus);
        assert_eq!(take(&mut stream).await, None);
    }
}
