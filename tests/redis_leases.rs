//! Redis leases across what only Redis does: a server restart with and without persistence,
//! the fence check and the write being one script, the server's clock, and the lease hash's
//! expiry with a TTL. Each test runs a private redis-server on a unix socket in a temp dir and
//! stops it by its child handle. Nothing here waits a fixed time for an event: it polls with a
//! deadline, and asserts no durations.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baileys_rust_auth::core::error::StoreError;
use baileys_rust_auth::core::lease::{new_holder, Claim, Fence, LeaseInfo, LeaseRequest};
use baileys_rust_auth::core::redis::{RedisOptions, RedisStore, RedisTarget};
use baileys_rust_auth::core::store::{KeyWrite, Store};

/// How long a test waits for anything (a server starting, the store reconnecting).
const PATIENCE: Duration = Duration::from_secs(60);

/// A private redis-server on a unix socket in `dir`, persisting there with AOF if asked.
struct RedisServer {
    child: Option<Child>,
    dir: PathBuf,
    aof: bool,
}

impl RedisServer {
    /// `None` where redis-server is not installed; in CI (`CI=true`) that is a failure.
    fn start(dir: &Path, aof: bool) -> Option<RedisServer> {
        let mut server = RedisServer { child: None, dir: dir.to_owned(), aof };
        match server.spawn() {
            Ok(()) => Some(server),
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!("skipping: cannot run redis-server ({e})");
                None
            }
            Err(e) => panic!("redis-server is required in CI: {e}"),
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let _ = std::fs::remove_file(self.socket());
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", "0", "--save", ""]).arg("--dir").arg(&self.dir).arg("--unixsocket").arg(self.socket());
        if self.aof {
            cmd.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            cmd.args(["--appendonly", "no"]);
        }
        self.child = Some(cmd.stdout(Stdio::null()).spawn()?);
        // Up once it answers PING on its socket (the file alone may be a stale one).
        let deadline = Instant::now() + PATIENCE;
        loop {
            let up = redis::Client::open(format!("unix://{}", self.socket().display()))
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if up.is_ok() {
                return Ok(());
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: no shutdown save) and starts it again on the same dir.
    fn restart(&mut self) {
        self.stop();
        self.spawn().expect("redis-server restarts");
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn raw(&self) -> redis::Connection {
        redis::Client::open(format!("unix://{}", self.socket().display())).unwrap().get_connection().unwrap()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bra-redis-leases-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn open(server: &RedisServer, options: RedisOptions) -> RedisStore {
    RedisStore::open(&RedisTarget::Server(server.url()), options).unwrap()
}

fn request_from(process: &str, claim: Claim) -> LeaseRequest {
    LeaseRequest { holder: new_holder(), process: process.into(), host: format!("host-of-{process}"), pid: 4242, lease_ms: 600_000, claim }
}

fn put(kind: &str, id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: kind.into(), id: id.into(), value: Some(value.to_vec()) }
}

/// Calls `f` until it gives anything but `ERR_STORE_UNAVAILABLE` (the store reconnecting after
/// a restart), within [`PATIENCE`].
fn once_reconnected<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match f() {
            Err(e) if e.code() == "ERR_STORE_UNAVAILABLE" && Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => return other,
        }
    }
}

/// Every key under `prefix`, sorted.
fn all_keys(raw: &mut redis::Connection, prefix: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}:*")).query(raw).unwrap();
    keys.sort();
    keys
}

#[test]
fn with_aof_a_lease_survives_a_restart_and_keeps_its_owner_and_epoch() {
    let dir = test_dir("aof");
    let Some(mut server) = RedisServer::start(&dir, true) else { return };
    let mut store = open(&server, RedisOptions::default());
    // Two acquisitions, so that the epoch kept is not merely the first.
    let first = store.acquire_lease("s", &request_from("p0", Claim::Refuse)).unwrap();
    store.release_lease("s", &first.fence()).unwrap();
    let held = store.acquire_lease("s", &request_from("p1", Claim::Refuse)).unwrap();
    assert_eq!(held.epoch, 2);
    store.set_creds("s", b"before", Some(&held.fence())).unwrap();

    server.restart();

    let after = once_reconnected(|| store.lease("s")).unwrap().expect("the lease is still there");
    assert_eq!((after.holder.as_str(), after.epoch, &after.owner), (held.holder.as_str(), 2, &held.owner));
    assert!(after.live);
    once_reconnected(|| store.apply("s", &[put("t", "k", b"after")], Some(&held.fence()))).unwrap();
    assert_eq!(store.get_keys("s", "t", &["k".to_owned()]).unwrap(), vec![Some(b"after".to_vec())]);
    assert_eq!(store.get_creds("s").unwrap(), Some(b"before".to_vec()));
    for claim in [Claim::Refuse, Claim::SameProcess] {
        let err = store.acquire_lease("s", &request_from("p2", claim)).unwrap_err();
        assert_eq!(err.code(), "ERR_SESSION_LOCKED", "{err}");
        let StoreError::SessionLocked { owner, .. } = &err else { unreachable!() };
        assert_eq!(owner, &held.owner, "the error names the owner");
    }
    assert_eq!(store.apply("s", &[put("t", "k", b"x")], None).unwrap_err().code(), "ERR_SESSION_LOCKED");
    // A second restart: the write after the first one is durable too.
    server.restart();
    assert_eq!(once_reconnected(|| store.get_keys("s", "t", &["k".to_owned()])).unwrap(), vec![Some(b"after".to_vec())]);
    assert_eq!(store.lease("s").unwrap().unwrap().epoch, 2);
}

#[test]
fn without_persistence_the_owner_is_told_it_lost_the_session_after_a_restart() {
    let dir = test_dir("volatile");
    let Some(mut server) = RedisServer::start(&dir, false) else { return };
    let mut store = open(&server, RedisOptions::default());
    let held = store.acquire_lease("s", &request_from("p1", Claim::Refuse)).unwrap();
    assert_eq!(held.epoch, 1);
    store.set_creds("s", b"before", Some(&held.fence())).unwrap();

    server.restart();

    let err = once_reconnected(|| store.apply("s", &[put("t", "k", b"after")], Some(&held.fence()))).unwrap_err();
    assert_eq!(err.code(), "ERR_SESSION_FENCED", "{err}");
    assert!(err.to_string().contains("holds no lease"), "{err}");
    assert_eq!(store.set_creds("s", b"after", Some(&held.fence())).unwrap_err().code(), "ERR_SESSION_FENCED");
    assert_eq!(store.renew_lease("s", &held.fence(), 60_000).unwrap_err().code(), "ERR_SESSION_FENCED");
    assert_eq!(store.lease("s").unwrap(), None);
    assert!(all_keys(&mut server.raw(), "baileys").is_empty(), "nothing of the refused writes landed");

    // A new owner: the epoch restarts at 1 (the lease hash was lost), and the old fence, which
    // names epoch 1 too, is still refused, because holders are unique to an acquisition.
    let next = store.acquire_lease("s", &request_from("p2", Claim::Refuse)).unwrap();
    assert_eq!(next.epoch, 1);
    assert_eq!(held.fence().epoch, next.epoch);
    let err = store.apply("s", &[put("t", "k", b"stale")], Some(&held.fence())).unwrap_err();
    assert_eq!(err.code(), "ERR_SESSION_FENCED", "{err}");
    store.apply("s", &[put("t", "k", b"new owner")], Some(&next.fence())).unwrap();
    assert_eq!(store.get_keys("s", "t", &["k".to_owned()]).unwrap(), vec![Some(b"new owner".to_vec())]);
}

#[test]
fn a_refused_write_leaves_no_key_no_type_and_no_stamp() {
    let dir = test_dir("atomic");
    let Some(server) = RedisServer::start(&dir, false) else { return };
    let mut store = open(&server, RedisOptions::default());
    let mut raw = server.raw();
    let old = store.acquire_lease("n", &request_from("p1", Claim::Refuse)).unwrap();
    let new = store.acquire_lease("n", &request_from("p2", Claim::Takeover)).unwrap();
    assert_eq!(all_keys(&mut raw, "baileys"), vec!["baileys:{n}:lease"]);
    let batch = [put("a", "1", b"x"), put("b", "2", b"y"), put("c", "3", b"z")];
    // Fenced (taken over), unfenced (someone else owns it), and a fence naming no lease at all.
    let stranger = Fence { holder: "nobody".into(), epoch: 9 };
    for (fence, code) in [(Some(&old.fence()), "ERR_SESSION_FENCED"), (None, "ERR_SESSION_LOCKED"), (Some(&stranger), "ERR_SESSION_FENCED")]
    {
        assert_eq!(store.apply("n", &batch, fence).unwrap_err().code(), code);
        assert_eq!(store.set_creds("n", b"c", fence).unwrap_err().code(), code);
        assert_eq!(store.clear_keys("n", fence).unwrap_err().code(), code);
        assert_eq!(store.delete_session("n", fence).unwrap_err().code(), code);
        assert_eq!(all_keys(&mut raw, "baileys"), vec!["baileys:{n}:lease"], "no key, no types member, no stamp");
    }
    // The fenced message says who took it.
    let err = store.apply("n", &batch, Some(&old.fence())).unwrap_err();
    assert!(err.to_string().contains("taken over (epoch 2, by host-of-p2 pid 4242)"), "{err}");
    // A lease alone is no session, and no stats.
    assert!(store.sessions().unwrap().is_empty());
    assert_eq!(store.stats("n").unwrap().creds_bytes, None);
    assert!(store.list_keys("n").unwrap().is_empty());
    // The owner writes; the data and the lease share the session's hash tag.
    store.apply("n", &batch, Some(&new.fence())).unwrap();
    assert_eq!(store.sessions().unwrap(), vec!["n"]);
    let leases: Vec<(String, LeaseInfo)> = store.leases().unwrap();
    assert_eq!(leases.iter().map(|(s, l)| (s.as_str(), l.epoch)).collect::<Vec<_>>(), vec![("n", 2)]);
}

#[test]
fn lease_times_are_the_servers_clock() {
    let dir = test_dir("clock");
    let Some(server) = RedisServer::start(&dir, false) else { return };
    let mut store = open(&server, RedisOptions::default());
    let mut raw = server.raw();
    let server_ms = |raw: &mut redis::Connection| {
        let (s, us): (i64, i64) = redis::cmd("TIME").query(raw).unwrap();
        s * 1000 + us / 1000
    };
    let before = server_ms(&mut raw);
    let held = store.acquire_lease("s", &request_from("p1", Claim::Refuse)).unwrap();
    let after = server_ms(&mut raw);
    assert!((before..=after).contains(&held.owner.acquired_at_ms), "{before} <= {} <= {after}", held.owner.acquired_at_ms);
    assert_eq!(held.owner.expires_at_ms, held.owner.acquired_at_ms + 600_000);
    let stored: Vec<String> =
        redis::cmd("HMGET").arg("baileys:{s}:lease").arg(&["holder", "epoch", "acquired", "expires"]).query(&mut raw).unwrap();
    assert_eq!(stored, vec![held.holder.clone(), "1".into(), held.owner.acquired_at_ms.to_string(), held.owner.expires_at_ms.to_string()]);
    // An expiry set on the server decides liveness: the holder lapses when the server says so.
    redis::cmd("HSET").arg("baileys:{s}:lease").arg("expires").arg(before - 1).exec(&mut raw).unwrap();
    assert!(!store.lease("s").unwrap().unwrap().live);
    store.acquire_lease("s", &request_from("p2", Claim::Refuse)).unwrap();
}

#[test]
fn the_lease_hash_outlives_a_delete_and_with_a_ttl_expires_with_the_session_never_before_the_lease() {
    let dir = test_dir("ttl");
    let Some(server) = RedisServer::start(&dir, false) else { return };
    let mut raw = server.raw();
    let pttl = |raw: &mut redis::Connection, key: &str| -> i64 { redis::cmd("PTTL").arg(key).query(raw).unwrap() };

    // Without a TTL the lease hash never expires, and survives the session's deletion.
    let mut plain = open(&server, RedisOptions { key_prefix: "plain".into(), ..RedisOptions::default() });
    let held = plain.acquire_lease("s", &request_from("p1", Claim::Refuse)).unwrap();
    plain.set_creds("s", b"c", Some(&held.fence())).unwrap();
    plain.delete_session("s", Some(&held.fence())).unwrap();
    assert_eq!(all_keys(&mut raw, "plain"), vec!["plain:{s}:lease"]);
    assert_eq!(pttl(&mut raw, "plain:{s}:lease"), -1);
    plain.release_lease("s", &held.fence()).unwrap();
    assert_eq!(plain.acquire_lease("s", &request_from("p2", Claim::Refuse)).unwrap().epoch, 2);

    // With a TTL (10 s) shorter than the lease (600 s): the hash lives until the lease ends.
    let ttl = RedisOptions { key_prefix: "ttl".into(), ttl: Some(Duration::from_secs(10)), ..RedisOptions::default() };
    let mut store = open(&server, ttl);
    let held = store.acquire_lease("s", &request_from("p1", Claim::Refuse)).unwrap();
    let at: i64 = redis::cmd("PEXPIRETIME").arg("ttl:{s}:lease").query(&mut raw).unwrap();
    assert_eq!(at, held.owner.expires_at_ms, "never before the lease");
    store.set_creds("s", b"c", Some(&held.fence())).unwrap();
    assert!(pttl(&mut raw, "ttl:{s}:creds") > 0);
    assert_eq!(redis::cmd("PEXPIRETIME").arg("ttl:{s}:lease").query::<i64>(&mut raw).unwrap(), held.owner.expires_at_ms);
    // Released, a lease with a short lease time: the hash goes with the session's deadline.
    store.release_lease("s", &held.fence()).unwrap();
    let short = store.acquire_lease("s", &LeaseRequest { lease_ms: 1_000, ..request_from("p2", Claim::Refuse) }).unwrap();
    store.set_creds("s", b"c", Some(&short.fence())).unwrap();
    let session_at: i64 = redis::cmd("PEXPIRETIME").arg("ttl:{s}:creds").query(&mut raw).unwrap();
    let lease_at: i64 = redis::cmd("PEXPIRETIME").arg("ttl:{s}:lease").query(&mut raw).unwrap();
    assert!(lease_at >= session_at && lease_at >= short.owner.expires_at_ms, "{lease_at} {session_at}");
    // Renewal past the session's deadline keeps the hash until the renewed lease ends.
    let renewed = store.renew_lease("s", &short.fence(), 600_000).unwrap();
    let lease_at: i64 = redis::cmd("PEXPIRETIME").arg("ttl:{s}:lease").query(&mut raw).unwrap();
    assert_eq!(lease_at, renewed.owner.expires_at_ms);
}

/// A 3-master Redis Cluster on loopback (no replicas), each node in its own dir; `None`
/// where redis-server or redis-cli cannot run (outside CI).
struct RedisCluster {
    nodes: Vec<(Child, u16)>,
}

impl RedisCluster {
    fn start(dir: &Path) -> Option<RedisCluster> {
        let tools = ["redis-server", "redis-cli"].iter().all(|tool| Command::new(tool).arg("--version").output().is_ok());
        if !tools {
            assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "redis-server and redis-cli are required in CI");
            eprintln!("skipping: cannot run redis-server and redis-cli");
            return None;
        }
        let mut cluster = RedisCluster { nodes: Vec::new() };
        for i in 0..3 {
            cluster.nodes.push(Self::node(&dir.join(format!("node{i}"))));
        }
        let addrs: Vec<String> = cluster.nodes.iter().map(|(_, port)| format!("127.0.0.1:{port}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(created.success(), "redis-cli --cluster create failed");
        let deadline = Instant::now() + PATIENCE;
        for (_, port) in &cluster.nodes {
            loop {
                let info = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query::<String>(&mut c))
                    .unwrap_or_default();
                if info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3") {
                    break;
                }
                assert!(Instant::now() < deadline, "the cluster did not come up: {info}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Some(cluster)
    }

    /// One cluster node on a free port (a port found free may be taken before the server binds
    /// it: then another one).
    fn node(dir: &Path) -> (Child, u16) {
        std::fs::create_dir_all(dir).unwrap();
        let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        for _ in 0..10 {
            let (port, bus) = (free(), free());
            if port == bus {
                continue;
            }
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000", "--cluster-port", &bus.to_string()])
                .arg("--cluster-config-file")
                .arg(dir.join(format!("nodes-{port}.conf")))
                .arg("--dir")
                .arg(dir)
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + PATIENCE;
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost the port: try another
                }
                let up = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                    .and_then(|c| c.get_connection())
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
                if up.is_ok() {
                    return (child, port);
                }
                assert!(Instant::now() < deadline, "a cluster node did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free port for a cluster node");
    }

    fn target(&self) -> RedisTarget {
        RedisTarget::Cluster(self.nodes.iter().map(|(_, port)| format!("redis://127.0.0.1:{port}")).collect())
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for (child, _) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn on_a_cluster_leases_and_fenced_writes_work_in_every_slot_and_are_all_listed() {
    let dir = test_dir("cluster");
    let Some(cluster) = RedisCluster::start(&dir) else { return };
    let mut store = RedisStore::open(&cluster.target(), RedisOptions::default()).unwrap();
    // Enough sessions that all three masters hold some (slots are spread by CRC16).
    let sessions: Vec<String> = (0..24).map(|i| format!("s{i}")).collect();
    let mut granted = Vec::new();
    for session in &sessions {
        let old = store.acquire_lease(session, &request_from("p1", Claim::Refuse)).unwrap();
        let new = store.acquire_lease(session, &request_from("p2", Claim::Takeover)).unwrap();
        store.apply(session, &[put("t", "k", b"v")], Some(&new.fence())).unwrap();
        assert_eq!(store.apply(session, &[put("t", "k", b"old")], Some(&old.fence())).unwrap_err().code(), "ERR_SESSION_FENCED");
        assert_eq!(store.set_creds(session, b"c", None).unwrap_err().code(), "ERR_SESSION_LOCKED");
        granted.push(new);
    }
    // A lease alone is no session.
    store.acquire_lease("lease-only", &request_from("p3", Claim::Refuse)).unwrap();
    let mut expected = sessions.clone();
    expected.sort();
    assert_eq!(store.sessions().unwrap(), expected);
    for (_, port) in &cluster.nodes {
        let mut raw = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap().get_connection().unwrap();
        let keys: i64 = redis::cmd("DBSIZE").query(&mut raw).unwrap();
        assert!(keys > 0, "every master holds some sessions (node {port})");
    }
    let leases = store.leases().unwrap();
    let mut with_lease_only = expected.clone();
    with_lease_only.push("lease-only".into());
    with_lease_only.sort();
    assert_eq!(leases.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>(), with_lease_only, "sorted, from every master");
    assert!(leases.iter().all(|(_, l)| l.live && l.epoch >= 1));
    for (session, held) in sessions.iter().zip(&granted) {
        store.release_lease(session, &held.fence()).unwrap();
        assert!(!store.lease(session).unwrap().unwrap().live);
    }
}

/// One renewal for many leases (`renew_leases`: the first alone, the rest in one pipeline),
/// each with its own outcome: the lease taken over is fenced, the others renewed, also after
/// the server forgot its scripts (`SCRIPT FLUSH`, as a restart does).
#[test]
fn renewals_together_fence_only_the_lease_taken_over() {
    let dir = test_dir("renew-many");
    let Some(server) = RedisServer::start(&dir, false) else { return };
    let mut store = open(&server, RedisOptions::default());
    let sessions = ["a", "b", "c", "d"];
    let granted: Vec<_> = sessions.iter().map(|s| store.acquire_lease(s, &request_from("p1", Claim::Refuse)).unwrap()).collect();
    store.acquire_lease("c", &request_from("p2", Claim::Takeover)).unwrap();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut server.raw()).unwrap();
    let leases: Vec<(String, Fence)> = sessions.iter().zip(&granted).map(|(s, g)| (s.to_string(), g.fence())).collect();
    let outcomes = store.renew_leases(&leases, 1_200_000).unwrap();
    assert_eq!(outcomes.len(), 4);
    for (i, outcome) in outcomes.iter().enumerate() {
        if sessions[i] == "c" {
            assert_eq!(outcome.as_ref().unwrap_err().code(), "ERR_SESSION_FENCED");
        } else {
            let renewed = outcome.as_ref().unwrap();
            assert_eq!(renewed.epoch, 1);
            assert!(renewed.owner.expires_at_ms > granted[i].owner.expires_at_ms, "{}: renewed for 20 minutes", sessions[i]);
        }
    }
    assert_eq!(store.renew_leases(&[], 120_000).unwrap(), vec![]);
}
