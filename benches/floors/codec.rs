//! `codec/` and `wire/`: the codec alone, and the binding's Rust-side buffers.

use std::hint::black_box;

use crate::harness::*;
use crate::inputs::*;
use baileys_rust_auth::core::codec::{self, Value};
use baileys_rust_auth::core::store::KeyWrite;
use baileys_rust_auth::core::wire;

pub(crate) fn codec_group(b: &mut Bench) {
    let mut rng = Rng::new(3);
    let values: Vec<(&'static str, &'static str, Value)> = vec![
        ("prekey", "each pre-key", prekey_pair(&mut rng)),
        ("session_1_9k", "a `sessions-micro` record", session_record(&mut rng, CHAINS_1_9K, false)),
        ("session_fanout", "a `fanout` session", session_record(&mut rng, 0, true)),
        ("session_100k", "a late `chat` record", session_record(&mut rng, CHAINS_100K, false)),
        ("appstate_5000", "the `appstate` version", appstate(9, 1, 0)),
        ("creds", "creds (`saveCreds`, coldstart)", creds(&mut rng)),
    ];
    for (name, floor_of, value) in &values {
        let encoded = codec::encode(value);
        let bytes = (encoded.len(), 1);
        b.sizes.push((*name, encoded.len(), buffer_json_len(value)));
        b.cpu(&format!("codec/encode_{name}"), floor_of, bytes, || {
            black_box(codec::encode(black_box(value)));
        });
        b.cpu(&format!("codec/decode_{name}"), floor_of, bytes, || {
            black_box(codec::decode(black_box(&encoded)).unwrap());
        });
        b.cpu(&format!("codec/validate_{name}"), floor_of, bytes, || {
            codec::validate(black_box(&encoded)).unwrap();
        });
    }

    // What the binding does in Rust on each call besides the store: read (and validate) a
    // key batch, and write the results of a get.
    let prekeys: Vec<KeyWrite> =
        (0..PREKEYS).map(|i| write("pre-key", &(i + 1).to_string(), &codec::encode(&prekey_pair(&mut rng)))).collect();
    let session = codec::encode(&values[1].2);
    let appstate = codec::encode(&values[4].2);
    for (name, floor_of, writes) in [
        ("wire/read_batch_prekeys_812", "`prekeys` set, binding's Rust side", prekeys),
        ("wire/read_batch_session_1_9k", "`sessions-micro` set, binding's Rust side", vec![write("session", PEER, &session)]),
        (
            "wire/read_batch_appstate_5000",
            "`appstate` set, binding's Rust side",
            vec![write("app-state-sync-version", APPSTATE_ID, &appstate)],
        ),
    ] {
        let batch = wire::write_batch(&writes);
        let bytes = (writes[0].value.as_ref().unwrap().len(), writes.len());
        b.cpu(name, floor_of, bytes, || {
            black_box(wire::read_batch(black_box(&batch)).unwrap());
        });
    }
    let results = vec![Some(session.clone())];
    b.cpu("wire/write_results_session_1_9k", "`sessions-micro` get, binding's Rust side", (session.len(), 1), || {
        black_box(wire::write_results(black_box(&results)));
    });
}
