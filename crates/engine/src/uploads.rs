//! Files teammates upload for message bodies: images only (PNG, JPEG, GIF, WebP), told apart by
//! their first bytes, never by a file name or a type the browser claims, and at most
//! [`MAX_UPLOAD_BYTES`] each. Each is kept in the database under a random token that cannot be
//! guessed; the web layer serves it at `/files/{token}`.

use tidings_store::{Teammate, Upload, Workspace};

use crate::Engine;
use crate::error::{EngineError, Result};

/// The largest file an upload may be: 5 MB.
pub const MAX_UPLOAD_BYTES: usize = 5 * 1024 * 1024;

/// The image type of `bytes`, from their signature: `image/png`, `image/jpeg`, `image/gif` or
/// `image/webp`; `None` for anything else.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// 256 random bits as hex: the name of a file in its public address.
fn token() -> std::result::Result<String, EngineError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| EngineError::Unsupported {
        message: format!("The system's random number generator failed: {e}"),
        field: "file",
    })?;
    Ok(hex::encode(b))
}

impl Engine {
    /// Keeps an image a teammate uploaded, for message bodies to show.
    ///
    /// # Errors
    /// `file` is invalid when it is empty, larger than [`MAX_UPLOAD_BYTES`], or not a PNG, JPEG,
    /// GIF or WebP image; storage errors.
    pub async fn upload_image(&self, ws: &Workspace, teammate: &Teammate, bytes: &[u8]) -> Result<Upload> {
        if bytes.is_empty() {
            return Err(EngineError::invalid("file", "The file is empty: choose an image."));
        }
        if bytes.len() > MAX_UPLOAD_BYTES {
            return Err(EngineError::invalid(
                "file",
                format!("An image may be at most 5 MB; this one is {:.1} MB.", bytes.len() as f64 / (1024.0 * 1024.0)),
            ));
        }
        let content_type = image_type(bytes).ok_or_else(|| {
            EngineError::invalid(
                "file",
                "Only PNG, JPEG, GIF and WebP images can be uploaded; this file is none of them.",
            )
        })?;
        Ok(self.store().create_upload(ws.id, &token()?, content_type, bytes, Some(teammate.id), self.now()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_first_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("image/png"));
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(image_type(b"GIF87a\x01\0"), Some("image/gif"));
        assert_eq!(image_type(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        // What a name or a claimed type could lie about: HTML, SVG (scripts), a truncated WebP.
        assert_eq!(image_type(b"<html><script>alert(1)</script>"), None);
        assert_eq!(image_type(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(image_type(b"RIFF\x24\0\0\0WAVE"), None);
        assert_eq!(image_type(b"RIFF"), None);
        assert_eq!(image_type(b""), None);
    }

    #[test]
    fn tokens_are_long_and_differ() {
        let (a, b) = (token().unwrap(), token().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
