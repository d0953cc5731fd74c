//! `pyve-micromamba`: the micromamba backend of pyve (backend `micromamba`: `env/create`,
//! `env/describe`, `env/activation`, `env/remove`, `doctor/checks`). See
//! `docs/micromamba-backend.md`.

mod bin_support;

fn main() {
    pyve_sdk::main(bin_support::plugin())
}
