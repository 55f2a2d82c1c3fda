//! Message bodies: Markdown with styling (bold, italic, links, lists, headings, images, buttons),
//! rendered to HTML that is safe by construction, and personalised per contact.
//!
//! The renderer writes every tag itself from the parser's events: raw HTML in the Markdown is
//! shown as text, never passed through, and links and images accept only `http`, `https` and
//! `mailto` addresses. A button is a link titled "button": `[Upgrade](https://… "button")`.
//! Behind it stands a maintained sanitiser (`ammonia`) with the same allow-list ([`allowed`]), so
//! a mistake in the renderer is not a hole.
//!
//! Personalisation tags (`{{first_name | fallback: "there"}}`) are parsed from the Markdown
//! first and swapped for placeholders, so Markdown never mangles them; the rendered HTML then
//! becomes a [`Template`] whose values are escaped for each contact. A placeholder is made of
//! two private-use characters around a number. The author's own text may hold those characters
//! too, so every one of them is held aside behind a placeholder of its own: in the text the
//! renderer reads, those characters only ever open and close Tidings' placeholders.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

use crate::attribute::CustomAttribute;
use crate::contact::Contact;
use crate::error::FieldError;
use crate::personalise::{Piece, Template, escape_html};

/// Everything a rendered body may hold. The renderer writes only these, and the sanitiser
/// behind it lets nothing else through.
pub mod allowed {
    /// Elements, each with the attributes it may carry (`class` and `rel` apart).
    pub const ELEMENTS: &[(&str, &[&str])] = &[
        ("p", &[]),
        ("h1", &[]),
        ("h2", &[]),
        ("h3", &[]),
        ("h4", &[]),
        ("h5", &[]),
        ("h6", &[]),
        ("blockquote", &[]),
        ("pre", &[]),
        ("code", &[]),
        ("ol", &["start"]),
        ("ul", &[]),
        ("li", &[]),
        ("em", &[]),
        ("strong", &[]),
        ("del", &[]),
        ("a", &["href", "target"]),
        ("img", &["src", "alt"]),
        ("br", &[]),
        ("hr", &[]),
    ];
    /// The classes an element may carry: a button is a link with this class.
    pub const CLASSES: &[(&str, &[&str])] = &[("a", &["tidings-button"])];
    /// Every link gets this `rel`.
    pub const LINK_REL: &str = "noopener noreferrer";
    /// The schemes a link or image address may use.
    pub const SCHEMES: &[&str] = &["http", "https", "mailto"];
    /// How an allowed address starts (the renderer's own check, before the sanitiser's).
    pub const URL_PREFIXES: &[&str] = &["https://", "http://", "mailto:"];
    /// What Tidings writes in place of an address that personalisation made unsafe.
    pub const NEUTRAL_HREF: &str = "#";
    pub const NEUTRAL_SRC: &str = "";

    /// Whether `url` (as a browser reads it, entities decoded) starts with an allowed prefix.
    pub fn url_ok(url: &str) -> bool {
        let lower = url.trim_start().to_ascii_lowercase();
        URL_PREFIXES.iter().any(|p| lower.starts_with(p))
    }
}

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
        let (protected, held) = protect(markdown);
        let html = sanitise(&render_html(&protected, &held));
        // The templates are built from the placeholders, never by reading the rendered text for
        // `{{`: braces the author wrote (`{\{`, or in code) stay text.
        Ok(Body {
            markdown: markdown.to_owned(),
            html: Template::from_pieces(pieces(&html, &held, Out::Html), custom, field)?,
            text: Template::from_pieces(pieces(&render_text(&protected), &held, Out::Text), custom, field)?,
        })
    }

    pub fn html_for(&self, contact: &Contact) -> String {
        let html = self.html.render_html(contact);
        if self.html.is_personalised() { neutralise_urls(html) } else { html }
    }

    pub fn text_for(&self, contact: &Contact) -> String {
        self.text.render_text(contact)
    }

    pub fn is_personalised(&self) -> bool {
        self.html.is_personalised()
    }
}

/// Replaces every link or image address that personalisation turned into anything but an
/// allowed one (an attribute holding `javascript:…`). The renderer checks the addresses the
/// author wrote; this checks what a contact's attributes put there.
///
/// It reads the tags as the sanitiser wrote them (`<name attr="value" …>`): every `<` in the
/// HTML opens a tag, as text and personalised values have theirs escaped, while a `>` or an
/// `href="` may stand in text or inside a value.
fn neutralise_urls(html: String) -> String {
    if !html.contains("href=\"") && !html.contains("src=\"") {
        return html;
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html.as_str();
    while let Some(lt) = rest.find('<') {
        let name_end = lt + rest[lt..].find([' ', '>']).unwrap_or(rest.len() - lt);
        out.push_str(&rest[..name_end]);
        rest = &rest[name_end..];
        while let Some(attr) = rest.strip_prefix(' ') {
            let Some((name, after)) = attr.split_once("=\"") else { break };
            let end = after.find('"').unwrap_or(after.len());
            let value = &after[..end];
            let neutral = match name {
                "href" => Some(allowed::NEUTRAL_HREF),
                "src" => Some(allowed::NEUTRAL_SRC),
                _ => None,
            };
            out.push_str(&format!(" {name}=\""));
            match neutral {
                Some(n) if !allowed::url_ok(&unescape_html(value)) => out.push_str(n),
                _ => out.push_str(value),
            }
            rest = &after[end..];
            if let Some(r) = rest.strip_prefix('"') {
                out.push('"');
                rest = r;
            }
        }
    }
    out.push_str(rest);
    out
}

fn unescape_html(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// What a placeholder stands for.
#[derive(Clone, Debug, PartialEq)]
enum Held {
    /// A personalisation tag, as the author wrote it.
    Tag(String),
    /// One of the placeholder characters, written by the author.
    Char(char),
}

/// Replaces each `{{ … }}`, and each placeholder character of the author's, with a placeholder
/// that Markdown leaves alone.
fn protect(markdown: &str) -> (String, Vec<Held>) {
    let mut out = String::with_capacity(markdown.len());
    let mut held = Vec::new();
    let mut hold = |out: &mut String, h: Held| {
        out.push(OPEN);
        out.push_str(&held.len().to_string());
        out.push(CLOSE);
        held.push(h);
    };
    let mut rest = markdown;
    while let Some(ch) = rest.chars().next() {
        if rest.starts_with("{{")
            && let Some(close) = rest.find("}}")
        {
            hold(&mut out, Held::Tag(rest[..close + 2].to_owned()));
            rest = &rest[close + 2..];
            continue;
        }
        if ch == OPEN || ch == CLOSE {
            hold(&mut out, Held::Char(ch));
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    (out, held)
}

/// What kind of output a placeholder goes back into.
#[derive(Clone, Copy, PartialEq)]
enum Out {
    Html,
    Text,
}

/// The placeholder at the start of `s`, and its length.
fn placeholder(s: &str, held: &[Held]) -> Option<(usize, usize)> {
    let after = s.strip_prefix(OPEN)?;
    let close = after.find(CLOSE)?;
    let n = after[..close].parse::<usize>().ok().filter(|n| *n < held.len())?;
    Some((n, OPEN.len_utf8() + close + CLOSE.len_utf8()))
}

/// The rendered text with its placeholders put back: the author's tags as tags (as they wrote
/// them; `&quot;` would break a fallback), their placeholder characters as text.
fn pieces(rendered: &str, held: &[Held], out_kind: Out) -> Vec<Piece> {
    let char_text = |c: char| match out_kind {
        Out::Text => c.to_string(),
        Out::Html => format!("&#x{:X};", u32::from(c)),
    };
    let mut out = Vec::new();
    let mut text = String::with_capacity(rendered.len());
    let mut rest = rendered;
    while let Some(open) = rest.find(OPEN) {
        text.push_str(&rest[..open]);
        rest = &rest[open..];
        match placeholder(rest, held) {
            Some((n, len)) => {
                match &held[n] {
                    Held::Tag(t) => {
                        out.push(Piece::Text(std::mem::take(&mut text)));
                        out.push(Piece::Tag(t.clone()));
                    }
                    Held::Char(c) => text.push_str(&char_text(*c)),
                }
                rest = &rest[len..];
            }
            // Not one of ours (it cannot be: `protect` held every such character). Kept as a
            // character, never dropped, so nothing around it changes meaning.
            None => {
                text.push_str(&char_text(OPEN));
                rest = &rest[OPEN.len_utf8()..];
            }
        }
    }
    text.push_str(rest);
    out.push(Piece::Text(text));
    out
}

/// The rendered text with its placeholders put back, as one string.
fn restore(rendered: &str, held: &[Held], out_kind: Out) -> String {
    pieces(rendered, held, out_kind)
        .into_iter()
        .map(|p| match p {
            Piece::Text(t) | Piece::Tag(t) => t,
        })
        .collect()
}

/// The address as HTML, if it may be used: an allowed one, or one that starts with a
/// personalisation tag (checked for each contact once filled in, by [`neutralise_urls`]).
fn safe_url(url: &str, held: &[Held]) -> Option<String> {
    let u = url.trim();
    let personalised = placeholder(u, held).is_some_and(|(n, _)| matches!(held[n], Held::Tag(_)));
    (personalised || allowed::url_ok(&restore(u, held, Out::Text))).then(|| escape_html(u))
}

/// The second line: the same allow-list, enforced by a maintained HTML sanitiser.
static SANITISER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(allowed::ELEMENTS.iter().map(|(t, _)| *t).collect())
        .tag_attributes(allowed::ELEMENTS.iter().map(|(t, a)| (*t, a.iter().copied().collect())).collect())
        .allowed_classes(allowed::CLASSES.iter().map(|(t, c)| (*t, c.iter().copied().collect())).collect())
        .link_rel(Some(allowed::LINK_REL))
        .url_schemes(allowed::SCHEMES.iter().copied().collect::<HashSet<_>>())
        // The only relative address the renderer lets through is a personalisation placeholder.
        .url_relative(ammonia::UrlRelative::Custom(Box::new(keep_placeholder)))
        .strip_comments(true);
    b
});

fn keep_placeholder(url: &str) -> Option<Cow<'_, str>> {
    url.starts_with(OPEN).then_some(Cow::Borrowed(url))
}

fn sanitise(html: &str) -> String {
    SANITISER.clean(html).to_string()
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

/// Markdown (with placeholders) to safe HTML.
fn render_html(markdown: &str, held: &[Held]) -> String {
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
                Tag::Link { link_type, dest_url, title, .. } => match safe_url(&mailto(link_type, &dest_url), held) {
                    Some(href) => {
                        let class = if title.eq_ignore_ascii_case("button") { " class=\"tidings-button\"" } else { "" };
                        out.push_str(&format!(
                            "<a href=\"{href}\"{class} target=\"_blank\" rel=\"{}\">",
                            allowed::LINK_REL
                        ));
                        open_links.push(true);
                    }
                    None => open_links.push(false),
                },
                Tag::Image { dest_url, .. } => {
                    image = Some((safe_url(&dest_url, held).unwrap_or_default(), String::new()));
                }
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
            Event::Text(t) => out.push_str(&escape_html(&t)),
            Event::Code(t) => out.push_str(&format!("<code>{}</code>", escape_html(&t))),
            // Raw HTML is shown, not obeyed.
            Event::Html(t) | Event::InlineHtml(t) => out.push_str(&escape_html(&t)),
            Event::SoftBreak => out.push('\n'),
            Event::HardBreak => out.push_str("<br>"),
            Event::Rule => out.push_str("<hr>"),
            _ => {}
        }
    }
    out
}

/// An email autolink (`<ann@example.test>`) is a `mailto:` link.
fn mailto<'a>(link_type: LinkType, url: &'a str) -> Cow<'a, str> {
    if link_type == LinkType::Email && !url.to_ascii_lowercase().starts_with("mailto:") {
        Cow::Owned(format!("mailto:{url}"))
    } else {
        Cow::Borrowed(url)
    }
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
mod tests;
