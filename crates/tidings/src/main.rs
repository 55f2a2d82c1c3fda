//! The `tidings` command: wires settings, storage and the web layer together. No logic lives
//! here beyond parsing arguments and printing results.

mod bench;
mod export;
mod import;
mod settings;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use settings::{Overrides, Settings};
use tidings_store::{Store, Workspace};
use tidings_web::{AppState, WebConfig, provision};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tidings: a self-hosted customer-messaging server.
#[derive(Parser)]
#[command(name = "tidings", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: admin app, REST API and Messenger on one port. On the first start it
    /// creates a workspace and prints how to log in.
    Serve,
    /// Create a workspace with its owner and an API token, without prompts (for scripts and
    /// containers). Prints the workspace id, its app_id, the token and the identity secret.
    Setup {
        /// Name of the workspace.
        #[arg(long)]
        workspace: String,
        /// Email of the owner (their login).
        #[arg(long)]
        email: String,
        /// Password of the owner (8 characters or more).
        #[arg(long, env = "TIDINGS_SETUP_PASSWORD")]
        password: String,
        /// IANA time zone of the workspace.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Import contacts from a CSV file (with a header row) or JSON lines. Upserts by external_id,
    /// then email; running it twice changes nothing the second time.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export contacts as CSV or JSON lines.
    Export {
        #[command(subcommand)]
        what: ExportWhat,
    },
    /// Print an example config file with every key and its default.
    DefaultConfig,
    /// Measure import and search speed on generated data, beside hand-written SQL, the
    /// Messenger's real time beside nginx, and several nodes joined by NATS beside one; print the
    /// figures with the command that reproduces them (see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        what: bench::Bench,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Import contacts.
    ///
    /// The header row of a CSV file, or the keys of each JSON line, name the contact's fields
    /// (external_id, email, name, phone, role, signed_up_at, last_seen_at, owner_id,
    /// unsubscribed_from_emails, language_override, timezone), its custom attributes (`plan`
    /// or `custom_attributes.plan` in CSV; `custom_attributes` in JSON lines) and `tags`:
    /// comma-separated tag names (in JSON lines, also an array), created as needed and applied
    /// to the contact; tags it already has stay.
    ///
    /// Columns that name no attribute stop the import before anything is written, and are
    /// listed with the type their values suggest, read over the whole file: all whole numbers
    /// are an integer (a date in a column named `…_at` or `…_date`), all numbers a float,
    /// true/false/yes/no a boolean, ISO dates or RFC 3339 times a date, anything else a string.
    /// Add --create-attributes to create them with those types, or --skip-unknown to leave them
    /// out. Bad lines are reported by line number and the rest is imported; a second run of the
    /// same file changes nothing.
    Contacts {
        /// The file to read.
        file: std::path::PathBuf,
        /// The workspace's app_id (needed when the server has several workspaces).
        #[arg(long)]
        workspace: Option<String>,
        /// File format; guessed from the extension when omitted.
        #[arg(long)]
        format: Option<Format>,
        /// Create each column that names no attribute yet as a custom attribute, of the type its
        /// values suggest (string, integer, float, boolean or date), then import.
        #[arg(long, conflicts_with = "skip_unknown")]
        create_attributes: bool,
        /// Import without the columns that name no attribute.
        #[arg(long)]
        skip_unknown: bool,
        /// Read a CSV column as another attribute, e.g. `--map "Plan name=plan"` or
        /// `--map Labels=tags`; repeat for several columns.
        #[arg(long, value_name = "COLUMN=ATTRIBUTE", value_parser = column_map)]
        map: Vec<(String, String)>,
    },
}

/// `COLUMN=ATTRIBUTE`, as `--map` takes it.
fn column_map(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((column, attribute)) if !column.trim().is_empty() && !attribute.trim().is_empty() => {
            Ok((column.trim().to_owned(), attribute.trim().to_owned()))
        }
        _ => Err("expected COLUMN=ATTRIBUTE".into()),
    }
}

#[derive(Subcommand)]
enum ExportWhat {
    /// Export contacts.
    Contacts {
        /// The workspace's app_id (needed when the server has several workspaces).
        #[arg(long)]
        workspace: Option<String>,
        #[arg(long, default_value = "csv")]
        format: Format,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Jsonl,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log).unwrap_or_else(|_| "info".into());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

async fn open_store(settings: &Settings) -> Result<Arc<dyn Store>, String> {
    let url = settings.database();
    tidings_store::open(&url).await.map_err(|e| format!("could not open the database {}: {e}", settings::redact(&url)))
}

/// The workspace a command works on: the one named, or the only one.
async fn pick_workspace(store: &Arc<dyn Store>, app_id: Option<&str>) -> Result<Workspace, String> {
    let all = store.workspaces().await.map_err(|e| e.to_string())?;
    match app_id {
        Some(id) => all.into_iter().find(|w| w.app_id == id).ok_or_else(|| format!("no workspace has app_id {id}")),
        None if all.len() == 1 => Ok(all.into_iter().next().unwrap_or_else(|| unreachable!())),
        None if all.is_empty() => Err("there is no workspace yet: run `tidings serve` or `tidings setup` first".into()),
        None => Err(format!(
            "there are {} workspaces: name one with --workspace APP_ID ({})",
            all.len(),
            all.iter().map(|w| w.app_id.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

fn api_error(e: tidings_web::error::ApiError) -> String {
    e.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ")
}

async fn run(command: Command, settings: Settings) -> Result<(), String> {
    match command {
        Command::DefaultConfig => {
            print!("{}", Settings::example());
            Ok(())
        }
        Command::Serve => serve(settings).await,
        Command::Bench { what } => bench::run(what).await,
        Command::Setup { workspace, email, password, timezone, json } => {
            let store = open_store(&settings).await?;
            let p = provision::workspace(&store, &workspace, &email, &password, &timezone).await.map_err(api_error)?;
            if json {
                let out = serde_json::json!({
                    "workspace_id": p.workspace.id,
                    "app_id": p.workspace.app_id,
                    "admin_id": p.owner.id,
                    "email": p.owner.email,
                    "token": p.token_secret,
                    "identity_secret": p.workspace.identity_secret,
                });
                println!("{out}");
            } else {
                println!("Created workspace {} (app_id {}).", p.workspace.name, p.workspace.app_id);
                println!("Owner login: {}", p.owner.email);
                println!("API token (shown once): {}", p.token_secret);
                println!("Identity secret (keys user_hash; also in Settings): {}", p.workspace.identity_secret);
            }
            Ok(())
        }
        Command::Import {
            what: ImportWhat::Contacts { file, workspace, format, create_attributes, skip_unknown, map },
        } => {
            let store = open_store(&settings).await?;
            let ws = pick_workspace(&store, workspace.as_deref()).await?;
            let unknown = match (create_attributes, skip_unknown) {
                (true, _) => import::Unknown::Create,
                (_, true) => import::Unknown::Skip,
                _ => import::Unknown::Refuse,
            };
            import::contacts(&store, &ws, &file, &import::options(format, unknown, map)).await
        }
        Command::Export { what: ExportWhat::Contacts { workspace, format, output } } => {
            let store = open_store(&settings).await?;
            let ws = pick_workspace(&store, workspace.as_deref()).await?;
            export::contacts(&store, &ws, format, output.as_deref()).await
        }
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    let database = settings.database();
    let sqlite = database.starts_with("sqlite:");
    if sqlite && settings.nats_url.is_some() {
        return Err("NATS joins several nodes, and several nodes need PostgreSQL: SQLite serves one node. \
                    Set TIDINGS_DATABASE_URL=postgres://… for several nodes, or leave out TIDINGS_NATS_URL for one."
            .into());
    }
    // Held until the process ends: a second server on the same SQLite file is refused.
    let _only_node = if sqlite { Some(hold_sqlite(&database)?) } else { None };
    let store = open_store(&settings).await?;
    let first_start = store.workspace_count().await.map_err(|e| e.to_string())? == 0;
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e} (choose another with --listen)", settings.listen))?;
    let public_url = settings.public_url(listener.local_addr().map_err(|e| e.to_string())?);
    let shutdown = shutdown_signal();
    let engine = match &settings.nats_url {
        Some(url) => {
            let bus = tidings_nats::NatsBus::connect(url, &format!("tidings {public_url}"))
                .await
                .map_err(|e| e.to_string())?;
            tidings_engine::Engine::new(store.clone(), Arc::new(tidings_engine::SystemClock), bus)
        }
        None => tidings_engine::Engine::local(store.clone()),
    };
    if first_start && settings.nats_url.is_some() {
        // Several nodes start at once: none of them may make the first workspace on its own.
        println!("There is no workspace yet: create it once with `tidings setup` (any node sees it at once).");
    } else if first_start {
        let email = std::env::var("TIDINGS_OWNER_EMAIL").unwrap_or_else(|_| "owner@example.com".into());
        let password = tidings_web::auth::random_secret(12);
        let p = provision::workspace(&store, "My workspace", &email, &password, "UTC").await.map_err(api_error)?;
        println!("First start: created the workspace \"{}\" (app_id {}).", p.workspace.name, p.workspace.app_id);
        println!("  Log in at {public_url}/app/login");
        println!("  email:     {}", p.owner.email);
        println!("  password:  {password}");
        println!("  API token: {}", p.token_secret);
        println!("These are shown only this once: keep them somewhere safe.");
    }
    println!(
        "Tidings is running at {public_url} (database: {}; bus: {})",
        settings::redact(&database),
        settings.nats_url.as_deref().map_or_else(|| "in process".to_owned(), settings::redact)
    );
    let mut mail = tidings_engine::email::MailSetup::new(&public_url);
    mail.smtp = match &settings.smtp_url {
        Some(url) => Some(tidings_email::SmtpConfig::parse(url).map_err(|e| format!("smtp_url: {e}"))?),
        None => None,
    };
    mail.from = settings.email_from.clone();
    mail.bounces = match &settings.email_bounce_address {
        Some(a) if a.rsplit_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.')) => Some(a.clone()),
        Some(a) => return Err(format!("email_bounce_address: {a:?} is not an email address")),
        None => None,
    };
    mail.replies = match &settings.email_reply_address {
        Some(a) if tidings_engine::email::compose::valid_address(a) => Some(a.trim().to_owned()),
        Some(a) => return Err(format!("email_reply_address: {a:?} is not an email address")),
        None => None,
    };
    mail.connections = settings.smtp_connections.max(1);
    mail.retry_after = settings.email_retry_seconds.clone();
    mail.lease = settings.email_lease_seconds.max(1);
    engine.set_mail(mail);
    engine.set_webhooks(tidings_engine::webhooks::WebhookSetup {
        allow_private: settings.webhook_allow_private,
        ..tidings_engine::webhooks::WebhookSetup::default()
    });
    let config = WebConfig { public_url, rate_limit_per_minute: settings.rate_limit_per_minute };
    let state = AppState::with_engine(engine, config);
    tidings_web::launch(listener, state, shutdown).await.map_err(|e| e.to_string())
}

/// Takes the SQLite database for this server alone: SQLite serves one node, and a second
/// `tidings serve` on the same file would deliver without telling the first one's Messengers.
/// The lock is the operating system's, so it goes with the process however it ends.
fn hold_sqlite(database: &str) -> Result<std::fs::File, String> {
    let path = database.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or(path);
    if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let lock = format!("{path}.serve-lock");
    let file = std::fs::File::create(&lock).map_err(|e| format!("cannot create {lock}: {e}"))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another `tidings serve` already uses the SQLite database {path}: SQLite serves one node. \
             For several nodes, use PostgreSQL (TIDINGS_DATABASE_URL) and NATS (TIDINGS_NATS_URL)."
        )),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("cannot lock {lock}: {e}")),
    }
}

/// Resolves on SIGINT or SIGTERM. The handlers are registered now, not when first polled, so a
/// signal that arrives right after the "running" line still shuts down gracefully.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::interrupt()).ok(), signal(SignalKind::terminate()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let (mut int, mut term) = signals;
            let int = async {
                match int.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            let term = async {
                match term.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = int => {},
                () = term => {},
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    }
}
