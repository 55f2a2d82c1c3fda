//! Real time: which contacts have a Messenger open on this server, and pushing to them.
//!
//! Each open WebSocket registers a sender under its workspace and contact; a guard removes it
//! when the connection ends, however it ends. Pushes are best effort: a contact who misses one
//! still gets the message, because the Messenger fetches from the database when it (re)connects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::SinkExt;
use tokio::sync::mpsc;

/// Frames for one connection. `Arc<str>` lets one rendered message go to many contacts.
type Outbox = mpsc::UnboundedSender<Arc<str>>;
/// Open connections by (workspace, contact), each with its registration id.
type Connections = HashMap<(i64, i64), Vec<(u64, Outbox)>>;

#[derive(Default)]
pub struct Hub {
    connections: Mutex<Connections>,
    next_id: AtomicU64,
}

/// Removes a connection from the hub when dropped.
pub struct Registration {
    hub: Arc<Hub>,
    key: (i64, i64),
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut conns = self.hub.connections.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(list) = conns.get_mut(&self.key) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                conns.remove(&self.key);
            }
        }
    }
}

impl Hub {
    pub fn register(
        self: &Arc<Self>,
        workspace: i64,
        contact: i64,
    ) -> (Registration, mpsc::UnboundedReceiver<Arc<str>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.connections
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((workspace, contact))
            .or_default()
            .push((id, tx));
        (Registration { hub: self.clone(), key: (workspace, contact), id }, rx)
    }

    /// Contacts of a workspace with at least one open Messenger.
    pub fn online(&self, workspace: i64) -> Vec<i64> {
        let conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        conns.keys().filter(|(w, _)| *w == workspace).map(|(_, c)| *c).collect()
    }

    pub fn is_online(&self, workspace: i64, contact: i64) -> bool {
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&(workspace, contact))
    }

    /// Queues a frame for every open Messenger of a contact; returns how many got it.
    pub fn send(&self, workspace: i64, contact: i64, frame: Arc<str>) -> usize {
        let conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        conns
            .get(&(workspace, contact))
            .map_or(0, |list| list.iter().filter(|(_, tx)| tx.send(frame.clone()).is_ok()).count())
    }

    /// Queues each contact's frame for their open Messengers, under one lock; returns how many
    /// connections got one.
    pub fn send_each(&self, workspace: i64, frames: &[(i64, Arc<str>)]) -> usize {
        let conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let mut sent = 0;
        for (contact, frame) in frames {
            if let Some(list) = conns.get(&(workspace, *contact)) {
                sent += list.iter().filter(|(_, tx)| tx.send(frame.clone()).is_ok()).count();
            }
        }
        sent
    }

    /// Ends every open Messenger of a workspace on this server (its sessions were revoked):
    /// dropping their outboxes ends their loops, which close the sockets. Returns how many.
    pub fn end_workspace(&self, workspace: i64) -> usize {
        let mut conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        let before: usize = conns.values().map(Vec::len).sum();
        conns.retain(|(w, _), _| *w != workspace);
        before - conns.values().map(Vec::len).sum::<usize>()
    }

    /// Queues a frame for every open Messenger on this server; returns how many got it.
    pub fn send_to_all(&self, frame: Arc<str>) -> usize {
        let conns = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        conns.values().flatten().filter(|(_, tx)| tx.send(frame.clone()).is_ok()).count()
    }

    pub fn connection_count(&self) -> usize {
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).values().map(Vec::len).sum()
    }
}

/// Upgrades to a WebSocket that carries pushes to this contact. Buffers are kept small: most
/// Messenger connections sit idle, and tungstenite's default 128 KiB read buffer per connection
/// would dominate the server's memory. The read buffer is allocated and zeroed up front, so it is
/// resident for every open connection; the Messenger sends the server nothing but control frames
/// (pongs and a close, at most 131 bytes each), so a few hundred bytes hold any of them, and a
/// larger frame still fits because tungstenite grows the buffer for it.
pub fn upgrade(upgrade: WebSocketUpgrade, hub: Arc<Hub>, workspace: i64, contact: i64) -> Response {
    upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(4096)
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| serve(socket, hub, workspace, contact))
}

/// Bytes of each connection's read buffer (see [`upgrade`]).
const READ_BUFFER: usize = 256;

async fn serve(mut socket: WebSocket, hub: Arc<Hub>, workspace: i64, contact: i64) {
    let (registration, mut outbox) = hub.register(workspace, contact);
    if socket.send(WsMessage::Text(r#"{"type":"hello"}"#.into())).await.is_err() {
        return;
    }
    let mut keepalive = tokio::time::interval(std::time::Duration::from_secs(25));
    keepalive.tick().await;
    loop {
        tokio::select! {
            frame = outbox.recv() => match frame {
                Some(text) => {
                    // Frames queued behind this one (several sends in a row) go out in one write.
                    let mut sent = socket.feed(WsMessage::Text(text.as_ref().into())).await;
                    while sent.is_ok() {
                        let Ok(more) = outbox.try_recv() else { break };
                        sent = socket.feed(WsMessage::Text(more.as_ref().into())).await;
                    }
                    if sent.is_err() || socket.flush().await.is_err() {
                        break;
                    }
                }
                // The hub let go of this connection: its session has ended.
                None => {
                    let _ = socket.send(WsMessage::Close(None)).await;
                    break;
                }
            },
            incoming = socket.recv() => match incoming {
                // The Messenger sends nothing we act on; reading keeps pings answered and notices a close.
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = keepalive.tick() => if socket.send(WsMessage::Ping(Default::default())).await.is_err() { break },
        }
    }
    drop(registration);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_the_hub_when_their_guard_drops() {
        let hub = Arc::new(Hub::default());
        let (a, mut rx_a) = hub.register(1, 10);
        let (b, _rx_b) = hub.register(1, 10);
        let (c, _rx_c) = hub.register(2, 10);
        assert_eq!(hub.online(1), vec![10]);
        assert_eq!(hub.send(1, 10, Arc::from("x")), 2);
        assert_eq!(rx_a.try_recv().unwrap().as_ref(), "x");
        drop(a);
        assert_eq!(hub.send(1, 10, Arc::from("y")), 1);
        drop(b);
        assert!(hub.online(1).is_empty());
        assert!(hub.is_online(2, 10), "another workspace's contact is separate");
        drop(c);
        assert_eq!(hub.connection_count(), 0);
    }

    #[test]
    fn ending_a_workspace_closes_its_connections_only() {
        let hub = Arc::new(Hub::default());
        let (_a, mut rx_a) = hub.register(1, 10);
        let (_b, mut rx_b) = hub.register(1, 11);
        let (_c, mut rx_c) = hub.register(2, 10);
        assert_eq!(hub.end_workspace(1), 2);
        for rx in [&mut rx_a, &mut rx_b] {
            assert!(matches!(rx.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)), "the loop sees the end");
        }
        assert!(!hub.is_online(1, 10) && !hub.is_online(1, 11));
        assert_eq!(hub.send(2, 10, Arc::from("x")), 1, "another workspace's Messenger stays open");
        assert_eq!(rx_c.try_recv().unwrap().as_ref(), "x");
        assert_eq!(hub.connection_count(), 1);
    }
}
