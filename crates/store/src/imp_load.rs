// Loading many contacts at once (`Store::load_contacts`, the import's write path), shared by
// both dialects. Included after `imp_upsert.rs`, whose `write_batch` writes every batch, so a
// load decides exactly what a run of `upsert_contacts` calls would.
//
// A load into a workspace without contacts, large against the whole table, is written in bulk:
// one transaction holds the contacts table alone, drops its secondary indexes and foreign keys
// (each dialect's `drop_contact_indexes`), writes every batch, then builds them back and
// commits. Keeping seven indexes up to date row by row is what bounds an import; building each
// once from the finished table is several times cheaper. The unique indexes are gone while the
// rows go in, so nothing but `write_batch`'s own checks keeps keys unique, as in any batch; if
// a bug let a duplicate through, building the unique index back fails and the whole load rolls
// back. So does a crash: the indexes are dropped in the transaction that restores them.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use tokio::sync::{mpsc, oneshot};

/// The most lines SQLite loads in bulk. Every other write waits for the load's one write lock,
/// at most 30 s before it fails (`busy_timeout`, and the pool's wait for its connection); a
/// million contacts take about 20 s here. A larger file is written batch by batch, between
/// which other writes go.
const SQLITE_BULK_LOAD_MAX: u64 = 1_200_000;

impl Store {
    /// `Store::load_contacts`.
    async fn load(
        &self,
        ws: i64,
        expected: u64,
        now: i64,
        mut batches: mpsc::Receiver<Vec<ContactInput>>,
        reports: mpsc::Sender<UpsertReport>,
    ) -> Result<Loaded> {
        let bulk =
            expected >= crate::BULK_LOAD_MIN && (DIALECT == Dialect::Postgres || expected <= SQLITE_BULK_LOAD_MAX);
        if bulk && let Some(tx) = self.begin_bulk(ws, expected).await? {
            load_in_bulk(tx, ws, expected, now, batches, reports).await?;
            return Ok(Loaded::Bulk);
        }
        if DIALECT == Dialect::Postgres {
            self.load_overlapped(ws, now, batches, reports).await?;
            return Ok(Loaded::Batches);
        }
        while let Some(batch) = batches.recv().await {
            let report = self.upsert_batch(ws, &batch, now).await?;
            if reports.send(report).await.is_err() {
                break;
            }
        }
        Ok(Loaded::Batches)
    }

    /// PostgreSQL's batch-by-batch load: each batch in its own transaction, as `upsert_batch`
    /// writes one, but read while the batch before it is still being written, on another
    /// connection, when the two share no key (`Keys`). One backend writing a batch keeps one
    /// core busy, and the rest of a batch's work (reading the file, matching, deciding) used to
    /// wait for it. The next batch reads the table without the writes of the one in flight,
    /// but no contact it reads by a key can be changed or created by that one, so it decides
    /// exactly what it would have decided after that one's commit. Commits stay in order, each
    /// batch's report sent after its own: the next one creates tags only once the one before
    /// has committed, so neither ever waits for a row the other inserted. A batch that names a
    /// key of the one in flight waits for that one's commit before it reads anything. A batch
    /// that breaks a unique index, because another writer took one of its keys first (a run of
    /// the same import that took this one over, an API call), is rolled back and written again
    /// alone, and so is the one beside it, which read the table before that.
    async fn load_overlapped(
        &self,
        ws: i64,
        now: i64,
        batches: mpsc::Receiver<Vec<ContactInput>>,
        reports: mpsc::Sender<UpsertReport>,
    ) -> Result<()> {
        let mut in_flight: Option<InFlight> = None;
        let result = self.load_in_turns(ws, now, batches, &reports, &mut in_flight).await;
        // Stopped or failed with a batch still in flight: it is rolled back, not committed,
        // before the load returns.
        if let Some(f) = in_flight {
            drop(f.then);
            let _ = f.task.await;
        }
        result
    }

    /// `load_overlapped`'s loop: leaves a batch in `in_flight` only when it stops early.
    async fn load_in_turns(
        &self,
        ws: i64,
        now: i64,
        mut batches: mpsc::Receiver<Vec<ContactInput>>,
        reports: &mpsc::Sender<UpsertReport>,
        in_flight: &mut Option<InFlight>,
    ) -> Result<()> {
        while let Some(batch) = batches.recv().await {
            if let Some(last) = in_flight.take_if(|f| f.keys.shares_any(&batch))
                && !self.finish(last, &mut None, ws, now, reports).await?
            {
                return Ok(());
            }
            let mut tx = self.writer.begin().await?;
            let found = load_matches(&mut tx, ws, &batch).await?;
            let keys = Keys::of(&batch, &found);
            let (then, turn) = oneshot::channel();
            let task = tokio::spawn(async move {
                let written = async {
                    let (report, slots, tagged) = write_contacts(&mut tx, ws, &batch, now, found).await?;
                    turn.await.map_err(|_| StoreError::Stopped)?;
                    apply_tags(&mut tx, ws, &slots, &tagged, now).await?;
                    Ok(report)
                }
                .await;
                match written {
                    Ok(report) => Ok(Written::Done(tx, report)),
                    // Another writer took a key first, or the batch before this one has to be
                    // written again: this one goes again after it, one batch at a time.
                    Err(e) if is_unique_violation(&e) || matches!(e, StoreError::Stopped) => {
                        tx.rollback().await?;
                        Ok(Written::Again(batch))
                    }
                    Err(e) => Err(e),
                }
            });
            match in_flight.replace(InFlight { task, keys, then: None }) {
                // Nothing in flight: nothing to wait for before creating tags.
                None => {
                    let _ = then.send(());
                }
                Some(mut last) => {
                    last.then = Some(then);
                    if !self.finish(last, in_flight, ws, now, reports).await? {
                        return Ok(());
                    }
                }
            }
        }
        if let Some(last) = in_flight.take() {
            self.finish(last, &mut None, ws, now, reports).await?;
        }
        Ok(())
    }

    /// Waits for `last` to be written, commits it and sends its report. When it has to go again
    /// (`Written::Again`), the batch written beside it (taken from `beside`, which read the
    /// table before `last` was redone) is stopped too, and both go again in order, each alone.
    /// False when nobody listens any more.
    async fn finish(
        &self,
        last: InFlight,
        beside: &mut Option<InFlight>,
        ws: i64,
        now: i64,
        reports: &mpsc::Sender<UpsertReport>,
    ) -> Result<bool> {
        let batch = match written(last.task).await? {
            Written::Done(tx, report) => {
                tx.commit().await?;
                if let Some(then) = last.then {
                    let _ = then.send(());
                }
                return Ok(reports.send(report).await.is_ok());
            }
            Written::Again(batch) => batch,
        };
        // Its turn never comes: the batch beside it stops before its tags and rolls back.
        drop(last.then);
        let mut again = vec![batch];
        if let Some(next) = beside.take() {
            match written(next.task).await? {
                Written::Again(batch) => again.push(batch),
                Written::Done(..) => unreachable!("a batch wrote its tags before its turn"),
            }
        }
        for batch in again {
            let report = self.upsert_batch(ws, &batch, now).await?;
            if reports.send(report).await.is_err() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A transaction that holds the contacts table alone, when a load of `expected` contacts
    /// into `ws` should be written in bulk (`bulk_fits`). None otherwise, or when the table
    /// stays busy for a few seconds (PostgreSQL; the load is then written batch by batch rather
    /// than queue every reader behind it).
    async fn begin_bulk(&self, ws: i64, expected: u64) -> Result<Option<sqlx::Transaction<'static, Db>>> {
        // Asked first without holding anything: most large imports go to workspaces in use.
        if !bulk_fits(&mut *self.reader.acquire().await?, ws, expected).await? {
            return Ok(None);
        }
        let mut tx = match DIALECT {
            // The write lock: no other writer until the commit; readers see the table as it was.
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => {
                let mut tx = self.writer.begin().await?;
                sqlx::query("SET LOCAL lock_timeout = '5s'").execute(&mut *tx).await?;
                match sqlx::query("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE").execute(&mut *tx).await {
                    Ok(_) => {}
                    // lock_not_available
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => return Ok(None),
                    Err(e) => return Err(e.into()),
                }
                sqlx::query("SET LOCAL lock_timeout = 0").execute(&mut *tx).await?;
                tx
            }
        };
        // Again, now that nothing else can write a contact.
        Ok(bulk_fits(&mut tx, ws, expected).await?.then_some(tx))
    }
}

/// A batch of `Store::load_overlapped` being written on its own connection.
struct InFlight {
    task: tokio::task::JoinHandle<Result<Written>>,
    keys: Keys,
    /// Tells the next batch, once this one has committed, that it may create tags.
    then: Option<oneshot::Sender<()>>,
}

/// How a batch of `Store::load_overlapped` ended its write.
enum Written {
    /// Written, to be committed in its turn.
    Done(sqlx::Transaction<'static, Db>, UpsertReport),
    /// Rolled back, to be written again alone: another writer took one of its keys first, or
    /// the batch before it has to go again.
    Again(Vec<ContactInput>),
}

/// What a batch's task came to.
async fn written(task: tokio::task::JoinHandle<Result<Written>>) -> Result<Written> {
    match task.await {
        Ok(written) => written,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// The keys a batch reads contacts by, and those of the contacts it read: every contact it can
/// change, create or collide with has one of them before and after its write.
struct Keys {
    external_ids: HashSet<String>,
    emails: HashSet<String>,
}

impl Keys {
    fn of(inputs: &[ContactInput], found: &[Contact]) -> Keys {
        let mut keys = Keys { external_ids: HashSet::new(), emails: HashSet::new() };
        for i in inputs {
            if let Some(Some(e)) = &i.external_id {
                keys.external_ids.insert(e.clone());
            }
            if let Some(Some(m)) = &i.email {
                keys.emails.insert(m.clone());
            }
        }
        for c in found {
            keys.external_ids.extend(c.external_id.iter().cloned());
            keys.emails.extend(c.email.iter().cloned());
        }
        keys
    }

    /// Whether any input of `inputs` names one of these keys.
    fn shares_any(&self, inputs: &[ContactInput]) -> bool {
        inputs.iter().any(|i| {
            i.external_id.as_ref().and_then(|e| e.as_deref()).is_some_and(|e| self.external_ids.contains(e))
                || i.email.as_ref().and_then(|m| m.as_deref()).is_some_and(|m| self.emails.contains(m))
        })
    }
}

/// Whether a load of `expected` contacts into `ws` should be written in bulk: the workspace has
/// no contacts and the table fewer than `expected`, so that building its indexes back reads at
/// most twice what the load writes.
async fn bulk_fits(conn: &mut <Db as sqlx::Database>::Connection, ws: i64, expected: u64) -> Result<bool> {
    let has_contacts: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM contacts WHERE workspace_id = $1)")
        .bind(ws)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    if has_contacts {
        return Ok(false);
    }
    let limit = i64::try_from(expected).unwrap_or(i64::MAX);
    let others: i64 = sqlx::query("SELECT COUNT(*) FROM (SELECT 1 FROM contacts LIMIT $1) AS t")
        .bind(limit)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
    Ok(others < limit)
}

/// Writes every batch in `tx` with the contacts table's indexes dropped, builds them back and
/// commits. Stops taking batches, and keeps those written, when the caller stops listening.
async fn load_in_bulk(
    mut tx: sqlx::Transaction<'static, Db>,
    ws: i64,
    expected: u64,
    now: i64,
    mut batches: mpsc::Receiver<Vec<ContactInput>>,
    reports: mpsc::Sender<UpsertReport>,
) -> Result<()> {
    let rebuild = drop_contact_indexes(&mut tx).await?;
    let mut keys = LoadedKeys::with_capacity(expected);
    while let Some(batch) = batches.recv().await {
        let found = keys.matches(&mut tx, ws, &batch).await?;
        let (report, slots) = write_batch(&mut tx, ws, &batch, now, found).await?;
        keys.note(&slots);
        if reports.send(report).await.is_err() {
            break;
        }
    }
    for sql in rebuild {
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The external ids and emails of the contacts a bulk load has written, which are all its
/// workspace's: without indexes, finding the contacts a batch could match or collide with by
/// their keys would read the whole table once per batch. Each key is kept as a hash beside the
/// contact's id (16 bytes, not the text); those an input's hash names are read back by id and
/// kept only where the key itself is the input's, so a batch sees every contact whose external
/// id or email is among its own: those `load_matches` would have found, and some it leaves out
/// because they change nothing. A key a contact gave up stays beside its id: it only costs a
/// contact read back and left out.
struct LoadedKeys {
    external_ids: KeyIds,
    emails: KeyIds,
}

fn key_hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type ByHash<V> = HashMap<u64, V, std::hash::BuildHasherDefault<Prehashed>>;

/// Ids by the hash of a key: one for nearly every hash, more where leads share an email, a
/// contact took a key another gave up, or two keys share a hash; kept apart so the common case
/// allocates nothing.
#[derive(Default)]
struct KeyIds {
    first: ByHash<i64>,
    more: ByHash<Vec<i64>>,
}

impl KeyIds {
    fn with_capacity(n: usize) -> KeyIds {
        KeyIds { first: ByHash::with_capacity_and_hasher(n, Default::default()), more: ByHash::default() }
    }

    fn ids(&self, key: &str) -> impl Iterator<Item = i64> + '_ {
        let h = key_hash(key);
        self.first.get(&h).copied().into_iter().chain(self.more.get(&h).into_iter().flatten().copied())
    }

    fn insert(&mut self, key: &str, id: i64) {
        let h = key_hash(key);
        match self.first.get(&h) {
            None => {
                self.first.insert(h, id);
            }
            Some(first) if *first == id => {}
            Some(_) => {
                let more = self.more.entry(h).or_default();
                if !more.contains(&id) {
                    more.push(id);
                }
            }
        }
    }
}

impl LoadedKeys {
    /// Room for `expected` contacts, so the maps are not rebuilt as they grow.
    fn with_capacity(expected: u64) -> LoadedKeys {
        let n = usize::try_from(expected).unwrap_or(usize::MAX).min(1 << 22);
        LoadedKeys { external_ids: KeyIds::with_capacity(n), emails: KeyIds::with_capacity(n) }
    }

    /// The written contacts whose external id or email is among the batch's, by id.
    async fn matches(
        &self,
        tx: &mut sqlx::Transaction<'_, Db>,
        ws: i64,
        inputs: &[ContactInput],
    ) -> Result<Vec<Contact>> {
        let ext_ids: HashSet<&str> =
            inputs.iter().filter_map(|i| i.external_id.as_ref().and_then(|e| e.as_deref())).collect();
        let emails: HashSet<&str> = inputs.iter().filter_map(|i| i.email.as_ref().and_then(|e| e.as_deref())).collect();
        let mut ids: Vec<i64> = ext_ids
            .iter()
            .flat_map(|e| self.external_ids.ids(e))
            .chain(emails.iter().flat_map(|m| self.emails.ids(m)))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort_unstable();
        ids.dedup();
        let sql = format!("SELECT {} FROM {}", *CONTACT_SELECT, contacts_by_id());
        let q = bind_ids(sqlx::query(&sql).persistent(DIALECT == Dialect::Sqlite).bind(ws), &ids);
        let mut found: Vec<Contact> = Vec::with_capacity(ids.len());
        for row in q.fetch_all(&mut **tx).await? {
            let c = contact_from_row(&row)?;
            let wanted = c.external_id.as_deref().is_some_and(|e| ext_ids.contains(e))
                || c.email.as_deref().is_some_and(|m| emails.contains(m));
            if wanted {
                found.push(c);
            }
        }
        found.sort_unstable_by_key(|c| c.id);
        Ok(found)
    }

    /// Keeps the keys of a written batch's new contacts, and those the others took.
    fn note(&mut self, slots: &[Slot]) {
        for slot in slots {
            let c = &slot.contact;
            if slot.kept_keys() {
                continue;
            }
            if let Some(e) = &c.external_id {
                self.external_ids.insert(e, c.id);
            }
            if let Some(m) = &c.email {
                self.emails.insert(m, c.id);
            }
        }
    }
}
