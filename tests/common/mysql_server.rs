//! MySQL/MariaDB for the integration tests: a namespace (table prefix) of its own on the
//! machine's server for each store a test opens, dropped when the test ends, and a private
//! MariaDB (`mariadb-install-db` + `mariadbd` in a temp dir) that fault tests kill and restart.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use baileys_rust_auth::core::sql::{SqlOptions, SqlTarget};

/// The machine's server (`MYSQL_URL` overrides it), root without password, database `test`.
pub fn shared_url() -> String {
    std::env::var("MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// Runs `statements` on a new connection to `url`, on a runtime of its own.
pub fn exec(url: &str, statements: &[String]) -> Result<(), String> {
    use sqlx::Connection;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let connect = sqlx::mysql::MySqlConnection::connect(url);
        let mut conn = tokio::time::timeout(Duration::from_secs(5), connect)
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        for sql in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&mut conn).await.map_err(|e| format!("{sql}: {e}"))?;
        }
        let _ = conn.close().await;
        Ok(())
    })
}

/// Runs `sql` on a new connection to `url` and returns the first column of every row as text.
pub fn query_strings(url: &str, sql: &str) -> Result<Vec<Option<String>>, String> {
    use sqlx::{Connection, Row};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let mut conn = sqlx::mysql::MySqlConnection::connect(url).await.map_err(|e| e.to_string())?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).fetch_all(&mut conn).await.map_err(|e| e.to_string())?;
        let _ = conn.close().await;
        rows.iter().map(|row| row.try_get::<Option<String>, _>(0).map_err(|e| e.to_string())).collect()
    })
}

/// A table prefix of its own (`bra_<pid>_<n>_`) on a server, whose tables are dropped on Drop.
pub struct MysqlNamespace {
    pub base_url: String,
    pub prefix: String,
}

impl MysqlNamespace {
    /// A new namespace on the machine's server; `None` (printing why) where it is unreachable,
    /// a failure in CI.
    pub fn new() -> Option<MysqlNamespace> {
        Self::on(&shared_url())
    }

    pub fn on(base_url: &str) -> Option<MysqlNamespace> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        if let Err(e) = exec(base_url, &["SELECT 1".into()]) {
            if in_ci() {
                panic!("MySQL/MariaDB is required in CI ({base_url}): {e}");
            }
            eprintln!("skipping the MySQL backend: cannot reach {base_url} ({e})");
            return None;
        }
        let prefix = format!("bra_{}_{}_", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        Some(MysqlNamespace { base_url: base_url.to_owned(), prefix })
    }

    /// The store URL with this namespace, under `scheme` (`mysql` or `mariadb`).
    pub fn url(&self, scheme: &str) -> String {
        let rest = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, r)| r);
        let sep = if rest.contains('?') { '&' } else { '?' };
        format!("{scheme}://{rest}{sep}tablePrefix={}", self.prefix)
    }

    pub fn target(&self) -> SqlTarget {
        SqlTarget::parse(&self.base_url).unwrap()
    }

    pub fn options(&self) -> SqlOptions {
        SqlOptions { namespace: Some(self.prefix.clone()), ..SqlOptions::default() }
    }

    pub fn table(&self, name: &str) -> String {
        format!("`{}{name}`", self.prefix)
    }

    pub fn drop_tables(&self) -> Result<(), String> {
        let tables: Vec<String> = ["sessions", "keys", "leases", "store_records", "schema_version"].iter().map(|t| self.table(t)).collect();
        exec(&self.base_url, &[format!("DROP TABLE IF EXISTS {}", tables.join(", "))])
    }
}

impl Drop for MysqlNamespace {
    fn drop(&mut self) {
        if let Err(e) = self.drop_tables() {
            eprintln!("could not drop the test tables {}*: {e}", self.prefix);
        }
    }
}

/// A private MariaDB on a free port of 127.0.0.1, with its data directory in a temp dir:
/// [`kill`](Self::kill) ends it with SIGKILL, [`start`](Self::start) runs it again on the same
/// port and data. Killed when dropped.
pub struct PrivateMariadb {
    child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
    /// Server options beyond ours, given at every start.
    extra: Vec<String>,
}

impl PrivateMariadb {
    /// `None` (printing why) where MariaDB is not installed; a failure in CI.
    pub fn create(dir: &Path) -> Option<PrivateMariadb> {
        PrivateMariadb::create_with(dir, vec!["--skip-grant-tables".into()])
    }

    /// [`create`](Self::create), with `extra` server options (`--ssl-cert=…`, say) instead of
    /// `--skip-grant-tables` (root over TCP needs no password either way).
    pub fn create_with(dir: &Path, extra: Vec<String>) -> Option<PrivateMariadb> {
        let data = dir.join("data");
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(&data).unwrap();
        let installed = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db", "--user=root", "--skip-name-resolve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output();
        match installed {
            Ok(out) if out.status.success() => {}
            Ok(out) if !in_ci() => {
                eprintln!("skipping the private MariaDB: mariadb-install-db failed: {}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
            Err(e) if !in_ci() => {
                eprintln!("skipping the private MariaDB: cannot run mariadb-install-db ({e})");
                return None;
            }
            other => panic!("MariaDB is required in CI: {other:?}"),
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = PrivateMariadb { child: None, dir: dir.to_owned(), port, extra };
        server.start();
        exec(&server.root_url(""), &["CREATE DATABASE IF NOT EXISTS t".into()]).unwrap();
        Some(server)
    }

    /// `mysql://root@127.0.0.1:<port>/<database>`.
    pub fn root_url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the server on its port and data directory and waits until it answers.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let data = self.dir.join("data");
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", self.dir.join("s").display()))
            .arg(format!("--pid-file={}", self.dir.join("pid").display()))
            .arg(format!("--log-error={}", self.dir.join("error.log").display()))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=1",
                "--max-connections=50",
                "--performance-schema=OFF",
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run mariadbd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match exec(&self.root_url(""), &["SELECT 1".into()]) {
                Ok(()) => return,
                Err(e) => {
                    if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                        let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                        panic!("mariadbd exited ({status}): {log}");
                    }
                    assert!(Instant::now() < deadline, "mariadbd did not answer within 60 s: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// SIGKILL: no shutdown, no flush beyond what each commit already did.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
