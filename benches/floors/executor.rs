//! `executor/`: a store call through the executor, as the binding makes it.

use std::hint::black_box;
use std::path::Path;
use std::sync::mpsc;

use crate::harness::*;
use crate::inputs::*;
use baileys_rust_auth::core::executor::Executor;
use baileys_rust_auth::core::memory::MemoryStore;
use baileys_rust_auth::core::sqlite::SqliteStore;
use baileys_rust_auth::core::store::Store;
use baileys_rust_auth::core::wire;

/// A store call through the executor, as the binding makes it: submit from this thread, the
/// worker runs it, `done` hands the result back (here over a channel instead of N-API's
/// thread-safe function).
pub(crate) fn executor_group(b: &mut Bench, dir: &Path, inp: &Inputs) {
    fn open_exec(open: impl FnOnce() -> Box<dyn Store> + Send + 'static) -> Executor {
        let (tx, rx) = mpsc::channel();
        Executor::open(move || Ok(open()), move |r| tx.send(r).unwrap());
        rx.recv().unwrap().unwrap()
    }
    fn roundtrip<T: Send + 'static>(exec: &Executor, op: impl FnOnce(&mut dyn Store) -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::sync_channel(1);
        exec.submit(move |s| Ok(op(s)), move |r| tx.send(r).unwrap());
        rx.recv().unwrap().unwrap()
    }
    let bytes = (inp.session[0].len(), 1);
    let seed = vec![write("session", PEER, &inp.session[0])];

    let memory = open_exec(|| Box::new(MemoryStore::new()));
    let batch = seed.clone();
    roundtrip(&memory, move |s| s.apply(SESSION, &batch, None).unwrap());
    b.io("executor/get_session_1_9k_memory", "thread hand-off of one call", bytes, || {
        let v = roundtrip(&memory, |s| s.get_keys(SESSION, "session", &[PEER.to_owned()]).unwrap());
        black_box(wire::write_results(&v));
    });

    let path = dir.join("exec.db");
    let sqlite = open_exec(move || Box::new(SqliteStore::open(&path).unwrap()));
    let batch = seed.clone();
    roundtrip(&sqlite, move |s| s.apply(SESSION, &batch, None).unwrap());
    b.io("executor/get_session_1_9k_sqlite", "`sessions-micro` get, Rust side", bytes, || {
        let v = roundtrip(&sqlite, |s| s.get_keys(SESSION, "session", &[PEER.to_owned()]).unwrap());
        black_box(wire::write_results(&v));
    });
    let batches = [0, 1].map(|k| wire::write_batch(&[write("session", PEER, &inp.session[k])]));
    let mut n = 0usize;
    b.io("executor/put_session_1_9k_sqlite", "`sessions-micro` set, Rust side", bytes, || {
        let writes = wire::read_batch(&batches[n % 2]).unwrap();
        roundtrip(&sqlite, move |s| s.apply(SESSION, &writes, None).unwrap());
        n += 1;
    });
    let (tx, rx) = mpsc::channel();
    sqlite.close(move || tx.send(()).unwrap());
    rx.recv().unwrap();
}
