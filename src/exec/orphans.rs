//! Stage commands die with sapipe (issue 30, case 4): after a SIGKILL of sapipe its stage
//! commands, each in a process group of its own, survived. Every stage command started through
//! [`die_with_sapipe`] gets a watchdog: a small process forked into the command's group just
//! before the command is executed, which holds the read end of a pipe whose write end only
//! sapipe holds. When sapipe dies, however it dies, the kernel closes that end, the watchdog
//! reads end-of-file and kills its whole process group. When the command's leader exits
//! normally the watchdog exits too (it polls for the leader every 200 ms), so nothing piles up
//! and background processes a finished stage left are left as before.
//!
//! Why not `PR_SET_PDEATHSIG`: it fires when the spawning *thread* exits, and reaches only
//! the direct child (`sh`), not what `sh` starts. Fallback: where the pipe cannot be made, the
//! command runs without a watchdog and a warning says so (SIGINT, SIGTERM and SIGHUP of
//! sapipe still stop it, through `interrupt`).

use std::os::unix::process::CommandExt;
use std::sync::OnceLock;

/// The read end of the pipe whose write end sapipe holds for its whole life; `None` when the
/// pipe could not be made.
fn lifeline() -> Option<libc::c_int> {
    static FD: OnceLock<Option<libc::c_int>> = OnceLock::new();
    *FD.get_or_init(|| {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: pipe2 writes two descriptors into the array it is given.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            tracing::warn!(
                "cannot make the pipe that stops stage commands when sapipe dies ({}); they \
                 run without it",
                std::io::Error::last_os_error()
            );
            return None;
        }
        // The write end stays open (never closed) until this process ends.
        Some(fds[0])
    })
}

/// Makes `command` (which must lead its own process group: `process_group(0)`) die with
/// sapipe, through a watchdog in its group.
pub fn die_with_sapipe(command: &mut std::process::Command) {
    let Some(read) = lifeline() else { return };
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (fork, getpid, dup2, syscall, close, poll, read, kill,
    // _exit); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            let leader = libc::getpid();
            match libc::fork() {
                -1 => Err(std::io::Error::last_os_error()),
                0 => watchdog(read, leader),
                _ => Ok(()),
            }
        });
    }
}

/// The watchdog's life (in the forked child; never returns). It keeps only the pipe's read
/// end (as fd 0): it must hold no copy of sapipe's other descriptors, such as the write end of
/// another child's stdin.
unsafe fn watchdog(read: libc::c_int, leader: libc::pid_t) -> ! {
    // SAFETY: plain system calls on descriptors and process ids this process owns.
    unsafe {
        libc::dup2(read, 0);
        if libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32) != 0 {
            for fd in 1..4096 {
                libc::close(fd);
            }
        }
        let mut pfd = libc::pollfd {
            fd: 0,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            let ready = libc::poll(&mut pfd, 1, 200);
            if ready > 0 {
                let mut byte = 0u8;
                if libc::read(0, (&mut byte as *mut u8).cast(), 1) <= 0 {
                    // End of file: sapipe is gone. Stop the command's whole group.
                    libc::kill(0, libc::SIGKILL);
                }
            } else if ready == 0 && libc::kill(leader, 0) != 0 {
                // The command's leader exited and was reaped: the stage is over.
                libc::_exit(0);
            }
        }
    }
}
