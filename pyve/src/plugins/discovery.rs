//! The one resolver: which file serves a plugin name. Every surface (running a command,
//! listing, `plugin which`, help) goes through it.
//!
//! Search order: `PYVE_PLUGIN_PATH`, the user plugin directory (`$PYVE_HOME/plugins`),
//! `PATH` (relative and empty entries skipped: the current directory is never searched), and
//! last the directory holding the running pyve. Built-in commands are never shadowed. The first
//! directory holding a usable candidate wins; where it holds both forms, the library serves
//! RPC and the executable serves passthrough. A file without the execute bit is reported,
//! never run; a library in a world-writable directory is refused.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::HostEnv;

/// The two forms of a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An executable `pyve-<name>`.
    Exec,
    /// A dynamic library `libpyve_<name>.so`.
    Dylib,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Exec => "exec",
            Kind::Dylib => "dylib",
        })
    }
}

/// Which part of the search path a directory comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `PYVE_PLUGIN_PATH`.
    PluginPath,
    /// `$PYVE_HOME/plugins`.
    UserDir,
    /// `PATH`.
    Path,
    /// The directory of the running pyve.
    PyveDir,
}

impl Origin {
    /// How the origin is named to users.
    pub fn describe(self) -> &'static str {
        match self {
            Origin::PluginPath => "PYVE_PLUGIN_PATH",
            Origin::UserDir => "the user plugin directory",
            Origin::Path => "PATH",
            Origin::PyveDir => "pyve's own directory",
        }
    }
}

/// One directory of the search path.
#[derive(Clone, Debug)]
pub struct SearchDir {
    /// The directory.
    pub path: PathBuf,
    /// Where it comes from.
    pub origin: Origin,
}

/// The ordered directories plugins are searched in, plus the entries that were skipped.
#[derive(Clone, Debug, Default)]
pub struct SearchPath {
    /// Directories, in order, each once.
    pub dirs: Vec<SearchDir>,
    /// Entries not searched, with why.
    pub skipped: Vec<(String, &'static str)>,
}

impl SearchPath {
    /// Build the search path from the environment.
    pub fn from_env(env: &HostEnv) -> Self {
        let mut sp = SearchPath::default();
        // A dozen directories: a linear look beats hashing them (and seeding a hasher costs a
        // `getrandom` call on every `pyve NAME`).
        let push = |sp: &mut SearchPath, path: PathBuf, origin: Origin| {
            if !sp.dirs.iter().any(|d| d.path == path) {
                sp.dirs.push(SearchDir { path, origin });
            }
        };
        for (var, origin) in
            [(&env.plugin_path, Origin::PluginPath), (&None, Origin::UserDir), (&env.path, Origin::Path)]
        {
            if origin == Origin::UserDir {
                if let Some(dir) = env.user_plugin_dir() {
                    push(&mut sp, dir, origin);
                }
                continue;
            }
            let Some(var) = var else { continue };
            for entry in std::env::split_paths(var) {
                if entry.as_os_str().is_empty() {
                    sp.skipped.push((String::new(), "an empty entry (the current directory) is never searched"));
                } else if entry.is_relative() {
                    if origin == Origin::PluginPath {
                        warn_relative_once(&entry);
                    }
                    sp.skipped.push((
                        entry.display().to_string(),
                        "a relative entry depends on the current directory and is never searched",
                    ));
                } else {
                    push(&mut sp, entry, origin);
                }
            }
        }
        if let Some(dir) = env.exe_dir() {
            push(&mut sp, dir.to_path_buf(), Origin::PyveDir);
        }
        sp
    }
}

/// Say, once per run, that a relative `PYVE_PLUGIN_PATH` entry is not searched (it would
/// depend on the current directory, which may be a clone).
fn warn_relative_once(entry: &Path) {
    static WARNED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if !warned.iter().any(|w| w == entry) {
        warned.push(entry.to_path_buf());
        crate::ui::warn(&format!(
            "PYVE_PLUGIN_PATH entry '{:.200}' is relative and is not searched: plugin directories must be absolute paths",
            entry.display()
        ));
    }
}

/// Why a candidate cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// An executable without the execute bit.
    NotExecutable,
    /// A directory or something else that is not a file.
    NotAFile,
    /// A library in (or itself) world-writable: anyone could replace the code pyve loads.
    WorldWritable(PathBuf),
}

impl Problem {
    /// The status word used by `plugin list`.
    pub fn status(&self) -> &'static str {
        match self {
            Problem::NotExecutable => "not-executable",
            Problem::NotAFile => "not-a-file",
            Problem::WorldWritable(_) => "refused",
        }
    }

    /// One line saying what is wrong.
    pub fn explain(&self) -> String {
        match self {
            Problem::NotExecutable => "the file is not executable, so it is never run".into(),
            Problem::NotAFile => "not a regular file".into(),
            Problem::WorldWritable(p) => {
                format!("refused: {} is world-writable, so anyone could replace the library", p.display())
            }
        }
    }

    /// What to do about it.
    pub fn hint(&self, path: &Path) -> String {
        match self {
            Problem::NotExecutable => format!("make it executable: chmod +x {}", path.display()),
            Problem::NotAFile => format!("remove {} or rename it", path.display()),
            Problem::WorldWritable(p) => format!("remove write access for others: chmod o-w {}", p.display()),
        }
    }
}

/// A file that looks like a plugin.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The plugin name it claims by its file name.
    pub name: String,
    /// Executable or library.
    pub kind: Kind,
    /// The file.
    pub path: PathBuf,
    /// Where in the search path.
    pub origin: Origin,
    /// Index of its directory in the search path (lower wins).
    pub dir_index: usize,
    /// File size, for the manifest cache key.
    pub size: u64,
    /// Modification time in nanoseconds since the epoch, for the manifest cache key.
    pub mtime_ns: i128,
    /// Inode and status-change time (nanoseconds), for the manifest cache key: a file replaced
    /// by one of the same size and modification time (`cp -p`, `touch -r`) still differs in
    /// these.
    pub identity: (u64, i128),
    /// Why it cannot be used, if it cannot.
    pub problem: Option<Problem>,
}

impl Candidate {
    /// A candidate for a given file, as if found first on `PYVE_PLUGIN_PATH` (for tools and
    /// tests that talk to one plugin file).
    pub fn from_file(path: PathBuf, name: &str, kind: Kind) -> std::io::Result<Candidate> {
        let meta = std::fs::metadata(&path)?;
        Ok(Candidate {
            name: name.to_owned(),
            kind,
            origin: Origin::PluginPath,
            dir_index: 0,
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            identity: identity(&meta),
            problem: None,
            path,
        })
    }

    /// Whether it can be used.
    pub fn usable(&self) -> bool {
        self.problem.is_none()
    }
}

const EXEC_PREFIX: &str = "pyve-";
const DYLIB_STEM_PREFIX: &str = "pyve_";

/// The file name of the executable form of `name`.
pub fn exec_file_name(name: &str) -> String {
    format!("{EXEC_PREFIX}{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The file name of the library form of `name` (dashes become underscores, as cargo names
/// cdylibs).
pub fn dylib_file_name(name: &str) -> String {
    format!(
        "{}{DYLIB_STEM_PREFIX}{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

/// The plugin name and kind a file name stands for, if it is a plugin's file name.
pub fn parse_file_name(file: &OsStr) -> Option<(String, Kind)> {
    let file = file.to_str()?;
    if let Some(rest) = file.strip_prefix(EXEC_PREFIX) {
        let name = rest.strip_suffix(std::env::consts::EXE_SUFFIX)?;
        return pyve_protocol::is_valid_plugin_name(name).then(|| (name.to_owned(), Kind::Exec));
    }
    let stem = file.strip_prefix(std::env::consts::DLL_PREFIX)?.strip_suffix(std::env::consts::DLL_SUFFIX)?;
    let under = stem.strip_prefix(DYLIB_STEM_PREFIX)?;
    if under.contains('-') {
        return None;
    }
    let name = under.replace('_', "-");
    pyve_protocol::is_valid_plugin_name(&name).then_some((name, Kind::Dylib))
}

/// Build a candidate from a file, following symlinks. `None` when nothing is there.
pub fn candidate_at(path: PathBuf, name: String, kind: Kind, dir: &SearchDir, dir_index: usize) -> Option<Candidate> {
    let meta = std::fs::metadata(&path).ok()?;
    let mut problem = None;
    if !meta.is_file() {
        problem = Some(Problem::NotAFile);
    } else {
        match kind {
            Kind::Exec if !is_executable(&meta) => problem = Some(Problem::NotExecutable),
            Kind::Dylib => problem = world_writable(&path, &meta).map(Problem::WorldWritable),
            Kind::Exec => {}
        }
    }
    Some(Candidate {
        name,
        kind,
        origin: dir.origin,
        dir_index,
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
        identity: identity(&meta),
        problem,
        path,
    })
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    true
}

/// The library file or a directory that decides what is loaded, when one is writable by
/// anyone (docs/security.md, "Trusted"): the file really loaded, and every directory from `/`
/// down to it and to each link on the way (the link pyve found, and every link it leads
/// through), judged as ssh and sudo judge a path. A world-writable directory is refused, but
/// for a sticky one owned by root (`/tmp`): there only the owner of an entry can rename or
/// remove it, so it is accepted when the next component down is owned by the user or root.
#[cfg(unix)]
fn world_writable(path: &Path, meta: &std::fs::Metadata) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o002 != 0 {
        return Some(path.to_path_buf());
    }
    // Every link on the way: its directory (canonical) and that directory's ancestors.
    let mut link = path.to_path_buf();
    for _ in 0..40 {
        let parent = match link.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Each directory on the way as written (a link among them is judged where it lives),
        // then where it leads.
        let mut child = link.file_name().unwrap_or_default().to_os_string();
        for lexical in parent.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            let Ok(dir) = std::fs::canonicalize(lexical) else { return Some(lexical.to_path_buf()) };
            if let Some(bad) = unsafe_ancestor(&dir, &dir.join(&child)) {
                return Some(bad);
            }
            child = lexical.file_name().unwrap_or_default().to_os_string();
        }
        let Ok(dir) = std::fs::canonicalize(&parent) else { return Some(parent) };
        let entry = dir.join(link.file_name().unwrap_or_default());
        match std::fs::read_link(&entry) {
            Ok(target) => link = dir.join(target),
            Err(_) => break,
        }
    }
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let open = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o002 != 0);
    if real != path && open(&real) {
        return Some(real);
    }
    real.parent().and_then(|d| unsafe_ancestor(d, &real))
}

/// The first directory from `dir` (canonical) up to `/` that anyone may write, but for a
/// root-owned sticky directory whose next component down (towards `entry`) is the user's or
/// root's.
#[cfg(unix)]
fn unsafe_ancestor(dir: &Path, entry: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let mut below = entry.to_path_buf();
    for a in dir.ancestors() {
        let Ok(m) = std::fs::symlink_metadata(a) else { return Some(a.to_path_buf()) };
        if m.mode() & 0o002 != 0 {
            let sticky_root = m.mode() & 0o1000 != 0 && m.uid() == 0;
            let below_trusted = std::fs::symlink_metadata(&below).is_ok_and(|b| b.uid() == me || b.uid() == 0);
            if !(sticky_root && below_trusted) {
                return Some(a.to_path_buf());
            }
        }
        below = a.to_path_buf();
    }
    None
}

/// Inode and status-change time of a file (zeros where the platform has none).
#[cfg(unix)]
pub fn identity(meta: &std::fs::Metadata) -> (u64, i128) {
    use std::os::unix::fs::MetadataExt;
    (meta.ino(), i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()))
}

#[cfg(not(unix))]
pub fn identity(_: &std::fs::Metadata) -> (u64, i128) {
    (0, 0)
}

#[cfg(not(unix))]
fn world_writable(_: &Path, _: &std::fs::Metadata) -> Option<PathBuf> {
    None
}

/// Modification time in nanoseconds since the epoch (0 when unknown).
pub fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// The candidates for one name, in search order (a cheap lookup: two `stat`s per directory).
pub fn candidates_for(sp: &SearchPath, name: &str) -> Vec<Candidate> {
    let mut found = Vec::new();
    for (i, dir) in sp.dirs.iter().enumerate() {
        for (file, kind) in [(dylib_file_name(name), Kind::Dylib), (exec_file_name(name), Kind::Exec)] {
            if let Some(c) = candidate_at(dir.path.join(file), name.to_owned(), kind, dir, i) {
                found.push(c);
            }
        }
    }
    found
}

/// How a name resolves for running it, without the candidates after the winning directory:
/// [`resolve`] of [`candidates_for`], but the directories after the first one with a usable
/// file for `name` are not looked at (what they hold is only reported as shadowed, and running
/// the plugin does not report it). On the path of every `pyve NAME`.
pub fn resolve_for_run(sp: &SearchPath, name: &str) -> Resolution {
    let mut found = Vec::new();
    for (i, dir) in sp.dirs.iter().enumerate() {
        for (file, kind) in [(dylib_file_name(name), Kind::Dylib), (exec_file_name(name), Kind::Exec)] {
            if let Some(c) = candidate_at(dir.path.join(file), name.to_owned(), kind, dir, i) {
                found.push(c);
            }
        }
        if found.iter().any(|c| c.dir_index == i && c.usable()) {
            break;
        }
    }
    resolve(found)
}

/// How a name resolves.
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    /// What serves RPC: the library of the winning directory, else its executable.
    pub rpc: Option<Candidate>,
    /// What serves passthrough: the executable of the winning directory.
    pub exec: Option<Candidate>,
    /// Usable candidates in later directories.
    pub shadowed: Vec<Candidate>,
    /// Candidates that cannot be used.
    pub unusable: Vec<Candidate>,
}

impl Resolution {
    /// The candidate that stands for the plugin (for messages): the RPC one.
    pub fn primary(&self) -> Option<&Candidate> {
        self.rpc.as_ref().or(self.exec.as_ref())
    }
}

/// Resolve one name's candidates (in search order).
pub fn resolve(candidates: Vec<Candidate>) -> Resolution {
    let mut res = Resolution::default();
    let winner = candidates.iter().find(|c| c.usable()).map(|c| c.dir_index);
    for c in candidates {
        if !c.usable() {
            res.unusable.push(c);
        } else if Some(c.dir_index) == winner {
            match c.kind {
                Kind::Dylib => res.rpc = Some(c),
                Kind::Exec => {
                    if res.rpc.is_none() {
                        res.rpc = Some(c.clone());
                    }
                    res.exec = Some(c);
                }
            }
        } else {
            res.shadowed.push(c);
        }
    }
    res
}

/// Every plugin file in the search path, in search order. `list_dir` reads one directory's
/// plugin file names (see the cache, which avoids reading unchanged directories).
pub fn scan(sp: &SearchPath, mut list_dir: impl FnMut(&Path) -> Vec<String>) -> Vec<Candidate> {
    let mut found = Vec::new();
    for (i, dir) in sp.dirs.iter().enumerate() {
        for file in list_dir(&dir.path) {
            let Some((name, kind)) = parse_file_name(OsStr::new(&file)) else { continue };
            if let Some(c) = candidate_at(dir.path.join(&file), name, kind, dir, i) {
                found.push(c);
            }
        }
    }
    found.sort_by(|a, b| {
        (&a.name, a.dir_index, a.kind == Kind::Exec).cmp(&(&b.name, b.dir_index, b.kind == Kind::Exec))
    });
    found
}

/// The plugin file names in a directory (unreadable or missing directories hold none).
pub fn read_plugin_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|f| parse_file_name(OsStr::new(f)).is_some())
        .collect()
}

/// Files of `dir` that look like plugins (`pyve-*`, `libpyve_*`) but whose name is not a valid
/// plugin name, so they are never used (`pyve-Upper`, `pyve-my_tool`): shown by `-v` listing,
/// with the name that would work.
pub fn misnamed_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<(PathBuf, String)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let file = e.file_name().into_string().ok()?;
            if parse_file_name(OsStr::new(&file)).is_some() {
                return None;
            }
            let rest = file.strip_prefix(EXEC_PREFIX)?;
            if rest.is_empty() || rest.contains('.') {
                return None; // `pyve-venv.d` and other build by-products
            }
            let fixed: String = rest.chars().map(|c| if c == '_' { '-' } else { c.to_ascii_lowercase() }).collect();
            let suggestion = if pyve_protocol::is_valid_plugin_name(&fixed) {
                format!(
                    "plugin names are lowercase letters, digits and dashes: rename it to {}",
                    exec_file_name(&fixed)
                )
            } else {
                "plugin names are lowercase letters, digits and dashes, starting with a letter".to_owned()
            };
            Some((e.path(), suggestion))
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misnamed_plugins_are_found_with_the_name_that_works() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["pyve-Upper", "pyve-my_tool", "pyve-ok", "pyve-ok.d", "pyve-9x", "other"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let found = misnamed_files(dir.path());
        let names: Vec<_> = found.iter().map(|(p, s)| (p.file_name().unwrap().to_str().unwrap(), s.as_str())).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.contains(&(
            "pyve-Upper",
            "plugin names are lowercase letters, digits and dashes: rename it to pyve-upper"
        )));
        assert!(names.iter().any(|(n, s)| *n == "pyve-my_tool" && s.ends_with("pyve-my-tool")));
        assert!(names.iter().any(|(n, s)| *n == "pyve-9x" && s.ends_with("starting with a letter")));
    }

    #[test]
    fn file_names() {
        let p = |s: &str| parse_file_name(OsStr::new(s));
        assert_eq!(p("pyve-venv"), Some(("venv".into(), Kind::Exec)));
        assert_eq!(p("pyve-distutils-shim"), Some(("distutils-shim".into(), Kind::Exec)));
        assert_eq!(p("libpyve_distutils_shim.so"), Some(("distutils-shim".into(), Kind::Dylib)));
        for bad in ["pyve-", "pyve-Venv", "pyve-venv.d", "pyve_venv", "libpyve_x.rlib", "libpyve-x.so", "libpyve_.so"] {
            assert_eq!(p(bad), None, "{bad}");
        }
        assert_eq!(dylib_file_name("distutils-shim"), "libpyve_distutils_shim.so");
        assert_eq!(exec_file_name("venv"), "pyve-venv");
    }
}
