//! What can go wrong while choosing, installing or pinning an interpreter.

use std::path::PathBuf;

/// An error of the interpreter policy. Every variant says what failed and why; [`kind`]
/// gives the stable protocol kind and [`hint`] the user's next step, so that a backend (or
/// `pyve-testenv`) can report it as it is.
///
/// [`kind`]: PolicyError::kind
/// [`hint`]: PolicyError::hint
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A requested version is not `X.Y.Z` or `X.Y`.
    #[error("invalid Python version '{value}' ({origin}): expected X.Y.Z or X.Y, such as 3.12.1 or 3.12")]
    InvalidVersion {
        /// The text given.
        value: String,
        /// Where it came from ("--python-version", "pinned in .python-version", ...).
        origin: String,
        /// What to do.
        hint: String,
    },

    /// The project's version file pins something pyve cannot resolve (`system`, `pypy3.10`).
    #[error("{file} pins '{value}', which pyve cannot use: it needs a CPython version X.Y.Z or X.Y")]
    UnsupportedPin {
        /// `.python-version` or `.tool-versions`.
        file: &'static str,
        /// What it pins.
        value: String,
    },

    /// The version file exists but cannot be read or changed.
    #[error("cannot {op} {}: {reason}", path.display())]
    VersionFile {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        reason: String,
    },

    /// The version file is a symbolic link leading out of the project, and changing it would
    /// mean writing there (or copying that file into the project).
    #[error("{} is a symbolic link to {}, outside the project; pyve does not write through it", path.display(), target.display())]
    VersionFileLink {
        /// The link.
        path: PathBuf,
        /// What it points to.
        target: PathBuf,
    },

    /// A directory on the way to a file pyve would write is a link leading out of the project.
    #[error("{0}")]
    Refused(#[from] pyve_fs::Refused),

    /// The requested version is neither installed nor installable.
    #[error("{message}")]
    NotAvailable {
        /// The full sentence.
        message: String,
        /// The version asked for, as asked.
        requested: String,
        /// Who provides interpreters: "pyenv", "asdf" or "PATH".
        provider: String,
        /// What is installed (versions; with their paths for PATH).
        installed: Vec<String>,
        /// What to do.
        hint: String,
    },

    /// No Python 3 interpreter at all.
    #[error("no Python 3 interpreter was found: {searched}")]
    NoPython {
        /// Where pyve looked.
        searched: String,
    },

    /// A version cannot be pinned because no version manager is in use.
    #[error(
        "cannot pin Python {version}: no Python version manager was found (asdf with its python plugin, or pyenv), \
         and the pin file is read by one"
    )]
    NoVersionManager {
        /// The version asked for.
        version: String,
    },

    /// Installing a version failed.
    #[error("installing Python {version} with {manager} failed: {reason}")]
    InstallFailed {
        /// The version.
        version: String,
        /// "pyenv" or "asdf".
        manager: &'static str,
        /// Why (exit status, a missing executable).
        reason: String,
    },

    /// A version must be installed first, and nobody approved it (no `CI`/`PYVE_FORCE_YES`).
    #[error(
        "Python {version} is not installed; {manager} can install it, but installing was not approved \
         (nobody can be asked)"
    )]
    InstallNotApproved {
        /// The version.
        version: String,
        /// "pyenv" or "asdf".
        manager: &'static str,
        /// The command that installs it.
        command: String,
    },

    /// Installing was stopped because the caller cancelled it.
    #[error("installing Python {version} with {manager} was cancelled")]
    InstallCancelled {
        /// The version.
        version: String,
        /// "pyenv" or "asdf".
        manager: &'static str,
    },

    /// An installed interpreter cannot be used.
    #[error("the Python {version} installed at {} cannot be used: {source}", path.display())]
    Interpreter {
        /// The version it was expected to be.
        version: String,
        /// The interpreter.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<crate::Error>,
        /// What to do.
        hint: String,
    },

    /// A file-system or process operation failed.
    /// pyproject.toml's `requires-python` cannot be read.
    #[error("{}: {why}", path.display())]
    RequiresPython {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// pyproject.toml is not valid TOML (so neither `requires-python` nor anything else in it
    /// can be read).
    #[error("{}: it is not valid TOML ({at})", path.display())]
    InvalidToml {
        /// The file.
        path: PathBuf,
        /// Where and what: `line 4, column 1: unclosed array, expected `]``.
        at: String,
    },
    /// An explicit version contradicts `requires-python`.
    #[error("Python {version} ({origin}) does not satisfy pyproject.toml's requires-python = \"{requires}\"")]
    ContradictsRequiresPython {
        /// The version chosen.
        version: String,
        /// Where it was asked for.
        origin: String,
        /// The specifier set.
        requires: String,
    },
    /// No installed (or installable) interpreter satisfies `requires-python`.
    #[error("no installed Python satisfies pyproject.toml's requires-python = \"{requires}\"")]
    NoMatchingPython {
        /// The specifier set.
        requires: String,
        /// What is installed.
        installed: Vec<String>,
    },
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl PolicyError {
    /// The protocol's error kind for this error.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyError::InvalidVersion { .. } => "invalid-params",
            PolicyError::UnsupportedPin { .. } => "unsupported-pin",
            PolicyError::VersionFile { .. } | PolicyError::VersionFileLink { .. } => "version-file",
            PolicyError::Refused(_) => "outside-project",
            PolicyError::NotAvailable { .. } | PolicyError::NoPython { .. } => "python-not-available",
            PolicyError::NoVersionManager { .. } => "no-version-manager",
            PolicyError::InstallFailed { .. } => "install-failed",
            PolicyError::InstallNotApproved { .. } => "not-interactive",
            PolicyError::InstallCancelled { .. } => "cancelled",
            PolicyError::Interpreter { .. } => "interpreter-unusable",
            PolicyError::Io { .. } => "io",
            PolicyError::RequiresPython { .. } | PolicyError::InvalidToml { .. } => "invalid-project",
            PolicyError::ContradictsRequiresPython { .. } => "requires-python",
            PolicyError::NoMatchingPython { .. } => "python-not-available",
        }
    }

    /// The user's next step.
    pub fn hint(&self) -> Option<String> {
        match self {
            PolicyError::InvalidVersion { hint, .. }
            | PolicyError::NotAvailable { hint, .. }
            | PolicyError::Interpreter { hint, .. } => Some(hint.clone()),
            PolicyError::UnsupportedPin { file, .. } => Some(format!(
                "pass --python-version X.Y.Z to choose an interpreter (pyve then updates {file}), or edit {file}"
            )),
            PolicyError::VersionFile { path, .. } => {
                Some(format!("check the permissions and content of {}", path.display()))
            }
            PolicyError::VersionFileLink { path, .. } => Some(format!(
                "make {0} a regular file of the project (`rm {0}` removes only the link), or pin the version \
                 where the link points yourself",
                path.display()
            )),
            PolicyError::Refused(r) => Some(r.hint()),
            PolicyError::NoPython { .. } => Some(
                "install Python with pyenv (https://github.com/pyenv/pyenv, then `pyenv install 3.13`) \
                 or asdf, or put a python3 on PATH"
                    .into(),
            ),
            PolicyError::NoVersionManager { version } => Some(format!(
                "install pyenv or asdf to pin versions; without a pin, `pyve --init --python-version {version}` \
                 uses a matching python3 on PATH"
            )),
            PolicyError::InstallFailed { version, manager, .. } => Some(format!(
                "read the {manager} output above; installing needs network access to python.org and the build \
                 dependencies of CPython (try `{} {version}` yourself)",
                if *manager == "asdf" { "asdf install python" } else { "pyenv install" }
            )),
            PolicyError::InstallNotApproved { command, .. } => {
                Some(format!("install it first (`{command}`), or set PYVE_FORCE_YES=1 to let pyve install it"))
            }
            PolicyError::InstallCancelled { .. } => None,
            PolicyError::Io { path, .. } => Some(format!("check the permissions of {}", path.display())),
            PolicyError::RequiresPython { .. } => {
                Some("write it as a PEP 440 specifier set, such as requires-python = \">=3.10\"".into())
            }
            PolicyError::InvalidToml { path, at } => Some(format!(
                "fix the TOML syntax at {} of {} (an unclosed `[`, `\"` or a missing `=` is the usual cause), then run the command again",
                at.split(':').next().unwrap_or(at),
                path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
            )),
            PolicyError::ContradictsRequiresPython { requires, version, .. } => Some(format!(
                "ask for a version that satisfies \"{requires}\" (--python-version), or change the pin or requires-python; \
                 an initialised project can be rebuilt with it anyway (`pyve --init --force --python-version {version}`)"
            )),
            PolicyError::NoMatchingPython { requires, installed } => Some(format!(
                "install one (pyenv install 3.X, with X allowed by \"{requires}\"){}",
                if installed.is_empty() { String::new() } else { format!("; installed: {}", installed.join(", ")) }
            )),
        }
    }

    /// Structured details, for the protocol error's `details`.
    pub fn details(&self) -> Option<serde_json::Value> {
        match self {
            PolicyError::NotAvailable { requested, provider, installed, .. } => Some(serde_json::json!({
                "requested": requested, "provider": provider, "installed": installed,
            })),
            _ => None,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PolicyError::Io { op, path: path.into(), source }
    }
}
