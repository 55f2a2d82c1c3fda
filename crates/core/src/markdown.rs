//! Message bodies: Markdown with styling (bold, italic, links, lists, headings, images, buttons),
//! rendered to HTML that is safe by construction, and personalised per contact.
//!
//! The renderer writes every tag itself from the parser's events: raw HTML in the Markdown is
//! shown as text, never passed through, and links and images accept only `http`, `https` and
//! `mailto` addresses. A button is a link titled "button": `[Upgrade](https://… "button")`.
//!
//! Personalisation tags (`{{first_name | fallback: "there"}}`) are parsed from the Markdown
//! first and swapped for placeholders, so Markdown never mangles them; the rendered HTML then
//! becomes a [`Template`] whose values are escaped for each contact.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::attribute::CustomAttribute;
use crate::contact::Contact;
use crate::error::FieldError;
use crate::personalise::{Template, escape_html};

/// A composed body: HTML and plain-text templates, ready to personalise.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub markdown: String,
    html: Template,
    text: Template,
}

impl Body {
    /// Checks and renders a Markdown body.
    ///
    /// # Errors
    /// An unknown attribute or malformed `{{ … }}` tag, on `field`.
    pub fn compile(markdown: &str, custom: &[CustomAttribute], field: &str) -> Result<Body, FieldError> {
        // Validate the tags against the Markdown source, where the author wrote them.
        Template::parse(markdown, custom, field)?;
        let (protected, tags) = protect(markdown);
        let html = restore(&render_html(&protected), &tags);
        let text = restore(&render_text(&protected), &tags);
        Ok(Body {
            markdown: markdown.to_owned(),
            html: Template::parse(&html, custom, field)?,
            text: Template::parse(&text, custom, field)?,
        })
    }

    pub fn html_for(&self, contact: &Contact) -> String {
        let html = self.html.render_html(contact);
        if self.html.is_personalised() { neutralise_links(html) } else { html }
    }

    pub fn text_for(&self, contact: &Contact) -> String {
        self.text.render_text(contact)
    }

    pub fn is_personalised(&self) -> bool {
        self.html.is_personalised()
    }
}

/// Drops the target of every link whose address personalisation turned into anything but
/// `http`, `https` or `mailto` (an attribute holding `javascript:…`). The renderer checks the
/// addresses the author wrote; this checks what a contact's attributes put there.
fn neutralise_links(html: String) -> String {
    const START: &str = "<a href=\"";
    if !html.contains(START) {
        return html;
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(at) = rest.find(START) {
        let (before, after) = rest.split_at(at + START.len());
        out.push_str(before);
        let end = after.find('"').unwrap_or(after.len());
        let url = unescape_html(&after[..end]).trim_start().to_ascii_lowercase();
        if ["https://", "http://", "mailto:"].iter().any(|s| url.starts_with(s)) {
            out.push_str(&after[..end]);
        } else {
            out.push('#');
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// Replaces each `{{ … }}` with a private-use placeholder that Markdown leaves alone.
fn protect(markdown: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(markdown.len());
    let mut tags = Vec::new();
    let mut rest = markdown;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else { break };
        out.push_str(&rest[..open]);
        out.push(OPEN);
        out.push_str(&tags.len().to_string());
        out.push(CLOSE);
        tags.push(rest[open..open + close + 2].to_owned());
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    (out, tags)
}

fn restore(rendered: &str, tags: &[String]) -> String {
    let mut out = String::with_capacity(rendered.len());
    let mut rest = rendered;
    while let Some(open) = rest.find(OPEN) {
        out.push_str(&rest[..open]);
        let after = &rest[open + OPEN.len_utf8()..];
        match after.find(CLOSE).and_then(|c| after[..c].parse::<usize>().ok().map(|n| (c, n))) {
            Some((c, n)) if n < tags.len() => {
                // The tag goes back as the author wrote it; `&quot;` would break its fallback.
                out.push_str(&tags[n]);
                rest = &after[c + CLOSE.len_utf8()..];
            }
            _ => {
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes `{{` in literal text so only the author's tags are personalised.
fn text_escape(s: &str) -> String {
    escape_html(s).replace("{{", "&#123;&#123;")
}

fn safe_url(url: &str) -> Option<String> {
    let u = url.trim();
    let lower = u.to_ascii_lowercase();
    let allowed = lower.starts_with("https://")
        || lower.starts_with("http://")
        || lower.starts_with("mailto:")
        || u.starts_with(OPEN);
    allowed.then(|| escape_html(u))
}

fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH)
}

fn level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Markdown to safe HTML.
pub fn render_html(markdown: &str) -> String {
    let mut out = String::new();
    // Links whose address was refused render as plain text; remember to skip their `</a>`.
    let mut open_links: Vec<bool> = Vec::new();
    // Inside an image, text events are its alt text.
    let mut image: Option<(String, String)> = None;
    for event in parser(markdown) {
        if let Some((src, alt)) = image.as_mut() {
            match event {
                Event::End(TagEnd::Image) => {
                    if !src.is_empty() {
                        out.push_str(&format!("<img src=\"{src}\" alt=\"{}\">", escape_html(alt)));
                    }
                    image = None;
                }
                Event::Text(t) | Event::Code(t) => alt.push_str(&t),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) => match tag {
                Tag::Paragraph => out.push_str("<p>"),
                Tag::Heading { level: l, .. } => out.push_str(&format!("<h{}>", level(l))),
                Tag::BlockQuote(_) => out.push_str("<blockquote>"),
                Tag::CodeBlock(_) => out.push_str("<pre><code>"),
                Tag::List(Some(start)) if start != 1 => out.push_str(&format!("<ol start=\"{start}\">")),
                Tag::List(Some(_)) => out.push_str("<ol>"),
                Tag::List(None) => out.push_str("<ul>"),
                Tag::Item => out.push_str("<li>"),
                Tag::Emphasis => out.push_str("<em>"),
                Tag::Strong => out.push_str("<strong>"),
                Tag::Strikethrough => out.push_str("<del>"),
                Tag::Link { dest_url, title, .. } => match safe_url(&dest_url) {
                    Some(href) => {
                        let class = if title.eq_ignore_ascii_case("button") { " class=\"tidings-button\"" } else { "" };
                        out.push_str(&format!(
                            "<a href=\"{href}\"{class} target=\"_blank\" rel=\"noopener noreferrer\">"
                        ));
                        open_links.push(true);
                    }
                    None => open_links.push(false),
                },
                Tag::Image { dest_url, .. } => image = Some((safe_url(&dest_url).unwrap_or_default(), String::new())),
                _ => {}
            },
            Event::End(end) => match end {
                TagEnd::Paragraph => out.push_str("</p>"),
                TagEnd::Heading(l) => out.push_str(&format!("</h{}>", level(l))),
                TagEnd::BlockQuote(_) => out.push_str("</blockquote>"),
                TagEnd::CodeBlock => out.push_str("</code></pre>"),
                TagEnd::List(true) => out.push_str("</ol>"),
                TagEnd::List(false) => out.push_str("</ul>"),
                TagEnd::Item => out.push_str("</li>"),
                TagEnd::Emphasis => out.push_str("</em>"),
                TagEnd::Strong => out.push_str("</strong>"),
                TagEnd::Strikethrough => out.push_str("</del>"),
                TagEnd::Link if open_links.pop() == Some(true) => out.push_str("</a>"),
                _ => {}
            },
            Event::Text(t) => out.push_str(&text_escape(&t)),
            Event::Code(t) => out.push_str(&format!("<code>{}</code>", text_escape(&t))),
            // Raw HTML is shown, not obeyed.
            Event::Html(t) | Event::InlineHtml(t) => out.push_str(&text_escape(&t)),
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br>"),
            Event::Rule => out.push_str("<hr>"),
            _ => {}
        }
    }
    out
}

/// Markdown to plain text, for email text parts and notifications.
pub fn render_text(markdown: &str) -> String {
    let mut out = String::new();
    let mut links: Vec<String> = Vec::new();
    for event in parser(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => out.push_str(&t),
            Event::SoftBreak => out.push(' '),
            Event::HardBreak => out.push('\n'),
            Event::Start(Tag::Item) => out.push_str("- "),
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                if let Some(url) = links.pop() {
                    out.push_str(&format!(" ({url})"));
                }
            }
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::CodeBlock | TagEnd::BlockQuote(_),
            ) => out.push('\n'),
            _ => {}
        }
    }
    out.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::Role;

    #[test]
    fn styling_renders_and_raw_html_does_not() {
        let html = render_html(
            "# Hello\n\n**bold** *it* ~~no~~ [site](https://x.test) [Go](https://x.test/a \"button\")\n\n- a\n- b\n\n![cat](https://x.test/c.png)\n\n<script>alert(1)</script> <b onclick=x>b</b>",
        );
        assert!(html.contains("<h1>Hello</h1>"), "{html}");
        assert!(html.contains("<strong>bold</strong> <em>it</em> <del>no</del>"), "{html}");
        assert!(
            html.contains("<a href=\"https://x.test\" target=\"_blank\" rel=\"noopener noreferrer\">site</a>"),
            "{html}"
        );
        assert!(html.contains("class=\"tidings-button\""), "{html}");
        assert!(html.contains("<ul><li>a</li><li>b</li></ul>"), "{html}");
        assert!(html.contains("<img src=\"https://x.test/c.png\" alt=\"cat\">"), "{html}");
        assert!(!html.contains("<script") && html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<b onclick"), "{html}");
    }

    #[test]
    fn dangerous_addresses_are_dropped() {
        let html = render_html("[x](javascript:alert(1)) ![y](data:text/html,boom) [z](JAVASCRIPT:1)");
        assert!(!html.to_ascii_lowercase().contains("javascript") && !html.contains("data:"), "{html}");
        assert!(html.contains('x') && !html.contains("<a"), "{html}");
    }

    #[test]
    fn personalisation_survives_markdown_and_is_escaped() {
        let body = Body::compile(
            "Hi **{{first_name | fallback: \"there\"}}**, [see](https://x.test/?u={{external_id}})",
            &[],
            "body",
        )
        .unwrap();
        let mut c = Contact::new(1, Role::User, 0);
        assert_eq!(
            body.html_for(&c),
            "<p>Hi <strong>there</strong>, <a href=\"https://x.test/?u=\" target=\"_blank\" rel=\"noopener noreferrer\">see</a></p>"
        );
        c.name = Some("<Ada>".into());
        c.external_id = Some("a\"b".into());
        let html = body.html_for(&c);
        assert!(html.contains("<strong>&lt;Ada&gt;</strong>") && html.contains("?u=a&quot;b\""), "{html}");
        assert_eq!(body.text_for(&c), "Hi <Ada>, see (https://x.test/?u=a\"b)");
        assert!(Body::compile("Hi {{nope}}", &[], "body").is_err());
        // A value that looks like a tag is inserted as text, never read as a tag.
        c.name = Some("{{email}}".into());
        c.email = Some("secret@example.test".into());
        assert!(!body.html_for(&c).contains("secret"), "{}", body.html_for(&c));
    }

    #[test]
    fn personalised_links_cannot_become_scripts() {
        let custom = [CustomAttribute::new("site", crate::attribute::DataType::String)];
        let body = Body::compile(
            "[Docs](https://x.test/a?b=1&c=2 \"button\") [Mail](mailto:a@x.test) [Site]({{custom_attributes.site}})",
            &custom,
            "body",
        )
        .unwrap();
        let mut contact = Contact::new(1, Role::User, 1);
        contact.custom_attributes.insert("site".into(), serde_json::json!("javascript:alert(1)"));
        let html = body.html_for(&contact);
        assert!(html.contains("<a href=\"https://x.test/a?b=1&amp;c=2\" class=\"tidings-button\""), "{html}");
        assert!(html.contains("<a href=\"mailto:a@x.test\""), "{html}");
        assert!(html.contains("<a href=\"#\""), "{html}");
        assert!(!html.contains("javascript"), "a personalised link became a script: {html}");
        contact.custom_attributes.insert("site".into(), serde_json::json!("https://ann.example.test"));
        assert!(body.html_for(&contact).contains("<a href=\"https://ann.example.test\""));
    }
}
