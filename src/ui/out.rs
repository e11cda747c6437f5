//! The terminal's two streams. Outside `src/ui`, `main` and the worker binary nothing writes to
//! stdout or stderr (clippy's `disallowed_macros`, clippy.toml): the engine emits events and
//! returns values, the command line hands what to show to these macros. A closed pipe (`sapipe
//! status | head`) ends the output quietly instead of panicking as `print!` does.

use std::io::Write as _;

/// Writes formatted text to stdout (as `print!`).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::ui::out::write_stdout(format_args!($($arg)*)) };
}

/// Writes formatted text and a newline to stdout (as `println!`).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => { $crate::ui::out::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes formatted text and a newline to stderr (as `eprintln!`).
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => { $crate::ui::out::write_stderr(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes to stdout; a failed write (a closed pipe) is ignored.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stdout().lock().write_fmt(args);
}

/// Writes to stderr; a failed write is ignored.
pub fn write_stderr(args: std::fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}
