//! The schema and its upgrades. Each file of `migrations/` is one step, numbered from 001: file
//! `n` takes the schema from version `n - 1` to `n`, and its first line says what it does. The
//! version this code writes is the number of files; the `<prefix>schema_version` table holds a
//! database's (one row, id 1).
//!
//! MySQL commits every DDL statement on its own: a step cannot be one transaction as on SQLite
//! or PostgreSQL. So every statement of a step is idempotent (`CREATE TABLE IF NOT EXISTS`), the
//! version row is written after the step's last statement, and a step cut short (a crash, a
//! lost connection) is run again, whole, by the next open. Several processes opening one new
//! prefix at once take turns under `GET_LOCK` (a named lock of the server, held by one
//! connection), and each reads the version again once it holds the lock.

use sqlx::mysql::MySqlConnection;
use sqlx::{AssertSqlSafe, Row};

use super::tables::{mysql_number, Ctx};
use crate::core::error::{Result, StoreError};

/// Step `n` (0-based) takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[include_str!("migrations/001_initial.sql"), include_str!("migrations/002_store_records.sql")];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// MySQL's error number for "table does not exist".
const ER_NO_SUCH_TABLE: u16 = 1146;

/// The statements of one step for table prefix `prefix`: comment lines dropped, split at `;`
/// (no statement of ours holds one in a literal).
pub(super) fn statements(sql: &str, prefix: &str) -> Vec<String> {
    let body: Vec<&str> = sql.lines().filter(|line| !line.trim_start().starts_with("--")).collect();
    body.join("\n").split(';').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.replace("{p}", prefix)).collect()
}

/// The name of the server lock that migrations of `prefix` in `database` take: at most 64
/// characters (the server's limit), the same in every process.
pub(super) fn lock_name(database: &str, prefix: &str) -> String {
    let name = format!("{database}.{prefix}migrate");
    if name.chars().count() <= 64 {
        return name;
    }
    // FNV-1a: stable across builds and platforms, unlike std's hashers.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("baileys-rust-auth.migrate.{hash:016x}")
}

/// The version the database holds: 0 without the version table (or its row).
pub(super) async fn read_version(conn: &mut MySqlConnection, ctx: &Ctx) -> Result<i64> {
    let sql = format!("SELECT version FROM {} WHERE id = 1", ctx.t.version);
    match sqlx::query(AssertSqlSafe(sql)).fetch_optional(&mut *conn).await {
        Ok(Some(row)) => row.try_get::<i64, _>(0).map_err(|e| ctx.err(e)),
        Ok(None) => Ok(0),
        Err(e) if mysql_number(&e) == Some(ER_NO_SUCH_TABLE) => Ok(0),
        Err(e) => Err(ctx.err(e)),
    }
}

/// Brings the schema to [`SCHEMA_VERSION`] (with `create`), or checks that it is there
/// (without: no tables is `NotFound`, an older version `OlderSchema`, never upgraded). A newer
/// version is refused before anything is written.
pub(super) async fn migrate(conn: &mut MySqlConnection, ctx: &Ctx, database: &str, create: bool, lock_wait_secs: u64) -> Result<()> {
    let found = read_version(conn, ctx).await?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Version { found, supported: SCHEMA_VERSION });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    if !create {
        if found == 0 {
            return Err(StoreError::NotFound(format!(
                "no baileys-rust-auth tables with prefix {:?} in database {database:?} at {} (opened with create: false)",
                ctx.t.prefix, ctx.shown
            )));
        }
        return Err(StoreError::OlderSchema { found, current: SCHEMA_VERSION });
    }
    let lock = lock_name(database, &ctx.t.prefix);
    let got: Option<i64> = sqlx::query("SELECT CAST(GET_LOCK(?, ?) AS SIGNED)")
        .bind(lock.as_str())
        .bind(lock_wait_secs as i64)
        .fetch_one(&mut *conn)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(|e| ctx.err(e))?;
    if got != Some(1) {
        return Err(StoreError::Unavailable(format!(
            "MySQL at {}: another process held the migration lock {lock:?} for {lock_wait_secs} s",
            ctx.shown
        )));
    }
    let outcome = upgrade(conn, ctx).await;
    // The lock goes with the connection anyway; releasing it lets the next process go on now.
    let _ = sqlx::query("SELECT RELEASE_LOCK(?)").bind(lock.as_str()).execute(&mut *conn).await;
    outcome
}

/// Runs the missing steps, under the migration lock: the version is read again, since another
/// process may have migrated while this one waited.
async fn upgrade(conn: &mut MySqlConnection, ctx: &Ctx) -> Result<()> {
    let found = read_version(conn, ctx).await?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Version { found, supported: SCHEMA_VERSION });
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let failed = |e: sqlx::Error| upgrade_failed(step, ctx.err(e));
        for statement in statements(sql, &ctx.t.prefix) {
            sqlx::raw_sql(AssertSqlSafe(statement)).execute(&mut *conn).await.map_err(failed)?;
        }
        let sql = format!("INSERT INTO {} (id, version) VALUES (1, ?) ON DUPLICATE KEY UPDATE version = VALUES(version)", ctx.t.version);
        sqlx::query(AssertSqlSafe(sql)).bind(step as i64 + 1).execute(&mut *conn).await.map_err(failed)?;
        tracing::debug!(to = step + 1, prefix = %ctx.t.prefix, "mysql schema migrated");
    }
    Ok(())
}

/// A failed step keeps its error's kind (and code), and says which step failed.
fn upgrade_failed(step: usize, err: StoreError) -> StoreError {
    let why = |detail: String| {
        format!("schema upgrade to version {} failed (the next open runs it again; its statements are idempotent): {detail}", step + 1)
    };
    match err {
        StoreError::Io(detail) => StoreError::Io(why(detail)),
        StoreError::Unavailable(detail) => StoreError::Unavailable(why(detail)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_split_into_statements_with_the_prefix() {
        let statements = statements(MIGRATIONS[0], "bots_");
        assert_eq!(statements.len(), 4);
        assert!(statements.iter().all(|s| s.starts_with("CREATE TABLE IF NOT EXISTS `bots_")));
        assert!(statements.iter().all(|s| !s.contains("{p}") && !s.contains("--")));
        let records = super::statements(MIGRATIONS[1], "bots_");
        assert!(matches!(&records[..], [one] if one.starts_with("CREATE TABLE IF NOT EXISTS `bots_store_records` (")), "{records:?}");
    }

    #[test]
    fn every_step_says_what_it_does_first() {
        for (n, sql) in MIGRATIONS.iter().enumerate() {
            assert!(sql.starts_with(&format!("-- {:03}_", n + 1)), "step {}", n + 1);
        }
    }

    #[test]
    fn lock_names_fit_the_servers_limit_and_are_stable() {
        assert_eq!(lock_name("test", "baileys_"), "test.baileys_migrate");
        let long = lock_name(&"d".repeat(64), &"p".repeat(40));
        assert!(long.len() <= 64);
        assert_eq!(long, lock_name(&"d".repeat(64), &"p".repeat(40)));
        assert_ne!(long, lock_name(&"d".repeat(64), &"q".repeat(40)));
    }
}
