//! Where things are: the project root, the test environment, the project's own environment,
//! and what the project's files say (read directly, nothing is started).

use std::fs;
use std::path::{Path, PathBuf};

/// The test environment's directory, relative to the project root.
pub const TESTENV_DIR: &str = ".pyve/testenv";
/// The environment itself, relative to the project root.
pub const ENV_DIR: &str = ".pyve/testenv/venv";

/// The paths of one project's test environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The project root (absolute).
    pub root: PathBuf,
    /// `<root>/.pyve/testenv`.
    pub testenv: PathBuf,
    /// `<root>/.pyve/testenv/venv`.
    pub env: PathBuf,
}

impl Paths {
    /// The paths for the project at `root` (absolute).
    pub fn new(root: PathBuf) -> Paths {
        Paths { testenv: root.join(TESTENV_DIR), env: root.join(ENV_DIR), root }
    }

    /// The project root: `PYVE_PROJECT_ROOT` when pyve set it (the cwd is inside an
    /// initialised project), else the current directory.
    pub fn discover(project_root: Option<&Path>) -> std::io::Result<Paths> {
        let cwd = std::env::current_dir();
        let root = match project_root.filter(|p| !p.as_os_str().is_empty()) {
            Some(p) if p.is_absolute() => p.to_path_buf(),
            Some(p) => cwd?.join(p),
            None => cwd?,
        };
        Ok(Paths::new(root))
    }

    /// The environment's python.
    pub fn python(&self) -> PathBuf {
        self.env.join("bin").join("python")
    }

    /// The environment's `bin`.
    pub fn bin(&self) -> PathBuf {
        self.env.join("bin")
    }
}

/// What is at the environment's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvState {
    /// Nothing.
    Missing,
    /// A virtual environment whose python runs.
    Ready,
    /// A virtual environment whose `bin/python` is gone or dangling (the base interpreter was
    /// removed, for example): the text says what is wrong.
    Broken(String),
    /// Something that is not a virtual environment.
    NotVenv(String),
}

/// Look at the environment at `env`.
pub fn env_state(env: &Path) -> EnvState {
    match fs::symlink_metadata(env) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return EnvState::Missing,
        Err(e) => return EnvState::NotVenv(format!("it cannot be inspected: {e}")),
        Ok(m) if m.file_type().is_symlink() => return EnvState::NotVenv("it is a symbolic link".into()),
        Ok(m) if !m.is_dir() => return EnvState::NotVenv("it is not a directory".into()),
        Ok(_) => {}
    }
    if !env.join("pyvenv.cfg").is_file() {
        return EnvState::NotVenv("it has no pyvenv.cfg".into());
    }
    let python = env.join("bin").join("python");
    if is_executable(&python) {
        return EnvState::Ready;
    }
    let why = match fs::read_link(&python) {
        Ok(target) => format!("its bin/python points to {}, which does not exist", target.display()),
        Err(_) if fs::symlink_metadata(&python).is_ok() => "its bin/python cannot be executed".into(),
        Err(_) => "it has no bin/python".into(),
    };
    EnvState::Broken(why)
}

/// Whether `p` is a file with an execute bit (following symbolic links).
pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `version` from the environment's `pyvenv.cfg` (`version_info` for uv's).
pub fn pyvenv_version(env: &Path) -> Option<String> {
    let text = pyve_fs::read_bounded_text(&env.join("pyvenv.cfg"), pyve_fs::READ_LIMIT).ok()?;
    let mut found = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        match key.trim() {
            "version" => return Some(value.trim().to_string()),
            "version_info" => found = Some(value.trim().to_string()),
            _ => {}
        }
    }
    found
}

/// The `site-packages` directories of an environment (`lib/python*/site-packages`); with a
/// known `X.Y` the likely one is tried first, without listing `lib`.
pub fn site_packages(env: &Path, short_version: Option<&str>) -> Vec<PathBuf> {
    let lib = env.join("lib");
    if let Some(v) = short_version {
        let p = lib.join(format!("python{v}")).join("site-packages");
        if p.is_dir() {
            return vec![p];
        }
    }
    let Ok(entries) = fs::read_dir(&lib) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
}

/// `X.Y` of `X.Y.Z`.
pub fn short(version: &str) -> Option<String> {
    let mut parts = version.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    (!major.is_empty() && !minor.is_empty()).then(|| format!("{major}.{minor}"))
}

/// Whether pytest is importable from these site-packages (its package directory is there).
pub fn has_pytest(site: &[PathBuf]) -> bool {
    site.iter().any(|s| s.join("pytest").join("__init__.py").is_file() || s.join("pytest.py").is_file())
}

/// pytest's installed version, from its `pytest-X.Y.Z.dist-info` directory.
pub fn pytest_version(site: &[PathBuf]) -> Option<String> {
    for s in site {
        let Ok(entries) = fs::read_dir(s) else { continue };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(v) = name.strip_prefix("pytest-").and_then(|r| r.strip_suffix(".dist-info")) {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// `python.version` from `.pyve/config` (the project's recorded Python, as the original tool
/// wrote it: a top-level `python:` mapping with a `version:` key, or `python: {version: V}`).
/// `None` when the file or the key is missing.
pub fn config_python_version(root: &Path) -> Option<String> {
    let text = pyve_fs::read_bounded_text(&root.join(".pyve").join("config"), pyve_fs::READ_LIMIT).ok()?;
    config_value(&text, "python", "version")
}

/// The venv directory from `.pyve/config` (`venv: directory:`).
fn config_venv_directory(root: &Path) -> Option<String> {
    let text = pyve_fs::read_bounded_text(&root.join(".pyve").join("config"), pyve_fs::READ_LIMIT).ok()?;
    config_value(&text, "venv", "directory")
}

/// A scalar `section.key` of a simple YAML document (block or one-line flow mapping).
pub fn config_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines() {
        let body = strip_comment(line);
        if body.trim().is_empty() {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            inside = false;
            let Some(rest) = body.strip_prefix(section).and_then(|r| r.trim_start().strip_prefix(':')) else {
                continue;
            };
            let rest = rest.trim();
            if rest.is_empty() {
                inside = true;
            } else if let Some(flow) = rest.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                for item in flow.split(',') {
                    if let Some((k, v)) = item.split_once(':')
                        && unquote(k.trim()) == key
                    {
                        return Some(unquote(v.trim()).to_string()).filter(|v| !v.is_empty());
                    }
                }
            }
            continue;
        }
        if inside
            && let Some((k, v)) = body.trim().split_once(':')
            && unquote(k.trim()) == key
        {
            return Some(unquote(v.trim()).to_string()).filter(|v| !v.is_empty());
        }
    }
    None
}

fn strip_comment(line: &str) -> &str {
    // A `#` starts a comment at the start or after whitespace (outside quotes, which version
    // strings and directory names never need).
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// The project's own environment (not the test environment): `env_path` recorded in
/// `.pyve/state.json`, else the venv directory of `.pyve/config`, else `<root>/.venv`.
pub fn project_env(root: &Path) -> PathBuf {
    if let Ok(bytes) = pyve_fs::read_bounded(&root.join(".pyve").join("state.json"), pyve_fs::READ_LIMIT)
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(p) = value.get("env_path").and_then(serde_json::Value::as_str)
        && !p.is_empty()
    {
        return root.join(p);
    }
    let dir = config_venv_directory(root).filter(|d| !d.contains('/') && d != "." && d != "..");
    root.join(dir.as_deref().unwrap_or(".venv"))
}

/// The marker the distutils shim writes on the first line of its `sitecustomize.py`.
pub const SHIM_MARKER: &str = "# pyve-managed: distutils shim";

/// The distutils shim in the project's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shim {
    /// There is no project environment.
    NoEnvironment(PathBuf),
    /// A pyve-marked `sitecustomize.py` is there.
    Present(PathBuf),
    /// A `sitecustomize.py` that is not pyve's.
    Foreign(PathBuf),
    /// No `sitecustomize.py` (Python below 3.12, or the shim disabled).
    Absent(PathBuf),
}

/// Look for the distutils shim in the project environment's site-packages.
pub fn shim(root: &Path) -> Shim {
    let env = project_env(root);
    if !env.is_dir() {
        return Shim::NoEnvironment(env);
    }
    let site = site_packages(&env, None);
    for s in &site {
        let file = s.join("sitecustomize.py");
        if let Ok(bytes) = pyve_fs::read_bounded(&file, pyve_fs::READ_LIMIT) {
            let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
            let first = String::from_utf8_lossy(first);
            return if first.trim_end() == SHIM_MARKER { Shim::Present(file) } else { Shim::Foreign(file) };
        }
    }
    Shim::Absent(site.into_iter().next().unwrap_or(env))
}

/// `path` relative to `root` when inside it, for messages.
pub fn display(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).map(|p| p.display().to_string()).unwrap_or_else(|_| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_values() {
        let c =
            "pyve_version: \"0.1.0\"\nbackend: venv\nvenv:\n  directory: .venv2  # mine\npython:\n  version: 3.12.1\n";
        assert_eq!(config_value(c, "python", "version").as_deref(), Some("3.12.1"));
        assert_eq!(config_value(c, "venv", "directory").as_deref(), Some(".venv2"));
        assert_eq!(config_value(c, "python", "directory"), None);
        assert_eq!(config_value("python:\n  version: \"3.11\"\n", "python", "version").as_deref(), Some("3.11"));
        assert_eq!(config_value("python: {version: '3.13.0'}\n", "python", "version").as_deref(), Some("3.13.0"));
        assert_eq!(config_value("python:\n# c\n\n  version: 3.10\n", "python", "version").as_deref(), Some("3.10"));
        assert_eq!(config_value("pythonx:\n  version: 1\n", "python", "version"), None);
        assert_eq!(config_value("python:\nother:\n  version: 3.1\n", "python", "version"), None);
        assert_eq!(config_value("python:\n  version:\n", "python", "version"), None);
    }

    #[test]
    fn states_versions_and_pytest() {
        let tmp = tempfile::tempdir().unwrap();
        let env = tmp.path().join("venv");
        assert_eq!(env_state(&env), EnvState::Missing);
        fs::create_dir_all(env.join("bin")).unwrap();
        assert_eq!(env_state(&env), EnvState::NotVenv("it has no pyvenv.cfg".into()));
        fs::write(env.join("pyvenv.cfg"), "home = /x\nversion_info = 3.12.1\n").unwrap();
        assert_eq!(env_state(&env), EnvState::Broken("it has no bin/python".into()));
        std::os::unix::fs::symlink("/nonexistent/python3.12", env.join("bin/python")).unwrap();
        assert!(matches!(env_state(&env), EnvState::Broken(w) if w.contains("/nonexistent/python3.12")));
        fs::remove_file(env.join("bin/python")).unwrap();
        std::os::unix::fs::symlink("/bin/sh", env.join("bin/python")).unwrap();
        assert_eq!(env_state(&env), EnvState::Ready);
        assert_eq!(pyvenv_version(&env).as_deref(), Some("3.12.1"));

        assert_eq!(short("3.12.1").as_deref(), Some("3.12"));
        assert_eq!(short("3.13.0rc2").as_deref(), Some("3.13"));
        assert_eq!(short("3"), None);
        let site = env.join("lib/python3.12/site-packages");
        fs::create_dir_all(&site).unwrap();
        let found = site_packages(&env, Some("3.12"));
        assert_eq!(found, std::slice::from_ref(&site));
        assert_eq!(site_packages(&env, Some("3.11")), std::slice::from_ref(&site));
        assert!(!has_pytest(&found));
        fs::create_dir_all(site.join("pytest")).unwrap();
        fs::write(site.join("pytest/__init__.py"), "").unwrap();
        fs::create_dir_all(site.join("pytest-8.3.4.dist-info")).unwrap();
        assert!(has_pytest(&found));
        assert_eq!(pytest_version(&found).as_deref(), Some("8.3.4"));
    }

    #[test]
    fn the_project_environment_and_its_shim() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        assert_eq!(project_env(root), root.join(".venv"));
        assert_eq!(shim(root), Shim::NoEnvironment(root.join(".venv")));
        fs::create_dir_all(root.join(".pyve")).unwrap();
        fs::write(root.join(".pyve/config"), "venv:\n  directory: env\n").unwrap();
        assert_eq!(project_env(root), root.join("env"));
        let site = root.join("env/lib/python3.12/site-packages");
        fs::create_dir_all(&site).unwrap();
        assert_eq!(shim(root), Shim::Absent(site.clone()));
        fs::write(site.join("sitecustomize.py"), "import os\n").unwrap();
        assert_eq!(shim(root), Shim::Foreign(site.join("sitecustomize.py")));
        fs::write(site.join("sitecustomize.py"), "# pyve-managed: distutils shim\r\nimport os\n").unwrap();
        assert_eq!(shim(root), Shim::Present(site.join("sitecustomize.py")));
        let other = root.join(".pyve/envs/x");
        fs::write(root.join(".pyve/state.json"), format!("{{\"env_path\": \"{}\"}}", other.display())).unwrap();
        assert_eq!(project_env(root), other);
    }

    #[test]
    fn roots() {
        let p = Paths::discover(Some(Path::new("/p"))).unwrap();
        assert_eq!(
            (p.testenv.as_path(), p.python()),
            (Path::new("/p/.pyve/testenv"), "/p/.pyve/testenv/venv/bin/python".into())
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(Paths::discover(None).unwrap().root, cwd);
        assert_eq!(Paths::discover(Some(Path::new(""))).unwrap().root, cwd);
        assert_eq!(display(Path::new("/p"), Path::new("/p/.pyve/testenv")), ".pyve/testenv");
        assert_eq!(display(Path::new("/p"), Path::new("/q/x")), "/q/x");
    }
}
