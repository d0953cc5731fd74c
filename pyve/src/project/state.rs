//! `.pyve/state.json`: what pyve made in this project, for `pyve run` (the recorded
//! activation: no plugin is started), re-initialisation and purge (only what pyve created is
//! removed). Machine-local (absolute paths), so it is listed in `.gitignore`; the user-facing
//! record is `.pyve/config`.

use std::path::{Path, PathBuf};

use pyve_protocol::types::{Activation, Settings};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file, relative to the project root.
pub const STATE_FILE: &str = ".pyve/state.json";
const FORMAT: u32 = 1;
/// The largest state read (one pyve writes is a few KiB).
const MAX_SIZE: usize = 1 << 20;

fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    pyve_fs::read_bounded(path, MAX_SIZE as u64)
}

/// The state of an initialised project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Format of this file.
    pub format: u32,
    /// The pyve that wrote it.
    pub pyve_version: String,
    /// The project root it was written for (a moved project must be re-initialised).
    pub project_root: PathBuf,
    /// The backend and the plugin that serves it.
    pub backend: String,
    /// The plugin's name (usually the backend's).
    pub plugin: String,
    /// The plugin's version at creation.
    pub plugin_version: String,
    /// The environment.
    pub env_path: PathBuf,
    /// Its interpreter.
    #[serde(default)]
    pub interpreter: Option<PathBuf>,
    /// Its Python version.
    #[serde(default)]
    pub python_version: Option<String>,
    /// How to run commands in it.
    pub activation: Activation,
    /// The backend's settings as it returned them (sent back in later requests).
    #[serde(default)]
    pub settings: Settings,
    /// Project files the backend created (relative).
    #[serde(default)]
    pub created_files: Vec<PathBuf>,
    /// Files pyve itself manages.
    #[serde(default)]
    pub managed: Managed,
    /// The project files the environment was made from (the backend's `inputs`), by path
    /// relative to the root: the sha256 of each, `None` when it did not exist. `pyve sync`
    /// rebuilds when one differs.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub inputs: std::collections::BTreeMap<String, Option<String>>,
    /// The sha256 of the `.env` `pyve run` last announced (a new or changed one is announced
    /// once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dotenv_seen: Option<String>,
}

/// The largest input file hashed (a conda lock can be large).
const MAX_INPUT: u64 = 64 << 20;

/// The sha256 of each input file (`None` when absent), by its path relative to `root`. Paths
/// that are absolute or climb out of the project are left out.
pub fn hash_inputs(root: &Path, inputs: &[PathBuf]) -> std::collections::BTreeMap<String, Option<String>> {
    use sha2::{Digest, Sha256};
    let mut out = std::collections::BTreeMap::new();
    for rel in inputs {
        let plain = rel.components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain || rel.as_os_str().is_empty() {
            continue;
        }
        let Some(key) = rel.to_str() else { continue };
        let digest = match pyve_fs::read_bounded(&root.join(rel), MAX_INPUT) {
            Ok(bytes) => Some(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            // Unreadable (not a file, too large): never equal to a recorded digest.
            Err(e) => Some(format!("unreadable: {e}")),
        };
        out.insert(key.to_owned(), digest);
    }
    out
}

/// What changed among the recorded inputs since: `requirements.txt changed`, `uv.lock
/// appeared`, `setup.py was removed`.
pub fn changed_inputs(root: &Path, recorded: &std::collections::BTreeMap<String, Option<String>>) -> Vec<String> {
    let files: Vec<PathBuf> = recorded.keys().map(PathBuf::from).collect();
    let now = hash_inputs(root, &files);
    let mut out = Vec::new();
    for (file, was) in recorded {
        match (was, now.get(file).cloned().flatten()) {
            (Some(a), Some(b)) if *a == b => {}
            (None, None) => {}
            (Some(_), Some(_)) => out.push(format!("{file} changed")),
            (None, Some(_)) => out.push(format!("{file} appeared")),
            (Some(_), None) => out.push(format!("{file} was removed")),
        }
    }
    out
}

/// Why the environment recorded in `state` no longer matches the project at `root`, besides
/// its absence: the inputs that changed, and a failed install of the declared dependencies
/// (the backend's `deps` setting with an `error`, which the bundled backends write when the
/// install failed and the environment was kept: nothing changed on disk, yet the environment
/// does not hold what the project declares).
pub fn drift(root: &Path, state: &State) -> Vec<String> {
    let mut out = changed_inputs(root, &state.inputs);
    if state.failed_install() {
        out.push("the last install of the project's dependencies failed".to_owned());
    }
    out
}

impl State {
    /// The backend recorded that installing the project's dependencies failed.
    pub fn failed_install(&self) -> bool {
        let Some(deps) = self.settings.get("deps") else { return false };
        deps.get("installed") != Some(&serde_json::Value::Bool(true))
            && deps.get("error").is_some_and(serde_json::Value::is_string)
    }
}

/// The host's own files and what it did to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Managed {
    /// pyve wrote `.envrc`.
    #[serde(default)]
    pub envrc: bool,
    /// pyve created `.env`.
    #[serde(default)]
    pub dotenv: bool,
    /// pyve created `.gitignore`.
    #[serde(default)]
    pub gitignore_created: bool,
    /// Lines pyve added to `.gitignore` (removed again on purge).
    #[serde(default)]
    pub gitignore_lines: Vec<String>,
    /// pyve ended the last line of the user's `.gitignore` (it had no final newline) before
    /// adding its own: purge takes that newline back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gitignore_added_eol: bool,
    /// The project was initialised with `--no-direnv`: a later `--init --force` keeps it so
    /// (no `.envrc` is created again).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_direnv: bool,
    /// The environment was there before the project's first `--init`, which kept it (a venv
    /// the user made): not pyve's, so `--purge` keeps it unless named (`--purge DIR`). A
    /// rebuild (`--force`, `pyve sync`) makes it pyve's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub env_kept: bool,
}

impl State {
    /// A new state for the current pyve.
    pub fn new(project_root: &Path) -> Self {
        State {
            format: FORMAT,
            pyve_version: crate::env::VERSION.to_owned(),
            project_root: project_root.to_path_buf(),
            ..State::default()
        }
    }

    /// Read the state of the project at `root`; `None` when there is none. A state written for
    /// another location or in an unknown format is an error with a hint.
    pub fn load(root: &Path) -> Result<Option<State>> {
        let path = root.join(STATE_FILE);
        let bytes = match read_bounded(&path) {
            Err(e) if pyve_fs::too_large(&e) => {
                return Err(Error::new(format!(
                    "{} is larger than {} MiB: it is not one pyve wrote",
                    path.display(),
                    MAX_SIZE >> 20
                ))
                .hint("re-create it with `pyve --init --force` (the environment is rebuilt)"));
            }
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::new(format!("cannot read {}", path.display())).because(e)),
        };
        let state: State = serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(format!("{} is damaged", path.display()))
                .because(e)
                .hint("re-create it with `pyve --init --force` (the environment is rebuilt)")
        })?;
        if state.format != FORMAT {
            return Err(Error::new(format!(
                "{} was written by another pyve (format {})",
                path.display(),
                state.format
            ))
            .hint("re-initialise the project with this pyve: pyve --init --force"));
        }
        if state.project_root != root {
            return Err(Error::new(format!(
                "this project was initialised at {} and has moved to {}",
                state.project_root.display(),
                root.display()
            ))
            .hint("an environment cannot move with its project: rebuild it with `pyve --init --force`"));
        }
        Ok(Some(state))
    }

    /// The JSON text of the state.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("the state serializes");
        text.push('\n');
        text
    }
}
