//! The NATS bus against a real `nats-server` this test starts on a free port and stops by its
//! pid (it never touches a server it did not start): events cross between nodes, a node hears its
//! own at once, and when NATS goes away and comes back every node is told to resync.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tidings_engine::bus::{self, Bus, Event, Heard};
use tidings_nats::NatsBus;
use tokio::sync::broadcast;

/// A `nats-server` of this test's own.
struct Server {
    child: Child,
    port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn binary() -> String {
    let found = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    found.map(str::to_owned).unwrap_or_else(|| {
        panic!("nats-server is required for the NATS bus tests: install it (Debian: apt-get install nats-server)")
    })
}

impl Server {
    fn start(port: u16) -> Server {
        let child = Command::new(binary())
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so that it is stopped (in `drop`) however this ends.
        let server = Server { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nats-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn stop(self) {
        drop(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The next thing heard, waiting at most 10 seconds (a bound, not a measurement).
async fn heard(rx: &mut broadcast::Receiver<Heard>, what: &str) -> Heard {
    let got = tokio::time::timeout(Duration::from_secs(15), bus::next(rx)).await;
    got.unwrap_or_else(|_| panic!("{what}: nothing heard within 15 s")).unwrap()
}

fn sent(message: i64) -> Event {
    Event::MessageChanged { workspace: 1, message }
}

#[tokio::test]
async fn events_cross_nodes_and_a_lost_bus_ends_in_a_resync() {
    let server = Server::start(free_port());
    let port = server.port;
    let a = NatsBus::connect(&server.url(), "node-a").await.unwrap();
    let b = NatsBus::connect(&server.url(), "node-b").await.unwrap();
    let (mut on_a, mut on_b) = (a.subscribe(), b.subscribe());
    assert!(a.healthy() && b.healthy());
    assert_eq!(a.kind(), "nats");

    a.publish(sent(1));
    assert_eq!(heard(&mut on_a, "step 1").await, Heard::Event(Arc::new(sent(1))), "a node hears its own event at once");
    assert_eq!(
        heard(&mut on_b, "step 2").await,
        Heard::Event(Arc::new(sent(1))),
        "the other node hears it through NATS"
    );
    b.publish(sent(2));
    assert_eq!(heard(&mut on_a, "step 3").await, Heard::Event(Arc::new(sent(2))));
    assert_eq!(
        heard(&mut on_b, "step 4").await,
        Heard::Event(Arc::new(sent(2))),
        "and once: a node skips its own events when NATS sends them back"
    );

    // NATS goes away for a while: each node still hears its own events, and is unhealthy.
    server.stop();
    for _ in 0..100 {
        if !a.healthy() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!a.healthy(), "the bus is reported lost");
    a.publish(sent(3));
    assert_eq!(heard(&mut on_a, "step 5").await, Heard::Event(Arc::new(sent(3))));

    // It comes back on the same address: both nodes are told to resync, and events flow again.
    let server = Server::start(port);
    assert_eq!(heard(&mut on_b, "step 6").await, Heard::Resync, "node b resyncs");
    assert_eq!(heard(&mut on_a, "step 7").await, Heard::Resync, "node a resyncs");
    for _ in 0..100 {
        if a.healthy() && b.healthy() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The other node may or may not have got the event published while NATS was away; after the
    // resync it does not matter. New events cross again.
    a.publish(sent(4));
    let mut got = heard(&mut on_b, "step 8").await;
    if got == Heard::Event(Arc::new(sent(3))) {
        got = heard(&mut on_b, "step 9").await;
    }
    assert_eq!(got, Heard::Event(Arc::new(sent(4))));
    server.stop();
}

#[tokio::test]
async fn a_node_does_not_start_without_its_bus() {
    let refused = NatsBus::connect(&format!("nats://127.0.0.1:{}", free_port()), "node").await;
    let message = refused.err().expect("connected to nothing").to_string();
    assert!(message.contains("cannot reach NATS"), "{message}");
}
