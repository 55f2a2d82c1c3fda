//! Webhooks: a workspace's subscriptions to the conversation topics, and the worker that sends
//! their notifications.
//!
//! Notifications are derived from the conversations' parts, the durable log of what happened:
//! each subscription reads the parts after its cursor and writes one notification per part whose
//! topic it wants, in the transaction that moves the cursor (see `WebhookStore`). Nothing
//! accepted is lost, since a part is written before anything is said about it, and nothing is
//! written twice, whatever nodes read the log at once. The worker ([`sender`]) claims due
//! notifications with a lease, as the email outbox does, and retries with growing backoff.

pub mod address;
pub mod sender;

use std::sync::Arc;
use std::time::Duration;

use tidings_core::text;
use tidings_core::webhook::Topic;
use tidings_core::{FieldError, FieldErrors};
use tidings_store::{Webhook, WebhookChange, Workspace};

use crate::Engine;
use crate::error::{EngineError, Missing, Result};

/// Subscriptions a workspace may have.
pub const MAX_WEBHOOKS: i64 = 20;

/// How this server sends webhooks: set at start (`TIDINGS_WEBHOOK_ALLOW_PRIVATE`); tests change it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSetup {
    /// Whether targets on loopback, private and other non-public addresses are allowed (for a
    /// receiver on the same machine or network, and for tests).
    pub allow_private: bool,
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
    /// Seconds to wait before each further attempt after a failure; when they run out, the
    /// notification fails.
    pub retry_after: Vec<i64>,
    /// How long a worker's claim holds, in seconds: a notification claimed by a node that died
    /// is sent again when it ends.
    pub lease: i64,
    /// Notifications sent at once by one node.
    pub concurrency: usize,
    /// How long delivered and failed notifications are kept, in seconds.
    pub keep: i64,
}

impl WebhookSetup {
    /// 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h and 24 h: nine attempts over about two days.
    pub const RETRY_AFTER: [i64; 8] = [10, 60, 300, 1_800, 7_200, 21_600, 43_200, 86_400];
}

impl Default for WebhookSetup {
    fn default() -> Self {
        WebhookSetup {
            allow_private: false,
            timeout: Duration::from_secs(10),
            retry_after: Self::RETRY_AFTER.to_vec(),
            lease: 60,
            concurrency: 16,
            keep: 30 * 86_400,
        }
    }
}

/// What a subscription is made of, as given: each field checked by the engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookInput {
    pub url: Option<String>,
    pub topics: Option<Vec<String>>,
    pub active: Option<bool>,
}

impl Engine {
    /// Sets how this server sends webhooks (at start; a test may change it while running).
    pub fn set_webhooks(&self, setup: WebhookSetup) {
        *self.webhooks.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(setup);
    }

    pub fn webhook_setup(&self) -> Arc<WebhookSetup> {
        self.webhooks.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Subscribes a workspace to topics at a URL. It hears what happens from now on.
    ///
    /// # Errors
    /// A URL that is not http(s), does not resolve or resolves to an address that is not public
    /// (`url`); no topics or unknown ones (`topics`); the workspace's maximum reached; or a
    /// database failure.
    pub async fn create_webhook(&self, ws: &Workspace, input: WebhookInput) -> Result<Webhook> {
        let mut errors = FieldErrors::default();
        let url = match input.url.as_deref() {
            None => {
                errors.push(FieldError::missing("url", "url is required: where notifications are sent"));
                None
            }
            Some(u) => self.checked_url(u).await.map_err(|e| errors.push(e)).ok(),
        };
        let topics = match input.topics.as_deref() {
            None => {
                errors.push(FieldError::missing("topics", "topics is required: a list of topics to be told about"));
                None
            }
            Some(t) => checked_topics(t).map_err(|e| errors.push(e)).ok(),
        };
        let (Some(url), Some(topics)) = (url, topics) else { return Err(errors.into()) };
        let active = input.active.unwrap_or(true);
        self.store.create_webhook(ws.id, &url, &topics, active, MAX_WEBHOOKS, self.now()).await?.ok_or_else(|| {
            EngineError::conflict(
                "webhook_limit_reached",
                format!("A workspace has at most {MAX_WEBHOOKS} webhooks: delete one before adding another"),
            )
        })
    }

    /// Changes a subscription's URL, topics or whether it is on; what is not given stays. Switched
    /// on again, it hears what happens from then on.
    ///
    /// # Errors
    /// As [`Engine::create_webhook`] for what is given, or no such subscription.
    pub async fn update_webhook(&self, ws: &Workspace, id: i64, input: WebhookInput) -> Result<Webhook> {
        if self.store.webhook(ws.id, id).await?.is_none() {
            return Err(EngineError::not_found(Missing::Webhook));
        }
        let mut errors = FieldErrors::default();
        let mut change = WebhookChange { active: input.active, ..WebhookChange::default() };
        if let Some(u) = input.url.as_deref() {
            change.url = self.checked_url(u).await.map_err(|e| errors.push(e)).ok();
        }
        if let Some(t) = input.topics.as_deref() {
            change.topics = checked_topics(t).map_err(|e| errors.push(e)).ok();
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        self.store
            .update_webhook(ws.id, id, &change, self.now())
            .await?
            .ok_or_else(|| EngineError::not_found(Missing::Webhook))
    }

    /// Deletes a subscription with its notifications, sent or waiting.
    ///
    /// # Errors
    /// No such subscription, or a database failure.
    pub async fn delete_webhook(&self, ws: &Workspace, id: i64) -> Result<()> {
        if !self.store.delete_webhook(ws.id, id).await? {
            return Err(EngineError::not_found(Missing::Webhook));
        }
        Ok(())
    }

    /// A URL as it is stored (normalised: `HTTPS://Example.COM` is `https://example.com/`):
    /// http(s), at most 2,048 characters, every address of its host public (unless the server
    /// allows private targets).
    async fn checked_url(&self, url: &str) -> std::result::Result<String, FieldError> {
        text::check("url", url, text::URL)?;
        let parsed = address::parse_target(url).map_err(|e| FieldError::invalid("url", e))?;
        address::check_target(&parsed, self.webhook_setup().allow_private)
            .await
            .map_err(|e| FieldError::invalid("url", e))?;
        let stored = parsed.to_string();
        // Normalising may lengthen it (a trailing slash): the stored form keeps the limit too.
        text::check("url", &stored, text::URL)?;
        Ok(stored)
    }
}

/// Topics by name: at least one, each known; repeats count once, in the order given.
fn checked_topics(names: &[String]) -> std::result::Result<Vec<Topic>, FieldError> {
    if names.is_empty() {
        return Err(FieldError::invalid("topics", "Choose at least one topic"));
    }
    let mut topics = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let topic = Topic::parse(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = Topic::ALL.iter().map(|t| t.as_str()).collect();
            FieldError::invalid(&format!("topics[{i}]"), format!("Unknown topic; the topics are {}", known.join(", ")))
        })?;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    Ok(topics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_known_names_each_once() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            checked_topics(&names(&[
                "conversation.admin.closed",
                "conversation.user.created",
                "conversation.admin.closed"
            ])),
            Ok(vec![Topic::AdminClosed, Topic::UserCreated])
        );
        assert_eq!(checked_topics(&[]).unwrap_err().field, "topics");
        assert_eq!(
            checked_topics(&names(&["conversation.user.created", "user.created"])).unwrap_err().field,
            "topics[1]"
        );
    }
}
