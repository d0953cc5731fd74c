//! The executable's side: the protocol backend over the domain library. Reachable only from
//! `main.rs`; the library never sees the SDK.

mod backend;
mod command;
mod deps;
mod settings;

use pyve_sdk::Plugin;
use pyve_sdk::types::{BackendInfo, OptionInfo, OptionKind};

/// The plugin: backend `micromamba` and the command `lock`.
pub fn plugin() -> Plugin {
    Plugin::new("micromamba", env!("CARGO_PKG_VERSION"))
        .description("conda environments from environment.yml or conda-lock.yml (built-in engine or micromamba)")
        .backend(
            BackendInfo {
                name: "micromamba".into(),
                selectors: ["environment.yml", "conda-lock.yml"].map(String::from).to_vec(),
                priority: 10,
                description: "a conda environment at .pyve/envs/<name>, built in-process or by micromamba".into(),
                options: options(),
            },
            backend::MicromambaBackend,
        )
        .command("lock", "Write or check conda-lock.yml for environment.yml", command::lock)
}

/// The options of `pyve --init` this backend takes (the original tool's flags).
fn options() -> Vec<OptionInfo> {
    let opt = |name: &str, kind, setting: &str, help: &str| OptionInfo {
        name: name.into(),
        kind,
        setting: setting.into(),
        help: help.into(),
        ..OptionInfo::default()
    };
    vec![
        OptionInfo {
            value_name: Some("NAME".into()),
            ..opt(
                "env-name",
                OptionKind::String,
                "env_name",
                "Environment name [default: environment.yml's name, else the directory's]",
            )
        },
        opt("strict", OptionKind::Flag, "strict", "Fail when conda-lock.yml is missing or stale, or cannot be checked"),
        opt(
            "auto-bootstrap",
            OptionKind::Flag,
            "auto_bootstrap",
            "Download micromamba without asking when it is missing",
        ),
        OptionInfo {
            choices: vec!["project".into(), "user".into()],
            value_name: Some("WHERE".into()),
            ..opt("bootstrap-to", OptionKind::Enum, "bootstrap_to", "Where --auto-bootstrap installs micromamba")
        },
        // The project's Python declarations, installed with the environment's pip, as the venv
        // backend does (the later original's `--no-install-deps` / `--auto-install-deps`).
        opt(
            "no-install-deps",
            OptionKind::Flag,
            "no_install_deps",
            "Do not install the project's Python dependencies (requirements.txt, pyproject.toml) into the environment",
        ),
        OptionInfo {
            value_name: Some("GROUPS".into()),
            default: Some("dev, when declared".into()),
            ..opt(
                "groups",
                OptionKind::String,
                "groups",
                "The pyproject.toml dependency groups to install, comma-separated (\"\" for none)",
            )
        },
        opt(
            "auto-install-deps",
            OptionKind::Flag,
            "auto_install_deps",
            "Install the project's Python dependencies after creating the environment (the default)",
        ),
    ]
}
