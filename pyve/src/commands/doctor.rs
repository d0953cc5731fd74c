//! `pyve doctor [--json]`: a diagnosis of the project, on stdout. The host checks its own
//! part (the project's files, the recorded environment, direnv, `.env`, the test environment,
//! pyve and its plugins) and asks the backend's plugin for its part (`env/describe`,
//! `env/activation`, `doctor/checks`). Checks run things where looking is not enough: the
//! backend starts the environment's interpreter, and the host resolves `python` the way
//! `pyve run` would. Exit 1 when any check fails (`✗`), else 0; warnings alone exit 0.

use std::cmp::Ordering;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pyve_protocol::methods::request;
use pyve_protocol::types::{Activation, EnvDescription, EnvParams, Settings};

use crate::backend::{self, Session};
use crate::env::{HostEnv, VERSION};
use crate::error::Result;
use crate::plugins::{self, Entry, Inventory, Status};
use crate::project::{self, Config, State};
use crate::report::{CheckStatus, DoctorJson, EnvironmentJson, HOST, PluginUse, Report};
use crate::ui;

/// The header, as the original printed it (29 `=`).
pub const HEADER: &str = "Pyve Environment Diagnostics\n=============================\n";

/// Compare two versions as the original did: numeric parts, a missing part is 0 (a part that
/// is not a number compares as text).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let parts = |v: &str| -> Vec<String> { v.trim().trim_start_matches('v').split('.').map(str::to_owned).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).map(String::as_str).unwrap_or("0");
        let y = pb.get(i).map(String::as_str).unwrap_or("0");
        let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// A config error as `<file>:<line>: <why>`, relative to the project root.
pub fn config_problem(root: &Path, e: &crate::error::Error) -> String {
    let text = e.to_string();
    let abs = root.join(project::CONFIG_FILE).display().to_string();
    let text = text.strip_prefix(&abs).map(|rest| format!("{}{rest}", project::CONFIG_FILE)).unwrap_or(text);
    match text.split_once(", line ") {
        Some((file, rest)) => format!("{file}:{rest}"),
        None => text,
    }
}

/// What the project records: its config, its state, the backend, and the backend's settings.
pub struct Recorded {
    /// `.pyve/config`, when it parses.
    pub config: Option<Config>,
    /// `.pyve/state.json`, when it is there and fits.
    pub state: Option<State>,
    /// The backend recorded.
    pub backend: Option<String>,
    /// The settings to send to the backend.
    pub settings: Settings,
    /// `.pyve/state.json` is there but cannot be used (a line says why).
    pub state_unusable: bool,
}

/// Read what the project records, adding a line for each problem.
pub fn recorded(root: &Path, r: &mut Report) -> Recorded {
    let config = match Config::load(root) {
        Ok(c) => c,
        Err(e) => {
            r.host_hint(
                CheckStatus::Error,
                "Configuration",
                format!("invalid ({})", config_problem(root, &e)),
                // `pyve --init --force` refuses a config it cannot read (it changes nothing
                // then), so starting over means moving the file aside first.
                "fix the file, or start over: `mv .pyve/config .pyve/config.broken && pyve --init --force`",
            );
            None
        }
    };
    let mut state_unusable = false;
    let state = match State::load(root) {
        Ok(s) => s,
        Err(e) => {
            state_unusable = true;
            r.push(CheckStatus::Error, "Project", Some(e.to_string()), e.hint_text().map(str::to_owned), HOST);
            None
        }
    };
    if let Some(why) = crate::commands::init::unfinished(root) {
        if why.contains("under way") {
            r.host_hint(CheckStatus::Warn, "Initialization", why, "wait for it to finish, then check again");
        } else {
            r.host_hint(
                CheckStatus::Error,
                "Initialization",
                why,
                "Run 'pyve --init --force' to rebuild the environment and record it",
            );
        }
    }
    let backend = config.as_ref().and_then(|c| c.backend.clone()).or_else(|| state.as_ref().map(|s| s.backend.clone()));
    let mut settings: Settings = state.as_ref().map(|s| s.settings.clone()).unwrap_or_default();
    if let (Some(b), Some(c)) = (&backend, &config) {
        settings.extend(c.backend_settings(b));
    }
    Recorded { config, state, backend, settings, state_unusable }
}

/// What a session with the backend returned.
#[derive(Default)]
pub struct Asked {
    /// `env/describe`.
    pub description: Option<EnvDescription>,
    /// `env/activation` (only for an environment that exists).
    pub activation: Option<Activation>,
    /// `doctor/checks`.
    pub checks: Vec<pyve_protocol::types::Check>,
}

/// `pyve doctor`.
pub fn run(env: &HostEnv, json: bool) -> Result<u8> {
    let cwd = project::current_dir()?;
    let root = env.project_root(&cwd);
    let inventory = plugins::inventory(env, crate::cli::BUILTINS);
    let mut r = Report::default();
    let mut out = DoctorJson {
        pyve_version: VERSION.to_owned(),
        project_root: root.as_ref().map(|p| p.display().to_string()),
        initialized: root.is_some(),
        backend: None,
        environment: None,
        plugins: Vec::new(),
        checks: Vec::new(),
        counts: Default::default(),
        exit_code: 0,
    };

    match &root {
        None => {
            r.push(
                CheckStatus::Error,
                "No environment found",
                None,
                Some("Run 'pyve --init' to create an environment".into()),
                HOST,
            );
            r.host(
                CheckStatus::Info,
                "Project",
                format!("not initialized (no {} in {} or its parents)", project::CONFIG_FILE, cwd.display()),
            );
        }
        Some(root) => project_checks(env, &inventory, root, &mut r, &mut out, json),
    }
    host_checks(env, &inventory, &mut r);

    out.counts = r.counts();
    out.exit_code = u8::from(out.counts.error > 0);
    if json {
        out.checks = r.lines;
        crate::ui::out(&format!("{}\n", crate::json::pretty(&out)));
    } else {
        crate::ui::out(&format!("{HEADER}\n{}\n", r.text_coloured(crate::ui::get().color_stdout)));
    }
    Ok(out.exit_code)
}

fn project_checks(env: &HostEnv, inventory: &Inventory, root: &Path, r: &mut Report, out: &mut DoctorJson, json: bool) {
    let rec = recorded(root, r);
    if let Some(v) = rec.config.as_ref().and_then(|c| c.pyve_version.as_deref()) {
        version_drift(v, r, json);
    }
    let Some(name) = rec.backend.clone() else {
        if rec.config.is_some() {
            r.host_hint(
                CheckStatus::Error,
                "Backend",
                "not configured (.pyve/config records no backend)",
                "Run 'pyve --init --force' to set the project up again",
            );
        }
        files_checks(root, None, r);
        return;
    };
    out.backend = Some(name.clone());
    if !backend::known_backends(inventory).iter().any(|(n, _, _)| n == &name) {
        r.host_hint(
            CheckStatus::Error,
            "Backend",
            format!("{name} (unknown: no installed plugin provides it)"),
            format!("install the plugin pyve-{name}, or set `backend:` in .pyve/config to an installed backend"),
        );
        files_checks(root, None, r);
        return;
    }
    r.host(CheckStatus::Ok, "Backend", name.clone());
    let (asked, plugin) = match backend::plugin_for(inventory, &name) {
        Ok(entry) => {
            if let Some(state) = &rec.state {
                plugin_drift(state, &entry, r);
            }
            out.plugins.push(plugin_use(&entry, "backend"));
            (ask_backend(env, &entry, root, &name, rec.settings.clone(), r), entry.candidate.name.clone())
        }
        Err(e) => {
            r.push(CheckStatus::Error, "Backend plugin", Some(e.to_string()), e.hint_text().map(str::to_owned), HOST);
            (Asked::default(), String::new())
        }
    };
    for c in &asked.checks {
        r.push(c.status, c.label.clone(), c.detail.clone(), c.hint.clone(), &plugin);
    }
    if let Some(d) = &asked.description {
        out.environment = Some(EnvironmentJson {
            exists: d.exists,
            path: d.env_path.as_ref().map(|p| p.display().to_string()),
            interpreter: d.interpreter.as_ref().map(|p| p.display().to_string()),
            python_version: d.python_version.clone(),
            package_count: d.package_count,
            lock: d.lock.as_ref().map(|l| l.state.clone()),
        });
    }
    if !rec.state_unusable {
        run_check(root, rec.state.as_ref(), &asked, r);
        drift_check(root, rec.config.as_ref(), rec.state.as_ref(), r);
    }
    let project_python = asked.description.as_ref().filter(|d| d.exists).and_then(|d| d.python_version.as_deref());
    files_checks(root, project_python, r);
    for e in hook_plugins(inventory) {
        out.plugins.push(plugin_use(e, "hook"));
    }
}

/// The original's version-drift warnings (stderr) and a report line, silenced by
/// `PYVE_SKIP_VERSION_CHECK=1`.
fn version_drift(recorded: &str, r: &mut Report, json: bool) {
    if std::env::var_os("PYVE_SKIP_VERSION_CHECK").is_some_and(|v| v == "1") {
        return;
    }
    match compare_versions(recorded, VERSION) {
        Ordering::Equal => {}
        Ordering::Less => {
            if !json {
                ui::warn(&format!("Project initialized with Pyve v{recorded} (current: v{VERSION})"));
                ui::warn("Run 'pyve --validate' to check compatibility");
            }
            r.host_hint(
                CheckStatus::Warn,
                "Pyve version",
                format!("{recorded} recorded (current: {VERSION})"),
                "Run 'pyve --validate' to check compatibility",
            );
        }
        Ordering::Greater => {
            if !json {
                ui::warn(&format!("Project initialized with newer Pyve v{recorded} (current: v{VERSION})"));
                ui::warn("Consider upgrading Pyve or re-initializing the project");
            }
            r.host_hint(
                CheckStatus::Warn,
                "Pyve version",
                format!("{recorded} recorded, newer than this pyve ({VERSION})"),
                "Consider upgrading Pyve or re-initializing the project",
            );
        }
    }
}

/// One session with the backend: describe, activation, checks. A failure is a line.
pub fn ask_backend(env: &HostEnv, entry: &Entry, root: &Path, name: &str, settings: Settings, r: &mut Report) -> Asked {
    let params = EnvParams { project_root: root.to_path_buf(), backend: name.to_owned(), settings };
    let mut asked = Asked::default();
    let fail = |r: &mut Report, what: &str, e: crate::error::Error| {
        r.push(
            CheckStatus::Error,
            "Backend plugin",
            Some(format!("{what} failed: {e}")),
            Some(
                e.hint_text()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("`pyve plugin info {}` shows the plugin", entry.candidate.name)),
            ),
            HOST,
        );
    };
    let mut session = match Session::open(env, entry, root) {
        Ok(s) => s,
        Err(e) => {
            fail(r, &format!("starting {}", entry.candidate.path.display()), e);
            return asked;
        }
    };
    match session.call::<request::EnvDescribe>(&params) {
        Ok(d) => asked.description = Some(d),
        Err(e) => fail(r, "env/describe", e.to_error()),
    }
    if asked.description.as_ref().is_some_and(|d| d.exists) {
        match session.call::<request::EnvActivation>(&params) {
            Ok(a) => asked.activation = Some(a),
            Err(e) => fail(r, "env/activation", e.to_error()),
        }
    }
    match session.call::<request::DoctorChecks>(&params) {
        Ok(report) => asked.checks = report.checks,
        Err(e) => fail(r, "doctor/checks", e.to_error()),
    }
    session.close();
    asked
}

/// `pyve run python` resolves to the environment: the recorded activation (what `pyve run`
/// applies) puts the environment's `python` first, and it matches what the backend reports.
fn run_check(root: &Path, state: Option<&State>, asked: &Asked, r: &mut Report) {
    let Some(d) = asked.description.as_ref().filter(|d| d.exists) else { return };
    let Some(state) = state else {
        r.host_hint(
            CheckStatus::Error,
            "pyve run",
            format!("no environment recorded ({} is missing)", project::STATE_FILE),
            "Run 'pyve --init --force' to record it",
        );
        return;
    };
    let env_path = d.env_path.clone().unwrap_or_else(|| state.env_path.clone());
    // `pyve run python` never falls through to PATH when the environment's directories exist
    // (run.rs): an environment without python is said as such, with a fix that can help.
    if state.activation.path_prepend.iter().any(|d| d.is_dir())
        && super::run::find_in(OsStr::new("python"), state.activation.path_prepend.iter().cloned()).is_none()
    {
        let hint = if state.backend == "micromamba" {
            "add `python` to environment.yml's dependencies, then run 'pyve sync'"
        } else {
            // `pyve sync` rebuilds only when the inputs changed: here it says "up to date".
            "rebuild the environment: 'pyve --init --force'"
        };
        r.host_hint(
            CheckStatus::Warn,
            "pyve run",
            "the environment has no python (`pyve run python` says so rather than run one from PATH)",
            hint,
        );
        return;
    }
    let path_dirs: Vec<PathBuf> =
        std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    let found =
        super::run::find_in(OsStr::new("python"), state.activation.path_prepend.iter().cloned().chain(path_dirs));
    match found {
        Some(p) if p.starts_with(&env_path) => {
            r.host(CheckStatus::Ok, "pyve run", format!("python is {}", project::display_in(root, &p)));
        }
        Some(p) => r.host_hint(
            CheckStatus::Error,
            "pyve run",
            format!("python is {}, outside the environment {}", p.display(), project::display_in(root, &env_path)),
            "Run 'pyve --init --force' to record the environment again",
        ),
        None => r.host_hint(
            CheckStatus::Error,
            "pyve run",
            format!("finds no python (the environment's directories: {})", dirs_text(&state.activation.path_prepend)),
            "Run 'pyve --init --force' to record the environment again",
        ),
    }
    if let Some(a) = &asked.activation
        && a != &state.activation
    {
        r.host_hint(
            CheckStatus::Warn,
            "pyve run",
            "the recorded activation differs from what the backend reports",
            "Run 'pyve --init --force' to record the environment again",
        );
    }
}

fn dirs_text(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return "none".into();
    }
    dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// `.envrc` and direnv, `.env` and its mode, the test environment (compared with the Python
/// of the project's environment, when the backend reported one).
fn files_checks(root: &Path, project_python: Option<&str>, r: &mut Report) {
    direnv_check(root, r);
    dotenv_check(root, r);
    testenv_check(root, project_python, r);
}

fn direnv_check(root: &Path, r: &mut Report) {
    if !root.join(".envrc").is_file() {
        r.host_hint(CheckStatus::Warn, "Direnv", ".envrc not found", "Use 'pyve run' to execute commands");
        return;
    }
    let Some(direnv) = super::run::find_on_path("direnv") else {
        r.host_hint(
            CheckStatus::Warn,
            "Direnv",
            ".envrc configured, but direnv is not installed",
            "install direnv (https://direnv.net), or use 'pyve run' to execute commands",
        );
        return;
    };
    let ours = crate::project::files::envrc_is_ours(&root.join(".envrc"));
    match direnv_allowed(&direnv, root) {
        Some(true) => r.host(CheckStatus::Ok, "Direnv", ".envrc configured (allowed)"),
        // Allowing an `.envrc` pyve did not write runs whatever it contains.
        Some(false) if !ours => r.host_hint(
            CheckStatus::Warn,
            "Direnv",
            ".envrc is not pyve's, not allowed",
            "Review .envrc before allowing it with direnv, or use 'pyve run' to execute commands",
        ),
        Some(false) => r.host_hint(
            CheckStatus::Warn,
            "Direnv",
            ".envrc configured, not allowed",
            format!("Run 'direnv allow' in {}", root.display()),
        ),
        None => r.host(CheckStatus::Ok, "Direnv", ".envrc configured"),
    }
}

/// What `direnv status` says of the project's `.envrc`: `true` allowed, `false` not (or
/// denied), `None` when it cannot tell. direnv 2.32 prints `Found RC allowed true|false`,
/// later ones `Found RC allowed 0|1|2` (0 = allowed).
fn direnv_allowed(direnv: &Path, root: &Path) -> Option<bool> {
    let out =
        output_within(std::process::Command::new(direnv).arg("status").current_dir(root), Duration::from_secs(10))
            .ok()?;
    direnv_status_allows(&String::from_utf8_lossy(&out.stdout), &root.join(".envrc"))
}

/// Parse `direnv status`: whether it allows `envrc` (`None` when it does not say).
fn direnv_status_allows(text: &str, envrc: &Path) -> Option<bool> {
    let mut in_ours = false;
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("Found RC path ") {
            in_ours = Path::new(p.trim()) == envrc
                || std::fs::canonicalize(p.trim()).is_ok_and(|c| std::fs::canonicalize(envrc).ok() == Some(c));
        } else if let Some(v) = line.strip_prefix("Found RC allowed ")
            && in_ours
        {
            return match v.trim() {
                "true" | "0" => Some(true),
                "false" | "1" | "2" => Some(false),
                _ => None,
            };
        }
    }
    None
}

fn dotenv_check(root: &Path, r: &mut Report) {
    let path = root.join(".env");
    let Ok(meta) = std::fs::metadata(&path) else {
        r.host_hint(
            CheckStatus::Warn,
            "Environment file",
            ".env not found",
            "Create it with 'touch .env && chmod 600 .env' (pyve run and direnv load it)",
        );
        return;
    };
    let state = if meta.len() == 0 { "empty" } else { "configured" };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            r.host_hint(
                CheckStatus::Warn,
                "Environment file",
                format!(".env ({state}, mode {mode:o}: others can read it)"),
                "Run 'chmod 600 .env'",
            );
            return;
        }
    }
    r.host(CheckStatus::Ok, "Environment file", format!(".env ({state})"));
}

/// The test environment of `pyve testenv`, described from its record (no plugin is started).
/// A test environment on another Python than the project's environment is stale (it is never
/// rebuilt by itself): tests would run on a Python the project no longer uses.
fn testenv_check(root: &Path, project_python: Option<&str>, r: &mut Report) {
    let dir = root.join(".pyve/testenv");
    let venv = dir.join("venv");
    let record: Option<serde_json::Value> = pyve_fs::read_bounded(&dir.join("testenv.json"), pyve_fs::READ_LIMIT)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let version = record.as_ref().and_then(|v| v.get("python_version")).and_then(|v| v.as_str()).map(str::to_owned);
    let has_venv = venv.join("pyvenv.cfg").is_file();
    match (has_venv, &record) {
        (true, _) => {
            let python = venv.join("bin").join("python");
            if !python.exists() {
                r.host_hint(
                    CheckStatus::Warn,
                    "Test environment",
                    ".pyve/testenv/venv has no working python",
                    "Run 'pyve testenv --purge' then 'pyve testenv --init'",
                );
                return;
            }
            if let (Some(tv), Some(pv)) = (version.as_deref(), project_python)
                && tv != pv
            {
                r.host_hint(
                    CheckStatus::Warn,
                    "Test environment",
                    format!(".pyve/testenv/venv runs Python {tv}, but the project's environment runs Python {pv}"),
                    "Rebuild it with 'pyve testenv --purge && pyve testenv --init'",
                );
                return;
            }
            let v = version.map(|v| format!(" (Python {v})")).unwrap_or_default();
            r.host(CheckStatus::Ok, "Test environment", format!(".pyve/testenv/venv{v}"));
        }
        (false, Some(_)) => r.host_hint(
            CheckStatus::Warn,
            "Test environment",
            ".pyve/testenv/venv is recorded but missing",
            "Run 'pyve testenv --init' to create it again",
        ),
        (false, None) => r.host(CheckStatus::Info, "Test environment", "none (create one with 'pyve testenv --init')"),
    }
}

fn hook_plugins(inventory: &Inventory) -> impl Iterator<Item = &Entry> {
    inventory
        .active()
        .filter(|e| e.serves.contains(&"rpc"))
        .filter(|e| e.manifest.as_ref().is_some_and(|m| !m.provides.hooks.is_empty()))
}

fn plugin_use(e: &Entry, role: &str) -> PluginUse {
    PluginUse {
        name: e.candidate.name.clone(),
        version: e.manifest.as_ref().map(|m| m.version.clone()),
        kind: e.candidate.kind.to_string(),
        path: e.candidate.path.display().to_string(),
        role: role.to_owned(),
    }
}

/// pyve itself, its plugins (in use, shadowed, broken), and `PATH` entries nobody should rely on.
fn host_checks(env: &HostEnv, inventory: &Inventory, r: &mut Report) {
    let exe = env.exe.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default();
    r.host(CheckStatus::Ok, "Pyve", format!("{VERSION}{exe}"));
    // One line per plugin: a library and an executable of one name share it (`dylib+exec`,
    // the path of the file serving the protocol), as in `pyve plugin list`.
    let mut seen: Vec<&str> = Vec::new();
    for e in inventory.active() {
        let name = e.candidate.name.as_str();
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let files: Vec<&Entry> = inventory.active().filter(|f| f.candidate.name == name).collect();
        let kinds: Vec<String> = files.iter().map(|f| f.candidate.kind.to_string()).collect();
        let main = files.iter().find(|f| f.serves.contains(&"rpc")).unwrap_or(&files[0]);
        let version = main.manifest.as_ref().map(|m| m.version.as_str()).unwrap_or("?");
        r.host(
            CheckStatus::Info,
            "Plugin",
            format!("{name} {version} ({}, {})", kinds.join("+"), main.candidate.path.display()),
        );
    }
    for e in &inventory.entries {
        match &e.status {
            Status::Ok => {}
            Status::Shadowed(by) => r.host_hint(
                CheckStatus::Warn,
                "Plugin",
                format!("{} ({}) is shadowed by {by}", e.candidate.name, e.candidate.path.display()),
                format!("`pyve plugin which {}` explains the choice", e.candidate.name),
            ),
            Status::Unusable(p) => r.host_hint(
                CheckStatus::Warn,
                "Plugin",
                format!("{} ({}) cannot be used: {}", e.candidate.name, e.candidate.path.display(), p.explain()),
                p.hint(&e.candidate.path),
            ),
            Status::Failed(err) => r.host_hint(
                CheckStatus::Warn,
                "Plugin",
                format!("{} ({}) is broken: {}", e.candidate.name, e.candidate.path.display(), err.summary()),
                format!("`pyve plugin info {}` shows the full error", e.candidate.name),
            ),
            Status::Unpinned(req) => r.host(
                CheckStatus::Info,
                "Plugin",
                format!(
                    "{} {} ({}) is not used: the project pins {} to \"{req}\"",
                    e.candidate.name,
                    e.manifest.as_ref().map(|m| m.version.as_str()).unwrap_or("?"),
                    e.candidate.path.display(),
                    e.candidate.name
                ),
            ),
        }
    }
    pin_checks(inventory, r);
    for (entry, _) in &inventory.search.skipped {
        let what = if entry.is_empty() {
            "an empty entry: your shell searches the current directory for it".to_owned()
        } else {
            format!("relative entry '{entry}': your shell resolves it against the current directory")
        };
        r.host_hint(
            CheckStatus::Warn,
            "PATH",
            format!("{what} (pyve never searches it)"),
            "put only absolute directories on PATH: a relative one means something else in every directory",
        );
    }
}

/// The plugin that made the environment (recorded in `.pyve/state.json`) against the one
/// serving now: nothing when they are the same version; a newer release of the same major is
/// information; another major, or an older version, is a warning with the fix.
pub fn plugin_drift(state: &State, serving: &Entry, r: &mut Report) {
    let Some(now) = serving.manifest.as_ref().map(|m| m.version.as_str()) else { return };
    if state.plugin_version.is_empty() || state.plugin != serving.candidate.name {
        return;
    }
    let (Ok(made), Ok(cur)) = (semver::Version::parse(&state.plugin_version), semver::Version::parse(now)) else {
        return;
    };
    let name = &state.plugin;
    if made == cur {
        return;
    }
    let what = format!("{name} {made} made the environment; {name} {cur} serves it now");
    if cur > made && cur.major == made.major {
        r.host(CheckStatus::Info, "Backend plugin", format!("{what} (a newer compatible release)"));
    } else {
        let why = if cur < made { "an older version" } else { "another major version" };
        r.host_hint(
            CheckStatus::Warn,
            "Backend plugin",
            format!("{what} ({why})"),
            format!(
                "rebuild the environment with it (`pyve --init --force`), or pin the one that made it (`{name}: \"={made}\"` under `plugins:` in .pyve/config) and run `pyve plugin install {name}@={made}`"
            ),
        );
    }
}

/// What the environment was made from (its files, the backend's settings), against the
/// project now: the reasons `pyve sync --check` gives (`sync::changes`), so both agree.
pub fn drift_check(root: &Path, config: Option<&Config>, state: Option<&State>, r: &mut Report) {
    let Some(state) = state else { return };
    if !state.env_path.exists() {
        return;
    }
    let changed = super::sync::changes(root, config, state);
    if changed.is_empty() {
        if !state.inputs.is_empty() || state.failed_install() {
            r.host(CheckStatus::Ok, "Environment inputs", "unchanged since the environment was made");
        }
    } else {
        r.host_hint(
            CheckStatus::Warn,
            "Environment inputs",
            format!("out of date: {}", changed.join(", ")),
            "run `pyve sync` to rebuild the environment",
        );
    }
}

/// One line per pin of the project: the copy it selects, or why none matches; and the
/// warnings about the `plugins:` section.
pub fn pin_checks(inventory: &Inventory, r: &mut Report) {
    for w in &inventory.pins.warnings {
        r.host_hint(
            CheckStatus::Warn,
            "Plugin pins",
            format!(".pyve/config, {w}"),
            "fix the `plugins:` section of .pyve/config",
        );
    }
    for (name, pin) in &inventory.pins.pins {
        match inventory.pin_error(name) {
            None => {
                let e =
                    inventory.active().filter(|e| e.candidate.name == *name).min_by_key(|e| !e.serves.contains(&"rpc"));
                let what = e
                    .map(|e| {
                        format!(
                            "{} ({})",
                            e.manifest.as_ref().map(|m| m.version.as_str()).unwrap_or("?"),
                            e.candidate.path.display()
                        )
                    })
                    .unwrap_or_default();
                r.host(CheckStatus::Ok, "Plugin pin", format!("{} → {what}", pin.describe()));
            }
            Some(err) => {
                r.push(
                    CheckStatus::Error,
                    "Plugin pin",
                    Some(err.to_string()),
                    err.hint_text().map(str::to_owned),
                    HOST,
                );
            }
        }
    }
}

/// Run `cmd` to completion with its output captured, killing it after `limit` (a check must
/// never hang the report). Its output is small, so it is read after it exits.
pub fn output_within(
    cmd: &mut std::process::Command,
    limit: std::time::Duration,
) -> std::io::Result<std::process::Output> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert_eq!(compare_versions("0.9.2", "0.10.0"), Ordering::Less);
        assert_eq!(compare_versions("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(compare_versions("99.0.0", "0.1.0"), Ordering::Greater);
        assert_eq!(compare_versions("1.0.0rc1", "1.0.0"), Ordering::Greater);
    }

    #[test]
    fn direnv_status_is_read_in_both_formats() {
        let envrc = Path::new("/p/.envrc");
        let old = "direnv exec path /usr/bin/direnv\nFound RC path /p/.envrc\nFound watch: \"/p/.envrc\"\nFound RC allowed false\nFound RC allowPath /x\n";
        assert_eq!(direnv_status_allows(old, envrc), Some(false));
        assert_eq!(direnv_status_allows(&old.replace("allowed false", "allowed true"), envrc), Some(true));
        let new = "Found RC path /p/.envrc\nFound RC allowed 0\n";
        assert_eq!(direnv_status_allows(new, envrc), Some(true));
        assert_eq!(direnv_status_allows(&new.replace("allowed 0", "allowed 2"), envrc), Some(false));
        // Another directory's .envrc (a parent's) says nothing about ours.
        assert_eq!(direnv_status_allows("Found RC path /other/.envrc\nFound RC allowed true\n", envrc), None);
        assert_eq!(direnv_status_allows("No .envrc or .env found\n", envrc), None);
    }

    #[test]
    fn a_check_that_hangs_is_cut_short() {
        let e = output_within(std::process::Command::new("sleep").arg("5"), Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        let out = output_within(
            std::process::Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(
            (out.status.code(), out.stdout.as_slice(), out.stderr.as_slice()),
            (Some(3), &b"out\n"[..], &b"err\n"[..])
        );
    }

    #[test]
    fn config_errors_name_file_and_line() {
        let root = Path::new("/p");
        let e = Config::parse(root.join(".pyve/config"), "invalid: yaml: [[[".into()).unwrap_err();
        let text = config_problem(root, &e);
        assert!(text.starts_with(".pyve/config:1: not valid YAML"), "{text}");
    }
}
