//! A `nats-server` of the benchmark's own: on a free loopback port, pinned to CPU 0 beside the
//! servers under test when asked, and stopped by its pid. Never one the benchmark did not start.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use super::server::{self, Memory};

/// Where Debian and a hand install put it.
const PLACES: [&str; 3] = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/// A running `nats-server`.
pub struct Nats {
    child: Child,
    pub pid: u32,
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
}

impl Nats {
    /// The installed `nats-server`.
    ///
    /// # Errors
    /// When there is none, with how to install it.
    pub fn binary() -> Result<PathBuf, String> {
        PLACES.iter().map(PathBuf::from).find(|p| p.exists()).ok_or_else(|| {
            "this benchmark joins servers with NATS: install nats-server (as root: apt-get install nats-server)".into()
        })
    }

    /// Its version, e.g. `nats-server v2.9.10`.
    pub fn version() -> String {
        Self::binary()
            .map(|b| super::tool_version(&b.to_string_lossy(), &["--version"]).replacen(": ", " ", 1))
            .unwrap_or_else(|_| "nats-server ?".into())
    }

    /// Starts it on a free port (under `taskset -c 0` when `pinned`) and waits until it accepts
    /// connections.
    ///
    /// # Errors
    /// When it is missing, cannot start, or does not listen within 20 s.
    pub async fn start(pinned: bool) -> Result<Nats, String> {
        let binary = Self::binary()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        // taskset execs nats-server, so the child's pid is the server's.
        let child = cmd
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child.id().ok_or("nats-server exited at once")?;
        let mut nats = Nats { child, pid, url: format!("nats://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(nats);
            }
            if nats.child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
                nats.stop().await;
                return Err(format!("nats-server did not start on port {port}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its resident memory now and at its peak.
    ///
    /// # Errors
    /// When `/proc/<pid>/status` cannot be read.
    pub fn memory(&self) -> Result<Memory, String> {
        server::memory_of(self.pid).map_err(|e| format!("cannot read nats-server's memory: {e}"))
    }

    /// Kills it (by its pid) and reaps it.
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
