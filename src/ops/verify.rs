//! `sapipe verify`: re-hashes the cache's objects (see `Store::verify`).

use std::path::Path;

use anyhow::Context;

use crate::store::Store;
use crate::store::verify::VerifyReport;

pub fn verify(cache: &Path, repair: bool) -> anyhow::Result<VerifyReport> {
    let store = Store::open(cache)
        .with_context(|| format!("cannot open the cache at {}", cache.display()))?;
    Ok(store.verify(repair)?)
}
