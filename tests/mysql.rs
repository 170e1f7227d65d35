//! The MySQL/MariaDB backend beyond the conformance suite: migrations (concurrent first opens,
//! a newer schema, `create: false`, a step cut short), the limits of names and values, error
//! mapping, identity, and faults on a private MariaDB killed with SIGKILL and restarted.

#[path = "common/mysql_server.rs"]
mod mysql_server;
#[path = "common/sockets.rs"]
mod sockets;
#[path = "common/tls.rs"]
mod tls;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baileys_rust_auth::core::error::StoreError;
use baileys_rust_auth::core::lease::{Claim, LeaseRequest};
use baileys_rust_auth::core::open::{open_url, OpenOptions};
use baileys_rust_auth::core::sql::mysql::{MysqlStore, SCHEMA_VERSION};
use baileys_rust_auth::core::sql::{SqlOptions, SqlTarget};
use baileys_rust_auth::core::store::{KeyWrite, Store, Write};
use baileys_rust_auth::core::url::StoreUrl;
use mysql_server::{exec, query_strings, MysqlNamespace, PrivateMariadb};

fn put(id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: "t".into(), id: id.into(), value: Some(value.to_vec()) }
}

fn open(ns: &MysqlNamespace, create: bool) -> Result<MysqlStore, StoreError> {
    MysqlStore::open(&ns.target(), ns.options(), create)
}

fn version_of(ns: &MysqlNamespace) -> Option<String> {
    query_strings(&ns.base_url, &format!("SELECT CAST(version AS CHAR) FROM {} WHERE id = 1", ns.table("schema_version")))
        .ok()
        .and_then(|rows| rows.into_iter().next().flatten())
}

fn tables_of(ns: &MysqlNamespace) -> Vec<String> {
    let like = ns.prefix.replace('_', "\\_");
    query_strings(&ns.base_url, &format!("SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name LIKE '{like}%' ORDER BY 1"))
        .unwrap()
        .into_iter()
        .flatten()
        .collect()
}

#[test]
fn concurrent_first_opens_of_a_new_prefix_all_succeed_and_agree_on_the_schema() {
    let Some(ns) = MysqlNamespace::new() else { return };
    let ns = Arc::new(ns);
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let ns = ns.clone();
            std::thread::spawn(move || {
                let mut store = open(&ns, true).unwrap();
                store.set_creds(&format!("s{i}"), b"creds", None).unwrap();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(version_of(&ns), Some(SCHEMA_VERSION.to_string()));
    let mut store = open(&ns, false).unwrap();
    assert_eq!(store.sessions().unwrap().len(), 6);
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn a_newer_schema_version_is_refused_and_left_untouched() {
    let Some(ns) = MysqlNamespace::new() else { return };
    open(&ns, true).unwrap().set_creds("s", b"creds", None).unwrap();
    exec(&ns.base_url, &[format!("UPDATE {} SET version = 99 WHERE id = 1", ns.table("schema_version"))]).unwrap();
    for create in [true, false] {
        match open(&ns, create) {
            Err(StoreError::Version { found: 99, supported }) => assert_eq!(supported, SCHEMA_VERSION),
            other => panic!("create {create}: {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(version_of(&ns).as_deref(), Some("99"));
    let creds = query_strings(&ns.base_url, &format!("SELECT CAST(creds AS CHAR) FROM {}", ns.table("sessions"))).unwrap();
    assert_eq!(creds, vec![Some("creds".to_string())]);
}

#[test]
fn create_false_refuses_a_prefix_without_tables_and_creates_nothing() {
    let Some(ns) = MysqlNamespace::new() else { return };
    let err = open(&ns, false).map(|_| ()).unwrap_err();
    assert_eq!(err.code(), "ERR_STORE_NOT_FOUND", "{err}");
    assert!(tables_of(&ns).is_empty());
    let url = StoreUrl::parse(&ns.url("mysql")).unwrap();
    let err = open_url(&url, OpenOptions { create: false, ..OpenOptions::default() }).map(|_| ()).unwrap_err();
    assert_eq!(err.code(), "ERR_STORE_NOT_FOUND");
    open(&ns, true).unwrap();
    open(&ns, false).unwrap();
    assert_eq!(tables_of(&ns).len(), 5);
}

#[test]
fn a_migration_cut_short_between_statements_is_completed_by_the_next_open() {
    let Some(ns) = MysqlNamespace::new() else { return };
    // What a crash after the first DDL statement of step 1 leaves: one table, no version row.
    exec(&ns.base_url, &[format!(
        "CREATE TABLE {} (session VARBINARY(255) NOT NULL, creds LONGBLOB NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (session)) ENGINE=InnoDB",
        ns.table("sessions")
    )])
    .unwrap();
    assert_eq!(open(&ns, false).map(|_| ()).unwrap_err().code(), "ERR_STORE_NOT_FOUND");
    let mut store = open(&ns, true).unwrap();
    store.apply("s", &[put("k", b"v")], None).unwrap();
    assert_eq!(version_of(&ns), Some(SCHEMA_VERSION.to_string()));
    assert_eq!(tables_of(&ns).len(), 5);
}

/// What version 1 (before the store records) created, from its own migration file.
fn create_version_1(ns: &MysqlNamespace) {
    let step = include_str!("../src/core/sql/mysql/migrations/001_initial.sql");
    let body: Vec<&str> = step.lines().filter(|line| !line.trim_start().starts_with("--")).collect();
    let mut statements: Vec<String> =
        body.join("\n").split(';').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.replace("{p}", &ns.prefix)).collect();
    statements.push(format!("INSERT INTO {} (id, version) VALUES (1, 1)", ns.table("schema_version")));
    exec(&ns.base_url, &statements).unwrap();
}

#[test]
fn a_database_of_the_previous_version_is_upgraded_and_keeps_its_sessions() {
    let Some(ns) = MysqlNamespace::new() else { return };
    create_version_1(&ns);
    assert_eq!(tables_of(&ns).len(), 4);
    // A session as version 1 wrote it: its row, a key, the placeholder lease row.
    exec(
        &ns.base_url,
        &[
            format!("INSERT INTO {} (session, creds, updated_at) VALUES ('s', 'creds', 1)", ns.table("sessions")),
            format!("INSERT INTO {} (session, type, id, value) VALUES ('s', 't', 'k', 'v')", ns.table("keys")),
            format!("INSERT INTO {} VALUES ('s', 0, '', '', '', 0, 0, 0)", ns.table("leases")),
        ],
    )
    .unwrap();
    assert_eq!(open(&ns, false).map(|_| ()).unwrap_err(), StoreError::OlderSchema { found: 1, current: SCHEMA_VERSION });
    assert_eq!(version_of(&ns).as_deref(), Some("1"), "not upgraded without create");
    let mut store = open(&ns, true).unwrap();
    assert_eq!(version_of(&ns), Some(SCHEMA_VERSION.to_string()));
    assert_eq!(tables_of(&ns).len(), 5, "the records table added");
    assert_eq!(store.sessions().unwrap(), ["s"]);
    assert_eq!(store.get_creds("s").unwrap(), Some(b"creds".to_vec()));
    assert_eq!(store.get_keys("s", "t", &["k".into()]).unwrap(), vec![Some(b"v".to_vec())]);
    assert_eq!(store.meta("cipher").unwrap(), None);
    assert!(store.swap_meta("cipher", None, Some(b"salt")).unwrap());
    assert!(store.check().unwrap().is_empty());
    drop(store);
    assert_eq!(open(&ns, false).unwrap().meta("cipher").unwrap(), Some(b"salt".to_vec()));
}

/// Two stores (two pools, as two processes) creating the same record at once, round after
/// round: exactly one wins each time, and both then read the winner's value.
#[test]
fn two_stores_creating_one_record_at_once_one_wins_and_both_read_its_value() {
    const ROUNDS: usize = 25;
    let Some(ns) = MysqlNamespace::new() else { return };
    let ns = Arc::new(ns);
    open(&ns, true).unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|i| {
            let (ns, barrier) = (ns.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut store = open(&ns, true).unwrap();
                let mine = format!("from {i}").into_bytes();
                (0..ROUNDS)
                    .map(|round| {
                        let name = format!("cipher{round}");
                        barrier.wait();
                        let won = store.swap_meta(&name, None, Some(&mine)).unwrap();
                        (won, store.meta(&name).unwrap())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let outcomes: Vec<Vec<(bool, Option<Vec<u8>>)>> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    assert!(outcomes.iter().all(|rounds| rounds.len() == ROUNDS));
    for (round, ((won_0, read_0), (won_1, read_1))) in outcomes[0].iter().zip(&outcomes[1]).enumerate() {
        assert!(won_0 != won_1, "round {round}: exactly one creator wins ({won_0}, {won_1})");
        let winner = format!("from {}", if *won_0 { 0 } else { 1 }).into_bytes();
        assert_eq!((read_0.as_ref(), read_1.as_ref()), (Some(&winner), Some(&winner)), "round {round}");
    }
    // Row counts are rows matched: replacing a value by itself is a swap.
    let mut store = open(&ns, true).unwrap();
    let now = store.meta("cipher0").unwrap().unwrap();
    assert!(store.swap_meta("cipher0", Some(&now), Some(&now)).unwrap());
    assert!(!store.swap_meta("cipher0", Some(b"other"), Some(&now)).unwrap());
    assert_eq!(store.swap_meta(&"n".repeat(256), None, Some(b"v")).unwrap_err().code(), "ERR_INVALID_ARG");
    assert_eq!(store.meta(&"n".repeat(256)).unwrap(), None);
}

#[test]
fn names_longer_than_their_columns_are_refused_before_anything_is_written() {
    let Some(ns) = MysqlNamespace::new() else { return };
    let mut store = open(&ns, true).unwrap();
    let long_session = "s".repeat(256);
    assert_eq!(store.set_creds(&long_session, b"c", None).unwrap_err().code(), "ERR_INVALID_ARG");
    let batch = [put("fine", b"v"), put(&"i".repeat(1025), b"v")];
    assert_eq!(store.apply("s", &batch, None).unwrap_err().code(), "ERR_INVALID_ARG");
    let long_type = KeyWrite { kind: "t".repeat(256), id: "1".into(), value: None };
    assert_eq!(store.apply("s", &[long_type], None).unwrap_err().code(), "ERR_INVALID_ARG");
    assert_eq!(store.get_keys("s", "t", &["fine".into()]).unwrap(), vec![None]);
    assert!(store.sessions().unwrap().is_empty());
    // The longest names fit.
    store.apply(&"s".repeat(255), &[KeyWrite { kind: "t".repeat(255), id: "é".repeat(512), value: Some(b"v".to_vec()) }], None).unwrap();
    // In a group, the refused write fails alone.
    let good = [put("g", b"v")];
    let results = store.write_group(&[
        Write::Keys { session: "s", writes: &batch, fence: None },
        Write::Keys { session: "s", writes: &good, fence: None },
        Write::Creds { session: &long_session, creds: b"c", fence: None },
    ]);
    let codes: Vec<&str> = results.iter().map(|r| r.as_ref().map_or_else(|e| e.code(), |()| "ok")).collect();
    assert_eq!(codes, ["ERR_INVALID_ARG", "ok", "ERR_INVALID_ARG"]);
    assert_eq!(store.get_keys("s", "t", &["g".into(), "fine".into()]).unwrap(), vec![Some(b"v".to_vec()), None]);
}

#[test]
fn a_value_larger_than_the_server_accepts_fails_with_a_code_and_the_batch_writes_nothing() {
    let Some(ns) = MysqlNamespace::new() else { return };
    let mut store = open(&ns, true).unwrap();
    let max: usize =
        query_strings(&ns.base_url, "SELECT CAST(@@max_allowed_packet AS CHAR)").unwrap()[0].as_ref().unwrap().parse().unwrap();
    let huge = vec![1u8; max + 1];
    let err = store.apply("s", &[put("small", b"v"), put("huge", &huge)], None).unwrap_err();
    assert_eq!(err.code(), "ERR_INVALID_ARG", "{err}");
    assert!(err.to_string().contains("max_allowed_packet"), "{err}");
    assert_eq!(store.set_creds("s", &huge, None).unwrap_err().code(), "ERR_INVALID_ARG");
    assert_eq!(store.get_keys("s", "t", &["small".into()]).unwrap(), vec![None]);
    // Many values that fit one by one but not in one statement are split across statements.
    let value = vec![2u8; max / 8];
    let writes: Vec<KeyWrite> = (0..12).map(|i| put(&i.to_string(), &value)).collect();
    store.apply("s", &writes, None).unwrap();
    assert_eq!(store.list_keys("s").unwrap().len(), 12);
}

#[test]
fn a_lock_wait_timeout_is_unavailable_by_its_error_number_and_a_missing_table_is_io() {
    let Some(ns) = MysqlNamespace::new() else { return };
    let options = SqlOptions { command_timeout: Duration::from_millis(4_000), ..ns.options() };
    let mut store = MysqlStore::open(&ns.target(), options, true).unwrap();
    store.set_creds("s", b"one", None).unwrap();
    // Another connection holds the session's lease row locked.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let (url, leases) = (ns.base_url.clone(), ns.table("leases"));
    let holder = std::thread::spawn(move || {
        use sqlx::Connection;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut conn = sqlx::mysql::MySqlConnection::connect(&url).await.unwrap();
            let mut tx = conn.begin().await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("SELECT * FROM {leases} WHERE session = 's' FOR UPDATE")))
                .execute(&mut *tx)
                .await
                .unwrap();
            locked_tx.send(()).unwrap();
            let _ = tokio::task::spawn_blocking(move || done_rx.recv()).await;
            tx.rollback().await.unwrap();
        });
    });
    locked_rx.recv().unwrap();
    let err = store.set_creds("s", b"two", None).unwrap_err();
    done_tx.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    assert!(err.to_string().contains("1205"), "the server's lock wait timeout, by its number: {err}");
    assert_eq!(store.get_creds("s").unwrap(), Some(b"one".to_vec()), "nothing written, and the store goes on");
    exec(&ns.base_url, &[format!("DROP TABLE {}", ns.table("keys"))]).unwrap();
    let err = store.get_keys("s", "t", &["1".into()]).unwrap_err();
    assert_eq!(err.code(), "ERR_STORE_IO", "{err}");
}

#[test]
fn a_store_is_identified_by_its_server_database_and_prefix_not_by_its_url() {
    let Some(a) = MysqlNamespace::new() else { return };
    let Some(b) = MysqlNamespace::new() else { return };
    let from_url = |url: &str| open_url(&StoreUrl::parse(url).unwrap(), OpenOptions::default()).unwrap().identity();
    let id = from_url(&a.url("mysql"));
    assert!(id.starts_with("mysql:") && id.ends_with(&format!(":{}", a.prefix)), "{id}");
    assert!(!id.contains("unverified"), "{id}");
    assert_eq!(from_url(&a.url("mariadb")), id);
    assert_eq!(from_url(&a.url("mariadb").replace("127.0.0.1", "localhost")), id, "another host name, the same server");
    assert_ne!(from_url(&b.url("mysql")), id);
}

#[test]
fn writes_on_sessions_never_leased_leave_no_lease_to_see() {
    let Some(ns) = MysqlNamespace::new() else { return };
    let mut store = open(&ns, true).unwrap();
    store.apply("s", &[put("k", b"v")], None).unwrap();
    store.clear_keys("other", None).unwrap();
    assert_eq!(store.lease("s").unwrap(), None);
    assert!(store.leases().unwrap().is_empty());
    let granted = store.acquire_lease("s", &LeaseRequest::new(30_000, Claim::Refuse, "h")).unwrap();
    assert_eq!(granted.epoch, 1);
    assert_eq!(store.leases().unwrap().len(), 1);
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn an_unreachable_server_fails_unavailable_within_the_connect_timeout_without_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let target = SqlTarget::parse(&format!("mysql://root:s3cret@127.0.0.1:{port}/test")).unwrap();
    let options = SqlOptions { connect_timeout: Duration::from_millis(1_000), ..SqlOptions::default() };
    let err = MysqlStore::open(&target, options, true).map(|_| ()).unwrap_err();
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

/// Polls `call` until it succeeds, failing at `within`.
fn eventually<T>(within: Duration, mut call: impl FnMut() -> Result<T, StoreError>) -> T {
    let deadline = Instant::now() + within;
    loop {
        match call() {
            Ok(value) => return value,
            Err(err) => {
                assert!(Instant::now() < deadline, "still failing: {err}");
                assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn a_killed_server_fails_calls_unavailable_and_the_same_store_recovers_with_every_acknowledged_write_and_no_torn_batch() {
    let dir = std::env::temp_dir().join(format!("bra-mariadb-{}", std::process::id()));
    let Some(mut server) = PrivateMariadb::create(&dir) else { return };
    let target = SqlTarget::parse(&server.root_url("t")).unwrap();
    let options = SqlOptions {
        namespace: Some("f_".into()),
        connect_timeout: Duration::from_millis(1_000),
        command_timeout: Duration::from_millis(2_000),
        pool_size: 2,
    };
    let mut store = MysqlStore::open(&target, options.clone(), true).unwrap();
    store.set_creds("main", b"creds-1", None).unwrap();
    store.apply("main", &[put("a", b"1"), put("b", b"2")], None).unwrap();
    assert_every_connection_has_nodelay(server.port);

    // A writer of batches of 500 keys, each batch's keys all holding the batch's number.
    const BATCH: usize = 500;
    let acked = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (acked, target, options) = (acked.clone(), target.clone(), options.clone());
        std::thread::spawn(move || {
            let mut store = MysqlStore::open(&target, options, true).unwrap();
            for n in 0.. {
                let writes: Vec<KeyWrite> = (0..BATCH).map(|i| put(&format!("{n}:{i}"), n.to_string().as_bytes())).collect();
                match store.apply("batches", &writes, None) {
                    Ok(()) => acked.store(n + 1, Ordering::SeqCst),
                    Err(err) => return (n, err),
                }
            }
            unreachable!()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the writer acknowledged nothing");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill();
    let (in_flight, err) = writer.join().unwrap();
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    let acknowledged = acked.load(Ordering::SeqCst);
    assert_eq!(in_flight, acknowledged);

    // Down: every call fails unavailable (within its deadline: nothing hangs).
    let err = store.get_creds("main").unwrap_err();
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    assert_eq!(store.apply("main", &[put("c", b"3")], None).unwrap_err().code(), "ERR_STORE_UNAVAILABLE");

    server.start();
    // The same store, not reopened, works again.
    let creds = eventually(Duration::from_secs(30), || store.get_creds("main"));
    assert_eq!(creds, Some(b"creds-1".to_vec()));
    assert_eq!(
        store.get_keys("main", "t", &["a".into(), "b".into(), "c".into()]).unwrap(),
        vec![Some(b"1".to_vec()), Some(b"2".to_vec()), None]
    );
    let keys = store.list_keys("batches").unwrap();
    for n in 0..acknowledged {
        let whole = keys.iter().filter(|k| k.id.starts_with(&format!("{n}:"))).count();
        assert_eq!(whole, BATCH, "acknowledged batch {n} is whole");
    }
    let torn = keys.iter().filter(|k| k.id.starts_with(&format!("{in_flight}:"))).count();
    assert!(torn == 0 || torn == BATCH, "the batch in flight at the kill is whole or absent: {torn} of {BATCH} keys");
    assert_eq!(keys.len(), acknowledged * BATCH + torn, "nothing else");
    store.set_creds("main", b"creds-2", None).unwrap();
    assert!(store.check().unwrap().is_empty());
    assert_every_connection_has_nodelay(server.port);
}

/// sqlx 0.9.0 does not set `TCP_NODELAY`; the store does, on each connection as it opens
/// (without it every write larger than a segment waits ~40 ms for the server's delayed ACK).
fn assert_every_connection_has_nodelay(port: u16) {
    let sockets = sockets::nodelay_of_sockets_to(port);
    assert!(!sockets.is_empty(), "the store holds a connection");
    assert!(sockets.iter().all(|&on| on), "TCP_NODELAY on every connection: {sockets:?}");
}

#[test]
fn acquisitions_and_unfenced_writes_racing_on_new_sessions_serialize_without_deadlocks() {
    let Some(ns) = MysqlNamespace::new() else { return };
    let ns = Arc::new(ns);
    const SESSIONS: usize = 150;
    let writer = {
        let ns = ns.clone();
        std::thread::spawn(move || {
            let mut store = open(&ns, true).unwrap();
            (0..SESSIONS)
                .map(|i| match store.apply(&format!("race{i}"), &[put("k", b"v")], None) {
                    Ok(()) => true,
                    Err(err) if err.code() == "ERR_SESSION_LOCKED" => false,
                    Err(err) => panic!("an unfenced write failed otherwise: {err}"),
                })
                .collect::<Vec<bool>>()
        })
    };
    let mut store = open(&ns, true).unwrap();
    let other = |i: usize| LeaseRequest {
        holder: format!("elsewhere-{i}"),
        process: "elsewhere".into(),
        host: "h".into(),
        pid: 1,
        lease_ms: 60_000,
        claim: Claim::Refuse,
    };
    for i in 0..SESSIONS {
        assert_eq!(store.acquire_lease(&format!("race{i}"), &other(i)).unwrap().epoch, 1);
    }
    let written = writer.join().unwrap();
    for (i, written) in written.into_iter().enumerate() {
        let stored = store.get_keys(&format!("race{i}"), "t", &["k".into()]).unwrap();
        assert_eq!(stored[0].is_some(), written, "race{i}: a write is stored exactly when it was acknowledged");
        // No write ended the live lease: each went before the acquisition or was refused.
        assert_eq!(store.lease(&format!("race{i}")).unwrap().unwrap().holder, format!("elsewhere-{i}"));
    }
    assert!(store.check().unwrap().is_empty());
}

#[test]
fn tls_urls_connect_encrypted_and_verify_the_server_certificate() {
    let dir = std::env::temp_dir().join(format!("bra-mariadb-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let certs = tls::make_certificates(&dir);
    // The server refuses any connection in clear (with the grant tables on: MariaDB does not
    // check secure transport without them): a store that connects is encrypted.
    let extra = vec![
        format!("--ssl-ca={}", certs.ca.display()),
        format!("--ssl-cert={}", certs.cert.display()),
        format!("--ssl-key={}", certs.key.display()),
        "--require-secure-transport=ON".to_owned(),
    ];
    let Some(server) = PrivateMariadb::create_with(&dir.join("server"), extra) else { return };
    let options = SqlOptions { namespace: Some("tls_".into()), ..SqlOptions::default() };
    let open =
        |query: &str| MysqlStore::open(&SqlTarget::parse(&format!("{}?{query}", server.root_url("t"))).unwrap(), options.clone(), true);
    let ca = certs.ca.display();
    for query in
        ["ssl-mode=REQUIRED".to_owned(), format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"), format!("ssl-mode=VERIFY_CA&ssl-ca={ca}")]
    {
        let mut store = open(&query).unwrap_or_else(|e| panic!("{query}: {e}"));
        store.apply("s", &[put("k", b"v")], None).unwrap();
        assert_eq!(store.get_keys("s", "t", &["k".into()]).unwrap(), vec![Some(b"v".to_vec())], "{query}");
    }
    assert!(open("ssl-mode=DISABLED").is_err(), "the server takes no connection in clear");
    // A certificate no trusted CA signed: refused, with a code and a reason.
    let err = open("ssl-mode=VERIFY_IDENTITY").err().expect("an untrusted certificate is refused");
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_unix_socket_url_reaches_the_same_store_as_tcp() {
    let dir = std::env::temp_dir().join(format!("bra-mariadb-socket-{}", std::process::id()));
    let Some(server) = PrivateMariadb::create(&dir) else { return };
    let options = SqlOptions { namespace: Some("sock_".into()), ..SqlOptions::default() };
    let tcp_url = server.root_url("t");
    let socket_url = format!("mysql://root@localhost/t?socket={}", dir.join("s").display());
    let mut tcp = MysqlStore::open(&SqlTarget::parse(&tcp_url).unwrap(), options.clone(), true).unwrap();
    let mut socket = MysqlStore::open(&SqlTarget::parse(&socket_url).unwrap(), options, true).unwrap();
    tcp.apply("s", &[put("k", b"over tcp")], None).unwrap();
    assert_eq!(socket.get_keys("s", "t", &["k".into()]).unwrap(), vec![Some(b"over tcp".to_vec())]);
    assert_eq!(socket.identity(), tcp.identity(), "one store, however it is reached");
    drop((tcp, socket, server));
    let _ = std::fs::remove_dir_all(&dir);
}
