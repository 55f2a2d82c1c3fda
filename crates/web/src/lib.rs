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
pub mod error;
pub mod headers;
pub mod logins;
pub mod messenger;
mod nul;
pub mod provision;
pub mod ratelimit;
pub mod roles;
pub mod scheduler;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
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
    pub config: Arc<WebConfig>,
    pub logins: Arc<logins::LoginLimiter>,
    pub rate_limiter: Arc<ratelimit::RateLimiter>,
    /// Open Messenger connections on this server.
    pub hub: Arc<messenger::hub::Hub>,
    /// Contacts seen by Messenger pings, written in batches.
    pub presence: Arc<messenger::presence::Presence>,
    /// Workspaces for checking Messenger sessions on the hottest route.
    pub workspaces: Arc<messenger::session::WorkspaceCache>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, config: WebConfig) -> Self {
        let rate_limiter = Arc::new(ratelimit::RateLimiter::new(config.rate_limit_per_minute));
        AppState {
            store,
            config: Arc::new(config),
            logins: Arc::new(logins::LoginLimiter::new(logins::LoginPolicy::default())),
            rate_limiter,
            hub: Arc::new(messenger::hub::Hub::default()),
            presence: Arc::default(),
            workspaces: Arc::default(),
        }
    }
}

/// The whole HTTP surface. Every answer, errors included, carries the security headers.
pub fn router(state: AppState) -> Router {
    let api = api::router().route_layer(axum::middleware::from_fn_with_state(state.clone(), ratelimit::limit));
    Router::new()
        .merge(admin::router())
        .merge(api)
        .merge(messenger::router(state.clone()))
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn(nul::refuse))
        .layer(axum::middleware::from_fn_with_state(state.clone(), headers::add))
        .with_state(state)
}

/// Serves (and runs the scheduler and the presence writer) until `shutdown` resolves, then
/// finishes in-flight requests and writes the last pings.
///
/// # Errors
/// When the listener fails.
pub async fn launch(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let scheduler = tokio::spawn(scheduler::run(state.clone()));
    let presence = tokio::spawn(messenger::presence::run(state.clone()));
    let app = router(state.clone()).layer(axum::middleware::from_fn(trace_requests));
    let served = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    scheduler.abort();
    presence.abort();
    // The pings of the last second.
    state.presence.flush(&state, auth::now()).await;
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
