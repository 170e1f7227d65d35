//! Store URLs: which backend a string names, and where its data lives.

use std::path::PathBuf;

use super::error::{Result, StoreError};
use super::redact::redact;
use super::redis::RedisTarget;
use super::sql::SqlTarget;

/// A parsed store location.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreUrl {
    /// A SQLite database file.
    SqliteFile(PathBuf),
    /// A private SQLite database in memory (`sqlite::memory:`), gone when closed.
    SqliteMemory,
    /// The in-memory reference store (`memory:`), gone when closed.
    Memory,
    /// A Redis server or cluster.
    Redis(RedisTarget),
    /// A PostgreSQL or MySQL/MariaDB server (`SqlTarget::server` says which).
    Sql(SqlTarget),
}

impl StoreUrl {
    /// Accepts `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:`, `memory:`, a plain file
    /// path (`sqlite:///abs/file.db` is the absolute path `/abs/file.db`), and for Redis
    /// `redis://[user:pass@]host:port[/db]`, `rediss://…` (TLS), `redis+unix:///path.sock`,
    /// and `redis+cluster://host:port,host:port` (or `rediss+cluster://`), and the SQL servers'
    /// `postgres://`, `postgresql://`, `mysql://` and `mariadb://` (see [`SqlTarget::parse`]).
    pub fn parse(url: &str) -> Result<Self> {
        if url.is_empty() {
            return Err(StoreError::invalid("store URL must be a non-empty string"));
        }
        if url.contains('\0') {
            return Err(StoreError::invalid("store URL must not contain a NUL character"));
        }
        // A URL pasted with its quotes or spaces (an --env-file keeps them) would otherwise name
        // a file, and its password would end up in a file name and an error message.
        if url.trim() != url || url.starts_with(['"', '\'']) {
            return Err(StoreError::invalid("store URL has spaces or quotes around it: remove them"));
        }
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(StoreUrl::SqliteMemory);
        }
        if url == "memory:" || url == "memory://" {
            return Ok(StoreUrl::Memory);
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(StoreError::invalid(format!("store URL {:?} names no file", redact(url))));
            }
            return Ok(StoreUrl::SqliteFile(PathBuf::from(path)));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            return match scheme {
                "redis" | "rediss" | "redis+unix" | "unix" => Ok(StoreUrl::Redis(RedisTarget::Server(url.to_owned()))),
                "postgres" | "postgresql" | "mysql" | "mariadb" => Ok(StoreUrl::Sql(SqlTarget::parse(url)?)),
                "redis+cluster" | "rediss+cluster" => {
                    let node_scheme = scheme.trim_end_matches("+cluster");
                    let (hosts, tail) = rest.split_once('/').map_or((rest, ""), |(h, t)| (h, t));
                    let (auth, hosts) = hosts.rsplit_once('@').map_or(("", hosts), |(a, h)| (a, h));
                    if !tail.is_empty() {
                        return Err(StoreError::invalid("a Redis Cluster has no databases: remove the /db from the URL"));
                    }
                    let nodes: Vec<String> = hosts
                        .split(',')
                        .filter(|h| !h.is_empty())
                        .map(|h| if auth.is_empty() { format!("{node_scheme}://{h}") } else { format!("{node_scheme}://{auth}@{h}") })
                        .collect();
                    if nodes.is_empty() {
                        return Err(StoreError::invalid(format!("store URL {:?} names no cluster node", redact(url))));
                    }
                    Ok(StoreUrl::Redis(RedisTarget::Cluster(nodes)))
                }
                // Whatever stands before "://" is a scheme, not part of a file name.
                _ => Err(StoreError::invalid(format!(
                    "unsupported store URL scheme {scheme:?}: use sqlite:PATH, sqlite::memory:, memory:, redis://, rediss://, redis+unix://, redis+cluster://, postgres:// or mysql://"
                ))),
            };
        }
        // `sqlite3:auth.db` is a typo of a URL, not a file of that name. One letter before
        // the colon is a Windows drive (`C:\auth.db`); a file whose name has a colon is `./a:b`.
        if let Some((scheme, _)) = url.split_once(':') {
            let looks_like_scheme = scheme.len() > 1
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if looks_like_scheme {
                return Err(StoreError::invalid(format!(
                    "unknown store URL scheme {scheme:?}: use sqlite:PATH, sqlite::memory:, memory:, redis://, rediss://, redis+unix://, redis+cluster://, postgres:// or mysql:// (a file whose name has a colon is written ./NAME)"
                )));
            }
        }
        Ok(StoreUrl::SqliteFile(PathBuf::from(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::sql::SqlServer;

    #[test]
    fn parses_every_documented_form() {
        let file = |p: &str| StoreUrl::SqliteFile(PathBuf::from(p));
        assert_eq!(StoreUrl::parse("sqlite:auth.db").unwrap(), file("auth.db"));
        assert_eq!(StoreUrl::parse("sqlite://auth.db").unwrap(), file("auth.db"));
        assert_eq!(StoreUrl::parse("sqlite:///var/a.db").unwrap(), file("/var/a.db"));
        assert_eq!(StoreUrl::parse("./x/auth.db").unwrap(), file("./x/auth.db"));
        assert_eq!(StoreUrl::parse("auth.db").unwrap(), file("auth.db"));
        assert_eq!(StoreUrl::parse("./a:b.db").unwrap(), file("./a:b.db"));
        assert_eq!(StoreUrl::parse("C:\\bots\\auth.db").unwrap(), file("C:\\bots\\auth.db"));
        assert_eq!(StoreUrl::parse("sqlite::memory:").unwrap(), StoreUrl::SqliteMemory);
        assert_eq!(StoreUrl::parse("memory:").unwrap(), StoreUrl::Memory);
        for server in ["redis://127.0.0.1:6379/2", "rediss://u:p@host:6380", "redis+unix:///tmp/r.sock"] {
            assert_eq!(StoreUrl::parse(server).unwrap(), StoreUrl::Redis(RedisTarget::Server(server.into())));
        }
        assert_eq!(
            StoreUrl::parse("redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001").unwrap(),
            StoreUrl::Redis(RedisTarget::Cluster(vec!["redis://:secret@10.0.0.1:7000".into(), "redis://:secret@10.0.0.2:7001".into()]))
        );
        for (url, server) in [
            ("postgres://u:p@h:5432/db?sslmode=require", SqlServer::Postgres),
            ("postgresql:///db?host=/run/postgresql", SqlServer::Postgres),
            ("mysql://root@127.0.0.1:3306/test", SqlServer::Mysql),
            ("mariadb://root@127.0.0.1/test", SqlServer::Mysql),
        ] {
            let StoreUrl::Sql(target) = StoreUrl::parse(url).unwrap() else { panic!("{url}") };
            assert_eq!(target.server, server, "{url}");
        }
    }

    #[test]
    fn parse_errors_never_show_a_password() {
        for bad in [
            "redis+cluster://:s3cret@",
            "redis+cluster://u:s3cret@h:1/0",
            " redis://:s3cret@h",
            "redis ://:s3cret@h",
            "redis_tls://:s3cret@h",
        ] {
            let err = StoreUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn rejects_empty_and_unknown_schemes() {
        for bad in [
            "",
            "sqlite:",
            "sqlite://",
            "postgres://localhost/db?tablePrefix=x",
            "mysql://localhost/db?schema=x",
            "ftp://x",
            "sqlite:/tmp/a\0b.db",
            "redis+cluster://",
            "redis+cluster://h:1/0",
            "sqlite3:typo.db",
            "redis:localhost",
            "file:auth.db",
            " redis://:pw@h",
            "redis://:pw@h ",
            "\"redis://:pw@h\"",
            "'redis://h'",
            "redis ://:pw@h",
            "redis_tls://:pw@h",
            "./a://b",
        ] {
            assert_eq!(StoreUrl::parse(bad).unwrap_err().code(), "ERR_INVALID_ARG", "{bad}");
        }
    }
}
