//! `conda-lock.yml`: whether it is fresh (reference 3.6, with conda platform names in the
//! hints), and its packages as records to install as locked.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rattler_conda_types::RepoDataRecord;
use rattler_conda_types::package::CondaArchiveIdentifier;
use serde::Deserialize;

use crate::envfile::{CONDA_LOCK_YML, ENVIRONMENT_YML};

/// The state of the project's environment files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Both files, the lock not older than environment.yml (whole seconds).
    Fresh {
        /// environment.yml's modification time, local `YYYY-MM-DD HH:MM:SS`.
        env: String,
        /// conda-lock.yml's.
        lock: String,
    },
    /// Both files, environment.yml modified after the lock.
    Stale {
        /// environment.yml's modification time.
        env: String,
        /// conda-lock.yml's.
        lock: String,
    },
    /// environment.yml only.
    Missing,
    /// conda-lock.yml only.
    LockOnly,
    /// Neither.
    Neither,
}

impl LockState {
    /// The protocol's `lock.state`: `fresh`, `stale`, `missing` or `none`.
    pub fn as_str(&self) -> &'static str {
        match self {
            LockState::Fresh { .. } | LockState::LockOnly => "fresh",
            LockState::Stale { .. } => "stale",
            LockState::Missing => "missing",
            LockState::Neither => "none",
        }
    }

    /// The file `micromamba create -f` receives: the lock when there is one.
    pub fn file(&self) -> Option<&'static str> {
        match self {
            LockState::Fresh { .. } | LockState::Stale { .. } | LockState::LockOnly => Some(CONDA_LOCK_YML),
            LockState::Missing => Some(ENVIRONMENT_YML),
            LockState::Neither => None,
        }
    }
}

fn mtime(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    })
}

/// A Unix time as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| secs.to_string())
}

/// The state of `root`'s environment.yml and conda-lock.yml.
pub fn lock_state(root: &Path) -> LockState {
    let env = mtime(&root.join(ENVIRONMENT_YML));
    let lock = mtime(&root.join(CONDA_LOCK_YML));
    match (env, lock) {
        (Some(e), Some(l)) if e > l => LockState::Stale { env: local_time(e), lock: local_time(l) },
        (Some(e), Some(l)) => LockState::Fresh { env: local_time(e), lock: local_time(l) },
        (Some(_), None) => LockState::Missing,
        (None, Some(_)) => LockState::LockOnly,
        (None, None) => LockState::Neither,
    }
}

/// The conda platform of this machine (`linux-64`, `osx-arm64`, ...), for hints and locks.
pub fn platform() -> &'static str {
    rattler_conda_types::Subdir::current().map(|s| s.as_str()).unwrap_or("noarch")
}

/// The command that (re)generates the lock, with this machine's conda platform.
pub fn regenerate_hint() -> String {
    format!("conda-lock -f environment.yml -p {}", platform())
}

/// One entry of conda-lock.yml's `package:` list (format version 1).
#[derive(Debug, Clone, Deserialize)]
pub struct LockedPackage {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `conda` or `pip`.
    pub manager: String,
    /// The conda platform it is for.
    pub platform: String,
    /// Its dependencies, name to version spec.
    #[serde(default)]
    pub dependencies: std::collections::BTreeMap<String, String>,
    /// Where to get it.
    pub url: String,
    /// Its hashes.
    #[serde(default)]
    pub hash: LockedHash,
    /// `main`, `dev`, ...
    #[serde(default)]
    pub category: Option<String>,
    /// Optional (non-main) packages are not installed.
    #[serde(default)]
    pub optional: bool,
}

/// A locked pip package, checked ([`LockFile::pip_requirements`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipRequirement {
    /// Its project name.
    pub name: String,
    /// Where to get it.
    pub url: url::Url,
    /// The hash the lock records (`sha256`, else `md5`), lowercase hex.
    pub hash: Option<(&'static str, String)>,
}

impl PipRequirement {
    /// The requirements-file line: `NAME @ URL --hash=KIND:HEX`.
    pub fn line(&self) -> String {
        match &self.hash {
            Some((k, h)) => format!("{} @ {} --hash={k}:{h}", self.name, self.url),
            None => format!("{} @ {}", self.name, self.url),
        }
    }
}

impl PipRequirement {
    /// A `file:` archive is hashed by pyve before pip runs: a mismatch is refused by name.
    /// Other URLs are checked by pip (`--require-hashes`).
    pub fn verify_file(&self) -> Result<(), String> {
        use rattler_digest::{Md5, Sha256, compute_file_digest};
        let (Some((kind, expected)), "file") = (&self.hash, self.url.scheme()) else { return Ok(()) };
        let path = self
            .url
            .to_file_path()
            .map_err(|()| format!("pip package {}: {} is not a file path", self.name, self.url))?;
        let actual = match *kind {
            "sha256" => compute_file_digest::<Sha256>(&path).map(|d| hex(&d)),
            _ => compute_file_digest::<Md5>(&path).map(|d| hex(&d)),
        }
        .map_err(|e| format!("pip package {}: cannot read {}: {e}", self.name, path.display()))?;
        if &actual != expected {
            return Err(format!(
                "pip package {} is refused: its {kind} is {actual}, the lock records {expected} ({})",
                self.name,
                path.display()
            ));
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hashes of a locked package.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LockedHash {
    /// MD5, hex.
    pub md5: Option<String>,
    /// SHA-256, hex.
    pub sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LockFileV1 {
    version: u32,
    #[serde(default)]
    package: Vec<LockedPackage>,
}

/// A read conda-lock.yml.
#[derive(Debug, Clone)]
pub struct LockFile {
    /// Where it was read.
    pub path: PathBuf,
    /// Its packages, all platforms.
    pub packages: Vec<LockedPackage>,
}

/// Why a lock file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a conda-lock file of a version pyve reads.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// Why.
        message: String,
    },
    /// It locks nothing for this platform.
    #[error("{} locks no packages for {platform} (this machine)", path.display())]
    NoPlatform {
        /// The file.
        path: PathBuf,
        /// This machine's platform.
        platform: String,
    },
}

/// The most pyve reads of a `conda-lock.yml` (one lists every package of every platform, so
/// the bound is larger than for other project files); a FIFO, a device or a larger file is
/// refused without being read.
pub const MAX_SIZE: u64 = 64 << 20;

impl LockFile {
    /// Read `path` (a regular file of at most [`MAX_SIZE`] bytes).
    pub fn read(path: &Path) -> Result<LockFile, LockError> {
        let text = pyve_fs::read_bounded_text(path, MAX_SIZE)
            .map_err(|source| LockError::Unreadable { path: path.to_path_buf(), source })?;
        let v: LockFileV1 = serde_yaml::from_str(&text).map_err(|e| LockError::Parse {
            path: path.to_path_buf(),
            line: e.location().map(|l| l.line()),
            message: e.to_string().split(" at line ").next().unwrap_or_default().to_string(),
        })?;
        if v.version != 1 {
            return Err(LockError::Parse {
                path: path.to_path_buf(),
                line: None,
                message: format!("lock format version {} is not supported (pyve reads version 1)", v.version),
            });
        }
        Ok(LockFile { path: path.to_path_buf(), packages: v.package })
    }

    /// The conda packages for `platform` (and the required ones only), as records to install.
    /// Their `md5`/`sha256` are what the installer checks each download against.
    pub fn conda_records(&self, platform: &str) -> Result<Vec<RepoDataRecord>, LockError> {
        let mut out = Vec::new();
        let mut any = false;
        for p in &self.packages {
            if p.platform != platform {
                continue;
            }
            any = true;
            if p.manager != "conda" || p.optional {
                continue;
            }
            out.push(self.record(p)?);
        }
        if !any {
            return Err(LockError::NoPlatform { path: self.path.clone(), platform: platform.into() });
        }
        Ok(out)
    }

    /// The pip packages for `platform`, checked: a name that is a plain project name, a URL
    /// (`https:`, `http:` or `file:`, never a pip option), a well-formed hash when one is
    /// recorded.
    pub fn pip_requirements(&self, platform: &str) -> Result<Vec<PipRequirement>, LockError> {
        let mut out = Vec::new();
        for p in self.packages.iter().filter(|p| p.platform == platform && p.manager == "pip" && !p.optional) {
            let bad = |what: String| self.bad_entry(p, what);
            if p.name.is_empty()
                || p.name.starts_with('-')
                || !p.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            {
                return Err(bad(format!("`{}` is not a pip project name", p.name)));
            }
            let url = url::Url::parse(&p.url).map_err(|e| bad(format!("url `{}` is not a URL ({e})", p.url)))?;
            if !matches!(url.scheme(), "https" | "http" | "file") {
                return Err(bad(format!("url `{}`: only https:, http: and file: URLs are installed", p.url)));
            }
            self.check_hashes(p)?;
            let hash = match (&p.hash.sha256, &p.hash.md5) {
                (Some(s), _) => Some(("sha256", s.to_ascii_lowercase())),
                (None, Some(m)) => Some(("md5", m.to_ascii_lowercase())),
                (None, None) => None,
            };
            out.push(PipRequirement { name: p.name.clone(), url, hash });
        }
        Ok(out)
    }

    /// The entries for `platform` that pyve cannot check (no hash), as `NAME (manager)`, for
    /// `--strict` to refuse.
    pub fn unchecked(&self, platform: &str) -> Vec<String> {
        self.packages
            .iter()
            .filter(|p| p.platform == platform && !p.optional)
            .filter(|p| p.hash.md5.is_none() && p.hash.sha256.is_none())
            .map(|p| format!("{} ({})", p.name, p.manager))
            .collect()
    }

    fn bad_entry(&self, p: &LockedPackage, what: String) -> LockError {
        LockError::Parse {
            path: self.path.clone(),
            line: None,
            message: format!("package `{}` ({}, {}): {what}", p.name, p.manager, p.platform),
        }
    }

    /// A recorded hash must be hex of the right length: a malformed one is named, not passed on.
    fn check_hashes(&self, p: &LockedPackage) -> Result<(), LockError> {
        for (kind, value, len) in [("md5", &p.hash.md5, 32), ("sha256", &p.hash.sha256, 64)] {
            if let Some(v) = value
                && (v.len() != len || !v.chars().all(|c| c.is_ascii_hexdigit()))
            {
                return Err(
                    self.bad_entry(p, format!("hash.{kind} `{v}` is malformed: a {kind} is {len} hexadecimal digits"))
                );
            }
        }
        Ok(())
    }

    fn record(&self, p: &LockedPackage) -> Result<RepoDataRecord, LockError> {
        let bad = |message: String| LockError::Parse { path: self.path.clone(), line: None, message };
        if p.hash.md5.is_none() && p.hash.sha256.is_none() {
            return Err(bad(format!(
                "package {} has no hash: pyve installs locked packages only when it can check them",
                p.name
            )));
        }
        self.check_hashes(p)?;
        let url = url::Url::parse(&p.url).map_err(|e| bad(format!("package {}: bad url {}: {e}", p.name, p.url)))?;
        let file = url.path_segments().and_then(|mut s| s.next_back()).unwrap_or_default().to_string();
        let id = CondaArchiveIdentifier::try_from_url(&url)
            .ok_or_else(|| bad(format!("package {}: {} is not a conda package file name", p.name, file)))?;
        let mut segments: Vec<&str> = url.path_segments().map(|s| s.collect()).unwrap_or_default();
        segments.pop();
        let subdir = segments.pop().unwrap_or(platform()).to_string();
        let channel = {
            let mut c = url.clone();
            c.set_path(&segments.join("/"));
            c.to_string()
        };
        let depends: Vec<String> = p
            .dependencies
            .iter()
            .map(|(n, v)| if v.is_empty() || v == "*" { n.clone() } else { format!("{n} {v}") })
            .collect();
        let mut v = serde_json::json!({
            "name": p.name,
            "version": p.version,
            "build": id.identifier.build_string,
            "build_number": 0,
            "subdir": subdir,
            "depends": depends,
            "fn": file,
            "url": url.as_str(),
            "channel": channel,
        });
        if let Some(m) = &p.hash.md5 {
            v["md5"] = m.clone().into();
        }
        if let Some(s) = &p.hash.sha256 {
            v["sha256"] = s.clone().into();
        }
        serde_json::from_value(v).map_err(|e| bad(format!("package {}: {e}", p.name)))
    }
}

/// Seconds since the epoch, now (for tests and messages).
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path, secs: i64) {
        std::fs::write(path, "x").unwrap();
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(secs as u64)).unwrap();
    }

    #[test]
    fn states_by_mtime_in_whole_seconds() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(lock_state(d.path()), LockState::Neither);
        touch(&d.path().join(ENVIRONMENT_YML), 1_700_000_100);
        assert_eq!(lock_state(d.path()), LockState::Missing);
        touch(&d.path().join(CONDA_LOCK_YML), 1_700_000_100);
        assert!(matches!(lock_state(d.path()), LockState::Fresh { .. }), "equal seconds are fresh");
        touch(&d.path().join(CONDA_LOCK_YML), 1_700_000_000);
        let LockState::Stale { env, lock } = lock_state(d.path()) else { panic!() };
        assert_eq!(env, local_time(1_700_000_100));
        assert_eq!(lock, local_time(1_700_000_000));
        assert_eq!(env.len(), "YYYY-MM-DD HH:MM:SS".len());
        std::fs::remove_file(d.path().join(ENVIRONMENT_YML)).unwrap();
        assert_eq!(lock_state(d.path()), LockState::LockOnly);
    }

    #[test]
    fn hints_name_a_conda_platform() {
        let h = regenerate_hint();
        assert!(h.starts_with("conda-lock -f environment.yml -p "), "{h}");
        let p = h.rsplit(' ').next().unwrap();
        assert!(p.contains('-') && !p.contains("x86_64") && p != "arm64", "{p}");
    }

    const LOCK: &str = r#"version: 1
metadata:
  platforms: [linux-64]
package:
- name: hello
  version: "1.0"
  manager: conda
  platform: linux-64
  dependencies: {greet: ">=1"}
  url: file:///ch/noarch/hello-1.0-pyh_0.tar.bz2
  hash: {md5: 0123456789abcdef0123456789abcdef, sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
  optional: false
- name: extra
  version: "2"
  manager: conda
  platform: linux-64
  url: file:///ch/noarch/extra-2-0.conda
  hash: {md5: 0123456789abcdef0123456789abcdef}
  optional: true
- name: requests
  version: "2.31"
  manager: pip
  platform: linux-64
  url: https://files.example/requests-2.31-py3-none-any.whl
  hash: {sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
"#;

    #[test]
    fn reads_records_for_the_platform() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CONDA_LOCK_YML);
        std::fs::write(&p, LOCK).unwrap();
        let lock = LockFile::read(&p).unwrap();
        let recs = lock.conda_records("linux-64").unwrap();
        assert_eq!(recs.len(), 1, "optional packages are left out");
        let r = &recs[0];
        assert_eq!(r.package_record.name.as_normalized(), "hello");
        assert_eq!(r.package_record.build, "pyh_0");
        assert_eq!(r.package_record.subdir, "noarch");
        assert_eq!(r.package_record.depends, ["greet >=1"]);
        assert!(r.package_record.sha256.is_some() && r.package_record.md5.is_some());
        assert_eq!(r.channel.as_deref(), Some("file:///ch"));
        let pip = lock.pip_requirements("linux-64").unwrap();
        assert_eq!(
            pip.iter().map(PipRequirement::line).collect::<Vec<_>>(),
            [
                "requests @ https://files.example/requests-2.31-py3-none-any.whl --hash=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            ]
        );
        assert!(lock.unchecked("linux-64").is_empty());
        let e = lock.conda_records("osx-arm64").unwrap_err();
        assert!(e.to_string().contains("locks no packages for osx-arm64"), "{e}");
    }

    #[test]
    fn bad_lock_files_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CONDA_LOCK_YML);
        std::fs::write(&p, "version: 1\npackage:\n- name: x\n  oops: [\n").unwrap();
        let e = LockFile::read(&p).unwrap_err();
        assert!(e.to_string().starts_with(&format!("{}:", p.display())), "{e}");
        std::fs::write(&p, "version: 2\n").unwrap();
        assert!(LockFile::read(&p).unwrap_err().to_string().contains("version 2 is not supported"));
        std::fs::write(&p, LOCK.replace("  hash: {md5: 0123456789abcdef0123456789abcdef, sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}\n", "")).unwrap();
        let e = LockFile::read(&p).unwrap().conda_records("linux-64").unwrap_err();
        assert!(e.to_string().contains("has no hash"), "{e}");
    }

    #[test]
    fn malformed_hashes_and_pip_entries_are_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CONDA_LOCK_YML);
        let read = |text: String| {
            std::fs::write(&p, text).unwrap();
            LockFile::read(&p).unwrap()
        };
        let lock = read(LOCK.replace("{md5: 0123456789abcdef0123456789abcdef, sha", "{md5: not-hex, sha"));
        let e = lock.conda_records("linux-64").unwrap_err().to_string();
        assert!(e.starts_with(&p.display().to_string()), "{e}");
        assert!(e.contains("package `hello` (conda, linux-64): hash.md5 `not-hex` is malformed"), "{e}");
        let lock = read(LOCK.replace(
            "  hash: {sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}\n",
            "  hash: {sha256: abc}\n",
        ));
        let e = lock.pip_requirements("linux-64").unwrap_err().to_string();
        assert!(e.contains("package `requests` (pip, linux-64): hash.sha256 `abc` is malformed"), "{e}");
        let lock = read(
            LOCK.replace("url: https://files.example/requests", "url: --target=/tmp/x#https://files.example/requests"),
        );
        let e = lock.pip_requirements("linux-64").unwrap_err().to_string();
        assert!(e.contains("is not a URL"), "{e}");
        let lock = read(
            LOCK.replace("  hash: {sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}\n", ""),
        );
        assert_eq!(lock.unchecked("linux-64"), ["requests (pip)"]);
        assert_eq!(lock.pip_requirements("linux-64").unwrap()[0].hash, None);
    }

    #[test]
    fn a_file_that_is_not_a_small_regular_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conda-lock.yml");
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = LockFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("conda-lock.yml") && e.contains("named pipe"), "{e}");
        std::fs::remove_file(&path).unwrap();
        std::fs::File::create(&path).unwrap().set_len(16 << 30).unwrap();
        let e = LockFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("conda-lock.yml") && e.contains("larger than"), "{e}");
    }
}
