//! Group commit (`Store::write_group`) on every store, bare and from the URL factory: each
//! write of a group gets exactly the result it would get alone, a failing one writes nothing,
//! and the others commit. The executor's side (which writes form a group, issue order) is
//! tested in `src/core/executor.rs`; SQLite's savepoints and its whole-group failure in
//! `src/core/sqlite/mod.rs`.

use baileys_rust_auth::core::codec::{encode, Value};
use baileys_rust_auth::core::lease::{new_holder, Claim, LeaseRequest};
use baileys_rust_auth::core::memory::MemoryStore;
use baileys_rust_auth::core::open::{open_url, OpenOptions};
use baileys_rust_auth::core::redis::{RedisOptions, RedisStore, RedisTarget};
use baileys_rust_auth::core::sqlite::SqliteStore;
use baileys_rust_auth::core::store::{KeyWrite, Store, Write};
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

fn test_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bra-group-{}-{:?}", std::process::id(), std::thread::current().id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every backend, bare and from the URL factory, each empty; the server must outlive them.
fn backends() -> (NamedStores, (Option<RedisServer>, Vec<MysqlNamespace>)) {
    let dir = test_dir();
    let from_url = |url: &str| open_url(&StoreUrl::parse(url).unwrap(), OpenOptions::default()).unwrap();
    let mut stores: NamedStores = vec![
        ("memory", Box::new(MemoryStore::new())),
        ("sqlite-memory", Box::new(SqliteStore::open_in_memory().unwrap())),
        ("sqlite-file", Box::new(SqliteStore::open(&dir.join("auth.db")).unwrap())),
        ("url memory:", from_url("memory:")),
        ("url sqlite-file", from_url(&format!("sqlite:{}", dir.join("url.db").display()))),
    ];
    let redis = RedisServer::start(&dir);
    if let Some(server) = &redis {
        stores.push(("redis", Box::new(RedisStore::open(&RedisTarget::Server(server.url.clone()), RedisOptions::default()).unwrap())));
        let options =
            OpenOptions { redis: Some(RedisOptions { key_prefix: "url".into(), ..RedisOptions::default() }), ..OpenOptions::default() };
        stores.push(("url redis+unix", open_url(&StoreUrl::parse(&server.url).unwrap(), options).unwrap()));
    }
    let namespaces = sql_servers::add_sql_stores(&mut stores);
    (stores, (redis, namespaces))
}

fn v(raw: &[u8]) -> Vec<u8> {
    encode(&Value::Bytes(raw.to_vec()))
}

fn creds(raw: &[u8]) -> Vec<u8> {
    encode(&Value::Object(vec![("c".into(), Value::Bytes(raw.to_vec()))]))
}

fn put(id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: "t".into(), id: id.into(), value: Some(v(value)) }
}

fn read(store: &mut dyn Store, session: &str, id: &str) -> Option<Vec<u8>> {
    store.get_keys(session, "t", &[id.to_string()]).unwrap().remove(0)
}

fn codes(results: &[baileys_rust_auth::core::error::Result<()>]) -> Vec<&'static str> {
    results.iter().map(|r| r.as_ref().map_or_else(|e| e.code(), |()| "ok")).collect()
}

#[test]
fn a_fenced_out_write_in_a_group_writes_nothing_while_the_others_commit() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let request = |process: &str, claim| LeaseRequest {
            holder: new_holder(),
            process: process.into(),
            host: "h".into(),
            pid: 1,
            lease_ms: 30_000,
            claim,
        };
        let stale = store.acquire_lease("owned", &request("first", Claim::Refuse)).unwrap().fence();
        let current = store.acquire_lease("owned", &request("second", Claim::Takeover)).unwrap().fence();
        let free = [put("a", b"free")];
        let fenced = [put("a", b"stale"), put("b", b"stale")];
        let owned = [put("a", b"owner")];
        let (stale_creds, owner_creds) = (creds(b"stale"), creds(b"owner"));
        let results = store.write_group(&[
            Write::Keys { session: "free", writes: &free, fence: None },
            Write::Keys { session: "owned", writes: &fenced, fence: Some(&stale) },
            Write::Creds { session: "owned", creds: &stale_creds, fence: Some(&stale) },
            Write::Keys { session: "owned", writes: &owned, fence: Some(&current) },
            Write::Creds { session: "owned", creds: &owner_creds, fence: Some(&current) },
        ]);
        assert_eq!(codes(&results), ["ok", "ERR_SESSION_FENCED", "ERR_SESSION_FENCED", "ok", "ok"], "{name}");
        assert_eq!(read(store.as_mut(), "free", "a"), Some(v(b"free")), "{name}");
        assert_eq!(read(store.as_mut(), "owned", "a"), Some(v(b"owner")), "{name}");
        assert_eq!(read(store.as_mut(), "owned", "b"), None, "{name}: nothing of the fenced batch");
        assert_eq!(store.get_creds("owned").unwrap(), Some(owner_creds.clone()), "{name}");
    }
}

#[test]
fn a_refused_write_in_a_group_writes_nothing_and_later_writes_see_the_earlier_ones() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let layered = name.starts_with("url");
        let first = [put("k", b"1")];
        let second = [put("k", b"2"), put("other", b"2")];
        // Not a codec blob: the byte check of the factory's stores refuses it.
        let bad = [put("bad", b"x"), KeyWrite { kind: "t".into(), id: "k".into(), value: Some(b"not a blob".to_vec()) }];
        let not_an_object = v(b"creds that are no object");
        let empty: [KeyWrite; 0] = [];
        let results = store.write_group(&[
            Write::Keys { session: "s", writes: &first, fence: None },
            Write::Keys { session: "s", writes: &bad, fence: None },
            Write::Creds { session: "s", creds: &not_an_object, fence: None },
            Write::Keys { session: "s", writes: &empty, fence: None },
            Write::Keys { session: "s", writes: &second, fence: None },
        ]);
        if layered {
            assert_eq!(codes(&results), ["ok", "ERR_INVALID_ARG", "ERR_INVALID_ARG", "ok", "ok"], "{name}");
            assert_eq!(read(store.as_mut(), "s", "bad"), None, "{name}: nothing of the refused batch");
            assert_eq!(store.get_creds("s").unwrap(), None, "{name}");
        } else {
            assert_eq!(codes(&results), ["ok"; 5], "{name}: a bare backend stores bytes as they come");
        }
        assert_eq!(read(store.as_mut(), "s", "k"), Some(v(b"2")), "{name}: the group's writes apply in order");
        assert_eq!(read(store.as_mut(), "s", "other"), Some(v(b"2")), "{name}");
    }
}

#[test]
fn a_group_leaves_the_store_as_the_same_writes_one_by_one_leave_the_reference() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        let mut reference = MemoryStore::new();
        let batches: Vec<Vec<KeyWrite>> = (0..40u8)
            .map(|i| {
                let mut batch = vec![put(&format!("k{}", i % 7), &[i]), put(&format!("n{i}"), &[i; 300])];
                if i % 3 == 0 {
                    batch.push(KeyWrite { kind: "t".into(), id: format!("k{}", (i + 2) % 7), value: None });
                }
                batch
            })
            .collect();
        let creds: Vec<Vec<u8>> = (0..40u8).map(|i| creds(&[i])).collect();
        let sessions = ["a", "b", "c"];
        let group: Vec<Write<'_>> = (0..40)
            .map(|i| match i % 5 {
                4 => Write::Creds { session: sessions[i % 3], creds: &creds[i], fence: None },
                _ => Write::Keys { session: sessions[i % 3], writes: &batches[i], fence: None },
            })
            .collect();
        let results = store.write_group(&group);
        assert!(results.iter().all(Result::is_ok), "{name}: {results:?}");
        for write in &group {
            write.apply_to(&mut reference).unwrap();
        }
        for session in sessions {
            assert_eq!(store.get_creds(session).unwrap(), reference.get_creds(session).unwrap(), "{name} {session}");
            let keys = store.list_keys(session).unwrap();
            assert_eq!(keys, reference.list_keys(session).unwrap(), "{name} {session}");
            let ids: Vec<String> = keys.iter().map(|k| k.id.clone()).collect();
            assert_eq!(store.get_keys(session, "t", &ids).unwrap(), reference.get_keys(session, "t", &ids).unwrap(), "{name}");
        }
    }
}

#[test]
fn a_redis_group_whose_scripts_were_flushed_loads_them_and_applies_every_write_once() {
    let dir = test_dir();
    let Some(server) = RedisServer::start(&dir) else { return };
    let mut store = RedisStore::open(&RedisTarget::Server(server.url.clone()), RedisOptions::default()).unwrap();
    store.apply("s", &[put("warm", b"1")], None).unwrap();
    let mut admin = redis::Client::open(server.url.as_str()).unwrap().get_connection().unwrap();
    redis::cmd("SCRIPT").arg("FLUSH").query::<()>(&mut admin).unwrap();
    let (one, two) = ([put("a", b"1")], [put("b", b"2")]);
    let c = creds(b"c");
    let results = store.write_group(&[
        Write::Keys { session: "s", writes: &one, fence: None },
        Write::Creds { session: "s", creds: &c, fence: None },
        Write::Keys { session: "s", writes: &two, fence: None },
    ]);
    assert_eq!(codes(&results), ["ok"; 3]);
    assert_eq!(read(&mut store, "s", "a"), Some(v(b"1")));
    assert_eq!(read(&mut store, "s", "b"), Some(v(b"2")));
    assert_eq!(store.get_creds("s").unwrap(), Some(c));
}

#[test]
fn a_redis_script_that_fails_in_a_pipeline_fails_only_its_own_write() {
    let dir = test_dir();
    let Some(server) = RedisServer::start(&dir) else { return };
    let mut store = RedisStore::open(&RedisTarget::Server(server.url.clone()), RedisOptions::default()).unwrap();
    let mut admin = redis::Client::open(server.url.as_str()).unwrap().get_connection().unwrap();
    // Damage: the session's type set is a string, so its apply script refuses before writing.
    redis::cmd("SET").arg("baileys:{broken}:types").arg("not a set").query::<()>(&mut admin).unwrap();
    let (one, two) = ([put("a", b"1")], [put("b", b"2")]);
    let results = store.write_group(&[
        Write::Keys { session: "fine", writes: &one, fence: None },
        Write::Keys { session: "broken", writes: &two, fence: None },
        Write::Keys { session: "fine", writes: &two, fence: None },
    ]);
    assert_eq!(codes(&results)[0], "ok");
    assert_ne!(codes(&results)[1], "ok", "{results:?}");
    assert_eq!(codes(&results)[2], "ok");
    assert_eq!(read(&mut store, "fine", "a"), Some(v(b"1")));
    assert_eq!(read(&mut store, "fine", "b"), Some(v(b"2")));
    let hash: Option<Vec<u8>> = redis::cmd("HGET").arg("baileys:{broken}:keys:t").arg("b").query(&mut admin).unwrap();
    assert_eq!(hash, None, "nothing of the failed script was written");
}

#[test]
fn a_redis_group_of_only_empty_batches_succeeds_without_a_round_trip() {
    let dir = test_dir();
    let Some(server) = RedisServer::start(&dir) else { return };
    let mut store = RedisStore::open(&RedisTarget::Server(server.url.clone()), RedisOptions::default()).unwrap();
    let empty: [KeyWrite; 0] = [];
    // Each is Ok alone (no round trip); together they once made an empty pipeline, which
    // redis-rs refuses ("empty command").
    let group = [
        Write::Keys { session: "a", writes: &empty, fence: None },
        Write::Keys { session: "b", writes: &empty, fence: None },
        Write::Keys { session: "c", writes: &empty, fence: None },
    ];
    assert_eq!(codes(&store.write_group(&group)), ["ok"; 3]);
    assert_eq!(store.sessions().unwrap(), Vec::<String>::new(), "an empty batch creates no session");
}

#[test]
fn a_redis_group_resent_after_noscript_of_one_of_its_scripts_keeps_issue_order() {
    let dir = test_dir();
    let Some(server) = RedisServer::start(&dir) else { return };
    let mut store = RedisStore::open(&RedisTarget::Server(server.url.clone()), RedisOptions::default()).unwrap();
    let mut admin = redis::Client::open(server.url.as_str()).unwrap().get_connection().unwrap();
    let request =
        LeaseRequest { holder: new_holder(), process: "p".into(), host: "h".into(), pid: 1, lease_ms: 1000, claim: Claim::Refuse };
    let fence = store.acquire_lease("lapsed", &request).unwrap().fence();
    // Polls (the lease's own clock is the server's): no fixed sleep stands for the event.
    let waited = std::time::Instant::now();
    while store.lease("lapsed").unwrap().unwrap().live {
        assert!(waited.elapsed() < std::time::Duration::from_secs(30), "the lease never lapsed");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Redis knows the creds script only: a lone save loads it after the flush.
    redis::cmd("SCRIPT").arg("FLUSH").query::<()>(&mut admin).unwrap();
    store.set_creds("loader", &creds(b"l"), None).unwrap();
    // In issue order the fenced batch is accepted (the lapsed lease still names its holder) and
    // then the unfenced save ends the lapsed lease; the other way round the batch is refused.
    let batch = [put("k", b"fenced")];
    let c = creds(b"after");
    let results = store.write_group(&[
        Write::Keys { session: "lapsed", writes: &batch, fence: Some(&fence) },
        Write::Creds { session: "lapsed", creds: &c, fence: None },
    ]);
    assert_eq!(codes(&results), ["ok", "ok"], "{results:?}");
    assert_eq!(read(&mut store, "lapsed", "k"), Some(v(b"fenced")));
    assert_eq!(store.get_creds("lapsed").unwrap(), Some(c));
}

#[test]
fn a_redis_write_that_waited_past_its_deadline_fails_alone_in_its_group() {
    let dir = test_dir();
    let Some(server) = RedisServer::start(&dir) else { return };
    let options = RedisOptions { command_timeout: std::time::Duration::from_secs(5), ..RedisOptions::default() };
    let mut store = RedisStore::open(&RedisTarget::Server(server.url.clone()), options).unwrap();
    let now = std::time::Instant::now();
    let Some(long_ago) = now.checked_sub(std::time::Duration::from_secs(10)) else { return };
    let (old, fresh) = ([put("old", b"1")], [put("fresh", b"2")]);
    let empty: [KeyWrite; 0] = [];
    // As the executor announces a group: each write's issue time, the first past its deadline.
    store.group_issued(&[long_ago, now, long_ago, now]);
    let results = store.write_group(&[
        Write::Keys { session: "s", writes: &old, fence: None },
        Write::Keys { session: "s", writes: &fresh, fence: None },
        Write::Keys { session: "s", writes: &empty, fence: None },
        Write::Keys { session: "t", writes: &fresh, fence: None },
    ]);
    assert_eq!(codes(&results), ["ERR_STORE_UNAVAILABLE", "ok", "ok", "ok"], "an empty batch is Ok however late, as alone");
    assert_eq!(read(&mut store, "s", "old"), None, "the late write was not sent");
    assert_eq!(read(&mut store, "s", "fresh"), Some(v(b"2")));
    assert_eq!(read(&mut store, "t", "fresh"), Some(v(b"2")));
}

#[test]
fn a_sql_write_that_waited_past_its_deadline_fails_alone_in_its_group() {
    let mut stores: NamedStores = Vec::new();
    let _namespaces = sql_servers::add_sql_stores(&mut stores);
    for (name, store) in &mut stores {
        let now = std::time::Instant::now();
        let Some(long_ago) = now.checked_sub(std::time::Duration::from_secs(60)) else { return };
        let (old, fresh) = ([put("old", b"1")], [put("fresh", b"2")]);
        let empty: [KeyWrite; 0] = [];
        // As the executor announces a group: each write's issue time, two past their deadline.
        store.group_issued(&[long_ago, now, long_ago, now, long_ago]);
        let results = store.write_group(&[
            Write::Keys { session: "s", writes: &old, fence: None },
            Write::Keys { session: "s", writes: &fresh, fence: None },
            Write::Keys { session: "s", writes: &empty, fence: None },
            Write::Creds { session: "t", creds: &creds(b"t"), fence: None },
            Write::Creds { session: "u", creds: &creds(b"u"), fence: None },
        ]);
        assert_eq!(codes(&results), ["ERR_STORE_UNAVAILABLE", "ok", "ok", "ok", "ERR_STORE_UNAVAILABLE"], "{name}: {results:?}");
        assert_eq!(read(store.as_mut(), "s", "old"), None, "{name}: the late write was not sent");
        assert_eq!(read(store.as_mut(), "s", "fresh"), Some(v(b"2")), "{name}");
        assert_eq!(store.get_creds("t").unwrap(), Some(creds(b"t")), "{name}");
        assert_eq!(store.get_creds("u").unwrap(), None, "{name}: the late creds were not sent");

        // Every write late: nothing is sent, and no deadline is left behind for the next call.
        store.group_issued(&[long_ago, long_ago]);
        let results = store.write_group(&[
            Write::Keys { session: "s", writes: &old, fence: None },
            Write::Creds { session: "u", creds: &creds(b"u"), fence: None },
        ]);
        assert_eq!(codes(&results), ["ERR_STORE_UNAVAILABLE", "ERR_STORE_UNAVAILABLE"], "{name}");
        store.apply("s", &old, None).unwrap();
        assert_eq!(read(store.as_mut(), "s", "old"), Some(v(b"1")), "{name}");
    }
}
