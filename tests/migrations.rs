//! The migration harness: database files written by every earlier schema version are upgraded
//! to this one keeping every session, creds and key byte for byte; an upgrade that fails rolls
//! back and leaves the file byte-identical; a file of a newer version is refused untouched; and
//! a store opened without `create` never upgrades.
//!
//! Earlier versions come two ways: the database the version 1 code itself wrote (commit 746e178),
//! rebuilt from its SQL dump `tests/fixtures/schema-v1.sql`, and files generated here with the migration files of
//! that version only (`src/core/sqlite/migrations/`), so that each new migration is tested from
//! every version before it. When a migration is added, add its predecessor to [`EARLIER`].

use std::path::{Path, PathBuf};

use baileys_rust_auth::core::error::StoreError;
use baileys_rust_auth::core::sqlite::{SqliteStore, APPLICATION_ID, SCHEMA_VERSION};
use baileys_rust_auth::core::store::{KeyWrite, Store};
use rusqlite::{Connection, OpenFlags};

mod common;

/// The migration files, in order: those of version `n` are the first `n`.
const MIGRATIONS: &[&str] = &[
    include_str!("../src/core/sqlite/migrations/001_initial.sql"),
    include_str!("../src/core/sqlite/migrations/002_session_ids_never_reused.sql"),
    include_str!("../src/core/sqlite/migrations/003_leases.sql"),
    include_str!("../src/core/sqlite/migrations/004_process_lock_files.sql"),
    include_str!("../src/core/sqlite/migrations/005_app_state_pieces.sql"),
    include_str!("../src/core/sqlite/migrations/006_store_records.sql"),
];

/// Every schema version before this one that a file can be upgraded from.
const EARLIER: &[i64] = &[1, 2, 3, 4, 5];

#[test]
fn the_harness_knows_every_migration() {
    assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION, "add the new migration file to MIGRATIONS and its predecessor to EARLIER");
    assert_eq!(EARLIER, &(1..SCHEMA_VERSION).collect::<Vec<_>>()[..]);
    for (n, sql) in MIGRATIONS.iter().enumerate() {
        let header = sql.lines().next().unwrap();
        assert!(header.starts_with(&format!("-- {:03}_", n + 1)), "migration {} starts with its header comment: {header}", n + 1);
        assert!(header.contains(&format!("to {}", n + 1)), "the header says which version it upgrades to: {header}");
    }
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bra-migrations-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("auth.db")
}

fn user_version(path: &Path) -> i64 {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
}

/// A database as the code of schema `version` left it: WAL mode (every version opened its files
/// so), the migrations up to `version` applied, and sessions written with plain SQL: creds of
/// every byte value, an empty creds blob, a session without creds (keys only), keys whose values
/// and ids are awkward bytes and text.
fn generated(version: i64, name: &str) -> PathBuf {
    let path = temp_path(name);
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for sql in &MIGRATIONS[..version as usize] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "application_id", APPLICATION_ID).unwrap();
    conn.pragma_update(None, "user_version", version).unwrap();
    let all_bytes: Vec<u8> = (0..=255).collect();
    let sessions: [(&str, Option<&[u8]>, i64); 3] =
        [("alice", Some(&all_bytes), 1_700_000_000_001), ("bob", Some(b""), 1_700_000_000_002), ("keys-only", None, 1_700_000_000_003)];
    for (name, creds, at) in sessions {
        conn.execute("INSERT INTO sessions (name, creds, updated_at) VALUES (?1, ?2, ?3)", rusqlite::params![name, creds, at]).unwrap();
    }
    for (session, kind, id, value) in [
        ("alice", "pre-key", "1", vec![1u8, 0, 255]),
        ("alice", "session", "12345.0@s.whatsapp.net", all_bytes.clone()),
        ("alice", "app-state-sync-key", "AAAAAKN7", vec![0; 4096]),
        // A whole app-state version, as every version before 5 stored one: kept as it is.
        ("alice", "app-state-sync-version", "regular_high", vec![1, 8, 1, 7, b'v', b'e', b'r', b's', b'i', b'o', b'n', 3, 2]),
        ("bob", "sender-key", "group@g.us::ünïcödé::0", vec![6, 1, 2]),
        ("keys-only", "pre-key", "", vec![1, 0]),
    ] {
        conn.execute(
            "INSERT INTO keys (session_id, type, id, value) SELECT id, ?2, ?3, ?4 FROM sessions WHERE name = ?1",
            rusqlite::params![session, kind, id, value],
        )
        .unwrap();
    }
    drop(conn);
    path
}

/// Every earlier version's files: generated, and the one its own code wrote where there is one.
fn earlier_files(name: &str) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for &version in EARLIER {
        files.push((format!("generated v{version}"), generated(version, &format!("{name}-gen-v{version}"))));
        if version == 1 {
            files.push(("fixture v1".into(), schema_v1_fixture(&format!("{name}-fixture-v1"))));
        }
    }
    files
}

#[test]
fn every_earlier_version_is_upgraded_keeping_every_session_creds_and_key_byte_for_byte() {
    for (what, path) in earlier_files("upgrade") {
        let before = raw_rows(&path);
        assert!(!before.1.is_empty(), "{what} has keys");
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(user_version(&path), SCHEMA_VERSION, "{what}");
        let names: Vec<&str> = before.0.iter().map(|(name, _, _)| name.as_str()).collect();
        assert_eq!(store.sessions().unwrap(), names, "{what}");
        for (name, creds, _) in &before.0 {
            assert_eq!(&store.get_creds(name).unwrap(), creds, "{what}: creds of {name}");
        }
        for (session, kind, id, value) in &before.1 {
            assert_eq!(
                store.get_keys(session, kind, std::slice::from_ref(id)).unwrap(),
                vec![Some(value.clone())],
                "{what}: {session} {kind} {id}"
            );
        }
        assert!(store.check().unwrap().is_empty(), "{what}");
        // And the upgraded store goes on working.
        store.apply("alice", &[KeyWrite { kind: "pre-key".into(), id: "new".into(), value: Some(vec![1, 0]) }], None).unwrap();
        store.apply("alice", &[KeyWrite { kind: "pre-key".into(), id: "new".into(), value: None }], None).unwrap();
        drop(store);
        let after = raw_rows(&path);
        assert_eq!(after.1, before.1, "{what}: every key, byte for byte");
        for ((name, creds, at), (name_after, creds_after, at_after)) in before.0.iter().zip(&after.0) {
            assert_eq!((name, creds), (name_after, creds_after), "{what}");
            if name != "alice" {
                assert_eq!(at, at_after, "{what}: the last write time of {name}");
            }
        }
    }
}

/// The database file's bytes, after checking that no transaction is left in a `-wal` beside it
/// (SQLite may leave an empty one behind after a read; an empty WAL holds nothing). Hashed, so
/// that a failing assertion prints two numbers rather than two files.
fn file_bytes(path: &Path) -> (usize, u64) {
    use std::hash::{Hash, Hasher};
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if let Ok(wal) = std::fs::read(&wal) {
        assert!(wal.is_empty(), "{}: the -wal holds {} bytes", path.display(), wal.len());
    }
    let bytes = std::fs::read(path).unwrap();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    (bytes.len(), hasher.finish())
}

#[test]
fn a_failing_upgrade_rolls_back_and_leaves_the_file_byte_identical() {
    for (what, path) in earlier_files("failing") {
        let version = user_version(&path);
        // 005 changes no table (only what rows may hold): nothing can squat on it, and an
        // upgrade from version 4 has no step that can fail halfway.
        if version >= 4 {
            continue;
        }
        // An object with the name a later migration creates: that step fails midway, after the
        // steps (and statements) before it have run inside the same transaction. Version 3 has
        // the leases table: there, the column 004 adds squats.
        let (squat, unsquat) = if version < 3 {
            ("CREATE TABLE leases (squatter)", "DROP TABLE leases")
        } else {
            ("ALTER TABLE leases ADD COLUMN process_lock", "ALTER TABLE leases DROP COLUMN process_lock")
        };
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(squat).unwrap();
        drop(conn);
        let rows = raw_rows(&path);
        let before = file_bytes(&path);
        let err = SqliteStore::open(&path).err().expect("the upgrade fails");
        assert_eq!(err.code(), "ERR_STORE_IO", "{what}: {err}");
        assert!(err.to_string().contains("schema upgrade to version"), "{what}: {err}");
        assert_eq!(file_bytes(&path), before, "{what}: the file is byte-identical");
        assert_eq!(user_version(&path), version, "{what}: the version is unchanged");
        assert_eq!(raw_rows(&path), rows, "{what}");
        // Once the squatter is gone, the same file upgrades.
        Connection::open(&path).unwrap().execute_batch(unsquat).unwrap();
        drop(SqliteStore::open(&path).unwrap());
        assert_eq!(user_version(&path), SCHEMA_VERSION, "{what}");
    }
}

#[test]
fn opening_without_create_never_upgrades_an_earlier_version() {
    for (what, path) in earlier_files("no-create") {
        let version = user_version(&path);
        let before = file_bytes(&path);
        let err = SqliteStore::open_with(&path, false).err().unwrap();
        assert_eq!(err, StoreError::OlderSchema { found: version, current: SCHEMA_VERSION }, "{what}");
        assert_eq!(file_bytes(&path), before, "{what}: the file is left as it was");
        assert_eq!(user_version(&path), version, "{what}");
    }
}

#[test]
fn newer_schema_is_refused_untouched() {
    let path = temp_path("newer");
    drop(SqliteStore::open(&path).unwrap());
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path).err().unwrap();
    assert_eq!(err, StoreError::Version { found: SCHEMA_VERSION + 1, supported: SCHEMA_VERSION });
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

/// The database version 1 of the schema wrote (commit 746e178; `tests/fixtures/schema-v1.sql`):
/// sessions alice and bob with creds and keys, and a session deleted afterwards by the sqlite3
/// shell without foreign keys, so that its two keys were left behind.
fn schema_v1_fixture(name: &str) -> PathBuf {
    let path = temp_path(name);
    common::write_schema_v1_fixture(&path);
    path
}

/// Every (session, creds, updated_at) and (session, type, id, value) row, read with plain SQL.
type RawRows = (Vec<(String, Option<Vec<u8>>, i64)>, Vec<(String, String, String, Vec<u8>)>);

fn raw_rows(path: &Path) -> RawRows {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let sessions = conn
        .prepare("SELECT name, creds, updated_at FROM sessions ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let keys = conn
        .prepare("SELECT s.name, k.type, k.id, k.value FROM keys k JOIN sessions s ON s.id = k.session_id ORDER BY 1, 2, 3")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (sessions, keys)
}

#[test]
fn a_version_1_database_is_upgraded_keeping_every_session_and_key_byte_for_byte() {
    let path = schema_v1_fixture("upgrade-v1");
    let (sessions, keys) = raw_rows(&path);
    assert_eq!(sessions.iter().map(|(name, _, _)| name.as_str()).collect::<Vec<_>>(), ["alice", "bob"]);
    assert_eq!(keys.len(), 9);
    let orphans: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM keys WHERE session_id NOT IN (SELECT id FROM sessions)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(orphans, 2, "the fixture holds the keys of a session deleted without foreign keys");

    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(store.sessions().unwrap(), ["alice", "bob"]);
    for (name, creds, _) in &sessions {
        assert_eq!(&store.get_creds(name).unwrap(), creds, "creds of {name}");
    }
    for (session, kind, id, value) in &keys {
        assert_eq!(store.get_keys(session, kind, std::slice::from_ref(id)).unwrap(), vec![Some(value.clone())], "{session} {kind} {id}");
    }
    assert!(store.check().unwrap().is_empty());
    drop(store);
    assert_eq!(raw_rows(&path), (sessions, keys), "nothing else changed");
}

#[test]
fn a_new_session_never_inherits_the_keys_of_a_session_deleted_without_foreign_keys() {
    // The deleted session had the highest row id: version 1 gave it to the next session.
    let path = schema_v1_fixture("no-reuse-v1");
    let mut store = SqliteStore::open(&path).unwrap();
    store.set_creds("carol", b"\x01\x00", None).unwrap();
    assert_eq!(store.list_keys("carol").unwrap(), vec![], "carol has no keys of her own");
    assert_eq!(store.get_keys("carol", "session", &["victim.0".into()]).unwrap(), vec![None]);

    // And after the upgrade, deleting the newest session without foreign keys frees no id.
    store.apply("carol", &[put("session", "mine", b"\x01\x00")], None).unwrap();
    // As the sqlite3 shell does it, from another connection: foreign keys off.
    let shell = Connection::open(&path).unwrap();
    shell.pragma_update(None, "foreign_keys", "OFF").unwrap();
    shell.execute("DELETE FROM sessions WHERE name = 'carol'", []).unwrap();
    drop(shell);
    store.set_creds("dave", b"\x01\x00", None).unwrap();
    assert_eq!(store.list_keys("dave").unwrap(), vec![]);
    assert_eq!(store.check().unwrap(), ["1 keys belong to no session"], "carol's key is an orphan, not dave's");
}

#[test]
fn without_create_an_empty_file_is_not_found_and_an_older_schema_is_not_upgraded() {
    let path = temp_path("no-create");
    assert_eq!(SqliteStore::open_with(&path, false).err().unwrap().code(), "ERR_STORE_NOT_FOUND");
    assert!(!path.exists());
    std::fs::write(&path, b"").unwrap();
    assert_eq!(SqliteStore::open_with(&path, false).err().unwrap().code(), "ERR_STORE_NOT_FOUND");
    assert_eq!(std::fs::read(&path).unwrap(), b"", "the empty file stays empty");

    let v1 = schema_v1_fixture("no-upgrade");
    let before = std::fs::read(&v1).unwrap();
    let err = SqliteStore::open_with(&v1, false).err().unwrap();
    assert_eq!(err, StoreError::OlderSchema { found: 1, current: SCHEMA_VERSION });
    assert_eq!(err.code(), "ERR_STORE_VERSION");
    assert_eq!(std::fs::read(&v1).unwrap(), before, "the file is left as it was");
    SqliteStore::open(&v1).unwrap();
    assert!(SqliteStore::open_with(&v1, false).is_ok(), "once upgraded, it opens");
}

fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
}

#[test]
fn an_upgrade_of_several_steps_is_one_transaction_a_failing_last_step_undoes_the_first() {
    // Version 0 of our own (marked, no tables yet) with an object squatting on the name the
    // third step creates: steps 001 and 002 run, then 003 fails (004 never runs). Were each step its own transaction,
    // the file would be left at version 1 with 001's tables.
    let path = temp_path("several-steps");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "application_id", APPLICATION_ID).unwrap();
    conn.execute_batch("CREATE TABLE leases (squatter)").unwrap();
    drop(conn);
    let before = file_bytes(&path);
    let err = SqliteStore::open(&path).err().expect("the upgrade fails");
    assert!(err.to_string().contains("schema upgrade to version 3 failed"), "{err}");
    assert_eq!(file_bytes(&path), before, "the file is byte-identical");
    assert_eq!(user_version(&path), 0);
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tables, ["leases"], "001's and 002's tables were rolled back with the rest");
}

/// A negative `user_version` (only a hand edit makes one) is no schema this code knows: the
/// upgrade once skipped every step (`from as usize` is huge) and then labelled the file with
/// this version, so a version 1 file passed as upgraded without its upgrade.
#[test]
fn a_negative_schema_version_is_refused_untouched() {
    let path = generated(1, "negative-version");
    Connection::open(&path).unwrap().pragma_update(None, "user_version", -1).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = SqliteStore::open(&path).err().expect("refused");
    assert_eq!(err.code(), "ERR_STORE_CORRUPT", "{err}");
    assert_eq!(user_version(&path), -1);
    assert_eq!(std::fs::read(&path).unwrap(), before, "the file is left as it was");
}

/// A lease of version 3 keeps its epoch and its meaning through the upgrade to 4: it named a
/// lock file per session (`kernel_lock` 1), which is still asked; here its holder is gone (no
/// process holds, nor ever created, that file), so the next owner takes it at once, one epoch on.
#[test]
fn a_version_3_lease_is_upgraded_keeping_its_epoch_and_its_lock_file() {
    use baileys_rust_auth::core::lease::{Claim, LeaseRequest};
    let path = generated(3, "v3-lease");
    let far = 4_000_000_000_000i64;
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO leases (session, epoch, holder, process, host, pid, acquired_at, expires_at, boot, expires_boot, kernel_lock)
             VALUES ('alice', 7, 'dead-1', 'dead', 'old-host', 1, 0, ?1, 'other-boot', NULL, 1)",
            [far],
        )
        .unwrap();
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    let stored = store.lease("alice").unwrap().unwrap();
    assert_eq!((stored.epoch, stored.live, stored.owner.host.as_str()), (7, true, "old-host"));
    let granted = store.acquire_lease("alice", &LeaseRequest::new(30_000, Claim::Refuse, "new-host")).unwrap();
    assert_eq!(granted.epoch, 8);
}
