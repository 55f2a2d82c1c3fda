//! What a message's page counts: the figures that mean something for its channel and state, the
//! rates beside them (each of the deliveries sent), and the timeline of deliveries, views and
//! clicks its chart draws (`GET /app/messages/{id}/timeline`, read again when the message's
//! deliveries move).
//!
//! Nothing is counted before a message is sent. An in-app message has no bounces, failures or
//! unsubscribes; an announcement has no replies; an email's opens and clicks show when the
//! workspace tracks them (or some were tracked before it stopped), and its replies go to the
//! sender's inbox. Clicks only show for a body with a link in it.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use tidings_core::message::{Channel, MessageState};
use tidings_store::{Message, MessageStats, StatFilter, Timeline};

use super::session::Admin;
use crate::AppState;
use crate::error::ApiError;

/// At most this many bars in a message's chart.
pub const MAX_BUCKETS: i64 = 48;

/// A figure: its key (as `?stat=` and the API's stats name it), its label, what it counts.
pub type Figure = (&'static str, &'static str, StatFilter);

/// The figures of a message, in the order the page shows them.
pub fn figures(m: &Message, stats: &MessageStats, tracking: bool, has_links: bool) -> Vec<Figure> {
    if matches!(m.state, MessageState::Draft | MessageState::Scheduled) {
        return Vec::new();
    }
    let email = m.channel == Channel::Email;
    let mut f: Vec<Figure> = vec![
        ("targeted", "Targeted", StatFilter::Targeted),
        ("sent", "Sent", StatFilter::Sent),
        ("pending", "Pending", StatFilter::Pending),
    ];
    if !email || tracking || stats.seen > 0 {
        f.push(("seen", if email { "Opened" } else { "Seen" }, StatFilter::Seen));
    }
    if has_links && (!email || tracking || stats.clicked > 0) {
        f.push(("clicked", "Clicked", StatFilter::Clicked));
    }
    if m.channel == Channel::Chat {
        f.push(("replied", "Replied", StatFilter::Replied));
    }
    if email {
        f.extend([
            ("bounced", "Bounced", StatFilter::Bounced),
            ("failed", "Failed", StatFilter::Failed),
            ("skipped", "Skipped", StatFilter::Skipped),
            ("unsubscribed", "Unsubscribed", StatFilter::Unsubscribed),
        ]);
    }
    if m.state == MessageState::Stopped {
        f.push(("cancelled", "Cancelled by the stop", StatFilter::Cancelled));
    }
    f
}

pub fn count(stats: &MessageStats, which: StatFilter) -> i64 {
    match which {
        StatFilter::Targeted => stats.targeted,
        StatFilter::Pending => stats.pending,
        StatFilter::Sent => stats.sent,
        StatFilter::Seen => stats.seen,
        StatFilter::Clicked => stats.clicked,
        StatFilter::Replied => stats.replied,
        StatFilter::Cancelled => stats.cancelled,
        StatFilter::Failed => stats.failed,
        StatFilter::Bounced => stats.bounced,
        StatFilter::Skipped => stats.skipped,
        StatFilter::Unsubscribed => stats.unsubscribed,
    }
}

/// A rate beside the figures: its figure's key, its label, and its value in words.
pub struct Rate {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

/// `n` of `sent` as a whole percentage; "—" when nothing was sent.
pub fn percent(n: i64, sent: i64) -> String {
    if sent <= 0 { "—".into() } else { format!("{}%", (n * 200 + sent) / (sent * 2)) }
}

/// The rates of the figures shown: seen (opened), clicked and replied, each of those sent.
pub fn rates(shown: &[Figure], stats: &MessageStats, email: bool) -> Vec<Rate> {
    shown
        .iter()
        .filter_map(|(key, _, which)| {
            let label = match *key {
                "seen" if email => "Open rate",
                "seen" => "Seen rate",
                "clicked" => "Click rate",
                "replied" => "Reply rate",
                _ => return None,
            };
            Some(Rate { key, label, value: percent(count(stats, *which), stats.sent) })
        })
        .collect()
}

/// The timeline as the page's script draws it: the series that apply, and one row per bucket.
pub fn timeline_json(t: &Timeline, shown: &[Figure]) -> Json {
    let has = |k: &str| shown.iter().any(|f| f.0 == k);
    let series: Vec<&str> = ["sent", "seen", "clicked"].into_iter().filter(|k| has(k)).collect();
    json!({
        "width": t.width,
        "series": series,
        "buckets": t.buckets.iter().map(|b| json!({"start": b.start, "sent": b.sent, "seen": b.seen, "clicked": b.clicked})).collect::<Vec<_>>(),
    })
}

/// Whether a body (rendered HTML) holds a link, so clicks can happen.
pub fn has_links(html: &str) -> bool {
    html.contains("<a ")
}

/// `GET /app/messages/{id}/timeline`: the chart's data, and the rates, as the page shows them.
pub async fn timeline(State(state): State<AppState>, admin: Admin, Path(id): Path<i64>) -> Response {
    let answer = async {
        let ws = admin.workspace.id;
        let m = state.store.message(ws, id).await?.ok_or_else(ApiError::not_found)?;
        let custom = state.store.custom_attributes(ws).await?;
        let html = tidings_core::markdown::Body::compile(&m.body, &custom, "body")
            .map(|b| b.html_for(&tidings_core::contact::Contact::new(ws, tidings_core::contact::Role::User, 0)))
            .unwrap_or_default();
        let stats = state.store.message_stats(ws, id).await?;
        let shown = figures(&m, &stats, admin.workspace.email.tracking, has_links(&html));
        let t = state.store.delivery_timeline(ws, id, MAX_BUCKETS).await?;
        let rates: Vec<Json> = rates(&shown, &stats, m.channel == Channel::Email)
            .into_iter()
            .map(|r| json!({"key": r.key, "value": r.value}))
            .collect();
        Ok::<_, ApiError>(axum::Json(json!({"timeline": timeline_json(&t, &shown), "rates": rates})))
    };
    answer.await.map_or_else(IntoResponse::into_response, IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(channel: Channel, state: MessageState) -> Message {
        Message {
            id: 1,
            workspace_id: 1,
            title: String::new(),
            sender_id: 1,
            channel,
            subject: None,
            body: String::new(),
            template: Default::default(),
            delivery_window: None,
            audience: json!({}),
            state,
            scheduled_at: None,
            sent_at: None,
            stopped_at: None,
            targeted: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn keys(f: &[Figure]) -> Vec<&str> {
        f.iter().map(|f| f.0).collect()
    }

    #[test]
    fn only_the_figures_that_apply() {
        let none = MessageStats::default();
        for state in [MessageState::Draft, MessageState::Scheduled] {
            assert!(figures(&message(Channel::Chat, state), &none, true, true).is_empty(), "nothing sent yet");
        }
        let chat = message(Channel::Chat, MessageState::Sending);
        assert_eq!(
            keys(&figures(&chat, &none, false, true)),
            ["targeted", "sent", "pending", "seen", "clicked", "replied"]
        );
        assert_eq!(
            keys(&figures(&chat, &none, false, false)),
            ["targeted", "sent", "pending", "seen", "replied"],
            "no links"
        );
        let post = message(Channel::Post, MessageState::Stopped);
        assert_eq!(
            keys(&figures(&post, &none, false, true)),
            ["targeted", "sent", "pending", "seen", "clicked", "cancelled"]
        );
        let email = message(Channel::Email, MessageState::Sending);
        assert_eq!(
            keys(&figures(&email, &none, true, true)),
            ["targeted", "sent", "pending", "seen", "clicked", "bounced", "failed", "skipped", "unsubscribed"]
        );
        assert_eq!(
            keys(&figures(&email, &none, false, true)),
            ["targeted", "sent", "pending", "bounced", "failed", "skipped", "unsubscribed"],
            "no opens or clicks without tracking"
        );
        let tracked_before = MessageStats { seen: 2, ..Default::default() };
        assert_eq!(
            keys(&figures(&email, &tracked_before, false, true)),
            ["targeted", "sent", "pending", "seen", "bounced", "failed", "skipped", "unsubscribed"],
            "opens tracked before tracking stopped still show"
        );
    }

    #[test]
    fn rates_are_of_those_sent() {
        assert_eq!(percent(1, 3), "33%");
        assert_eq!(percent(2, 3), "67%");
        assert_eq!(percent(0, 5), "0%");
        assert_eq!(percent(0, 0), "—");
        let stats = MessageStats { sent: 4, seen: 3, clicked: 1, replied: 0, ..Default::default() };
        let chat = figures(&message(Channel::Chat, MessageState::Sending), &stats, false, true);
        let r: Vec<(&str, &str, String)> =
            rates(&chat, &stats, false).into_iter().map(|r| (r.key, r.label, r.value)).collect();
        assert_eq!(
            r,
            [
                ("seen", "Seen rate", "75%".into()),
                ("clicked", "Click rate", "25%".into()),
                ("replied", "Reply rate", "0%".into())
            ]
        );
        let email = figures(&message(Channel::Email, MessageState::Sending), &MessageStats::default(), true, false);
        let r: Vec<&str> = rates(&email, &MessageStats::default(), true).into_iter().map(|r| r.label).collect();
        assert_eq!(r, ["Open rate"]);
        assert!(rates(&email, &MessageStats::default(), true).iter().all(|r| r.value == "—"), "nothing sent");
    }
}
