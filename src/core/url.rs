//! Store URLs: which backend a string names, and where its data lives.

use std::path::PathBuf;

use super::error::{Result, StoreError};

/// A parsed store location.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreUrl {
    /// A SQLite database file.
    SqliteFile(PathBuf),
    /// A private SQLite database in memory (`sqlite::memory:`), gone when closed.
    SqliteMemory,
    /// The in-memory reference store (`memory:`), gone when closed.
    Memory,
}

impl StoreUrl {
    /// Accepts `sqlite:PATH`, `sqlite://PATH`, `sqlite::memory:`, `memory:` and a plain
    /// file path. `sqlite:///abs/file.db` is the absolute path `/abs/file.db`.
    pub fn parse(url: &str) -> Result<Self> {
        if url.is_empty() {
            return Err(StoreError::invalid("store URL must be a non-empty string"));
        }
        if url.contains('\0') {
            return Err(StoreError::invalid("store URL must not contain a NUL character"));
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
                return Err(StoreError::invalid(format!("store URL {url:?} names no file")));
            }
            return Ok(StoreUrl::SqliteFile(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = url.split_once("://") {
            let known = scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if known {
                return Err(StoreError::invalid(format!(
                    "unsupported store URL scheme {scheme:?}: use sqlite:PATH, sqlite::memory:, memory: or a file path"
                )));
            }
        }
        Ok(StoreUrl::SqliteFile(PathBuf::from(url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        let file = |p: &str| StoreUrl::SqliteFile(PathBuf::from(p));
        assert_eq!(StoreUrl::parse("sqlite:auth.db").unwrap(), file("auth.db"));
        assert_eq!(StoreUrl::parse("sqlite://auth.db").unwrap(), file("auth.db"));
        assert_eq!(StoreUrl::parse("sqlite:///var/a.db").unwrap(), file("/var/a.db"));
        assert_eq!(StoreUrl::parse("./x/auth.db").unwrap(), file("./x/auth.db"));
        assert_eq!(StoreUrl::parse("sqlite::memory:").unwrap(), StoreUrl::SqliteMemory);
        assert_eq!(StoreUrl::parse("memory:").unwrap(), StoreUrl::Memory);
    }

    #[test]
    fn rejects_empty_and_unknown_schemes() {
        for bad in ["", "sqlite:", "sqlite://", "postgres://localhost/db", "ftp://x", "sqlite:/tmp/a\0b.db"] {
            assert_eq!(StoreUrl::parse(bad).unwrap_err().code(), "ERR_INVALID_ARG", "{bad}");
        }
    }
}
