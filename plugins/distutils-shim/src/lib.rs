//! The distutils shim of pyve: keeps `import distutils` working in environments of Python
//! 3.12 and later, where the standard library no longer has it.
//!
//! Given an environment's interpreter, [`apply`]:
//!
//! 1. does nothing when `PYVE_DISABLE_DISTUTILS_SHIM=1` ([`Options::disabled`]);
//! 2. asks that interpreter for its version and site-packages ([`interpreter::query`]),
//!    unless the backend reported a CPython 3.12+ whose site-packages is where the layout puts
//!    it ([`interpreter::reported`]); below 3.12 it stops there;
//! 3. leaves everything alone when site-packages holds a `sitecustomize.py` pyve did not
//!    write;
//! 4. installs what is missing of setuptools and wheel ([`packages`]), warning (never
//!    failing) when that is impossible, for instance offline;
//! 5. writes the pyve-marked `sitecustomize.py` ([`sitecustomize::CONTENT`]) unless it is
//!    already there, which sets `SETUPTOOLS_USE_DISTUTILS=local` and, without importing
//!    setuptools at start-up, hands `import distutils` to setuptools on first use;
//! 6. probes the result ([`probe`]) and compiles the file, so that interpreter start-up stays
//!    as fast as in a plain environment; when an environment made the same way (same
//!    interpreter, same wheels from the cache) passed the probe before, copies the bytecode it
//!    kept instead of starting python again (`verdict`).
//!
//! It talks to the user through a [`Reporter`] and never fails the caller: problems become
//! warnings. This library does not depend on the plugin SDK; the `plugin` feature (on by
//! default) adds the `post-create` hook in [`plugin`], the `pyve-distutils-shim` executable
//! and the `libpyve_distutils_shim.so` exports. See `docs/distutils-shim.md`.
//!
//! ```no_run
//! use pyve_distutils_shim::{Level, Options, Reporter, apply};
//!
//! struct Stderr;
//! impl Reporter for Stderr {
//!     fn log(&self, level: Level, message: &str) {
//!         eprintln!("{level:?}: {message}");
//!     }
//! }
//!
//! let opts = Options::from_env(".venv/bin/python".into(), ".venv".into());
//! let report = apply(&opts, &Stderr).expect("not cancelled");
//! println!("{}", report.summary());
//! ```

use std::path::{Path, PathBuf};

pub mod interpreter;
pub mod packages;
pub mod probe;
mod process;
mod seeding;
pub mod sitecustomize;
mod verdict;

#[cfg(feature = "plugin")]
pub mod plugin;

#[cfg(feature = "plugin")]
pyve_sdk::export_dylib!(plugin::plugin);

pub use interpreter::PythonInfo;
pub use packages::Installer;
pub use probe::Probe;
pub use sitecustomize::{Existing, MARKER};

/// The variable that turns the shim off (`1`, exactly, as in the original tool).
pub const DISABLE_VAR: &str = "PYVE_DISABLE_DISTUTILS_SHIM";

/// How a message is shown (the protocol's `$/log` levels the shim uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Something is off; work goes on (`WARNING: `).
    Warn,
    /// A step completed (`✓ `).
    Success,
    /// A step the user should see (`INFO: `).
    Info,
    /// A detail for `--verbose`.
    Debug,
}

/// Where [`apply`] reports what it does.
pub trait Reporter {
    /// One message, one line.
    fn log(&self, level: Level, message: &str);
    /// A step that may take a while starts (a spinner for the user).
    fn begin(&self, title: &str) {
        let _ = title;
    }
    /// The step started by [`Reporter::begin`] is over.
    fn end(&self) {}
    /// Whether the caller asked to stop; a running child process is then stopped.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// What to shim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// The environment's interpreter (absolute).
    pub interpreter: PathBuf,
    /// The environment (absolute); the shim only ever writes inside it.
    pub env_path: PathBuf,
    /// `PYVE_DISABLE_DISTUTILS_SHIM=1`: do nothing.
    pub disabled: bool,
    /// What installs setuptools and wheel when they are missing and pyve's wheel cache
    /// cannot provide them.
    pub installer: Installer,
    /// pyve's seeding cache (`$XDG_CACHE_HOME/pyve/wheels`): setuptools and wheel are linked
    /// from it, and fetched into it once per Python `X.Y`. `None`: always use `installer`.
    pub cache_dir: Option<PathBuf>,
    /// The environment's Python version as its backend reported it (`X.Y.Z`), when known: a
    /// version below 3.12 needs no shim, and then the interpreter is not even started.
    pub known_version: Option<String>,
}

impl Options {
    /// Options from the process environment: [`DISABLE_VAR`], `uv` on `PATH`, and the
    /// seeding cache shared with the venv backend (`pyve_wheels`).
    pub fn from_env(interpreter: PathBuf, env_path: PathBuf) -> Self {
        Options {
            interpreter,
            env_path,
            disabled: std::env::var_os(DISABLE_VAR).is_some_and(|v| v == "1"),
            installer: Installer::detect(),
            known_version: None,
            cache_dir: pyve_wheels::default_cache_dir(),
        }
    }
}

/// What [`apply`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The outcome.
    pub status: Status,
    /// Distributions installed into the environment.
    pub installed: Vec<String>,
    /// Distributions that were missing and could not be installed.
    pub not_installed: Vec<String>,
    /// Whether `installed` were linked from pyve's wheel cache (its files checked against
    /// the wheels' `RECORD`), rather than installed by pip or uv.
    pub from_cache: bool,
    /// The shim's file, when it is in place (written now or before).
    pub sitecustomize: Option<PathBuf>,
    /// What the probe saw, when it ran (or what it saw in an environment made the same way,
    /// when [`verdict`] spared it).
    pub probe: Option<Probe>,
    /// The wheels linked from the cache, for [`verdict`].
    wheels: Option<String>,
}

/// The outcome of [`apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// `PYVE_DISABLE_DISTUTILS_SHIM=1`.
    Disabled,
    /// The interpreter's standard library has distutils (below 3.12).
    NotNeeded {
        /// Its version, `3.11.7`.
        version: String,
    },
    /// Left alone, for the reason given (already reported as a warning).
    Skipped {
        /// Why, in a few words.
        reason: String,
    },
    /// The shim was written.
    Written,
    /// The shim was already in place with the current content.
    Unchanged,
}

impl Report {
    fn new(status: Status) -> Self {
        Report {
            status,
            installed: Vec::new(),
            not_installed: Vec::new(),
            from_cache: false,
            sitecustomize: None,
            probe: None,
            wheels: None,
        }
    }

    /// Whether the environment was changed (a file written, a package installed).
    pub fn changed(&self) -> bool {
        self.status == Status::Written || !self.installed.is_empty()
    }

    /// One line for the user.
    pub fn summary(&self) -> String {
        let mut s = match &self.status {
            Status::Disabled => format!("distutils shim disabled ({DISABLE_VAR}=1)"),
            Status::NotNeeded { version } => format!("no distutils shim needed (Python {version} has distutils)"),
            Status::Skipped { reason } => format!("distutils shim skipped: {reason}"),
            Status::Written => "installed the distutils shim".to_owned(),
            Status::Unchanged => "distutils shim already in place".to_owned(),
        };
        if !self.installed.is_empty() {
            s.push_str(&format!("; installed {}", self.installed.join(", ")));
        }
        if !self.not_installed.is_empty() {
            s.push_str(&format!("; could not install {}", self.not_installed.join(", ")));
        }
        s
    }
}

/// The request was cancelled while a child process ran (it was stopped). What was done
/// before stays (an installed package, a written file): each step is whole on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// `X.Y` of a version string such as `3.11.7`.
fn major_minor(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Put the shim into the environment of `opts.interpreter`. Never fails but when cancelled;
/// every problem is reported through `reporter` and leaves the environment usable.
pub fn apply(opts: &Options, reporter: &dyn Reporter) -> Result<Report, Cancelled> {
    let cancelled = || reporter.is_cancelled();
    let python = opts.interpreter.as_path();
    let env = opts.env_path.as_path();

    if opts.disabled {
        reporter.log(Level::Info, &format!("Distutils shim disabled ({DISABLE_VAR}=1)"));
        return Ok(Report::new(Status::Disabled));
    }

    if let Some(v) = &opts.known_version
        && let Some((major, minor)) = major_minor(v)
        && (major, minor) < (3, 12)
    {
        reporter.log(Level::Debug, &format!("Python {v} < 3.12 still has distutils; no distutils shim needed"));
        return Ok(Report::new(Status::NotNeeded { version: v.clone() }));
    }

    // Children run in the environment's directory: never in pyve's working directory (a
    // `distutils` or `pybuilddir.txt` there would change what python does).
    let cwd = if env.is_dir() { env } else { Path::new("/") };
    let reported = opts.known_version.as_deref().and_then(|v| interpreter::reported(python, env, v));
    let info = match reported.map_or_else(|| interpreter::query(python, cwd, &cancelled), Ok) {
        Ok(info) => info,
        Err(interpreter::QueryError::Cancelled) => return Err(Cancelled),
        Err(e) => {
            reporter.log(
                Level::Warn,
                &format!("Could not ask the environment's python about itself ({e}); skipping distutils shim"),
            );
            return Ok(Report::new(Status::Skipped { reason: "the interpreter could not be queried".into() }));
        }
    };
    let version = info.version_string();
    if info.reported {
        reporter.log(
            Level::Debug,
            &format!(
                "{} is {} {version} as the backend reported (its site-packages is there): not queried",
                python.display(),
                info.implementation
            ),
        );
    } else {
        reporter.log(
            Level::Debug,
            &format!("{} is {} {version} (prefix {})", python.display(), info.implementation, info.prefix.display()),
        );
    }
    if !info.lacks_stdlib_distutils() {
        reporter.log(Level::Debug, &format!("Python {version} < 3.12 still has distutils; no distutils shim needed"));
        return Ok(Report::new(Status::NotNeeded { version }));
    }

    let Some(site_packages) = info.site_packages_within(env) else {
        let seen: Vec<String> =
            info.site_packages.iter().chain(&info.purelib).map(|p| p.display().to_string()).collect();
        reporter.log(
            Level::Warn,
            &format!(
                "Could not determine site-packages directory inside {} (the interpreter reports {}); skipping distutils shim",
                env.display(),
                if seen.is_empty() { "none".to_owned() } else { seen.join(", ") }
            ),
        );
        return Ok(Report::new(Status::Skipped { reason: "no site-packages directory in the environment".into() }));
    };
    let shim = site_packages.join(sitecustomize::FILE_NAME);
    let existing = match sitecustomize::inspect(&shim) {
        Ok(existing) => existing,
        Err(e) => {
            reporter.log(Level::Warn, &format!("Could not read {}: {e}; skipping distutils shim", shim.display()));
            return Ok(Report::new(Status::Skipped { reason: "sitecustomize.py could not be read".into() }));
        }
    };
    if existing == Existing::Foreign {
        reporter.log(Level::Warn, "sitecustomize.py exists and is not pyve-managed; skipping distutils shim");
        reporter.log(
            Level::Info,
            &format!(
                "Left {} unchanged; to get the shim, move that file away and create the environment again",
                shim.display()
            ),
        );
        return Ok(Report::new(Status::Skipped {
            reason: "a sitecustomize.py pyve did not write is in the way".into(),
        }));
    }

    reporter.log(Level::Info, "Python >= 3.12 detected; installing distutils compatibility shim");
    let mut report = Report::new(Status::Unchanged);
    install_missing(opts, &info, &site_packages, cwd, reporter, &mut report)?;

    let written = match existing {
        Existing::Current => false,
        _ => match sitecustomize::write(&shim, info.cache_tag.as_deref(), existing == Existing::Outdated) {
            Ok(()) => true,
            Err(e) => {
                reporter.log(Level::Warn, &format!("Failed to write sitecustomize.py shim ({}: {e})", shim.display()));
                report.status = Status::Skipped { reason: "sitecustomize.py could not be written".into() };
                return Ok(report);
            }
        },
    };
    report.sitecustomize = Some(shim.clone());
    if written {
        report.status = Status::Written;
        reporter.log(Level::Success, &format!("Installed distutils compatibility shim: {}", shim.display()));
    } else {
        reporter.log(Level::Success, &format!("Distutils compatibility shim unchanged: {}", shim.display()));
    }
    reporter.log(Level::Info, &format!("Disable with: {DISABLE_VAR}=1"));

    // Compile the file when it is new or its compiled copy is missing (see probe.rs).
    let compiled = info.cache_tag.as_deref().and_then(|tag| sitecustomize::compiled_path(&shim, tag));
    let quick = report.from_cache && report.installed.iter().any(|p| p == "setuptools");
    // An environment made the same way passed the probe before: no need to start python.
    let key = match (&opts.cache_dir, &report.wheels) {
        (Some(cache), Some(wheels)) if quick => verdict::key(cache, python, env, &info, &site_packages, wheels),
        _ => None,
    };
    if let Some(key) = &key {
        let distutils = site_packages.join("setuptools").join("_distutils");
        let reused = if distutils.join("core.py").is_file() {
            verdict::reuse(key, &site_packages)
        } else {
            Err("setuptools has no _distutils".to_owned())
        };
        match reused {
            Ok(()) => {
                reporter.log(
                    Level::Debug,
                    "the probe passed in an environment made the same way (pyve's wheel cache keeps its verdict and \
                     bytecode): not run again",
                );
                let probe = Probe {
                    sitecustomize: Some(shim.clone()),
                    env: Some("local".to_owned()),
                    distutils: Some(distutils.join("__init__.py").display().to_string()),
                    ..Probe::default()
                };
                report_probe(&probe, &shim, &report, reporter);
                report.probe = Some(probe);
                return Ok(report);
            }
            Err(why) => reporter.log(Level::Debug, &format!("running the probe: no verdict to reuse ({why})")),
        }
    }
    // The bytecode the verdict keeps is the probe's: compile then.
    let compile = written || key.is_some() || compiled.is_none_or(|pyc| !pyc.is_file());
    if quick {
        reporter.log(Level::Debug, "setuptools came from pyve's wheel cache: probing without importing it");
    }
    match probe::probe(python, cwd, compile.then_some(shim.as_path()), quick, &cancelled) {
        Ok(probe) => {
            report_probe(&probe, &shim, &report, reporter);
            let passed = probe.imports()
                && probe.ran(&shim)
                && probe.env.as_deref() == Some("local")
                && !probe.setuptools_at_startup
                && probe.error.is_none()
                && probe.compile_error.is_none();
            if let Some(key) = key.as_ref().filter(|_| passed)
                && let Err(e) = verdict::keep(key, &site_packages)
            {
                reporter.log(Level::Debug, &format!("could not keep the probe's verdict in pyve's wheel cache: {e}"));
            }
            report.probe = Some(probe);
        }
        Err(probe::ProbeError::Cancelled) => return Err(Cancelled),
        Err(e) => reporter.log(Level::Warn, &format!("Distutils shim probe failed ({e}); continuing")),
    }
    Ok(report)
}

fn install_missing(
    opts: &Options,
    info: &PythonInfo,
    site_packages: &Path,
    cwd: &Path,
    reporter: &dyn Reporter,
    report: &mut Report,
) -> Result<(), Cancelled> {
    let python = opts.interpreter.as_path();
    let missing = match packages::missing(site_packages) {
        Ok(missing) => missing,
        Err(e) => {
            reporter.log(
                Level::Debug,
                &format!("could not list {}: {e}; installing setuptools and wheel", site_packages.display()),
            );
            packages::REQUIRED.to_vec()
        }
    };
    if missing.is_empty() {
        reporter.log(Level::Debug, &format!("{} already installed", packages::REQUIRED.join(" and ")));
        return Ok(());
    }
    let list = missing.join(", ");
    let mut fetch_error = None;
    if let Some(cache) = &opts.cache_dir {
        match seeding::install(opts, info, site_packages, cache, &missing, reporter)? {
            Ok((how, wheels)) => {
                reporter.log(Level::Success, &format!("Installed {list} {how}"));
                report.installed = missing.iter().map(|s| (*s).to_owned()).collect();
                report.from_cache = true;
                report.wheels = wheels;
                return Ok(());
            }
            Err(e) => fetch_error = Some(e),
        }
    }
    // The cache could not provide them (no cache directory, or the fetch failed): with uv,
    // its own cache may still have them; with pip, installing would fail as the download did.
    let installer = &opts.installer;
    let result = match (&fetch_error, installer) {
        (Some(e), Installer::Pip) => Err(packages::InstallError::Run(e.clone())),
        _ => {
            reporter.log(Level::Debug, &format!("installing {list} with {}", installer.name()));
            reporter.begin(&format!("Installing {list} (distutils shim)"));
            let result = packages::install(installer, python, &missing, cwd, &|| reporter.is_cancelled());
            reporter.end();
            result
        }
    };
    match result {
        Ok(()) => {
            reporter.log(Level::Success, &format!("Installed {list} with {}", installer.name()));
            report.installed = missing.iter().map(|s| (*s).to_owned()).collect();
        }
        Err(packages::InstallError::Cancelled) => return Err(Cancelled),
        Err(e) => {
            if let Some(output) = e.output() {
                reporter.log(Level::Debug, &format!("{} said:\n{output}", installer.name()));
            }
            reporter.log(
                Level::Warn,
                &format!(
                    "Could not install {list} ({e}); `import distutils` will fail in this environment until they are \
                     installed: run `{}` when the package index can be reached",
                    installer.manual_command(python, &missing)
                ),
            );
            report.not_installed = missing.iter().map(|s| (*s).to_owned()).collect();
        }
    }
    Ok(())
}

fn report_probe(probe: &Probe, shim: &Path, report: &Report, reporter: &dyn Reporter) {
    if let Some(e) = &probe.compile_error {
        reporter.log(Level::Debug, &format!("could not compile {}: {e}", shim.display()));
    }
    if !probe.ran(shim) {
        let other = probe.sitecustomize.as_ref().map_or("none".to_owned(), |p| p.display().to_string());
        reporter.log(
            Level::Warn,
            &format!(
                "Distutils shim probe: the interpreter did not run {} (its sitecustomize is {other}); \
                 `import distutils` relies on setuptools' own distutils-precedence.pth",
                shim.display()
            ),
        );
    }
    if probe.setuptools_at_startup {
        reporter
            .log(Level::Debug, "setuptools is imported at interpreter start-up by something else in this environment");
    }
    let env = probe.env.as_deref();
    match (&probe.distutils, env) {
        (Some(origin), Some("local")) => {
            reporter.log(Level::Debug, &format!("import distutils -> {origin}"));
            reporter
                .log(Level::Success, "Distutils shim probe: SETUPTOOLS_USE_DISTUTILS=local; import distutils works");
        }
        (Some(_), None) => reporter.log(Level::Warn, "Distutils shim probe: SETUPTOOLS_USE_DISTUTILS was not set"),
        (Some(_), Some(other)) => reporter
            .log(Level::Warn, &format!("Distutils shim probe: SETUPTOOLS_USE_DISTUTILS={other} (set outside pyve)")),
        (None, _) => {
            let why = probe.error.as_deref().unwrap_or("unknown error");
            let cause = if !report.not_installed.is_empty() {
                format!("{} could not be installed", report.not_installed.join(" and "))
            } else if let Some(value) = env.filter(|v| *v != "local") {
                format!("SETUPTOOLS_USE_DISTUTILS={value} is set outside pyve")
            } else {
                "see above".to_owned()
            };
            reporter.log(
                Level::Warn,
                &format!("Distutils shim probe failed (could not import distutils: {why}; {cause}); continuing"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        let mut r = Report::new(Status::Written);
        r.installed = vec!["setuptools".into(), "wheel".into()];
        assert!(r.changed());
        assert_eq!(r.summary(), "installed the distutils shim; installed setuptools, wheel");
        let mut r = Report::new(Status::Unchanged);
        assert!(!r.changed());
        r.not_installed = vec!["wheel".into()];
        assert_eq!(r.summary(), "distutils shim already in place; could not install wheel");
        assert_eq!(Report::new(Status::Disabled).summary(), "distutils shim disabled (PYVE_DISABLE_DISTUTILS_SHIM=1)");
        let r = Report::new(Status::NotNeeded { version: "3.11.7".into() });
        assert!(!r.changed());
        assert_eq!(r.summary(), "no distutils shim needed (Python 3.11.7 has distutils)");
    }

    /// Collects what `apply` reports.
    struct Log(std::sync::Mutex<Vec<(Level, String)>>);

    impl Reporter for Log {
        fn log(&self, level: Level, message: &str) {
            self.0.lock().unwrap().push((level, message.to_owned()));
        }
    }

    #[test]
    fn disabled_touches_nothing_and_runs_nothing() {
        let log = Log(Default::default());
        let opts = Options {
            interpreter: "/nonexistent/python".into(),
            env_path: "/nonexistent".into(),
            disabled: true,
            installer: Installer::Pip,
            cache_dir: None,
            known_version: None,
        };
        let report = apply(&opts, &log).unwrap();
        assert_eq!(report.status, Status::Disabled);
        assert_eq!(
            log.0.into_inner().unwrap(),
            [(Level::Info, "Distutils shim disabled (PYVE_DISABLE_DISTUTILS_SHIM=1)".to_owned())]
        );
    }

    #[test]
    fn a_known_version_below_3_12_starts_no_interpreter() {
        let log = Log(Default::default());
        // The interpreter does not exist: had it been started, the hook would warn.
        let opts = Options {
            interpreter: "/nonexistent/python".into(),
            env_path: "/nonexistent".into(),
            disabled: false,
            installer: Installer::Pip,
            cache_dir: None,
            known_version: Some("3.11.7".into()),
        };
        let report = apply(&opts, &log).unwrap();
        assert_eq!(report.status, Status::NotNeeded { version: "3.11.7".into() });
        assert!(log.0.into_inner().unwrap().iter().all(|(l, _)| *l == Level::Debug));
    }

    #[test]
    fn an_interpreter_that_cannot_run_is_a_warning() {
        let log = Log(Default::default());
        let tmp = tempfile::tempdir().unwrap();
        let opts = Options {
            interpreter: tmp.path().join("bin/python"),
            env_path: tmp.path().into(),
            disabled: false,
            installer: Installer::Pip,
            cache_dir: None,
            known_version: None,
        };
        let report = apply(&opts, &log).unwrap();
        assert!(matches!(report.status, Status::Skipped { .. }), "{report:?}");
        let logs = log.0.into_inner().unwrap();
        assert_eq!(logs.len(), 1, "{logs:?}");
        assert_eq!(logs[0].0, Level::Warn);
        assert!(logs[0].1.contains("could not start"), "{logs:?}");
    }
}
