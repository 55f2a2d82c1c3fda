//! A company's own site for the Messenger tests: a second HTTP server, on another port (so
//! another origin), whose page `/as/{email}` embeds the Messenger with Tidings' snippet and boots
//! it as that contact, with the `user_hash` the company's server would compute. The same page
//! under `/strict/as/{email}` comes with a strict Content Security Policy (no inline style), and
//! `/avatar.svg` is a teammate's picture.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::webdriver::Result;

pub struct Host {
    /// `http://127.0.0.1:PORT`, another origin than Tidings'.
    pub base: String,
}

impl Host {
    /// Serves the page until the test ends.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(tidings: &str, app_id: &str, secret: &str) -> Result<Host> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| fail!("bind the host site: {e}"))?;
        let base = format!("http://{}", listener.local_addr().map_err(|e| fail!("host address: {e}"))?);
        let (tidings, app_id, secret) = (tidings.to_owned(), app_id.to_owned(), secret.to_owned());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (tidings, app_id, secret) = (tidings.clone(), app_id.clone(), secret.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let path = request.split_whitespace().nth(1).unwrap_or("/");
                    let html = "text/html; charset=utf-8";
                    let (status, kind, policy, body) = if let Some(email) = path.strip_prefix("/as/") {
                        ("200 OK", html, String::new(), page(&tidings, &app_id, &secret, email))
                    } else if let Some(email) = path.strip_prefix("/strict/as/") {
                        ("200 OK", html, strict_policy(&tidings), page(&tidings, &app_id, &secret, email))
                    } else if path == "/avatar.svg" {
                        ("200 OK", "image/svg+xml", String::new(), AVATAR.to_owned())
                    } else {
                        ("404 Not Found", html, String::new(), String::from("not here"))
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n{policy}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Ok(Host { base })
    }

    pub fn page_of(&self, email: &str) -> String {
        format!("{}/as/{email}", self.base)
    }

    /// The page, under a Content Security Policy that allows no inline style.
    pub fn strict_page_of(&self, email: &str) -> String {
        format!("{}/strict/as/{email}", self.base)
    }

    pub fn avatar(&self) -> String {
        format!("{}/avatar.svg", self.base)
    }
}

/// A policy as strict as a careful company's: Tidings' script, API and socket, images from the
/// web, and no style but the site's own files (the page's own inline snippet is allowed).
fn strict_policy(tidings: &str) -> String {
    let socket = tidings.replacen("http", "ws", 1);
    format!(
        "Content-Security-Policy: default-src 'self'; script-src 'self' 'unsafe-inline' {tidings}; \
         connect-src 'self' {tidings} {socket}; img-src 'self' https: http:; style-src 'self'\r\n"
    )
}

/// A teammate's picture: an orange square with a white circle.
const AVATAR: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" fill="#f79009"/><circle cx="32" cy="26" r="12" fill="#fff"/><rect x="14" y="42" width="36" height="22" rx="11" fill="#fff"/></svg>"##;

/// The company's page: Tidings' install snippet, booting the contact with this email. The page's
/// title follows the unread count, as a company could with `onUnreadCountChange`.
fn page(tidings: &str, app_id: &str, secret: &str, email: &str) -> String {
    let hash = tidings_web::messenger::session::user_hash(secret, email);
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Acme</title></head>
<body><h1>Acme's product</h1>
<script>
window.Tidings = window.Tidings || function () {{ (window.Tidings.q = window.Tidings.q || []).push(arguments); }};
Tidings('boot', {{ app_id: '{app_id}', email: '{email}', user_hash: '{hash}' }});
Tidings('onUnreadCountChange', function (n) {{ document.title = 'unread ' + n; }});
</script>
<script async src="{tidings}/messenger.js"></script>
</body></html>"#
    )
}
