//! The two engines behind one trait, and the policy that picks one.
//!
//! - [`Builtin`]: rattler in-process (gateway, resolvo, installer); needs no binary.
//! - [`Binary`]: drives a micromamba executable (`create -p PREFIX -f FILE -y`,
//!   `list -p PREFIX --json`, `--version`), keeping the user's `.condarc`, proxies, mirrors.

mod binary;
mod builtin;

use std::path::{Path, PathBuf};

pub use binary::Binary;
pub use builtin::Builtin;

use crate::discovery::Found;
use crate::envfile::EnvFile;
use crate::lock::LockFile;

/// What to build an environment from.
#[derive(Debug, Clone)]
pub enum Source {
    /// environment.yml: solved from its channels.
    EnvFile(EnvFile),
    /// conda-lock.yml: installed as locked, no solve.
    Lock(LockFile),
}

impl Source {
    /// The file.
    pub fn path(&self) -> &Path {
        match self {
            Source::EnvFile(f) => &f.path,
            Source::Lock(l) => &l.path,
        }
    }
}

/// One request to build an environment.
#[derive(Debug, Clone)]
pub struct CreateRequest<'a> {
    /// What to install.
    pub source: &'a Source,
    /// The environment's final, absolute place (what its files are written for).
    pub target: &'a Path,
    /// Where to build it: beside `target`, renamed in by the caller. Engines that cannot
    /// build elsewhere than their final prefix (micromamba) build at `target`.
    pub build_dir: &'a Path,
    /// The project root (relative `file:` channels are read against it).
    pub root: &'a Path,
    /// The package and repodata cache.
    pub cache_dir: PathBuf,
}

/// What an engine made.
#[derive(Debug, Clone, Default)]
pub struct Created {
    /// How many conda packages are installed.
    pub packages: usize,
    /// Whether the environment was built at `build_dir` (to be renamed) or at `target`.
    pub built_in_place: bool,
}

/// A package in an environment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Package {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Build string.
    #[serde(default, alias = "build_string")]
    pub build: String,
    /// Channel.
    #[serde(default, alias = "channel")]
    pub channel: String,
}

/// Why an engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Channels or packages could not be read.
    #[error("cannot read the channels: {0}")]
    Channels(String),
    /// No set of packages satisfies the specs.
    #[error("cannot solve the environment: {0}")]
    Solve(String),
    /// Installing failed.
    #[error("cannot install the packages: {0}")]
    Install(String),
    /// The micromamba binary failed.
    #[error("{0}")]
    Binary(String),
    /// A package was refused (its contents or its hash).
    #[error("{0}")]
    Refused(String),
    /// pip failed.
    #[error("{0}")]
    Pip(String),
}

/// An engine.
pub trait Engine {
    /// `builtin` or `micromamba`.
    fn name(&self) -> &'static str;
    /// Its version (rattler's, or the binary's).
    fn version(&self) -> String;
    /// The binary it drives, if any.
    fn binary(&self) -> Option<&Path> {
        None
    }
    /// Build the environment. `pip:` requirements are not this method's business (see
    /// [`install_pip`]) unless [`Engine::installs_pip`].
    fn create(&self, req: &CreateRequest<'_>) -> Result<Created, EngineError>;
    /// Whether `create` installs environment.yml's `pip:` section itself (micromamba does).
    fn installs_pip(&self) -> bool {
        false
    }
    /// The packages installed at `prefix`.
    fn list(&self, prefix: &Path) -> Result<Vec<Package>, EngineError>;
}

/// Which engine: `auto` (a found binary, else the built-in one), `builtin` or `micromamba`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// A found micromamba wins, else built-in.
    #[default]
    Auto,
    /// Always the built-in engine.
    Builtin,
    /// Always a micromamba binary.
    Micromamba,
}

impl EngineChoice {
    /// Parse `auto`, `builtin`, `micromamba`.
    pub fn parse(s: &str) -> Option<EngineChoice> {
        match s.trim() {
            "auto" | "" => Some(EngineChoice::Auto),
            "builtin" | "built-in" => Some(EngineChoice::Builtin),
            "micromamba" => Some(EngineChoice::Micromamba),
            _ => None,
        }
    }
}

/// The engine the policy picks: with `Auto`, the found binary if any, else built-in. `None`
/// when `Micromamba` is asked for and no binary was found (the caller bootstraps or fails).
pub fn pick(choice: EngineChoice, found: Option<&Found>) -> Option<Box<dyn Engine>> {
    match (choice, found) {
        (EngineChoice::Builtin, _) | (EngineChoice::Auto, None) => Some(Box::new(Builtin)),
        (_, Some(f)) => Some(Box::new(Binary::new(f.path.clone()))),
        (EngineChoice::Micromamba, None) => None,
    }
}

/// Install `requirements` with the environment's own `bin/python -m pip` (never a bare pip).
pub fn install_pip(prefix: &Path, requirements: &[String], no_deps: bool) -> Result<(), EngineError> {
    if requirements.is_empty() {
        return Ok(());
    }
    let python = prefix.join("bin").join("python");
    if !python.is_file() {
        return Err(EngineError::Pip(format!(
            "the environment has pip requirements ({}) but no Python ({} is missing); add python and pip to its dependencies",
            requirements.join(", "),
            python.display()
        )));
    }
    let mut cmd = std::process::Command::new(&python);
    cmd.args(["-m", "pip", "install", "--disable-pip-version-check"]);
    if no_deps {
        cmd.arg("--no-deps");
    }
    cmd.args(requirements).stdin(std::process::Stdio::null());
    let status = cmd.status().map_err(|e| EngineError::Pip(format!("cannot run {} -m pip: {e}", python.display())))?;
    if !status.success() {
        return Err(EngineError::Pip(format!(
            "`{} -m pip install {}` failed ({status})",
            python.display(),
            requirements.join(" ")
        )));
    }
    Ok(())
}

/// Resolve `requirements` with the environment's own pip, installing nothing (`pip install
/// --dry-run --report`): what pip would install on top of the environment's packages, as pip's
/// installation report (JSON). Run in `root`, so relative paths read as environment.yml's.
pub fn resolve_pip(prefix: &Path, requirements: &[String], root: &Path) -> Result<serde_json::Value, EngineError> {
    let python = prefix.join("bin").join("python");
    if !python.is_file() {
        return Err(EngineError::Pip(format!(
            "environment.yml has pip requirements ({}) but its packages have no Python to resolve them with; add python and pip to its dependencies",
            requirements.join(", ")
        )));
    }
    let dir = tempfile::tempdir().map_err(|e| EngineError::Pip(format!("cannot make a temporary directory: {e}")))?;
    let report = dir.path().join("report.json");
    let out = std::process::Command::new(&python)
        .args(["-m", "pip", "install", "--dry-run", "--quiet", "--disable-pip-version-check", "--no-input", "--report"])
        .arg(&report)
        .args(requirements)
        .current_dir(root)
        .env("PYTHONNOUSERSITE", "1")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| EngineError::Pip(format!("cannot run {} -m pip: {e}", python.display())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_owned();
        return Err(EngineError::Pip(format!(
            "pip could not resolve {} ({}): {last}",
            requirements.join(" "),
            out.status
        )));
    }
    let text = std::fs::read_to_string(&report).map_err(|e| {
        EngineError::Pip(format!("pip wrote no installation report ({e}); pyve needs pip 22.2 or newer"))
    })?;
    serde_json::from_str(&text).map_err(|e| EngineError::Pip(format!("pip's installation report is not JSON: {e}")))
}

/// Install a lock's pip packages with the environment's own pip, `--no-deps`: those with a
/// hash from a requirements file under `--require-hashes` (`NAME @ URL --hash=KIND:HEX`), the
/// others (allowed without `--strict`) from a second file without it.
pub fn install_locked_pip(prefix: &Path, requirements: &[crate::lock::PipRequirement]) -> Result<(), EngineError> {
    if requirements.is_empty() {
        return Ok(());
    }
    let python = prefix.join("bin").join("python");
    if !python.is_file() {
        return Err(EngineError::Pip(format!(
            "the lock has pip packages but the environment has no Python ({} is missing)",
            python.display()
        )));
    }
    let dir = tempfile::tempdir().map_err(|e| EngineError::Pip(format!("cannot make a temporary directory: {e}")))?;
    let (hashed, unhashed): (Vec<_>, Vec<_>) = requirements.iter().partition(|r| r.hash.is_some());
    for (set, file, require_hashes) in [(hashed, "hashed.txt", true), (unhashed, "unhashed.txt", false)] {
        if set.is_empty() {
            continue;
        }
        let path = dir.path().join(file);
        let text: String = set.iter().map(|r| r.line() + "\n").collect();
        std::fs::write(&path, text).map_err(|e| EngineError::Pip(format!("cannot write {}: {e}", path.display())))?;
        let mut cmd = std::process::Command::new(&python);
        cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-deps"]);
        if require_hashes {
            cmd.arg("--require-hashes");
        }
        cmd.arg("-r").arg(&path).stdin(std::process::Stdio::null());
        let status =
            cmd.status().map_err(|e| EngineError::Pip(format!("cannot run {} -m pip: {e}", python.display())))?;
        if !status.success() {
            let names: Vec<&str> = set.iter().map(|r| r.name.as_str()).collect();
            return Err(EngineError::Pip(format!(
                "`{} -m pip install{}` of the locked {} failed ({status})",
                python.display(),
                if require_hashes { " --require-hashes" } else { "" },
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// How many packages `conda-meta/` records (`*.json`).
pub fn count_packages(prefix: &Path) -> Option<u64> {
    let dir = std::fs::read_dir(prefix.join("conda-meta")).ok()?;
    Some(dir.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "json")).count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::Location;

    #[test]
    fn policy() {
        let f = Found { path: "/x/micromamba".into(), location: Location::System };
        assert_eq!(pick(EngineChoice::Auto, None).unwrap().name(), "builtin");
        assert_eq!(pick(EngineChoice::Auto, Some(&f)).unwrap().name(), "micromamba");
        assert_eq!(pick(EngineChoice::Builtin, Some(&f)).unwrap().name(), "builtin");
        assert_eq!(pick(EngineChoice::Micromamba, Some(&f)).unwrap().name(), "micromamba");
        assert!(pick(EngineChoice::Micromamba, None).is_none());
        assert_eq!(EngineChoice::parse("built-in"), Some(EngineChoice::Builtin));
        assert_eq!(EngineChoice::parse("conda"), None);
    }

    #[test]
    fn pip_needs_the_environments_python() {
        let d = tempfile::tempdir().unwrap();
        let e = install_pip(d.path(), &["requests".into()], false).unwrap_err();
        assert!(e.to_string().contains("no Python"), "{e}");
        install_pip(d.path(), &[], false).unwrap();
    }
}
