//! What the project declares for Python (requirements.txt, pyproject.toml's `[project]
//! dependencies`, the `dev` dependency group or `--groups`, the project itself editable when it
//! is a buildable package: `pyve-pyproject`, as the venv backend reads them) installed into the
//! conda environment with its own pip, after its conda packages and environment.yml's `pip:`
//! entries (docs/micromamba-backend.md, "The project's Python dependencies"). A failed install
//! keeps the environment: the error names the requirement and the command to retry.

use std::path::Path;
use std::process::{Command, Stdio};

use pyve_pyproject::{Declared, read_declared, read_declared_groups, shell_word};
use pyve_sdk::types::LogLevel;
use pyve_sdk::{Context, Error, Result};
use serde_json::{Value, json};

/// The settings key of the record (a nested object: it stays out of `.pyve/config`).
pub const RECORD_KEY: &str = "deps";

/// The project files whose declarations are installed: `pyve sync` rebuilds when one changes.
pub const INPUTS: [&str; 4] = ["pyproject.toml", "requirements.txt", "setup.py", "setup.cfg"];

/// How many of pip's last lines are kept for the error message.
const TAIL: usize = 80;

/// Install what the project at `root` declares into the conda environment at `env` (named
/// `name`). Returns the record for the settings; `Err` only when cancelled.
pub fn install(cx: &Context<'_>, root: &Path, env: &Path, name: &str, groups: Option<&[String]>) -> Result<Value> {
    let declared = match read_declared_groups(root, groups) {
        Ok(d) => d,
        Err(e) => {
            cx.log(
                LogLevel::Error,
                format!(
                    "Not installing the project's Python dependencies: {e}; the environment is kept ({})",
                    e.next_step("pyve sync")
                ),
            );
            return Ok(json!({"installed": false, "error": e.to_string()}));
        }
    };
    if declared.uv_lock {
        cx.warn(
            "uv.lock pins a virtual environment (the venv backend) and is not installed into a conda environment; \
             installing pyproject.toml's and requirements.txt's declarations with the environment's pip instead",
        );
    }
    let args = declared.install_args();
    if args.is_empty() {
        cx.debug("the project declares no Python dependencies (no requirements.txt or pyproject.toml dependencies)");
        return Ok(record(&declared, true, None));
    }
    let what = declared.summary();
    let python = env.join("bin").join("python");
    if !python.is_file() {
        let message = format!(
            "the project declares Python dependencies ({what}), but the conda environment has no python to install them with"
        );
        cx.log(
            LogLevel::Error,
            format!("{message}\n  add python and pip to environment.yml's dependencies, then run `pyve sync`"),
        );
        return Ok(record(&declared, false, Some(&message)));
    }
    let retry =
        format!("pyve run python -m pip install {}", args.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" "));
    cx.info(format!("Installing the project's Python dependencies ({what}) with the environment's pip..."));
    let progress = cx.progress(format!("Installing {what}"), None);
    let out = Command::new(&python)
        .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input"])
        .args(&args)
        .current_dir(root)
        .env("PYTHONNOUSERSITE", "1")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .output();
    progress.end();
    if cx.is_cancelled() {
        return Err(Error::cancelled());
    }
    let (why, tail) = match out {
        Ok(o) if o.status.success() => {
            for l in String::from_utf8_lossy(&o.stdout).lines().filter(|l| !l.trim().is_empty()) {
                cx.log(LogLevel::Trace, l.to_owned());
            }
            cx.success(format!("Installed the project's Python dependencies ({what})"));
            return Ok(record(&declared, true, None));
        }
        Ok(o) => {
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            let lines: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect();
            let tail = lines[lines.len().saturating_sub(TAIL)..].to_vec();
            (format!("`{} -m pip install` {}", python.display(), o.status), tail)
        }
        Err(e) => (format!("cannot run {} -m pip: {e}", python.display()), Vec::new()),
    };
    for l in &tail {
        cx.debug(l.clone());
    }
    let culprit = declared.culprit(root, &tail);
    let message = format!(
        "Installing the project's Python dependencies failed{}: {why}",
        culprit.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
    );
    cx.log(
        LogLevel::Error,
        format!("{message}\n  The environment '{name}' is kept; fix the declaration, then retry with: {retry}"),
    );
    Ok(record(&declared, false, Some(&message)))
}

fn record(d: &Declared, ok: bool, error: Option<&str>) -> Value {
    let mut r = json!({"installed": ok, "from": "declarations", "installer": "pip", "files": d.files,
                       "groups": d.groups, "editable": d.editable});
    if let Some(e) = error {
        r["error"] = Value::from(e);
    }
    r
}

/// The record when the install was not asked for (`--no-install-deps`).
pub fn skipped(cx: &Context<'_>, root: &Path) -> Value {
    let files = read_declared(root).map(|d| d.files).unwrap_or_default();
    if !files.is_empty() {
        cx.info("Not installing the project's Python dependencies (--no-install-deps)");
    }
    json!({"installed": false, "skipped": "no-install-deps", "files": files})
}
