//! A company's own site for the Messenger tests: a second HTTP server, on another port (so
//! another origin), whose page `/as/{email}` embeds the Messenger with Tidings' snippet and boots
//! it as that contact, with the `user_hash` the company's server would compute.

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
                    let (status, body) = match path.strip_prefix("/as/") {
                        Some(email) => ("200 OK", page(&tidings, &app_id, &secret, email)),
                        None => ("404 Not Found", String::from("not here")),
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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
}

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
