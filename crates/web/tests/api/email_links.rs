//! The email routes nobody logs in to (links in emails, and what mail systems report back)
//! answer anything they are sent without a 5xx, and act on nothing that is not signed.

use reqwest::StatusCode;

use super::support::servers;

#[tokio::test]
async fn email_routes_take_any_input_and_act_only_on_signed_references() {
    for s in servers().await {
        let db = s.db;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let url = |path: &str| format!("{}{path}", s.base);

        // Links that are not ours lead nowhere; the pixel is always an image.
        for path in [
            "/email/click/1.2.forged?u=https%3A%2F%2Fevil.test%2F",
            "/email/click/1.2.forged?u=javascript%3Aalert(1)",
            "/email/click/1.2.forged",
            "/email/unsubscribe/1.2.forged",
        ] {
            let r = client.get(url(path)).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{db}: {path}");
        }
        let r = client.get(url("/email/unsubscribe/%00%ff")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{db}: bytes that are not text");
        let r = client.post(url("/email/unsubscribe/9.9.forged")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{db}: a forged one-click unsubscribe");
        let r = client.get(url("/email/open/1.2.forged.gif")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{db}");
        assert_eq!(r.headers()["content-type"], "image/gif", "{db}");

        // Reports: a DSN naming a reference that does not verify, and plain junk.
        let dsn = "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n\
                   Content-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--b\r\n\
                   Message-ID: <d1.m1.0123456789abcdef@acme.test>\r\n--b--\r\n";
        for body in [dsn.as_bytes().to_vec(), vec![0xff, 0x00, 0xfe], Vec::new()] {
            let r = client
                .post(url("/email/reports?recipient=bounces%2Bd1.m1.0123456789abcdef%40x.test"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{db}");
            let j: serde_json::Value = r.json().await.unwrap();
            assert_eq!(j["result"], "not_ours", "{db}: {j}");
        }
        let r = client
            .post(url("/email/events"))
            .json(&serde_json::json!([{"event": "complaint", "message_id": "<d1.m1.0123456789abcdef@acme.test>"}, {"odd": [1, 2]}]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{db}");
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(j["data"][0]["result"], "not_ours", "{db}: {j}");
        assert_eq!(j["data"][1]["result"], "not_ours", "{db}: {j}");
        let r = client.post(url("/email/events")).body("not json").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{db}");
        let j: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (j["type"].as_str(), j["errors"][0]["field"].as_str()),
            (Some("error.list"), Some("body")),
            "{db}: {j}"
        );
        s.stop().await;
    }
}
