//! `pyve --validate [--json]`: is this project's set-up complete and consistent with this pyve?
//! The recorded pyve version, `.pyve` and its config (really parsed), the backend and its
//! plugin, the environment (asked of the backend: `env/describe`), its interpreter (started),
//! the environment file a conda backend needs, and the direnv files. Exit 0 when everything
//! passes, 1 when anything is an error, 2 when there are only warnings — errors win whatever
//! the order of the checks (the original let the last check decide, its defect 10).

use std::cmp::Ordering;
use std::path::Path;

use pyve_protocol::methods::request;
use pyve_protocol::types::EnvParams;

use super::doctor::{compare_versions, output_within, recorded};
use crate::backend::{self, Session};
use crate::env::{HostEnv, VERSION};
use crate::error::Result;
use crate::plugins;
use crate::project;
use crate::report::{CheckStatus, Report, ValidateJson};

/// The header, as the original printed it (30 `=`).
pub const HEADER: &str = "Pyve Installation Validation\n==============================\n";

/// `pyve --validate`.
pub fn run(env: &HostEnv, json: bool) -> Result<u8> {
    let cwd = project::current_dir()?;
    let root = env.project_root(&cwd);
    let mut r = Report::default();
    match &root {
        None => r.host_hint(
            CheckStatus::Error,
            "Configuration",
            format!(
                "{} not found in {} or its parents (the project is not initialized)",
                project::CONFIG_FILE,
                cwd.display()
            ),
            "Run 'pyve --init' to initialize it",
        ),
        Some(root) => checks(env, root, &mut r),
    }
    let counts = r.counts();
    let (code, result, last) = if counts.error > 0 {
        (1, "errors", "Validation completed with errors.")
    } else if counts.warn > 0 {
        (2, "warnings", "Validation completed with warnings.")
    } else {
        (0, "passed", "All validations passed.")
    };
    if json {
        let out = ValidateJson {
            pyve_version: VERSION.to_owned(),
            project_root: root.as_ref().map(|p| p.display().to_string()),
            checks: r.lines,
            counts,
            result: result.to_owned(),
            exit_code: code,
        };
        crate::ui::out(&format!("{}\n", crate::json::pretty(&out)));
    } else {
        crate::ui::out(&format!("{HEADER}\n{}\n{last}\n", r.text_coloured(crate::ui::get().color_stdout)));
    }
    Ok(code)
}

fn checks(env: &HostEnv, root: &Path, r: &mut Report) {
    // The config first: everything else depends on it.
    let mut first = Report::default();
    let rec = recorded(root, &mut first);
    let Some(config) = &rec.config else {
        r.lines.extend(first.lines);
        direnv_checks(root, r);
        return;
    };
    match config.pyve_version.as_deref() {
        None => r.host_hint(
            CheckStatus::Warn,
            "Pyve version",
            format!("not recorded (legacy project; current: {VERSION})"),
            "Run 'pyve --init --update' to add version tracking",
        ),
        Some(v) => match compare_versions(v, VERSION) {
            Ordering::Equal => r.host(CheckStatus::Ok, "Pyve version", format!("{v} (current)")),
            Ordering::Less => r.host_hint(
                CheckStatus::Warn,
                "Pyve version",
                format!("{v} (current: {VERSION})"),
                "Migration recommended. Run 'pyve --init --update' to update.",
            ),
            Ordering::Greater => r.host_hint(
                CheckStatus::Warn,
                "Pyve version",
                format!("{v} (current: {VERSION})"),
                "Project uses newer Pyve version. Consider upgrading, or run 'pyve --init --update' with this one.",
            ),
        },
    }
    r.host(CheckStatus::Ok, "Configuration", "valid");
    // A state that does not fit (a moved project) is an error, reported after the config.
    r.lines.extend(first.lines);

    // The backend must be in `.pyve/config` itself (the committed file, and what `--init
    // --update` reads), as the original checked; the one `.pyve/state.json` recorded only
    // names it in the hint.
    let Some(name) = config.backend.clone() else {
        let hint = match rec.state.as_ref().map(|s| s.backend.as_str()) {
            Some(b) => format!(
                "add `backend: {b}` (the backend that made the environment) to .pyve/config, or run 'pyve --init --force'"
            ),
            None => "add `backend: venv` (or another backend) to .pyve/config, or run 'pyve --init --force'".into(),
        };
        r.host_hint(CheckStatus::Error, "Backend", "not configured", hint);
        direnv_checks(root, r);
        return;
    };
    let inventory = plugins::inventory(env, crate::cli::BUILTINS);
    let known = backend::known_backends(&inventory);
    if !known.iter().any(|(n, _, _)| n == &name) {
        let mut names: Vec<&str> = known.iter().map(|(n, _, _)| n.as_str()).collect();
        names.sort();
        r.host_hint(
            CheckStatus::Error,
            "Backend",
            format!("{name} (unknown: no installed plugin provides it)"),
            format!(
                "install the plugin pyve-{name}, or set `backend:` in .pyve/config to one of: {}",
                names.join(", ")
            ),
        );
        direnv_checks(root, r);
        return;
    }
    r.host(CheckStatus::Ok, "Backend", name.clone());
    let entry = match backend::plugin_for(&inventory, &name) {
        Ok(e) => e,
        Err(e) => {
            r.push(
                CheckStatus::Error,
                "Backend plugin",
                Some(e.to_string()),
                e.hint_text().map(str::to_owned),
                crate::report::HOST,
            );
            env_file_check(&name, root, r);
            direnv_checks(root, r);
            return;
        }
    };
    let version = entry.manifest.as_ref().map(|m| m.version.as_str()).unwrap_or("?");
    r.host(
        CheckStatus::Ok,
        "Backend plugin",
        format!("{} {version} ({}, {})", entry.candidate.name, entry.candidate.kind, entry.candidate.path.display()),
    );
    if let Some(state) = &rec.state {
        crate::commands::doctor::plugin_drift(state, &entry, r);
    }
    crate::commands::doctor::drift_check(root, Some(config), rec.state.as_ref(), r);
    crate::commands::doctor::pin_checks(&inventory, r);

    let label = if name == "venv" { "Virtual environment" } else { "Environment" };
    let params = EnvParams { project_root: root.to_path_buf(), backend: name.clone(), settings: rec.settings.clone() };
    // The backend's own checks are asked in the same session; validate keeps the ones about the
    // project's declarations (DECLARATION_CHECKS), which doctor shows too.
    let mut declared: Vec<pyve_protocol::types::Check> = Vec::new();
    // The hint of the backend's own `Lock file` check (doctor's), so both say how to fix it.
    let mut lock_hint: Option<String> = None;
    // The version the environment's interpreter says it is, when it runs.
    let mut running: Option<String> = None;
    let described = Session::open(env, &entry, root).and_then(|mut s| {
        let d = s.call::<request::EnvDescribe>(&params).map_err(|e| e.to_error());
        if d.is_ok() {
            if let Ok(report) = s.call::<request::DoctorChecks>(&params) {
                lock_hint = report.checks.iter().find(|c| c.label == "Lock file").and_then(|c| c.hint.clone());
                declared =
                    report.checks.into_iter().filter(|c| DECLARATION_CHECKS.contains(&c.label.as_str())).collect();
            }
            s.close();
        }
        d
    });
    // A conda environment's name is the last part of its path (`.pyve/envs/NAME`).
    let env_name = described
        .as_ref()
        .ok()
        .and_then(|d| d.env_path.as_deref())
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned());
    match described {
        Err(e) => r.push(
            CheckStatus::Error,
            label,
            Some(format!("the backend could not describe it: {e}")),
            e.hint_text().map(str::to_owned),
            crate::report::HOST,
        ),
        Ok(d) => {
            let shown = d.env_path.as_deref().map(|p| project::display_in(root, p)).unwrap_or_else(|| "?".into());
            if !d.exists {
                // The project is initialised, so `pyve --init` would refuse: `pyve sync` makes a
                // missing environment from .pyve/config.
                let (what, hint) = if d.env_path.as_deref().is_some_and(Path::exists) {
                    (
                        "not a usable environment",
                        "Run 'pyve --init --force' to recreate it; if pyve will not replace it (it is not \
                         an environment pyve made), move it away and run 'pyve sync'.",
                    )
                } else {
                    ("missing", "Run 'pyve sync' to create it from .pyve/config (or 'pyve --init --force').")
                };
                r.host_hint(CheckStatus::Error, label, format!("{shown} ({what})"), hint);
            } else {
                r.host(CheckStatus::Ok, label, format!("{shown} (exists)"));
                match &d.interpreter {
                    None => r.host(CheckStatus::Info, "Python", "the backend names no interpreter"),
                    Some(python) => running = interpreter_check(root, python, r),
                }
            }
            if let Some(l) = &d.lock {
                lock_check(l, lock_hint.as_deref(), r);
            }
        }
    }
    for c in declared {
        r.push(c.status, c.label, c.detail, c.hint, &name);
    }
    env_file_check(&name, root, r);
    // The original's `✓ Environment name: N` (reference 2.8); a name the backend refuses is
    // the `Environment` error above.
    if name == "micromamba"
        && let Some(n) = env_name
    {
        r.host(CheckStatus::Ok, "Environment name", n);
    }
    if let Some(v) = rec.settings.get("python_version").and_then(|v| v.as_str()) {
        // A stale environment: the version asked for changed (`pyve --python-version`, an
        // edited config) and the environment was not rebuilt. `3.12` is met by any 3.12.*.
        match running.as_deref() {
            Some(now) if now != v && !now.starts_with(&format!("{v}.")) => r.host_hint(
                CheckStatus::Warn,
                "Python version",
                format!("{v} in .pyve/config, but the environment runs Python {now}"),
                "Recreate the environment with 'pyve --init --force'",
            ),
            _ => r.host(CheckStatus::Ok, "Python version", v.to_owned()),
        }
    }
    direnv_checks(root, r);
}

/// The labels of backend checks (`doctor/checks`) that `--validate` reports as well: they
/// compare the environment with what the project declares, so a set-up that contradicts them
/// does not validate. A backend in any language gets this by using the label (docs/protocol.md).
const DECLARATION_CHECKS: &[&str] = &["requires-python"];

/// The interpreter starts and says its version (returned).
fn interpreter_check(root: &Path, python: &Path, r: &mut Report) -> Option<String> {
    let shown = project::display_in(root, python);
    let out = output_within(
        std::process::Command::new(python)
            .args(["-I", "-c", "import sys; print(sys.version.split()[0])"])
            .env_remove("PYTHONHOME"),
        std::time::Duration::from_secs(30),
    );
    match out {
        Ok(o) if o.status.success() => {
            let v = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            r.host(CheckStatus::Ok, "Python", format!("{v} ({shown} runs)"));
            return Some(v);
        }
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned();
            r.host_hint(
                CheckStatus::Error,
                "Python",
                format!("{shown} does not run: it exited with {} ({last})", o.status),
                "Recreate the environment with 'pyve --init --force'",
            );
        }
        Err(e) => r.host_hint(
            CheckStatus::Error,
            "Python",
            format!("{shown} does not run: {e}"),
            "Recreate the environment with 'pyve --init --force'",
        ),
    }
    None
}

/// The backend's lock status (`env/describe` `lock`), the same one `pyve doctor` reports, with
/// the hint of doctor's `Lock file` check (`hint`) when the lock needs work.
fn lock_check(l: &pyve_protocol::types::LockStatus, hint: Option<&str>, r: &mut Report) {
    let file = l.file.as_deref().map(|f| f.display().to_string()).unwrap_or_else(|| "lock file".into());
    let detail = l.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
    match l.state.as_str() {
        "fresh" => r.host(CheckStatus::Ok, "Lock file", format!("{file} (up to date)")),
        "stale" | "unchecked" => {
            let detail = format!("{file} ({}){detail}", l.state);
            match hint {
                Some(h) => r.host_hint(CheckStatus::Warn, "Lock file", detail, h),
                None => r.host(CheckStatus::Warn, "Lock file", detail),
            }
        }
        "missing" => r.host(CheckStatus::Info, "Lock file", format!("missing{detail}")),
        _ => {}
    }
}

/// A conda backend builds from `environment.yml` (or its lock): one must be there.
fn env_file_check(backend: &str, root: &Path, r: &mut Report) {
    if backend != "micromamba" {
        return;
    }
    let found = ["environment.yml", "conda-lock.yml"].into_iter().find(|f| root.join(f).is_file());
    match found {
        // environment.yml that does not parse, or lists no dependencies, stops every rebuild.
        Some(f @ "environment.yml") if let Some(why) = unreadable_env_yml(&root.join(f)) => r.host_hint(
            CheckStatus::Error,
            "Environment file",
            format!("{f} (invalid: {why})"),
            "Fix environment.yml (its YAML, and a `dependencies:` list), then run 'pyve sync'.",
        ),
        Some(f) => r.host(CheckStatus::Ok, "Environment file", format!("{f} (exists)")),
        None => r.host_hint(
            CheckStatus::Error,
            "Environment file",
            "environment.yml (missing)",
            "Create environment.yml (name, channels, dependencies), or conda-lock.yml",
        ),
    }
}

/// Why `environment.yml` cannot be built from (None: it can, as far as its shape goes).
fn unreadable_env_yml(path: &Path) -> Option<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Some(e.to_string()),
    };
    match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(&text) {
        Err(e) => Some(e.to_string()),
        Ok(v) if v.get("dependencies").is_none() => Some("no `dependencies:` field".into()),
        Ok(_) => None,
    }
}

fn direnv_checks(root: &Path, r: &mut Report) {
    if root.join(".env").is_file() {
        r.host(CheckStatus::Ok, "direnv integration", ".env (exists)");
    } else {
        r.host_hint(
            CheckStatus::Warn,
            "direnv integration",
            ".env (missing)",
            "Create it with 'touch .env && chmod 600 .env' (pyve run and direnv load it)",
        );
    }
    if root.join(".envrc").is_file() {
        r.host(CheckStatus::Ok, "direnv integration", ".envrc (exists)");
    } else {
        r.host(
            CheckStatus::Info,
            "direnv integration",
            ".envrc (not used: 'pyve run' runs commands in the environment)",
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers_are_the_originals() {
        assert_eq!(super::HEADER.lines().nth(1).unwrap().len(), 30);
        assert_eq!(super::super::doctor::HEADER.lines().nth(1).unwrap().len(), 29);
    }
}
