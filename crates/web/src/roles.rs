//! Who may do what in a workspace: the one table of teammates' permissions.
//!
//! Both extractors that prove who is calling, [`crate::auth::Caller`] (API token or session) and
//! [`crate::admin::Admin`] (pages), check it through their `require` method, so a handler names
//! what it needs in one line and the rules live here only. An API token acts with the role of
//! the teammate it belongs to, read again on every request, so a change of role applies at once.
//!
//! - **Every teammate** does the daily work: contacts, data attributes, segments, tags, messages
//!   and conversations; and sees and revokes their own API tokens. Nothing is needed for that
//!   beyond being a teammate of the workspace, which the extractors already prove.
//! - **The owner and admins** also manage the team (add teammates, change roles), API tokens
//!   (creating them, and seeing and revoking everyone's), the identity secret, the Messenger
//!   settings (identity verification, allowed origins, and how it looks: the workspace's name,
//!   colour and greeting), email settings and webhooks, and import contacts from a file in the
//!   admin app (many contacts, attributes and tags at once).
//! - **Their own profile** (name and avatar) every teammate edits, and nobody edits another's.
//! - **Over other people**, a teammate acts only on those below them: the owner on admins and
//!   members, an admin on members. So an admin can neither demote nor revoke the tokens of another
//!   admin, and nobody but the owner touches anything of the owner's. The owner is the one who
//!   created the workspace; no role change makes or unmakes an owner.

use axum::http::StatusCode;
use tidings_store::{Teammate, TeammateRole};

use crate::error::ApiError;

/// Something beyond the daily work that a handler needs its caller to be allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Adding teammates and changing roles (of those below the caller: [`may_set_role`]).
    ManageTeammates,
    /// Creating API tokens, and seeing every teammate's and revoking them (of those below the
    /// caller: [`may_revoke_token_of`]).
    ManageTokens,
    /// Reading and rotating the identity secret.
    IdentitySecret,
    /// The Messenger settings: identity verification, allowed origins, and how it looks (the
    /// workspace's name, the Messenger's colour and greeting).
    MessengerSettings,
    /// How the workspace sends email: sender, reply-to, SMTP server, tracking, rate limit.
    EmailSettings,
    /// Webhook subscriptions: where the workspace's conversations are sent, and their secrets.
    Webhooks,
    /// Importing contacts from a file: many contacts, new custom attributes and tags at once.
    ImportContacts,
}

impl Permission {
    /// The roles holding this permission. Every arm is written out so that a new role or a new
    /// permission needs a decision here.
    pub fn allows(self, role: TeammateRole) -> bool {
        use TeammateRole::{Admin, Member, Owner};
        match (self, role) {
            (Permission::ManageTeammates, Owner | Admin) => true,
            (Permission::ManageTokens, Owner | Admin) => true,
            (Permission::IdentitySecret, Owner | Admin) => true,
            (Permission::MessengerSettings, Owner | Admin) => true,
            (Permission::EmailSettings, Owner | Admin) => true,
            (Permission::Webhooks, Owner | Admin) => true,
            (Permission::ImportContacts, Owner | Admin) => true,
            (
                Permission::ManageTeammates
                | Permission::ManageTokens
                | Permission::IdentitySecret
                | Permission::MessengerSettings
                | Permission::EmailSettings
                | Permission::Webhooks
                | Permission::ImportContacts,
                Member,
            ) => false,
        }
    }

    fn refusal(self) -> &'static str {
        match self {
            Permission::ManageTeammates => "Only the workspace's owner and admins can manage teammates",
            Permission::ManageTokens => "Only the workspace's owner and admins can manage other teammates' API tokens",
            Permission::IdentitySecret => "Only the workspace's owner and admins can see or rotate the identity secret",
            Permission::MessengerSettings => "Only the workspace's owner and admins can change the Messenger settings",
            Permission::EmailSettings => "Only the workspace's owner and admins can change the email settings",
            Permission::Webhooks => "Only the workspace's owner and admins can see or change webhooks",
            Permission::ImportContacts => "Only the workspace's owner and admins can import contacts from a file",
        }
    }
}

/// A refused action, with the reason to show: 403 `action_forbidden` on the API, a notice on
/// pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forbidden(pub &'static str);

impl From<Forbidden> for ApiError {
    fn from(f: Forbidden) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "action_forbidden", f.0)
    }
}

/// Whether `teammate` holds `permission`.
///
/// # Errors
/// [`Forbidden`], saying who may, when they do not.
pub fn check(teammate: &Teammate, permission: Permission) -> Result<(), Forbidden> {
    if permission.allows(teammate.role) { Ok(()) } else { Err(Forbidden(permission.refusal())) }
}

fn rank(role: TeammateRole) -> u8 {
    match role {
        TeammateRole::Owner => 2,
        TeammateRole::Admin => 1,
        TeammateRole::Member => 0,
    }
}

/// Whether `actor` stands above `target` (the owner above admins, admins above members).
fn above(actor: TeammateRole, target: TeammateRole) -> bool {
    rank(actor) > rank(target)
}

/// The roles a teammate may give: when adding someone, or to someone below them. Never owner,
/// never above their own.
pub fn assignable(actor: TeammateRole) -> Vec<TeammateRole> {
    if !Permission::ManageTeammates.allows(actor) {
        return vec![];
    }
    [TeammateRole::Admin, TeammateRole::Member].into_iter().filter(|r| !above(*r, actor)).collect()
}

/// Whether `actor` may move `target` to role `to`.
///
/// # Errors
/// [`Forbidden`] with the reason.
pub fn may_set_role(actor: &Teammate, target: &Teammate, to: TeammateRole) -> Result<(), Forbidden> {
    check(actor, Permission::ManageTeammates)?;
    if target.role == TeammateRole::Owner {
        return Err(Forbidden("Nobody can change the owner's role"));
    }
    if !above(actor.role, target.role) {
        return Err(Forbidden("Only the owner can change an admin's role"));
    }
    if !assignable(actor.role).contains(&to) {
        return Err(Forbidden("That role cannot be given here: a workspace has one owner"));
    }
    Ok(())
}

/// Whether `actor` may revoke an API token that belongs to `holder`: their own always, someone
/// else's with [`Permission::ManageTokens`] when the holder is below them.
///
/// # Errors
/// [`Forbidden`] with the reason.
pub fn may_revoke_token_of(actor: &Teammate, holder: &Teammate) -> Result<(), Forbidden> {
    if actor.id == holder.id {
        return Ok(());
    }
    check(actor, Permission::ManageTokens)?;
    if !above(actor.role, holder.role) {
        return Err(Forbidden("Only the owner can revoke the tokens of the owner or of another admin"));
    }
    Ok(())
}

/// Whether `actor` sees `holder`'s API tokens in the list.
pub fn sees_tokens_of(actor: &Teammate, holder_id: i64) -> bool {
    actor.id == holder_id || Permission::ManageTokens.allows(actor.role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TeammateRole::{Admin, Member, Owner};

    fn t(id: i64, role: TeammateRole) -> Teammate {
        Teammate {
            id,
            workspace_id: 1,
            email: format!("{id}@example.test"),
            name: id.to_string(),
            password_hash: None,
            role,
            job_title: None,
            away_mode_enabled: false,
            avatar_url: None,
            created_at: 0,
        }
    }

    #[test]
    fn members_do_the_daily_work_only() {
        let all = [
            Permission::ManageTeammates,
            Permission::ManageTokens,
            Permission::IdentitySecret,
            Permission::MessengerSettings,
            Permission::EmailSettings,
            Permission::Webhooks,
            Permission::ImportContacts,
        ];
        for p in all {
            assert!(p.allows(Owner) && p.allows(Admin), "{p:?}");
            assert!(!p.allows(Member), "{p:?}");
            assert_eq!(check(&t(1, Member), p), Err(Forbidden(p.refusal())));
        }
    }

    #[test]
    fn roles_change_only_below_the_actor_and_never_to_or_from_owner() {
        let (owner, admin, other_admin, member) = (t(1, Owner), t(2, Admin), t(3, Admin), t(4, Member));
        assert_eq!(assignable(Owner), [Admin, Member]);
        assert_eq!(assignable(Admin), [Admin, Member]);
        assert!(assignable(Member).is_empty());
        assert!(may_set_role(&owner, &admin, Member).is_ok());
        assert!(may_set_role(&owner, &member, Admin).is_ok());
        assert!(may_set_role(&admin, &member, Admin).is_ok(), "an admin promotes a member");
        assert!(may_set_role(&admin, &other_admin, Member).is_err(), "but does not demote another admin");
        assert!(may_set_role(&admin, &admin, Member).is_err(), "nor themself: the owner does");
        assert!(may_set_role(&admin, &owner, Member).is_err());
        assert!(may_set_role(&owner, &owner, Admin).is_err(), "the owner stays the owner");
        assert!(may_set_role(&owner, &admin, Owner).is_err(), "and nobody else becomes one");
        assert!(may_set_role(&member, &t(5, Member), Admin).is_err());
    }

    #[test]
    fn tokens_are_revoked_by_their_holder_or_from_above() {
        let (owner, admin, other_admin, member) = (t(1, Owner), t(2, Admin), t(3, Admin), t(4, Member));
        for who in [&owner, &admin, &member] {
            assert!(may_revoke_token_of(who, who).is_ok(), "{:?} revokes their own", who.role);
        }
        assert!(may_revoke_token_of(&owner, &admin).is_ok());
        assert!(may_revoke_token_of(&admin, &member).is_ok());
        assert!(may_revoke_token_of(&admin, &owner).is_err(), "an admin cannot revoke the owner's token");
        assert!(may_revoke_token_of(&admin, &other_admin).is_err());
        assert!(may_revoke_token_of(&member, &t(5, Member)).is_err());
        assert!(sees_tokens_of(&admin, owner.id) && sees_tokens_of(&member, member.id));
        assert!(!sees_tokens_of(&member, owner.id), "a member sees only their own tokens");
    }
}
