//! The `venv` backend: `env/create`, `env/describe`, `env/activation`, `env/remove`,
//! `doctor/checks`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pyve_sdk::protocol::ErrorObject;
use pyve_sdk::protocol::error::{code, kind};
use pyve_sdk::types::*;
use pyve_sdk::{Backend, Context, Error, Result};
use pyve_venv::policy::{
    AppliedPin, Environment, PinChange, PinFile, PinRecord, PinRemoval, Provider, Request, Resolved, Source,
    VersionRequest, apply_pin, default_cache_dir, detect, read_pin, remove_pin, requested_version,
};
use pyve_venv::{CreateOptions, Created, Method, PythonVersion};

use super::envdir::{self, EnvState, Recovery};
use super::settings::{VenvSettings, check_version, project_root};
use super::ui::{RpcUi, policy_error, resolve};

/// The backend.
#[derive(Debug, Default)]
pub struct VenvBackend;

/// How to run commands inside the environment at `env` (absolute).
pub fn activation_for(env: &Path) -> Activation {
    Activation {
        set: BTreeMap::from([("VIRTUAL_ENV".to_string(), env.display().to_string())]),
        unset: vec!["PYTHONHOME".into()],
        path_prepend: vec![env.join("bin")],
    }
}

fn cancelled(what: &str) -> Error {
    ErrorObject::new(code::CANCELLED, kind::CANCELLED, format!("cancelled: {what}")).into()
}

fn io_error(what: String, path: &Path, e: &std::io::Error) -> Error {
    Error::new(kind::IO, format!("{what} {}: {e}", path.display()))
        .hint(format!("check the permissions of {}", path.parent().unwrap_or(path).display()))
}

fn not_a_venv(dir: &str, path: &Path, why: &str, action: &str) -> Error {
    Error::new(
        "not-a-venv",
        format!("'{dir}' ({}) is not a virtual environment ({why}); pyve will not {action} it", path.display()),
    )
    .hint(format!("move '{dir}' out of the way yourself, or use another directory (`pyve --init <dir>`)"))
}

/// Clean up what crashed runs left: stale temporary siblings, interrupted replacements.
fn tidy(cx: &Context<'_>, root: &Path, dir: &str) {
    match pyve_venv::cleanup_stale_temps(root) {
        Ok(removed) => {
            for p in removed {
                cx.debug(format!("removed the stale temporary {}", p.display()));
            }
        }
        Err(e) => cx.debug(format!("could not clean up stale temporaries: {e}")),
    }
    match envdir::recover(root, dir) {
        Ok(done) => {
            for r in done {
                match r {
                    Recovery::Restored(_) => cx.warn(format!(
                        "Restored virtual environment '{dir}', left aside by an interrupted replacement"
                    )),
                    Recovery::Discarded(p) => {
                        cx.debug(format!("removed {}, left by a finished replacement", p.display()))
                    }
                }
            }
        }
        Err(e) => cx.warn(format!("could not recover from an interrupted replacement of '{dir}': {e}")),
    }
}

fn venv_error(e: pyve_venv::Error, dir: &str) -> Error {
    match e {
        pyve_venv::Error::InvalidDestination { .. } => {
            Error::invalid_params(format!("cannot create the virtual environment '{dir}': {e}"))
        }
        pyve_venv::Error::DestinationExists { .. } => {
            Error::new("destination-exists", format!("cannot create the virtual environment '{dir}': {e}"))
                .hint("something else created it at the same time; run the command again")
        }
        _ => {
            let message = e.to_string();
            let hint = missing_ensurepip_hint(&message)
                .unwrap_or_else(|| "check the message above; `pyve --init --force` retries from scratch".into());
            Error::new("venv-create-failed", format!("creating the virtual environment '{dir}' failed: {message}"))
                .hint(hint)
        }
    }
}

/// The hint for an interpreter without `ensurepip` (Debian and Ubuntu ship it apart, in
/// `python3.X-venv`): the package to install, named after the version in the message when it
/// has one. Retrying with `--force` would fail the same way.
fn missing_ensurepip_hint(message: &str) -> Option<String> {
    if !message.contains("ensurepip") {
        return None;
    }
    let package = message
        .match_indices("python3.")
        .filter_map(|(i, _)| {
            let rest = &message[i + "python3.".len()..];
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            (digits > 0 && rest[digits..].starts_with("-venv")).then(|| format!("python3.{}-venv", &rest[..digits]))
        })
        .next();
    Some(match package {
        Some(p) => format!("the interpreter has no ensurepip, which Debian and Ubuntu ship apart: install it with `sudo apt install {p}`, then run `pyve --init` again"),
        None => "the interpreter has no ensurepip; on Debian and Ubuntu it is the package python3-venv (`sudo apt install python3-venv`, or python3.X-venv for the interpreter's version), then run `pyve --init` again".into(),
    })
}

/// The pin record to keep: what pyve wrote before, while the file still holds it.
fn prior_pin(settings: &VenvSettings, root: &Path) -> Option<PinRecord> {
    settings.pinned.clone().filter(|r| r.still_holds(root))
}

/// The project files a venv is made from (`pyve sync` rebuilds it when one changes): the
/// declarations of its dependencies and of its Python, and the files requirements.txt includes
/// (`-r`, `-c`).
fn inputs(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> =
        ["pyproject.toml", "requirements.txt", "uv.lock", "setup.py", "setup.cfg", ".python-version", ".tool-versions"]
            .iter()
            .map(PathBuf::from)
            .collect();
    files.extend(pyve_pyproject::requirements_includes(root));
    files
}

impl VenvBackend {
    /// An environment exists and no replacement was asked for: keep it.
    fn keep(&self, cx: &Context<'_>, req: &Request, s: &VenvSettings, env_path: &Path) -> Result<CreateResult> {
        let dir = &s.directory;
        let cfg = envdir::read_cfg(env_path);
        cx.info(format!("Virtual environment '{dir}' already exists, skipping"));
        let have = cfg.version.as_deref().and_then(PythonVersion::parse);
        match (requested_version(req), &have) {
            (Ok(Some((want, source))), Some(have)) if !want.matches_version(have) => cx.warn(format!(
                "Virtual environment '{dir}' uses Python {have}, but Python {want} is {}; keeping it \
                 (recreate it with `pyve --init --force`)",
                source.describe()
            )),
            (Err(e), _) => cx.debug(format!("could not tell which Python is requested: {e}")),
            _ => {}
        }
        let pinned = prior_pin(s, &req.project_root);
        Ok(CreateResult {
            env_path: env_path.to_path_buf(),
            created: false,
            interpreter: Some(env_path.join("bin").join("python")),
            python_version: cfg.version.clone(),
            activation: activation_for(env_path),
            settings: s.to_settings(cfg.version.as_deref().or(s.python_version.as_deref()), pinned.as_ref()),
            gitignore: vec![dir.clone()],
            created_files: pinned
                .filter(PinRecord::created_file)
                .map(|r| r.file.file_name().into())
                .into_iter()
                .collect(),
            inputs: inputs(&req.project_root),
        })
    }

    /// Create the environment at `env_path` (moving an existing one aside first when
    /// replacing, and putting it back on failure or cancellation). Returns where the previous
    /// environment was moved: the caller deletes it once the new one is whole (its
    /// dependencies installed), or puts it back with [`put_back`].
    fn build(
        &self,
        cx: &Context<'_>,
        resolved: &Resolved,
        root: &Path,
        dir: &str,
        replacing: bool,
    ) -> Result<(Created, Option<PathBuf>)> {
        let env_path = root.join(dir);
        let aside = if replacing {
            cx.info(format!("Replacing virtual environment '{dir}'..."));
            Some(
                envdir::move_aside(root, dir)
                    .map_err(|e| io_error(format!("cannot move '{dir}' aside:"), &env_path, &e))?,
            )
        } else {
            cx.info(format!("Creating virtual environment in '{dir}'..."));
            None
        };
        let restore = || put_back(cx, aside.as_deref(), &env_path, dir);
        let progress = cx.progress(format!("Creating virtual environment in '{dir}'"), None);
        let opts = CreateOptions { cache_dir: default_cache_dir(), ..CreateOptions::default() };
        let result = pyve_venv::create(&resolved.interpreter, &env_path, &opts);
        progress.end();
        let created = match result {
            Ok(c) => c,
            Err(e) => {
                restore();
                return Err(venv_error(e, dir));
            }
        };
        if cx.is_cancelled() {
            if let Err(e) = envdir::remove_venv(root, dir) {
                cx.warn(format!("could not remove the half-made environment '{dir}': {e}"));
            }
            restore();
            return Err(cancelled("the environment was not created"));
        }
        for w in &created.warnings {
            cx.warn(w.clone());
        }
        if let Method::PythonVenv { reason } = &created.method {
            cx.debug(format!("created with `python -m venv` because {reason}"));
        }
        for s in &created.seeded {
            cx.debug(format!("seeded {} {} ({:?}, hard links: {})", s.project, s.version, s.source, s.hard_linked));
        }
        Ok((created, aside))
    }
}

/// Put the previous environment, moved aside by a replacement, back at `env_path`.
fn put_back(cx: &Context<'_>, aside: Option<&Path>, env_path: &Path, dir: &str) {
    if let Some(a) = aside
        && let Err(e) = std::fs::rename(a, env_path)
    {
        cx.warn(format!(
            "could not put the previous environment back from {} to '{dir}': {e}; move it back by hand",
            a.display()
        ));
    }
}

impl Backend for VenvBackend {
    fn create(&self, cx: &mut Context<'_>, p: CreateParams) -> Result<CreateResult> {
        let root = project_root(&p.project_root)?;
        let s = VenvSettings::parse(&p.settings)?;
        if let Some(v) = &p.python_version {
            check_version(v)?;
        }
        let dir = s.directory.clone();
        let env_path = root.join(&dir);
        tidy(cx, &root, &dir);
        let req = Request {
            project_root: root.clone(),
            python_version: p.python_version.clone(),
            configured_version: s.python_version.clone(),
            env: Environment::from_process(),
            requires: pyve_venv::policy::RequiresPython::read(&root).map_err(policy_error)?,
            force: p.replace,
        };
        let replacing = match envdir::state(&env_path) {
            EnvState::NotVenv(why) => return Err(not_a_venv(&dir, &env_path, &why, "replace or reuse")),
            EnvState::Venv if !p.replace => return self.keep(cx, &req, &s, &env_path),
            EnvState::Venv => true,
            EnvState::Missing => false,
        };
        cx.check_cancelled()?;

        let resolved = resolve(&RpcUi { cx }, &req)?;
        if cx.is_cancelled() {
            return Err(cancelled("nothing was changed"));
        }

        // The pin first (as the original did), undone if the environment cannot be made.
        let prior = prior_pin(&s, &root);
        let applied: Option<AppliedPin> = match &resolved.pin {
            Some(action) => {
                let applied = apply_pin(&root, action).map_err(policy_error)?;
                if let Some(link) = &applied.replaced_link {
                    cx.warn(super::command::replaced_link_message(&applied.path, link));
                }
                cx.log(LogLevel::Success, action.message());
                Some(applied)
            }
            None => {
                if let (Provider::Manager(m), false) =
                    (&resolved.provider, matches!(resolved.source, Source::VersionFile(_)))
                {
                    cx.info(format!("{} already pins Python {}", m.kind.pin_file(), resolved.version));
                }
                None
            }
        };
        let undo_pin = |cx: &Context<'_>| {
            if let Some(a) = &applied
                && let Err(e) = a.revert()
            {
                cx.warn(format!("could not undo the change to {}: {e}", a.path.display()));
            }
        };
        if cx.is_cancelled() {
            undo_pin(cx);
            return Err(cancelled("nothing was changed"));
        }
        let (created, aside) = match self.build(cx, &resolved, &root, &dir, replacing) {
            Ok(c) => c,
            Err(e) => {
                undo_pin(cx);
                return Err(e);
            }
        };
        cx.log(
            LogLevel::Success,
            if replacing {
                format!("Replaced virtual environment '{dir}'")
            } else {
                "Created virtual environment".into()
            },
        );

        let pinned = match &applied {
            Some(a) => Some(PinRecord::after(prior.as_ref(), &a.action)),
            None => prior,
        };
        let version = resolved.version.full.clone();
        // What the project declares, into the new environment; a failed install keeps it.
        let record = if s.install_deps {
            match super::deps::install(cx, &root, &created.path, &dir, s.groups.as_deref()) {
                Ok(record) => record,
                Err(e) => {
                    // Cancelled while installing: the new environment is taken back as a
                    // cancelled creation is (the host, told `cancelled`, assumes nothing was
                    // made), the previous one put back and the pin undone.
                    if let Err(err) = envdir::remove_venv(&root, &dir) {
                        cx.warn(format!("could not remove the half-made environment '{dir}': {err}"));
                    }
                    put_back(cx, aside.as_deref(), &env_path, &dir);
                    undo_pin(cx);
                    return Err(e);
                }
            }
        } else {
            super::deps::skipped(cx, &root)
        };
        if let Some(a) = aside
            && let Err(e) = std::fs::remove_dir_all(&a)
        {
            cx.warn(format!("could not delete the previous environment at {}: {e}", a.display()));
        }
        let mut settings = s.to_settings(Some(&version), pinned.as_ref());
        settings.insert(super::deps::RECORD_KEY.into(), record);
        Ok(CreateResult {
            env_path: created.path.clone(),
            created: true,
            interpreter: Some(created.path.join("bin").join("python")),
            python_version: Some(version.clone()),
            activation: activation_for(&created.path),
            settings,
            gitignore: vec![dir],
            created_files: pinned
                .filter(PinRecord::created_file)
                .map(|r| r.file.file_name().into())
                .into_iter()
                .collect(),
            inputs: inputs(&req.project_root),
        })
    }

    fn describe(&self, cx: &mut Context<'_>, p: EnvParams) -> Result<EnvDescription> {
        let root = project_root(&p.project_root)?;
        let s = VenvSettings::parse(&p.settings)?;
        tidy(cx, &root, &s.directory);
        let env_path = root.join(&s.directory);
        if envdir::state(&env_path) != EnvState::Venv {
            return Ok(EnvDescription { exists: false, env_path: Some(env_path), ..EnvDescription::default() });
        }
        Ok(EnvDescription {
            exists: true,
            interpreter: Some(env_path.join("bin").join("python")),
            python_version: envdir::read_cfg(&env_path).version,
            package_count: envdir::package_count(&env_path),
            env_path: Some(env_path),
            lock: None,
        })
    }

    fn activation(&self, _cx: &mut Context<'_>, p: EnvParams) -> Result<Activation> {
        let root = project_root(&p.project_root)?;
        let s = VenvSettings::parse(&p.settings)?;
        let env_path = root.join(&s.directory);
        match envdir::state(&env_path) {
            EnvState::Venv => Ok(activation_for(&env_path)),
            EnvState::Missing => Err(Error::not_found(format!(
                "there is no virtual environment at '{}' ({})",
                s.directory,
                env_path.display()
            ))
            .hint("create it from .pyve/config with `pyve sync`")),
            EnvState::NotVenv(why) => Err(not_a_venv(&s.directory, &env_path, &why, "use")),
        }
    }

    fn remove(&self, cx: &mut Context<'_>, p: EnvParams) -> Result<RemoveResult> {
        let root = project_root(&p.project_root)?;
        let s = VenvSettings::parse(&p.settings)?;
        let dir = &s.directory;
        tidy(cx, &root, dir);
        let env_path = root.join(dir);
        let mut result = RemoveResult::default();
        // Check everything before deleting anything.
        let state = envdir::state(&env_path);
        if let EnvState::NotVenv(why) = &state {
            return Err(not_a_venv(dir, &env_path, why, "delete"));
        }
        cx.check_cancelled()?;
        if state == EnvState::Venv {
            envdir::remove_venv(&root, dir).map_err(|e| io_error(format!("cannot remove '{dir}':"), &env_path, &e))?;
            // The host reports what `removed` lists.
            result.removed.push(env_path);
        } else {
            cx.info(format!("No virtual environment found at '{dir}'"));
        }

        let mine = s.pinned.as_ref().map(|r| r.file);
        if let Some(record) = &s.pinned {
            let path = root.join(record.file.file_name());
            match remove_pin(&root, record).map_err(policy_error)? {
                PinRemoval::Removed => result.removed.push(path),
                PinRemoval::LineRemoved(reason) => result.kept.push(KeptPath { path, reason }),
                PinRemoval::Kept(reason) => result.kept.push(KeptPath { path, reason }),
                PinRemoval::Missing => {}
            }
        }
        for file in [PinFile::PythonVersion, PinFile::ToolVersions] {
            let path = root.join(file.file_name());
            if Some(file) != mine && path.exists() {
                result.kept.push(KeptPath { path, reason: "not created by pyve".into() });
            }
        }
        Ok(result)
    }

    fn doctor(&self, cx: &mut Context<'_>, p: EnvParams) -> Result<DoctorReport> {
        let root = project_root(&p.project_root)?;
        let s = VenvSettings::parse(&p.settings)?;
        tidy(cx, &root, &s.directory);
        Ok(DoctorReport { checks: doctor_checks(&root, &s) })
    }
}

fn check(status: CheckStatus, label: &str, detail: impl Into<String>, hint: Option<String>) -> Check {
    Check { status, label: label.into(), detail: Some(detail.into()), hint }
}

fn doctor_checks(root: &Path, s: &VenvSettings) -> Vec<Check> {
    let dir = &s.directory;
    let env_path = root.join(dir);
    let mut checks = Vec::new();
    let mut env_version: Option<PythonVersion> = None;
    let mut packages = None;
    match envdir::state(&env_path) {
        EnvState::Missing => checks.push(check(
            CheckStatus::Error,
            "Environment",
            format!("not found: {dir}"),
            Some("create it from .pyve/config with `pyve sync`".into()),
        )),
        EnvState::NotVenv(why) => checks.push(check(
            CheckStatus::Error,
            "Environment",
            format!("{dir} is not a virtual environment ({why})"),
            Some(format!("move '{dir}' away, then run `pyve --init`")),
        )),
        EnvState::Venv => {
            checks.push(check(CheckStatus::Ok, "Environment", dir.clone(), None));
            let cfg = envdir::read_cfg(&env_path);
            env_version = cfg.version.as_deref().and_then(PythonVersion::parse);
            let probe = probe_python(&env_path);
            let no_python = env_path.join("bin").join("python").symlink_metadata().is_err();
            match &probe {
                Ok(p) => checks.push(check(CheckStatus::Ok, "Python", p.version.clone(), None)),
                // No `bin/python` at all (not even a dangling link): the original's words.
                Err(_) if no_python => checks.push(check(
                    CheckStatus::Error,
                    "Python",
                    format!("not found in venv ({dir}/bin/python does not exist)"),
                    Some("recreate the environment with `pyve --init --force`".into()),
                )),
                Err(why) => checks.push(check(
                    CheckStatus::Error,
                    "Python",
                    format!("{dir}/bin/python does not start: {why}"),
                    Some("recreate the environment with `pyve --init --force`".into()),
                )),
            }
            checks.push(base_interpreter_check(&env_path, &cfg));
            checks.push(pip_check(&env_path, dir, probe.as_ref().ok()));
            packages = envdir::package_count(&env_path);
        }
    }
    checks.extend(version_file_checks(root, env_version.as_ref()));
    match pyve_venv::policy::RequiresPython::read(root) {
        Ok(None) => {}
        Ok(Some(r)) => match &env_version {
            Some(v) if r.matches((v.major, v.minor, v.micro)) => {
                checks.push(check(CheckStatus::Ok, "requires-python", format!("{r} (Python {} satisfies it)", v.full), None))
            }
            Some(v) => checks.push(check(
                CheckStatus::Error,
                "requires-python",
                format!("Python {} does not satisfy pyproject.toml's requires-python = \"{r}\"", v.full),
                Some(format!("rebuild it with a version that satisfies \"{r}\": `pyve --init --force --python-version X.Y`, or change requires-python")),
            )),
            None => {}
        },
        Err(e) => checks.push(check(CheckStatus::Error, "requires-python", e.to_string(), e.hint())),
    }
    if let Some(n) = packages {
        checks.push(check(CheckStatus::Info, "Packages", format!("{n} installed"), None));
    }
    // The version manager is background: last, after the lines the original printed.
    if let Some(i) = checks.iter().position(|c| c.label == "Version manager") {
        let manager = checks.remove(i);
        checks.push(manager);
    }
    checks
}

/// What running the environment's `python` told.
struct Probe {
    version: String,
    prefix: PathBuf,
    pip: Option<String>,
}

/// Start the environment's `python` (a real start: a dead link, a missing base interpreter or a
/// broken standard library all show here) and ask it for its version, prefix and pip's version.
fn probe_python(env_path: &Path) -> std::result::Result<Probe, String> {
    const SCRIPT: &str = "import sys\nprint(sys.version.split()[0])\nprint(sys.prefix)\ntry:\n    import pip\n    print(pip.__version__)\nexcept Exception:\n    print('')\n";
    let python = env_path.join("bin").join("python");
    let out = output_within(
        std::process::Command::new(&python)
            .args(["-I", "-c", SCRIPT])
            .env_remove("PYTHONHOME")
            .env_remove("PYTHONPATH"),
        std::time::Duration::from_secs(30),
    )
    .map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned();
        return Err(format!("it exited with {} ({last})", out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("").trim().to_owned();
    let prefix = PathBuf::from(lines.next().unwrap_or("").trim());
    let pip = lines.next().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    if version.is_empty() {
        return Err("it printed no version".into());
    }
    Ok(Probe { version, prefix, pip })
}

/// Run `cmd` to completion with its output captured, killing it after `limit` (a check must
/// never hang the report). Its output is small, so it is read after it exits.
fn output_within(cmd: &mut std::process::Command, limit: std::time::Duration) -> std::io::Result<std::process::Output> {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("it did not finish within {} s", limit.as_secs()),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    if let Some(mut o) = child.stdout.take() {
        o.read_to_end(&mut stdout)?;
    }
    if let Some(mut e) = child.stderr.take() {
        e.read_to_end(&mut stderr)?;
    }
    Ok(std::process::Output { status, stdout, stderr })
}

/// The interpreter a script's first lines name: `#!/path/python`, or pip's long-path form
/// `#!/bin/sh` followed by `'''exec' "/path/python" "$0" "$@"`.
fn script_interpreter(script: &Path) -> Option<PathBuf> {
    use std::io::Read as _;
    let mut head = [0u8; 1024];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    let mut lines = text.lines();
    let first = lines.next()?.strip_prefix("#!")?.trim();
    if first == "/bin/sh" {
        let rest = lines.next()?.strip_prefix("'''exec' \"")?;
        return rest.split('"').next().map(PathBuf::from);
    }
    first.split_whitespace().next().map(PathBuf::from)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || std::fs::canonicalize(a).ok().is_some_and(|x| std::fs::canonicalize(b).ok() == Some(x))
}

/// `pip` starts: its script's interpreter is this environment's `python` and exists (a moved
/// project leaves scripts pointing at the old place), and that `python` imports it.
fn pip_check(env_path: &Path, dir: &str, probe: Option<&Probe>) -> Check {
    let pip = env_path.join("bin").join("pip");
    let recreate = || Some("recreate the environment with `pyve --init --force`".to_owned());
    if !pip.is_file() {
        return check(
            CheckStatus::Warn,
            "pip",
            format!("not installed in {dir}"),
            Some("install it with `pyve run python -m ensurepip`".into()),
        );
    }
    let Some(interpreter) = script_interpreter(&pip) else {
        return check(
            CheckStatus::Warn,
            "pip",
            format!("{dir}/bin/pip does not name its interpreter"),
            Some("reinstall it with `pyve run python -m pip install --force-reinstall pip`".into()),
        );
    };
    // A dangling `bin/python*` link of this environment is the Python check's finding (a
    // missing base interpreter or a broken link), not a moved project.
    let own_link = interpreter.parent().is_some_and(|bin| same_dir(bin, &env_path.join("bin")))
        && interpreter.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
    if !interpreter.exists() && !own_link {
        return check(
            CheckStatus::Error,
            "pip",
            format!(
                "{dir}/bin/pip does not start: its interpreter {} does not exist (was the project moved?)",
                interpreter.display()
            ),
            Some("an environment cannot move with its project: recreate it with `pyve --init --force`".into()),
        );
    }
    if !own_link && !interpreter.parent().is_some_and(|bin| same_dir(bin, &env_path.join("bin"))) {
        return check(
            CheckStatus::Warn,
            "pip",
            format!("{dir}/bin/pip runs {}, not this environment's python", interpreter.display()),
            recreate(),
        );
    }
    match probe {
        None => check(CheckStatus::Error, "pip", "not checked: the environment's python does not start", recreate()),
        Some(Probe { pip: None, .. }) => check(
            CheckStatus::Error,
            "pip",
            format!("{dir}/bin/python cannot import pip"),
            Some("reinstall it with `pyve run python -m ensurepip`".into()),
        ),
        Some(Probe { prefix, .. }) if !same_dir(prefix, env_path) => check(
            CheckStatus::Error,
            "pip",
            format!("{dir}/bin/python runs in {}, not in {}", prefix.display(), env_path.display()),
            recreate(),
        ),
        Some(Probe { pip: Some(v), .. }) => check(CheckStatus::Ok, "pip", v.clone(), None),
    }
}

fn base_interpreter_check(env_path: &Path, cfg: &envdir::PyvenvCfg) -> Check {
    let python = env_path.join("bin").join("python");
    let base: Option<PathBuf> = std::fs::canonicalize(&python).ok().filter(|p| p.is_file()).or_else(|| {
        // No `bin/python` at all: pyvenv.cfg still names the base interpreter, which may well
        // be there (the Python check reports the missing entry).
        python.symlink_metadata().is_err().then(|| cfg.executable.clone().filter(|p| p.is_file())).flatten()
    });
    let home_ok = cfg.home.as_ref().is_none_or(|h| h.is_dir());
    // `bin/python` is a link that leads nowhere while the base interpreter pyvenv.cfg names is
    // still there: the link is broken, the base interpreter is not missing.
    if base.is_none()
        && home_ok
        && let Some(exe) = cfg.executable.as_ref().filter(|p| p.is_file())
    {
        let target = std::fs::read_link(&python).map(|t| t.display().to_string()).unwrap_or_else(|_| "?".into());
        return check(
            CheckStatus::Error,
            "Base interpreter",
            format!(
                "{} is still there, but the environment's python links to {target}, which does not exist",
                exe.display()
            ),
            Some("recreate the environment with `pyve --init --force`".into()),
        );
    }
    match base {
        Some(real) if home_ok => check(CheckStatus::Ok, "Base interpreter", real.display().to_string(), None),
        _ => {
            let gone = cfg
                .executable
                .clone()
                .or_else(|| std::fs::read_link(&python).ok())
                .or_else(|| cfg.home.clone())
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "unknown".into());
            let v = cfg.version.clone().unwrap_or_else(|| "X.Y.Z".into());
            let was = [cfg.executable.clone(), std::fs::read_link(&python).ok(), cfg.home.clone()];
            let was: Vec<PathBuf> = was.into_iter().flatten().collect();
            check(
                CheckStatus::Error,
                "Base interpreter",
                format!("missing: the Python this environment was made from ({gone}) no longer exists"),
                Some(reinstall_hint(&was, &v, &Environment::from_process())),
            )
        }
    }
}

/// How to get back the base interpreter that was at `was` (its paths, as pyvenv.cfg and the
/// link name it): the version manager's install command when it was one of its installs
/// (`$(pyenv root)/versions`, asdf's `installs/python`), else reinstalling Python.
fn reinstall_hint(was: &[PathBuf], v: &str, env: &Environment) -> String {
    let pyenv =
        env.pyenv_root.clone().or_else(|| env.home.as_ref().map(|h| h.join(".pyenv"))).map(|r| r.join("versions"));
    let asdf = env
        .asdf_data_dir
        .clone()
        .or_else(|| env.home.as_ref().map(|h| h.join(".asdf")))
        .map(|d| d.join("installs").join("python"));
    let under = |dir: &Option<PathBuf>| dir.as_ref().is_some_and(|d| was.iter().any(|p| p.starts_with(d)));
    let command = if under(&pyenv) {
        format!("pyenv install {v}")
    } else if under(&asdf) {
        format!("asdf install python {v}")
    } else {
        return format!("reinstall Python {v}, then `pyve --init --force`");
    };
    format!("reinstall Python {v} (`{command}`), or recreate the environment with `pyve --init --force`")
}

fn version_file_checks(root: &Path, env_version: Option<&PythonVersion>) -> Vec<Check> {
    let env = Environment::from_process();
    let detection = detect(&env);
    let mut checks = Vec::new();
    let manager = detection.manager.as_ref();
    checks.push(match manager {
        Some(m) => check(CheckStatus::Info, "Version manager", format!("{} ({})", m.kind, m.root.display()), None),
        None => check(CheckStatus::Info, "Version manager", "none: interpreters come from PATH", None),
    });
    let order = match manager.map(|m| m.kind.pin_file()) {
        Some(PinFile::PythonVersion) => [PinFile::PythonVersion, PinFile::ToolVersions],
        _ => [PinFile::ToolVersions, PinFile::PythonVersion],
    };
    let found = order.iter().find_map(|f| read_pin(root, *f).ok().and_then(|s| s.version.map(|v| (*f, v))));
    let Some((file, pinned)) = found else {
        checks.push(match manager {
            Some(m) => check(
                CheckStatus::Warn,
                "Version file",
                format!("not found ({} reads {})", m.kind, m.kind.pin_file()),
                Some("pin the project's Python with `pyve --python-version X.Y.Z`".into()),
            ),
            None => check(CheckStatus::Info, "Version file", "none (no version manager in use)", None),
        });
        return checks;
    };
    let label = format!("{file} ({})", file.manager());
    let Some(want) = VersionRequest::parse(&pinned) else {
        checks.push(check(
            CheckStatus::Warn,
            "Version file",
            format!("{label} pins '{pinned}', which pyve cannot use"),
            Some("pin a CPython version with `pyve --python-version X.Y.Z`".into()),
        ));
        return checks;
    };
    // The pinned version is not installed: rebuilding with it would fail, so say that first.
    let uninstalled = manager.filter(|m| m.kind == file.manager() && m.find(&want).is_empty());
    if let Some(have) = env_version
        && !want.matches_version(have)
    {
        let (detail, hint) = match uninstalled {
            Some(m) => (
                format!(
                    "{label} pins {pinned}, which {} has not installed, but the environment uses Python {have}",
                    m.kind
                ),
                format!(
                    "install it with `{}`, then recreate the environment with `pyve --init --force`; \
                     or pin {have} with `pyve --python-version {have}`",
                    m.install_command(&pinned)
                ),
            ),
            None => (
                format!("{label} pins {pinned}, but the environment uses Python {have}"),
                format!(
                    "recreate the environment with `pyve --init --force`, or pin {have} with `pyve --python-version {have}`"
                ),
            ),
        };
        checks.push(check(CheckStatus::Warn, "Version file", detail, Some(hint)));
        return checks;
    }
    if let Some(m) = uninstalled {
        checks.push(check(
            CheckStatus::Warn,
            "Version file",
            format!("{label} pins {pinned}, which {} has not installed", m.kind),
            Some(format!("install it with `{}`", m.install_command(&pinned))),
        ));
        return checks;
    }
    checks.push(check(CheckStatus::Ok, "Version file", label, None));
    checks.push(check(CheckStatus::Info, "Python", pinned, None));
    checks
}

/// The message for a pin change in the `python-version` command (no pin change: `None`).
pub fn previous_pin(change: &PinChange) -> Option<&str> {
    match change {
        PinChange::Update { from } if !from.is_empty() => Some(from),
        _ => None,
    }
}

#[cfg(test)]
mod reinstall_hint_tests {
    use std::path::PathBuf;

    use pyve_venv::policy::Environment;

    #[test]
    fn the_install_command_is_the_one_of_the_manager_that_installed_the_base() {
        let env =
            Environment { home: Some("/h".into()), pyenv_root: Some("/opt/pyenv".into()), ..Environment::default() };
        let hint = |p: &str| super::reinstall_hint(&[PathBuf::from(p)], "3.12.1", &env);
        let pyenv = hint("/opt/pyenv/versions/3.12.1/bin/python3.12");
        assert!(pyenv.contains("(`pyenv install 3.12.1`)"), "{pyenv}");
        let asdf = hint("/h/.asdf/installs/python/3.12.1/bin");
        assert!(asdf.contains("(`asdf install python 3.12.1`)") && !asdf.contains("pyenv"), "{asdf}");
        // ~/.pyenv is not pyenv's root when PYENV_ROOT names another.
        for other in ["/usr/bin/python3.12", "/h/.pyenv/versions/3.12.1/bin/python"] {
            assert_eq!(hint(other), "reinstall Python 3.12.1, then `pyve --init --force`");
        }
    }
}

#[cfg(test)]
mod ensurepip_tests {
    #[test]
    fn a_missing_ensurepip_names_the_package() {
        let debian = "`python3.11 -m venv .venv` failed (exit status: 1): The virtual environment was not created successfully because ensurepip is not\navailable.  On Debian/Ubuntu systems, you need to install the python3-venv\npackage using the following command.\n\n    apt install python3.11-venv\n";
        let hint = super::missing_ensurepip_hint(debian).unwrap();
        assert!(hint.contains("sudo apt install python3.11-venv"), "{hint}");
        let bare = "no bundled pip wheel was found for /usr/bin/python3 (is ensurepip installed?)";
        assert!(super::missing_ensurepip_hint(bare).unwrap().contains("python3-venv"));
        assert!(super::missing_ensurepip_hint("disk full").is_none());
    }
}
