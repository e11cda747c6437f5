//! `run --pull` and `run --push`: a [`Launcher`] around local execution. Before executing a
//! stage whose key has no local record, it asks the remote for the key's result and, when one
//! is there and checks out, adopts it instead of computing (a result that does not check out
//! is reported and the stage executes). After executing, it pushes the new record. Under the
//! key's lock, so two runs on one cache never fetch or compute a key twice.

use super::transfer::Meter;
use std::sync::Mutex;

use super::sync::TransferSummary;
use super::{Backend, sync};
use crate::exec::keys::Known;
use crate::exec::scheduler::Launcher;
use crate::exec::stage::{Done, execute, trusted_record};
use crate::exec::{Engine, Event, ExecError};
use crate::key::KeyRecord;
use crate::spec::Stage;

pub struct RemoteLauncher<'a> {
    pub remote: &'a dyn Backend,
    pub pull: bool,
    pub push: bool,
    pub jobs: usize,
    pub meter: &'a dyn Meter,
    /// What the pushes after each stage moved.
    pub pushed: Mutex<TransferSummary>,
}

impl Launcher for RemoteLauncher<'_> {
    fn launch(
        &self,
        engine: &Engine,
        stage: &Stage,
        record: KeyRecord,
        known: &Known,
        force: bool,
    ) -> Result<Done, ExecError> {
        let key = record.key();
        if self.pull && !force {
            let store = engine.store;
            let _lock = store.lock_key(&key, || {
                (engine.events)(Event::Waiting {
                    stage: stage.name.clone(),
                })
            })?;
            if let Some(r) = trusted_record(engine, stage, &key)? {
                return Ok(Done::ComputedElsewhere(r));
            }
            match sync::pull_record(store, self.remote, &stage.name, &key, self.jobs, self.meter) {
                Ok(Some((r, _))) => return Ok(Done::Pulled(r)),
                Ok(None) => {}
                Err(e) => tracing::warn!("stage '{}': {e}; executing it here", stage.name),
            }
        }
        let done = execute(engine, stage, record, known, force)?;
        if self.push
            && let Done::Executed(r) = &done
        {
            // A failed push here is retried by the push of the whole run at its end.
            let records = [(stage.name.clone(), r.clone())];
            match sync::push(engine.store, self.remote, &records, self.jobs, self.meter) {
                Ok(moved) => self
                    .pushed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .absorb(moved),
                Err(e) => tracing::warn!("stage '{}': push failed: {e}", stage.name),
            }
        }
        Ok(done)
    }
}
