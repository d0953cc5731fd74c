//! `pyve plugin test`: the conformance kit passes every bundled plugin over both transports,
//! the Rust and Python examples, and fails each misbehaving fixture for its own reason.

use pyve_tests::{Sandbox, example, example_dylib, place, repo_root, run};
use serde_json::Value;

fn kit(sb: &Sandbox, args: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let mut cmd = sb.e2e();
    cmd.args(["plugin", "test", "--json", "--timeout", "5"]).args(args);
    let out = run(&mut cmd);
    let reports: Vec<Value> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr));
    (out.code, reports, out.stderr)
}

fn failures(r: &Value) -> Vec<String> {
    r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| format!("{}: {}", c["rule"].as_str().unwrap(), c["detail"].as_str().unwrap()))
        .collect()
}

fn rules(r: &Value) -> Vec<String> {
    r["checks"].as_array().unwrap().iter().map(|c| c["rule"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn every_bundled_plugin_passes_on_both_transports() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-micromamba", "pyve-testenv", "pyve-distutils-shim", "libpyve_distutils_shim.so"]);
    for name in ["venv", "micromamba", "testenv", "distutils-shim"] {
        let (code, reports, stderr) = kit(&sb, &[name]);
        assert_eq!(code, Some(0), "{name}: {stderr}\n{reports:#?}");
        for r in &reports {
            assert!(failures(r).is_empty(), "{name}: {:?}", failures(r));
            assert_eq!(r["failed"], 0);
            assert!(r["passed"].as_u64().unwrap() >= 20, "{name}: {r:#}");
        }
        if name == "distutils-shim" {
            let kinds: Vec<&str> = reports.iter().map(|r| r["kind"].as_str().unwrap()).collect();
            assert_eq!(kinds, ["dylib", "exec"], "both forms are tested");
        }
    }
    // The venv backend went through a real cycle, replace included.
    let (_, reports, _) = kit(&sb, &["venv"]);
    let names = rules(&reports[0]);
    for rule in
        ["backend venv: create", "backend venv: replace", "backend venv: remove", "backend venv: describe after remove"]
    {
        assert!(names.iter().any(|n| n == rule), "{rule} in {names:?}");
    }
}

#[test]
fn the_examples_pass_in_rust_and_python() {
    let sb = Sandbox::new();
    let dir = sb.path().join("examples");
    place(&example("pyve-hello"), &dir.join("rust/pyve-hello"));
    place(&example_dylib("hello_dylib"), &dir.join("rust/libpyve_hello.so"));
    place(&repo_root().join("sdk/python/examples/pyve-hello"), &dir.join("python/pyve-hello"));
    place(&repo_root().join("sdk/python/examples/pyve-direnv"), &dir.join("python/pyve-direnv"));
    std::fs::copy(repo_root().join("sdk/python/pyve_plugin.py"), dir.join("python/pyve_plugin.py")).unwrap();
    for file in ["rust/pyve-hello", "rust/libpyve_hello.so", "python/pyve-hello", "python/pyve-direnv"] {
        let (code, reports, stderr) = kit(&sb, &[dir.join(file).to_str().unwrap()]);
        assert_eq!(code, Some(0), "{file}: {stderr}\n{reports:#?}");
        assert!(failures(&reports[0]).is_empty(), "{file}: {:?}", failures(&reports[0]));
    }
    // The text report names each rule and a summary.
    let out = run(sb.pyve_cmd().args(["plugin", "test"]).arg(dir.join("rust/pyve-hello")));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("  ✓ handshake: `initialize` answered: hello 0.1.0\n"), "{}", out.stdout);
    // The first handshake offers only 1.0; saying so keeps "chose 1.0" from reading as pyve's version.
    assert!(out.stdout.contains("  ✓ manifest protocol: chose 1.0 when offered only 1.0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("hello 0.1.0: 24 passed, 0 failed, 0 skipped"), "{}", out.stdout);
}

#[test]
fn each_misbehaving_fixture_fails_for_its_own_reason() {
    let sb = Sandbox::new();
    let file = sb.path().join("bad/pyve-misbehave");
    place(&example("pyve-misbehave"), &file);
    for (mode, rule, detail) in [
        ("exit-early", "handshake", "the plugin ended the session (exit status 3)"),
        ("hang", "handshake", "no answer within the time limit"),
        ("garbage", "handshake", "no answer"),
        ("noise", "stdout is protocol only", "not JSON-RPC 2.0 messages"),
        ("protocol-2", "manifest protocol", "chose 2.0 although the host offered only 1.0"),
        ("reject-protocol", "handshake", "answered with an error"),
        ("wrong-name", "manifest name", "the manifest says `someone-else` but the file is named for `misbehave`"),
        ("die-mid-request", "shutdown", "killed by signal 6"),
    ] {
        let mut cmd = sb.pyve_cmd();
        cmd.env("PYVE_MISBEHAVE", mode).args(["plugin", "test", "--json", "--timeout", "2"]).arg(&file);
        let out = run(&mut cmd);
        assert_eq!(out.code, Some(1), "{mode}: {}", out.stdout);
        let reports: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
        let failed = failures(&reports[0]);
        assert!(
            failed.iter().any(|f| f.starts_with(&format!("{rule}: ")) && f.contains(detail)),
            "{mode}: expected `{rule}: …{detail}…` among {failed:#?}"
        );
        // What was sent is shown for the author.
        let first = reports[0]["checks"].as_array().unwrap().iter().find(|c| c["outcome"] == "fail").unwrap().clone();
        assert!(first.get("sent").is_some() || first.get("got").is_some(), "{mode}: {first}");
    }
}

#[test]
fn what_is_not_a_plugin_gets_a_clear_error() {
    let sb = Sandbox::new();
    std::fs::write(sb.path().join("tool"), "#!/bin/sh\n").unwrap();
    let out = run(sb.pyve_cmd().args(["plugin", "test"]).arg(sb.path().join("tool")));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("is not named like a plugin"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: a plugin is an executable named pyve-NAME"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "test", "nosuch"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no plugin named 'nosuch'"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "test", "doctor"]));
    assert!(out.stderr.contains("`doctor` is a built-in command of pyve, not a plugin"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "test", "./pyve-missing"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("cannot read ./pyve-missing"), "{}", out.stderr);
    // A file without the execute bit, given by path: the failure says how to fix it, as the
    // resolver does for the same file given by name.
    let noexec = sb.path().join("pyve-noexec");
    std::fs::write(&noexec, "#!/bin/sh\n").unwrap();
    let (code, reports, _) = kit(&sb, &[noexec.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    let fails = failures(&reports[0]);
    assert!(fails[0].contains(&format!("make it executable: chmod +x {}", noexec.display())), "{fails:?}");
}
