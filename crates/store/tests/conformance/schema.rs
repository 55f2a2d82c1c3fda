//! Both dialects' migrations produce the same tables and columns.

use std::collections::BTreeSet;

use super::support::Stores;

#[tokio::test]
async fn both_schemas_have_the_same_tables_and_columns() {
    let stores = Stores::new().await;
    let (_, sqlite) = &stores.all[0];
    let (_, pg) = &stores.all[1];
    let sqlite_cols: BTreeSet<String> = sqlite
        .strings_raw(
            "SELECT m.name || '.' || p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .await
        .unwrap()
        .into_iter()
        .collect();
    let pg_cols: BTreeSet<String> = pg
        .strings_raw(
            "SELECT table_name || '.' || column_name FROM information_schema.columns WHERE table_schema = current_schema()",
        )
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(sqlite_cols.contains("contacts.custom_attributes"), "{sqlite_cols:?}");
    assert!(sqlite_cols.len() > 50, "too few columns read: {sqlite_cols:?}");
    let only_sqlite: Vec<_> = sqlite_cols.difference(&pg_cols).collect();
    let only_pg: Vec<_> = pg_cols.difference(&sqlite_cols).collect();
    assert!(
        only_sqlite.is_empty() && only_pg.is_empty(),
        "only in SQLite: {only_sqlite:?}; only in PostgreSQL: {only_pg:?}"
    );
    stores.cleanup().await;
}
