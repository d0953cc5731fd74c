//! Making sure setuptools (which provides `distutils` on Python 3.12+) and wheel are installed.
//!
//! Checking costs one directory listing: an installed distribution leaves a
//! `<name>-<version>.dist-info` (or, from old installers, `.egg-info`) entry in site-packages.
//! Only what is missing is installed, with `uv pip install --python <python>` when `uv` is on
//! `PATH` (much faster), else `<python> -m pip install`. A failure is reported, never fatal:
//! the caller warns and the environment stays as usable as it was.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{self, RunError};

/// The distributions the shim needs, in the order they are installed.
pub const REQUIRED: [&str; 2] = ["setuptools", "wheel"];

/// Which of [`REQUIRED`] have no `.dist-info`/`.egg-info` entry in `site_packages`.
pub fn missing(site_packages: &Path) -> std::io::Result<Vec<&'static str>> {
    let mut found = [false; REQUIRED.len()];
    for entry in std::fs::read_dir(site_packages)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let name = name.to_ascii_lowercase();
        let Some(stem) = name.strip_suffix(".dist-info").or_else(|| name.strip_suffix(".egg-info")) else {
            continue;
        };
        for (i, wanted) in REQUIRED.iter().enumerate() {
            if stem.strip_prefix(wanted).is_some_and(|rest| rest.is_empty() || rest.starts_with('-')) {
                found[i] = true;
            }
        }
    }
    Ok(REQUIRED.iter().zip(found).filter(|(_, f)| !f).map(|(n, _)| *n).collect())
}

/// The tool that installs packages into the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Installer {
    /// `uv pip install --python <python>` with this `uv`.
    Uv(PathBuf),
    /// `<python> -m pip install`.
    Pip,
}

impl Installer {
    /// `uv` when it is on `PATH` (absolute entries only: the current directory is never
    /// searched), else pip.
    pub fn detect() -> Self {
        find_on_path("uv", std::env::var_os("PATH")).map_or(Installer::Pip, Installer::Uv)
    }

    /// `pip` or `uv`.
    pub fn name(&self) -> &'static str {
        match self {
            Installer::Uv(_) => "uv",
            Installer::Pip => "pip",
        }
    }

    /// The command installing `packages` into the environment of `python`.
    pub fn command(&self, python: &Path, packages: &[&str]) -> Command {
        match self {
            Installer::Uv(uv) => {
                let mut cmd = Command::new(uv);
                cmd.args(["pip", "install", "--quiet", "--python"]).arg(python).args(packages);
                cmd
            }
            Installer::Pip => {
                let mut cmd = Command::new(python);
                // --no-compile: no byte-compiling at init (as uv); the probe compiles what
                // start-up and `import distutils` use.
                cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "--no-compile", "-q"])
                    .args(packages);
                cmd
            }
        }
    }

    /// What the user can run by hand to do the same.
    pub fn manual_command(&self, python: &Path, packages: &[&str]) -> String {
        let packages = packages.join(" ");
        match self {
            Installer::Uv(_) => format!("uv pip install --python {} {packages}", python.display()),
            Installer::Pip => format!("{} -m pip install {packages}", python.display()),
        }
    }
}

fn find_on_path(program: &str, path: Option<OsString>) -> Option<PathBuf> {
    std::env::split_paths(&path?)
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(program))
        .find(|candidate| std::fs::metadata(candidate).is_ok_and(|m| m.is_file() && is_executable(&m)))
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

/// Why an installation failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The installer could not run (or was stopped).
    #[error("{0}")]
    Run(String),
    /// It ran and failed; `detail` is the last line of its error output.
    #[error("{installer} failed ({status}): {detail}")]
    Failed { installer: &'static str, status: String, detail: String, output: String },
    /// The request was cancelled (the installer was stopped).
    #[error("cancelled")]
    Cancelled,
}

impl InstallError {
    /// The installer's whole error output, when there is one.
    pub fn output(&self) -> Option<&str> {
        match self {
            InstallError::Failed { output, .. } if !output.is_empty() => Some(output),
            _ => None,
        }
    }
}

/// Install `packages` into the environment of `python` (running in `cwd`). With uv, its cache
/// is tried first (`--offline`: no network, about half the time); the index only when that
/// fails.
pub fn install(
    installer: &Installer,
    python: &Path,
    packages: &[&str],
    cwd: &Path,
    cancelled: &dyn Fn() -> bool,
) -> Result<(), InstallError> {
    if matches!(installer, Installer::Uv(_)) {
        let mut offline = installer.command(python, packages);
        offline.arg("--offline");
        if run_installer(offline, cwd, cancelled).is_ok_and(|done| done.status.success()) {
            return Ok(());
        }
        if cancelled() {
            return Err(InstallError::Cancelled);
        }
    }
    let done = run_installer(installer.command(python, packages), cwd, cancelled)?;
    if done.status.success() {
        return Ok(());
    }
    let output = done.stderr_text();
    let detail = process::last_line(&output).unwrap_or("no error output").to_owned();
    Err(InstallError::Failed { installer: installer.name(), status: process::describe(done.status), detail, output })
}

fn run_installer(
    mut cmd: Command,
    cwd: &Path,
    cancelled: &dyn Fn() -> bool,
) -> Result<process::Finished, InstallError> {
    cmd.current_dir(cwd);
    process::run(&mut cmd, None, cancelled).map_err(|e| match e {
        RunError::Cancelled => InstallError::Cancelled,
        other => InstallError::Run(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_is_missing_by_metadata_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let sp = tmp.path();
        assert_eq!(missing(sp).unwrap(), vec!["setuptools", "wheel"]);
        for lookalike in ["setuptools_scm-8.0.dist-info", "wheelhouse-1.0.dist-info", "setuptools-80.0", "wheel"] {
            std::fs::create_dir(sp.join(lookalike)).unwrap();
        }
        assert_eq!(missing(sp).unwrap(), vec!["setuptools", "wheel"]);
        std::fs::create_dir(sp.join("Setuptools-80.9.0.dist-info")).unwrap();
        assert_eq!(missing(sp).unwrap(), vec!["wheel"]);
        std::fs::create_dir(sp.join("wheel-0.45.1-py3.12.egg-info")).unwrap();
        assert!(missing(sp).unwrap().is_empty());
        assert!(missing(&sp.join("absent")).is_err());
    }

    #[test]
    fn commands_name_the_interpreter() {
        let python = Path::new("/env/bin/python");
        let pip = Installer::Pip.command(python, &["setuptools", "wheel"]);
        assert_eq!(pip.get_program(), "/env/bin/python");
        let args: Vec<_> = pip.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--no-compile",
                "-q",
                "setuptools",
                "wheel"
            ]
        );
        let uv = Installer::Uv("/usr/bin/uv".into()).command(python, &["wheel"]);
        let args: Vec<_> = uv.get_args().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["pip", "install", "--quiet", "--python", "/env/bin/python", "wheel"]);
        assert_eq!(Installer::Pip.manual_command(python, &["wheel"]), "/env/bin/python -m pip install wheel");
    }

    #[test]
    fn path_search_skips_relative_entries() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let uv = tmp.path().join("uv");
        std::fs::write(&uv, "#!/bin/sh\n").unwrap();
        assert_eq!(find_on_path("uv", Some(tmp.path().into())), None, "not executable");
        std::fs::set_permissions(&uv, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths(["relative", "", tmp.path().to_str().unwrap()]).unwrap();
        assert_eq!(find_on_path("uv", Some(path)), Some(uv));
        assert_eq!(find_on_path("uv", Some("relative".into())), None);
        assert_eq!(find_on_path("uv", None), None);
    }
}
