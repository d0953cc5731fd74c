//! `pyve --init`: a working environment in one step, and re-initialisation (`--update`,
//! `--force`, or the interactive menu). Everything is validated before anything is changed;
//! the environment is built by its backend plugin beside its final place and renamed in; the
//! host's files are written last, each atomically, never over a file pyve did not write.

use std::path::Path;
use std::time::Duration;

use pyve_protocol::methods::request;
use pyve_protocol::types::*;
use serde_json::Value;

use crate::backend::{self, Choice, Reason, Session};
use crate::env::{HostEnv, VERSION};
use crate::error::{Error, Result};
use crate::plugins::{self, Inventory};
use crate::project::{self, CONFIG_FILE, Config, Lock, STATE_FILE, State, files};
use crate::ui;

/// How long `--init` waits for another pyve working on the same project.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// An option of a backend given on the command line (`--env-name NAME`, or the positional
/// `DIR`), routed to the chosen backend's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenOption {
    /// The option's name (`env-name`); for the positional value, the name of the option that
    /// declares it.
    pub name: String,
    /// It was given as the positional argument.
    pub positional: bool,
    /// `true` for a flag, the text otherwise.
    pub value: Value,
    /// The backends that declare it.
    pub owners: Vec<String>,
}

impl GivenOption {
    /// How the user wrote it.
    pub fn spelled(&self) -> String {
        if self.positional {
            format!("the argument '{}'", self.value.as_str().unwrap_or_default())
        } else {
            format!("--{}", self.name)
        }
    }
}

/// The options of `pyve --init`. Backends add their own (see [`crate::cli::with_backend_options`]).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct InitArgs {
    /// Options of backends, as given (filled after parsing).
    #[arg(skip)]
    pub options: Vec<GivenOption>,
    /// Python version for the environment: X.Y.Z or X.Y (pinned through asdf or pyenv)
    #[arg(long, value_name = "VERSION", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub python_version: Option<String>,
    /// The backend: venv, micromamba, or auto (chosen from the project's files)
    #[arg(long, value_name = "BACKEND", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub backend: Option<String>,
    /// Copy ~/.local/.env to .env instead of creating an empty one
    #[arg(long)]
    pub local_env: bool,
    /// Do not write .envrc (use `pyve run` instead of direnv)
    #[arg(long)]
    pub no_direnv: bool,
    /// On an initialised project: keep the environment, update the recorded pyve version
    #[arg(long, conflicts_with = "force")]
    pub update: bool,
    /// On an initialised project: rebuild the environment (asks first, unless PYVE_FORCE_YES=1 or CI is set)
    #[arg(long)]
    pub force: bool,
    /// Make the project in the current directory even though a parent directory is a project
    /// (holds pyproject.toml, setup.py, environment.yml, ...)
    #[arg(long)]
    pub here: bool,
}

/// Files that make a directory a project's root.
const PROJECT_MARKERS: &[&str] =
    &["pyproject.toml", "setup.py", "setup.cfg", "environment.yml", "conda-lock.yml", "uv.lock", "requirements.txt"];

/// Where a new project goes: the current directory, unless it holds nothing of a project and a
/// parent does. Then a person at a terminal is asked; otherwise a parent holding a project
/// file is an error that names it (a second project inside a project is rarely meant), and a
/// parent that is only a git repository gets a warning. `--here` keeps the current directory.
fn new_project_root(cwd: &Path, here: bool) -> Result<std::path::PathBuf> {
    let holds = |d: &Path, names: &[&str]| names.iter().find(|n| d.join(n).exists()).map(|n| (*n).to_owned());
    if here || holds(cwd, PROJECT_MARKERS).is_some() || cwd.join(".git").exists() {
        return Ok(cwd.to_path_buf());
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let mut found = None;
    for dir in cwd.ancestors().skip(1) {
        if let Some(marker) = holds(dir, PROJECT_MARKERS) {
            found = Some((dir.to_path_buf(), marker, true));
            break;
        }
        // A git repository is a weaker sign (a home directory kept in git is common).
        if dir.join(".git").exists() && home.as_deref().is_none_or(|h| !h.starts_with(dir)) {
            found = Some((dir.to_path_buf(), ".git".to_owned(), false));
            break;
        }
    }
    let Some((parent, marker, strong)) = found else { return Ok(cwd.to_path_buf()) };
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        let question =
            format!("{} holds {marker}: set up the project there instead of in {}?", parent.display(), cwd.display());
        let choices = [("y".to_owned(), "yes".to_owned()), ("n".to_owned(), "no".to_owned())];
        return match ui::ask(&question, &choices, Some("y")) {
            Ok(a) if a == "n" => Ok(cwd.to_path_buf()),
            Ok(_) => {
                ui::info(&format!("Project root: {}", parent.display()));
                std::env::set_current_dir(&parent)
                    .map_err(|e| Error::new(format!("cannot enter {}", parent.display())).because(e))?;
                Ok(parent)
            }
            Err(why) => Err(Error::new(format!("no answer: {why}")).hint("pass --here to set up this directory")),
        };
    }
    let rel = cwd.strip_prefix(&parent).map(|r| r.display().to_string()).unwrap_or_default();
    if strong {
        return Err(Error::new(format!(
            "{} is inside the project at {} (it holds {marker}): pyve would make a second project in {rel}",
            cwd.display(),
            parent.display()
        ))
        .hint(format!(
            "run `pyve --init` in {}, or pass --here to set up {rel} as a project of its own",
            parent.display()
        )));
    }
    ui::warn(&format!(
        "{} is inside the git repository {}: setting up {rel} as a project of its own (run pyve --init in {} for the whole repository)",
        cwd.display(),
        parent.display(),
        parent.display()
    ));
    Ok(cwd.to_path_buf())
}

/// The venv directory given to `--purge` as `DIR` or `--venv-dir DIR` (one of them, or both
/// the same).
pub fn venv_dir(positional: Option<String>, flag: Option<String>, command: &str) -> Result<Option<String>> {
    match (positional, flag) {
        (Some(p), Some(f)) if p != f => {
            Err(Error::usage(format!("two venv directories given: '{p}' (DIR) and '{f}' (--venv-dir)"))
                .hint(format!("give one: pyve {command} --venv-dir {f}, or pyve {command} {f}")))
        }
        (p, f) => Ok(p.or(f)),
    }
}

/// Check the arguments that pyve itself understands, before anything is touched.
fn validate(args: &InitArgs) -> Result<()> {
    // The positional value and its option, given both with different values (`pyve --init a
    // --venv-dir b`).
    for (i, a) in args.options.iter().enumerate() {
        if let Some(b) = args.options[i + 1..].iter().find(|b| b.name == a.name && b.value != a.value) {
            let text = |g: &GivenOption| g.value.as_str().unwrap_or_default().to_owned();
            let (pos, flag) = if a.positional { (a, b) } else { (b, a) };
            return Err(Error::usage(format!(
                "two values given for --{}: '{}' (the argument) and '{}' (--{})",
                a.name,
                text(pos),
                text(flag),
                a.name
            ))
            .hint(format!("give one: pyve --init --{} {}", a.name, text(flag))));
        }
    }
    if let Some(v) = &args.python_version {
        check_python_version(v, "pyve --init --python-version")?;
    }
    if let Some(b) = &args.backend
        && b != "auto"
        && !pyve_protocol::is_valid_plugin_name(b)
    {
        return Err(Error::usage(format!("Invalid backend: {b}")).hint("valid backends: venv, micromamba, auto"));
    }
    Ok(())
}

/// Check a requested Python version: `X.Y.Z` or `X.Y`, numbers only. The one check (and
/// message: the original's) for every command that takes a version; a bad version is a
/// failure the user can act on, exit 1, whichever command it was given to.
pub fn check_python_version(v: &str, command: &str) -> Result<()> {
    let parts: Vec<&str> = v.split('.').collect();
    let ok = (parts.len() == 2 || parts.len() == 3)
        && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok());
    if ok {
        return Ok(());
    }
    Err(Error::new(format!("Invalid Python version format '{v}'. Expected format: #.#.# or #.# (e.g., 3.13.7)"))
        .hint(format!("{command} 3.12.1 (or 3.12: the newest installed 3.12)")))
}

/// Whether the user said yes to something dangerous without being asked.
fn force_yes() -> bool {
    ["PYVE_FORCE_YES", "CI"].iter().any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// `pyve --init`.
pub fn run(env: &HostEnv, args: InitArgs) -> Result<u8> {
    validate(&args)?;
    // From here on an interrupt (SIGINT, SIGTERM, SIGHUP) is noted, and the init ends at its
    // next step with the undo (docs/interrupts.md).
    crate::signals::catch_interrupts();
    let cwd = project::current_dir()?;
    let root = match env.project_root(&cwd) {
        Some(root) if root != cwd => {
            ui::info(&format!("Project root: {} (it holds {CONFIG_FILE})", root.display()));
            root
        }
        Some(root) => root,
        None => new_project_root(&cwd, args.here)?,
    };
    let mut lock = Lock::acquire(&root, LOCK_WAIT)?;
    crate::signals::check()?;
    let config = Config::load(&root)?;
    // A first init: no config, or one written by hand before the first init that names no
    // backend and has nothing recorded (a team's `plugins:` pins, docs/plugins.md). Its other
    // settings are kept and its pins checked (`choose` checks every pin first), rather than
    // offering to re-initialise a project that was never initialised.
    let first = config.as_ref().is_none_or(|c| {
        !args.update
            && !args.force
            && c.backend.is_none()
            && !root.join(STATE_FILE).exists()
            && unfinished(&root).is_none()
    });
    if config.is_some() {
        // `.pyve` was there before this run: a failed init leaves it.
        lock.keep_dir();
    }
    let config = match config {
        Some(config) if !first => config,
        config => {
            let inventory = plugins::inventory(env, crate::cli::BUILTINS);
            let choice = choose(&inventory, &root, &args, None)?;
            // Backend options from the command line (`pyve --init 'bad dir'`) are refused
            // before the header, as the original validated the directory name before printing
            // anything: nothing on stdout for a request that cannot be built. Without such
            // options there is nothing the backend could refuse up front, and no extra session.
            if !args.options.is_empty() {
                check_settings(env, &root, &choice, settings_for(&choice, &args, config.as_ref(), None, false))?;
            }
            build(env, &inventory, &root, &args, &choice, config.as_ref(), None)?;
            lock.keep_dir();
            return Ok(0);
        }
    };
    let state = match State::load(&root) {
        Ok(s) => s,
        Err(e) => {
            ui::warn(&format!("{e}; continuing without it"));
            // `--update` only rewrites the config: say what repairs the environment (a moved
            // project's is bound to its old place). `--force` and the menu's rebuild do it.
            if args.update
                && let Some(h) = e.hint_text()
            {
                ui::hint(h);
            }
            None
        }
    };
    if args.update {
        ui::info("Updating existing Pyve installation...");
        plugins::inventory(env, crate::cli::BUILTINS).check_pins()?;
        return update(env, &root, &config, &args, Conflict::Update);
    }
    if args.force {
        return force(env, &root, &args, &config, state.as_ref(), true);
    }
    menu(env, &root, &args, &config, state.as_ref())
}

/// `pyve sync`'s rebuild: the environment again from the recorded config, as `--init --force`
/// does it (built beside the old one, swapped in when whole, hooks run), without asking.
pub fn rebuild_for_sync(env: &HostEnv, root: &Path) -> Result<u8> {
    crate::signals::catch_interrupts();
    let mut lock = Lock::acquire(root, LOCK_WAIT)?;
    lock.keep_dir();
    let config = Config::load(root)?.ok_or_else(|| {
        Error::new(format!("{} is gone", root.join(CONFIG_FILE).display()))
            .hint("set the project up with `pyve --init`")
    })?;
    let state = match State::load(root) {
        Ok(s) => s,
        Err(e) => {
            ui::warn(&format!("{e}; continuing without it"));
            None
        }
    };
    force(env, root, &InitArgs::default(), &config, state.as_ref(), false)
}

/// Neither `--update` nor `--force`: the original's menu (shown even with `PYVE_FORCE_YES`/`CI`,
/// which only skip confirmations). Warnings on stderr, the menu and its prompt on stdout.
fn menu(env: &HostEnv, root: &Path, args: &InitArgs, config: &Config, state: Option<&State>) -> Result<u8> {
    let recorded = config.backend.clone().unwrap_or_default();
    let not_asked = |why: ui::NoAnswer| {
        if why == ui::NoAnswer::Interrupted {
            return ui::NoAnswer::interrupted_error();
        }
        Error::new(format!(
            "this project is already initialised with pyve (backend: {}, config: {}); no choice was made: {why}",
            if recorded.is_empty() { "(none)" } else { &recorded },
            config.path.display()
        ))
        .hint(match no_environment(env, root, config) {
            // A fresh clone: the config came with the repository, the environment did not.
            Some(missing) => format!("{missing}: run `pyve sync` to create it from .pyve/config (or pass --force to set the project up again, with PYVE_FORCE_YES=1 to skip its confirmation)"),
            None => "pass --update to keep the environment and update the config, or --force to rebuild it (with PYVE_FORCE_YES=1 to skip its confirmation); or answer the menu: echo 1 | pyve --init".to_owned(),
        })
    };
    if !ui::can_prompt() {
        return Err(not_asked(ui::NoAnswer::Unreadable));
    }
    ui::warn("Project already initialized with Pyve");
    if let Some(v) = &config.pyve_version {
        ui::warn(&format!("  Recorded version: {v}"));
    }
    ui::warn(&format!("  Current version: {VERSION}"));
    ui::warn(&format!("  Backend: {recorded}"));
    ui::status("");
    // The original 0.9.7 added the versions to the menu on stdout (the harness reads both
    // streams). On one terminal (stdout and stderr the same file) that printed every fact
    // twice: there the stderr lines above say them once (docs/decisions.md).
    if !ui::stdout_is_stderr() {
        ui::status(&format!("  Recorded version: {}", config.pyve_version.as_deref().unwrap_or("(not recorded)")));
        ui::status(&format!("  Current version:  {VERSION}"));
        ui::status(&format!("  Backend:          {recorded}"));
        ui::status("");
    }
    ui::status("What would you like to do?");
    ui::status("  1. Update in-place (preserves environment, updates config)");
    ui::status("  2. Purge and re-initialize (clean slate)");
    ui::status("  3. Cancel");
    ui::status("");
    match ui::prompt("Choose [1/2/3]: ").map_err(not_asked)?.as_str() {
        "1" => {
            plugins::inventory(env, crate::cli::BUILTINS).check_pins()?;
            update(env, root, config, args, Conflict::Menu)
        }
        "2" => force(env, root, args, config, state, false),
        "3" => {
            ui::info("Initialization cancelled");
            Ok(0)
        }
        other => Err(Error::new(format!("Invalid choice: {other}")).hint("run pyve --init again and answer 1, 2 or 3")),
    }
}

fn choose(inventory: &Inventory, root: &Path, args: &InitArgs, configured: Option<&str>) -> Result<Choice> {
    // Every pin first: a team's pins hold for backends, commands and hooks alike.
    inventory.check_pins()?;
    if let Some(b) = args.backend.as_deref().filter(|b| *b != "auto") {
        let valid = backend::valid_names(inventory);
        if !valid.iter().any(|v| v == b) {
            return Err(
                Error::usage(format!("Invalid backend: {b}")).hint(format!("valid backends: {}", valid.join(", ")))
            );
        }
    }
    backend::choose(inventory, root, args.backend.as_deref(), configured)
}

/// Where a backend change was asked for, for its refusal's next step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Conflict {
    Update,
    Menu,
}

/// `--update` (and menu choice 1): keep the environment, record the current pyve version.
/// Nothing else is checked or touched, as the original (a venv directory that is not a real
/// environment is left as it is, and so is the rest of the config).
fn update(env: &HostEnv, root: &Path, config: &Config, args: &InitArgs, conflict: Conflict) -> Result<u8> {
    if let Some(why) = unfinished(root) {
        // Updating in place would record an environment whose set-up is not known to be whole.
        return Err(Error::new(why).hint("run `pyve --init --force` to rebuild the environment and record it"));
    }
    let recorded = config.backend.as_deref();
    let Some(recorded) = recorded else {
        return Err(Error::new(format!("cannot update in place: {} records no backend", config.path.display()))
            .hint("re-initialise the project: pyve --init --force"));
    };
    if let Some(requested) = args.backend.as_deref().filter(|b| *b != "auto")
        && requested != recorded
    {
        let e = Error::new("Cannot update in-place: Backend change detected")
            .detail(format!("  Current: {recorded}"))
            .detail(format!("  Requested: {requested}"))
            .detail("Backend changes require a clean re-initialization.");
        return Err(match conflict {
            Conflict::Update => e.hint("Run: pyve --init --force"),
            Conflict::Menu => {
                e.hint("Use option 2 to purge and re-initialize with new backend (or run: pyve --init --force)")
            }
        });
    }
    let old = config.pyve_version.clone();
    if old.as_deref() != Some(VERSION) {
        files::write_own(root, &config.path, config.with_version(VERSION).as_bytes())?;
    }
    ui::info("✓ Configuration updated");
    if old.as_deref() == Some(VERSION) {
        ui::info(&format!("  Version: {VERSION} (unchanged)"));
    } else {
        ui::info(&format!("  Version: {} → {VERSION}", old.as_deref().unwrap_or("(not recorded)")));
    }
    ui::info(&format!("  Backend: {recorded} (unchanged)"));
    ui::status("");
    ui::info(&format!("Project updated to Pyve v{VERSION}"));
    // The environment is kept as it is: say when the files it was made from changed since.
    // (A project without `.pyve/state.json`, set up by the original tool, has no record to
    // compare with.)
    if let Some(missing) = no_environment(env, root, config) {
        // A fresh clone: `.pyve/config` came with the repository, the environment did not.
        ui::warn(&format!("{missing}: `--update` records the version and makes no environment"));
        ui::hint("run `pyve sync` to create it from .pyve/config");
    } else if matches!(State::load(root), Ok(Some(_)))
        && let Ok(reasons) = crate::commands::sync::out_of_date(root)
        && !reasons.is_empty()
    {
        ui::warn(&format!("the environment is out of date: {}", reasons.join(", ")));
        ui::hint("`--update` keeps the environment: run `pyve sync` to rebuild it from the project's files");
    }
    Ok(0)
}

/// Why the project at `root` has no environment, when it has none: the recorded one is gone,
/// or nothing is recorded and the configured backend finds none (a fresh clone of a project
/// whose `.pyve/config` is committed; a project set up by the original tool records nothing
/// but has its environment). `None` when there is one, or when pyve cannot tell.
fn no_environment(env: &HostEnv, root: &Path, config: &Config) -> Option<String> {
    match State::load(root) {
        Ok(Some(s)) if !s.env_path.exists() => {
            Some(format!("the environment {} does not exist", project::display_in(root, &s.env_path)))
        }
        Ok(None) => {
            let (_, params, mut session) = backend::configured_session(env, root, config).ok()??;
            let described = session.call::<request::EnvDescribe>(&params);
            session.close();
            match described {
                Ok(d) if !d.exists => Some("no environment exists in this project yet".to_owned()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// `--force` (and menu choice 2): validate the new request, confirm, build the new
/// environment (swapped in atomically by the backend), then bring the host's files in line.
fn force(
    env: &HostEnv,
    root: &Path,
    args: &InitArgs,
    config: &Config,
    state: Option<&State>,
    confirm: bool,
) -> Result<u8> {
    // A project initialised with `--no-direnv` stays without `.envrc`.
    let remembered;
    let args = if !args.no_direnv && state.is_some_and(|s| s.managed.no_direnv) {
        remembered = InitArgs { no_direnv: true, ..args.clone() };
        &remembered
    } else {
        args
    };
    let inventory = plugins::inventory(env, crate::cli::BUILTINS);
    // Validate first: the backend, its plugin, the arguments. Nothing is touched yet.
    let choice = choose(&inventory, root, args, config.backend.as_deref())?;
    // The project's files and the backend's settings too (`--force --venv-dir ..`), before
    // the question and the "Purging" lines: a request that cannot be built is refused first.
    preflight(root, args)?;
    check_settings(env, root, &choice, settings_for(&choice, args, Some(config), state, false))?;
    if confirm {
        ui::warn("Force re-initialization: This will purge the existing environment");
        ui::warn(&format!("  Current backend: {}", config.backend.as_deref().unwrap_or("(none)")));
        if choice.name != config.backend.as_deref().unwrap_or("") {
            ui::warn(&format!("  New backend:     {}", choice.name));
        }
        if !force_yes() {
            let not_confirmed = |why: ui::NoAnswer| {
                if why == ui::NoAnswer::Interrupted {
                    return ui::NoAnswer::interrupted_error();
                }
                Error::new(format!("refusing to rebuild the environment without confirmation: {why}"))
                    .hint("set PYVE_FORCE_YES=1 to confirm (a non-empty CI does too), or answer: echo y | pyve --init --force")
            };
            if !ui::can_prompt() {
                return Err(not_confirmed(ui::NoAnswer::Unreadable));
            }
            let answer = ui::prompt("\nContinue? [y/N]: ").map_err(not_confirmed)?;
            if !matches!(answer.as_str(), "y" | "Y" | "yes" | "Yes" | "YES") {
                ui::info("Re-initialization cancelled");
                return Ok(0);
            }
        }
    }
    ui::info("Purging existing environment...");
    ui::info("Proceeding with fresh initialization...");
    build(env, &inventory, root, args, &choice, Some(config), state)?;
    Ok(0)
}

fn header(choice: &Choice, args: &InitArgs, settings: &Settings) {
    let why = match &choice.reason {
        Reason::Flag => String::new(),
        Reason::Config => " (from .pyve/config)".into(),
        Reason::File(f) => format!(" (found {f})"),
        Reason::Default => String::new(),
    };
    ui::status("");
    if choice.name == "venv" {
        ui::status("Initializing Python environment...");
        ui::status(&format!("  Backend:        venv{why}"));
        let v = args
            .python_version
            .clone()
            .or_else(|| settings.get("python_version").and_then(|v| v.as_str().map(str::to_owned)));
        ui::status(&format!(
            "  Python version: {}",
            v.as_deref().unwrap_or("(the project's pin, else the newest installed)")
        ));
        let dir = settings.get("directory").and_then(Value::as_str).unwrap_or(".venv");
        ui::status(&format!("  Venv directory: {dir}"));
    } else {
        ui::status(&format!("Initializing {} environment...", choice.name));
        // The original's micromamba header aligns its values one column further than the
        // venv one (`  Backend:         micromamba`); scripts match the line as printed.
        let pad = if choice.name == "micromamba" { " " } else { "" };
        ui::status(&format!("  Backend:        {pad}{}{why}", choice.name));
        // The backend names what it resolves (environment name, file, engine) itself; the
        // plain settings are shown here, machine records (nested objects) are not.
        if choice.name != "micromamba" {
            for (k, v) in settings.iter().filter(|(_, v)| !v.is_object()) {
                ui::status(&format!("  {k}: {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())));
            }
        }
    }
    ui::debug(&format!(
        "  Plugin:         {} ({})",
        choice.plugin.candidate.name,
        choice.plugin.candidate.path.display()
    ));
}

/// The settings sent to the backend: what `.pyve/config` and the last creation recorded for it,
/// with the command line on top.
fn settings_for(
    choice: &Choice,
    args: &InitArgs,
    config: Option<&Config>,
    state: Option<&State>,
    warn: bool,
) -> Settings {
    let mut settings = Settings::new();
    if let Some(s) = state.filter(|s| s.backend == choice.name) {
        settings.extend(s.settings.clone());
    }
    if let Some(c) = config.filter(|c| c.backend.as_deref() == Some(&choice.name)) {
        settings.extend(c.backend_settings(&choice.name));
    }
    // The options given on the command line, for the backend that declares them.
    let declared: Vec<OptionInfo> = choice
        .plugin
        .manifest
        .as_ref()
        .and_then(|m| m.provides.backends.iter().find(|b| b.name == choice.name))
        .map(|b| b.options.clone())
        .unwrap_or_default();
    for given in &args.options {
        let mine = declared.iter().find(|o| if given.positional { o.positional } else { o.name == given.name });
        match mine {
            Some(o) => {
                settings.insert(o.setting.clone(), given.value.clone());
            }
            None if !warn => {}
            None => ui::warn(&format!(
                "{} is {}, not of the {} backend in use; ignored",
                given.spelled(),
                owner_of(given),
                choice.name
            )),
        }
    }
    settings
}

/// Have the backend parse the settings of a rebuild before anything is asked or changed: its
/// `env/describe` refuses settings it cannot use with `invalid-params` (the venv backend: a
/// directory such as `..` or `.pyve`). Only that answer counts; any other failure (a plugin
/// that does not start) is left to the build, which reports it as before.
fn check_settings(env: &HostEnv, root: &Path, choice: &Choice, settings: Settings) -> Result<()> {
    let Ok(mut session) = Session::open(env, &choice.plugin, root) else { return Ok(()) };
    let params = EnvParams { project_root: root.to_path_buf(), backend: choice.name.clone(), settings };
    let described = session.call::<request::EnvDescribe>(&params);
    session.close();
    match described {
        Err(e) if matches!(&e.failure, crate::rpc::Failure::Remote(r) if r.code == pyve_protocol::error::code::INVALID_PARAMS) => {
            Err(e.to_error())
        }
        _ => Ok(()),
    }
}

/// Which backends an option belongs to, for the warning when another one is in use.
fn owner_of(given: &GivenOption) -> String {
    match given.owners.as_slice() {
        [] => "an option of no installed backend".to_owned(),
        [one] => format!("an option of backend {one}"),
        many => format!("an option of backends {}", many.join(", ")),
    }
}

/// Whether this is the project's first init: no config, or one written by hand that names no
/// backend (pins before the first init), and nothing recorded. The config's other settings are
/// kept either way.
fn is_first(old_config: Option<&Config>, old_state: Option<&State>) -> bool {
    old_state.is_none() && old_config.is_none_or(|c| c.backend.is_none())
}

/// Create (or replace) the environment, run the hooks, then write the host's files.
fn build(
    env: &HostEnv,
    inventory: &Inventory,
    root: &Path,
    args: &InitArgs,
    choice: &Choice,
    old_config: Option<&Config>,
    old_state: Option<&State>,
) -> Result<()> {
    preflight(root, args)?;
    test_pause("before-create");
    crate::signals::check()?;
    let settings = settings_for(choice, args, old_config, old_state, true);
    header(choice, args, &settings);
    let replace = !is_first(old_config, old_state) && old_state.is_none_or(|s| s.backend == choice.name);
    // What a re-initialisation replaces: the environment pyve recorded, else (a project
    // without `.pyve/state.json`) the directory the settings name.
    let replaced_existed = replace
        && match old_state {
            Some(s) => s.env_path.exists(),
            None => {
                settings.get("directory").and_then(Value::as_str).is_some_and(|d| root.join(d).exists())
                    || (choice.name == "venv" && !settings.contains_key("directory") && root.join(".venv").exists())
            }
        };

    // Written before the backend may swap a new environment in, removed once the config and
    // the state describe it: after a `kill -9` the next command knows the init did not finish.
    write_unfinished(root)?;
    let created = create(env, root, args, choice, settings, replace);
    let created = match created {
        Ok(c) => c,
        Err(e) => {
            // The backend made nothing (or put the old environment back): nothing unfinished.
            clear_unfinished(root);
            return Err(e);
        }
    };
    test_pause("after-create");
    finish(env, inventory, root, args, choice, old_config, old_state, replaced_existed, created)
}

/// The backend's `env/create`, checked.
fn create(
    env: &HostEnv,
    root: &Path,
    args: &InitArgs,
    choice: &Choice,
    settings: Settings,
    replace: bool,
) -> Result<(CreateResult, String)> {
    let mut session = Session::open(env, &choice.plugin, root)?;
    let params = CreateParams {
        project_root: root.to_path_buf(),
        backend: choice.name.clone(),
        python_version: args.python_version.clone(),
        settings,
        replace,
    };
    let created = session.call::<request::EnvCreate>(&params).map_err(|e| e.to_error())?;
    let plugin_version = session.manifest.version.clone();
    session.close();
    let plugin = &choice.plugin.candidate;
    if replace && !created.created {
        // `replace: true` means rebuild: a backend that kept the environment would have pyve
        // report a purge that did not happen.
        return Err(Error::new(format!(
            "plugin '{}' ({}) did not rebuild the environment: it answered `created: false` to `replace: true`",
            plugin.name,
            plugin.path.display()
        ))
        .because(format!("{} is as it was; nothing else was changed", created.env_path.display()))
        .hint(format!(
            "the plugin does not honour --force (protocol.md, env/create): update it (`pyve plugin test {}` shows what it does), or delete the environment yourself and run `pyve --init` again",
            plugin.name
        )));
    }
    // Every path in the answer stays inside the project (env_path may be elsewhere, reported)
    // before anything is written or removed based on it (docs/security.md, plugins' output).
    if let Some(warning) = crate::project::answer::check_create_result(root, &plugin.name, &created).map_err(|e| {
        e.because(format!("{} may hold what the plugin made; pyve did not touch it", created.env_path.display()))
    })? {
        ui::warn(&warning);
    }
    Ok((created, plugin_version))
}

/// After `env/create`: the hooks, then the host's files; on a failure or an interrupt, the undo
/// (a first init) or a record of the new environment (a re-init, whose old one is gone).
#[allow(clippy::too_many_arguments)]
fn finish(
    env: &HostEnv,
    inventory: &Inventory,
    root: &Path,
    args: &InitArgs,
    choice: &Choice,
    old_config: Option<&Config>,
    old_state: Option<&State>,
    replaced_existed: bool,
    (created, plugin_version): (CreateResult, String),
) -> Result<()> {
    let plugin = &choice.plugin.candidate;
    if let (Some(asked), Some(got)) = (args.python_version.as_deref(), created.python_version.as_deref())
        && got != asked
        && !got.starts_with(&format!("{asked}."))
    {
        ui::warn(&format!(
            "Python {asked} was requested, but plugin '{}' made the environment with Python {got}",
            plugin.name
        ));
        ui::hint(&format!("check the plugin ({}), or ask for {got} explicitly", plugin.path.display()));
    }

    // A project without `.pyve/state.json` whose config names another backend.
    let configured_other =
        old_state.is_none().then(|| old_config.and_then(|c| c.backend.clone()).filter(|b| *b != choice.name)).flatten();
    match old_state {
        // A backend change: the old environment goes, through its own backend.
        Some(old) if old.backend != choice.name => {
            remove_old(env, inventory, root, &old.backend, &old.settings, Some(&old.env_path))
        }
        Some(old) if old.env_path != created.env_path && old.env_path.exists() => {
            // Same backend, another place: the old environment may share files with the new
            // one (a pin), so its backend is not asked to remove it; it is kept and named.
            let old_dir = project::display_in(root, &old.env_path);
            ui::warn(&format!(
                "the previous environment {old_dir} is kept: the project now uses {}",
                project::display_in(root, &created.env_path)
            ));
            ui::warn(&format!("  Delete it when you no longer need it: rm -rf {old_dir}"));
        }
        None if configured_other.is_some() => {
            let (b, c) = (configured_other.as_deref().unwrap_or_default(), old_config.expect("a config"));
            remove_old(env, inventory, root, b, &c.backend_settings(b), None)
        }
        _ if replaced_existed => ui::info("✓ Environment purged"),
        _ if !is_first(old_config, old_state) => ui::info("No previous environment to purge"),
        _ => {}
    }

    let mut state = State::new(root);
    state.backend = choice.name.clone();
    state.plugin = choice.plugin.candidate.name.clone();
    state.plugin_version = plugin_version;
    state.env_path = created.env_path.clone();
    state.interpreter = created.interpreter.clone();
    state.python_version = created.python_version.clone();
    state.activation = created.activation.clone();
    state.settings = created.settings.clone();
    state.created_files = created.created_files.clone();
    state.inputs = project::state::hash_inputs(root, &created.inputs);
    state.managed = old_state.map(|s| s.managed.clone()).unwrap_or_default();
    state.managed.no_direnv = args.no_direnv;
    if created.created {
        state.managed.env_kept = false;
    } else if is_first(old_config, old_state) && !created.env_path.starts_with(root.join(project::PYVE_DIR)) {
        // Found in place and kept: the user's. One inside `.pyve/` (a conda environment under
        // `.pyve/envs`) is pyve's own whatever made it, and `--purge` removes `.pyve` anyway.
        state.managed.env_kept = true;
    }
    let keep = old_config.map(|c| c.root.clone()).unwrap_or_default();
    // The user's settings in the backend's section survive a re-initialisation (`engine:` of
    // micromamba, say) even when the backend does not echo them; what it returns wins.
    let mut recorded = old_config
        .filter(|c| c.backend.as_deref() == Some(choice.name.as_str()))
        .map(|c| c.backend_settings(&choice.name))
        .unwrap_or_default();
    recorded.extend(created.settings.clone());
    let config_text = project::config::render(&choice.name, &recorded, &keep);

    let mut wrote = Written {
        config_before: old_config.and_then(|_| std::fs::read_to_string(root.join(CONFIG_FILE)).ok()),
        ..Written::default()
    };
    let finished = (|| -> Result<()> {
        // An interrupt during the creation, answered too late to cancel it, ends the init too.
        crate::signals::check()?;
        backend::run_post_create_hooks(
            env,
            inventory,
            &PostCreateParams {
                project_root: root.to_path_buf(),
                backend: choice.name.clone(),
                env_path: created.env_path.clone(),
                interpreter: created.interpreter.clone(),
                python_version: created.python_version.clone(),
                created: created.created,
            },
        )?;
        crate::signals::check()?;
        write_envrc(root, args, choice, &created, &mut state, &mut wrote)?;
        write_dotenv(root, args, env, &mut state, &mut wrote)?;
        write_gitignore(root, &created, &mut state, &mut wrote)?;
        test_pause("write-files");
        crate::signals::check()?;
        wrote.state = true;
        files::write_own(root, &root.join(STATE_FILE), state.to_text().as_bytes())?;
        test_pause("write-config");
        files::write_own(root, &root.join(CONFIG_FILE), config_text.as_bytes())?;
        // The last point an interrupt is seen: after it the init is whole and says so.
        crate::signals::check()?;
        Ok(())
    })();
    if let Err(e) = finished {
        if is_first(old_config, old_state) {
            // A first init that failed leaves nothing: what this run made goes again.
            undo(env, choice, root, &created, &wrote);
            clear_unfinished(root);
        } else {
            // The backend already swapped the new environment in: the record must describe
            // it, whatever failed (best effort: the disk may be full).
            let recorded = files::write_own(root, &root.join(STATE_FILE), state.to_text().as_bytes())
                .and_then(|()| files::write_own(root, &root.join(CONFIG_FILE), config_text.as_bytes()));
            // The unfinished marker stays: --validate, doctor and run say to run --force.
            if recorded.is_ok() {
                ui::warn(&format!(
                    "the new environment {} is in place and recorded, but the set-up did not finish: \
                     run `pyve --init --force` again",
                    project::display_in(root, &created.env_path)
                ));
            }
        }
        return Err(e);
    }
    clear_unfinished(root);
    ui::success(&format!("{} {CONFIG_FILE}", if is_first(old_config, old_state) { "Created" } else { "Updated" }));

    ui::status("");
    let location = project::display_in(root, &created.env_path);
    match choice.name.as_str() {
        "venv" => {
            ui::success("Python environment initialized successfully!");
            ui::status("");
            ui::status(next_step(root, args.no_direnv));
        }
        // The original's closing block for micromamba (reference 2.1 E 14). The protocol has no
        // closing lines for a backend to give, so the host knows the two backends it is
        // compatible with; any other backend gets the generic block below.
        "micromamba" => {
            ui::success("Micromamba environment initialized successfully!");
            ui::status(&format!("\nEnvironment location: {location}"));
            ui::status("\nNext steps:");
            for line in micromamba_next_steps(root, args.no_direnv) {
                ui::status(line);
            }
        }
        name => {
            ui::success(&format!("{} environment initialized successfully!", capitalize(name)));
            ui::status(&format!("\nEnvironment location: {location}"));
            ui::status("");
            ui::status(next_step(root, args.no_direnv));
        }
    }
    // The environment is kept when the install fails (docs/decisions.md), but the last word
    // must not be only "successfully": the error may have scrolled far above.
    if state.failed_install() {
        ui::warn(
            "the project's dependencies are not installed: the install failed (the error above; `--verbose` shows the installer's whole output); \
             fix it, then run `pyve sync`",
        );
    }
    Ok(())
}

/// How the user enters the environment after a successful init: `direnv allow` only when
/// direnv is installed and `.envrc` is pyve's (allowing an `.envrc` pyve did not write runs
/// whatever it contains).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Activation {
    /// `--no-direnv`: `pyve run`.
    PyveRun,
    /// An `.envrc` pyve did not write: review it first.
    ReviewEnvrc,
    /// direnv is not installed: `pyve run`, or install direnv.
    InstallDirenv,
    /// `direnv allow`.
    DirenvAllow,
}

fn activation(root: &Path, no_direnv: bool) -> Activation {
    if no_direnv {
        Activation::PyveRun
    } else if !files::envrc_is_ours(&root.join(".envrc")) {
        Activation::ReviewEnvrc
    } else if crate::commands::run::find_on_path("direnv").is_none() {
        Activation::InstallDirenv
    } else {
        Activation::DirenvAllow
    }
}

/// The original's `Next steps:` lines of a micromamba init, word for word for `--no-direnv` and
/// for `direnv allow` (reference 2.1 E 14).
fn micromamba_next_steps(root: &Path, no_direnv: bool) -> Vec<&'static str> {
    let note =
        "  Note: Ignore micromamba's 'activate' instructions above — Pyve uses direnv activation (or 'pyve run').";
    match activation(root, no_direnv) {
        Activation::PyveRun => vec!["  Use: pyve run <command> to execute in environment"],
        Activation::ReviewEnvrc => vec![
            note,
            "  1. Review .envrc (it is not pyve's) before allowing it with direnv",
            "  2. Or use: pyve run <command>",
        ],
        Activation::InstallDirenv => vec![
            note,
            "  1. Use: pyve run <command>",
            "  2. Or install direnv, then run 'direnv allow' to activate the environment",
        ],
        Activation::DirenvAllow => {
            vec![note, "  1. Run 'direnv allow' to activate the environment", "  2. Or use: pyve run <command>"]
        }
    }
}

/// The venv init's one next step, the original's line word for word for `--no-direnv` and for
/// `direnv allow` (scripts and tests of 0.9 read it: reference 2.1 F 15).
fn next_step(root: &Path, no_direnv: bool) -> &'static str {
    match activation(root, no_direnv) {
        Activation::PyveRun => "Use 'pyve run <command>' to execute commands in the environment.",
        Activation::ReviewEnvrc => {
            "Next step: review .envrc (it is not pyve's) before allowing it with direnv, or use 'pyve run <command>'."
        }
        Activation::InstallDirenv => {
            "Next step: use 'pyve run <command>' (or install direnv to activate the environment on cd)."
        }
        Activation::DirenvAllow => "Next step: Run 'direnv allow' to activate the environment.",
    }
}

/// Check every file `--init` writes before anything changes: the project directory must be
/// writable, and where pyve writes a file there must not be a directory or a special file
/// (found only after the environment was built, it failed the init halfway). Links are
/// checked by [`files::inspect`] (none may lead `.pyve` out of the project).
fn preflight(root: &Path, args: &InitArgs) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(root.as_os_str().as_bytes()).ok();
        // SAFETY: `access` reads a NUL-terminated path and has no other preconditions.
        if c.is_some_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } != 0) {
            let e = std::io::Error::last_os_error();
            return Err(Error::new(format!("cannot write in the project directory {}", root.display()))
                .because(e)
                .hint("check its permissions (pyve writes .venv, .env, .gitignore and .pyve there), or run pyve in a directory you own"));
        }
    }
    let mut targets = vec![".env", ".gitignore", CONFIG_FILE, STATE_FILE];
    if !args.no_direnv {
        targets.push(".envrc");
    }
    for rel in targets {
        let path = root.join(rel);
        let what = match files::inspect(root, &path)? {
            pyve_fs::Entry::Dir => "a directory",
            pyve_fs::Entry::Other => "not a regular file",
            _ => continue,
        };
        return Err(Error::new(format!("{} is {what}; pyve needs to write a file there", path.display()))
            .hint("move it out of the way (or rename it), then run `pyve --init` again; nothing was changed"));
    }
    let gitignore = match files::inspect(root, &root.join(".gitignore"))? {
        pyve_fs::Entry::Link(l) if l.inside => l.resolved,
        pyve_fs::Entry::File => Some(root.join(".gitignore")),
        _ => None,
    };
    if let Some(gitignore) = gitignore
        && let Err(e) = pyve_fs::read_bounded_text(&gitignore, files::TEXT_MAX)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        return Err(Error::new(format!("cannot read {}", gitignore.display())).because(e).hint(
            "pyve adds its lines to .gitignore: make it readable, then run `pyve --init` again; nothing was changed",
        ));
    }
    Ok(())
}

/// What one `--init` run wrote of the host's files (to undo a failed first init exactly).
#[derive(Debug, Default)]
struct Written {
    envrc: bool,
    dotenv: bool,
    gitignore_lines: Vec<String>,
    gitignore_created: bool,
    gitignore_added_eol: bool,
    /// The state (and then the config) were about to be written.
    state: bool,
    /// A config was there before (pins written by hand before the first init): a failed
    /// first init puts its text back rather than removing it.
    config_before: Option<String>,
}

/// Take back what a failed first `--init` made: the host's files it created, then the
/// environment (and the pin), through the backend. The project is left as it was before.
fn undo(env: &HostEnv, choice: &Choice, root: &Path, created: &CreateResult, wrote: &Written) {
    // The interrupt that may have ended the run must not cancel the clean-up too.
    crate::signals::reset();
    if wrote.state {
        let _ = std::fs::remove_file(root.join(STATE_FILE));
        match &wrote.config_before {
            Some(text) => {
                let _ = files::write_own(root, &root.join(CONFIG_FILE), text.as_bytes());
            }
            None => {
                let _ = std::fs::remove_file(root.join(CONFIG_FILE));
            }
        }
    }
    if !wrote.gitignore_lines.is_empty()
        && let Ok(Some(path)) = files::gitignore_path(root)
    {
        let _ =
            files::gitignore_remove(&path, &wrote.gitignore_lines, wrote.gitignore_created, wrote.gitignore_added_eol);
    }
    let dotenv = root.join(".env");
    if wrote.dotenv && std::fs::symlink_metadata(&dotenv).is_ok_and(|m| m.is_file() && m.len() == 0) {
        let _ = std::fs::remove_file(&dotenv);
    }
    let envrc = root.join(".envrc");
    if wrote.envrc && files::envrc_is_ours(&envrc) {
        let _ = std::fs::remove_file(&envrc);
    }
    if !created.created {
        // The environment was there before this run (the backend kept it): not this run's to
        // remove (it may be the user's own, with what they installed into it).
        ui::info(&format!(
            "Nothing was left behind: the files this run created were removed; the environment {} was there before and is kept",
            project::display_in(root, &created.env_path)
        ));
        return;
    }
    let mut settings = created.settings.clone();
    settings.insert("created_files".into(), serde_json::to_value(&created.created_files).unwrap_or(Value::Null));
    let removed = Session::open(env, &choice.plugin, root).and_then(|mut s| {
        let r = s
            .call::<request::EnvRemove>(&EnvParams {
                project_root: root.to_path_buf(),
                backend: choice.name.clone(),
                settings,
            })
            .map_err(|e| e.to_error());
        if r.is_ok() {
            s.close();
        }
        r
    });
    match removed {
        Ok(_) => ui::info("Nothing was left behind: the environment and the files this run created were removed"),
        Err(e) => {
            ui::warn(&format!(
                "could not remove the environment {} after the failure: {e}",
                project::display_in(root, &created.env_path)
            ));
            ui::warn("  Remove it by hand (rm -rf it), then run `pyve --init` again");
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// Remove the environment of another backend through that backend: the one `.pyve/state.json`
/// records (`env_path` known), or, for a project without it, the one its `.pyve/config` names.
fn remove_old(
    env: &HostEnv,
    inventory: &Inventory,
    root: &Path,
    backend_name: &str,
    settings: &Settings,
    env_path: Option<&Path>,
) {
    let where_ = env_path.map(|p| format!(" {}", project::display_in(root, p))).unwrap_or_default();
    let entry = match backend::plugin_for(inventory, backend_name) {
        Ok(entry) => entry,
        Err(e) => {
            // Nothing can be purged through a plugin that is not there: say so, carry on.
            ui::info(&format!("Nothing purged through the {backend_name} backend: {}", e.message()));
            if env_path.is_some_and(Path::exists) {
                ui::warn(&format!(
                    "the old {backend_name} environment{where_} is left as it is; delete it when you no longer need it"
                ));
            }
            return;
        }
    };
    let result = Session::open(env, &entry, root).and_then(|mut s| {
        let r = s
            .call::<request::EnvRemove>(&EnvParams {
                project_root: root.to_path_buf(),
                backend: backend_name.to_owned(),
                settings: settings.clone(),
            })
            .map_err(|e| e.to_error());
        if r.is_ok() {
            s.close();
        }
        r
    });
    match result {
        Ok(r) if r.removed.is_empty() => ui::info("No previous environment to purge"),
        Ok(_) => ui::info("✓ Environment purged"),
        Err(e) => ui::warn(&format!("could not remove the old {backend_name} environment{where_}: {e}")),
    }
}

fn write_envrc(
    root: &Path,
    args: &InitArgs,
    choice: &Choice,
    created: &CreateResult,
    state: &mut State,
    wrote: &mut Written,
) -> Result<()> {
    let path = root.join(".envrc");
    if args.no_direnv {
        ui::info("Skipping .envrc creation (--no-direnv)");
        return Ok(());
    }
    let text = files::envrc_text(root, &choice.name, &created.activation, &created.env_path, &created.inputs);
    if let Some(link) = files::inspect(root, &path)?.link() {
        // pyve writes only regular files: a link is the user's, whatever it points to.
        ui::info(&format!(
            "Kept .envrc as it is: {} (pyve writes only its own regular .envrc)",
            files::describe_link(root, &path, link)
        ));
    } else if path.exists() {
        if files::envrc_is_ours(&path) {
            if pyve_fs::read_bounded_text(&path, files::TEXT_MAX).ok().as_deref() != Some(text.as_str()) {
                files::write_atomic(&path, text.as_bytes(), None)?;
                ui::success("Updated .envrc");
            }
            state.managed.envrc = true;
        } else {
            ui::info(".envrc already exists, skipping (it is not pyve's: its first line is not the pyve marker)");
        }
    } else if files::create_new(&path, text.as_bytes(), None)? {
        ui::success("Created .envrc");
        state.managed.envrc = true;
        wrote.envrc = true;
    }
    if crate::commands::run::find_on_path("direnv").is_none() {
        ui::warn(
            "direnv is not installed: .envrc does nothing until it is (https://direnv.net/docs/installation.html)",
        );
        ui::warn("  Meanwhile use 'pyve run <command>', or pass --no-direnv next time");
    }
    Ok(())
}

fn write_dotenv(root: &Path, args: &InitArgs, env: &HostEnv, state: &mut State, wrote: &mut Written) -> Result<()> {
    let path = root.join(".env");
    if let Some(link) = files::inspect(root, &path)?.link() {
        ui::info(&format!(".env already exists, skipping: {}", files::describe_link(root, &path, link)));
        return Ok(());
    }
    if path.exists() {
        ui::info(".env already exists, skipping");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Secrets: others lose their access to an existing `.env` too, not only to one
            // pyve creates (the original's defect 18). Only the mode changes, never the
            // content; when that is not allowed (another owner), a warning says what to do.
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.permissions().mode() & 0o077 != 0
            {
                let was = meta.permissions().mode() & 0o777;
                let now = was & !0o077;
                match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(now)) {
                    Ok(()) => ui::success(&format!(
                        "Set .env to mode {now:o} (was {was:o}): it holds secrets, other users cannot read it now"
                    )),
                    Err(e) => ui::warn(&format!(
                        ".env can be read by other users (mode {was:o}) and pyve cannot change that ({e}); it holds secrets: chmod 600 .env"
                    )),
                }
            }
        }
        return Ok(());
    }
    let template = files::local_env_template(env.home.as_deref());
    let contents = match template.as_deref() {
        Some(t) if args.local_env && t.is_file() => {
            Some(std::fs::read(t).map_err(|e| Error::new(format!("cannot read {}", t.display())).because(e))?)
        }
        _ => None,
    };
    let copied = contents.is_some();
    if files::create_new(&path, &contents.unwrap_or_default(), Some(0o600))? {
        state.managed.dotenv = true;
        wrote.dotenv = true;
        match (copied, args.local_env, template) {
            (true, _, Some(t)) => ui::success(&format!("Copied {} to .env", t.display())),
            (false, true, Some(t)) => ui::warn(&format!("{} not found, created empty .env", t.display())),
            _ => ui::success("Created empty .env"),
        }
    }
    Ok(())
}

/// The lines `.gitignore` should hold for what `--init` made.
fn wanted_gitignore(created: &CreateResult) -> Vec<String> {
    // A plugin's lines are used only when they are one plain pattern each (see
    // `write_gitignore` for the warning).
    let mut wanted: Vec<String> =
        created.gitignore.iter().filter(|l| files::gitignore_line_refused(l).is_none()).cloned().collect();
    wanted.push(".env".into());
    // `.envrc` also with `--no-direnv`, as the original: it is what direnv users of the project
    // would write, and the line must be there before the first `.envrc` is committed.
    wanted.push(".envrc".into());
    wanted.push(STATE_FILE.into());
    wanted.push(".pyve/lock".into());
    wanted
}

fn write_gitignore(root: &Path, created: &CreateResult, state: &mut State, wrote: &mut Written) -> Result<()> {
    let Some(path) = files::gitignore_path(root)? else {
        ui::warn(&format!(
            "  Add these lines to it yourself to keep them out of git: {}",
            wanted_gitignore(created).join(", ")
        ));
        return Ok(());
    };
    for l in &created.gitignore {
        if let Some(why) = files::gitignore_line_refused(l) {
            ui::warn(&format!("the backend asked to add {l:?} to .gitignore: refused ({why})"));
        }
    }
    let wanted = wanted_gitignore(created);
    // Lines pyve added before for something no longer wanted (an old venv directory) go, once
    // what they name is gone: an old environment `--force DIR` kept stays out of git until the
    // user deletes it (the next init then drops its line).
    let stale: Vec<String> = state
        .managed
        .gitignore_lines
        .iter()
        .filter(|l| !wanted.contains(l))
        .filter(|l| std::fs::symlink_metadata(root.join(l.trim_matches('/'))).is_err())
        .cloned()
        .collect();
    if !stale.is_empty() {
        files::gitignore_remove(&path, &stale, false, false)?;
        state.managed.gitignore_lines.retain(|l| !stale.contains(l));
    }
    let (added, created_file, added_eol) = files::gitignore_add(&path, &wanted)?;
    if !added.is_empty() {
        ui::success(&format!("Updated .gitignore ({})", added.join(", ")));
    }
    state.managed.gitignore_created |= created_file;
    wrote.gitignore_created = created_file;
    wrote.gitignore_added_eol = added_eol;
    state.managed.gitignore_added_eol |= added_eol;
    wrote.gitignore_lines = added.clone();
    for l in added {
        if !state.managed.gitignore_lines.contains(&l) {
            state.managed.gitignore_lines.push(l);
        }
    }
    Ok(())
}

/// The marker of an `--init` under way: written before `env/create`, removed when the config
/// and the state describe the environment (or nothing was changed). Left by a killed init, or
/// by a re-init that failed after the swap.
pub const UNFINISHED_FILE: &str = ".pyve/init-unfinished";

fn write_unfinished(root: &Path) -> Result<()> {
    let text = format!(
        "# pyve --init (pid {}) started here and has not finished; run `pyve --init --force`\n",
        std::process::id()
    );
    files::write_own(root, &root.join(UNFINISHED_FILE), text.as_bytes())
}

fn clear_unfinished(root: &Path) {
    let _ = std::fs::remove_file(root.join(UNFINISHED_FILE));
}

/// What the next command says when an `--init` did not finish in `root` (`None`: nothing to
/// say). The marker is a regular file of pyve's; a link or anything else there is ignored.
pub fn unfinished(root: &Path) -> Option<String> {
    let path = root.join(UNFINISHED_FILE);
    if !std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let text = pyve_fs::read_bounded_text(&path, 4096).unwrap_or_default();
    let pid = text.split("(pid ").nth(1).and_then(|r| r.split(')').next()).and_then(|p| p.parse::<i32>().ok());
    #[cfg(unix)]
    // SAFETY: kill with signal 0 only checks that the process exists.
    let running = pid.is_some_and(|p| p > 0 && p as u32 != std::process::id() && unsafe { libc::kill(p, 0) } == 0);
    #[cfg(not(unix))]
    let running = false;
    Some(if running {
        format!("a `pyve --init` (pid {}) is under way in this project", pid.unwrap_or_default())
    } else {
        "the last `pyve --init` did not finish (it was killed or failed after the environment was replaced): \
         the environment may lack its set-up, and the config may not describe it"
            .to_owned()
    })
}

/// Test-only: with `PYVE_TEST_PAUSE_AT=STEP` (before-create, after-create, write-files,
/// write-config; purge-files for `--purge`), `--init` prints `pyve-test: paused at STEP` on stderr at that step and waits
/// there (up to 60 s) until an interrupt arrives, so that the fault-injection suite can signal
/// it at a known moment. Not a user setting: documented in docs/interrupts.md as test-only.
pub(crate) fn test_pause(step: &str) {
    if std::env::var_os("PYVE_TEST_PAUSE_AT").is_none_or(|v| v != step) {
        return;
    }
    eprintln!("pyve-test: paused at {step}");
    let start = std::time::Instant::now();
    while crate::signals::received().is_none() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
}
