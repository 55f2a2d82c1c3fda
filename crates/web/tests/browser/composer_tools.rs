//! The composer's formatting toolbar, image upload and preview, in real headless Chromium with
//! the teammate at desktop (1280×800) and phone (390×844) size, and Ada's Messenger on the
//! company's own site (another origin, see `host.rs`).
//!
//! The teammate writes a chat with the toolbar and its shortcuts (a heading from the Heading
//! menu, Ctrl+B, Ctrl+I, a list, a button, Ctrl+K, an uploaded image); the Markdown is exactly
//! what each tool writes. The image is kept in the database and served at its public address
//! with its type, `nosniff`, a strict policy and a long cache; a file that is not an image, one
//! too large, or one without the session's CSRF token is refused, naming `file`. The preview,
//! drawn by the Messenger's own script and styles, then matches what Ada's real Messenger shows
//! once it is sent: the same HTML and the same computed styles, for a chat and for an
//! announcement. Screenshots of the composer land in `docs/screenshots/composer-{size}.png`.

use std::path::Path;

use serde_json::{Value as Json, json};

use crate::app::App;
use crate::host::Host;
use crate::messages::{accept_confirms, click_shadow, log_in, shadow, wait_online, wait_preview};
use crate::webdriver::{Browser, Result, scratch_dir};
use crate::{CONTROL, RELEASE, WAIT, chromedriver_or_skip, wait_for_path};

/// An 8×4 PNG, blue.
const PNG: [u8; 74] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x08, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x3c, 0xaf, 0xe9, 0xa7, 0x00, 0x00, 0x00, 0x11, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xd0, 0x0c, 0xbf, 0x89, 0x15, 0x31, 0x50, 0x4f, 0x02, 0x00, 0x57, 0x1c, 0x2b,
    0x21, 0xa2, 0x20, 0x69, 0x55, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_composers_tools_and_preview_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_composers_tools_and_preview_at_phone_size() {
    run("phone", 390, 844).await;
}

async fn run(size: &str, width: u32, height: u32) {
    let Some(driver) = chromedriver_or_skip() else {
        return;
    };
    let app = App::start().await.unwrap_or_else(|e| panic!("[{size}] start Tidings: {e}"));
    let host = Host::start(&app.base, &app.app_id, &app.identity_secret).await.unwrap_or_else(|e| panic!("{e}"));
    let t = Browser::start(&driver, width, height, width < 700)
        .await
        .unwrap_or_else(|e| panic!("[{size}] start the browser: {e}"));
    let ada = Browser::start(&driver, 1000, 800, false).await.unwrap_or_else(|e| panic!("start a browser: {e}"));
    let result = scenario(&app, &host, &t, &ada, size).await;
    let _ = t.quit().await;
    let _ = ada.quit().await;
    if let Err(e) = result {
        panic!("[{size}] {e}");
    }
}

async fn scenario(app: &App, host: &Host, t: &Browser, ada: &Browser, size: &str) -> Result<()> {
    let ada_id = app.id("ada@acme.test");
    ada.goto(&host.page_of("ada@acme.test")).await?;
    wait_online(app, ada_id).await?;
    log_in(app, t).await?;
    t.goto(&app.url(&format!("/app/messages/new?contacts={ada_id}"))).await?;
    wait_for_path(t, app, "/app/messages/new").await?;

    // 1. The toolbar and its shortcuts write Markdown at the selection.
    let body = t.find("#body").await?;
    body.send_keys("Big news").await?;
    t.find("#heading-button").await?.click().await?;
    t.find("#heading-menu button[data-md=h2]").await?.click().await?;
    to_end(t).await?;
    body.send_keys("\n\nWe have ").await?;
    body.send_keys(&format!("{CONTROL}b{RELEASE}")).await?;
    assert_eq!(selected(t).await?, "bold text", "Ctrl+B leaves its placeholder selected");
    body.send_keys("faster sync").await?;
    to_end(t).await?;
    body.send_keys(" and ").await?;
    body.send_keys(&format!("{CONTROL}i{RELEASE}")).await?;
    body.send_keys("calmer").await?;
    to_end(t).await?;
    body.send_keys("\n\nOne").await?;
    t.find(".md-toolbar button[data-md=list]").await?.click().await?;
    to_end(t).await?;
    body.send_keys("\n\n").await?;
    t.find(".md-toolbar button[data-md=button]").await?.click().await?;
    assert_eq!(selected(t).await?, "https://", "a button leaves its address to write");
    body.send_keys("https://example.test/start").await?;
    to_end(t).await?;
    body.send_keys("\n\nthe guide").await?;
    t.execute(
        "const b = document.getElementById('body'); b.setSelectionRange(b.value.length - 9, b.value.length);",
        json!([]),
    )
    .await?;
    body.send_keys(&format!("{CONTROL}k{RELEASE}")).await?;
    body.send_keys("https://example.test/guide").await?;
    to_end(t).await?;
    body.send_keys("\n\n").await?;

    // The image: chosen, uploaded, written as a Markdown image at its public address.
    let dir = scratch_dir("tidings-upload")?;
    let file = dir.join("pixel.png");
    std::fs::write(&file, PNG).map_err(|e| fail!("{e}"))?;
    t.execute("document.getElementById('image-file').hidden = false;", json!([])).await?;
    t.find("#image-file").await?.send_keys(&file.display().to_string()).await?;
    let written = t
        .wait_for("the image in the body", WAIT, async || {
            let v = t.find("#body").await?.property("value").await?;
            if v.contains("![pixel](") { Ok(v) } else { Err(fail!("{v:?}")) }
        })
        .await?;
    let (text, image) = written.split_once("![pixel](").ok_or_else(|| fail!("{written}"))?;
    assert_eq!(
        text,
        "## Big news\n\nWe have **faster sync** and _calmer_\n\n- One\n\n[Button text](https://example.test/start \"button\")\n\n[the guide](https://example.test/guide)\n\n"
    );
    let url = image.strip_suffix(")\n").ok_or_else(|| fail!("{image:?}"))?;
    let token = url.strip_prefix(&format!("{}/files/", app.base)).ok_or_else(|| fail!("{url}"))?;
    assert!(token.len() == 64 && token.chars().all(|c| c.is_ascii_hexdigit()), "an unguessable token: {token}");
    let _ = std::fs::remove_dir_all(&dir);
    t.execute("document.getElementById('image-file').hidden = true;", json!([])).await?;

    // 2. The image is kept in the database and served as an image, safely, to anyone.
    let stored =
        app.state.store.upload_by_token(token).await.map_err(|e| fail!("{e}"))?.ok_or_else(|| fail!("not kept"))?;
    assert_eq!(
        (stored.workspace_id, stored.content_type.as_str(), stored.bytes.as_slice()),
        (app.workspace_id, "image/png", &PNG[..])
    );
    let served = reqwest::get(url).await.map_err(|e| fail!("{e}"))?;
    let header = |name: &str| served.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert_eq!(served.status(), 200);
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(
        header("content-security-policy").starts_with("default-src 'none'"),
        "{}",
        header("content-security-policy")
    );
    assert!(header("cache-control").contains("max-age=31536000"), "{}", header("cache-control"));
    assert_eq!(served.bytes().await.map_err(|e| fail!("{e}"))?.as_ref(), &PNG[..]);
    let unknown = reqwest::get(format!("{}/files/{}", app.base, "0".repeat(64))).await.map_err(|e| fail!("{e}"))?;
    assert_eq!(unknown.status(), 404);

    // What is refused, naming the file: not an image (whatever it claims), too large, no CSRF.
    let refused = |body: &str, csrf: bool| {
        format!(
            "const csrf = {}; return fetch('/app/uploads', {{ method: 'POST', credentials: 'same-origin', \
             headers: {{ 'X-CSRF-Token': csrf, 'Content-Type': 'image/png' }}, body: {body} }}) \
             .then((r) => r.json().then((j) => [r.status, j]));",
            if csrf { "window.TidingsAdmin.csrf" } else { "'wrong'" }
        )
    };
    let html = t.execute(&refused("'<html><script>alert(1)</script></html>'", true), json!([])).await?;
    assert_eq!(html[0], json!(400), "{html}");
    assert_eq!(html[1]["errors"][0]["field"], json!("file"), "{html}");
    let big = t
        .execute(&refused("(() => { const b = new Uint8Array(5 * 1024 * 1024 + 1); b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]); return b; })()", true), json!([]))
        .await?;
    assert_eq!(big[0], json!(400), "{big}");
    assert!(big[1]["errors"][0]["message"].as_str().unwrap_or_default().contains("5 MB"), "{big}");
    let forged = t
        .execute(&refused("new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])", false), json!([]))
        .await?;
    assert_eq!(forged[0], json!(403), "{forged}");
    let kept = app.state.store.scalar_raw("SELECT COUNT(*) FROM uploads").await.map_err(|e| fail!("{e}"))?;
    assert_eq!(kept, 1, "a refused upload was kept");

    // 3. The preview is the Messenger's own drawing: it matches Ada's Messenger once sent.
    wait_preview(t, "faster sync").await?;
    t.wait_for("the preview's image", WAIT, async || {
        let w = t.execute(PREVIEW_IMAGE_WIDTH, json!([])).await?;
        if w == json!(8) { Ok(()) } else { Err(fail!("{w}")) }
    })
    .await?;
    crate::check_layout(t, false).await?;
    if size == "phone" {
        // One screen of a phone: the preview, under the form.
        t.execute("document.querySelector('#preview-as').closest('.card').scrollIntoView();", json!([])).await?;
    }
    keep(t, &format!("composer-{size}")).await?;
    let preview = snapshot(t, "#messenger-preview #tidings-messenger", ".part.team .bubble").await?;
    accept_confirms(t).await?;
    t.find("#send").await?.click().await?;
    wait_for_message_page(t).await?;
    ada.wait_for("Ada's unread badge", WAIT, async || {
        let badge = shadow(ada, ".launcher .badge").await?;
        if badge == "1" { Ok(()) } else { Err(fail!("badge {badge:?}")) }
    })
    .await?;
    click_shadow(ada, ".launcher").await?;
    let shown = ada
        .wait_for("the chat in Ada's Messenger", WAIT, async || {
            let s = snapshot(ada, "#tidings-messenger", ".part.team .bubble").await?;
            if s["html"].as_str().unwrap_or_default().contains("faster sync") { Ok(s) } else { Err(fail!("{s}")) }
        })
        .await?;
    assert_eq!(preview, shown, "the chat's preview differs from Ada's Messenger");
    assert_eq!(ada.execute(MESSENGER_IMAGE_WIDTH, json!([])).await?, json!(8), "the image loads in Ada's Messenger");

    // The same for an announcement: drawn as the Messenger's card.
    t.goto(&app.url(&format!("/app/messages/new?contacts={ada_id}&channel=post"))).await?;
    wait_for_path(t, app, "/app/messages/new").await?;
    t.execute(
        "const b = document.getElementById('body'); b.value = arguments[0]; b.dispatchEvent(new Event('input', { bubbles: true }));",
        json!([written]),
    )
    .await?;
    wait_preview(t, "faster sync").await?;
    let preview = t
        .wait_for("the announcement's card in the preview", WAIT, async || {
            snapshot(t, "#messenger-preview #tidings-messenger", ".post-card").await
        })
        .await?;
    accept_confirms(t).await?;
    t.find("#send").await?.click().await?;
    wait_for_message_page(t).await?;
    ada.goto(&host.page_of("ada@acme.test")).await?;
    click_shadow(ada, ".launcher").await?;
    let shown = ada
        .wait_for("the announcement in Ada's Messenger", WAIT, async || {
            if let Ok(s) = snapshot(ada, "#tidings-messenger", ".post-card").await {
                return Ok(s);
            }
            click_shadow(ada, "button.news").await?;
            Err(fail!("the card is not open yet"))
        })
        .await?;
    assert_eq!(preview, shown, "the announcement's preview differs from Ada's Messenger");
    Ok(())
}

const PREVIEW_IMAGE_WIDTH: &str = "const h = document.querySelector('#messenger-preview #tidings-messenger'); \
     const img = h && h.shadowRoot.querySelector('.html img'); return img && img.complete ? img.naturalWidth : null;";
const MESSENGER_IMAGE_WIDTH: &str = "const img = document.getElementById('tidings-messenger').shadowRoot.querySelector('.html img'); \
     return img && img.complete ? img.naturalWidth : null;";

/// A message's body as a Messenger draws it: its HTML, and the computed styles of its box and
/// of each kind of element in it.
const SNAPSHOT: &str = r#"
const root = document.querySelector(arguments[0]);
const box = root && root.shadowRoot.querySelector(arguments[1]);
const html = box && box.querySelector('.html');
if (!html) return null;
const pick = (e, props) => {
  if (!e) return null;
  const cs = getComputedStyle(e);
  return Object.fromEntries(props.map((p) => [p, cs.getPropertyValue(p)]));
};
const text = ['font-family', 'font-size', 'line-height', 'color', 'font-weight', 'font-style', 'margin-top', 'margin-bottom'];
return {
  html: html.innerHTML,
  box: pick(box, ['background-color', 'border-radius', 'padding-top', 'padding-left', 'box-shadow', 'font-size', 'color']),
  body: pick(html, text),
  h2: pick(html.querySelector('h2'), text),
  strong: pick(html.querySelector('strong'), text),
  em: pick(html.querySelector('em'), text),
  ul: pick(html.querySelector('ul'), [...text, 'padding-left', 'list-style-type']),
  button: pick(html.querySelector('a.tidings-button'), [...text, 'background-color', 'padding-top', 'padding-left', 'border-radius', 'display', 'text-decoration-line']),
  link: pick(html.querySelector('a:not(.tidings-button)'), [...text, 'text-decoration-line']),
  img: pick(html.querySelector('img'), ['border-radius', 'max-width', 'display']),
};
"#;

async fn snapshot(b: &Browser, host: &str, boxed: &str) -> Result<Json> {
    let s = b.execute(SNAPSHOT, json!([host, boxed])).await?;
    if s.is_null() { Err(fail!("no {boxed} in {host}")) } else { Ok(s) }
}

/// Puts the caret at the end of the body.
async fn to_end(b: &Browser) -> Result<()> {
    b.execute(
        "const b = document.getElementById('body'); b.focus(); b.setSelectionRange(b.value.length, b.value.length);",
        json!([]),
    )
    .await
    .map(drop)
}

async fn selected(b: &Browser) -> Result<String> {
    let v = b
        .execute(
            "const b = document.getElementById('body'); return b.value.slice(b.selectionStart, b.selectionEnd);",
            json!([]),
        )
        .await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

async fn wait_for_message_page(b: &Browser) -> Result<()> {
    b.wait_for("the message's page", WAIT, async || {
        let url = b.current_url().await?;
        if url.contains("/app/messages/") && !url.contains("/new") { Ok(()) } else { Err(fail!("at {url}")) }
    })
    .await
}

/// Saves a screenshot where the docs show it.
pub(crate) async fn keep(b: &Browser, name: &str) -> Result<()> {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&docs).map_err(|e| fail!("{e}"))?;
    let path = docs.join(format!("{name}.png"));
    b.screenshot(&path).await?;
    eprintln!("screenshot: {}", path.display());
    Ok(())
}
