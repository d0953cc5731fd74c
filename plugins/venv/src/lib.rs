//! The venv backend of pyve: the domain library.
//!
//! Creates Python virtual environments natively, fast, and indistinguishable from the
//! interpreter's own `python -m venv` (see `docs/venv-layout.md`):
//!
//! - [`Interpreter::inspect`] describes a CPython from its files, without starting it.
//! - [`create`] writes the environment (pyvenv.cfg, `bin/` links, activation scripts
//!   rendered from the interpreter's own templates, site-packages) in a temporary sibling
//!   and renames it into place, and seeds pip from the interpreter's bundled wheels through
//!   an optional cache of unpacked wheels (hard links).
//! - [`wheels`] (the `pyve-wheels` crate, shared with the distutils shim and `pyve-testenv`)
//!   keeps the seeding cache of downloaded wheels (setuptools and wheel for the distutils
//!   shim on 3.12+): fetched once with the environment's own `pip download`, then linked
//!   into environments through the same unpacked-wheel cache as pip.
//! - Where the interpreter's `venv` is not one whose behaviour was verified, [`create`]
//!   falls back to running `python -m venv` and says so in [`Created::method`].
//! - [`policy`] chooses the interpreter: the requested version (flag, the project's pin,
//!   the configured version, `PYVE_DEFAULT_PYTHON_VERSION`) from asdf,
//!   pyenv or `PATH`, by path and never through a shim; installs it when it is missing and
//!   allowed; and pins it in `.python-version` / `.tool-versions` (see
//!   `docs/venv-backend.md`). `pyve-testenv` uses it with `default-features = false`.
//!
//! With the default feature `plugin`, the package also builds the `pyve-venv` executable
//! (the protocol backend `venv` and the command `python-version`); the library itself never
//! depends on the SDK.
//!
//! ```no_run
//! use pyve_venv::{CreateOptions, Interpreter, create};
//! # fn main() -> Result<(), pyve_venv::Error> {
//! let python = Interpreter::inspect("/root/.pyenv/versions/3.12.1/bin/python3.12".as_ref())?;
//! let opts = CreateOptions { cache_dir: Some("/tmp/pyve-cache".into()), ..CreateOptions::default() };
//! let created = create(&python, ".venv".as_ref(), &opts)?;
//! println!("{} ({:?})", created.python.display(), created.method);
//! # Ok(()) }
//! ```

mod error;
mod flavor;
pub mod interpreter;
pub mod layout;
pub mod policy;
mod util;
pub mod uv;

/// The seeding cache of downloaded wheels (the `pyve-wheels` crate).
pub use pyve_pyproject as deps;
pub use pyve_wheels as wheels;
/// The unpacked-wheel cache and seeding (the `pyve-wheels` crate's [`pyve_wheels::seed`]).
pub use pyve_wheels::seed;

pub use error::Error;
pub use interpreter::{BundledWheel, InspectMethod, Interpreter, PythonVersion};
pub use layout::{CreateOptions, Created, Method, MethodChoice, cleanup_stale_temps, create};
pub use policy::{
    Environment, InstallPlan, PinAction, PinFile, PolicyError, Request, Resolution, Resolved, Source, VersionRequest,
    apply_pin, resolve_interpreter,
};
pub use seed::{SeedSource, SeededWheel};
