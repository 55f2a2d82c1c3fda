// Conversation search, shared by both dialects: compiles core's `conversation_filter::Pred` to a
// SQL condition over `conversations c`, with every value bound, and pages through the matches.
// Included after `imp_inbox.rs`, whose trait delegates here.

use tidings_core::conversation_filter::{self as search, Number, Words};

use crate::inbox::{ConversationOrder, ConversationSearch};

/// The opening part of the conversation `c`: its first part.
const SOURCE: &str = "(SELECT s.{} FROM conversation_parts s WHERE s.workspace_id = $1 AND s.conversation_id = c.id ORDER BY s.id LIMIT 1)";
/// The words of the opening part of `c`, as `words::stored` wrote them.
const WORDS: &str = "(SELECT w.words FROM conversation_words w WHERE w.conversation_id = c.id)";
/// Conversations whose words are extracted per statement while filling them in.
const WORDS_BATCH: i64 = 500;

fn source(column: &str) -> String {
    SOURCE.replace("{}", column)
}

/// The SQL value of a number; only `SourceAuthor` and the times but `created_at` and
/// `updated_at` can be NULL.
fn number_sql(n: Number) -> String {
    match n {
        Number::Id => "c.id".into(),
        Number::CreatedAt => "c.created_at".into(),
        Number::UpdatedAt => "c.updated_at".into(),
        Number::WaitingSince => "c.waiting_since".into(),
        Number::SnoozedUntil => "c.snoozed_until".into(),
        // Unassigned reads as 0, as the API's `admin_assignee_id` 0 means.
        Number::Assignee => "COALESCE(c.assignee_id, 0)".into(),
        Number::Contact => "c.contact_id".into(),
        Number::SourceAuthor => source("author_id"),
    }
}

fn list(ids: &[i64], out: &mut Sql) -> String {
    ids.iter().map(|id| out.bind(SqlParam::Int(*id))).collect::<Vec<_>>().join(", ")
}

/// `parts` joined by `joiner`, nested a few at a time: SQLite parses `a OR b OR c …` into a tree
/// as deep as the list is long and refuses one deeper than 1,000, which an `IN` list of a hundred
/// days (each a range of two comparisons) inside groups could near.
fn balanced(mut parts: Vec<String>, joiner: &str) -> String {
    const FAN: usize = 8;
    while parts.len() > FAN {
        parts = parts.chunks(FAN).map(|c| format!("({})", c.join(joiner))).collect();
    }
    format!("({})", parts.join(joiner))
}

/// The condition `p` as SQL over `conversations c`, its values bound in `out`.
fn condition(p: &search::Pred, out: &mut Sql) -> String {
    use search::Pred;
    match p {
        // Empty groups mean what logic says: all of nothing holds, any of nothing does not.
        Pred::All(ps) if ps.is_empty() => "TRUE".into(),
        Pred::Any(ps) if ps.is_empty() => "FALSE".into(),
        Pred::All(ps) | Pred::Any(ps) => {
            let joiner = if matches!(p, Pred::All(_)) { " AND " } else { " OR " };
            balanced(ps.iter().map(|p| condition(p, out)).collect(), joiner)
        }
        // A test of a missing value is NULL: COALESCE makes "not" include those conversations.
        Pred::Not(inner) => format!("(NOT COALESCE({}, FALSE))", condition(inner, out)),
        Pred::In(_, ids) if ids.is_empty() => "FALSE".into(),
        Pred::In(n, ids) => format!("({} IN ({}))", number_sql(*n), list(ids, out)),
        Pred::Between(n, min, max) => {
            let value = number_sql(*n);
            let mut parts = Vec::new();
            if let Some(min) = min {
                parts.push(format!("{value} >= {}", out.bind(SqlParam::Int(*min))));
            }
            if let Some(max) = max {
                parts.push(format!("{value} <= {}", out.bind(SqlParam::Int(*max))));
            }
            if parts.is_empty() {
                parts.push(format!("{value} IS NOT NULL"));
            }
            format!("({})", parts.join(" AND "))
        }
        Pred::Known(n) => format!("({} IS NOT NULL)", number_sql(*n)),
        Pred::State(states) if states.is_empty() => "FALSE".into(),
        Pred::State(states) => {
            let names: Vec<String> = states.iter().map(|s| out.bind(SqlParam::Text(s.as_str().to_owned()))).collect();
            format!("(c.state IN ({}))", names.join(", "))
        }
        Pred::Read(read) => format!("(c.read = {})", out.bind(SqlParam::Bool(*read))),
        Pred::Tagged(ids) if ids.is_empty() => "FALSE".into(),
        Pred::Tagged(ids) => format!(
            "EXISTS (SELECT 1 FROM conversation_tags t WHERE t.conversation_id = c.id AND t.tag_id IN ({}))",
            list(ids, out)
        ),
        Pred::Teammate(ids) if ids.is_empty() => "FALSE".into(),
        Pred::Teammate(ids) => format!(
            "EXISTS (SELECT 1 FROM conversation_parts p WHERE p.workspace_id = $1 AND p.conversation_id = c.id \
             AND p.author_type = 'admin' AND p.author_id IN ({}))",
            list(ids, out)
        ),
        // As the API's `source.delivered_as` says it: a teammate's message, or a teammate's first part.
        Pred::AdminInitiated => format!("(c.message_id IS NOT NULL OR {} = 'admin')", source("author_type")),
        Pred::SourceAuthorType(types) if types.is_empty() => "FALSE".into(),
        Pred::SourceAuthorType(types) => {
            let names: Vec<String> = types.iter().map(|t| out.bind(SqlParam::Text(t.as_str().to_owned()))).collect();
            format!("({} IN ({}))", source("author_type"), names.join(", "))
        }
        Pred::Words(test) => {
            let find = match DIALECT {
                Dialect::Sqlite => "instr",
                Dialect::Postgres => "strpos",
            };
            match test {
                Words::Contains(needle) => {
                    format!("({find}({WORDS}, {}) > 0)", out.bind(SqlParam::Text(needle.clone())))
                }
                Words::StartsWith(needle) => {
                    format!("({find}({WORDS}, {}) = 1)", out.bind(SqlParam::Text(needle.clone())))
                }
                Words::EndsWith(needle) => {
                    let p = out.bind(SqlParam::Text(needle.clone()));
                    match DIALECT {
                        Dialect::Sqlite => format!("(substr({WORDS}, -length({p})) = {p})"),
                        Dialect::Postgres => format!("(right({WORDS}, length({p}::text)) = {p})"),
                    }
                }
            }
        }
    }
}

impl Store {
    pub(crate) async fn search_conversations_imp(
        &self,
        ws: i64,
        q: &ConversationSearch,
    ) -> Result<(Vec<ConversationSummary>, i64)> {
        if q.pred.as_ref().is_some_and(search::Pred::reads_words) {
            self.fill_conversation_words(ws).await?;
        }
        let mut filter = Sql::new(1);
        let condition = match &q.pred {
            Some(p) => condition(p, &mut filter),
            None => "TRUE".to_owned(),
        };
        let where_ = format!("c.workspace_id = $1 AND {condition}");
        let count_sql = format!("SELECT COUNT(*) FROM conversations c WHERE {where_}");
        let mut count = sqlx::query(&count_sql).bind(ws);
        for p in &filter.params {
            count = bind_param(count, p);
        }
        let total: i64 = count.fetch_one(&self.reader).await?.try_get(0)?;
        if total == 0 || q.limit <= 0 || q.offset >= total {
            return Ok((Vec::new(), total));
        }
        let (column, nullable) = match q.order_by {
            ConversationOrder::Id => ("c.id", false),
            ConversationOrder::CreatedAt => ("c.created_at", false),
            ConversationOrder::UpdatedAt => ("c.updated_at", false),
            ConversationOrder::WaitingSince => ("c.waiting_since", true),
            ConversationOrder::SnoozedUntil => ("c.snoozed_until", true),
        };
        let dir = match q.order {
            SortOrder::Ascending => "ASC",
            SortOrder::Descending => "DESC",
        };
        // Both databases put NULLs first on one side; said outright, they agree.
        let nulls = if nullable { " NULLS LAST" } else { "" };
        let sql = format!(
            "SELECT c.* FROM conversations c WHERE {where_} ORDER BY {column} {dir}{nulls}, c.id {dir} LIMIT {} OFFSET {}",
            q.limit.clamp(0, 500),
            q.offset.max(0)
        );
        let mut page = sqlx::query(&sql).bind(ws);
        for p in &filter.params {
            page = bind_param(page, p);
        }
        let rows = page.fetch_all(&self.reader).await?;
        let conversations = rows.iter().map(conversation_from_row).collect::<Result<Vec<_>>>()?;
        Ok((self.summarise(ws, conversations).await?, total))
    }

    /// Extracts the words of every conversation of the workspace that has none yet, in batches.
    /// Filled here rather than when conversations are written, so conversations from before
    /// search existed are covered alike; another node filling the same ones at once is harmless.
    async fn fill_conversation_words(&self, ws: i64) -> Result<()> {
        loop {
            let rows = sqlx::query(&format!(
                "SELECT c.id, {} AS body FROM conversations c WHERE c.workspace_id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM conversation_words w WHERE w.conversation_id = c.id) LIMIT {WORDS_BATCH}",
                source("body")
            ))
            .bind(ws)
            .fetch_all(&self.reader)
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.writer.begin().await?;
            for row in &rows {
                let id: i64 = row.try_get("id")?;
                let body: Option<String> = row.try_get("body")?;
                let words = search::words::stored(&search::words::of_html(body.as_deref().unwrap_or_default()));
                // A conversation deleted meanwhile is skipped: the SELECT finds nothing to insert.
                sqlx::query(
                    "INSERT INTO conversation_words (conversation_id, workspace_id, words) \
                     SELECT c.id, c.workspace_id, $3 FROM conversations c WHERE c.workspace_id = $1 AND c.id = $2 \
                     ON CONFLICT (conversation_id) DO NOTHING",
                )
                .bind(ws)
                .bind(id)
                .bind(words)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            if (rows.len() as i64) < WORDS_BATCH {
                return Ok(());
            }
        }
    }
}
