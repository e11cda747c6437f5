//! Adapters of the built-in stage kinds: each turns a `StageContext` into calls of the
//! modelling library (`crate::neuro`). The `command` kind is the engine's own (`exec::command`).

use crate::kind::KindRegistry;

/// All built-in kinds of this build.
pub fn registry() -> KindRegistry {
    #[allow(unused_mut)]
    let mut r = KindRegistry::default();
    r
}
