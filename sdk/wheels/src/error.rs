//! The one error type of the crate.

use std::path::PathBuf;

/// What can go wrong in the wheel cache. The messages are those of `pyve_venv::Error`'s
/// variants of the same names, into which these convert.
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

    /// A wheel could not be read or installed.
    #[error("cannot install the wheel {}: {reason}", path.display())]
    Wheel {
        /// The wheel (or its unpacked cache entry).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
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
