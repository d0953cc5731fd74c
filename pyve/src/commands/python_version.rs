//! `pyve --python-version V`: pin the project's Python version without creating an
//! environment. The venv backend's plugin does the work (its passthrough command
//! `python-version`: asdf or pyenv, installing V if needed); pyve then records the version in
//! `.pyve/config` when the project is initialised with the venv backend, so the config never
//! says something else than the pin.

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::project::{Config, Lock, files};
use crate::ui;

/// How long it waits for another pyve working on the same project.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// `pyve --python-version V`.
pub fn run(env: &HostEnv, version: &str) -> Result<u8> {
    super::init::check_python_version(version, "pyve --python-version")?;
    let inventory = crate::plugins::inventory(env, crate::cli::BUILTINS);
    let Some(provider) = inventory.command_provider("python-version") else {
        return Err(Error::new(
            "pinning a Python version needs the venv backend's plugin, pyve-venv, which is not installed",
        )
        .hint("install pyve-venv (it ships with pyve; `pyve --list` shows what is installed)"));
    };
    // The pin and the config are the project's: no other pyve may change it meanwhile (a
    // running `--init` writes both). Outside a project the directory the pin goes into is
    // locked the same way, so an `--init` starting there waits too.
    let cwd = crate::project::current_dir()?;
    let root = env.project_root(&cwd);
    let dir = root.clone().unwrap_or_else(|| cwd.clone());
    let _lock = match env.pyve_home.as_deref() == Some(dir.join(crate::project::PYVE_DIR).as_path()) {
        true => None, // the home directory: its `.pyve` is pyve's own, not a project's
        false => Some(Lock::acquire(&dir, LOCK_WAIT)?),
    };
    let code = super::external::exec_plugin(env, &provider.candidate, "python-version", &[version.into()])?;
    if code != 0 {
        return Ok(code);
    }
    if let Some(root) = root
        && let Some(config) = Config::load(&root)?
        && config.backend.as_deref() == Some("venv")
    {
        let text = config.with_python_version(version);
        if text != config.text {
            files::write_own(&root, &config.path, text.as_bytes())?;
            ui::success(&format!("Recorded Python {version} in .pyve/config"));
        }
    }
    Ok(0)
}
