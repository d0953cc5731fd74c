//! The terminal: status lines, warnings and errors on stderr (stdout is for data), colours only
//! on a terminal and never with `NO_COLOR`, and the verbosity chosen by the user.
//!
//! Line prefixes are the original tool's: `ERROR: `, `WARNING: `, `INFO: `, `✓ `.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;

use crate::error::Error;

/// When to use colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Output settings, fixed once at start-up.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    /// Colours on stderr.
    pub color: bool,
    /// -1 quiet, 0 normal, 1 verbose, 2 debug.
    pub verbosity: i8,
}

static UI: OnceLock<Ui> = OnceLock::new();

/// Fix the output settings (the first call wins).
pub fn init(choice: ColorChoice, verbosity: i8) {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
        }
    };
    let _ = UI.set(Ui { color, verbosity });
}

/// The output settings.
pub fn get() -> Ui {
    *UI.get().unwrap_or(&Ui { color: false, verbosity: 0 })
}

fn paint(code: &str, text: &str) -> String {
    if get().color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
}

fn line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// `ERROR: message` and `hint: ...` on stderr.
pub fn error(e: &Error) {
    line(&format!("{} {e}", paint("1;31", "ERROR:")));
    if let Some(hint) = e.hint_text() {
        line(&format!("{} {hint}", paint("1;36", "hint:")));
    }
}

/// `WARNING: message` on stderr.
pub fn warn(message: &str) {
    line(&format!("{} {message}", paint("1;33", "WARNING:")));
}

/// `INFO: message` on stderr (not in quiet mode).
pub fn info(message: &str) {
    if get().verbosity >= 0 {
        line(&format!("{} {message}", paint("1;34", "INFO:")));
    }
}

/// `✓ message` on stderr (not in quiet mode).
pub fn success(message: &str) {
    if get().verbosity >= 0 {
        line(&format!("{} {message}", paint("1;32", "✓")));
    }
}

/// A plain status line on stderr (not in quiet mode).
pub fn status(message: &str) {
    if get().verbosity >= 0 {
        line(message);
    }
}

/// A detail shown with `--verbose`.
pub fn debug(message: &str) {
    if get().verbosity >= 1 {
        line(&paint("2", message));
    }
}

/// Whether stdin is a terminal the user can answer prompts on.
pub fn stdin_is_interactive() -> bool {
    std::io::stdin().is_terminal()
}
