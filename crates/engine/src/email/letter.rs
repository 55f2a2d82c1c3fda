//! An email as one contact reads it: the message rendered for them inside its template (`plain`
//! reads like a letter, `personal` shows the teammate), with the CSS inlined (mail clients drop
//! `<style>` blocks), a plain-text part written from the Markdown, a footer with the unsubscribe
//! link, and, when the workspace tracks, an open pixel and tracked links.

use tidings_core::contact::Contact;
use tidings_core::message::EmailTemplate;
use tidings_core::personalise::escape_html;
use tidings_email::{Dkim, Letter};
use tidings_store::{Message, Teammate, Workspace};

use super::links::{LinkKind, message_tag, token};
use crate::render::Composed;

/// What every letter of a send shares.
pub struct Stationery<'a> {
    pub workspace: &'a Workspace,
    pub message: &'a Message,
    pub composed: &'a Composed,
    pub sender: &'a Teammate,
    /// The sender address: the workspace's, or the server's.
    pub from_address: &'a str,
    /// Where this server is reached, for the links.
    pub public_url: &'a str,
    /// The server's address for bounces (VERP), if any.
    pub bounces: Option<&'a str>,
    /// Signs each letter when the workspace has a DKIM key.
    pub dkim: Option<&'a Dkim>,
}

const FONT: &str = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

/// The style each element of a rendered body gets, written on the element itself.
fn style_of(tag: &str, button: bool) -> Option<&'static str> {
    Some(match tag {
        "p" => "margin:0 0 16px 0;",
        "h1" => "margin:0 0 16px 0;font-size:24px;line-height:1.3;",
        "h2" => "margin:0 0 14px 0;font-size:20px;line-height:1.3;",
        "h3" | "h4" | "h5" | "h6" => "margin:0 0 12px 0;font-size:17px;line-height:1.3;",
        "a" if button => {
            "display:inline-block;padding:10px 18px;background:#2f6fed;color:#ffffff;border-radius:6px;text-decoration:none;font-weight:600;"
        }
        "a" => "color:#2f6fed;text-decoration:underline;",
        "img" => "max-width:100%;height:auto;border:0;",
        "blockquote" => "margin:0 0 16px 0;padding-left:12px;border-left:3px solid #d5dae1;color:#52606d;",
        "pre" => "margin:0 0 16px 0;padding:12px;background:#f4f5f7;border-radius:4px;overflow:auto;",
        "code" => "font-family:Menlo,Consolas,monospace;font-size:14px;",
        "ul" | "ol" => "margin:0 0 16px 0;padding-left:24px;",
        "li" => "margin:0 0 4px 0;",
        "hr" => "border:0;border-top:1px solid #e4e7eb;margin:24px 0;",
        _ => return None,
    })
}

/// Writes each element's style onto it. The HTML is the renderer's: every `<` opens a tag it
/// wrote (text and personalised values have theirs escaped), none carries a `style` yet.
pub fn inline_css(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        rest = &rest[lt..];
        let end = rest.find('>').map_or(rest.len(), |i| i + 1);
        let tag = &rest[..end];
        let name: String = tag[1..].chars().take_while(char::is_ascii_alphanumeric).collect();
        match style_of(&name, tag.contains("tidings-button")) {
            Some(style) if !name.is_empty() => {
                out.push('<');
                out.push_str(&name);
                out.push_str(&format!(" style=\"{style}\""));
                out.push_str(&tag[1 + name.len()..]);
            }
            _ => out.push_str(tag),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Points every `http(s)` link of a rendered body at the click tracker, which records the click
/// and sends the reader on. The address is signed with the delivery, so the tracker cannot be
/// used to send anyone anywhere else.
fn track_links(html: &str, st: &Stationery<'_>, delivery: i64) -> String {
    let mut out = String::with_capacity(html.len() * 2);
    let mut rest = html;
    while let Some(i) = rest.find("href=\"") {
        let start = i + "href=\"".len();
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        let href = &rest[..end];
        let url = decode_attr(href);
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let t = token(&st.workspace.email.secret, LinkKind::Click, st.workspace.id, delivery, Some(&url));
            out.push_str(&escape_html(&format!("{}/email/click/{t}?u={}", st.public_url, percent_encode(&url))));
        } else {
            out.push_str(href);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// An attribute's value as the browser reads it (the renderer escapes `&`, `<`, `>`, `"`, `'`).
fn decode_attr(v: &str) -> String {
    v.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Percent-encodes everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The Message-ID of a delivery: the same on every attempt, on the sender's domain, and signed,
/// so that a report quoting it (a bounce, a complaint) can be trusted to name this delivery.
pub fn message_id(st: &Stationery<'_>, delivery: i64) -> String {
    let domain = st.from_address.rsplit_once('@').map_or("tidings.invalid", |(_, d)| d);
    format!("{}@{domain}", reference(st, delivery))
}

/// `d{delivery}.m{message}.{tag}`: what names a delivery in its Message-ID and return path.
fn reference(st: &Stationery<'_>, delivery: i64) -> String {
    let tag = message_tag(&st.workspace.email.secret, st.workspace.id, delivery);
    format!("d{delivery}.m{}.{tag}", st.message.id)
}

/// The envelope sender of a delivery when the server has a bounce address: the delivery's
/// reference after a `+` (VERP), so a bounce sent there names it.
fn return_path(bounces: &str, st: &Stationery<'_>, delivery: i64) -> Option<String> {
    let (local, domain) = bounces.rsplit_once('@')?;
    Some(format!("{local}+{}@{domain}", reference(st, delivery)))
}

fn initials(name: &str) -> String {
    let letters: String = name.split_whitespace().filter_map(|w| w.chars().next()).take(2).collect();
    if letters.is_empty() { "?".into() } else { letters.to_uppercase() }
}

/// The unsubscribe page of a delivery.
pub fn unsubscribe_url(st: &Stationery<'_>, delivery: i64) -> String {
    let t = token(&st.workspace.email.secret, LinkKind::Unsubscribe, st.workspace.id, delivery, None);
    format!("{}/email/unsubscribe/{t}", st.public_url)
}

/// The letter of one delivery to one contact (who has an email address).
pub fn letter(st: &Stationery<'_>, contact: &Contact, delivery: i64) -> Letter {
    let rendered = st.composed.for_contact(contact);
    let subject = rendered.subject.clone().unwrap_or_else(|| st.message.title.clone());
    let tracking = st.workspace.email.tracking;
    let body = if tracking { track_links(&rendered.html, st, delivery) } else { rendered.html.clone() };
    let body = inline_css(&body);
    let unsubscribe = unsubscribe_url(st, delivery);
    let ws_name = escape_html(&st.workspace.name);
    let sender = escape_html(&st.sender.name);
    let header = match st.message.template {
        EmailTemplate::Personal => format!(
            "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" style=\"margin:0 0 24px 0;\"><tr>\
             <td style=\"width:40px;height:40px;border-radius:20px;background:#2f6fed;color:#ffffff;font-weight:600;\
             font-size:15px;text-align:center;vertical-align:middle;\">{}</td>\
             <td style=\"padding-left:12px;font-size:14px;line-height:1.4;color:#52606d;\">\
             <strong style=\"color:#1f2933;\">{sender}</strong><br>{ws_name}</td></tr></table>",
            escape_html(&initials(&st.sender.name))
        ),
        EmailTemplate::Plain => String::new(),
    };
    let signature = match st.message.template {
        EmailTemplate::Plain => format!("<p style=\"margin:0;color:#52606d;\">{sender}<br>{ws_name}</p>"),
        EmailTemplate::Personal => String::new(),
    };
    let pixel = if tracking {
        let t = token(&st.workspace.email.secret, LinkKind::Open, st.workspace.id, delivery, None);
        format!(
            "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;width:1px;height:1px;border:0;\">",
            escape_html(&format!("{}/email/open/{t}.gif", st.public_url))
        )
    } else {
        String::new()
    };
    let (page_bg, card) = match st.message.template {
        EmailTemplate::Personal => ("#f4f5f7", "background:#ffffff;border-radius:8px;padding:32px;"),
        EmailTemplate::Plain => ("#ffffff", "padding:24px 8px;"),
    };
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>\
         <body style=\"margin:0;padding:0;background:{page_bg};\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:{page_bg};\">\
         <tr><td align=\"center\" style=\"padding:24px 12px;\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:560px;\">\
         <tr><td style=\"{card}font-family:{FONT};font-size:16px;line-height:1.5;color:#1f2933;text-align:left;\">\
         {header}{body}{signature}</td></tr>\
         <tr><td style=\"padding:16px 8px;font-family:{FONT};font-size:12px;line-height:1.5;color:#7b8794;text-align:center;\">\
         Sent by {ws_name}. <a href=\"{unsub}\" style=\"color:#7b8794;text-decoration:underline;\">Unsubscribe</a> from these emails.\
         </td></tr></table>{pixel}</td></tr></table></body></html>",
        title = escape_html(&subject),
        unsub = escape_html(&unsubscribe),
    );
    let mut text = rendered.text;
    if st.message.template == EmailTemplate::Plain {
        text.push_str(&format!("\n\n{}\n{}", st.sender.name, st.workspace.name));
    }
    text.push_str(&format!("\n\n--\nSent by {}. Unsubscribe: {unsubscribe}\n", st.workspace.name));
    Letter {
        from_name: st.sender.name.clone(),
        from_address: st.from_address.to_owned(),
        reply_to: st.workspace.email.reply_to.clone(),
        to_name: contact.name.clone(),
        to_address: contact.email.clone().unwrap_or_default(),
        subject,
        text,
        html,
        message_id: message_id(st, delivery),
        references: Vec::new(),
        unsubscribe_url: Some(unsubscribe),
        return_path: st.bounces.and_then(|b| return_path(b, st, delivery)),
        feedback_id: Some(format!("m{}:w{}:tidings", st.message.id, st.workspace.id)),
        dkim: st.dkim.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_is_written_on_each_element() {
        let html = "<p>Hi <a href=\"https://a.test\" rel=\"noopener noreferrer\">x</a></p><p><a class=\"tidings-button\" href=\"https://b.test\">Go</a></p>";
        let out = inline_css(html);
        assert!(out.starts_with("<p style=\"margin:0 0 16px 0;\">Hi <a style=\"color:#2f6fed;"), "{out}");
        assert!(out.contains("<a style=\"display:inline-block;"), "a button looks like one: {out}");
        assert!(out.contains("</a></p>"), "{out}");
        assert_eq!(inline_css("&lt;p&gt; text"), "&lt;p&gt; text", "escaped text is left alone");
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters() {
        assert_eq!(percent_encode("https://a.test/x?y=1&z=\"2\""), "https%3A%2F%2Fa.test%2Fx%3Fy%3D1%26z%3D%222%22");
    }
}
