//! How key batches and read results cross between JavaScript and the store in one buffer
//! each (not a stored format). The JavaScript side (`lib/codec.js`) writes batches and reads
//! results; this module reads batches (their framing: counts, lengths, UTF-8, flags) and
//! writes results. Whether each value is a well-formed codec blob is not checked here but by
//! the byte-check layer ([`Checked`](super::layers::checked::Checked)), which every store
//! opened from a URL has, so that Rust tools writing batches get the same check.
//!
//! ```text
//! batch   = varint count, count × write
//! write   = varint len, type (UTF-8), varint len, id (UTF-8), 0 (delete) | 1 varint len value
//! results = varint count, count × (0 (absent) | 1 varint len value)
//! ```
//! Values are codec blobs ([`codec`](super::codec)). The inspection results
//! ([`write_key_list`], [`write_stats`]) are codec blobs themselves, so that JavaScript reads
//! them with the decoder it already has.

use super::codec::Encoder;
use super::error::StoreError;
use super::lease::LeaseInfo;
use super::store::{KeyInfo, KeyWrite, SessionStats};
use super::varint::{self, VarintError};

/// Reads a batch's framing; its values are returned as they are (see the module doc).
pub fn read_batch(data: &[u8]) -> Result<Vec<KeyWrite>, StoreError> {
    let mut input = Input { data, pos: 0 };
    let count = input.varint()?;
    // Every write takes at least 3 bytes: refuse an impossible count before allocating.
    if count.saturating_mul(3) > data.len() as u64 {
        return Err(bad("batch count exceeds its size"));
    }
    let mut writes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let kind = input.string()?;
        if kind.is_empty() {
            // Reads refuse an empty type: what was stored under one could never be read.
            return Err(bad("a key type is empty"));
        }
        let id = input.string()?;
        let value = match input.byte()? {
            0 => None,
            1 => Some(input.slice()?.to_vec()),
            _ => return Err(bad("unknown write flag")),
        };
        writes.push(KeyWrite { kind, id, value });
    }
    if input.pos != data.len() {
        return Err(bad("trailing bytes after the batch"));
    }
    Ok(writes)
}

/// Writes the values read for a list of ids, in order.
pub fn write_results<V: AsRef<[u8]>>(values: &[Option<V>]) -> Vec<u8> {
    let size: usize = values.iter().map(|v| 1 + v.as_ref().map_or(0, |v| 10 + v.as_ref().len())).sum();
    let mut out = Vec::with_capacity(10 + size);
    varint::write(&mut out, values.len() as u64);
    for value in values {
        optional_value(&mut out, value.as_ref().map(AsRef::as_ref));
    }
    out
}

/// A session's key list as a codec blob: an array of `[type, id, bytes]` triples (string,
/// string, number), in the list's order.
pub fn write_key_list(keys: &[KeyInfo]) -> Vec<u8> {
    let size: usize = keys.iter().map(|k| 16 + k.kind.len() + k.id.len()).sum();
    let mut e = Encoder::with_capacity(10 + size);
    e.array_header(keys.len());
    for key in keys {
        e.array_header(3);
        e.string(&key.kind);
        e.string(&key.id);
        e.number(key.bytes as f64);
    }
    e.finish()
}

/// A session's stats as a codec blob: `{ credsBytes: number | null, types: { [type]: {
/// count: number, bytes: number } }, updatedAt: number | null }`, types in the stats' order.
pub fn write_stats(stats: &SessionStats) -> Vec<u8> {
    let optional = |e: &mut Encoder, n: Option<f64>| match n {
        Some(n) => e.number(n),
        None => e.null(),
    };
    let mut e = Encoder::new();
    e.object_header(3);
    e.key("credsBytes");
    optional(&mut e, stats.creds_bytes.map(|n| n as f64));
    e.key("types");
    e.object_header(stats.kinds.len());
    for kind in &stats.kinds {
        e.key(&kind.kind);
        e.object_header(2);
        e.key("count");
        e.number(kind.count as f64);
        e.key("bytes");
        e.number(kind.bytes as f64);
    }
    e.key("updatedAt");
    optional(&mut e, stats.updated_at_ms.map(|n| n as f64));
    e.finish()
}

/// A lease as a codec blob of `{ fence, epoch, host, pid, acquiredAt, expiresAt, live }` (times in
/// ms since the Unix epoch; `fence` is what the holder passes with its writes, `""` once released).
pub fn write_lease(lease: &LeaseInfo) -> Vec<u8> {
    let mut e = Encoder::new();
    lease_into(&mut e, lease);
    e.finish()
}

fn lease_into(e: &mut Encoder, lease: &LeaseInfo) {
    e.object_header(7);
    e.key("fence");
    e.string(&if lease.holder.is_empty() { String::new() } else { lease.fence().token() });
    e.key("epoch");
    e.number(lease.epoch as f64);
    e.key("host");
    e.string(&lease.owner.host);
    e.key("pid");
    e.number(f64::from(lease.owner.pid));
    e.key("acquiredAt");
    e.number(lease.owner.acquired_at_ms as f64);
    e.key("expiresAt");
    e.number(lease.owner.expires_at_ms as f64);
    e.key("live");
    e.bool(lease.live);
}

/// Every stored lease as a codec blob of `[session, lease][]` (each lease as [`write_lease`]).
pub fn write_leases(leases: &[(String, LeaseInfo)]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.array_header(leases.len());
    for (session, lease) in leases {
        e.array_header(2);
        e.string(session);
        lease_into(&mut e, lease);
    }
    e.finish()
}

/// Each lease's outcome (`acquire_leases`, `renew_leases`) as a codec blob of an array, in
/// order: a lease as [`write_lease`], or `{ code, message, owner? }` for one refused.
pub fn write_lease_outcomes(outcomes: &[crate::core::error::Result<LeaseInfo>]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.array_header(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Ok(lease) => lease_into(&mut e, lease),
            Err(err) => {
                let owner = match err {
                    crate::core::error::StoreError::SessionLocked { owner, .. } => Some(owner),
                    _ => None,
                };
                e.object_header(if owner.is_some() { 3 } else { 2 });
                e.key("code");
                e.string(err.code());
                e.key("message");
                e.string(&err.to_string());
                if let Some(owner) = owner {
                    e.key("owner");
                    owner_into(&mut e, owner);
                }
            }
        }
    }
    e.finish()
}

/// What a rekey did to a session ([`SessionRekey`](crate::core::store::SessionRekey)), as a
/// codec value: `{ resealed, stale, owner }`, `owner` null or `{ host, pid, acquiredAt,
/// expiresAt }`.
pub fn write_session_rekey(rekey: &crate::core::store::SessionRekey) -> Vec<u8> {
    let mut e = Encoder::new();
    e.object_header(3);
    e.key("resealed");
    e.number(rekey.resealed as f64);
    e.key("stale");
    e.number(rekey.stale as f64);
    e.key("owner");
    match &rekey.owner {
        Some(owner) => owner_into(&mut e, owner),
        None => e.null(),
    }
    e.finish()
}

/// A lease's owner, for people: `{ host, pid, acquiredAt, expiresAt }`.
fn owner_into(e: &mut Encoder, owner: &crate::core::error::LeaseOwner) {
    e.object_header(4);
    e.key("host");
    e.string(&owner.host);
    e.key("pid");
    e.number(f64::from(owner.pid));
    e.key("acquiredAt");
    e.number(owner.acquired_at_ms as f64);
    e.key("expiresAt");
    e.number(owner.expires_at_ms as f64);
}

/// Writes a batch (the JavaScript side does this; here for tests and Rust tools).
pub fn write_batch(writes: &[KeyWrite]) -> Vec<u8> {
    let mut out = Vec::new();
    varint::write(&mut out, writes.len() as u64);
    for write in writes {
        for text in [&write.kind, &write.id] {
            varint::write(&mut out, text.len() as u64);
            out.extend_from_slice(text.as_bytes());
        }
        optional_value(&mut out, write.value.as_deref());
    }
    out
}

/// `0` for none, or `1`, the length and the value.
fn optional_value(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            varint::write(out, value.len() as u64);
            out.extend_from_slice(value);
        }
    }
}

fn bad(why: &str) -> StoreError {
    StoreError::invalid(format!("malformed key batch: {why}"))
}

struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Input<'a> {
    fn byte(&mut self) -> Result<u8, StoreError> {
        let b = *self.data.get(self.pos).ok_or_else(|| bad("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        varint::read(self.data, &mut self.pos).map_err(|e| match e {
            VarintError::Truncated => bad("truncated"),
            VarintError::TooLong => bad("varint too long"),
        })
    }

    fn slice(&mut self) -> Result<&'a [u8], StoreError> {
        let len = self.varint()?;
        let end = (self.pos as u64).checked_add(len).filter(|end| *end <= self.data.len() as u64).ok_or_else(|| bad("truncated"))?;
        let slice = &self.data[self.pos..end as usize];
        self.pos = end as usize;
        Ok(slice)
    }

    fn string(&mut self) -> Result<String, StoreError> {
        let bytes = self.slice()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| bad("a type or id is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::codec::{self, encode, Value};

    #[test]
    fn batches_round_trip() {
        let writes = vec![
            KeyWrite { kind: "pre-key".into(), id: "1".into(), value: Some(encode(&Value::Bytes(vec![1, 2]))) },
            KeyWrite { kind: "session".into(), id: "a:b::c".into(), value: None },
        ];
        assert_eq!(read_batch(&write_batch(&writes)).unwrap(), writes);
        assert_eq!(read_batch(&write_batch(&[])).unwrap(), vec![]);
    }

    #[test]
    fn damaged_batches_are_invalid_never_a_panic() {
        let writes = vec![KeyWrite { kind: "t".into(), id: "i".into(), value: Some(encode(&Value::String("v".into()))) }];
        let batch = write_batch(&writes);
        for len in 0..batch.len() {
            assert_eq!(read_batch(&batch[..len]).unwrap_err().code(), "ERR_INVALID_ARG");
        }
        assert!(read_batch(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn key_lists_and_stats_are_codec_blobs() {
        let keys = vec![KeyInfo { kind: "pre-key".into(), id: "1".into(), bytes: 40 }];
        let expected =
            Value::Array(vec![Value::Array(vec![Value::String("pre-key".into()), Value::String("1".into()), Value::Number(40.0)])]);
        assert_eq!(codec::decode(&write_key_list(&keys)).unwrap(), expected);
        assert_eq!(codec::decode(&write_key_list(&[])).unwrap(), Value::Array(vec![]));

        let stats = SessionStats {
            creds_bytes: Some(300),
            kinds: vec![crate::core::store::KindStats { kind: "session".into(), count: 2, bytes: 90 }],
            updated_at_ms: Some(1_700_000_000_123),
        };
        let count_bytes =
            |count: f64, bytes: f64| Value::Object(vec![("count".into(), Value::Number(count)), ("bytes".into(), Value::Number(bytes))]);
        assert_eq!(
            codec::decode(&write_stats(&stats)).unwrap(),
            Value::Object(vec![
                ("credsBytes".into(), Value::Number(300.0)),
                ("types".into(), Value::Object(vec![("session".into(), count_bytes(2.0, 90.0))])),
                ("updatedAt".into(), Value::Number(1_700_000_000_123.0)),
            ])
        );
        assert_eq!(
            codec::decode(&write_stats(&SessionStats::default())).unwrap(),
            Value::Object(vec![
                ("credsBytes".into(), Value::Null),
                ("types".into(), Value::Object(vec![])),
                ("updatedAt".into(), Value::Null),
            ])
        );
    }

    #[test]
    fn results_have_a_flag_per_id() {
        assert_eq!(write_results(&[None, Some(vec![1, 7])]), vec![2, 0, 1, 2, 1, 7]);
    }
}
