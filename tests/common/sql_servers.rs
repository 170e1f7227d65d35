//! The SQL server stores every cross-backend suite adds (tests/conformance.rs,
//! tests/group_commit.rs): PostgreSQL and MySQL on the machine's servers, each bare and through
//! the URL factory, each on a new, empty namespace. Include it after `postgres_server` and
//! `mysql_server` (`#[path]` modules of the test crate).
#![allow(dead_code)]

use baileys_rust_auth::core::cipher::UserKey;
use baileys_rust_auth::core::open::{open_url, OpenOptions};
use baileys_rust_auth::core::sql::mysql::MysqlStore;
use baileys_rust_auth::core::store::Store;
use baileys_rust_auth::core::url::StoreUrl;

use crate::mysql_server::MysqlNamespace;
use crate::postgres_server;

/// The options of an encrypted store (the cipher layer: docs/encryption.md), with a fixed key.
pub fn encrypted() -> OpenOptions {
    OpenOptions { encryption: Some(UserKey::from_bytes(&[0x5e; 32]).unwrap()), ..OpenOptions::default() }
}

/// Adds the SQL server stores to `stores`. A PostgreSQL store drops its schema when dropped;
/// the MySQL prefixes are dropped with the returned namespaces, which must outlive the stores.
pub fn add_sql_stores(stores: &mut Vec<(&'static str, Box<dyn Store>)>) -> Vec<MysqlNamespace> {
    if let Some(url) = postgres_server::machine_url() {
        stores.push(("postgres", postgres_server::machine_store(&url, false)));
        stores.push(("url postgres", postgres_server::machine_store(&url, true)));
        stores.push(("url postgres encrypted", postgres_server::machine_store_with(&url, encrypted())));
    }
    let mut namespaces = Vec::new();
    if let (Some(bare), Some(url), Some(sealed)) = (MysqlNamespace::new(), MysqlNamespace::new(), MysqlNamespace::new()) {
        stores.push(("mysql", Box::new(MysqlStore::open(&bare.target(), bare.options(), true).unwrap())));
        stores.push(("url mariadb", open_url(&StoreUrl::parse(&url.url("mariadb")).unwrap(), OpenOptions::default()).unwrap()));
        stores.push(("url mariadb encrypted", open_url(&StoreUrl::parse(&sealed.url("mariadb")).unwrap(), encrypted()).unwrap()));
        namespaces.extend([bare, url, sealed]);
    }
    namespaces
}
