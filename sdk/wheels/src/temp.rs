//! Hidden temporary directories beside their destination (`.<name>.pyve-tmp-<pid>-<n>`),
//! renamed into place when complete: what the caches and the venv backend build in, so that
//! concurrent users never see a partial entry, and a crash leaves at worst a hidden sibling
//! that [`cleanup_stale_temps`] removes.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::error::{Error, IoContext};

/// The marker in temporary names.
const TMP_MARK: &str = ".pyve-tmp-";

/// How old a temporary directory of a live process must be to count as abandoned.
const STALE_AGE: Duration = Duration::from_secs(60);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `.<name>.pyve-tmp-<pid>-<n>`, the name kept short enough for any file system.
pub fn temp_name(name: &str, n: u64) -> String {
    let mut short = name;
    while short.len() > 200 {
        let mut cut = 200.min(short.len() - 1);
        while !short.is_char_boundary(cut) {
            cut -= 1;
        }
        short = &short[..cut];
    }
    format!(".{short}{TMP_MARK}{}-{n}", std::process::id())
}

/// A temporary directory removed on drop unless disarmed.
pub struct TempDir {
    path: PathBuf,
    armed: bool,
}

impl TempDir {
    /// Create `parent/.<name>.pyve-tmp-<pid>-<n>` with a fresh `n`.
    pub fn create(parent: &Path, name: &str) -> Result<TempDir, Error> {
        loop {
            let path = parent.join(temp_name(name, COUNTER.fetch_add(1, Ordering::Relaxed)));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, armed: true }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io("create the temporary directory", path, e)),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keep the directory (it was renamed into place).
    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Remove the temporary directories that crashed creators left in `parent`: those whose
/// process is gone, and those older than a minute (a creator finishes in milliseconds, or
/// seconds with the `python -m venv` fallback). The current process's own are kept.
/// Returns what was removed.
pub fn cleanup_stale_temps(parent: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(Error::io("list", parent, e)),
    };
    let me = std::process::id();
    let proc_available = Path::new("/proc/self").exists();
    for entry in entries {
        let entry = entry.ctx("list", parent)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(pid) = parse_temp_pid(name) else { continue };
        if pid == me {
            continue;
        }
        let path = entry.path();
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(_) => continue,
        };
        let dead = proc_available && !pyve_fs::process_alive(pid);
        let age = meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).unwrap_or_default();
        if !(dead || age > STALE_AGE) {
            continue;
        }
        let result = if meta.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        match result {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove the stale temporary directory", path, e)),
        }
    }
    Ok(removed)
}

/// The pid in `.<name>.pyve-tmp-<pid>-<n>`.
fn parse_temp_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let pos = name.rfind(TMP_MARK)?;
    let (pid, n) = name[pos + TMP_MARK.len()..].split_once('-')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_round_trip() {
        let n = temp_name("venv", 7);
        assert!(n.starts_with(".venv.pyve-tmp-"));
        assert_eq!(parse_temp_pid(&n), Some(std::process::id()));
        assert_eq!(parse_temp_pid(".x.pyve-tmp-12-3"), Some(12));
        assert_eq!(parse_temp_pid("x.pyve-tmp-12-3"), None);
        assert_eq!(parse_temp_pid(".x.pyve-tmp-12-"), None);
        assert!(temp_name(&"é".repeat(200), 0).len() < 250);
    }
}
