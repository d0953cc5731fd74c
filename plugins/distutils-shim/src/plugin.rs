//! The plugin: the `post-create` hook over [`apply`], served by the
//! `pyve-distutils-shim` executable and by `libpyve_distutils_shim.so`.
//!
//! Loaded as a library, the plugin runs inside pyve's process: it reads the process
//! environment (`PYVE_DISABLE_DISTUTILS_SHIM`, `PATH`) but never changes it or the working
//! directory, runs its children with captured output (pyve's stdout is data), and leaves
//! panics to the SDK, which turns them into errors.

use std::cell::RefCell;
use std::path::PathBuf;

use pyve_sdk::types::{HookResult, LogLevel, PostCreateParams};
use pyve_sdk::{Context, Error, Hook, Plugin, Progress, Result};

use crate::{Level, Options, Reporter, apply};

/// The plugin's name: the executable is `pyve-distutils-shim`, the library
/// `libpyve_distutils_shim.so`.
pub const NAME: &str = "distutils-shim";

/// The plugin, for `pyve_sdk::main` and `pyve_sdk::export_dylib!`.
pub fn plugin() -> Plugin {
    Plugin::new(NAME, env!("CARGO_PKG_VERSION"))
        .description("Keeps `import distutils` working on Python 3.12+ (setuptools, deferred sitecustomize)")
        .hook(
            "post-create",
            "Python 3.12+: install setuptools and wheel, and a sitecustomize.py that provides distutils on first import",
            DistutilsShim,
        )
}

/// The `post-create` hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct DistutilsShim;

impl Hook for DistutilsShim {
    fn post_create(&self, cx: &mut Context<'_>, p: PostCreateParams) -> Result<HookResult> {
        let Some(interpreter) = p.interpreter else {
            cx.debug(format!(
                "backend `{}` reported no interpreter for {}; no distutils shim",
                p.backend,
                p.env_path.display()
            ));
            return Ok(HookResult {
                changed: false,
                summary: Some("no interpreter: distutils shim not applied".into()),
            });
        };
        // Requests carry absolute paths; a relative one is taken from the project root, never
        // from the working directory (which, in-process, is pyve's).
        let absolute = |path: PathBuf| if path.is_absolute() { path } else { p.project_root.join(path) };
        let mut opts = Options::from_env(absolute(interpreter), absolute(p.env_path.clone()));
        opts.known_version = p.python_version.clone();
        let reporter = CxReporter { cx, progress: RefCell::new(None) };
        match apply(&opts, &reporter) {
            Ok(report) => Ok(HookResult { changed: report.changed(), summary: Some(report.summary()) }),
            Err(crate::Cancelled) => Err(Error::cancelled()),
        }
    }
}

/// Reports through the SDK's context: `$/log` and `$/progress`.
struct CxReporter<'c, 'a> {
    cx: &'c Context<'a>,
    progress: RefCell<Option<Progress<'c>>>,
}

impl Reporter for CxReporter<'_, '_> {
    fn log(&self, level: Level, message: &str) {
        let level = match level {
            Level::Warn => LogLevel::Warn,
            Level::Success => LogLevel::Success,
            Level::Info => LogLevel::Info,
            Level::Debug => LogLevel::Debug,
        };
        self.cx.log(level, message);
    }

    fn begin(&self, title: &str) {
        *self.progress.borrow_mut() = Some(self.cx.progress(title, None));
    }

    fn end(&self) {
        if let Some(progress) = self.progress.borrow_mut().take() {
            progress.end();
        }
    }

    fn is_cancelled(&self) -> bool {
        self.cx.is_cancelled()
    }
}
