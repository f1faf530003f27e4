//! Content digests (`sha256:<64 hex>`) that name artifacts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A `sha256:` content digest, always lowercase hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a digest of the form sha256:<64 hex digits>")]
pub struct DigestParseError {
    pub input: String,
}

impl Digest {
    /// The digest of a byte string.
    pub fn of_bytes(bytes: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes).into())
    }

    pub fn from_sha256(raw: [u8; 32]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(raw)))
    }

    /// The 64 hex digits, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The first 12 hex digits, as history tables show it.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || DigestParseError { input: s.to_owned() };
        let hex = s.strip_prefix("sha256:").ok_or_else(err)?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(err());
        }
        Ok(Digest(format!("sha256:{}", hex.to_ascii_lowercase())))
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestParseError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> String {
        d.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        let upper = format!("sha256:{}", "AB".repeat(32));
        let d: Digest = upper.parse().unwrap();
        assert_eq!(d.as_str(), format!("sha256:{}", "ab".repeat(32)));
        assert_eq!(d.short(), "abababababab");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "sha256:",
            "sha256:abc",
            &format!("md5:{}", "a".repeat(64)),
            &format!("sha256:{}", "g".repeat(64)),
            &format!("sha256:{}", "a".repeat(65)),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn of_bytes_matches_sha256sum() {
        // `printf hello | sha256sum`
        assert_eq!(
            Digest::of_bytes(b"hello").hex(),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }
}
