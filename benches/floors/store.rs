//! `store/`: the operations through the `Store` trait, bare and with the factory's layers.

use std::hint::black_box;
use std::path::Path;

use crate::harness::*;
use crate::inputs::*;
use baileys_rust_auth::core::lease::{Claim, Fence, LeaseRequest};
use baileys_rust_auth::core::open::{open_url, OpenOptions};
use baileys_rust_auth::core::sqlite::SqliteStore;
use baileys_rust_auth::core::store::{KeyWrite, Store};
use baileys_rust_auth::core::url::StoreUrl;

/// The same operations through the `Store` trait: on the bare backend (`SqliteStore::open`,
/// `store/`), and on the store the URL factory returns with its layers (`open_url`,
/// `store/checked_`), so that one run shows what the layers cost; and on the bare backend with
/// every write fenced by the session's lease (`store/fenced_`), which is what ownership costs a
/// write (`docs/ownership.md`).
pub(crate) fn store_group(b: &mut Bench, dir: &Path, inp: &Inputs) {
    // One store open at a time: connections share SQLite's page-cache pool (see `raw_group`),
    // and a second one open would leave the other's large values (450 KB of overflow pages)
    // out of the cache, which is not what the layer costs.
    {
        let mut bare = SqliteStore::open(&dir.join("store.db")).unwrap();
        store_cases(b, "store/", &mut bare, inp, None);
    }
    {
        let mut owned = SqliteStore::open(&dir.join("store-fenced.db")).unwrap();
        let fence = owned.acquire_lease(SESSION, &LeaseRequest::new(60_000, Claim::Refuse, "bench")).unwrap().fence();
        store_cases(b, "store/fenced_", &mut owned, inp, Some(&fence));
    }
    let url = StoreUrl::parse(&format!("sqlite:{}", dir.join("store-checked.db").display())).unwrap();
    let mut layered = open_url(&url, OpenOptions::default()).unwrap();
    store_cases(b, "store/checked_", layered.as_mut(), inp, None);
}

pub(crate) fn store_cases(b: &mut Bench, prefix: &str, store: &mut dyn Store, inp: &Inputs, fence: Option<&Fence>) {
    let pk_bytes = (inp.prekeys[0].len(), PREKEYS);

    let writes = |first: usize| -> Vec<KeyWrite> {
        prekey_ids(first).iter().zip(&inp.prekeys).map(|(id, value)| write("pre-key", id, value)).collect()
    };
    store.apply(SESSION, &writes(1), fence).unwrap();
    let mut next = 1 + PREKEYS;
    {
        let (store, next) = (&mut *store, &mut next);
        // The batches are made outside the clock (the binding's `wire::read_batch` makes them).
        let setup = || {
            *next += PREKEYS;
            writes(*next - PREKEYS)
        };
        b.io_setup(&format!("{prefix}put_prekeys_812"), "`prekeys` set", pk_bytes, setup, |writes| {
            store.apply(SESSION, &writes, fence).unwrap();
            writes
        });
    }
    let get_ids = prekey_gets(next - 1);
    let mut i = 0;
    b.io(&format!("{prefix}get_prekey"), "`prekeys` get", (pk_bytes.0, 1), || {
        black_box(store_get(store, "pre-key", &get_ids[i % get_ids.len()]));
        i += 1;
    });

    for c in single_cases(inp) {
        let batches = [0, 1].map(|k| vec![write(c.kind, c.id, &c.blobs[k])]);
        let ids = [c.id.to_owned()];
        store.apply(SESSION, &batches[1], fence).unwrap();
        let mut n = 0usize;
        b.io(&format!("{prefix}put_{}", c.name), c.put_floor, c.bytes(), || {
            store.apply(SESSION, &batches[n % 2], fence).unwrap();
            n += 1;
        });
        b.io(&format!("{prefix}get_{}", c.name), c.get_floor, c.bytes(), || {
            black_box(store_get(store, c.kind, &ids));
        });
    }

    let batches =
        [0, 1].map(|k| inp.fanout_ids.iter().zip(&inp.fanout[k]).map(|(id, blob)| write("session", id, blob)).collect::<Vec<_>>());
    let mut n = 0usize;
    b.io(&format!("{prefix}put_sessions_256"), "a `fanout` commit", (inp.fanout[0][0].len(), FANOUT), || {
        store.apply(SESSION, &batches[n % 2], fence).unwrap();
        n += 1;
    });
}
