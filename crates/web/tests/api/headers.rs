//! Security headers on every kind of answer: pages, API answers, errors, redirects, assets and
//! the Messenger's routes; HSTS only when people reach the server over HTTPS.

use reqwest::StatusCode;
use tidings_web::headers::{CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY};

use super::support::servers;

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    for s in servers().await {
        let db = s.db;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let url = |path: &str| format!("{}{path}", s.base);
        let answers = [
            ("the login page", StatusCode::OK, client.get(url("/app/login"))),
            ("a wrong password", StatusCode::UNAUTHORIZED, {
                client.post(url("/app/login")).form(&[("email", "nobody@example.test"), ("password", "not-it-at-all")])
            }),
            ("a page without a session", StatusCode::SEE_OTHER, client.get(url("/app/contacts"))),
            ("an API answer", StatusCode::OK, client.get(url("/me")).bearer_auth(&s.token)),
            ("an API call without a token", StatusCode::UNAUTHORIZED, client.get(url("/me"))),
            ("an unknown path", StatusCode::NOT_FOUND, client.get(url("/no/such/thing")).bearer_auth(&s.token)),
            ("a wrong method", StatusCode::METHOD_NOT_ALLOWED, client.patch(url("/me")).bearer_auth(&s.token)),
            ("the stylesheet", StatusCode::OK, client.get(url("/assets/app.css"))),
            ("the Messenger's script", StatusCode::OK, client.get(url("/messenger.js"))),
            (
                "a Messenger call without a session",
                StatusCode::UNAUTHORIZED,
                client.post(url("/messenger/v1/ping")).header("origin", "https://customer.example.test"),
            ),
        ];
        for (what, status, request) in answers {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), status, "{db}: {what}");
            let h = r.headers();
            let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            assert_eq!(header("content-security-policy"), CONTENT_SECURITY_POLICY, "{db}: {what}");
            assert_eq!(header("x-frame-options"), "DENY", "{db}: {what}");
            assert_eq!(header("x-content-type-options"), "nosniff", "{db}: {what}");
            assert_eq!(header("referrer-policy"), "same-origin", "{db}: {what}");
            assert!(h.get("strict-transport-security").is_none(), "{db}: {what}: HSTS over plain HTTP");
        }

        // What the policy says, directive by directive.
        let directives: Vec<&str> = CONTENT_SECURITY_POLICY.split(';').map(str::trim).collect();
        for wanted in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "object-src 'none'",
        ] {
            assert!(directives.contains(&wanted), "{wanted} is missing from {CONTENT_SECURITY_POLICY}");
        }
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe"), "{CONTENT_SECURITY_POLICY}");

        // Reached over HTTPS (behind a proxy): HSTS too, on pages and API answers alike.
        let https = s.another_instance_at(Some("https://tidings.example.test")).await;
        for path in ["/app/login", "/no/such/thing"] {
            let r = client.get(format!("{https}{path}")).send().await.unwrap();
            assert_eq!(r.headers()["strict-transport-security"], STRICT_TRANSPORT_SECURITY, "{db}: {path}");
            assert_eq!(r.headers()["content-security-policy"], CONTENT_SECURITY_POLICY, "{db}: {path}");
        }
        s.stop().await;
    }
}
