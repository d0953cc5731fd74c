//! Status lines on stderr with pyve's prefixes (`INFO:`, `✓`, `WARNING:`, `ERROR:`, `hint:`),
//! coloured only when pyve says the terminal takes colours.

use std::io::Write;

/// A failure the user can act on: what failed and why, the next step, the exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// What failed, and why.
    pub message: String,
    /// The next step.
    pub hint: Option<String>,
    /// The exit code (1 unless said otherwise).
    pub code: i32,
}

impl Failure {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), hint: None, code: 1 }
    }

    /// Add the next step.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// Use another exit code.
    pub fn code(mut self, code: i32) -> Failure {
        self.code = code;
        self
    }
}

/// Where status lines go.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// -1 quiet, 0 normal, 1 verbose, 2 debug.
    pub verbosity: i8,
    /// Colour the prefixes.
    pub color: bool,
}

impl Ui {
    fn line(&self, colour: &str, prefix: &str, message: &str) {
        let mut err = std::io::stderr().lock();
        let _ = if self.color {
            writeln!(err, "\x1b[{colour}m{prefix}\x1b[0m {message}")
        } else {
            writeln!(err, "{prefix} {message}")
        };
    }

    /// `INFO: message` (not in quiet mode).
    pub fn info(&self, message: &str) {
        if self.verbosity >= 0 {
            self.line("1;34", "INFO:", message);
        }
    }

    /// `DEBUG: message` (verbose mode).
    pub fn debug(&self, message: &str) {
        if self.verbosity >= 1 {
            self.line("2", "DEBUG:", message);
        }
    }

    /// `✓ message` (not in quiet mode).
    pub fn success(&self, message: &str) {
        if self.verbosity >= 0 {
            self.line("1;32", "✓", message);
        }
    }

    /// `WARNING: message`.
    pub fn warn(&self, message: &str) {
        self.line("1;33", "WARNING:", message);
    }

    /// `ERROR: message` and `hint: ...`.
    pub fn error(&self, failure: &Failure) {
        self.line("1;31", "ERROR:", &failure.message);
        if let Some(hint) = &failure.hint {
            self.line("1;36", "hint:", hint);
        }
    }

    /// A usage error: `ERROR: message`, the usage, `hint: ...`.
    pub fn usage_error(&self, message: &str, usage: &str, hint: &str) {
        self.line("1;31", "ERROR:", message);
        let _ = writeln!(std::io::stderr().lock(), "{usage}");
        self.line("1;36", "hint:", hint);
    }
}
