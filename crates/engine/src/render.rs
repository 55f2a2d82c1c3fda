//! What a contact reads: a message, or a part of a conversation, rendered for one contact in
//! one place. The HTML is safe to insert: the author's Markdown is rendered by
//! `tidings_core::markdown` (raw HTML escaped, an allow-list behind it), and a contact's own
//! words are escaped.

use tidings_core::attribute::CustomAttribute;
use tidings_core::contact::Contact;
use tidings_core::markdown::Body;
use tidings_core::personalise::{Template, escape_html};
use tidings_core::text;
use tidings_store::Message;

use crate::error::Result;

/// A message compiled once, ready to render for any number of contacts.
#[derive(Clone, Debug)]
pub struct Composed {
    body: Body,
    subject: Option<Template>,
}

/// A message as one contact reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: Option<String>,
    pub html: String,
    pub text: String,
}

impl Composed {
    /// Compiles a message's body and subject against the workspace's custom attributes.
    ///
    /// # Errors
    /// An unknown attribute or a malformed tag, on `body` or `subject`.
    pub fn new(body: &str, subject: Option<&str>, custom: &[CustomAttribute]) -> Result<Composed> {
        let body = Body::compile(body, custom, "body")?;
        let subject = subject.map(|s| Template::parse(s, custom, "subject")).transpose()?;
        Ok(Composed { body, subject })
    }

    /// # Errors
    /// As [`Composed::new`], for a stored message (which was checked when it was saved).
    pub fn of(m: &Message, custom: &[CustomAttribute]) -> Result<Composed> {
        Composed::new(&m.body, m.subject.as_deref(), custom)
    }

    pub fn for_contact(&self, contact: &Contact) -> Rendered {
        Rendered {
            subject: self.subject.as_ref().map(|s| s.render_text(contact)),
            html: self.body.html_for(contact),
            text: self.body.text_for(contact),
        }
    }

    pub fn html_for(&self, contact: &Contact) -> String {
        self.body.html_for(contact)
    }

    /// Whether every contact reads the same thing (then it can be rendered once for all).
    pub fn is_personalised(&self) -> bool {
        self.body.is_personalised() || self.subject.as_ref().is_some_and(Template::is_personalised)
    }
}

/// A contact's own words as HTML: plain text, escaped, paragraphs kept.
///
/// # Errors
/// On `body`, when there are no words or too many (the limit holds for the text as sent).
pub fn contact_words(raw: &str) -> Result<String> {
    text::check("body", raw, text::BODY)?;
    let words = raw.trim();
    if words.is_empty() {
        return Err(crate::EngineError::invalid("body", "Body is required"));
    }
    Ok(words.split("\n\n").map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br>"))).collect())
}

/// A teammate's Markdown as one contact reads it.
///
/// # Errors
/// On `body`, when there are no words, too many, or a tag names no attribute.
pub fn teammate_words(raw: &str, custom: &[CustomAttribute], contact: &Contact) -> Result<String> {
    text::check("body", raw, text::BODY)?;
    let words = raw.trim();
    if words.is_empty() {
        return Err(crate::EngineError::invalid("body", "Body is required"));
    }
    Ok(Body::compile(words, custom, "body")?.html_for(contact))
}

#[cfg(test)]
mod tests {
    use tidings_core::attribute::DataType;
    use tidings_core::contact::Role;

    use super::*;

    #[test]
    fn subjects_are_personalised_with_custom_attributes_too() {
        let custom = [CustomAttribute::new("plan", DataType::String)];
        let composed =
            Composed::new("Hi {{first_name}}", Some("Your {{custom_attributes.plan}} plan"), &custom).unwrap();
        let mut c = Contact::new(1, Role::User, 0);
        c.name = Some("Ada L".into());
        c.custom_attributes.insert("plan".into(), serde_json::json!("pro"));
        let r = composed.for_contact(&c);
        assert_eq!(r.subject.as_deref(), Some("Your pro plan"));
        assert_eq!(r.html, "<p>Hi Ada</p>");
        assert!(composed.is_personalised());
        assert!(!Composed::new("Hello", None, &[]).unwrap().is_personalised());
    }

    #[test]
    fn a_contacts_words_are_escaped_and_must_be_there() {
        assert_eq!(contact_words(" <b>hi</b>\n\nthere ").unwrap(), "<p>&lt;b&gt;hi&lt;/b&gt;</p><p>there</p>");
        assert!(contact_words("   ").is_err());
        assert!(contact_words(&"x".repeat(text::BODY + 1)).is_err());
    }
}
