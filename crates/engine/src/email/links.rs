//! The links in an email: unsubscribe, the open pixel and each tracked click. A link carries its
//! workspace, its delivery and a signature, so it cannot be made for another delivery nor
//! pointed at another address.
//!
//! Each kind of link is signed with its own key, derived from the workspace's email secret and
//! the kind's name, so a signature for one never passes for another; the email secret is used
//! for nothing else (the Messenger's identity secret signs the Messenger's sessions).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    Unsubscribe,
    Open,
    Click,
    /// The tag in a Message-ID (and a VERP return path), which names the delivery a report
    /// (a bounce, a complaint) is about.
    MessageId,
    /// The tag that names a conversation in its reply address (`…+r{conversation}.{tag}@…`) and
    /// in the Message-IDs of its reply emails, so an email back can be trusted to be about it.
    Reply,
}

impl LinkKind {
    fn label(self) -> &'static str {
        match self {
            LinkKind::Unsubscribe => "tidings/email-link/v1/unsubscribe",
            LinkKind::Open => "tidings/email-link/v1/open",
            LinkKind::Click => "tidings/email-link/v1/click",
            LinkKind::MessageId => "tidings/email-link/v1/message-id",
            LinkKind::Reply => "tidings/email-link/v1/reply",
        }
    }
}

/// The signature's bytes kept (128 bits).
const SIGNATURE_BYTES: usize = 16;

fn mac(secret: &str, kind: LinkKind, workspace: i64, delivery: i64, url: Option<&str>) -> HmacSha256 {
    let mut key = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    key.update(kind.label().as_bytes());
    let key = key.finalize().into_bytes();
    let mut m = HmacSha256::new_from_slice(&key).expect("HMAC takes any key");
    m.update(format!("{workspace}.{delivery}").as_bytes());
    if let Some(u) = url {
        m.update(b"\n");
        m.update(u.as_bytes());
    }
    m
}

/// `<workspace>.<delivery>.<signature>`.
pub fn token(secret: &str, kind: LinkKind, workspace: i64, delivery: i64, url: Option<&str>) -> String {
    let sig = mac(secret, kind, workspace, delivery, url).finalize().into_bytes();
    format!("{workspace}.{delivery}.{}", URL_SAFE_NO_PAD.encode(&sig[..SIGNATURE_BYTES]))
}

/// The workspace and delivery a token names, before its signature is checked.
pub fn parse(token: &str) -> Option<(i64, i64, &str)> {
    let mut parts = token.splitn(3, '.');
    let ws = parts.next()?.parse().ok()?;
    let delivery = parts.next()?.parse().ok()?;
    let sig = parts.next()?;
    Some((ws, delivery, sig))
}

/// Whether `sig` signs this link (in constant time).
pub fn verify(secret: &str, kind: LinkKind, workspace: i64, delivery: i64, url: Option<&str>, sig: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(sig) else { return false };
    bytes.len() == SIGNATURE_BYTES
        && !secret.is_empty()
        && mac(secret, kind, workspace, delivery, url).verify_truncated_left(&bytes).is_ok()
}

/// The bytes of a Message-ID's tag (64 bits, as hex): it travels in headers that mail systems
/// copy into their reports, so it is short.
const TAG_BYTES: usize = 8;

/// A tag of `kind` for `id` (a delivery, a conversation) of a workspace, as hex: it is written
/// in addresses and headers, where letters may change case but hex survives.
fn hex_tag(secret: &str, kind: LinkKind, workspace: i64, id: i64) -> String {
    let sig = mac(secret, kind, workspace, id, None).finalize().into_bytes();
    sig[..TAG_BYTES].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `tag` is the tag of `kind` for `id` (in constant time; either case).
fn verify_hex_tag(secret: &str, kind: LinkKind, workspace: i64, id: i64, tag: &str) -> bool {
    let Some(bytes) = (0..tag.len())
        .step_by(2)
        .map(|i| tag.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    bytes.len() == TAG_BYTES
        && !secret.is_empty()
        && mac(secret, kind, workspace, id, None).verify_truncated_left(&bytes).is_ok()
}

/// The tag of a delivery's Message-ID: `d{delivery}.m{message}.{tag}@domain`.
pub fn message_tag(secret: &str, workspace: i64, delivery: i64) -> String {
    hex_tag(secret, LinkKind::MessageId, workspace, delivery)
}

/// Whether `tag` is the tag of this delivery's Message-ID (in constant time).
pub fn verify_message_tag(secret: &str, workspace: i64, delivery: i64, tag: &str) -> bool {
    verify_hex_tag(secret, LinkKind::MessageId, workspace, delivery, tag)
}

/// The tag of a conversation's reply address and reply emails' Message-IDs:
/// `r{conversation}.{tag}`.
pub fn conversation_tag(secret: &str, workspace: i64, conversation: i64) -> String {
    hex_tag(secret, LinkKind::Reply, workspace, conversation)
}

/// Whether `tag` names this conversation (in constant time).
pub fn verify_conversation_tag(secret: &str, workspace: i64, conversation: i64, tag: &str) -> bool {
    verify_hex_tag(secret, LinkKind::Reply, workspace, conversation, tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_its_own_link() {
        let t = token("s3cret", LinkKind::Unsubscribe, 1, 42, None);
        let (ws, d, sig) = parse(&t).unwrap();
        assert_eq!((ws, d), (1, 42));
        assert!(verify("s3cret", LinkKind::Unsubscribe, 1, 42, None, sig));
        assert!(!verify("s3cret", LinkKind::Open, 1, 42, None, sig), "another kind");
        assert!(!verify("s3cret", LinkKind::Unsubscribe, 1, 43, None, sig), "another delivery");
        assert!(!verify("s3cret", LinkKind::Unsubscribe, 2, 42, None, sig), "another workspace");
        assert!(!verify("other", LinkKind::Unsubscribe, 1, 42, None, sig), "another secret");
        assert!(!verify("", LinkKind::Unsubscribe, 1, 42, None, sig), "no secret");
        let c = token("s3cret", LinkKind::Click, 1, 42, Some("https://a.test/"));
        let (_, _, sig) = parse(&c).unwrap();
        assert!(verify("s3cret", LinkKind::Click, 1, 42, Some("https://a.test/"), sig));
        assert!(!verify("s3cret", LinkKind::Click, 1, 42, Some("https://evil.test/"), sig), "another address");
        assert!(parse("1.x.y").is_none() && parse("nope").is_none());
    }

    #[test]
    fn a_message_id_tag_names_one_delivery() {
        let t = message_tag("s3cret", 1, 42);
        assert_eq!(t.len(), 16);
        assert!(verify_message_tag("s3cret", 1, 42, &t));
        assert!(!verify_message_tag("s3cret", 1, 43, &t), "another delivery");
        assert!(!verify_message_tag("s3cret", 2, 42, &t), "another workspace");
        assert!(!verify_message_tag("other", 1, 42, &t), "another secret");
        assert!(!verify_message_tag("s3cret", 1, 42, &t[..14]), "cut short");
        assert!(!verify_message_tag("s3cret", 1, 42, "zz"), "not hex");
    }

    #[test]
    fn a_conversation_tag_is_not_a_message_id_tag() {
        let t = conversation_tag("s3cret", 1, 42);
        assert!(verify_conversation_tag("s3cret", 1, 42, &t));
        assert!(verify_conversation_tag("s3cret", 1, 42, &t.to_uppercase()), "a mail system changed its case");
        assert!(!verify_conversation_tag("s3cret", 1, 43, &t), "another conversation");
        assert!(!verify_conversation_tag("s3cret", 2, 42, &t), "another workspace");
        assert!(!verify_message_tag("s3cret", 1, 42, &t), "another kind");
    }
}
