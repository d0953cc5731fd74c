//! The backend's settings (its section of `.pyve/config` plus flags) and request checks.
//!
//! Read: `directory` (default `.venv`), `python_version` (the version recorded for the
//! project), `pinned` (what pyve wrote into the version file), `no_install_deps` /
//! `auto_install_deps` (the flags `--no-install-deps` / `--auto-install-deps`), `deps` (the
//! record of the last dependency install). Written back by `env/create`: `directory`,
//! `python_version`, `pinned` and `deps` (the flags are not: they apply to one init, or stay
//! in `.pyve/config` when the user writes them there).

use std::path::{Path, PathBuf};

use pyve_sdk::types::Settings;
use pyve_sdk::{Error, Result};
use pyve_venv::policy::{PinRecord, VersionRequest};
use serde_json::Value;

/// The directory used when none is configured.
pub const DEFAULT_DIRECTORY: &str = ".venv";

/// Names that may not hold the environment: pyve's and the project's own files.
const RESERVED: &[&str] = &[".pyve", ".git", ".env", ".envrc", ".gitignore", ".tool-versions", ".python-version"];

/// The settings this backend knows.
#[derive(Debug, Clone)]
pub struct VenvSettings {
    /// The environment's directory, one name inside the project root.
    pub directory: String,
    /// The version recorded in `.pyve/config`.
    pub python_version: Option<String>,
    /// What pyve wrote into the version file, if anything.
    pub pinned: Option<PinRecord>,
    /// Install the project's dependencies after creating the environment: not when
    /// `no_install_deps` is true (`--no-install-deps`, or the config), unless
    /// `auto_install_deps` is true (`--auto-install-deps`).
    pub install_deps: bool,
    /// The record of the last install (`deps`, a nested object kept in `.pyve/state.json`).
    pub deps: Option<Value>,
    /// The dependency groups to install (`--groups a,b`; `None`: `dev` when declared).
    pub groups: Option<Vec<String>>,
}

impl VenvSettings {
    /// Read and check the settings.
    pub fn parse(settings: &Settings) -> Result<VenvSettings> {
        let directory = match settings.get("directory") {
            None | Some(Value::Null) => DEFAULT_DIRECTORY.to_string(),
            Some(Value::String(s)) => {
                check_directory(s)?;
                s.clone()
            }
            Some(other) => {
                return Err(Error::invalid_params(format!(
                    "the venv setting `directory` must be a string, not {other}"
                ))
                .hint("set it to a directory name such as .venv in .pyve/config"));
            }
        };
        let python_version = match settings.get("python_version") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(Error::invalid_params(format!(
                    "the venv setting `python_version` must be a string such as \"3.12.1\", not {other}"
                ))
                .hint("fix `python_version` in .pyve/config, or pass --python-version"));
            }
        };
        let pinned = settings.get("pinned").and_then(PinRecord::from_json);
        let flag = |key: &str| -> Result<bool> {
            match settings.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => {
                    Err(Error::invalid_params(format!("the venv setting `{key}` must be true or false, not {other}"))
                        .hint(format!("fix `{key}` in .pyve/config")))
                }
            }
        };
        let install_deps = flag("auto_install_deps")? || !flag("no_install_deps")?;
        let deps = settings.get("deps").filter(|v| v.is_object()).cloned();
        let groups = match settings.get("groups") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(pyve_pyproject::parse_groups(s)),
            Some(other) => {
                return Err(Error::invalid_params(format!(
                    "the venv setting `groups` must be a comma-separated list such as \"dev,docs\", not {other}"
                ))
                .hint("fix `groups` in .pyve/config, or pass --groups"));
            }
        };
        Ok(VenvSettings { directory, python_version, pinned, install_deps, deps, groups })
    }

    /// The settings to record after `env/create`.
    pub fn to_settings(&self, python_version: Option<&str>, pinned: Option<&PinRecord>) -> Settings {
        let mut out = Settings::new();
        out.insert("directory".into(), Value::String(self.directory.clone()));
        if let Some(v) = python_version {
            out.insert("python_version".into(), Value::String(v.to_string()));
        }
        if let Some(p) = pinned {
            out.insert("pinned".into(), p.to_json());
        }
        if let Some(d) = &self.deps {
            out.insert("deps".into(), d.clone());
        }
        if let Some(g) = &self.groups {
            out.insert("groups".into(), Value::String(g.join(",")));
        }
        out
    }
}

/// A directory name for the environment: one path component of `[A-Za-z0-9._-]`, not `.`,
/// `..` or a reserved name.
pub fn check_directory(name: &str) -> Result<()> {
    let hint = "choose a plain directory name inside the project, such as .venv or venv: it is the DIR of \
                `pyve --init DIR`, or the `directory:` under `venv:` in .pyve/config (edit it there)";
    if name.is_empty() {
        return Err(Error::invalid_params("Virtual environment directory name cannot be empty.").hint(hint));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(Error::invalid_params(format!(
            "Invalid directory name '{name}'. Use only alphanumeric characters, dots, underscores, and hyphens \
             (one directory inside the project)."
        ))
        .hint(hint));
    }
    if name == "." || name == ".." {
        return Err(Error::invalid_params(format!(
            "Directory name '{name}' cannot be used: it is not a directory inside the project."
        ))
        .hint(hint));
    }
    if RESERVED.contains(&name) {
        return Err(Error::invalid_params(format!(
            "Directory name '{name}' is reserved and cannot be used (it is pyve's or the project's own file)."
        ))
        .hint(hint));
    }
    Ok(())
}

/// Check a requested version (`--python-version`): `X.Y.Z` or `X.Y`.
pub fn check_version(value: &str) -> Result<VersionRequest> {
    VersionRequest::parse(value).ok_or_else(|| {
        Error::invalid_params(format!(
            "Invalid Python version format '{value}'. Expected format: #.#.# or #.# (e.g., 3.13.7 or 3.13)"
        ))
        .hint("pass a version such as --python-version 3.12.1 or --python-version 3.12")
    })
}

/// The request's project root: absolute and an existing directory.
pub fn project_root(root: &Path) -> Result<PathBuf> {
    if !root.is_absolute() {
        return Err(Error::invalid_params(format!(
            "the project root must be an absolute path, not {}",
            root.display()
        ))
        .hint("this is a bug in the host: requests carry the absolute project root"));
    }
    if !root.is_dir() {
        return Err(Error::not_found(format!("the project root {} is not a directory", root.display()))
            .hint("run pyve from inside the project"));
    }
    Ok(root.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names() {
        for ok in [".venv", "venv", "env-3.12", "my_env", ".venv2"] {
            assert!(check_directory(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", ".pyve", ".git", ".env", ".envrc", ".gitignore", ".tool-versions", ".python-version"]
        {
            let e = check_directory(bad).unwrap_err();
            assert_eq!(e.kind(), "invalid-params", "{bad}");
        }
        for bad in ["a/b", "/abs", "../x", "x y", "ve\u{e9}nv", "a\\b", "~"] {
            let e = check_directory(bad).unwrap_err();
            assert!(e.to_string().contains("Invalid directory name"), "{bad}: {e}");
        }
    }

    #[test]
    fn settings_round_trip() {
        let mut s = Settings::new();
        assert_eq!(VenvSettings::parse(&s).unwrap().directory, ".venv");
        s.insert("directory".into(), Value::from(3));
        assert_eq!(VenvSettings::parse(&s).unwrap_err().kind(), "invalid-params");
        s.insert("directory".into(), Value::from("env"));
        s.insert("python_version".into(), Value::from("3.12.1"));
        s.insert("pinned".into(), serde_json::json!({"file": ".python-version", "version": "3.12.1"}));
        s.insert("unknown".into(), Value::from(true));
        let parsed = VenvSettings::parse(&s).unwrap();
        assert_eq!(parsed.python_version.as_deref(), Some("3.12.1"));
        let out = parsed.to_settings(Some("3.12.1"), parsed.pinned.as_ref());
        assert_eq!(out["pinned"]["origin"], "created");
        assert_eq!(out["directory"], "env");
        assert!(check_version("3.12").is_ok() && check_version("3").is_err());
        assert!(parsed.install_deps && parsed.deps.is_none());
        s.insert("no_install_deps".into(), Value::from(true));
        s.insert("deps".into(), serde_json::json!({"installed": true}));
        let parsed = VenvSettings::parse(&s).unwrap();
        assert!(!parsed.install_deps);
        assert_eq!(parsed.to_settings(None, None)["deps"]["installed"], true);
        s.insert("auto_install_deps".into(), Value::from(true));
        assert!(VenvSettings::parse(&s).unwrap().install_deps);
        s.insert("auto_install_deps".into(), Value::from("yes"));
        assert_eq!(VenvSettings::parse(&s).unwrap_err().kind(), "invalid-params");
    }
}
