//! A contact's email back to a reply email, received whole (as a mail server's pipe hands it
//! on): it continues their conversation as their own words.
//!
//! The conversation is the one its signed reply address names (`…+r{conversation}.{tag}@…`, in
//! the address it came to, then its `To`, `Cc` and `Delivered-To`), or, when a mail system
//! rewrote the address, the one the Message-ID it answers names (`In-Reply-To`, `References`).
//! A name whose tag does not verify is not ours, so nobody logs in to send one: the signature
//! is the proof, as for the links in emails. The sender must be the conversation's contact (the
//! `From` address is theirs); automatic replies are not words. The text part (or the HTML part,
//! as text) is read without what it quotes ([`super::quotes`]), and the email is added once per
//! Message-ID, however many times a mail server hands it on.

use mail_parser::MessageParser;
use sha2::{Digest, Sha256};
use tidings_core::contact::Contact;
use tidings_store::{Conversation, Workspace};

use super::links::verify_conversation_tag;
use super::plain::html_text;
use super::quotes::{cut_html_quote, new_words};
use crate::Engine;
use crate::conversations::ReplyTo;
use crate::error::{EngineError, Result};

/// What an email received from a contact did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    /// Its new words were added to the conversation as the contact's part.
    Added { conversation: i64, part: i64 },
    /// About a conversation of ours, but not added, and why (an automatic reply, another
    /// sender, nothing but quoted text, already added).
    Ignored { why: String },
    /// No conversation of this server is named by a valid signature.
    NotOurs,
}

/// A conversation named in an address or a Message-ID, before its tag is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub conversation: i64,
    pub tag: String,
}

/// Every `r{conversation}.{16 hex}` and `r{conversation}.p{part}.{16 hex}` in `text`, in order.
pub fn named_conversations(text: &str) -> Vec<Named> {
    let b = text.as_bytes();
    let digits = |mut i: usize| {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        (i > start && i - start <= 18).then_some((start, i))
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let at_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if (b[i] == b'r' || b[i] == b'R')
            && at_word
            && let Some((cs, ce)) = digits(i + 1)
            && b.get(ce) == Some(&b'.')
        {
            // An optional `p{part}.` between the conversation and the tag.
            let mut t = ce + 1;
            if matches!(b.get(t), Some(b'p' | b'P'))
                && let Some((_, pe)) = digits(t + 1)
                && b.get(pe) == Some(&b'.')
            {
                t = pe + 1;
            }
            if let Some(tag) = text.get(t..t + 16)
                && tag.bytes().all(|c| c.is_ascii_hexdigit())
                && !b.get(t + 16).is_some_and(u8::is_ascii_alphanumeric)
            {
                found.push(Named { conversation: text[cs..ce].parse().unwrap_or(0), tag: tag.to_ascii_lowercase() });
                i = t + 16;
                continue;
            }
        }
        i += 1;
    }
    found
}

/// Why an email is an automatic reply (RFC 3834's `Auto-Submitted`, and what common responders
/// and list servers set instead), if it is one.
fn automatic(headers: &[(String, String)]) -> Option<&'static str> {
    let value = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim().to_ascii_lowercase());
    if value("auto-submitted").is_some_and(|v| v != "no") {
        return Some("an automatic reply (Auto-Submitted)");
    }
    if value("precedence").is_some_and(|v| ["bulk", "junk", "list", "auto_reply"].iter().any(|p| v.contains(p))) {
        return Some("an automatic or bulk email (Precedence)");
    }
    if value("x-autoreply").is_some() || value("x-autorespond").is_some() {
        return Some("an automatic reply (X-Autoreply)");
    }
    if value("content-type").is_some_and(|v| v.starts_with("multipart/report")) {
        return Some("a delivery or feedback report (send those to /email/reports)");
    }
    None
}

/// The key that makes an email's words be added once: its Message-ID, or a hash of the whole
/// email when it has none (or one too long to keep).
fn received_key(message_id: Option<&str>, raw: &[u8]) -> String {
    match message_id.map(str::trim).filter(|m| !m.is_empty() && m.len() <= 250) {
        Some(id) => id.to_owned(),
        None => {
            let digest = Sha256::digest(raw);
            format!("sha256:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    }
}

impl Engine {
    /// The conversation of a valid name among `names`, with its workspace.
    async fn named(&self, names: &[Named]) -> Result<Option<(Workspace, Conversation)>> {
        for n in names {
            let Some(c) = self.store.conversation_anywhere(n.conversation).await? else { continue };
            let Some(ws) = self.store.workspace(c.workspace_id).await? else { continue };
            if verify_conversation_tag(&ws.email.secret, ws.id, c.id, &n.tag) {
                return Ok(Some((ws, c)));
            }
        }
        Ok(None)
    }

    /// An email a contact sent back to a reply email, whole, with the address it was sent to
    /// when known: its new words continue their conversation (reopening it if closed), once.
    ///
    /// # Errors
    /// A database failure (the mail server should hand the email on again later).
    pub async fn email_reply(&self, raw: &[u8], recipient: Option<&str>) -> Result<Received> {
        let mut names = recipient.map(named_conversations).unwrap_or_default();
        let Some(email) = MessageParser::default().parse(raw) else {
            return Ok(match self.named(&names).await? {
                Some(_) => Received::Ignored { why: "not an email".into() },
                None => Received::NotOurs,
            });
        };
        let headers: Vec<(String, String)> =
            email.headers_raw().map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned())).collect();
        let of = |names: &[&str]| -> String {
            headers
                .iter()
                .filter(|(n, _)| names.contains(&n.as_str()))
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        // The address it came to names the conversation best; a Message-ID it answers next.
        names.extend(named_conversations(&of(&["to", "cc", "delivered-to", "x-original-to"])));
        names.extend(named_conversations(&of(&["in-reply-to", "references"])));
        let Some((ws, conversation)) = self.named(&names).await? else { return Ok(Received::NotOurs) };
        let ignored = |why: String| {
            tracing::info!(workspace = ws.id, conversation = conversation.id, why, "an email reply was ignored");
            Ok(Received::Ignored { why })
        };
        if let Some(why) = automatic(&headers) {
            return ignored(why.into());
        }
        let from = email.from().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or("").trim().to_owned();
        let contact: Option<Contact> = self.store.contact(ws.id, conversation.contact_id).await?;
        let Some(contact) = contact
            .filter(|c| c.email.as_deref().is_some_and(|e| !from.is_empty() && e.trim().eq_ignore_ascii_case(&from)))
        else {
            return ignored(format!("sent from {from:?}, not the address of the conversation's contact"));
        };
        let words = new_words(&body_text(&email));
        if words.trim().is_empty() {
            return ignored("no new words: the email only quotes the conversation".into());
        }
        let key = received_key(email.message_id(), raw);
        match self.contact_replies_once(&ws, &contact, ReplyTo::Conversation(conversation.id), &words, Some(&key)).await
        {
            Ok(Some((c, part))) => {
                tracing::info!(workspace = ws.id, conversation = c.id, part = part.id, "a contact replied by email");
                Ok(Received::Added { conversation: c.id, part: part.id })
            }
            Ok(None) => ignored("already added: the same email (Message-ID) was received before".into()),
            // Too many words, say: the email is refused for good, a retry would not change it.
            Err(EngineError::Invalid(e)) => ignored(e.to_string()),
            Err(e) => Err(e),
        }
    }
}

/// The text an email's reader sees: its text part, or its HTML part (cut before what it quotes)
/// as text.
fn body_text(email: &mail_parser::Message<'_>) -> String {
    if let Some(text) = email.text_bodies().find(|p| !p.is_text_html()).and_then(|p| p.text_contents()) {
        return text.to_owned();
    }
    match email.html_bodies().next().and_then(|p| p.text_contents()) {
        Some(html) => html_text(cut_html_quote(html)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_are_named_in_addresses_and_message_ids() {
        let t = "replies+r12.00112233aabbccdd@mail.acme.test, <r9.p44.FFEEDDCCBBAA9988@acme.test>";
        let n = named_conversations(t);
        assert_eq!(n.len(), 2);
        assert_eq!((n[0].conversation, n[0].tag.as_str()), (12, "00112233aabbccdd"));
        assert_eq!((n[1].conversation, n[1].tag.as_str()), (9, "ffeeddccbbaa9988"), "any case");
        assert!(named_conversations("r12.0011").is_empty(), "a short tag");
        assert!(named_conversations("bar12.00112233aabbccdd").is_empty(), "inside a word");
        assert!(named_conversations("r12.00112233aabbccddee").is_empty(), "a longer tag");
        assert!(named_conversations("d12.m3.00112233aabbccdd").is_empty(), "a delivery's reference");
    }

    #[test]
    fn automatic_replies_are_recognised() {
        let h = |n: &str, v: &str| vec![(n.to_owned(), v.to_owned())];
        assert!(automatic(&h("auto-submitted", "auto-replied")).is_some());
        assert!(automatic(&h("auto-submitted", "no")).is_none());
        assert!(automatic(&h("precedence", "bulk")).is_some());
        assert!(automatic(&h("x-autoreply", "yes")).is_some());
        assert!(automatic(&h("subject", "Re: help")).is_none());
    }

    #[test]
    fn the_text_part_is_read_and_html_alone_is_turned_into_text() {
        let both = "From: a@b.test\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n\
                    Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                    Merci, =E7a marche\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>HTML</p>\r\n--x--\r\n";
        let email = MessageParser::default().parse(both).unwrap();
        assert_eq!(body_text(&email).trim(), "Merci, ça marche");
        let html = "From: a@b.test\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                    PGRpdj5ZZXMhPC9kaXY+PGJsb2NrcXVvdGU+b2xkPC9ibG9ja3F1b3RlPg==\r\n";
        let email = MessageParser::default().parse(html).unwrap();
        assert_eq!(body_text(&email), "Yes!", "the quote in the HTML is cut");
        assert_eq!(received_key(Some("abc@x"), b"raw"), "abc@x");
        assert!(received_key(None, b"raw").starts_with("sha256:"));
    }
}
