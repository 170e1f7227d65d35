//! One conformance suite for every store: each bare backend and each store the URL factory
//! (`core::open::open_url`) returns, with its layers, must behave like the reference
//! `MemoryStore`, both on fixed cases and on a long random sequence of operations. Values are
//! codec blobs (the layered stores refuse anything else): [`v`] wraps test bytes in one.

use baileys_rust_auth::core::codec::{encode, Value};
use baileys_rust_auth::core::memory::MemoryStore;
use baileys_rust_auth::core::open::{open_url, OpenOptions};
use baileys_rust_auth::core::redis::{RedisOptions, RedisStore, RedisTarget};
use baileys_rust_auth::core::sqlite::SqliteStore;
use baileys_rust_auth::core::store::{KeyInfo, KeyWrite, KindStats, SessionStats, Store};
use baileys_rust_auth::core::url::StoreUrl;

#[path = "common/redis_server.rs"]
mod redis_server;
use redis_server::RedisServer;
#[path = "common/mysql_server.rs"]
mod mysql_server;
use mysql_server::MysqlNamespace;

#[path = "common/postgres_server.rs"]
mod postgres_server;
#[path = "common/sql_servers.rs"]
mod sql_servers;

type NamedStores = Vec<(&'static str, Box<dyn Store>)>;

/// A new, empty directory for the calling test.
fn test_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bra-conformance-{}-{:?}", std::process::id(), std::thread::current().id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every backend, bare and as the URL factory opens it (with its layers), each empty; the
/// returned server (if any) must outlive the stores.
fn backends() -> (NamedStores, (Option<RedisServer>, Vec<MysqlNamespace>)) {
    let dir = test_dir();
    let from_url = |url: &str| open_url(&StoreUrl::parse(url).unwrap(), OpenOptions::default()).unwrap();
    let encrypted = |url: &str| open_url(&StoreUrl::parse(url).unwrap(), sql_servers::encrypted()).unwrap();
    let mut stores: NamedStores = vec![
        ("memory", Box::new(MemoryStore::new())),
        ("sqlite-memory", Box::new(SqliteStore::open_in_memory().unwrap())),
        ("sqlite-file", Box::new(SqliteStore::open(&dir.join("auth.db")).unwrap())),
        ("url memory:", from_url("memory:")),
        ("url sqlite::memory:", from_url("sqlite::memory:")),
        ("url sqlite-file", from_url(&format!("sqlite:{}", dir.join("url.db").display()))),
        ("url memory: encrypted", encrypted("memory:")),
        ("url sqlite-file encrypted", encrypted(&format!("sqlite:{}", dir.join("sealed.db").display()))),
    ];
    let redis = RedisServer::start(&dir);
    if let Some(server) = &redis {
        let target = RedisTarget::Server(server.url.clone());
        stores.push(("redis", Box::new(RedisStore::open(&target, RedisOptions::default()).unwrap())));
        let options =
            OpenOptions { redis: Some(RedisOptions { key_prefix: "url".into(), ..RedisOptions::default() }), ..OpenOptions::default() };
        stores.push(("url redis+unix", open_url(&StoreUrl::parse(&server.url).unwrap(), options).unwrap()));
        let sealed = OpenOptions {
            redis: Some(RedisOptions { key_prefix: "sealed".into(), ..RedisOptions::default() }),
            ..sql_servers::encrypted()
        };
        stores.push(("url redis+unix encrypted", open_url(&StoreUrl::parse(&server.url).unwrap(), sealed).unwrap()));
    }
    let namespaces = sql_servers::add_sql_stores(&mut stores);
    (stores, (redis, namespaces))
}

/// `raw` as a codec blob (a Buffer value), as `lib/codec.js` writes a key's value.
fn v(raw: &[u8]) -> Vec<u8> {
    encode(&Value::Bytes(raw.to_vec()))
}

/// `raw` as a creds blob, which must be an object: `{ c: <raw as a Buffer> }`.
fn creds(raw: &[u8]) -> Vec<u8> {
    encode(&Value::Object(vec![("c".into(), Value::Bytes(raw.to_vec()))]))
}

/// The stored length of a value of `raw_len` test bytes ([`v`]).
fn blob_len(raw_len: usize) -> u64 {
    v(&vec![0; raw_len]).len() as u64
}

fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: Some(v(value)) }
}

fn del(kind: &str, id: &str) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: None }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn missing_keys_and_creds_read_as_none() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        assert_eq!(store.get_creds("s").unwrap(), None, "{name}");
        assert_eq!(store.get_keys("s", "pre-key", &ids(&["1", "2"])).unwrap(), vec![None, None], "{name}");
        assert!(store.sessions().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn a_batch_writes_and_deletes_across_types() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        store.apply("s", &[put("pre-key", "1", b"a"), put("session", "x:1", b"b")], None).unwrap();
        store.apply("s", &[del("pre-key", "1"), put("session", "x:1", b"c"), put("new-type", "z", b"d")], None).unwrap();
        assert_eq!(store.get_keys("s", "pre-key", &ids(&["1"])).unwrap(), vec![None], "{name}");
        assert_eq!(store.get_keys("s", "session", &ids(&["x:1"])).unwrap(), vec![Some(v(b"c"))], "{name}");
        assert_eq!(store.get_keys("s", "new-type", &ids(&["z"])).unwrap(), vec![Some(v(b"d"))], "{name}");
    }
}

#[test]
fn sessions_are_isolated_and_deleted_whole() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        store.set_creds("a", &creds(b"creds-a"), None).unwrap();
        store.apply("a", &[put("t", "k", b"a")], None).unwrap();
        store.apply("b", &[put("t", "k", b"b")], None).unwrap();
        store.apply("c", &[del("t", "k")], None).unwrap();
        assert_eq!(store.sessions().unwrap(), ids(&["a", "b"]), "{name}: deletes alone create no session");
        store.clear_keys("b", None).unwrap();
        assert_eq!(store.sessions().unwrap(), ids(&["a"]), "{name}: a session without creds or keys is not listed");
        store.apply("b", &[put("t", "k", b"b")], None).unwrap();
        assert_eq!(store.get_keys("a", "t", &ids(&["k"])).unwrap(), vec![Some(v(b"a"))], "{name}");
        store.delete_session("a", None).unwrap();
        assert_eq!(store.get_creds("a").unwrap(), None, "{name}");
        assert_eq!(store.get_keys("a", "t", &ids(&["k"])).unwrap(), vec![None], "{name}");
        assert_eq!(store.sessions().unwrap(), ids(&["b"]), "{name}");
        assert!(store.check().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn random_operations_match_the_reference() {
    const KINDS: [&str; 4] = ["pre-key", "session", "sender-key", "x-future"];
    const IDS: [&str; 6] = ["1", "2", "a:b", "g@g.us::u::0", "k/l+m=", "9_reverse"];
    const SESSIONS: [&str; 3] = ["s1", "s2", "s3"];
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let mut reference = MemoryStore::new();
        for step in 0..3000u32 {
            let session = SESSIONS[next(SESSIONS.len())];
            match next(10) {
                0..=4 => {
                    let writes: Vec<KeyWrite> = (0..1 + next(5))
                        .map(|_| {
                            let (kind, id) = (KINDS[next(KINDS.len())], IDS[next(IDS.len())]);
                            if next(4) == 0 {
                                del(kind, id)
                            } else {
                                put(kind, id, &step.to_le_bytes())
                            }
                        })
                        .collect();
                    store.apply(session, &writes, None).unwrap();
                    reference.apply(session, &writes, None).unwrap();
                }
                5 => {
                    store.set_creds(session, &creds(&step.to_le_bytes()), None).unwrap();
                    reference.set_creds(session, &creds(&step.to_le_bytes()), None).unwrap();
                }
                6 if next(20) == 0 => {
                    store.delete_session(session, None).unwrap();
                    reference.delete_session(session, None).unwrap();
                }
                7 if next(20) == 0 => {
                    store.clear_keys(session, None).unwrap();
                    reference.clear_keys(session, None).unwrap();
                }
                8 => assert_same_inventory(store.as_mut(), &mut reference, session, &format!("{name} step {step}")),
                _ => {
                    let kind = KINDS[next(KINDS.len())];
                    let all = ids(&IDS);
                    assert_eq!(
                        store.get_keys(session, kind, &all).unwrap(),
                        reference.get_keys(session, kind, &all).unwrap(),
                        "{name} step {step}"
                    );
                    assert_eq!(store.get_creds(session).unwrap(), reference.get_creds(session).unwrap(), "{name} step {step}");
                }
            }
        }
        assert_eq!(store.sessions().unwrap(), reference.sessions().unwrap(), "{name}");
        for session in SESSIONS {
            assert_same_inventory(store.as_mut(), &mut reference, session, name);
            for kind in KINDS {
                let all = ids(&IDS);
                assert_eq!(store.get_keys(session, kind, &all).unwrap(), reference.get_keys(session, kind, &all).unwrap(), "{name}");
            }
        }
        assert!(store.check().unwrap().is_empty(), "{name}");
    }
}

/// `stats` without the time, which differs between stores; whether there is one is kept.
fn stats_shape(stats: SessionStats) -> (Option<u64>, Vec<KindStats>, bool) {
    (stats.creds_bytes, stats.kinds, stats.updated_at_ms.is_some())
}

/// The store lists the same keys and stats as the reference for `session`, and its stats
/// agree with its own key list.
fn assert_same_inventory(store: &mut dyn Store, reference: &mut MemoryStore, session: &str, context: &str) {
    let keys = store.list_keys(session).unwrap();
    assert_eq!(keys, reference.list_keys(session).unwrap(), "{context}: list_keys({session})");
    let stats = store.stats(session).unwrap();
    let mut from_keys: Vec<KindStats> = Vec::new();
    for key in &keys {
        match from_keys.last_mut() {
            Some(last) if last.kind == key.kind => {
                last.count += 1;
                last.bytes += key.bytes;
            }
            _ => from_keys.push(KindStats { kind: key.kind.clone(), count: 1, bytes: key.bytes }),
        }
    }
    assert_eq!(stats.kinds, from_keys, "{context}: stats({session}) against list_keys");
    assert_eq!(stats_shape(stats), stats_shape(reference.stats(session).unwrap()), "{context}: stats({session})");
}

/// A listed key whose value was `raw_len` test bytes ([`v`]).
fn key(kind: &str, id: &str, raw_len: usize) -> KeyInfo {
    KeyInfo { kind: kind.into(), id: id.into(), bytes: blob_len(raw_len) }
}

#[test]
fn store_records_are_swapped_only_from_what_they_hold_and_never_seen_as_sessions() {
    let (stores, _servers) = backends();
    for (name, mut store) in stores {
        if name.contains("encrypted") {
            // The encryption layer keeps the records of the store it wraps to itself.
            assert_eq!(store.meta("cipher").unwrap_err().code(), "ERR_UNSUPPORTED", "{name}");
            continue;
        }
        assert_eq!(store.meta("cipher").unwrap(), None, "{name}: no record in a new store");
        assert!(!store.swap_meta("cipher", Some(b"x"), Some(b"y")).unwrap(), "{name}: a record that is absent is not replaced");
        assert_eq!(store.meta("cipher").unwrap(), None, "{name}");
        assert!(store.swap_meta("cipher", None, Some(b"first\0\xff")).unwrap(), "{name}: created from absent");
        assert!(!store.swap_meta("cipher", None, Some(b"second")).unwrap(), "{name}: a second creator loses");
        assert_eq!(store.meta("cipher").unwrap(), Some(b"first\0\xff".to_vec()), "{name}: the winner's bytes");
        assert!(!store.swap_meta("cipher", Some(b"first"), Some(b"second")).unwrap(), "{name}: a prefix is not the value");
        assert!(store.swap_meta("cipher", Some(b"first\0\xff"), Some(b"second")).unwrap(), "{name}");
        assert!(store.swap_meta("cipher", Some(b"second"), Some(b"second")).unwrap(), "{name}: a value swapped for itself");
        assert!(store.swap_meta("other", None, Some(b"")).unwrap(), "{name}: an empty value is a value");
        assert_eq!(store.meta("other").unwrap(), Some(Vec::new()), "{name}");
        assert_eq!(store.sessions().unwrap(), Vec::<String>::new(), "{name}: records are not sessions");
        store.set_creds("cipher", &creds(b"c"), None).unwrap();
        store.delete_session("cipher", None).unwrap();
        assert_eq!(store.meta("cipher").unwrap(), Some(b"second".to_vec()), "{name}: a session of the same name is another thing");
        assert!(store.swap_meta("cipher", Some(b"second"), None).unwrap(), "{name}: removed");
        assert_eq!(store.meta("cipher").unwrap(), None, "{name}");
        assert!(store.swap_meta("cipher", None, Some(b"again")).unwrap(), "{name}: created again after a removal");
    }
}

#[test]
fn unknown_sessions_have_no_keys_and_empty_stats() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        assert_eq!(store.list_keys("nobody").unwrap(), vec![], "{name}");
        assert_eq!(store.stats("nobody").unwrap(), SessionStats::default(), "{name}");
        store.apply("nobody", &[del("t", "k")], None).unwrap();
        assert_eq!(store.stats("nobody").unwrap(), SessionStats::default(), "{name}: deletes alone create no session");
    }
}

#[test]
fn list_keys_and_stats_follow_writes_in_byte_order() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let mut reference = MemoryStore::new();
        let mut both = |f: &dyn Fn(&mut dyn Store)| {
            f(store.as_mut());
            f(&mut reference);
            assert_same_inventory(store.as_mut(), &mut reference, "s", name);
            assert_same_inventory(store.as_mut(), &mut reference, "other", name);
        };
        both(&|s| s.apply("s", &[put("session", "é", b"1234"), put("session", "Z", b"1"), put("session", "a", b"12")], None).unwrap());
        both(&|s| s.apply("s", &[put("pre-key", "10", b"123"), put("pre-key", "9", b"12345"), put("Pre-key", "1", b"x")], None).unwrap());
        both(&|s| s.apply("other", &[put("session", "a", b"123456789")], None).unwrap());
        both(&|s| s.set_creds("s", &creds(b"creds!"), None).unwrap());
        both(&|s| s.apply("s", &[del("session", "Z"), put("pre-key", "10", b""), del("Pre-key", "1")], None).unwrap());
        both(&|s| s.clear_keys("other", None).unwrap());
        both(&|s| s.apply("other", &[put("x", "y", b"z")], None).unwrap());
        both(&|s| s.clear_keys("s", None).unwrap());
        both(&|s| s.apply("s", &[put("session", "b", b"bb")], None).unwrap());
        both(&|s| s.delete_session("s", None).unwrap());

        // Checked once more by hand, so that a reference bug cannot hide.
        store
            .apply(
                "s",
                &[
                    put("session", "é", b"1234"),
                    put("session", "Z", b"1"),
                    put("session", "a", b"12"),
                    put("pre-key", "10", b"123"),
                    put("pre-key", "9", b"12345"),
                ],
                None,
            )
            .unwrap();
        assert_eq!(
            store.list_keys("s").unwrap(),
            vec![key("pre-key", "10", 3), key("pre-key", "9", 5), key("session", "Z", 1), key("session", "a", 2), key("session", "é", 4)],
            "{name}"
        );
        let stats = store.stats("s").unwrap();
        assert_eq!(
            stats.kinds,
            vec![
                KindStats { kind: "pre-key".into(), count: 2, bytes: blob_len(3) + blob_len(5) },
                KindStats { kind: "session".into(), count: 3, bytes: blob_len(1) + blob_len(2) + blob_len(4) }
            ],
            "{name}"
        );
        assert_eq!(stats.creds_bytes, None, "{name}");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn updated_at_moves_forward_with_every_kind_of_write() {
    // SQLite records key writes to the second, hence the pauses.
    let pause = || std::thread::sleep(std::time::Duration::from_millis(1100));
    let (mut stores, _redis) = backends();
    let mut step = |what: &str, write: &dyn Fn(&mut dyn Store), last: &mut Vec<i64>| {
        let before = now_ms();
        for (_, store) in stores.iter_mut() {
            write(store.as_mut());
        }
        let after = now_ms();
        let mut times = Vec::new();
        for (i, (name, store)) in stores.iter_mut().enumerate() {
            let at = store.stats("s").unwrap().updated_at_ms.unwrap_or_else(|| panic!("{name}: no time after {what}"));
            assert!((before..=after).contains(&at), "{name}: {what} recorded {at}, not within {before}..={after}");
            if let Some(previous) = last.get(i) {
                assert!(at > *previous, "{name}: {what} did not move the time forward");
            }
            times.push(at);
        }
        *last = times;
    };
    let mut last = Vec::new();
    step("set_creds", &|s| s.set_creds("s", &creds(b"c"), None).unwrap(), &mut last);
    pause();
    step("a set", &|s| s.apply("s", &[put("t", "1", b"v"), put("t", "2", b"v")], None).unwrap(), &mut last);
    pause();
    step("a delete", &|s| s.apply("s", &[del("t", "1")], None).unwrap(), &mut last);
    pause();
    step("clear_keys", &|s| s.clear_keys("s", None).unwrap(), &mut last);
    // Creds writes are recorded exactly, even within the second (a few ms on, so the
    // millisecond differs).
    std::thread::sleep(std::time::Duration::from_millis(5));
    step("set_creds soon after", &|s| s.set_creds("s", &creds(b"c2"), None).unwrap(), &mut last);
    for (name, store) in stores.iter_mut() {
        store.delete_session("s", None).unwrap();
        assert_eq!(store.stats("s").unwrap(), SessionStats::default(), "{name}: after delete_session");
        store.apply("k", &[put("t", "1", b"v")], None).unwrap();
        assert!(store.stats("k").unwrap().updated_at_ms.is_some(), "{name}: a keys-only session");
        store.clear_keys("k", None).unwrap();
        assert_eq!(store.stats("k").unwrap(), SessionStats::default(), "{name}: a session left with nothing");
    }
}

#[test]
fn large_key_types_are_listed_whole() {
    const N: usize = 100_000;
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        // Listing an encrypted store opens every value: once is enough here (in a test build
        // the cipher's generic code runs unoptimised, ~200 µs a key).
        if name.contains("encrypted") && name != "url memory: encrypted" {
            continue;
        }
        for chunk in (0..N).collect::<Vec<_>>().chunks(10_000) {
            let writes: Vec<KeyWrite> = chunk.iter().map(|i| put("session", &format!("{i}@s.whatsapp.net"), &vec![7; i % 50])).collect();
            store.apply("big", &writes, None).unwrap();
        }
        store.apply("big", &[put("pre-key", "1", b"abc")], None).unwrap();
        let keys = store.list_keys("big").unwrap();
        assert_eq!(keys.len(), N + 1, "{name}");
        assert_eq!(keys[0], key("pre-key", "1", 3), "{name}");
        assert!(keys.windows(2).all(|w| (&w[0].kind, &w[0].id) < (&w[1].kind, &w[1].id)), "{name}: sorted, no duplicates");
        let expected_bytes: u64 = (0..N).map(|i| blob_len(i % 50)).sum();
        assert_eq!(
            store.stats("big").unwrap().kinds,
            vec![
                KindStats { kind: "pre-key".into(), count: 1, bytes: blob_len(3) },
                KindStats { kind: "session".into(), count: N as u64, bytes: expected_bytes }
            ],
            "{name}"
        );
    }
}

#[test]
fn backup_copies_sqlite_stores_and_is_unsupported_elsewhere() {
    let (stores, _redis) = backends();
    let dir = std::env::temp_dir().join(format!("bra-backups-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, mut store) in stores {
        store.set_creds("a", &creds(b"creds"), None).unwrap();
        store.apply("a", &[put("session", "1", b"one"), put("pre-key", "2", b"two")], None).unwrap();
        store.apply("b", &[put("session", "3", b"three")], None).unwrap();
        let dest = dir.join(format!("{name}.db"));
        let result = store.backup(&dest);
        if !name.contains("sqlite") {
            assert_eq!(result.unwrap_err().code(), "ERR_UNSUPPORTED", "{name}");
            assert!(!dest.exists(), "{name}");
            continue;
        }
        result.unwrap();
        // An encrypted store's copy is as sealed as the store: it opens with the key only.
        let mut copy: Box<dyn Store> = if name.contains("encrypted") {
            let url = StoreUrl::parse(&format!("sqlite:{}", dest.display())).unwrap();
            assert_eq!(open_url(&url, OpenOptions::default()).err().map(|e| e.code()), Some("ERR_STORE_KEY"), "{name}");
            open_url(&url, sql_servers::encrypted()).unwrap()
        } else {
            Box::new(SqliteStore::open(&dest).unwrap())
        };
        assert_eq!(copy.sessions().unwrap(), store.sessions().unwrap(), "{name}");
        for session in ["a", "b"] {
            assert_eq!(copy.get_creds(session).unwrap(), store.get_creds(session).unwrap(), "{name}");
            assert_eq!(copy.list_keys(session).unwrap(), store.list_keys(session).unwrap(), "{name}");
            assert_eq!(copy.stats(session).unwrap(), store.stats(session).unwrap(), "{name}");
        }
        assert!(copy.check().unwrap().is_empty(), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn redis_keeps_no_time_without_data_and_expires_it_with_the_session() {
    let dir = test_dir();
    let Some(server) = RedisServer::start(&dir) else { return };
    let target = RedisTarget::Server(server.url.clone());
    let options = RedisOptions { key_prefix: "t".into(), ttl: Some(std::time::Duration::from_secs(600)), ..RedisOptions::default() };
    let mut store = RedisStore::open(&target, options).unwrap();
    let mut raw = redis::Client::open(server.url.as_str()).unwrap().get_connection().unwrap();
    let all_keys = |raw: &mut redis::Connection| -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS").arg("t:*").query(raw).unwrap();
        keys.sort();
        keys
    };

    store.apply("s", &[put("session", "1", b"v")], None).unwrap();
    assert_eq!(all_keys(&mut raw), ["t:{s}:keys:session", "t:{s}:types", "t:{s}:updated"]);
    store.apply("s", &[del("session", "1")], None).unwrap();
    assert_eq!(all_keys(&mut raw), Vec::<String>::new(), "deleting the last key leaves nothing");
    store.apply("s", &[put("session", "1", b"v")], None).unwrap();
    store.clear_keys("s", None).unwrap();
    assert_eq!(all_keys(&mut raw), Vec::<String>::new(), "clearing a keys-only session leaves nothing");
    store.set_creds("s", &creds(b"c"), None).unwrap();
    store.clear_keys("s", None).unwrap();
    assert_eq!(all_keys(&mut raw), ["t:{s}:creds", "t:{s}:updated"]);
    assert_eq!(store.sessions().unwrap(), ["s"]);

    let ttl: i64 = redis::cmd("PTTL").arg("t:{s}:updated").query(&mut raw).unwrap();
    assert!(ttl > 0, "the time expires with the session, not after it: {ttl}");
    store.delete_session("s", None).unwrap();
    assert_eq!(all_keys(&mut raw), Vec::<String>::new());

    // Without a TTL, creds are written with one MSET, which records the time too.
    let mut plain = RedisStore::open(&target, RedisOptions { key_prefix: "t".into(), ..RedisOptions::default() }).unwrap();
    let before = now_ms();
    plain.set_creds("p", &creds(b"c"), None).unwrap();
    let at = plain.stats("p").unwrap().updated_at_ms.unwrap();
    assert!((before..=now_ms()).contains(&at));
    assert_eq!(all_keys(&mut raw), ["t:{p}:creds", "t:{p}:updated"]);
    // A session's time alone does not make it a session.
    redis::cmd("SET").arg("t:{ghost}:updated").arg(1).exec(&mut raw).unwrap();
    assert_eq!(plain.sessions().unwrap(), ["p"]);
}

#[test]
fn redis_keeps_records_apart_from_sessions_under_the_prefix_and_never_expires_them() {
    let dir = test_dir();
    let Some(server) = RedisServer::start(&dir) else { return };
    let target = RedisTarget::Server(server.url.clone());
    let ttl = Some(std::time::Duration::from_secs(600));
    let mut store = RedisStore::open(&target, RedisOptions { key_prefix: "r".into(), ttl, ..RedisOptions::default() }).unwrap();
    let mut raw = redis::Client::open(server.url.as_str()).unwrap().get_connection().unwrap();

    assert!(store.swap_meta("cipher", None, Some(b"salt")).unwrap());
    assert!(store.swap_meta("{odd}name", None, Some(b"v")).unwrap());
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("r:*").query(&mut raw).unwrap();
    keys.sort();
    assert_eq!(keys, ["r:records:%7Bodd%7Dname", "r:records:cipher"], "no brace: outside every session's key space");
    let ttl: i64 = redis::cmd("PTTL").arg("r:records:cipher").query(&mut raw).unwrap();
    assert_eq!(ttl, -1, "a record has no TTL, whatever the store's");
    store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap();
    assert_eq!(store.sessions().unwrap(), Vec::<String>::new());
    assert_eq!(store.leases().unwrap().into_iter().map(|(s, _)| s).collect::<Vec<_>>(), ["s"]);
    // A store whose prefix extends this one's sees none of its records as sessions either.
    let mut nested = RedisStore::open(&target, RedisOptions { key_prefix: "r:records".into(), ..RedisOptions::default() }).unwrap();
    assert_eq!(nested.sessions().unwrap(), Vec::<String>::new());
    assert_eq!(nested.meta("cipher").unwrap(), None);
    // A record holding another type is an error, and is left as it is.
    redis::cmd("HSET").arg("r:records:bad").arg("f").arg("v").exec(&mut raw).unwrap();
    assert_eq!(store.swap_meta("bad", None, Some(b"x")).unwrap_err().code(), "ERR_STORE_IO");
}

#[test]
fn a_store_is_identified_by_what_it_holds_not_by_the_name_it_was_opened_by() {
    let dir = test_dir();
    let file = dir.join("auth.db");
    let a = SqliteStore::open(&file).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&file, dir.join("link.db")).unwrap();
    #[cfg(unix)]
    assert_eq!(SqliteStore::open(&dir.join("link.db")).unwrap().identity(), a.identity(), "through a symlink");
    assert_eq!(SqliteStore::open(&dir.join(".").join("auth.db")).unwrap().identity(), a.identity(), "through another path");
    assert_ne!(SqliteStore::open(&dir.join("other.db")).unwrap().identity(), a.identity(), "another file");
    assert_ne!(SqliteStore::open_in_memory().unwrap().identity(), SqliteStore::open_in_memory().unwrap().identity());
    assert_ne!(MemoryStore::new().identity(), MemoryStore::new().identity());

    let Some(server) = RedisServer::start(&dir) else { return };
    let open = |url: String, prefix: &str| {
        let options = RedisOptions { key_prefix: prefix.into(), ..RedisOptions::default() };
        RedisStore::open(&RedisTarget::Server(url), options).unwrap().identity()
    };
    let socket = server.url.clone();
    let via_socket = open(socket.clone(), "baileys");
    assert_eq!(open(format!("{socket}?db=0"), "baileys"), via_socket, "db 0 named or not");
    assert_ne!(open(format!("{socket}?db=1"), "baileys"), via_socket, "another database");
    assert_ne!(open(socket, "other"), via_socket, "another key prefix");
}

#[test]
fn every_store_opened_from_a_url_refuses_a_value_that_is_not_a_codec_blob_and_writes_nothing() {
    let (stores, _redis) = backends();
    let mut checked = 0;
    for (name, mut store) in stores.into_iter().filter(|(name, _)| name.starts_with("url")) {
        checked += 1;
        let raw = KeyWrite { kind: "session".into(), id: "2".into(), value: Some(b"not a blob".to_vec()) };
        let err = store.apply("s", &[put("session", "1", b"fine"), raw], None).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG", "{name}: {err}");
        assert!(err.to_string().contains("malformed key batch"), "{name}: {err}");
        let err = store.set_creds("s", b"\x01\x08", None).unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG", "{name}: a truncated object: {err}");
        assert!(err.to_string().starts_with("creds are not a codec blob"), "{name}: {err}");
        let err = store.set_creds("s", &v(b"a Buffer, not an object"), None).unwrap_err();
        assert_eq!((err.code(), err.to_string().as_str()), ("ERR_INVALID_ARG", "creds must serialize to an object"), "{name}");
        assert_eq!(store.sessions().unwrap(), Vec::<String>::new(), "{name}: nothing was written");
        assert_eq!(store.get_keys("s", "session", &ids(&["1", "2"])).unwrap(), vec![None, None], "{name}");
        assert_eq!(store.get_creds("s").unwrap(), None, "{name}");
        assert_eq!(store.stats("s").unwrap(), SessionStats::default(), "{name}");
    }
    assert!(checked >= 3, "the factory's stores are in the suite");
}

#[test]
fn a_stored_value_that_is_not_a_codec_blob_reads_as_corrupt_through_the_factory() {
    let dir = test_dir();
    let file = dir.join("auth.db");
    let mut bare = SqliteStore::open(&file).unwrap();
    let from_url = |url: &str, options: OpenOptions| open_url(&StoreUrl::parse(url).unwrap(), options).unwrap();
    let mut layered: NamedStores = vec![("url sqlite-file", from_url(&format!("sqlite:{}", file.display()), OpenOptions::default()))];
    // Written past the layer, as a damaged file or another program would leave it.
    let mut bare_stores: Vec<Box<dyn Store>> = Vec::new();
    bare.set_creds("s", b"garbage", None).unwrap();
    bare.apply("s", &[KeyWrite { kind: "session".into(), id: "1".into(), value: Some(b"garbage".to_vec()) }], None).unwrap();
    bare_stores.push(Box::new(bare));
    let server = RedisServer::start(&dir);
    if let Some(server) = &server {
        let mut redis = RedisStore::open(&RedisTarget::Server(server.url.clone()), RedisOptions::default()).unwrap();
        redis.set_creds("s", b"garbage", None).unwrap();
        redis.apply("s", &[KeyWrite { kind: "session".into(), id: "1".into(), value: Some(b"garbage".to_vec()) }], None).unwrap();
        bare_stores.push(Box::new(redis));
        layered.push(("url redis+unix", from_url(&server.url, OpenOptions::default())));
    }
    for (name, mut store) in layered {
        assert_eq!(store.get_creds("s").unwrap_err().code(), "ERR_STORE_CORRUPT", "{name}");
        assert_eq!(store.get_keys("s", "session", &ids(&["1"])).unwrap_err().code(), "ERR_STORE_CORRUPT", "{name}");
        assert_eq!(store.get_keys("s", "session", &ids(&["absent"])).unwrap(), vec![None], "{name}");
        assert_eq!(store.list_keys("s").unwrap(), vec![KeyInfo { kind: "session".into(), id: "1".into(), bytes: 7 }], "{name}");
    }
}

// Session ownership (`docs/ownership.md`): leases, epochs and fenced writes, the same on every
// backend. "Another process" is a request with another process token.

use baileys_rust_auth::core::lease::{new_holder, Claim, Fence, LeaseRequest};

fn request_from(process: &str, claim: Claim) -> LeaseRequest {
    LeaseRequest { holder: new_holder(), process: process.into(), host: format!("host-of-{process}"), pid: 4242, lease_ms: 30_000, claim }
}

fn this_process(claim: Claim) -> LeaseRequest {
    LeaseRequest::new(30_000, claim, "this-host")
}

#[test]
fn a_live_lease_is_refused_to_others_with_its_owner_and_taken_over_on_request() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let first = store.acquire_lease("s", &request_from("elsewhere", Claim::Refuse)).unwrap();
        assert_eq!((first.epoch, first.live, first.owner.host.as_str(), first.owner.pid), (1, true, "host-of-elsewhere", 4242), "{name}");
        assert!(first.owner.expires_at_ms >= first.owner.acquired_at_ms + 30_000, "{name}");
        for claim in [Claim::Refuse, Claim::SameProcess] {
            let err = store.acquire_lease("s", &this_process(claim)).unwrap_err();
            assert_eq!(err.code(), "ERR_SESSION_LOCKED", "{name}: {err}");
            let baileys_rust_auth::core::error::StoreError::SessionLocked { owner, .. } = &err else { unreachable!() };
            assert_eq!(owner, &first.owner, "{name}: the error names the owner");
        }
        let second = store.acquire_lease("s", &this_process(Claim::Takeover)).unwrap();
        assert_eq!(second.epoch, 2, "{name}: every acquisition is one epoch up");
        assert_eq!(store.lease("s").unwrap().unwrap().epoch, 2, "{name}");
        // The first owner is fenced: none of its writes land.
        let old = first.fence();
        store.apply("s", &[put("t", "k", b"new")], Some(&second.fence())).unwrap();
        assert_eq!(store.apply("s", &[put("t", "k", b"old")], Some(&old)).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.set_creds("s", &creds(b"old"), Some(&old)).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.clear_keys("s", Some(&old)).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.delete_session("s", Some(&old)).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.renew_lease("s", &old, 30_000).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.get_keys("s", "t", &ids(&["k"])).unwrap(), vec![Some(v(b"new"))], "{name}: the owner's value only");
        assert_eq!(store.get_creds("s").unwrap(), None, "{name}");
        store.release_lease("s", &old).unwrap(); // a fenced release changes nothing
        assert!(store.lease("s").unwrap().unwrap().live, "{name}");
    }
}

#[test]
fn a_holder_in_this_process_is_taken_over_by_a_same_process_claim() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let first = store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap();
        assert_eq!(store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap_err().code(), "ERR_SESSION_LOCKED", "{name}");
        let second = store.acquire_lease("s", &this_process(Claim::SameProcess)).unwrap();
        assert_eq!(second.epoch, first.epoch + 1, "{name}");
        assert_eq!(store.set_creds("s", &creds(b"x"), Some(&first.fence())).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        store.set_creds("s", &creds(b"y"), Some(&second.fence())).unwrap();
        assert_eq!(store.get_creds("s").unwrap(), Some(creds(b"y")), "{name}");
        store.release_lease("s", &second.fence()).unwrap();
    }
}

#[test]
fn writes_without_a_fence_are_refused_while_another_owner_holds_the_session() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        store.apply("s", &[put("t", "k", b"before")], None).unwrap();
        let held = store.acquire_lease("s", &request_from("elsewhere", Claim::Refuse)).unwrap();
        assert_eq!(store.apply("s", &[put("t", "k", b"x")], None).unwrap_err().code(), "ERR_SESSION_LOCKED", "{name}");
        assert_eq!(store.set_creds("s", &creds(b"x"), None).unwrap_err().code(), "ERR_SESSION_LOCKED", "{name}");
        assert_eq!(store.clear_keys("s", None).unwrap_err().code(), "ERR_SESSION_LOCKED", "{name}");
        assert_eq!(store.delete_session("s", None).unwrap_err().code(), "ERR_SESSION_LOCKED", "{name}");
        assert_eq!(store.get_keys("s", "t", &ids(&["k"])).unwrap(), vec![Some(v(b"before"))], "{name}: reads never look at leases");
        // Other sessions are not affected.
        store.apply("other", &[put("t", "k", b"free")], None).unwrap();
        store.release_lease("s", &held.fence()).unwrap();
        store.apply("s", &[put("t", "k", b"after")], None).unwrap();
        assert_eq!(store.get_keys("s", "t", &ids(&["k"])).unwrap(), vec![Some(v(b"after"))], "{name}");
    }
}

#[test]
fn a_released_lease_is_taken_at_once_and_epochs_never_go_back_even_across_a_delete() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let first = store.acquire_lease("s", &request_from("elsewhere", Claim::Refuse)).unwrap();
        store.set_creds("s", &creds(b"c"), Some(&first.fence())).unwrap();
        store.delete_session("s", Some(&first.fence())).unwrap();
        assert!(store.sessions().unwrap().is_empty(), "{name}: a lease alone is no session");
        store.release_lease("s", &first.fence()).unwrap();
        let info = store.lease("s").unwrap().unwrap();
        assert!(!info.live, "{name}: released");
        assert_eq!(store.set_creds("s", &creds(b"late"), Some(&first.fence())).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        let second = store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap();
        assert_eq!(second.epoch, 2, "{name}");
        let leases = store.leases().unwrap();
        assert_eq!(leases.len(), 1, "{name}");
        assert_eq!((leases[0].0.as_str(), leases[0].1.epoch, leases[0].1.live), ("s", 2, true), "{name}");
        assert_eq!(store.lease("never").unwrap(), None, "{name}");
        store.release_lease("s", &second.fence()).unwrap();
    }
}

#[test]
fn a_forgotten_lease_is_gone_and_a_fence_that_no_longer_names_it_forgets_nothing() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let first = store.acquire_lease("s", &request_from("elsewhere", Claim::Refuse)).unwrap();
        store.set_creds("s", &creds(b"c"), Some(&first.fence())).unwrap();
        store.release_lease("s", &first.fence()).unwrap();
        let second = store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap();
        store.forget_lease("s", &first.fence()).unwrap(); // an older fence forgets nothing
        let wrong = Fence { holder: "someone else".into(), epoch: second.epoch };
        store.forget_lease("s", &wrong).unwrap(); // nor another holder at the same epoch
        store.forget_lease("never", &second.fence()).unwrap(); // nor a session without a lease
        let leases = store.leases().unwrap();
        assert_eq!(leases.iter().map(|(s, l)| (s.as_str(), l.epoch)).collect::<Vec<_>>(), vec![("s", second.epoch)], "{name}");
        store.forget_lease("s", &second.fence()).unwrap();
        assert!(store.leases().unwrap().is_empty(), "{name}: forgotten");
        assert_eq!(store.lease("s").unwrap(), None, "{name}");
        assert_eq!(store.get_creds("s").unwrap(), Some(creds(b"c")), "{name}: the data stays");
        assert_eq!(store.set_creds("s", &creds(b"late"), Some(&second.fence())).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        let third = store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap();
        assert!(third.live, "{name}: the session is free");
        store.release_lease("s", &third.fence()).unwrap();
    }
}

#[test]
fn renewal_extends_the_lease_and_a_fence_that_names_no_lease_is_refused() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let granted = store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap();
        let renewed = store.renew_lease("s", &granted.fence(), 60_000).unwrap();
        assert_eq!(renewed.epoch, granted.epoch, "{name}: renewal keeps the epoch");
        assert!(renewed.owner.expires_at_ms >= granted.owner.expires_at_ms + 29_000, "{name}");
        let stranger = Fence { holder: "nobody".into(), epoch: 1 };
        assert_eq!(store.apply("n", &[put("t", "k", b"x")], Some(&stranger)).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.renew_lease("n", &stranger, 30_000).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.get_keys("n", "t", &ids(&["k"])).unwrap(), vec![None], "{name}");
        assert_eq!(
            store.acquire_lease("s", &LeaseRequest { lease_ms: 10, ..this_process(Claim::Takeover) }).unwrap_err().code(),
            "ERR_INVALID_ARG",
            "{name}"
        );
        store.release_lease("s", &granted.fence()).unwrap();
    }
}

#[test]
fn an_expired_lease_is_free_and_its_holder_still_writes_until_someone_takes_it() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let short = store.acquire_lease("s", &LeaseRequest { lease_ms: 1_000, ..request_from("stopped", Claim::Refuse) }).unwrap();
        // Wait (by polling, not a fixed sleep) until the lease has lapsed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while store.lease("s").unwrap().unwrap().live {
            assert!(std::time::Instant::now() < deadline, "{name}: the lease never lapsed");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        store.apply("s", &[put("t", "k", b"late but unopposed")], Some(&short.fence())).unwrap();
        let next = store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap();
        assert_eq!(next.epoch, 2, "{name}");
        assert_eq!(store.apply("s", &[put("t", "k", b"stale")], Some(&short.fence())).unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        assert_eq!(store.get_keys("s", "t", &ids(&["k"])).unwrap(), vec![Some(v(b"late but unopposed"))], "{name}");
        store.release_lease("s", &next.fence()).unwrap();
    }
}

#[test]
fn a_write_without_a_fence_ends_a_lapsed_lease_so_its_holder_cannot_write_on() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let stalled = store.acquire_lease("s", &LeaseRequest { lease_ms: 1_000, ..request_from("stalled", Claim::Refuse) }).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while store.lease("s").unwrap().unwrap().live {
            assert!(std::time::Instant::now() < deadline, "{name}: the lease never lapsed");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        store.apply("s", &[put("t", "k", b"by a tool")], None).unwrap();
        assert!(!store.lease("s").unwrap().unwrap().live, "{name}");
        let err = store.apply("s", &[put("t", "k", b"stalled")], Some(&stalled.fence())).unwrap_err();
        assert_eq!(err.code(), "ERR_SESSION_FENCED", "{name}: the stalled holder woke up");
        assert_eq!(store.get_keys("s", "t", &ids(&["k"])).unwrap(), vec![Some(v(b"by a tool"))], "{name}");
        assert_eq!(store.acquire_lease("s", &this_process(Claim::Refuse)).unwrap().epoch, 2, "{name}");
    }
}

/// Leases in batches (`acquire_leases`, `renew_leases`), as a fleet process takes and keeps
/// many sessions: each lease has its own outcome, one refused or fenced fails no other, and
/// a bad lease duration refuses the whole call with nothing granted.
#[test]
fn leases_in_batches_each_have_their_own_outcome() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        store.acquire_lease("taken", &request_from("elsewhere", Claim::Refuse)).unwrap();
        let requests: Vec<(String, LeaseRequest)> =
            ["a", "taken", "b", "c"].iter().map(|s| (s.to_string(), this_process(Claim::SameProcess))).collect();
        let outcomes = store.acquire_leases(&requests).unwrap();
        assert_eq!(outcomes.len(), 4, "{name}");
        assert_eq!(outcomes[1].as_ref().unwrap_err().code(), "ERR_SESSION_LOCKED", "{name}");
        let granted: Vec<_> = [0, 2, 3].iter().map(|&i| outcomes[i].as_ref().unwrap().clone()).collect();
        assert!(granted.iter().all(|g| g.epoch == 1 && g.live), "{name}");
        // "b" taken over by another process: only its renewal is refused.
        store.acquire_lease("b", &request_from("elsewhere", Claim::Takeover)).unwrap();
        let renewals: Vec<(String, Fence)> = ["a", "b", "c"].iter().zip(&granted).map(|(s, g)| (s.to_string(), g.fence())).collect();
        let renewed = store.renew_leases(&renewals, 90_000).unwrap();
        assert_eq!(renewed[1].as_ref().unwrap_err().code(), "ERR_SESSION_FENCED", "{name}");
        for i in [0, 2] {
            let lease = renewed[i].as_ref().unwrap();
            assert_eq!(lease.epoch, 1, "{name}");
            assert!(lease.owner.expires_at_ms >= granted[i].owner.expires_at_ms + 59_000, "{name}: renewed");
            store.set_creds(&renewals[i].0, &creds(b"mine"), Some(&lease.fence())).unwrap();
        }
        assert_eq!(store.renew_leases(&renewals, 10).unwrap_err().code(), "ERR_INVALID_ARG", "{name}");
        let bad = vec![("d".to_string(), LeaseRequest { lease_ms: 10, ..this_process(Claim::Refuse) })];
        assert_eq!(store.acquire_leases(&bad).unwrap_err().code(), "ERR_INVALID_ARG", "{name}");
        assert_eq!(store.lease("d").unwrap(), None, "{name}: nothing granted");
        assert!(store.acquire_leases(&[]).unwrap().is_empty(), "{name}");
        assert!(store.renew_leases(&[], 30_000).unwrap().is_empty(), "{name}");
    }
}
