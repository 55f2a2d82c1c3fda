//! The new words of an email reply, without what it quotes: lines starting with `>`, everything
//! from the header a mail client writes above a quoted email ("On … wrote:", "-----Original
//! Message-----", Outlook's "From: … Sent: … To: …" block), and a signature after "-- ".
//!
//! Mail clients write these in their own ways and languages; the common ones are recognised
//! here, and a reply a rule misses keeps a little quoted text rather than losing the contact's
//! words, so each rule only cuts on a line that reads as nothing else.

/// A line that starts a quoted email when it (joined with up to two lines after it, as clients
/// wrap long ones) ends like "wrote:" in one of the languages common clients write it in.
const WROTE: [&str; 8] = [
    "wrote:",
    "a écrit :",
    "a écrit:",
    "schrieb:",
    "escribió:",
    "ha scritto:",
    "escreveu:",
    "het volgende geschreven:",
];

/// Openings of those lines ("On Tue, 3 Mar 2026 at 10:00, Grace <…> wrote:").
const WROTE_OPENINGS: [&str; 7] = ["on ", "le ", "am ", "el ", "il ", "em ", "op "];

/// The words of a reply in `text` (a plain-text body), without what it quotes or its signature.
pub fn new_words(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if starts_quote(&lines, i) || trimmed == "--" || *line == "-- " {
            break;
        }
        if trimmed.starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    // "Sent from my phone" lines, and the blank lines a cut leaves at either end.
    while kept.last().is_some_and(|l| l.trim().is_empty() || is_sent_from(l)) {
        kept.pop();
    }
    while kept.first().is_some_and(|l| l.trim().is_empty()) {
        kept.remove(0);
    }
    kept.join("\n")
}

fn is_sent_from(line: &str) -> bool {
    let l = line.trim().to_lowercase();
    l.starts_with("sent from my ") || l.starts_with("get outlook for ")
}

/// Whether a quoted email begins at line `i`.
fn starts_quote(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    let lower = line.to_lowercase();
    // "-----Original Message-----", "----- Original Message -----", "-------- Original message --------".
    let bare = lower.trim_matches(|c: char| c == '-' || c.is_whitespace());
    if lower.starts_with("--") && (bare == "original message" || bare == "forwarded message") {
        return true;
    }
    // Outlook puts a line of underscores above its header block.
    if line.len() >= 20 && line.chars().all(|c| c == '_') {
        return header_block(lines, i + 1);
    }
    if lower.starts_with("from:") && header_block(lines, i) {
        return true;
    }
    if WROTE_OPENINGS.iter().any(|o| lower.starts_with(o)) {
        let mut joined = String::new();
        for l in lines.iter().skip(i).take(3) {
            joined.push_str(l.trim());
            let j = joined.to_lowercase();
            if WROTE.iter().any(|w| j.ends_with(w)) {
                return true;
            }
            joined.push(' ');
        }
    }
    false
}

/// Whether the lines from `i` are a header block of a quoted email: "From:" and, within the
/// next few lines, two of "Sent:", "Date:", "To:", "Subject:" (or their common translations).
fn header_block(lines: &[&str], i: usize) -> bool {
    let Some(first) = lines.get(i) else { return false };
    let first = first.trim().to_lowercase();
    if !(first.starts_with("from:") || first.starts_with("de :") || first.starts_with("von:")) {
        return false;
    }
    let fields = ["sent:", "date:", "to:", "subject:", "cc:", "envoyé :", "gesendet:", "an:", "betreff:", "objet :"];
    lines.iter().skip(i + 1).take(5).filter(|l| fields.iter().any(|f| l.trim().to_lowercase().starts_with(f))).count()
        >= 2
}

/// Where the quoted email in an HTML body starts (the markers the common web and desktop
/// clients wrap it in), so an email that came only as HTML can be cut there before it becomes
/// text: a `<blockquote>`, Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg` and `appendonsend`,
/// Thunderbird's `moz-cite-prefix`, Apple Mail's `AppleOriginalContents`, Yahoo's `yahoo_quoted`.
pub fn cut_html_quote(html: &str) -> &str {
    let lower = html.to_ascii_lowercase();
    let markers = [
        "<blockquote",
        "class=\"gmail_quote",
        "id=\"divrplyfwdmsg\"",
        "id=\"appendonsend\"",
        "class=\"moz-cite-prefix\"",
        "id=\"appleoriginalcontents\"",
        "class=\"yahoo_quoted\"",
    ];
    let at = markers
        .iter()
        .filter_map(|m| lower.find(m))
        // A marker inside a tag cuts where that tag opens.
        .map(|i| if lower[i..].starts_with('<') { i } else { lower[..i].rfind('<').unwrap_or(i) })
        .min();
    match at {
        Some(i) => &html[..i],
        None => html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_and_apple_quotes_are_cut_even_when_wrapped() {
        let gmail = "Thanks, that fixed it!\n\nOn Tue, 3 Mar 2026 at 10:00, Grace at Acme <\nreplies+r12.00aa@mail.acme.test> wrote:\n\n> Try turning it off and on.\n> Grace\n";
        assert_eq!(new_words(gmail), "Thanks, that fixed it!");
        let apple = "Yes please.\r\n\r\nOn 3 Mar 2026, at 10:00, Grace <hello@acme.test> wrote:\r\n\r\nHi Ada";
        assert_eq!(new_words(apple), "Yes please.");
        let french = "Merci !\n\nLe mar. 3 mars 2026 à 10:00, Grace <hello@acme.test> a écrit :\n> Bonjour";
        assert_eq!(new_words(french), "Merci !");
    }

    #[test]
    fn outlook_headers_signatures_and_quoted_lines_go() {
        let outlook = "Works now.\n\n________________________________\nFrom: Grace <hello@acme.test>\nSent: Tuesday, March 3, 2026 10:00\nTo: Ada <ada@example.test>\nSubject: Re: Help\n\nHi Ada";
        assert_eq!(new_words(outlook), "Works now.");
        let original = "OK\n-----Original Message-----\nFrom: Grace\nHi";
        assert_eq!(new_words(original), "OK");
        let signed =
            "Two things:\n> what about billing?\nIt is monthly.\n\n-- \nAda Lovelace\nAnalytical Engines Ltd\n";
        assert_eq!(new_words(signed), "Two things:\nIt is monthly.");
        assert_eq!(new_words("Great!\n\nSent from my iPhone\n"), "Great!");
        assert_eq!(new_words("> all quoted\n> nothing new\n"), "", "nothing new is nothing");
    }

    #[test]
    fn words_that_only_look_like_a_header_stay() {
        let text = "On Monday I tried again.\nFrom: the settings page, it still fails.\nThanks";
        assert_eq!(new_words(text), text);
    }

    #[test]
    fn html_quotes_are_cut_at_their_wrapper() {
        let gmail = "<div dir=\"ltr\">Thanks!</div><br><div class=\"gmail_quote\"><div>On Tue … wrote:</div><blockquote>Hi</blockquote></div>";
        assert_eq!(cut_html_quote(gmail), "<div dir=\"ltr\">Thanks!</div><br>");
        assert_eq!(cut_html_quote("<p>Yes</p><blockquote type=\"cite\">x</blockquote>"), "<p>Yes</p>");
        assert_eq!(cut_html_quote("<p>No quote</p>"), "<p>No quote</p>");
    }
}
