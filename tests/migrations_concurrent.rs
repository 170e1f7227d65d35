//! Many connections (threads, each with its own connection) opening one version 1 file at once:
//! exactly one upgrades, the others wait and then see the new version; nobody fails.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use baileys_rust_auth::core::sqlite::{SqliteStore, SCHEMA_VERSION};
use baileys_rust_auth::core::store::Store;
use rusqlite::Connection;

mod common;

fn fixture_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bra-migr-conc-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("auth.db");
    common::write_schema_v1_fixture(&path);
    path
}

#[test]
fn many_connections_opening_one_version_1_file_at_once_all_succeed() {
    for round in 0..10 {
        let path = fixture_copy(&format!("r{round}"));
        let n = 6;
        let barrier = Arc::new(Barrier::new(n));
        let openers: Vec<_> = (0..n)
            .map(|_| {
                let path = path.clone();
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut store = SqliteStore::open(&path).map_err(|e| e.to_string())?;
                    store.sessions().map_err(|e| e.to_string())
                })
            })
            .collect();
        let results: Vec<_> = openers.into_iter().map(|t| t.join().unwrap()).collect();
        for r in &results {
            assert!(r.is_ok(), "round {round}: {r:?}");
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]), "round {round}: {results:?}");
        assert!(!results[0].as_ref().unwrap().is_empty());
        let conn = Connection::open(&path).unwrap();
        let v: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let problems: i64 =
            conn.query_row("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check != 'ok'", [], |r| r.get(0)).unwrap();
        assert_eq!(problems, 0);
    }
}
