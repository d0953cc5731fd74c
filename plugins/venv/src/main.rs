//! `pyve-venv`: the venv backend of pyve, and its `python-version` command.
//!
//! With `--pyve-rpc` it serves the plugin protocol (backend `venv`: `env/create`,
//! `env/describe`, `env/activation`, `env/remove`, `doctor/checks`); otherwise it runs the
//! passthrough command `python-version` (`pyve --python-version V`). See
//! `docs/venv-backend.md`.

mod bin_support;

fn main() {
    pyve_sdk::main(bin_support::plugin())
}
