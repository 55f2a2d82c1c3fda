//! Contacts: the people a workspace talks to, and the validated changes that can be made to them.
//!
//! The API, the importer and (later) the Messenger all describe a change to a contact as JSON.
//! [`ContactInput::parse`] checks every field of that JSON against the built-in catalogue and the
//! workspace's declared custom attributes, so storage never sees an unchecked value.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use crate::attribute::{CustomAttribute, DataType, Value, builtin};
use crate::error::{FieldError, FieldErrors};
use crate::text;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Lead,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Lead => "lead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(Role::User),
            "lead" => Some(Role::Lead),
            _ => None,
        }
    }
}

/// A contact, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Contact {
    pub id: i64,
    pub workspace_id: i64,
    pub role: Role,
    pub external_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
    pub avatar: Option<String>,
    pub owner_id: Option<i64>,
    pub unsubscribed_from_emails: bool,
    pub marked_email_as_spam: bool,
    pub has_hard_bounced: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub signed_up_at: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub last_replied_at: Option<i64>,
    pub last_contacted_at: Option<i64>,
    pub last_email_opened_at: Option<i64>,
    pub last_email_clicked_at: Option<i64>,
    pub language_override: Option<String>,
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub browser_language: Option<String>,
    pub os: Option<String>,
    pub location_country: Option<String>,
    pub location_region: Option<String>,
    pub location_city: Option<String>,
    pub timezone: Option<String>,
    /// Values of declared custom attributes, keyed by attribute name, already type-checked.
    pub custom_attributes: Map<String, Json>,
    pub archived: bool,
}

impl Contact {
    /// A new, empty contact of a workspace. `id` is assigned by storage.
    pub fn new(workspace_id: i64, role: Role, now: i64) -> Self {
        Contact {
            id: 0,
            workspace_id,
            role,
            external_id: None,
            email: None,
            phone: None,
            name: None,
            avatar: None,
            owner_id: None,
            unsubscribed_from_emails: false,
            marked_email_as_spam: false,
            has_hard_bounced: false,
            created_at: now,
            updated_at: now,
            signed_up_at: None,
            last_seen_at: None,
            last_replied_at: None,
            last_contacted_at: None,
            last_email_opened_at: None,
            last_email_clicked_at: None,
            language_override: None,
            browser: None,
            browser_version: None,
            browser_language: None,
            os: None,
            location_country: None,
            location_region: None,
            location_city: None,
            timezone: None,
            custom_attributes: Map::new(),
            archived: false,
        }
    }

    /// The part of the email after the `@`, lowercased; stored beside the email for search.
    pub fn email_domain(&self) -> Option<String> {
        email_domain(self.email.as_deref()?)
    }

    /// The value of a built-in attribute, by its API name, for filters and personalisation.
    pub fn builtin_value(&self, name: &str) -> Option<Value> {
        let s = |v: &Option<String>| v.clone().map(Value::Str);
        let d = |v: Option<i64>| v.map(Value::Date);
        match name {
            "id" => Some(Value::Int(self.id)),
            "role" => Some(Value::Str(self.role.as_str().into())),
            "name" => s(&self.name),
            "email" => s(&self.email),
            "email_domain" => self.email_domain().map(Value::Str),
            "phone" => s(&self.phone),
            "external_id" => s(&self.external_id),
            "avatar" => s(&self.avatar),
            "owner_id" => self.owner_id.map(Value::Int),
            "created_at" => Some(Value::Date(self.created_at)),
            "updated_at" => Some(Value::Date(self.updated_at)),
            "signed_up_at" => d(self.signed_up_at),
            "last_seen_at" => d(self.last_seen_at),
            "last_contacted_at" => d(self.last_contacted_at),
            "last_replied_at" => d(self.last_replied_at),
            "last_email_opened_at" => d(self.last_email_opened_at),
            "last_email_clicked_at" => d(self.last_email_clicked_at),
            "language_override" => s(&self.language_override),
            "browser" => s(&self.browser),
            "browser_language" => s(&self.browser_language),
            "os" => s(&self.os),
            "location.country" => s(&self.location_country),
            "location.region" => s(&self.location_region),
            "location.city" => s(&self.location_city),
            "timezone" => s(&self.timezone),
            "unsubscribed_from_emails" => Some(Value::Bool(self.unsubscribed_from_emails)),
            "marked_email_as_spam" => Some(Value::Bool(self.marked_email_as_spam)),
            "has_hard_bounced" => Some(Value::Bool(self.has_hard_bounced)),
            _ => None,
        }
    }

    /// The value of a custom attribute, typed by its declaration.
    pub fn custom_value(&self, name: &str, data_type: DataType) -> Option<Value> {
        let json = self.custom_attributes.get(name)?;
        data_type.coerce(json).ok().flatten()
    }
}

/// A checked set of changes to a contact. `Some(None)` clears a field; `None` leaves it alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContactInput {
    pub role: Option<Role>,
    pub external_id: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub avatar: Option<Option<String>>,
    pub owner_id: Option<Option<i64>>,
    pub signed_up_at: Option<Option<i64>>,
    pub last_seen_at: Option<Option<i64>>,
    pub unsubscribed_from_emails: Option<bool>,
    pub language_override: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    /// Custom attribute values to set (`null` removes the value).
    pub custom_attributes: BTreeMap<String, Json>,
    /// Tag names to apply (created as needed); tags already applied stay, none is removed. Only
    /// the importer sets them: the API tags contacts through `/tags` and `/contacts/{id}/tags`.
    pub tags: Vec<String>,
}

/// The fields a contact create or update request may carry.
pub const INPUT_FIELDS: &[&str] = &[
    "role",
    "external_id",
    "email",
    "phone",
    "name",
    "avatar",
    "owner_id",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
    "language_override",
    "timezone",
    "custom_attributes",
];

impl ContactInput {
    /// Checks a contact create/update body.
    ///
    /// Unknown top-level keys are ignored, as Intercom does, so that SDKs sending newer fields
    /// keep working. Custom attributes must be declared (and not archived) and match their type.
    ///
    /// # Errors
    /// Every bad field, each named by its path (`custom_attributes.plan`).
    pub fn parse(body: &Map<String, Json>, custom: &[CustomAttribute]) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut input = ContactInput::default();
        for (key, value) in body {
            if !INPUT_FIELDS.contains(&key.as_str()) {
                continue;
            }
            if key == "custom_attributes" {
                let Json::Object(map) = value else {
                    errors.push(FieldError::invalid(key, "custom_attributes must be an object"));
                    continue;
                };
                for (name, v) in map {
                    if let Err(e) = input.set_custom(name, v, custom) {
                        errors.push(e);
                    }
                }
            } else if let Err(e) = input.set(key, value, custom) {
                errors.push(e);
            }
        }
        errors.into_result(input)
    }

    /// Sets one field from JSON, as the importer does column by column. A key that is neither a
    /// built-in input field nor `custom_attributes` is taken as a custom attribute name.
    ///
    /// # Errors
    /// The field and what is wrong with its value.
    pub fn set(&mut self, key: &str, value: &Json, custom: &[CustomAttribute]) -> Result<(), FieldError> {
        let bad = |message: String| FieldError::invalid(key, message);
        let max = match key {
            "external_id" => text::EXTERNAL_ID,
            "email" => text::EMAIL,
            "name" => text::NAME,
            "avatar" => text::URL,
            _ => text::SHORT,
        };
        let text = |v: &Json| -> Result<Option<String>, FieldError> {
            match v {
                Json::Null => Ok(None),
                Json::String(s) if s.trim().is_empty() => Ok(None),
                Json::String(s) => {
                    // The limit holds for the text as sent, padding included, as documented.
                    text::check(key, s, max)?;
                    Ok(Some(s.trim().to_owned()))
                }
                _ => Err(bad(format!("{key} must be a string"))),
            }
        };
        let date = |v: &Json| -> Result<Option<i64>, FieldError> {
            match DataType::Date.coerce(v) {
                Ok(Some(Value::Date(d))) => Ok(Some(d)),
                Ok(_) => Ok(None),
                Err(m) => Err(bad(format!("{key} {m}"))),
            }
        };
        match key {
            "role" => {
                let s = value.as_str().unwrap_or_default();
                self.role = Some(Role::parse(s).ok_or_else(|| bad("role must be user or lead".into()))?);
            }
            "external_id" => {
                // External ids are often numbers in the caller's system; keep them as text.
                let v = match value {
                    Json::Number(n) => Some(n.to_string()),
                    other => text(other)?,
                };
                self.external_id = Some(v);
            }
            "email" => {
                let email = text(value)?;
                if let Some(e) = &email
                    && !plausible_email(e)
                {
                    return Err(bad(format!("{e} is not a valid email address")));
                }
                self.email = Some(email);
            }
            "phone" => self.phone = Some(text(value)?),
            "name" => self.name = Some(text(value)?),
            "avatar" => self.avatar = Some(text(value)?),
            "language_override" => self.language_override = Some(text(value)?),
            "timezone" => {
                let tz = text(value)?;
                if let Some(name) = &tz
                    && jiff::tz::TimeZone::get(name).is_err()
                {
                    return Err(bad(format!("{name} is not a known time zone")));
                }
                self.timezone = Some(tz);
            }
            "owner_id" => match DataType::Integer.coerce(value) {
                Ok(Some(Value::Int(i))) => self.owner_id = Some(Some(i)),
                Ok(_) => self.owner_id = Some(None),
                Err(m) => return Err(bad(format!("owner_id {m}"))),
            },
            "signed_up_at" => self.signed_up_at = Some(date(value)?),
            "last_seen_at" => self.last_seen_at = Some(date(value)?),
            "unsubscribed_from_emails" => match value {
                Json::Bool(b) => self.unsubscribed_from_emails = Some(*b),
                _ => match DataType::Boolean.coerce(value) {
                    Ok(Some(Value::Bool(b))) => self.unsubscribed_from_emails = Some(b),
                    _ => return Err(bad("unsubscribed_from_emails must be true or false".into())),
                },
            },
            "custom_attributes" => {
                let Json::Object(map) = value else {
                    return Err(bad("custom_attributes must be an object".into()));
                };
                for (name, v) in map {
                    self.set_custom(name, v, custom)?;
                }
            }
            other => self.set_custom(other, value, custom)?,
        }
        Ok(())
    }

    fn set_custom(&mut self, name: &str, value: &Json, custom: &[CustomAttribute]) -> Result<(), FieldError> {
        let path = format!("custom_attributes.{name}");
        let Some(attr) = custom.iter().find(|a| a.name == name && !a.archived) else {
            return Err(FieldError::invalid(
                &path,
                format!("Custom attribute '{name}' does not exist: create it first with POST /data_attributes"),
            ));
        };
        let typed = attr.data_type.coerce(value).map_err(|m| FieldError::invalid(&path, format!("{path} {m}")))?;
        if let Some(Value::Str(s)) = &typed {
            text::check(&path, s, text::VALUE)?;
        }
        if let (Some(Value::Str(s)), false) = (&typed, attr.options.is_empty())
            && !attr.options.contains(s)
        {
            return Err(FieldError::invalid(&path, format!("{path} must be one of: {}", attr.options.join(", "))));
        }
        self.custom_attributes.insert(name.to_owned(), typed.map_or(Json::Null, |v| v.to_json()));
        Ok(())
    }

    /// Whether the input carries an identifier an upsert can match on.
    pub fn has_identity(&self) -> bool {
        matches!(self.external_id, Some(Some(_))) || matches!(self.email, Some(Some(_)))
    }

    /// Applies the changes to a contact. Returns whether anything changed; `updated_at` moves only
    /// then, so applying the same input twice changes nothing the second time.
    pub fn apply(&self, contact: &mut Contact, now: i64) -> bool {
        let before = contact.clone();
        fn put<T: Clone>(field: &mut T, v: &Option<T>) {
            if let Some(v) = v {
                *field = v.clone();
            }
        }
        if let Some(role) = self.role {
            contact.role = role;
        }
        put(&mut contact.external_id, &self.external_id);
        put(&mut contact.email, &self.email);
        put(&mut contact.phone, &self.phone);
        put(&mut contact.name, &self.name);
        put(&mut contact.avatar, &self.avatar);
        put(&mut contact.owner_id, &self.owner_id);
        put(&mut contact.signed_up_at, &self.signed_up_at);
        put(&mut contact.last_seen_at, &self.last_seen_at);
        put(&mut contact.language_override, &self.language_override);
        put(&mut contact.timezone, &self.timezone);
        if let Some(u) = self.unsubscribed_from_emails {
            contact.unsubscribed_from_emails = u;
        }
        for (k, v) in &self.custom_attributes {
            if v.is_null() {
                contact.custom_attributes.remove(k);
            } else {
                contact.custom_attributes.insert(k.clone(), v.clone());
            }
        }
        let changed = *contact != before;
        if changed {
            contact.updated_at = now;
        }
        changed
    }
}

/// The part of `email` after its last `@`, lowercased, as stored in `email_domain`: none without
/// an `@` or with nothing after it. Equal emails have equal domains, so a lookup by email can
/// narrow by the domain first and use the index that search keeps on both.
pub fn email_domain(email: &str) -> Option<String> {
    let (_, domain) = email.rsplit_once('@')?;
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

fn plausible_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !e.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// All input field names the importer recognises besides custom attribute names.
pub fn is_input_field(name: &str) -> bool {
    INPUT_FIELDS.contains(&name) || builtin(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> CustomAttribute {
        CustomAttribute::new("plan", DataType::String)
    }

    #[test]
    fn parse_names_every_bad_field() {
        let body = json!({"email": "nope", "role": "admin", "custom_attributes": {"plan": 3, "ghost": 1}});
        let err = ContactInput::parse(body.as_object().unwrap(), &[plan()]).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"email"), "{fields:?}");
        assert!(fields.contains(&"role"), "{fields:?}");
        assert!(fields.contains(&"custom_attributes.plan"), "{fields:?}");
    }

    #[test]
    fn apply_twice_changes_nothing_the_second_time() {
        let body = json!({"email": "a@b.test", "name": "Ada", "custom_attributes": {"plan": "pro"}});
        let input = ContactInput::parse(body.as_object().unwrap(), &[plan()]).unwrap();
        let mut c = Contact::new(1, Role::User, 10);
        assert!(input.apply(&mut c, 20));
        assert_eq!(c.updated_at, 20);
        assert!(!input.apply(&mut c, 30));
        assert_eq!(c.updated_at, 20);
        assert_eq!(c.email_domain().as_deref(), Some("b.test"));
    }
}
