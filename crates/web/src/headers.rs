//! Security headers on every answer the router gives: pages, assets, the API, the Messenger's
//! routes and errors alike.
//!
//! The admin app's policy allows only its own scripts, styles and connections, with no
//! `unsafe-inline`: the templates hold no inline script, handler or `style` attribute, and the
//! scripts never write one. Nothing may frame a page (`frame-ancestors 'none'`, and
//! `X-Frame-Options` for older browsers), no answer is sniffed as another type, and no address of
//! ours leaves the site in a `Referer`. HSTS is sent only when the public URL is HTTPS.
//!
//! The Messenger is not affected: these headers govern documents, and its script and JSON are not
//! documents. The widget draws itself inside the customer's own page, under the customer's policy.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The admin app's Content Security Policy. Images may come from anywhere a message body may
/// point at (`markdown::allowed::SCHEMES` allows `http` and `https` images); everything else only
/// from this server. `connect-src 'self'` also covers WebSockets to this host and the pages' event
/// stream (`/app/events`).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' https: http:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// A year, without `includeSubDomains`: Tidings often runs on one host of a company's domain,
/// whose other hosts it cannot speak for.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// `same-origin`, not `no-referrer`: with `no-referrer` a browser sends `Origin: null` on the
/// login form's POST, which the login's cross-site check would refuse.
const FIXED: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "same-origin"),
];

/// Middleware for the whole router. A header a handler already set is kept.
pub async fn add(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in FIXED {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if state.config.https() {
        headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static(STRICT_TRANSPORT_SECURITY));
    }
    response
}
