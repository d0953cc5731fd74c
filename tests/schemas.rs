//! The JSON Schemas of pyve's `--json` reports (`docs/schemas/*.json`) are generated from the
//! report types; this test fails when a committed one is stale
//! (`SNAPSHOTS=overwrite cargo test -p pyve-tests --test schemas` rewrites them), and checks
//! real output of `--config --json`, `doctor --json` and `--validate --json` against them.

use pyve_tests::{Sandbox, assert_matches_schema, repo_root, run, schema_errors};
use serde_json::json;

#[test]
fn committed_schemas_are_current() {
    for (name, text) in pyve::report::schemas() {
        let path = repo_root().join("docs/schemas").join(name);
        snapbox::assert_data_eq!(text, snapbox::Data::read_from(&path, None).raw());
    }
}

#[test]
fn the_checker_rejects_what_breaks_a_schema() {
    let schema = pyve_tests::committed_schema("doctor.schema.json");
    let mut good = json!({
        "pyve_version": "0.1.0", "project_root": null, "initialized": false, "backend": null,
        "environment": null, "plugins": [],
        "checks": [{"status": "ok", "label": "Pyve", "detail": "0.1.0", "hint": null, "source": "pyve"}],
        "counts": {"ok": 1, "info": 0, "warn": 0, "error": 0}, "exit_code": 0
    });
    assert_eq!(schema_errors(&schema, &good), Vec::<String>::new());
    good["checks"][0]["status"] = json!("fine");
    assert!(!schema_errors(&schema, &good).is_empty(), "an unknown status");
    good["checks"][0]["status"] = json!("ok");
    good.as_object_mut().unwrap().remove("exit_code");
    assert!(schema_errors(&schema, &good).iter().any(|e| e.contains("exit_code")), "a missing field");
    good["exit_code"] = json!("0");
    assert!(!schema_errors(&schema, &good).is_empty(), "a string for a number");
}

#[test]
fn config_json_matches_its_schema() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    std::fs::write(sb.project().join("environment.yml"), "name: demo\n").unwrap();
    let out = run(sb.pyve_cmd().args(["--config", "--json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let v = assert_matches_schema("config.schema.json", &out.stdout);
    assert_eq!(v["detected_backend"], "micromamba");
    let venv = v["backends"].as_array().unwrap().iter().find(|b| b["name"] == "venv").expect("venv listed").clone();
    assert_eq!(venv["plugin"], "venv");
    assert_eq!(v["config_file"], false);
}

/// `--config` shows the original's two conda lines (reference 2.9): the micromamba binary the
/// backend would use, where it is and its version, and the conda environment file with the name
/// the original read from it.
#[test]
fn config_shows_micromamba_and_the_conda_env_file() {
    let sb = Sandbox::new();
    let p = sb.project();
    let out = run(sb.pyve_cmd().arg("--config"));
    assert!(out.stdout.contains("\n  Micromamba:             not found\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\n  Conda env file:         none\n"), "{}", out.stdout);
    std::fs::write(p.join("environment.yml"), "channels: [conda-forge]\nname: \"my env\"\n").unwrap();
    let bin = sb.home().join(".pyve/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("micromamba"), "#!/bin/sh\necho 'micromamba 1.5.3'\n").unwrap();
    std::fs::set_permissions(bin.join("micromamba"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = run(sb.pyve_cmd().arg("--config"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("\n  Micromamba:             available (user) v1.5.3\n"), "{}", out.stdout);
    // The original's reading: the first `name:` line's second word, quotes removed.
    assert!(out.stdout.contains("\n  Conda env file:         environment.yml (name: my)\n"), "{}", out.stdout);
    let v = assert_matches_schema("config.schema.json", &run(sb.pyve_cmd().args(["--config", "--json"])).stdout);
    assert_eq!(v["micromamba"]["location"], "user");
    assert_eq!(v["micromamba"]["version"], "1.5.3");
    assert_eq!(v["conda_env_file"], json!({"file": "environment.yml", "name": "my"}));
    // A lock file wins, and a binary in the project wins over the user's.
    std::fs::write(p.join("conda-lock.yml"), "version: 1\n").unwrap();
    std::fs::create_dir_all(p.join(".pyve/bin")).unwrap();
    std::fs::copy(bin.join("micromamba"), p.join(".pyve/bin/micromamba")).unwrap();
    let out = run(sb.pyve_cmd().arg("--config"));
    // Never run: a binary the project supplies (a clone could hold anything there).
    assert!(
        out.stdout.contains(
            "\n  Micromamba:             available (project; supplied by the project, not run by --config)\n"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\n  Conda env file:         conda-lock.yml\n"), "{}", out.stdout);
}

/// `--config` describes what is here and exits 0 whatever `.pyve/config` holds, as the
/// original (which never parsed it); `--json` stays one object on stdout, nothing on stderr.
#[test]
fn config_reports_a_config_it_cannot_read_and_exits_0() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.project().join(".pyve")).unwrap();
    std::fs::write(sb.project().join(".pyve/config"), "backend: venv\nvenv:\n  directory: [.venv\n").unwrap();
    let out = run(sb.pyve_cmd().args(["--config", "--json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.is_empty(), "--json alone: {}", out.stderr);
    let v = assert_matches_schema("config.schema.json", &out.stdout);
    assert_eq!((v["config_file"].clone(), v["config_backend"].clone()), (json!(true), json!(null)));
    assert!(v["config_error"].as_str().is_some_and(|e| e.contains("not valid YAML")), "{v}");
    let out = run(sb.pyve_cmd().arg("--config"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert!(out.stdout.contains("  Config file (.pyve/config): yes (not valid: "), "{}", out.stdout);
    // Readable again: `config_error` is null.
    std::fs::write(sb.project().join(".pyve/config"), "backend: venv\n").unwrap();
    let v = assert_matches_schema("config.schema.json", &run(sb.pyve_cmd().args(["--config", "--json"])).stdout);
    assert_eq!((v["config_error"].clone(), v["config_backend"].clone()), (json!(null), json!("venv")));
}

#[test]
fn doctor_and_validate_json_outside_a_project_match_their_schemas() {
    let sb = Sandbox::new();
    let out = run(sb.pyve_cmd().args(["doctor", "--json"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.is_empty(), "--json alone: {}", out.stderr);
    let v = assert_matches_schema("doctor.schema.json", &out.stdout);
    assert_eq!((v["initialized"].clone(), v["exit_code"].clone()), (json!(false), json!(1)));
    let out = run(sb.pyve_cmd().args(["--validate", "--json"]));
    assert_eq!(out.code, Some(1));
    let v = assert_matches_schema("validate.schema.json", &out.stdout);
    assert_eq!(v["result"], "errors");
}
