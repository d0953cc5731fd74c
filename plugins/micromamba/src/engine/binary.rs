//! The micromamba engine: drives a micromamba executable.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{CreateRequest, Created, Engine, EngineError, Package};

/// A micromamba binary.
#[derive(Debug, Clone)]
pub struct Binary {
    path: PathBuf,
}

impl Binary {
    /// The binary at `path`.
    pub fn new(path: PathBuf) -> Binary {
        Binary { path }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.path);
        c.stdin(Stdio::null());
        c
    }
}

/// Parse `micromamba list --json` (an array of objects with `name`, `version`,
/// `build_string`, `channel`).
pub fn parse_list(text: &str) -> Result<Vec<Package>, String> {
    serde_json::from_str::<Vec<Package>>(text)
        .map_err(|e| format!("unexpected `list --json` output ({e}): {}", text.trim()))
}

impl Engine for Binary {
    fn name(&self) -> &'static str {
        "micromamba"
    }

    fn version(&self) -> String {
        crate::discovery::version(&self.path).unwrap_or_else(|e| format!("unknown ({e})"))
    }

    fn binary(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn installs_pip(&self) -> bool {
        true
    }

    fn create(&self, req: &CreateRequest<'_>) -> Result<Created, EngineError> {
        // micromamba writes its prefix into the files it installs, so it builds in place.
        let status = self
            .command()
            .arg("create")
            .arg("-p")
            .arg(req.target)
            .arg("-f")
            .arg(req.source.path())
            .arg("-y")
            // The user's own CONDA_PKGS_DIRS (or pkgs_dirs) wins, as micromamba would read it.
            .env(
                "CONDA_PKGS_DIRS",
                crate::condarc::CondaConfig::load()
                    .pkgs_dir()
                    .map_or_else(|| req.cache_dir.join("pkgs"), std::path::Path::to_path_buf),
            )
            .stdout(Stdio::inherit_stderr())
            .status()
            .map_err(|e| EngineError::Binary(format!("cannot run {}: {e}", self.path.display())))?;
        if !status.success() {
            return Err(EngineError::Binary(format!(
                "`{} create -p {} -f {} -y` failed ({status})",
                self.path.display(),
                req.target.display(),
                req.source.path().display()
            )));
        }
        let packages = self.list(req.target).map(|l| l.len()).unwrap_or_default();
        Ok(Created { packages, built_in_place: true })
    }

    fn list(&self, prefix: &Path) -> Result<Vec<Package>, EngineError> {
        let out = self
            .command()
            .arg("list")
            .arg("-p")
            .arg(prefix)
            .arg("--json")
            .stderr(Stdio::null())
            .output()
            .map_err(|e| EngineError::Binary(format!("cannot run {}: {e}", self.path.display())))?;
        if !out.status.success() {
            return Err(EngineError::Binary(format!(
                "`{} list -p {} --json` failed ({})",
                self.path.display(),
                prefix.display(),
                out.status
            )));
        }
        parse_list(&String::from_utf8_lossy(&out.stdout)).map_err(EngineError::Binary)
    }
}

trait InheritStderr {
    fn inherit_stderr() -> Stdio;
}

impl InheritStderr for Stdio {
    /// The child's stdout goes to our stderr: a plugin's stdout is the protocol channel.
    fn inherit_stderr() -> Stdio {
        use std::os::fd::AsFd;
        std::io::stderr().as_fd().try_clone_to_owned().map(Stdio::from).unwrap_or_else(|_| Stdio::null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_micromamba_list_json() {
        let l = parse_list(r#"[{"base_url":"https://c/conda-forge","build_number":0,"build_string":"pyh_0","channel":"conda-forge","dist_name":"hello-1.0-pyh_0","name":"hello","platform":"noarch","version":"1.0"}]"#).unwrap();
        assert_eq!(
            l,
            [Package {
                name: "hello".into(),
                version: "1.0".into(),
                build: "pyh_0".into(),
                channel: "conda-forge".into()
            }]
        );
        assert!(parse_list("warning: x\n[]").unwrap_err().contains("unexpected"));
    }
}
