//! Interpreters on `PATH`, for a machine without a version manager.
//!
//! Only real interpreters count: relative and empty `PATH` entries are skipped (the current
//! directory is never searched), and so are shim directories (a directory named `shims`, as
//! pyenv's, asdf's and pyenv-virtualenv's are); a shim found elsewhere is recognised by
//! [`Interpreter::inspect`] and skipped too.

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::Environment;
use super::version::VersionRequest;
use crate::interpreter::Interpreter;

/// The directories of `PATH` that are searched: absolute, not shim directories, each once.
pub(crate) fn path_dirs(env: &Environment) -> Vec<PathBuf> {
    let Some(path) = &env.path else { return Vec::new() };
    let mut seen = HashSet::new();
    std::env::split_paths(path)
        .filter(|d| d.is_absolute() && !is_shim_dir(d))
        .filter(|d| seen.insert(d.clone()))
        .collect()
}

fn is_shim_dir(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n == "shims")
}

/// A regular file (after following links) with an execute bit.
pub(crate) fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The first executable `name` in the searched `PATH` directories.
pub(crate) fn find_on_path(env: &Environment, name: &str) -> Option<PathBuf> {
    path_dirs(env).into_iter().map(|d| d.join(name)).find(|p| is_executable_file(p))
}

/// Whether a file name is `python3` or `python3.N`.
fn python_name(name: &str, want: Option<&VersionRequest>) -> bool {
    let Some(rest) = name.strip_prefix("python3") else { return false };
    if rest.is_empty() {
        return true;
    }
    let Some(minor) = rest.strip_prefix('.') else { return false };
    if minor.is_empty() || !minor.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    want.is_none_or(|w| minor.parse::<u32>().is_ok_and(|m| m == w.minor))
}

/// The CPython 3 interpreters on `PATH` (`python3.N` and `python3`), in `PATH` order, each
/// real file once. With `want`, only names that can satisfy it are looked at (their versions
/// are checked by the caller).
pub fn path_pythons(env: &Environment, want: Option<&VersionRequest>) -> Vec<Interpreter> {
    if want.is_some_and(|w| w.major != 3) {
        return Vec::new();
    }
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    for dir in path_dirs(env) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| python_name(n, want))
            .collect();
        // Versioned names first (python3.12 before python3), then by name.
        names.sort_by_key(|n| (n == "python3", n.clone()));
        for name in names {
            let path = dir.join(&name);
            if !is_executable_file(&path) {
                continue;
            }
            let Ok(real) = std::fs::canonicalize(&path) else { continue };
            if !seen.insert(real) {
                continue;
            }
            match Interpreter::inspect(&path) {
                Ok(i) if i.implementation == "cpython" && i.version.major == 3 => found.push(i),
                _ => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_dirs() {
        assert!(python_name("python3", None) && python_name("python3.12", None));
        assert!(!python_name("python3.12-config", None) && !python_name("python3.13t", None));
        assert!(!python_name("python", None) && !python_name("python2.7", None) && !python_name("python3.", None));
        let want = VersionRequest::parse("3.12").unwrap();
        assert!(python_name("python3.12", Some(&want)) && !python_name("python3.11", Some(&want)));
        assert!(python_name("python3", Some(&want)));
        let env = Environment {
            path: Some("relative/bin::/root/.pyenv/shims:/usr/bin:/usr/bin:/opt/x/bin".into()),
            ..Environment::default()
        };
        assert_eq!(path_dirs(&env), [PathBuf::from("/usr/bin"), PathBuf::from("/opt/x/bin")]);
    }
}
