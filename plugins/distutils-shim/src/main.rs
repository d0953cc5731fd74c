//! `pyve-distutils-shim`: the plugin as an executable. pyve runs it with `--pyve-rpc` (when
//! no `libpyve_distutils_shim.so` beside it serves the hook in-process).

fn main() {
    pyve_sdk::main(pyve_distutils_shim::plugin::plugin())
}
