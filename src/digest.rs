//! `Digest`: a validated `sha256:<64 lowercase hex>` content address, and the hashing that makes one.
//!
//! This is the only kind of value from outside (an archive, a descriptor, the command line) that may
//! ever become part of a filesystem path, so the type cannot hold anything else: no other algorithm,
//! no uppercase, no separators, no `..`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256};

/// The only algorithm the store holds. OCI allows sha512 too; no tool of the field writes it.
pub const ALGORITHM: &str = "sha256";
const HEX_LEN: usize = 64;

/// A sha256 digest, always valid. Displayed as `sha256:<hex>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a string is not a digest we accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseDigestError {
    /// No `algorithm:` prefix.
    MissingAlgorithm(String),
    /// An algorithm other than sha256.
    UnsupportedAlgorithm(String),
    /// The encoded part is not 64 lowercase hex characters.
    BadEncoding(String),
}

impl fmt::Display for ParseDigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingAlgorithm(s) => write!(f, "invalid digest {s:?}: expected sha256:<hex>"),
            Self::UnsupportedAlgorithm(s) => {
                write!(
                    f,
                    "unsupported digest algorithm in {s:?}: only sha256 is supported"
                )
            }
            Self::BadEncoding(s) => {
                write!(
                    f,
                    "invalid digest {s:?}: expected 64 lowercase hexadecimal characters"
                )
            }
        }
    }
}

impl std::error::Error for ParseDigestError {}

impl Digest {
    /// Parses the 64-character hex part alone (as found in `blobs/sha256/<hex>`).
    pub fn from_hex(hex_part: &str) -> Result<Digest, ParseDigestError> {
        let valid = hex_part.len() == HEX_LEN
            && hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(ParseDigestError::BadEncoding(hex_part.to_string()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes)
            .map_err(|_| ParseDigestError::BadEncoding(hex_part.to_string()))?;
        Ok(Digest(bytes))
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest(Sha256::digest(data).into())
    }

    /// The lowercase hex part, as used for blob file names.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 12 hex characters, for messages and short IDs.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl FromStr for Digest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Digest, ParseDigestError> {
        let Some((algorithm, encoded)) = s.split_once(':') else {
            return Err(ParseDigestError::MissingAlgorithm(s.to_string()));
        };
        if algorithm != ALGORITHM {
            return Err(ParseDigestError::UnsupportedAlgorithm(s.to_string()));
        }
        Digest::from_hex(encoded).map_err(|_| ParseDigestError::BadEncoding(s.to_string()))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ALGORITHM}:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Hashes bytes as they pass, so a blob is hashed while it is written rather than in a second pass.
#[derive(Default, Clone)]
pub struct Hasher {
    inner: Sha256,
    len: u64,
}

impl Hasher {
    pub fn new() -> Hasher {
        Hasher::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
        self.len += data.len() as u64;
    }

    /// Bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn finish(self) -> Digest {
        Digest(self.inner.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn digest_of_empty_input_is_the_well_known_value() {
        assert_eq!(Digest::of(b"").to_string(), EMPTY);
        assert_eq!(Hasher::new().finish().to_string(), EMPTY);
    }

    #[test]
    fn digest_round_trips_through_its_string_form() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(Digest::from_hex(&d.hex()).unwrap(), d);
    }

    #[test]
    fn digest_rejects_anything_that_could_escape_a_directory() {
        for bad in [
            "sha256:../../etc/passwd",
            "sha256:",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} accepted");
        }
        assert!(Digest::from_hex("../x").is_err());
    }

    #[test]
    fn hasher_counts_and_matches_one_shot_digest() {
        let mut h = Hasher::new();
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.len(), 11);
        assert_eq!(h.finish(), Digest::of(b"hello world"));
    }
}
