//! What the host reads from its environment, in one place (documented in docs/cli.md).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// pyve's own version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The process environment as the host uses it.
#[derive(Clone, Debug)]
pub struct HostEnv {
    /// The running pyve (`PYVE` for plugins), resolved through symlinks.
    pub exe: Option<PathBuf>,
    /// `$PYVE_HOME`, default `~/.pyve`.
    pub pyve_home: Option<PathBuf>,
    /// The user's home directory.
    pub home: Option<PathBuf>,
    /// Where pyve keeps caches: `$XDG_CACHE_HOME/pyve` (or the platform's cache directory).
    pub cache_dir: Option<PathBuf>,
    /// `PYVE_PLUGIN_PATH`.
    pub plugin_path: Option<OsString>,
    /// `PATH`.
    pub path: Option<OsString>,
    /// Time allowed for a plugin's handshake (`PYVE_HANDSHAKE_TIMEOUT`, seconds, default 10).
    pub handshake_timeout: Duration,
    /// Time a plugin may stay silent during a call (`PYVE_RPC_TIMEOUT`, seconds); `None`
    /// means each method's default.
    pub rpc_timeout: Option<Duration>,
}

fn nonempty(key: &str) -> Option<OsString> {
    std::env::var_os(key).filter(|v| !v.is_empty())
}

/// Seconds from a variable; a malformed value is reported and ignored.
fn seconds(key: &str) -> Option<Duration> {
    let raw = nonempty(key)?;
    match raw.to_str().and_then(|s| s.trim().parse::<f64>().ok()).filter(|s| s.is_finite() && *s > 0.0) {
        Some(secs) => Some(Duration::from_secs_f64(secs)),
        None => {
            crate::ui::warn(&format!(
                "ignoring {key}={}: expected a positive number of seconds",
                raw.to_string_lossy()
            ));
            None
        }
    }
}

impl HostEnv {
    /// Read the environment.
    pub fn from_process() -> Self {
        let home = nonempty("HOME").map(PathBuf::from).or_else(dirs::home_dir);
        let pyve_home = nonempty("PYVE_HOME").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".pyve")));
        HostEnv {
            exe: std::env::current_exe().ok(),
            pyve_home,
            cache_dir: dirs::cache_dir().map(|d| d.join("pyve")),
            home,
            plugin_path: nonempty("PYVE_PLUGIN_PATH"),
            path: nonempty("PATH"),
            handshake_timeout: seconds("PYVE_HANDSHAKE_TIMEOUT").unwrap_or(Duration::from_secs(10)),
            rpc_timeout: seconds("PYVE_RPC_TIMEOUT"),
        }
    }

    /// The user plugin directory, `$PYVE_HOME/plugins`.
    pub fn user_plugin_dir(&self) -> Option<PathBuf> {
        self.pyve_home.as_ref().map(|h| h.join("plugins"))
    }

    /// The directory holding the running pyve.
    pub fn exe_dir(&self) -> Option<&Path> {
        self.exe.as_deref().and_then(Path::parent)
    }
}

impl HostEnv {
    /// The project root: the nearest directory, from `start` upwards, holding `.pyve/config`.
    /// The directory whose `.pyve` is pyve's own home (`~/.pyve`) is never a project.
    pub fn project_root(&self, start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .filter(|dir| self.pyve_home.as_deref() != Some(dir.join(".pyve").as_path()))
            .find(|dir| dir.join(".pyve").join("config").is_file())
            .map(Path::to_path_buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_root_is_found_upwards_but_never_at_pyves_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let project = home.join("work/proj");
        std::fs::create_dir_all(project.join("src/pkg")).unwrap();
        std::fs::create_dir_all(home.join(".pyve")).unwrap();
        std::fs::write(home.join(".pyve/config"), "").unwrap(); // pyve's home, not a project
        let mut env = HostEnv::from_process();
        env.pyve_home = Some(home.join(".pyve"));
        assert_eq!(env.project_root(&project.join("src/pkg")), None);
        std::fs::create_dir_all(project.join(".pyve")).unwrap();
        std::fs::write(project.join(".pyve/config"), "backend: venv\n").unwrap();
        assert_eq!(env.project_root(&project.join("src/pkg")).as_deref(), Some(project.as_path()));
        assert_eq!(env.project_root(&project).as_deref(), Some(project.as_path()));
    }
}
