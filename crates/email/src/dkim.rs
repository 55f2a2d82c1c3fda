//! DKIM signing (RFC 6376), when a workspace configures a key: off by default, since a relay may
//! sign instead.

use std::sync::Arc;

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;

/// A parsed signing key with what to sign, shared by every letter of a batch.
#[derive(Clone, Debug)]
pub struct Dkim(Arc<DkimConfig>);

/// The headers signed: those a reader sees and those RFC 8058 requires for one-click unsubscribe.
/// Not `Content-Type`: a multipart body writes its own when the message is formatted, after
/// signing, so a signature over it would name a header the signer never saw.
const SIGNED: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

impl Dkim {
    /// A signer for `domain` with the key published at `{selector}._domainkey.{domain}`.
    /// `private_key` is an RSA key in PEM (PKCS #1, `BEGIN RSA PRIVATE KEY`, as
    /// `openssl genrsa -traditional` writes it) or an Ed25519 key as the base64 of its 32 bytes.
    ///
    /// # Errors
    /// A selector or domain that cannot be one, or a key that cannot be read (says which form
    /// is expected).
    pub fn new(domain: &str, selector: &str, private_key: &str) -> Result<Dkim, String> {
        let label_ok = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        };
        if !label_ok(selector) {
            return Err(format!("the DKIM selector {selector:?} is not a DNS name"));
        }
        if !label_ok(domain) {
            return Err(format!("the DKIM domain {domain:?} is not a domain name"));
        }
        let key = private_key.trim();
        let signing = if key.contains("-----BEGIN") {
            if !key.contains("BEGIN RSA PRIVATE KEY") {
                return Err("the DKIM key must be an RSA key in PKCS #1 PEM (BEGIN RSA PRIVATE KEY; \
                            `openssl genrsa -traditional 2048` writes one), or an Ed25519 key in base64"
                    .into());
            }
            DkimSigningKey::new(key, DkimSigningAlgorithm::Rsa)
        } else {
            DkimSigningKey::new(key, DkimSigningAlgorithm::Ed25519)
        }
        .map_err(|e| format!("the DKIM key cannot be read: {e}"))?;
        let headers = SIGNED.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
        let canonical =
            DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
        Ok(Dkim(Arc::new(DkimConfig::new(
            selector.to_owned(),
            domain.to_ascii_lowercase(),
            signing,
            headers,
            canonical,
        ))))
    }

    pub(crate) fn config(&self) -> &DkimConfig {
        &self.0
    }
}
