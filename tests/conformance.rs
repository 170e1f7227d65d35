//! One conformance suite for every backend: each must behave like the reference
//! `MemoryStore`, both on fixed cases and on a long random sequence of operations.

use baileys_rust_auth::core::memory::MemoryStore;
use baileys_rust_auth::core::redis::{RedisOptions, RedisStore, RedisTarget};
use baileys_rust_auth::core::sqlite::SqliteStore;
use baileys_rust_auth::core::store::{KeyWrite, Store};

/// A private redis-server on a unix socket, killed when dropped.
struct RedisServer {
    child: std::process::Child,
    url: String,
}

impl RedisServer {
    /// `None` where redis-server is not installed; in CI (`CI=true`) that is a failure.
    fn start(dir: &std::path::Path) -> Option<RedisServer> {
        let socket = dir.join("redis.sock");
        let spawned = std::process::Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no", "--unixsocket"])
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("skipping the Redis backend: cannot run redis-server ({e})");
                return None;
            }
            Err(e) => panic!("redis-server is required in CI: {e}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !socket.exists() {
            assert!(std::time::Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Some(RedisServer { child, url: format!("redis+unix://{}", socket.display()) })
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type NamedStores = Vec<(&'static str, Box<dyn Store>)>;

/// Every backend, each empty; the returned server (if any) must outlive the stores.
fn backends() -> (NamedStores, Option<RedisServer>) {
    let dir = std::env::temp_dir().join(format!("bra-conformance-{}-{:?}", std::process::id(), std::thread::current().id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut stores: NamedStores = vec![
        ("memory", Box::new(MemoryStore::new())),
        ("sqlite-memory", Box::new(SqliteStore::open_in_memory().unwrap())),
        ("sqlite-file", Box::new(SqliteStore::open(&dir.join("auth.db")).unwrap())),
    ];
    let redis = RedisServer::start(&dir);
    if let Some(server) = &redis {
        let target = RedisTarget::Server(server.url.clone());
        stores.push(("redis", Box::new(RedisStore::open(&target, RedisOptions::default()).unwrap())));
    }
    (stores, redis)
}

fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
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
        store.apply("s", &[put("pre-key", "1", b"a"), put("session", "x:1", b"b")]).unwrap();
        store.apply("s", &[del("pre-key", "1"), put("session", "x:1", b"c"), put("new-type", "z", b"d")]).unwrap();
        assert_eq!(store.get_keys("s", "pre-key", &ids(&["1"])).unwrap(), vec![None], "{name}");
        assert_eq!(store.get_keys("s", "session", &ids(&["x:1"])).unwrap(), vec![Some(b"c".to_vec())], "{name}");
        assert_eq!(store.get_keys("s", "new-type", &ids(&["z"])).unwrap(), vec![Some(b"d".to_vec())], "{name}");
    }
}

#[test]
fn sessions_are_isolated_and_deleted_whole() {
    let (stores, _redis) = backends();
    for (name, mut store) in stores {
        store.set_creds("a", b"creds-a").unwrap();
        store.apply("a", &[put("t", "k", b"a")]).unwrap();
        store.apply("b", &[put("t", "k", b"b")]).unwrap();
        store.apply("c", &[del("t", "k")]).unwrap();
        assert_eq!(store.sessions().unwrap(), ids(&["a", "b"]), "{name}: deletes alone create no session");
        store.clear_keys("b").unwrap();
        assert_eq!(store.sessions().unwrap(), ids(&["a"]), "{name}: a session without creds or keys is not listed");
        store.apply("b", &[put("t", "k", b"b")]).unwrap();
        assert_eq!(store.get_keys("a", "t", &ids(&["k"])).unwrap(), vec![Some(b"a".to_vec())], "{name}");
        store.delete_session("a").unwrap();
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
                            if next(4) == 0 { del(kind, id) } else { put(kind, id, &step.to_le_bytes()) }
                        })
                        .collect();
                    store.apply(session, &writes).unwrap();
                    reference.apply(session, &writes).unwrap();
                }
                5 => {
                    store.set_creds(session, &step.to_le_bytes()).unwrap();
                    reference.set_creds(session, &step.to_le_bytes()).unwrap();
                }
                6 if next(20) == 0 => {
                    store.delete_session(session).unwrap();
                    reference.delete_session(session).unwrap();
                }
                7 if next(20) == 0 => {
                    store.clear_keys(session).unwrap();
                    reference.clear_keys(session).unwrap();
                }
                _ => {
                    let kind = KINDS[next(KINDS.len())];
                    let all = ids(&IDS);
                    assert_eq!(store.get_keys(session, kind, &all).unwrap(), reference.get_keys(session, kind, &all).unwrap(), "{name} step {step}");
                    assert_eq!(store.get_creds(session).unwrap(), reference.get_creds(session).unwrap(), "{name} step {step}");
                }
            }
        }
        assert_eq!(store.sessions().unwrap(), reference.sessions().unwrap(), "{name}");
        for session in SESSIONS {
            for kind in KINDS {
                let all = ids(&IDS);
                assert_eq!(store.get_keys(session, kind, &all).unwrap(), reference.get_keys(session, kind, &all).unwrap(), "{name}");
            }
        }
        assert!(store.check().unwrap().is_empty(), "{name}");
    }
}
