//! The environment directory: what is there, and replacing or removing it safely.
//!
//! Replacing moves the old environment aside to a hidden sibling
//! `.<name>.pyve-old-<pid>-<n>` and deletes it only once the new one is in place; a process
//! that dies in between leaves the aside, which [`recover`] (run by every request) renames
//! back when the environment is missing, or deletes when the new one made it. Removing
//! renames the environment to a hidden `.<name>.pyve-tmp-<pid>-<n>` first, then deletes
//! that: a crash never leaves half an environment in place, and the library's
//! `cleanup_stale_temps` deletes what a crash left.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// What the environment path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvState {
    /// Nothing.
    Missing,
    /// A virtual environment (a directory with `pyvenv.cfg`).
    Venv,
    /// Something else, with why it is not a virtual environment.
    NotVenv(String),
}

/// Look at the environment path without following a symbolic link.
pub fn state(path: &Path) -> EnvState {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => EnvState::Missing,
        Err(e) => EnvState::NotVenv(format!("it cannot be inspected: {e}")),
        Ok(m) if m.file_type().is_symlink() => EnvState::NotVenv("it is a symbolic link".into()),
        Ok(m) if !m.is_dir() => EnvState::NotVenv("it is not a directory".into()),
        Ok(_) if !path.join("pyvenv.cfg").is_file() => EnvState::NotVenv("it has no pyvenv.cfg".into()),
        Ok(_) => EnvState::Venv,
    }
}

/// The keys of `pyvenv.cfg` this backend reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PyvenvCfg {
    /// `home`: the directory of the base interpreter.
    pub home: Option<PathBuf>,
    /// `version` (or uv's `version_info`): `X.Y.Z`.
    pub version: Option<String>,
    /// `executable` (3.11+): the base interpreter's real path.
    pub executable: Option<PathBuf>,
}

/// Read `<env>/pyvenv.cfg` (missing keys are `None`).
pub fn read_cfg(env: &Path) -> PyvenvCfg {
    let mut cfg = PyvenvCfg::default();
    let Ok(text) = pyve_fs::read_bounded_text(&env.join("pyvenv.cfg"), pyve_fs::READ_LIMIT) else { return cfg };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        match key.trim() {
            "home" => cfg.home = Some(PathBuf::from(value)),
            "version" => cfg.version = Some(value.to_string()),
            "version_info" if cfg.version.is_none() => cfg.version = Some(value.to_string()),
            "executable" => cfg.executable = Some(PathBuf::from(value)),
            _ => {}
        }
    }
    cfg
}

/// The number of `*.dist-info` directories in the environment's site-packages.
pub fn package_count(env: &Path) -> Option<u64> {
    let lib = env.join("lib");
    let site = fs::read_dir(&lib)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())?;
    let count = fs::read_dir(site)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".dist-info"))
        .count();
    u64::try_from(count).ok()
}

fn sibling(root: &Path, name: &str, mark: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    root.join(format!(".{name}.{mark}-{}-{n}", std::process::id()))
}

/// Move the environment `root/name` aside (for a replacement); returns where it went.
pub fn move_aside(root: &Path, name: &str) -> io::Result<PathBuf> {
    let aside = sibling(root, name, "pyve-old");
    fs::rename(root.join(name), &aside)?;
    Ok(aside)
}

/// Remove the environment: rename it to a hidden temporary sibling, then delete that.
pub fn remove_venv(root: &Path, name: &str) -> io::Result<()> {
    let doomed = sibling(root, name, "pyve-tmp");
    fs::rename(root.join(name), &doomed)?;
    fs::remove_dir_all(&doomed)
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// An environment left aside by an interrupted replacement was put back.
    Restored(PathBuf),
    /// A leftover of a finished replacement was deleted.
    Discarded(PathBuf),
}

/// Finish what an interrupted replacement of `root/name` left behind (asides whose process is
/// gone): put the old environment back when there is none, else delete it.
pub fn recover(root: &Path, name: &str) -> io::Result<Vec<Recovery>> {
    let prefix = format!(".{name}.pyve-old-");
    let mut done = Vec::new();
    let Ok(entries) = fs::read_dir(root) else { return Ok(done) };
    let mut asides: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let file_name = e.file_name();
            let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else { return false };
            let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
            pid.is_some_and(|pid| pid != std::process::id() && !pyve_fs::process_alive(pid))
        })
        .map(|e| e.path())
        .collect();
    asides.sort();
    let dest = root.join(name);
    for aside in asides {
        if fs::symlink_metadata(&dest).is_err() && aside.join("pyvenv.cfg").is_file() {
            fs::rename(&aside, &dest)?;
            done.push(Recovery::Restored(dest.clone()));
        } else {
            fs::remove_dir_all(&aside)?;
            done.push(Recovery::Discarded(aside));
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_cfg() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join(".venv");
        assert_eq!(state(&env), EnvState::Missing);
        fs::create_dir(&env).unwrap();
        assert_eq!(state(&env), EnvState::NotVenv("it has no pyvenv.cfg".into()));
        fs::write(env.join("pyvenv.cfg"), "home = /x/bin\nversion_info = 3.12.1\nexecutable = /x/bin/python3.12\n")
            .unwrap();
        assert_eq!(state(&env), EnvState::Venv);
        let cfg = read_cfg(&env);
        assert_eq!(cfg.version.as_deref(), Some("3.12.1"));
        assert_eq!(cfg.home, Some(PathBuf::from("/x/bin")));
        std::os::unix::fs::symlink(&env, tmp.path().join("link")).unwrap();
        assert_eq!(state(&tmp.path().join("link")), EnvState::NotVenv("it is a symbolic link".into()));
        fs::create_dir_all(env.join("lib/python3.12/site-packages/pip-24.0.dist-info")).unwrap();
        fs::create_dir_all(env.join("lib/python3.12/site-packages/pip")).unwrap();
        assert_eq!(package_count(&env), Some(1));
    }

    #[test]
    fn interrupted_replacement_is_recovered() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        // A dead process's aside, with no environment in place: restored.
        let dead = root.join("..venv.pyve-old-999999999-0");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("pyvenv.cfg"), "version = 3.11.7\n").unwrap();
        assert_eq!(recover(root, ".venv").unwrap(), [Recovery::Restored(root.join(".venv"))]);
        assert_eq!(read_cfg(&root.join(".venv")).version.as_deref(), Some("3.11.7"));
        // With the environment in place: the aside is a leftover.
        fs::create_dir(&dead).unwrap();
        assert_eq!(recover(root, ".venv").unwrap(), [Recovery::Discarded(dead.clone())]);
        // Our own asides are never touched.
        let mine = move_aside(root, ".venv").unwrap();
        assert!(recover(root, ".venv").unwrap().is_empty());
        fs::rename(&mine, root.join(".venv")).unwrap();
        remove_venv(root, ".venv").unwrap();
        assert_eq!(fs::read_dir(root).unwrap().count(), 0);
    }
}
