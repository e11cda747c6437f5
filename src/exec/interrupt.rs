//! Stopping what this process started: once a stage has executed here (a local run, audit,
//! a Slurm job), on SIGINT, SIGTERM or SIGHUP of the sapipe process the signal is forwarded (as
//! SIGTERM) to the process group of every running stage command, they are waited for (at most
//! `GRACE`, then killed), and what was stopped is reported as [`InterruptEvent`]s to the
//! observer the edge installed ([`observe`]). Nothing incomplete is recorded: a stage's record
//! is written only after it completes. The engine never ends the process: after the last event
//! ([`InterruptEvent::ends_the_run`]) the edge may (the command line shows the events and exits
//! 130, so that a run blocked in an in-process stage ends promptly too); otherwise the run
//! returns [`Interrupted`] once its current stages have ended.
//!
//! Spawning and tracking are one step ([`spawn`]): the handler waits for spawns in progress
//! before it collects what to stop, and no spawn starts once a signal has arrived, so a signal
//! that lands while a stage is being started (issue 30, case 4: 0-12 ms after exec) stops it
//! too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::time::{Duration, Instant};

/// How long stopped commands get to exit before they are killed.
const GRACE: Duration = Duration::from_secs(10);

/// Running stage commands: process (group) id -> stage.
static RUNNING: Mutex<BTreeMap<u32, String>> = Mutex::new(BTreeMap::new());
static SIGNALS: AtomicU32 = AtomicU32::new(0);
/// The handler has done all it does for the first signal (its last event is out).
static HANDLED: AtomicBool = AtomicBool::new(false);
/// Spawns between their interrupt check and their registration in `RUNNING`.
static SPAWNING: AtomicU32 = AtomicU32::new(0);
static INSTALL: Once = Once::new();
static OBSERVER: OnceLock<fn(&InterruptEvent)> = OnceLock::new();

/// The run was stopped by a signal (SIGINT, SIGTERM, SIGHUP): what was running was stopped and
/// nothing incomplete was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted: the run stopped on a signal; nothing incomplete was recorded")]
pub struct Interrupted;

/// What the handlers do, as they do it. Stage commands are `(process group id, stage)`; Slurm
/// jobs are `(job id, stage)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterruptEvent {
    /// A second signal: not waiting for the stages to stop.
    Again,
    /// Signalling these commands' process groups to stop.
    Stopping(Vec<(u32, String)>),
    /// These did not stop within the grace period: killing them.
    Killing {
        grace: Duration,
        commands: Vec<(u32, String)>,
    },
    /// These were stopped; nothing of them was recorded.
    Stopped(Vec<(u32, String)>),
    /// No command was running; nothing incomplete was recorded.
    NothingRunning,
    /// A Slurm driver was interrupted: cancelling its jobs (the run then ends with their
    /// stages failed).
    CancellingJobs(Vec<(String, String)>),
    /// The jobs could not be cancelled (why).
    CannotCancel(String),
    /// A Slurm driver was interrupted again: not waiting for its jobs to end.
    AgainWhileCancelling,
}

impl InterruptEvent {
    /// Whether the handler has nothing more to do after this event: an edge that wants a prompt
    /// end ends the process here (exit status 130).
    pub fn ends_the_run(&self) -> bool {
        matches!(
            self,
            Self::Again | Self::Stopped(_) | Self::NothingRunning | Self::AgainWhileCancelling
        )
    }
}

/// Sets who is told of interruptions (once per process; the command line shows them and exits
/// after the last). Without an observer they go to the log.
pub fn observe(observer: fn(&InterruptEvent)) {
    let _ = OBSERVER.set(observer);
}

pub(crate) fn emit(event: InterruptEvent) {
    match OBSERVER.get() {
        Some(observer) => observer(&event),
        None => tracing::warn!("{event:?}"),
    }
}

fn running() -> MutexGuard<'static, BTreeMap<u32, String>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the run was interrupted (no new stage may start).
pub fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

/// After a stage ended: `Interrupted` if a signal arrived, once the handler has finished
/// stopping and reporting (an edge that ends the process on the last event ends it meanwhile).
pub fn check() -> Result<(), Interrupted> {
    if !interrupted() {
        return Ok(());
    }
    // The handler waits at most GRACE for spawns and GRACE for the commands to stop.
    let t0 = Instant::now();
    while !HANDLED.load(Ordering::SeqCst) && t0.elapsed() < GRACE * 3 {
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Interrupted)
}

/// Installs the handler, once per process (a failure is logged: Ctrl-C then kills sapipe
/// alone, as before).
pub fn install() {
    INSTALL.call_once(|| {
        if let Err(e) = ctrlc::set_handler(on_signal) {
            tracing::warn!("cannot install the interrupt handler: {e}");
        }
    });
}

/// Tracks a started stage command (the leader of its own process group) until `Started` is
/// dropped.
pub struct Started(u32);

/// Starts a stage command (which must lead its own process group) and tracks it, as one step
/// as far as the signal handler is concerned: after an interrupt nothing starts (an
/// `Interrupted` error), and a command started while a signal arrives is stopped with the rest.
pub fn spawn(
    command: &mut std::process::Command,
    stage: &str,
) -> std::io::Result<(std::process::Child, Started)> {
    SPAWNING.fetch_add(1, Ordering::SeqCst);
    let result = (|| {
        if interrupted() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "interrupted: not started",
            ));
        }
        let child = command.spawn()?;
        running().insert(child.id(), stage.to_string());
        Ok(child)
    })();
    SPAWNING.fetch_sub(1, Ordering::SeqCst);
    result.map(|child| {
        let id = child.id();
        (child, Started(id))
    })
}

impl Drop for Started {
    fn drop(&mut self) {
        running().remove(&self.0);
    }
}

fn signal_group(pid: u32, signal: i32) {
    let Ok(pid) = i32::try_from(pid) else { return };
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is involved.
    unsafe {
        libc::kill(-pid, signal);
    }
}

fn listed(stages: &BTreeMap<u32, String>) -> Vec<(u32, String)> {
    stages.iter().map(|(p, s)| (*p, s.clone())).collect()
}

fn on_signal() {
    if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
        emit(InterruptEvent::Again);
        return;
    }
    // A spawn that passed its check before the signal registers its command first; later
    // spawns see the signal and start nothing.
    let t0 = Instant::now();
    while SPAWNING.load(Ordering::SeqCst) > 0 && t0.elapsed() < GRACE {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stopping = running().clone();
    if !stopping.is_empty() {
        emit(InterruptEvent::Stopping(listed(&stopping)));
    }
    for pid in stopping.keys() {
        signal_group(*pid, libc::SIGTERM);
    }
    let t0 = Instant::now();
    while !running().is_empty() && t0.elapsed() < GRACE {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stubborn = running().clone();
    if !stubborn.is_empty() {
        emit(InterruptEvent::Killing {
            grace: GRACE,
            commands: listed(&stubborn),
        });
        for pid in stubborn.keys() {
            signal_group(*pid, libc::SIGKILL);
        }
    }
    emit(if stopping.is_empty() {
        InterruptEvent::NothingRunning
    } else {
        InterruptEvent::Stopped(listed(&stopping))
    });
    HANDLED.store(true, Ordering::SeqCst);
}
