//! Helpers of the SQLite unit tests.

use std::path::{Path, PathBuf};

use super::SqliteStore;
use crate::core::store::{KeyInfo, KeyWrite, Store};

pub(super) fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bra-sqlite-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("auth.db")
}

pub(super) fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
}

/// A session, its creds, and every key with its value.
pub(super) type Dumped = (String, Option<Vec<u8>>, Vec<(KeyInfo, Option<Vec<u8>>)>);

/// Every session of the store.
pub(super) fn dump(store: &mut SqliteStore) -> Vec<Dumped> {
    let mut out = Vec::new();
    for session in store.sessions().unwrap() {
        let creds = store.get_creds(&session).unwrap();
        let mut keys = Vec::new();
        for key in store.list_keys(&session).unwrap() {
            let value = store.get_keys(&session, &key.kind, std::slice::from_ref(&key.id)).unwrap().remove(0);
            keys.push((key, value));
        }
        out.push((session, creds, keys));
    }
    out
}

pub(super) fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}
