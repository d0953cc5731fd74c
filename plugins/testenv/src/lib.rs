//! pyve's dev/test runner environment: a separate virtual environment at
//! `.pyve/testenv/venv` that holds pytest and the project's dev tools, so that re-initialising
//! the project (`pyve --init --force`) or purging it (`pyve --purge`) never destroys them.
//!
//! Without the feature `plugin` this is the domain library (no SDK in scope); with it (the
//! default) it also holds the two passthrough commands the `pyve-testenv` executable serves,
//! which print through the SDK's output helper:
//!
//! - [`testenv`]: `pyve testenv --init | --install [-r FILE] | --purge | --status | run CMD`
//!   (the grammar: [`args`]);
//! - [`test`]: `pyve test [PYTEST ARGS...]`, which replaces itself with
//!   `.pyve/testenv/venv/bin/python -m pytest ARGS`.
//!
//! The environment is created natively by [`pyve_venv::create`] from the interpreter that
//! [`pyve_venv::policy`] chooses for the project (the same policy as the project's own
//! environment, never a shim), and what it was built from is recorded in
//! `.pyve/testenv/testenv.json` ([`record`]). See `docs/testenv.md`.

pub mod args;
#[cfg(feature = "plugin")]
mod commands;
pub mod gitignore;
pub mod project;
pub mod record;
#[cfg(feature = "plugin")]
mod ui;

#[cfg(feature = "plugin")]
use std::ffi::OsString;
use std::path::PathBuf;

pub use args::{Action, UsageError};
#[cfg(feature = "plugin")]
pub use ui::{Failure, Ui};

/// This plugin's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What pyve passes to a passthrough command (protocol.md section 4), as far as these commands
/// use it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// `PYVE_PROJECT_ROOT`: the initialised project the current directory is in (`None`
    /// outside one: the current directory is then the root).
    pub project_root: Option<PathBuf>,
    /// `PYVE_VERSION`.
    pub pyve_version: Option<String>,
    /// `PYVE_VERBOSITY`: -1 quiet, 0 normal, 1 verbose, 2 debug.
    pub verbosity: i8,
    /// `PYVE_COLOR=always`.
    pub color: bool,
}

impl Host {
    /// Read the variables pyve sets (empty ones count as unset).
    pub fn from_env() -> Host {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Host {
            project_root: var("PYVE_PROJECT_ROOT").map(PathBuf::from),
            pyve_version: var("PYVE_VERSION").and_then(|v| v.into_string().ok()),
            verbosity: var("PYVE_VERBOSITY").and_then(|v| v.to_str()?.parse().ok()).unwrap_or(0),
            color: var("PYVE_COLOR").is_some_and(|v| v == "always"),
        }
    }

    #[cfg(feature = "plugin")]
    fn ui(&self) -> Ui {
        Ui { verbosity: self.verbosity, color: self.color }
    }
}

/// The help of `pyve testenv` (`--help`, `-h`).
pub const HELP: &str = "\
pyve testenv - Manage a dedicated dev/test runner environment

Usage:
  pyve testenv --init               Create the environment (.pyve/testenv/venv)
  pyve testenv --install [-r FILE]  Install pytest, or the requirements in FILE (-r repeats)
  pyve testenv --purge              Remove the environment (all of .pyve/testenv)
  pyve testenv --status             Show its Python, pytest, and the project's distutils shim
  pyve testenv run CMD [ARGS...]    Run a tool from the environment (ruff, mypy, ...)
  pyve testenv --help               Show this help
  pyve test [PYTEST ARGS...]        Run pytest from the environment

Options:
  -r, --requirements FILE  With --install: install from FILE instead of pytest
  -h, --help               Show this help
  -V, --version            Show the plugin's version

Notes:
  - The environment lives in .pyve/testenv/venv, apart from the project's own environment.
    It survives `pyve --init --force` and `pyve --purge`; only `pyve testenv --purge`
    removes it. --init adds .pyve/testenv to .gitignore when missing (--purge takes it out).
  - Python: the version the project pins when --init runs, chosen like the project's own
    environment: .tool-versions / .python-version, python.version in
    .pyve/config, PYVE_DEFAULT_PYTHON_VERSION, else the newest installed; from asdf, pyenv
    or PATH, by path, never through a pyenv shim. It is recorded in
    .pyve/testenv/testenv.json and never changed silently: when the project pins another
    version later, --init and `pyve test` warn and keep the environment; rebuild it with
    `pyve testenv --purge && pyve testenv --init`.
  - --install uses `uv pip install` when uv is on PATH, else pip (without byte-compiling).
  - `pyve test` runs `.pyve/testenv/venv/bin/python -m pytest ARGS`: every argument goes to
    pytest (`pyve test -h` is pytest's help). Without arguments it runs in the project root,
    so the project's pytest configuration (testpaths) applies; with arguments, in the
    current directory. pytest's exit code is pyve's.
  - `pyve run` always uses the project's environment, never this one.
  - State: `pyve testenv --status` prints the recorded Python (and whether the project now
    pins another), whether pytest is installed, and whether the distutils shim
    (sitecustomize.py marked `# pyve-managed: distutils shim` in the project environment's
    site-packages) is present.
";

/// `pyve testenv ARGS...`; the result is the exit code.
#[cfg(feature = "plugin")]
pub fn testenv(args: &[OsString], host: &Host) -> i32 {
    let ui = host.ui();
    let action = match args::parse(args) {
        Ok(a) => a,
        Err(e) => {
            ui.usage_error(&e.0, args::USAGE, "`pyve testenv --help` describes every action");
            return 1;
        }
    };
    match action {
        Action::Help => {
            print!("{HELP}");
            0
        }
        Action::Version => {
            println!("pyve-testenv {VERSION}");
            0
        }
        action => commands::run(&ui, host, action),
    }
}

#[cfg(feature = "plugin")]
/// `pyve test ARGS...`: replaces the process with pytest from the test environment; returns
/// only when that fails (the exit code).
pub fn test(args: &[OsString], host: &Host) -> i32 {
    commands::test(&host.ui(), host, args)
}
