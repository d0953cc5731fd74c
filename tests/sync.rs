//! `pyve sync [--check]`: the environment follows the files it is made from (recorded at init
//! by the backend's `inputs`): a change, a missing environment, and being up to date.

use pyve_tests::{Sandbox, python, run};

#[test]
fn sync_follows_the_declarations_and_rebuilds_a_missing_environment() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let p = sb.project();
    std::fs::write(p.join("requirements.txt"), "six\n").unwrap();
    let v = python("3.11");
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &v]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);

    let out = run(sb.e2e().args(["sync", "--check"]));
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "✓ Environment up to date\n"), "{}", out.stderr);
    let out = run(sb.e2e().args(["sync"]));
    assert_eq!(out.stdout, "✓ Environment up to date\n", "{}", out.stderr);

    // A declaration changes: --check says so (exit 1), doctor warns, sync rebuilds.
    std::fs::write(p.join("requirements.txt"), "six\niniconfig\n").unwrap();
    let out = run(sb.e2e().args(["sync", "--check"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("INFO: Out of date: requirements.txt changed"), "{}", out.stdout);
    assert!(out.stderr.contains("hint: run `pyve sync`"), "{}", out.stderr);
    let out = run(sb.e2e().arg("doctor"));
    assert!(out.stdout.contains("⚠ Environment inputs: out of date: requirements.txt changed"), "{}", out.stdout);
    let out = run(sb.e2e().args(["sync"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Syncing the environment: requirements.txt changed"), "{}", out.stdout);
    let out = run(sb.e2e().args(["run", "python", "-c", "import iniconfig, six; print('ok')"]));
    assert_eq!(out.stdout, "ok\n", "{}", out.stderr);
    let out = run(sb.e2e().args(["sync", "--check"]));
    assert_eq!(out.code, Some(0), "{}", out.stdout);

    // A new input file, then the environment deleted.
    std::fs::write(p.join("pyproject.toml"), "[project]\nname = \"demo\"\nversion = \"0.1.0\"\n").unwrap();
    let out = run(sb.e2e().args(["sync", "--check"]));
    assert!(out.stdout.contains("Out of date: pyproject.toml appeared"), "{}", out.stdout);
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    let out = run(sb.e2e().args(["sync", "--check"]));
    assert!(out.stdout.contains("Out of date: the environment .venv is missing"), "{}", out.stdout);
    let out = run(sb.e2e().args(["sync"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(p.join(".venv/bin/python").exists());
    let out = run(sb.e2e().args(["sync", "--check"]));
    assert_eq!(out.code, Some(0), "{}", out.stdout);
}

#[test]
fn sync_outside_a_project_says_what_to_do() {
    let sb = Sandbox::new();
    let out = run(sb.pyve_cmd().args(["sync", "--check"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no pyve project here"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: set the project up with `pyve --init`"), "{}", out.stderr);
}

/// Under direnv: `.envrc` watches the files the environment is made from and, on entry, says in
/// one line when the environment no longer matches them.
#[test]
fn direnv_says_when_the_environment_is_out_of_date() {
    let Some(direnv) = pyve::commands::run::find_on_path("direnv") else {
        panic!("direnv is not installed: .ci/run installs it (apt-get install direnv)");
    };
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let p = sb.project();
    std::fs::write(p.join("requirements.txt"), "six\n").unwrap();
    let v = python("3.11");
    let out = run(sb.e2e().args(["--init", "--no-install-deps", "--python-version", &v]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let envrc = std::fs::read_to_string(p.join(".envrc")).unwrap();
    assert!(envrc.contains("watch_file pyproject.toml requirements.txt"), "{envrc}");
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", sb.path().join("bin").display());
    let direnv_cmd = |args: &[&str]| {
        let mut c = std::process::Command::new(&direnv);
        sb.isolate(&mut c);
        c.args(args)
            .env("PATH", &path)
            .env("PYENV_ROOT", pyve_tests::pyenv_root())
            .env("XDG_CONFIG_HOME", sb.home().join(".config"))
            .env("XDG_DATA_HOME", sb.home().join(".local/share"));
        c
    };
    assert_eq!(run(&mut direnv_cmd(&["allow", "."])).code, Some(0));
    let out = run(&mut direnv_cmd(&["exec", ".", "true"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("out of date"), "{}", out.stderr);
    std::fs::write(p.join("requirements.txt"), "six\niniconfig\n").unwrap();
    let out = run(&mut direnv_cmd(&["exec", ".", "true"]));
    assert!(out.stderr.contains("pyve: the environment is out of date: run pyve sync"), "{}", out.stderr);
}

/// `--init --update` keeps the environment and says when it no longer matches the project.
#[test]
fn update_says_when_the_environment_is_out_of_date() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let p = sb.project();
    let v = python("3.11");
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &v]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = run(sb.e2e().args(["--init", "--update"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stderr.contains("out of date"), "{}", out.stderr);
    std::fs::write(p.join("requirements.txt"), "six\n").unwrap();
    let out = run(sb.e2e().args(["--init", "--update"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("WARNING: the environment is out of date: requirements.txt appeared"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("run `pyve sync`"), "{}", out.stderr);
}
