//! The actions of `pyve testenv`, and `pyve test`.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use pyve_sdk::exec_plan::{self, Recorder};

use pyve_venv::policy::{
    Environment, InstallOptions, PolicyError, Request, Resolution, Resolved, Source, Unobserved, detect,
    manager_message, requested_version, resolve_interpreter,
};
use pyve_venv::{CreateOptions, PythonVersion};
use pyve_wheels::default_cache_dir;

use crate::args::Action;
use crate::project::{self, ENV_DIR, EnvState, Paths, Shim, TESTENV_DIR};
use crate::record::{self, Record};
use crate::{Failure, Host, Ui, VERSION, gitignore};

/// The command that rebuilds the environment from the project's current Python.
pub const REBUILD: &str = "pyve testenv --purge && pyve testenv --init";

/// Exit code for a command that does not exist.
const NOT_FOUND: i32 = 127;
/// Exit code for a command that cannot be executed.
const NOT_EXECUTABLE: i32 = 126;

/// Run an action (not help or version); the result is the exit code.
pub fn run(ui: &Ui, host: &Host, action: Action) -> i32 {
    let result = Paths::discover(host.project_root.as_deref())
        .map_err(|e| Failure::new(format!("cannot tell the current directory: {e}")))
        .and_then(|paths| match action {
            Action::Init => lock(&paths).and_then(|_lock| init(ui, host, &paths)),
            Action::Install { requirements } => lock(&paths).and_then(|_lock| install(ui, &paths, &requirements)),
            Action::Purge => lock(&paths).and_then(|_lock| purge(ui, &paths)),
            Action::Status => status(&paths),
            Action::Run { program, args } => Err(run_tool(&paths, &program, &args)),
            Action::Help | Action::Version => Ok(()),
        });
    match result {
        Ok(()) => 0,
        Err(f) => {
            ui.error(&f);
            f.code
        }
    }
}

// ---------------------------------------------------------------------------------------------
// shared checks

fn not_initialized(hint: &str) -> Failure {
    Failure::new("Dev/test runner environment not initialized").hint(hint)
}

/// The test environment's place must stay inside the project: `.pyve` and `.pyve/testenv`
/// may not be symbolic links leading out of it (a clone could point them anywhere), or
/// building, installing and purging would change files elsewhere.
fn inside(paths: &Paths, path: &Path) -> Result<(), Failure> {
    pyve_fs::inspect(&paths.root, path).map(drop).map_err(|r| {
        let hint = r.hint();
        Failure::new(r.to_string()).hint(hint)
    })
}

/// [`inside`], and `path` itself is not a symbolic link leading out of the project: the
/// environment `.pyve/testenv/venv` is built, used and installed into only where it really is.
fn inside_not_linking_out(paths: &Paths, path: &Path) -> Result<(), Failure> {
    inside(paths, path)?;
    match pyve_fs::inspect(&paths.root, path) {
        Ok(e) => match e.leads_out() {
            Some(l) => Err(Failure::new(format!(
                "{} is a symbolic link to {}, outside the project; pyve does not use, write or delete anything there",
                path.display(),
                l.target.display()
            ))
            .hint(format!(
                "`rm {}` removes the link only (not what it points to); then run `pyve testenv --init`",
                path.display()
            ))),
            None => Ok(()),
        },
        Err(r) => Err(Failure::new(r.to_string()).hint(r.hint())),
    }
}

/// The project's lock, `.pyve/lock`: the one every pyve command that writes takes (the host
/// for `--init`, `--purge`, `--python-version`; this plugin for `--init`, `--install` and
/// `--purge`), so that two of them never change one project at once. Held until dropped;
/// a `.pyve` that holds nothing but the lock is removed again.
struct ProjectLock {
    file: fs::File,
    dir: PathBuf,
}

/// How long a command waits for another pyve working on the same project.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn lock(paths: &Paths) -> Result<ProjectLock, Failure> {
    if !paths.root.is_dir() {
        return Err(Failure::new(format!("the project directory {} does not exist", paths.root.display()))
            .hint("run it from inside the project"));
    }
    let dir = paths.root.join(".pyve");
    let path = dir.join("lock");
    inside(paths, &path)?;
    if let Err(e) = fs::create_dir(&dir)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(Failure::new(format!("cannot create {}: {e}", dir.display()))
            .hint(format!("check the permissions of {}", paths.root.display())));
    }
    let file = pyve_fs::open_own_file(&paths.root, &path).map_err(|r| Failure::new(r.to_string()).hint(r.hint()))?;
    let start = std::time::Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < LOCK_WAIT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                let who = holder.trim().parse::<u32>().map(|p| format!(" (pid {p})")).unwrap_or_default();
                return Err(Failure::new(format!(
                    "another pyve{who} is changing this project ({}); waited {} s",
                    paths.root.display(),
                    LOCK_WAIT.as_secs()
                ))
                .hint("let it finish, then run the command again"));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(Failure::new(format!("cannot lock {}: {e}", path.display())));
            }
        }
    }
    let _ = file.set_len(0);
    let _ = std::io::Write::write_all(&mut &file, std::process::id().to_string().as_bytes());
    Ok(ProjectLock { file, dir })
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        let only_the_lock = fs::read_dir(&self.dir)
            .is_ok_and(|entries| entries.filter_map(Result::ok).all(|e| e.file_name() == "lock"));
        if only_the_lock {
            let _ = fs::remove_file(self.dir.join("lock"));
            let _ = fs::remove_dir(&self.dir);
        }
        let _ = self.file.unlock();
    }
}

/// The environment must exist and work.
fn ready(paths: &Paths, hint: &str) -> Result<(), Failure> {
    inside_not_linking_out(paths, &paths.env)?;
    match project::env_state(&paths.env) {
        EnvState::Ready => Ok(()),
        EnvState::Missing => Err(not_initialized(hint)),
        EnvState::Broken(why) => {
            Err(Failure::new(format!("The dev/test runner environment '{ENV_DIR}' is broken: {why}"))
                .hint(format!("rebuild it: {REBUILD}")))
        }
        EnvState::NotVenv(why) => Err(Failure::new(format!("'{ENV_DIR}' is not a virtual environment ({why})"))
            .hint("move it out of the way (or remove it with `pyve testenv --purge`), then run `pyve testenv --init`")),
    }
}

/// The record, if any (a damaged one is reported and ignored).
fn load_record(ui: &Ui, paths: &Paths) -> Option<Record> {
    match Record::load(&paths.testenv) {
        Ok(r) => r,
        Err(e) => {
            ui.warn(&format!("{e}; ignoring it"));
            None
        }
    }
}

/// The environment's Python version: recorded, else from its `pyvenv.cfg`.
fn env_version(record: Option<&Record>, paths: &Paths) -> Option<String> {
    record.map(|r| r.python_version.clone()).or_else(|| project::pyvenv_version(&paths.env))
}

/// The request the policy answers for this project (no flag: testenv has none).
fn policy_request(paths: &Paths) -> Request {
    Request {
        project_root: paths.root.clone(),
        python_version: None,
        configured_version: project::config_python_version(&paths.root),
        env: Environment::from_process(),
        // The test environment runs the project's tests: the same rule as the project's own
        // interpreter; a malformed requires-python is reported by `pyve --init`, not here.
        requires: pyve_venv::policy::RequiresPython::read(&paths.root).ok().flatten(),
        force: false,
    }
}

/// The warning for an environment whose Python is not the one the project now asks for.
fn drift(paths: &Paths, have: &str) -> Option<String> {
    let have = PythonVersion::parse(have)?;
    let (want, source) = requested_version(&policy_request(paths)).ok()??;
    (!want.matches_version(&have)).then(|| {
        format!(
            "The dev/test runner environment uses Python {have}, but Python {want} is {}; keeping it \
             (rebuild it with `{REBUILD}`)",
            source.describe()
        )
    })
}

fn policy_failure(e: PolicyError) -> Failure {
    let f = Failure::new(e.to_string());
    match e.hint() {
        Some(h) => f.hint(testenv_hint(&h)),
        None => f,
    }
}

/// The policy's hints speak of pyve's `--python-version` flag; `pyve testenv` has none, it
/// follows the project's pin, which `pyve --python-version V` sets.
fn testenv_hint(hint: &str) -> String {
    hint.replace("pyve --python-version", "\0")
        .replace("pass --python-version", "run \0")
        .replace("--python-version", "\0")
        .replace('\0', "pyve --python-version")
}

// ---------------------------------------------------------------------------------------------
// --init

fn init(ui: &Ui, host: &Host, paths: &Paths) -> Result<(), Failure> {
    if !paths.root.is_dir() {
        return Err(Failure::new(format!("the project directory {} does not exist", paths.root.display()))
            .hint("run it from inside the project"));
    }
    inside_not_linking_out(paths, &paths.env)?;
    match project::env_state(&paths.env) {
        EnvState::Missing => {}
        state @ (EnvState::Ready | EnvState::Broken(_)) => {
            let record = load_record(ui, paths);
            let version = env_version(record.as_ref(), paths);
            match &version {
                Some(v) => ui.info(&format!("Dev/test runner environment already exists: {ENV_DIR} (Python {v})")),
                None => ui.info(&format!("Dev/test runner environment already exists: {ENV_DIR}")),
            }
            if let EnvState::Broken(why) = state {
                ui.warn(&format!("It is broken: {why}; rebuild it with `{REBUILD}`"));
            } else if let Some(warning) = version.as_deref().and_then(|v| drift(paths, v)) {
                ui.warn(&warning);
            }
            return Ok(());
        }
        EnvState::NotVenv(why) => {
            return Err(Failure::new(format!(
                "'{ENV_DIR}' exists but is not a virtual environment ({why}); pyve will not replace it"
            ))
            .hint(
                "move it out of the way (or remove it with `pyve testenv --purge`), then run `pyve testenv --init`",
            ));
        }
    }

    // A conda project's tests run on its environment's Python (so they can import the conda
    // packages, through the project `.pth` of `pyve test`); others follow the policy.
    let (interpreter, source) = match conda_interpreter(&paths.root) {
        Some(i) => {
            ui.info(&format!(
                "Using Python {} of the project's conda environment: {}",
                i.version,
                i.executable.display()
            ));
            (i, "the project's conda environment".to_owned())
        }
        None => {
            let resolved = resolve(ui, &policy_request(paths))?;
            ui.info(&choice_message(&resolved));
            let source = source_text(&resolved);
            (resolved.interpreter, source)
        }
    };
    ui.info(&format!("Creating dev/test runner environment in '{ENV_DIR}'..."));
    fs::create_dir_all(&paths.testenv).map_err(|e| {
        Failure::new(format!("cannot create {}: {e}", paths.testenv.display()))
            .hint(format!("check the permissions of {}", paths.root.display()))
    })?;
    let opts = CreateOptions { cache_dir: default_cache_dir(), ..CreateOptions::default() };
    let created = pyve_venv::create(&interpreter, &paths.env, &opts).map_err(|e| match e {
        pyve_venv::Error::DestinationExists { .. } => {
            Failure::new(format!("cannot create the dev/test runner environment: {e}"))
                .hint("another pyve created it at the same time; run `pyve testenv --init` again")
        }
        e => Failure::new(format!("creating the dev/test runner environment in '{ENV_DIR}' failed: {e}"))
            .hint(format!("check the message above; `{REBUILD}` retries from scratch")),
    })?;
    for w in &created.warnings {
        ui.warn(w);
    }
    if let pyve_venv::Method::PythonVenv { reason } = &created.method {
        ui.debug(&format!("created with `python -m venv` because {reason}"));
    }

    let added = match gitignore::add(&paths.root) {
        Ok(a) => a,
        Err(e) => {
            ui.warn(&format!("could not add {} to .gitignore: {e}", gitignore::LINE));
            gitignore::Added::default()
        }
    };
    let record = Record {
        format: record::FORMAT,
        python_version: interpreter.version.full.clone(),
        interpreter: interpreter.executable.clone(),
        source,
        created_at: record::rfc3339(std::time::SystemTime::now()),
        created_by: format!("pyve-testenv {VERSION}"),
        pyve_version: host.pyve_version.clone(),
        gitignore_added: added.added,
        gitignore_created: added.created,
    };
    if let Err(e) = record.save(&paths.testenv) {
        // Without its record the environment's origin is unknown: do not leave it half-made.
        let _ = fs::remove_dir_all(&paths.env);
        if added.added {
            let _ = gitignore::remove(&paths.root, added.created);
        }
        return Err(Failure::new(format!("cannot write {}: {e}", paths.testenv.join(record::FILE).display()))
            .hint(format!("check the permissions of {}", paths.testenv.display())));
    }
    ui.success("Created dev/test runner environment");
    if added.added {
        ui.success(&format!("Added {} to .gitignore", gitignore::LINE));
    }
    ui.info("Next: `pyve testenv --install` installs pytest (`-r requirements-dev.txt` installs your dev tools)");
    Ok(())
}

/// Why the version was chosen, for the record: `pinned in .python-version`,
/// `pinned in .python-version: 3.12` for a minor-only request.
fn source_text(r: &Resolved) -> String {
    match (r.source, r.requested) {
        (Source::Newest, _) => r.source.describe(),
        (s, Some(req)) if !req.is_exact() => format!("{}: {req}", s.describe()),
        (s, _) => s.describe(),
    }
}

fn choice_message(r: &Resolved) -> String {
    let (v, exe) = (&r.version, r.interpreter.executable.display());
    match (r.source, r.requested) {
        (Source::Newest, _) => format!("Using Python {v}, the newest installed (the project pins no version): {exe}"),
        (s, Some(req)) if !req.is_exact() => {
            format!("Using Python {v}, the newest installed {req} ({}: {req}): {exe}", s.describe())
        }
        (s, _) => format!("Using Python {v} ({}): {exe}", s.describe()),
    }
}

/// Choose the interpreter by the policy, installing it first when allowed (CI or
/// PYVE_FORCE_YES) or, on a terminal, when the user agrees.
fn resolve(ui: &Ui, req: &Request) -> Result<Resolved, Failure> {
    let detection = detect(&req.env);
    ui.debug(&manager_message(detection.manager.as_ref()));
    let resolved = match resolve_interpreter(req).map_err(policy_failure)? {
        Resolution::Ready(r) => r,
        Resolution::NeedsInstall(plan) => {
            let (v, manager) = (plan.version().to_string(), plan.manager().kind);
            let command = plan.install_command();
            ui.info(&format!("Python {v} is not installed but is available via {manager}."));
            if plan.auto_approved() {
                ui.info("Auto-installing (CI or PYVE_FORCE_YES is set)...");
            } else if !ui.confirm(&format!("Install Python {v} now with {manager}?")).map_err(|why| {
                Failure::new(format!(
                    "Python {v} is not installed; {manager} can install it, but nobody answered whether to: {why}"
                ))
                .hint(format!("install it first (`{command}`), or set PYVE_FORCE_YES=1 to let pyve install it"))
            })? {
                ui.info("Installation cancelled.");
                return Err(Failure::new(format!(
                    "Python {v} is not installed, and installing it with {manager} was declined"
                ))
                .hint(format!("install it yourself (`{command}`), then run `pyve testenv --init` again")));
            }
            ui.info(&format!("Installing Python {v} with {manager} (this may take a few minutes)..."));
            // The installer stays in the terminal's process group: Ctrl-C reaches it directly.
            let r =
                plan.install(InstallOptions { own_process_group: false }, &mut Unobserved).map_err(policy_failure)?;
            ui.success(&format!("Python {v} installed successfully."));
            r
        }
    };
    for note in &resolved.notes {
        ui.warn(note);
    }
    Ok(resolved)
}

// ---------------------------------------------------------------------------------------------
// --install

/// `uv` on PATH (absolute entries only), if any.
fn find_uv() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    find_in(OsStr::new("uv"), std::env::split_paths(&path))
}

fn find_in(name: &OsStr, dirs: impl IntoIterator<Item = PathBuf>) -> Option<PathBuf> {
    dirs.into_iter()
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|candidate| project::is_executable(candidate))
}

fn install(ui: &Ui, paths: &Paths, requirements: &[PathBuf]) -> Result<(), Failure> {
    ready(paths, "run pyve testenv --init")?;
    // Every file checked (and every pipe read) before anything is installed.
    let mut staged = Vec::with_capacity(requirements.len());
    for file in requirements {
        staged.push(Staged::new(file)?);
    }
    let python = paths.python();
    let (mut cmd, installer, uv) = match choose_uv(ui, &python) {
        Ok((uv, shown)) => {
            let mut cmd = Command::new(&uv);
            cmd.args(["pip", "install", "--python"]).arg(&python);
            (cmd, shown, true)
        }
        Err(why) => {
            let mut cmd = Command::new(&python);
            cmd.args(["-m", "pip", "install", "--disable-pip-version-check", "--no-compile"]);
            (cmd, format!("pip ({why})"), false)
        }
    };
    let site = test_env_site(paths);
    // pytest's files gone but its metadata left (a package directory deleted by hand, an
    // interrupted uninstall): the installer sees pytest installed and does nothing, and
    // `pyve test` would go on failing. Reinstall it then.
    let repair = requirements.is_empty() && !project::has_pytest(&site);
    let what = if requirements.is_empty() {
        match (repair, uv) {
            (true, true) => cmd.args(["--reinstall-package", "pytest"]),
            (true, false) => cmd.arg("--force-reinstall"),
            (false, _) => &mut cmd,
        };
        cmd.arg("pytest");
        "pytest".to_string()
    } else {
        let mut shown = Vec::new();
        for (file, staged) in requirements.iter().zip(&staged) {
            cmd.arg("-r").arg(&staged.path);
            shown.push(format!("-r {}", file.display()));
        }
        shown.join(" ")
    };
    cmd.env("VIRTUAL_ENV", &paths.env).env_remove("PYTHONHOME");
    // The original's words first (`Installing dev/test dependencies into '.pyve/testenv/venv'...`),
    // then what and with which installer.
    ui.info(&format!("Installing dev/test dependencies into '{ENV_DIR}' ({what}) with {installer}..."));
    let line = command_line(&cmd);
    if uv {
        // uv's cache first, without the network (a second project installs in a fraction of
        // the time, and offline); its output is shown only if the real run is needed.
        let mut offline = Command::new(cmd.get_program());
        offline
            .args(cmd.get_args())
            .arg("--offline")
            .arg("--quiet")
            .env("VIRTUAL_ENV", &paths.env)
            .env_remove("PYTHONHOME");
        offline
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        ui.debug(&format!("running {} --offline --quiet", line));
        if PassOn::status(&mut offline).is_ok_and(|s| s.success()) {
            pytest_importable(paths, repair, &line)?;
            ui.success("Dev/test dependencies installed (from uv's cache, offline)");
            return Ok(());
        }
    }
    ui.debug(&format!("running {line}"));
    let status = wait_ignoring_interrupts(&mut cmd).map_err(|e| {
        Failure::new(format!("cannot run the installer `{line}`: {e}"))
            .hint("check that it is installed and executable")
    })?;
    if !status.success() {
        let code = exit_code(status);
        return Err(Failure::new(format!(
            "Installing dev/test dependencies failed: `{line}` {}",
            describe_status(status)
        ))
        .hint(if requirements.is_empty() {
            "read the installer's output above (is the package index reachable?), then run `pyve testenv --install` again"
                .to_string()
        } else {
            format!(
                "read the installer's output above (a requirement that does not exist, or the package index not \
                 reachable), fix {what} and run `pyve testenv --install {what}` again"
            )
        })
        .code(if code > 128 { code } else { 1 }));
    }
    pytest_importable(paths, repair, &line)?;
    ui.success("Dev/test dependencies installed");
    Ok(())
}

/// The test environment's site-packages, as `pyve test` looks for pytest in them.
fn test_env_site(paths: &Paths) -> Vec<PathBuf> {
    let record = Record::load(&paths.testenv).ok().flatten();
    let version = env_version(record.as_ref(), paths);
    project::site_packages(&paths.env, version.as_deref().and_then(project::short).as_deref())
}

/// After an install that had to repair pytest: is it there now? `pyve test` must not be told
/// to run `--install` once more to no effect.
fn pytest_importable(paths: &Paths, repair: bool, line: &str) -> Result<(), Failure> {
    if !repair || project::has_pytest(&test_env_site(paths)) {
        return Ok(());
    }
    Err(Failure::new(format!(
        "pytest is still not importable from the dev/test runner environment ({ENV_DIR}) after `{line}`"
    ))
    .hint(format!("rebuild the environment: {REBUILD} && pyve testenv --install")))
}

/// The most `--install` reads from a requirements pipe (`-r <(cmd)`, `-r /dev/stdin`).
pub const PIPE_LIMIT: u64 = pyve_fs::READ_LIMIT;

/// A requirements file named with `-r`, as the installer gets it. A regular file is passed
/// as it is. A pipe (`-r <(cmd)` is `/dev/fd/N`, a pipe or FIFO) can be read only once, while
/// the installer may open it more than once (uv's offline attempt, then the real run; pip's
/// own re-reads): it is read once here, up to [`PIPE_LIMIT`], into a private temporary file
/// (mode 600, removed when the install ends). Anything else (a directory, a device, a socket)
/// is refused by name, nothing read.
struct Staged {
    path: PathBuf,
    temporary: bool,
}

impl Staged {
    fn new(file: &Path) -> Result<Staged, Failure> {
        use std::os::unix::fs::FileTypeExt;
        let again = "check the path (relative to the current directory), then run pyve testenv --install -r FILE again";
        let meta = match fs::metadata(file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::new(format!(
                    "Requirements file not found: {} (it does not exist)",
                    file.display()
                ))
                .hint(again));
            }
            Err(e) => {
                return Err(Failure::new(format!("cannot read requirements file {}: {e}", file.display())).hint(again));
            }
        };
        if meta.is_file() {
            return Ok(Staged { path: file.to_path_buf(), temporary: false });
        }
        if !meta.file_type().is_fifo() {
            let what = if meta.is_dir() {
                "a directory"
            } else if meta.file_type().is_socket() {
                "a socket"
            } else {
                "a device"
            };
            return Err(Failure::new(format!(
                "Requirements file not found: {} (it is {what}, not a file or a pipe)",
                file.display()
            ))
            .hint(again));
        }
        let bytes = read_pipe(file).map_err(|e| {
            Failure::new(format!("cannot read requirements from the pipe {}: {e}", file.display()))
                .hint("write the requirements to a file and pass it with -r FILE (a pipe is read once, up to 1 MiB)")
        })?;
        let path = write_private(&bytes).map_err(|e| {
            Failure::new(format!("cannot keep the requirements read from {} in a temporary file: {e}", file.display()))
                .hint("check that the temporary directory (TMPDIR, else /tmp) is writable, or pass -r FILE")
        })?;
        Ok(Staged { path, temporary: true })
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.temporary {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Read a pipe to its end, up to [`PIPE_LIMIT`] bytes (it waits for its writer, as `cat`
/// would: the user named it on the command line).
fn read_pipe(file: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(file)?.take(PIPE_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > PIPE_LIMIT {
        return Err(std::io::Error::other("it holds more than 1 MiB, the most pyve reads from a pipe"));
    }
    Ok(bytes)
}

/// `bytes` in a new file of the temporary directory that only this user can read.
fn write_private(bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::temp_dir();
    let mut n = 0u32;
    loop {
        let path = dir.join(format!("pyve-testenv-requirements-{}-{n}.txt", std::process::id()));
        match fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(mut f) => {
                if let Err(e) = f.write_all(bytes) {
                    let _ = fs::remove_file(&path);
                    return Err(e);
                }
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The uv to install with and how to name it, or why pip is used: `PYVE_NO_UV=1` keeps pip;
/// else uv on `PATH`; else the copy pyve provisioned into its cache; else one provisioned now
/// (`pip download uv` with the environment's pip, checked to run), pip when that fails.
fn choose_uv(ui: &Ui, python: &Path) -> Result<(PathBuf, String), String> {
    if pyve_venv::uv::disabled() {
        return Err(format!("{}=1", pyve_venv::uv::NO_UV_VAR));
    }
    if let Some(uv) = find_uv() {
        return Ok((uv.clone(), format!("uv ({})", uv.display())));
    }
    let Some(cache) = default_cache_dir() else { return Err("uv is not on PATH".into()) };
    if let Some(uv) = pyve_venv::uv::cached(&cache) {
        return Ok((uv.clone(), format!("uv (pyve's copy, {})", uv.display())));
    }
    ui.info(&format!(
        "uv is not on PATH; fetching it once into pyve's cache (set {}=1 to keep pip)",
        pyve_venv::uv::NO_UV_VAR
    ));
    let provisioned = pyve_venv::uv::Provision::prepare(&cache).map_err(|e| e.to_string()).and_then(|p| {
        let mut download = p.command(python);
        download.stdin(std::process::Stdio::null());
        let out = PassOn::output(&mut download).map_err(|e| format!("cannot run pip download: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no error output").trim().to_owned();
            return Err(format!("pip download uv failed ({}): {last}", describe_status(out.status)));
        }
        p.finish().map_err(|e| e.to_string())
    });
    match provisioned {
        Ok((uv, version)) => {
            ui.success(&format!("Provisioned {version} into {}", uv.display()));
            Ok((uv.clone(), format!("uv (pyve's copy, {})", uv.display())))
        }
        Err(e) => {
            ui.warn(&format!("Could not provision uv ({e}); installing with pip"));
            Err("uv could not be provisioned".into())
        }
    }
}

/// The child SIGTERM and SIGHUP are passed on to while [`PassOn`] is in place (0: none yet).
static CHILD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
/// A SIGTERM or SIGHUP that came before the child's pid was known.
static PENDING: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn pass_on(sig: libc::c_int) {
    use std::sync::atomic::Ordering;
    // Pending first, then the pid: whichever side comes second sees the other's write.
    PENDING.store(sig, Ordering::SeqCst);
    let pid = CHILD.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe; the pid is our own child's, still unreaped.
        unsafe { libc::kill(pid, sig) };
    }
}

/// While it lives, SIGTERM and SIGHUP sent to this process (pyve passes them on to a
/// passthrough plugin) are passed on to the child it was given, which then ends and is
/// reported: pip or uv never outlive `pyve testenv --install`. Dropped, the previous
/// dispositions are back.
struct PassOn {
    old: [libc::sigaction; 2],
}

impl PassOn {
    fn install() -> PassOn {
        use std::sync::atomic::Ordering;
        CHILD.store(0, Ordering::SeqCst);
        PENDING.store(0, Ordering::SeqCst);
        // SAFETY: sigaction with a handler that only touches atomics and calls kill(2); the old
        // actions are saved and put back on drop. exec resets a caught signal to the default,
        // so the child starts with the default dispositions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = pass_on as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut old: [libc::sigaction; 2] = std::mem::zeroed();
            libc::sigaction(libc::SIGTERM, &action, &mut old[0]);
            libc::sigaction(libc::SIGHUP, &action, &mut old[1]);
            PassOn { old }
        }
    }

    /// The child is started: pass signals on to it, the one that came meanwhile first.
    fn child(&self, pid: u32) {
        use std::sync::atomic::Ordering;
        let pid = pid as libc::pid_t;
        CHILD.store(pid, Ordering::SeqCst);
        let early = PENDING.swap(0, Ordering::SeqCst);
        if early != 0 {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, early) };
        }
    }

    /// Spawn `cmd` and wait for it, with signals passed on.
    fn status(cmd: &mut Command) -> std::io::Result<ExitStatus> {
        let guard = PassOn::install();
        let mut child = cmd.spawn()?;
        guard.child(child.id());
        child.wait()
    }

    /// Spawn `cmd` and collect its output, with signals passed on.
    fn output(cmd: &mut Command) -> std::io::Result<std::process::Output> {
        let guard = PassOn::install();
        let child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn()?;
        guard.child(child.id());
        child.wait_with_output()
    }
}

impl Drop for PassOn {
    fn drop(&mut self) {
        CHILD.store(0, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: restores the dispositions saved by `install`.
        unsafe {
            libc::sigaction(libc::SIGTERM, &self.old[0], std::ptr::null_mut());
            libc::sigaction(libc::SIGHUP, &self.old[1], std::ptr::null_mut());
        }
    }
}

/// Run the child and wait for it; meanwhile Ctrl-C and Ctrl-\ go to the child (in the
/// terminal's process group) and do not end this process, which reports the outcome. SIGTERM
/// and SIGHUP are passed on to the child ([`PassOn`]).
fn wait_ignoring_interrupts(cmd: &mut Command) -> std::io::Result<ExitStatus> {
    let guard = PassOn::install();
    let mut child = cmd.spawn()?;
    guard.child(child.id());
    // SAFETY: signal(2) only changes this process's dispositions; SIG_IGN is a valid one, and
    // the child (already started) keeps its own default dispositions.
    let old = unsafe { [libc::signal(libc::SIGINT, libc::SIG_IGN), libc::signal(libc::SIGQUIT, libc::SIG_IGN)] };
    let status = child.wait();
    // SAFETY: restores the dispositions saved above.
    unsafe {
        libc::signal(libc::SIGINT, old[0]);
        libc::signal(libc::SIGQUIT, old[1]);
    }
    status
}

fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.signal().map_or_else(|| status.code().unwrap_or(1), |s| 128 + s)
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        _ => "failed".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// --purge

fn purge(ui: &Ui, paths: &Paths) -> Result<(), Failure> {
    // `.pyve/testenv` itself may be a link (it is removed, not what it points to); `.pyve`
    // leading out of the project may not.
    inside(paths, &paths.testenv)?;
    let meta = match fs::symlink_metadata(&paths.testenv) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ui.info(&format!("No dev/test runner environment found at '{TESTENV_DIR}'"));
            return Ok(());
        }
        Err(e) => return Err(Failure::new(format!("cannot inspect {}: {e}", paths.testenv.display()))),
    };
    let record = if meta.is_dir() { load_record(ui, paths) } else { None };
    // Renamed first, then deleted: an interruption never leaves half an environment in place.
    let pyve_dir = paths.testenv.parent().unwrap_or(&paths.root).to_path_buf();
    let doomed = pyve_dir.join(format!(".testenv.pyve-tmp-{}", std::process::id()));
    let failed = |e: std::io::Error| {
        Failure::new(format!("cannot remove {}: {e}", paths.testenv.display()))
            .hint(format!("check the permissions of {}", pyve_dir.display()))
    };
    fs::rename(&paths.testenv, &doomed).map_err(failed)?;
    if meta.is_dir() { fs::remove_dir_all(&doomed) } else { fs::remove_file(&doomed) }.map_err(failed)?;
    ui.success(&format!("Removed {TESTENV_DIR}"));
    if let Some(r) = record.filter(|r| r.gitignore_added) {
        match gitignore::remove(&paths.root, r.gitignore_created) {
            Ok(gitignore::Removed::Line) => ui.success(&format!("Removed {} from .gitignore", gitignore::LINE)),
            Ok(gitignore::Removed::File) => ui.success("Removed .gitignore (created for .pyve/testenv, now empty)"),
            Ok(gitignore::Removed::Nothing) => {}
            Err(e) => ui.warn(&format!("could not remove {} from .gitignore: {e}", gitignore::LINE)),
        }
    }
    // `.pyve` held only the test environment (the project is not initialised): tidy it away.
    let _ = fs::remove_dir(&pyve_dir);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// --status

fn status(paths: &Paths) -> Result<(), Failure> {
    let ui = Ui { verbosity: 0, color: false };
    let mut out = String::new();
    let mut line = |label: &str, value: String| out.push_str(&format!("  {label:<16}{value}\n"));
    let state = project::env_state(&paths.env);
    let record = match state {
        EnvState::Missing | EnvState::NotVenv(_) => None,
        _ => load_record(&ui, paths),
    };
    let version = env_version(record.as_ref(), paths);
    let head = match &state {
        EnvState::Missing => format!("not initialized ({ENV_DIR}; create it with `pyve testenv --init`)"),
        EnvState::Ready => ENV_DIR.to_string(),
        EnvState::Broken(why) => format!("{ENV_DIR} (broken: {why}; rebuild it with `{REBUILD}`)"),
        EnvState::NotVenv(why) => format!("{ENV_DIR} is not a virtual environment ({why})"),
    };
    if matches!(state, EnvState::Ready | EnvState::Broken(_)) {
        match (&record, &version) {
            (Some(r), _) => {
                line("Python:", format!("{} ({}; {})", r.python_version, r.interpreter.display(), r.source));
                line("Created:", format!("{} by {}", r.created_at, r.created_by));
            }
            (None, Some(v)) => line("Python:", format!("{v} (from pyvenv.cfg; no {} record)", record::FILE)),
            (None, None) => line("Python:", "unknown".into()),
        }
        let site = project::site_packages(&paths.env, version.as_deref().and_then(project::short).as_deref());
        let pytest = if project::has_pytest(&site) {
            match project::pytest_version(&site) {
                Some(v) => format!("installed ({v})"),
                None => "installed".into(),
            }
        } else {
            "not installed (install it with `pyve testenv --install`)".into()
        };
        line("pytest:", pytest);
    }
    let wanted = match requested_version(&policy_request(paths)) {
        Ok(Some((want, source))) => {
            let differs = version
                .as_deref()
                .and_then(PythonVersion::parse)
                .filter(|have| !want.matches_version(have))
                .map(|_| format!(" - differs; rebuild with `{REBUILD}`"))
                .unwrap_or_default();
            format!("{want} ({}){differs}", source.describe())
        }
        Ok(None) => "none pinned (the newest installed would be used)".into(),
        Err(e) => format!("cannot tell: {e}"),
    };
    line("Project Python:", wanted);
    let shim = match project::shim(&paths.root) {
        Shim::Present(f) => format!("present ({})", project::display(&paths.root, &f)),
        Shim::Foreign(f) => {
            format!("absent ({} exists but is not pyve's)", project::display(&paths.root, &f))
        }
        Shim::Absent(_) => "absent (Python below 3.12, or disabled)".into(),
        Shim::NoEnvironment(env) => {
            format!("unknown: no project environment at {}", project::display(&paths.root, &env))
        }
    };
    line("Distutils shim:", shim);
    print!("Dev/test runner environment: {head}\n{out}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// run CMD, and pyve test

/// The command with the environment applied: `VIRTUAL_ENV`, its `bin` first on `PATH`, no
/// `PYTHONHOME`.
fn in_env(program: &Path, paths: &Paths) -> Command {
    let bin = paths.bin();
    let mut dirs = vec![bin.clone()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path).filter(|d| *d != bin));
    }
    let mut cmd = Command::new(program);
    cmd.env("VIRTUAL_ENV", &paths.env).env_remove("PYTHONHOME");
    if let Ok(joined) = std::env::join_paths(dirs) {
        cmd.env("PATH", joined);
    }
    cmd
}

/// Replace this process with `cmd`; returns only the failure.
fn exec(mut cmd: Command) -> Failure {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let e = cmd.exec();
    let code = match e.kind() {
        std::io::ErrorKind::NotFound => NOT_FOUND,
        _ => NOT_EXECUTABLE,
    };
    Failure::new(format!("cannot execute {program}: {e}")).hint("check that it is an executable file").code(code)
}

fn run_tool(paths: &Paths, program: &OsStr, args: &[OsString]) -> Failure {
    let mut plan = Recorder::offered();
    if let Some(p) = plan.as_mut() {
        watch_env(p, paths);
    }
    if let Err(f) = ready(paths, "run pyve testenv --init") {
        return f;
    }
    let name = program.to_string_lossy();
    let found = if name.contains('/') {
        let p = PathBuf::from(program);
        if let Some(plan) = plan.as_mut() {
            watch_lookup(plan, &[], &p);
        }
        if !p.exists() {
            return Failure::new(format!("command not found: {name}")).hint("check the path").code(NOT_FOUND);
        }
        p
    } else {
        let dirs: Vec<PathBuf> = std::iter::once(paths.bin())
            .chain(std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).unwrap_or_default())
            .collect();
        match find_in(program, dirs.iter().cloned()) {
            Some(p) => {
                if let Some(plan) = plan.as_mut() {
                    watch_lookup(plan, &dirs, &p);
                }
                p
            }
            // Nothing executable, but a file of that name that is not: as a shell, 126.
            None if let Some(file) =
                dirs.iter().filter(|d| d.is_absolute()).map(|d| d.join(program)).find(|p| p.is_file()) =>
            {
                return Failure::new(format!("cannot execute {}: it is not executable", file.display()))
                    .hint(format!("make it executable (chmod +x {}), or run it with its interpreter", file.display()))
                    .code(NOT_EXECUTABLE);
            }
            None => {
                return Failure::new(format!(
                    "command not found: {name} (it is neither in the dev/test runner environment ({ENV_DIR}/bin) nor on PATH)"
                ))
                .hint(format!(
                    "install it into the environment: list it in a requirements file and run \
                     `pyve testenv --install -r FILE`, or `pyve testenv run pip install {name}`"
                ))
                .code(NOT_FOUND);
            }
        }
    };
    let mut cmd = in_env(&found, paths);
    cmd.args(args);
    exec_leaving_plan(cmd, plan)
}

/// `pyve test ARGS...`.
pub fn test(ui: &Ui, host: &Host, args: &[OsString]) -> i32 {
    let mut plan = Recorder::offered();
    let failure = match prepare_test(ui, host, args, plan.as_mut()) {
        Ok(cmd) => exec_leaving_plan(cmd, plan),
        Err(f) => f,
    };
    ui.error(&failure);
    failure.code
}

fn prepare_test(ui: &Ui, host: &Host, args: &[OsString], mut plan: Option<&mut Recorder>) -> Result<Command, Failure> {
    let paths = Paths::discover(host.project_root.as_deref())
        .map_err(|e| Failure::new(format!("cannot tell the current directory: {e}")))?;
    if let Some(p) = plan.as_deref_mut() {
        watch_env(p, &paths);
        watch_policy(p, &paths.root);
    }
    ready(&paths, "run pyve testenv --init, then pyve testenv --install (pytest)")?;
    let record = load_record(ui, &paths);
    let version = env_version(record.as_ref(), &paths);
    let short_version = version.as_deref().and_then(project::short);
    if let Some(p) = plan {
        watch_site(p, &paths.env, short_version.as_deref());
        let site = project::site_packages(&paths.env, short_version.as_deref());
        for s in &site {
            p.watch(s.join(PROJECT_PTH)).watch(s.join("pytest")).watch(s.join("pytest").join("__init__.py"));
            p.watch(s.join("pytest.py"));
        }
        watch_site(p, &project::project_env(&paths.root), short_version.as_deref());
    }
    let site = project::site_packages(&paths.env, short_version.as_deref());
    if let Some(warning) = version.as_deref().and_then(|v| drift(&paths, v)) {
        ui.warn(&warning);
    }
    link_project(ui, &paths, version.as_deref(), &site);
    if !project::has_pytest(&site) {
        // "No module named pytest" is what the original showed here (Python's own message).
        return Err(Failure::new(format!(
            "pytest is not installed in the dev/test runner environment ({ENV_DIR}): No module named pytest"
        ))
            .hint("install it with `pyve testenv --install` (or your test requirements with `pyve testenv --install -r requirements-dev.txt`)"));
    }
    let mut cmd = in_env(&paths.python(), &paths);
    cmd.arg("-m").arg("pytest").args(args);
    if args.is_empty() {
        // The project's pytest configuration (testpaths, rootdir) applies from its root.
        cmd.current_dir(&paths.root);
    }
    Ok(cmd)
}

// ---------------------------------------------------------------------------------------------
// exec plans (docs/testenv.md, "How fast"): what `test` and `run` rest on, so that pyve can run
// their program itself while none of it changes

/// Exec `cmd`, first leaving pyve the plan of it when this run printed nothing (a run that
/// warned, or wrote the project link, is not one to repeat silently).
fn exec_leaving_plan(mut cmd: Command, plan: Option<Recorder>) -> Failure {
    let plan = if crate::ui::spoke() { None } else { plan };
    exec_plan::commit(plan, &mut cmd);
    exec(cmd)
}

/// What `ready` looks at: `.pyve`, the test environment's directories, its `pyvenv.cfg`,
/// `bin/python` and the interpreter it leads to; and the record.
fn watch_env(plan: &mut Recorder, paths: &Paths) {
    // `in_env` builds the program's PATH from it.
    plan.var("PATH");
    let python = paths.python();
    plan.watch(paths.root.join(".pyve")).watch(&paths.testenv).watch(paths.testenv.join(crate::record::FILE));
    plan.watch(&paths.env).watch(paths.env.join("pyvenv.cfg")).watch(paths.bin());
    watch_through_links(plan, &python);
}

/// The variables the Python policy reads ([`Environment::from_process`]).
const POLICY_VARS: [&str; 8] =
    ["HOME", "PATH", "PYENV_ROOT", "ASDF_DATA_DIR", "ASDF_DIR", "PYVE_DEFAULT_PYTHON_VERSION", "CI", "PYVE_FORCE_YES"];

/// What the Python policy reads to tell whether the environment drifted from the project's
/// request: the version files, `.pyve/config`, `pyproject.toml`, and where pyenv and asdf
/// would be found (which of them is present decides which version file wins).
fn watch_policy(plan: &mut Recorder, root: &Path) {
    for var in POLICY_VARS {
        plan.var(var);
    }
    for file in [".python-version", ".tool-versions", "pyproject.toml", ".pyve/config", ".pyve/state.json"] {
        watch_through_links(plan, &root.join(file));
    }
    let env = Environment::from_process();
    if let Some(asdf) = env.asdf_data_dir.clone().or_else(|| env.home.as_ref().map(|h| h.join(".asdf"))) {
        plan.watch(&asdf).watch(asdf.join("plugins").join("python"));
    }
    if let Some(pyenv) = env.pyenv_root.clone().or_else(|| env.home.as_ref().map(|h| h.join(".pyenv"))) {
        plan.watch(pyenv.join("versions")).watch(pyenv.join("bin").join("pyenv"));
        plan.watch(pyenv.join("libexec").join("pyenv"));
    }
}

/// Watch a path that is reached through symbolic links: a fingerprint is the link's own (`lstat`),
/// so a `.python-version` linking to a pin shared by several projects would not change when
/// the shared pin does. Every link on the way is watched (a retargeted link changes its own
/// fingerprint), with the links among the directories it leads through, and the file reached.
fn watch_through_links(plan: &mut Recorder, path: &Path) {
    plan.watch(path);
    let mut hop = path.to_path_buf();
    // As the kernel, give up after 40 links (a loop): the read fails too, so nothing is run on it.
    for _ in 0..40 {
        let Ok(target) = fs::read_link(&hop) else { break };
        hop = match hop.parent() {
            Some(dir) => dir.join(target),
            None => target,
        };
        for dir in hop.ancestors().skip(1) {
            if fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
                plan.watch(dir);
            }
        }
        plan.watch(&hop);
    }
    if let Ok(real) = fs::canonicalize(path)
        && real != hop
    {
        plan.watch(real);
    }
}

/// What [`project::site_packages`] looks at in `env`.
fn watch_site(plan: &mut Recorder, env: &Path, short_version: Option<&str>) {
    let lib = env.join("lib");
    plan.watch(env).watch(&lib);
    if let Some(v) = short_version {
        plan.watch(lib.join(format!("python{v}")).join("site-packages"));
    }
    for s in project::site_packages(env, None) {
        plan.watch(s);
    }
}

/// What finding `program` looks at: the path itself, or the directories searched up to the
/// one that holds it (a program put in an earlier one would win), and the file found.
fn watch_lookup(plan: &mut Recorder, dirs: &[PathBuf], found: &Path) {
    for dir in dirs {
        // A directory that is a link (`/bin` on merged-`/usr` systems): what it leads to gains
        // the entries.
        watch_through_links(plan, dir);
        if found.parent() == Some(dir.as_path()) {
            break;
        }
    }
    watch_through_links(plan, found);
}

/// The interpreter of the project's conda environment (`.pyve/state.json` of a micromamba
/// project whose environment has a python), if any.
fn conda_interpreter(root: &Path) -> Option<pyve_venv::Interpreter> {
    let bytes = pyve_fs::read_bounded(&root.join(".pyve").join("state.json"), pyve_fs::READ_LIMIT).ok()?;
    let state: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    if state.get("backend").and_then(serde_json::Value::as_str) != Some("micromamba") {
        return None;
    }
    let python = PathBuf::from(state.get("interpreter")?.as_str()?);
    python.is_file().then(|| pyve_venv::Interpreter::inspect(&python).ok()).flatten()
}

/// The `.pth` file that makes the project's environment importable from the test environment.
const PROJECT_PTH: &str = "_pyve_project.pth";

/// Let the tests import what the project's environment has installed: a `.pth` in the test
/// environment's site-packages naming the project environment's site-packages, when both run
/// the same Python `X.Y` (a `.pth` entry comes after the test environment's own packages, so
/// its pytest and plugins win). With another `X.Y` the packages could not load: the file is
/// removed and a warning says how to align them. No project environment: nothing is linked.
fn link_project(ui: &Ui, paths: &Paths, test_version: Option<&str>, site: &[PathBuf]) {
    let Some(test_site) = site.first() else { return };
    let pth = test_site.join(PROJECT_PTH);
    let project_env = project::project_env(&paths.root);
    let test_short = test_version.and_then(project::short);
    let project_sites = project::site_packages(&project_env, test_short.as_deref());
    let remove = || {
        let _ = pyve_fs::remove(&paths.root, &pth);
    };
    let Some(project_site) = project_sites.first() else {
        // No project environment. Say so when the tests could import it before (the link is
        // there), or the project is set up (`.pyve/config`) but its environment is gone (a
        // `pyve --purge`, a deleted `.venv`): the tests' ImportErrors alone do not tell why.
        if pth.exists() || paths.root.join(".pyve").join("config").is_file() {
            ui.warn(&format!(
                "the project's environment ({}) is missing: tests cannot import the project's packages (create it with `pyve --init`)",
                project_env.strip_prefix(&paths.root).unwrap_or(&project_env).display()
            ));
        }
        remove();
        return;
    };
    let project_short = project_site
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("python"))
        .map(str::to_owned);
    if project_short.is_none() || project_short != test_short {
        remove();
        ui.warn(&format!(
            "the project's environment runs Python {} and the test environment Python {}: tests cannot import the project's packages (give them the same Python: `pyve testenv --purge && pyve testenv --init && pyve testenv --install`)",
            project_short.as_deref().unwrap_or("?"),
            test_short.as_deref().unwrap_or("?")
        ));
        return;
    }
    let line = format!("{}\n", project_site.display());
    if pyve_fs::read_bounded_text(&pth, pyve_fs::READ_LIMIT).ok().as_deref() != Some(line.as_str())
        && let Err(e) = std::fs::write(&pth, &line)
    {
        ui.warn(&format!("cannot write {}: {e}; tests may not import the project's packages", pth.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_hints_name_the_pyve_command() {
        assert_eq!(
            testenv_hint("pass --python-version X.Y.Z to choose, or edit .python-version"),
            "run pyve --python-version X.Y.Z to choose, or edit .python-version"
        );
        assert_eq!(
            testenv_hint("use one (for example --python-version 3.13.0); or `pyve --python-version 3.12`"),
            "use one (for example pyve --python-version 3.13.0); or `pyve --python-version 3.12`"
        );
        assert_eq!(testenv_hint("set PYVE_FORCE_YES=1"), "set PYVE_FORCE_YES=1");
    }

    #[test]
    fn exit_codes_of_statuses() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(15)), 143);
        assert_eq!(describe_status(ExitStatus::from_raw(2 << 8)), "exited with status 2");
        assert_eq!(describe_status(ExitStatus::from_raw(9)), "was killed by signal 9");
    }
}
