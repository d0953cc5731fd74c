//! `pyve --python-version V` (the passthrough command `python-version`, run with
//! `PYVE_COMMAND=python-version` and the arguments `[V]`): pin the project's Python, installing
//! it first when needed and allowed, without creating an environment.

use std::path::PathBuf;

use pyve_sdk::types::LogLevel;
use pyve_sdk::{Error, Invocation};
use pyve_venv::policy::{Environment, PolicyError, Request, apply_pin, detect};

use super::backend::previous_pin;
use super::ui::{TerminalUi, Ui, policy_error, resolve};

const USAGE: &str = "\
Pin the project's Python version (pyve --python-version V).

Usage: pyve --python-version <version>

  <version>  X.Y.Z, or X.Y for the newest installed X.Y.* (e.g. 3.13.7 or 3.13)

Writes .python-version (pyenv) or the python line of .tool-versions (asdf), installing the
version first when it is missing (asking, unless CI or PYVE_FORCE_YES is set).
";

/// Run the command; the result is the exit code.
pub fn python_version(inv: Invocation) -> i32 {
    let ui = TerminalUi { out: pyve_sdk::output::Output::from_host(&inv.host) };
    let out = ui.out;
    let args: Vec<String> = inv.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let version = match args.first().map(String::as_str) {
        Some("--help" | "-h") => {
            print!("{USAGE}");
            return 0;
        }
        Some("--version" | "-V") => {
            println!("pyve-venv {}", env!("CARGO_PKG_VERSION"));
            return 0;
        }
        None | Some("") => {
            out.error("--python-version requires a version argument", None);
            out.error("Usage: pyve --python-version <version>", None);
            out.error("Example: pyve --python-version 3.13.7", None);
            return 1;
        }
        Some(v) => v.to_string(),
    };
    if pyve_venv::policy::VersionRequest::parse(&version).is_none() {
        out.error(
            &format!("Invalid Python version format '{version}'. Expected format: #.#.# or #.# (e.g., 3.13.7)"),
            None,
        );
        return 1;
    }
    if args.len() > 1 {
        ui.log(LogLevel::Warn, &format!("ignoring extra arguments: {}", args[1..].join(" ")));
    }
    // The original's header (reference 2.3), before the version manager is looked for.
    out.status(&format!("\nSetting Python version to {version}..."));
    let root = match inv.host.project_root_or_cwd() {
        Ok(r) => r,
        Err(e) => {
            out.error(&format!("cannot tell the current directory: {e}"), None);
            return 1;
        }
    };
    match pin(&ui, root, version) {
        Ok(()) => 0,
        Err(e) => {
            ui.error(e);
            1
        }
    }
}

fn pin(ui: &TerminalUi, root: PathBuf, version: String) -> Result<(), Error> {
    if !root.is_dir() {
        return Err(Error::not_found(format!("the project directory {} does not exist", root.display()))
            .hint("run it from inside the project, or set PYVE_PROJECT_ROOT to the project's directory"));
    }
    let env = Environment::from_process();
    let Some(manager) = detect(&env).manager else {
        return Err(policy_error(PolicyError::NoVersionManager { version }));
    };
    let requires = pyve_venv::policy::RequiresPython::read(&root).map_err(policy_error)?;
    let req = Request {
        project_root: root.clone(),
        python_version: Some(version),
        configured_version: None,
        env,
        requires,
        force: false,
    };
    let resolved = resolve(ui, &req)?;
    let file = manager.kind.pin_file();
    let mut before = None;
    if let Some(action) = &resolved.pin {
        let applied = apply_pin(&root, action).map_err(policy_error)?;
        if let Some(link) = &applied.replaced_link {
            ui.log(LogLevel::Warn, &replaced_link_message(&applied.path, link));
        }
        before = previous_pin(&action.change).map(str::to_string);
    }
    ui.log(LogLevel::Success, &format!("Set Python {} in {file}", resolved.version));
    if let Some(from) = before {
        ui.log(LogLevel::Info, &format!("{file} pinned {from} before"));
    }
    Ok(())
}

/// The warning when a pin replaced a link leading out of the project.
pub fn replaced_link_message(path: &std::path::Path, link: &std::path::Path) -> String {
    format!(
        "{} was a symbolic link to {}, outside the project: replaced by a regular file (pyve does not write \
         outside the project; the link's target is unchanged)",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        link.display()
    )
}
