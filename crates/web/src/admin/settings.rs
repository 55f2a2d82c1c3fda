//! The settings page: the teammate's own profile and the Messenger's look (saved by
//! [`super::profile`]), the Messenger snippet and settings, teammates and their roles, API
//! tokens, data attributes, how the workspace sends email, and its webhooks (changed by
//! [`super::webhooks`]).
//!
//! What a section shows is read by a module of its own ([`super::email_settings`],
//! [`super::profile_section`], [`super::webhooks_section`]) that imports nothing from here, so
//! that the form handlers elsewhere can answer with this page without an import circle.
//!
//! What a teammate may change is decided by [`crate::roles`] through [`Admin::require`] and the
//! rules about acting on others; the page shows only what the viewer may use, and every handler
//! checks again, answering a refused change with 403 and the settings page saying why.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tidings_core::attribute::DataType;
use tidings_engine::EngineError;
use tidings_engine::attributes::NewAttribute;
use tidings_engine::email::compose::{DkimInput, EmailSettingsInput, SmtpChange, redact_smtp_url};
use tidings_engine::email::replies::reply_email_minutes;
use tidings_store::{ApiToken, TeammateRole};

use super::email_settings::EmailSection;
use super::profile_section::{LookSection, ProfileSection};
use super::session::{Admin, render};
use super::view::{When, when};
use super::webhooks_section::WebhooksSection;
use crate::AppState;
use crate::error::ApiError;
use crate::provision;
use crate::roles::{self, Forbidden, Permission};

struct TeammateRow {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    /// The other roles the viewer may move this teammate to (none: no form).
    roles: Vec<&'static str>,
}

struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    holder: String,
    created: When,
    revoked: bool,
    revocable: bool,
}

struct AttributeRow {
    name: String,
    data_type: String,
    description: String,
    archived: bool,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    admin_name: String,
    workspace: String,
    app_id: String,
    csrf: String,
    /// Roles the viewer may give a new teammate (none: no form).
    new_roles: Vec<&'static str>,
    /// Whether the token list shows every teammate's tokens or only the viewer's.
    all_tokens: bool,
    can_messenger: bool,
    teammates: Vec<TeammateRow>,
    tokens: Vec<TokenRow>,
    attributes: Vec<AttributeRow>,
    message: Option<String>,
    error: Option<String>,
    new_token: Option<String>,
    /// Only for those allowed to see it.
    identity_secret: Option<String>,
    /// When the secret was last rotated, if ever.
    secret_rotated: Option<When>,
    identity_required: bool,
    allowed_origins: String,
    public_url: String,
    /// Settings › Email, for those who may change it.
    email: Option<EmailSection>,
    /// Settings › Your profile.
    profile: ProfileSection,
    /// How the Messenger looks, for those who may change it.
    look: Option<LookSection>,
    /// Settings › Webhooks, for those who may see and change them.
    webhooks: Option<WebhooksSection>,
}

/// What the page says above its sections, and the status it answers with.
#[derive(Default)]
pub(super) struct Notice {
    pub status: StatusCode,
    pub message: Option<String>,
    pub error: Option<String>,
    pub new_token: Option<String>,
    /// Settings › Email as submitted, when it was refused (otherwise as stored).
    pub email: Option<EmailSection>,
    /// Settings › Your profile as submitted, when it was refused.
    pub profile: Option<ProfileSection>,
    /// The Messenger's look as submitted, when it was refused.
    pub look: Option<LookSection>,
    /// Settings › Webhooks with the form as submitted, when it was refused (otherwise as stored).
    pub webhooks: Option<WebhooksSection>,
}

impl Notice {
    pub(super) fn done(message: impl Into<String>) -> Self {
        Notice { message: Some(message.into()), ..Notice::default() }
    }

    pub(super) fn error(message: impl Into<String>) -> Self {
        Notice { status: StatusCode::BAD_REQUEST, error: Some(message.into()), ..Notice::default() }
    }

    pub(super) fn forbidden(f: Forbidden) -> Self {
        Notice { status: StatusCode::FORBIDDEN, error: Some(format!("{}.", f.0)), ..Notice::default() }
    }
}

pub(super) async fn settings_page(state: &AppState, admin: &Admin, notice: Notice) -> Response {
    let ws = admin.workspace.id;
    let tz = &admin.workspace.timezone;
    let (teammates, tokens, attributes) = match (
        state.store.teammates(ws).await,
        state.store.api_tokens(ws).await,
        state.store.custom_attributes(ws).await,
    ) {
        (Ok(t), Ok(k), Ok(a)) => (t, k, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return ApiError::from(e).into_response();
        }
    };
    let webhooks = match (admin.can(Permission::Webhooks), notice.webhooks) {
        (false, _) => None,
        (true, Some(typed)) => Some(typed),
        (true, None) => match WebhooksSection::of(state, &admin.workspace).await {
            Ok(section) => Some(section),
            Err(e) => return e.into_response(),
        },
    };
    let email = match (admin.can(Permission::EmailSettings), notice.email) {
        (false, _) => None,
        (true, Some(section)) => Some(section),
        (true, None) => match EmailSection::of(state, &admin.workspace).await {
            Ok(section) => Some(section),
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let me = &admin.teammate;
    let by_id: HashMap<i64, &tidings_store::Teammate> = teammates.iter().map(|t| (t.id, t)).collect();
    let mut response = render(&SettingsPage {
        admin_name: me.name.clone(),
        workspace: admin.workspace.name.clone(),
        app_id: admin.workspace.app_id.clone(),
        csrf: admin.session.csrf_token.clone(),
        new_roles: roles::assignable(me.role).into_iter().map(TeammateRole::as_str).collect(),
        all_tokens: admin.can(Permission::ManageTokens),
        can_messenger: admin.can(Permission::MessengerSettings),
        teammates: teammates
            .iter()
            .map(|t| TeammateRow {
                id: t.id,
                name: t.name.clone(),
                email: t.email.clone(),
                role: t.role.as_str(),
                roles: roles::assignable(me.role)
                    .into_iter()
                    .filter(|to| *to != t.role && roles::may_set_role(me, t, *to).is_ok())
                    .map(TeammateRole::as_str)
                    .collect(),
            })
            .collect(),
        tokens: tokens
            .iter()
            .filter(|t| roles::sees_tokens_of(me, t.teammate_id))
            .map(|t: &ApiToken| TokenRow {
                id: t.id,
                name: t.name.clone(),
                prefix: t.prefix.clone(),
                holder: by_id.get(&t.teammate_id).map(|h| h.name.clone()).unwrap_or_default(),
                created: when(Some(t.created_at), tz),
                revoked: t.revoked_at.is_some(),
                revocable: by_id.get(&t.teammate_id).is_some_and(|h| roles::may_revoke_token_of(me, h).is_ok()),
            })
            .collect(),
        attributes: attributes
            .iter()
            .map(|a| AttributeRow {
                name: a.name.clone(),
                data_type: a.data_type.as_str().into(),
                description: a.description.clone().unwrap_or_default(),
                archived: a.archived,
            })
            .collect(),
        message: notice.message,
        error: notice.error,
        new_token: notice.new_token,
        identity_secret: admin.can(Permission::IdentitySecret).then(|| admin.workspace.identity_secret.clone()),
        secret_rotated: admin.workspace.identity_secret_rotated_at.map(|at| when(Some(at), tz)),
        identity_required: admin.workspace.identity_required,
        allowed_origins: admin.workspace.allowed_origins.join("\n"),
        public_url: state.config.public_url.clone(),
        email,
        profile: notice.profile.unwrap_or_else(|| ProfileSection::of(me)),
        look: admin
            .can(Permission::MessengerSettings)
            .then(|| notice.look.unwrap_or_else(|| LookSection::of(&admin.workspace))),
        webhooks,
    });
    *response.status_mut() = notice.status;
    response
}

pub async fn settings(State(state): State<AppState>, admin: Admin) -> Response {
    settings_page(&state, &admin, Notice::default()).await
}

fn csrf_refused() -> Response {
    (StatusCode::FORBIDDEN, "Missing or wrong CSRF token: reload the page and try again").into_response()
}

fn error_text(e: &ApiError) -> String {
    e.errors.first().map(|e| e.message.clone()).unwrap_or_else(|| "Something went wrong".into())
}

/// The page refusing a change the teammate's role does not allow.
async fn forbidden(state: &AppState, admin: &Admin, f: Forbidden) -> Response {
    settings_page(state, admin, Notice::forbidden(f)).await
}

#[derive(Deserialize)]
pub struct TeammateForm {
    csrf: String,
    name: String,
    email: String,
    password: String,
    role: String,
}

pub async fn add_teammate(State(state): State<AppState>, admin: Admin, Form(f): Form<TeammateForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(f) = admin.require(Permission::ManageTeammates) {
        return forbidden(&state, &admin, f).await;
    }
    let Some(role) = TeammateRole::parse(&f.role).filter(|r| roles::assignable(admin.teammate.role).contains(r)) else {
        return settings_page(&state, &admin, Notice::error("Choose a role for the teammate: admin or member.")).await;
    };
    let notice = match provision::teammate(&state.store, &admin.workspace, &f.name, &f.email, &f.password, role).await {
        Ok(t) => Notice::done(format!("{} can now log in as {} ({}).", t.name, t.email, t.role.as_str())),
        Err(e) => Notice::error(error_text(&e)),
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: String,
    role: String,
}

/// Moves a teammate to another role, within what [`roles::may_set_role`] allows the caller.
pub async fn set_role(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(f): Form<RoleForm>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(f) = admin.require(Permission::ManageTeammates) {
        return forbidden(&state, &admin, f).await;
    }
    let Some(to) = TeammateRole::parse(&f.role) else {
        return settings_page(&state, &admin, Notice::error("Choose a role: admin or member.")).await;
    };
    let target = match state.store.teammate(admin.workspace.id, id).await {
        Ok(Some(t)) => t,
        Ok(None) => return settings_page(&state, &admin, Notice::error("No such teammate.")).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(f) = roles::may_set_role(&admin.teammate, &target, to) {
        return forbidden(&state, &admin, f).await;
    }
    if target.role == to {
        return settings_page(&state, &admin, Notice::done(format!("{} already is {}.", target.name, to.as_str())))
            .await;
    }
    let notice = match state.engine.set_teammate_role(&admin.workspace, &target, to).await {
        Ok(t) => Notice::done(format!("{} is now {}.", t.name, t.role.as_str())),
        Err(e) => Notice::error(error_text(&ApiError::from(e))),
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    csrf: String,
    name: String,
}

/// Creates a token acting as the logged-in teammate, with their role: the owner and admins
/// manage tokens; a member works in the app (and may still revoke a token of their own, say one
/// made while they were an admin).
pub async fn create_token(State(state): State<AppState>, admin: Admin, Form(f): Form<TokenForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(f) = admin.require(Permission::ManageTokens) {
        return forbidden(&state, &admin, f).await;
    }
    let name = if f.name.trim().is_empty() { "API token".to_owned() } else { f.name.trim().to_owned() };
    let notice = match provision::api_token(&state.store, &admin.workspace, &admin.teammate, &name).await {
        Ok((_, secret)) => Notice {
            new_token: Some(secret),
            ..Notice::done("Copy this token now: it is shown only once. It acts with your role.")
        },
        Err(e) => Notice::error(error_text(&e)),
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// Revokes a token: one's own, or, for the owner and admins, one held by a teammate below them.
pub async fn revoke_token(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let ws = admin.workspace.id;
    let token = match state.store.api_tokens(ws).await {
        Ok(tokens) => tokens.into_iter().find(|t| t.id == id && t.revoked_at.is_none()),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let holder = match token {
        Some(t) => state.store.teammate(ws, t.teammate_id).await,
        None => Ok(None),
    };
    let holder = match holder {
        Ok(Some(h)) => h,
        Ok(None) => return settings_page(&state, &admin, Notice::error("No such live token.")).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(f) = roles::may_revoke_token_of(&admin.teammate, &holder) {
        return forbidden(&state, &admin, f).await;
    }
    let notice = match state.engine.revoke_api_token(&admin.workspace, id).await {
        Ok(()) => Notice::done("The token was revoked: calls with it now fail."),
        Err(EngineError::NotFound { .. }) => Notice::error("No such live token."),
        Err(e) => Notice::error(error_text(&ApiError::from(e))),
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct AttributeForm {
    csrf: String,
    name: String,
    data_type: String,
    #[serde(default)]
    description: String,
}

pub async fn create_attribute(State(state): State<AppState>, admin: Admin, Form(f): Form<AttributeForm>) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let Some(data_type) = DataType::parse(&f.data_type) else {
        return settings_page(&state, &admin, Notice::error("Choose a type: string, integer, float, boolean or date"))
            .await;
    };
    let new = NewAttribute {
        description: Some(f.description.trim().to_owned()).filter(|d| !d.is_empty()),
        ..NewAttribute::named(f.name.trim(), data_type)
    };
    let notice = match state.engine.create_custom_attribute(&admin.workspace, Some(admin.teammate.id), new).await {
        Ok(a) => Notice::done(format!("Attribute {} ({}) created.", a.name, a.data_type.as_str())),
        Err(e) => Notice::error(error_text(&ApiError::from(e))),
    };
    settings_page(&state, &admin, notice).await
}

#[derive(Deserialize)]
pub struct MessengerForm {
    csrf: String,
    #[serde(default)]
    identity_required: Option<String>,
    #[serde(default)]
    allowed_origins: String,
}

/// Saves the Messenger settings: identity verification and allowed origins.
pub async fn messenger_settings(
    State(state): State<AppState>,
    mut admin: Admin,
    Form(f): Form<MessengerForm>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(f) = admin.require(Permission::MessengerSettings) {
        return forbidden(&state, &admin, f).await;
    }
    let required = f.identity_required.is_some();
    match state.engine.update_messenger_settings(&admin.workspace, required, &f.allowed_origins).await {
        Ok(ws) => {
            state.workspaces.forget(ws.id);
            admin.workspace = ws;
            settings_page(&state, &admin, Notice::done("Messenger settings saved.")).await
        }
        Err(e @ EngineError::Invalid(_)) => settings_page(&state, &admin, Notice::error(error_text(&e.into()))).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct RotateForm {
    csrf: String,
    /// The box that says every `user_hash` will be recomputed.
    #[serde(default)]
    confirm: Option<String>,
}

/// Replaces the identity secret, once the teammate has ticked the box acknowledging what that
/// breaks.
pub async fn rotate_identity_secret(
    State(state): State<AppState>,
    mut admin: Admin,
    Form(f): Form<RotateForm>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(f) = admin.require(Permission::IdentitySecret) {
        return forbidden(&state, &admin, f).await;
    }
    if f.confirm.is_none() {
        let error = "Tick the box to confirm: every user_hash must be recomputed with the new secret.";
        return settings_page(&state, &admin, Notice::error(error)).await;
    }
    match provision::rotate_identity_secret(&state, admin.workspace.id).await {
        Ok(ws) => admin.workspace = ws,
        Err(e) => return e.into_response(),
    }
    let done = "The identity secret was rotated. Compute every user_hash with the new secret below; \
                every Messenger session has ended, and users get back in once their user_hash is new.";
    settings_page(&state, &admin, Notice::done(done)).await
}

#[derive(Deserialize)]
pub struct EmailSettingsForm {
    csrf: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    reply_to: String,
    #[serde(default)]
    smtp_url: String,
    /// Ticked: use the server's SMTP server instead of the workspace's.
    #[serde(default)]
    smtp_remove: Option<String>,
    #[serde(default)]
    tracking: Option<String>,
    #[serde(default)]
    rate_per_minute: String,
    #[serde(default)]
    dkim_selector: String,
    #[serde(default)]
    dkim_domain: String,
    /// Empty: keep the stored key (it is never shown back).
    #[serde(default)]
    dkim_private_key: String,
    /// Minutes before an unseen reply is emailed; absent: unchanged.
    #[serde(default)]
    reply_email_minutes: Option<String>,
}

/// `POST /app/settings/email`: saves Settings › Email (admins only). The SMTP URL field shows
/// the stored URL with its password hidden; sent back unchanged, the stored one is kept.
pub async fn save_email_settings(
    State(state): State<AppState>,
    mut admin: Admin,
    Form(f): Form<EmailSettingsForm>,
) -> Response {
    if !admin.csrf_ok(&f.csrf) {
        return (StatusCode::FORBIDDEN, "Missing or wrong CSRF token: reload the page and try again").into_response();
    }
    if let Err(e) = admin.require(Permission::EmailSettings) {
        return settings_page(&state, &admin, Notice::forbidden(e)).await;
    }
    let stored = admin.workspace.email.smtp_url.as_deref().map(redact_smtp_url).unwrap_or_default();
    let smtp = if f.smtp_remove.is_some() {
        SmtpChange::Remove
    } else if f.smtp_url.trim() == stored {
        SmtpChange::Keep
    } else {
        SmtpChange::Set(f.smtp_url.clone())
    };
    let input = EmailSettingsInput {
        from: f.from.clone(),
        reply_to: f.reply_to.clone(),
        smtp,
        tracking: f.tracking.is_some(),
        rate_per_minute: f.rate_per_minute.clone(),
        dkim: DkimInput {
            selector: f.dkim_selector.clone(),
            domain: f.dkim_domain.clone(),
            private_key: f.dkim_private_key.clone(),
        },
    };
    let saved = async {
        // The delay is checked first, so that a wrong one saves nothing at all.
        if let Some(m) = &f.reply_email_minutes {
            reply_email_minutes(m)?;
        }
        let ws = state.engine.update_email_settings(&admin.workspace, input).await?;
        if let Some(m) = &f.reply_email_minutes {
            state.engine.set_reply_email_delay(&ws, m).await?;
        }
        Ok::<_, EngineError>(ws)
    };
    match saved.await {
        Ok(ws) => {
            state.workspaces.forget(ws.id);
            admin.workspace = ws;
            settings_page(&state, &admin, Notice::done("Email settings saved.")).await
        }
        Err(e) => {
            let e = ApiError::from(e);
            let text = e.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join(" ");
            let fields = e.errors.iter().filter_map(|e| e.field.clone()).collect();
            // What was typed stays in the form, to be corrected.
            let mut section = match EmailSection::of(&state, &admin.workspace).await {
                Ok(section) => section,
                Err(e) => return ApiError::from(e).into_response(),
            };
            section.from = f.from;
            section.reply_to = f.reply_to;
            let mut text = text;
            let typed = f.smtp_url.trim();
            if typed != stored {
                // A password is never shown back: a URL with one must be typed again.
                if redact_smtp_url(typed) == typed {
                    section.smtp_url = typed.to_owned();
                } else {
                    text.push_str(" Type the SMTP server URL again: its password is not shown back.");
                }
            }
            section.tracking = f.tracking.is_some();
            section.rate_per_minute = f.rate_per_minute;
            if let Some(m) = f.reply_email_minutes {
                section.reply_minutes = m;
            }
            section.dkim_selector = f.dkim_selector;
            section.dkim_domain = f.dkim_domain;
            if !f.dkim_private_key.trim().is_empty() {
                text.push_str(" Paste the DKIM key again: it is not shown back.");
            }
            section.bad_fields = fields;
            let notice = Notice { email: Some(section), ..Notice::error(text) };
            settings_page(&state, &admin, notice).await
        }
    }
}
