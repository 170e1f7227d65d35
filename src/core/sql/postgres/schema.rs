//! The schema and its upgrades, and the statements the store sends. Each file of `migrations/`
//! is one step, numbered from 001: file `n` takes the schema from version `n - 1` to `n`, and its
//! first line says what it does; `__SCHEMA__` in it stands for the store's schema, double-quoted.
//! The version this code writes is the number of files; `schema_version` holds a row per step
//! applied. Every object is qualified with the schema: nothing relies on `search_path`.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgConnection};

use crate::core::error::{Result, StoreError};
use crate::core::store::now_millis;

/// Step `n` (0-based) takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[(&str, &str)] = &[
    ("001_initial", include_str!("migrations/001_initial.sql")),
    ("002_write_functions", include_str!("migrations/002_write_functions.sql")),
    ("003_store_records", include_str!("migrations/003_store_records.sql")),
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The first key of the advisory lock that migrations hold ("BRA1" in ASCII); the second is
/// the schema name's hash, so that stores in different schemas do not wait for each other.
const MIGRATION_LOCK: i32 = 0x4252_4131;

/// The schema name as SQL: double-quoted. `SqlOptions::resolve` allows only ASCII letters,
/// digits and `_`, so quoting is all it needs.
pub(super) fn quoted(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// A migration's SQL for `schema`.
fn migration_sql(sql: &str, schema: &str) -> String {
    sql.replace("__SCHEMA__", &quoted(schema))
}

/// The schema's version: `None` without a version table (nothing of ours there).
async fn stored_version(conn: &mut PgConnection, schema: &str) -> std::result::Result<Option<i64>, sqlx::Error> {
    let table: Option<String> =
        sqlx::query_scalar("SELECT to_regclass($1)::text").bind(format!("{}.schema_version", quoted(schema))).fetch_one(&mut *conn).await?;
    if table.is_none() {
        return Ok(None);
    }
    let sql = format!("SELECT coalesce(max(version), 0)::bigint FROM {}.schema_version", quoted(schema));
    let version: i64 = sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut *conn).await?;
    Ok(Some(version))
}

/// Brings the schema to [`SCHEMA_VERSION`]. A schema at this version is left alone without
/// taking any lock; one of a newer version is refused untouched ([`StoreError::Version`]).
/// Otherwise, with `create`, every missing step runs in ONE transaction (PostgreSQL's DDL is
/// transactional) under an advisory lock, the version read again in it: several processes
/// opening a new schema at once create it once, and a step that fails leaves the schema as it
/// was. Without `create`: no tables is [`StoreError::NotFound`], an older version
/// [`StoreError::OlderSchema`], and nothing is written.
pub(super) async fn migrate(
    conn: &mut PgConnection,
    schema: &str,
    create: bool,
    map: &(dyn Fn(sqlx::Error) -> StoreError + Sync),
) -> Result<()> {
    let found = stored_version(conn, schema).await.map_err(map)?;
    match found {
        Some(version) if version == SCHEMA_VERSION => return Ok(()),
        Some(version) if version > SCHEMA_VERSION => return Err(StoreError::Version { found: version, supported: SCHEMA_VERSION }),
        None if !create => {
            return Err(StoreError::NotFound(format!(
                "schema {schema:?} holds no baileys-rust-auth tables, and the store was opened with create: false"
            )))
        }
        Some(version) if !create => return Err(StoreError::OlderSchema { found: version, current: SCHEMA_VERSION }),
        _ => {}
    }
    // A session-level lock taken BEFORE the transaction begins: a backend reads the catalog
    // changes others committed when a transaction starts, so the version read in the
    // transaction below sees a schema that another process created while we waited. (Taken
    // inside the transaction, the lock would not refresh the catalog caches: the second
    // process would not see the first one's tables.) Released below, or with the connection.
    sqlx::query("SELECT pg_advisory_lock($1, hashtext($2))").bind(MIGRATION_LOCK).bind(schema).execute(&mut *conn).await.map_err(map)?;
    let migrated = migrate_locked(conn, schema, map).await;
    let unlocked =
        sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))").bind(MIGRATION_LOCK).bind(schema).execute(&mut *conn).await.map_err(map);
    migrated.and(unlocked.map(drop))
}

/// The steps of [`migrate`], under its lock: all in one transaction.
async fn migrate_locked(conn: &mut PgConnection, schema: &str, map: &(dyn Fn(sqlx::Error) -> StoreError + Sync)) -> Result<()> {
    use sqlx::Connection;
    let mut tx = conn.begin().await.map_err(map)?;
    // Read again under the lock: another process may have migrated while we waited for it.
    let from = stored_version(&mut tx, schema).await.map_err(map)?.unwrap_or(0);
    if from > SCHEMA_VERSION {
        return Err(StoreError::Version { found: from, supported: SCHEMA_VERSION });
    }
    for (step, (name, sql)) in MIGRATIONS.iter().enumerate().skip(from.max(0) as usize) {
        sqlx::raw_sql(AssertSqlSafe(migration_sql(sql, schema))).execute(&mut *tx).await.map_err(|e| upgrade_failed(step, map(e)))?;
        let record = format!("INSERT INTO {}.schema_version (version, name, applied_at) VALUES ($1, $2, $3)", quoted(schema));
        sqlx::query(AssertSqlSafe(record))
            .bind(step as i32 + 1)
            .bind(*name)
            .bind(now_millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| upgrade_failed(step, map(e)))?;
    }
    tx.commit().await.map_err(map)?;
    if from < SCHEMA_VERSION {
        tracing::debug!(schema, from, to = SCHEMA_VERSION, "postgres schema migrated");
    }
    Ok(())
}

/// A failed step keeps its error's kind (and code), and says which step failed.
fn upgrade_failed(step: usize, err: StoreError) -> StoreError {
    let why = |detail: String| format!("schema upgrade to version {} failed, nothing was changed: {detail}", step + 1);
    match err {
        StoreError::Io(detail) => StoreError::Io(why(detail)),
        StoreError::Corrupt(detail) => StoreError::Corrupt(why(detail)),
        other => other,
    }
}

/// What this store is (see `Store::identity`): the cluster's system identifier (the same on a
/// primary and its physical replicas), the database and the schema; `None` when the user may
/// not call `pg_control_system()`.
pub(super) async fn server_identity(conn: &mut PgConnection, schema: &str) -> Option<String> {
    let asked: std::result::Result<(String, String), sqlx::Error> =
        sqlx::query_as("SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()::text")
            .fetch_one(&mut *conn)
            .await;
    match asked {
        Ok((system, database)) => Some(format!("postgres:{system}:{database}:{schema}")),
        Err(err) => {
            tracing::debug!(error = %err, "PostgreSQL does not tell this user its system identifier");
            None
        }
    }
}

/// The text of every statement the store sends, with its schema: built once at open. Each is
/// prepared once per connection (sqlx caches prepared statements by text), then costs one
/// round trip per execution.
pub(super) struct Queries {
    pub get_creds: Arc<str>,
    pub get_keys: Arc<str>,
    pub apply_keys: Arc<str>,
    pub set_creds: Arc<str>,
    pub clear_session: Arc<str>,
    pub acquire_leases: Arc<str>,
    pub renew_leases: Arc<str>,
    pub release_lease: Arc<str>,
    pub forget_lease: Arc<str>,
    pub lease: Arc<str>,
    pub leases_page: Arc<str>,
    pub sessions_page: Arc<str>,
    pub keys_first_page: Arc<str>,
    pub keys_page: Arc<str>,
    pub stats: Arc<str>,
    pub orphan_keys: Arc<str>,
    pub bad_leases: Arc<str>,
    pub get_record: Arc<str>,
    pub create_record: Arc<str>,
    pub replace_record: Arc<str>,
    pub remove_record: Arc<str>,
    pub record_absent: Arc<str>,
}

/// The columns every write and lease function returns (see `migrations/002_write_functions.sql`).
const LEASE_COLUMNS: &str = "o_status, o_holder, o_epoch, o_host, o_pid, o_acquired_at, o_expires_at, o_live";

impl Queries {
    pub(super) fn new(schema: &str) -> Queries {
        let s = quoted(schema);
        let text = |sql: String| -> Arc<str> { sql.into() };
        Queries {
            get_creds: text(format!("SELECT creds FROM {s}.sessions WHERE session = $1")),
            // One index probe per id, whatever the planner believes: `OFFSET 0` keeps the
            // lateral subquery from being flattened into a join, which on a table not yet
            // ANALYZEd (a new schema, a bulk load) becomes a walk over the whole session with
            // `id = ANY($3)` as a mere filter.
            get_keys: text(format!(
                "SELECT k.id, k.value FROM unnest($3::bytea[]) AS w(id) \
                 CROSS JOIN LATERAL (SELECT id, value FROM {s}.keys WHERE session = $1 AND type = $2 AND id = w.id OFFSET 0) k"
            )),
            apply_keys: text(format!("SELECT {LEASE_COLUMNS} FROM {s}.apply_keys($1, $2, $3, $4, $5, $6, $7, $8, $9)")),
            set_creds: text(format!("SELECT {LEASE_COLUMNS} FROM {s}.set_creds($1, $2, $3, $4, $5)")),
            clear_session: text(format!("SELECT {LEASE_COLUMNS} FROM {s}.clear_session($1, $2, $3, $4, $5)")),
            acquire_leases: text(format!("SELECT o_index, {LEASE_COLUMNS} FROM {s}.acquire_leases($1, $2, $3, $4, $5, $6, $7)")),
            renew_leases: text(format!("SELECT o_index, {LEASE_COLUMNS} FROM {s}.renew_leases($1, $2, $3, $4)")),
            // A plain UPDATE re-checks its condition on the latest row version it would change.
            release_lease: text(format!(
                "UPDATE {s}.leases SET holder = '' WHERE session = $1 AND holder <> '' AND holder = $2 AND epoch = $3"
            )),
            forget_lease: text(super::lease::forget_sql(&format!("{s}.leases"))),
            lease: text(format!(
                "SELECT 'ok', holder, epoch, host, pid, acquired_at, expires_at, holder <> '' AND {s}.now_ms() < expires_at
                 FROM {s}.leases WHERE session = $1 AND epoch > 0"
            )),
            leases_page: text(format!(
                "SELECT session, holder, epoch, host, pid, acquired_at, expires_at, holder <> '' AND {s}.now_ms() < expires_at
                 FROM {s}.leases WHERE session > $1 AND epoch > 0 ORDER BY session LIMIT $2"
            )),
            // LIMIT applies after the filter: a short page is the last.
            sessions_page: text(format!(
                "SELECT s.session FROM {s}.sessions s
                 WHERE s.session > $1 AND (s.creds IS NOT NULL OR EXISTS (SELECT 1 FROM {s}.keys k WHERE k.session = s.session))
                 ORDER BY s.session LIMIT $2"
            )),
            // octet_length of a TOASTed value reads its header, not the value. The first page has
            // no lower bound (a type or id may be empty).
            keys_first_page: text(format!(
                "SELECT type, id, octet_length(value)::bigint FROM {s}.keys WHERE session = $1 ORDER BY type, id LIMIT $2"
            )),
            keys_page: text(format!(
                "SELECT type, id, octet_length(value)::bigint FROM {s}.keys
                 WHERE session = $1 AND (type, id) > ($2, $3) ORDER BY type, id LIMIT $4"
            )),
            // At least one row: the session's (or NULLs), with one row per type.
            stats: text(format!(
                "SELECT s.creds_bytes, s.updated_at, k.type, k.count, k.bytes
                 FROM (SELECT 1) AS one
                 LEFT JOIN (SELECT octet_length(creds)::bigint AS creds_bytes, updated_at FROM {s}.sessions WHERE session = $1) AS s ON true
                 LEFT JOIN (SELECT type, count(*)::bigint AS count, sum(octet_length(value))::bigint AS bytes
                            FROM {s}.keys WHERE session = $1 GROUP BY type) AS k ON true
                 ORDER BY k.type"
            )),
            orphan_keys: text(format!(
                "SELECT count(*)::bigint FROM {s}.keys k WHERE NOT EXISTS (SELECT 1 FROM {s}.sessions x WHERE x.session = k.session)"
            )),
            bad_leases: text(format!("SELECT count(*)::bigint FROM {s}.leases WHERE epoch < 0 OR (epoch = 0 AND holder <> '')")),
            // The swaps of a record, each one statement (so one implicit transaction) whose row
            // count says whether it swapped. Two creators: the second's insert waits for the
            // first's uncommitted row, then does nothing. An UPDATE or DELETE that waited for
            // another's change of the row compares its latest committed version again (READ
            // COMMITTED), so it never replaces a value that is no longer the one expected.
            get_record: text(format!("SELECT value FROM {s}.store_records WHERE name = $1")),
            create_record: text(format!("INSERT INTO {s}.store_records (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")),
            replace_record: text(format!("UPDATE {s}.store_records SET value = $3 WHERE name = $1 AND value = $2")),
            remove_record: text(format!("DELETE FROM {s}.store_records WHERE name = $1 AND value = $2")),
            record_absent: text(format!("SELECT NOT EXISTS (SELECT 1 FROM {s}.store_records WHERE name = $1)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_in_order_and_say_what_they_do() {
        for (n, (name, sql)) in MIGRATIONS.iter().enumerate() {
            assert!(name.starts_with(&format!("{:03}_", n + 1)), "{name}");
            assert!(sql.starts_with(&format!("-- {name}: ")), "{name}: the first line says what it does");
            assert!(!migration_sql(sql, "bots").contains("__SCHEMA__"));
        }
    }
}
