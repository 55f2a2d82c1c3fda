//! Custom attributes of contacts: the rule on their names (one place for the API, the admin app
//! and imports), their creation and their changes.

use tidings_core::FieldError;
use tidings_core::attribute::{CustomAttribute, DataType, builtin, validate_custom_name};
use tidings_core::text;
use tidings_store::{StoreError, Workspace};

use crate::Engine;
use crate::error::{EngineError, Missing, Result};

/// The most options a list attribute may offer.
pub const MAX_OPTIONS: usize = 1_000;

/// Whether `name` may be a new custom attribute's: allowed characters (see
/// `validate_custom_name`), and not a built-in attribute's name, which would make `email` or
/// `name` mean two things.
///
/// # Errors
/// Why not, naming the field `name`.
pub fn check_attribute_name(name: &str) -> std::result::Result<(), FieldError> {
    validate_custom_name(name).map_err(|m| FieldError::invalid("name", m))?;
    if builtin(name).is_some() {
        return Err(FieldError::invalid(
            "name",
            format!("You already have '{name}' in your contact data: it is a built-in attribute"),
        ));
    }
    Ok(())
}

/// A custom attribute to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAttribute {
    pub name: String,
    pub data_type: DataType,
    pub description: Option<String>,
    /// The values a string attribute offers (none: any).
    pub options: Vec<String>,
    /// Whether the Messenger may set it from the company's page.
    pub messenger_writable: bool,
}

impl NewAttribute {
    /// An attribute of that name and type, with nothing else.
    pub fn named(name: &str, data_type: DataType) -> Self {
        NewAttribute { name: name.to_owned(), data_type, description: None, options: vec![], messenger_writable: false }
    }
}

/// What an update changes of a custom attribute (`None`: unchanged). Its name and type never
/// change: stored values and segments depend on them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AttributeChange {
    pub archived: Option<bool>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<String>>,
    pub messenger_writable: Option<bool>,
    pub options: Option<Vec<String>>,
}

fn check_options(options: &[String], data_type: DataType) -> Result<()> {
    if options.len() > MAX_OPTIONS {
        return Err(EngineError::invalid("options", format!("At most {MAX_OPTIONS} options")));
    }
    for (i, o) in options.iter().enumerate() {
        text::check(&format!("options[{i}]"), o, text::VALUE)?;
    }
    if !options.is_empty() && data_type != DataType::String {
        return Err(EngineError::invalid("options", "Options are only allowed on string attributes"));
    }
    Ok(())
}

fn check_description(description: Option<&str>) -> Result<()> {
    if let Some(d) = description {
        text::check("description", d, text::VALUE)?;
    }
    Ok(())
}

impl Engine {
    /// Creates a custom attribute of contacts (`by`: the teammate who did, if one did).
    ///
    /// # Errors
    /// A name that cannot be an attribute's or that the workspace already has (`name`), too
    /// many or too long options, options on a type other than string (`options`), a description
    /// too long (`description`), or a database failure.
    pub async fn create_custom_attribute(
        &self,
        ws: &Workspace,
        by: Option<i64>,
        new: NewAttribute,
    ) -> Result<CustomAttribute> {
        check_attribute_name(&new.name)?;
        check_options(&new.options, new.data_type)?;
        check_description(new.description.as_deref())?;
        let now = self.now();
        let attr = CustomAttribute {
            id: 0,
            label: new.name.clone(),
            name: new.name,
            data_type: new.data_type,
            description: new.description,
            options: new.options,
            messenger_writable: new.messenger_writable,
            archived: false,
            created_at: now,
            updated_at: now,
            admin_id: by,
        };
        self.store.create_custom_attribute(ws.id, &attr).await.map_err(|e| match e {
            StoreError::Conflict { .. } => EngineError::invalid(
                "name",
                format!(
                    "You already have '{}' in your contact data. To save this as new contact data, use a different name.",
                    attr.name
                ),
            ),
            other => other.into(),
        })
    }

    /// Changes a custom attribute: archived or not, its description, whether the Messenger may
    /// set it, its options. Returns it as it now is.
    ///
    /// # Errors
    /// An attribute not in the workspace; too many or too long options, options on a type
    /// other than string (`options`); a description too long; a database failure.
    pub async fn update_custom_attribute(
        &self,
        ws: &Workspace,
        id: i64,
        change: AttributeChange,
    ) -> Result<CustomAttribute> {
        let mut attr = self
            .store
            .custom_attributes(ws.id)
            .await?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| EngineError::not_found(Missing::Attribute))?;
        if let Some(d) = &change.description {
            check_description(d.as_deref())?;
            attr.description.clone_from(d);
        }
        if let Some(o) = change.options {
            check_options(&o, attr.data_type)?;
            attr.options = o;
        }
        if let Some(a) = change.archived {
            attr.archived = a;
        }
        if let Some(m) = change.messenger_writable {
            attr.messenger_writable = m;
        }
        attr.updated_at = self.now();
        if !self.store.update_custom_attribute(ws.id, &attr).await? {
            return Err(EngineError::not_found(Missing::Attribute));
        }
        Ok(attr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_refused_for_its_characters_or_for_being_built_in() {
        assert!(check_attribute_name("Mithril Shirt").is_ok());
        assert!(check_attribute_name("prix €").is_ok());
        for bad in ["bad.name", "", "   ", "a\"b", "[x]"] {
            let e = check_attribute_name(bad).unwrap_err();
            assert_eq!(e.field, "name", "{bad:?}");
            assert!(e.message.contains("alphanumeric"), "{bad:?}: {}", e.message);
        }
        for built_in in ["email", "name", "created_at"] {
            let e = check_attribute_name(built_in).unwrap_err();
            assert!(e.message.contains("built-in"), "{built_in}: {}", e.message);
        }
    }

    #[test]
    fn options_are_for_strings_and_bounded() {
        assert!(check_options(&["a".into(), "b".into()], DataType::String).is_ok());
        assert!(check_options(&[], DataType::Integer).is_ok());
        let on_number = check_options(&["1".into()], DataType::Integer).unwrap_err();
        assert!(on_number.to_string().contains("string attributes"), "{on_number}");
        let many: Vec<String> = (0..=MAX_OPTIONS).map(|i| i.to_string()).collect();
        assert!(check_options(&many, DataType::String).unwrap_err().to_string().contains("At most"));
        let long = vec!["ok".to_owned(), "x".repeat(text::VALUE + 1)];
        match check_options(&long, DataType::String) {
            Err(EngineError::Invalid(e)) => assert_eq!(e.0[0].field, "options[1]"),
            other => panic!("{other:?}"),
        }
    }
}
