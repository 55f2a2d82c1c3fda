//! `tidings import contacts FILE`: the engine's import ([`tidings_engine::import`]) with a
//! progress bar (rate and ETA), every bad line printed with its number, and the flags' words
//! when the import stops before writing.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use tidings_core::attribute::DataType;
use tidings_engine::Engine;
use tidings_engine::import::{Counts, ImportError, Options, Progress, Rejection, Summary};
use tidings_store::{Store, Workspace};

pub use tidings_engine::import::Unknown;

use crate::Format;

/// The progress bar, and the lines it prints above itself.
struct Bar {
    bar: ProgressBar,
    started: Instant,
}

impl Progress for Bar {
    fn read(&self, n: u64) {
        self.bar.inc(n);
    }

    fn rejected(&self, r: &Rejection) {
        self.bar.suspend(|| eprintln!("line {}: {r}", r.line));
    }

    fn written(&self, counts: &Counts) {
        let rate = counts.lines as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        self.bar.set_message(format!("{} contacts, {rate:.0}/s", counts.lines));
    }

    fn attribute_created(&self, name: &str, data_type: DataType) {
        self.bar.suspend(|| println!("Created the custom attribute {name:?} ({}).", data_type.as_str()));
    }
}

/// The engine's options for the CLI's flags.
pub fn options(format: Option<Format>, unknown: Unknown, map: Vec<(String, String)>) -> Options {
    let format = format.map(|f| match f {
        Format::Csv => tidings_engine::import::Format::Csv,
        Format::Jsonl => tidings_engine::import::Format::Jsonl,
    });
    Options { format, unknown, map, ..Options::default() }
}

/// Runs the import and prints what it did.
///
/// # Errors
/// When the file cannot be read or storage fails; bad lines are reported, not errors.
pub async fn contacts(store: &Arc<dyn Store>, ws: &Workspace, file: &Path, options: &Options) -> Result<(), String> {
    let summary = run(store, ws, file, options).await?;
    let Summary { lines: seen, secs, ref total, .. } = summary;
    let rejected = summary.rejected();
    println!(
        "Imported {seen} lines in {secs:.1}s ({:.0} contacts/s): {} created, {} updated, {} unchanged, {rejected} rejected.",
        seen as f64 / secs.max(1e-9),
        total.created,
        total.updated,
        total.unchanged,
    );
    if summary.bulk {
        println!(
            "The workspace had no contacts: they were loaded in one transaction, the contacts table's indexes built after them."
        );
    }
    if rejected > 0 {
        println!("The rejected lines are listed above with their line numbers; fix them and run the import again.");
    }
    Ok(())
}

/// The import itself, with its progress bar; `tidings bench import` times this.
///
/// # Errors
/// As [`contacts`].
pub(crate) async fn run(
    store: &Arc<dyn Store>,
    ws: &Workspace,
    file: &Path,
    options: &Options,
) -> Result<Summary, String> {
    let size = std::fs::metadata(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?.len();
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {percent}% ETA {eta} · {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = Bar { bar: bar.clone(), started: Instant::now() };
    let engine = Engine::local(store.clone());
    let summary = engine.import_contacts(ws, file, options, &progress).await.map_err(|e| explain(e, file));
    bar.finish_and_clear();
    summary
}

/// An import that stopped, in the flags' words.
fn explain(e: ImportError, file: &Path) -> String {
    match e {
        ImportError::UnknownColumns(new) => {
            let width = new.iter().map(|(c, _)| c.chars().count()).max().unwrap_or(0);
            let list: Vec<String> =
                new.iter().map(|(column, ty)| format!("  {column:<width$}  {}", ty.as_str())).collect();
            format!(
                "nothing was imported: these columns name no attribute of this workspace (type inferred from every value):\n{}\n\
                 Run again with --create-attributes to create them as custom attributes of these types and import them, \
                 or with --skip-unknown to import without them.",
                list.join("\n")
            )
        }
        ImportError::BadAttributes(bad) => {
            let list: Vec<String> = bad.iter().map(|(column, why)| format!("  {column:?}: {why}")).collect();
            format!(
                "nothing was imported: these columns cannot be custom attributes:\n{}\n\
                 Rename them with --map COLUMN=ATTRIBUTE, or run again with --skip-unknown to import without them.",
                list.join("\n")
            )
        }
        ImportError::NoSuchColumn(column) => {
            format!("nothing was imported: --map names the column {column:?}, which the file does not have")
        }
        ImportError::MapInJsonLines => {
            "--map renames CSV columns; a JSON lines file names its attributes itself".into()
        }
        ImportError::Store(e) => e.to_string(),
        ImportError::Empty | ImportError::NoIdentity => format!("{}: {e}", file.display()),
        e @ (ImportError::Unreadable(_) | ImportError::Io(_)) => e.to_string(),
    }
}
