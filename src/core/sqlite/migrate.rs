//! The schema and its upgrades. Each file of `migrations/` is one step, numbered from 001: file
//! `n` takes the schema from version `n - 1` to `n`, and its first line says what it does. The
//! schema version this code writes is the number of files. `PRAGMA user_version` holds a
//! database's version and `application_id` marks it as ours.

use rusqlite::{Connection, TransactionBehavior};

use crate::core::error::{Result, StoreError};

/// Marks a SQLite file as a baileys-rust-auth database ("BRA1" in ASCII).
pub const APPLICATION_ID: i32 = 0x4252_4131;

/// Step `n` (0-based) takes the schema from version `n` to `n + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_initial.sql"),
    include_str!("migrations/002_session_ids_never_reused.sql"),
    include_str!("migrations/003_leases.sql"),
    include_str!("migrations/004_process_lock_files.sql"),
    include_str!("migrations/005_app_state_pieces.sql"),
    include_str!("migrations/006_store_records.sql"),
];

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema from the version the caller read to [`SCHEMA_VERSION`]: every step in ONE
/// `IMMEDIATE` transaction with `user_version` set inside it, so that an upgrade that fails
/// anywhere leaves the file as it was (and the version with it), never halfway. Foreign keys
/// must be off meanwhile (a table rebuild must not cascade; the caller turns them on after);
/// the keys are checked before the commit instead.
pub(super) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read under the write lock: another process may have migrated while we waited for it.
    let from: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if from >= SCHEMA_VERSION {
        return Ok(());
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        tx.execute_batch(sql).map_err(|e| upgrade_failed(step, e.into()))?;
    }
    let broken: i64 = tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0))?;
    if broken > 0 {
        return Err(StoreError::corrupt(format!("schema upgrade to version {SCHEMA_VERSION}: {broken} keys belong to no session")));
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    tracing::debug!(from, to = SCHEMA_VERSION, "sqlite schema migrated");
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
