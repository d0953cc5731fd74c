//! Seeding pip (and setuptools where ensurepip installs it) from the interpreter's bundled
//! wheels, without network, without byte-compiling and without starting Python.
//!
//! The result is what `python -m ensurepip --default-pip` (which `python -m venv` runs)
//! leaves behind, minus the `.pyc` files: the wheel's files, its `.dist-info` with
//! `INSTALLER` (`pip`), `REQUESTED` and a new `RECORD` (CRLF lines, sorted, listing the
//! generated launchers), and the launchers `pip`, `pip3`, `pip3.Y` written as pip's
//! vendored distlib writes them.
//!
//! With a cache directory, each wheel is unpacked once into
//! `<cache>/unpacked-wheels-v2/<wheel name>-<size>-<mtime>/` (built in a temporary sibling
//! and renamed in, so concurrent creators never see a partial entry; every file checked
//! against the wheel's `RECORD` hashes when the entry is built) and its files are
//! hard-linked into the environment, or copied when linking fails (another file system).
//! Before an entry is used, every file it lists must be there with the size it had when the
//! entry was built: a damaged entry (a file missing, truncated or replaced) is moved away and
//! built again, never linked.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::BundledWheel;
use crate::error::{Error, IoContext};
use crate::link::{Dir, LinkFailure, link_all};
use crate::record::{csv_field, parse_csv, record_hash};
use crate::temp::TempDir;

/// The directory under a cache root that holds unpacked wheels (the suffix versions the
/// format of an entry).
pub const CACHE_SUBDIR: &str = "unpacked-wheels-v2";

/// The name of an entry's manifest: the files and directories of the wheel, in order.
const MANIFEST: &str = "pyve-manifest.txt";
/// The directory of an entry that holds the wheel's files.
const FILES: &str = "files";

/// Where a seeded wheel's files came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedSource {
    /// Unpacked straight into the environment (no cache directory).
    Unpacked,
    /// Linked or copied from an existing cache entry.
    CacheHit,
    /// The cache entry was created by this call, then linked or copied.
    CacheFilled,
    /// The cache entry was damaged (a file missing or of the wrong size): it was moved away,
    /// built again from the wheel, then linked or copied.
    CacheRebuilt,
}

/// One wheel installed into an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededWheel {
    /// `pip` or `setuptools`.
    pub project: String,
    /// Its version.
    pub version: String,
    /// Where its files came from.
    pub source: SeedSource,
    /// Whether the files are hard links into the cache (false: copies or fresh files).
    pub hard_linked: bool,
    /// The launchers written into `bin/`, by name.
    pub launchers: Vec<String>,
}

/// What seeding needs to know about the environment being built.
pub struct SeedTarget<'a> {
    /// Its directories, interpreter and version. `env.python` is the environment's python at
    /// its final place (`<dest>/bin/<name>`), the launchers' shebang, even while the
    /// environment is built elsewhere.
    pub env: crate::Target<'a>,
    /// An optional cache root.
    pub cache_dir: Option<&'a Path>,
    /// Whether the wheels were asked for (pip writes `REQUESTED`), rather than installed as
    /// a dependency of one that was.
    pub requested: bool,
}

/// Install `wheels` into the environment.
pub fn seed(wheels: &[BundledWheel], target: &SeedTarget<'_>) -> Result<Vec<SeededWheel>, Error> {
    wheels.iter().map(|w| seed_one(w, target)).collect()
}

/// The files of one unpacked wheel.
struct Manifest {
    /// The `.dist-info` directory's name.
    dist_info: String,
    /// Directories to create, parents first (relative, `/`-separated).
    dirs: Vec<String>,
    /// Files (relative, `/`-separated), in archive order.
    files: Vec<String>,
    /// The size of each file of `files`, in bytes.
    sizes: Vec<u64>,
}

fn seed_one(wheel: &BundledWheel, target: &SeedTarget<'_>) -> Result<SeededWheel, Error> {
    let (manifest, source, files_root) = match target.cache_dir {
        None => {
            let manifest = unpack(&wheel.path, target.env.site_packages)?;
            (manifest, SeedSource::Unpacked, None)
        }
        Some(cache) => {
            let (entry, source, manifest) = cache_entry(&wheel.path, cache)?;
            (manifest, source, Some(entry.join(FILES)))
        }
    };
    let generated_names = ["RECORD", "INSTALLER", "REQUESTED"].map(|n| format!("{}/{n}", manifest.dist_info));
    let mut hard_linked = false;
    if let Some(root) = &files_root {
        hard_linked = link_tree(root, target.env.site_packages, &manifest, &generated_names)?;
    }

    // The wheel's RECORD and entry points, from wherever its files are.
    let src_root = files_root.as_deref().unwrap_or(target.env.site_packages);
    let wheel_record_path = src_root.join(&manifest.dist_info).join("RECORD");
    let wheel_record = fs::read_to_string(&wheel_record_path).ctx("read", &wheel_record_path)?;
    let ep_path = src_root.join(&manifest.dist_info).join("entry_points.txt");
    let entry_points = match fs::read_to_string(&ep_path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read", ep_path, e)),
    };

    // Launchers, as pip's wheel installer generates them.
    let (console, gui) = parse_entry_points(&entry_points);
    let specs = console_script_specs(console, target.env.major, target.env.minor);
    let mut generated: Vec<(String, String, usize)> = Vec::new();
    let mut launchers = Vec::new();
    for (name, value) in specs.iter().chain(gui.iter()) {
        let text = launcher_text(target.env.python, value).ok_or_else(|| Error::Wheel {
            path: wheel.path.clone(),
            reason: format!("invalid entry point {name} = {value}"),
        })?;
        let path = target.env.bin_dir.join(name);
        write_launcher(&path, text.as_bytes())?;
        generated.push((format!("../../../bin/{name}"), record_hash(text.as_bytes()), text.len()));
        launchers.push(name.clone());
    }

    // INSTALLER and REQUESTED, fresh files (never links into the cache).
    let info_dir = target.env.site_packages.join(&manifest.dist_info);
    let installer = info_dir.join("INSTALLER");
    write_new(&installer, b"pip\n")?;
    generated.push((format!("{}/INSTALLER", manifest.dist_info), record_hash(b"pip\n"), 4));
    if target.requested {
        let requested = info_dir.join("REQUESTED");
        write_new(&requested, b"")?;
        generated.push((format!("{}/REQUESTED", manifest.dist_info), record_hash(b""), 0));
    }

    // RECORD: the wheel's rows (hash and size as the wheel states them), the generated
    // files, then files the wheel's RECORD forgot, sorted as pip sorts them.
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut listed: HashSet<String> = HashSet::new();
    for row in parse_csv(&wheel_record) {
        let mut it = row.into_iter();
        let path = it.next().unwrap_or_default();
        let hash = it.next().unwrap_or_default();
        let size = it.next().unwrap_or_default();
        listed.insert(path.clone());
        rows.push((path, hash, size));
    }
    for (path, hash, size) in generated {
        rows.push((path, hash, size.to_string()));
    }
    for f in &manifest.files {
        if !listed.contains(f) {
            rows.push((f.clone(), String::new(), String::new()));
        }
    }
    rows.sort();
    let mut record = String::with_capacity(rows.len() * 96);
    for (p, h, s) in &rows {
        record.push_str(&csv_field(p));
        record.push(',');
        record.push_str(&csv_field(h));
        record.push(',');
        record.push_str(&csv_field(s));
        record.push_str("\r\n");
    }
    write_new(&info_dir.join("RECORD"), record.as_bytes())?;

    Ok(SeededWheel { project: wheel.project.clone(), version: wheel.version.clone(), source, hard_linked, launchers })
}

/// Create a file that must not exist yet, write `data`.
fn write_new(path: &Path, data: &[u8]) -> Result<(), Error> {
    let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).open(path).ctx("create", path)?;
    f.write_all(data).ctx("write", path)
}

/// Write a launcher like distlib: replace any existing file, then add `0o555` to the mode
/// the umask gave it.
fn write_launcher(path: &Path, data: &[u8]) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("replace", path, e)),
    }
    write_new(path, data)?;
    let mode = fs::metadata(path).ctx("inspect", path)?.permissions().mode();
    fs::set_permissions(path, fs::Permissions::from_mode((mode | 0o555) & 0o7777)).ctx("set the mode of", path)
}

/// The shebang distlib's `ScriptMaker` writes for `executable` on Linux: `#!<exe>` when it
/// has no space and the line fits in 127 bytes, else the `/bin/sh` trampoline.
pub fn shebang(executable: &str) -> String {
    let exe = if executable.contains(' ') && !executable.starts_with('"') {
        format!("\"{executable}\"")
    } else {
        executable.to_string()
    };
    if !exe.contains(' ') && exe.len() + 3 <= 127 {
        format!("#!{exe}\n")
    } else {
        format!("#!/bin/sh\n'''exec' {exe} \"$0\" \"$@\"\n' '''\n")
    }
}

/// A launcher for the entry point `module:attr.path` (distlib's `SCRIPT_TEMPLATE`).
fn launcher_text(python: &str, value: &str) -> Option<String> {
    // `module:func [extra1, extra2]`: the extras do not change the script.
    let value = value.split('[').next().unwrap_or(value).trim();
    let (module, func) = value.split_once(':')?;
    let (module, func) = (module.trim(), func.trim());
    if module.is_empty() || func.is_empty() || func.contains(':') {
        return None;
    }
    let import_name = func.split('.').next().unwrap_or(func);
    Some(format!(
        "{}# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {import_name}\n\
         if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    \
         sys.exit({func}())\n",
        shebang(python)
    ))
}

/// Entry points as `(name, value)`, in file order.
type EntryPoints = Vec<(String, String)>;

/// `[console_scripts]` and `[gui_scripts]` of an `entry_points.txt`, in file order.
fn parse_entry_points(text: &str) -> (EntryPoints, EntryPoints) {
    let (mut console, mut gui) = (Vec::new(), Vec::new());
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        let Some((name, value)) = line.split_once('=') else { continue };
        let entry = (name.trim().to_string(), value.trim().to_string());
        let list = match section.as_str() {
            "console_scripts" => &mut console,
            "gui_scripts" => &mut gui,
            _ => continue,
        };
        // A later duplicate replaces the earlier value (dict semantics), keeping its place.
        if let Some(existing) = list.iter_mut().find(|(n, _)| *n == entry.0) {
            existing.1 = entry.1;
        } else {
            list.push(entry);
        }
    }
    (console, gui)
}

/// pip's `get_console_script_specs` with `ENSUREPIP_OPTIONS` unset (ensurepip
/// `--default-pip`, as venv runs it): `pip`, `pipX`, `pipX.Y` (other versioned pip entries
/// of the wheel dropped), the same for `easy_install`, then the remaining entries.
fn console_script_specs(mut console: Vec<(String, String)>, major: u32, minor: u32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(pos) = console.iter().position(|(n, _)| n == "pip") {
        let (_, script) = console.remove(pos);
        out.push(("pip".to_string(), script.clone()));
        out.push((format!("pip{major}"), script.clone()));
        out.push((format!("pip{major}.{minor}"), script));
        console.retain(|(n, _)| !is_versioned(n, "pip", ""));
    }
    if let Some(pos) = console.iter().position(|(n, _)| n == "easy_install") {
        let (_, script) = console.remove(pos);
        out.push(("easy_install".to_string(), script.clone()));
        out.push((format!("easy_install-{major}.{minor}"), script));
        console.retain(|(n, _)| !is_versioned(n, "easy_install", "-"));
    }
    out.extend(console);
    out
}

/// `re.match(r"pip(\d+(\.\d+)?)?$", name)` (sep "") or
/// `re.match(r"easy_install(-\d+\.\d+)?$", name)` (sep "-").
fn is_versioned(name: &str, base: &str, sep: &str) -> bool {
    let Some(rest) = name.strip_prefix(base) else { return false };
    if rest.is_empty() {
        return true;
    }
    let Some(rest) = rest.strip_prefix(sep) else { return false };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once('.') {
        Some((a, b)) => digits(a) && digits(b),
        None => sep.is_empty() && digits(rest),
    }
}

/// Unpack `wheel` into `dest` like pip's wheel installer (files only, executable bits as
/// `0o777 & ~umask | 0o111`), returning what was written.
fn unpack(wheel: &Path, dest: &Path) -> Result<Manifest, Error> {
    let bad = |reason: String| Error::Wheel { path: wheel.to_path_buf(), reason };
    let file = File::open(wheel).ctx("open", wheel)?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(format!("not a zip archive: {e}")))?;
    let mut dirs: Vec<String> = Vec::new();
    let mut made: HashSet<String> = HashSet::new();
    let mut files: Vec<String> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    let mut dist_infos: HashSet<String> = HashSet::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(format!("cannot read entry {i}: {e}")))?;
        let name = entry.name().map_err(|e| bad(format!("entry {i} has an unreadable name: {e}")))?.into_owned();
        if name.ends_with('/') {
            continue;
        }
        let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        if name.starts_with('/')
            || parts.is_empty()
            || parts.iter().any(|p| *p == ".." || p.contains(['\\', '\0', '\n', '\r', '\t']))
        {
            return Err(bad(format!("unsafe path {name:?}")));
        }
        let top = parts[0];
        if top.ends_with(".data") {
            return Err(bad(format!("{name}: .data directories are not supported")));
        }
        if top.ends_with(".dist-info") && parts.len() > 1 {
            dist_infos.insert(top.to_string());
        }
        let rel = parts.join("/");
        // Parent directories, parents first.
        let mut acc = String::new();
        for part in &parts[..parts.len() - 1] {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            if made.insert(acc.clone()) {
                let dir = dest.join(&acc);
                match fs::create_dir(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => {}
                    Err(e) => return Err(Error::io("create directory", dir, e)),
                }
                dirs.push(acc.clone());
            }
        }
        let out_path = dest.join(&rel);
        let mode = entry.external_attributes() >> 16;
        let executable = mode != 0 && (mode & 0o170000) == 0o100000 && (mode & 0o111) != 0;
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o777 } else { 0o666 })
            .open(&out_path)
            .ctx("create", &out_path)?;
        let written = std::io::copy(&mut entry, &mut out).map_err(|e| Error::Wheel {
            path: wheel.to_path_buf(),
            reason: format!("cannot extract {name} to {}: {e}", out_path.display()),
        })?;
        if executable {
            let m = out.metadata().ctx("inspect", &out_path)?.permissions().mode();
            out.set_permissions(fs::Permissions::from_mode((m | 0o111) & 0o7777)).ctx("set the mode of", &out_path)?;
        }
        files.push(rel);
        sizes.push(written);
    }
    let mut infos: Vec<String> = dist_infos.into_iter().collect();
    if infos.len() != 1 {
        infos.sort();
        return Err(bad(format!("expected exactly one .dist-info directory, found {infos:?}")));
    }
    let dist_info = infos.remove(0);
    let wheel_meta = dest.join(&dist_info).join("WHEEL");
    let meta = fs::read_to_string(&wheel_meta).map_err(|e| bad(format!("cannot read {dist_info}/WHEEL: {e}")))?;
    let version = meta.lines().find_map(|l| l.strip_prefix("Wheel-Version:")).map(str::trim).unwrap_or("");
    if !version.starts_with("1.") {
        return Err(bad(format!("unsupported Wheel-Version {version:?}")));
    }
    Ok(Manifest { dist_info, dirs, files, sizes })
}

/// The cache entry for `wheel`, creating it when missing and rebuilding it when damaged, with
/// its manifest (read once: for the check, then for the link).
fn cache_entry(wheel: &Path, cache: &Path) -> Result<(PathBuf, SeedSource, Manifest), Error> {
    let meta = fs::metadata(wheel).ctx("inspect", wheel)?;
    let file_name = wheel
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Wheel { path: wheel.to_path_buf(), reason: "its name is not UTF-8".into() })?;
    let key = format!("{file_name}-{}-{}.{:09}", meta.len(), meta.mtime(), meta.mtime_nsec());
    let root = cache.join(CACHE_SUBDIR);
    let entry = root.join(&key);
    let mut rebuilt = false;
    if entry.join(MANIFEST).is_file() {
        if let Ok(manifest) = read_manifest(&entry)
            && entry_is_whole(&entry, &manifest)
        {
            return Ok((entry, SeedSource::CacheHit, manifest));
        }
        // Damaged: move it out of the way in one step (a concurrent user either linked
        // from it already or sees it gone), then remove it.
        // (Renaming a directory onto the empty temporary one replaces it; dropping the
        // temporary directory removes the damaged tree.)
        let doomed = TempDir::create(&root, &format!("{key}.damaged"))?;
        match fs::rename(&entry, doomed.path()) {
            Ok(()) => {}
            // Another process moved it first.
            Err(_) if !entry.exists() => {}
            Err(e) => return Err(Error::io("move away the damaged cache entry", entry, e)),
        }
        drop(doomed);
        rebuilt = true;
    }
    fs::create_dir_all(&root).ctx("create the cache directory", &root)?;
    // Leftovers of crashed creators; failing to remove them is not this call's problem.
    let _ = crate::temp::cleanup_stale_temps(&root);
    let tmp = TempDir::create(&root, &key)?;
    let files = tmp.path().join(FILES);
    fs::create_dir(&files).ctx("create directory", &files)?;
    let manifest = unpack(wheel, &files)?;
    verify_record(wheel, &files, &manifest)?;
    let mut text = format!("pyve-manifest 2\ndist-info\t{}\n", manifest.dist_info);
    for d in &manifest.dirs {
        text.push_str("d\t");
        text.push_str(d);
        text.push('\n');
    }
    for (f, size) in manifest.files.iter().zip(&manifest.sizes) {
        text.push_str(&format!("f\t{size}\t{f}\n"));
    }
    write_new(&tmp.path().join(MANIFEST), text.as_bytes())?;
    let filled = if rebuilt { SeedSource::CacheRebuilt } else { SeedSource::CacheFilled };
    match fs::rename(tmp.path(), &entry) {
        Ok(()) => {
            tmp.disarm();
            Ok((entry, filled, manifest))
        }
        // Another creator won the race: use its entry, drop ours.
        Err(_) if entry.join(MANIFEST).is_file() => {
            let theirs = read_manifest(&entry)?;
            Ok((entry, SeedSource::CacheHit, theirs))
        }
        Err(e) => Err(Error::io("move into place the cache entry", entry, e)),
    }
}

/// Whether every file of the entry is there, a regular file of the size it had when the
/// entry was built (one `stat` per file: a truncated, missing or replaced file is caught
/// without reading it).
fn entry_is_whole(entry: &Path, manifest: &Manifest) -> bool {
    crate::link::all_whole(&entry.join(FILES), &manifest.files, &manifest.sizes)
}

/// Check every unpacked file against the hash and size the wheel's `RECORD` gives it (what
/// `pip install` checks while it installs): a corrupt download is never cached.
fn verify_record(wheel: &Path, root: &Path, manifest: &Manifest) -> Result<(), Error> {
    let record_path = root.join(&manifest.dist_info).join("RECORD");
    let record = fs::read_to_string(&record_path).ctx("read", &record_path)?;
    for row in parse_csv(&record) {
        let mut it = row.into_iter();
        let (Some(path), Some(hash), size) = (it.next(), it.next(), it.next()) else { continue };
        if hash.is_empty() {
            continue;
        }
        let bad = |reason: String| Error::Wheel { path: wheel.to_path_buf(), reason };
        if !hash.starts_with("sha256=") {
            return Err(bad(format!("{path}: unsupported hash {hash:?} in RECORD")));
        }
        let file = root.join(&path);
        let data = fs::read(&file).map_err(|e| bad(format!("{path} is listed in RECORD but cannot be read: {e}")))?;
        if size.as_deref().is_some_and(|s| !s.is_empty() && s != data.len().to_string()) || record_hash(&data) != hash {
            return Err(bad(format!("{path} does not match the hash RECORD gives it (a damaged download?)")));
        }
    }
    Ok(())
}

/// Read an entry's manifest.
fn read_manifest(entry: &Path) -> Result<Manifest, Error> {
    let path = entry.join(MANIFEST);
    let text = fs::read_to_string(&path).ctx("read", &path)?;
    let bad = || Error::Wheel { path: path.clone(), reason: "corrupt cache manifest (delete the entry)".into() };
    let mut lines = text.lines();
    if lines.next() != Some("pyve-manifest 2") {
        return Err(bad());
    }
    let dist_info = lines.next().and_then(|l| l.strip_prefix("dist-info\t")).ok_or_else(bad)?.to_string();
    let (mut dirs, mut files, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for line in lines {
        match line.split_once('\t') {
            Some(("d", p)) => dirs.push(p.to_string()),
            Some(("f", rest)) => {
                let (size, p) = rest.split_once('\t').ok_or_else(bad)?;
                sizes.push(size.parse().map_err(|_| bad())?);
                files.push(p.to_string());
            }
            _ => return Err(bad()),
        }
    }
    Ok(Manifest { dist_info, dirs, files, sizes })
}

/// Recreate the entry's directories in `dest` and hard-link its files there, copying when
/// linking fails. Returns whether the files are links.
fn link_tree(root: &Path, dest: &Path, manifest: &Manifest, skip: &[String]) -> Result<bool, Error> {
    let dest_dir = Dir::open(dest).ctx("open", dest)?;
    for d in &manifest.dirs {
        dest_dir.mkdir(d).ctx("create directory", &dest.join(d))?;
    }
    let files: Vec<&String> = manifest.files.iter().filter(|f| !skip.contains(f)).collect();
    let src_dir = Dir::open(root).ctx("open", root)?;
    let mut linked = !files.is_empty();
    for failure in link_all(&src_dir, &dest_dir, &files) {
        match failure {
            LinkFailure::Exists(f, e) | LinkFailure::Other(f, e) => return Err(Error::io("link", dest.join(f), e)),
            // Another file system, a link limit, a file system without hard links: copy
            // this file and the following ones.
            LinkFailure::Unlinkable(rest) => {
                linked = false;
                for f in rest {
                    let dst = dest.join(&f);
                    fs::copy(root.join(&f), &dst).ctx("copy a cached file to", &dst)?;
                }
            }
        }
    }
    Ok(linked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_specs_follow_pip() {
        let console = vec![
            ("pip".to_string(), "pip._internal.cli.main:main".to_string()),
            ("pip3".to_string(), "pip._internal.cli.main:main".to_string()),
            ("pip3.9".to_string(), "pip._internal.cli.main:main".to_string()),
            ("other".to_string(), "m:f".to_string()),
        ];
        let names: Vec<String> = console_script_specs(console, 3, 8).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["pip", "pip3", "pip3.8", "other"]);
        assert!(is_versioned("easy_install-3.9", "easy_install", "-"));
        assert!(!is_versioned("easy_install3", "easy_install", "-"));
        assert!(!is_versioned("pipx", "pip", ""));
    }

    #[test]
    fn shebangs_follow_distlib() {
        assert_eq!(shebang("/v/bin/python3.12"), "#!/v/bin/python3.12\n");
        assert_eq!(shebang("/a b/bin/python"), "#!/bin/sh\n'''exec' \"/a b/bin/python\" \"$0\" \"$@\"\n' '''\n");
        let long = format!("/{}/bin/python", "x".repeat(120));
        assert!(shebang(&long).starts_with("#!/bin/sh\n'''exec' /x"));
        let text = launcher_text("/v/bin/python", "pip._internal.cli.main:main").unwrap();
        assert_eq!(
            text,
            "#!/v/bin/python\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom pip._internal.cli.main import main\n\
             if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n    \
             sys.exit(main())\n"
        );
        assert!(launcher_text("/p", "module_only").is_none());
    }
}
