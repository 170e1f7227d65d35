//! PostgreSQL for the integration tests: the machine's server (each test store on a new schema
//! of its own, dropped when the store is), and a private server that tests may kill and
//! restart. Not every test crate uses every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use baileys_rust_auth::core::error::Result;
use baileys_rust_auth::core::lease::{Fence, LeaseInfo, LeaseRequest};
use baileys_rust_auth::core::open::{open_url, OpenOptions};
use baileys_rust_auth::core::sql::postgres::PostgresStore;
use baileys_rust_auth::core::sql::{SqlOptions, SqlTarget};
use baileys_rust_auth::core::store::{KeyInfo, KeyWrite, SessionStats, Store, Write};
use baileys_rust_auth::core::url::StoreUrl;
use sqlx::{AssertSqlSafe, Connection};

/// The machine's server (`BRA_POSTGRES_URL` overrides it).
pub fn machine_url() -> Option<String> {
    let url = std::env::var("BRA_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let reachable = std::net::TcpStream::connect_timeout(&"127.0.0.1:5432".parse().unwrap(), Duration::from_secs(2)).is_ok()
        || std::env::var("BRA_POSTGRES_URL").is_ok();
    if reachable {
        return Some(url);
    }
    if std::env::var("CI").is_ok() {
        panic!("PostgreSQL is required in CI: nothing answers at 127.0.0.1:5432");
    }
    eprintln!("skipping the PostgreSQL backend: nothing answers at 127.0.0.1:5432");
    None
}

/// A schema name of its own: `bra_<pid>_<n>`.
pub fn new_schema_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("bra_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs one statement on a connection of its own, with a runtime of its own.
pub fn execute(url: &str, sql: &str) {
    block_on(async {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(sql.to_owned())).execute(&mut conn).await.unwrap();
        let _ = conn.close().await;
    })
}

/// The first column of the first row of a query, as text (NULL: `None`).
pub fn query_text(url: &str, sql: &str) -> Option<String> {
    block_on(async {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let value: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql.to_owned())).fetch_one(&mut conn).await.unwrap();
        let _ = conn.close().await;
        value
    })
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// Drops its schema (and everything in it) when dropped.
pub struct TestSchema {
    pub url: String,
    pub name: String,
}

impl TestSchema {
    pub fn new(url: &str) -> TestSchema {
        TestSchema { url: url.to_owned(), name: new_schema_name() }
    }

    pub fn options(&self) -> SqlOptions {
        SqlOptions { namespace: Some(self.name.clone()), ..SqlOptions::default() }
    }

    pub fn open(&self, create: bool) -> Result<PostgresStore> {
        PostgresStore::open(&SqlTarget::parse(&self.url).unwrap(), self.options(), create)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        block_on(async move {
            if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        });
    }
}

/// A store on a new schema of the machine's server, bare or as the URL factory opens it (with
/// its layers); the schema is dropped with it.
pub fn machine_store(url: &str, through_factory: bool) -> Box<dyn Store> {
    let schema = TestSchema::new(url);
    let store: Box<dyn Store> = if through_factory {
        let url = format!("{url}?schema={}", schema.name);
        open_url(&StoreUrl::parse(&url).unwrap(), OpenOptions::default()).unwrap()
    } else {
        Box::new(schema.open(true).unwrap())
    };
    Box::new(WithSchema { store, _schema: schema })
}

/// A store on a new schema, opened through the URL factory with `options`.
pub fn machine_store_with(url: &str, options: OpenOptions) -> Box<dyn Store> {
    let schema = TestSchema::new(url);
    let url = format!("{url}?schema={}", schema.name);
    let store = open_url(&StoreUrl::parse(&url).unwrap(), options).unwrap();
    Box::new(WithSchema { store, _schema: schema })
}

/// A store that drops its schema after itself.
struct WithSchema {
    /// Before the schema: fields drop in order, so the store closes its connections first.
    store: Box<dyn Store>,
    _schema: TestSchema,
}

impl Store for WithSchema {
    fn get_creds(&mut self, session: &str) -> Result<Option<Vec<u8>>> {
        self.store.get_creds(session)
    }
    fn set_creds(&mut self, session: &str, creds: &[u8], fence: Option<&Fence>) -> Result<()> {
        self.store.set_creds(session, creds, fence)
    }
    fn get_keys(&mut self, session: &str, kind: &str, ids: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.store.get_keys(session, kind, ids)
    }
    fn apply(&mut self, session: &str, writes: &[KeyWrite], fence: Option<&Fence>) -> Result<()> {
        self.store.apply(session, writes, fence)
    }
    fn clear_keys(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.store.clear_keys(session, fence)
    }
    fn delete_session(&mut self, session: &str, fence: Option<&Fence>) -> Result<()> {
        self.store.delete_session(session, fence)
    }
    fn acquire_lease(&mut self, session: &str, request: &LeaseRequest) -> Result<LeaseInfo> {
        self.store.acquire_lease(session, request)
    }
    fn renew_lease(&mut self, session: &str, fence: &Fence, lease_ms: u64) -> Result<LeaseInfo> {
        self.store.renew_lease(session, fence, lease_ms)
    }
    fn release_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        self.store.release_lease(session, fence)
    }
    fn forget_lease(&mut self, session: &str, fence: &Fence) -> Result<()> {
        self.store.forget_lease(session, fence)
    }
    fn lease(&mut self, session: &str) -> Result<Option<LeaseInfo>> {
        self.store.lease(session)
    }
    fn leases(&mut self) -> Result<Vec<(String, LeaseInfo)>> {
        self.store.leases()
    }
    fn sessions(&mut self) -> Result<Vec<String>> {
        self.store.sessions()
    }
    fn name_limits(&self) -> Option<baileys_rust_auth::core::store::NameLimits> {
        self.store.name_limits()
    }
    fn meta(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        self.store.meta(name)
    }
    fn swap_meta(&mut self, name: &str, expected: Option<&[u8]>, value: Option<&[u8]>) -> Result<bool> {
        self.store.swap_meta(name, expected, value)
    }
    fn operation_issued(&mut self, at: Instant) {
        self.store.operation_issued(at)
    }
    fn group_issued(&mut self, at: &[Instant]) {
        self.store.group_issued(at)
    }
    fn list_keys(&mut self, session: &str) -> Result<Vec<KeyInfo>> {
        self.store.list_keys(session)
    }
    fn stats(&mut self, session: &str) -> Result<SessionStats> {
        self.store.stats(session)
    }
    fn backup(&mut self, dest: &Path) -> Result<()> {
        self.store.backup(dest)
    }
    fn check(&mut self) -> Result<Vec<String>> {
        self.store.check()
    }
    fn identity(&self) -> String {
        self.store.identity()
    }
    fn write_group(&mut self, group: &[Write<'_>]) -> Vec<Result<()>> {
        self.store.write_group(group)
    }
    fn acquire_leases(&mut self, requests: &[(String, LeaseRequest)]) -> Result<Vec<Result<LeaseInfo>>> {
        self.store.acquire_leases(requests)
    }
    fn renew_leases(&mut self, leases: &[(String, Fence)], lease_ms: u64) -> Result<Vec<Result<LeaseInfo>>> {
        self.store.renew_leases(leases, lease_ms)
    }
}

/// The server binaries of the newest PostgreSQL installed (Debian: `/usr/lib/postgresql/<major>/bin`).
fn bin() -> PathBuf {
    let mut majors: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default();
    majors.sort_unstable();
    let major = majors.last().map_or_else(|| "15".to_owned(), u32::to_string);
    PathBuf::from(format!("/usr/lib/postgresql/{major}/bin"))
}

/// A private PostgreSQL server in a temporary directory (data directory, socket, log), on a
/// free port of 127.0.0.1: killed with SIGKILL and restarted on the same port and data by the
/// fault tests, stopped when dropped. As root, it runs as the `postgres` user (PostgreSQL
/// refuses to run as root).
pub struct PrivateServer {
    pub dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl PrivateServer {
    /// `None` where PostgreSQL's binaries are not installed; in CI that is a failure.
    pub fn start() -> Option<PrivateServer> {
        let bin = bin();
        if !bin.join("initdb").exists() {
            if std::env::var("CI").is_ok() {
                panic!("PostgreSQL's initdb is required in CI ({})", bin.display());
            }
            eprintln!("skipping: no PostgreSQL binaries in {}", bin.display());
            return None;
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!("bra-pg-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if let Some((uid, gid)) = server_user() {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let status = as_server_user(&bin.join("initdb"))
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "-N", "-D"])
            .arg(dir.join("data"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = PrivateServer { dir, port, child: None };
        server.restart();
        Some(server)
    }

    /// Its URL over TCP (database `postgres`, user `postgres`, trust).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Its URL over its unix socket (`host=/dir`).
    pub fn socket_url(&self) -> String {
        format!("postgresql:///postgres?host={}&port={}&user=postgres", self.dir.display(), self.port)
    }

    /// Turns TLS on (`ssl = on` with this certificate and key) and restarts the server.
    pub fn enable_tls(&mut self, cert: &Path, key: &Path) {
        let data = self.dir.join("data");
        for (from, name) in [(cert, "server.crt"), (key, "server.key")] {
            let to = data.join(name);
            std::fs::copy(from, &to).unwrap();
            // The server refuses a key others may read.
            std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            if let Some((uid, gid)) = server_user() {
                std::os::unix::fs::chown(&to, Some(uid), Some(gid)).unwrap();
            }
        }
        let mut conf = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf")).unwrap();
        std::io::Write::write_all(&mut conf, b"\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n").unwrap();
        self.restart();
    }

    /// SIGKILL, no shutdown: what a crash or an OOM kill does.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server on its port and data directory and waits until it accepts
    /// connections. After a kill, the old server's backends may still hold its shared memory
    /// for a moment (the new one then refuses to start): it tries again until a deadline.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("server.log")).unwrap();
            let mut child = as_server_user(&bin().join("postgres"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-p", &self.port.to_string(), "-k"])
                .arg(&self.dir)
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "max_connections=40"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                let ready = Command::new(bin().join("pg_isready"))
                    .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"])
                    .status()
                    .is_ok_and(|s| s.success());
                if ready {
                    self.child = Some(child);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            assert!(Instant::now() < deadline, "the private PostgreSQL did not start; see {}", self.dir.join("server.log").display());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `postgres` user's uid and gid when this process runs as root (`None` otherwise).
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd.lines().find(|l| l.starts_with("postgres:")).expect("running as root needs a postgres user");
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

/// `program` as the server's user: itself, or through `setpriv` as root (which execs it, so
/// the child's pid is the server's and a kill reaches it).
fn as_server_user(program: &Path) -> Command {
    match server_user() {
        Some((uid, gid)) => {
            let mut command = Command::new("setpriv");
            command.arg(format!("--reuid={uid}")).arg(format!("--regid={gid}")).arg("--clear-groups").arg("--").arg(program);
            command
        }
        None => Command::new(program),
    }
}
