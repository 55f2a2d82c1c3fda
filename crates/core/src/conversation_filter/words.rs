//! The words of a conversation's opening part, as conversation search matches `source.body`:
//! Intercom matches that field "against every element of the value separately", so `support`
//! finds "I need support" while `need support` finds nothing with `=`.
//!
//! A word is a run of letters and digits (Unicode's); everything else (white space,
//! punctuation, HTML tags) separates words, and character references (`&lt;`, `&#39;`) are read
//! as the characters they stand for. Words are lowercased here, in Rust, for the stored text and
//! for what a query looks for alike, so both databases only compare text already folded and give
//! the same answers.

/// The words of an HTML body, lowercased, in order.
pub fn of_html(html: &str) -> Vec<String> {
    split(&plain_text(html))
}

/// The words of text someone typed (a query's value: not HTML), lowercased, in order.
pub fn of_text(text: &str) -> Vec<String> {
    split(text)
}

/// The words as the store keeps them: each followed and preceded by one space (`" i need
/// support "`), so that a word is found as `" word "`, a run of words as `"need support"`, and
/// the start and end of the text as `" i"` and `"support "`.
pub fn stored(words: &[String]) -> String {
    if words.is_empty() { String::new() } else { format!(" {} ", words.join(" ")) }
}

fn split(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// The text of HTML: each tag becomes a space (a tag ends a word), character references become
/// what they stand for. Tidings writes every body's HTML itself, so this reads its own output.
fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            out.push(' ');
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
        } else {
            match reference(rest) {
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
    }
    out.push_str(rest);
    out
}

/// The character a reference at the start of `s` (`&amp;`, `&#39;`, `&#x27;`) stands for, and
/// its length.
fn reference(s: &str) -> Option<(char, usize)> {
    let end = s.get(..12).unwrap_or(s).find(';')?;
    let name = &s[1..end];
    let ch = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)?
        }
    };
    Some((ch, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_runs_of_letters_and_digits_lowercased() {
        assert_eq!(of_html("<p>I need support</p>"), ["i", "need", "support"]);
        assert_eq!(
            of_html("<p>Hello &lt;there&gt;, it&#39;s Zoë!</p><p>2nd</p>"),
            ["hello", "there", "it", "s", "zoë", "2nd"]
        );
        assert_eq!(of_html("<p>a<br>b</p><ul><li><strong>bold</strong> move</li></ul>"), ["a", "b", "bold", "move"]);
        assert_eq!(of_html("<p><a href=\"https://x.test/support\">here</a></p>"), ["here"], "tags are not words");
        assert_eq!(of_html("AT&T &bogus; &#xZZ;"), ["at", "t", "bogus", "xzz"]);
        assert_eq!(of_text("Need SUPPORT!"), ["need", "support"]);
        assert!(of_text("?!").is_empty());
    }

    #[test]
    fn stored_words_are_framed_by_spaces() {
        assert_eq!(stored(&of_html("<p>I need support</p>")), " i need support ");
        assert_eq!(stored(&[]), "");
    }
}
