//! The host's error: what failed, why (a chain of causes), a hint with the next step, and the
//! exit code. `main` is the one place that turns it into output and an exit code.

use std::fmt;

/// Exit code of a failure the user can act on.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error: 1, as the original tool (its users' scripts test for it).
pub const EXIT_USAGE: u8 = 1;

/// A user-facing error.
#[derive(Debug)]
pub struct Error {
    message: String,
    causes: Vec<String>,
    details: Vec<String>,
    hint: Option<String>,
    exit: u8,
}

/// The host's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure (exit 1).
    pub fn new(message: impl Into<String>) -> Self {
        Error { message: message.into(), causes: Vec::new(), details: Vec::new(), hint: None, exit: EXIT_FAILURE }
    }

    /// A usage error (exit 1, as the original; see [`EXIT_USAGE`]).
    pub fn usage(message: impl Into<String>) -> Self {
        Error { exit: EXIT_USAGE, ..Error::new(message) }
    }

    /// Attach the next step for the user.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attach a detail line, shown as its own `ERROR:` line after the message.
    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }

    /// The detail lines.
    pub fn details(&self) -> &[String] {
        &self.details
    }

    /// Attach a cause, shown after the message.
    pub fn because(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(cause.to_string());
        self
    }

    /// Use another exit code.
    pub fn exit_code(mut self, code: u8) -> Self {
        self.exit = code;
        self
    }

    /// The exit code for this error.
    pub fn code(&self) -> u8 {
        self.exit
    }

    /// The message, without causes.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The hint, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Prefix the message with what was being done.
    pub fn context(mut self, what: impl Into<String>) -> Self {
        let inner = std::mem::replace(&mut self.message, what.into());
        self.causes.insert(0, inner);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for cause in &self.causes {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Add what was being done to a failure of an fs or process call.
pub trait Context<T> {
    /// Wrap the error: `what` becomes the message, the original error its cause.
    fn context(self, what: impl Into<String>) -> Result<T>;
    /// As [`Context::context`], computing the message only on failure.
    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::new(what).because(e))
    }

    fn with_context<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| Error::new(what()).because(e))
    }
}
