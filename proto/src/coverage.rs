//! The coverage change log: how newly found networks travel from the coordinator to workers.
//!
//! The coordinator appends entries to a Redis stream (default key [`DEFAULT_STREAM`]) on the
//! master; each entry has one field, [`FIELD`], whose value packs one or more records of
//! [`RECORD_LEN`] bytes each:
//!
//! ```text
//! byte 0..4  start address, big endian
//! byte 4..8  end address (inclusive), big endian
//! byte 8     flags: bit 0 = leaf (the registry marks the network as an assignment)
//! ```
//!
//! Packing many records into one entry keeps the bytes replicated per network far below the
//! 64-byte budget: the stream's own per-entry overhead is paid once per entry, not per network.

use thiserror::Error;

/// Default name of the Redis stream that carries coverage entries.
pub const DEFAULT_STREAM: &str = "rdapfleet:coverage";
/// The one field of every stream entry.
pub const FIELD: &str = "r";
/// Bytes per packed record.
pub const RECORD_LEN: usize = 9;
/// Flag bit: the network is a leaf (an assignment), relevant to the `leaf` skip policy.
pub const FLAG_LEAF: u8 = 1;

/// One network range in the coverage log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CoverageRecord {
    /// First address.
    pub start: u32,
    /// Last address (inclusive).
    pub end: u32,
    /// True when the network is an assignment (a leaf of the registry's tree).
    pub leaf: bool,
}

/// A stream value that is not a whole number of well-formed records.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The value's length is not a multiple of [`RECORD_LEN`].
    #[error("coverage entry of {0} bytes is not a multiple of {RECORD_LEN}")]
    Length(usize),
    /// A record whose end precedes its start.
    #[error("coverage record {index} has end before start")]
    Inverted {
        /// Position of the record in the entry.
        index: usize,
    },
    /// A record with unknown flag bits set (written by a newer coordinator).
    #[error("coverage record {index} has unknown flags {flags:#04x}")]
    Flags {
        /// Position of the record in the entry.
        index: usize,
        /// The flag byte.
        flags: u8,
    },
}

/// Append the packed form of `records` to `out`.
pub fn encode_into(records: &[CoverageRecord], out: &mut Vec<u8>) {
    out.reserve(records.len() * RECORD_LEN);
    for r in records {
        out.extend_from_slice(&r.start.to_be_bytes());
        out.extend_from_slice(&r.end.to_be_bytes());
        out.push(if r.leaf { FLAG_LEAF } else { 0 });
    }
}

/// The packed form of `records`.
pub fn encode(records: &[CoverageRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(records, &mut out);
    out
}

/// Decode one stream value; rejects anything not written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<Vec<CoverageRecord>, DecodeError> {
    if !bytes.len().is_multiple_of(RECORD_LEN) {
        return Err(DecodeError::Length(bytes.len()));
    }
    bytes
        .chunks_exact(RECORD_LEN)
        .enumerate()
        .map(|(index, c)| {
            let start = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
            let end = u32::from_be_bytes([c[4], c[5], c[6], c[7]]);
            let flags = c[8];
            if end < start {
                return Err(DecodeError::Inverted { index });
            }
            if flags & !FLAG_LEAF != 0 {
                return Err(DecodeError::Flags { index, flags });
            }
            Ok(CoverageRecord {
                start,
                end,
                leaf: flags & FLAG_LEAF != 0,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trip(raw in proptest::collection::vec((any::<u32>(), any::<u32>(), any::<bool>()), 0..50)) {
            let recs: Vec<_> = raw.iter().map(|&(a, b, leaf)| CoverageRecord { start: a.min(b), end: a.max(b), leaf }).collect();
            let bytes = encode(&recs);
            prop_assert_eq!(bytes.len(), recs.len() * RECORD_LEN);
            prop_assert_eq!(decode(&bytes).unwrap(), recs);
        }
    }

    #[test]
    fn rejects_bad_values() {
        assert_eq!(decode(&[0; 10]), Err(DecodeError::Length(10)));
        let mut inverted = encode(&[CoverageRecord {
            start: 5,
            end: 9,
            leaf: false,
        }]);
        inverted[7] = 0; // end becomes 0 < start
        assert_eq!(decode(&inverted), Err(DecodeError::Inverted { index: 0 }));
        let mut flags = encode(&[CoverageRecord {
            start: 1,
            end: 2,
            leaf: true,
        }]);
        flags[8] = 0x81;
        assert_eq!(
            decode(&flags),
            Err(DecodeError::Flags {
                index: 0,
                flags: 0x81
            })
        );
    }
}
