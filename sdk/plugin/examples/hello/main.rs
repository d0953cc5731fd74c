#[path = "plugin.rs"]
mod plugin;

fn main() {
    pyve_sdk::main(plugin::plugin())
}
