//! Stopping what this process started: once a stage has executed here (a local run, audit,
//! a Slurm job), on SIGINT, SIGTERM or SIGHUP of the sapipe process the signal is forwarded (as
//! SIGTERM) to the process group of every running stage command, they are waited for (at most
//! `GRACE`, then killed), what was stopped is reported as [`InterruptEvent`]s to the observer
//! the edge installed ([`observe`]; the terminal shows them), and sapipe exits 130. Nothing
//! incomplete is recorded: a stage's record is written only after it completes. A second signal
//! exits at once.
//!
//! Spawning and tracking are one step ([`spawn`]): the handler waits for spawns in progress
//! before it collects what to stop, and no spawn starts once a signal has arrived, so a signal
//! that lands while a stage is being started (issue 30, case 4: 0-12 ms after exec) stops it
//! too.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock};
use std::time::{Duration, Instant};

/// How long stopped commands get to exit before they are killed.
const GRACE: Duration = Duration::from_secs(10);

/// Running stage commands: process (group) id -> stage.
static RUNNING: Mutex<BTreeMap<u32, String>> = Mutex::new(BTreeMap::new());
static SIGNALS: AtomicU32 = AtomicU32::new(0);
/// Spawns between their interrupt check and their registration in `RUNNING`.
static SPAWNING: AtomicU32 = AtomicU32::new(0);
static INSTALL: Once = Once::new();
static OBSERVER: OnceLock<fn(&InterruptEvent)> = OnceLock::new();

/// What the handler does, as it does it. Stage commands are `(process group id, stage)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterruptEvent {
    /// A second signal: exiting without waiting.
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
}

/// Sets who is told of interruptions (once per process; the command line shows them). Without
/// an observer they go to the log.
pub fn observe(observer: fn(&InterruptEvent)) {
    let _ = OBSERVER.set(observer);
}

fn emit(event: InterruptEvent) {
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

/// After a stage ended during an interrupt: lets the handler finish stopping, report and exit
/// (it exits the process; this only parks the calling thread meanwhile).
pub fn await_exit_if_interrupted() {
    if !interrupted() {
        return;
    }
    std::thread::sleep(GRACE * 2);
    std::process::exit(130);
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
        std::process::exit(130);
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
    std::process::exit(130);
}
