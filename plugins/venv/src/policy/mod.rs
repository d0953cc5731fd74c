//! The interpreter policy: which Python a project's environment is built from, installing
//! it when it is missing and allowed, and pinning it in the project's version file.
//!
//! This is domain code, with no SDK in scope, shared by the `pyve-venv` backend and by
//! `pyve-testenv` (which builds its own environment with the same policy). The policy is
//! documented for users in `docs/venv-backend.md`; in short:
//!
//! 1. The requested version is the first of: the explicit request (`--python-version`),
//!    the project's version file (the one of the manager in use
//!    first: `.tool-versions`' `python` line, `.python-version`'s first line), the version
//!    recorded in `.pyve/config`, `PYVE_DEFAULT_PYTHON_VERSION`; else none.
//! 2. The provider is asdf when present with its python plugin, else pyenv, else the
//!    interpreters on `PATH` (see [`managers`] and [`path`]).
//! 3. A requested version is looked up among installed ones (`X.Y`: the newest `X.Y.*`);
//!    missing, it may be installed ([`Resolution::NeedsInstall`]); neither installed nor
//!    installable is [`PolicyError::NotAvailable`].
//! 4. Without a request, the newest CPython 3 installed (manager installs, else `PATH`).
//! 5. With a manager in use and a version that did not come from a version file, the pin to
//!    write ([`Resolved::pin`], applied with [`apply_pin`]).
//!
//! ```no_run
//! use pyve_venv::policy::{Environment, Request, Resolution, Unobserved, InstallOptions, resolve_interpreter};
//! # fn main() -> Result<(), pyve_venv::policy::PolicyError> {
//! let request = Request::new("/home/u/proj".into(), Environment::from_process());
//! let resolved = match resolve_interpreter(&request)? {
//!     Resolution::Ready(r) => r,
//!     Resolution::NeedsInstall(plan) if plan.auto_approved() => plan.install(InstallOptions::default(), &mut Unobserved)?,
//!     Resolution::NeedsInstall(plan) => panic!("ask the user first: {}", plan.install_command()),
//! };
//! println!("{} ({})", resolved.interpreter.executable.display(), resolved.choice_message());
//! # Ok(()) }
//! ```

mod error;
pub mod managers;
pub mod path;
pub mod pin;
pub mod requires;
mod version;

use std::ffi::OsString;
use std::path::PathBuf;

pub use error::PolicyError;
pub use managers::{
    Detection, InstallObserver, InstallOptions, InstalledPython, Manager, ManagerKind, Unobserved, detect,
};
pub use path::path_pythons;
pub use pin::{
    AppliedPin, PinAction, PinChange, PinFile, PinOrigin, PinRecord, PinRemoval, PinState, apply_pin, read_pin,
    remove_pin,
};
pub use requires::RequiresPython;
pub use version::{VersionRequest, parse_release};

use crate::interpreter::{Interpreter, PythonVersion};

/// The parts of the process environment the policy reads, captured once (so that tests and
/// library users can describe another machine without touching the real environment).
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `HOME` (where `~/.pyenv` and `~/.asdf` are).
    pub home: Option<PathBuf>,
    /// `PATH`.
    pub path: Option<OsString>,
    /// `PYENV_ROOT`.
    pub pyenv_root: Option<PathBuf>,
    /// `ASDF_DATA_DIR`.
    pub asdf_data_dir: Option<PathBuf>,
    /// `ASDF_DIR` (where an asdf before 0.16 keeps `bin/asdf`).
    pub asdf_dir: Option<PathBuf>,
    /// `PYVE_DEFAULT_PYTHON_VERSION`: the configured default.
    pub default_version: Option<String>,
    /// `CI` is non-empty.
    pub ci: bool,
    /// `PYVE_FORCE_YES` is non-empty.
    pub force_yes: bool,
}

impl Environment {
    /// Read the current process's environment. Empty variables count as unset.
    pub fn from_process() -> Environment {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let text = |k: &str| var(k).map(|v| v.to_string_lossy().into_owned());
        Environment {
            home: var("HOME").map(PathBuf::from).or_else(dirs::home_dir),
            path: var("PATH"),
            pyenv_root: var("PYENV_ROOT").map(PathBuf::from),
            asdf_data_dir: var("ASDF_DATA_DIR").map(PathBuf::from),
            asdf_dir: var("ASDF_DIR").map(PathBuf::from),
            default_version: text("PYVE_DEFAULT_PYTHON_VERSION"),
            ci: var("CI").is_some(),
            force_yes: var("PYVE_FORCE_YES").is_some(),
        }
    }
}

/// The user cache directory for seeding wheels: `$XDG_CACHE_HOME/pyve/wheels` or
/// `~/.cache/pyve/wheels` (the platform's cache directory elsewhere).
pub use pyve_wheels::default_cache_dir;

/// What to resolve.
#[derive(Debug, Clone)]
pub struct Request {
    /// The project root (absolute).
    pub project_root: PathBuf,
    /// The explicit request (`--python-version`), unvalidated.
    pub python_version: Option<String>,
    /// The version recorded for the project (`.pyve/config`), used when nothing more specific
    /// is asked for or pinned.
    pub configured_version: Option<String>,
    /// The environment.
    pub env: Environment,
    /// The project's `requires-python` ([`RequiresPython::read`]): only interpreters that
    /// satisfy it are chosen, and an explicit version that contradicts it is an error.
    pub requires: Option<RequiresPython>,
    /// An explicit version that contradicts `requires` is a warning, not an error
    /// (`pyve --init --force`).
    pub force: bool,
}

impl Request {
    /// A request with no explicit or configured version.
    pub fn new(project_root: PathBuf, env: Environment) -> Request {
        Request { project_root, python_version: None, configured_version: None, env, requires: None, force: false }
    }
}

/// Why a version was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The explicit request (`--python-version`).
    Flag,
    /// The project's version file.
    VersionFile(PinFile),
    /// The version recorded in `.pyve/config`.
    Config,
    /// `PYVE_DEFAULT_PYTHON_VERSION`.
    DefaultEnv,
    /// Nothing was requested: the newest installed.
    Newest,
    /// Nothing was requested: the newest installed that satisfies `requires-python`.
    RequiresPython,
}

impl Source {
    /// Whether the user asked for this version explicitly (an existing pin is then updated).
    pub fn is_explicit(self) -> bool {
        matches!(self, Source::Flag)
    }

    /// Where the version came from, for messages: "requested with --python-version".
    pub fn describe(self) -> String {
        match self {
            Source::Flag => "requested with --python-version".into(),
            Source::VersionFile(f) => format!("pinned in {f}"),
            Source::Config => "recorded in .pyve/config".into(),
            Source::DefaultEnv => "from PYVE_DEFAULT_PYTHON_VERSION".into(),
            Source::Newest => "the newest installed".into(),
            Source::RequiresPython => "the newest installed that satisfies pyproject.toml's requires-python".into(),
        }
    }
}

/// Who provided the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// A version manager's installs.
    Manager(Manager),
    /// `PATH` (no version manager, or one without installs).
    Path,
}

/// The interpreter chosen, and how.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolved {
    /// The interpreter (by its real path, never a shim).
    pub interpreter: Interpreter,
    /// Its version.
    pub version: PythonVersion,
    /// What was asked for, if anything.
    pub requested: Option<VersionRequest>,
    /// Why this version.
    pub source: Source,
    /// Who provided it.
    pub provider: Provider,
    /// The version manager in use, if any (also when the interpreter came from `PATH`).
    pub manager: Option<Manager>,
    /// The pin to write (see [`apply_pin`]); `None` when the project's version file already
    /// says this, when the version came from a version file, or without a manager.
    pub pin: Option<PinAction>,
    /// Whether it was installed by this resolution.
    pub installed_now: bool,
    /// Things worth telling the user (asdf without its python plugin, unusable installs
    /// skipped).
    pub notes: Vec<String>,
}

impl Resolved {
    /// "Using pyenv for Python version management", or what is used without one.
    pub fn provider_message(&self) -> String {
        manager_message(self.manager.as_ref())
    }

    /// Which version was chosen and why: "Using Python 3.13.0, the newest installed (pass
    /// --python-version to choose)".
    pub fn choice_message(&self) -> String {
        let v = &self.version;
        let from_path = match self.provider {
            Provider::Path => format!(" from PATH ({})", self.interpreter.executable.display()),
            Provider::Manager(_) => String::new(),
        };
        match (self.source, self.requested) {
            (Source::RequiresPython, _) => format!("Using Python {v}{from_path} ({})", self.source.describe()),
            (Source::Newest, _) => {
                let on = if from_path.is_empty() { String::new() } else { from_path.replacen(" from", " on", 1) };
                format!("Using Python {v}, the newest installed{on} (pass --python-version to choose)")
            }
            (source, Some(r)) if !r.is_exact() => {
                format!("Using Python {v}{from_path}, the newest installed {r} ({} {r})", source.describe())
            }
            (source, _) => format!("Using Python {v}{from_path} ({})", source.describe()),
        }
    }
}

/// "Using pyenv for Python version management" (or the `PATH` equivalent).
pub fn manager_message(manager: Option<&Manager>) -> String {
    match manager {
        Some(m) => format!("Using {} for Python version management", m.kind),
        None => "No Python version manager found (asdf, pyenv): using the Python interpreters on PATH".into(),
    }
}

/// The outcome of [`resolve_interpreter`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Resolution {
    /// An installed interpreter fits.
    Ready(Resolved),
    /// The requested version is missing but the manager can install it: ask (unless
    /// [`InstallPlan::auto_approved`]), then [`InstallPlan::install`].
    NeedsInstall(InstallPlan),
}

impl Resolution {
    /// The interpreter, installing it first when that is approved without asking (`CI` or
    /// `PYVE_FORCE_YES`); otherwise [`PolicyError::InstallNotApproved`]. For callers that
    /// cannot ask the user.
    pub fn ready_or_auto_install(
        self,
        opts: InstallOptions,
        observer: &mut dyn InstallObserver,
    ) -> Result<Resolved, PolicyError> {
        match self {
            Resolution::Ready(r) => Ok(r),
            Resolution::NeedsInstall(plan) if plan.auto_approved() => plan.install(opts, observer),
            Resolution::NeedsInstall(plan) => Err(PolicyError::InstallNotApproved {
                command: plan.install_command(),
                version: plan.version,
                manager: plan.manager.kind.name(),
            }),
        }
    }
}

/// A version to install before it can be used.
#[derive(Debug, Clone)]
pub struct InstallPlan {
    request: Request,
    manager: Manager,
    version: String,
    requested: VersionRequest,
    source: Source,
    notes: Vec<String>,
}

impl InstallPlan {
    /// The exact release to install (`X.Y` requests become the newest `X.Y.Z` offered).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The manager that installs it.
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// What was asked for.
    pub fn requested(&self) -> VersionRequest {
        self.requested
    }

    /// Why.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Things worth telling the user.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// `pyenv install 3.12.1`
    pub fn install_command(&self) -> String {
        self.manager.install_command(&self.version)
    }

    /// Whether installing needs no question: `CI` or `PYVE_FORCE_YES` is set.
    pub fn auto_approved(&self) -> bool {
        self.request.env.ci || self.request.env.force_yes
    }

    /// Install, then resolve to the installed interpreter.
    pub fn install(self, opts: InstallOptions, observer: &mut dyn InstallObserver) -> Result<Resolved, PolicyError> {
        self.manager.install(&self.version, &self.request.env, opts, observer)?;
        let exact = VersionRequest::parse(&self.version).unwrap_or(self.requested);
        let candidates = self.manager.find(&exact);
        let Some(found) = candidates.first() else {
            return Err(PolicyError::InstallFailed {
                version: self.version.clone(),
                manager: self.manager.kind.name(),
                reason: format!(
                    "`{}` succeeded but no interpreter appeared in {}",
                    self.install_command(),
                    self.manager.versions_dir().display()
                ),
            });
        };
        let interpreter = inspect_installed(found)?;
        let pin = pin_for(&self.request, &self.manager, self.source, Some(&self.requested), &interpreter.version)?;
        Ok(Resolved {
            version: interpreter.version.clone(),
            interpreter,
            requested: Some(self.requested),
            source: self.source,
            provider: Provider::Manager(self.manager.clone()),
            manager: Some(self.manager),
            pin,
            installed_now: true,
            notes: self.notes,
        })
    }
}

/// The requested version and where it came from, without looking for interpreters: `None`
/// when nothing is requested (the newest installed will do).
pub fn requested_version(req: &Request) -> Result<Option<(VersionRequest, Source)>, PolicyError> {
    let detection = detect(&req.env);
    requested_with(req, detection.manager.as_ref())
}

fn requested_with(req: &Request, manager: Option<&Manager>) -> Result<Option<(VersionRequest, Source)>, PolicyError> {
    let parse = |value: &str, origin: &str, hint: String| {
        VersionRequest::parse(value).ok_or_else(|| PolicyError::InvalidVersion {
            value: value.to_string(),
            origin: origin.to_string(),
            hint,
        })
    };
    if let Some(v) = &req.python_version {
        let r = parse(v, "--python-version", "pass a version such as --python-version 3.12.1 or 3.12".into())?;
        return Ok(Some((r, Source::Flag)));
    }
    let files = match manager.map(|m| m.kind) {
        Some(ManagerKind::Pyenv) => [PinFile::PythonVersion, PinFile::ToolVersions],
        _ => [PinFile::ToolVersions, PinFile::PythonVersion],
    };
    for file in files {
        if let Some(pinned) = read_pin(&req.project_root, file)?.version {
            let r = VersionRequest::parse(&pinned)
                .ok_or(PolicyError::UnsupportedPin { file: file.file_name(), value: pinned.clone() })?;
            return Ok(Some((r, Source::VersionFile(file))));
        }
    }
    if let Some(v) = &req.configured_version {
        let hint = "fix `python_version` in .pyve/config, or pass --python-version".to_string();
        return Ok(Some((parse(v, ".pyve/config python_version", hint)?, Source::Config)));
    }
    if let Some(v) = &req.env.default_version {
        let hint = "set PYVE_DEFAULT_PYTHON_VERSION to a version such as 3.12, or unset it".to_string();
        return Ok(Some((parse(v, "PYVE_DEFAULT_PYTHON_VERSION", hint)?, Source::DefaultEnv)));
    }
    Ok(None)
}

/// Choose the interpreter for a request (see the module documentation). Runs nothing but,
/// when a requested version is missing, the manager's list of installable versions.
pub fn resolve_interpreter(req: &Request) -> Result<Resolution, PolicyError> {
    let detection = detect(&req.env);
    let mut notes = detection.notes;
    let manager = detection.manager;
    let wanted = requested_with(req, manager.as_ref())?;
    let ready = |interpreter: Interpreter,
                 provider: Provider,
                 pin: Option<PinAction>,
                 requested: Option<VersionRequest>,
                 source: Source,
                 notes: Vec<String>| {
        Resolution::Ready(Resolved {
            version: interpreter.version.clone(),
            interpreter,
            requested,
            source,
            provider,
            manager: manager.clone(),
            pin,
            installed_now: false,
            notes,
        })
    };

    let requires = req.requires.as_ref();
    let satisfies = |v: &PythonVersion| requires.is_none_or(|r| r.matches((v.major, v.minor, v.micro)));
    match (&manager, wanted) {
        (Some(m), Some((want, source))) => {
            let candidates = m.find(&want);
            if let Some(interpreter) = first_usable(&candidates, &mut notes)? {
                check_requires(req, &interpreter.version, source, &mut notes)?;
                let pin = pin_for(req, m, source, Some(&want), &interpreter.version)?;
                return Ok(ready(interpreter, Provider::Manager(m.clone()), pin, Some(want), source, notes));
            }
            match m.installable(&want, &req.env) {
                Ok(Some(version)) => {
                    if let Some(v) = crate::interpreter::PythonVersion::parse(&version) {
                        check_requires(req, &v, source, &mut notes)?;
                    }
                    Ok(Resolution::NeedsInstall(InstallPlan {
                        request: req.clone(),
                        manager: m.clone(),
                        version,
                        requested: want,
                        source,
                        notes,
                    }))
                }
                Ok(None) => Err(not_available_with_manager(m, &want, source, None)),
                Err(problem) => Err(not_available_with_manager(m, &want, source, Some(problem))),
            }
        }
        (Some(m), None) => {
            let mut installed = m.installed();
            installed.retain(|p| p.release.0 == 3 && requires.is_none_or(|r| r.matches(p.release)));
            installed.reverse();
            let source = if requires.is_some() { Source::RequiresPython } else { Source::Newest };
            if let Some(interpreter) = first_usable(&installed, &mut notes)? {
                let pin = pin_for(req, m, source, None, &interpreter.version)?;
                return Ok(ready(interpreter, Provider::Manager(m.clone()), pin, None, source, notes));
            }
            if let Some(r) = requires {
                // The newest version the manager can install that satisfies it.
                for minor in (6..=20).rev() {
                    let want = VersionRequest { major: 3, minor, patch: None };
                    let Ok(Some(version)) = m.installable(&want, &req.env) else { continue };
                    let Some(v) = crate::interpreter::PythonVersion::parse(&version) else { continue };
                    if r.matches((v.major, v.minor, v.micro)) {
                        let requested = VersionRequest::parse(&version).unwrap_or(want);
                        return Ok(Resolution::NeedsInstall(InstallPlan {
                            request: req.clone(),
                            manager: m.clone(),
                            version,
                            requested,
                            source: Source::RequiresPython,
                            notes,
                        }));
                    }
                }
                let mut found = path_pythons(&req.env, None);
                found.retain(|i| satisfies(&i.version));
                return match take_newest(found) {
                    Some(interpreter) => {
                        Ok(ready(interpreter, Provider::Path, None, None, Source::RequiresPython, notes))
                    }
                    None => {
                        Err(PolicyError::NoMatchingPython { requires: r.text.clone(), installed: installed_names(m) })
                    }
                };
            }
            notes.push(format!("{} has no Python 3 installed; using the newest Python 3 on PATH", m.kind));
            let interpreter = newest_on_path(&req.env)?;
            Ok(ready(interpreter, Provider::Path, None, None, Source::Newest, notes))
        }
        (None, Some((want, source))) => {
            let mut found = path_pythons(&req.env, Some(&want));
            found.retain(|i| want.matches_version(&i.version));
            match take_newest(found) {
                Some(interpreter) => {
                    check_requires(req, &interpreter.version, source, &mut notes)?;
                    Ok(ready(interpreter, Provider::Path, None, Some(want), source, notes))
                }
                None => Err(not_available_on_path(&req.env, &want, source)),
            }
        }
        (None, None) => match requires {
            Some(r) => {
                let mut found = path_pythons(&req.env, None);
                found.retain(|i| satisfies(&i.version));
                match take_newest(found) {
                    Some(interpreter) => {
                        Ok(ready(interpreter, Provider::Path, None, None, Source::RequiresPython, notes))
                    }
                    None => Err(PolicyError::NoMatchingPython { requires: r.text.clone(), installed: Vec::new() }),
                }
            }
            None => {
                let interpreter = newest_on_path(&req.env)?;
                Ok(ready(interpreter, Provider::Path, None, None, Source::Newest, notes))
            }
        },
    }
}

/// An explicitly requested version (flag, pin file, config) that contradicts `requires-python`:
/// an error naming both, or a warning when the version was asked for with `--python-version`
/// on a rebuild (`pyve --init --force --python-version V`). A pin or a recorded version is not
/// overridden by a rebuild: `pyve sync` after requires-python moved on would otherwise rebuild
/// the environment doctor flags, and call it up to date.
fn check_requires(
    req: &Request,
    v: &PythonVersion,
    source: Source,
    notes: &mut Vec<String>,
) -> Result<(), PolicyError> {
    let Some(r) = &req.requires else { return Ok(()) };
    if r.matches((v.major, v.minor, v.micro)) {
        return Ok(());
    }
    if req.force && source == Source::Flag {
        notes.push(format!(
            "Python {} ({}) does not satisfy pyproject.toml's requires-python = \"{r}\"; using it anyway (--force)",
            v.full,
            source.describe()
        ));
        return Ok(());
    }
    Err(PolicyError::ContradictsRequiresPython {
        version: v.full.clone(),
        origin: source.describe(),
        requires: r.text.clone(),
    })
}

/// The installed versions of a manager, for messages.
fn installed_names(m: &Manager) -> Vec<String> {
    m.installed().into_iter().map(|p| p.name).collect()
}

fn version_key(v: &PythonVersion) -> (u32, u32, u32, bool) {
    (v.major, v.minor, v.micro, parse_release(&v.full).is_some())
}

/// The newest of `found` (a final release before its pre-releases); among equals the first.
fn take_newest(found: Vec<Interpreter>) -> Option<Interpreter> {
    let mut best: Option<Interpreter> = None;
    for candidate in found {
        if best.as_ref().is_none_or(|b| version_key(&candidate.version) > version_key(&b.version)) {
            best = Some(candidate);
        }
    }
    best
}

/// The newest CPython 3 on `PATH`.
fn newest_on_path(env: &Environment) -> Result<Interpreter, PolicyError> {
    match take_newest(path_pythons(env, None)) {
        Some(interpreter) => Ok(interpreter),
        None => Err(PolicyError::NoPython {
            searched: "no version manager (asdf, pyenv) has one installed, and there is no python3 on PATH".into(),
        }),
    }
}

/// The first installed interpreter that can be described; unusable ones are noted and
/// skipped, and when none is usable the first one's error is returned.
fn first_usable(candidates: &[InstalledPython], notes: &mut Vec<String>) -> Result<Option<Interpreter>, PolicyError> {
    let mut first_error = None;
    for candidate in candidates {
        match inspect_installed(candidate) {
            Ok(i) => return Ok(Some(i)),
            Err(e) => {
                notes.push(format!("skipped {}: {e}", candidate.executable.display()));
                first_error.get_or_insert(e);
            }
        }
    }
    first_error.map_or(Ok(None), Err)
}

fn inspect_installed(p: &InstalledPython) -> Result<Interpreter, PolicyError> {
    let hint = format!("reinstall it (`pyenv install --force {0}` or `asdf install python {0}`)", p.name);
    let interpreter = Interpreter::inspect(&p.executable).map_err(|source| PolicyError::Interpreter {
        version: p.name.clone(),
        path: p.executable.clone(),
        source: Box::new(source),
        hint: hint.clone(),
    })?;
    if (interpreter.version.major, interpreter.version.minor, interpreter.version.micro) != p.release {
        return Err(PolicyError::Interpreter {
            version: p.name.clone(),
            path: p.executable.clone(),
            source: Box::new(crate::Error::NotAnInterpreter {
                path: p.executable.clone(),
                reason: format!("it is Python {}, not {}", interpreter.version, p.name),
            }),
            hint,
        });
    }
    Ok(interpreter)
}

/// The pin to write for a version chosen with a manager in use.
fn pin_for(
    req: &Request,
    manager: &Manager,
    source: Source,
    requested: Option<&VersionRequest>,
    version: &PythonVersion,
) -> Result<Option<PinAction>, PolicyError> {
    if matches!(source, Source::VersionFile(_)) {
        return Ok(None);
    }
    let file = manager.kind.pin_file();
    let state = read_pin(&req.project_root, file)?;
    let action = |change| Some(PinAction { file, version: version.full.clone(), change });
    Ok(match state.version {
        Some(p) if p == version.full || requested.is_some_and(|r| r.to_string() == p) => None,
        Some(p) if source.is_explicit() => action(PinChange::Update { from: p }),
        Some(_) => None,
        None if state.exists => action(PinChange::AddLine),
        None => action(PinChange::Create),
    })
}

fn not_available_with_manager(
    m: &Manager,
    want: &VersionRequest,
    source: Source,
    problem: Option<String>,
) -> PolicyError {
    let installed: Vec<String> = m.installed().into_iter().map(|p| p.name).collect();
    let listed = if installed.is_empty() {
        format!("{} has no Python installed", m.kind)
    } else {
        format!("installed with {}: {}", m.kind, installed.join(", "))
    };
    let cannot = match &problem {
        None => format!("is not available for installation with {}", m.kind),
        Some(p) => format!("{} could not tell whether it can install it ({p})", m.kind),
    };
    let message = format!("Python {want} ({}) is not installed and {cannot}; {listed}", source.describe());
    let pick = installed
        .iter()
        .rev()
        .find(|v| v.starts_with("3."))
        .map(|v| format!("use one of the installed versions (for example --python-version {v}); "))
        .unwrap_or_default();
    let fix_pin = match source {
        Source::VersionFile(f) => format!("edit {f} or pass --python-version; "),
        _ => String::new(),
    };
    PolicyError::NotAvailable {
        message,
        requested: want.to_string(),
        provider: m.kind.name().into(),
        installed,
        hint: format!("{fix_pin}{pick}`{}` shows the versions {} can install", m.list_command(), m.kind),
    }
}

fn not_available_on_path(env: &Environment, want: &VersionRequest, source: Source) -> PolicyError {
    let all = path_pythons(env, None);
    let installed: Vec<String> = all.iter().map(|i| format!("{} ({})", i.version, i.executable.display())).collect();
    let listed = if installed.is_empty() {
        "there is no python3 on PATH".to_string()
    } else {
        format!("the interpreters on PATH are: {}", installed.join(", "))
    };
    PolicyError::NotAvailable {
        message: format!(
            "Python {want} ({}) was not found: no version manager (asdf, pyenv) is installed, and {listed}",
            source.describe()
        ),
        requested: want.to_string(),
        provider: "PATH".into(),
        installed,
        hint: format!(
            "install pyenv (https://github.com/pyenv/pyenv) so that pyve can install Python {want}, put a python{}.{} \
             on PATH, or pick one of those with --python-version",
            want.major, want.minor
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::path::Path;

    /// The real pyenv install of the newest `short` (e.g. "3.12"): `(name, dir)`. These tests
    /// only read it, through symbolic links from temporary fake layouts.
    fn real(short: &str) -> (String, PathBuf) {
        let root = std::env::var_os("PYENV_ROOT")
            .map(PathBuf::from)
            .filter(|r| r.join("versions").is_dir())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
            .expect("a pyenv root with Python 3.11-3.13 is required");
        let mut found: Vec<((u32, u32, u32), String)> = fs::read_dir(root.join("versions"))
            .expect("pyenv versions")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| Some((parse_release(&n)?, n)))
            .filter(|(r, _)| format!("{}.{}", r.0, r.1) == short)
            .collect();
        found.sort();
        let (_, name) = found.pop().unwrap_or_else(|| panic!("Python {short} is required under {}", root.display()));
        let dir = root.join("versions").join(&name);
        (name, dir)
    }

    struct Fake {
        _tmp: tempfile::TempDir,
        home: PathBuf,
        project: PathBuf,
    }

    impl Fake {
        fn new() -> Fake {
            let tmp = tempfile::tempdir().unwrap();
            let home = tmp.path().join("home");
            let project = tmp.path().join("project");
            fs::create_dir_all(&home).unwrap();
            fs::create_dir_all(&project).unwrap();
            Fake { _tmp: tmp, home, project }
        }

        /// `~/.pyenv/versions/<name>` linked to the real install of `short`.
        fn pyenv_install(&self, short: &str) -> String {
            let (name, dir) = real(short);
            let versions = self.home.join(".pyenv/versions");
            fs::create_dir_all(&versions).unwrap();
            symlink(dir, versions.join(&name)).unwrap();
            name
        }

        fn env(&self) -> Environment {
            Environment { home: Some(self.home.clone()), path: Some("/nonexistent".into()), ..Environment::default() }
        }

        fn request(&self, flag: Option<&str>) -> Request {
            Request {
                project_root: self.project.clone(),
                python_version: flag.map(str::to_string),
                configured_version: None,
                env: self.env(),
                requires: None,
                force: false,
            }
        }

        fn write(&self, file: &str, text: &str) {
            fs::write(self.project.join(file), text).unwrap();
        }
    }

    fn ready(r: Result<Resolution, PolicyError>) -> Resolved {
        match r.expect("resolves") {
            Resolution::Ready(r) => r,
            Resolution::NeedsInstall(p) => panic!("unexpected install of {}", p.version()),
        }
    }

    #[test]
    fn requested_version_precedence() {
        let fake = Fake::new();
        fake.pyenv_install("3.12");
        let mut req = fake.request(None);
        req.configured_version = Some("3.11".into());
        req.env.default_version = Some("3.10".into());
        assert_eq!(requested_version(&req).unwrap().map(|(_, s)| s), Some(Source::Config));
        req.configured_version = None;
        assert_eq!(
            requested_version(&req).unwrap().map(|(v, s)| (v.to_string(), s)),
            Some(("3.10".into(), Source::DefaultEnv))
        );
        // pyenv in use: .python-version is read before .tool-versions.
        fake.write(".tool-versions", "nodejs 20\npython 3.9.18\n");
        assert_eq!(requested_version(&req).unwrap().map(|(_, s)| s), Some(Source::VersionFile(PinFile::ToolVersions)));
        fake.write(".python-version", "3.12\n");
        let (v, s) = requested_version(&req).unwrap().unwrap();
        assert_eq!((v.to_string(), s), ("3.12".into(), Source::VersionFile(PinFile::PythonVersion)));
        req.python_version = Some("3.13".into());
        assert_eq!(requested_version(&req).unwrap().map(|(_, s)| s), Some(Source::Flag));

        req.python_version = Some("3.13.0rc1".into());
        let e = requested_version(&req).unwrap_err();
        assert_eq!(e.kind(), "invalid-params");
        assert!(e.to_string().contains("'3.13.0rc1' (--python-version)"), "{e}");
        req.python_version = None;
        fake.write(".python-version", "system\n");
        let e = requested_version(&req).unwrap_err();
        assert_eq!(e.kind(), "unsupported-pin");
        assert!(e.hint().unwrap().contains("--python-version"));
    }

    #[test]
    fn requires_python_chooses_and_contradicts() {
        let fake = Fake::new();
        let v311 = fake.pyenv_install("3.11");
        let v312 = fake.pyenv_install("3.12");
        let mut req = fake.request(None);
        req.requires = Some(RequiresPython::parse("<3.12").unwrap());
        // Nothing asked for: the newest installed that satisfies it.
        let r = ready(resolve_interpreter(&req));
        assert_eq!((r.version.full.as_str(), r.source), (v311.as_str(), Source::RequiresPython));
        assert!(r.choice_message().contains("satisfies pyproject.toml's requires-python"), "{}", r.choice_message());
        // An explicit version that contradicts it: an error naming both, or a warning with force.
        req.python_version = Some("3.12".into());
        let e = resolve_interpreter(&req).unwrap_err();
        assert_eq!(e.kind(), "requires-python");
        assert!(
            e.to_string().contains(&format!("Python {v312} (requested with --python-version) does not satisfy")),
            "{e}"
        );
        assert!(e.to_string().contains("requires-python = \"<3.12\""), "{e}");
        req.force = true;
        let r = ready(resolve_interpreter(&req));
        assert_eq!(r.version.full, v312);
        assert!(r.notes.iter().any(|n| n.contains("using it anyway (--force)")), "{:?}", r.notes);
        // A pin file that contradicts it, too, even on a rebuild (`pyve sync`, `--init --force`):
        // only --python-version overrides requires-python.
        req.python_version = None;
        fake.write(".python-version", &format!("{v312}\n"));
        for force in [false, true] {
            req.force = force;
            let e = resolve_interpreter(&req).unwrap_err();
            assert!(e.to_string().contains("(pinned in .python-version) does not satisfy"), "{e}");
        }
        req.force = false;
        // Nothing installed satisfies it and the manager cannot install: a clear error.
        fs::remove_file(fake.project.join(".python-version")).unwrap();
        req.requires = Some(RequiresPython::parse("<3.0").unwrap());
        let e = resolve_interpreter(&req).unwrap_err();
        assert_eq!(e.kind(), "python-not-available", "{e}");
        assert!(e.to_string().contains("no installed Python satisfies"), "{e}");
    }

    #[test]
    fn newest_installed_by_default_and_pinned_by_path_not_shim() {
        let fake = Fake::new();
        let v311 = fake.pyenv_install("3.11");
        let v312 = fake.pyenv_install("3.12");
        let r = ready(resolve_interpreter(&fake.request(None)));
        assert_eq!((r.version.full.as_str(), r.source), (v312.as_str(), Source::Newest));
        assert_eq!(r.interpreter.executable, fake.home.join(format!(".pyenv/versions/{v312}/bin/python3.12")));
        assert_eq!(r.provider_message(), "Using pyenv for Python version management");
        assert_eq!(
            r.choice_message(),
            format!("Using Python {v312}, the newest installed (pass --python-version to choose)")
        );
        let pin = r.pin.expect("a pin");
        assert_eq!(
            (pin.file, pin.version.as_str(), &pin.change),
            (PinFile::PythonVersion, v312.as_str(), &PinChange::Create)
        );

        // X.Y: the newest installed X.Y.*; an existing pin is honoured and not rewritten.
        let r = ready(resolve_interpreter(&fake.request(Some("3.11"))));
        assert_eq!(r.version.full, v311);
        assert!(r.choice_message().contains("the newest installed 3.11 (requested with --python-version 3.11)"));
        fake.write(".python-version", &format!("{v311}\n"));
        let r = ready(resolve_interpreter(&fake.request(None)));
        assert_eq!(
            (r.version.full.as_str(), r.source, r.pin),
            (v311.as_str(), Source::VersionFile(PinFile::PythonVersion), None)
        );
        // The same version asked for explicitly: nothing to write; another: an update.
        assert_eq!(ready(resolve_interpreter(&fake.request(Some(&v311)))).pin, None);
        let r = ready(resolve_interpreter(&fake.request(Some("3.12"))));
        assert_eq!(r.pin.unwrap().change, PinChange::Update { from: v311.clone() });
        // A pin written as X.Y and the same X.Y asked for: unchanged.
        fake.write(".python-version", "3.12\n");
        assert_eq!(ready(resolve_interpreter(&fake.request(Some("3.12")))).pin, None);
    }

    #[test]
    fn not_available_names_the_request_and_what_is_installed() {
        let fake = Fake::new();
        let v312 = fake.pyenv_install("3.12");
        let e = resolve_interpreter(&fake.request(Some("3.99.0"))).unwrap_err();
        assert_eq!(e.kind(), "python-not-available");
        let msg = e.to_string();
        assert!(msg.contains("Python 3.99.0 (requested with --python-version) is not installed"), "{msg}");
        assert!(msg.contains(&format!("installed with pyenv: {v312}")), "{msg}");
        // No pyenv executable in this fake: it cannot tell what it could install.
        assert!(msg.contains("could not tell"), "{msg}");
        assert!(e.hint().unwrap().contains(&format!("--python-version {v312}")), "{:?}", e.hint());
        assert_eq!(e.details().unwrap()["installed"][0], v312.as_str());
    }

    #[test]
    fn asdf_pins_in_tool_versions() {
        let fake = Fake::new();
        fake.pyenv_install("3.11");
        let data = fake.home.join(".asdf");
        let (v312, dir) = real("3.12");
        fs::create_dir_all(data.join("plugins/python")).unwrap();
        fs::create_dir_all(data.join("installs/python")).unwrap();
        symlink(dir, data.join("installs/python").join(&v312)).unwrap();
        fake.write(".tool-versions", "nodejs 20.11.0");
        let r = ready(resolve_interpreter(&fake.request(None)));
        assert_eq!(r.manager.as_ref().map(|m| m.kind), Some(ManagerKind::Asdf));
        assert_eq!(r.version.full, v312);
        let pin = r.pin.unwrap();
        assert_eq!((pin.file, &pin.change), (PinFile::ToolVersions, &PinChange::AddLine));
        apply_pin(&fake.project, &pin).unwrap();
        assert_eq!(
            fs::read_to_string(fake.project.join(".tool-versions")).unwrap(),
            format!("nodejs 20.11.0\npython {v312}\n")
        );
    }

    #[test]
    fn path_interpreters_without_a_manager() {
        let fake = Fake::new();
        let (v312, dir) = real("3.12");
        let bin = fake.home.join("bin");
        fs::create_dir_all(&bin).unwrap();
        symlink(dir.join("bin/python3.12"), bin.join("python3.12")).unwrap();
        // A shim directory and a relative entry holding interpreters are never used.
        let shims = fake.home.join("shims");
        fs::create_dir_all(&shims).unwrap();
        symlink(real("3.13").1.join("bin/python3.13"), shims.join("python3.13")).unwrap();
        let mut env = fake.env();
        env.pyenv_root = Some(fake.home.join("empty"));
        env.path = Some(format!("relative/bin:{}:{}", shims.display(), bin.display()).into());
        let req = Request { env, ..fake.request(None) };
        let r = ready(resolve_interpreter(&req));
        assert_eq!((r.provider.clone(), r.version.full.as_str(), r.pin.clone()), (Provider::Path, v312.as_str(), None));
        assert_eq!(r.interpreter.executable, bin.join("python3.12"));
        assert!(r.provider_message().starts_with("No Python version manager found"));
        assert!(r.choice_message().contains("the newest installed on PATH"), "{}", r.choice_message());

        let r = ready(resolve_interpreter(&Request { python_version: Some("3.12".into()), ..req.clone() }));
        assert_eq!(r.version.full, v312);
        let e = resolve_interpreter(&Request { python_version: Some("3.11".into()), ..req.clone() }).unwrap_err();
        assert_eq!(e.kind(), "python-not-available");
        assert!(e.to_string().contains(&format!("{v312} ({})", bin.join("python3.12").display())), "{e}");

        let empty = Request { env: Environment { path: Some("".into()), ..req.env.clone() }, ..req };
        assert_eq!(resolve_interpreter(&empty).unwrap_err().kind(), "python-not-available");
    }

    /// Installing needs network access to python.org, which the test machine does not have:
    /// the install path is tested with a fake `pyenv` that "installs" by linking a real one.
    #[test]
    fn missing_version_is_installed_through_the_manager() {
        let fake = Fake::new();
        fake.pyenv_install("3.11");
        let (v312, dir) = real("3.12");
        let root = fake.home.join(".pyenv");
        fs::create_dir_all(root.join("bin")).unwrap();
        let script = format!(
            "#!/bin/sh\ncase \"$1 $2\" in\n  'install --list') printf '  3.11.0\\n  {v312}\\n  3.13t-dev\\n' ;;\n  \
             'install -s') echo \"installing $3\"; ln -s '{}' \"$PYENV_ROOT/versions/$3\" ;;\n  *) exit 2 ;;\nesac\n",
            dir.display()
        );
        let exe = root.join("bin/pyenv");
        fs::write(&exe, script).unwrap();
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755)).unwrap();

        let mut req = fake.request(Some("3.12"));
        req.env.path = Some("/usr/bin:/bin".into());
        let Resolution::NeedsInstall(plan) = resolve_interpreter(&req).unwrap() else { panic!("expected an install") };
        assert_eq!((plan.version(), plan.install_command()), (v312.as_str(), format!("pyenv install {v312}")));
        assert!(!plan.auto_approved());
        let e = resolve_interpreter(&req).unwrap().ready_or_auto_install(InstallOptions::default(), &mut Unobserved);
        let e = e.unwrap_err();
        assert_eq!(e.kind(), "not-interactive");
        assert!(e.hint().unwrap().contains(&format!("pyenv install {v312}")), "{:?}", e.hint());
        req.env.ci = true;
        let Resolution::NeedsInstall(plan) = resolve_interpreter(&req).unwrap() else { panic!("expected an install") };
        assert!(plan.auto_approved());
        let r = plan.install(InstallOptions::default(), &mut Unobserved).unwrap();
        assert!(r.installed_now);
        assert_eq!(r.version.full, v312);
        assert_eq!(r.pin.unwrap().change, PinChange::Create);
        assert!(Path::new(&root.join("versions").join(&v312)).exists());
        // Now it is installed: no second install.
        assert!(matches!(resolve_interpreter(&req).unwrap(), Resolution::Ready(_)));
    }
}
