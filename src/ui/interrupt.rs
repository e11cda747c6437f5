//! What the terminal says while a run stops on a signal: the words for each
//! [`InterruptEvent`] the engine emits (`exec::interrupt`), written to stderr.

use crate::exec::interrupt::InterruptEvent;

/// The line for one event.
pub fn line(event: &InterruptEvent) -> String {
    let list = |commands: &[(u32, String)]| {
        commands
            .iter()
            .map(|(pid, s)| format!("{s} (pid {pid})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match event {
        InterruptEvent::Again => {
            "interrupted again: exiting without waiting for the stages to stop".to_string()
        }
        InterruptEvent::Stopping(c) => format!("interrupted: stopping {}", list(c)),
        InterruptEvent::Killing { grace, commands } => format!(
            "killing what did not stop within {} s: {}",
            grace.as_secs(),
            list(commands)
        ),
        InterruptEvent::Stopped(c) => format!(
            "stopped {}; nothing of them was recorded (the next run reruns them)",
            list(c)
        ),
        InterruptEvent::NothingRunning => "interrupted; nothing incomplete was recorded".into(),
        InterruptEvent::CancellingJobs(jobs) => format!(
            "interrupted: cancelling {} Slurm job(s): {}",
            jobs.len(),
            jobs.iter()
                .map(|(j, s)| format!("{s} (job {j})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        InterruptEvent::CannotCancel(why) => format!("cannot cancel the jobs: {why}"),
        InterruptEvent::AgainWhileCancelling => {
            "interrupted again: exiting without waiting for the jobs to end".to_string()
        }
    }
}

/// Each event as a line on stderr (the command line's observer).
pub fn show(event: &InterruptEvent) {
    crate::errln!("{}", line(event));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_names_the_stages_and_their_process_groups() {
        let c = vec![(12, "a".to_string()), (34, "b".to_string())];
        assert_eq!(
            line(&InterruptEvent::Stopping(c.clone())),
            "interrupted: stopping a (pid 12), b (pid 34)"
        );
        assert!(line(&InterruptEvent::Stopped(c)).contains("nothing of them was recorded"));
        assert_eq!(
            line(&InterruptEvent::NothingRunning),
            "interrupted; nothing incomplete was recorded"
        );
        assert_eq!(
            line(&InterruptEvent::CancellingJobs(vec![(
                "17".to_string(),
                "slow".to_string()
            )])),
            "interrupted: cancelling 1 Slurm job(s): slow (job 17)"
        );
    }
}
