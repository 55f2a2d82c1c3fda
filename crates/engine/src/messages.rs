//! Manual messages: compose, edit, schedule, send, stop and follow up; and the audience a send
//! resolves there and then.

use serde_json::{Value as Json, json};
use tidings_core::audience::Audience;
use tidings_core::contact::Contact;
use tidings_core::filter::{Pred, Target, Test, check_size, compile};
use tidings_core::message::{
    Channel, DeliveryWindow, EmailTemplate, MessageAction, MessageState, TransitionError, transition,
};
use tidings_core::personalise::Template;
use tidings_core::text;
use tidings_store::{Conversation, Message, NewMessage, Recipients, Refused, StatFilter, Workspace};

use crate::Engine;
use crate::bus::Event;
use crate::error::{EngineError, Missing, Result};
use crate::filters::{SchemaData, calendar};
use crate::render::Composed;

/// What a teammate writes in a message. `None` leaves a field as it is when editing, and takes
/// its default when composing.
#[derive(Clone, Debug, Default)]
pub struct MessageInput {
    pub title: Option<String>,
    pub channel: Option<Channel>,
    /// `Some(None)` removes the subject.
    pub subject: Option<Option<String>>,
    pub body: Option<String>,
    /// How an email looks.
    pub template: Option<EmailTemplate>,
    /// Only send during these days and hours; `Some(None)` removes the window.
    pub delivery_window: Option<Option<DeliveryWindow>>,
    /// An audience object; `Some(Json::Null)` removes it.
    pub audience: Option<Json>,
    pub sender_id: Option<i64>,
}

/// What happens to a message once it is composed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    Keep,
    Schedule(i64),
    Send,
}

/// An audience resolved against a workspace: the filter every recipient matches, and the
/// hand-picked contacts.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub pred: Option<Pred>,
    pub contact_ids: Option<Vec<i64>>,
    pub conversation: bool,
}

/// A message's checked fields.
struct Draft {
    title: String,
    channel: Channel,
    subject: Option<String>,
    body: String,
    template: EmailTemplate,
    delivery_window: Option<DeliveryWindow>,
    audience: Json,
    sender_id: Option<i64>,
}

fn transition_error(e: TransitionError) -> EngineError {
    let code = match e {
        TransitionError::Stopped => "message_stopped",
        TransitionError::AlreadySent => "message_already_sent",
        TransitionError::NotStoppable => "message_not_stoppable",
        TransitionError::NotScheduled => "message_not_scheduled",
    };
    EngineError::conflict(code, e.to_string())
}

fn refused(r: Refused) -> EngineError {
    match r {
        Refused::NotFound => EngineError::not_found(Missing::Message),
        Refused::WrongState(state) => transition_error(match state {
            MessageState::Stopped => TransitionError::Stopped,
            MessageState::Sending => TransitionError::AlreadySent,
            _ => TransitionError::NotStoppable,
        }),
    }
}

/// An email with no subject yet cannot be sent or scheduled (a draft may wait for one).
fn no_subject(m_channel: Channel, subject: Option<&str>, doing: &str) -> Result<()> {
    if m_channel == Channel::Email && subject.is_none_or(|s| s.trim().is_empty()) {
        return Err(EngineError::Conflict {
            code: "subject_missing",
            message: format!("An email needs a subject before {doing}: edit the message"),
            field: Some("subject"),
        });
    }
    Ok(())
}

/// A message with no audience yet cannot be sent or scheduled: its state, not the request, is
/// what is missing.
fn no_audience(doing: &str) -> EngineError {
    EngineError::Conflict {
        code: "audience_missing",
        message: format!("Choose an audience before {doing}: edit the message"),
        field: Some("audience"),
    }
}

impl Engine {
    /// An email can be sent only when there is an SMTP server and a sender address for it.
    fn can_send_email(&self, ws: &Workspace, channel: Channel) -> Result<()> {
        if channel != Channel::Email {
            return Ok(());
        }
        self.mail_route(ws).map(|_| ()).map_err(|why| EngineError::Conflict {
            code: "email_not_set_up",
            message: why,
            field: Some("channel"),
        })
    }

    /// Resolves an audience against a workspace now: every segment, filter and message it
    /// names must exist, and it must fit in one statement.
    ///
    /// # Errors
    /// The part that is wrong, under `path`.
    pub async fn resolve_audience(&self, ws: &Workspace, audience: &Audience, path: &str) -> Result<Resolved> {
        let data = SchemaData::load(&*self.store, ws.id, &audience.query.iter().collect::<Vec<_>>()).await?;
        let calendar = calendar(ws, self.now());
        let mut parts = Vec::new();
        if let Some(q) = &audience.query {
            parts.push(compile(q, &data.schema(), &calendar, &format!("{path}.query"))?);
        }
        if let Some(segments) = &audience.segment_ids {
            let mut any = Vec::new();
            for (i, id) in segments.iter().enumerate() {
                let q = json!({"field": "segment_id", "operator": "=", "value": id});
                any.push(compile(&q, &data.schema(), &calendar, &format!("{path}.segment_ids[{i}]"))?);
            }
            parts.push(Pred::Any(any));
        }
        let pred = match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(Pred::All(parts)),
        };
        check_size(pred.as_ref(), audience.contact_ids.as_ref().map_or(0, Vec::len), path)?;
        Ok(Resolved { pred, contact_ids: audience.contact_ids.clone(), conversation: audience.conversation })
    }

    /// How many contacts an audience reaches now.
    ///
    /// # Errors
    /// A wrong audience, or a database failure.
    pub async fn count_audience(&self, ws: &Workspace, audience: &Json) -> Result<i64> {
        let resolved = self.resolve_audience(ws, &Audience::parse(audience, "audience")?, "audience").await?;
        let pred = match (resolved.pred, resolved.contact_ids) {
            (pred, None) => pred,
            (pred, Some(ids)) => {
                let picked = Pred::Test(
                    Target::Column(&tidings_core::attribute::ID),
                    Test::In(ids.into_iter().map(tidings_core::attribute::Value::Int).collect()),
                );
                Some(match pred {
                    Some(p) => Pred::All(vec![p, picked]),
                    None => picked,
                })
            }
        };
        Ok(self.store.count_contacts(ws.id, pred.as_ref()).await?)
    }

    /// Checks a message's fields, over `base` when editing.
    async fn draft(&self, ws: &Workspace, author: i64, input: &MessageInput, base: Option<&Message>) -> Result<Draft> {
        let channel = input.channel.or(base.map(|m| m.channel)).unwrap_or(Channel::Chat);
        if channel == Channel::Push {
            return Err(EngineError::invalid(
                "channel",
                "Push manual messages are not available yet; use chat, post or email",
            ));
        }
        let body = input.body.clone().or_else(|| base.map(|m| m.body.clone())).unwrap_or_default();
        if body.trim().is_empty() {
            return Err(EngineError::invalid("body", "Body is required"));
        }
        text::check("body", &body, text::BODY)?;
        let subject = match &input.subject {
            Some(s) => s.clone(),
            None => base.and_then(|m| m.subject.clone()),
        };
        if let Some(s) = &subject {
            text::check("subject", s, text::SUBJECT)?;
        }
        let template = input.template.or(base.map(|m| m.template)).unwrap_or_default();
        let delivery_window = match input.delivery_window {
            Some(w) => w,
            None => base.and_then(|m| m.delivery_window),
        };
        let custom = self.store.custom_attributes(ws.id).await?;
        Composed::new(&body, subject.as_deref(), &custom)?;
        let audience = match &input.audience {
            Some(a) => Audience::stored(a),
            None => base.map_or(Json::Null, |m| m.audience.clone()),
        };
        if !audience.is_null() {
            self.resolve_audience(ws, &Audience::parse(&audience, "audience")?, "audience").await?;
        }
        let sender_id = match input.sender_id {
            Some(id) => {
                self.store
                    .teammate(ws.id, id)
                    .await?
                    .ok_or_else(|| EngineError::not_found_at(Missing::Teammate, "sender_id"))?;
                Some(id)
            }
            None => base.map(|m| m.sender_id).or(Some(author)),
        };
        let title = input
            .title
            .clone()
            .or_else(|| base.map(|m| m.title.clone()))
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| derived_title(&body, &custom));
        text::check("title", &title, text::NAME)?;
        Ok(Draft { title, channel, subject, body, template, delivery_window, audience, sender_id })
    }

    async fn find_message(&self, ws: i64, id: i64) -> Result<Message> {
        self.store.message(ws, id).await?.ok_or_else(|| EngineError::not_found(Missing::Message))
    }

    /// Composes a message written by `author`: kept as a draft, scheduled, or sent at once. A
    /// message that cannot be sent or scheduled is refused before anything is written.
    ///
    /// # Errors
    /// A wrong field, a send or schedule without an audience, or a database failure.
    pub async fn create_message(
        &self,
        ws: &Workspace,
        author: i64,
        input: MessageInput,
        then: Then,
    ) -> Result<Message> {
        let d = self.draft(ws, author, &input, None).await?;
        if then != Then::Keep && d.audience.is_null() {
            return Err(EngineError::invalid("audience", "Choose an audience before sending or scheduling"));
        }
        if then != Then::Keep {
            no_subject(d.channel, d.subject.as_deref(), "sending or scheduling")?;
            self.can_send_email(ws, d.channel)?;
        }
        if then == Then::Send {
            self.refuse_empty(ws, &d.audience).await?;
        }
        let new = NewMessage {
            title: d.title,
            sender_id: d.sender_id.unwrap_or(author),
            channel: d.channel,
            subject: d.subject,
            body: d.body,
            template: d.template,
            delivery_window: d.delivery_window,
            audience: d.audience,
            state: if matches!(then, Then::Schedule(_)) { MessageState::Scheduled } else { MessageState::Draft },
            scheduled_at: match then {
                Then::Schedule(at) => Some(at),
                _ => None,
            },
        };
        let m = self.store.create_message(ws.id, new, self.now()).await?;
        self.publish(Event::MessageChanged { workspace: ws.id, message: m.id });
        match then {
            Then::Send => self.send_message(ws, m).await,
            _ => Ok(m),
        }
    }

    /// Edits a draft or a scheduled message.
    ///
    /// # Errors
    /// A wrong field, a message that was sent or stopped, or a database failure.
    pub async fn edit_message(&self, ws: &Workspace, author: i64, id: i64, input: MessageInput) -> Result<Message> {
        let mut m = self.find_message(ws.id, id).await?;
        transition(m.state, m.channel, MessageAction::Edit).map_err(transition_error)?;
        let d = self.draft(ws, author, &input, Some(&m)).await?;
        (m.title, m.channel, m.subject, m.body, m.audience) = (d.title, d.channel, d.subject, d.body, d.audience);
        m.template = d.template;
        m.delivery_window = d.delivery_window;
        m.sender_id = d.sender_id.unwrap_or(m.sender_id);
        self.save(ws.id, &m).await
    }

    /// Writes a draft or scheduled message's fields, refused when it moved on meanwhile.
    async fn save(&self, ws: i64, m: &Message) -> Result<Message> {
        if !self.store.update_message(ws, m, self.now()).await? {
            let now = self.store.message(ws, m.id).await?.map_or(MessageState::Sending, |x| x.state);
            return Err(refused(Refused::WrongState(now)));
        }
        self.publish(Event::MessageChanged { workspace: ws, message: m.id });
        self.find_message(ws, m.id).await
    }

    /// Schedules a draft (or moves a scheduled message) to `at`, in UNIX seconds.
    ///
    /// # Errors
    /// A message without an audience, sent or stopped, or a database failure.
    pub async fn schedule_message(&self, ws: &Workspace, id: i64, at: i64) -> Result<Message> {
        let mut m = self.find_message(ws.id, id).await?;
        m.state = transition(m.state, m.channel, MessageAction::Schedule).map_err(transition_error)?;
        if m.audience.is_null() {
            return Err(no_audience("scheduling"));
        }
        no_subject(m.channel, m.subject.as_deref(), "scheduling")?;
        self.can_send_email(ws, m.channel)?;
        m.scheduled_at = Some(at);
        self.save(ws.id, &m).await
    }

    /// Turns a scheduled message back into a draft.
    ///
    /// # Errors
    /// A message that is not scheduled, or a database failure.
    pub async fn unschedule_message(&self, ws: &Workspace, id: i64) -> Result<Message> {
        let mut m = self.find_message(ws.id, id).await?;
        m.state = transition(m.state, m.channel, MessageAction::Unschedule).map_err(transition_error)?;
        m.scheduled_at = None;
        self.save(ws.id, &m).await
    }

    /// Sends a draft or scheduled message now.
    ///
    /// # Errors
    /// As [`Engine::send_message`].
    pub async fn send_message_by_id(&self, ws: &Workspace, id: i64) -> Result<Message> {
        let m = self.find_message(ws.id, id).await?;
        transition(m.state, m.channel, MessageAction::Send).map_err(transition_error)?;
        if !m.audience.is_null() {
            self.refuse_empty(ws, &m.audience).await?;
        }
        self.send_message(ws, m).await
    }

    /// A teammate's send to nobody is refused: it would be recorded as sent and reach no one,
    /// which is never what was meant. (A scheduled message whose audience emptied meanwhile is
    /// still sent by the scheduler, to record that it went to nobody.)
    async fn refuse_empty(&self, ws: &Workspace, audience: &Json) -> Result<()> {
        if self.count_audience(ws, audience).await? == 0 {
            return Err(EngineError::invalid(
                "audience",
                "Nobody matches this audience now: a message to 0 recipients is not sent; change the audience",
            ));
        }
        Ok(())
    }

    /// Sends a draft or scheduled message now: resolves its audience there and then and writes
    /// the snapshot (one pending delivery per recipient) in one unit of work, then says so on the
    /// bus, from which every node delivers it to the Messengers open there. A chat to one chosen
    /// contact (`audience.conversation`) opens its conversation.
    ///
    /// # Errors
    /// A message that was sent or stopped or has no audience, an audience that no longer
    /// resolves, or a database failure.
    pub async fn send_message(&self, ws: &Workspace, m: Message) -> Result<Message> {
        transition(m.state, m.channel, MessageAction::Send).map_err(transition_error)?;
        if m.audience.is_null() {
            return Err(no_audience("sending"));
        }
        no_subject(m.channel, m.subject.as_deref(), "sending")?;
        self.can_send_email(ws, m.channel)?;
        let to = self.resolve_audience(ws, &Audience::parse(&m.audience, "audience")?, "audience").await?;
        let now = self.now();
        let due = match &m.delivery_window {
            Some(w) => self.due_at(ws, m.channel, w, now).await?,
            None => None,
        };
        let waits = due.as_ref().is_some_and(|d| d.default > now && d.by_zone.is_empty());
        let recipients =
            Recipients { pred: to.pred.as_ref(), contact_ids: to.contact_ids.as_deref(), due: due.as_ref() };
        let sent = self.store.send_message(ws.id, m.id, recipients, now).await?.map_err(refused)?;
        tracing::info!(message = sent.id, targeted = sent.targeted, "manual message sent");
        // A chat waiting for its window opens its conversation when the window opens.
        if sent.channel == Channel::Chat && sent.targeted == 1 && to.conversation && !waits {
            // The send has committed: a failure here must not report it as failed. The contact's
            // first reply opens the conversation anyway.
            if let Err(e) = self.open_conversation_of(ws, &sent).await {
                tracing::warn!(message = sent.id, error = %e, "could not open the conversation of a one-contact chat");
            }
        }
        self.publish(Event::MessageSent {
            workspace: ws.id,
            message: sent.id,
            channel: sent.channel,
            targeted: sent.targeted,
        });
        if sent.channel == Channel::Email {
            self.wake_outbox();
        }
        Ok(sent)
    }

    /// The conversation of a chat sent to one contact, opened with the message as its first part.
    pub(crate) async fn open_conversation_of(&self, ws: &Workspace, sent: &Message) -> Result<Option<Conversation>> {
        let (contacts, _) = self.store.message_recipients(ws.id, sent.id, StatFilter::Targeted, 0, 1).await?;
        let Some(contact) = contacts.first() else { return Ok(None) };
        self.conversation_for_message(ws, contact, sent).await.map(Some)
    }

    /// Stops an in-app or email message, scheduled or sending: no contact who has not received
    /// it will (an email already handed to the mail server goes on). Every delivery still
    /// pending is cancelled, one waiting for its delivery window, the rate limit or a retry
    /// included; the stats keep what went out before.
    ///
    /// # Errors
    /// A message that is not sending or not in-app, or a database failure.
    pub async fn stop_message(&self, ws: &Workspace, id: i64) -> Result<Message> {
        let m = self.find_message(ws.id, id).await?;
        transition(m.state, m.channel, MessageAction::Stop).map_err(transition_error)?;
        let (stopped, cancelled) = self.store.stop_message(ws.id, m.id, self.now()).await?.map_err(refused)?;
        tracing::info!(message = stopped.id, cancelled, "manual message stopped");
        self.publish(Event::MessageStopped { workspace: ws.id, message: stopped.id, cancelled });
        Ok(stopped)
    }

    /// A new draft of the same message to everyone it targeted who has not received it.
    ///
    /// # Errors
    /// A message that was never sent, or a database failure.
    pub async fn follow_up(&self, ws: &Workspace, id: i64) -> Result<Message> {
        let m = self.find_message(ws.id, id).await?;
        if m.sent_at.is_none() {
            return Err(EngineError::conflict(
                "message_not_sent",
                "Only a message that was sent has people who did not receive it",
            ));
        }
        let audience = json!({"query": {"operator": "AND", "value": [
            {"field": "targeted_by_message", "operator": "=", "value": m.id},
            {"field": "received_message", "operator": "!=", "value": m.id},
        ]}});
        let new = NewMessage {
            title: format!("{} (to those who did not receive it)", m.title),
            sender_id: m.sender_id,
            channel: m.channel,
            subject: m.subject.clone(),
            body: m.body.clone(),
            template: m.template,
            delivery_window: m.delivery_window,
            audience,
            state: MessageState::Draft,
            scheduled_at: None,
        };
        let draft = self.store.create_message(ws.id, new, self.now()).await?;
        self.publish(Event::MessageChanged { workspace: ws.id, message: draft.id });
        Ok(draft)
    }

    /// A chat (or, with `email`, an email in that template) from `sender` to one contact, sent
    /// at once (Intercom's `POST /messages`), with its conversation opened when
    /// `open_conversation`.
    ///
    /// # Errors
    /// A wrong body or subject, email not set up, or a database failure.
    #[allow(clippy::too_many_arguments)]
    pub async fn message_contact(
        &self,
        ws: &Workspace,
        sender: i64,
        contact: &Contact,
        body: &str,
        subject: Option<&str>,
        email: Option<EmailTemplate>,
        open_conversation: bool,
    ) -> Result<(Message, Option<Conversation>)> {
        let input = MessageInput {
            title: None,
            channel: Some(if email.is_some() { Channel::Email } else { Channel::Chat }),
            template: email,
            delivery_window: None,
            subject: Some(subject.map(str::to_owned)),
            body: Some(body.to_owned()),
            audience: Some(Audience::one(contact.id, open_conversation)),
            sender_id: Some(sender),
        };
        let sent = self.create_message(ws, sender, input, Then::Send).await?;
        let conversation = if open_conversation {
            self.store.conversations_of_message(ws.id, sent.id).await?.into_iter().next()
        } else {
            None
        };
        Ok((sent, conversation))
    }
}

/// A title from the body's first words, for a message its teammate did not name: tags read as
/// their fallbacks or their attributes' labels, so a list never shows `{{first_name}}`.
fn derived_title(body: &str, custom: &[tidings_core::attribute::CustomAttribute]) -> String {
    let line = body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("Untitled");
    // Markdown's leading marks (a heading, a quote, a list item) are not words.
    let line = line.trim_start_matches(['#', '>', '-', '*', ' ']);
    // A tag that opens on this line and closes on a later one cannot be read alone: drop braces.
    let words = Template::parse(line, custom, "body")
        .map_or_else(|_| line.replace(['{', '}'], ""), |t| t.render_placeholders(custom));
    let title: String = words.trim().chars().take(60).collect();
    if title.trim().is_empty() { "Untitled".to_owned() } else { title }
}
