//! Typed digests: a content digest (of a blob or a directory manifest) cannot be passed where a
//! stage key is expected, and vice versa. Both are blake3, shown as lowercase hex.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

macro_rules! hex_digest {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn from_hash(h: blake3::Hash) -> Self {
                Self(h.to_hex().to_string())
            }

            /// Parses 64 lowercase hex characters.
            pub fn parse(s: &str) -> Option<Self> {
                (s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                    .then(|| Self(s.to_string()))
            }

            pub fn hex(&self) -> &str {
                &self.0
            }

            /// The first 12 hex characters, for display.
            pub fn short(&self) -> &str {
                &self.0[..12]
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hex_digest!(
    /// The blake3 digest of an artifact's content (a file's bytes, or a directory's manifest).
    ContentDigest
);
hex_digest!(
    /// A stage key: the blake3 digest of a canonical [`super::KeyRecord`].
    StageKey
);

impl ContentDigest {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self::from_hash(blake3::hash(bytes))
    }

    /// Streams a file through blake3.
    pub fn of_file(path: &Path) -> std::io::Result<Self> {
        let mut hasher = blake3::Hasher::new();
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Self::from_hash(hasher.finalize()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_blake3_hex() {
        let d = ContentDigest::of_bytes(b"");
        assert_eq!(
            d.hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        assert_eq!(ContentDigest::parse(d.hex()), Some(d.clone()));
        assert_eq!(ContentDigest::parse("xyz"), None);
        assert_eq!(d.short().len(), 12);
    }
}
