//! The golden vectors (`tests/vectors/*.json`, format in `docs/format.md`): the Rust twins
//! `core::codec` and `core::wire` write and read exactly these bytes. `__test__/vectors.test.mjs`
//! holds the JavaScript twins (`lib/codec.js`, `lib/wire.js`) to the same files.
//!
//! serde_json (without `preserve_order`) reads objects with their keys sorted, so a vector's
//! value is compared with what its bytes decode to with object keys sorted on both sides, and
//! the encoder is held to the bytes by encoding the decoded value (which keeps the order the
//! bytes give). The JavaScript test checks the order itself.

use baileys_rust_auth::core::codec::{decode, encode, validate, Value};
use baileys_rust_auth::core::store::{KeyInfo, KeyWrite, KindStats, SessionStats};
use baileys_rust_auth::core::wire::{read_batch, write_batch, write_key_list, write_results, write_stats};
use serde_json::Value as Json;

fn load(name: &str) -> Json {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bytes(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length: {hex}");
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|_| panic!("not hex: {hex}"))).collect()
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn text<'a>(json: &'a Json, field: &str) -> &'a str {
    json[field].as_str().unwrap_or_else(|| panic!("{field} is not a string in {json}"))
}

fn number(json: &Json) -> u64 {
    json.as_u64().unwrap_or_else(|| panic!("{json} is not a count"))
}

/// A vector's JSON as the value it stands for: `{"$bytes": "hex"}` is bytes.
fn value_of(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => Value::Number(n.as_f64().expect("a number")),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(value_of).collect()),
        Json::Object(map) => match map.get("$bytes") {
            Some(Json::String(h)) if map.len() == 1 => Value::Bytes(bytes(h)),
            _ => Value::Object(map.iter().map(|(k, v)| (k.clone(), value_of(v))).collect()),
        },
    }
}

/// `value` with every object's keys sorted, to compare with `value_of` (see the top).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        Value::Object(entries) => {
            let mut entries: Vec<_> = entries.iter().map(|(k, v)| (k.clone(), sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries)
        }
        other => other.clone(),
    }
}

/// Same value, numbers compared by their bits (so -0 is not 0, and NaN would equal itself).
fn assert_same(found: &Value, expected: &Value, name: &str) {
    fn bits(value: &Value) -> String {
        match value {
            Value::Number(n) => format!("n{:016x}", n.to_bits()),
            Value::Array(items) => format!("[{}]", items.iter().map(bits).collect::<Vec<_>>().join(",")),
            Value::Object(entries) => {
                format!("{{{}}}", entries.iter().map(|(k, v)| format!("{k:?}:{}", bits(v))).collect::<Vec<_>>().join(","))
            }
            other => format!("{other:?}"),
        }
    }
    assert_eq!(bits(found), bits(expected), "{name}");
}

fn encoded_by_rust(vector: &Json) -> bool {
    match vector.get("encodedBy") {
        None => true,
        Some(sides) => sides.as_array().expect("encodedBy is a list").iter().any(|s| s == "rust"),
    }
}

#[test]
fn codec_values_encode_to_and_decode_from_their_bytes() {
    let vectors = load("codec.json");
    let valid = vectors["valid"].as_array().expect("valid vectors");
    assert!(valid.len() >= 40);
    for vector in valid {
        let name = text(vector, "name");
        let data = bytes(text(vector, "hex"));
        let decoded = decode(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The store's byte check of writes (its fast path) accepts what the decoder reads.
        validate(&data).unwrap_or_else(|e| panic!("{name}: validate: {e}"));
        let expected = value_of(vector.get("decoded").unwrap_or(&vector["value"]));
        assert_same(&sorted(&decoded), &sorted(&expected), name);
        if encoded_by_rust(vector) {
            assert_eq!(hex(&encode(&decoded)), hex(&data), "{name}: encoding the decoded value");
            // The vector's own value (keys sorted, see the top) encodes as the decoded one does.
            assert_eq!(hex(&encode(&sorted(&value_of(&vector["value"])))), hex(&encode(&sorted(&decoded))), "{name}: encoding the value");
        }
    }
}

#[test]
fn damaged_codec_bytes_are_refused_with_their_code() {
    let vectors = load("codec.json");
    let invalid = vectors["invalid"].as_array().expect("invalid vectors");
    assert!(invalid.len() >= 10);
    for vector in invalid {
        let name = text(vector, "name");
        let err = decode(&bytes(text(vector, "hex"))).err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(err.code(), text(vector, "code"), "{name}: {err}");
        // The store's byte check of writes refuses what the decoder refuses.
        let err = validate(&bytes(text(vector, "hex"))).err().unwrap_or_else(|| panic!("{name}: accepted by validate"));
        assert_eq!(err.code(), text(vector, "code"), "{name}: validate: {err}");
    }
}

fn writes_of(vector: &Json) -> Vec<KeyWrite> {
    let writes = vector["writes"].as_array().expect("writes");
    writes
        .iter()
        .map(|w| KeyWrite {
            kind: text(w, "type").to_owned(),
            id: text(w, "id").to_owned(),
            value: if w["value"].is_null() { None } else { Some(encode(&value_of(&w["value"]))) },
        })
        .collect()
}

#[test]
fn batches_are_written_as_and_read_from_their_bytes() {
    let vectors = load("wire.json");
    for vector in vectors["batches"].as_array().expect("batches") {
        let name = text(vector, "name");
        let writes = writes_of(vector);
        assert_eq!(hex(&write_batch(&writes)), text(vector, "hex"), "{name}: write_batch");
        assert_eq!(read_batch(&bytes(text(vector, "hex"))).unwrap_or_else(|e| panic!("{name}: {e}")), writes, "{name}: read_batch");
        // What keys.set sends (fixed-width varints): the same writes.
        let keys_set = bytes(text(vector, "keysSetHex"));
        assert_eq!(read_batch(&keys_set).unwrap_or_else(|e| panic!("{name}: {e}")), writes, "{name}: read_batch of keys.set's bytes");
    }
}

#[test]
fn results_are_written_as_their_bytes() {
    let vectors = load("wire.json");
    for vector in vectors["results"].as_array().expect("results") {
        let name = text(vector, "name");
        let values: Vec<Option<Vec<u8>>> = vector["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|v| if v.is_null() { None } else { Some(encode(&value_of(v))) })
            .collect();
        assert_eq!(hex(&write_results(&values)), text(vector, "hex"), "{name}");
    }
}

#[test]
fn key_lists_and_stats_are_written_as_their_bytes() {
    let vectors = load("wire.json");
    for vector in vectors["keyLists"].as_array().expect("keyLists") {
        let keys: Vec<KeyInfo> = vector["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| KeyInfo { kind: text(k, "type").to_owned(), id: text(k, "id").to_owned(), bytes: number(&k["bytes"]) })
            .collect();
        assert_eq!(hex(&write_key_list(&keys)), text(vector, "hex"), "{}", text(vector, "name"));
    }
    for vector in vectors["stats"].as_array().expect("stats") {
        let s = &vector["stats"];
        let stats = SessionStats {
            creds_bytes: s["credsBytes"].as_u64(),
            kinds: s["types"]
                .as_array()
                .expect("types")
                .iter()
                .map(|t| KindStats { kind: text(t, "type").to_owned(), count: number(&t["count"]), bytes: number(&t["bytes"]) })
                .collect(),
            updated_at_ms: s["updatedAt"].as_i64(),
        };
        assert_eq!(hex(&write_stats(&stats)), text(vector, "hex"), "{}", text(vector, "name"));
    }
}

/// Rust reads batches, never results: the results vectors bind the JavaScript reader only.
#[test]
fn damaged_batches_are_refused_with_their_code() {
    let vectors = load("wire.json");
    let batches: Vec<_> = vectors["invalid"].as_array().expect("invalid").iter().filter(|v| v["reader"] == "batch").collect();
    assert!(batches.len() >= 5);
    for vector in batches {
        let name = text(vector, "name");
        let err = read_batch(&bytes(text(vector, "hex"))).err().unwrap_or_else(|| panic!("{name}: accepted"));
        assert_eq!(err.code(), text(vector, "code"), "{name}: {err}");
    }
}
