//! `pyve plugin new`: every skeleton (Rust and Python; command, backend, hook) builds, passes
//! `pyve plugin test` on every transport, installs, and shows in `pyve --list`.

use std::path::Path;
use std::process::Command;

use pyve_tests::{Sandbox, repo_root, run, target_dir};
use serde_json::Value;

fn kit_passes(sb: &Sandbox, file: &Path) {
    let out = run(sb.e2e().args(["plugin", "test", "--json"]).arg(file));
    let reports: Vec<Value> =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let failed: Vec<&Value> =
        reports[0]["checks"].as_array().unwrap().iter().filter(|c| c["outcome"] != "pass").collect();
    assert!(failed.is_empty(), "{}: {failed:#?}", file.display());
    assert_eq!(out.code, Some(0));
}

fn listed(sb: &Sandbox, name: &str) -> Value {
    let out = run(sb.pyve_cmd().args(["plugin", "list", "--json"]));
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {list:#}"))
        .clone()
}

#[test]
fn python_skeletons_pass_the_kit_and_install() {
    let sb = Sandbox::new();
    let work = sb.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for (role, name) in [("--command", "greet"), ("--backend", "dirs"), ("--hook", "mark")] {
        let out = run(sb.pyve_cmd().current_dir(&work).args(["plugin", "new", name, "--lang", "python", role]));
        assert_eq!(out.code, Some(0), "{role}: {}", out.stderr);
        assert!(
            out.stdout.contains(&format!("✓ Created the {} plugin {name} (Python) in pyve-{name}", &role[2..])),
            "{}",
            out.stdout
        );
        let script = work.join(format!("pyve-{name}/pyve-{name}"));
        kit_passes(&sb, &script);
        let out = run(sb.pyve_cmd().args(["plugin", "install"]).arg(&script));
        assert_eq!(out.code, Some(0), "{role}: {}", out.stderr);
        assert_eq!(listed(&sb, name)["status"], "ok");
    }
    let out = run(sb.pyve_cmd().args(["greet", "world"]));
    assert_eq!(out.stdout, "✓ Hello, world!\n", "{}", out.stderr);
}

#[test]
fn rust_skeletons_build_and_pass_the_kit_on_both_transports() {
    let sb = Sandbox::new();
    let work = sb.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // Shared between runs: the SDK's dependencies are built once.
    let build_dir = target_dir().parent().unwrap().join("plugin-new-tests");
    for (role, name) in [("--backend", "rdirs"), ("--command", "rgreet"), ("--hook", "rmark")] {
        let out = run(sb
            .pyve_cmd()
            .current_dir(&work)
            .args(["plugin", "new", name, role, "--sdk"])
            .arg(repo_root().join("sdk/plugin")));
        assert_eq!(out.code, Some(0), "{role}: {}", out.stderr);
        let krate = work.join(format!("pyve-{name}"));
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args(["build", "--offline", "--quiet", "--manifest-path"])
            .arg(krate.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &build_dir)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "{role}: the skeleton builds");
        let exe = build_dir.join(format!("debug/pyve-{name}"));
        let lib = build_dir.join(format!("debug/libpyve_{name}.so"));
        kit_passes(&sb, &exe);
        kit_passes(&sb, &lib);
        let out = run(sb.pyve_cmd().args(["plugin", "install"]).arg(&exe));
        assert_eq!(out.code, Some(0), "{role}: {}", out.stderr);
        assert!(
            out.stdout.contains(&format!("pyve-{name}")) && out.stdout.contains(&format!("libpyve_{name}.so")),
            "{}",
            out.stdout
        );
    }
    assert_eq!(listed(&sb, "rgreet")["status"], "ok");
    let out = run(sb.pyve_cmd().args(["rgreet", "you"]));
    assert_eq!(out.stdout, "✓ Hello, you!\n", "{}", out.stderr);
}

#[test]
fn bad_names_and_existing_directories_are_refused() {
    let sb = Sandbox::new();
    let out = run(sb.pyve_cmd().args(["plugin", "new", "My_Tool"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("'My_Tool' is not a plugin name"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: try `pyve plugin new my-tool`"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "new", "doctor"]));
    assert!(out.stderr.contains("`doctor` is a built-in command of pyve"), "{}", out.stderr);
    std::fs::create_dir_all(sb.project().join("pyve-taken")).unwrap();
    std::fs::write(sb.project().join("pyve-taken/keep.txt"), "mine").unwrap();
    let out = run(sb.pyve_cmd().args(["plugin", "new", "taken"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("pyve-taken already exists and is not empty"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(sb.project().join("pyve-taken/keep.txt")).unwrap(), "mine");
    let out = run(sb.pyve_cmd().args(["plugin", "new", "both", "--hook", "--backend"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}
