//! Settings › Webhooks as the settings page shows it: the workspace's subscriptions with their
//! signing secrets and what became of each one's recent notifications, and the form to add one,
//! empty or as typed when [`super::webhooks`] refused it.

use tidings_core::webhook::Topic;
use tidings_store::Workspace;

use super::view::{When, when};
use crate::AppState;
use crate::error::ApiResult;

/// Notifications shown per subscription.
const SHOWN: i64 = 20;

/// One topic in the form.
pub struct TopicChoice {
    pub name: &'static str,
    pub describe: &'static str,
    pub checked: bool,
}

/// One notification in a subscription's list.
pub struct DeliveryRow {
    pub when: When,
    pub topic: &'static str,
    pub conversation_id: i64,
    pub status: &'static str,
    pub attempts: i64,
    /// The receiver's last answer, or what went wrong.
    pub last: String,
}

/// One subscription.
pub struct HookRow {
    pub id: i64,
    pub url: String,
    pub topics: Vec<&'static str>,
    pub secret: String,
    pub active: bool,
    pub created: When,
    pub deliveries: Vec<DeliveryRow>,
}

/// What Settings › Webhooks shows.
pub struct WebhooksSection {
    pub hooks: Vec<HookRow>,
    pub topics: Vec<TopicChoice>,
    /// The URL typed in the form (kept when it was refused).
    pub url: String,
    pub bad_url: bool,
}

impl WebhooksSection {
    /// The section as stored, with an empty form.
    ///
    /// # Errors
    /// A database failure.
    pub async fn of(state: &AppState, ws: &Workspace) -> ApiResult<WebhooksSection> {
        let mut hooks = Vec::new();
        for w in state.store.webhooks(ws.id).await? {
            let recent = state.store.webhook_notifications(ws.id, w.id, SHOWN).await?;
            let deliveries = recent
                .iter()
                .map(|n| DeliveryRow {
                    when: when(Some(n.created_at), &ws.timezone),
                    topic: n.topic.as_str(),
                    conversation_id: n.conversation_id,
                    status: n.state.as_str(),
                    attempts: n.attempts,
                    last: match (n.last_status, &n.last_error) {
                        (_, Some(e)) => e.clone(),
                        (Some(s), None) => format!("HTTP {s}"),
                        (None, None) => String::new(),
                    },
                })
                .collect();
            hooks.push(HookRow {
                id: w.id,
                url: w.url,
                topics: w.topics.iter().map(|t| t.as_str()).collect(),
                secret: w.secret,
                active: w.active,
                created: when(Some(w.created_at), &ws.timezone),
                deliveries,
            });
        }
        Ok(WebhooksSection { hooks, topics: choices(&[]), url: String::new(), bad_url: false })
    }
}

/// Every topic for the form, ticked where `checked` names it.
pub fn choices(checked: &[String]) -> Vec<TopicChoice> {
    Topic::ALL
        .iter()
        .map(|t| TopicChoice {
            name: t.as_str(),
            describe: t.describe(),
            checked: checked.iter().any(|c| c == t.as_str()),
        })
        .collect()
}
