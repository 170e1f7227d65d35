//! What a Redis store connects to and how it is tuned: the target a URL names, the options
//! `openStore` takes for Redis (`docs/redis.md`), their limits and their validation.

use std::time::Duration;

use crate::core::error::{Result, StoreError};
use crate::core::redact::redact;

/// Where a Redis store lives.
#[derive(Debug, Clone, PartialEq)]
pub enum RedisTarget {
    /// A standalone server: a `redis://`, `rediss://` or `redis+unix://` URL.
    Server(String),
    /// The seed nodes of a cluster, each a `redis://` or `rediss://` URL.
    Cluster(Vec<String>),
}

impl RedisTarget {
    /// The target as it may be shown in messages: passwords redacted.
    pub fn shown(&self) -> String {
        match self {
            RedisTarget::Server(url) => redact(url),
            RedisTarget::Cluster(nodes) => nodes.iter().map(|n| redact(n)).collect::<Vec<_>>().join(","),
        }
    }
}

/// Tuning of a Redis store; see `docs/redis.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct RedisOptions {
    /// Every key starts with `<key_prefix>:`.
    pub key_prefix: String,
    /// How long opening (or reopening) a connection may take.
    pub connect_timeout: Duration,
    /// How long one operation may take before it fails with `ERR_STORE_UNAVAILABLE`.
    pub command_timeout: Duration,
    /// When set, a session's creds and keys expire together this long after their last access.
    pub ttl: Option<Duration>,
}

/// Longest accepted connect or command timeout: an hour.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Longest accepted TTL: ten years (Redis takes any 64-bit millisecond count, but nothing
/// longer makes sense for auth state).
pub const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            key_prefix: "baileys".into(),
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(5),
            ttl: None,
        }
    }
}

impl RedisOptions {
    pub fn validate(&self) -> Result<()> {
        let prefix_ok = !self.key_prefix.is_empty()
            && !self.key_prefix.contains(['{', '}', '*', '?', '[', ']', '\\'])
            && !self.key_prefix.chars().any(char::is_whitespace);
        if !prefix_ok {
            return Err(StoreError::invalid("keyPrefix must be a non-empty string without spaces, braces or glob characters"));
        }
        for (name, value) in [("connectTimeoutMs", self.connect_timeout), ("commandTimeoutMs", self.command_timeout)] {
            if value < Duration::from_millis(1) || value > MAX_TIMEOUT {
                return Err(StoreError::invalid(format!("{name} must be between 1 and {} ms", MAX_TIMEOUT.as_millis())));
            }
        }
        if self.ttl.is_some_and(|ttl| ttl < Duration::from_secs(1) || ttl > MAX_TTL) {
            return Err(StoreError::invalid(format!("ttlSeconds must be between 1 and {}", MAX_TTL.as_secs())));
        }
        Ok(())
    }
}
