//! One email to one contact, as multipart MIME: a plain-text part and an HTML part, with the
//! headers a well-formed bulk email carries.

use lettre::Address;
use lettre::address::Envelope;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::Dkim;

/// An email rendered for one contact, ready to become MIME.
#[derive(Clone, Debug)]
pub struct Letter {
    /// The teammate's name.
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub to_name: Option<String>,
    pub to_address: String,
    pub subject: String,
    pub text: String,
    /// A whole HTML document, its CSS inlined.
    pub html: String,
    /// Without the angle brackets: `d42.m7.3f9a…@example.com`. The same on every attempt of one
    /// delivery, so a receiver can tell a retry from a new email.
    pub message_id: String,
    /// Message-IDs (without angle brackets) of the thread this letter continues, oldest first:
    /// written as `References`, the last also as `In-Reply-To`, so mail clients show the
    /// letters of one conversation together.
    pub references: Vec<String>,
    /// The one-click unsubscribe address (RFC 8058).
    pub unsubscribe_url: Option<String>,
    /// The envelope sender (`MAIL FROM`), where bounces go; the sender address when `None`.
    pub return_path: Option<String>,
    /// `Feedback-ID`, for mailbox providers' complaint loops.
    pub feedback_id: Option<String>,
    /// Signs the email when set.
    pub dkim: Option<Dkim>,
}

/// Why a letter cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum LetterError {
    #[error("{which} address {address:?} is not a valid email address")]
    Address { which: &'static str, address: String },
    #[error("the email could not be built: {0}")]
    Build(String),
}

fn address(which: &'static str, a: &str) -> Result<Address, LetterError> {
    a.trim().parse().map_err(|_| LetterError::Address { which, address: a.to_owned() })
}

impl Letter {
    /// The envelope and the message as bytes.
    ///
    /// # Errors
    /// An address that is not one (the recipient's is the usual case), or a header value that
    /// cannot be written.
    pub fn to_mime(&self) -> Result<(Envelope, Vec<u8>), LetterError> {
        let from = address("sender", &self.from_address)?;
        let to = address("recipient", &self.to_address)?;
        let return_path = match &self.return_path {
            Some(r) => address("return path", r)?,
            None => from.clone(),
        };
        let mut b = lettre::Message::builder()
            .from(Mailbox::new(Some(self.from_name.clone()), from))
            .to(Mailbox::new(self.to_name.clone(), to.clone()))
            .subject(self.subject.clone())
            .message_id(Some(format!("<{}>", self.message_id)))
            .date_now();
        if let Some(last) = self.references.last() {
            let all: Vec<String> = self.references.iter().map(|r| format!("<{r}>")).collect();
            b = b.in_reply_to(format!("<{last}>")).references(all.join(" "));
        }
        if let Some(r) = &self.reply_to {
            b = b.reply_to(Mailbox::new(None, address("reply-to", r)?));
        }
        if let Some(url) = &self.unsubscribe_url {
            b = b
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_owned(),
                ));
        }
        if let Some(id) = &self.feedback_id {
            b = b.raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Feedback-ID"), id.clone()));
        }
        let envelope = Envelope::new(Some(return_path), vec![to]).map_err(|e| LetterError::Build(e.to_string()))?;
        let mut message = b
            .envelope(envelope.clone())
            .multipart(MultiPart::alternative_plain_html(self.text.clone(), self.html.clone()))
            .map_err(|e| LetterError::Build(e.to_string()))?;
        if let Some(dkim) = &self.dkim {
            message.sign(dkim.config());
        }
        Ok((envelope, message.formatted()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter() -> Letter {
        Letter {
            from_name: "Ann Teammate".into(),
            from_address: "hello@acme.test".into(),
            reply_to: Some("support@acme.test".into()),
            to_name: Some("Bob".into()),
            to_address: "bob@example.test".into(),
            subject: "Your plan, Bob".into(),
            text: "Hi Bob".into(),
            html: "<html><body><p>Hi Bob</p></body></html>".into(),
            message_id: "d1.m2.abc@acme.test".into(),
            references: Vec::new(),
            unsubscribe_url: Some("https://tidings.test/email/unsubscribe/tok".into()),
            return_path: None,
            feedback_id: Some("m2:w1:tidings".into()),
            dkim: None,
        }
    }

    #[test]
    fn a_letter_is_multipart_with_its_headers() {
        let (envelope, bytes) = letter().to_mime().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        for needle in [
            "Message-ID: <d1.m2.abc@acme.test>",
            "List-Unsubscribe: <https://tidings.test/email/unsubscribe/tok>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            "Reply-To: support@acme.test",
            "multipart/alternative",
            "text/plain",
            "text/html",
            "From: \"Ann Teammate\" <hello@acme.test>",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        assert_eq!(envelope.to().len(), 1);
        assert_eq!(envelope.from().map(ToString::to_string).as_deref(), Some("hello@acme.test"));
    }

    #[test]
    fn a_letter_in_a_thread_names_it() {
        let mut l = letter();
        l.references = vec!["r7.00aa@acme.test".into(), "r7.p9.00aa@acme.test".into()];
        let (_, bytes) = l.to_mime().unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("In-Reply-To: <r7.p9.00aa@acme.test>"), "{text}");
        assert!(text.contains("References: <r7.00aa@acme.test> <r7.p9.00aa@acme.test>"), "{text}");
        assert!(!letter().to_mime().map(|(_, b)| String::from_utf8(b).unwrap()).unwrap().contains("References"));
    }

    #[test]
    fn a_bad_recipient_is_named() {
        let mut l = letter();
        l.to_address = "not an address".into();
        let e = l.to_mime().unwrap_err();
        assert!(e.to_string().contains("recipient"), "{e}");
    }
}
