//! `pyve-micromamba`: the micromamba backend of pyve (backend `micromamba`: `env/create`,
//! `env/describe`, `env/activation`, `env/remove`, `doctor/checks`). See
//! `docs/micromamba-backend.md`.

mod bin_support;

fn main() {
    // Before any HTTP client (the library also installs it lazily; this makes it process-wide).
    pyve_micromamba::install_tls_provider();
    pyve_sdk::main(bin_support::plugin())
}
