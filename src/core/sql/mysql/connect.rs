//! Opening a MySQL/MariaDB store: what the URL may say, the pool and the settings of each of
//! its connections, and what the server tells at open (its limits, its durability, what it is).

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, Row};

use crate::core::error::{Result, StoreError};
use crate::core::sql::{nodelay, SqlOptions, SqlTarget};

/// The URL query parameters the driver reads (`sslmode` and `ssl-mode` are one, and so on).
/// Anything else is refused: the driver would ignore a misspelt `ssl-mode` and connect in clear.
const KNOWN_PARAMETERS: &[&str] = &[
    "ssl-mode",
    "sslmode",
    "ssl-ca",
    "sslca",
    "ssl-cert",
    "sslcert",
    "ssl-key",
    "sslkey",
    "socket",
    "charset",
    "collation",
    "statement-cache-capacity",
    "timezone",
    "time-zone",
];

/// Reads the driver's part of a `mysql://` URL: user, password, host, port, database and the
/// parameters of [`KNOWN_PARAMETERS`]. The URL must name a database (the tables live in it).
pub(crate) fn connect_options(target: &SqlTarget) -> Result<MySqlConnectOptions> {
    let shown = target.shown();
    target.check_parameters(|key| KNOWN_PARAMETERS.contains(&key), &format!("tablePrefix and {}", KNOWN_PARAMETERS.join(", ")))?;
    let options =
        MySqlConnectOptions::from_str(&target.driver_url).map_err(|e| StoreError::invalid(format!("invalid MySQL URL {shown}: {e}")))?;
    if options.get_database().is_none_or(str::is_empty) {
        return Err(StoreError::invalid(format!("store URL {shown}: name the database that holds the tables (mysql://host/<database>)")));
    }
    // Room for the statements this backend caches: a few per operation, and one per chunk
    // size of the multi-row statements (see `chunks`).
    Ok(options.statement_cache_capacity(256))
}

/// The settings every connection of the store runs with, set as it connects:
/// - `READ COMMITTED`: every decision of a write is taken on rows it has locked (the lease row,
///   `FOR UPDATE`), and locking reads see the latest committed version at any level; what
///   `REPEATABLE READ` would add is gap locks, on which two writers of neighbouring sessions (or
///   of absent keys) would block each other and deadlock. Reads are single statements,
///   consistent at any level.
/// - `innodb_lock_wait_timeout` half the command timeout (at least 1 s), so that a write
///   stuck behind a lock gets the server's clean error (1205, `ERR_STORE_UNAVAILABLE`) with its
///   connection intact, before the client's deadline would have to drop the connection.
/// - `STRICT_ALL_TABLES`: a value that does not fit is an error, never silently truncated.
pub(crate) async fn pool(options: MySqlConnectOptions, sql: &SqlOptions) -> std::result::Result<MySqlPool, sqlx::Error> {
    let lock_wait = lock_wait_secs(sql.command_timeout);
    // The server's TCP host and port; `None` over a unix socket.
    let endpoint = options.get_socket().is_none().then(|| (options.get_host().to_owned(), options.get_port()));
    MySqlPoolOptions::new()
        .max_connections(sql.pool_size)
        .min_connections(0)
        .acquire_timeout(sql.connect_timeout)
        // A ping before every use would double the round trips; a connection the server
        // dropped fails its next call (`ERR_STORE_UNAVAILABLE`) and is replaced.
        .test_before_acquire(false)
        .idle_timeout(Some(Duration::from_secs(300)))
        .after_connect(move |conn: &mut MySqlConnection, _meta| {
            let endpoint = endpoint.clone();
            Box::pin(async move {
                if let Some((host, port)) = endpoint {
                    nodelay::set_on_connections_to(&host, port).await;
                }
                sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").execute(&mut *conn).await?;
                let settings =
                    format!("SET SESSION innodb_lock_wait_timeout = {lock_wait}, sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')");
                sqlx::raw_sql(AssertSqlSafe(settings)).execute(&mut *conn).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// A lock wait of half of `left` (whole seconds, the server's unit; at least 1).
pub(crate) fn lock_wait_secs(left: Duration) -> u64 {
    (left.as_secs() / 2).max(1)
}

/// What the server tells at open.
pub(crate) struct ServerFacts {
    /// The database the URL names, as the server spells it.
    pub database: String,
    /// The largest statement (packet) the server takes, in bytes.
    pub max_packet: usize,
    pub flush_log_at_trx_commit: Option<i64>,
    /// What holds the data: `@@server_uuid` (MySQL), else `@@hostname:@@port:@@datadir`
    /// (MariaDB has no server uuid); `None` if the server would not tell.
    pub server: Option<String>,
    pub version: String,
}

pub(crate) async fn server_facts(conn: &mut MySqlConnection) -> std::result::Result<ServerFacts, sqlx::Error> {
    let row = sqlx::query(
        "SELECT DATABASE(), CAST(@@max_allowed_packet AS SIGNED), CAST(@@innodb_flush_log_at_trx_commit AS SIGNED), \
         CAST(@@version AS CHAR), CAST(CONCAT(@@hostname, ':', @@port, ':', @@datadir) AS CHAR)",
    )
    .fetch_one(&mut *conn)
    .await?;
    let database: Option<String> = row.try_get(0)?;
    let max_packet: i64 = row.try_get(1)?;
    let flush: Option<i64> = row.try_get(2)?;
    let version: Option<String> = row.try_get(3)?;
    let place: Option<String> = row.try_get(4)?;
    // MariaDB has no @@server_uuid: the query fails there (unknown system variable).
    let uuid: Option<String> = match sqlx::query("SELECT CAST(@@server_uuid AS CHAR)").fetch_one(&mut *conn).await {
        Ok(row) => row.try_get(0).ok().flatten(),
        Err(_) => None,
    };
    Ok(ServerFacts {
        database: database.unwrap_or_default(),
        max_packet: usize::try_from(max_packet).unwrap_or(1 << 20).max(1024),
        flush_log_at_trx_commit: flush,
        server: uuid.filter(|u| !u.is_empty()).or(place),
        version: version.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::mysql::MySqlSslMode;

    fn parse(url: &str) -> Result<MySqlConnectOptions> {
        connect_options(&SqlTarget::parse(url).unwrap())
    }

    #[test]
    fn urls_give_user_host_port_database_tls_and_socket() {
        let o = parse("mysql://bot:s3cret@db.example:3307/auth?ssl-mode=verify_identity&ssl-ca=/etc/ca.pem&tablePrefix=x_").unwrap();
        assert_eq!((o.get_username(), o.get_host(), o.get_port(), o.get_database()), ("bot", "db.example", 3307, Some("auth")));
        assert!(matches!(o.get_ssl_mode(), MySqlSslMode::VerifyIdentity));
        assert!(format!("{o:?}").contains("/etc/ca.pem"));
        let o = parse("mariadb://root@localhost/test?sslmode=required").unwrap();
        assert!(matches!(o.get_ssl_mode(), MySqlSslMode::Required));
        assert_eq!(o.get_port(), 3306);
        assert!(matches!(parse("mysql://root@localhost/test").unwrap().get_ssl_mode(), MySqlSslMode::Preferred));
        let o = parse("mysql://root@localhost/test?socket=/run/mysqld/mysqld.sock&ssl-mode=disabled").unwrap();
        assert_eq!(o.get_socket().map(|p| p.display().to_string()).as_deref(), Some("/run/mysqld/mysqld.sock"));
        assert!(matches!(o.get_ssl_mode(), MySqlSslMode::Disabled));
        let o = parse("mysql://us%40er:p%3Aw@h/d%2Db").unwrap();
        assert_eq!((o.get_username(), o.get_database()), ("us@er", Some("d-b")));
    }

    #[test]
    fn bad_urls_are_refused_without_their_password() {
        for bad in [
            "mysql://u:s3cret@h/db?ssl_mode=required",
            "mysql://u:s3cret@h/db?ssl-mode=sometimes",
            "mysql://u:s3cret@h",
            "mysql://u:s3cret@h/",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ARG", "{bad}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }
}
