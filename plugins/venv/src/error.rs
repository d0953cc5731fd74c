//! The one error type of the crate.

use std::path::PathBuf;

/// Everything that can go wrong while inspecting an interpreter or creating an environment.
///
/// Every variant names what failed, why, and the path involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create directory", "read".
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },

    /// The interpreter path does not exist.
    #[error("no Python interpreter at {}: the file does not exist", path.display())]
    InterpreterNotFound {
        /// The path given.
        path: PathBuf,
    },

    /// The path is a version-manager shim (a shell script), not an interpreter.
    #[error(
        "{} is a {manager} shim (a script that picks an interpreter on every call), not a Python \
         interpreter; pass the real interpreter instead: {hint}",
        path.display()
    )]
    Shim {
        /// The shim's path.
        path: PathBuf,
        /// "pyenv" or "asdf".
        manager: &'static str,
        /// How to find the real path.
        hint: String,
    },

    /// The file is not a Python interpreter we can use.
    #[error("{} is not a usable Python interpreter: {reason}", path.display())]
    NotAnInterpreter {
        /// The path given.
        path: PathBuf,
        /// Why it was rejected.
        reason: String,
    },

    /// Running the interpreter to describe itself failed.
    #[error("asking the interpreter {} to describe itself failed: {reason}", path.display())]
    Query {
        /// The interpreter.
        path: PathBuf,
        /// What went wrong (exit status, stderr, unparsable output).
        reason: String,
    },

    /// The destination already exists; nothing was changed.
    #[error("cannot create an environment at {}: it already exists (nothing was changed)", path.display())]
    DestinationExists {
        /// The destination.
        path: PathBuf,
    },

    /// The destination path cannot hold an environment.
    #[error("cannot create an environment at {}: {reason}", path.display())]
    InvalidDestination {
        /// The destination.
        path: PathBuf,
        /// Why not.
        reason: String,
    },

    /// The native layout cannot be used and the caller forbade the fallback.
    #[error(
        "cannot create the environment natively with {}: {reason} (the `python -m venv` fallback is disabled)",
        interpreter.display()
    )]
    NativeUnavailable {
        /// The interpreter.
        interpreter: PathBuf,
        /// Why the native layout is not used.
        reason: String,
    },

    /// A wheel could not be read or installed.
    #[error("cannot install the wheel {}: {reason}", path.display())]
    Wheel {
        /// The wheel (or its unpacked cache entry).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A `python -m venv` child process failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    PythonVenv {
        /// The command line that was run.
        command: String,
        /// Its exit status.
        status: String,
        /// The end of its output.
        stderr: String,
    },

    /// A child process could not be started.
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why it could not be started.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }
}

impl From<pyve_wheels::Error> for Error {
    /// The wheel cache's errors are this crate's variants of the same names (same messages).
    fn from(e: pyve_wheels::Error) -> Self {
        match e {
            pyve_wheels::Error::Io { op, path, source } => Error::Io { op, path, source },
            pyve_wheels::Error::Wheel { path, reason } => Error::Wheel { path, reason },
            // `pyve_wheels::Error` is non-exhaustive: a future variant keeps its message.
            other => Error::Wheel { path: PathBuf::new(), reason: other.to_string() },
        }
    }
}

/// Attach an operation and a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T, Error>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T, Error> {
        self.map_err(|e| Error::io(op, path, e))
    }
}
