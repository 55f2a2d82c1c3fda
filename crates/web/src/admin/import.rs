//! Importing contacts from a file (`/app/import`), for the owner and admins: the upload (raw
//! body, up to [`MAX_UPLOAD`], checked to be CSV or JSON lines with contacts), the preview of its
//! columns with what each will set, the start, and the import's page, which follows its progress
//! live and ends with the counts and the report of the rejected lines. The engine does the work
//! ([`tidings_engine::import`]); the import runs on the server whether or not the page is open.

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tidings_engine::import::jobs::{MAX_UPLOAD, upload_dir};
use tidings_engine::import::preview::{Choice, Preview};
use tidings_engine::import::{Format, ImportError};
use tidings_store::{Import, ImportStatus};
use tokio::io::AsyncWriteExt;

use super::session::{Admin, render};
use super::view::{When, fail, when};
use crate::AppState;
use crate::error::ApiError;
use crate::roles::Permission;

/// One option of a column's choice.
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

struct PreviewRow {
    index: usize,
    name: String,
    samples: String,
    /// The fixed meaning, when the column offers no choice.
    fixed: String,
    options: Vec<Opt>,
}

/// An import as its page and the list show it.
struct Job {
    id: i64,
    file_name: String,
    status: &'static str,
    status_text: String,
    percent: i64,
    lines: i64,
    created: i64,
    updated: i64,
    unchanged: i64,
    rejected: i64,
    error: Option<String>,
    created_at: When,
    finished: bool,
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    admin_name: String,
    workspace: String,
    csrf: String,
    max_mb: u64,
    forbidden: Option<String>,
    error: Option<String>,
    /// The import this page is about, when it has started.
    job: Option<Job>,
    /// Its preview, while it waits to start.
    preview: Vec<PreviewRow>,
    preview_id: i64,
    preview_file: String,
    preview_format: &'static str,
    preview_unidentified: bool,
    recent: Vec<Job>,
}

impl ImportPage {
    fn new(admin: &Admin) -> Self {
        ImportPage {
            admin_name: admin.teammate.name.clone(),
            workspace: admin.workspace.name.clone(),
            csrf: admin.session.csrf_token.clone(),
            max_mb: MAX_UPLOAD / (1024 * 1024),
            forbidden: None,
            error: None,
            job: None,
            preview: Vec::new(),
            preview_id: 0,
            preview_file: String::new(),
            preview_format: "",
            preview_unidentified: false,
            recent: Vec::new(),
        }
    }
}

fn with_status(page: &ImportPage, status: StatusCode) -> Response {
    let mut r = render(page);
    *r.status_mut() = status;
    r
}

fn status_text(i: &Import) -> String {
    match i.status {
        ImportStatus::Uploaded => "Uploaded: waiting for its columns to be confirmed".into(),
        ImportStatus::Running if i.runs > 1 => "Importing again from the top: the server running it stopped".into(),
        ImportStatus::Running => "Importing…".into(),
        ImportStatus::Done if i.runs > 1 => "Done, after a server running it stopped".into(),
        ImportStatus::Done => "Done".into(),
        ImportStatus::Failed => "Failed".into(),
        ImportStatus::Interrupted => "Interrupted: the server stopped before the import ended".into(),
    }
}

fn percent(i: &Import) -> i64 {
    match i.status {
        ImportStatus::Done => 100,
        _ if i.size <= 0 => 0,
        // Bytes are read ahead of the last batch's write: 99% until it is written.
        _ => (i.counters.bytes_read * 100 / i.size).clamp(0, 99),
    }
}

fn job(i: &Import, tz: &str) -> Job {
    Job {
        id: i.id,
        file_name: i.file_name.clone(),
        status: i.status.as_str(),
        status_text: status_text(i),
        percent: percent(i),
        lines: i.counters.lines,
        created: i.counters.created,
        updated: i.counters.updated,
        unchanged: i.counters.unchanged,
        rejected: i.counters.rejected,
        error: i.error.clone(),
        created_at: when(Some(i.created_at), tz),
        finished: i.status.finished(),
    }
}

fn choice_label(c: &Choice, column: &str) -> String {
    match c {
        Choice::Attribute(a) => a.clone(),
        Choice::Tags => "tags (comma-separated)".into(),
        Choice::New(t) => format!("new attribute “{column}” ({})", t.as_str()),
        Choice::Skip => "skip this column".into(),
    }
}

fn preview_rows(p: &Preview, chosen: &[Option<Choice>]) -> Vec<PreviewRow> {
    p.columns
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let current = chosen.get(index).cloned().flatten().unwrap_or_else(|| c.suggested.clone());
            let fixed = if c.choices.is_empty() || c.ignored {
                if !c.ignored {
                    choice_label(&c.suggested, &c.name)
                } else if ["id", "created_at", "updated_at"].contains(&c.name.as_str()) {
                    "skipped: Tidings sets it".into()
                } else {
                    "left out: not a contact's field".into()
                }
            } else {
                String::new()
            };
            let options = if fixed.is_empty() {
                c.choices
                    .iter()
                    .map(|o| Opt { value: o.value(), label: choice_label(o, &c.name), selected: *o == current })
                    .collect()
            } else {
                Vec::new()
            };
            PreviewRow { index, name: c.name.clone(), samples: c.samples.join(" · "), fixed, options }
        })
        .collect()
}

async fn recent(state: &AppState, admin: &Admin) -> Vec<Job> {
    let tz = admin.workspace.timezone.clone();
    match state.store.imports(admin.workspace.id, 20).await {
        Ok(list) => list.iter().filter(|i| i.status != ImportStatus::Uploaded).map(|i| job(i, &tz)).collect(),
        Err(e) => {
            tracing::warn!("reading the recent imports failed: {e}");
            Vec::new()
        }
    }
}

fn forbidden(admin: &Admin) -> Option<Response> {
    let Err(f) = admin.require(Permission::ImportContacts) else { return None };
    let mut page = ImportPage::new(admin);
    page.forbidden = Some(format!("{}.", f.0));
    Some(with_status(&page, StatusCode::FORBIDDEN))
}

/// `GET /app/import`: the upload, and the recent imports.
pub async fn index(State(state): State<AppState>, admin: Admin) -> Response {
    if let Some(r) = forbidden(&admin) {
        return r;
    }
    let mut page = ImportPage::new(&admin);
    page.recent = recent(&state, &admin).await;
    render(&page)
}

#[derive(Deserialize)]
pub struct UploadQuery {
    #[serde(default)]
    name: String,
}

fn refused(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError::new(status, "parameter_invalid", message).with_field("file").into_response()
}

/// `POST /app/import/upload?name=FILE`: the file as the request's body (the page's script sends
/// it with the session's CSRF token in `X-CSRF-Token`). Answers `{id, url}` of its preview, or an
/// `error.list` saying what is wrong with the file.
pub async fn upload(
    State(state): State<AppState>,
    admin: Admin,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !admin.csrf_ok(sent) {
        return ApiError::forbidden("Reload the page: this form has expired.").into_response();
    }
    if let Err(f) = admin.require(Permission::ImportContacts) {
        return ApiError::from(f).into_response();
    }
    let too_big = || {
        refused(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The file is larger than {} MB. Split it into smaller files.", MAX_UPLOAD / (1024 * 1024)),
        )
    };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_UPLOAD)
    {
        return too_big();
    }
    let dir = upload_dir();
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return fail(ApiError::internal(format!("cannot create {}: {e}", dir.display())));
    }
    let path = dir.join(format!("{}-{}", admin.workspace.id, crate::auth::random_secret(12)));
    let mut file = match tokio::fs::File::create(&path).await {
        Ok(f) => f,
        Err(e) => return fail(ApiError::internal(format!("cannot create {}: {e}", path.display()))),
    };
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                // Over the route's body limit, or the upload was cut.
                if e.to_string().contains("length limit") {
                    return too_big();
                }
                return refused(StatusCode::BAD_REQUEST, "The upload was cut before the end. Try again.");
            }
        };
        size += chunk.len() as u64;
        if size > MAX_UPLOAD {
            drop(file);
            let _ = tokio::fs::remove_file(&path).await;
            return too_big();
        }
        if let Err(e) = file.write_all(&chunk).await {
            let _ = tokio::fs::remove_file(&path).await;
            return fail(ApiError::internal(format!("cannot write {}: {e}", path.display())));
        }
    }
    if let Err(e) = file.flush().await {
        return fail(ApiError::internal(format!("cannot write {}: {e}", path.display())));
    }
    drop(file);
    let name = if q.name.trim().is_empty() { "upload" } else { q.name.trim() };
    match state.engine.upload_import(&admin.workspace, admin.teammate.id, name, &path).await {
        Ok(i) => axum::Json(json!({"id": i.id.to_string(), "url": format!("/app/import/{}", i.id)})).into_response(),
        Err(ImportError::Store(e)) => fail(e),
        Err(e) => refused(StatusCode::BAD_REQUEST, e.explain()),
    }
}

async fn the_import(state: &AppState, admin: &Admin, id: i64) -> Result<Import, Response> {
    match state.engine.import(&admin.workspace, id).await {
        Ok(Some(i)) => Ok(i),
        Ok(None) => Err(fail(ApiError::not_found())),
        Err(e) => Err(fail(e)),
    }
}

/// `GET /app/import/{id}`: the preview of an uploaded file, or the import as it stands.
pub async fn show(State(state): State<AppState>, admin: Admin, Path(id): Path<i64>) -> Response {
    if let Some(r) = forbidden(&admin) {
        return r;
    }
    let import = match the_import(&state, &admin, id).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    if import.status == ImportStatus::Uploaded {
        return preview_page(&state, &admin, &import, &[], None, StatusCode::OK).await;
    }
    let mut page = ImportPage::new(&admin);
    page.job = Some(job(&import, &admin.workspace.timezone));
    render(&page)
}

async fn preview_page(
    state: &AppState,
    admin: &Admin,
    import: &Import,
    chosen: &[Option<Choice>],
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let mut page = ImportPage::new(admin);
    page.preview_id = import.id;
    page.preview_file = import.file_name.clone();
    match state.engine.import_preview(&admin.workspace, import).await {
        Ok(p) => {
            page.preview_format = match p.format {
                Format::Csv => "CSV",
                Format::Jsonl => "JSON lines",
            };
            page.preview_unidentified = !p.identified;
            page.preview = preview_rows(&p, chosen);
            page.error = error;
            with_status(&page, status)
        }
        Err(ImportError::Store(e)) => fail(e),
        Err(e) => {
            page.error = Some(e.explain());
            with_status(&page, StatusCode::BAD_REQUEST)
        }
    }
}

/// `POST /app/import/{id}/start`: the column choices (`col0`, `col1`, …), then the import
/// starts in the background and the page follows it.
pub async fn start(
    State(state): State<AppState>,
    admin: Admin,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let csrf = form.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    if !admin.csrf_ok(csrf) {
        return (StatusCode::FORBIDDEN, "Reload the page: this form has expired.").into_response();
    }
    if let Some(r) = forbidden(&admin) {
        return r;
    }
    let import = match the_import(&state, &admin, id).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    if import.status != ImportStatus::Uploaded {
        return Redirect::to(&format!("/app/import/{id}")).into_response();
    }
    let preview = match state.engine.import_preview(&admin.workspace, &import).await {
        Ok(p) => p,
        Err(ImportError::Store(e)) => return fail(e),
        Err(e) => {
            let mut page = ImportPage::new(&admin);
            page.error = Some(e.explain());
            return with_status(&page, StatusCode::BAD_REQUEST);
        }
    };
    let mut chosen: Vec<Option<Choice>> = vec![None; preview.columns.len()];
    for (key, value) in &form {
        let Some(i) = key.strip_prefix("col").and_then(|n| n.parse::<usize>().ok()) else { continue };
        if let Some(slot) = chosen.get_mut(i) {
            *slot = Choice::parse(value);
        }
    }
    let again =
        |e: ImportError| preview_page(&state, &admin, &import, &chosen, Some(e.explain()), StatusCode::BAD_REQUEST);
    let options = match preview.options(&chosen) {
        Ok(o) => o,
        Err(e) => return again(e).await,
    };
    match state.engine.start_import(&admin.workspace, &import, options).await {
        Ok(()) => Redirect::to(&format!("/app/import/{id}")).into_response(),
        Err(ImportError::Store(e)) => fail(e),
        Err(e) => again(e).await,
    }
}

/// `GET /app/import/{id}/state`: where the import stands, for its page's live part.
pub async fn state(State(state): State<AppState>, admin: Admin, Path(id): Path<i64>) -> Response {
    if let Err(f) = admin.require(Permission::ImportContacts) {
        return ApiError::from(f).into_response();
    }
    let import = match the_import(&state, &admin, id).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let c = import.counters;
    axum::Json(json!({
        "id": import.id.to_string(),
        "status": import.status.as_str(),
        "status_text": status_text(&import),
        "finished": import.status.finished(),
        "percent": percent(&import),
        "lines": c.lines,
        "created": c.created,
        "updated": c.updated,
        "unchanged": c.unchanged,
        "rejected": c.rejected,
    }))
    .into_response()
}

/// `GET /app/import/{id}/rejected.csv`: the report of the lines the import rejected.
pub async fn report(State(state): State<AppState>, admin: Admin, Path(id): Path<i64>) -> Response {
    if let Err(f) = admin.require(Permission::ImportContacts) {
        return ApiError::from(f).into_response();
    }
    let import = match the_import(&state, &admin, id).await {
        Ok(i) => i,
        Err(r) => return r,
    };
    let body = match state.store.import_report(admin.workspace.id, id).await {
        Ok(Some(r)) => r,
        Ok(None) => "line,field,reason\n".to_owned(),
        Err(e) => return fail(e),
    };
    let stem: String = import
        .file_name
        .rsplit_once('.')
        .map_or(import.file_name.as_str(), |(s, _)| s)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let name = format!("{}-rejected.csv", if stem.is_empty() { "import" } else { &stem });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        body,
    )
        .into_response()
}
