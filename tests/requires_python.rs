//! `requires-python` (pyproject.toml) chooses the interpreter, refuses an explicit version that
//! contradicts it (naming both), and doctor reports an environment that no longer satisfies it.

use pyve_tests::{Sandbox, python, run};

fn project(sb: &Sandbox, requires: &str) {
    std::fs::write(
        sb.project().join("pyproject.toml"),
        format!("[project]\nname = \"demo\"\nversion = \"0.1.0\"\nrequires-python = \"{requires}\"\n"),
    )
    .unwrap();
}

#[test]
fn the_newest_interpreter_that_satisfies_it_is_chosen() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    project(&sb, ">=3.9,<3.12");
    let out = run(sb.e2e().args(["--init", "--no-direnv"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let v311 = python("3.11");
    assert!(
        out.stdout.contains(&format!(
            "Using Python {v311} (the newest installed that satisfies pyproject.toml's requires-python)"
        )),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read_to_string(sb.project().join(".python-version")).unwrap().trim(), v311);
    let out = run(sb.e2e().args(["run", "python", "-c", "import sys; print(sys.version_info[:2])"]));
    assert_eq!(out.stdout, "(3, 11)\n", "{}", out.stderr);

    // The project moves on: doctor says the environment no longer fits.
    project(&sb, ">=3.12");
    let out = run(sb.e2e().arg("doctor"));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "✗ requires-python: Python {v311} does not satisfy pyproject.toml's requires-python = \">=3.12\""
        )),
        "{}",
        out.stdout
    );
    // --validate agrees: the set-up contradicts the project's declaration (exit 1, an error).
    let out = run(sb.e2e().arg("--validate"));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "requires-python: Python {v311} does not satisfy pyproject.toml's requires-python = \">=3.12\""
        )),
        "{}",
        out.stdout
    );
    let out = run(sb.e2e().args(["--validate", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    let check = report["checks"].as_array().unwrap().iter().find(|c| c["label"] == "requires-python");
    assert_eq!(check.map(|c| &c["status"]), Some(&serde_json::json!("error")), "{report:#}");
    assert_eq!(report["exit_code"], 1, "{report:#}");
    // Back in line with the declaration: it validates again.
    project(&sb, ">=3.9,<3.12");
    let out = run(sb.e2e().arg("--validate"));
    assert!(out.stdout.contains("requires-python: >=3.9,<3.12 (Python"), "{}", out.stdout);
    assert_ne!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
}

#[test]
fn an_explicit_version_that_contradicts_it_is_refused_naming_both() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    project(&sb, "<3.12");
    let v312 = python("3.12");
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &v312]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Python {v312} (requested with --python-version) does not satisfy pyproject.toml's requires-python = \"<3.12\""
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: ask for a version that satisfies \"<3.12\""), "{}", out.stderr);
    assert!(!sb.project().join(".venv").exists() && !sb.project().join(".python-version").exists());
    // A malformed requires-python is named with its file.
    project(&sb, "3.11");
    let out = run(sb.e2e().args(["--init", "--no-direnv"]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("pyproject.toml: `requires-python = \"3.11\"`: `3.11` does not start with an operator"),
        "{}",
        out.stderr
    );
}

/// A pyproject.toml that is not TOML: the error says where, and the hint is about the syntax
/// (not about requires-python); nothing is made.
#[test]
fn a_toml_syntax_error_is_placed_and_nothing_is_made() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    std::fs::write(sb.project().join("pyproject.toml"), "[project]\nname = \"demo\"\ndependencies = [\"six\"\n")
        .unwrap();
    let out = run(sb.e2e().args(["--init", "--no-direnv"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("pyproject.toml: it is not valid TOML (line 3, column 22: unclosed array, expected `]`)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: fix the TOML syntax at line 3, column 22 of pyproject.toml"), "{}", out.stderr);
    assert!(!out.stderr.contains("PEP 440"), "{}", out.stderr);
    let mut left: Vec<_> = std::fs::read_dir(sb.project()).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["pyproject.toml"], "{}", out.stderr);
}

/// The contradiction's hint names only what works: `--force` rebuilds an initialised project
/// with the version anyway (with a warning); on a first init it changes nothing.
#[test]
fn force_uses_a_contradicting_version_on_an_initialised_project() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    project(&sb, "<3.12");
    let (v311, v312) = (python("3.11"), python("3.12"));
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &v312, "--force"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "an initialised project can be rebuilt with it anyway (`pyve --init --force --python-version {v312}`)"
        )),
        "{}",
        out.stderr
    );
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &v311]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--python-version", &v312]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("using it anyway (--force)"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let out = run(sb.e2e().args(["run", "python", "-c", "import sys; print(sys.version_info[:2])"]));
    assert_eq!(out.stdout, "(3, 12)\n", "{}", out.stderr);
}

/// requires-python moves past the pinned version: `pyve sync` does not rebuild with the pin
/// anyway (which would leave an environment doctor flags, called up to date); it refuses,
/// naming the pin and what to do, and keeps the environment.
#[test]
fn sync_refuses_a_pin_that_requires_python_no_longer_allows() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    project(&sb, ">=3.10");
    let v311 = python("3.11");
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &v311]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    std::fs::write(sb.project().join(".venv/kept"), "").unwrap();
    project(&sb, ">=3.12");
    let out = run(sb.e2e().arg("sync"));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "Python {v311} (pinned in .python-version) does not satisfy pyproject.toml's requires-python = \">=3.12\""
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("using it anyway"), "{}", out.stderr);
    assert!(sb.project().join(".venv/kept").exists(), "the environment was not kept: {}", out.stderr);
    let out = run(sb.e2e().args(["sync", "--check"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    // The pin follows: sync rebuilds and is up to date.
    let v312 = python("3.12");
    std::fs::write(sb.project().join(".python-version"), format!("{v312}\n")).unwrap();
    let out = run(sb.e2e().arg("sync"));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = run(sb.e2e().args(["run", "python", "-c", "import sys; print(sys.version_info[:2])"]));
    assert_eq!(out.stdout, "(3, 12)\n", "{}", out.stderr);
}
