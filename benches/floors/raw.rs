//! `raw/`: the same SQL through a plain rusqlite connection, the floor under the store.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::harness::*;
use crate::inputs::*;
use baileys_rust_auth::core::sqlite::SqliteStore;

/// A connection opened as `src/core/sqlite/open.rs` opens its file: the schema is made by
/// `SqliteStore::open` itself (so it is exactly the store's), then a plain connection with
/// the same flags and pragmas (WAL, synchronous=FULL, foreign_keys=ON) and one session row.
pub(crate) fn open_raw(path: &Path, synchronous: &str) -> (Connection, i64) {
    drop(SqliteStore::open(path).expect("create schema"));
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).expect("open raw");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", synchronous).unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    let id = conn.query_row("INSERT INTO sessions (name, updated_at) VALUES (?1, 0) RETURNING id", [SESSION], |r| r.get(0)).unwrap();
    (conn, id)
}

pub(crate) const UPSERT: &str = "INSERT INTO keys (session_id, type, id, value) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (session_id, type, id) DO UPDATE SET value = excluded.value";
pub(crate) const SELECT: &str = "SELECT value FROM keys WHERE session_id = ?1 AND type = ?2 AND id = ?3";

/// One IMMEDIATE transaction upserting `rows` of one type (what `SqliteStore::apply` does,
/// minus the session lookup).
pub(crate) fn raw_put<'a>(conn: &mut Connection, sid: i64, kind: &str, rows: impl IntoIterator<Item = (&'a str, &'a [u8])>) {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
    {
        let mut stmt = tx.prepare_cached(UPSERT).unwrap();
        for (id, value) in rows {
            stmt.execute(params![sid, kind, id, value]).unwrap();
        }
    }
    tx.commit().unwrap();
}

pub(crate) fn raw_get(conn: &Connection, sid: i64, kind: &str, id: &str) -> Vec<u8> {
    let mut stmt = conn.prepare_cached(SELECT).unwrap();
    stmt.query_row(params![sid, kind, id], |r| r.get(0)).optional().unwrap().expect("row exists")
}

/// The raw rusqlite group. Only its own connection is open while it runs: the bundled SQLite
/// is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, so all connections of a process share one
/// page-cache pool, and a second connection whose cache is full can leave this one missing
/// the cache on every page (seen here: every read then goes to the OS, +3 µs per 1.9 KB get).
pub(crate) fn raw_group(b: &mut Bench, dir: &Path, inp: &Inputs) {
    let (mut conn, sid) = open_raw(&dir.join("raw.db"), "FULL");
    let pk_bytes = (inp.prekeys[0].len(), PREKEYS);

    // Pre-keys: each batch has fresh ids, as each upload does.
    let values = || inp.prekeys.iter().map(Vec::as_slice);
    raw_put(&mut conn, sid, "pre-key", prekey_ids(1).iter().map(String::as_str).zip(values()));
    let mut next = 1 + PREKEYS;
    {
        let (conn, next) = (&mut conn, &mut next);
        let setup = || {
            *next += PREKEYS;
            prekey_ids(*next - PREKEYS)
        };
        b.io_setup("raw/put_prekeys_812", "`prekeys` set", pk_bytes, setup, |ids| {
            raw_put(conn, sid, "pre-key", ids.iter().map(String::as_str).zip(values()));
            ids
        });
    }
    let get_ids = prekey_gets(next - 1);
    let mut i = 0;
    b.io("raw/get_prekey", "`prekeys` get", (pk_bytes.0, 1), || {
        black_box(raw_get(&conn, sid, "pre-key", &get_ids[i % get_ids.len()][0]));
        i += 1;
    });

    for c in single_cases(inp) {
        let (kind, id, blobs) = (c.kind, c.id, c.blobs);
        raw_put(&mut conn, sid, kind, [(id, blobs[1].as_slice())]);
        let mut n = 0usize;
        b.io(&format!("raw/put_{}", c.name), c.put_floor, c.bytes(), || {
            raw_put(&mut conn, sid, kind, [(id, blobs[n % 2].as_slice())]);
            n += 1;
        });
        b.io(&format!("raw/get_{}", c.name), c.get_floor, c.bytes(), || {
            black_box(raw_get(&conn, sid, kind, id));
        });
    }

    raw_micro(b, "raw/micro_session_1_9k", "`sessions-micro` (its get/set pair)", &mut conn, sid, &inp.session);

    let mut n = 0usize;
    b.io("raw/put_sessions_256", "a `fanout` commit", (inp.fanout[0][0].len(), FANOUT), || {
        let blobs = &inp.fanout[n % 2];
        let rows = inp.fanout_ids.iter().map(String::as_str).zip(blobs.iter().map(Vec::as_slice));
        raw_put(&mut conn, sid, "session", rows);
        n += 1;
    });

    // The same size, but every byte different from the stored version (two unrelated values):
    // SQLite rewrites only the overflow pages whose bytes changed, so this is the worst case.
    let mut n = 0usize;
    let other = [&inp.appstate[0], &inp.appstate_other];
    b.io("raw/put_appstate_5000_all_new", "`appstate` set, every page changed", (inp.appstate[0].len(), 1), || {
        raw_put(&mut conn, sid, "app-state-sync-version", [("other", other[n % 2].as_slice())]);
        n += 1;
    });
    drop(conn);

    // Not the shipped durability: WAL with synchronous=NORMAL does not fsync at commit (the
    // last commits may be lost on power loss). How much of a put is the fsync.
    let (mut normal, sid) = open_raw(&dir.join("raw-normal.db"), "NORMAL");
    let blobs = &inp.session;
    let mut n = 0usize;
    let floor_of = "`sessions-micro` set without fsync (not shipped)";
    b.io("raw/put_session_1_9k_normal", floor_of, (blobs[0].len(), 1), || {
        raw_put(&mut normal, sid, "session", [(PEER, blobs[n % 2].as_slice())]);
        n += 1;
    });
    b.io("raw/get_session_1_9k_normal", "`sessions-micro` get (NORMAL)", (blobs[0].len(), 1), || {
        black_box(raw_get(&normal, sid, "session", PEER));
    });
    let floor_of = "`sessions-micro` (its get/set pair) without fsync (not shipped)";
    raw_micro(b, "raw/micro_session_1_9k_normal", floor_of, &mut normal, sid, blobs);
}

/// sessions-micro's loop on the raw connection: one iteration is its get and its set (two of
/// its ops), the set writing the other of two versions, as each of its sets changes the record.
/// `bench/run.mjs` turns this case's median into the floor's ops/s (2 ops per iteration).
fn raw_micro(b: &mut Bench, name: &str, floor_of: &'static str, conn: &mut Connection, sid: i64, blobs: &[Vec<u8>]) {
    raw_put(conn, sid, "session", [(PEER, blobs[1].as_slice())]);
    let mut n = 0usize;
    b.io(name, floor_of, (blobs[0].len(), 1), || {
        black_box(raw_get(conn, sid, "session", PEER));
        raw_put(conn, sid, "session", [(PEER, blobs[n % 2].as_slice())]);
        n += 1;
    });
}
