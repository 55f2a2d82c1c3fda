//! A message's page, in real headless Chromium with the teammate at desktop (1280×800) and phone
//! (390×844) size and Ada's Messenger on the company's own site: only the figures that apply to
//! its channel and state (none before it is sent), the rates beside them ("—" while nothing was
//! sent), the audience's filters in words, and a chart of deliveries, views and clicks over time
//! that, like the figures and the rates, follows Ada's Messenger live without a reload.
//! Screenshots land in `docs/screenshots/message-{size}.png`.

use serde_json::{Value as Json, json};

use crate::app::App;
use crate::composer_tools::keep;
use crate::host::Host;
use crate::messages::{click_shadow, log_in, wait_online, wait_text};
use crate::webdriver::{Browser, Result};
use crate::{WAIT, chromedriver_or_skip};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messages_page_at_desktop_size() {
    run("desktop", 1280, 800).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messages_page_at_phone_size() {
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
    log_in(app, t).await?;

    // A draft counts nothing yet: no figures, no rates, no chart.
    let audience = json!({"query": {"operator": "AND", "value": [
        {"field": "custom_attributes.plan", "operator": "=", "value": "pro"},
        {"field": "email", "operator": "~", "value": "acme"},
    ]}});
    let body = "Our [new guide](https://example.test/guide) is out.";
    let draft = app
        .api
        .post("/manual_messages", json!({"title": "Guide", "body": body, "channel": "chat", "audience": audience}))
        .await?;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    t.goto(&app.url(&format!("/app/messages/{id}"))).await?;
    assert!(t.find_all(".figures").await?.is_empty(), "a draft shows figures");
    assert!(t.find_all("#chart").await?.is_empty(), "a draft shows a chart");
    assert!(t.find("#no-figures").await?.text().await?.contains("once it is sent"));
    // The audience's filters, in words.
    assert_eq!(t.find("#audience").await?.text().await?, "Plan is pro and email contains acme");

    // Sent: a chat's figures (clicks, as its body has a link; no bounces or unsubscribes), and
    // rates of nothing sent yet.
    app.api.post(&format!("/manual_messages/{id}/send"), json!({})).await?;
    t.goto(&app.url(&format!("/app/messages/{id}"))).await?;
    let mut keys = Vec::new();
    for f in t.find_all(".figures [data-stat]").await? {
        keys.push(f.attribute("data-stat").await?.unwrap_or_default());
    }
    assert_eq!(keys, ["targeted", "sent", "pending", "seen", "clicked", "replied"]);
    for rate in ["seen", "clicked", "replied"] {
        assert_eq!(t.find(&format!("[data-rate={rate}]")).await?.text().await?, "—", "{rate} of nothing sent");
    }
    assert_eq!(t.find("#chart").await?.text().await?, "Nothing delivered yet.");

    // Ada opens her Messenger: delivered and seen, live, without a reload.
    t.execute("window.stillHere = true;", json!([])).await?;
    ada.goto(&host.page_of("ada@acme.test")).await?;
    wait_online(app, app.id("ada@acme.test")).await?;
    click_shadow(ada, ".launcher").await?;
    wait_text(t, "[data-stat=seen]", "1").await?;
    wait_text(t, "[data-rate=seen]", "100%").await?;
    wait_text(t, "[data-rate=clicked]", "0%").await?;
    // She follows the link: a click, and the click rate moves.
    click_shadow(ada, ".part[data-delivery] a[href]").await?;
    wait_text(t, "[data-rate=clicked]", "100%").await?;
    let chart = t
        .wait_for("the chart to show the click", WAIT, async || {
            let c = chart(t).await?;
            if c["clicked"] == json!(1) { Ok(c) } else { Err(fail!("{c}")) }
        })
        .await?;
    assert_eq!((chart["sent"].clone(), chart["seen"].clone()), (json!(1), json!(1)), "{chart}");
    let label = chart["label"].as_str().unwrap_or_default();
    assert!(label.contains("1 delivered, 1 seen, 1 clicked"), "the chart says what it shows: {label}");
    assert_eq!(t.execute("return window.stillHere === true;", json!([])).await?, json!(true), "the page reloaded");
    // The table beside the chart holds the same figures.
    let total = t
        .execute(
            "return [...document.querySelectorAll('#chart tbody td')].reduce((n, c) => n + Number(c.textContent), 0);",
            json!([]),
        )
        .await?;
    assert_eq!(total, json!(3), "one delivery, one view and one click in the table");

    crate::check_layout(t, false).await?;
    keep(t, &format!("message-{size}")).await?;
    Ok(())
}

/// The chart's bars, summed by series, and its accessible label.
async fn chart(b: &Browser) -> Result<Json> {
    b.execute(
        "const svg = document.querySelector('#chart svg'); if (!svg) return {}; \
         const n = (k) => svg.querySelectorAll('rect.chart-' + k).length; \
         return { sent: n('sent'), seen: n('seen'), clicked: n('clicked'), label: svg.getAttribute('aria-label') };",
        json!([]),
    )
    .await
}
