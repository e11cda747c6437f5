//! Locks: every run holds the cache lock shared (gc takes it exclusively), and a stage key is
//! computed only under its key lock, so two runs never compute the same key at once. The locks
//! are `flock`s: the kernel releases them when a process dies, so a killed run blocks nothing.

use std::fs::{File, OpenOptions};

use super::{Store, StoreError};
use crate::key::StageKey;

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Held {
    _file: File,
}

impl Store {
    fn lock_file(&self, name: &str) -> Result<File, StoreError> {
        let path = self.root.join("locks").join(name);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(StoreError::io(&path))
    }

    /// Shared cache lock for a run; fails at once if `gc` holds it.
    pub fn lock_shared(&self) -> Result<Held, StoreError> {
        let file = self.lock_file("cache.lock")?;
        match file.try_lock_shared() {
            Ok(()) => Ok(Held { _file: file }),
            Err(_) => Err(StoreError::Busy(format!(
                "the cache {} is being garbage-collected; try again when `sapipe gc` has finished",
                self.root.display()
            ))),
        }
    }

    /// Exclusive cache lock for `gc`; fails at once if any run holds the cache.
    pub fn lock_exclusive(&self) -> Result<Held, StoreError> {
        let file = self.lock_file("cache.lock")?;
        match file.try_lock() {
            Ok(()) => Ok(Held { _file: file }),
            Err(_) => Err(StoreError::Busy(format!(
                "a sapipe run is using the cache {}; run gc when it has finished",
                self.root.display()
            ))),
        }
    }

    /// Takes the lock of one stage key. Returns `Ok(lock)` at once if free; otherwise calls
    /// `waiting` and blocks until the other holder finishes.
    pub fn lock_key(&self, key: &StageKey, waiting: impl FnOnce()) -> Result<Held, StoreError> {
        let file = self.lock_file(&format!("{}.lock", key.hex()))?;
        if file.try_lock().is_err() {
            waiting();
            file.lock()
                .map_err(StoreError::io(&self.root.join("locks")))?;
        }
        Ok(Held { _file: file })
    }
}
