//! The `micromamba` backend: `env/create`, `env/describe`, `env/activation`, `env/remove`,
//! `doctor/checks`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pyve_micromamba::bootstrap::{self, BootstrapError, Target};
use pyve_micromamba::condarc::CondaConfig;
use pyve_micromamba::discovery::{self, Found};
use pyve_micromamba::engine::{self, CreateRequest, Engine, EngineChoice, Source};
use pyve_micromamba::envfile::{CONDA_LOCK_YML, ENVIRONMENT_YML, EnvFile};
use pyve_micromamba::lock::{self, LockFile, LockState};
use pyve_micromamba::name::{self, NameError};
use pyve_sdk::protocol::ErrorObject;
use pyve_sdk::protocol::error::{code, kind};
use pyve_sdk::types::*;
use pyve_sdk::{Backend, Context, Error, Result};
use rattler_conda_types::NamedChannelOrUrl;
use serde_json::{Value, json};

use super::settings::{ENGINE_VAR, MambaSettings, cache_dir, project_root};

/// The backend.
#[derive(Debug, Default)]
pub struct MicromambaBackend;

/// Where environments live, relative to the project root.
pub const ENVS_DIR: &str = ".pyve/envs";

fn envs_dir(root: &Path) -> PathBuf {
    root.join(".pyve").join("envs")
}

/// How to run commands inside the environment at `env` (absolute paths only).
pub fn activation_for(env: &Path, name: &str) -> Activation {
    // environment.yml's `variables:` (the project is three levels up: .pyve/envs/NAME).
    let variables = env
        .ancestors()
        .nth(3)
        .and_then(|root| EnvFile::read(&root.join(ENVIRONMENT_YML)).ok())
        .map(|f| f.variables)
        .unwrap_or_default();
    let mut activation = Activation {
        set: BTreeMap::from([
            ("CONDA_PREFIX".to_string(), env.display().to_string()),
            ("CONDA_DEFAULT_ENV".to_string(), name.to_string()),
            ("PYVE_ENV_NAME".to_string(), name.to_string()),
            ("PYVE_ENV_PATH".to_string(), env.display().to_string()),
            ("PYVE_BACKEND".to_string(), "micromamba".to_string()),
            ("PYVE_PROMPT_PREFIX".to_string(), format!("(micromamba:{name}) ")),
        ]),
        unset: vec!["PYTHONHOME".into()],
        path_prepend: vec![env.join("bin")],
    };
    for (k, v) in variables {
        activation.set.entry(k).or_insert(v);
    }
    for (k, v) in activate_d(env, &activation.set) {
        activation.set.entry(k).or_insert(v);
    }
    activation
}

/// Run `cmd` and return its stdout (at most `bytes`) when it succeeds within `time`; a command
/// that runs longer is killed.
fn output_bounded(cmd: &mut std::process::Command, time: std::time::Duration, bytes: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stdout).take(bytes).read_to_end(&mut buf);
        buf
    });
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < time => std::thread::sleep(std::time::Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    };
    let out = reader.join().ok()?;
    status.success().then_some(out)
}

/// What the environment's `etc/conda/activate.d/*.sh` scripts set (GDAL, PROJ, Java and the
/// compilers need them), as conda's activation runs them: sourced by `sh` in order with the
/// environment's variables set, the variables they add or change captured. Bounded: 10 s, 1 MiB
/// of output; `PATH` changes are left out (the environment's `bin` is put first anyway).
fn activate_d(env: &Path, base: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let dir = env.join("etc/conda/activate.d");
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "sh")).collect())
        .unwrap_or_default();
    if scripts.is_empty() {
        return BTreeMap::new();
    }
    scripts.sort();
    let dump = |cmd: &mut std::process::Command| -> Option<BTreeMap<String, String>> {
        cmd.envs(base).stdin(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let stdout = output_bounded(cmd, std::time::Duration::from_secs(10), 1 << 20)?;
        Some({
            stdout
                .split(|b| *b == 0)
                .filter_map(|kv| {
                    std::str::from_utf8(kv).ok()?.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))
                })
                .collect()
        })
    };
    let before = dump(std::process::Command::new("sh").args(["-c", "env -0"])).unwrap_or_default();
    let mut source = String::new();
    for s in &scripts {
        source.push_str(&format!(". '{}' >/dev/null 2>&1\n", s.display().to_string().replace('\'', "'\\''")));
    }
    source.push_str("env -0\n");
    let Some(after) = dump(std::process::Command::new("sh").args(["-c", &source])) else { return BTreeMap::new() };
    after
        .into_iter()
        .filter(|(k, v)| k != "PATH" && k != "_" && k != "SHLVL" && k != "PWD" && before.get(k) != Some(v))
        .collect()
}

fn cancelled(what: &str) -> Error {
    ErrorObject::new(code::CANCELLED, kind::CANCELLED, format!("cancelled: {what}")).into()
}

fn io_error(what: String, path: &Path, e: &std::io::Error) -> Error {
    Error::new(kind::IO, format!("{what} {}: {e}", path.display()))
        .hint(format!("check the permissions of {}", path.parent().unwrap_or(path).display()))
}

fn name_error(e: &NameError, source: name::NameSource) -> Error {
    // The reference's two lines, each word for word (its second line is capitalised, and
    // scripts grep for it), the source of the name between them.
    let message = match e.detail() {
        Some(d) => format!("{e} (from {source}). {d}"),
        None => format!("{e} (from {source})"),
    };
    let hint = match source {
        name::NameSource::Flag => "pass another name with --env-name NAME".to_string(),
        name::NameSource::Config => {
            "change `env_name` under `micromamba:` in .pyve/config, or pass --env-name NAME".into()
        }
        name::NameSource::EnvironmentYml => "change `name:` in environment.yml, or pass --env-name NAME".into(),
        name::NameSource::Directory => {
            "the name comes from the project directory's name; pass --env-name NAME or set `name:` in environment.yml"
                .into()
        }
    };
    Error::new("invalid-env-name", message).hint(hint)
}

/// Check that `path` (`.pyve/envs` or a path in it) and every directory on the way are not
/// links leading out of the project: pyve neither adopts, builds in nor deletes anything there.
fn managed(root: &Path, path: &Path) -> Result<()> {
    let refused = |why: String, hint: String| {
        Err(Error::new("link-out-of-project", format!("{why}; pyve manages only directories inside the project"))
            .hint(hint))
    };
    match pyve_fs::inspect(root, path) {
        Err(e) => refused(e.to_string(), e.hint()),
        Ok(entry) => match entry.leads_out() {
            Some(l) => refused(
                format!("{} is a symbolic link to {}, outside the project", path.display(), l.target.display()),
                format!(
                    "replace the link with a real directory (`rm {}` removes the link only, not what it points to), \
                     then run the command again",
                    path.display()
                ),
            ),
            None => Ok(()),
        },
    }
}

/// A conda environment: it has `conda-meta/` and no marker of an unfinished build.
fn is_env(path: &Path) -> bool {
    path.join("conda-meta").is_dir() && !incomplete_marker(path).exists()
}

/// The marker of a build in place (micromamba engine) that has not finished.
fn incomplete_marker(env: &Path) -> PathBuf {
    let name = env.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    env.with_file_name(format!(".{name}.incomplete"))
}

/// The pid in a leftover's name: `.NAME.tmp-PID` or `.NAME.old-PID`.
fn leftover_pid(file_name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?;
    let (_, pid) = rest.rsplit_once(".tmp-").or_else(|| rest.rsplit_once(".old-"))?;
    pid.parse().ok()
}

/// Whether the run that made a leftover is gone: its pid is not this process's and no live
/// process has it. A leftover whose maker cannot be told is never touched.
fn maker_gone(pid: Option<u32>) -> bool {
    pid.is_some_and(|pid| pid != std::process::id() && !pyve_fs::process_alive(pid))
}

/// How old a `.NAME.incomplete` marker without a pid (written by builds before the pid was
/// recorded) must be to be taken as stale.
const PIDLESS_MARKER_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Whether the in-place build a `.NAME.incomplete` marker stands for is over: the marker holds
/// its builder's pid and that process is gone; or, a marker from an older build that holds no
/// pid (empty or unreadable), it was last written more than [`PIDLESS_MARKER_STALE_AFTER`] ago.
/// Called only under the project lock (`--init`, `--purge`), so no other pyve is building in
/// this project: without the age rule such an environment would stay "not an environment"
/// forever.
fn incomplete_marker_stale(marker: &Path) -> bool {
    let pid = pyve_fs::read_bounded_text(marker, 64).ok().and_then(|t| t.trim().parse().ok());
    if pid.is_some() {
        return maker_gone(pid);
    }
    std::fs::symlink_metadata(marker)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age > PIDLESS_MARKER_STALE_AFTER)
}

/// Remove what crashed or cancelled runs left in `.pyve/envs`: temporary build directories,
/// unfinished in-place builds, environments moved aside, each only when the process that made
/// it is gone (a live one is another pyve at work: its old environment set aside by
/// `--init --force` is the only copy). Only commands that write the project (under the
/// project lock) call this; `describe` and `doctor` touch nothing.
fn tidy(cx: &Context<'_>, root: &Path) {
    let dir = envs_dir(root);
    if managed(root, &dir).is_err() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for e in entries.filter_map(std::result::Result::ok) {
        let n = e.file_name().to_string_lossy().into_owned();
        let p = e.path();
        if n.starts_with('.') && (n.contains(".tmp-") || n.contains(".old-")) {
            if !maker_gone(leftover_pid(&n)) {
                cx.debug(format!("kept {}: the run that made it may still be at work", p.display()));
                continue;
            }
            if pyve_fs::remove(root, &p).is_ok() {
                cx.debug(format!("removed {}, left by an interrupted run", p.display()));
            }
        } else if let Some(env) = n.strip_prefix('.').and_then(|n| n.strip_suffix(".incomplete")) {
            if !incomplete_marker_stale(&p) {
                continue;
            }
            let _ = pyve_fs::remove(root, &dir.join(env));
            let _ = std::fs::remove_file(&p);
            cx.debug(format!("removed the unfinished environment {env}"));
        }
    }
}

/// The Python version recorded in `conda-meta/python-*.json`.
fn python_version(env: &Path) -> Option<String> {
    let dir = std::fs::read_dir(env.join("conda-meta")).ok()?;
    for e in dir.filter_map(std::result::Result::ok) {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with("python-") && n.ends_with(".json") && n[7..].starts_with(|c: char| c.is_ascii_digit()) {
            let v: Value = serde_json::from_slice(&pyve_fs::read_bounded(&e.path(), pyve_fs::READ_LIMIT).ok()?).ok()?;
            return v.get("version").and_then(Value::as_str).map(str::to_owned);
        }
    }
    None
}

fn interpreter(env: &Path) -> Option<PathBuf> {
    let p = env.join("bin").join("python");
    p.is_file().then_some(p)
}

/// The name from environment.yml, if it has one and can be read (the lock may be what is used).
fn yml_name(root: &Path) -> Option<String> {
    EnvFile::read(&root.join(ENVIRONMENT_YML)).ok().and_then(|f| f.name)
}

/// The environment's name for requests after creation: the recorded/configured one, else as
/// `env/create` resolves it.
fn recorded_name(root: &Path, s: &MambaSettings) -> Result<String> {
    let dir = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (n, source) = name::resolve(s.env_name.as_deref(), None, yml_name(root).as_deref(), &dir);
    let n = n.unwrap_or_default();
    name::validate(&n).map_err(|e| name_error(&e, source))?;
    Ok(n)
}

/// Check the lock file as the reference did; warnings by default, errors with `--strict`.
fn check_lock(cx: &Context<'_>, state: &LockState, strict: bool) -> Result<()> {
    let hint = lock::regenerate_hint();
    match state {
        LockState::Fresh => Ok(()),
        LockState::Stale { unmet } if strict => Err(Error::new(
            "lock-stale",
            format!(
                "Lock file is stale (strict mode): conda-lock.yml does not satisfy environment.yml: {}",
                unmet.join("; ")
            ),
        )
        .hint(format!("regenerate the lock file: {hint}"))),
        LockState::Stale { unmet } => {
            cx.warn("Lock file may be stale: conda-lock.yml does not satisfy environment.yml");
            for u in unmet {
                cx.warn(format!("  {u}"));
            }
            cx.info(format!("Using conda-lock.yml for reproducibility; to update it: {hint}"));
            Ok(())
        }
        LockState::Missing if strict => Err(Error::new("lock-missing", "Lock file missing (strict mode)")
            .hint(format!("Generate lock file for reproducible builds: {hint}"))),
        LockState::Missing => {
            cx.info("Using environment.yml without lock file");
            cx.info(format!("For reproducible builds, consider generating a lock file: {hint}"));
            Ok(())
        }
        LockState::LockOnly if strict => Err(Error::new(
            "lock-without-source",
            "environment.yml missing but conda-lock.yml exists (strict mode). Lock file without source environment \
             file is invalid",
        )
        .hint("add the environment.yml the lock was made from, or drop --strict")),
        LockState::LockOnly => {
            cx.warn("conda-lock.yml has no environment.yml beside it; installing it as locked");
            Ok(())
        }
        // The reference's strict message names both files; without --strict it failed silently
        // (its defect 12), and pyve says what is missing and what to write.
        LockState::Neither => Err(Error::new(
            "no-environment-file",
            format!(
                "{}: the micromamba backend requires conda-lock.yml (for reproducible builds) or environment.yml \
                 (for flexible dependencies)",
                if strict { "Both environment.yml and conda-lock.yml missing (strict mode)" } else { "No environment file found" }
            ),
        )
        .hint("create environment.yml with:\n  name: myproject\n  channels:\n    - conda-forge\n  dependencies:\n    - python=3.11")),
    }
}

/// Check the lock's entries before any engine sees the file: malformed hashes and pip entries
/// are errors naming the entry; entries pyve cannot check (no hash) are refused with
/// `--strict` and warned about otherwise; `file:` pip archives are hashed now.
fn check_lock_entries(cx: &Context<'_>, lock: &LockFile, strict: bool) -> Result<()> {
    let bad = |e: String| Error::new("bad-lock-file", e).hint(format!("regenerate it: {}", lock::regenerate_hint()));
    let reqs = lock.pip_requirements(lock::platform()).map_err(|e| bad(e.to_string()))?;
    let unchecked = lock.unchecked(lock::platform());
    if !unchecked.is_empty() {
        let which = unchecked.join(", ");
        if strict {
            return Err(Error::new(
                "lock-unchecked",
                format!(
                    "{} has entries pyve cannot check (no sha256 or md5) (strict mode): {which}",
                    lock.path.display()
                ),
            )
            .hint(format!("regenerate the lock with hashes: {}", lock::regenerate_hint())));
        }
        let pip: Vec<&str> = unchecked.iter().map(String::as_str).filter(|u| u.ends_with("(pip)")).collect();
        if !pip.is_empty() {
            cx.warn(format!("conda-lock.yml has pip entries without a hash, installed unchecked: {}", pip.join(", ")));
        }
    }
    for r in &reqs {
        r.verify_file().map_err(|e| {
            Error::new("hash-mismatch", e).hint(
                "the archive is not the one the lock was made with: regenerate the lock, or fetch the archive again",
            )
        })?;
    }
    Ok(())
}

/// The engine for this request, with the binary found (if any). When a binary is asked for
/// and none is found, micromamba is downloaded: without asking with `--auto-bootstrap` or
/// `--bootstrap-to` (to the user sandbox unless `--bootstrap-to project`), else, in an
/// interactive session, after asking where (or to use the built-in engine instead).
fn choose_engine(cx: &Context<'_>, root: &Path, s: &MambaSettings) -> Result<(Box<dyn Engine>, Option<Found>)> {
    let (found, skipped) = discovery::find_from_env(root);
    for s in &skipped {
        cx.warn(s.warning());
    }
    let choice = if s.auto_bootstrap { EngineChoice::Micromamba } else { s.engine };
    if let Some(e) = engine::pick(choice, found.as_ref()) {
        return Ok((e, found));
    }
    let asked = s.auto_bootstrap || s.bootstrap_to.is_some();
    let target = if asked {
        Some(s.bootstrap_to.as_deref().and_then(Target::parse).unwrap_or(Target::User))
    } else if cx.settings().interactive {
        let home = discovery::pyve_home_from_env().map(|h| h.join("bin").display().to_string());
        let answer = cx.prompt(PromptParams {
            message: format!("Micromamba not found ({}). Download it?", engine_label(s)),
            choices: vec![
                PromptChoice { key: "1".into(), label: "download it into this project (.pyve/bin/micromamba)".into() },
                PromptChoice {
                    key: "2".into(),
                    label: format!(
                        "download it for this user ({}/micromamba)",
                        home.as_deref().unwrap_or("~/.pyve/bin")
                    ),
                },
                PromptChoice { key: "3".into(), label: "use the built-in engine instead (no download)".into() },
            ],
            default: Some("2".into()),
            non_interactive_hint: Some("pass --auto-bootstrap [--bootstrap-to project|user]".into()),
        })?;
        match answer.trim() {
            "1" => Some(Target::Project),
            "2" => Some(Target::User),
            _ => None,
        }
    } else {
        return Err(not_found(s));
    };
    let Some(target) = target else {
        cx.info("Using the built-in engine");
        return Ok((Box::new(engine::Builtin), None));
    };
    // The reference's announcement of the download (section 3.3).
    let sandbox = if target == Target::Project { "project" } else { "user" };
    if asked {
        cx.info(format!("Auto-bootstrapping micromamba to {sandbox} sandbox..."));
    } else {
        cx.info(format!("Installing micromamba to {sandbox} sandbox..."));
    }
    let found = bootstrap(cx, root, target, asked)?;
    let e = engine::pick(EngineChoice::Micromamba, Some(&found)).ok_or_else(|| not_found(s))?;
    Ok((e, Some(found)))
}

/// Download micromamba to `target`, reporting progress; the binary as found there.
/// `auto`: asked for by `--auto-bootstrap`/`--bootstrap-to` (a failure says so, as the reference's
/// `Auto-bootstrap failed`).
fn bootstrap(cx: &Context<'_>, root: &Path, target: Target, auto: bool) -> Result<Found> {
    let source = bootstrap::Source::from_env().map_err(Error::invalid_params)?;
    let home = discovery::pyve_home_from_env();
    let path = target.path(root, home.as_deref()).ok_or_else(|| {
        Error::new("micromamba-bootstrap-failed", "cannot tell the user's pyve home: neither PYVE_HOME nor HOME is set")
            .hint("set PYVE_HOME, or pass --bootstrap-to project")
    })?;
    if target == Target::Project {
        // The project sandbox is the project's: never write through a link leading out.
        pyve_fs::check_parents(root, &path).map_err(|e| {
            Error::new("micromamba-bootstrap-failed", format!("cannot download micromamba into the project: {e}"))
                .hint(e.hint())
        })?;
    }
    cx.info(format!("Downloading micromamba from: {} (to {})", source.url, path.display()));
    let mut progress: Option<pyve_sdk::Progress<'_>> = None;
    let mut reported = 0u64;
    let result = bootstrap::install(&source, &path, &mut |done, total| {
        let p = progress.get_or_insert_with(|| cx.progress("Downloading micromamba", total));
        if done == 0 || done - reported >= 256 << 10 || Some(done) == total {
            reported = done;
            p.report(format!("{} KiB", done >> 10), Some(done));
        }
        !cx.is_cancelled()
    });
    if let Some(p) = progress {
        p.end();
    }
    match result {
        Ok(i) => {
            match &i.verified_by {
                Some(from) => cx.info(format!("sha256 {} matches {from}", i.sha256)),
                None => cx.warn(format!(
                    "{} publishes no sha256 for the archive; installed unverified (sha256 {})",
                    source.url, i.sha256
                )),
            }
            cx.success(format!("Micromamba installed successfully to {}", i.path.display()));
            cx.info(format!("Version: micromamba {}", i.version));
            let location = match target {
                Target::Project => discovery::Location::Project,
                Target::User => discovery::Location::User,
            };
            Ok(Found { path: i.path, location })
        }
        Err(BootstrapError::Cancelled) => Err(Error::cancelled()),
        Err(BootstrapError::Failed(why)) => Err(Error::new(
            "micromamba-bootstrap-failed",
            format!("{}ould not download micromamba: {why}", if auto { "Auto-bootstrap failed: c" } else { "C" }),
        )
        .hint(format!(
            "check the network (or set {} to a mirror), install micromamba yourself into {} or PATH, or use the \
             built-in engine: {ENGINE_VAR}=builtin",
            bootstrap::URL_VAR,
            path.parent().map(|p| p.display().to_string()).unwrap_or_default()
        ))),
    }
}

fn not_found(s: &MambaSettings) -> Error {
    Error::new(
        "micromamba-not-found",
        format!(
            "Micromamba not found: the micromamba engine is chosen ({}), and none is at .pyve/bin/micromamba, \
             $PYVE_HOME/bin/micromamba or on PATH",
            s.engine_source
        ),
    )
    .hint(format!(
        "pass --auto-bootstrap [--bootstrap-to project|user] to download it, install micromamba \
         (https://mamba.readthedocs.io/en/latest/installation.html) into ~/.pyve/bin or PATH, or use the built-in \
         engine: set {ENGINE_VAR}=builtin (or `engine: builtin` under `micromamba:` in .pyve/config)"
    ))
}

fn engine_error(e: engine::EngineError, name: &str, file: &str) -> Error {
    Error::new("micromamba-create-failed", format!("Failed to create micromamba environment '{name}' from {file}: {e}"))
        .hint("check that all channels are accessible, all packages are available and the environment file is valid")
}

/// What the backend records about an environment (kept out of `.pyve/config`: nested).
fn created_with(engine: &dyn Engine, file: &str) -> Value {
    let mut v = json!({"engine": engine.name(), "version": engine.version(), "file": file});
    if let Some(b) = engine.binary() {
        v["binary"] = Value::String(b.display().to_string());
    }
    v
}

/// The project's Python declarations: whether they are installed into the environment, and
/// the record of the last install.
struct Deps {
    installed: bool,
    record: Option<Value>,
}

impl MicromambaBackend {
    fn result(&self, env_path: &Path, name: &str, created: bool, with: Value, deps: Deps) -> CreateResult {
        let mut settings = Settings::new();
        settings.insert("env_name".into(), Value::String(name.to_string()));
        settings.insert("created_with".into(), with);
        if let Some(d) = deps.record {
            settings.insert(super::deps::RECORD_KEY.into(), d);
        }
        // `pyve sync` re-solves when one of them changes; the Python declarations count when
        // they are installed.
        let mut inputs: Vec<PathBuf> = vec![ENVIRONMENT_YML.into(), CONDA_LOCK_YML.into()];
        if deps.installed {
            inputs.extend(super::deps::INPUTS.iter().map(PathBuf::from));
        }
        CreateResult {
            env_path: env_path.to_path_buf(),
            created,
            interpreter: interpreter(env_path),
            python_version: python_version(env_path),
            activation: activation_for(env_path, name),
            settings,
            gitignore: vec![ENVS_DIR.into()],
            created_files: Vec::new(),
            inputs,
        }
    }
}

/// Put `aside` back at `env_path` (a failed replacement).
fn restore(cx: &Context<'_>, aside: Option<&PathBuf>, env_path: &Path) {
    if let Some(a) = aside
        && let Err(e) = std::fs::rename(a, env_path)
    {
        cx.warn(format!(
            "could not put the previous environment back from {} to {}: {e}; move it back by hand",
            a.display(),
            env_path.display()
        ));
    }
}

impl Backend for MicromambaBackend {
    fn create(&self, cx: &mut Context<'_>, p: CreateParams) -> Result<CreateResult> {
        let root = project_root(&p.project_root)?;
        let s = MambaSettings::parse(&p.settings, std::env::var(ENGINE_VAR).ok().as_deref())?;
        if p.python_version.is_some() {
            cx.warn("--python-version does not apply to the micromamba backend (the Python comes from environment.yml); ignored");
        }
        tidy(cx, &root);
        let state = lock::lock_state(&root);
        check_lock(cx, &state, s.strict)?;

        // The file and the name.
        let env_yml = root.join(ENVIRONMENT_YML);
        let (source, yml_name) = if state.file() == Some(CONDA_LOCK_YML) {
            let lock = LockFile::read(&root.join(CONDA_LOCK_YML)).map_err(|e| {
                Error::new("bad-lock-file", e.to_string()).hint(format!("regenerate it: {}", lock::regenerate_hint()))
            })?;
            check_lock_entries(cx, &lock, s.strict)?;
            (Source::Lock(lock), yml_name(&root))
        } else {
            let f = EnvFile::read(&env_yml).map_err(|e| {
                Error::new("bad-environment-file", e.to_string()).hint("fix environment.yml (see https://docs.conda.io/projects/conda/en/latest/user-guide/tasks/manage-environments.html#create-env-file-manually)")
            })?;
            for w in &f.warnings {
                // No `name:` matters only when no --env-name (or config) names the environment.
                if s.env_name.is_some() && w.iter().any(|l| l.contains("'name:'")) {
                    continue;
                }
                for line in w {
                    cx.warn(line.clone());
                }
            }
            let n = f.name.clone();
            (Source::EnvFile(f), n)
        };
        let file = source.path().file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (n, name_source) = name::resolve(s.env_name.as_deref(), None, yml_name.as_deref(), &dir);
        let n = n.unwrap_or_default();
        name::validate(&n).map_err(|e| name_error(&e, name_source))?;
        cx.info(format!("Environment name: {n}"));
        cx.info(format!("Using file: {file}"));

        let env_path = envs_dir(&root).join(&n);
        managed(&root, &envs_dir(&root))?;
        managed(&root, &env_path)?;
        let exists = is_env(&env_path);
        if env_path.exists() && !exists {
            return Err(Error::new(
                "not-an-environment",
                format!(
                    "{} exists but is not a conda environment (it has no conda-meta/); pyve will not replace it",
                    env_path.display()
                ),
            )
            .hint(format!("move {}/{n} out of the way yourself, or choose another name with --env-name", ENVS_DIR)));
        }
        if exists && !p.replace {
            cx.info(format!("Micromamba environment '{n}' already exists, skipping creation"));
            let with = p.settings.get("created_with").cloned().unwrap_or(Value::Null);
            let record = p.settings.get(super::deps::RECORD_KEY).cloned();
            return Ok(self.result(&env_path, &n, false, with, Deps { installed: s.install_deps, record }));
        }
        let (engine, _found) = choose_engine(cx, &root, &s)?;
        match engine.binary() {
            Some(b) => cx.info(format!("Engine: micromamba {} ({})", engine.version(), b.display())),
            None => cx.info(format!("Engine: built-in ({})", engine.version())),
        }
        if engine.binary().is_none() {
            let conda = CondaConfig::load();
            match &source {
                Source::EnvFile(f) => cx.debug(format!("Channels: {}", channels_detail(&conda, &f.channels, &root))),
                Source::Lock(_) => cx.debug("Channels: none read (conda-lock.yml gives each package's URL)"),
            }
            if let Some(p) = conda.pkgs_dir() {
                cx.debug(format!("Package cache: {} (pkgs_dirs)", p.display()));
            }
            for e in &conda.errors {
                cx.warn(format!("conda configuration not read: {e}"));
            }
        }
        cx.check_cancelled()?;

        let envs = envs_dir(&root);
        std::fs::create_dir_all(&envs).map_err(|e| io_error("cannot create".into(), &envs, &e))?;
        let pid = std::process::id();
        let aside = if exists {
            cx.info(format!("Replacing micromamba environment '{n}'..."));
            let a = envs.join(format!(".{n}.old-{pid}"));
            std::fs::rename(&env_path, &a).map_err(|e| io_error(format!("cannot move '{n}' aside:"), &env_path, &e))?;
            Some(a)
        } else {
            cx.info(format!("Creating micromamba environment '{n}' from {file}..."));
            None
        };
        let build_dir = envs.join(format!(".{n}.tmp-{pid}"));
        let in_place = engine.binary().is_some();
        let marker = incomplete_marker(&env_path);
        if in_place {
            let _ = std::fs::write(&marker, pid.to_string());
        }
        let req = CreateRequest {
            source: &source,
            target: &env_path,
            build_dir: if in_place { &env_path } else { &build_dir },
            root: &root,
            cache_dir: cache_dir(),
        };
        let progress = cx.progress(format!("Creating micromamba environment '{n}'"), None);
        let result = engine.create(&req);
        progress.end();
        let discard = |cx: &Context<'_>| {
            for d in [&build_dir, &env_path] {
                if d.exists()
                    && let Err(e) = std::fs::remove_dir_all(d)
                {
                    cx.warn(format!("could not remove the half-made environment {}: {e}", d.display()));
                }
            }
            let _ = std::fs::remove_file(&marker);
            restore(cx, aside.as_ref(), &env_path);
            // .pyve/envs itself when this run created it and nothing else is in it.
            let _ = std::fs::remove_dir(&envs);
        };
        let created = match result {
            Ok(c) => c,
            Err(e) => {
                discard(cx);
                return Err(engine_error(e, &n, &file));
            }
        };
        if cx.is_cancelled() {
            discard(cx);
            return Err(cancelled("the environment was not created"));
        }
        if !created.built_in_place
            && let Err(e) = std::fs::rename(&build_dir, &env_path)
        {
            discard(cx);
            return Err(io_error(
                format!("cannot move the new environment into place from {}:", build_dir.display()),
                &env_path,
                &e,
            ));
        }
        // pip requirements, with the environment's own pip, in its final place (pip writes
        // absolute script shebangs).
        let pip = match &source {
            Source::EnvFile(f) if !engine.installs_pip() && !f.pip.is_empty() => {
                cx.info(format!("Installing {} pip requirement(s) with the environment's pip...", f.pip.len()));
                engine::install_pip(&env_path, &f.pip, false)
            }
            Source::Lock(l) if !engine.installs_pip() => {
                let reqs = l.pip_requirements(lock::platform()).unwrap_or_default();
                if !reqs.is_empty() {
                    cx.info(format!("Installing {} locked pip package(s) with the environment's pip...", reqs.len()));
                }
                engine::install_locked_pip(&env_path, &reqs)
            }
            _ => Ok(()),
        };
        if let Err(e) = pip {
            discard(cx);
            return Err(engine_error(e, &n, &file));
        }
        let _ = std::fs::remove_file(&marker);
        if let Some(a) = &aside
            && let Err(e) = std::fs::remove_dir_all(a)
        {
            cx.warn(format!("could not delete the previous environment at {}: {e}", a.display()));
        }
        cx.debug(format!("{} packages installed", created.packages));
        cx.success(format!("Micromamba environment '{n}' created successfully"));
        if interpreter(&env_path).is_none() {
            cx.warn("Python executable not found in environment");
            cx.warn("This may be expected if Python is not in dependencies");
        }
        let record = if s.install_deps {
            super::deps::install(cx, &root, &env_path, &n, s.groups.as_deref())?
        } else {
            super::deps::skipped(cx, &root)
        };
        let deps = Deps { installed: s.install_deps, record: Some(record) };
        Ok(self.result(&env_path, &n, true, created_with(engine.as_ref(), &file), deps))
    }

    fn describe(&self, _cx: &mut Context<'_>, p: EnvParams) -> Result<EnvDescription> {
        let root = project_root(&p.project_root)?;
        let s = MambaSettings::parse(&p.settings, None)?;
        let n = recorded_name(&root, &s)?;
        let env_path = envs_dir(&root).join(&n);
        managed(&root, &envs_dir(&root))?;
        managed(&root, &env_path)?;
        let lock = Some(lock_status(&lock::lock_state(&root)));
        if !is_env(&env_path) {
            return Ok(EnvDescription { exists: false, env_path: Some(env_path), lock, ..EnvDescription::default() });
        }
        Ok(EnvDescription {
            exists: true,
            interpreter: interpreter(&env_path),
            python_version: python_version(&env_path),
            package_count: engine::count_packages(&env_path),
            env_path: Some(env_path),
            lock,
        })
    }

    fn activation(&self, _cx: &mut Context<'_>, p: EnvParams) -> Result<Activation> {
        let root = project_root(&p.project_root)?;
        let s = MambaSettings::parse(&p.settings, None)?;
        let n = recorded_name(&root, &s)?;
        let env_path = envs_dir(&root).join(&n);
        managed(&root, &envs_dir(&root))?;
        managed(&root, &env_path)?;
        if !is_env(&env_path) {
            return Err(Error::not_found(format!("there is no micromamba environment '{n}' ({})", env_path.display()))
                .hint("create it from .pyve/config with `pyve sync`"));
        }
        Ok(activation_for(&env_path, &n))
    }

    fn remove(&self, cx: &mut Context<'_>, p: EnvParams) -> Result<RemoveResult> {
        let root = project_root(&p.project_root)?;
        let s = MambaSettings::parse(&p.settings, None)?;
        tidy(cx, &root);
        let n = recorded_name(&root, &s)?;
        let envs = envs_dir(&root);
        let env_path = envs.join(&n);
        managed(&root, &envs)?;
        managed(&root, &env_path)?;
        let mut result = RemoveResult::default();
        if env_path.exists() && !is_env(&env_path) {
            return Err(Error::new(
                "not-an-environment",
                format!(
                    "{} is not a conda environment (it has no conda-meta/); pyve will not delete it",
                    env_path.display()
                ),
            )
            .hint(format!("delete {ENVS_DIR}/{n} yourself if you do not need it")));
        }
        cx.check_cancelled()?;
        if env_path.exists() {
            std::fs::remove_dir_all(&env_path).map_err(|e| io_error(format!("cannot remove '{n}':"), &env_path, &e))?;
            // The host reports what `removed` lists.
            result.removed.push(env_path);
        } else {
            cx.info(format!("No micromamba environment found at {ENVS_DIR}/{n}"));
        }
        // .pyve/envs itself, when nothing else is in it.
        if std::fs::read_dir(&envs).is_ok_and(|mut d| d.next().is_none()) && std::fs::remove_dir(&envs).is_ok() {
            result.removed.push(envs.clone());
        } else if envs.exists() {
            result.kept.push(KeptPath { path: envs, reason: "holds other environments".into() });
        }
        for f in [ENVIRONMENT_YML, CONDA_LOCK_YML] {
            if root.join(f).exists() {
                result.kept.push(KeptPath { path: root.join(f), reason: "the project's own file".into() });
            }
        }
        Ok(result)
    }

    fn doctor(&self, _cx: &mut Context<'_>, p: EnvParams) -> Result<DoctorReport> {
        let root = project_root(&p.project_root)?;
        let s = MambaSettings::parse(&p.settings, std::env::var(ENGINE_VAR).ok().as_deref())?;
        Ok(DoctorReport { checks: doctor_checks(&root, &s, &p.settings) })
    }
}

/// A conda-lock.yml alone: installed as locked, but nothing says it is what the project wants.
const LOCK_ONLY: &str = "no environment.yml to check it against";
const LOCK_ONLY_HINT: &str = "add the environment.yml it was made from (`pyve lock --check` needs it)";

fn lock_status(state: &LockState) -> LockStatus {
    let detail = match state {
        LockState::Fresh => Some("conda-lock.yml satisfies environment.yml".into()),
        LockState::Stale { unmet } => {
            Some(format!("conda-lock.yml does not satisfy environment.yml: {}", unmet.join("; ")))
        }
        LockState::Missing => Some(format!("no conda-lock.yml; generate it with: {}", lock::regenerate_hint())),
        LockState::LockOnly => Some(LOCK_ONLY.into()),
        LockState::Neither => Some("neither environment.yml nor conda-lock.yml".into()),
    };
    LockStatus { state: state.as_str().into(), file: state.file().map(PathBuf::from), detail }
}

fn check(status: CheckStatus, label: &str, detail: impl Into<String>, hint: Option<String>) -> Check {
    Check { status, label: label.into(), detail: Some(detail.into()), hint }
}

fn doctor_checks(root: &Path, s: &MambaSettings, raw: &Settings) -> Vec<Check> {
    let mut checks = Vec::new();
    // The engine, and the binary.
    let (found, skipped) = discovery::find_from_env(root);
    let recorded = raw.get("created_with");
    let made_by = recorded.and_then(|v| v.get("engine")).and_then(Value::as_str);
    let now = engine::pick(s.engine, found.as_ref()).map(|e| e.name()).unwrap_or("micromamba");
    checks.push(check(
        CheckStatus::Info,
        "Engine",
        match made_by {
            Some(m) => format!("{m} made the environment; {now} would be used now ({} policy)", engine_label(s)),
            None => format!("{now} ({} policy)", engine_label(s)),
        },
        None,
    ));
    match &found {
        // Read-only commands never run a binary the project supplies: it is reported, not
        // asked for its version (only `--init` runs it; docs/security.md).
        Some(f) if f.location == discovery::Location::Project => checks.push(check(
            CheckStatus::Warn,
            "Micromamba",
            format!(
                "{} (project): supplied by the project, not run by doctor; `pyve --init` would run it",
                f.path.display()
            ),
            Some("remove .pyve/bin/micromamba unless you trust this project's copy".into()),
        )),
        Some(f) => {
            let v = discovery::version(&f.path);
            checks.push(match v {
                Ok(v) => check(
                    CheckStatus::Ok,
                    "Micromamba",
                    format!("{} ({}) v{v}", f.path.display(), f.location.as_str()),
                    None,
                ),
                Err(e) => check(
                    CheckStatus::Error,
                    "Micromamba",
                    e,
                    Some(format!("reinstall micromamba at {}", f.path.display())),
                ),
            });
        }
        None => {
            // The micromamba engine chosen: an error that says where pyve looked (the
            // original's `Checked:` lines), not that the built-in engine needs none.
            let (status, hint, mut detail) = if s.engine == EngineChoice::Micromamba {
                let user = discovery::user_binary(discovery::pyve_home_from_env().as_deref())
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "$PYVE_HOME/bin/micromamba".into());
                (
                    CheckStatus::Error,
                    Some(format!(
                        "the micromamba engine is chosen (from {}): install micromamba \
                         (https://mamba.readthedocs.io/en/latest/installation.html) into one of those places, or \
                         use the built-in engine: {ENGINE_VAR}=builtin, or `engine: builtin` under `micromamba:` \
                         in .pyve/config",
                        s.engine_source
                    )),
                    format!("not found (checked .pyve/bin/micromamba, {user}, micromamba on PATH)"),
                )
            } else {
                (CheckStatus::Info, None, "not found (the built-in engine needs none)".to_string())
            };
            if let Some(not_exec) = skipped.iter().find_map(discovery::Skipped::not_executable) {
                detail =
                    format!("{} is not executable (fix with: chmod +x {})", not_exec.display(), not_exec.display());
            }
            checks.push(check(status, "Micromamba", detail, hint));
        }
    }
    // A project binary passed over because it (or `.pyve/bin`) links out of the project.
    for s in skipped.iter().filter(|s| matches!(s, discovery::Skipped::LinksOut { .. })) {
        checks.push(check(CheckStatus::Warn, "Project micromamba", s.warning(), None));
    }
    // The environment.
    match recorded_name(root, s) {
        Err(e) => {
            let o = e.into_object();
            checks.push(check(
                CheckStatus::Error,
                "Environment",
                o.message,
                o.data.and_then(|d| d.get("hint").and_then(Value::as_str).map(str::to_owned)),
            ));
        }
        Ok(n) => {
            let env_path = envs_dir(root).join(&n);
            if is_env(&env_path) {
                checks.push(check(CheckStatus::Ok, "Environment", format!("{ENVS_DIR}/{n}"), None));
                checks.push(check(CheckStatus::Info, "Name", n.clone(), None));
                match (interpreter(&env_path), python_version(&env_path)) {
                    (Some(_), Some(v)) => checks.push(check(CheckStatus::Ok, "Python", v, None)),
                    (Some(p), None) => checks.push(check(CheckStatus::Ok, "Python", p.display().to_string(), None)),
                    _ => checks.push(check(CheckStatus::Warn, "Python", "not found in environment", None)),
                }
                if let Some(c) = engine::count_packages(&env_path) {
                    checks.push(check(CheckStatus::Info, "Packages", format!("{c} installed"), None));
                }
            } else if env_path.exists() {
                // Something that is not a conda environment (no conda-meta/, or a build that
                // never finished): `pyve --init --force` will not replace it and `pyve sync`
                // sees it there, so it has to go first.
                checks.push(check(
                    CheckStatus::Error,
                    "Environment",
                    format!("{ENVS_DIR}/{n} is not a conda environment (no conda-meta/, or its build did not finish)"),
                    Some(format!("move '{ENVS_DIR}/{n}' away, then run `pyve sync`")),
                ));
            } else {
                checks.push(check(
                    CheckStatus::Error,
                    "Environment",
                    format!("not found: {ENVS_DIR}/{n}"),
                    Some("create it from .pyve/config with `pyve sync`".into()),
                ));
            }
        }
    }
    // The channels, as the built-in engine reaches them.
    let conda = CondaConfig::load();
    let channels = match EnvFile::read(&root.join(ENVIRONMENT_YML)) {
        Ok(f) => Some(f.channels),
        Err(_) => LockFile::read(&root.join(CONDA_LOCK_YML))
            .ok()
            .map(|l| l.channels.iter().filter_map(|c| c.parse::<NamedChannelOrUrl>().ok()).collect()),
    };
    if let Some(c) = channels {
        checks.push(check(CheckStatus::Info, "Channels", channels_detail(&conda, &c, root), None));
    }
    for e in &conda.errors {
        checks.push(check(
            CheckStatus::Warn,
            "Conda configuration",
            format!("not read: {e}"),
            Some("fix the file's YAML".into()),
        ));
    }
    // The files.
    let state = lock::lock_state(root);
    match state.file() {
        // `Conda file`, not the original's `Environment file`: that label is the host's `.env`
        // line (docs/decisions.md, doctor labels).
        // An environment.yml that cannot be read stops every rebuild (`pyve sync`, `--init`).
        Some(f) if f == ENVIRONMENT_YML => match EnvFile::read(&root.join(ENVIRONMENT_YML)) {
            Ok(_) => checks.push(check(CheckStatus::Ok, "Conda file", f, None)),
            Err(e) => checks.push(check(
                CheckStatus::Error,
                "Conda file",
                format!("{f} (invalid: {e})"),
                Some("fix environment.yml (its YAML, and a `dependencies:` list), then run `pyve sync`".into()),
            )),
        },
        Some(f) => checks.push(check(CheckStatus::Ok, "Conda file", f, None)),
        None => checks.push(check(CheckStatus::Warn, "Conda file", "not found", Some("create environment.yml".into()))),
    }
    checks.push(match &state {
        LockState::Fresh => check(CheckStatus::Ok, "Lock file", "conda-lock.yml (up to date)", None),
        LockState::LockOnly => check(
            CheckStatus::Warn,
            "Lock file",
            format!("conda-lock.yml (unchecked): {LOCK_ONLY}"),
            Some(LOCK_ONLY_HINT.into()),
        ),
        LockState::Stale { unmet } => check(
            CheckStatus::Warn,
            "Lock file",
            format!("conda-lock.yml (stale): it does not satisfy environment.yml: {}", unmet.join("; ")),
            Some(format!("regenerate it: {}", lock::regenerate_hint())),
        ),
        LockState::Missing => check(
            CheckStatus::Warn,
            "Lock file",
            "missing",
            Some(format!("Generate with: {}", lock::regenerate_hint())),
        ),
        LockState::Neither => check(CheckStatus::Warn, "Lock file", "missing (no environment.yml either)", None),
    });
    checks
}

/// `conda-forge → URL, ...` and where the user's conda configuration came from.
fn channels_detail(conda: &CondaConfig, channels: &[NamedChannelOrUrl], root: &Path) -> String {
    let default = [NamedChannelOrUrl::Name("conda-forge".into())];
    let channels = if channels.is_empty() { &default[..] } else { channels };
    let shown: Vec<String> = channels
        .iter()
        .map(|c| {
            let urls = conda.effective_urls(std::slice::from_ref(c), root);
            let shown: Vec<String> = urls
                .iter()
                .map(|u| match conda.mirror_of(u) {
                    Some(m) => format!("{u} (mirror: {m})"),
                    None => u.clone(),
                })
                .collect();
            if urls.len() == 1 && urls[0] == c.to_string().trim_end_matches('/') {
                shown[0].clone()
            } else {
                format!("{c} → {}", shown.join(" + "))
            }
        })
        .collect();
    let from = if conda.sources.is_empty() {
        "no .condarc/.mambarc".to_string()
    } else {
        conda.sources.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    };
    format!("{} (conda configuration: {from})", shown.join(", "))
}

fn engine_label(s: &MambaSettings) -> String {
    let c = match s.engine {
        EngineChoice::Auto => "auto",
        EngineChoice::Builtin => "builtin",
        EngineChoice::Micromamba => "micromamba",
    };
    format!("{c}, from {}", s.engine_source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_name_their_maker() {
        assert_eq!(leftover_pid(".demo.tmp-12"), Some(12));
        assert_eq!(leftover_pid(".demo.old-7"), Some(7));
        assert_eq!(leftover_pid(".my.old-env.tmp-3"), Some(3));
        assert_eq!(leftover_pid(".demo.tmp-x"), None);
        assert_eq!(leftover_pid("demo.tmp-12"), None);
        assert!(!maker_gone(None), "an unknown maker is never assumed gone");
        assert!(!maker_gone(Some(std::process::id())));
        assert!(maker_gone(Some(999_999_999)));
    }

    #[test]
    fn a_pidless_incomplete_marker_is_stale_only_when_old() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join(".demo.incomplete");
        std::fs::write(&m, "").unwrap();
        assert!(!incomplete_marker_stale(&m), "a fresh empty marker may be a build at work");
        let old = std::time::SystemTime::now() - PIDLESS_MARKER_STALE_AFTER - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&m).unwrap().set_modified(old).unwrap();
        assert!(incomplete_marker_stale(&m), "an old empty marker is stale");
        std::fs::write(&m, std::process::id().to_string()).unwrap();
        std::fs::File::options().write(true).open(&m).unwrap().set_modified(old).unwrap();
        assert!(!incomplete_marker_stale(&m), "a live builder's marker is kept, however old");
        std::fs::write(&m, "999999999").unwrap();
        assert!(incomplete_marker_stale(&m), "a dead builder's marker is stale");
    }
}
