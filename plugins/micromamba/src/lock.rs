//! `conda-lock.yml`: whether it is fresh (reference 3.6, with conda platform names in the
//! hints), and its packages as records to install as locked.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use rattler_conda_types::package::CondaArchiveIdentifier;
use rattler_conda_types::{NamedChannelOrUrl, PackageName, RepoDataRecord, Version};
use serde::{Deserialize, Serialize};

use crate::condarc::CondaConfig;
use crate::envfile::{CONDA_LOCK_YML, ENVIRONMENT_YML, EnvFile};

/// The state of the project's environment files. Whether a lock is fresh is decided by its
/// content ([`unmet`]), never by file times: a lock that contradicts environment.yml is stale
/// however new it is, and one that satisfies it is fresh however old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// Both files, and the lock satisfies environment.yml for this platform.
    Fresh,
    /// Both files, and the lock does not satisfy environment.yml.
    Stale {
        /// What is unmet, one line each (`hello >=2: conda-lock.yml locks hello 1.0`).
        unmet: Vec<String>,
    },
    /// environment.yml only.
    Missing,
    /// conda-lock.yml only.
    LockOnly,
    /// Neither.
    Neither,
}

impl LockState {
    /// The protocol's `lock.state`: `fresh`, `stale`, `missing`, `unchecked` (a lock without
    /// the environment.yml to check it against: `pyve lock --check` fails on it) or `none`.
    pub fn as_str(&self) -> &'static str {
        match self {
            LockState::Fresh => "fresh",
            LockState::LockOnly => "unchecked",
            LockState::Stale { .. } => "stale",
            LockState::Missing => "missing",
            LockState::Neither => "none",
        }
    }

    /// The file `micromamba create -f` receives: the lock when there is one.
    pub fn file(&self) -> Option<&'static str> {
        match self {
            LockState::Fresh | LockState::Stale { .. } | LockState::LockOnly => Some(CONDA_LOCK_YML),
            LockState::Missing => Some(ENVIRONMENT_YML),
            LockState::Neither => None,
        }
    }
}

/// A Unix time as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::system()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| secs.to_string())
}

/// The state of `root`'s environment.yml and conda-lock.yml, by content for this platform.
pub fn lock_state(root: &Path) -> LockState {
    let env_path = root.join(ENVIRONMENT_YML);
    let lock_path = root.join(CONDA_LOCK_YML);
    match (env_path.exists(), lock_path.exists()) {
        (true, true) => {
            let env = match EnvFile::read(&env_path) {
                Ok(e) => e,
                Err(e) => return LockState::Stale { unmet: vec![format!("environment.yml cannot be checked: {e}")] },
            };
            let lock = match LockFile::read(&lock_path) {
                Ok(l) => l,
                Err(e) => return LockState::Stale { unmet: vec![format!("conda-lock.yml cannot be checked: {e}")] },
            };
            let unmet = unmet(&env, &lock, platform(), root);
            if unmet.is_empty() { LockState::Fresh } else { LockState::Stale { unmet } }
        }
        (true, false) => LockState::Missing,
        (false, true) => LockState::LockOnly,
        (false, false) => LockState::Neither,
    }
}

/// A channel as the URL it stands for (`conda-forge` and
/// `https://conda.anaconda.org/conda-forge/` are the same channel; a relative path is read
/// against `root`), for comparing.
fn channel_urls(channels: &[NamedChannelOrUrl], root: &Path, conda: &CondaConfig) -> Vec<String> {
    conda.effective_urls(channels, root)
}

/// The project name of a pip requirement (`requests>=2`, `Foo_Bar @ https://...`), normalised
/// as pip does (lowercase, runs of `-_.` as `-`).
pub fn pip_name(requirement: &str) -> String {
    let end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(requirement.len());
    normalize_pip(&requirement[..end])
}

fn normalize_pip(name: &str) -> String {
    pyve_pyproject::normalize(name)
}

/// What of `env` the lock does not satisfy for `platform`, one line each; empty when it
/// satisfies it. Checked: the channels (same URLs, same order; `nodefaults` is not one), every
/// conda spec (a locked record of that name whose version and build match the spec's
/// constraints), every `pip:` requirement (a locked pip package of that name, at the version an
/// `==` pins).
pub fn unmet(env: &EnvFile, lock: &LockFile, platform: &str, root: &Path) -> Vec<String> {
    unmet_with(env, lock, platform, root, &CondaConfig::load())
}

/// [`unmet`] with the user's conda configuration given: channels are compared by the URLs it
/// makes of them (`conda-forge` through a `channel_alias` mirror is that mirror's URL).
pub fn unmet_with(env: &EnvFile, lock: &LockFile, platform: &str, root: &Path, conda: &CondaConfig) -> Vec<String> {
    let mut out = Vec::new();
    let want = channel_urls(&env.channels, root, conda);
    let locked: Vec<NamedChannelOrUrl> =
        lock.channels.iter().filter_map(|c| NamedChannelOrUrl::from_str(c).ok()).collect();
    // A lock made with no channels at all is not "conda-forge".
    let have = if locked.is_empty() { Vec::new() } else { channel_urls(&locked, root, conda) };
    if want != have {
        out.push(format!(
            "channels: environment.yml has [{}], conda-lock.yml was made with [{}]",
            want.join(", "),
            have.join(", ")
        ));
    }
    let locked: Vec<&LockedPackage> = lock.packages.iter().filter(|p| p.platform == platform && !p.optional).collect();
    if locked.is_empty() {
        out.push(format!("conda-lock.yml locks no packages for {platform} (this machine)"));
        return out;
    }
    for spec in &env.specs {
        let shown = spec.to_string();
        let named: Vec<&&LockedPackage> = locked
            .iter()
            .filter(|p| p.manager == "conda")
            .filter(|p| PackageName::try_from(p.name.as_str()).is_ok_and(|n| spec.name.matches(&n)))
            .collect();
        if named.is_empty() {
            out.push(format!("{shown}: conda-lock.yml locks no package of that name for {platform}"));
            continue;
        }
        let fits = |p: &LockedPackage| {
            let version_ok = match &spec.version {
                None => true,
                Some(v) => Version::from_str(&p.version).is_ok_and(|x| v.matches(&x)),
            };
            let build_ok = match &spec.build {
                None => true,
                Some(b) => url::Url::parse(&p.url)
                    .ok()
                    .and_then(|u| CondaArchiveIdentifier::try_from_url(&u))
                    .is_some_and(|id| b.matches(&id.identifier.build_string)),
            };
            version_ok && build_ok
        };
        if !named.iter().any(|p| fits(p)) {
            let got: Vec<String> = named.iter().map(|p| format!("{} {}", p.name, p.version)).collect();
            out.push(format!("{shown}: conda-lock.yml locks {}", got.join(", ")));
        }
    }
    for req in &env.pip {
        let name = pip_name(req);
        let pinned = req.split_once("==").map(|(_, v)| v.split([';', ',', ' ']).next().unwrap_or_default().trim());
        let named: Vec<&&LockedPackage> =
            locked.iter().filter(|p| p.manager == "pip" && normalize_pip(&p.name) == name).collect();
        match (named.first(), pinned) {
            (None, _) => out.push(format!("pip: {}: conda-lock.yml locks no pip package of that name", req.trim())),
            (Some(p), Some(v)) if !named.iter().any(|p| p.version == v) => {
                out.push(format!("pip: {}: conda-lock.yml locks {} {}", req.trim(), p.name, p.version))
            }
            _ => {}
        }
    }
    out
}

/// The conda platform of this machine (`linux-64`, `osx-arm64`, ...), for hints and locks.
pub fn platform() -> &'static str {
    rattler_conda_types::Subdir::current().map(|s| s.as_str()).unwrap_or("noarch")
}

/// The command that (re)generates the lock, with this machine's conda platform.
pub fn regenerate_hint() -> String {
    format!("pyve lock (or: conda-lock -f environment.yml -p {})", platform())
}

/// One entry of conda-lock.yml's `package:` list (format version 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LockedHash {
    /// MD5, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// SHA-256, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LockFileV1 {
    version: u32,
    #[serde(default)]
    metadata: LockMetadata,
    #[serde(default)]
    package: Vec<LockedPackage>,
}

#[derive(Debug, Default, Deserialize)]
struct LockMetadata {
    #[serde(default)]
    channels: Vec<LockChannel>,
}

#[derive(Debug, Deserialize)]
struct LockChannel {
    url: String,
}

/// A read conda-lock.yml.
#[derive(Debug, Clone)]
pub struct LockFile {
    /// Where it was read.
    pub path: PathBuf,
    /// Its packages, all platforms.
    pub packages: Vec<LockedPackage>,
    /// The channels it was made with (`metadata.channels[].url`), in order.
    pub channels: Vec<String>,
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
        Ok(LockFile {
            path: path.to_path_buf(),
            packages: v.package,
            channels: v.metadata.channels.into_iter().map(|c| c.url).collect(),
        })
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

#[derive(Serialize)]
struct LockOut<'a> {
    version: u32,
    metadata: MetaOut,
    package: &'a [LockedPackage],
}

#[derive(Serialize)]
struct MetaOut {
    content_hash: std::collections::BTreeMap<String, String>,
    channels: Vec<ChannelOut>,
    platforms: Vec<String>,
    sources: Vec<String>,
}

#[derive(Serialize)]
struct ChannelOut {
    url: String,
    used_env_vars: Vec<String>,
}

/// A solved record as a conda-lock entry for `platform` (category `main`), with its hashes.
pub fn locked_package(r: &RepoDataRecord, platform: &str) -> LockedPackage {
    let pr = &r.package_record;
    let dependencies = pr
        .depends
        .iter()
        .map(|d| match d.trim().split_once(' ') {
            Some((n, v)) => (n.to_string(), v.trim().to_string()),
            None => (d.trim().to_string(), "*".to_string()),
        })
        .collect();
    LockedPackage {
        name: pr.name.as_normalized().to_string(),
        version: pr.version.to_string(),
        manager: "conda".into(),
        platform: platform.into(),
        dependencies,
        url: r.url.to_string(),
        hash: LockedHash { md5: pr.md5.map(|m| hex(&m)), sha256: pr.sha256.map(|s| hex(&s)) },
        category: Some("main".into()),
        optional: false,
    }
}

/// The pip packages of pip's installation report (`pip install --dry-run --report`) as
/// conda-lock entries for `platform`: name, version, the archive's URL and sha256 (a local
/// directory or a VCS checkout has no archive to hash, and is refused by name), and the
/// dependencies the package declares (those outside extras).
pub fn pip_packages(report: &serde_json::Value, platform: &str) -> Result<Vec<LockedPackage>, String> {
    let mut out = Vec::new();
    let items = report.get("install").and_then(|i| i.as_array()).ok_or("pip's report has no `install` list")?;
    for item in items {
        let meta = item.get("metadata").ok_or("an entry of pip's report has no metadata")?;
        let field = |k: &str| meta.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let name = field("name").ok_or("an entry of pip's report has no name")?;
        let version = field("version").unwrap_or_default();
        let info = item.get("download_info").ok_or_else(|| format!("pip package {name}: no download information"))?;
        let url = info.get("url").and_then(|u| u.as_str()).unwrap_or_default().to_owned();
        if info.get("dir_info").is_some() || info.get("vcs_info").is_some() {
            return Err(format!(
                "pip package {name} comes from {url}, a directory or a version-control checkout: it has no archive to lock by hash"
            ));
        }
        let archive = info.get("archive_info");
        let sha256 = archive
            .and_then(|a| a.get("hashes"))
            .and_then(|h| h.get("sha256"))
            .and_then(|h| h.as_str())
            .map(str::to_owned)
            .or_else(|| {
                archive
                    .and_then(|a| a.get("hash"))
                    .and_then(|h| h.as_str())
                    .and_then(|h| h.strip_prefix("sha256="))
                    .map(str::to_owned)
            });
        let sha256 = match sha256 {
            Some(h) => Some(h),
            // A local archive pip did not hash: hashed here, as the installer checks it.
            None => {
                match url::Url::parse(&url).ok().filter(|u| u.scheme() == "file").and_then(|u| u.to_file_path().ok()) {
                    Some(path) => Some(hex(&rattler_digest::compute_file_digest::<rattler_digest::Sha256>(&path)
                        .map_err(|e| format!("pip package {name}: cannot read {}: {e}", path.display()))?)),
                    None => None,
                }
            }
        };
        let dependencies = meta
            .get("requires_dist")
            .and_then(|r| r.as_array())
            .map(|deps| {
                deps.iter()
                    .filter_map(|d| d.as_str())
                    .filter(|d| !d.contains("extra =="))
                    .map(|d| {
                        let (req, _marker) = d.split_once(';').unwrap_or((d, ""));
                        let n = pip_name(req);
                        let rest = req.trim()[req
                            .trim()
                            .find(|c: char| !(c.is_alphanumeric() || "-_.".contains(c)))
                            .unwrap_or(req.trim().len())..]
                            .trim();
                        (n, if rest.is_empty() { "*".to_owned() } else { rest.to_owned() })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(LockedPackage {
            name: normalize_pip(&name),
            version,
            manager: "pip".into(),
            platform: platform.into(),
            dependencies,
            url,
            hash: LockedHash { md5: None, sha256 },
            category: Some("main".into()),
            optional: false,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The text of a conda-lock.yml (format version 1) locking `packages` for `platform`, made
/// from `env`'s channels (conda-forge when it names none).
pub fn render(env: &EnvFile, platform: &str, packages: &[LockedPackage]) -> String {
    let channels = if env.channels.is_empty() {
        vec!["conda-forge".to_string()]
    } else {
        env.channels.iter().map(ToString::to_string).collect()
    };
    let out = LockOut {
        version: 1,
        metadata: MetaOut {
            content_hash: Default::default(),
            channels: channels.into_iter().map(|url| ChannelOut { url, used_env_vars: Vec::new() }).collect(),
            platforms: vec![platform.into()],
            sources: vec![ENVIRONMENT_YML.into()],
        },
        package: packages,
    };
    serde_yaml::to_string(&out).unwrap_or_default()
}

/// Write `text` to `path` atomically: a temporary file beside it, renamed over it.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".conda-lock.yml.").tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Seconds since the epoch, now (for tests and messages).
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> EnvFile {
        EnvFile::parse(Path::new("environment.yml"), text).unwrap()
    }

    fn lock(text: &str) -> LockFile {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(CONDA_LOCK_YML);
        std::fs::write(&p, text).unwrap();
        LockFile::read(&p).unwrap()
    }

    #[test]
    fn states_by_content_not_by_file_time() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(lock_state(d.path()), LockState::Neither);
        std::fs::write(d.path().join(ENVIRONMENT_YML), "channels: [conda-forge]\ndependencies: [hello >=2]\n").unwrap();
        assert_eq!(lock_state(d.path()), LockState::Missing);
        // Written after environment.yml, but it locks hello 1.0: stale.
        std::fs::write(
            d.path().join(CONDA_LOCK_YML),
            LOCK.replace("linux-64", platform())
                .replace("metadata:\n", "metadata:\n  channels: [{url: conda-forge}]\n"),
        )
        .unwrap();
        let LockState::Stale { unmet } = lock_state(d.path()) else { panic!("{:?}", lock_state(d.path())) };
        assert_eq!(unmet, ["hello >=2: conda-lock.yml locks hello 1.0"]);
        // environment.yml rewritten (newer) to what the lock has: fresh.
        std::fs::write(d.path().join(ENVIRONMENT_YML), "channels: [conda-forge]\ndependencies: [hello 1.*]\n").unwrap();
        assert_eq!(lock_state(d.path()), LockState::Fresh);
        std::fs::write(d.path().join(CONDA_LOCK_YML), "version: 1\npackage: [oops\n").unwrap();
        let LockState::Stale { unmet } = lock_state(d.path()) else { panic!() };
        assert!(unmet[0].starts_with("conda-lock.yml cannot be checked:"), "{unmet:?}");
        std::fs::remove_file(d.path().join(ENVIRONMENT_YML)).unwrap();
        assert_eq!(lock_state(d.path()), LockState::LockOnly);
        assert_eq!(LockState::LockOnly.as_str(), "unchecked", "not fresh: nothing checked it");
    }

    #[test]
    fn every_spec_channel_and_pip_entry_is_checked() {
        let l = LockFile { channels: vec!["conda-forge".into()], ..lock(LOCK) };
        let check = |text: &str| unmet_with(&env(text), &l, "linux-64", Path::new("/p"), &CondaConfig::default());
        assert!(check("channels: [conda-forge]\ndependencies: [hello]\n").is_empty());
        assert!(
            check("channels: [conda-forge, nodefaults]\ndependencies: ['hello >=1,<2', hello=1.0=pyh_0]\n").is_empty()
        );
        // conda-forge's URL is the same channel; no channels means conda-forge.
        assert!(check("channels: ['https://conda.anaconda.org/conda-forge/']\ndependencies: [hello]\n").is_empty());
        assert!(check("dependencies: [hello]\n").is_empty());
        assert_eq!(
            check("channels: [conda-forge]\ndependencies: [hello=1.0=other_0]\n"),
            ["hello ==1.0 other_0: conda-lock.yml locks hello 1.0"]
        );
        assert_eq!(
            check("channels: [conda-forge]\ndependencies: [numpy]\n"),
            ["numpy: conda-lock.yml locks no package of that name for linux-64"]
        );
        // Optional packages do not count.
        assert_eq!(check("channels: [conda-forge]\ndependencies: [extra]\n").len(), 1);
        let e = check("channels: [bioconda, conda-forge]\ndependencies: [hello]\n");
        assert!(e.len() == 1 && e[0].starts_with("channels: environment.yml has [https://conda.anaconda.org/bioconda, https://conda.anaconda.org/conda-forge], conda-lock.yml was made with [https://conda.anaconda.org/conda-forge]"), "{e:?}");
        assert!(check("channels: [conda-forge]\ndependencies: [hello, {pip: [Requests>=2]}]\n").is_empty());
        assert!(check("channels: [conda-forge]\ndependencies: [hello, {pip: [requests==2.31]}]\n").is_empty());
        assert_eq!(
            check("channels: [conda-forge]\ndependencies: [hello, {pip: [requests==2.32]}]\n"),
            ["pip: requests==2.32: conda-lock.yml locks requests 2.31"]
        );
        assert_eq!(
            check("channels: [conda-forge]\ndependencies: [hello, {pip: [rich]}]\n"),
            ["pip: rich: conda-lock.yml locks no pip package of that name"]
        );
        assert_eq!(
            unmet(&env("dependencies: [hello]\n"), &l, "osx-arm64", Path::new("/p")),
            ["conda-lock.yml locks no packages for osx-arm64 (this machine)"]
        );
    }

    #[test]
    fn pip_reports_become_hashed_pip_entries_and_unhashable_sources_are_refused() {
        let report = serde_json::json!({"version": "1", "install": [
            {"metadata": {"name": "Rich_Text", "version": "13.7.1",
                          "requires_dist": ["markdown-it-py>=2.2.0", "pygments<3.0.0,>=2.13.0", "ipywidgets>=7.5.1; extra == \"jupyter\""]},
             "download_info": {"url": "https://files.example/rich_text-13.7.1-py3-none-any.whl",
                               "archive_info": {"hash": format!("sha256={}", "ab".repeat(32)), "hashes": {"sha256": "ab".repeat(32)}}}},
            {"metadata": {"name": "old", "version": "1.0"},
             "download_info": {"url": "https://files.example/old-1.0.tar.gz", "archive_info": {"hash": format!("sha256={}", "cd".repeat(32))}}}
        ]});
        let pkgs = pip_packages(&report, "linux-64").unwrap();
        assert_eq!(
            pkgs.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect::<Vec<_>>(),
            [("old", "1.0"), ("rich-text", "13.7.1")]
        );
        let rich = &pkgs[1];
        assert_eq!((rich.manager.as_str(), rich.platform.as_str()), ("pip", "linux-64"));
        assert_eq!(rich.hash.sha256, Some("ab".repeat(32)));
        assert_eq!(pkgs[0].hash.sha256, Some("cd".repeat(32)));
        assert_eq!(rich.dependencies.get("markdown-it-py").map(String::as_str), Some(">=2.2.0"));
        assert_eq!(rich.dependencies.get("pygments").map(String::as_str), Some("<3.0.0,>=2.13.0"));
        assert!(!rich.dependencies.contains_key("ipywidgets"), "extras are not dependencies");
        // What pyve writes, pyve reads back as checked pip requirements.
        let env = env("channels: [conda-forge]\ndependencies: [{pip: [rich-text]}]\n");
        let text = render(&env, "linux-64", &pkgs);
        let back = lock(&text);
        let reqs = back.pip_requirements("linux-64").unwrap();
        assert_eq!(reqs.len(), 2);
        assert!(reqs[1].line().contains(&format!("--hash=sha256:{}", "ab".repeat(32))), "{}", reqs[1].line());

        let dir = serde_json::json!({"install": [{"metadata": {"name": "mine", "version": "0.1"},
            "download_info": {"url": "file:///src/mine", "dir_info": {"editable": true}}}]});
        let e = pip_packages(&dir, "linux-64").unwrap_err();
        assert!(e.contains("pip package mine comes from file:///src/mine") && e.contains("no archive to lock"), "{e}");
    }

    #[test]
    fn hints_name_a_conda_platform() {
        let h = regenerate_hint();
        assert!(h.starts_with("pyve lock (or: conda-lock -f environment.yml -p "), "{h}");
        let p = h.rsplit(' ').next().unwrap().trim_end_matches(')');
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
