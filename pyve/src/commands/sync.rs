//! `pyve sync [--check]`: make the environment match the project again.
//!
//! The backend names the project files the environment is made from (`inputs` of
//! `env/create`: requirements, pyproject.toml, uv.lock, the version pin, environment.yml, ...);
//! `pyve --init` records their sha256 in `.pyve/state.json`. The environment is out of date
//! when one of them changed, appeared or went, when it is missing, or when `.pyve/config` names
//! another backend. Checking reads a few files and starts no plugin, so it costs a few
//! milliseconds; syncing rebuilds the environment as `pyve --init --force` does (beside the
//! old one, swapped in when whole, dependencies installed, hooks run).

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::project::{self, Config, State};
use crate::ui;

/// Why the environment of the project at `root` is out of date (empty: up to date).
pub fn out_of_date(root: &std::path::Path) -> Result<Vec<String>> {
    let config = Config::load(root)?;
    let state = State::load(root)?;
    let mut reasons = Vec::new();
    match &state {
        None => reasons.push(format!("no environment is recorded ({} is missing)", project::STATE_FILE)),
        Some(s) => {
            if !s.env_path.exists() {
                reasons.push(format!("the environment {} is missing", project::display_in(root, &s.env_path)));
            }
            reasons.extend(changes(root, config.as_ref(), s));
        }
    }
    Ok(reasons)
}

/// What changed since the environment recorded in `state` was made: its input files (when it
/// is there), the backend `.pyve/config` names, a backend setting edited in `.pyve/config`.
/// `pyve sync` and doctor's `Environment inputs` line both say these, so they never disagree.
pub fn changes(root: &std::path::Path, config: Option<&Config>, s: &State) -> Vec<String> {
    let mut reasons = Vec::new();
    if s.env_path.exists() {
        reasons.extend(project::state::drift(root, s));
    }
    if let Some(b) = config.and_then(|c| c.backend.as_deref())
        && s.backend != b
    {
        reasons.push(format!(".pyve/config names the backend {b}, the environment is {}'s", s.backend));
    }
    // A setting of the backend edited in .pyve/config since the environment was made (a
    // micromamba `env_name` naming another environment): only the keys the state records.
    if let Some(c) = config
        && c.backend.as_deref() == Some(s.backend.as_str())
    {
        for (k, v) in c.backend_settings(&s.backend) {
            if let Some(was) = s.settings.get(&k)
                && *was != v
            {
                reasons.push(format!(".pyve/config's {}.{k} changed ({was} → {v})", s.backend));
            }
        }
    }
    reasons
}

/// `pyve sync [--check]`.
pub fn run(env: &HostEnv, check: bool) -> Result<u8> {
    let cwd = project::current_dir()?;
    let Some(root) = env.project_root(&cwd) else {
        return Err(Error::new(format!(
            "no pyve project here: no {} in {} or its parents",
            project::CONFIG_FILE,
            cwd.display()
        ))
        .hint("set the project up with `pyve --init`"));
    };
    let reasons = out_of_date(&root)?;
    if reasons.is_empty() {
        ui::success("Environment up to date");
        return Ok(0);
    }
    if check {
        for r in &reasons {
            ui::info(&format!("Out of date: {r}"));
        }
        ui::hint("run `pyve sync` to rebuild it");
        return Ok(1);
    }
    ui::info(&format!("Syncing the environment: {}", reasons.join("; ")));
    crate::commands::init::rebuild_for_sync(env, &root)
}
