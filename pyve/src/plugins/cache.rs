//! The plugin cache, `<cache dir>/pyve/plugins.json`: manifests keyed by a plugin file's path,
//! size, modification time, inode and status-change time (so listing, help and command routing do not restart plugins
//! they already know), and the plugin file names of each searched directory keyed by the
//! directory's modification time (so an unchanged `/usr/bin` is not read again).
//!
//! A handshake that timed out is cached too (with its failure), so a hanging plugin costs its
//! timeout once, not on every listing; it is tried again when its file changes, and
//! `pyve plugin info NAME` always tries again (a success replaces the entry). Other failures
//! are quick to see again and are not cached.
//!
//! The cache is only an accelerator: a missing, unreadable or corrupt file is ignored and
//! rewritten; writes go to a temporary file renamed into place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pyve_protocol::types::{LogParams, Manifest};

use crate::rpc::Failure;
use serde::{Deserialize, Serialize};

use super::discovery::{Candidate, mtime_ns};

const FILE: &str = "plugins.json";
const FORMAT: u32 = 2;

/// A directory whose modification time is this recent is not cached: an entry added within
/// the same clock tick would leave the time unchanged.
const RACY: Duration = Duration::from_secs(2);

#[derive(Debug, Default, Serialize, Deserialize)]
struct Data {
    format: u32,
    /// The pyve version that wrote it (manifests are negotiated for a protocol version).
    pyve: String,
    #[serde(default)]
    manifests: BTreeMap<PathBuf, ManifestEntry>,
    #[serde(default)]
    dirs: BTreeMap<PathBuf, DirEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ManifestEntry {
    size: u64,
    mtime_ns: i128,
    /// Inode and status-change time (entries written without them never match).
    #[serde(default)]
    identity: (u64, i128),
    /// The manifest, or how the handshake failed.
    outcome: Outcome,
    /// What the plugin logged (`$/log`) during its handshake.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    logs: Vec<LogParams>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Outcome {
    Manifest(Manifest),
    Failure(Failure),
}

#[derive(Debug, Serialize, Deserialize)]
struct DirEntry {
    mtime_ns: i128,
    files: Vec<String>,
}

/// The loaded cache.
#[derive(Debug)]
pub struct Cache {
    path: Option<PathBuf>,
    data: Data,
    dirty: bool,
}

impl Cache {
    /// Load the cache from `dir` (`None`: run without one).
    pub fn load(dir: Option<&Path>) -> Self {
        let path = dir.map(|d| d.join(FILE));
        let data = path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| serde_json::from_slice::<Data>(&bytes).ok())
            .filter(|d| d.format == FORMAT && d.pyve == crate::env::VERSION)
            .unwrap_or_else(|| Data { format: FORMAT, pyve: crate::env::VERSION.to_owned(), ..Data::default() });
        Cache { path, data, dirty: false }
    }

    fn entry(&self, c: &Candidate) -> Option<&ManifestEntry> {
        self.data
            .manifests
            .get(&c.path)
            .filter(|e| e.size == c.size && e.mtime_ns == c.mtime_ns && e.identity == c.identity)
    }

    /// The handshake cached for a candidate, if its file has not changed since: its manifest
    /// or its failure, and what it logged.
    pub fn handshake(&self, c: &Candidate) -> Option<(Result<&Manifest, &Failure>, &[LogParams])> {
        self.entry(c).map(|e| {
            let outcome = match &e.outcome {
                Outcome::Manifest(m) => Ok(m),
                Outcome::Failure(f) => Err(f),
            };
            (outcome, e.logs.as_slice())
        })
    }

    /// The manifest cached for a candidate, if its file has not changed since.
    pub fn manifest(&self, c: &Candidate) -> Option<&Manifest> {
        self.handshake(c).and_then(|(o, _)| o.ok())
    }

    /// Remember a candidate's handshake: its manifest (or failure) and what it logged.
    pub fn put_handshake(&mut self, c: &Candidate, outcome: Result<Manifest, Failure>, logs: Vec<LogParams>) {
        let outcome = match outcome {
            Ok(m) => Outcome::Manifest(m),
            Err(f) => Outcome::Failure(f),
        };
        self.data.manifests.insert(
            c.path.clone(),
            ManifestEntry { size: c.size, mtime_ns: c.mtime_ns, identity: c.identity, outcome, logs },
        );
        self.dirty = true;
    }

    /// Remember a candidate's manifest.
    pub fn put_manifest(&mut self, c: &Candidate, manifest: Manifest) {
        self.put_handshake(c, Ok(manifest), Vec::new());
    }

    /// The plugin file names of a directory, read from disk unless the cached list is still
    /// valid.
    pub fn plugin_files(&mut self, dir: &Path) -> Vec<String> {
        let Ok(meta) = std::fs::metadata(dir) else {
            if self.data.dirs.remove(dir).is_some() {
                self.dirty = true;
            }
            return Vec::new();
        };
        let mtime = mtime_ns(&meta);
        if let Some(entry) = self.data.dirs.get(dir)
            && entry.mtime_ns == mtime
        {
            return entry.files.clone();
        }
        let files = super::discovery::read_plugin_files(dir);
        let settled =
            meta.modified().ok().and_then(|m| SystemTime::now().duration_since(m).ok()).is_some_and(|age| age > RACY);
        if settled {
            self.data.dirs.insert(dir.to_path_buf(), DirEntry { mtime_ns: mtime, files: files.clone() });
            self.dirty = true;
        } else if self.data.dirs.remove(dir).is_some() {
            self.dirty = true;
        }
        files
    }

    /// Forget manifests of files that no longer exist among `seen`.
    pub fn retain_manifests(&mut self, seen: &[Candidate]) {
        let before = self.data.manifests.len();
        self.data.manifests.retain(|path, _| seen.iter().any(|c| &c.path == path));
        self.dirty |= before != self.data.manifests.len();
    }

    /// Write the cache back if it changed. Failures are ignored: the cache only saves time.
    pub fn save(&mut self) {
        let Some(path) = &self.path else { return };
        if !self.dirty {
            return;
        }
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let Ok(bytes) = serde_json::to_vec(&self.data) else { return };
        let tmp = dir.join(format!(".{FILE}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, bytes).is_ok() && std::fs::rename(&tmp, path).is_ok() {
            self.dirty = false;
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
