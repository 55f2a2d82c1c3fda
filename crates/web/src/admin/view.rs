//! What the admin pages share in how they show things: times, contacts, failures.

use axum::response::{IntoResponse, Response};
use tidings_core::contact::Contact;

use crate::error::ApiError;

/// An instant as pages show it: the exact time in the workspace's time zone, and the instant
/// itself for `<time datetime>`, which `common.js` turns into a relative time ("3 days ago")
/// while the exact time stays on hover. Templates draw it with `macros.html`'s `time`; as text
/// (`Display`) it is the exact time alone.
#[derive(Clone, Debug, Default)]
pub(crate) struct When {
    /// RFC 3339 in UTC; empty when there is no instant.
    pub iso: String,
    /// `2026-11-30 08:15`, or `—` when there is no instant.
    pub exact: String,
    /// The exact time with the zone's name, for the hover.
    pub title: String,
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.exact)
    }
}

/// Formats UNIX seconds for people, in the workspace's time zone.
pub(super) fn when(ts: Option<i64>, tz: &str) -> When {
    let Some(ts) = ts else { return When { exact: "—".into(), ..When::default() } };
    let zone = tidings_core::dates::Clock::zone(tz);
    match jiff::Timestamp::from_second(ts) {
        Ok(t) => {
            let exact = t.to_zoned(zone).strftime("%Y-%m-%d %H:%M").to_string();
            When { iso: t.to_string(), title: format!("{exact} ({tz})"), exact }
        }
        Err(_) => When { exact: ts.to_string(), ..When::default() },
    }
}

/// An error as the page's answer.
pub(super) fn fail(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// How a contact is named on pages: their name, else their email, else their id.
pub(super) fn contact_label(c: &Contact) -> String {
    c.name.clone().or_else(|| c.email.clone()).unwrap_or_else(|| format!("Contact {}", c.id))
}

/// Up to two initials of a name, for an avatar without a picture.
pub(super) fn initials(name: &str) -> String {
    let letters: String =
        name.split_whitespace().filter_map(|w| w.chars().find(|c| c.is_alphanumeric())).take(2).collect();
    if letters.is_empty() { "?".into() } else { letters.to_uppercase() }
}

/// The words of HTML that Tidings wrote (escaped text or its Markdown), as plain text on one line,
/// cut to `max` characters: for previews, which the page escapes again.
pub(super) fn plain_text(html: &str, max: usize) -> String {
    let mut text = String::with_capacity(html.len().min(max * 2));
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(ch),
            _ => {}
        }
    }
    let decoded = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let words: Vec<&str> = decoded.split_whitespace().collect();
    let line = words.join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_are_one_line_of_words() {
        assert_eq!(
            plain_text("<p>Hello <strong>Ada</strong> &amp; co</p>\n<p>Bye &lt;3</p>", 100),
            "Hello Ada & co Bye <3"
        );
        assert_eq!(plain_text("<p>abcdef</p>", 4), "abc…");
        assert_eq!(initials("Ada  Lovelace King"), "AL");
        assert_eq!(initials("ada@example.com"), "A");
        assert_eq!(initials(" "), "?");
    }
}
