//! Manual messages and their deliveries: the two state machines, kept here so every adapter
//! (API, admin app, workers, Messenger) moves them the same way.
//!
//! A message goes `draft → scheduled → sending`, or straight from `draft` to `sending`; an in-app
//! or email message that is scheduled or sending can be `stopped` (a scheduled one before
//! anything went out), and a stopped message never moves again. A message may carry a
//! [`DeliveryWindow`]: its deliveries wait, pending, until the window opens for their contact.
//!
//! A delivery (one message to one contact) goes `pending → sent`, or `pending → cancelled` when
//! its message is stopped, or `pending → failed`. An email is first claimed by a worker
//! (`pending → sending`, with a lease), then the mail server's answer moves it to `sent`, back to
//! `pending` for a later attempt, to `failed`, or to `bounced`; a contact who cannot receive it
//! (no address, unsubscribed, hard-bounced) is `skipped`. A claimed email whose message was
//! stopped before it went out is cancelled by its own worker, which gives up its claim (a stop
//! itself never touches an email on its way). What happens after sending (seen or
//! opened, clicked, replied) is recorded on the sent delivery without changing its state; a bounce
//! reported later moves a sent email to `bounced`.

use serde::{Deserialize, Serialize};

pub use crate::window::DeliveryWindow;

/// How a message reaches the contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// An in-app message that opens a conversation.
    Chat,
    /// An in-app announcement.
    Post,
    Email,
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Chat => "chat",
            Channel::Post => "post",
            Channel::Email => "email",
            Channel::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "chat" => Channel::Chat,
            "post" => Channel::Post,
            "email" => Channel::Email,
            "push" => Channel::Push,
            _ => return None,
        })
    }

    /// In-app messages reach a contact through the Messenger.
    pub fn is_in_app(self) -> bool {
        matches!(self, Channel::Chat | Channel::Post)
    }
}

/// How an email looks: `personal` shows the teammate's name and avatar, `plain` reads like a
/// letter (Intercom's `template` of `POST /messages`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EmailTemplate {
    #[default]
    Personal,
    Plain,
}

impl EmailTemplate {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailTemplate::Personal => "personal",
            EmailTemplate::Plain => "plain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "personal" => EmailTemplate::Personal,
            "plain" => EmailTemplate::Plain,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageState {
    Draft,
    Scheduled,
    Sending,
    Stopped,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Draft => "draft",
            MessageState::Scheduled => "scheduled",
            MessageState::Sending => "sent",
            MessageState::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "draft" => MessageState::Draft,
            "scheduled" => MessageState::Scheduled,
            "sent" => MessageState::Sending,
            "stopped" => MessageState::Stopped,
            _ => return None,
        })
    }
}

/// What a teammate (or the scheduler) asks of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageAction {
    Edit,
    Schedule,
    Unschedule,
    Send,
    Stop,
}

/// Why a message cannot do what was asked. The messages say what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error(
        "This message was stopped and can never be resumed. To send the content again, create a new message (\"Send to those who have not received it\" targets exactly them)."
    )]
    Stopped,
    #[error(
        "This message has already been sent; it can no longer be edited, scheduled or sent again. Create a new message instead."
    )]
    AlreadySent,
    #[error("Only in-app and email messages that are scheduled or sending can be stopped.")]
    NotStoppable,
    #[error("This message is not scheduled.")]
    NotScheduled,
}

/// The state a message moves to when `action` is applied in `state`.
///
/// # Errors
/// When the action is not allowed from this state.
pub fn transition(
    state: MessageState,
    channel: Channel,
    action: MessageAction,
) -> Result<MessageState, TransitionError> {
    use MessageAction as A;
    use MessageState as S;
    match (state, action) {
        (S::Stopped, _) => Err(TransitionError::Stopped),
        (S::Draft | S::Scheduled, A::Edit) => Ok(state),
        (S::Draft | S::Scheduled, A::Schedule) => Ok(S::Scheduled),
        (S::Scheduled, A::Unschedule) => Ok(S::Draft),
        (S::Draft, A::Unschedule) => Err(TransitionError::NotScheduled),
        (S::Draft | S::Scheduled, A::Send) => Ok(S::Sending),
        (S::Scheduled | S::Sending, A::Stop) if channel.is_in_app() || channel == Channel::Email => Ok(S::Stopped),
        (S::Draft | S::Scheduled | S::Sending, A::Stop) => Err(TransitionError::NotStoppable),
        (S::Sending, A::Edit | A::Schedule | A::Unschedule | A::Send) => Err(TransitionError::AlreadySent),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    Pending,
    /// An email claimed by a worker, on its way to the mail server.
    Sending,
    Sent,
    Cancelled,
    Failed,
    /// The mail server refused the address for good.
    Bounced,
    /// The contact could not receive it (no email address, unsubscribed, hard-bounced).
    Skipped,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Sending => "sending",
            DeliveryState::Sent => "sent",
            DeliveryState::Cancelled => "cancelled",
            DeliveryState::Failed => "failed",
            DeliveryState::Bounced => "bounced",
            DeliveryState::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => DeliveryState::Pending,
            "sending" => DeliveryState::Sending,
            "sent" => DeliveryState::Sent,
            "cancelled" => DeliveryState::Cancelled,
            "failed" => DeliveryState::Failed,
            "bounced" => DeliveryState::Bounced,
            "skipped" => DeliveryState::Skipped,
            _ => return None,
        })
    }
}

/// Something that happens to a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryEvent {
    /// A worker takes a due email to send it (or takes back one whose lease ran out).
    Claim,
    /// It reached the contact (their Messenger fetched it, or the mail server took it).
    Deliver,
    /// The mail server could not take it now: it waits for a later attempt.
    Retry,
    /// Its message was stopped before it reached the contact.
    Cancel,
    Fail,
    /// The address was refused for good, when sending or later (a bounce report).
    Bounce,
    /// The contact cannot receive it.
    Skip,
    Seen,
    Click,
    Reply,
}

/// The state after `event`, or `None` when the event does not apply (and must change nothing).
/// Applying an event twice is the same as applying it once, which is what makes retries safe.
pub fn delivery_transition(state: DeliveryState, event: DeliveryEvent) -> Option<DeliveryState> {
    use DeliveryEvent as E;
    use DeliveryState as S;
    match (state, event) {
        (S::Pending | S::Sending, E::Claim) => Some(S::Sending),
        (S::Pending | S::Sending | S::Sent, E::Deliver) => Some(S::Sent),
        (S::Sending | S::Pending, E::Retry) => Some(S::Pending),
        (S::Pending | S::Cancelled, E::Cancel) => Some(S::Cancelled),
        (S::Pending | S::Sending | S::Failed, E::Fail) => Some(S::Failed),
        (S::Sending | S::Sent | S::Bounced, E::Bounce) => Some(S::Bounced),
        (S::Pending | S::Sending | S::Skipped, E::Skip) => Some(S::Skipped),
        (S::Sent, E::Seen | E::Click | E::Reply) => Some(S::Sent),
        _ => None,
    }
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 7] = [
        DeliveryState::Pending,
        DeliveryState::Sending,
        DeliveryState::Sent,
        DeliveryState::Cancelled,
        DeliveryState::Failed,
        DeliveryState::Bounced,
        DeliveryState::Skipped,
    ];
}

/// The states from which `event` moves a delivery to another state: what storage's conditional
/// update must require, so that it follows [`delivery_transition`] exactly (an event that would
/// leave the state as it is writes nothing).
pub fn moves_from(event: DeliveryEvent) -> Vec<DeliveryState> {
    DeliveryState::ALL.into_iter().filter(|s| delivery_transition(*s, event).is_some_and(|to| to != *s)).collect()
}

/// What `event` records on a sent delivery without moving it, and from which state: seen,
/// clicked and replied are marks on a delivery that reached the contact.
pub fn marks_from(event: DeliveryEvent) -> Vec<DeliveryState> {
    DeliveryState::ALL.into_iter().filter(|s| delivery_transition(*s, event).is_some_and(|to| to == *s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_moves_deliveries_only_from_the_states_the_machine_allows() {
        use DeliveryState as S;
        assert_eq!(moves_from(DeliveryEvent::Claim), [S::Pending]);
        assert_eq!(marks_from(DeliveryEvent::Claim), [S::Sending], "a claim whose lease ran out is taken again");
        assert_eq!(moves_from(DeliveryEvent::Deliver), [S::Pending, S::Sending]);
        assert_eq!(moves_from(DeliveryEvent::Retry), [S::Sending]);
        assert_eq!(moves_from(DeliveryEvent::Cancel), [S::Pending]);
        assert_eq!(moves_from(DeliveryEvent::Fail), [S::Pending, S::Sending]);
        assert_eq!(moves_from(DeliveryEvent::Bounce), [S::Sending, S::Sent]);
        assert_eq!(moves_from(DeliveryEvent::Skip), [S::Pending, S::Sending]);
        assert_eq!(marks_from(DeliveryEvent::Seen), [DeliveryState::Sent]);
        assert_eq!(marks_from(DeliveryEvent::Click), [DeliveryState::Sent]);
    }

    #[test]
    fn a_stopped_message_can_never_move_again() {
        for action in [
            MessageAction::Edit,
            MessageAction::Schedule,
            MessageAction::Unschedule,
            MessageAction::Send,
            MessageAction::Stop,
        ] {
            assert_eq!(transition(MessageState::Stopped, Channel::Chat, action), Err(TransitionError::Stopped));
        }
    }

    #[test]
    fn only_sending_in_app_messages_stop() {
        assert_eq!(transition(MessageState::Sending, Channel::Chat, MessageAction::Stop), Ok(MessageState::Stopped));
        assert_eq!(transition(MessageState::Sending, Channel::Post, MessageAction::Stop), Ok(MessageState::Stopped));
        assert_eq!(transition(MessageState::Sending, Channel::Email, MessageAction::Stop), Ok(MessageState::Stopped));
        assert_eq!(
            transition(MessageState::Sending, Channel::Push, MessageAction::Stop),
            Err(TransitionError::NotStoppable)
        );
        assert_eq!(
            transition(MessageState::Draft, Channel::Chat, MessageAction::Stop),
            Err(TransitionError::NotStoppable)
        );
        assert_eq!(
            transition(MessageState::Scheduled, Channel::Email, MessageAction::Stop),
            Ok(MessageState::Stopped),
            "a scheduled email is stopped before anything went out"
        );
    }

    #[test]
    fn drafts_schedule_and_send_once() {
        let s = transition(MessageState::Draft, Channel::Chat, MessageAction::Schedule).unwrap();
        assert_eq!(s, MessageState::Scheduled);
        assert_eq!(transition(s, Channel::Chat, MessageAction::Unschedule), Ok(MessageState::Draft));
        let sent = transition(s, Channel::Chat, MessageAction::Send).unwrap();
        assert_eq!(transition(sent, Channel::Chat, MessageAction::Send), Err(TransitionError::AlreadySent));
    }

    #[test]
    fn delivery_events_are_idempotent_and_never_undo_a_delivery() {
        use DeliveryEvent as E;
        use DeliveryState as S;
        assert_eq!(delivery_transition(S::Pending, E::Deliver), Some(S::Sent));
        assert_eq!(delivery_transition(S::Sent, E::Deliver), Some(S::Sent));
        assert_eq!(delivery_transition(S::Sent, E::Cancel), None, "a stop never takes back a delivered message");
        assert_eq!(delivery_transition(S::Cancelled, E::Deliver), None, "a cancelled delivery never arrives");
        assert_eq!(delivery_transition(S::Pending, E::Seen), None);
        assert_eq!(delivery_transition(S::Sent, E::Reply), Some(S::Sent));
        assert_eq!(delivery_transition(S::Sending, E::Cancel), None, "an email on its way to the server goes on");
        assert_eq!(delivery_transition(S::Bounced, E::Deliver), None, "a late 250 never undoes a bounce");
        assert_eq!(delivery_transition(S::Skipped, E::Claim), None, "a skipped email is never sent");
    }
}
