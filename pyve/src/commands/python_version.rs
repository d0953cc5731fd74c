//! `pyve --python-version V`: pin the project's Python version without creating an
//! environment. The venv backend's plugin does the work (its passthrough command
//! `python-version`: asdf or pyenv, installing V if needed); pyve then records the version in
//! `.pyve/config` when the project is initialised with the venv backend, so the config never
//! says something else than the pin.

use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::project::{Config, files};
use crate::ui;

/// `pyve --python-version V`.
pub fn run(env: &HostEnv, version: &str) -> Result<u8> {
    let inventory = crate::plugins::inventory(env, crate::cli::BUILTINS);
    let Some(provider) = inventory.command_provider("python-version") else {
        return Err(Error::new(
            "pinning a Python version needs the venv backend's plugin, pyve-venv, which is not installed",
        )
        .hint("install pyve-venv (it ships with pyve; `pyve --list` shows what is installed)"));
    };
    let code = super::external::exec_plugin(env, &provider.candidate, "python-version", &[version.into()])?;
    if code != 0 {
        return Ok(code);
    }
    let cwd = crate::project::current_dir()?;
    if let Some(root) = env.project_root(&cwd)
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
