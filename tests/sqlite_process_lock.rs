//! Liveness at fleet scale on a SQLite file (`docs/ownership.md`, `src/core/sqlite/lease.rs`):
//! a process owning any number of sessions holds ONE lock file per database, so 25,000
//! sessions need no more descriptors than one; a process killed while owning several sessions
//! loses all of them at once to the next process; and the lock file of a dead process is
//! deleted by whoever finds it free.
//!
//! The other process is this test binary itself, run again with `BRA_LOCK_CHILD_DB` set: its
//! test [`child_owning_sessions`] then takes the sessions, says so on stdout and waits to be
//! killed (it does nothing when the variable is unset).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use baileys_rust_auth::core::lease::{Claim, LeaseRequest};
use baileys_rust_auth::core::sqlite::SqliteStore;
use baileys_rust_auth::core::store::Store;

fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bra-process-lock-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("auth.db")
}

fn lock_dir(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.leases", db.display()))
}

fn lock_files(db: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(lock_dir(db))
        .map(|dir| dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn request(claim: Claim) -> LeaseRequest {
    LeaseRequest::new(60_000, claim, "test-host")
}

#[cfg(target_os = "linux")]
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn twenty_five_thousand_sessions_hold_one_lock_file() {
    let db = temp_db("many");
    let mut store = SqliteStore::open(&db).unwrap();
    #[cfg(target_os = "linux")]
    let before = open_descriptors();
    let sessions: Vec<String> = (0..25_000).map(|n| format!("bot-{n}")).collect();
    let request = request(Claim::SameProcess);
    for session in &sessions {
        store.acquire_lease(session, &request).unwrap();
    }
    #[cfg(target_os = "linux")]
    assert!(open_descriptors() <= before + 1, "one descriptor for every session: {before} before, {} after", open_descriptors());
    assert_eq!(lock_files(&db), [format!("{}.lock", baileys_rust_auth::core::lease::process_token())]);
    // Every lease names the process's lock file (a contender can tell this holder's death).
    let conn = rusqlite::Connection::open(&db).unwrap();
    let marked: i64 = conn.query_row("SELECT count(*) FROM leases WHERE process_lock = 1 AND kernel_lock = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(marked, 25_000);
    // Given back with the last session, and its file with it.
    for session in &sessions[1..] {
        let fence = store.lease(session).unwrap().unwrap().fence();
        store.release_lease(session, &fence).unwrap();
    }
    assert_eq!(lock_files(&db).len(), 1, "still owning one session");
    let fence = store.lease(&sessions[0]).unwrap().unwrap().fence();
    store.release_lease(&sessions[0], &fence).unwrap();
    assert!(lock_files(&db).is_empty(), "the last session given back takes the lock file with it");
}

/// Run only as the child of [`a_killed_process_loses_every_session_it_owned_at_once`].
#[test]
fn child_owning_sessions() {
    let Ok(db) = std::env::var("BRA_LOCK_CHILD_DB") else { return };
    let mut store = SqliteStore::open(Path::new(&db)).unwrap();
    for session in ["alice", "bob"] {
        store.acquire_lease(session, &request(Claim::Refuse)).unwrap();
    }
    println!("OWNING {}", baileys_rust_auth::core::lease::process_token());
    // Until killed; or, should the parent fail first, until its end of stdin closes.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
}

#[test]
fn a_killed_process_loses_every_session_it_owned_at_once() {
    let db = temp_db("killed");
    drop(SqliteStore::open(&db).unwrap());
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_owning_sessions", "--nocapture", "--test-threads=1"])
        .env("BRA_LOCK_CHILD_DB", &db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let token = loop {
        let line = lines.next().expect("the child says when it owns its sessions").unwrap();
        // libtest may print its "test ... " prefix on the same line.
        if let Some((_, token)) = line.split_once("OWNING ") {
            break token.trim().to_owned();
        }
    };
    assert_eq!(lock_files(&db), [format!("{token}.lock")], "one lock file for both sessions");
    let mut store = SqliteStore::open(&db).unwrap();
    for session in ["alice", "bob"] {
        let err = store.acquire_lease(session, &request(Claim::Refuse)).unwrap_err();
        assert_eq!(err.code(), "ERR_SESSION_LOCKED", "{session} is owned by a live process");
    }
    assert_eq!(lock_files(&db), [format!("{token}.lock")], "probing a live holder's file keeps it");
    child.kill().unwrap();
    child.wait().unwrap();
    // At once, long before the 60 s leases expire: both sessions.
    for session in ["alice", "bob"] {
        let granted = store.acquire_lease(session, &request(Claim::Refuse)).unwrap();
        assert_eq!(granted.epoch, 2, "{session}");
    }
    let ours = format!("{}.lock", baileys_rust_auth::core::lease::process_token());
    assert_eq!(lock_files(&db), [ours], "the dead process's lock file was deleted by the first to find it free");
}

/// A row naming a process token that is not one (a hand edit, a hostile file) names no path:
/// its lease ends by time only.
#[test]
fn a_lease_naming_no_token_is_never_probed() {
    let db = temp_db("hostile");
    let mut store = SqliteStore::open(&db).unwrap();
    store.acquire_lease("alice", &request(Claim::Refuse)).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("UPDATE leases SET process = '../../../etc/passwd'", []).unwrap();
    let err = store.acquire_lease("alice", &request(Claim::Refuse)).unwrap_err();
    assert_eq!(err.code(), "ERR_SESSION_LOCKED");
}
