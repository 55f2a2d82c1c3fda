//! Tidings over HTTP: the Intercom-shaped REST API, the admin app and its static assets, on one
//! router.
//!
//! [`launch`] serves a router on a listener the caller already bound, so tests start the real
//! server on port 0 without sleeping, and `main` only wires settings to it.

// The OpenAPI document is one large `json!` literal.
#![recursion_limit = "512"]

pub mod admin;
pub mod api;
pub mod auth;
mod email_links;
pub mod error;
pub mod headers;
mod health;
mod input;
pub mod logins;
pub mod messenger;
mod nul;
pub mod provision;
pub mod ratelimit;
pub mod roles;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tidings_engine::Engine;
use tidings_store::Store;
use tokio::net::TcpListener;

/// Settings the web layer needs.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// The address people use to reach this server, e.g. `http://localhost:8080`.
    pub public_url: String,
    /// API requests allowed per minute per token or session (0: unlimited).
    pub rate_limit_per_minute: u32,
}

impl WebConfig {
    /// Settings for a server reached at `public_url`, with Intercom's default rate limit.
    pub fn new(public_url: impl Into<String>) -> Self {
        WebConfig { public_url: public_url.into(), rate_limit_per_minute: 1000 }
    }

    /// Whether people reach the server over HTTPS.
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// Cookies are marked `Secure` when the server is reached over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.https()
    }
}

/// Everything a handler may use. Built by the caller and passed in: no globals.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Every write and side effect goes through the engine.
    pub engine: Arc<Engine>,
    pub config: Arc<WebConfig>,
    pub logins: Arc<logins::LoginLimiter>,
    pub rate_limiter: Arc<ratelimit::RateLimiter>,
    /// Open Messenger connections on this server.
    pub hub: Arc<messenger::hub::Hub>,
    /// Workspaces for checking Messenger sessions on the hottest route.
    pub workspaces: Arc<messenger::session::WorkspaceCache>,
    /// Becomes `true` when the server begins to stop, so that long answers (the teammates'
    /// streams) end and the graceful shutdown need not wait for them.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// A server with its own engine on the system's clock and an in-process bus.
    pub fn new(store: Arc<dyn Store>, config: WebConfig) -> Self {
        AppState::with_engine(Engine::local(store), config)
    }

    /// A server on an engine built by the caller (another bus, or a test's clock).
    pub fn with_engine(engine: Arc<Engine>, config: WebConfig) -> Self {
        let rate_limiter = Arc::new(ratelimit::RateLimiter::new(config.rate_limit_per_minute));
        AppState {
            store: engine.store().clone(),
            engine,
            config: Arc::new(config),
            logins: Arc::new(logins::LoginLimiter::new(logins::LoginPolicy::default())),
            rate_limiter,
            hub: Arc::new(messenger::hub::Hub::default()),
            workspaces: Arc::default(),
            stopping: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Resolves once the server begins to stop (at once if it already has).
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut told = self.stopping.subscribe();
        async move {
            // An error means the state is gone, which is a stop too.
            let _ = told.wait_for(|stopping| *stopping).await;
        }
    }
}

/// The whole HTTP surface. Every answer, errors included, carries the security headers.
pub fn router(state: AppState) -> Router {
    let api = api::router().route_layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::limit));
    Router::new()
        .route("/healthz", axum::routing::get(health::healthz))
        .merge(admin::router())
        .merge(api)
        .merge(messenger::router(state.clone()))
        .merge(email_links::router())
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn(nul::refuse))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::add))
        .with_state(state)
}

/// Serves until `shutdown` resolves, with the engine's background work (the email outbox and the
/// webhook worker included) and the relay of the bus to this server's Messengers; then finishes
/// in-flight requests and stops the background work gracefully (the last second of pings is
/// written, and the emails and webhooks on their way are sent and recorded).
///
/// # Errors
/// When the listener fails.
pub async fn launch(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Imports a stopped server left running: run again from the top, or marked interrupted.
    match state.engine.resume_stopped_imports().await {
        Ok((0, 0)) => {}
        Ok((resumed, interrupted)) => tracing::warn!(
            "{} imports were running when the server last stopped: {resumed} running again, {interrupted} marked \
             interrupted",
            resumed + interrupted
        ),
        Err(e) => tracing::warn!("checking for interrupted imports failed: {e}"),
    }
    let background = state.engine.start_background();
    let outbox = state.engine.start_outbox();
    let webhooks = state.engine.start_webhooks(Arc::new(api::webhooks::ApiShaper(state.clone())));
    let relay = tokio::spawn(messenger::relay::run(state.clone()));
    let app = router(state.clone()).layer(axum::middleware::from_fn(trace_requests));
    let stopping = state.stopping.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.send_replace(true);
    };
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    relay.abort();
    if let Some(o) = outbox {
        o.shutdown().await;
    }
    webhooks.shutdown().await;
    background.shutdown().await;
    served
}

/// One tracing span per request, with the method, the matched route and the status.
async fn trace_requests(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use tracing::Instrument;
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let span = tracing::info_span!("request", method = %req.method(), route);
    async move {
        let started = std::time::Instant::now();
        let response = next.run(req).await;
        tracing::debug!(status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "done");
        response
    }
    .instrument(span)
    .await
}
