//! Personalisation: `Hi {{first_name | fallback: "there"}}` in message bodies and subjects.
//!
//! A template is parsed once when a message is composed, so an unknown attribute is an error at
//! compose time, not a blank in a customer's inbox. Rendering fills in one contact's values; in
//! HTML the values are escaped, so an attribute can never inject markup.

use crate::attribute::{CustomAttribute, Value, builtin};
use crate::contact::Contact;
use crate::error::FieldError;

/// Literal text, or a personalisation tag as the author wrote it.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Tag(String),
}

/// A parsed template: literal text and attribute references, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    Text(String),
    Attr { source: Source, fallback: Option<String> },
}

#[derive(Clone, Debug, PartialEq)]
enum Source {
    FirstName,
    LastName,
    BuiltIn(&'static str),
    Custom(String, crate::attribute::DataType),
}

/// Extra names a template may use besides the built-in attributes.
const DERIVED: &[&str] = &["first_name", "last_name"];

impl Template {
    /// Parses `text`, checking every `{{ … }}` against the attributes that exist.
    ///
    /// # Errors
    /// A `FieldError` on `field` naming the unknown attribute or the malformed tag.
    pub fn parse(text: &str, custom: &[CustomAttribute], field: &str) -> Result<Template, FieldError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| FieldError::invalid(field, format!("{field}: a `{{{{` is never closed with `}}}}`")))?;
            parts.push(parse_tag(after[..close].trim(), custom, field)?);
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// Builds a template from literal text and tags already told apart (`{{ … }}` as the author
    /// wrote it): the literal text is never read for tags, whatever braces it holds.
    ///
    /// # Errors
    /// As [`Template::parse`], for a tag.
    pub fn from_pieces(pieces: Vec<Piece>, custom: &[CustomAttribute], field: &str) -> Result<Template, FieldError> {
        let mut parts: Vec<Part> = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) if t.is_empty() => {}
                Piece::Text(t) => match parts.last_mut() {
                    Some(Part::Text(last)) => last.push_str(&t),
                    _ => parts.push(Part::Text(t)),
                },
                Piece::Tag(tag) => {
                    let inner = tag.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")).unwrap_or(&tag);
                    parts.push(parse_tag(inner.trim(), custom, field)?);
                }
            }
        }
        Ok(Template { parts })
    }

    /// Whether the template refers to any attribute (if not, every contact gets the same text).
    pub fn is_personalised(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Attr { .. }))
    }

    /// The text for one contact, values as they are (for plain text such as a subject).
    pub fn render_text(&self, contact: &Contact) -> String {
        self.render(contact, |s| s.to_owned())
    }

    /// The text for one contact with every value HTML-escaped; literal parts are kept as they are
    /// (they are the composer's already-sanitised HTML).
    pub fn render_html(&self, contact: &Contact) -> String {
        self.render(contact, escape_html)
    }

    /// The text with every tag as a reader who knows no contact sees it: its fallback, or the
    /// label of its attribute (`First name`), never the `{{…}}` itself. Used for a title a
    /// teammate did not write, which is shown in lists for every recipient at once.
    pub fn render_placeholders(&self, custom: &[CustomAttribute]) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Attr { fallback: Some(f), .. } => out.push_str(f),
                Part::Attr { source, fallback: None } => out.push_str(&label_of(source, custom)),
            }
        }
        out
    }

    fn render(&self, contact: &Contact, escape: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Attr { source, fallback } => {
                    let value = value_of(source, contact).filter(|v| !v.trim().is_empty());
                    if let Some(v) = value.as_deref().or(fallback.as_deref()) {
                        out.push_str(&escape(v));
                    }
                }
            }
        }
        out
    }
}

fn parse_tag(tag: &str, custom: &[CustomAttribute], field: &str) -> Result<Part, FieldError> {
    let (name, filter) = match tag.split_once('|') {
        Some((n, f)) => (n.trim(), Some(f.trim())),
        None => (tag, None),
    };
    let fallback = match filter {
        None => None,
        Some(f) => {
            let value = f.strip_prefix("fallback:").map(str::trim).ok_or_else(|| {
                FieldError::invalid(
                    field,
                    format!("{field}: unknown filter in {{{{{tag}}}}}: use | fallback: \"text\""),
                )
            })?;
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .ok_or_else(|| {
                    FieldError::invalid(field, format!("{field}: the fallback in {{{{{tag}}}}} must be in quotes"))
                })?;
            Some(unquoted.to_owned())
        }
    };
    let source = match name {
        "first_name" => Source::FirstName,
        "last_name" => Source::LastName,
        _ => {
            if let Some(b) = builtin(name) {
                Source::BuiltIn(b.name)
            } else {
                let custom_name = name.strip_prefix("custom_attributes.").unwrap_or(name);
                let attr = custom.iter().find(|a| a.name == custom_name && !a.archived).ok_or_else(|| {
                    FieldError::invalid(
                        field,
                        format!(
                            "{field}: unknown attribute '{name}' in {{{{{tag}}}}}; use a built-in attribute ({}), or a custom one",
                            DERIVED.join(", ") + ", name, email, …"
                        ),
                    )
                })?;
                Source::Custom(attr.name.clone(), attr.data_type)
            }
        }
    };
    Ok(Part::Attr { source, fallback })
}

fn label_of(source: &Source, custom: &[CustomAttribute]) -> String {
    match source {
        Source::FirstName => "First name".to_owned(),
        Source::LastName => "Last name".to_owned(),
        Source::BuiltIn(name) => builtin(name).map_or_else(|| (*name).to_owned(), |b| b.label.to_owned()),
        Source::Custom(name, _) => {
            custom.iter().find(|a| &a.name == name).map_or_else(|| name.clone(), |a| a.label.clone())
        }
    }
}

fn value_of(source: &Source, c: &Contact) -> Option<String> {
    let show = |v: Value| match v {
        Value::Str(s) => s,
        Value::Int(i) | Value::Date(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
    };
    match source {
        Source::FirstName => c.name.as_deref().and_then(|n| n.split_whitespace().next()).map(str::to_owned),
        Source::LastName => {
            let name = c.name.as_deref()?;
            let mut words = name.split_whitespace();
            words.next()?;
            let rest: Vec<&str> = words.collect();
            (!rest.is_empty()).then(|| rest.join(" "))
        }
        Source::BuiltIn(name) => c.builtin_value(name).map(show),
        Source::Custom(name, data_type) => c.custom_value(name, *data_type).map(show),
    }
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::DataType;
    use crate::contact::Role;

    fn plan() -> CustomAttribute {
        CustomAttribute::new("plan", DataType::String)
    }

    #[test]
    fn fills_values_and_falls_back() {
        let t =
            Template::parse("Hi {{first_name | fallback: \"there\"}}, on {{ plan }} ({{email}})", &[plan()], "body")
                .unwrap();
        let mut c = Contact::new(1, Role::User, 0);
        assert_eq!(t.render_text(&c), "Hi there, on  ()");
        c.name = Some("Ada Lovelace King".into());
        c.email = Some("ada@example.test".into());
        c.custom_attributes.insert("plan".into(), serde_json::json!("pro"));
        assert_eq!(t.render_text(&c), "Hi Ada, on pro (ada@example.test)");
        let last = Template::parse("{{last_name}}", &[], "body").unwrap();
        assert_eq!(last.render_text(&c), "Lovelace King");
    }

    #[test]
    fn placeholders_are_fallbacks_or_labels() {
        let mut plan = plan();
        plan.label = "Plan".into();
        let t = Template::parse(
            "Hi {{first_name | fallback: \"there\"}}, {{last_name}} on {{ custom_attributes.plan }} ({{email}})",
            &[plan.clone()],
            "body",
        )
        .unwrap();
        assert_eq!(t.render_placeholders(&[plan]), "Hi there, Last name on Plan (Email)");
    }

    #[test]
    fn values_are_escaped_in_html() {
        let t = Template::parse("<p>Hi {{name}}</p>", &[], "body").unwrap();
        let mut c = Contact::new(1, Role::User, 0);
        c.name = Some("<script>alert(1)</script>".into());
        assert_eq!(t.render_html(&c), "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>");
    }

    #[test]
    fn unknown_attributes_and_bad_tags_are_errors_at_compose_time() {
        for bad in ["Hi {{frist_name}}", "Hi {{first_name", "{{name | upcase}}", "{{name | fallback: there}}"] {
            let e = Template::parse(bad, &[plan()], "body").unwrap_err();
            assert_eq!(e.field, "body", "{bad}");
        }
        assert!(Template::parse("{{custom_attributes.plan}}", &[plan()], "body").is_ok());
        assert!(!Template::parse("plain text", &[], "body").unwrap().is_personalised());
    }
}
