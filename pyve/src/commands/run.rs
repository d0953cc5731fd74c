//! `pyve run CMD [ARGS...]`: run a command inside the project's environment, with the user's
//! stdio. The activation recorded at init is applied (no plugin is started); the
//! environment's executables come first, then `PATH`, so `pyve run bash -c ...` works. The
//! command's exit code is pyve's (128+n when it is killed by signal n); a command that does
//! not exist exits 127, one that cannot be executed 126.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::project::{self, State, files};

/// Exit code for a command that does not exist.
pub const EXIT_NOT_FOUND: u8 = 127;
/// Exit code for a command that exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: u8 = 126;

/// Find an executable in the directories of a `PATH`-like value (relative and empty entries
/// are skipped: the current directory is never searched).
pub fn find_in(name: &OsStr, dirs: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    for dir in dirs {
        if dir.as_os_str().is_empty() || dir.is_relative() {
            continue;
        }
        let candidate = dir.join(name);
        if is_executable_file(&candidate) {
            return Some(candidate);
        }
    }
    None
}

/// Find an executable on the process's `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    find_in(OsStr::new(name), std::env::split_paths(&path))
}

fn is_executable_file(p: &Path) -> bool {
    match std::fs::metadata(p) {
        #[cfg(unix)]
        Ok(m) => {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        }
        #[cfg(not(unix))]
        Ok(m) => m.is_file(),
        Err(_) => false,
    }
}

/// `pyve run`.
pub fn run(env: &HostEnv, argv: &[OsString]) -> Result<u8> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::usage("no command given to run")
            .hint("usage: pyve run <command> [args...], for example: pyve run python --version"));
    };
    let cwd = project::current_dir()?;
    let Some(root) = env.project_root(&cwd) else {
        return Err(Error::new(format!(
            "no pyve environment here: no {} in {} or its parents",
            project::CONFIG_FILE,
            cwd.display()
        ))
        .hint("create one with `pyve --init` in the project's directory"));
    };
    let Some(state) = State::load(&root)? else {
        return Err(Error::new(format!(
            "the project at {} has no environment recorded ({} is missing)",
            root.display(),
            project::STATE_FILE
        ))
        .hint("create it with `pyve --init --force`"));
    };
    if !state.env_path.is_dir() {
        return Err(Error::new(format!("the environment {} does not exist any more", state.env_path.display()))
            .hint("create it again with `pyve --init --force`"));
    }

    let mut cmd = resolve(program, &state)?;
    cmd.args(args);
    apply(&mut cmd, &root, &state);
    match crate::signals::run_foreground(&mut cmd) {
        Ok(status) => Ok(super::external::exit_code(status)),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err(Error::new(format!("cannot execute {}", cmd.get_program().to_string_lossy()))
                .because(e)
                .hint("check that it is an executable file (chmod +x)")
                .exit_code(EXIT_NOT_EXECUTABLE))
        }
        Err(e) => Err(Error::new(format!("cannot run {}", cmd.get_program().to_string_lossy()))
            .because(e)
            .exit_code(EXIT_NOT_EXECUTABLE)),
    }
}

/// The command for `program`: a path as given, else the environment's directories first, then
/// `PATH`.
fn resolve(program: &OsStr, state: &State) -> Result<Command> {
    if program.to_string_lossy().contains('/') {
        let p = Path::new(program);
        if !p.exists() {
            return Err(Error::new(format!("command not found: {}", p.display()))
                .hint("check the path")
                .exit_code(EXIT_NOT_FOUND));
        }
        return Ok(Command::new(p));
    }
    let env_dirs = state.activation.path_prepend.iter().cloned();
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    match find_in(program, env_dirs.chain(path_dirs)) {
        Some(found) => Ok(Command::new(found)),
        None => {
            let name = program.to_string_lossy();
            let bin = state.activation.path_prepend.first().map(|p| p.display().to_string()).unwrap_or_default();
            Err(Error::new(format!("command not found: {name}"))
                .because(format!("it is neither in the environment ({bin}) nor on PATH"))
                .hint(format!("install it into the environment, for example: pyve run pip install {name}"))
                .exit_code(EXIT_NOT_FOUND))
        }
    }
}

/// The recorded activation, plus the project's `.env` (variables already set win).
fn apply(cmd: &mut Command, root: &Path, state: &State) {
    if let Ok(text) = std::fs::read_to_string(root.join(".env")) {
        for (k, v) in files::parse_dotenv(&text) {
            if std::env::var_os(&k).is_none() {
                cmd.env(k, v);
            }
        }
    }
    for var in &state.activation.unset {
        cmd.env_remove(var);
    }
    for (k, v) in &state.activation.set {
        cmd.env(k, v);
    }
    if !state.activation.path_prepend.is_empty() {
        let mut dirs: Vec<PathBuf> = state.activation.path_prepend.clone();
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path).filter(|d| !state.activation.path_prepend.contains(d)));
        }
        if let Ok(joined) = std::env::join_paths(dirs) {
            cmd.env("PATH", joined);
        }
    }
}
