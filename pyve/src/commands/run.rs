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
    // `pyve run -- CMD ...`: a leading `--` ends pyve's options, as uv, cargo and npm take it.
    let argv = match argv.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => argv,
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::usage("No command provided to run")
            .hint("usage: pyve run <command> [args...], for example: pyve run python --version"));
    };
    let cwd = project::current_dir()?;
    let Some(root) = env.project_root(&cwd) else {
        return Err(Error::new(format!(
            "No Python environment found: no {} in {} or its parents",
            project::CONFIG_FILE,
            cwd.display()
        ))
        .hint("run `pyve --init` in the project's directory to create an environment first"));
    };
    if let Some(why) = crate::commands::init::unfinished(&root) {
        crate::ui::warn(&why);
        crate::ui::hint("run `pyve --init --force` to rebuild it, or `pyve --validate` to see what is there");
    }
    let (state, recorded) = match State::load(&root)? {
        Some(state) => (state, true),
        None => (unrecorded(env, &root)?, false),
    };
    // A project that pins its backend's plugin runs only where a matching copy is installed
    // (no plugin is started: the manifest cache knows the versions).
    if !state.plugin.is_empty()
        && crate::plugins::pins::Pins::for_root(Some(&root)).get(&state.plugin).is_some()
        && let Some(err) = crate::plugins::inventory(env, crate::cli::BUILTINS).pin_error(&state.plugin)
    {
        return Err(err);
    }
    if !state.env_path.is_dir() {
        // The original's first words (reference 2.4), then what pyve knows.
        return Err(Error::new(format!(
            "No Python environment found: the environment {} does not exist any more",
            state.env_path.display()
        ))
        // The project is initialised: `pyve sync` makes the environment from .pyve/config, as
        // doctor and --validate say.
        .hint("create it again from .pyve/config with `pyve sync` (or `pyve --init --force`)"));
    }

    let mut cmd = resolve(program, &state)?;
    cmd.args(args);
    apply(&mut cmd, &root, &state, recorded)?;
    exec(cmd)
}

/// A project with `.pyve/config` but no `.pyve/state.json` (one set up by the original shell
/// tool, or whose state was deleted): the backend named in the config is asked, once, where its
/// environment is and how to run in it. Nothing is written (`pyve run` only reads); the next
/// `pyve --init` records it.
fn unrecorded(env: &HostEnv, root: &Path) -> Result<State> {
    let missing = || {
        Error::new(format!(
            "the project at {} has no environment recorded ({} is missing)",
            root.display(),
            project::STATE_FILE
        ))
        .hint("create it with `pyve --init --force`")
    };
    let Some(config) = project::Config::load(root)? else { return Err(missing()) };
    let Some((entry, params, mut session)) = crate::backend::configured_session(env, root, &config)? else {
        return Err(missing());
    };
    let described = session.call::<pyve_protocol::methods::request::EnvDescribe>(&params).map_err(|e| e.to_error());
    let described = match described {
        Ok(d) if d.exists => d,
        Ok(_) => {
            session.close();
            return Err(missing());
        }
        Err(e) => {
            session.close();
            return Err(e);
        }
    };
    let activation = session.call::<pyve_protocol::methods::request::EnvActivation>(&params).map_err(|e| e.to_error());
    session.close();
    Ok(State {
        project_root: root.to_path_buf(),
        backend: params.backend.clone(),
        plugin: entry.candidate.name.clone(),
        env_path: described.env_path.clone().unwrap_or_default(),
        interpreter: described.interpreter.clone(),
        python_version: described.python_version.clone(),
        activation: activation?,
        ..State::default()
    })
}

/// Replace pyve with the command (as the original's `exec` did): the caller (a shell, a
/// supervisor) then sees exactly the command's own exit status and signals, a SIGTERM meant for
/// it reaches it, and no orphan is possible. Returns only when the command cannot be started.
#[cfg(unix)]
fn exec(mut cmd: Command) -> Result<u8> {
    use std::os::unix::process::CommandExt;
    let e = cmd.exec();
    Err(start_error(&cmd, e))
}

#[cfg(not(unix))]
fn exec(mut cmd: Command) -> Result<u8> {
    match crate::signals::run_foreground(&mut cmd) {
        Ok(status) => Ok(super::external::exit_code(status)),
        Err(e) => Err(start_error(&cmd, e)),
    }
}

/// Why a resolved command did not start, with the shell's exit codes (126: it cannot be
/// executed).
fn start_error(cmd: &Command, e: std::io::Error) -> Error {
    let program = Path::new(cmd.get_program());
    let shown = program.display();
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => Error::new(format!("cannot execute {shown}"))
            .because(e)
            .hint("check that it is an executable file (chmod +x)")
            .exit_code(EXIT_NOT_EXECUTABLE),
        // The file is there (it was resolved): what is missing is its interpreter (`#!`).
        std::io::ErrorKind::NotFound => {
            let interpreter = shebang(program).map(|i| format!(" ({i})")).unwrap_or_default();
            Error::new(format!("cannot run {shown}: its interpreter{interpreter} does not exist"))
                .hint(
                    "if it belongs to the environment, the Python it was made from was removed or moved: \
                     rebuild it with `pyve --init --force`",
                )
                .exit_code(EXIT_NOT_EXECUTABLE)
        }
        _ => Error::new(format!("cannot run {shown}")).because(e).exit_code(EXIT_NOT_EXECUTABLE),
    }
}

/// The interpreter a script names on its `#!` line.
fn shebang(p: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(p).ok()?.read(&mut head).ok()?;
    let line = head[..n].strip_prefix(b"#!")?.split(|&b| b == b'\n').next()?;
    Some(String::from_utf8_lossy(line).split_whitespace().next()?.to_owned())
}

/// What is wrong with an entry of the environment's directories that cannot be run: a link
/// whose target is gone (the base interpreter was removed).
fn broken_in_env(name: &OsStr, state: &State) -> Option<(PathBuf, String)> {
    state.activation.path_prepend.iter().map(|d| d.join(name)).find_map(|p| {
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if meta.file_type().is_symlink() && std::fs::metadata(&p).is_err() {
            let target = std::fs::read_link(&p).map(|t| t.display().to_string()).unwrap_or_default();
            Some((p, format!("it links to {target}, which does not exist")))
        } else {
            None
        }
    })
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
    let name = program.to_string_lossy();
    if let Some(found) = find_in(program, env_dirs) {
        return Ok(Command::new(found));
    }
    // A broken entry of the environment is reported, never replaced by a namesake on PATH (a
    // system python running outside the environment would look like success).
    if let Some((path, why)) = broken_in_env(program, state) {
        return Err(Error::new(format!("the environment's {name} is broken: {} {why}", path.display()))
            .because("the Python the environment was made from was removed or moved")
            .hint("rebuild the environment: pyve --init --force")
            .exit_code(EXIT_NOT_FOUND));
    }
    // `python`/`pip` in an environment that has none (a conda environment without python):
    // never another interpreter from PATH, which would run outside the environment.
    let pythonish = |n: &str| {
        n == "pip"
            || n.starts_with("pip3")
            || n == "python"
            || n.strip_prefix("python").is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    };
    if pythonish(&name) && state.activation.path_prepend.iter().any(|d| d.is_dir()) {
        let (what, fix) = if state.backend == "micromamba" {
            (
                "a conda environment without python",
                "add `python` (and `pip`) to environment.yml's dependencies, then `pyve sync`",
            )
        } else {
            ("an environment without it", "rebuild the environment: pyve --init --force")
        };
        return Err(Error::new(format!(
            "the project's environment has no {name} ({}): {what}",
            project::display_in(&state.project_root, &state.env_path)
        ))
        .because(format!("pyve does not run {name} from PATH instead: it would run outside the environment"))
        .hint(fix)
        .exit_code(EXIT_NOT_FOUND));
    }
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default();
    match find_in(program, path_dirs.iter().cloned()) {
        Some(found) => Ok(Command::new(found)),
        // Nothing executable, but a file of that name that is not: as a shell, 126.
        None if let Some(file) = state
            .activation
            .path_prepend
            .iter()
            .chain(path_dirs.iter().filter(|d| d.is_absolute()))
            .map(|d| d.join(program))
            .find(|p| p.is_file()) =>
        {
            Err(Error::new(format!("cannot execute {}", file.display()))
                .because("it is not executable")
                .hint(format!("make it executable (chmod +x {}), or run it with its interpreter", file.display()))
                .exit_code(EXIT_NOT_EXECUTABLE))
        }
        None => {
            let bin = state.activation.path_prepend.first().map(|p| p.display().to_string()).unwrap_or_default();
            let pythonish = name == "pip"
                || name.starts_with("pip3")
                || name == "python"
                || name.strip_prefix("python").is_some_and(|v| v.bytes().all(|b| b.is_ascii_digit() || b == b'.'));
            let hint = if pythonish {
                format!("the environment should have {name}: rebuild it with `pyve --init --force`")
            } else {
                format!(
                    "if it is a Python package, install it into the environment (pyve run pip install {name}); \
                     otherwise install it so that it is on PATH"
                )
            };
            Err(Error::new(format!("command not found: {name}"))
                .because(format!("it is neither in the environment ({bin}) nor on PATH"))
                .hint(hint)
                .exit_code(EXIT_NOT_FOUND))
        }
    }
}

/// The recorded activation, then the project's `.env` as direnv's `dotenv` reads it (it runs
/// last in the `.envrc` pyve writes, so its values win over the activation and the process
/// environment, and its `$VAR`s see both). `.env` is read only when it is a regular file of at
/// most [`files::DOTENV_MAX`] bytes: a FIFO or a link to `/dev/stdin` would otherwise wait for,
/// or swallow, the command's own standard input. Lines pyve cannot read are skipped with a
/// warning; a new or changed `.env` is announced once (its hash is kept in the state).
fn apply(cmd: &mut Command, root: &Path, state: &State, recorded: bool) -> Result<()> {
    for var in &state.activation.unset {
        cmd.env_remove(var);
    }
    for (k, v) in &state.activation.set {
        cmd.env(k, v);
    }
    let mut path_value = std::env::var_os("PATH");
    if !state.activation.path_prepend.is_empty() {
        let mut dirs: Vec<PathBuf> = state.activation.path_prepend.clone();
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path).filter(|d| !state.activation.path_prepend.contains(d)));
        }
        if let Ok(joined) = std::env::join_paths(dirs) {
            cmd.env("PATH", &joined);
            path_value = Some(joined);
        }
    }
    let dotenv = root.join(".env");
    let text = match pyve_fs::read_bounded_text(&dotenv, files::DOTENV_MAX) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::new(format!("cannot read {}", dotenv.display()))
                .because(e)
                .hint("pyve run loads .env as a small regular text file: fix it or move it aside; nothing was run"));
        }
    };
    // What the command would see without `.env`: the activation over the process environment.
    let lookup = |name: &str| -> Option<String> {
        if name == "PATH" {
            return path_value.as_ref().map(|p| p.to_string_lossy().into_owned());
        }
        if let Some(v) = state.activation.set.get(name) {
            return Some(v.clone());
        }
        if state.activation.unset.iter().any(|u| u == name) {
            return None;
        }
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    };
    let (vars, bad) = project::dotenv::parse(&text, lookup);
    let shown = project::display_in(root, &dotenv);
    for b in &bad {
        crate::ui::warn(&format!(
            "{shown}:{}: skipped, not an assignment pyve can read (KEY=value, quote a value with spaces): {}",
            b.line,
            b.text.trim()
        ));
    }
    announce(root, state, recorded, &text, &vars);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    Ok(())
}

/// Say once, on stderr, that a new or changed `.env` is applied (a cloned project's `.env`
/// can set any variable of the command, `PATH` and `PYTHONPATH` included), and remember its
/// hash in the state so that the next runs are quiet.
fn announce(root: &Path, state: &State, recorded: bool, text: &str, vars: &[(String, String)]) {
    use sha2::{Digest, Sha256};
    let hash: String = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    if state.dotenv_seen.as_deref() == Some(hash.as_str()) || vars.is_empty() {
        return;
    }
    let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    let what = if state.dotenv_seen.is_some() { "changed since the last run" } else { "new" };
    crate::ui::warn(&format!(".env is {what}: pyve run sets {} from it", names.join(", ")));
    if recorded {
        let mut seen = state.clone();
        seen.dotenv_seen = Some(hash);
        // Not being able to remember only means the notice is shown again.
        let _ = files::write_own(root, &root.join(project::STATE_FILE), seen.to_text().as_bytes());
    }
}
