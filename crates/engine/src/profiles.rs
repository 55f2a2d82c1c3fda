//! How the team presents itself: a teammate's own profile (the name and avatar contacts see on
//! their replies) and how the Messenger presents the workspace (its name, colour and greeting).
//!
//! Both are checked here, once, for every adapter: a refused change names its field and writes
//! nothing.

use tidings_core::text::{self, NAME, SHORT, URL};
use tidings_core::{FieldError, FieldErrors};
use tidings_store::{Teammate, Workspace};

use crate::Engine;
use crate::error::{EngineError, Missing, Result};

/// What Settings › Messenger changes of a workspace's look.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessengerLook {
    /// The workspace's name, shown at the top of the Messenger.
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
    /// What the Messenger's home says under the name; empty for nothing.
    pub greeting: String,
}

/// A name: 1 to 255 characters once trimmed.
fn name(field: &str, value: &str, errors: &mut FieldErrors) -> String {
    let value = value.trim();
    if value.is_empty() {
        errors.push(FieldError::invalid(field, format!("{field} must not be empty")));
    } else if let Err(e) = text::check(field, value, NAME) {
        errors.push(e);
    }
    value.to_owned()
}

/// A colour as CSS writes it in six hex digits, `#rrggbb`; kept in lower case.
fn color(value: &str, errors: &mut FieldErrors) -> String {
    let value = value.trim();
    let ok = value.len() == 7 && value.starts_with('#') && value[1..].chars().all(|c| c.is_ascii_hexdigit());
    if !ok {
        errors.push(FieldError::invalid("color", "color must be a colour written #rrggbb, e.g. #1f5fd6"));
    }
    value.to_ascii_lowercase()
}

/// An avatar: empty for none, or an `http(s)` address with a host, at most 2,048 characters.
fn avatar(value: &str, errors: &mut FieldErrors) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Err(e) = text::check("avatar_url", value, URL) {
        errors.push(e);
        return None;
    }
    // The browser loads it as an image on the company's site: only the web's own schemes, and
    // nothing a browser would read differently from the parser here (spaces, controls).
    let parsed = url::Url::parse(value)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty()));
    if parsed.is_none() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        errors.push(FieldError::invalid(
            "avatar_url",
            "avatar_url must be an http:// or https:// address of an image, e.g. https://example.com/me.png",
        ));
        return None;
    }
    Some(value.to_owned())
}

/// Checks a teammate's profile: their name and avatar address (empty for none).
///
/// # Errors
/// Every field that is wrong, by name (`name`, `avatar_url`).
pub fn check_profile(name_in: &str, avatar_in: &str) -> std::result::Result<(String, Option<String>), FieldErrors> {
    let mut errors = FieldErrors::default();
    let n = name("name", name_in, &mut errors);
    let a = avatar(avatar_in, &mut errors);
    errors.into_result((n, a))
}

/// Checks the Messenger's look, trimmed and with the colour in lower case.
///
/// # Errors
/// Every field that is wrong, by name (`name`, `color`, `greeting`).
pub fn check_look(look: &MessengerLook) -> std::result::Result<MessengerLook, FieldErrors> {
    let mut errors = FieldErrors::default();
    let checked = MessengerLook {
        name: name("name", &look.name, &mut errors),
        color: color(&look.color, &mut errors),
        greeting: look.greeting.trim().to_owned(),
    };
    if let Err(e) = text::check("greeting", &checked.greeting, SHORT) {
        errors.push(e);
    }
    errors.into_result(checked)
}

impl Engine {
    /// A teammate changes their own profile: the name the team and contacts see, and the address
    /// of their avatar (empty: none, and the Messenger shows their initials).
    ///
    /// # Errors
    /// A name empty or too long, an avatar that is not an http(s) address (each naming its
    /// field); a teammate no longer in the workspace; a database failure.
    pub async fn update_profile(
        &self,
        ws: &Workspace,
        teammate: &Teammate,
        name: &str,
        avatar_url: &str,
    ) -> Result<Teammate> {
        let (name, avatar) = check_profile(name, avatar_url)?;
        self.store
            .update_teammate_profile(ws.id, teammate.id, &name, avatar.as_deref())
            .await?
            .ok_or_else(|| EngineError::not_found(Missing::Teammate))
    }

    /// Changes how the Messenger presents the workspace: its name, colour and greeting. (Who may
    /// is the caller's to decide: the owner and admins.)
    ///
    /// # Errors
    /// A name empty or too long, a colour not written `#rrggbb`, a greeting over 255 characters
    /// (each naming its field); a database failure.
    pub async fn update_messenger_look(&self, ws: &Workspace, look: &MessengerLook) -> Result<Workspace> {
        let look = check_look(look)?;
        self.store
            .update_messenger_look(ws.id, &look.name, &look.color, &look.greeting)
            .await?
            .ok_or_else(|| EngineError::invalid("workspace", "This workspace no longer exists"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn look(name: &str, color: &str, greeting: &str) -> MessengerLook {
        MessengerLook { name: name.into(), color: color.into(), greeting: greeting.into() }
    }

    fn fields(e: FieldErrors) -> Vec<String> {
        e.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_look_is_trimmed_and_its_colour_is_six_hex_digits() {
        let ok = check_look(&look(" Acme ", "#1F5FD6", " Hi there ")).unwrap();
        assert_eq!(ok, look("Acme", "#1f5fd6", "Hi there"));
        assert!(check_look(&look("Acme", "#abcdef", "")).is_ok(), "no greeting is fine");
        for bad in ["1f5fd6", "#1f5fd", "#1f5fd6a", "#1g5fd6", "blue", "#fff", "", "rgb(1,2,3)", "#ｆｆｆｆｆｆ"]
        {
            assert_eq!(fields(check_look(&look("Acme", bad, "")).unwrap_err()), ["color"], "{bad:?}");
        }
        let all = check_look(&look("  ", "red", &"x".repeat(256))).unwrap_err();
        assert_eq!(fields(all), ["name", "color", "greeting"], "every bad field at once");
        assert_eq!(fields(check_look(&look(&"n".repeat(256), "#000000", "")).unwrap_err()), ["name"]);
        assert!(check_look(&look(&"é".repeat(255), "#000000", &"é".repeat(255))).is_ok(), "characters, not bytes");
        assert_eq!(fields(check_look(&look("A\0", "#000000", "")).unwrap_err()), ["name"]);
    }

    #[test]
    fn an_avatar_is_an_http_address_or_nothing() {
        assert_eq!(check_profile(" Ada ", "").unwrap(), ("Ada".to_owned(), None));
        let (_, a) = check_profile("Ada", " https://cdn.example.com/ada.png?s=128 ").unwrap();
        assert_eq!(a.as_deref(), Some("https://cdn.example.com/ada.png?s=128"));
        assert!(check_profile("Ada", "http://localhost:8080/a.png").is_ok());
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "ftp://example.com/a.png",
            "//example.com/a.png",
            "example.com/a.png",
            "https://",
            "https://exa mple.com/a.png",
            "https://example.com/a b.png",
        ] {
            assert_eq!(fields(check_profile("Ada", bad).unwrap_err()), ["avatar_url"], "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(URL));
        assert_eq!(fields(check_profile("Ada", &long).unwrap_err()), ["avatar_url"]);
        assert_eq!(fields(check_profile("", "nope").unwrap_err()), ["name", "avatar_url"]);
    }
}
