//! `TIDINGS_WEBHOOK_ALLOW_PRIVATE` through the real binary: without it a receiver on loopback is
//! refused, with it the receiver is sent the conversation's notification.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Db, serve_with, setup};

/// A plain HTTP receiver on 127.0.0.1 that answers 200 to every request and hands on each body.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<Json>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/in", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                // The headers, then as many bytes as Content-Length says.
                let body = loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        break seen[end + 4..end + 4 + length].to_vec();
                    }
                };
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                let _ = tx.send(serde_json::from_slice(&body).unwrap_or(Json::Null));
            });
        }
    });
    (url, rx)
}

fn stop(mut child: std::process::Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    child.wait().unwrap();
}

#[tokio::test]
async fn private_receivers_are_reached_only_when_the_server_allows_them() {
    for db in Db::all().await {
        let name = db.name;
        let p = setup(&db, "owner@acme.test");
        let token = p["token"].as_str().unwrap().to_owned();
        let (url, mut got) = receiver().await;
        let client = reqwest::Client::new();
        let hook = json!({"url": url, "topics": ["conversation.user.created"]});

        let (server, base) = serve_with(&["--database-url", &db.url], &[]);
        let r = client.post(format!("{base}/webhooks")).bearer_auth(&token).json(&hook).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{name}: refused by default");
        let refused: Json = r.json().await.unwrap();
        assert_eq!(refused["errors"][0]["field"], "url", "{name}: {refused}");
        stop(server);

        let allow = [("TIDINGS_WEBHOOK_ALLOW_PRIVATE", "true".to_owned())];
        let (server, base) = serve_with(&["--database-url", &db.url], &allow);
        let r = client.post(format!("{base}/webhooks")).bearer_auth(&token).json(&hook).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{name}: allowed");
        let contact: Json = client
            .post(format!("{base}/contacts"))
            .bearer_auth(&token)
            .json(&json!({"email": "ada@example.test"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let start = json!({"from": {"type": "user", "id": contact["id"]}, "body": "Hello"});
        let r = client.post(format!("{base}/conversations")).bearer_auth(&token).json(&start).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{name}");
        let started: Json = r.json().await.unwrap();
        let sent = tokio::time::timeout(Duration::from_secs(20), got.recv()).await.expect("a notification").unwrap();
        assert_eq!(sent["topic"], "conversation.user.created", "{name}: {sent}");
        assert_eq!(sent["data"]["item"]["id"], started["conversation_id"], "{name}");
        assert_eq!(sent["app_id"], p["app_id"], "{name}");
        stop(server);
        db.cleanup().await;
    }
}
