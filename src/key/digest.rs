//! Typed digests: a content digest (of a blob or a directory manifest) cannot be passed where a
//! stage key is expected, and vice versa. Both are blake3, shown as lowercase hex. Both accept
//! only that exact form (64 characters of `0-9a-f`) wherever they are read, records, heads,
//! lock files and remote entries alike (issue 30): a value that is not one is a deserialisation
//! error, so nothing read back can name a path outside the cache (`xx/../..`, `/etc/passwd`) or
//! be too short to shard (`a`), and the cache's paths are built only from these types.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

macro_rules! hex_digest {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(invalid_hex($what, &s))
                })
            }
        }

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

            /// The two parts of its sharded file name in the cache and on remotes
            /// (`ab`, `cdef…`): the only way paths are built from it.
            pub fn shard(&self) -> (&str, &str) {
                self.0.split_at(2)
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
    ContentDigest,
    "content digest"
);
hex_digest!(
    /// A stage key: the blake3 digest of a canonical [`super::KeyRecord`].
    StageKey,
    "stage key"
);

/// Why `s` is not a digest, quoting at most its first 80 characters.
fn invalid_hex(what: &str, s: &str) -> String {
    let shown: String = s.chars().take(80).collect();
    let more = if s.chars().count() > 80 { "…" } else { "" };
    format!(
        "invalid {what} {shown:?}{more} ({} characters): expected 64 lowercase hex characters \
         (0-9, a-f)",
        s.chars().count()
    )
}

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

    /// Issue 30, case 1: a digest of the form `xx/<absolute path>` (or with `..`) read from a
    /// record joined into a path outside the cache.
    #[test]
    fn case1_a_digest_naming_a_path_is_refused_when_read() {
        for bad in [
            "xx//etc/passwd".to_string(),
            format!("ab/../../{}", "0".repeat(56)),
            format!("{}/x", "a".repeat(62)),
            format!("../{}", "a".repeat(61)),
        ] {
            assert_eq!(ContentDigest::parse(&bad), None, "{bad}");
            let e = serde_json::from_value::<ContentDigest>(serde_json::json!(bad)).unwrap_err();
            assert!(e.to_string().contains("invalid content digest"), "{e}");
        }
    }

    /// Issue 30, case 2: short or non-hex keys and digests panicked every command (slicing
    /// `[..12]` and `[..2]`); they are refused when read, with what would be valid.
    #[test]
    fn case2_short_or_non_hex_keys_and_digests_are_refused_when_read() {
        let upper = "A".repeat(64);
        let long = "a".repeat(65);
        let non_hex = "g".repeat(64);
        for bad in ["", "a", "ab", &upper, &long, &non_hex, "é"] {
            assert_eq!(StageKey::parse(bad), None, "{bad:?}");
            let e = serde_json::from_value::<StageKey>(serde_json::json!(bad))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("invalid stage key") && e.contains("64 lowercase hex"),
                "{e}"
            );
        }
        let e = serde_json::from_value::<StageKey>(serde_json::json!("x".repeat(5000)))
            .unwrap_err()
            .to_string();
        assert!(e.len() < 300, "a long value is quoted in part: {e}");
        assert!(serde_json::from_value::<StageKey>(serde_json::json!(7)).is_err());
        let good = StageKey::from_hash(blake3::hash(b"k"));
        let back: StageKey = serde_json::from_value(serde_json::to_value(&good).unwrap()).unwrap();
        assert_eq!(back, good);
        assert_eq!(good.shard().0.len(), 2);
        assert_eq!(format!("{}{}", good.shard().0, good.shard().1), good.hex());
    }
}
