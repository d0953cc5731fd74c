//! Installing what the project declares into the environment `env/create` made
//! (`docs/venv-backend.md`, "Dependencies"): `uv sync --frozen` for a `uv.lock`, else one
//! `uv pip install` (uv on PATH or provisioned into pyve's cache) or the environment's own
//! `python -m pip install` of `requirements.txt`, `[project] dependencies`, the `dev` group and
//! `-e .`. The installer's output goes to `$/progress` and `--verbose` (never to stdout, the
//! protocol's channel). A failed install keeps the environment: the error names the requirement
//! and the command to retry, and `env/create` still succeeds.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use pyve_sdk::types::LogLevel;
use pyve_sdk::{Context, Error, Result};
use pyve_venv::deps::{Declared, read_declared, shell_word};
use serde_json::{Value, json};

/// The settings key of the record (a nested object: it stays out of `.pyve/config`).
pub const RECORD_KEY: &str = "deps";

/// How many of the installer's last lines are kept for the error message.
const TAIL: usize = 80;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Uv,
    Pip,
}

struct Installer {
    kind: Kind,
    /// The program (uv's path, or the environment's python).
    program: PathBuf,
    /// How the user retries it (`uv` when on PATH, else the full path).
    shown: String,
    /// For the messages: `uv (/path)`, `pip (PYVE_NO_UV=1)`.
    label: String,
}

/// Install what the project at `root` declares into the environment at `env` (directory name
/// `dir`). Returns the record for the settings; `Err` only when cancelled.
pub fn install(cx: &Context<'_>, root: &Path, env: &Path, dir: &str, groups: Option<&[String]>) -> Result<Value> {
    let declared = match pyve_venv::deps::read_declared_groups(root, groups) {
        Ok(d) => d,
        Err(e) => {
            cx.log(
                LogLevel::Error,
                format!(
                    "Not installing the project's dependencies: {e}; the environment is kept ({})",
                    e.next_step("pyve sync")
                ),
            );
            return Ok(json!({"installed": false, "error": e.to_string()}));
        }
    };
    if declared.is_empty() {
        cx.debug("the project declares no dependencies (no requirements.txt, pyproject.toml dependencies or uv.lock)");
        return Ok(record(&declared, None, true, None));
    }
    let python = env.join("bin").join("python");
    let installer = choose(cx, &python);
    let lock = declared.uv_lock && installer.kind == Kind::Uv;
    if declared.uv_lock && !lock {
        cx.warn(
            "uv.lock is installed exactly only with uv, which is not available; installing the declarations \
             (requirements.txt, pyproject.toml) with pip instead",
        );
    }
    if lock && let Some(why) = pyve_pyproject::uv_lock_stale(root) {
        cx.warn(format!(
            "uv.lock is out of date with pyproject.toml ({why}); installing the lock as it is \
             (run `uv lock` to update it, then `pyve sync`)"
        ));
    }
    let (args, what) = if lock {
        (
            vec!["sync", "--frozen", "--inexact", "--no-python-downloads"]
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>(),
            "uv.lock".to_owned(),
        )
    } else {
        let args = declared.install_args();
        let what = declared.summary();
        let mut full: Vec<String> = match installer.kind {
            Kind::Uv => vec!["pip".into(), "install".into(), "--python".into(), python.display().to_string()],
            Kind::Pip => ["-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "--no-input"]
                .map(String::from)
                .to_vec(),
        };
        full.extend(args);
        (full, what)
    };
    let retry = retry_command(&installer, &declared, lock, dir);
    let command = |extra: &[&str]| {
        let mut cmd = Command::new(&installer.program);
        cmd.args(&args)
            .args(extra)
            .current_dir(root)
            .env("VIRTUAL_ENV", env)
            .env_remove("PYTHONHOME")
            .env_remove("PYTHONPATH");
        if lock {
            cmd.env("UV_PROJECT_ENVIRONMENT", env);
        }
        cmd
    };
    cx.info(format!("Installing the project's dependencies ({what}) with {}...", installer.label));
    let progress = cx.progress(format!("Installing {what}"), None);
    if installer.kind == Kind::Uv {
        // uv's cache first, without the network: a second project installs offline, in a
        // fraction of the time. Its output matters only when the real run follows.
        let mut offline = command(&["--offline", "--quiet"]);
        cx.debug(format!("running {} --offline --quiet", line(&offline)));
        offline.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        if offline.status().is_ok_and(|s| s.success()) {
            progress.end();
            cx.success(format!("Installed the project's dependencies ({what}, from uv's cache)"));
            return Ok(record(&declared, Some(&installer), true, None));
        }
    }
    let mut cmd = command(&[]);
    cx.debug(format!("running {}", line(&cmd)));
    let outcome = run(cx, &mut cmd, &progress);
    progress.end();
    match outcome {
        Outcome::Ok => {
            cx.success(format!("Installed the project's dependencies ({what})"));
            Ok(record(&declared, Some(&installer), true, None))
        }
        Outcome::Cancelled => Err(Error::cancelled()),
        Outcome::Failed(why, tail) => {
            let culprit = declared.culprit(root, &tail);
            let message = format!(
                "Installing the project's dependencies failed{}: {why}",
                culprit.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
            );
            for l in &tail {
                cx.debug(l.clone());
            }
            cx.log(
                LogLevel::Error,
                format!("{message}\n  The environment '{dir}' is kept; fix the declaration, then retry with: {retry}"),
            );
            Ok(record(&declared, Some(&installer), false, Some(&message)))
        }
    }
}

fn record(d: &Declared, installer: Option<&Installer>, ok: bool, error: Option<&str>) -> Value {
    let mut r = json!({
        "installed": ok,
        "from": if d.uv_lock && installer.is_some_and(|i| i.kind == Kind::Uv) { "uv.lock" } else { "declarations" },
        "files": d.files,
        "groups": d.groups,
        "editable": d.editable,
    });
    if let Some(i) = installer {
        r["installer"] = Value::from(if i.kind == Kind::Uv { "uv" } else { "pip" });
    }
    if let Some(e) = error {
        r["error"] = Value::from(e);
    }
    r
}

/// The record when the install was not asked for (`--no-install-deps`).
pub fn skipped(cx: &Context<'_>, root: &Path) -> Value {
    cx.info("Not installing the project's dependencies (--no-install-deps)");
    let files = read_declared(root).map(|d| d.files).unwrap_or_default();
    json!({"installed": false, "skipped": "no-install-deps", "files": files})
}

/// uv when on PATH or in pyve's cache (provisioned there once when missing), else pip.
fn choose(cx: &Context<'_>, python: &Path) -> Installer {
    let pip = |why: String| Installer {
        kind: Kind::Pip,
        program: python.to_path_buf(),
        shown: "pip".into(),
        label: format!("pip ({why})"),
    };
    if pyve_venv::uv::disabled() {
        return pip(format!("{}=1", pyve_venv::uv::NO_UV_VAR));
    }
    if let Some(uv) = on_path("uv") {
        return Installer { kind: Kind::Uv, label: format!("uv ({})", uv.display()), program: uv, shown: "uv".into() };
    }
    let Some(cache) = pyve_venv::policy::default_cache_dir() else { return pip("uv is not on PATH".into()) };
    let copy = |uv: PathBuf| Installer {
        kind: Kind::Uv,
        label: format!("uv (pyve's copy, {})", uv.display()),
        shown: shell_word(&uv.display().to_string()),
        program: uv,
    };
    if let Some(uv) = pyve_venv::uv::cached(&cache) {
        return copy(uv);
    }
    cx.info(format!(
        "uv is not on PATH; fetching it once into pyve's cache (set {}=1 to keep pip)",
        pyve_venv::uv::NO_UV_VAR
    ));
    let progress = cx.progress("Fetching uv", None);
    let provisioned = pyve_venv::uv::Provision::prepare(&cache).map_err(|e| e.to_string()).and_then(|p| {
        let out =
            p.command(python).stdin(Stdio::null()).output().map_err(|e| format!("cannot run pip download: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no error output").trim().to_owned();
            return Err(format!("pip download uv failed ({}): {last}", out.status));
        }
        p.finish().map_err(|e| e.to_string())
    });
    progress.end();
    match provisioned {
        Ok((uv, version)) => {
            cx.success(format!("Provisioned {version} into {}", uv.display()));
            copy(uv)
        }
        Err(e) => {
            cx.warn(format!("Could not provision uv ({e}); installing with pip"));
            pip("uv could not be provisioned".into())
        }
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|c| std::fs::metadata(c).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// The command the user runs to retry, from the project root.
fn retry_command(i: &Installer, d: &Declared, lock: bool, dir: &str) -> String {
    if lock {
        return format!("UV_PROJECT_ENVIRONMENT={} {} sync --frozen --inexact", shell_word(dir), i.shown);
    }
    let args: Vec<String> = d.install_args().iter().map(|a| shell_word(a)).collect();
    match i.kind {
        Kind::Uv => format!("pyve run {} pip install {}", i.shown, args.join(" ")),
        Kind::Pip => format!("pyve run pip install {}", args.join(" ")),
    }
}

fn line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| shell_word(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

enum Outcome {
    Ok,
    Cancelled,
    /// Why (the exit status or the spawn error), and the output's last lines.
    Failed(String, Vec<String>),
}

/// Run `cmd`, its output lines as progress reports (and `--verbose` lines), until it exits or
/// the request is cancelled (then it is killed).
fn run(cx: &Context<'_>, cmd: &mut Command, progress: &pyve_sdk::Progress<'_>) -> Outcome {
    let mut child = match cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("cannot run `{}`: {e}", line(cmd)), Vec::new()),
    };
    let (tx, rx) = mpsc::channel::<String>();
    let mut readers = Vec::new();
    let out: Option<Box<dyn std::io::Read + Send>> = child.stdout.take().map(|o| Box::new(o) as _);
    let err: Option<Box<dyn std::io::Read + Send>> = child.stderr.take().map(|e| Box::new(e) as _);
    for stream in [out, err].into_iter().flatten() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            for l in std::io::BufReader::new(stream).lines().map_while(std::result::Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        }));
    }
    drop(tx);
    let mut tail: Vec<String> = Vec::new();
    let mut cancelled = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(l) => {
                let trimmed = l.trim_end().to_owned();
                if trimmed.trim().is_empty() {
                    continue;
                }
                progress.report(trimmed.trim().to_owned(), None);
                cx.log(LogLevel::Trace, trimmed.clone());
                if tail.len() == TAIL {
                    tail.remove(0);
                }
                tail.push(trimmed);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !cancelled && cx.is_cancelled() {
            cancelled = true;
            let _ = child.kill();
        }
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait();
    if cancelled {
        return Outcome::Cancelled;
    }
    match status {
        Ok(s) if s.success() => Outcome::Ok,
        Ok(s) => Outcome::Failed(format!("`{}` {s}", line(cmd)), tail),
        Err(e) => Outcome::Failed(format!("waiting for `{}`: {e}", line(cmd)), tail),
    }
}
