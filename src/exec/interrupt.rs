//! Stopping what this process started: once a stage has executed here (a local run, audit,
//! a Slurm job), on SIGINT, SIGTERM or SIGHUP of the sapipe process the signal is forwarded (as
//! SIGTERM) to the process group of every running stage command, they are waited for (at most
//! `GRACE`, then killed), what was stopped is printed, and sapipe exits 130. Nothing incomplete
//! is recorded: a stage's record is written only after it completes. A second signal exits at
//! once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

/// How long stopped commands get to exit before they are killed.
const GRACE: Duration = Duration::from_secs(10);

/// Running stage commands: process (group) id -> stage.
static RUNNING: Mutex<BTreeMap<u32, String>> = Mutex::new(BTreeMap::new());
static SIGNALS: AtomicU32 = AtomicU32::new(0);
static INSTALL: Once = Once::new();

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
/// dropped. Started after an interrupt, it is stopped at once.
pub struct Started(u32);

pub fn started(pid: u32, stage: &str) -> Started {
    running().insert(pid, stage.to_string());
    if interrupted() {
        signal_group(pid, libc::SIGTERM);
    }
    Started(pid)
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

fn describe(stages: &BTreeMap<u32, String>) -> String {
    stages
        .iter()
        .map(|(pid, s)| format!("{s} (pid {pid})"))
        .collect::<Vec<_>>()
        .join(", ")
}

// Still prints from the signal thread: to become events that the edge shows (issue 26, item 3).
#[allow(clippy::disallowed_macros)]
fn on_signal() {
    if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
        eprintln!("interrupted again: exiting without waiting for the stages to stop");
        std::process::exit(130);
    }
    let stopping = running().clone();
    if !stopping.is_empty() {
        eprintln!("interrupted: stopping {}", describe(&stopping));
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
        eprintln!(
            "killing what did not stop within {} s: {}",
            GRACE.as_secs(),
            describe(&stubborn)
        );
        for pid in stubborn.keys() {
            signal_group(*pid, libc::SIGKILL);
        }
    }
    if !stopping.is_empty() {
        eprintln!(
            "stopped {}; nothing of them was recorded (the next run reruns them)",
            describe(&stopping)
        );
    } else {
        eprintln!("interrupted; nothing incomplete was recorded");
    }
    std::process::exit(130);
}
