//! `pyve-testenv`: the passthrough commands `testenv` and `test` of pyve (see
//! `docs/testenv.md`). `pyve test` reaches this plugin through its manifest, with
//! `PYVE_COMMAND=test`.

use pyve_sdk::{Invocation, Plugin};
use pyve_testenv::Host;

fn host(inv: &Invocation) -> Host {
    Host {
        project_root: inv.host.project_root.clone(),
        pyve_version: inv.host.pyve_version.clone(),
        verbosity: inv.host.verbosity,
        color: inv.host.color,
    }
}

/// The plugin: commands `testenv` and `test`.
fn plugin() -> Plugin {
    Plugin::new("testenv", pyve_testenv::VERSION)
        .description("A dedicated dev/test runner environment (.pyve/testenv/venv) and pytest from it")
        .command("testenv", "Manage the dev/test runner environment (.pyve/testenv/venv)", |inv: Invocation| {
            pyve_testenv::testenv(&inv.args, &host(&inv))
        })
        .command("test", "Run pytest from the dev/test runner environment", |inv: Invocation| {
            pyve_testenv::test(&inv.args, &host(&inv))
        })
}

fn main() {
    pyve_sdk::main(plugin())
}

#[cfg(test)]
mod tests {
    #[test]
    fn manifest_lists_both_commands() {
        let m = super::plugin().manifest(pyve_sdk::protocol::PROTOCOL_VERSION);
        assert_eq!(m.name, "testenv");
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        let names: Vec<&str> = m.provides.commands.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["testenv", "test"]);
        assert!(m.provides.backends.is_empty() && m.provides.hooks.is_empty());
    }
}
