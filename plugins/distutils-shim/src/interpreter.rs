//! Asking the environment's own interpreter what it is: one short run printing JSON.
//!
//! Nothing is guessed from paths: the version is `sys.version_info` and the site-packages
//! directory is `site.getsitepackages()[0]`, falling back to `sysconfig`'s `purelib`, as the
//! original tool did. The run uses `-E -s -B` (no `PYTHON*` variables, no user site, no
//! bytecode written; all exist back to Python 2) but not `-S`: in a virtual environment `site`
//! is what makes `sys.prefix` the environment, so without it the answer would name the base
//! interpreter's directories.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use crate::process::{self, RunError};

/// What the query prints before its JSON line, so that noise printed by a `.pth` file or a
/// foreign `sitecustomize.py` cannot be mistaken for the answer.
pub(crate) const ANSWER_PREFIX: &str = "@pyve-distutils-shim@";

/// How long a query may take. A python that does not answer a `print` in this time is broken
/// (or stuck in some start-up hook); the hook then leaves the environment alone.
pub(crate) const QUERY_LIMIT: Duration = Duration::from_secs(60);

const QUERY: &str = r#"
import json, sys
try:
    import site
    sp = list(site.getsitepackages())
except Exception:
    sp = []
try:
    import sysconfig
    purelib = sysconfig.get_paths()["purelib"]
except Exception:
    purelib = None
impl = getattr(sys, "implementation", None)
sys.stdout.write("\n@pyve-distutils-shim@" + json.dumps({
    "version": list(sys.version_info[:3]),
    "implementation": getattr(impl, "name", "cpython"),
    "cache_tag": getattr(impl, "cache_tag", None),
    "prefix": sys.prefix,
    "site_packages": sp,
    "purelib": purelib,
}) + "\n")
"#;

/// What the interpreter said about itself.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PythonInfo {
    /// `sys.version_info[:3]`.
    pub version: (u32, u32, u32),
    /// `sys.implementation.name` (`cpython`, `pypy`).
    pub implementation: String,
    /// `sys.implementation.cache_tag` (`cpython-312`): names the `.pyc` files it reads.
    pub cache_tag: Option<String>,
    /// `sys.prefix`.
    pub prefix: PathBuf,
    /// `site.getsitepackages()`.
    pub site_packages: Vec<PathBuf>,
    /// `sysconfig.get_paths()["purelib"]`.
    pub purelib: Option<PathBuf>,
    /// Described from the version the backend reported and the environment's layout
    /// ([`reported`]), without starting the interpreter.
    #[serde(skip)]
    pub reported: bool,
}

impl PythonInfo {
    /// `3.12.1`.
    pub fn version_string(&self) -> String {
        let (a, b, c) = self.version;
        format!("{a}.{b}.{c}")
    }

    /// Whether distutils is gone from this interpreter's standard library (3.12 and later).
    pub fn lacks_stdlib_distutils(&self) -> bool {
        (self.version.0, self.version.1) >= (3, 12)
    }

    /// The site-packages directory to put the shim in: the original's choice
    /// (`getsitepackages()[0]`, else `purelib`), taking only an existing directory inside
    /// the environment, so that a base interpreter handed over by mistake is never changed.
    pub fn site_packages_within(&self, env_path: &Path) -> Option<PathBuf> {
        let env = std::fs::canonicalize(env_path).ok()?;
        self.site_packages.first().into_iter().chain(self.purelib.as_ref()).find_map(|candidate| {
            let real = std::fs::canonicalize(candidate).ok()?;
            (real.is_dir() && real.starts_with(&env)).then(|| candidate.clone())
        })
    }
}

/// The interpreter of the environment `env_path`, described without starting it, from the
/// version `X.Y.Z` its backend reported: only for a CPython 3.12 or later (the real file behind
/// `python` is named `python…`, not `pypy…` or `graalpy…`) in an environment with the POSIX
/// layout's `lib/pythonX.Y/site-packages`, the directory [`query`] would name
/// (`site.getsitepackages()[0]`, or its `lib64` twin, the same directory). `None`: ask it.
pub fn reported(python: &Path, env_path: &Path, version: &str) -> Option<PythonInfo> {
    let mut parts = version.splitn(3, '.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    let micro: String = parts.next()?.chars().take_while(char::is_ascii_digit).collect();
    let micro: u32 = micro.parse().ok()?;
    if (major, minor) < (3, 12) {
        return None;
    }
    let real = std::fs::canonicalize(python).ok()?;
    let name = real.file_name()?.to_str()?;
    if !name.starts_with(&format!("python{major}")) {
        return None;
    }
    let site_packages = env_path.join("lib").join(format!("python{major}.{minor}")).join("site-packages");
    if !site_packages.is_dir() {
        return None;
    }
    Some(PythonInfo {
        version: (major, minor, micro),
        implementation: "cpython".into(),
        cache_tag: Some(format!("cpython-{major}{minor}")),
        prefix: env_path.to_path_buf(),
        site_packages: vec![site_packages],
        purelib: None,
        reported: true,
    })
}

/// Why the interpreter could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// It could not be run, or did not finish.
    #[error("{0}")]
    Run(String),
    /// It ran and failed.
    #[error("{python} exited with {status}: {detail}")]
    Failed { python: String, status: String, detail: String },
    /// It ran but did not answer as expected.
    #[error("{python} gave no usable answer: {detail}")]
    Garbled { python: String, detail: String },
    /// The request was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Ask `python` (run with `cwd` as its working directory) for its version and directories.
pub fn query(python: &Path, cwd: &Path, cancelled: &dyn Fn() -> bool) -> Result<PythonInfo, QueryError> {
    let shown = python.display().to_string();
    let mut cmd = Command::new(python);
    cmd.args(["-E", "-s", "-B", "-c", QUERY]).current_dir(cwd);
    let done = process::run(&mut cmd, Some(QUERY_LIMIT), cancelled).map_err(|e| match e {
        RunError::Cancelled => QueryError::Cancelled,
        other => QueryError::Run(other.to_string()),
    })?;
    if !done.status.success() {
        let stderr = done.stderr_text();
        let detail = process::last_line(&stderr).unwrap_or("no error output").to_owned();
        return Err(QueryError::Failed { python: shown, status: process::describe(done.status), detail });
    }
    parse_answer(&String::from_utf8_lossy(&done.stdout)).map_err(|detail| QueryError::Garbled { python: shown, detail })
}

/// The JSON object on the last line that starts with [`ANSWER_PREFIX`].
pub(crate) fn parse_answer<T: serde::de::DeserializeOwned>(stdout: &str) -> Result<T, String> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(ANSWER_PREFIX))
        .ok_or_else(|| format!("no answer line in its output {:?}", truncate(stdout, 200)))?;
    serde_json::from_str(line).map_err(|e| format!("{e} in {:?}", truncate(line, 200)))
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(sp: &[&Path], purelib: Option<&Path>) -> PythonInfo {
        PythonInfo {
            version: (3, 12, 1),
            implementation: "cpython".into(),
            cache_tag: Some("cpython-312".into()),
            prefix: "/env".into(),
            site_packages: sp.iter().map(|p| p.to_path_buf()).collect(),
            purelib: purelib.map(Path::to_path_buf),
            reported: false,
        }
    }

    #[test]
    fn parses_the_last_answer_line_among_noise() {
        let out = "hello from a .pth\n@pyve-distutils-shim@{\"version\": [3, 13, 0], \"implementation\": \"cpython\", \
                   \"cache_tag\": \"cpython-313\", \"prefix\": \"/e\", \"site_packages\": [\"/e/sp\"], \"purelib\": null}\n";
        let info: PythonInfo = parse_answer(out).unwrap();
        assert_eq!(info.version, (3, 13, 0));
        assert_eq!(info.version_string(), "3.13.0");
        assert!(info.lacks_stdlib_distutils());
        assert_eq!(info.site_packages, vec![PathBuf::from("/e/sp")]);
        assert!(parse_answer::<PythonInfo>("nothing here").unwrap_err().contains("no answer line"));
        assert!(parse_answer::<PythonInfo>("@pyve-distutils-shim@{").is_err());
    }

    #[test]
    fn a_reported_version_is_trusted_only_for_a_cpython_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("base/bin");
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("python3.12"), "").unwrap();
        std::fs::write(base.join("pypy3.12"), "").unwrap();
        let env = tmp.path().join("env");
        std::fs::create_dir_all(env.join("bin")).unwrap();
        let python = env.join("bin/python");
        std::os::unix::fs::symlink(base.join("python3.12"), &python).unwrap();
        // No site-packages yet: ask.
        assert_eq!(reported(&python, &env, "3.12.1"), None);
        let sp = env.join("lib/python3.12/site-packages");
        std::fs::create_dir_all(&sp).unwrap();
        let info = reported(&python, &env, "3.12.1").unwrap();
        assert_eq!(info.version, (3, 12, 1));
        assert_eq!(info.cache_tag.as_deref(), Some("cpython-312"));
        assert_eq!(info.site_packages_within(&env), Some(sp.clone()));
        assert!(info.reported);
        assert_eq!(reported(&python, &env, "3.12.0rc2").unwrap().version, (3, 12, 0));
        // Below 3.12, another X.Y, garbage, another implementation: ask.
        assert_eq!(reported(&python, &env, "3.11.7"), None);
        assert_eq!(reported(&python, &env, "3.13.0"), None);
        assert_eq!(reported(&python, &env, "3"), None);
        let pypy = env.join("bin/pypy");
        std::os::unix::fs::symlink(base.join("pypy3.12"), &pypy).unwrap();
        assert_eq!(reported(&pypy, &env, "3.12.1"), None);
    }

    #[test]
    fn versions_below_3_12_have_distutils() {
        let mut i = info(&[], None);
        i.version = (3, 11, 7);
        assert!(!i.lacks_stdlib_distutils());
        i.version = (2, 7, 18);
        assert!(!i.lacks_stdlib_distutils());
        i.version = (4, 0, 0);
        assert!(i.lacks_stdlib_distutils());
    }

    #[test]
    fn site_packages_must_be_an_existing_directory_inside_the_environment() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join("env");
        let sp = env.join("lib/python3.12/site-packages");
        std::fs::create_dir_all(&sp).unwrap();
        let outside = tmp.path().join("base/site-packages");
        std::fs::create_dir_all(&outside).unwrap();
        let missing = env.join("lib/missing");

        assert_eq!(info(&[&sp], None).site_packages_within(&env), Some(sp.clone()));
        assert_eq!(info(&[&outside], Some(&sp)).site_packages_within(&env), Some(sp.clone()));
        assert_eq!(info(&[&missing], Some(&sp)).site_packages_within(&env), Some(sp.clone()));
        assert_eq!(info(&[&outside], None).site_packages_within(&env), None);
        assert_eq!(info(&[], Some(&outside)).site_packages_within(&env), None);
        assert_eq!(info(&[&sp], None).site_packages_within(&tmp.path().join("nope")), None);
    }
}
