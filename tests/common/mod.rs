//! What more than one integration test needs.

use std::path::Path;

/// Writes at `path` the database that version 1 of the schema wrote (commit 746e178), rebuilt
/// from its SQL dump `tests/fixtures/schema-v1.sql`: WAL mode, as every version opened its files,
/// the version 1 tables and their rows as that code left them, `user_version` 1.
pub fn write_schema_v1_fixture(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.execute_batch(include_str!("../fixtures/schema-v1.sql")).unwrap();
}
