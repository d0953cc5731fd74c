//! The micromamba backend of pyve: the domain library (no SDK in scope).
//!
//! - [`name`]: the environment name (flag, config, environment.yml, directory), sanitised and
//!   checked.
//! - [`envfile`]: environment.yml, read with a YAML parser.
//! - [`lock`]: conda-lock.yml, its freshness and its packages.
//! - [`discovery`]: the micromamba binary (`.pyve/bin`, `$PYVE_HOME/bin`, `PATH`).
//! - [`bootstrap`]: downloading micromamba into `.pyve/bin` or `$PYVE_HOME/bin`.
//! - [`contents`]: package contents checked to stay inside the environment.
//! - [`engine`]: the built-in (rattler) engine and the micromamba engine behind one trait, and
//!   the policy that picks one (see `docs/micromamba-backend.md`).

pub mod bootstrap;
pub mod channel;
pub mod condarc;
pub mod contents;
pub use pyve_micromamba_discovery as discovery;
pub mod engine;
pub mod envfile;
pub mod lock;
pub mod name;

/// Make rustls's ring provider the process's TLS crypto provider, once. The rattler stack and
/// reqwest are built with `rustls-no-provider` (one TLS stack, no aws-lc C library), so every
/// HTTP client needs a provider installed first: [`engine`] and [`bootstrap`] call this before
/// they build or use one. A provider installed earlier by the host process is kept.
pub fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err: another provider is already the default, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
