//! Engine floors: the store's operations on the Rust core alone, without Node, the N-API
//! binding or the JavaScript codec. `bench/floors.md` says what each row is the floor of and
//! how to read it next to `bench/results/latest.md`.
//!
//! ```sh
//! cargo bench --no-default-features --bench floors                  # everything, ~45 s on 2 cores
//! cargo bench --no-default-features --bench floors -- codec/ raw/   # only cases whose name contains one of these
//! FLOORS_JSON=floors.json cargo bench --no-default-features --bench floors   # also write JSON
//! ```
//!
//! Environment: `FLOORS_JSON=path` (or `--json path`) writes the results as JSON;
//! `FLOORS_BUDGET_MS` sets the measuring time of each I/O case (default 1500; CPU-only cases
//! get half of it); `FLOORS_DEBUG=1` prints each warm-up's estimate.
//!
//! A tiny harness instead of criterion, so that `cargo test` (which compiles dev-dependencies)
//! stays cheap: each case is warmed up, then timed in samples. A case slower than
//! [`SLOW_OP`] is timed one operation per sample (so p99 is the p99 of single operations); a
//! faster one in samples of many iterations (p99 is then over samples, close to their max).
//! Values are made by a small xorshift generator, so every run writes the same bytes.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use baileys_rust_auth::core::codec::{self, Value};
use baileys_rust_auth::core::executor::Executor;
use baileys_rust_auth::core::memory::MemoryStore;
use baileys_rust_auth::core::open::{open_url, OpenOptions};
use baileys_rust_auth::core::sqlite::SqliteStore;
use baileys_rust_auth::core::store::{KeyWrite, Store};
use baileys_rust_auth::core::url::StoreUrl;
use baileys_rust_auth::core::wire;

/// Operations slower than this are timed one per sample.
const SLOW_OP: Duration = Duration::from_micros(20);
/// Samples of fast cases (each of many iterations).
const FAST_SAMPLES: usize = 50;
/// Bounds on the samples of slow cases.
const MIN_SLOW_SAMPLES: usize = 10;
const MAX_SLOW_SAMPLES: usize = 3000;

const SESSION: &str = "bench";
const PEER: &str = "15550000002.0";
/// The peer of the long chat (its own row, so the two session sizes never share one).
const PEER_LATE: &str = "15550000003.0";
const PREKEYS: usize = 812;
const FANOUT: usize = 256;
const APPSTATE_ENTRIES: usize = 5000;
const APPSTATE_ID: &str = "regular_high";

// ---------------------------------------------------------------------------------------
// Harness

#[derive(Clone, Debug)]
struct Stats {
    median: f64,
    p99: f64,
    min: f64,
    max: f64,
    mean: f64,
    samples: usize,
    iters: u64,
}

fn stats(mut per_op: Vec<f64>, iters: u64) -> Stats {
    per_op.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = per_op.len();
    let rank = |q: f64| per_op[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    let median = if n % 2 == 1 { per_op[n / 2] } else { (per_op[n / 2 - 1] + per_op[n / 2]) / 2.0 };
    Stats { median, p99: rank(0.99), min: per_op[0], max: per_op[n - 1], mean: per_op.iter().sum::<f64>() / n as f64, samples: n, iters }
}

/// Times `op` (which does one operation per call) for about `budget`, after a warm-up.
fn measure(budget: Duration, mut op: impl FnMut()) -> Stats {
    // Warm-up: a tenth of the budget, at least two operations; also estimates one op's time.
    let start = Instant::now();
    let mut warm = 0u64;
    while warm < 2 || start.elapsed() < budget / 10 {
        op();
        warm += 1;
    }
    let estimate = start.elapsed() / warm as u32;
    if std::env::var_os("FLOORS_DEBUG").is_some() {
        eprintln!("  warm-up: {warm} ops, {estimate:?} each");
    }
    if estimate >= SLOW_OP {
        let n = (budget.as_nanos() / estimate.as_nanos().max(1)) as usize;
        let per_op = slow_samples(budget, n, || {
            let t = Instant::now();
            op();
            t.elapsed().as_nanos() as f64
        });
        return stats(per_op, 1);
    }
    let per_sample = budget / FAST_SAMPLES as u32;
    let iters = (per_sample.as_nanos() / estimate.as_nanos().max(1)).max(1) as u64;
    let per_op = (0..FAST_SAMPLES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                op();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    stats(per_op, iters)
}

/// Like [`measure`] for slow operations that need untimed preparation: `setup` runs before
/// each operation and `op` consumes its output; only `op` is timed (what it returns is
/// dropped after the clock stops).
fn measure_with_setup<S, T>(budget: Duration, mut setup: impl FnMut() -> S, mut op: impl FnMut(S) -> T) -> Stats {
    let mut timed = |setup: &mut dyn FnMut() -> S| {
        let input = setup();
        let t = Instant::now();
        let output = op(input);
        let ns = t.elapsed().as_nanos() as f64;
        drop(output);
        ns
    };
    let start = Instant::now();
    let mut warm = Vec::new();
    while warm.len() < 2 || start.elapsed() < budget / 10 {
        warm.push(timed(&mut setup));
    }
    let estimate = warm.iter().sum::<f64>() / warm.len() as f64;
    let n = (budget.as_nanos() as f64 / estimate.max(1.0)) as usize;
    stats(slow_samples(budget, n, || timed(&mut setup)), 1)
}

/// `n` single-operation samples (within the bounds), stopping early once three budgets have
/// gone by (if the warm-up underestimated the operation).
fn slow_samples(budget: Duration, n: usize, mut sample: impl FnMut() -> f64) -> Vec<f64> {
    let start = Instant::now();
    let n = n.clamp(MIN_SLOW_SAMPLES, MAX_SLOW_SAMPLES);
    let mut out = Vec::with_capacity(n);
    while out.len() < n && (out.len() < MIN_SLOW_SAMPLES || start.elapsed() < budget * 3) {
        out.push(sample());
    }
    out
}

struct Row {
    name: String,
    floor_of: &'static str,
    /// Bytes of one value, and values per operation.
    value_bytes: usize,
    values: usize,
    stats: Stats,
}

struct Bench {
    filters: Vec<String>,
    io_budget: Duration,
    cpu_budget: Duration,
    rows: Vec<Row>,
    /// (value, codec bytes, BufferJSON text bytes) of the codec group's values.
    sizes: Vec<(&'static str, usize, usize)>,
}

impl Bench {
    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    fn record(&mut self, name: &str, floor_of: &'static str, value_bytes: usize, values: usize, stats: Stats) {
        eprintln!("{name:<40} median {:>10}  p99 {:>10}  ({} × {})", fmt_ns(stats.median), fmt_ns(stats.p99), stats.samples, stats.iters);
        self.rows.push(Row { name: name.to_owned(), floor_of, value_bytes, values, stats });
    }

    /// An I/O case: `op` does one operation.
    fn io(&mut self, name: &str, floor_of: &'static str, bytes: (usize, usize), op: impl FnMut()) {
        if self.wants(name) {
            let s = measure(self.io_budget, op);
            self.record(name, floor_of, bytes.0, bytes.1, s);
        }
    }

    fn io_setup<S, T>(
        &mut self,
        name: &str,
        floor_of: &'static str,
        bytes: (usize, usize),
        setup: impl FnMut() -> S,
        op: impl FnMut(S) -> T,
    ) {
        if self.wants(name) {
            let s = measure_with_setup(self.io_budget, setup, op);
            self.record(name, floor_of, bytes.0, bytes.1, s);
        }
    }

    fn cpu(&mut self, name: &str, floor_of: &'static str, bytes: (usize, usize), op: impl FnMut()) {
        if self.wants(name) {
            let s = measure(self.cpu_budget, op);
            self.record(name, floor_of, bytes.0, bytes.1, s);
        }
    }
}

fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else {
        (ns / 1e6, "ms")
    };
    if v < 10.0 {
        format!("{v:.2} {unit}")
    } else if v < 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

fn fmt_bytes(bytes: usize, values: usize) -> String {
    let b = if bytes >= 10_000 { format!("{:.1} KB", bytes as f64 / 1000.0) } else { format!("{bytes} B") };
    if values > 1 {
        format!("{values} × {b}")
    } else {
        b
    }
}

// ---------------------------------------------------------------------------------------
// Values shaped like Baileys' (deterministic pseudo-random content)

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    fn b64(&mut self, n: usize) -> String {
        BASE64.encode(self.bytes(n))
    }
}

fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn int(n: i64) -> Value {
    Value::Number(n as f64)
}

fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

fn key_pair(rng: &mut Rng) -> Value {
    obj(vec![("private", Value::Bytes(rng.bytes(32))), ("public", Value::Bytes(rng.bytes(32)))])
}

/// Baileys' `Curve.generateKeyPair()` as a `pre-key` value: `{public, private}`, 32 bytes each.
fn prekey_pair(rng: &mut Rng) -> Value {
    obj(vec![("public", Value::Bytes(rng.bytes(32))), ("private", Value::Bytes(rng.bytes(32)))])
}

/// One chain of libsignal's `SessionEntry._serialize_chains`. A closed chain has no key.
fn chain(rng: &mut Rng, counter: i64, chain_type: i64, open: bool) -> Value {
    let mut chain_key = vec![("counter", int(counter))];
    if open {
        chain_key.push(("key", text(rng.b64(32))));
    }
    obj(vec![("chainKey", obj(chain_key)), ("chainType", int(chain_type)), ("messageKeys", obj(vec![]))])
}

/// libsignal's `SessionRecord.serialize()`: `{_sessions: {<base key>: entry}, version: 'v1'}`,
/// strings and numbers only. `closed_chains` receiving chains left behind by earlier turns of
/// the conversation (each turn of an alternating chat adds one: that is what makes a session
/// grow to ~100 KB after 2,000 messages). `fresh`: the initiator right after X3DH (a sending
/// chain and a pending pre-key, no receiving chain yet), as fanout's sessions are.
fn session_record(rng: &mut Rng, closed_chains: usize, fresh: bool) -> Value {
    let base_key = rng.b64(33);
    let ours = rng.b64(33);
    let theirs = rng.b64(33);
    let created = 1_763_000_000_000 + rng.below(1_000_000_000) as i64;
    let mut chains = Vec::new();
    if fresh {
        let counter = rng.below(20) as i64;
        chains.push((ours.clone(), chain(rng, counter, 1, true)));
    } else {
        for _ in 0..closed_chains {
            let counter = rng.below(3) as i64 - 1;
            chains.push((rng.b64(33), chain(rng, counter, 2, false)));
        }
        chains.push((theirs.clone(), chain(rng, 0, 2, true)));
        chains.push((ours.clone(), chain(rng, 0, 1, true)));
    }
    let mut entry = vec![
        ("registrationId", int(1 + rng.below(16380) as i64)),
        (
            "currentRatchet",
            obj(vec![
                ("ephemeralKeyPair", obj(vec![("pubKey", text(ours)), ("privKey", text(rng.b64(32)))])),
                ("lastRemoteEphemeralKey", text(theirs)),
                ("previousCounter", int(rng.below(2) as i64)),
                ("rootKey", text(rng.b64(32))),
            ]),
        ),
        (
            "indexInfo",
            obj(vec![
                ("baseKey", text(base_key.clone())),
                ("baseKeyType", int(if fresh { 1 } else { 2 })),
                ("closed", int(-1)),
                ("used", int(created + 60_000)),
                ("created", int(created)),
                ("remoteIdentityKey", text(rng.b64(33))),
            ]),
        ),
        ("_chains", Value::Object(chains)),
    ];
    if fresh {
        entry.push((
            "pendingPreKey",
            obj(vec![
                ("signedKeyId", int(1 + rng.below(1 << 24) as i64)),
                ("baseKey", text(base_key.clone())),
                ("preKeyId", int(1 + rng.below(1 << 24) as i64)),
            ]),
        ));
    }
    obj(vec![("_sessions", Value::Object(vec![(base_key, obj(entry))])), ("version", text("v1"))])
}

/// Closed chains that give the JS bench's record sizes as BufferJSON text (~1.9 KB after
/// 20 warm-up messages, ~103 KB after 2,000 messages; `recordBytes`/`finalRecordBytes`).
const CHAINS_1_9K: usize = 9;
const CHAINS_100K: usize = 996;

/// An `app-state-sync-version` (LTHashState): `{version, hash: bytes(128), indexValueMap}`
/// with `entries` 44-character base64 indexes, each `{valueMac: bytes(32)}`.
/// `changed`: how many of the first entries get a different MAC (as a patch changes one).
fn appstate(seed: u64, version: i64, changed: usize) -> Value {
    let mut rng = Rng::new(seed);
    let hash = rng.bytes(128);
    let mut fresh = Rng::new(seed ^ 0xA5A5 ^ version as u64);
    let map = (0..APPSTATE_ENTRIES)
        .map(|i| {
            let index = rng.b64(32);
            let mut mac = rng.bytes(32);
            if i < changed {
                mac = fresh.bytes(32);
            }
            (index, obj(vec![("valueMac", Value::Bytes(mac))]))
        })
        .collect();
    obj(vec![("version", int(version)), ("hash", Value::Bytes(hash)), ("indexValueMap", Value::Object(map))])
}

/// Baileys' `initAuthCreds()` (its undefined fields dropped, as JSON drops them) plus `me`.
fn creds(rng: &mut Rng) -> Value {
    obj(vec![
        ("noiseKey", key_pair(rng)),
        ("pairingEphemeralKeyPair", key_pair(rng)),
        ("signedIdentityKey", key_pair(rng)),
        ("signedPreKey", obj(vec![("keyPair", key_pair(rng)), ("signature", Value::Bytes(rng.bytes(64))), ("keyId", int(1))])),
        ("registrationId", int(1 + rng.below(16380) as i64)),
        ("advSecretKey", text(rng.b64(32))),
        ("processedHistoryMessages", Value::Array(vec![])),
        ("nextPreKeyId", int(813)),
        ("firstUnuploadedPreKeyId", int(813)),
        ("accountSyncCounter", int(0)),
        ("accountSettings", obj(vec![("unarchiveChats", Value::Bool(false))])),
        ("registered", Value::Bool(false)),
        ("me", obj(vec![("id", text("15550000001:1@s.whatsapp.net")), ("name", text("Bench"))])),
    ])
}

/// Length of the value as Baileys' `JSON.stringify(value, BufferJSON.replacer)`, which is
/// what the JS bench records as a value's size.
fn buffer_json_len(value: &Value) -> usize {
    value.to_buffer_json().to_string().len()
}

// ---------------------------------------------------------------------------------------
// Databases

/// A directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("bra-floors-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A connection opened as `src/core/sqlite.rs` opens its file: the schema is made by
/// `SqliteStore::open` itself (so it is exactly the store's), then a plain connection with
/// the same flags and pragmas (WAL, synchronous=FULL, foreign_keys=ON) and one session row.
fn open_raw(path: &Path, synchronous: &str) -> (Connection, i64) {
    drop(SqliteStore::open(path).expect("create schema"));
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX).expect("open raw");
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", synchronous).unwrap();
    conn.pragma_update(None, "foreign_keys", "ON").unwrap();
    let id = conn.query_row("INSERT INTO sessions (name, updated_at) VALUES (?1, 0) RETURNING id", [SESSION], |r| r.get(0)).unwrap();
    (conn, id)
}

const UPSERT: &str = "INSERT INTO keys (session_id, type, id, value) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (session_id, type, id) DO UPDATE SET value = excluded.value";
const SELECT: &str = "SELECT value FROM keys WHERE session_id = ?1 AND type = ?2 AND id = ?3";

/// One IMMEDIATE transaction upserting `rows` of one type (what `SqliteStore::apply` does,
/// minus the session lookup).
fn raw_put<'a>(conn: &mut Connection, sid: i64, kind: &str, rows: impl IntoIterator<Item = (&'a str, &'a [u8])>) {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
    {
        let mut stmt = tx.prepare_cached(UPSERT).unwrap();
        for (id, value) in rows {
            stmt.execute(params![sid, kind, id, value]).unwrap();
        }
    }
    tx.commit().unwrap();
}

fn raw_get(conn: &Connection, sid: i64, kind: &str, id: &str) -> Vec<u8> {
    let mut stmt = conn.prepare_cached(SELECT).unwrap();
    stmt.query_row(params![sid, kind, id], |r| r.get(0)).optional().unwrap().expect("row exists")
}

fn write(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
}

fn store_get(store: &mut dyn Store, kind: &str, ids: &[String]) -> Vec<Option<Vec<u8>>> {
    let values = store.get_keys(SESSION, kind, ids).unwrap();
    assert!(values[0].is_some());
    values
}

// ---------------------------------------------------------------------------------------
// The fixed inputs

struct Inputs {
    prekeys: Vec<Vec<u8>>,
    session: [Vec<u8>; 2],
    session_100k: [Vec<u8>; 2],
    fanout: [Vec<Vec<u8>>; 2],
    fanout_ids: Vec<String>,
    appstate: [Vec<u8>; 2],
    appstate_other: Vec<u8>,
}

fn inputs() -> Inputs {
    let mut rng = Rng::new(1);
    let prekeys = (0..PREKEYS).map(|_| codec::encode(&prekey_pair(&mut rng))).collect();
    let mut two = |chains: usize| [0, 1].map(|_| codec::encode(&session_record(&mut rng, chains, false)));
    let session = two(CHAINS_1_9K);
    let session_100k = two(CHAINS_100K);
    let fanout = [0, 1].map(|_| (0..FANOUT).map(|_| codec::encode(&session_record(&mut rng, 0, true))).collect());
    let fanout_ids = (0..FANOUT).map(|i| format!("1555{:07}.{}", 100_000 + (i >> 1), i & 1)).collect();
    // Consecutive versions, as a patch makes them: the version bumped and one MAC changed.
    let versions = [codec::encode(&appstate(7, 1, 0)), codec::encode(&appstate(7, 2, 1))];
    let appstate_other = codec::encode(&appstate(8, 3, 0));
    Inputs { prekeys, session, session_100k, fanout, fanout_ids, appstate: versions, appstate_other }
}

// ---------------------------------------------------------------------------------------
// Groups

/// The cases that write and read one value (two versions, written alternately: SQLite skips
/// writing a row whose bytes did not change, so rewriting the same bytes would fsync nothing).
struct Single<'a> {
    name: &'static str,
    kind: &'static str,
    id: &'static str,
    blobs: &'a [Vec<u8>; 2],
    put_floor: &'static str,
    get_floor: &'static str,
}

impl Single<'_> {
    fn bytes(&self) -> (usize, usize) {
        (self.blobs[0].len(), 1)
    }
}

fn single_cases(inp: &Inputs) -> [Single<'_>; 3] {
    [
        Single {
            name: "session_1_9k",
            kind: "session",
            id: PEER,
            blobs: &inp.session,
            put_floor: "`sessions-micro` set",
            get_floor: "`sessions-micro` get",
        },
        Single {
            name: "session_100k",
            kind: "session",
            id: PEER_LATE,
            blobs: &inp.session_100k,
            put_floor: "late `chat` set",
            get_floor: "late `chat` get",
        },
        Single {
            name: "appstate_5000",
            kind: "app-state-sync-version",
            id: APPSTATE_ID,
            blobs: &inp.appstate,
            put_floor: "`appstate` set",
            get_floor: "`appstate` get",
        },
    ]
}

/// Pre-key ids `first..first + 812`, as one upload names them.
fn prekey_ids(first: usize) -> Vec<String> {
    (first..first + PREKEYS).map(|i| i.to_string()).collect()
}

/// Random ids among the first `written` pre-keys, the same list for both groups.
fn prekey_gets(written: usize) -> Vec<[String; 1]> {
    let mut rng = Rng::new(2);
    (0..4096).map(|_| [(1 + rng.below(written as u64)).to_string()]).collect()
}

/// The raw rusqlite group. Only its own connection is open while it runs: the bundled SQLite
/// is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, so all connections of a process share one
/// page-cache pool, and a second connection whose cache is full can leave this one missing
/// the cache on every page (seen here: every read then goes to the OS, +3 µs per 1.9 KB get).
fn raw_group(b: &mut Bench, dir: &Path, inp: &Inputs) {
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
}

/// The same operations through the `Store` trait: on the bare backend (`SqliteStore::open`,
/// `store/`), and on the store the URL factory returns with its layers (`open_url`,
/// `store/checked_`), so that one run shows what the layers cost.
fn store_group(b: &mut Bench, dir: &Path, inp: &Inputs) {
    let mut bare = SqliteStore::open(&dir.join("store.db")).unwrap();
    store_cases(b, "store/", &mut bare, inp);
    let url = StoreUrl::parse(&format!("sqlite:{}", dir.join("store-checked.db").display())).unwrap();
    let mut layered = open_url(&url, OpenOptions::default()).unwrap();
    store_cases(b, "store/checked_", layered.as_mut(), inp);
}

fn store_cases(b: &mut Bench, prefix: &str, store: &mut dyn Store, inp: &Inputs) {
    let pk_bytes = (inp.prekeys[0].len(), PREKEYS);

    let writes = |first: usize| -> Vec<KeyWrite> {
        prekey_ids(first).iter().zip(&inp.prekeys).map(|(id, value)| write("pre-key", id, value)).collect()
    };
    store.apply(SESSION, &writes(1)).unwrap();
    let mut next = 1 + PREKEYS;
    {
        let (store, next) = (&mut *store, &mut next);
        // The batches are made outside the clock (the binding's `wire::read_batch` makes them).
        let setup = || {
            *next += PREKEYS;
            writes(*next - PREKEYS)
        };
        b.io_setup(&format!("{prefix}put_prekeys_812"), "`prekeys` set", pk_bytes, setup, |writes| {
            store.apply(SESSION, &writes).unwrap();
            writes
        });
    }
    let get_ids = prekey_gets(next - 1);
    let mut i = 0;
    b.io(&format!("{prefix}get_prekey"), "`prekeys` get", (pk_bytes.0, 1), || {
        black_box(store_get(store, "pre-key", &get_ids[i % get_ids.len()]));
        i += 1;
    });

    for c in single_cases(inp) {
        let batches = [0, 1].map(|k| vec![write(c.kind, c.id, &c.blobs[k])]);
        let ids = [c.id.to_owned()];
        store.apply(SESSION, &batches[1]).unwrap();
        let mut n = 0usize;
        b.io(&format!("{prefix}put_{}", c.name), c.put_floor, c.bytes(), || {
            store.apply(SESSION, &batches[n % 2]).unwrap();
            n += 1;
        });
        b.io(&format!("{prefix}get_{}", c.name), c.get_floor, c.bytes(), || {
            black_box(store_get(store, c.kind, &ids));
        });
    }

    let batches =
        [0, 1].map(|k| inp.fanout_ids.iter().zip(&inp.fanout[k]).map(|(id, blob)| write("session", id, blob)).collect::<Vec<_>>());
    let mut n = 0usize;
    b.io(&format!("{prefix}put_sessions_256"), "a `fanout` commit", (inp.fanout[0][0].len(), FANOUT), || {
        store.apply(SESSION, &batches[n % 2]).unwrap();
        n += 1;
    });
}

/// A store call through the executor, as the binding makes it: submit from this thread, the
/// worker runs it, `done` hands the result back (here over a channel instead of N-API's
/// thread-safe function).
fn executor_group(b: &mut Bench, dir: &Path, inp: &Inputs) {
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
    roundtrip(&memory, move |s| s.apply(SESSION, &batch).unwrap());
    b.io("executor/get_session_1_9k_memory", "thread hand-off of one call", bytes, || {
        let v = roundtrip(&memory, |s| s.get_keys(SESSION, "session", &[PEER.to_owned()]).unwrap());
        black_box(wire::write_results(&v));
    });

    let path = dir.join("exec.db");
    let sqlite = open_exec(move || Box::new(SqliteStore::open(&path).unwrap()));
    let batch = seed.clone();
    roundtrip(&sqlite, move |s| s.apply(SESSION, &batch).unwrap());
    b.io("executor/get_session_1_9k_sqlite", "`sessions-micro` get, Rust side", bytes, || {
        let v = roundtrip(&sqlite, |s| s.get_keys(SESSION, "session", &[PEER.to_owned()]).unwrap());
        black_box(wire::write_results(&v));
    });
    let batches = [0, 1].map(|k| wire::write_batch(&[write("session", PEER, &inp.session[k])]));
    let mut n = 0usize;
    b.io("executor/put_session_1_9k_sqlite", "`sessions-micro` set, Rust side", bytes, || {
        let writes = wire::read_batch(&batches[n % 2]).unwrap();
        roundtrip(&sqlite, move |s| s.apply(SESSION, &writes).unwrap());
        n += 1;
    });
    let (tx, rx) = mpsc::channel();
    sqlite.close(move || tx.send(()).unwrap());
    rx.recv().unwrap();
}

fn codec_group(b: &mut Bench) {
    let mut rng = Rng::new(3);
    let values: Vec<(&'static str, &'static str, Value)> = vec![
        ("prekey", "each pre-key", prekey_pair(&mut rng)),
        ("session_1_9k", "a `sessions-micro` record", session_record(&mut rng, CHAINS_1_9K, false)),
        ("session_fanout", "a `fanout` session", session_record(&mut rng, 0, true)),
        ("session_100k", "a late `chat` record", session_record(&mut rng, CHAINS_100K, false)),
        ("appstate_5000", "the `appstate` version", appstate(9, 1, 0)),
        ("creds", "creds (`saveCreds`, coldstart)", creds(&mut rng)),
    ];
    for (name, floor_of, value) in &values {
        let encoded = codec::encode(value);
        let bytes = (encoded.len(), 1);
        b.sizes.push((*name, encoded.len(), buffer_json_len(value)));
        b.cpu(&format!("codec/encode_{name}"), floor_of, bytes, || {
            black_box(codec::encode(black_box(value)));
        });
        b.cpu(&format!("codec/decode_{name}"), floor_of, bytes, || {
            black_box(codec::decode(black_box(&encoded)).unwrap());
        });
        b.cpu(&format!("codec/validate_{name}"), floor_of, bytes, || {
            codec::validate(black_box(&encoded)).unwrap();
        });
    }

    // What the binding does in Rust on each call besides the store: read (and validate) a
    // key batch, and write the results of a get.
    let prekeys: Vec<KeyWrite> =
        (0..PREKEYS).map(|i| write("pre-key", &(i + 1).to_string(), &codec::encode(&prekey_pair(&mut rng)))).collect();
    let session = codec::encode(&values[1].2);
    let appstate = codec::encode(&values[4].2);
    for (name, floor_of, writes) in [
        ("wire/read_batch_prekeys_812", "`prekeys` set, binding's Rust side", prekeys),
        ("wire/read_batch_session_1_9k", "`sessions-micro` set, binding's Rust side", vec![write("session", PEER, &session)]),
        (
            "wire/read_batch_appstate_5000",
            "`appstate` set, binding's Rust side",
            vec![write("app-state-sync-version", APPSTATE_ID, &appstate)],
        ),
    ] {
        let batch = wire::write_batch(&writes);
        let bytes = (writes[0].value.as_ref().unwrap().len(), writes.len());
        b.cpu(name, floor_of, bytes, || {
            black_box(wire::read_batch(black_box(&batch)).unwrap());
        });
    }
    let results = vec![Some(session.clone())];
    b.cpu("wire/write_results_session_1_9k", "`sessions-micro` get, binding's Rust side", (session.len(), 1), || {
        black_box(wire::write_results(black_box(&results)));
    });
}

// ---------------------------------------------------------------------------------------
// Report

fn machine() -> (String, usize, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split(':').nth(1)?.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into());
    (cpu, cores, load)
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock (no date crate).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

fn markdown(rows: &[Row], sizes: &[(&str, usize, usize)], header: &str) -> String {
    let mut out = format!("{header}\n");
    if !sizes.is_empty() {
        out += "\n### Values\n\n| value | codec bytes | as BufferJSON text (what the JS bench records) |\n";
        out += "| --- | --- | --- |\n";
        for (name, codec, json) in sizes {
            out += &format!("| `{name}` | {codec} | {json} |\n");
        }
    }
    let groups = [
        ("raw/", "Raw rusqlite (WAL, synchronous=FULL)"),
        ("store/", "Through the `Store` trait (`SqliteStore`)"),
        ("executor/", "Through the executor (submit → worker thread → result back)"),
        ("codec/", "The codec alone"),
        ("wire/", "The binding's Rust-side buffers (`core::wire`)"),
    ];
    for (prefix, title) in groups {
        let group: Vec<&Row> = rows.iter().filter(|r| r.name.starts_with(prefix)).collect();
        if group.is_empty() {
            continue;
        }
        out += &format!("\n### {title}\n\n");
        out += "| case | floor of | value | median | p99 | min | samples × iters |\n";
        out += "| --- | --- | --- | --- | --- | --- | --- |\n";
        for r in group {
            let s = &r.stats;
            out += &format!(
                "| `{}` | {} | {} | {} | {} | {} | {} × {} |\n",
                &r.name[prefix.len()..],
                r.floor_of,
                fmt_bytes(r.value_bytes, r.values),
                fmt_ns(s.median),
                fmt_ns(s.p99),
                fmt_ns(s.min),
                s.samples,
                s.iters
            );
        }
    }
    out
}

fn json(rows: &[Row], sizes: &[(&str, usize, usize)], meta: serde_json::Value) -> String {
    let sizes: Vec<_> = sizes
        .iter()
        .map(|(name, codec, json)| serde_json::json!({ "value": name, "codecBytes": codec, "bufferJsonBytes": json }))
        .collect();
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let s = &r.stats;
            serde_json::json!({
                "case": r.name, "floorOf": r.floor_of, "valueBytes": r.value_bytes, "valuesPerOp": r.values,
                "medianNs": s.median, "p99Ns": s.p99, "minNs": s.min, "maxNs": s.max, "meanNs": s.mean,
                "samples": s.samples, "itersPerSample": s.iters,
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "meta": meta, "values": sizes, "rows": rows })).unwrap()
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments are name filters, plus `--json <path>`.
    let mut filters = Vec::new();
    let mut json_path = std::env::var("FLOORS_JSON").ok().filter(|s| !s.is_empty());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json_path = args.next(),
            a if a.starts_with("--") => {}
            _ => filters.push(arg),
        }
    }
    let budget_ms: u64 = std::env::var("FLOORS_BUDGET_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(1500);
    let mut bench = Bench {
        filters,
        io_budget: Duration::from_millis(budget_ms),
        cpu_budget: Duration::from_millis(budget_ms / 2),
        rows: Vec::new(),
        sizes: Vec::new(),
    };

    let started = Instant::now();
    let (cpu, cores, load_start) = machine();
    let dir = TempDir::new();
    let inp = inputs();
    raw_group(&mut bench, &dir.0, &inp);
    store_group(&mut bench, &dir.0, &inp);
    executor_group(&mut bench, &dir.0, &inp);
    codec_group(&mut bench);
    drop(dir);
    let (_, _, load_end) = machine();

    let header = format!(
        "{} · {cores} × {cpu} · SQLite {} · temp dir {} · {:.0} s · \
         load average {load_start} at start, {load_end} at end",
        utc_now(),
        rusqlite::version(),
        std::env::temp_dir().display(),
        started.elapsed().as_secs_f64()
    );
    println!("{}", markdown(&bench.rows, &bench.sizes, &header));
    if let Some(path) = json_path {
        let meta = serde_json::json!({
            "date": utc_now(), "cpu": cpu, "cores": cores, "sqlite": rusqlite::version(),
            "loadStart": load_start, "loadEnd": load_end, "budgetMs": budget_ms,
            "seconds": started.elapsed().as_secs_f64(),
        });
        std::fs::write(&path, json(&bench.rows, &bench.sizes, meta)).expect("write FLOORS_JSON");
        eprintln!("wrote {path}");
    }
}
