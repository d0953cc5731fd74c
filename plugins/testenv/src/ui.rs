//! Status lines with pyve's prefixes and streams (`INFO:`, `✓` on stdout; `WARNING:`, `ERROR:`,
//! `hint:` on stderr) through the SDK's output helper, coloured only when pyve says the
//! terminal takes colours.

use pyve_sdk::output::{Line, NoAnswer, Output};

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

/// Where status lines go: the SDK's output helper, so the prefixes and streams are pyve's own
/// (`INFO:`, `✓` on stdout; `WARNING:`, `ERROR:`, `hint:` on stderr).
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    /// -1 quiet, 0 normal, 1 verbose, 2 debug.
    pub verbosity: i8,
    /// Colour the prefixes.
    pub color: bool,
}

/// Whether this run printed anything (a run that did may not leave an exec plan: the plan
/// would run silently).
static SPOKE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether any status line or question was printed so far.
pub fn spoke() -> bool {
    SPOKE.load(std::sync::atomic::Ordering::Relaxed)
}

impl Ui {
    fn out(&self) -> Output {
        SPOKE.store(true, std::sync::atomic::Ordering::Relaxed);
        Output { verbosity: self.verbosity, color: self.color }
    }

    /// `INFO: message` (not in quiet mode).
    pub fn info(&self, message: &str) {
        self.out().info(message);
    }

    /// A detail (verbose mode).
    pub fn debug(&self, message: &str) {
        if self.verbosity < 1 {
            return;
        }
        self.out().debug(message);
    }

    /// `✓ message` (not in quiet mode).
    pub fn success(&self, message: &str) {
        self.out().success(message);
    }

    /// `WARNING: message`.
    pub fn warn(&self, message: &str) {
        self.out().warn(message);
    }

    /// `ERROR: message` and `hint: ...`.
    pub fn error(&self, failure: &Failure) {
        self.out().error(&failure.message, failure.hint.as_deref());
    }

    /// A usage error: `ERROR: message`, `ERROR: Use: pyve testenv ...` (the original's second
    /// line), `hint: ...` (all on stderr).
    pub fn usage_error(&self, message: &str, usage: &str, hint: &str) {
        self.out().line(Line::Error, message);
        self.out().line(Line::Error, &format!("Use: {}", usage.strip_prefix("Usage: ").unwrap_or(usage)));
        self.out().hint(hint);
    }

    /// Ask a yes/no question (default no); `Err` when nobody answers (end of input, a silent
    /// pipe), never an answer.
    pub fn confirm(&self, question: &str) -> Result<bool, NoAnswer> {
        self.out().confirm(question)
    }
}
