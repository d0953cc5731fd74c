//! Describing a Python interpreter, preferably without starting it.
//!
//! A standard CPython POSIX installation is recognised from the file system alone:
//! `<prefix>/bin/pythonX.Y` (the real file the given path resolves to),
//! `<prefix>/lib/pythonX.Y/os.py` and `<prefix>/include/pythonX.Y/patchlevel.h`, whose
//! `#define PY_VERSION "3.12.1"` gives the exact version. Anything else (no headers, a
//! wrapper script, another implementation, an interpreter inside a virtual environment) is
//! described by running it once with `-I -c` and reading the JSON it prints.
//!
//! Choosing *which* interpreter to use (pyenv, asdf, PATH) is not this module's job.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, IoContext};
use crate::util::{abspath, py_str_assignment, squash_ws};

/// A Python version, e.g. `3.12.1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PythonVersion {
    /// 3
    pub major: u32,
    /// 12
    pub minor: u32,
    /// 1
    pub micro: u32,
    /// The full version string, e.g. `3.12.1` or `3.13.0rc2`.
    pub full: String,
}

impl PythonVersion {
    /// Parse `3.12.1`, `3.13.0rc2`, `3.12.1+`.
    pub fn parse(s: &str) -> Option<PythonVersion> {
        let mut parts = s.splitn(3, '.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let rest = parts.next().unwrap_or("0");
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let micro = digits.parse().ok()?;
        Some(PythonVersion { major, minor, micro, full: s.to_string() })
    }

    /// `X.Y`
    pub fn short(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }
}

impl std::fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.full)
    }
}

/// A wheel that the interpreter's `ensurepip` installs into a new virtual environment.
pub use pyve_wheels::BundledWheel;

/// How an [`Interpreter`] was described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectMethod {
    /// From its installation's files alone; the interpreter was not started.
    FileSystem,
    /// By running it once (`-I -c ...`).
    Query,
}

/// A Python interpreter, described.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Interpreter {
    /// The interpreter as it would name itself when started through the given path
    /// (`sys.executable`): absolute, normalised, symlinks *not* resolved. A venv made from
    /// it links to this path, and its name (`python3.12`, `python3`, `python`) decides the
    /// names in the venv's `bin/`, exactly as `<this path> -m venv` would.
    pub executable: PathBuf,
    /// The canonical path of the real executable file (all symlinks resolved).
    pub real_executable: PathBuf,
    /// `sys.implementation.name`, e.g. `cpython`.
    pub implementation: String,
    /// The version.
    pub version: PythonVersion,
    /// `sys.base_prefix`: the installation's root.
    pub base_prefix: PathBuf,
    /// The standard library directory (`<prefix>/lib/pythonX.Y`).
    pub stdlib: PathBuf,
    /// `sys.abiflags` (empty for a standard build).
    pub abiflags: String,
    /// `sys.maxsize > 2**32`.
    pub pointer_width_64: bool,
    /// The wheels `ensurepip` installs into a venv, in its install order (empty when the
    /// interpreter has no usable `ensurepip`).
    pub bundled_wheels: Vec<BundledWheel>,
    /// How this description was obtained.
    pub inspected_by: InspectMethod,
    /// Why a venv from this interpreter cannot be laid out natively even though it may look
    /// like a supported CPython (e.g. it lives inside a virtual environment).
    pub native_blocker: Option<String>,
    /// Why pip cannot be seeded the way this interpreter's `ensurepip` would (its code is not
    /// one of the verified variants, a bundled wheel is missing).
    pub ensurepip_issue: Option<String>,
}

impl Interpreter {
    /// Describe the interpreter at `path`.
    ///
    /// `path` must be the interpreter itself (or a symlink to it), never a pyenv/asdf shim:
    /// a shim is refused with an error naming the command that prints the real path.
    pub fn inspect(path: &Path) -> Result<Interpreter, Error> {
        let executable = abspath(path).ctx("resolve the absolute path of", path)?;
        let meta = match std::fs::metadata(&executable) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::InterpreterNotFound { path: executable });
            }
            Err(e) => return Err(Error::io("inspect", executable, e)),
        };
        if !meta.is_file() {
            return Err(Error::NotAnInterpreter { path: executable, reason: "it is not a regular file".into() });
        }
        let head = read_head(&executable)?;
        if head.starts_with(b"#!") {
            if let Some((manager, hint)) = shim_manager(&executable, &head) {
                return Err(Error::Shim { path: executable, manager, hint });
            }
            // Some other wrapper script: only the interpreter itself can tell what it runs.
            return query(&executable);
        }
        let real = std::fs::canonicalize(&executable).ctx("resolve the symlinks of", &executable)?;
        if head.starts_with(b"\x7fELF") {
            let is_64 = head.get(4) == Some(&2);
            if let Some(interp) = from_layout(&executable, &real, is_64)? {
                return Ok(interp);
            }
        }
        query(&executable)
    }

    /// The wheels to seed, or why there are none.
    pub(crate) fn wheels_for_seeding(&self) -> Result<&[BundledWheel], String> {
        if let Some(issue) = &self.ensurepip_issue {
            Err(issue.clone())
        } else if self.bundled_wheels.iter().any(|w| w.project == "pip") {
            Ok(&self.bundled_wheels)
        } else {
            Err(format!("no bundled pip wheel was found for {} (is ensurepip installed?)", self.executable.display()))
        }
    }
}

/// The first bytes of a file.
fn read_head(path: &Path) -> Result<Vec<u8>, Error> {
    let mut f = std::fs::File::open(path).ctx("open", path)?;
    let mut buf = vec![0u8; 1024];
    let mut n = 0;
    while n < buf.len() {
        let got = f.read(&mut buf[n..]).ctx("read", path)?;
        if got == 0 {
            break;
        }
        n += got;
    }
    buf.truncate(n);
    Ok(buf)
}

/// Whether a script is a pyenv or asdf shim, and the command that names the real file.
fn shim_manager(path: &Path, head: &[u8]) -> Option<(&'static str, String)> {
    let text = String::from_utf8_lossy(head);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let in_shims = path.parent().and_then(Path::file_name).is_some_and(|d| d == "shims");
    // A shim lives in `<root>/shims/`; the real interpreters in `<root>/versions/` (pyenv) or
    // `<root>/installs/python/` (asdf).
    let root = path.parent().filter(|_| in_shims).and_then(Path::parent);
    let under = |sub: &str| root.map(|r| format!(", or pick one under {}", r.join(sub).display())).unwrap_or_default();
    if text.contains("pyenv") || (in_shims && path.to_string_lossy().contains("pyenv")) {
        Some(("pyenv", format!("`pyenv which {name}` prints it{}", under("versions/*/bin"))))
    } else if text.contains("asdf") || (in_shims && path.to_string_lossy().contains("asdf")) {
        Some(("asdf", format!("`asdf which {name}` prints it{}", under("installs/python/*/bin"))))
    } else {
        None
    }
}

/// Recognise a standard CPython POSIX installation. `Ok(None)` when the layout is not one.
fn from_layout(executable: &Path, real: &Path, is_64: bool) -> Result<Option<Interpreter>, Error> {
    let Some(name) = real.file_name().and_then(|n| n.to_str()) else { return Ok(None) };
    let Some((major, minor)) = parse_exe_name(name) else { return Ok(None) };
    let Some(bin) = real.parent() else { return Ok(None) };
    if bin.file_name().is_none_or(|n| n != "bin") {
        return Ok(None);
    }
    let Some(prefix) = bin.parent() else { return Ok(None) };
    let short = format!("{major}.{minor}");
    let stdlib = prefix.join("lib").join(format!("python{short}"));
    if !stdlib.join("os.py").is_file() {
        return Ok(None);
    }
    // A build tree or an interpreter inside a venv has a different sys.prefix and
    // sys._base_executable than its files suggest: let it describe itself.
    if bin.join("pybuilddir.txt").exists() || prefix.join("pyvenv.cfg").exists() || bin.join("pyvenv.cfg").exists() {
        return Ok(None);
    }
    if let Some(dir) = executable.parent()
        && (dir.join("pyvenv.cfg").exists() || dir.parent().is_some_and(|p| p.join("pyvenv.cfg").exists()))
    {
        return Ok(None);
    }
    let patchlevel = prefix.join("include").join(format!("python{short}")).join("patchlevel.h");
    let header = match std::fs::read_to_string(&patchlevel) {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", patchlevel, e)),
    };
    let Some(version) = parse_patchlevel(&header) else { return Ok(None) };
    if (version.major, version.minor) != (major, minor) {
        return Ok(None);
    }
    let wheel_pkg_dir = sysconfig_wheel_pkg_dir(&stdlib)?;
    let (bundled_wheels, ensurepip_issue) = ensurepip_wheels(&stdlib, wheel_pkg_dir.as_deref())?;
    Ok(Some(Interpreter {
        executable: executable.to_path_buf(),
        real_executable: real.to_path_buf(),
        implementation: "cpython".into(),
        version,
        base_prefix: prefix.to_path_buf(),
        stdlib,
        abiflags: String::new(),
        pointer_width_64: is_64,
        bundled_wheels,
        inspected_by: InspectMethod::FileSystem,
        native_blocker: None,
        ensurepip_issue,
    }))
}

/// `python3.12` -> (3, 12). Names with ABI suffixes (`python3.13t`, `python3.12d`) are not
/// standard builds and return `None`.
fn parse_exe_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("python")?;
    let (major, minor) = rest.split_once('.')?;
    if major.is_empty() || minor.is_empty() || !major.bytes().chain(minor.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `#define PY_VERSION "3.12.1"` from patchlevel.h.
fn parse_patchlevel(header: &str) -> Option<PythonVersion> {
    header.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("#define")?.trim_start().strip_prefix("PY_VERSION")?;
        let rest = rest.trim().strip_prefix('"')?;
        PythonVersion::parse(&rest[..rest.find('"')?])
    })
}

/// `sysconfig.get_config_var('WHEEL_PKG_DIR')`, read from the `_sysconfigdata_*.py` files of
/// the standard library. Distributions (Debian, Fedora) set it to share wheels.
fn sysconfig_wheel_pkg_dir(stdlib: &Path) -> Result<Option<String>, Error> {
    let entries = std::fs::read_dir(stdlib).ctx("list", stdlib)?;
    let mut found: Option<String> = None;
    for entry in entries {
        let entry = entry.ctx("list", stdlib)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("_sysconfigdata_") && name.ends_with(".py")) {
            continue;
        }
        let path = entry.path();
        let text = std::fs::read_to_string(&path).ctx("read", &path)?;
        if let Some(pos) = text.find("'WHEEL_PKG_DIR': '") {
            let rest = &text[pos + "'WHEEL_PKG_DIR': '".len()..];
            if let Some(end) = rest.find('\'') {
                let value = &rest[..end];
                if !value.is_empty() {
                    found = Some(value.to_string());
                }
            }
        }
    }
    Ok(found)
}

/// The wheels `python -m ensurepip --default-pip` installs, following that interpreter's
/// own `ensurepip/__init__.py`: `_PIP_VERSION` and (3.8 to 3.11) `_SETUPTOOLS_VERSION` in
/// `ensurepip/_bundled`, or the newest matching wheels of `WHEEL_PKG_DIR` where that
/// ensurepip honours it. The second value says why seeding cannot mirror ensurepip, if so.
fn ensurepip_wheels(stdlib: &Path, wheel_pkg_dir: Option<&str>) -> Result<(Vec<BundledWheel>, Option<String>), Error> {
    let init = stdlib.join("ensurepip").join("__init__.py");
    let src = match std::fs::read_to_string(&init) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), None)),
        Err(e) => return Err(Error::io("read", init, e)),
    };
    let unknown = |what: &str| Some(format!("{} differs from the verified versions ({what})", init.display()));
    let Some(pip_version) = py_str_assignment(&src, "_PIP_VERSION") else {
        return Ok((Vec::new(), unknown("no _PIP_VERSION")));
    };
    let squashed = squash_ws(&src);
    let setuptools_version = py_str_assignment(&src, "_SETUPTOOLS_VERSION");
    let mut projects: Vec<(&str, String)> = Vec::new();
    if let Some(v) = &setuptools_version {
        if !squashed.contains(
            "_PROJECTS = [ (\"setuptools\", _SETUPTOOLS_VERSION, \"py3\"), (\"pip\", _PIP_VERSION, \"py3\"), ]",
        ) {
            return Ok((Vec::new(), unknown("_PROJECTS")));
        }
        projects.push(("setuptools", v.clone()));
    }
    projects.push(("pip", pip_version));

    let bundled = stdlib.join("ensurepip").join("_bundled");
    let mut wheels: Vec<BundledWheel> = projects
        .iter()
        .map(|(p, v)| BundledWheel {
            project: (*p).to_string(),
            version: v.clone(),
            path: bundled.join(format!("{p}-{v}-py3-none-any.whl")),
        })
        .collect();

    if let Some(dir) = wheel_pkg_dir {
        if squashed.contains("if all(name in dir_packages for name in _PACKAGE_NAMES): packages = dir_packages") {
            // 3.10 to 3.12: the last (sorted) `<name>-*.whl` of each name; used only when every
            // name is found.
            let names: Vec<&str> = projects.iter().map(|(p, _)| *p).collect();
            let list = sorted_wheel_names(Path::new(dir))?;
            let mut found: Vec<BundledWheel> = Vec::new();
            for name in &names {
                let prefix = format!("{name}-");
                if let Some(file) = list.iter().rev().find(|f| f.starts_with(&prefix)) {
                    let version = file[prefix.len()..].split('-').next().unwrap_or_default().to_string();
                    found.push(BundledWheel { project: (*name).to_string(), version, path: Path::new(dir).join(file) });
                }
            }
            if found.len() == names.len() {
                wheels = found;
            }
        } else if squashed.contains("dist_matching_wheels = _WHEEL_PKG_DIR.glob('pip-*.whl')") {
            // 3.13: the last (sorted) pip-*.whl.
            let list = sorted_wheel_names(Path::new(dir))?;
            if let Some(file) = list.iter().rev().find(|f| f.starts_with("pip-")) {
                let version = file["pip-".len()..].split('-').next().unwrap_or_default().to_string();
                wheels = vec![BundledWheel { project: "pip".into(), version, path: Path::new(dir).join(file) }];
            }
        } else if squashed.contains("WHEEL_PKG_DIR") {
            return Ok((Vec::new(), unknown("its use of WHEEL_PKG_DIR")));
        }
    }
    if let Some(missing) = wheels.iter().find(|w| !w.path.is_file()) {
        return Ok((Vec::new(), Some(format!("the bundled wheel {} does not exist", missing.path.display()))));
    }
    Ok((wheels, None))
}

/// The `*.whl` file names in `dir`, sorted (an unreadable directory counts as empty, as in
/// ensurepip).
fn sorted_wheel_names(dir: &Path) -> Result<Vec<String>, Error> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.ctx("list", dir)?;
        if let Some(name) = entry.file_name().to_str()
            && name.ends_with(".whl")
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// The program run by [`query`]; it works on Python 2.7 too, so that any interpreter gets a
/// precise description (and a clear "unsupported" later) rather than a crash.
const QUERY: &str = r#"import sys, json, os, sysconfig
impl = getattr(getattr(sys, "implementation", None), "name", "cpython")
print(json.dumps({
    "executable": sys.executable,
    "base_executable": getattr(sys, "_base_executable", sys.executable),
    "implementation": impl,
    "version": sys.version.split()[0],
    "version_info": list(sys.version_info[:3]),
    "prefix": sys.prefix,
    "base_prefix": getattr(sys, "base_prefix", sys.prefix),
    "stdlib": sysconfig.get_path("stdlib"),
    "abiflags": getattr(sys, "abiflags", ""),
    "is_64": sys.maxsize > 2**32,
    "platform": sys.platform,
    "wheel_pkg_dir": sysconfig.get_config_var("WHEEL_PKG_DIR") or "",
}))
"#;

/// Describe an interpreter by running it once.
fn query(executable: &Path) -> Result<Interpreter, Error> {
    let out = Command::new(executable)
        .args(["-I", "-c", QUERY])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| Error::Spawn { program: executable.to_path_buf(), source })?;
    let fail = |reason: String| Error::Query { path: executable.to_path_buf(), reason };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(fail(format!("it exited with {}: {}", out.status, stderr.trim())));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value =
        serde_json::from_str(stdout.trim()).map_err(|e| fail(format!("unreadable output ({e}): {}", stdout.trim())))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string).ok_or_else(|| fail(format!("no `{k}`")));
    let reported = PathBuf::from(s("executable")?);
    let base_executable = PathBuf::from(s("base_executable")?);
    let version_str = s("version")?;
    let info: Vec<u32> = v
        .get("version_info")
        .and_then(|x| x.as_array())
        .map(|a| a.iter().filter_map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok())).collect())
        .unwrap_or_default();
    let [major, minor, micro] = info[..] else { return Err(fail("no `version_info`".into())) };
    let version = PythonVersion { major, minor, micro, full: version_str };
    let prefix = PathBuf::from(s("prefix")?);
    let base_prefix = PathBuf::from(s("base_prefix")?);
    let stdlib = PathBuf::from(s("stdlib")?);
    let platform = s("platform")?;
    let wheel_pkg_dir = s("wheel_pkg_dir")?;
    let mut native_blocker = None;
    if prefix != base_prefix || reported != base_executable {
        native_blocker = Some(format!("{} runs inside a virtual environment", reported.display()));
    } else if platform != "linux" {
        native_blocker = Some(format!("the interpreter's platform is {platform}"));
    }
    let executable_path = if reported.as_os_str().is_empty() { executable.to_path_buf() } else { reported };
    let real = std::fs::canonicalize(&executable_path).ctx("resolve the symlinks of", &executable_path)?;
    let (bundled_wheels, ensurepip_issue) = if stdlib.is_dir() {
        ensurepip_wheels(&stdlib, (!wheel_pkg_dir.is_empty()).then_some(wheel_pkg_dir.as_str()))?
    } else {
        (Vec::new(), None)
    };
    Ok(Interpreter {
        executable: executable_path,
        real_executable: real,
        implementation: s("implementation")?,
        version,
        base_prefix,
        stdlib,
        abiflags: s("abiflags")?,
        pointer_width_64: v.get("is_64").and_then(serde_json::Value::as_bool).unwrap_or(true),
        bundled_wheels,
        inspected_by: InspectMethod::Query,
        native_blocker,
        ensurepip_issue,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_versions() {
        assert_eq!(parse_exe_name("python3.12"), Some((3, 12)));
        assert_eq!(parse_exe_name("python3.13t"), None);
        assert_eq!(parse_exe_name("python3"), None);
        let v = parse_patchlevel("#define PY_MINOR_VERSION 12\n#define PY_VERSION      \"3.12.1\"\n").unwrap();
        assert_eq!((v.major, v.minor, v.micro, v.full.as_str()), (3, 12, 1, "3.12.1"));
        let v = PythonVersion::parse("3.13.0rc2").unwrap();
        assert_eq!((v.minor, v.micro), (13, 0));
    }
}
