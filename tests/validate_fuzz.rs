//! `codec::validate` (the store's byte check of every write, with its fast path) against
//! `codec::decode` (the token reader): on random and mutated blobs they must agree, and neither
//! may panic. A tiny deterministic PRNG keeps it reproducible; a failure prints the blob.

use baileys_rust_auth::core::codec::{decode, encode, validate, Value};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn value(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth > 4;
    match rng.below(if leaf { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 1),
        2 => Value::Number(match rng.below(3) {
            0 => rng.below(1000) as f64 - 500.0,
            1 => f64::from_bits(rng.next()),
            _ => 9_007_199_254_740_993.0,
        }),
        3 => Value::String(["", "a", "é", "日本", "\u{1F600}", "long ascii string ok"][rng.below(6) as usize].to_owned()),
        4 | 5 => Value::Bytes((0..rng.below(20)).map(|_| rng.next() as u8).collect()),
        6 => Value::Array((0..rng.below(5)).map(|_| value(rng, depth + 1)).collect()),
        _ => Value::Object((0..rng.below(5)).map(|i| (format!("k{i}é"), value(rng, depth + 1))).collect()),
    }
}

fn deep(levels: usize) -> Vec<u8> {
    let mut v = vec![1u8];
    for _ in 0..levels {
        v.extend([7, 1]);
    }
    v.push(0);
    v
}

fn agree(data: &[u8]) {
    let fast = std::panic::catch_unwind(|| validate(data).is_ok());
    let slow = std::panic::catch_unwind(|| decode(data).is_ok());
    match (fast, slow) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "validate says {a}, decode says {b}: {data:02x?}"),
        _ => panic!("a panic on {data:02x?}"),
    }
}

#[test]
fn validate_agrees_with_the_decoder_on_random_and_mutated_blobs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for levels in [126, 127, 128, 129, 130] {
        agree(&deep(levels));
    }
    for _ in 0..20_000 {
        let mut data = encode(&value(&mut rng, 0));
        agree(&data);
        for _ in 0..1 + rng.below(4) {
            if data.is_empty() {
                break;
            }
            let at = rng.below(data.len() as u64) as usize;
            match rng.below(5) {
                0 => data[at] = rng.next() as u8,
                1 => data[at] ^= 1 << rng.below(8),
                2 => data.truncate(at),
                3 => data.insert(at, rng.next() as u8),
                _ => {
                    data.remove(at);
                }
            }
            agree(&data);
        }
    }
    for _ in 0..20_000 {
        let len = rng.below(24) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| (rng.next() % 12) as u8).collect();
        if !data.is_empty() && rng.below(2) == 0 {
            data[0] = 1;
        }
        agree(&data);
    }
}
