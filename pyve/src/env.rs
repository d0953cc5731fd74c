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

/// The longest timeout a variable may set: a week. Longer values are taken as "as long as
/// possible" and capped (a deadline beyond what the clock can represent would overflow).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest: a millisecond (a smaller positive value would round to no time at all).
pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// Seconds from a variable; a malformed value is reported and ignored, one outside
/// [`MIN_TIMEOUT`]..=[`MAX_TIMEOUT`] is reported and brought inside.
fn seconds(key: &str) -> Option<Duration> {
    let raw = nonempty(key)?;
    parse_seconds(key, &raw.to_string_lossy())
}

fn parse_seconds(key: &str, raw: &str) -> Option<Duration> {
    match raw.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0) {
        Some(secs) if secs > MAX_TIMEOUT.as_secs_f64() => {
            crate::ui::warn(&format!("{key}={raw:.40} is more than a week; using {} seconds", MAX_TIMEOUT.as_secs()));
            Some(MAX_TIMEOUT)
        }
        Some(secs) if secs < MIN_TIMEOUT.as_secs_f64() => {
            crate::ui::warn(&format!("{key}={raw:.40} is less than a millisecond; using 0.001 seconds"));
            Some(MIN_TIMEOUT)
        }
        Some(secs) => Some(Duration::from_secs_f64(secs)),
        None => {
            crate::ui::warn(&format!("ignoring {key}={raw:.40}: expected a positive number of seconds"));
            None
        }
    }
}

/// How long a prompt waits for a piped answer: `PYVE_PROMPT_TIMEOUT` seconds (0 allowed: do not
/// wait), default 10; a malformed value is reported and ignored, one above a week is capped.
pub fn prompt_seconds(raw: Option<&str>) -> Duration {
    const DEFAULT: Duration = Duration::from_secs(10);
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return DEFAULT };
    match raw.trim().parse::<f64>().ok().filter(|s| s.is_finite() && *s >= 0.0) {
        Some(secs) if secs > MAX_TIMEOUT.as_secs_f64() => {
            crate::ui::warn(&format!(
                "PYVE_PROMPT_TIMEOUT={raw:.40} is more than a week; using {} seconds",
                MAX_TIMEOUT.as_secs()
            ));
            MAX_TIMEOUT
        }
        Some(secs) => Duration::from_secs_f64(secs),
        None => {
            crate::ui::warn(&format!("ignoring PYVE_PROMPT_TIMEOUT={raw:.40}: expected a number of seconds"));
            DEFAULT
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
    /// The directory whose `.pyve` is pyve's own home (`~/.pyve`) is never a project. A
    /// `.pyve/config` that is not a regular file (a directory, a dangling link) still marks the
    /// project: reading it then says what is wrong, where "not initialized" would mislead.
    pub fn project_root(&self, start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .filter(|dir| self.pyve_home.as_deref() != Some(dir.join(".pyve").as_path()))
            .find(|dir| dir.join(".pyve").join("config").symlink_metadata().is_ok())
            .map(Path::to_path_buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_waits_from_any_text_never_panic() {
        assert_eq!(prompt_seconds(None), Duration::from_secs(10));
        assert_eq!(prompt_seconds(Some("0")), Duration::ZERO);
        assert_eq!(prompt_seconds(Some("1.5")), Duration::from_millis(1500));
        for huge in ["1e300", "1e20", "18446744073709551616", "604801"] {
            assert_eq!(prompt_seconds(Some(huge)), MAX_TIMEOUT, "{huge}");
        }
        for bad in ["", "abc", "-1", "inf", "NaN", "-inf", "1s", "\u{1}"] {
            assert_eq!(prompt_seconds(Some(bad)), Duration::from_secs(10), "{bad}");
        }
        prompt_seconds(Some(&"9".repeat(100_000)));
    }

    #[test]
    fn timeouts_from_any_text_never_panic() {
        let s = |raw| parse_seconds("PYVE_RPC_TIMEOUT", raw);
        assert_eq!(s("2.5"), Some(Duration::from_millis(2500)));
        for huge in ["1e300", "1e20", "1e19", "18446744073709551616", "604801"] {
            assert_eq!(s(huge), Some(MAX_TIMEOUT), "{huge}");
        }
        assert_eq!(s("1e-300"), Some(MIN_TIMEOUT));
        for bad in ["", "abc", "-1", "0", "inf", "NaN", "-inf", "1s"] {
            assert_eq!(s(bad), None, "{bad}");
        }
        // The cap leaves room for a deadline.
        assert!(std::time::Instant::now().checked_add(MAX_TIMEOUT).is_some());
    }

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
