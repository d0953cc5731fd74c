//! `pyve plugin install` and `pyve plugin remove`, as library functions (the pinned-plugin
//! install calls [`install`] once per pin).
//!
//! Layout of the user plugin directory (`$PYVE_HOME/plugins`):
//!
//! - built plugins: `pyve-NAME` and/or `libpyve_NAME.so`, directly in the directory;
//! - script plugins: `.pkg/NAME-<unique>/` holds the script and its helper files (for a Python
//!   script that imports `pyve_plugin`, the helper shipped inside pyve), and `pyve-NAME` is a
//!   symlink to the script in it (the script finds its helpers in its real directory);
//! - `.receipts/NAME.json`: what was installed, from where, with checksums ([`Receipt`]);
//! - `.staging-*`: an install in progress (a killed install's leftovers are removed by the
//!   next install, and so are package directories no receipt lists);
//! - `.lock`: held by an install while it changes the directory (a second one waits).
//!
//! An install stages every file in a staging directory inside the plugin directory (same file
//! system), performs the real handshake on the staged files, and only then renames them into
//! place, over the previous version: an interrupted install leaves the previous version working.

use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pyve_protocol::types::Manifest;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::discovery::{self, Candidate, Kind};
use crate::env::HostEnv;
use crate::error::{Context as _, Error, Result};
use crate::ui;

/// The Python helper, written next to installed Python script plugins that import it.
pub const PYTHON_HELPER: &str = include_str!("../../../sdk/python/pyve_plugin.py");
const PYTHON_HELPER_FILE: &str = "pyve_plugin.py";

const RECEIPTS: &str = ".receipts";
const PKG: &str = ".pkg";
const STAGING_PREFIX: &str = ".staging-";
/// The install lock in the plugin directory.
const LOCK: &str = ".lock";
const RECEIPT_FORMAT: u32 = 1;

/// What to install.
#[derive(Clone, Debug, Default)]
pub struct InstallRequest {
    /// The source as the user gave it: a path (file, script, directory, crate directory), a
    /// `git+URL`, or `NAME[@REQ]` of the Rust package registry.
    pub source: String,
    /// The plugin name the source must provide (a pin's name), if known.
    pub name: Option<String>,
    /// A version the installed plugin must match.
    pub version: Option<semver::VersionReq>,
    /// Reinstall the same version, or replace files pyve did not install.
    pub force: bool,
    /// `cargo install --registry R`.
    pub registry: Option<String>,
    /// `cargo --offline`.
    pub offline: bool,
}

/// The kind of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A built executable or dynamic library.
    File,
    /// A script (a file starting with `#!`), or a directory holding one with its helpers.
    Script,
    /// A crate directory, built with `cargo install --path`.
    Crate,
    /// The Rust package registry (`cargo install pyve-NAME`).
    Registry,
    /// A git repository, cloned then installed as a path.
    Git,
}

/// Where an installed plugin came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The kind.
    pub kind: SourceKind,
    /// The spec as given (paths made absolute; `pyve-NAME@REQ` for the registry).
    pub spec: String,
    /// The cargo registry, when one other than the default was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
}

/// One installed file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledFile {
    /// Relative to the plugin directory.
    pub path: PathBuf,
    /// The content's sha256 (none for a symlink).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A symlink's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<PathBuf>,
}

/// `$PYVE_HOME/plugins/.receipts/NAME.json`: what `pyve plugin install` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Receipt format, 1.
    pub format: u32,
    /// The plugin name.
    pub name: String,
    /// Its version (from its manifest).
    pub version: String,
    /// Where it came from.
    pub source: Source,
    /// The files installed, relative to the plugin directory.
    pub files: Vec<InstalledFile>,
    /// Seconds since the Unix epoch.
    pub installed_at: u64,
    /// The pyve that installed it.
    pub pyve: String,
}

impl Receipt {
    /// The receipt file of `name` in plugin directory `dir`.
    pub fn path(dir: &Path, name: &str) -> PathBuf {
        dir.join(RECEIPTS).join(format!("{name}.json"))
    }

    /// Read the receipt of `name`, if there is a readable one.
    pub fn load(dir: &Path, name: &str) -> Option<Receipt> {
        let bytes = std::fs::read(Self::path(dir, name)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The receipt whose files include `file` (an absolute path in `dir`), if any.
    pub fn owning(dir: &Path, file: &Path) -> Option<Receipt> {
        let rel = file.strip_prefix(dir).ok()?;
        let name = discovery::parse_file_name(rel.file_name()?)?.0;
        Self::load(dir, &name).filter(|r| r.files.iter().any(|f| f.path == rel))
    }
}

/// The user plugin directory, created when missing.
fn plugin_dir(env: &HostEnv) -> Result<PathBuf> {
    let dir = env.user_plugin_dir().ok_or_else(|| {
        Error::new("no user plugin directory").because("neither PYVE_HOME nor HOME is set").hint("set PYVE_HOME")
    })?;
    if dir.exists() && !dir.is_dir() {
        return Err(Error::new(format!("the user plugin directory {} is not a directory", dir.display()))
            .hint("move that file away, or set PYVE_HOME to another directory (plugins go to $PYVE_HOME/plugins)"));
    }
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::new(format!("cannot create the user plugin directory {}", dir.display())).because(e).hint(
            "make its parent writable, or set PYVE_HOME to a writable directory (plugins go to $PYVE_HOME/plugins)",
        )
    })?;
    Ok(dir)
}

/// A staging directory in `dir`, removed when dropped, and the lock that keeps two installs
/// from changing the plugin directory at once (held as long as the staging directory).
struct Staging(PathBuf, #[allow(dead_code)] std::fs::File);

/// Take the plugin directory's install lock (`.lock`), waiting for another install to finish.
fn lock_dir(dir: &Path) -> Result<std::fs::File> {
    let file = std::fs::OpenOptions::new().create(true).append(true).open(dir.join(LOCK)).map_err(|e| {
        Error::new(format!("cannot open the install lock in {}", dir.display()))
            .because(e)
            .hint("pyve writes plugins there: make it writable, or set PYVE_HOME to a writable directory")
    })?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns; released when the file is closed.
        let try_lock = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if try_lock != 0 {
            crate::ui::info("Waiting for another `pyve plugin install` to finish...");
            // SAFETY: as above, blocking this time.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(Error::new(format!("cannot lock {}", dir.join(LOCK).display()))
                    .because(std::io::Error::last_os_error())
                    .hint("try again; if it persists, check the permissions of the plugin directory"));
            }
        }
    }
    Ok(file)
}

/// Package directories (`.pkg/NAME-*`) no receipt lists: left by an install killed between
/// moving a new package in and switching its entry point. Only called under the install lock.
fn remove_orphan_packages(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir.join(PKG)) else { return };
    let mut listed: Vec<PathBuf> = Vec::new();
    if let Ok(receipts) = std::fs::read_dir(dir.join(RECEIPTS)) {
        for r in receipts.flatten() {
            let Some(name) = r.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(str::to_owned) else {
                continue;
            };
            if let Some(receipt) = Receipt::load(dir, &name) {
                listed.extend(
                    receipt
                        .files
                        .iter()
                        .filter_map(|f| f.path.components().nth(1))
                        .map(|c| PathBuf::from(c.as_os_str())),
                );
            }
        }
    }
    for e in rd.flatten() {
        if !listed.iter().any(|l| l.as_os_str() == e.file_name()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Staging {
    fn new(dir: &Path) -> Result<Staging> {
        let lock = lock_dir(dir)?;
        remove_orphan_packages(dir);
        // Leftovers of killed installs (their pid is gone).
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = n.strip_prefix(STAGING_PREFIX).and_then(|r| r.split('-').next())
                    && !process_alive(pid)
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let t = tempfile::Builder::new()
            .prefix(&format!("{STAGING_PREFIX}{}-", std::process::id()))
            .tempdir_in(dir)
            .with_context(|| format!("cannot create a staging directory in {}", dir.display()))?;
        Ok(Staging(t.keep(), lock))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn process_alive(pid: &str) -> bool {
    let Ok(pid) = pid.parse::<i32>() else { return false };
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// The files a source yields, staged under their final names (relative to the plugin dir).
struct Staged {
    name: String,
    /// (path relative to staging root == final relative path, is it a plugin entry point)
    files: Vec<PathBuf>,
    source: Source,
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn copy_into(src: &Path, dest: &Path) -> Result<()> {
    if let Some(p) = dest.parent() {
        std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    std::fs::copy(src, dest).with_context(|| format!("cannot copy {} to {}", src.display(), dest.display())).map(|_| ())
}

fn is_script(path: &Path) -> bool {
    let mut head = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == b"#!"
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Whether `source` names a path rather than a registry package.
fn looks_like_path(source: &str) -> bool {
    source.contains('/') || source.starts_with('.') || source.starts_with('~') || Path::new(source).exists()
}

/// Install a plugin into the user plugin directory; see the module documentation.
pub fn install(env: &HostEnv, req: &InstallRequest) -> Result<Receipt> {
    let source = req.source.trim();
    if !source.starts_with("git+") && !looks_like_path(source) {
        let name = source.split('@').next().unwrap_or_default();
        if !pyve_protocol::is_valid_plugin_name(name.strip_prefix("pyve-").unwrap_or(name)) {
            return Err(Error::usage(format!("'{source}' is neither a path nor a plugin name"))
                .hint("a plugin name is lowercase letters, digits and dashes, such as `hello` or `pyve-hello@0.2`"));
        }
    }
    let dir = plugin_dir(env)?;
    let staging = Staging::new(&dir)?;
    let staged = stage(env, req, &staging.0)?;
    if let Some(want) = &req.name
        && want != &staged.name
    {
        return Err(Error::new(format!("{} provides plugin '{}', not '{want}'", req.source, staged.name))
            .hint(format!("install '{want}' from its own source")));
    }
    if crate::cli::BUILTINS.contains(&staged.name.as_str()) {
        return Err(Error::new(format!("refusing to install plugin '{}'", staged.name))
            .because(format!("`{}` is a built-in command of pyve, which plugins never shadow", staged.name))
            .hint("rename the plugin"));
    }
    let manifest = check(env, req, &staging.0, &staged)?;
    let name = staged.name.clone();

    // Same version already installed: refuse unless --force; files pyve did not install are
    // not replaced without --force either.
    let old = Receipt::load(&dir, &name);
    if let Some(old) = &old
        && old.version == manifest.version
        && !req.force
    {
        return Err(Error::new(format!("plugin {name} {} is already installed", old.version))
            .because(format!("from {}", old.source.spec))
            .hint(format!("use `pyve plugin install --force {}` to reinstall it", req.source)));
    }
    if old.is_none() && !req.force {
        for f in [discovery::exec_file_name(&name), discovery::dylib_file_name(&name)] {
            let p = dir.join(&f);
            if p.symlink_metadata().is_ok() {
                return Err(Error::new(format!("{} exists and was not installed by pyve", p.display()))
                    .because("it has no receipt")
                    .hint("remove it, or use --force to replace it"));
            }
        }
    }

    // Checksums and receipt, then move into place.
    let mut files = Vec::new();
    for rel in &staged.files {
        let p = staging.0.join(rel);
        let meta = p.symlink_metadata().with_context(|| format!("cannot read {}", p.display()))?;
        if meta.file_type().is_symlink() {
            files.push(InstalledFile { path: rel.clone(), sha256: None, link: std::fs::read_link(&p).ok() });
        } else {
            files.push(InstalledFile { path: rel.clone(), sha256: Some(sha256_file(&p)?), link: None });
        }
    }
    let receipt = Receipt {
        format: RECEIPT_FORMAT,
        name: name.clone(),
        version: manifest.version.clone(),
        source: staged.source.clone(),
        files,
        installed_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        pyve: crate::env::VERSION.to_owned(),
    };
    let receipt_tmp = staging.0.join("receipt.json");
    std::fs::write(&receipt_tmp, crate::json::pretty(&receipt)).context("cannot write the receipt")?;

    // Package directories first (nothing points at them yet), then the entry points (renamed
    // over the old ones), then the receipt, then what the old version had and this one has not.
    let mut order: Vec<&PathBuf> = staged.files.iter().filter(|f| f.starts_with(PKG)).collect();
    let mut pkg_dirs: Vec<PathBuf> = Vec::new();
    for f in &order {
        if let Some(top) = f.components().nth(1) {
            let d = Path::new(PKG).join(top);
            if !pkg_dirs.contains(&d) {
                pkg_dirs.push(d);
            }
        }
    }
    for d in &pkg_dirs {
        std::fs::create_dir_all(dir.join(PKG)).context("cannot create the package directory")?;
        std::fs::rename(staging.0.join(d), dir.join(d))
            .with_context(|| format!("cannot move {} into {}", d.display(), dir.display()))?;
    }
    order = staged.files.iter().filter(|f| !f.starts_with(PKG)).collect();
    for f in order {
        std::fs::rename(staging.0.join(f), dir.join(f))
            .with_context(|| format!("cannot move {} into {}", f.display(), dir.display()))?;
    }
    std::fs::create_dir_all(dir.join(RECEIPTS)).context("cannot create the receipt directory")?;
    std::fs::rename(&receipt_tmp, Receipt::path(&dir, &name)).context("cannot write the receipt")?;
    if let Some(old) = old {
        for f in old.files.iter().filter(|f| !receipt.files.iter().any(|n| n.path == f.path)) {
            if let Err(e) = remove_file(&dir, &f.path) {
                ui::warn(&format!("could not remove {} of {name} {}: {e}", dir.join(&f.path).display(), old.version));
            }
        }
        // Another version was there (an older one, or a newer one: a downgrade): say which.
        if old.version != receipt.version {
            ui::info(&format!("replaced {name} {} with {}", old.version, receipt.version));
        }
    }
    Ok(receipt)
}

/// Remove one file of a receipt (one already gone is fine), then the package directories it
/// leaves empty.
fn remove_file(dir: &Path, rel: &Path) -> std::io::Result<()> {
    let p = dir.join(rel);
    match std::fs::remove_file(&p) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    // Empty package directories go too.
    let mut parent = p.parent();
    while let Some(d) = parent {
        if d == dir || !d.starts_with(dir.join(PKG)) {
            break;
        }
        // Bytecode Python wrote next to a script's helper is not in the receipt, but belongs
        // to the package.
        let _ = std::fs::remove_dir_all(d.join("__pycache__"));
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        parent = d.parent();
    }
    Ok(())
}

/// Remove a plugin pyve installed: exactly the files its receipt lists, then the receipt.
pub fn remove(env: &HostEnv, name: &str) -> Result<Receipt> {
    let dir = env.user_plugin_dir().ok_or_else(|| Error::new("no user plugin directory"))?;
    let Some(receipt) = Receipt::load(&dir, name) else {
        let search = discovery::SearchPath::from_env(env);
        let found = discovery::candidates_for(&search, name);
        let err = Error::new(format!("plugin '{name}' was not installed by `pyve plugin install`"));
        return Err(match found.first() {
            Some(c) => err
                .because(format!(
                    "{} ({}) has no receipt in {}, so pyve does not know which files belong to it",
                    c.path.display(),
                    c.origin.describe(),
                    dir.join(RECEIPTS).display()
                ))
                .hint(format!("remove {} yourself", c.path.display())),
            None => err.because("no plugin of that name was found").hint("`pyve plugin list` shows the plugins"),
        });
    };
    // Entry points first: the plugin stops being found before its package goes.
    let (pkg, top): (Vec<_>, Vec<_>) = receipt.files.iter().partition(|f| f.path.starts_with(PKG));
    let mut kept = Vec::new();
    for f in top.into_iter().chain(pkg) {
        if let Err(e) = remove_file(&dir, &f.path) {
            kept.push(format!("{} ({e})", dir.join(&f.path).display()));
        }
    }
    if !kept.is_empty() {
        // The receipt stays: it is what lets a second `pyve plugin remove` finish the job.
        let mut err = Error::new(format!(
            "could not remove {} of {} files of plugin {name} {}",
            kept.len(),
            receipt.files.len(),
            receipt.version
        ));
        for k in &kept {
            err = err.detail(format!("kept: {k}"));
        }
        return Err(err.hint(format!(
            "remove them yourself, then run `pyve plugin remove {name}` again (its receipt {} is kept until then)",
            Receipt::path(&dir, name).display()
        )));
    }
    std::fs::remove_file(Receipt::path(&dir, name)).context("cannot remove the receipt")?;
    Ok(receipt)
}

/// Run the handshake on every staged entry point and check the manifest.
fn check(env: &HostEnv, req: &InstallRequest, root: &Path, staged: &Staged) -> Result<Manifest> {
    let info = super::inspect_session(env);
    let mut manifest: Option<Manifest> = None;
    for rel in &staged.files {
        let Some((name, kind)) = rel.file_name().and_then(discovery::parse_file_name) else { continue };
        if rel.starts_with(PKG) {
            continue;
        }
        let path = root.join(rel);
        let c = Candidate::from_file(path.clone(), &name, kind)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let m = super::fetch_manifest(&c, &info, super::timeouts(env)).map_err(|mut e| {
            // The staged copy is gone when this error is shown: point the hint at the file
            // the user gave, or at the file's name when it was built or cloned.
            e.plugin.path = source_entry(staged, rel);
            Error::new(format!("refusing to install {}", req.source))
                .because(e.summary())
                .hint(format!("nothing was changed; {}", e.to_error().hint_text().unwrap_or("fix the plugin")))
        })?;
        if let Some(prev) = &manifest
            && prev.version != m.version
        {
            return Err(Error::new(format!("refusing to install {}", req.source)).because(format!(
                "its executable and library disagree on the version ({} and {})",
                prev.version, m.version
            )));
        }
        manifest = Some(m);
    }
    let m = manifest.ok_or_else(|| Error::new(format!("{} holds no plugin", req.source)))?;
    let v = semver::Version::parse(&m.version).map_err(|e| {
        Error::new(format!("refusing to install {}", req.source))
            .because(format!("its version '{}' is not a semantic version: {e}", m.version))
    })?;
    // `NAME@REQ` from the registry: cargo chose the package by its version; the plugin's own
    // version (its manifest) must match too.
    let from_spec = (staged.source.kind == SourceKind::Registry)
        .then(|| req.source.split_once('@').and_then(|(_, r)| semver::VersionReq::parse(r.trim()).ok()))
        .flatten();
    if let Some(want) = req.version.as_ref().or(from_spec.as_ref())
        && !want.matches(&v)
    {
        return Err(Error::new(format!("refusing to install {}", req.source))
            .because(format!("it is version {v}, which does not match {want}")));
    }
    Ok(m)
}

/// The file the user can run to see what the staged entry point `rel` does: the source file for
/// a file or script source, else (a build, a clone) only its name.
fn source_entry(staged: &Staged, rel: &Path) -> PathBuf {
    let file = rel.file_name().map(PathBuf::from).unwrap_or_default();
    let spec = Path::new(&staged.source.spec);
    match staged.source.kind {
        SourceKind::File | SourceKind::Script if spec.is_dir() => spec.join(file),
        SourceKind::File | SourceKind::Script => spec.parent().map(|d| d.join(&file)).unwrap_or(file),
        SourceKind::Crate | SourceKind::Registry | SourceKind::Git => file,
    }
}

/// Put the source's files into `root` under their final relative names.
fn stage(env: &HostEnv, req: &InstallRequest, root: &Path) -> Result<Staged> {
    let source = req.source.trim();
    if let Some(url) = source.strip_prefix("git+") {
        let clone = root.join("git");
        let status = Command::new("git")
            .args(["clone", "--quiet", "--depth", "1", url])
            .arg(&clone)
            .stdin(Stdio::null())
            .status()
            .context("cannot run git")?;
        if !status.success() {
            return Err(Error::new(format!("git clone {url} failed ({status})")));
        }
        let mut s = stage_path(env, req, &clone, root)?;
        let _ = std::fs::remove_dir_all(&clone);
        s.source = Source { kind: SourceKind::Git, spec: source.to_owned(), registry: None };
        return Ok(s);
    }
    if looks_like_path(source) {
        let path = absolute(Path::new(source));
        if !path.exists() {
            return Err(Error::new(format!("{} does not exist", path.display())).hint(
                "give a plugin file (pyve-NAME, libpyve_NAME.so), a plugin directory, git+URL, or NAME[@REQ] from the Rust package registry",
            ));
        }
        return stage_path(env, req, &path, root);
    }
    // NAME[@REQ] of the registry.
    let (name, version) = match source.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (source, None),
    };
    let name = name.strip_prefix("pyve-").unwrap_or(name);
    if !pyve_protocol::is_valid_plugin_name(name) {
        return Err(Error::usage(format!("'{source}' is neither a path nor a plugin name"))
            .hint("a plugin name is lowercase letters, digits and dashes, such as `hello` or `pyve-hello@0.2`"));
    }
    let version = version.map(str::to_owned).or_else(|| req.version.as_ref().map(ToString::to_string));
    let cargo_root = root.join("cargo-root");
    let mut cmd = cargo();
    cmd.args(["install", "--root"]).arg(&cargo_root).arg(format!("pyve-{name}"));
    if let Some(v) = &version {
        cmd.args(["--version", v]);
    }
    if let Some(r) = &req.registry {
        cmd.args(["--registry", r]);
    }
    if req.offline {
        cmd.arg("--offline");
    }
    ui::info(&format!("Building pyve-{name} with cargo install"));
    run_cargo(cmd)?;
    let mut s = take_cargo_bins(req, &cargo_root, root)?;
    s.source = Source {
        kind: SourceKind::Registry,
        spec: match version {
            Some(v) => format!("pyve-{name}@{v}"),
            None => format!("pyve-{name}"),
        },
        registry: req.registry.clone(),
    };
    Ok(s)
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Run cargo: on a terminal its progress shows on stderr; otherwise its output is captured and
/// its tail shown on failure.
fn run_cargo(mut cmd: Command) -> Result<()> {
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    let shown = std::io::stderr().is_terminal();
    if shown {
        let status = cmd.status().context("cannot run cargo")?;
        if !status.success() {
            return Err(Error::new(format!("cargo install failed ({status})")).hint("see cargo's messages above"));
        }
        return Ok(());
    }
    let out = cmd.stderr(Stdio::piped()).output().context("cannot run cargo")?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text.lines().collect();
        let mut err = Error::new(format!("cargo install failed ({})", out.status));
        for l in &lines[lines.len().saturating_sub(20)..] {
            err = err.detail(format!("cargo: {l}"));
        }
        return Err(err);
    }
    Ok(())
}

/// The `pyve-*` executables cargo installed into `cargo_root/bin`, moved into `root`.
fn take_cargo_bins(req: &InstallRequest, cargo_root: &Path, root: &Path) -> Result<Staged> {
    let bin = cargo_root.join("bin");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&bin)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let (name, kind) = discovery::parse_file_name(&e.file_name())?;
                    (kind == Kind::Exec).then(|| (name, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    if let Some(want) = &req.name {
        found.retain(|(n, _)| n == want);
    }
    let (name, path) = match found.len() {
        1 => found.remove(0),
        0 => {
            return Err(Error::new(format!("{} built no `pyve-*` executable", req.source))
                .hint("a plugin crate's binary is named pyve-NAME"));
        }
        _ => {
            let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Error::new(format!("{} built several plugins: {}", req.source, names.join(", ")))
                .hint("install one by its name"));
        }
    };
    let file = PathBuf::from(discovery::exec_file_name(&name));
    std::fs::rename(&path, root.join(&file)).context("cannot stage the built plugin")?;
    let _ = std::fs::remove_dir_all(cargo_root);
    Ok(Staged {
        name,
        files: vec![file],
        source: Source { kind: SourceKind::Crate, spec: req.source.clone(), registry: None },
    })
}

fn stage_path(env: &HostEnv, req: &InstallRequest, path: &Path, root: &Path) -> Result<Staged> {
    let _ = env;
    let spec = path.display().to_string();
    if path.is_dir() {
        if path.join("Cargo.toml").is_file() {
            let cargo_root = root.join("cargo-root");
            let mut cmd = cargo();
            cmd.args(["install", "--path"]).arg(path).arg("--root").arg(&cargo_root);
            if path.join("Cargo.lock").is_file() {
                cmd.arg("--locked");
            }
            if req.offline {
                cmd.arg("--offline");
            }
            ui::info(&format!("Building {} with cargo install", path.display()));
            run_cargo(cmd)?;
            let mut s = take_cargo_bins(req, &cargo_root, root)?;
            s.source.spec = spec;
            return Ok(s);
        }
        // A script plugin with its helper files.
        let mut scripts: Vec<(String, PathBuf)> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .flatten()
            .filter_map(|e| {
                let (n, k) = discovery::parse_file_name(&e.file_name())?;
                (k == Kind::Exec && e.path().is_file()).then(|| (n, e.path()))
            })
            .collect();
        if let Some(want) = &req.name {
            scripts.retain(|(n, _)| n == want);
        }
        if scripts.len() != 1 {
            return Err(Error::new(format!("{} is not a plugin directory", path.display()))
                .because(format!("it holds {} `pyve-NAME` files and no Cargo.toml", scripts.len()))
                .hint("a plugin directory holds one pyve-NAME script and its helper files, or a Cargo.toml"));
        }
        let (name, _) = scripts.remove(0);
        return stage_script(&name, path, None, root, spec);
    }
    let file = path.file_name().unwrap_or_default();
    let Some((name, kind)) = discovery::parse_file_name(file) else {
        return Err(Error::new(format!("{} is not named like a plugin", path.display())).hint(
            "a plugin file is named pyve-NAME (an executable or script) or libpyve_NAME.so (a library), NAME in [a-z][a-z0-9-]*",
        ));
    };
    if kind == Kind::Exec && is_script(path) {
        let dir = path.parent().unwrap_or(Path::new("/"));
        return stage_script(&name, dir, Some(path), root, spec);
    }
    // A built file, with its sibling of the other kind.
    let mut files = Vec::new();
    let dir = path.parent().unwrap_or(Path::new("/"));
    for f in [discovery::exec_file_name(&name), discovery::dylib_file_name(&name)] {
        let src = dir.join(&f);
        if src.is_file() && (src == path || !is_script(&src)) {
            copy_into(&src, &root.join(&f))?;
            files.push(PathBuf::from(f));
        }
    }
    Ok(Staged { name, files, source: Source { kind: SourceKind::File, spec, registry: None } })
}

/// Stage a script plugin as a package: `.pkg/NAME-<unique>/` with the script (and every other
/// file of `dir` when `only` is none), the Python helper when it imports it and has none, and
/// the symlink `pyve-NAME` to the script.
fn stage_script(name: &str, dir: &Path, only: Option<&Path>, root: &Path, spec: String) -> Result<Staged> {
    let unique = root.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix(STAGING_PREFIX)).unwrap_or("0");
    let pkg = Path::new(PKG).join(format!("{name}-{unique}"));
    let exec = discovery::exec_file_name(name);
    let mut files = Vec::new();
    let sources: Vec<PathBuf> = match only {
        Some(f) => vec![f.to_path_buf()],
        None => std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect(),
    };
    for src in &sources {
        let rel = pkg.join(src.file_name().unwrap_or_default());
        copy_into(src, &root.join(&rel))?;
        files.push(rel);
    }
    let script = std::fs::read_to_string(root.join(pkg.join(&exec))).unwrap_or_default();
    let helper = pkg.join(PYTHON_HELPER_FILE);
    if script.lines().next().is_some_and(|l| l.contains("python"))
        && script.contains("pyve_plugin")
        && !files.contains(&helper)
    {
        std::fs::write(root.join(&helper), PYTHON_HELPER).context("cannot write the Python helper")?;
        files.push(helper);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let p = root.join(pkg.join(&exec));
        let mut perm = std::fs::metadata(&p).context("cannot read the script")?.permissions();
        perm.set_mode(perm.mode() | 0o755);
        std::fs::set_permissions(&p, perm).context("cannot make the script executable")?;
        std::os::unix::fs::symlink(pkg.join(&exec), root.join(&exec)).context("cannot link the script")?;
    }
    files.push(PathBuf::from(&exec));
    Ok(Staged { name: name.to_owned(), files, source: Source { kind: SourceKind::Script, spec, registry: None } })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Python plugin answering `initialize` with `name` and `version`.
    fn python_plugin(dir: &Path, file: &str, name: &str, version: &str) -> PathBuf {
        let p = dir.join(file);
        let text = format!(
            r#"#!/usr/bin/env python3
import json, sys
if sys.argv[1:] != ["--pyve-rpc"]:
    sys.exit(0)
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    if msg["method"] == "initialize":
        result = {{"name": "{name}", "version": "{version}", "protocol": "1.0", "provides": {{}}}}
    else:
        result = None
    sys.stdout.write(json.dumps({{"jsonrpc": "2.0", "id": msg["id"], "result": result}}) + "\n")
    sys.stdout.flush()
    if msg["method"] == "shutdown":
        break
"#
        );
        std::fs::write(&p, text).unwrap();
        p
    }

    fn env(home: &Path) -> HostEnv {
        let mut env = HostEnv::from_process();
        env.pyve_home = Some(home.to_path_buf());
        env.cache_dir = None;
        env
    }

    fn req(p: &Path) -> InstallRequest {
        InstallRequest { source: p.display().to_string(), ..Default::default() }
    }

    #[test]
    fn versions_names_and_requirements_are_checked_before_anything_changes() {
        let t = tempfile::tempdir().unwrap();
        let env = env(&t.path().join("home"));
        let plugins = t.path().join("home/plugins");
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();

        let err = install(&env, &req(&python_plugin(&src, "pyve-doctor", "doctor", "0.1.0"))).unwrap_err();
        assert!(err.to_string().contains("built-in command"), "{err}");
        let err = install(&env, &req(&python_plugin(&src, "pyve-odd", "odd", "1.0"))).unwrap_err();
        assert!(err.to_string().contains("not a semantic version"), "{err}");
        let ok = python_plugin(&src, "pyve-ok", "ok", "0.2.1");
        let mut r = req(&ok);
        r.version = Some(semver::VersionReq::parse("^0.3").unwrap());
        let err = install(&env, &r).unwrap_err();
        assert!(err.to_string().contains("it is version 0.2.1, which does not match ^0.3"), "{err}");
        r.name = Some("other".into());
        r.version = None;
        let err = install(&env, &r).unwrap_err();
        assert!(err.to_string().contains("provides plugin 'ok', not 'other'"), "{err}");
        // Nothing was installed, no staging is left.
        // Nothing but the install lock.
        let left: Vec<_> = std::fs::read_dir(&plugins).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from(LOCK)]);

        r.name = Some("ok".into());
        r.version = Some(semver::VersionReq::parse("^0.2").unwrap());
        let receipt = install(&env, &r).unwrap();
        assert_eq!(receipt.version, "0.2.1");
        assert_eq!(receipt.source.kind, SourceKind::Script);
        assert_eq!(Receipt::load(&plugins, "ok"), Some(receipt.clone()));
        assert_eq!(Receipt::owning(&plugins, &plugins.join("pyve-ok")), Some(receipt));
        // No helper for a Python script that does not use it.
        assert!(
            !std::fs::read_dir(plugins.join(PKG))
                .unwrap()
                .flatten()
                .any(|d| d.path().join(PYTHON_HELPER_FILE).exists())
        );
        remove(&env, "ok").unwrap();
        let mut left: Vec<_> = std::fs::read_dir(&plugins).unwrap().flatten().map(|e| e.file_name()).collect();
        left.sort();
        assert_eq!(left, [std::ffi::OsString::from(LOCK), std::ffi::OsString::from(RECEIPTS)]);
    }
}
