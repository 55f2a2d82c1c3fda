//! `tidings export contacts`: writes every contact of a workspace as CSV or JSON lines, in a
//! shape `tidings import contacts` reads back.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value as Json, json};
use tidings_core::contact::Contact;
use tidings_store::{Store, Workspace};

use crate::Format;

const PAGE: i64 = 5_000;
const FIXED: &[&str] = &[
    "id",
    "external_id",
    "email",
    "name",
    "phone",
    "role",
    "created_at",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
    "timezone",
];

fn record(c: &Contact) -> Json {
    json!({
        "id": c.id,
        "external_id": c.external_id,
        "email": c.email,
        "name": c.name,
        "phone": c.phone,
        "role": c.role.as_str(),
        "created_at": c.created_at,
        "signed_up_at": c.signed_up_at,
        "last_seen_at": c.last_seen_at,
        "unsubscribed_from_emails": c.unsubscribed_from_emails,
        "timezone": c.timezone,
        "custom_attributes": c.custom_attributes,
    })
}

fn text(v: Option<&Json>) -> String {
    match v {
        None | Some(Json::Null) => String::new(),
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Where records go: a CSV writer or JSON lines.
enum Sink<W: Write> {
    Csv { writer: Box<csv::Writer<W>>, custom: Vec<String> },
    Json(W),
}

impl<W: Write> Sink<W> {
    fn write(&mut self, c: &Contact) -> Result<(), String> {
        let r = record(c);
        match self {
            Sink::Csv { writer, custom } => {
                let row: Vec<String> = FIXED
                    .iter()
                    .map(|f| text(r.get(*f)))
                    .chain(custom.iter().map(|k| text(c.custom_attributes.get(k))))
                    .collect();
                writer.write_record(&row).map_err(|e| format!("cannot write the export: {e}"))
            }
            Sink::Json(out) => writeln!(out, "{r}").map_err(|e| format!("cannot write the export: {e}")),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Sink::Csv { mut writer, .. } => writer.flush(),
            Sink::Json(mut out) => out.flush(),
        }
        .map_err(|e| format!("cannot write the export: {e}"))
    }
}

/// Runs the export.
///
/// # Errors
/// When the output cannot be written or storage fails.
pub async fn contacts(
    store: &Arc<dyn Store>,
    ws: &Workspace,
    format: Format,
    output: Option<&Path>,
) -> Result<(), String> {
    let out: Box<dyn Write> = match output {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let out = std::io::BufWriter::new(out);
    let custom: Vec<String> =
        store.custom_attributes(ws.id).await.map_err(|e| e.to_string())?.into_iter().map(|a| a.name).collect();
    let total = store.count_contacts(ws.id, None).await.map_err(|e| e.to_string())?;
    let bar = ProgressBar::new(total.max(0) as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} contacts ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut sink = match format {
        Format::Csv => {
            let mut writer = Box::new(csv::Writer::from_writer(out));
            let header: Vec<String> = FIXED
                .iter()
                .map(|s| (*s).to_owned())
                .chain(custom.iter().map(|c| format!("custom_attributes.{c}")))
                .collect();
            writer.write_record(&header).map_err(|e| e.to_string())?;
            Sink::Csv { writer, custom }
        }
        Format::Jsonl => Sink::Json(out),
    };
    let mut after = 0;
    let mut written = 0u64;
    loop {
        let page = store.contacts_after(ws.id, after, PAGE).await.map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for c in &page {
            sink.write(c)?;
        }
        written += page.len() as u64;
        bar.set_position(written);
    }
    sink.finish()?;
    bar.finish_and_clear();
    eprintln!("Exported {written} contacts.");
    Ok(())
}
