//! The SMTP side: where to send (`smtp://`, `smtps://` URLs), and one long-lived connection that
//! sends letters one after another.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

/// How a connection is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// None at all (a relay on loopback or a private network).
    None,
    /// `STARTTLS` after connecting; refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
}

/// An SMTP server, from a URL: `smtp://127.0.0.1:2525`, `smtps://user:pass@mail.example.com:465`,
/// `smtp://user:pass@mail.example.com:587?tls=starttls`. Options: `tls=none|starttls|implicit`,
/// `timeout=<seconds>` (30 by default), `helo=<name>`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
    pub helo: Option<String>,
}

/// Written without the password.
impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a % must be followed by two hex digits")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "a % must be followed by two hex digits")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user name and password must be UTF-8".to_owned())
}

impl SmtpConfig {
    /// Reads an SMTP URL.
    ///
    /// # Errors
    /// What is wrong with it, in words for whoever wrote it.
    pub fn parse(url: &str) -> Result<SmtpConfig, String> {
        let url = url.trim();
        let (scheme, rest) = url.split_once("://").ok_or("an SMTP URL starts with smtp:// or smtps://")?;
        let mut tls = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => Tls::None,
            "smtps" => Tls::Implicit,
            other => return Err(format!("unknown scheme {other}://: use smtp:// or smtps://")),
        };
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        let (creds, hostport) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let (username, password) = match creds {
            Some(c) => {
                let (u, p) = c.split_once(':').unwrap_or((c, ""));
                (Some(percent_decode(u)?), if p.is_empty() { None } else { Some(percent_decode(p)?) })
            }
            None => (None, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, Some(p.parse::<u16>().map_err(|_| format!("port {p:?} is not a number from 1 to 65535"))?))
            }
            _ => (hostport, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        if host.is_empty() {
            return Err("the SMTP URL names no host".into());
        }
        let mut timeout = Duration::from_secs(30);
        let mut helo = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "tls" => {
                    tls = match v {
                        "none" => Tls::None,
                        "starttls" => Tls::StartTls,
                        "implicit" | "tls" => Tls::Implicit,
                        _ => return Err(format!("tls={v}: use none, starttls or implicit")),
                    }
                }
                "timeout" => {
                    let s: f64 = v.parse().map_err(|_| format!("timeout={v}: a number of seconds"))?;
                    if !(s > 0.0 && s <= 3600.0) {
                        return Err(format!("timeout={v}: from 0 to 3600 seconds"));
                    }
                    timeout = Duration::from_secs_f64(s);
                }
                "helo" => helo = Some(v.to_owned()),
                other => return Err(format!("unknown option {other:?}: use tls, timeout or helo")),
            }
        }
        let port = port.unwrap_or(match tls {
            Tls::Implicit => 465,
            Tls::StartTls => 587,
            Tls::None => 25,
        });
        if port == 0 {
            return Err("port 0 is not a port".into());
        }
        Ok(SmtpConfig { host, port, tls, username, password, timeout, helo })
    }
}

/// Why the server did not take a letter.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Worth another attempt later: a 4xx, a refused or broken connection, a timeout. Also a
    /// connection lost after the letter's last byte, before the server answered: the server may
    /// have taken it (RFC 5321 leaves that open), and the next attempt carries the same
    /// Message-ID.
    #[error("{0}")]
    Temporary(String),
    /// Never worth another attempt: a 5xx for this letter.
    #[error("{0}")]
    Permanent(String),
}

/// One connection to one SMTP server, opened on first use and opened again after it breaks.
pub struct Connection {
    config: SmtpConfig,
    live: Option<AsyncSmtpConnection>,
    sent: u64,
}

/// A connection is closed and opened again after this many letters, so a server's own limit
/// per connection is never reached mid-letter.
const LETTERS_PER_CONNECTION: u64 = 10_000;

fn describe(e: &lettre::transport::smtp::Error) -> String {
    let text = e.to_string();
    match e.status() {
        Some(code) if !text.contains(&code.to_string()) => format!("{code} {text}"),
        _ => text,
    }
}

impl Connection {
    pub fn new(config: SmtpConfig) -> Connection {
        Connection { config, live: None, sent: 0 }
    }

    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    async fn open(&self) -> Result<AsyncSmtpConnection, Refusal> {
        let c = &self.config;
        let hello = c.helo.clone().map_or_else(ClientId::default, ClientId::Domain);
        let tls =
            || TlsParameters::new(c.host.clone()).map_err(|e| Refusal::Temporary(format!("TLS setup failed: {e}")));
        let implicit = if c.tls == Tls::Implicit { Some(tls()?) } else { None };
        let refused = |why: String| Refusal::Temporary(format!("could not connect to {}:{}: {why}", c.host, c.port));
        let mut conn = if implicit.is_some() {
            AsyncSmtpConnection::connect_tokio1((c.host.as_str(), c.port), Some(c.timeout), &hello, implicit, None)
                .await
                .map_err(|e| refused(describe(&e)))?
        } else {
            // Our own socket, with Nagle's algorithm off: otherwise the end of each letter waits
            // for the server's delayed ACK of the part before it (40 ms a letter on Linux).
            let stream = tokio::time::timeout(c.timeout, tokio::net::TcpStream::connect((c.host.as_str(), c.port)))
                .await
                .map_err(|_| refused(format!("no answer within {:?}", c.timeout)))?
                .map_err(|e| refused(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            tokio::time::timeout(c.timeout, AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello))
                .await
                .map_err(|_| refused(format!("no greeting within {:?}", c.timeout)))?
                .map_err(|e| refused(describe(&e)))?
        };
        if c.tls == Tls::StartTls {
            conn.starttls(tls()?, &hello)
                .await
                .map_err(|e| Refusal::Temporary(format!("STARTTLS failed: {}", describe(&e))))?;
        }
        if let Some(user) = &c.username {
            let creds = Credentials::new(user.clone(), c.password.clone().unwrap_or_default());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(|e| Refusal::Temporary(format!("the SMTP server refused the login: {}", describe(&e))))?;
        }
        Ok(conn)
    }

    /// Sends one letter. A refusal leaves the connection to be opened again for the next one.
    ///
    /// # Errors
    /// The server's refusal, temporary or permanent.
    pub async fn send(&mut self, envelope: &Envelope, bytes: &[u8]) -> Result<(), Refusal> {
        if self.live.as_ref().is_some_and(|c| c.has_broken()) || self.sent >= LETTERS_PER_CONNECTION {
            self.close().await;
        }
        if self.live.is_none() {
            self.live = Some(self.open().await?);
            self.sent = 0;
        }
        let conn = self.live.as_mut().expect("opened above");
        let sent = tokio::time::timeout(self.config.timeout * 2, conn.send(envelope, bytes)).await;
        match sent {
            Ok(Ok(_)) => {
                self.sent += 1;
                Ok(())
            }
            Ok(Err(e)) => {
                // lettre closes the connection on any error; open a new one next time.
                self.live = None;
                if e.is_permanent() {
                    Err(Refusal::Permanent(describe(&e)))
                } else {
                    Err(Refusal::Temporary(describe(&e)))
                }
            }
            Err(_) => {
                self.live = None;
                Err(Refusal::Temporary(format!("the SMTP server did not answer within {:?}", self.config.timeout * 2)))
            }
        }
    }

    /// Says goodbye to the server, if connected.
    pub async fn close(&mut self) {
        if let Some(mut c) = self.live.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.quit()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_as_documented() {
        let c = SmtpConfig::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((c.host.as_str(), c.port, c.tls, c.username.as_deref()), ("127.0.0.1", 2525, Tls::None, None));
        let c = SmtpConfig::parse("smtps://user:pa%40ss@mail.example.com:465").unwrap();
        assert_eq!(
            (c.port, c.tls, c.username.as_deref(), c.password.as_deref()),
            (465, Tls::Implicit, Some("user"), Some("pa@ss"))
        );
        let c = SmtpConfig::parse("smtp://user:pass@mail.example.com:587?tls=starttls&timeout=5").unwrap();
        assert_eq!((c.port, c.tls, c.timeout), (587, Tls::StartTls, Duration::from_secs(5)));
        assert_eq!(SmtpConfig::parse("smtp://mail.example.com?tls=starttls").unwrap().port, 587);
        assert_eq!(SmtpConfig::parse("smtp://[::1]:2525").unwrap().host, "::1");
        for bad in ["mail.example.com", "http://x", "smtp://", "smtp://x:99999", "smtp://x?tls=maybe", "smtp://x?foo=1"]
        {
            assert!(SmtpConfig::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_password_is_never_written_in_debug() {
        let c = SmtpConfig::parse("smtps://user:hunter2@mail.example.com").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
