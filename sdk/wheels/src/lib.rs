//! pyve's wheel cache, shared by the venv backend (`pyve-venv`), the distutils shim and
//! `pyve-testenv`: a crate of its own, so that a hook needs no backend to use it.
//!
//! The seeding cache of downloaded wheels: setuptools and wheel (what the distutils shim
//! needs on Python 3.12+, where ensurepip no longer bundles setuptools), fetched from the
//! package index once per Python `X.Y`, then linked into every new environment from
//! [`seed`]'s cache of unpacked wheels, the way pip is seeded, with no network.
//!
//! Layout, under the cache root ([`default_cache_dir`]):
//!
//! ```text
//! downloaded-wheels-v1/index-py3.12-setuptools+wheel.txt   the wheels that `setuptools wheel`
//!                                                           resolved to on 3.12 (with their
//!                                                           dependencies: wheel 0.46+ needs
//!                                                           packaging)
//! downloaded-wheels-v1/<sha256>/<file>.whl       the wheels, content-addressed, never changed
//! unpacked-wheels-v2/<file>.whl-<size>-<mtime>/  their unpacked files (see [`seed`])
//! ```
//!
//! The fetch runs `python -m pip download --only-binary=:all:` with the
//! environment's own pip ([`Fetch::command`]), which picks the newest release whose
//! `Requires-Python` admits that interpreter (and their dependencies, resolved for it, as
//! `pip install` would) and honours the user's index configuration
//! (`PIP_INDEX_URL`, `PIP_FIND_LINKS`, `pip.conf`, proxies, certificates). It downloads into
//! a temporary directory inside the cache; [`Fetch::finish`] hashes each wheel, renames it into
//! its `<sha256>/` directory (a directory that exists already holds the same bytes: rename
//! wins, the loser's copy is dropped) and replaces the index by rename. Concurrent fetchers
//! therefore never expose a partial file, and a reader always sees a whole index.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

mod error;
mod link;
pub mod record;
pub mod seed;
pub mod temp;

pub use error::Error;
pub use seed::{SeedSource, SeededWheel};

use crate::error::IoContext;
use crate::seed::SeedTarget;
use crate::temp::TempDir;

/// The user cache directory for seeding wheels: `$XDG_CACHE_HOME/pyve/wheels` or
/// `~/.cache/pyve/wheels` (the platform's cache directory elsewhere).
pub fn default_cache_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|c| c.join("pyve").join("wheels"))
}

/// A wheel file to install: for the venv backend, one that the interpreter's `ensurepip`
/// installs into a new virtual environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundledWheel {
    /// The project: `pip` or `setuptools`.
    pub project: String,
    /// Its version, e.g. `24.2`.
    pub version: String,
    /// The `.whl` file.
    pub path: PathBuf,
}

/// The directory under a cache root that holds downloaded wheels.
pub const DOWNLOADS_SUBDIR: &str = "downloaded-wheels-v1";

/// The first line of an index file (versions its format).
const INDEX_HEADER: &str = "pyve-wheel-index 1";

/// The projects the distutils shim needs, in the order they are installed.
pub const SHIM_PROJECTS: [&str; 2] = ["setuptools", "wheel"];

/// A wheel in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedWheel {
    /// The project, normalized (`setuptools`).
    pub project: String,
    /// Its version (`80.9.0`).
    pub version: String,
    /// The `.whl` file.
    pub path: PathBuf,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's sha256, in hex (as in `pip hash` and `--hash=sha256:`).
    pub sha256: String,
    /// Asked for (`setuptools`), rather than a dependency of what was (`packaging`).
    pub requested: bool,
}

/// The index of what `requested` resolved to on `X.Y`.
fn index_path(cache: &Path, major: u32, minor: u32, requested: &[&str]) -> PathBuf {
    let mut names: Vec<String> = requested.iter().map(|r| normalize(r)).collect();
    names.sort();
    names.dedup();
    cache.join(DOWNLOADS_SUBDIR).join(format!("index-py{major}.{minor}-{}.txt", names.join("+")))
}

/// A distribution name normalised (PEP 503): the one rule of `pyve-pyproject`.
pub use pyve_pyproject::normalize;

/// Read an index; a missing or unreadable index is empty.
fn read_index(index: &Path, root: &Path) -> Vec<CachedWheel> {
    let Ok(text) = fs::read_to_string(index) else { return Vec::new() };
    let mut lines = text.lines();
    if lines.next() != Some(INDEX_HEADER) {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let mut f = line.split('\t');
            let (project, version, size, sha256, rel, kind) =
                (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
            // The relative path is `<sha256>/<file>.whl`: nothing else is accepted.
            let (dir, file) = rel.split_once('/')?;
            if dir != sha256 || file.contains('/') || !file.ends_with(".whl") || file.starts_with('.') {
                return None;
            }
            Some(CachedWheel {
                project: project.to_string(),
                version: version.to_string(),
                path: root.join(rel),
                size: size.parse().ok()?,
                sha256: sha256.to_string(),
                requested: match kind {
                    "requested" => true,
                    "dependency" => false,
                    _ => return None,
                },
            })
        })
        .collect()
}

/// The cached wheels `requested` resolved to for Python `X.Y` (them and their
/// dependencies), or `None` when the cache has no complete set (a file missing or of the
/// wrong size: the set is fetched again). One read of a small file and one `stat` per
/// wheel; no hashing (the unpacked entry is checked against the wheel's `RECORD` hashes when
/// it is built, and by size on every use).
pub fn lookup(cache: &Path, major: u32, minor: u32, requested: &[&str]) -> Option<Vec<CachedWheel>> {
    let root = cache.join(DOWNLOADS_SUBDIR);
    let wheels = read_index(&index_path(cache, major, minor, requested), &root);
    let complete = requested.iter().all(|r| wheels.iter().any(|w| w.requested && w.project == normalize(r)))
        && wheels.iter().all(|w| fs::metadata(&w.path).is_ok_and(|m| m.is_file() && m.len() == w.size));
    complete.then_some(wheels)
}

/// A fetch into the cache: a temporary download directory inside it.
pub struct Fetch {
    tmp: TempDir,
    root: PathBuf,
    cache: PathBuf,
    major: u32,
    minor: u32,
}

impl Fetch {
    /// Prepare a fetch of wheels for Python `X.Y` into `cache`.
    pub fn prepare(cache: &Path, major: u32, minor: u32) -> Result<Fetch, Error> {
        let root = cache.join(DOWNLOADS_SUBDIR);
        fs::create_dir_all(&root).ctx("create the cache directory", &root)?;
        let _ = crate::temp::cleanup_stale_temps(&root);
        let tmp = TempDir::create(&root, &format!("download-py{major}.{minor}"))?;
        Ok(Fetch { tmp, root, cache: cache.to_path_buf(), major, minor })
    }

    /// Where the wheels are downloaded to.
    pub fn download_dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `<python> -m pip download` of `projects` into [`Fetch::download_dir`]: binary wheels
    /// only, with their dependencies, the newest the interpreter supports, through the
    /// user's index configuration.
    pub fn command(&self, python: &Path, projects: &[&str]) -> Command {
        let mut cmd = pip_download(python, self.tmp.path());
        cmd.args(projects);
        cmd
    }

    /// Move the downloaded wheels (`projects` and their dependencies) into the cache and
    /// record them in the index of `projects` on this `X.Y`. Fails when one of `projects`
    /// was not downloaded.
    pub fn finish(self, projects: &[&str]) -> Result<Vec<CachedWheel>, Error> {
        let dir = self.tmp.path();
        let mut found: Vec<CachedWheel> = Vec::new();
        for entry in fs::read_dir(dir).ctx("list", dir)? {
            let entry = entry.ctx("list", dir)?;
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| n.ends_with(".whl")) else { continue };
            // `{distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl`
            let mut parts = name.split('-');
            let (Some(dist), Some(version)) = (parts.next(), parts.next()) else { continue };
            let project = normalize(dist);
            let requested = projects.iter().any(|p| normalize(p) == project);
            let (sha256, size) = hash_file(&entry.path())?;
            let final_dir = self.root.join(&sha256);
            let final_path = final_dir.join(name);
            // What is already there must hold these very bytes (a damaged copy is replaced).
            let whole = |p: &Path| hash_file(p).is_ok_and(|h| h == (sha256.clone(), size));
            if !whole(&final_path) {
                let holder = TempDir::create(&self.root, &sha256)?;
                fs::rename(entry.path(), holder.path().join(name)).ctx("move into the cache", &entry.path())?;
                if fs::rename(holder.path(), &final_dir).is_ok() {
                    holder.disarm();
                } else if !whole(&final_path) {
                    // A damaged directory of that name: replace it.
                    let _ = fs::remove_dir_all(&final_dir);
                    fs::rename(holder.path(), &final_dir).ctx("move into place", &final_dir)?;
                    holder.disarm();
                }
            }
            found.push(CachedWheel {
                project,
                version: version.to_string(),
                path: final_path,
                size,
                sha256,
                requested,
            });
        }
        let missing: Vec<&str> =
            projects.iter().copied().filter(|p| !found.iter().any(|w| w.project == normalize(p))).collect();
        if !missing.is_empty() {
            return Err(Error::Wheel {
                path: dir.to_path_buf(),
                reason: format!("pip download did not download a wheel of {}", missing.join(", ")),
            });
        }
        found.sort_by(|a, b| (!a.requested, &a.project).cmp(&(!b.requested, &b.project)));
        let mut text = format!("{INDEX_HEADER}\n");
        for w in &found {
            let file = w.path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let kind = if w.requested { "requested" } else { "dependency" };
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}/{file}\t{kind}\n",
                w.project, w.version, w.size, w.sha256, w.sha256
            ));
        }
        let tmp_index = self.tmp.path().join("index.txt");
        fs::write(&tmp_index, text).ctx("write", &tmp_index)?;
        let index = index_path(&self.cache, self.major, self.minor, projects);
        fs::rename(&tmp_index, &index).ctx("move into place", &index)?;
        Ok(found)
    }
}

/// sha256 (hex) and size of a file.
fn hash_file(path: &Path) -> Result<(String, u64), Error> {
    let mut file = fs::File::open(path).ctx("open", path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).ctx("read", path)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    let hex = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, size))
}

/// An existing environment to install cached wheels into.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Its site-packages directory.
    pub site_packages: &'a Path,
    /// Its scripts directory (`bin/`).
    pub bin_dir: &'a Path,
    /// Its interpreter as the launchers' shebang names it (what pip writes: `sys.executable`).
    pub python: &'a str,
    /// The interpreter's `X`.
    pub major: u32,
    /// The interpreter's `Y`.
    pub minor: u32,
}

/// Install `wheels` into `target` through the unpacked-wheel cache under `cache`, as `pip
/// install --no-compile` would: the wheel's files (hard links into the cache, copies where
/// linking fails), a fresh `RECORD` (with the launchers' rows), `INSTALLER` (`pip`),
/// `REQUESTED`, and the console scripts. A damaged cache entry is rebuilt first
/// ([`SeedSource::CacheRebuilt`]); a wheel that fails its `RECORD` check is an
/// error (fetch it again).
pub fn install(wheels: &[CachedWheel], target: &Target<'_>, cache: &Path) -> Result<Vec<SeededWheel>, Error> {
    let installed = installed_projects(target.site_packages);
    let mut seeded = Vec::new();
    for w in wheels {
        // A dependency the environment already has is kept (pip keeps one that satisfies
        // the requirement; a conda environment usually has `packaging`).
        if !w.requested && installed.contains(&w.project) {
            continue;
        }
        let bundled = BundledWheel { project: w.project.clone(), version: w.version.clone(), path: w.path.clone() };
        let target = SeedTarget { env: *target, cache_dir: Some(cache), requested: w.requested };
        seeded.extend(seed::seed(std::slice::from_ref(&bundled), &target)?);
    }
    Ok(seeded)
}

/// The normalized names of the distributions installed in `site_packages`
/// (`<name>-<version>.dist-info` / `.egg-info`).
fn installed_projects(site_packages: &Path) -> Vec<String> {
    fs::read_dir(site_packages)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".dist-info").or_else(|| name.strip_suffix(".egg-info"))?;
            Some(normalize(stem.split('-').next()?))
        })
        .collect()
}

/// `<python> -m pip download` of binary wheels only into `dest`, quietly, through the user's
/// index configuration; the caller adds options and the projects.
pub fn pip_download(python: &Path, dest: &Path) -> Command {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip", "download", "--disable-pip-version-check", "--no-input", "-q", "--only-binary=:all:"])
        .arg("--dest")
        .arg(dest);
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized() {
        assert_eq!(normalize("Setuptools"), "setuptools");
        assert_eq!(normalize("zope_interface"), "zope-interface");
        assert_eq!(normalize("a._-b"), "a-b");
    }

    #[test]
    fn the_index_round_trips_and_rejects_what_it_did_not_write() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path();
        let req = ["wheel"];
        assert_eq!(lookup(cache, 3, 12, &req), None);
        let fetch = Fetch::prepare(cache, 3, 12).unwrap();
        fs::write(fetch.download_dir().join("wheel-0.48.0-py3-none-any.whl"), b"not really a wheel").unwrap();
        fs::write(fetch.download_dir().join("packaging-25.0-py3-none-any.whl"), b"x").unwrap();
        let err = Fetch::prepare(cache, 3, 12).unwrap().finish(&req).unwrap_err();
        assert!(err.to_string().contains("did not download a wheel of wheel"), "{err}");
        let got = fetch.finish(&req).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].project.as_str(), got[0].version.as_str(), got[0].requested), ("wheel", "0.48.0", true));
        assert_eq!((got[1].project.as_str(), got[1].requested), ("packaging", false));
        assert_eq!(got[0].size, 18);
        assert_eq!(got[0].sha256.len(), 64);
        assert_eq!(lookup(cache, 3, 12, &["Wheel"]).as_deref(), Some(&got[..]));
        assert_eq!(lookup(cache, 3, 12, &["setuptools", "wheel"]), None, "per set of requested projects");
        assert_eq!(lookup(cache, 3, 13, &req), None, "per X.Y");
        // A truncated dependency makes the set incomplete (it is fetched again).
        fs::write(&got[1].path, b"").unwrap();
        assert_eq!(lookup(cache, 3, 12, &req), None);
        // An index pointing outside its directory is ignored.
        let index = index_path(cache, 3, 12, &req);
        fs::write(&index, format!("{INDEX_HEADER}\nwheel\t1\t5\tabc\t../../x.whl\trequested\n")).unwrap();
        assert_eq!(lookup(cache, 3, 12, &req), None);
        // No temporary directories are left behind.
        let left: Vec<_> = fs::read_dir(cache.join(DOWNLOADS_SUBDIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
