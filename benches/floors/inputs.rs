//! The fixed inputs: values shaped like Baileys' (deterministic pseudo-random content), the
//! batches and ids every group uses.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use baileys_rust_auth::core::codec::{self, Value};
use baileys_rust_auth::core::store::{KeyWrite, Store};

pub(crate) const SESSION: &str = "bench";
pub(crate) const PEER: &str = "15550000002.0";
/// The peer of the long chat (its own row, so the two session sizes never share one).
pub(crate) const PEER_LATE: &str = "15550000003.0";
pub(crate) const PREKEYS: usize = 812;
pub(crate) const FANOUT: usize = 256;
pub(crate) const APPSTATE_ENTRIES: usize = 5000;
pub(crate) const APPSTATE_ID: &str = "regular_high";

pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }

    pub(crate) fn b64(&mut self, n: usize) -> String {
        BASE64.encode(self.bytes(n))
    }
}

pub(crate) fn obj(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub(crate) fn int(n: i64) -> Value {
    Value::Number(n as f64)
}

pub(crate) fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

pub(crate) fn key_pair(rng: &mut Rng) -> Value {
    obj(vec![("private", Value::Bytes(rng.bytes(32))), ("public", Value::Bytes(rng.bytes(32)))])
}

/// Baileys' `Curve.generateKeyPair()` as a `pre-key` value: `{public, private}`, 32 bytes each.
pub(crate) fn prekey_pair(rng: &mut Rng) -> Value {
    obj(vec![("public", Value::Bytes(rng.bytes(32))), ("private", Value::Bytes(rng.bytes(32)))])
}

/// One chain of libsignal's `SessionEntry._serialize_chains`. A closed chain has no key.
pub(crate) fn chain(rng: &mut Rng, counter: i64, chain_type: i64, open: bool) -> Value {
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
pub(crate) fn session_record(rng: &mut Rng, closed_chains: usize, fresh: bool) -> Value {
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
pub(crate) const CHAINS_1_9K: usize = 9;
pub(crate) const CHAINS_100K: usize = 996;

/// An `app-state-sync-version` (LTHashState): `{version, hash: bytes(128), indexValueMap}`
/// with `entries` 44-character base64 indexes, each `{valueMac: bytes(32)}`.
/// `changed`: how many of the first entries get a different MAC (as a patch changes one).
pub(crate) fn appstate(seed: u64, version: i64, changed: usize) -> Value {
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
pub(crate) fn creds(rng: &mut Rng) -> Value {
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
pub(crate) fn buffer_json_len(value: &Value) -> usize {
    value.to_buffer_json().to_string().len()
}

pub(crate) fn write(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
}

pub(crate) fn store_get(store: &mut dyn Store, kind: &str, ids: &[String]) -> Vec<Option<Vec<u8>>> {
    let values = store.get_keys(SESSION, kind, ids).unwrap();
    assert!(values[0].is_some());
    values
}

pub(crate) struct Inputs {
    pub(crate) prekeys: Vec<Vec<u8>>,
    pub(crate) session: [Vec<u8>; 2],
    pub(crate) session_100k: [Vec<u8>; 2],
    pub(crate) fanout: [Vec<Vec<u8>>; 2],
    pub(crate) fanout_ids: Vec<String>,
    pub(crate) appstate: [Vec<u8>; 2],
    pub(crate) appstate_other: Vec<u8>,
}

pub(crate) fn inputs() -> Inputs {
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

/// The cases that write and read one value (two versions, written alternately: SQLite skips
/// writing a row whose bytes did not change, so rewriting the same bytes would fsync nothing).
pub(crate) struct Single<'a> {
    pub(crate) name: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) id: &'static str,
    pub(crate) blobs: &'a [Vec<u8>; 2],
    pub(crate) put_floor: &'static str,
    pub(crate) get_floor: &'static str,
}

impl Single<'_> {
    pub(crate) fn bytes(&self) -> (usize, usize) {
        (self.blobs[0].len(), 1)
    }
}

pub(crate) fn single_cases(inp: &Inputs) -> [Single<'_>; 3] {
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
pub(crate) fn prekey_ids(first: usize) -> Vec<String> {
    (first..first + PREKEYS).map(|i| i.to_string()).collect()
}

/// Random ids among the first `written` pre-keys, the same list for both groups.
pub(crate) fn prekey_gets(written: usize) -> Vec<[String; 1]> {
    let mut rng = Rng::new(2);
    (0..4096).map(|_| [(1 + rng.below(written as u64)).to_string()]).collect()
}
