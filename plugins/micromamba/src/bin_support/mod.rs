//! The executable's side: the protocol backend over the domain library. Reachable only from
//! `main.rs`; the library never sees the SDK.

mod backend;
mod settings;

use pyve_sdk::Plugin;
use pyve_sdk::types::BackendInfo;

/// The plugin: backend `micromamba`.
pub fn plugin() -> Plugin {
    Plugin::new("micromamba", env!("CARGO_PKG_VERSION"))
        .description("conda environments from environment.yml or conda-lock.yml (built-in engine or micromamba)")
        .backend(
            BackendInfo {
                name: "micromamba".into(),
                selectors: ["environment.yml", "conda-lock.yml"].map(String::from).to_vec(),
                priority: 10,
                description: "a conda environment at .pyve/envs/<name>, built in-process or by micromamba".into(),
            },
            backend::MicromambaBackend,
        )
}
