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
pub mod discovery;
pub mod engine;
pub mod envfile;
pub mod lock;
pub mod name;
