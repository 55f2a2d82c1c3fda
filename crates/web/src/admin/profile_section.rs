//! Settings › Your profile and the Messenger's look as the settings page shows them: read from
//! the teammate and the workspace, or as typed when a save was refused (by [`super::profile`]),
//! with the fields to mark.

use tidings_store::{Teammate, Workspace};

/// Settings › Your profile, as shown.
pub struct ProfileSection {
    pub name: String,
    pub avatar_url: String,
    /// The fields the last save refused, to mark them.
    pub bad_fields: Vec<String>,
}

impl ProfileSection {
    pub fn of(t: &Teammate) -> Self {
        ProfileSection {
            name: t.name.clone(),
            avatar_url: t.avatar_url.clone().unwrap_or_default(),
            bad_fields: vec![],
        }
    }

    pub fn bad(&self, field: &str) -> bool {
        self.bad_fields.iter().any(|f| f == field)
    }
}

/// How the Messenger looks, in Settings › Messenger.
pub struct LookSection {
    pub name: String,
    pub color: String,
    pub greeting: String,
    pub bad_fields: Vec<String>,
}

impl LookSection {
    pub fn of(ws: &Workspace) -> Self {
        LookSection {
            name: ws.name.clone(),
            color: ws.messenger_color.clone(),
            greeting: ws.messenger_greeting.clone(),
            bad_fields: vec![],
        }
    }

    pub fn bad(&self, field: &str) -> bool {
        self.bad_fields.iter().any(|f| f == field)
    }
}
