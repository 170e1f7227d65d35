//! What a SQL server store connects to and how it is tuned: the target a `postgres://` or
//! `mysql://` URL names, the options `openStore` takes for them (`docs/postgres.md`,
//! `docs/mysql.md`), their defaults, limits and validation. Shared by both backends.

use std::fmt;
use std::time::Duration;

use crate::core::error::{Result, StoreError};
use crate::core::redact::{query_key, redact};

/// Which SQL server a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlServer {
    Postgres,
    Mysql,
}

impl SqlServer {
    /// The option (and URL query parameter) that names where the tables live: a schema on
    /// PostgreSQL, a table name prefix on MySQL (whose schemas are databases, named by the URL).
    pub fn namespace_option(self) -> &'static str {
        match self {
            SqlServer::Postgres => "schema",
            SqlServer::Mysql => "tablePrefix",
        }
    }

    fn default_namespace(self) -> &'static str {
        match self {
            SqlServer::Postgres => "baileys",
            SqlServer::Mysql => "baileys_",
        }
    }
}

/// Where a SQL server store lives: the URL as the driver reads it, with this package's own
/// query parameter (`schema` or `tablePrefix`) taken out. Its `Debug` and [`shown`](Self::shown)
/// redact the password: the URL itself is never printed.
#[derive(Clone, PartialEq)]
pub struct SqlTarget {
    pub server: SqlServer,
    /// The URL for the driver (`mariadb://` is given to it as `mysql://`); holds secrets.
    pub driver_url: String,
    /// The `schema` or `tablePrefix` the URL gave, if any.
    pub namespace: Option<String>,
}

impl fmt::Debug for SqlTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlTarget").field("server", &self.server).field("url", &self.shown()).field("namespace", &self.namespace).finish()
    }
}

impl SqlTarget {
    /// Reads a `postgres://`, `postgresql://`, `mysql://` or `mariadb://` URL (the scheme is
    /// already known to be one of them).
    pub fn parse(url: &str) -> Result<SqlTarget> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| StoreError::invalid("a SQL server URL is scheme://…"))?;
        let (server, driver_scheme) = match scheme {
            "postgres" | "postgresql" => (SqlServer::Postgres, scheme),
            "mysql" | "mariadb" => (SqlServer::Mysql, "mysql"),
            _ => return Err(StoreError::invalid(format!("{scheme:?} is not a SQL server URL scheme"))),
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((head, query)) => (head, Some(query)),
            None => (rest, None),
        };
        let mut namespace = None;
        let mut kept = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key == server.namespace_option() {
                if namespace.is_some() {
                    return Err(StoreError::invalid(format!("store URL {:?} gives {key} twice", redact(url))));
                }
                namespace = Some(value.to_owned());
            } else if key == SqlServer::Postgres.namespace_option() || key == SqlServer::Mysql.namespace_option() {
                return Err(StoreError::invalid(format!(
                    "store URL {:?}: {key} is not an option of {scheme}:// stores (use {})",
                    redact(url),
                    server.namespace_option()
                )));
            } else {
                kept.push(pair);
            }
        }
        let mut driver_url = format!("{driver_scheme}://{before_query}");
        if !kept.is_empty() {
            driver_url.push('?');
            driver_url.push_str(&kept.join("&"));
        }
        Ok(SqlTarget { server, driver_url, namespace })
    }

    /// The target as it may be shown in messages: password redacted.
    pub fn shown(&self) -> String {
        redact(&self.driver_url)
    }

    /// Refuses a URL query parameter the driver does not read (`is_known` false for its name,
    /// decoded as the driver decodes it): a driver ignores a misspelt `sslmode` and connects
    /// with its default, in clear if the server offers no TLS. `takes` lists what it reads,
    /// for the message.
    pub(crate) fn check_parameters(&self, is_known: impl Fn(&str) -> bool, takes: &str) -> Result<()> {
        let Some((_, query)) = self.driver_url.split_once('?') else { return Ok(()) };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let key = query_key(pair.split_once('=').map_or(pair, |(k, _)| k));
            if !is_known(&key) {
                let server = match self.server {
                    SqlServer::Postgres => "PostgreSQL",
                    SqlServer::Mysql => "MySQL",
                };
                // A name that is not a plain word is not shown: it may be the end of a password
                // holding an unencoded `?`, which the query then begins inside of.
                let plain = key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b));
                let named = if plain {
                    format!("unknown parameter {key:?}")
                } else {
                    "a parameter whose name is not a plain word (not shown: if the password holds `?`, percent-encode it as %3F)".to_owned()
                };
                return Err(StoreError::invalid(format!("store URL {}: {named} ({server} URLs take {takes})", self.shown())));
            }
        }
        Ok(())
    }
}

/// Tuning of a SQL server store; see `docs/postgres.md` and `docs/mysql.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlOptions {
    /// PostgreSQL: the schema that holds the tables (created if missing). MySQL: the prefix of
    /// the table names in the URL's database. `None`: the URL's, else the default (`baileys`,
    /// `baileys_`).
    pub namespace: Option<String>,
    /// How many connections the store may keep open.
    pub pool_size: u32,
    /// How long opening a connection may take (at open, and whenever the pool reconnects).
    pub connect_timeout: Duration,
    /// How long one round trip may take before the call fails with `ERR_STORE_UNAVAILABLE`,
    /// counted from when the call was issued for its first round trip.
    pub command_timeout: Duration,
}

/// Most connections one store may keep.
pub const MAX_POOL_SIZE: u32 = 64;
/// Longest accepted connect or command timeout: an hour.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions { namespace: None, pool_size: 4, connect_timeout: Duration::from_secs(5), command_timeout: Duration::from_secs(5) }
    }
}

impl SqlOptions {
    /// Checks the options against `target` and returns the namespace to use: the option's,
    /// the URL's (they must agree if both are given) or the default.
    pub fn resolve(&self, target: &SqlTarget) -> Result<String> {
        if self.pool_size == 0 || self.pool_size > MAX_POOL_SIZE {
            return Err(StoreError::invalid(format!("poolSize must be a whole number between 1 and {MAX_POOL_SIZE}")));
        }
        for (name, value) in [("connectTimeoutMs", self.connect_timeout), ("commandTimeoutMs", self.command_timeout)] {
            if value < Duration::from_millis(1) || value > MAX_TIMEOUT {
                return Err(StoreError::invalid(format!("{name} must be between 1 and {} ms", MAX_TIMEOUT.as_millis())));
            }
        }
        let option = target.server.namespace_option();
        let namespace = match (&self.namespace, &target.namespace) {
            (Some(a), Some(b)) if a != b => {
                return Err(StoreError::invalid(format!("the {option} option ({a:?}) and the URL's {option} ({b:?}) differ: give one")));
            }
            (Some(a), _) => a.clone(),
            (None, Some(b)) => b.clone(),
            (None, None) => target.server.default_namespace().to_owned(),
        };
        check_namespace(target.server, &namespace)?;
        Ok(namespace)
    }
}

/// A schema name or table prefix we can put in SQL unquoted-safe and quoted alike: ASCII
/// letters, digits and `_`, not starting with a digit; a schema is not empty; both leave room
/// for the longest table name within the servers' 63/64-character identifiers.
fn check_namespace(server: SqlServer, namespace: &str) -> Result<()> {
    let well_formed = namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !namespace.starts_with(|c: char| c.is_ascii_digit())
        && namespace.len() <= 40;
    match server {
        SqlServer::Postgres if namespace.is_empty() || !well_formed || namespace.starts_with("pg_") => {
            Err(StoreError::invalid("schema must be 1 to 40 ASCII letters, digits or _, not starting with a digit or pg_"))
        }
        SqlServer::Mysql if !well_formed => {
            Err(StoreError::invalid("tablePrefix must be at most 40 ASCII letters, digits or _, not starting with a digit"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_namespace_parameter_is_taken_out_of_the_driver_url() {
        let t = SqlTarget::parse("postgres://u:pw@h:5432/db?sslmode=require&schema=bots").unwrap();
        assert_eq!(t.server, SqlServer::Postgres);
        assert_eq!(t.driver_url, "postgres://u:pw@h:5432/db?sslmode=require");
        assert_eq!(t.namespace.as_deref(), Some("bots"));
        let t = SqlTarget::parse("mariadb://root@127.0.0.1/test?tablePrefix=t1_").unwrap();
        assert_eq!(t.server, SqlServer::Mysql);
        assert_eq!(t.driver_url, "mysql://root@127.0.0.1/test");
        assert_eq!(t.namespace.as_deref(), Some("t1_"));
        assert_eq!(
            SqlTarget::parse("postgresql:///test?host=/run/postgresql").unwrap().driver_url,
            "postgresql:///test?host=/run/postgresql"
        );
    }

    #[test]
    fn namespaces_are_resolved_and_checked() {
        let pg = SqlTarget::parse("postgres://h/db").unwrap();
        assert_eq!(SqlOptions::default().resolve(&pg).unwrap(), "baileys");
        let my = SqlTarget::parse("mysql://h/db").unwrap();
        assert_eq!(SqlOptions::default().resolve(&my).unwrap(), "baileys_");
        let with = |n: &str| SqlOptions { namespace: Some(n.into()), ..SqlOptions::default() };
        assert_eq!(with("").resolve(&my).unwrap(), "");
        for bad in ["", "a-b", "1a", "pg_x", "a\"b", "x y", &"a".repeat(41)] {
            assert_eq!(with(bad).resolve(&pg).unwrap_err().code(), "ERR_INVALID_ARG", "{bad:?}");
        }
        let both = SqlTarget::parse("postgres://h/db?schema=a").unwrap();
        assert_eq!(with("b").resolve(&both).unwrap_err().code(), "ERR_INVALID_ARG");
        assert_eq!(with("a").resolve(&both).unwrap(), "a");
        assert!(SqlTarget::parse("postgres://h/db?tablePrefix=a").is_err());
        assert!(SqlTarget::parse("mysql://h/db?schema=a").is_err());
        assert!(SqlTarget::parse("mysql://h/db?tablePrefix=a&tablePrefix=b").is_err());
        let pool = |n| SqlOptions { pool_size: n, ..SqlOptions::default() };
        assert!(pool(0).resolve(&pg).is_err());
        assert!(pool(65).resolve(&pg).is_err());
    }

    #[test]
    fn a_target_never_shows_its_password() {
        let t = SqlTarget::parse("postgres://u:s3cret@h/db?schema=x").unwrap();
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(!t.shown().contains("s3cret"));
        let t = SqlTarget::parse("mysql://u@h/db?password=s3cret").unwrap();
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
