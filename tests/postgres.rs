//! The PostgreSQL backend beyond the conformance suite: its migrations (concurrent first opens,
//! a newer schema refused untouched, `create: false`), URLs (a unix socket), its identity, and
//! faults: a private server killed with SIGKILL and restarted on the same port and data.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use baileys_rust_auth::core::codec::{encode, Value};
use baileys_rust_auth::core::error::StoreError;
use baileys_rust_auth::core::sql::postgres::{PostgresStore, SCHEMA_VERSION};
use baileys_rust_auth::core::sql::{SqlOptions, SqlTarget};
use baileys_rust_auth::core::store::{KeyWrite, Store};

#[path = "common/postgres_server.rs"]
mod postgres_server;
use postgres_server::{execute, machine_url, query_text, PrivateServer, TestSchema};
#[path = "common/sockets.rs"]
mod sockets;
#[path = "common/tls.rs"]
mod tls;

fn v(raw: &[u8]) -> Vec<u8> {
    encode(&Value::Bytes(raw.to_vec()))
}

fn put(id: &str, value: &[u8]) -> KeyWrite {
    KeyWrite { kind: "t".into(), id: id.into(), value: Some(v(value)) }
}

fn version_of(schema: &TestSchema) -> Option<String> {
    query_text(&schema.url, &format!("SELECT max(version)::text FROM \"{}\".schema_version", schema.name))
}

#[test]
fn several_threads_opening_a_new_schema_at_once_create_it_once() {
    let Some(url) = machine_url() else { return };
    let schema = Arc::new(TestSchema::new(&url));
    let barrier = Arc::new(Barrier::new(6));
    let threads: Vec<_> = (0..6)
        .map(|i| {
            let (schema, barrier) = (schema.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut store = schema.open(true).unwrap();
                store.apply(&format!("s{i}"), &[put("k", &[i as u8])], None).unwrap();
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(version_of(&schema).as_deref(), Some(SCHEMA_VERSION.to_string().as_str()));
    let steps = query_text(&url, &format!("SELECT count(*)::text FROM \"{}\".schema_version", schema.name));
    assert_eq!(steps, Some(SCHEMA_VERSION.to_string()), "each step applied once");
    let mut store = schema.open(true).unwrap();
    assert_eq!(store.sessions().unwrap(), (0..6).map(|i| format!("s{i}")).collect::<Vec<_>>());
}

#[test]
fn a_schema_of_a_newer_version_is_refused_untouched() {
    let Some(url) = machine_url() else { return };
    let schema = TestSchema::new(&url);
    schema.open(true).unwrap().apply("s", &[put("k", b"kept")], None).unwrap();
    execute(&url, &format!("INSERT INTO \"{}\".schema_version VALUES (99, '099_future', 0)", schema.name));
    for create in [true, false] {
        let err = schema.open(create).err().unwrap();
        assert_eq!(err, StoreError::Version { found: 99, supported: SCHEMA_VERSION }, "create: {create}");
        assert_eq!(err.code(), "ERR_STORE_VERSION");
    }
    assert_eq!(version_of(&schema).as_deref(), Some("99"));
    let keys = query_text(&url, &format!("SELECT count(*)::text FROM \"{}\".keys", schema.name));
    assert_eq!(keys.as_deref(), Some("1"), "the data is as it was");
}

#[test]
fn without_create_missing_tables_are_not_found_and_an_older_schema_is_not_upgraded() {
    let Some(url) = machine_url() else { return };
    let schema = TestSchema::new(&url);
    let err = schema.open(false).err().unwrap();
    assert_eq!(err.code(), "ERR_STORE_NOT_FOUND", "{err}");
    let exists = query_text(&url, &format!("SELECT count(*)::text FROM pg_namespace WHERE nspname = '{}'", schema.name));
    assert_eq!(exists.as_deref(), Some("0"), "nothing was created");

    schema.open(true).unwrap().set_creds("s", &encode(&Value::Object(vec![])), None).unwrap();
    // As the previous version left it: the last step not applied, so no records table.
    execute(
        &url,
        &format!("DELETE FROM \"{s}\".schema_version WHERE version = {SCHEMA_VERSION}; DROP TABLE \"{s}\".store_records", s = schema.name),
    );
    let err = schema.open(false).err().unwrap();
    assert_eq!(err, StoreError::OlderSchema { found: SCHEMA_VERSION - 1, current: SCHEMA_VERSION });
    assert_eq!(version_of(&schema), Some((SCHEMA_VERSION - 1).to_string()), "not upgraded");
    let mut store = schema.open(true).unwrap();
    assert_eq!(version_of(&schema), Some(SCHEMA_VERSION.to_string()), "upgraded by an open with create");
    assert!(store.get_creds("s").unwrap().is_some());
    drop(store);
    schema.open(false).unwrap();
}

/// What version 2 (before the store records) created, from its own migration files, with
/// their version rows.
fn create_version_2(schema: &TestSchema) {
    let quoted = format!("\"{}\"", schema.name);
    let steps = [
        ("001_initial", include_str!("../src/core/sql/postgres/migrations/001_initial.sql")),
        ("002_write_functions", include_str!("../src/core/sql/postgres/migrations/002_write_functions.sql")),
    ];
    for (n, (name, sql)) in steps.into_iter().enumerate() {
        execute(&schema.url, &sql.replace("__SCHEMA__", &quoted));
        execute(&schema.url, &format!("INSERT INTO {quoted}.schema_version VALUES ({}, '{name}', 0)", n + 1));
    }
}

#[test]
fn a_schema_of_the_previous_version_is_upgraded_and_keeps_its_sessions() {
    let Some(url) = machine_url() else { return };
    let schema = TestSchema::new(&url);
    create_version_2(&schema);
    // A session as version 2 wrote it, through its own functions.
    let (s, creds) = (format!("\"{}\"", schema.name), encode(&Value::Object(vec![])));
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    execute(
        &url,
        &format!(
            "SELECT * FROM {s}.set_creds('\\x73', NULL, NULL, 1, '\\x{}');
             SELECT * FROM {s}.apply_keys('\\x73', NULL, NULL, 1, '{{}}', '{{}}', ARRAY['\\x74'::bytea], ARRAY['\\x6b'::bytea], ARRAY['\\x{}'::bytea])",
            hex(&creds),
            hex(&v(b"kept"))
        ),
    );
    assert_eq!(version_of(&schema).as_deref(), Some("2"));
    assert_eq!(schema.open(false).err().unwrap(), StoreError::OlderSchema { found: 2, current: SCHEMA_VERSION });
    let mut store = schema.open(true).unwrap();
    assert_eq!(version_of(&schema), Some(SCHEMA_VERSION.to_string()));
    assert_eq!(store.sessions().unwrap(), ["s"]);
    assert_eq!(store.get_creds("s").unwrap(), Some(creds));
    assert_eq!(store.get_keys("s", "t", &["k".into()]).unwrap(), vec![Some(v(b"kept"))]);
    assert_eq!(store.meta("cipher").unwrap(), None);
    assert!(store.swap_meta("cipher", None, Some(b"salt")).unwrap());
    assert!(store.check().unwrap().is_empty());
    drop(store);
    assert_eq!(schema.open(false).unwrap().meta("cipher").unwrap(), Some(b"salt".to_vec()));
}

/// Two stores (two pools, as two processes) creating the same record at once, round after
/// round: exactly one wins each time, and both then read the winner's value.
#[test]
fn two_stores_creating_one_record_at_once_one_wins_and_both_read_its_value() {
    const ROUNDS: usize = 25;
    let Some(url) = machine_url() else { return };
    let schema = Arc::new(TestSchema::new(&url));
    schema.open(true).unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|i| {
            let (schema, barrier) = (schema.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut store = schema.open(true).unwrap();
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
    let mut store = schema.open(true).unwrap();
    let now = store.meta("cipher0").unwrap().unwrap();
    assert!(store.swap_meta("cipher0", Some(&now), Some(&now)).unwrap(), "replacing a value by itself is a swap");
    assert_eq!(store.swap_meta(&"n".repeat(256), None, Some(b"v")).unwrap_err().code(), "ERR_INVALID_ARG");
}

#[test]
fn a_unix_socket_url_reaches_the_same_store_as_tcp() {
    let Some(server) = PrivateServer::start() else { return };
    let open = |url: &str, schema: &str| {
        let options = SqlOptions { namespace: Some(schema.into()), ..SqlOptions::default() };
        PostgresStore::open(&SqlTarget::parse(url).unwrap(), options, true).unwrap()
    };
    let mut tcp = open(&server.url(), "baileys");
    tcp.apply("s", &[put("k", b"over tcp")], None).unwrap();
    let mut socket = open(&server.socket_url(), "baileys");
    assert_eq!(socket.get_keys("s", "t", &["k".into()]).unwrap(), vec![Some(v(b"over tcp"))]);
    assert_eq!(socket.identity(), tcp.identity(), "one store through two URLs");
    assert!(tcp.identity().starts_with("postgres:") && tcp.identity().ends_with(":postgres:baileys"), "{}", tcp.identity());
    assert_ne!(open(&server.url(), "other").identity(), tcp.identity(), "another schema is another store");
}

#[test]
fn an_unreachable_server_fails_the_open_unavailable_without_showing_the_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://u:s3cret@127.0.0.1:{port}/db");
    let options = SqlOptions { connect_timeout: Duration::from_millis(500), ..SqlOptions::default() };
    let err = PostgresStore::open(&SqlTarget::parse(&url).unwrap(), options, true).err().unwrap();
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}

/// Polls `call` until it succeeds (every failure meanwhile `ERR_STORE_UNAVAILABLE`), within a
/// minute.
fn until_ok<T>(what: &str, mut call: impl FnMut() -> baileys_rust_auth::core::error::Result<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match call() {
            Ok(value) => return value,
            Err(err) => {
                assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{what}: {err}");
                assert!(Instant::now() < deadline, "{what}: still failing: {err}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

fn fault_options() -> SqlOptions {
    SqlOptions { connect_timeout: Duration::from_secs(1), command_timeout: Duration::from_secs(3), ..SqlOptions::default() }
}

#[test]
fn a_killed_server_fails_calls_unavailable_and_the_same_store_recovers_with_every_acknowledged_write() {
    let Some(mut server) = PrivateServer::start() else { return };
    let target = SqlTarget::parse(&server.url()).unwrap();
    let mut store = PostgresStore::open(&target, fault_options(), true).unwrap();
    let ids: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    for id in &ids {
        store.apply("s", &[put(id, id.as_bytes())], None).unwrap();
    }
    let creds = encode(&Value::Object(vec![("c".into(), Value::Bytes(b"creds".to_vec()))]));
    store.set_creds("s", &creds, None).unwrap();
    assert_every_connection_has_nodelay(server.port);

    server.kill();
    let unavailable = |result: Result<(), StoreError>, what: &str| {
        assert_eq!(result.unwrap_err().code(), "ERR_STORE_UNAVAILABLE", "{what}");
    };
    unavailable(store.apply("s", &[put("late", b"x")], None), "a key batch");
    unavailable(store.set_creds("s", &creds, None), "saveCreds");
    unavailable(store.get_creds("s").map(drop), "a read");
    unavailable(store.sessions().map(drop), "a listing");
    unavailable(store.lease("s").map(drop), "a lease read");

    server.restart();
    until_ok("the same store after the restart", || store.get_creds("s"));
    assert_eq!(store.get_creds("s").unwrap(), Some(creds));
    let values = store.get_keys("s", "t", &ids).unwrap();
    for (id, value) in ids.iter().zip(values) {
        assert_eq!(value, Some(v(id.as_bytes())), "acknowledged {id}");
    }
    store.apply("s", &[put("after", b"restart")], None).unwrap();
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
fn a_batch_in_flight_when_the_server_is_killed_is_whole_or_absent() {
    const KEYS: usize = 300;
    let Some(mut server) = PrivateServer::start() else { return };
    let target = SqlTarget::parse(&server.url()).unwrap();
    let batch = |b: usize| -> Vec<KeyWrite> { (0..KEYS).map(|i| put(&format!("{b}:{i}"), &[b as u8; 200])).collect() };
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (target, written) = (target.clone(), written.clone());
        std::thread::spawn(move || {
            let mut store = PostgresStore::open(&target, fault_options(), true).unwrap();
            let mut acknowledged = Vec::new();
            for b in 0.. {
                match store.apply("s", &batch(b), None) {
                    Ok(()) => {
                        acknowledged.push(b);
                        written.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(err) => {
                        assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
                        return (acknowledged, b);
                    }
                }
            }
            unreachable!()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while written.load(Ordering::SeqCst) < 5 {
        assert!(Instant::now() < deadline, "the writer wrote nothing");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    let (acknowledged, last) = writer.join().unwrap();
    server.restart();
    let mut store = until_ok("opening after the restart", || PostgresStore::open(&target, fault_options(), true));
    for b in 0..=last {
        let ids: Vec<String> = (0..KEYS).map(|i| format!("{b}:{i}")).collect();
        let present = store.get_keys("s", "t", &ids).unwrap().iter().filter(|value| value.is_some()).count();
        if acknowledged.contains(&b) {
            assert_eq!(present, KEYS, "acknowledged batch {b}");
        } else {
            assert!(present == 0 || present == KEYS, "batch {b} in flight at the kill is torn: {present} of {KEYS} keys");
        }
    }
}

/// Triggers in the store's schema that fail a key write: `poison` ids when written, `at-commit`
/// ids when the transaction commits (a deferred constraint trigger).
fn poison(schema: &TestSchema) {
    let s = &schema.name;
    execute(
        &schema.url,
        &format!(
            "CREATE FUNCTION \"{s}\".poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.id = convert_to(TG_ARGV[0], 'UTF8') THEN RAISE EXCEPTION 'poisoned %', TG_ARGV[0]; END IF; RETURN NEW; END $$;
             CREATE TRIGGER poison BEFORE INSERT ON \"{s}\".keys FOR EACH ROW EXECUTE FUNCTION \"{s}\".poison('poison');
             CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON \"{s}\".keys DEFERRABLE INITIALLY DEFERRED
                 FOR EACH ROW EXECUTE FUNCTION \"{s}\".poison('at-commit');"
        ),
    );
}

#[test]
fn a_write_failing_halfway_in_a_group_is_rolled_back_alone_and_the_others_commit() {
    use baileys_rust_auth::core::store::Write;
    let Some(url) = machine_url() else { return };
    let schema = TestSchema::new(&url);
    let mut store = schema.open(true).unwrap();
    poison(&schema);
    let first = [put("a", b"1")];
    // Its first row is written before its second fails: the savepoint takes it back.
    let torn = [put("b", b"2"), put("poison", b"x")];
    let last = [put("c", b"3")];
    let creds = encode(&Value::Object(vec![]));
    let results = store.write_group(&[
        Write::Keys { session: "s", writes: &first, fence: None },
        Write::Keys { session: "s", writes: &torn, fence: None },
        Write::Creds { session: "s", creds: &creds, fence: None },
        Write::Keys { session: "s", writes: &last, fence: None },
    ]);
    let err = results[1].as_ref().unwrap_err();
    assert!(err.to_string().contains("poisoned"), "{err}");
    assert_eq!(err.code(), "ERR_STORE_IO");
    assert_eq!(results.iter().map(Result::is_ok).collect::<Vec<_>>(), [true, false, true, true]);
    let ids: Vec<String> = ["a", "b", "c"].map(String::from).into();
    assert_eq!(store.get_keys("s", "t", &ids).unwrap(), vec![Some(v(b"1")), None, Some(v(b"3"))]);
    assert_eq!(store.get_creds("s").unwrap(), Some(creds));
}

#[test]
fn a_group_whose_commit_fails_fails_whole_and_writes_nothing() {
    use baileys_rust_auth::core::store::Write;
    let Some(url) = machine_url() else { return };
    let schema = TestSchema::new(&url);
    let mut store = schema.open(true).unwrap();
    poison(&schema);
    let (before, bad) = ([put("a", b"1")], [put("at-commit", b"x")]);
    let creds = encode(&Value::Object(vec![]));
    let results = store.write_group(&[
        Write::Keys { session: "s", writes: &before, fence: None },
        Write::Keys { session: "s", writes: &bad, fence: None },
        Write::Creds { session: "s", creds: &creds, fence: None },
    ]);
    assert!(results.iter().all(|r| r.as_ref().is_err_and(|e| e.to_string().contains("poisoned"))), "{results:?}");
    assert_eq!(store.sessions().unwrap(), Vec::<String>::new(), "the writes before it are gone too, so none is acknowledged");
    // The store goes on: its connection was not left in the failed transaction.
    store.apply("s", &before, None).unwrap();
    assert_eq!(store.get_keys("s", "t", &["a".into()]).unwrap(), vec![Some(v(b"1"))]);
}

#[test]
fn a_write_past_its_deadline_fails_unavailable_and_the_store_goes_on() {
    let Some(url) = machine_url() else { return };
    let schema = TestSchema::new(&url);
    let options = SqlOptions { command_timeout: Duration::from_secs(1), ..schema.options() };
    let mut store = PostgresStore::open(&SqlTarget::parse(&url).unwrap(), options, true).unwrap();
    store.apply("s", &[put("before", b"1")], None).unwrap();

    // Another client holds the session's lease row locked, so the next write waits for it.
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let lock_sql = format!("SELECT 1 FROM \"{}\".leases WHERE session = convert_to('s', 'UTF8') FOR UPDATE", schema.name);
    let holder = {
        let url = url.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
                let mut tx = conn.begin().await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(lock_sql)).execute(&mut *tx).await.unwrap();
                locked_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                tx.rollback().await.unwrap();
            });
        })
    };
    locked.recv().unwrap();
    let err = store.apply("s", &[put("waiting", b"2")], None).unwrap_err();
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    // Reads take no lease lock: the store answers meanwhile, on another connection.
    assert_eq!(store.get_keys("s", "t", &["before".into()]).unwrap(), vec![Some(v(b"1"))]);
    release.send(()).unwrap();
    holder.join().unwrap();
    until_ok("a write once the lock is gone", || store.apply("s", &[put("after", b"3")], None));
    assert_eq!(store.get_keys("s", "t", &["after".into()]).unwrap(), vec![Some(v(b"3"))]);
}

#[test]
fn tls_urls_connect_encrypted_and_verify_the_server_certificate() {
    let Some(mut server) = PrivateServer::start() else { return };
    let certs = tls::make_certificates(&server.dir);
    server.enable_tls(&certs.cert, &certs.key);
    let ca = certs.ca.display();
    for query in
        ["sslmode=require".to_owned(), format!("sslmode=verify-full&sslrootcert={ca}"), format!("sslmode=verify-ca&sslrootcert={ca}")]
    {
        let url = format!("{}?{query}", server.url());
        let mut store = PostgresStore::open(&SqlTarget::parse(&url).unwrap(), SqlOptions::default(), true).unwrap();
        store.apply("s", &[put("k", b"v")], None).unwrap();
        assert_eq!(store.get_keys("s", "t", &["k".into()]).unwrap(), vec![Some(v(b"v"))], "{query}");
        let encrypted = query_text(
            &server.url(),
            "SELECT count(*)::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND application_name = 'baileys-rust-auth'",
        );
        assert_ne!(encrypted.as_deref(), Some("0"), "{query}: the store's connections are encrypted");
        let plain = query_text(
            &server.url(),
            "SELECT count(*)::text FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE NOT ssl AND application_name = 'baileys-rust-auth'",
        );
        assert_eq!(plain.as_deref(), Some("0"), "{query}: none is in clear");
    }
    // A certificate no trusted CA signed: refused, with a code and a reason.
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{}/postgres?sslmode=verify-full", server.port);
    let err = PostgresStore::open(&SqlTarget::parse(&url).unwrap(), SqlOptions::default(), true)
        .err()
        .expect("an untrusted certificate is refused");
    assert_eq!(err.code(), "ERR_STORE_UNAVAILABLE", "{err}");
    assert!(err.to_string().to_lowercase().contains("certificate"), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
}
