//! `backup`: a consistent copy of the whole store, written beside the destination and renamed
//! over it, while the store stays in use. The destination is checked first, so that a backup
//! never replaces a live database's files (its own or another's).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::open::{create_private_file, same_file, with_suffix, BUSY_TIMEOUT, COMPANIONS};
use crate::core::error::{Result, StoreError};
use crate::core::store::now_millis;

/// Pages a backup copies per step (4 MiB at the default page size).
const BACKUP_PAGES_PER_STEP: std::ffi::c_int = 1024;

/// Uses SQLite's online backup API on this store's connection: other processes can keep
/// writing meanwhile (this store's own later operations wait their turn, as always). The
/// copy goes to a hidden file beside `dest` (mode 0600), which is synced, renamed over
/// `dest`, and the directory synced. A missing directory is `ERR_STORE_IO`; a path that
/// names no file, a directory or the store's own file is `ERR_INVALID_ARG`.
pub(super) fn backup(conn: &Connection, dest: &Path) -> Result<()> {
    let source = conn.path().unwrap_or("").to_owned();
    let (dir, temp) = backup_paths(dest, &source)?;
    if let Some(name) = dest.file_name() {
        remove_abandoned_backups(&dir, name);
    }
    let result = backup_into(conn, &temp).and_then(|()| {
        std::fs::rename(&temp, dest).map_err(|e| StoreError::Io(format!("cannot replace {}: {e}", dest.display())))?;
        sync_dir(&dir)
    });
    if result.is_err() {
        remove_backup_files(&temp);
    }
    result
}

/// The directory to sync after renaming the copy over `dest`, and the new file the copy is
/// written to first. `source` is the store's own file (empty in memory), which `dest` must not be.
fn backup_paths(dest: &Path, source: &str) -> Result<(PathBuf, PathBuf)> {
    if dest.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(StoreError::invalid("backup path must not contain NUL characters"));
    }
    let Some(name) = dest.file_name() else {
        return Err(StoreError::invalid(format!("backup path {} does not name a file", dest.display())));
    };
    let dir = match dest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match std::fs::metadata(&dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(StoreError::Io(format!("cannot back up to {}: {} is not a directory", dest.display(), dir.display()))),
        Err(e) => return Err(StoreError::Io(format!("cannot back up to {}: directory {}: {e}", dest.display(), dir.display()))),
    }
    if dest.is_dir() {
        return Err(StoreError::invalid(format!("backup path {} is a directory", dest.display())));
    }
    let target = dir.join(name);
    if !source.is_empty() {
        // Renaming a copy over the live file would detach it from its own WAL; over its -wal or
        // -shm, SQLite would lose the committed transactions the WAL holds.
        for suffix in COMPANIONS {
            if same_file(&with_suffix(Path::new(source), suffix), &target) {
                let what = if suffix.is_empty() { "database file".to_owned() } else { format!("{suffix} file") };
                return Err(StoreError::invalid(format!("a store cannot be backed up onto its own {what}")));
            }
        }
    }
    // Another database's companion file: replacing it loses that database's transactions.
    let name_text = name.to_string_lossy();
    for suffix in &COMPANIONS[1..] {
        if let Some(base) = name_text.strip_suffix(suffix) {
            if dir.join(base).is_file() {
                return Err(StoreError::invalid(format!(
                    "backup path {} is the {suffix} file of the SQLite database {base}: choose another name",
                    dest.display()
                )));
            }
        }
    }
    // A database in use (or left by a crash) has a -wal or -shm beside it: a new file renamed
    // under it would be read with that WAL, which belongs to the old file.
    for suffix in &COMPANIONS[1..] {
        if with_suffix(&target, suffix).symlink_metadata().is_ok() {
            return Err(StoreError::invalid(format!(
                "backup path {} is a SQLite database in use or not closed cleanly ({}{suffix} exists): back up to a new file, or close what uses it first",
                dest.display(),
                name.to_string_lossy()
            )));
        }
    }
    Ok((dir, create_temp_file(dest, name)?))
}

/// Creates a new, private file next to `dest` for the copy in progress: hidden, and named
/// after this process and the time, so that a file left by a crashed backup is never reused.
fn create_temp_file(dest: &Path, name: &OsStr) -> Result<PathBuf> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut attempt = 0;
    loop {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(".{}-{}-{n}.backup-tmp", std::process::id(), now_millis()));
        let temp = dest.with_file_name(temp);
        match create_private_file(&temp, true) {
            Err(_) if attempt < 3 && temp.exists() => attempt += 1,
            created => return created.map(|()| temp),
        }
    }
}

/// Removes the temporary files that backups to `dest` killed midway left beside it (named by
/// [`create_temp_file`] after a process that no longer runs): each is a copy of every private
/// key of the store.
fn remove_abandoned_backups(dir: &Path, name: &OsStr) {
    let prefix = format!(".{}.", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split_once(".backup-tmp"))
            .and_then(|(stamp, _)| stamp.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !process_runs(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether a process with this id runs (on Unix; elsewhere, assume it does and keep its files).
fn process_runs(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return true };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        alive || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes a failed backup's temporary file and any file SQLite kept beside it.
fn remove_backup_files(temp: &Path) {
    for suffix in COMPANIONS {
        let _ = std::fs::remove_file(with_suffix(temp, suffix));
    }
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::Io(format!("cannot sync directory {}: {e}", dir.display())))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Copies the database into the new, empty file at `temp` and syncs it.
fn backup_into(conn: &Connection, temp: &Path) -> Result<()> {
    let mut dest = Connection::open_with_flags(temp, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| StoreError::Io(format!("cannot open {}: {e}", temp.display())))?;
    // The file is discarded unless the copy completes, and synced once at the end: a
    // journal and intermediate syncs would protect nothing.
    dest.pragma_update(None, "journal_mode", "OFF")?;
    dest.pragma_update(None, "synchronous", "OFF")?;
    // One read transaction across all steps: the copy is one snapshot, and in WAL mode
    // writers in other processes go on meanwhile without forcing the copy to restart.
    let tx = conn.unchecked_transaction()?;
    tx.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    {
        let backup = Backup::new(&tx, &mut dest)?;
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        loop {
            match backup.step(BACKUP_PAGES_PER_STEP)? {
                StepResult::Done => break,
                StepResult::More => {}
                // Not expected with the snapshot held, but these are retryable by contract.
                StepResult::Busy | StepResult::Locked if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => return Err(StoreError::Io("backup: the database stayed locked".into())),
            }
        }
    }
    tx.commit()?;
    dest.close().map_err(|(_, e)| StoreError::from(e))?;
    // Opened for writing: Windows flushes only a handle with write access.
    std::fs::OpenOptions::new()
        .write(true)
        .open(temp)
        .and_then(|f| f.sync_all())
        .map_err(|e| StoreError::Io(format!("cannot sync {}: {e}", temp.display())))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::core::sqlite::test_support::{dump, files_in, put, temp_path};
    use crate::core::sqlite::SqliteStore;
    use crate::core::store::{KeyWrite, Store};

    #[test]
    fn a_backup_is_a_complete_private_store_and_the_original_stays_in_use() {
        let path = temp_path("backup");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("a", b"creds-a", None).unwrap();
        for batch in 0..20 {
            let writes: Vec<KeyWrite> =
                (0..500).map(|i| put(["session", "pre-key"][i % 2], &format!("{batch}-{i}"), &[i as u8; 200])).collect();
            store.apply(if batch % 2 == 0 { "a" } else { "b" }, &writes, None).unwrap();
        }
        let dest = dir.join("copy.db");
        // An existing file is replaced whole, whatever it held and whatever its mode.
        std::fs::write(&dest, b"not a database").unwrap();
        #[cfg(unix)]
        std::fs::set_permissions(&dest, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        let before = dump(&mut store);
        store.backup(&dest).unwrap();
        store.apply("a", &[put("session", "after", b"x")], None).unwrap();

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(files_in(&dir), ["auth.db", "auth.db-shm", "auth.db-wal", "copy.db"], "no temporary file is left");
        let mut copy = SqliteStore::open(&dest).unwrap();
        assert!(copy.check().unwrap().is_empty());
        let copied = dump(&mut copy);
        assert_eq!(copied.iter().map(|(_, _, keys)| keys.len()).sum::<usize>(), 10_000);
        assert_eq!(copied, before, "the copy holds every key, and nothing written after it");
        assert_ne!(dump(&mut store), before, "the original went on");
        drop(copy);

        // Again, over the previous backup.
        store.backup(&dest).unwrap();
        assert_eq!(dump(&mut SqliteStore::open(&dest).unwrap()), dump(&mut store));
    }

    #[test]
    fn a_backup_is_one_snapshot_while_another_process_writes() {
        let path = temp_path("backup-live");
        let dest = path.with_file_name("copy.db");
        let mut store = SqliteStore::open(&path).unwrap();
        // Enough pages that the copy takes many steps.
        let filler: Vec<KeyWrite> = (0..12_000).map(|i| put("filler", &i.to_string(), &[1; 1000])).collect();
        store.apply("s", &filler, None).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (path, stop) = (path.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                // Each batch writes the same counter to both keys; a torn copy would differ.
                let mut other = SqliteStore::open(&path).unwrap();
                let mut n: u32 = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let v = n.to_le_bytes();
                    other
                        .apply(
                            "s",
                            &[put("pair", "a", &v), put("pair", "b", &v), put("filler", &(n % 12_000).to_string(), &[n as u8; 1000])],
                            None,
                        )
                        .unwrap();
                }
                n
            })
        };
        for _ in 0..5 {
            store.backup(&dest).unwrap();
            let mut copy = SqliteStore::open(&dest).unwrap();
            assert!(copy.check().unwrap().is_empty());
            let pair = copy.get_keys("s", "pair", &["a".into(), "b".into()]).unwrap();
            assert_eq!(pair[0], pair[1]);
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(writer.join().unwrap() > 0);
    }

    #[test]
    fn bad_backup_destinations_are_refused_and_leave_nothing() {
        let path = temp_path("backup-bad");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c", None).unwrap();
        let before = files_in(&dir);
        let code = |store: &mut SqliteStore, dest: &Path| store.backup(dest).unwrap_err().code();
        assert_eq!(code(&mut store, Path::new("/nonexistent-dir-for-test/copy.db")), "ERR_STORE_IO");
        assert_eq!(code(&mut store, &dir), "ERR_INVALID_ARG");
        assert_eq!(code(&mut store, &path), "ERR_INVALID_ARG");
        assert_eq!(code(&mut store, &dir.join("..").join(dir.file_name().unwrap()).join("auth.db")), "ERR_INVALID_ARG");
        assert_eq!(code(&mut store, &dir.join("a\0b")), "ERR_INVALID_ARG");
        assert_eq!(files_in(&dir), before);
        assert_eq!(store.get_creds("s").unwrap(), Some(b"c".to_vec()));
    }

    #[test]
    fn a_backup_never_replaces_a_live_databases_files() {
        let path = temp_path("backup-live-files");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c", None).unwrap();
        let other_path = dir.join("other.db");
        let mut other = SqliteStore::open(&other_path).unwrap();
        other.set_creds("o", b"x", None).unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&path, dir.join("link.db")).unwrap();
        std::fs::hard_link(&path, dir.join("hard.db")).unwrap();
        let before = files_in(&dir);
        for dest in ["auth.db-wal", "auth.db-shm", "other.db", "other.db-wal", "hard.db"].iter().chain(cfg!(unix).then_some(&"link.db")) {
            let err = store.backup(&dir.join(dest)).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG", "{dest}: {err}");
        }
        assert_eq!(files_in(&dir), before, "nothing was written");
        assert_eq!(store.get_creds("s").unwrap(), Some(b"c".to_vec()));
        assert_eq!(other.get_creds("o").unwrap(), Some(b"x".to_vec()));
        drop((store, other));
        let mut reopened = SqliteStore::open(&other_path).unwrap();
        assert!(reopened.check().unwrap().is_empty());
        assert_eq!(reopened.get_creds("o").unwrap(), Some(b"x".to_vec()));
    }

    #[test]
    fn a_backup_removes_the_copies_that_killed_backups_left_behind() {
        let path = temp_path("abandoned");
        let dir = path.parent().unwrap().to_path_buf();
        let mut store = SqliteStore::open(&path).unwrap();
        store.set_creds("s", b"c", None).unwrap();
        // A process that has exited: its pid runs no more.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let left = [format!(".copy.db.{dead}-1-0.backup-tmp"), format!(".copy.db.{dead}-1-0.backup-tmp-journal")];
        let alive = format!(".copy.db.{}-1-0.backup-tmp", std::process::id());
        for name in left.iter().chain([&alive]) {
            std::fs::write(dir.join(name), b"private keys").unwrap();
        }
        store.backup(&dir.join("copy.db")).unwrap();
        for name in &left {
            assert!(!dir.join(name).exists(), "{name} was removed");
        }
        assert!(dir.join(&alive).exists(), "a running process's copy in progress is left alone");
    }
}
