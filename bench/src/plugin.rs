//! A plugin that takes its name from its file name (copied as `pyve-p042` it is plugin `p042`), so
//! that the benchmark can put 100 distinct plugins on PATH from one binary. (Built as
//! `bench-plugin`, a name pyve does not take for a plugin.)

fn main() {
    let exe = std::env::args().next().unwrap_or_default();
    let file = std::path::Path::new(&exe).file_name().and_then(|f| f.to_str()).unwrap_or("pyve-bench").to_owned();
    let name = file.strip_prefix("pyve-").unwrap_or("bench").to_owned();
    let plugin = pyve_sdk::Plugin::new(&name, env!("CARGO_PKG_VERSION")).description("benchmark plugin").command(
        &name,
        "print a version",
        |inv: pyve_sdk::Invocation| {
            println!("{} {}", inv.command, env!("CARGO_PKG_VERSION"));
            0
        },
    );
    pyve_sdk::main(plugin)
}
