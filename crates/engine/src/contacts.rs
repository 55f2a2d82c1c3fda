//! Contacts: created, changed, archived, deleted and upserted in bulk by the API, and found or
//! created by the Messenger when a visitor boots it and changed when the page tells it more.
//!
//! Adapters parse a request into a [`ContactInput`] (`ContactInput::parse` checks every field
//! against the workspace's attributes); what happens to the contact then is decided here.

use tidings_core::contact::{Contact, ContactInput, Role};
use tidings_store::{UpsertReport, Workspace};

use crate::Engine;
use crate::bus::Event;
use crate::error::{EngineError, Missing, Result};

/// Who booted the Messenger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visitor {
    /// A user the company vouched for (its `user_id` or email, verified or not required to be):
    /// the contact with that external id, or else that email, or a new user.
    Identified,
    /// An anonymous visitor: the lead of their earlier session (`earlier`, checked by the
    /// caller's session signature), or a new lead.
    Anonymous { earlier: Option<i64> },
}

/// The contact as marking it seen left it (an archived contact is not marked).
fn seen(mut c: Contact, now: i64) -> Contact {
    if !c.archived {
        c.last_seen_at = Some(now);
    }
    c
}

impl Engine {
    /// The contact `id` of the workspace.
    ///
    /// # Errors
    /// A contact not in the workspace, or a database failure.
    pub(crate) async fn contact_by_id(&self, ws: i64, id: i64) -> Result<Contact> {
        self.store.contact(ws, id).await?.ok_or_else(|| EngineError::not_found(Missing::Contact))
    }

    /// Creates a contact (a user unless `input` says otherwise).
    ///
    /// # Errors
    /// An external id or email another contact has (a conflict), or a database failure.
    pub async fn create_contact(&self, ws: &Workspace, input: &ContactInput) -> Result<Contact> {
        let now = self.now();
        let mut contact = Contact::new(ws.id, input.role.unwrap_or(Role::User), now);
        input.apply(&mut contact, now);
        Ok(self.store.insert_contact(&contact).await?)
    }

    /// Applies `input` to the contact `id`, writing only when something changed; returns the
    /// contact as it now is.
    ///
    /// # Errors
    /// A contact not in the workspace, an external id or email another contact has, or a
    /// database failure.
    pub async fn update_contact(&self, ws: &Workspace, id: i64, input: &ContactInput) -> Result<Contact> {
        let mut c = self.contact_by_id(ws.id, id).await?;
        if input.apply(&mut c, self.now()) && !self.store.update_contact(&c).await? {
            return Err(EngineError::not_found(Missing::Contact));
        }
        Ok(c)
    }

    /// Deletes a contact and everything attached to it (its conversations, deliveries and tags);
    /// returns it as it was. The Inbox hears that each of its conversations changed, so a page
    /// that lists one reads it again and finds it gone.
    ///
    /// # Errors
    /// A contact not in the workspace, or a database failure.
    pub async fn delete_contact(&self, ws: &Workspace, id: i64) -> Result<Contact> {
        let c = self.contact_by_id(ws.id, id).await?;
        let conversations = self.store.conversations_of_contact(ws.id, c.id).await?;
        if !self.store.delete_contact(ws.id, c.id).await? {
            return Err(EngineError::not_found(Missing::Contact));
        }
        for conversation in &conversations {
            self.publish(Event::ConversationChanged {
                workspace: ws.id,
                conversation: conversation.id,
                contact: c.id,
                state: conversation.state.into(),
            });
        }
        Ok(c)
    }

    /// Archives a contact (`archived`), or brings it back; returns it as it now is.
    ///
    /// # Errors
    /// A contact not in the workspace, or a database failure.
    pub async fn set_contact_archived(&self, ws: &Workspace, id: i64, archived: bool) -> Result<Contact> {
        let mut c = self.contact_by_id(ws.id, id).await?;
        let now = self.now();
        if !self.store.set_contact_archived(ws.id, c.id, archived, now).await? {
            return Err(EngineError::not_found(Missing::Contact));
        }
        c.archived = archived;
        c.updated_at = now;
        Ok(c)
    }

    /// Creates or updates many contacts at once, each found by its external id or else its
    /// email, in one unit of work; a line the store refuses is reported, by its index in
    /// `inputs`, not an error.
    ///
    /// # Errors
    /// A database failure.
    pub async fn upsert_contacts(&self, ws: &Workspace, inputs: &[ContactInput]) -> Result<UpsertReport> {
        Ok(self.store.upsert_contacts(ws.id, inputs, self.now()).await?)
    }

    /// The contact a Messenger boot stands for, created or updated from what the page said
    /// (`input`), and marked seen now. An identified visitor who was a lead becomes a user; an
    /// anonymous visitor never takes an external id.
    ///
    /// # Errors
    /// An external id or email another contact has, or a database failure.
    pub async fn messenger_boot(&self, ws: &Workspace, visitor: Visitor, input: &ContactInput) -> Result<Contact> {
        let now = self.now();
        let contact = match visitor {
            Visitor::Identified => {
                let existing = match input.external_id.clone().flatten() {
                    Some(ext) => self.store.contact_by_external_id(ws.id, &ext).await?,
                    None => match input.email.clone().flatten() {
                        Some(email) => self.store.user_by_email(ws.id, &email).await?,
                        None => None,
                    },
                };
                match existing {
                    Some(mut c) => {
                        let mut changed = input.apply(&mut c, now);
                        if c.role == Role::Lead {
                            c.role = Role::User;
                            changed = true;
                        }
                        if changed {
                            self.store.update_contact(&c).await?;
                        }
                        c
                    }
                    None => {
                        let mut c = Contact::new(ws.id, Role::User, now);
                        input.apply(&mut c, now);
                        self.store.insert_contact(&c).await?
                    }
                }
            }
            Visitor::Anonymous { earlier } => {
                let found = match earlier {
                    Some(id) => self
                        .store
                        .contact(ws.id, id)
                        .await?
                        .filter(|c| c.role == Role::Lead && c.external_id.is_none() && !c.archived),
                    None => None,
                };
                match found {
                    Some(c) => c,
                    None => {
                        let mut c = Contact::new(ws.id, Role::Lead, now);
                        input.apply(&mut c, now);
                        c.external_id = None;
                        self.store.insert_contact(&c).await?
                    }
                }
            }
        };
        self.store.touch_contacts(ws.id, &[contact.id], now).await?;
        Ok(seen(contact, now))
    }

    /// The Messenger tells more about its contact (`Intercom('update', …)`): applied, except
    /// what identifies them (a user's external id and email cannot be changed from a browser,
    /// nor a lead's external id), and the contact is marked seen now.
    ///
    /// # Errors
    /// An email another contact has, or a database failure.
    pub async fn messenger_update(&self, ws: &Workspace, contact: &Contact, input: ContactInput) -> Result<Contact> {
        let mut input = input;
        input.external_id = None;
        if contact.role == Role::User {
            input.email = None;
        }
        let now = self.now();
        let mut c = contact.clone();
        if input.apply(&mut c, now) {
            self.store.update_contact(&c).await?;
        }
        self.store.touch_contacts(ws.id, &[c.id], now).await?;
        Ok(seen(c, now))
    }
}
