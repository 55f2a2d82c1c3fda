//! One typed `Settings`: defaults < config file < `TIDINGS_*` environment < command-line flags.
//!
//! Unknown keys in the file are rejected, so a typo never silently falls back to a default.
//! `Debug` redacts the database URL, which may carry a password.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address and port to listen on.
    pub listen: String,
    /// The address people use to reach this server; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// Where the embedded SQLite database lives.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of SQLite, or an explicit `sqlite://…` path.
    pub database_url: Option<String>,
    /// Log filter, e.g. `info` or `tidings=debug,info`.
    pub log: String,
    /// API requests allowed per minute for each token or session; 0 turns limiting off.
    pub rate_limit_per_minute: u32,
    /// `nats://host:4222`: the bus between several nodes on one PostgreSQL. Without it, the
    /// bus is in process (one node).
    pub nats_url: Option<String>,
    /// `smtp://host:port`, `smtps://user:pass@host:465` or `smtp://user:pass@host:587?tls=starttls`:
    /// where emails go. A workspace may set its own in Settings.
    pub smtp_url: Option<String>,
    /// The default sender address of emails (a workspace may set its own).
    pub email_from: Option<String>,
    /// Where bounces go, e.g. `bounces@mail.example.com`: each email's return path becomes
    /// `bounces+<its reference>@mail.example.com`, and the mail server there hands what arrives
    /// to `POST /email/reports`.
    pub email_bounce_address: Option<String>,
    /// Where contacts' answers to reply emails go, e.g. `replies@mail.example.com`: each reply
    /// email's `Reply-To` becomes `replies+r<conversation>.<tag>@mail.example.com`, and the mail
    /// server there hands what arrives to `POST /email/inbound`. Unset: the sender address with
    /// the same suffix.
    pub email_reply_address: Option<String>,
    /// SMTP connections this node holds (one per email worker).
    pub smtp_connections: usize,
    /// Seconds to wait before each further attempt after a temporary SMTP failure, e.g.
    /// `[60, 300, 900]`; when they run out, the email fails.
    pub email_retry_seconds: Vec<i64>,
    /// Seconds an email worker's claim holds: an email claimed by a node that died is claimed
    /// again when it ends.
    pub email_lease_seconds: i64,
    /// Whether webhooks may go to loopback, private, link-local and other non-public addresses
    /// (a receiver on this machine or network). Off: such targets are refused when saved and sent.
    pub webhook_allow_private: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: PathBuf::from("./tidings-data"),
            database_url: None,
            log: "info".into(),
            rate_limit_per_minute: 1000,
            nats_url: None,
            smtp_url: None,
            email_from: None,
            email_bounce_address: None,
            email_reply_address: None,
            smtp_connections: 10,
            email_retry_seconds: vec![60, 300, 900, 1800, 5400],
            email_lease_seconds: 300,
            webhook_allow_private: false,
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|u| redact(u)))
            .field("log", &self.log)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("nats_url", &self.nats_url.as_ref().map(|u| redact(u)))
            .field("smtp_url", &self.smtp_url.as_ref().map(|u| redact(u)))
            .field("email_from", &self.email_from)
            .field("email_bounce_address", &self.email_bounce_address)
            .field("email_reply_address", &self.email_reply_address)
            .field("smtp_connections", &self.smtp_connections)
            .field("email_retry_seconds", &self.email_retry_seconds)
            .field("email_lease_seconds", &self.email_lease_seconds)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .finish()
    }
}

/// Hides the password of a URL (`postgres://user:secret@host` → `postgres://user:***@host`).
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Flags that override everything else.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Overrides {
    /// Config file (TOML). Default: ./tidings.toml when it exists.
    #[arg(long, global = true, env = "TIDINGS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:8080].
    #[arg(long, global = true)]
    pub listen: Option<String>,
    /// Public URL of this server, used in links.
    #[arg(long, global = true)]
    pub public_url: Option<String>,
    /// Data directory for the SQLite database [default: ./tidings-data].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: postgres://… or sqlite://… [default: SQLite in the data directory].
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// NATS URL (nats://host:4222), for several nodes on one PostgreSQL [default: one node].
    #[arg(long, global = true)]
    pub nats_url: Option<String>,
}

impl Settings {
    /// Builds the settings from every layer.
    ///
    /// # Errors
    /// A config file that cannot be read or has unknown or mistyped keys.
    pub fn load(flags: &Overrides) -> Result<Self, String> {
        let mut s = match &flags.config {
            Some(path) => Self::from_file(path)?,
            None if Path::new("tidings.toml").exists() => Self::from_file(Path::new("tidings.toml"))?,
            None => Settings::default(),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(v) = env("TIDINGS_LISTEN") {
            s.listen = v;
        }
        if let Some(v) = env("TIDINGS_PUBLIC_URL") {
            s.public_url = Some(v);
        }
        if let Some(v) = env("TIDINGS_DATA_DIR") {
            s.data_dir = v.into();
        }
        if let Some(v) = env("TIDINGS_DATABASE_URL") {
            s.database_url = Some(v);
        }
        if let Some(v) = env("TIDINGS_NATS_URL") {
            s.nats_url = Some(v);
        }
        if let Some(v) = env("TIDINGS_SMTP_URL") {
            s.smtp_url = Some(v);
        }
        if let Some(v) = env("TIDINGS_EMAIL_FROM") {
            s.email_from = Some(v);
        }
        if let Some(v) = env("TIDINGS_EMAIL_BOUNCE_ADDRESS") {
            s.email_bounce_address = Some(v);
        }
        if let Some(v) = env("TIDINGS_EMAIL_REPLY_ADDRESS") {
            s.email_reply_address = Some(v);
        }
        if let Some(v) = env("TIDINGS_SMTP_CONNECTIONS") {
            s.smtp_connections = v
                .parse()
                .ok()
                .filter(|n| (1..=500).contains(n))
                .ok_or_else(|| format!("TIDINGS_SMTP_CONNECTIONS must be a whole number from 1 to 500, not {v}"))?;
        }
        if let Some(v) = env("TIDINGS_EMAIL_RETRY_SECONDS") {
            s.email_retry_seconds = v
                .split(',')
                .map(|x| x.trim().parse::<i64>().ok().filter(|n| *n > 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| format!("TIDINGS_EMAIL_RETRY_SECONDS must be seconds separated by commas, not {v}"))?;
        }
        if let Some(v) = env("TIDINGS_EMAIL_LEASE_SECONDS") {
            s.email_lease_seconds = v.parse().ok().filter(|n| (1..=86_400).contains(n)).ok_or_else(|| {
                format!("TIDINGS_EMAIL_LEASE_SECONDS must be a whole number of seconds from 1 to 86400, not {v}")
            })?;
        }
        if let Some(v) = env("TIDINGS_WEBHOOK_ALLOW_PRIVATE") {
            s.webhook_allow_private = match v.as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(format!("TIDINGS_WEBHOOK_ALLOW_PRIVATE must be true or false, not {v}")),
            };
        }
        if let Some(v) = env("TIDINGS_LOG") {
            s.log = v;
        }
        if let Some(v) = env("TIDINGS_RATE_LIMIT_PER_MINUTE") {
            s.rate_limit_per_minute =
                v.parse().map_err(|_| format!("TIDINGS_RATE_LIMIT_PER_MINUTE must be a whole number, not {v}"))?;
        }
        if let Some(v) = &flags.listen {
            s.listen = v.clone();
        }
        if let Some(v) = &flags.public_url {
            s.public_url = Some(v.clone());
        }
        if let Some(v) = &flags.data_dir {
            s.data_dir = v.clone();
        }
        if let Some(v) = &flags.database_url {
            s.database_url = Some(v.clone());
        }
        if let Some(v) = &flags.nats_url {
            s.nats_url = Some(v.clone());
        }
        Ok(s)
    }

    fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The database to open: the explicit URL, or SQLite in the data directory.
    pub fn database(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("tidings.db").display()))
    }

    /// The configured public URL, or `http://` and the address actually bound (so `--listen
    /// 127.0.0.1:0` prints a usable URL).
    pub fn public_url(&self, bound: std::net::SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{bound}")).trim_end_matches('/').to_owned()
    }

    /// An example config file with every key and its default.
    pub fn example() -> String {
        let mut text = String::from("# Tidings configuration. Every key is optional; shown with its default.\n");
        text.push_str("# Precedence: defaults < this file < TIDINGS_* environment < command-line flags.\n\n");
        text.push_str("listen = \"127.0.0.1:8080\"\n");
        text.push_str("# public_url = \"https://support.example.com\"\n");
        text.push_str("data_dir = \"./tidings-data\"\n");
        text.push_str("# database_url = \"postgres://postgres@127.0.0.1:5432/tidings\"\n");
        text.push_str("log = \"info\"\n");
        text.push_str("# API requests per minute per token or session (0: unlimited)\n");
        text.push_str("rate_limit_per_minute = 1000\n");
        text.push_str("# The bus between several nodes on one PostgreSQL (without it: one node)\n");
        text.push_str("# nats_url = \"nats://127.0.0.1:4222\"\n");
        text.push_str(
            "# Where emails go: smtp://host:25, smtps://user:pass@host:465, smtp://user:pass@host:587?tls=starttls\n",
        );
        text.push_str("# smtp_url = \"smtp://127.0.0.1:25\"\n");
        text.push_str("# The default sender address (a workspace may set its own)\n");
        text.push_str("# email_from = \"hello@example.com\"\n");
        text.push_str("# Where bounces go (each email's return path is bounces+<reference>@…; see docs/email.md)\n");
        text.push_str("# email_bounce_address = \"bounces@mail.example.com\"\n");
        text.push_str("# Where contacts' answers to reply emails go (Reply-To replies+r<conversation>.<tag>@…;\n");
        text.push_str("# unset: the sender address with that suffix; see docs/email.md)\n");
        text.push_str("# email_reply_address = \"replies@mail.example.com\"\n");
        text.push_str("# SMTP connections this node holds (one per email worker)\n");
        text.push_str("smtp_connections = 10\n");
        text.push_str("# Seconds before each further attempt after a temporary SMTP failure\n");
        text.push_str("email_retry_seconds = [60, 300, 900, 1800, 5400]\n");
        text.push_str("# Seconds a worker's claim on an email holds; a node that dies leaves its emails to be\n");
        text.push_str("# claimed again when it ends (each may then go out twice, with the same Message-ID)\n");
        text.push_str("email_lease_seconds = 300\n");
        text.push_str("# Let webhooks go to loopback, private and link-local addresses (a receiver on this\n");
        text.push_str("# machine or network); otherwise such targets are refused (see docs/webhooks.md)\n");
        text.push_str("webhook_allow_private = false\n");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_and_the_example_parses() {
        assert!(toml::from_str::<Settings>("listne = \"x\"").is_err());
        let example: Settings = toml::from_str(&Settings::example()).unwrap();
        assert_eq!(example, Settings::default());
    }

    #[test]
    fn debug_hides_database_passwords() {
        let s = Settings { database_url: Some("postgres://bob:hunter2@db/x".into()), ..Settings::default() };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && shown.contains("bob:***@db"), "{shown}");
    }
}
