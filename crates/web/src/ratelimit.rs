//! Per-credential API rate limiting with Intercom's headers.
//!
//! Intercom applies 1000 requests a minute as 167 per 10-second window and reports it in
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`; the official SDKs back off
//! on 429 using those headers. Tidings does the same, per API token or session, with the limit set
//! in settings (0 turns it off). Headers are only sent to callers with valid credentials.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::{SESSION_COOKIE, hash_secret};
use crate::error::ApiError;

pub const WINDOW_SECONDS: i64 = 10;

pub struct RateLimiter {
    per_window: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

/// The outcome of counting one request.
#[derive(Debug, PartialEq, Eq)]
pub struct Count {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    pub reset: i64,
}

impl RateLimiter {
    /// `per_minute` requests a minute, enforced per 10-second window; 0 disables limiting.
    pub fn new(per_minute: u32) -> Self {
        let per_window = if per_minute == 0 { 0 } else { per_minute.div_ceil(6) };
        RateLimiter { per_window, windows: Mutex::new(HashMap::new()) }
    }

    pub fn enabled(&self) -> bool {
        self.per_window > 0
    }

    pub fn count(&self, key: &str, now: i64) -> Count {
        let start = now - now.rem_euclid(WINDOW_SECONDS);
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (s, _)| *s == start);
        }
        let entry = windows.entry(key.to_owned()).or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        let allowed = entry.1 < self.per_window;
        if allowed {
            entry.1 += 1;
        }
        Count { allowed, limit: self.per_window, remaining: self.per_window - entry.1, reset: start + WINDOW_SECONDS }
    }
}

fn credential(req: &Request) -> Option<String> {
    if let Some(auth) = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return Some(hash_secret(auth));
    }
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(SESSION_COOKIE).and_then(|r| r.strip_prefix('=')))
        .map(hash_secret)
}

fn set_headers(response: &mut Response, c: &Count) {
    let h = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", c.limit as i64),
        ("x-ratelimit-remaining", c.remaining as i64),
        ("x-ratelimit-reset", c.reset),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            h.insert(name, v);
        }
    }
}

/// Middleware for API routes.
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.rate_limiter.enabled() {
        return next.run(req).await;
    }
    let Some(key) = credential(&req) else { return next.run(req).await };
    let now = crate::auth::now();
    let count = state.rate_limiter.count(&key, now);
    if !count.allowed {
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            format!("Exceeded rate limit of {} in {WINDOW_SECONDS}_seconds", count.limit),
        )
        .into_response();
        set_headers(&mut r, &count);
        if let Ok(v) = HeaderValue::from_str(&(count.reset - now).max(1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let mut response = next.run(req).await;
    if response.status() != StatusCode::UNAUTHORIZED {
        set_headers(&mut response, &count);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_window() {
        let l = RateLimiter::new(12); // 2 per 10 s
        assert!(l.count("a", 100).allowed);
        let second = l.count("a", 101);
        assert_eq!((second.allowed, second.remaining, second.reset), (true, 0, 110));
        assert!(!l.count("a", 109).allowed);
        assert!(l.count("b", 109).allowed, "keys are independent");
        assert!(l.count("a", 110).allowed, "a new window starts afresh");
        assert!(!RateLimiter::new(0).enabled());
    }
}
