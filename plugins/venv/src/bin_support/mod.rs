//! The executable's side: the protocol backend and the passthrough command, over the domain
//! library. Reachable only from `main.rs`; the library never sees the SDK.

mod backend;
mod command;
mod deps;
mod envdir;
mod settings;
mod ui;

use pyve_sdk::Plugin;
use pyve_sdk::types::{BackendInfo, OptionInfo, OptionKind};

/// The plugin: backend `venv` and the command `python-version`.
pub fn plugin() -> Plugin {
    Plugin::new("venv", env!("CARGO_PKG_VERSION"))
        .description("Python virtual environments, with the interpreter from pyenv, asdf or PATH")
        .backend(
            BackendInfo {
                name: "venv".into(),
                selectors: ["pyproject.toml", "requirements*.txt", "setup.py", "setup.cfg"].map(String::from).to_vec(),
                priority: 0,
                description: "a virtual environment (.venv) built natively, pip seeded from the interpreter's wheel"
                    .into(),
                // The original tool's `pyve --init DIR` and `--venv-dir DIR`.
                options: vec![
                    OptionInfo {
                        name: "venv-dir".into(),
                        kind: OptionKind::Path,
                        help: "The virtual environment's directory, relative to the project (also `pyve --init DIR`)"
                            .into(),
                        setting: "directory".into(),
                        default: Some(".venv".into()),
                        value_name: Some("DIR".into()),
                        positional: true,
                        ..OptionInfo::default()
                    },
                    // The later original's `--no-install-deps` / `--auto-install-deps` (the default).
                    OptionInfo {
                        name: "no-install-deps".into(),
                        kind: OptionKind::Flag,
                        help: "Do not install the project's dependencies (requirements.txt, pyproject.toml, uv.lock)"
                            .into(),
                        setting: "no_install_deps".into(),
                        ..OptionInfo::default()
                    },
                    OptionInfo {
                        name: "groups".into(),
                        kind: OptionKind::String,
                        help: "The pyproject.toml dependency groups to install, comma-separated (\"\" for none)".into(),
                        setting: "groups".into(),
                        default: Some("dev, when declared".into()),
                        value_name: Some("GROUPS".into()),
                        ..OptionInfo::default()
                    },
                    OptionInfo {
                        name: "auto-install-deps".into(),
                        kind: OptionKind::Flag,
                        help: "Install the project's dependencies after creating the environment (the default)".into(),
                        setting: "auto_install_deps".into(),
                        ..OptionInfo::default()
                    },
                ],
            },
            backend::VenvBackend,
        )
        .command("python-version", "Pin the project's Python version", command::python_version)
}
