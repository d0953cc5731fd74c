//! The example plugin as a dynamic library: pyve loads it in-process.
#[path = "plugin.rs"]
mod plugin;

pyve_sdk::export_dylib!(plugin::plugin);
