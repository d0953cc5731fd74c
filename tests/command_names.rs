//! Passthrough plugins see the command they serve as `argv[0]`; a command two plugins provide
//! is served by the first found with a warning naming both, unless `.pyve/config`'s
//! `commands:` chooses.

use pyve_tests::{Sandbox, example, python_command_plugin, run};

#[test]
fn a_passthrough_plugin_gets_its_command_as_argv0() {
    let sb = Sandbox::new();
    sb.add_plugin(&example("pyve-misbehave"), "pyve-misbehave");
    for (command, expected) in [("misbehave", "misbehave\n"), ("oops", "oops\n")] {
        let out = run(sb.pyve_cmd().args([command, "argv0"]));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert_eq!(out.stdout, expected, "pyve {command}: {}", out.stderr);
        assert_eq!(out.stderr, "");
    }
}

#[test]
fn two_providers_warn_and_the_config_chooses() {
    let sb = Sandbox::new();
    // `alpha` sorts before `beta`: it is the first found.
    python_command_plugin(&sb.plugins(), "alpha", &["shared", "alpha"]);
    python_command_plugin(&sb.plugins(), "beta", &["shared"]);

    let out = run(sb.pyve_cmd().args(["shared", "x"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "alpha: shared x\n");
    assert!(
        out.stderr.contains("WARNING: `pyve shared` is provided by pyve-alpha and pyve-beta; using pyve-alpha"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("commands: {shared: PLUGIN}"), "{}", out.stderr);

    // The project chooses: no warning.
    std::fs::create_dir_all(sb.project().join(".pyve")).unwrap();
    std::fs::write(sb.project().join(".pyve/config"), "backend: venv\ncommands:\n  shared: beta\n").unwrap();
    let out = run(sb.pyve_cmd().args(["shared", "y"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "beta: shared y\n");
    assert_eq!(out.stderr, "");

    // A choice of a plugin that does not provide it: a warning, and the first found.
    std::fs::write(sb.project().join(".pyve/config"), "backend: venv\ncommands:\n  shared: gamma\n").unwrap();
    let out = run(sb.pyve_cmd().args(["shared"]));
    assert_eq!(out.stdout, "alpha: shared\n");
    assert!(out.stderr.contains("plugin 'gamma' does not provide `pyve shared`"), "{}", out.stderr);

    // A command only one plugin provides: no warning.
    let out = run(sb.pyve_cmd().args(["alpha"]));
    assert_eq!(out.stdout, "alpha: alpha\n");
    assert_eq!(out.stderr, "");
}
