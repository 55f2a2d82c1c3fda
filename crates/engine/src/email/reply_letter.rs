//! The letter of a reply email: the team's words a contact did not see in the Messenger in
//! time, each with who wrote it, as HTML (CSS on each element) and text, with a line saying that
//! replying continues the conversation. Its `Reply-To` is the conversation's signed reply
//! address, `local+r{conversation}.{tag}@domain`, and its Message-ID and `References` name the
//! conversation the same way, so the email the contact sends back finds its conversation by
//! the address it was sent to or, when a mail system rewrote that, by the email it answers.

use tidings_core::contact::Contact;
use tidings_core::personalise::escape_html;
use tidings_email::{Dkim, Letter};
use tidings_store::Workspace;

use super::letter::inline_css;
use super::links::conversation_tag;
use super::plain::html_text;

/// What every reply email of a workspace shares.
pub struct ReplyStationery<'a> {
    pub workspace: &'a Workspace,
    /// The sender address: the workspace's, or the server's.
    pub from_address: &'a str,
    /// The address replies go to, before the conversation is added to it: the server's reply
    /// address, or the sender address.
    pub reply_base: &'a str,
    /// The server's bounce address, if any.
    pub bounces: Option<&'a str>,
    pub dkim: Option<&'a Dkim>,
}

/// Words of the team in the email.
pub struct TeamWords {
    /// The teammate who wrote them.
    pub author: String,
    /// The part's HTML, as Tidings rendered and cleaned it.
    pub html: String,
}

/// `r{conversation}.{tag}`: what names a conversation in its reply address and Message-IDs.
pub fn conversation_ref(ws: &Workspace, conversation: i64) -> String {
    format!("r{conversation}.{}", conversation_tag(&ws.email.secret, ws.id, conversation))
}

/// The conversation's signed reply address: `local+r{conversation}.{tag}@domain` of `base`.
pub fn reply_address(base: &str, ws: &Workspace, conversation: i64) -> Option<String> {
    let (local, domain) = base.trim().rsplit_once('@')?;
    Some(format!("{local}+{}@{domain}", conversation_ref(ws, conversation)))
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("tidings.invalid", |(_, d)| d)
}

/// The Message-ID every reply email of a conversation answers: the thread mail clients group
/// them in.
pub fn thread_id(st: &ReplyStationery<'_>, conversation: i64) -> String {
    format!("{}@{}", conversation_ref(st.workspace, conversation), domain_of(st.from_address))
}

/// The Message-ID of the reply email carrying the team's words up to `part`: the same on every
/// attempt, so a receiver can tell a retry from a new email.
pub fn reply_message_id(st: &ReplyStationery<'_>, conversation: i64, part: i64) -> String {
    let tag = conversation_tag(&st.workspace.email.secret, st.workspace.id, conversation);
    format!("r{conversation}.p{part}.{tag}@{}", domain_of(st.from_address))
}

/// "Re: " and the subject, or the conversation's first words when it has none.
pub fn reply_subject(subject: Option<&str>, first_html: Option<&str>) -> String {
    let base = match subject.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => s.to_owned(),
        None => {
            let text = first_html.map(html_text).unwrap_or_default();
            let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
            if line.chars().count() > 60 {
                format!("{}…", line.chars().take(60).collect::<String>().trim_end())
            } else {
                line.to_owned()
            }
        }
    };
    if base.is_empty() {
        "Re: your conversation".to_owned()
    } else if base.to_ascii_lowercase().starts_with("re:") {
        base
    } else {
        format!("Re: {base}")
    }
}

const FONT: &str = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif";

/// The letter of the team's `words` (oldest first, at least one) to a contact with an address,
/// up to part `part` of `conversation`.
pub fn reply_letter(
    st: &ReplyStationery<'_>,
    contact: &Contact,
    conversation: i64,
    part: i64,
    subject: String,
    words: &[TeamWords],
) -> Letter {
    let ws_name = escape_html(&st.workspace.name);
    let continues = "Reply to this email to continue the conversation.";
    let mut blocks = String::new();
    let mut text = String::new();
    for w in words {
        blocks.push_str(&format!(
            "<tr><td style=\"padding:0 0 20px 0;\"><p style=\"margin:0 0 6px 0;font-size:14px;color:#52606d;\">\
             <strong style=\"color:#1f2933;\">{}</strong></p>{}</td></tr>",
            escape_html(&w.author),
            inline_css(&w.html)
        ));
        text.push_str(&format!("{} wrote:\n\n{}\n\n", w.author, html_text(&w.html)));
    }
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title></head>\
         <body style=\"margin:0;padding:0;background:#f4f5f7;\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#f4f5f7;\">\
         <tr><td align=\"center\" style=\"padding:24px 12px;\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:560px;\">\
         <tr><td style=\"background:#ffffff;border-radius:8px;padding:32px;font-family:{FONT};font-size:16px;\
         line-height:1.5;color:#1f2933;text-align:left;\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\">{blocks}</table>\
         <p style=\"margin:8px 0 0 0;font-size:14px;color:#52606d;\">{continues}</p></td></tr>\
         <tr><td style=\"padding:16px 8px;font-family:{FONT};font-size:12px;line-height:1.5;color:#7b8794;\
         text-align:center;\">Sent by {ws_name} about your conversation with us.</td></tr>\
         </table></td></tr></table></body></html>",
        title = escape_html(&subject),
    );
    text.push_str(&format!("--\n{continues}\nSent by {} about your conversation with us.\n", st.workspace.name));
    let latest = words.last().map_or_else(|| st.workspace.name.clone(), |w| w.author.clone());
    Letter {
        from_name: format!("{latest} at {}", st.workspace.name),
        from_address: st.from_address.to_owned(),
        reply_to: reply_address(st.reply_base, st.workspace, conversation),
        to_name: contact.name.clone(),
        to_address: contact.email.clone().unwrap_or_default(),
        subject,
        text,
        html,
        message_id: reply_message_id(st, conversation, part),
        references: vec![thread_id(st, conversation)],
        unsubscribe_url: None,
        return_path: st.bounces.map(str::to_owned),
        feedback_id: Some(format!("c{conversation}:w{}:tidings", st.workspace.id)),
        dkim: st.dkim.cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_answer_the_message_or_quote_the_first_words() {
        assert_eq!(reply_subject(Some("Your plan"), None), "Re: Your plan");
        assert_eq!(reply_subject(Some("Re: Your plan"), None), "Re: Your plan");
        assert_eq!(reply_subject(None, Some("<p>My export fails</p><p>since Monday</p>")), "Re: My export fails");
        let long = format!("<p>{}</p>", "word ".repeat(30));
        let s = reply_subject(Some("  "), Some(&long));
        assert!(s.starts_with("Re: word word") && s.ends_with('…') && s.chars().count() <= 65, "{s}");
        assert_eq!(reply_subject(None, None), "Re: your conversation");
    }
}
