//! LEB128 varints, the one implementation behind every length and count of the
//! [`codec`](super::codec) and the [`wire`](super::wire) framing (`lib/codec.js` and
//! `lib/wire.js` are its JavaScript twins): 7 bits per byte, least significant first, the high
//! bit set on every byte but the last.

/// Why a varint could not be read. Each caller turns it into its own error: a damaged stored
/// value is corrupt, a damaged batch from JavaScript is an invalid argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended inside the varint.
    Truncated,
    /// More than the 10 bytes a `u64` can need.
    TooLong,
}

/// Appends `n`.
#[inline]
pub fn write(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads the varint at `*pos` and moves `*pos` past it. On an error `*pos` is unspecified:
/// callers stop reading.
#[inline]
pub fn read(data: &[u8], pos: &mut usize) -> Result<u64, VarintError> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*pos).ok_or(VarintError::Truncated)?;
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(VarintError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_at_every_byte_boundary() {
        for n in [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, u64::from(u32::MAX), (1 << 53) - 1, u64::MAX] {
            let mut out = Vec::new();
            write(&mut out, n);
            let mut pos = 0;
            assert_eq!(read(&out, &mut pos), Ok(n));
            assert_eq!(pos, out.len());
        }
        let mut out = Vec::new();
        write(&mut out, 300);
        assert_eq!(out, [0xac, 0x02]);
    }

    #[test]
    fn damaged_input_is_an_error() {
        assert_eq!(read(&[], &mut 0), Err(VarintError::Truncated));
        assert_eq!(read(&[0x80, 0x80], &mut 0), Err(VarintError::Truncated));
        assert_eq!(read(&[0xff; 11], &mut 0), Err(VarintError::TooLong));
    }
}
