//! Splitting a module into chunks and putting it back together.
//!
//! Redis holds a string of up to 512 MB, but one command carrying tens of
//! megabytes blocks the server for as long as it takes to read it, and a
//! script given that much in `ARGV` copies it into Lua as well. A module is
//! therefore uploaded as fields `0`, `1`, ... of one hash, [`CHUNK_SIZE`]
//! bytes each (the last one shorter), with plain `HSET`s before the commit
//! script runs, and read back a few chunks per `HMGET`. The pure part (how
//! many chunks, which bytes go where, whether what came back is whole)
//! lives here so it can be property-tested without Redis.

use sha2::{Digest, Sha256};

/// Bytes per chunk: 1 MiB, small enough for one command not to stall Redis.
pub const CHUNK_SIZE: usize = 1 << 20;

/// What is wrong with a module read back from Redis.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reassembly {
    /// A chunk is missing (deleted, expired, or never written).
    #[error("chunk {index} of {chunks} is missing")]
    Missing {
        /// Its index.
        index: usize,
        /// How many there should be.
        chunks: usize,
    },
    /// The chunks do not add up to the recorded size.
    #[error("the chunks hold {got} bytes, the version records {want}")]
    Size {
        /// Bytes found.
        got: u64,
        /// Bytes recorded.
        want: u64,
    },
    /// The bytes do not hash to the recorded SHA-256.
    #[error("the bytes hash to {got}, the version records {want}")]
    Sha {
        /// SHA-256 of what was read.
        got: String,
        /// SHA-256 recorded.
        want: String,
    },
}

/// How many chunks a module of `len` bytes takes (at least one, so that
/// even an empty body is a hash that exists).
pub fn chunk_count(len: u64) -> usize {
    let chunk = CHUNK_SIZE as u64;
    usize::try_from(len.div_ceil(chunk).max(1)).unwrap_or(usize::MAX)
}

/// The chunks of `bytes`, in order: each [`CHUNK_SIZE`] bytes but the last.
pub fn split(bytes: &[u8]) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return vec![bytes];
    }
    bytes.chunks(CHUNK_SIZE).collect()
}

/// Puts chunks read back (in order, `None` where Redis had nothing) into
/// one module and checks its size and SHA-256 against the version record.
pub fn join(chunks: Vec<Option<Vec<u8>>>, size: u64, sha256: &str) -> Result<Vec<u8>, Reassembly> {
    let count = chunks.len();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for (index, chunk) in chunks.into_iter().enumerate() {
        let chunk = chunk.ok_or(Reassembly::Missing {
            index,
            chunks: count,
        })?;
        bytes.extend_from_slice(&chunk);
    }
    if bytes.len() as u64 != size {
        return Err(Reassembly::Size {
            got: bytes.len() as u64,
            want: size,
        });
    }
    let got = hex::encode(Sha256::digest(&bytes));
    if got != sha256 {
        return Err(Reassembly::Sha {
            got,
            want: sha256.to_owned(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn owned(bytes: &[u8]) -> Vec<Option<Vec<u8>>> {
        split(bytes).into_iter().map(|c| Some(c.to_vec())).collect()
    }

    #[test]
    fn sizes_at_the_chunk_edges() {
        assert_eq!(chunk_count(0), 1);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64 + 1), 2);
        assert_eq!(chunk_count(256 << 20), 256);
        let big = vec![7u8; 2 * CHUNK_SIZE + 3];
        let parts = split(&big);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].len(), 3);
    }

    #[test]
    fn damage_is_named() {
        let bytes = vec![1u8; CHUNK_SIZE + 10];
        let mut chunks = owned(&bytes);
        chunks[1] = None;
        assert_eq!(
            join(chunks, bytes.len() as u64, &sha(&bytes)),
            Err(Reassembly::Missing {
                index: 1,
                chunks: 2
            })
        );
        let err = join(owned(&bytes), 5, &sha(&bytes)).unwrap_err();
        assert!(matches!(err, Reassembly::Size { want: 5, .. }), "{err}");
        let err = join(owned(&bytes), bytes.len() as u64, &sha(b"other")).unwrap_err();
        assert!(err.to_string().contains("hash to"), "{err}");
    }

    proptest! {
        // Megabyte buffers hashed in a debug build: few cases suffice.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn split_then_join_is_the_identity(
            len in prop_oneof![0usize..64, (CHUNK_SIZE - 2)..(CHUNK_SIZE + 2), (3 * CHUNK_SIZE - 1)..(3 * CHUNK_SIZE + 1)],
            seed in any::<u8>(),
        ) {
            let bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let parts = split(&bytes);
            prop_assert_eq!(parts.len(), chunk_count(len as u64));
            for (i, part) in parts.iter().enumerate() {
                if i + 1 < parts.len() {
                    prop_assert_eq!(part.len(), CHUNK_SIZE);
                } else {
                    prop_assert!(part.len() <= CHUNK_SIZE);
                    prop_assert!(!part.is_empty() || len == 0);
                }
            }
            let back = join(owned(&bytes), len as u64, &sha(&bytes)).unwrap();
            prop_assert_eq!(back, bytes);
        }

        #[test]
        fn any_missing_chunk_is_refused(len in 1usize..(3 * CHUNK_SIZE), pick in any::<prop::sample::Index>()) {
            let bytes = vec![9u8; len];
            let mut chunks = owned(&bytes);
            let i = pick.index(chunks.len());
            chunks[i] = None;
            let missing = matches!(
                join(chunks, len as u64, &sha(&bytes)),
                Err(Reassembly::Missing { .. })
            );
            prop_assert!(missing);
        }
    }
}
