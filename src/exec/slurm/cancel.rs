//! The jobs a driver has submitted and not yet seen end, and their cancellation: an interrupt
//! of the driver (SIGINT, SIGTERM, SIGHUP) cancels them all with `scancel` and refuses further
//! submissions; the edge may end the process on a second interrupt. (SIGKILL cannot be caught: its jobs run on and
//! commit to the cache; `sapipe status` still lists them.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::SlurmError;
use super::submit::scancel;
use crate::exec::ExecError;
use crate::exec::interrupt::{InterruptEvent, emit};

#[derive(Debug, Default)]
pub struct JobRegistry {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Job id -> stage.
    active: BTreeMap<String, String>,
    cancelled: bool,
    signals: u32,
}

impl JobRegistry {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Submits `stage`'s job with `submit`, unless the run was interrupted. A job whose
    /// submission raced with the interrupt is cancelled at once.
    pub fn submit(
        &self,
        stage: &str,
        submit: impl FnOnce() -> Result<String, SlurmError>,
    ) -> Result<String, ExecError> {
        let interrupted = || ExecError::Stage {
            stage: stage.to_string(),
            message: "not submitted: the run was interrupted".into(),
        };
        if self.inner().cancelled {
            return Err(interrupted());
        }
        let job = submit()?;
        let mut inner = self.inner();
        if inner.cancelled {
            drop(inner);
            if let Err(e) = scancel(std::slice::from_ref(&job)) {
                tracing::warn!(job, "cannot cancel the job: {e}");
            }
            return Err(interrupted());
        }
        inner.active.insert(job.clone(), stage.to_string());
        Ok(job)
    }

    /// The job ended: nothing to cancel any more.
    pub fn finished(&self, job: &str) {
        self.inner().active.remove(job);
    }

    /// Whether the run was interrupted (its jobs cancelled).
    pub fn is_cancelled(&self) -> bool {
        self.inner().cancelled
    }

    /// Active jobs: (job id, stage).
    pub fn active(&self) -> Vec<(String, String)> {
        self.inner()
            .active
            .iter()
            .map(|(j, s)| (j.clone(), s.clone()))
            .collect()
    }

    /// Refuses further submissions and cancels every active job; returns their ids.
    pub fn cancel_all(&self) -> Result<Vec<String>, SlurmError> {
        let jobs: Vec<String> = {
            let mut inner = self.inner();
            inner.cancelled = true;
            inner.active.keys().cloned().collect()
        };
        scancel(&jobs)?;
        Ok(jobs)
    }

    /// Counts an interrupt; returns how many there were.
    fn signal(&self) -> u32 {
        let mut inner = self.inner();
        inner.signals += 1;
        inner.signals
    }
}

/// On SIGINT, SIGTERM or SIGHUP of this process: cancel the registry's jobs (the run then
/// ends with their stages failed); a second one is reported as
/// [`InterruptEvent::AgainWhileCancelling`], after which the edge may end the process. What
/// the handler does goes to the edge's observer as [`InterruptEvent`]s. One handler per
/// process: a second call only logs why it could not install one.
pub fn cancel_on_signal(registry: Arc<JobRegistry>) {
    let result = ctrlc::set_handler(move || {
        if registry.signal() > 1 {
            emit(InterruptEvent::AgainWhileCancelling);
            return;
        }
        emit(InterruptEvent::CancellingJobs(registry.active()));
        if let Err(e) = registry.cancel_all() {
            emit(InterruptEvent::CannotCancel(e.to_string()));
        }
    });
    if let Err(e) = result {
        tracing::warn!(
            "cannot install the interrupt handler (jobs will not be cancelled on Ctrl-C): {e}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_registry_submits_nothing_more() {
        let r = JobRegistry::default();
        assert_eq!(r.submit("a", || Ok("7".into())).unwrap(), "7");
        assert_eq!(r.active(), vec![("7".to_string(), "a".to_string())]);
        r.finished("7");
        assert_eq!(r.cancel_all().unwrap(), Vec::<String>::new());
        let mut called = false;
        let e = r
            .submit("b", || {
                called = true;
                Ok("8".into())
            })
            .unwrap_err();
        assert!(!called);
        assert_eq!(
            e.to_string(),
            "stage 'b' failed: not submitted: the run was interrupted"
        );
    }
}
