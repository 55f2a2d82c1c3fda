//! HTML as plain text: the text part of a reply email (conversation parts are stored as HTML),
//! and the words of an email that came only as HTML. Blocks become lines, list items get a
//! dash, a link keeps its address in brackets, entities are decoded; what is inside `<head>`,
//! `<style>` and `<script>` is dropped.

/// The text of `html`, its blocks on lines of their own, runs of blank lines folded to one.
pub fn html_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // The address of the link being read, written after its text.
    let mut href: Option<String> = None;
    let mut hidden: Option<String> = None;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            if hidden.is_none() {
                push_text(&mut out, rest);
            }
            break;
        };
        if hidden.is_none() {
            push_text(&mut out, &rest[..lt]);
        }
        rest = &rest[lt..];
        if rest.starts_with("<!--") {
            rest = rest.find("-->").map_or("", |end| &rest[end + 3..]);
            continue;
        }
        let end = rest.find('>').map_or(rest.len(), |i| i + 1);
        let tag = &rest[1..end.saturating_sub(1).max(1)];
        rest = &rest[end..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(h) = &hidden {
            if closing && *h == name {
                hidden = None;
            }
            continue;
        }
        match name.as_str() {
            "head" | "style" | "script" | "title" if !closing => hidden = Some(name),
            "br" => out.push('\n'),
            "li" if !closing => {
                new_line(&mut out);
                out.push_str("- ");
            }
            "p" | "div" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "blockquote" | "pre" | "ul" | "ol" | "table"
            | "tr" | "hr" | "li" => {
                new_line(&mut out);
                if name == "p" || name.starts_with('h') && name.len() == 2 {
                    blank_line(&mut out);
                }
            }
            "a" if !closing => href = attribute(tag, "href"),
            "a" => {
                if let Some(url) = href.take().filter(|u| u.starts_with("http") && !out.ends_with(u.as_str())) {
                    out.push_str(&format!(" ({url})"));
                }
            }
            _ => {}
        }
    }
    tidy(&out)
}

fn push_text(out: &mut String, text: &str) {
    // Whitespace in HTML is one space, and none at the start of a line.
    for ch in decode_entities(text).chars() {
        if ch.is_whitespace() && ch != '\u{a0}' {
            if !out.is_empty() && !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
        } else {
            out.push(if ch == '\u{a0}' { ' ' } else { ch });
        }
    }
}

fn new_line(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
}

fn blank_line(out: &mut String) {
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
}

/// Trims each line's end and folds runs of blank lines.
fn tidy(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// The value of `name="…"` (or `'…'`) in a tag, decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let value = &tag[at..];
    let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = &value[1..];
    Some(decode_entities(&inner[..inner.find(quote)?]))
}

/// Decodes named entities HTML mail uses and every numeric one.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest.find(';').filter(|e| *e <= 10);
        let decoded = end.and_then(|e| {
            let name = &rest[1..e];
            let ch = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((ch, e + 1))
        });
        match decoded {
            Some((ch, len)) => {
                out.push(ch);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_lines_and_links_keep_their_address() {
        let html = "<p>Hi <strong>Ada</strong>,</p><p>See <a href=\"https://acme.test/x?a=1&amp;b=2\">the guide</a>.</p>\
                    <ul><li>one</li><li>two</li></ul><p>Tom &amp; Jerry&nbsp;&#8212; &lt;3</p>";
        assert_eq!(
            html_text(html),
            "Hi Ada,\n\nSee the guide (https://acme.test/x?a=1&b=2).\n\n- one\n- two\n\nTom & Jerry — <3"
        );
    }

    #[test]
    fn what_a_reader_does_not_see_is_dropped() {
        let html = "<html><head><title>T</title><style>p{}</style></head><body><!-- x --><div>Thanks!<br>Bob</div>\
                    <script>alert(1)</script></body></html>";
        assert_eq!(html_text(html), "Thanks!\nBob");
        assert_eq!(decode_entities("a & b &bogus; &#x41;"), "a & b &bogus; A");
    }
}
