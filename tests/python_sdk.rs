//! The Python helper's own test suite (`sdk/python/tests`), run with the machine's `python3`,
//! so that the one test command covers it. Agreement with the Rust SDK is checked by the
//! conformance kit (tests/plugin_test.rs), not here.

use std::process::Command;

use pyve_tests::{repo_root, run};

#[test]
fn python_helper_unit_tests() {
    let root = repo_root();
    let mut cmd = Command::new("python3");
    cmd.args(["-m", "unittest", "discover", "-s", "sdk/python/tests", "-t", "sdk/python"])
        .current_dir(&root)
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "python3 -m unittest failed:\n{}\n{}", out.stdout, out.stderr);
}
