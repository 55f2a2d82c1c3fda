//! The JSON objects of the API, exactly as Intercom's contract shapes them: every field present,
//! `null` when empty; ids as strings except the few integer ones.

use serde_json::{Value as Json, json};
use tidings_core::attribute::{BuiltIn, CustomAttribute};
use tidings_core::contact::Contact;
use tidings_store::{AppliedTag, Segment, Tag, Teammate, Workspace};

/// How many tags a contact object lists inline ("Up to 10 will be displayed here").
const INLINE_TAGS: usize = 10;

fn sub_list(contact_id: i64, what: &str) -> Json {
    json!({"type": "list", "data": [], "url": format!("/contacts/{contact_id}/{what}"), "total_count": 0, "has_more": false})
}

pub fn contact(c: &Contact, ws: &Workspace, tags: &[AppliedTag]) -> Json {
    let tag_data: Vec<Json> = tags
        .iter()
        .take(INLINE_TAGS)
        .map(|t| json!({"type": "tag", "id": t.tag.id.to_string(), "name": t.tag.name, "url": format!("/tags/{}", t.tag.id)}))
        .collect();
    json!({
        "type": "contact",
        "id": c.id.to_string(),
        "workspace_id": ws.app_id,
        "external_id": c.external_id,
        "role": c.role.as_str(),
        "email": c.email,
        "email_domain": c.email_domain(),
        "phone": c.phone,
        "formatted_phone": c.phone,
        "name": c.name,
        "avatar": c.avatar.as_ref().map(|url| json!({"type": "avatar", "image_url": url})),
        "owner_id": c.owner_id,
        "social_profiles": {"type": "list", "data": []},
        "has_hard_bounced": c.has_hard_bounced,
        "marked_email_as_spam": c.marked_email_as_spam,
        "unsubscribed_from_emails": c.unsubscribed_from_emails,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "signed_up_at": c.signed_up_at,
        "last_seen_at": c.last_seen_at,
        "last_replied_at": c.last_replied_at,
        "last_contacted_at": c.last_contacted_at,
        "last_email_opened_at": c.last_email_opened_at,
        "last_email_clicked_at": c.last_email_clicked_at,
        "language_override": c.language_override,
        "browser": c.browser,
        "browser_version": c.browser_version,
        "browser_language": c.browser_language,
        "os": c.os,
        "location": {"type": "location", "country": c.location_country, "region": c.location_region, "city": c.location_city, "country_code": null, "continent_code": null},
        "android_app_name": null, "android_app_version": null, "android_device": null, "android_os_version": null, "android_sdk_version": null, "android_last_seen_at": null,
        "ios_app_name": null, "ios_app_version": null, "ios_device": null, "ios_os_version": null, "ios_sdk_version": null, "ios_last_seen_at": null,
        "custom_attributes": c.custom_attributes,
        "tags": {"type": "list", "data": tag_data, "url": format!("/contacts/{}/tags", c.id), "total_count": tags.len(), "has_more": tags.len() > INLINE_TAGS},
        "notes": sub_list(c.id, "notes"),
        "companies": sub_list(c.id, "companies"),
        "opted_out_subscription_types": sub_list(c.id, "subscriptions"),
        "opted_in_subscription_types": sub_list(c.id, "subscriptions"),
        "utm_campaign": null, "utm_content": null, "utm_medium": null, "utm_source": null, "utm_term": null, "referrer": null,
        "timezone": c.timezone,
        "archived": c.archived,
    })
}

pub fn admin(t: &Teammate) -> Json {
    json!({
        "type": "admin",
        "id": t.id.to_string(),
        "name": t.name,
        "email": t.email,
        "job_title": t.job_title,
        "away_mode_enabled": t.away_mode_enabled,
        "away_mode_reassign": false,
        "has_inbox_seat": true,
        "team_ids": [],
        "avatar": {"type": "avatar", "image_url": t.avatar_url},
        "email_verified": true,
    })
}

pub fn app(ws: &Workspace) -> Json {
    json!({
        "type": "app",
        "id_code": ws.app_id,
        "name": ws.name,
        "created_at": ws.created_at,
        "secure": ws.identity_required,
        "identity_verification": ws.identity_required,
        "timezone": ws.timezone,
        "region": "US",
    })
}

pub fn tag(t: &Tag) -> Json {
    json!({"type": "tag", "id": t.id.to_string(), "name": t.name})
}

pub fn applied_tag(t: &AppliedTag) -> Json {
    json!({
        "type": "tag",
        "id": t.tag.id.to_string(),
        "name": t.tag.name,
        "applied_at": t.applied_at,
        "applied_by": t.applied_by.map(|id| json!({"type": "admin", "id": id.to_string()})),
    })
}

pub fn segment(s: &Segment, count: Option<i64>) -> Json {
    let mut v = json!({
        "type": "segment",
        "id": s.id.to_string(),
        "name": s.name,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
        "person_type": s.person_type.as_api(),
        "query": s.query,
        "builtin": s.builtin,
    });
    if let Some(c) = count {
        v["count"] = json!(c);
    }
    v
}

pub fn custom_attribute(a: &CustomAttribute) -> Json {
    json!({
        "type": "data_attribute",
        "id": a.id,
        "model": "contact",
        "name": a.name,
        "full_name": format!("custom_attributes.{}", a.name),
        "label": a.label,
        "description": a.description,
        "data_type": a.data_type.as_str(),
        "options": a.options,
        "api_writable": true,
        "messenger_writable": a.messenger_writable,
        "ui_writable": true,
        "custom": true,
        "archived": a.archived,
        "created_at": a.created_at,
        "updated_at": a.updated_at,
        "admin_id": a.admin_id.map(|id| id.to_string()),
    })
}

pub fn builtin_attribute(b: &BuiltIn) -> Json {
    json!({
        "type": "data_attribute",
        "model": "contact",
        "name": b.name,
        "full_name": b.name,
        "label": b.label,
        "description": b.description,
        "data_type": b.data_type.as_str(),
        "api_writable": false,
        "messenger_writable": false,
        "ui_writable": false,
        "custom": false,
        "archived": false,
    })
}
