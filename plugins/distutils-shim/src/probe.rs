//! The check after writing: does `import distutils` work in the environment's python, with
//! `SETUPTOOLS_USE_DISTUTILS=local`, and without setuptools imported at start-up?
//!
//! The same run compiles the shim (`py_compile`) when asked: an interpreter that may not
//! write bytecode (`PYTHONDONTWRITEBYTECODE`) would otherwise compile the file again at every
//! start, which costs more than everything the file does. Running with `-I` (which ignores
//! `PYTHONDONTWRITEBYTECODE`), the probe also writes the bytecode of what it imports: setuptools'
//! `_distutils_hack` (imported at every start by its `.pth`; compiled with the shim, as
//! checked-hash `.pyc` files, which [`crate::verdict`] keeps) and the distutils modules, since
//! setuptools is installed without byte-compiling.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::interpreter::{QUERY_LIMIT, parse_answer};
use crate::process::{self, RunError};

const PROBE: &str = r#"
import os, sys
out = {"setuptools_at_startup": "setuptools" in sys.modules}
sc = sys.modules.get("sitecustomize")
out["sitecustomize"] = getattr(sc, "__file__", None)
out["env"] = os.environ.get("SETUPTOOLS_USE_DISTUTILS")
if sys.argv[1]:
    # Hash-based bytecode checked against the source at every start (PEP 552): valid
    # wherever the same source is, so pyve can keep a copy and link it into the next
    # environment, and never stale, whatever the file's timestamp.
    try:
        import py_compile
        mode = py_compile.PycInvalidationMode.CHECKED_HASH
        py_compile.compile(sys.argv[1], doraise=True, invalidation_mode=mode)
        hack = getattr(sys.modules.get("_distutils_hack"), "__file__", None)
        if hack:
            py_compile.compile(hack, doraise=True, invalidation_mode=mode)
    except Exception as e:
        out["compile_error"] = "%s: %s" % (type(e).__name__, e)
if sys.argv[2] == "quick":
    # setuptools was just linked from pyve's verified cache: check that `import distutils`
    # is handed to it (its finder armed, its copy present) without importing setuptools,
    # which would compile all of it (0.7 s).
    import importlib.util
    finders = {type(f).__name__ for f in sys.meta_path} | {getattr(f, "__name__", "") for f in sys.meta_path}
    spec = importlib.util.find_spec("setuptools")
    init = os.path.join(os.path.dirname(spec.origin), "_distutils", "__init__.py") if spec and spec.origin else None
    if not ({"DistutilsMetaFinder", "_PyveDistutilsFinder"} & finders):
        out["error"] = "no distutils finder on sys.meta_path"
    elif not (init and os.path.isfile(init) and os.path.isfile(os.path.join(os.path.dirname(init), "core.py"))):
        out["error"] = "ModuleNotFoundError: setuptools has no _distutils"
    else:
        out["distutils"] = init
else:
    try:
        import distutils.core
        out["distutils"] = getattr(distutils, "__file__", None) or "?"
    except Exception as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
import json
sys.stdout.write("\n@pyve-distutils-shim@" + json.dumps(out) + "\n")
"#;

/// What the probe saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Probe {
    /// Whether setuptools was already imported when the interpreter had started.
    pub setuptools_at_startup: bool,
    /// The `sitecustomize` module the interpreter imported, if any.
    pub sitecustomize: Option<PathBuf>,
    /// `SETUPTOOLS_USE_DISTUTILS` as the interpreter saw it after start-up.
    pub env: Option<String>,
    /// Where `distutils` came from, when `import distutils.core` worked.
    pub distutils: Option<String>,
    /// Why `import distutils.core` failed.
    pub error: Option<String>,
    /// Why compiling the shim failed.
    pub compile_error: Option<String>,
}

impl Probe {
    /// `import distutils.core` worked.
    pub fn imports(&self) -> bool {
        self.distutils.is_some()
    }

    /// Whether the interpreter ran `shim` as its `sitecustomize` (another one earlier on
    /// `sys.path`, such as a distribution's, shadows it).
    pub fn ran(&self, shim: &Path) -> bool {
        let canon = |p: &Path| std::fs::canonicalize(p).ok();
        self.sitecustomize.as_deref().is_some_and(|p| p == shim || (canon(p).is_some() && canon(p) == canon(shim)))
    }
}

/// Why the probe could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The interpreter could not be run, failed, or gave no answer.
    #[error("{0}")]
    Run(String),
    /// The request was cancelled.
    #[error("cancelled")]
    Cancelled,
}

/// Run the probe in `python` (in `cwd`), compiling `compile` first when given. `quick`: check
/// that `import distutils` is handed to setuptools' copy (its finder on `sys.meta_path`, the
/// files there) instead of importing it, for a setuptools just linked from pyve's verified
/// cache (importing compiles all of setuptools: 0.7 s against 20 ms).
pub fn probe(
    python: &Path,
    cwd: &Path,
    compile: Option<&Path>,
    quick: bool,
    cancelled: &dyn Fn() -> bool,
) -> Result<Probe, ProbeError> {
    let mut cmd = Command::new(python);
    // -I: no PYTHON* variables, no user site, no current directory on sys.path; `site` (and so
    // the environment's .pth files and sitecustomize) still runs, as for the user.
    cmd.args(["-I", "-c", PROBE])
        .arg(compile.map(Path::as_os_str).unwrap_or_default())
        .arg(if quick { "quick" } else { "import" })
        .current_dir(cwd);
    let done = process::run(&mut cmd, Some(QUERY_LIMIT), cancelled).map_err(|e| match e {
        RunError::Cancelled => ProbeError::Cancelled,
        other => ProbeError::Run(other.to_string()),
    })?;
    if !done.status.success() {
        let stderr = done.stderr_text();
        return Err(ProbeError::Run(format!(
            "{} exited with {}: {}",
            python.display(),
            process::describe(done.status),
            process::last_line(&stderr).unwrap_or("no error output")
        )));
    }
    parse_answer(&String::from_utf8_lossy(&done.stdout))
        .map_err(|e| ProbeError::Run(format!("{} gave no usable answer: {e}", python.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_answer() {
        let p: Probe = parse_answer(
            "@pyve-distutils-shim@{\"setuptools_at_startup\": false, \"sitecustomize\": \"/e/sitecustomize.py\", \
             \"env\": \"local\", \"distutils\": \"/e/setuptools/_distutils/__init__.py\"}",
        )
        .unwrap();
        assert!(p.imports());
        assert_eq!(p.env.as_deref(), Some("local"));
        assert!(p.ran(Path::new("/e/sitecustomize.py")));
        assert!(!p.ran(Path::new("/other/sitecustomize.py")));
        let failed: Probe = parse_answer(
            "@pyve-distutils-shim@{\"setuptools_at_startup\": false, \"sitecustomize\": null, \"env\": null, \
             \"error\": \"ModuleNotFoundError: No module named 'distutils'\"}",
        )
        .unwrap();
        assert!(!failed.imports());
        assert!(!failed.ran(Path::new("/e/sitecustomize.py")));
    }
}
