//! Runs one store's operations on a thread of its own, strictly in the order they were
//! submitted.
//!
//! This gives the two guarantees the JavaScript API promises: blocking database work never
//! runs on the JavaScript thread, and an operation issued after another (even without
//! awaiting it) sees its effect, because one thread applies them first come, first served.
//!
//! Group commit: a creds save or key batch submitted with [`Executor::submit_write`] is
//! applied together with the writes queued right behind it (never waiting for more, so a lone
//! write is not delayed), through [`Store::write_group`]: on SQLite one transaction and one
//! fsync for all of them, on Redis one pipeline. The group stops at the first operation that is
//! not such a write, which runs after the group has committed, so issue order holds. Each write
//! keeps its own result, and every `done` is called only after the whole group returned, that
//! is after its commit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex};

use super::error::{Result, StoreError};
use super::lease::Fence;
use super::store::{KeyWrite, Store, Write};

type Job = Box<dyn FnOnce(&mut dyn Store) + Send>;

enum Message {
    Run(Job),
    Write(WriteJob),
    Close(Box<dyn FnOnce() + Send>),
}

/// A write that may share a commit with the writes queued around it
/// ([`Executor::submit_write`]), owned while it waits in line.
#[derive(Debug, Clone)]
pub enum QueuedWrite {
    Creds { session: String, creds: Vec<u8>, fence: Option<Fence> },
    Keys { session: String, writes: Vec<KeyWrite>, fence: Option<Fence> },
}

impl QueuedWrite {
    fn as_write(&self) -> Write<'_> {
        match self {
            QueuedWrite::Creds { session, creds, fence } => Write::Creds { session, creds, fence: fence.as_ref() },
            QueuedWrite::Keys { session, writes, fence } => Write::Keys { session, writes, fence: fence.as_ref() },
        }
    }
}

struct WriteJob {
    write: QueuedWrite,
    issued: std::time::Instant,
    done: Box<dyn FnOnce(Result<()>) + Send>,
}

/// At most this many writes share one commit: a failing write costs its group a savepoint
/// rollback, and the first write of a group waits for the last one's work before its ack.
const GROUP_MAX_WRITES: usize = 64;
/// A group stops taking writes once it carries this many bytes, so that one transaction (and
/// the WAL growth of one commit) stays bounded whatever the batches' sizes.
const GROUP_MAX_BYTES: usize = 4 << 20;

/// How many groups the worker committed and how many writes they held, since the store opened
/// (see [`Executor::write_groups`]).
#[derive(Debug, Default)]
struct GroupCounters {
    groups: AtomicU64,
    writes: AtomicU64,
}

/// A handle to a store's worker thread. Dropping it (without [`Executor::close`]) lets the
/// worker finish what was submitted and then close the store.
pub struct Executor {
    sender: Mutex<Option<Sender<Message>>>,
    /// The store's [`Store::identity`], read when it opened.
    identity: String,
    /// The store's [`Store::name_limits`], read when it opened.
    name_limits: Option<crate::core::store::NameLimits>,
    groups: Arc<GroupCounters>,
}

impl Executor {
    /// Starts a worker thread that opens the store with `open` and then serves jobs.
    /// `done` receives the executor once the store is open, or the error that opening gave.
    pub fn open<F, D>(open: F, done: D)
    where
        F: FnOnce() -> Result<Box<dyn Store>> + Send + 'static,
        D: FnOnce(Result<Executor>) + Send + 'static,
    {
        let (sender, receiver) = channel::<Message>();
        // Shared with this thread so that a failed spawn can still report through `done`.
        let done = Arc::new(Mutex::new(Some(done)));
        let report = {
            let done = Arc::clone(&done);
            move |result: Result<Executor>| {
                if let Some(done) = done.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    done(result)
                }
            }
        };
        let report_spawn_error = report.clone();
        let spawned = std::thread::Builder::new().name("baileys-rust-auth store".into()).spawn(move || {
            let mut store = match catch_unwind(AssertUnwindSafe(open)).unwrap_or_else(|_| Err(panicked())) {
                Ok(store) => store,
                Err(err) => return report(Err(err)),
            };
            let groups = Arc::new(GroupCounters::default());
            report(Ok(Executor {
                sender: Mutex::new(Some(sender)),
                identity: store.identity(),
                name_limits: store.name_limits(),
                groups: Arc::clone(&groups),
            }));
            let mut spin = SpinGate::default();
            // A message taken while gathering a group, which runs right after it.
            let mut held = None;
            while let Some(message) = held.take().or_else(|| next_message(&receiver, spin.allowed())) {
                match message {
                    Message::Run(job) => job(store.as_mut()),
                    Message::Write(first) => held = run_group(store.as_mut(), first, &receiver, &groups),
                    Message::Close(closed) => {
                        drop(store);
                        return closed();
                    }
                }
            }
        });
        if let Err(e) = spawned {
            report_spawn_error(Err(StoreError::Io(format!("cannot start the store's thread: {e}"))));
        }
    }

    /// Queues `op`; `done` receives its result, on the worker thread. If the store is
    /// closed, `done` receives [`StoreError::Closed`] at once, on the caller's thread.
    pub fn submit<T, F, D>(&self, op: F, done: D)
    where
        T: 'static,
        F: FnOnce(&mut dyn Store) -> Result<T> + Send + 'static,
        D: FnOnce(Result<T>) + Send + 'static,
    {
        let issued = std::time::Instant::now();
        let job: Job = Box::new(move |store| {
            store.operation_issued(issued);
            let result = catch_unwind(AssertUnwindSafe(|| op(store))).unwrap_or_else(|_| Err(panicked()));
            done(result)
        });
        let guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(sender) => {
                if let Err(unsent) = sender.send(Message::Run(job)) {
                    drop(guard);
                    if let Message::Run(job) = unsent.0 {
                        // The worker is gone; run the job against a store that refuses.
                        job(&mut ClosedStore);
                    }
                }
            }
            None => {
                drop(guard);
                job(&mut ClosedStore)
            }
        }
    }

    /// Queues a creds save or key batch that may share a commit with the writes queued next to
    /// it (see the module doc); `done` receives its own result, after the group's commit.
    /// In every other way like [`Executor::submit`].
    pub fn submit_write<D>(&self, write: QueuedWrite, done: D)
    where
        D: FnOnce(Result<()>) + Send + 'static,
    {
        let job = WriteJob { write, issued: std::time::Instant::now(), done: Box::new(done) };
        let guard = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let unsent = match guard.as_ref() {
            Some(sender) => match sender.send(Message::Write(job)) {
                Ok(()) => return,
                Err(unsent) => unsent.0,
            },
            None => Message::Write(job),
        };
        drop(guard);
        if let Message::Write(job) = unsent {
            (job.done)(Err(StoreError::Closed))
        }
    }

    /// How many write groups the store committed since it opened, and how many writes they
    /// held: `writes > groups` means some writes shared a commit. On SQLite each group is one
    /// commit (one fsync); on Redis one pipeline.
    pub fn write_groups(&self) -> (u64, u64) {
        (self.groups.groups.load(Ordering::Relaxed), self.groups.writes.load(Ordering::Relaxed))
    }

    /// Closes the store after every operation submitted before this call has finished.
    /// Later operations fail with [`StoreError::Closed`]. Closing twice is harmless.
    pub fn close<D>(&self, done: D)
    where
        D: FnOnce() + Send + 'static,
    {
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        match sender {
            Some(sender) => {
                if let Err(unsent) = sender.send(Message::Close(Box::new(done))) {
                    if let Message::Close(done) = unsent.0 {
                        done();
                    }
                }
            }
            None => done(),
        }
    }

    /// What the store is ([`Store::identity`]), whatever URL opened it.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The longest names the store takes ([`Store::name_limits`]).
    pub fn name_limits(&self) -> Option<crate::core::store::NameLimits> {
        self.name_limits
    }

    pub fn is_closed(&self) -> bool {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).is_none()
    }
}

/// How long the worker keeps polling for the next operation before it sleeps. An
/// application that awaits each call sends the next one right after the previous result
/// reaches JavaScript; catching it while still awake saves a thread wake-up (tens of
/// microseconds) per call, at the cost of this much CPU after each burst.
const SPIN: std::time::Duration = std::time::Duration::from_micros(200);

/// Operations between two looks at the process's involuntary context switches.
const SAMPLE_OPS: u32 = 128;
/// More involuntary context switches than this per operation means the cores are all busy
/// (measured here: ~0.01 per operation on an idle machine, 2-3 with one core taken).
const CONTENDED_SWITCHES_PER_OP: f64 = 0.25;

/// Whether spinning pays. On a machine whose cores are all busy, a spinning worker takes the
/// CPU from the JavaScript thread it waits for: measured on 2 cores with one taken, awaited
/// calls ran 35-45% slower with the spin than without. So every [`SAMPLE_OPS`] operations the
/// worker reads how often the process's threads were preempted, and spins only while they
/// rarely are. `lib/spin.js` does the same on the JavaScript side.
#[derive(Default)]
struct SpinGate {
    ops: u32,
    switches_at_sample: u64,
    contended: bool,
}

impl SpinGate {
    fn allowed(&mut self) -> bool {
        self.count_op(involuntary_context_switches)
    }

    /// Counts one operation; every [`SAMPLE_OPS`], reads `switches` and decides again.
    fn count_op(&mut self, switches: impl FnOnce() -> u64) -> bool {
        self.ops += 1;
        if self.ops >= SAMPLE_OPS {
            let switches = switches();
            let per_op = switches.saturating_sub(self.switches_at_sample) as f64 / f64::from(self.ops);
            self.contended = per_op > CONTENDED_SWITCHES_PER_OP;
            self.switches_at_sample = switches;
            self.ops = 0;
        }
        !self.contended
    }
}

/// The process's involuntary context switches so far (all its threads).
#[cfg(unix)]
fn involuntary_context_switches() -> u64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    u64::try_from(usage.ru_nivcsw).unwrap_or(0)
}

/// Elsewhere there is no cheap count: spin as on an idle machine.
#[cfg(not(unix))]
fn involuntary_context_switches() -> u64 {
    0
}

/// The next message, or `None` once every sender is gone. Polls for up to [`SPIN`] first
/// when `spin` is true.
fn next_message(receiver: &std::sync::mpsc::Receiver<Message>, spin: bool) -> Option<Message> {
    let started = std::time::Instant::now();
    loop {
        match receiver.try_recv() {
            Ok(message) => return Some(message),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return None,
            Err(std::sync::mpsc::TryRecvError::Empty) if spin && started.elapsed() < SPIN => std::hint::spin_loop(),
            Err(std::sync::mpsc::TryRecvError::Empty) => return receiver.recv().ok(),
        }
    }
}

/// Applies `first` with the writes queued right behind it, as one [`Store::write_group`], and
/// then calls each one's `done` with its own result. Takes only what is already queued, up to
/// [`GROUP_MAX_WRITES`] and [`GROUP_MAX_BYTES`]; returns the first other message it took,
/// which must run next.
fn run_group(
    store: &mut dyn Store,
    first: WriteJob,
    receiver: &std::sync::mpsc::Receiver<Message>,
    counters: &GroupCounters,
) -> Option<Message> {
    let mut bytes = first.write.as_write().size();
    let mut jobs = vec![first];
    let mut next = None;
    while jobs.len() < GROUP_MAX_WRITES && bytes < GROUP_MAX_BYTES {
        match receiver.try_recv() {
            Ok(Message::Write(job)) => {
                bytes += job.write.as_write().size();
                jobs.push(job);
            }
            Ok(other) => {
                next = Some(other);
                break;
            }
            Err(_) => break,
        }
    }
    // Each write's issue time, so that each keeps its own deadline (see `Store::group_issued`).
    let issued: Vec<std::time::Instant> = jobs.iter().map(|job| job.issued).collect();
    store.group_issued(&issued);
    let writes: Vec<Write<'_>> = jobs.iter().map(|job| job.write.as_write()).collect();
    let results = catch_unwind(AssertUnwindSafe(|| store.write_group(&writes))).unwrap_or_default();
    drop(writes);
    counters.groups.fetch_add(1, Ordering::Relaxed);
    counters.writes.fetch_add(jobs.len() as u64, Ordering::Relaxed);
    // A panic (or a backend returning too few results) fails every write it left unanswered.
    let mut results = results.into_iter();
    for job in jobs {
        (job.done)(results.next().unwrap_or_else(|| Err(panicked())));
    }
    next
}

fn panicked() -> StoreError {
    StoreError::Io("internal error: a store operation panicked".into())
}

use super::lease::{LeaseInfo, LeaseRequest};

/// What jobs submitted after close run against: every operation fails with `Closed`.
struct ClosedStore;

impl Store for ClosedStore {
    fn get_creds(&mut self, _: &str) -> Result<Option<Vec<u8>>> {
        Err(StoreError::Closed)
    }
    fn set_creds(&mut self, _: &str, _: &[u8], _: Option<&Fence>) -> Result<()> {
        Err(StoreError::Closed)
    }
    fn get_keys(&mut self, _: &str, _: &str, _: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        Err(StoreError::Closed)
    }
    fn apply(&mut self, _: &str, _: &[super::store::KeyWrite], _: Option<&Fence>) -> Result<()> {
        Err(StoreError::Closed)
    }
    fn clear_keys(&mut self, _: &str, _: Option<&Fence>) -> Result<()> {
        Err(StoreError::Closed)
    }
    fn delete_session(&mut self, _: &str, _: Option<&Fence>) -> Result<()> {
        Err(StoreError::Closed)
    }
    fn acquire_lease(&mut self, _: &str, _: &LeaseRequest) -> Result<LeaseInfo> {
        Err(StoreError::Closed)
    }
    fn renew_lease(&mut self, _: &str, _: &Fence, _: u64) -> Result<LeaseInfo> {
        Err(StoreError::Closed)
    }
    fn release_lease(&mut self, _: &str, _: &Fence) -> Result<()> {
        Err(StoreError::Closed)
    }
    fn forget_lease(&mut self, _: &str, _: &Fence) -> Result<()> {
        Err(StoreError::Closed)
    }
    fn lease(&mut self, _: &str) -> Result<Option<LeaseInfo>> {
        Err(StoreError::Closed)
    }
    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        Err(StoreError::Closed)
    }
    fn sessions(&mut self) -> Result<Vec<String>> {
        Err(StoreError::Closed)
    }
    fn meta(&mut self, _: &str) -> Result<Option<Vec<u8>>> {
        Err(StoreError::Closed)
    }
    fn swap_meta(&mut self, _: &str, _: Option<&[u8]>, _: Option<&[u8]>) -> Result<bool> {
        Err(StoreError::Closed)
    }
    fn list_keys(&mut self, _: &str) -> Result<Vec<super::store::KeyInfo>> {
        Err(StoreError::Closed)
    }
    fn stats(&mut self, _: &str) -> Result<super::store::SessionStats> {
        Err(StoreError::Closed)
    }
    fn backup(&mut self, _: &std::path::Path) -> Result<()> {
        Err(StoreError::Closed)
    }
    fn check(&mut self) -> Result<Vec<String>> {
        Err(StoreError::Closed)
    }
    fn identity(&self) -> String {
        "closed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::memory::MemoryStore;
    use crate::core::store::KeyWrite;
    use std::sync::mpsc;

    fn open_memory() -> Executor {
        let (tx, rx) = mpsc::channel();
        Executor::open(|| Ok(Box::new(MemoryStore::new()) as Box<dyn Store>), move |r| tx.send(r).unwrap());
        rx.recv().unwrap().unwrap()
    }

    #[test]
    fn operations_apply_in_submission_order() {
        let exec = open_memory();
        for i in 0..100u8 {
            exec.submit(
                move |s| s.apply("s", &[KeyWrite { kind: "t".into(), id: "k".into(), value: Some(vec![i]) }], None),
                |r| r.unwrap(),
            );
        }
        let (tx, rx) = mpsc::channel();
        exec.submit(|s| s.get_keys("s", "t", &["k".into()]), move |r| tx.send(r).unwrap());
        assert_eq!(rx.recv().unwrap().unwrap(), vec![Some(vec![99])]);
    }

    /// Blocks the worker until the returned sender is dropped or sent to, so that what is
    /// submitted meanwhile queues up behind it.
    fn hold_worker(exec: &Executor) -> mpsc::Sender<()> {
        let (release, held) = mpsc::channel::<()>();
        exec.submit(move |_| held.recv().or(Ok(())), |r| r.unwrap());
        release
    }

    fn keys(session: &str, id: &str, value: u8) -> QueuedWrite {
        QueuedWrite::Keys {
            session: session.into(),
            writes: vec![KeyWrite { kind: "t".into(), id: id.into(), value: Some(vec![value]) }],
            fence: None,
        }
    }

    #[test]
    fn queued_writes_share_a_group_that_stops_at_the_first_other_operation() {
        let (tx, rx) = mpsc::channel();
        Executor::open(
            || Ok(Box::new(crate::core::sqlite::SqliteStore::open_in_memory()?) as Box<dyn Store>),
            move |r| tx.send(r).unwrap(),
        );
        let exec = rx.recv().unwrap().unwrap();
        let release = hold_worker(&exec);
        let (acks, acked) = mpsc::channel();
        for i in 0..10u8 {
            let acks = acks.clone();
            let write = if i == 4 { QueuedWrite::Creds { session: "s".into(), creds: vec![i], fence: None } } else { keys("s", "k", i) };
            exec.submit_write(write, move |r| acks.send((i, r)).unwrap());
        }
        // A read issued after the writes, before the next ones: it must see the first ten.
        let (read_tx, read) = mpsc::channel();
        exec.submit(|s| Ok((s.get_keys("s", "t", &["k".into()])?, s.get_creds("s")?)), move |r| read_tx.send(r).unwrap());
        for i in 10..15u8 {
            let acks = acks.clone();
            exec.submit_write(keys("s", "k", i), move |r| acks.send((i, r)).unwrap());
        }
        drop(release);
        assert_eq!(read.recv().unwrap().unwrap(), (vec![Some(vec![9])], Some(vec![4])));
        let order: Vec<u8> = (0..15).map(|_| acked.recv().unwrap()).map(|(i, r)| r.map(|()| i).unwrap()).collect();
        assert_eq!(order, (0..15).collect::<Vec<_>>(), "acknowledged in issue order");
        assert_eq!(exec.write_groups(), (2, 15), "one group of ten before the read, one of five after it");
        let (tx, rx) = mpsc::channel();
        exec.submit(|s| s.get_keys("s", "t", &["k".into()]), move |r| tx.send(r).unwrap());
        assert_eq!(rx.recv().unwrap().unwrap(), vec![Some(vec![14])]);
    }

    #[test]
    fn each_write_of_a_group_is_acknowledged_only_once_another_connection_can_read_it() {
        let dir = std::env::temp_dir().join(format!("bra-executor-{}-acks", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("auth.db");
        let (tx, rx) = mpsc::channel();
        let open = path.clone();
        Executor::open(
            move || Ok(Box::new(crate::core::sqlite::SqliteStore::open(&open)?) as Box<dyn Store>),
            move |r| tx.send(r).unwrap(),
        );
        let exec = rx.recv().unwrap().unwrap();
        let release = hold_worker(&exec);
        let (acks, acked) = mpsc::channel();
        for i in 0..8u8 {
            let (acks, path) = (acks.clone(), path.clone());
            exec.submit_write(keys(&format!("s{i}"), "k", i), move |r| {
                // Another connection sees only committed data.
                let other = rusqlite::Connection::open(&path).unwrap();
                let visible: i64 = other.query_row("SELECT count(*) FROM keys WHERE value = ?1", [vec![i]], |row| row.get(0)).unwrap();
                acks.send((r, visible)).unwrap();
            });
        }
        drop(release);
        for _ in 0..8 {
            assert_eq!(acked.recv().unwrap(), (Ok(()), 1));
        }
        assert_eq!(exec.write_groups(), (1, 8), "one group of eight");
    }

    #[test]
    fn a_group_is_capped_by_count() {
        let exec = open_memory();
        let release = hold_worker(&exec);
        let (acks, acked) = mpsc::channel();
        let total = GROUP_MAX_WRITES + 1;
        for i in 0..total {
            let acks = acks.clone();
            exec.submit_write(keys("s", &i.to_string(), 1), move |r| acks.send(r).unwrap());
        }
        drop(release);
        for _ in 0..total {
            acked.recv().unwrap().unwrap();
        }
        assert_eq!(exec.write_groups(), (2, total as u64));
    }

    #[test]
    fn a_write_submitted_after_close_fails_with_closed() {
        let exec = open_memory();
        exec.close(|| {});
        let (tx, rx) = mpsc::channel();
        exec.submit_write(keys("s", "k", 1), move |r| tx.send(r).unwrap());
        assert_eq!(rx.recv().unwrap(), Err(StoreError::Closed));
    }

    #[test]
    fn close_finishes_queued_work_then_refuses() {
        let exec = open_memory();
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        exec.submit(|s| s.sessions(), move |r| tx.send(r.map(|_| "ran")).unwrap());
        exec.close(move || tx2.send(Ok("closed")).unwrap());
        assert_eq!(rx.recv().unwrap(), Ok("ran"));
        assert_eq!(rx.recv().unwrap(), Ok("closed"));
        let (tx, rx) = mpsc::channel();
        exec.submit(|s| s.sessions(), move |r| tx.send(r).unwrap());
        assert_eq!(rx.recv().unwrap(), Err(StoreError::Closed));
        assert!(exec.is_closed());
        exec.close(|| {});
    }

    #[test]
    fn open_errors_reach_the_caller() {
        let (tx, rx) = mpsc::channel();
        Executor::open(|| Err(StoreError::Io("nope".into())), move |r| tx.send(r.err()).unwrap());
        assert_eq!(rx.recv().unwrap(), Some(StoreError::Io("nope".into())));
    }

    #[test]
    fn spinning_stops_while_threads_are_preempted_and_resumes_after() {
        let mut gate = SpinGate::default();
        let ops = u64::from(SAMPLE_OPS);
        let mut decide = |switches: u64| (0..SAMPLE_OPS).map(|_| gate.count_op(|| switches)).last().unwrap();
        assert!(decide(1), "a quiet machine spins");
        assert!(!decide(1 + ops), "one preemption per operation: the cores are busy");
        assert!(!decide(1 + ops + ops / 2), "still busy");
        assert!(decide(1 + ops + ops / 2 + 3), "quiet again");
    }
}
