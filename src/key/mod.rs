//! Stage keys: typed digests, the key record that is hashed, and the typed reasons a stage is
//! dirty (what changed since its last record).

pub mod digest;
pub mod dirty;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod record;

pub use digest::{ContentDigest, StageKey};
pub use dirty::{DirtyReason, diff};
pub use record::{ComputeContext, ImplementationKey, InputKey, KEY_SCHEMA, KeyRecord};
