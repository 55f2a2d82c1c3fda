//! A small W3C WebDriver client over reqwest, and the ChromeDriver process it talks to.
//!
//! Only what the browser tests need: one headless Chromium session per [`Browser`], navigation,
//! CSS lookups, clicks, typing, text and attributes, synchronous scripts, screenshots, the
//! console's messages, and a bounded [`Browser::wait_for`] so tests wait for a condition instead
//! of sleeping.
//!
//! A `Browser` owns the ChromeDriver child process and a temporary profile folder. Dropping it
//! (also while a failed assertion unwinds) ends the WebDriver session, which makes ChromeDriver
//! quit Chromium, then kills ChromeDriver: no browser outlives the test.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{Value as Json, json};

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The key under which W3C WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long a single WebDriver command may take. Generous: starting Chromium on a loaded
/// two-core machine takes seconds.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// How often [`Browser::wait_for`] checks its condition again.
const POLL: Duration = Duration::from_millis(50);

/// A failed WebDriver command, or a condition that did not come true in time.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error`] from format arguments.
macro_rules! fail {
    ($($arg:tt)*) => { $crate::webdriver::Error(format!($($arg)*)) };
}

/// The `chromedriver` program on `PATH`, if any.
pub fn chromedriver() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join("chromedriver")).find(|p| p.is_file())
}

/// A headless Chromium driven through its own ChromeDriver.
pub struct Browser {
    http: reqwest::Client,
    port: u16,
    base: String,
    session: Option<String>,
    driver: Child,
    /// Holds the Chromium profile and ChromeDriver's log; removed on a clean drop, kept (and
    /// named on stderr) when a test fails so the log can be read.
    scratch: PathBuf,
}

impl Browser {
    /// Starts ChromeDriver on a free port and opens a Chromium whose pages are `width`×`height`
    /// CSS pixels. The size is emulated rather than left to `--window-size` alone: a headless
    /// window keeps room for a (hidden) toolbar and cannot be narrower than 500 px. With `phone`
    /// it emulates a touch phone, which also honours the page's viewport meta tag.
    ///
    /// # Errors
    /// When ChromeDriver does not start or become ready within 20 seconds, or the session cannot
    /// be created.
    pub async fn start(chromedriver: &Path, width: u32, height: u32, phone: bool) -> Result<Browser> {
        Self::start_themed(chromedriver, width, height, phone, false).await
    }

    /// As [`Browser::start`]; with `dark`, the browser tells pages the system prefers a dark
    /// theme (`prefers-color-scheme: dark`), as a phone or desktop set to dark mode does.
    ///
    /// # Errors
    /// As [`Browser::start`].
    pub async fn start_themed(
        chromedriver: &Path,
        width: u32,
        height: u32,
        phone: bool,
        dark: bool,
    ) -> Result<Browser> {
        let scratch = scratch_dir(&format!("tidings-browser-{width}x{height}"))?;
        let port = free_port()?;
        let log = scratch.join("chromedriver.log");
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail!("could not start {}: {e}", chromedriver.display()))?;
        let http = reqwest::Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .map_err(|e| fail!("could not build the HTTP client: {e}"))?;
        let mut browser =
            Browser { http, port, base: format!("http://127.0.0.1:{port}"), session: None, driver, scratch };
        browser.wait_until_ready().await?;
        let profile = browser.scratch.join("profile");
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        if dark {
            // 0 is dark in Blink's preferredColorScheme; --force-dark-mode makes it the system's.
            args.extend(["--force-dark-mode".to_owned(), "--blink-settings=preferredColorScheme=0".to_owned()]);
        }
        let metrics = json!({"width": width, "height": height, "pixelRatio": 1.0, "mobile": phone, "touch": phone});
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args, "mobileEmulation": {"deviceMetrics": metrics}},
            // Keeps the console (where Chromium reports Content Security Policy violations) for
            // `console_log`.
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created = browser
            .raw(Method::POST, "/session".to_owned(), Some(caps))
            .await
            .map_err(|e| fail!("{e} (ChromeDriver log: {})", log.display()))?;
        let id =
            created["sessionId"].as_str().ok_or_else(|| fail!("new session answer has no sessionId: {created}"))?;
        browser.session = Some(id.to_owned());
        Ok(browser)
    }

    /// Polls `/status` until ChromeDriver says it is ready, or gives up after 20 seconds.
    async fn wait_until_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                return Err(fail!("ChromeDriver exited at start with {status}"));
            }
            let status = self.http.get(format!("{}/status", self.base)).timeout(Duration::from_secs(2)).send().await;
            if let Ok(r) = status
                && let Ok(body) = r.json::<Json>().await
                && body["value"]["ready"] == json!(true)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(fail!("ChromeDriver on port {} was not ready after 20 s", self.port));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Sends one command and returns the `value` of the answer.
    async fn raw(&self, method: Method, path: String, body: Option<Json>) -> Result<Json> {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base));
        // W3C wants a JSON body on every POST, even when the command takes no parameters.
        if method == Method::POST {
            request = request.json(&body.unwrap_or_else(|| json!({})));
        }
        let response = request.send().await.map_err(|e| fail!("{method} {path}: {e}"))?;
        let status = response.status();
        let answer: Json = response.json().await.map_err(|e| fail!("{method} {path}: answer is not JSON: {e}"))?;
        let value = answer.get("value").cloned().unwrap_or(Json::Null);
        if !status.is_success() {
            let message = value["message"].as_str().unwrap_or_default();
            let first_line = message.lines().next().unwrap_or_default();
            return Err(fail!("{method} {path}: {} ({first_line})", value["error"].as_str().unwrap_or("error")));
        }
        Ok(value)
    }

    /// Sends one command to the open session.
    async fn cmd(&self, method: Method, path: &str, body: Option<Json>) -> Result<Json> {
        let session = self.session.as_deref().ok_or_else(|| fail!("the session is closed"))?;
        self.raw(method, format!("/session/{session}{path}"), body).await
    }

    /// Opens a URL and waits for the page to load.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.cmd(Method::POST, "/url", Some(json!({"url": url}))).await.map(drop)
    }

    /// The address of the page shown now.
    pub async fn current_url(&self) -> Result<String> {
        let v = self.cmd(Method::GET, "/url", None).await?;
        v.as_str().map(str::to_owned).ok_or_else(|| fail!("current URL is not text: {v}"))
    }

    /// The first element matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element<'_>> {
        let v = self.cmd(Method::POST, "/element", Some(locator(css))).await.map_err(|e| fail!("find {css:?}: {e}"))?;
        self.element(&v)
    }

    /// Every element matching a CSS selector, in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'_>>> {
        let v = self
            .cmd(Method::POST, "/elements", Some(locator(css)))
            .await
            .map_err(|e| fail!("find all {css:?}: {e}"))?;
        self.elements(&v)
    }

    /// The first element matching a CSS selector inside the shadow root of the element with id
    /// `host` (the Messenger draws itself in one), to type into and click as a person would.
    pub async fn find_in_shadow(&self, host: &str, css: &str) -> Result<Element<'_>> {
        let v = self
            .execute(
                "const h = document.getElementById(arguments[0]); return h && h.shadowRoot ? h.shadowRoot.querySelector(arguments[1]) : null;",
                json!([host, css]),
            )
            .await?;
        if v.is_null() {
            return Err(fail!("no {css:?} in #{host}'s shadow root"));
        }
        self.element(&v)
    }

    /// Runs `script` as the body of a function with `args` as `arguments` and returns what it
    /// returns.
    pub async fn execute(&self, script: &str, args: Json) -> Result<Json> {
        self.cmd(Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// The console messages the pages printed since the last call (ChromeDriver hands each one
    /// out once), as `LEVEL message`.
    pub async fn console_log(&self) -> Result<Vec<String>> {
        let v = self.cmd(Method::POST, "/se/log", Some(json!({"type": "browser"}))).await?;
        let entries = v.as_array().ok_or_else(|| fail!("the browser log is not a list: {v}"))?;
        Ok(entries
            .iter()
            .map(|e| format!("{} {}", e["level"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or_default()))
            .collect())
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let v = self.cmd(Method::GET, "/screenshot", None).await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| fail!("screenshot is not base64: {e}"))?;
        std::fs::write(path, png).map_err(|e| fail!("write {}: {e}", path.display()))
    }

    /// Checks `check` every 50 ms until it succeeds or `timeout` passes. The error of the last
    /// check says what was seen instead, so a failure reads like an assertion message.
    ///
    /// # Errors
    /// The last check's error, prefixed with `what`, when time runs out.
    pub async fn wait_for<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl AsyncFnMut() -> Result<T>,
    ) -> Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            match check().await {
                Ok(v) => return Ok(v),
                Err(e) if Instant::now() > deadline => {
                    return Err(fail!("waited {timeout:?} for {what}; last saw: {e}"));
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Waits until the page has fetched a URL ending with `path` since it loaded: for a page that
    /// follows the workspace's events, that it read itself again when its stream said `ready`,
    /// so that what happens from then on reaches it as an event.
    ///
    /// # Errors
    /// When no such fetch shows within `timeout`.
    pub async fn wait_fetched(&self, path: &str, timeout: Duration) -> Result<()> {
        self.wait_for(&format!("the page to fetch {path}"), timeout, async || {
            let n = self
                .execute(
                    "return performance.getEntriesByType('resource').filter((e) => e.name.endsWith(arguments[0])).length;",
                    json!([path]),
                )
                .await?;
            if n.as_u64().unwrap_or(0) > 0 { Ok(()) } else { Err(fail!("not yet")) }
        })
        .await
    }

    /// Makes the frame `css` names the one later commands look into.
    pub async fn enter_frame(&self, css: &str) -> Result<()> {
        let frame = self.find(css).await?;
        self.cmd(Method::POST, "/frame", Some(json!({"id": {ELEMENT_KEY: frame.id}}))).await.map(drop)
    }

    /// Back to the page that holds the frame.
    pub async fn leave_frame(&self) -> Result<()> {
        self.cmd(Method::POST, "/frame/parent", Some(json!({}))).await.map(drop)
    }

    /// Ends the session (Chromium quits) and stops ChromeDriver.
    pub async fn quit(mut self) -> Result<()> {
        let ended = self.cmd(Method::DELETE, "", None).await;
        self.session = None;
        ended.map(drop)
    }

    fn element(&self, v: &Json) -> Result<Element<'_>> {
        let id = v[ELEMENT_KEY].as_str().ok_or_else(|| fail!("not an element reference: {v}"))?;
        Ok(Element { browser: self, id: id.to_owned() })
    }

    fn elements(&self, v: &Json) -> Result<Vec<Element<'_>>> {
        v.as_array().ok_or_else(|| fail!("not a list of elements: {v}"))?.iter().map(|e| self.element(e)).collect()
    }

    /// Ends the session without an async runtime: a drop may run while a panic unwinds.
    fn delete_session_blocking(&self, session: &str) {
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            self.port
        );
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        if let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            if stream.write_all(request.as_bytes()).is_ok() {
                // Reading to the end waits until ChromeDriver has closed Chromium.
                let mut sink = Vec::new();
                let _ = stream.read_to_end(&mut sink);
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.delete_session_blocking(&session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if std::thread::panicking() {
            eprintln!("browser test failed: ChromeDriver's log and the profile are in {}", self.scratch.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.scratch);
        }
    }
}

/// One element of the current page. Goes stale when the page re-renders it.
pub struct Element<'b> {
    browser: &'b Browser,
    id: String,
}

impl<'b> Element<'b> {
    async fn cmd(&self, method: Method, path: &str, body: Option<Json>) -> Result<Json> {
        self.browser.cmd(method, &format!("/element/{}{path}", self.id), body).await
    }

    pub async fn click(&self) -> Result<()> {
        self.cmd(Method::POST, "/click", None).await.map(drop)
    }

    /// Empties an input.
    pub async fn clear(&self) -> Result<()> {
        self.cmd(Method::POST, "/clear", None).await.map(drop)
    }

    /// Types `text` into the element, key by key, as a person would.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.cmd(Method::POST, "/value", Some(json!({"text": text}))).await.map(drop)
    }

    /// The rendered text, as a person sees it.
    pub async fn text(&self) -> Result<String> {
        let v = self.cmd(Method::GET, "/text", None).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// An attribute's value, or `None` when the element has no such attribute.
    pub async fn attribute(&self, name: &str) -> Result<Option<String>> {
        let v = self.cmd(Method::GET, &format!("/attribute/{name}"), None).await?;
        Ok(v.as_str().map(str::to_owned))
    }

    /// A DOM property as text, e.g. the `value` a `<select>` holds now (the `value` attribute only
    /// says what the page was served with).
    pub async fn property(&self, name: &str) -> Result<String> {
        let v = self.cmd(Method::GET, &format!("/property/{name}"), None).await?;
        Ok(match v {
            Json::String(s) => s,
            other => other.to_string(),
        })
    }

    /// The first descendant matching a CSS selector.
    pub async fn find(&self, css: &str) -> Result<Element<'b>> {
        let v = self
            .cmd(Method::POST, "/element", Some(locator(css)))
            .await
            .map_err(|e| fail!("find {css:?} inside an element: {e}"))?;
        self.browser.element(&v)
    }

    /// Every descendant matching a CSS selector.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element<'b>>> {
        let v = self
            .cmd(Method::POST, "/elements", Some(locator(css)))
            .await
            .map_err(|e| fail!("find all {css:?} inside an element: {e}"))?;
        self.browser.elements(&v)
    }

    /// Chooses the `<option>` with this value in a `<select>`, by clicking it.
    pub async fn select(&self, value: &str) -> Result<()> {
        self.find(&format!("option[value=\"{value}\"]")).await?.click().await
    }
}

fn locator(css: &str) -> Json {
    json!({"using": "css selector", "value": css})
}

/// A port nobody listens on right now: bind port 0, note the port, let it go.
fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| fail!("no free local port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| fail!("no free local port: {e}"))
}

/// A new empty folder under the system's temporary folder.
pub fn scratch_dir(prefix: &str) -> Result<PathBuf> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| fail!("create {}: {e}", dir.display()))?;
    Ok(dir)
}
