//! The dev/test runner environment end to end: the real `pyve` host, the real `pyve-venv` and
//! `pyve-testenv` plugins, real CPython interpreters (from the pyenv root, read only) and real
//! packages from PyPI (pytest, iniconfig, uv). Everything else stays in a sandbox.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pyve_tests::{Outcome, Sandbox, python, python_exe, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-testenv"]);
    sb
}

#[track_caller]
fn code(out: &Outcome, want: i32, what: &str) {
    assert_eq!(out.code, Some(want), "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}", out.code, out.stdout, out.stderr);
}

#[track_caller]
fn ok(out: &Outcome, what: &str) {
    code(out, 0, what);
}

#[track_caller]
fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `pyve ARGS...` in the project.
fn pyve(sb: &Sandbox, args: &[&str]) -> Outcome {
    run(sb.e2e().args(args))
}

/// `pyve ARGS...` in `dir`.
fn pyve_in(sb: &Sandbox, dir: &Path, args: &[&str]) -> Outcome {
    run(sb.e2e().current_dir(dir).args(args))
}

fn init_project(sb: &Sandbox, minor: &str) -> String {
    let v = python(minor);
    ok(&pyve(sb, &["--init", "--python-version", &v, "--no-direnv"]), "pyve --init");
    v
}

fn write(p: &Path, text: &str) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn record(p: &Path) -> serde_json::Value {
    serde_json::from_str(&read(&p.join(".pyve/testenv/testenv.json"))).expect("testenv.json is JSON")
}

/// The seed's test plan, both parts: the test environment survives `pyve --init --force` and
/// `pyve --purge`, and `pyve run` never depends on it.
#[test]
fn seed_plan_survives_reinit_and_purge_and_run_never_uses_it() {
    let sb = sandbox();
    let p = sb.project();
    init_project(&sb, "3.12");

    // (1) init, install pytest, a passing test, `pyve test`.
    let out = pyve(&sb, &["testenv", "--init"]);
    ok(&out, "testenv --init");
    has(&out.stdout, "INFO: Creating dev/test runner environment in '.pyve/testenv/venv'...");
    has(&out.stdout, "✓ Created dev/test runner environment");
    assert!(out.stderr.is_empty(), "status lines go to stdout: {}", out.stderr);
    let out = pyve(&sb, &["testenv", "--install"]);
    ok(&out, "testenv --install");
    // Reference 2.5: the original's words, then pyve's detail in brackets.
    has(&out.stdout, "INFO: Installing dev/test dependencies into '.pyve/testenv/venv' (pytest) with ");
    has(&out.stdout, "✓ Dev/test dependencies installed");
    write(&p.join("tests/test_ok.py"), "def test_ok():\n    assert 1 + 1 == 2\n");
    let out = pyve(&sb, &["test"]);
    ok(&out, "pyve test");
    has(&out.stdout, "1 passed");
    std::fs::write(p.join(".pyve/testenv/venv/marker"), "keep").unwrap();
    let created_at = record(&p)["created_at"].clone();

    // The distutils shim's state is reported (a marked sitecustomize.py in the project env).
    let out = pyve(&sb, &["testenv", "--status"]);
    ok(&out, "status");
    has(&out.stdout, "Distutils shim: absent");
    let site = std::fs::read_dir(p.join(".venv/lib")).unwrap().next().unwrap().unwrap().path().join("site-packages");
    write(&site.join("sitecustomize.py"), "# pyve-managed: distutils shim\nimport os\n");
    let out = pyve(&sb, &["testenv", "--status"]);
    has(&out.stdout, "Distutils shim: present (.venv/lib/python3.12/site-packages/sitecustomize.py)");
    has(&out.stdout, "pytest:         installed (");
    std::fs::remove_file(site.join("sitecustomize.py")).unwrap();

    // Re-initialising with --force rebuilds the project environment, not the test one.
    let inode = std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino();
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
    ok(&out, "pyve --init --force");
    assert_ne!(std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino(), inode, "the project env was rebuilt");
    assert_eq!(read(&p.join(".pyve/testenv/venv/marker")), "keep", "--force never touches .pyve/testenv");
    assert_eq!(record(&p)["created_at"], created_at);
    let out = pyve(&sb, &["test"]);
    ok(&out, "pyve test after --init --force");
    has(&out.stdout, "1 passed");

    // (2) pytest is only in the test environment: `pyve run` uses the project's.
    let out = pyve(&sb, &["run", "python", "-c", "import pytest"]);
    assert_ne!(out.code, Some(0), "pytest must not be importable from the project env");
    has(&out.stderr, "No module named 'pytest'");
    ok(&pyve(&sb, &["run", "python", "-c", "pass"]), "pyve run python -c pass");
    let out = pyve(&sb, &["run", "python", "-c", "import sys; print(sys.prefix)"]);
    assert_eq!(out.stdout.trim(), p.join(".venv").display().to_string());

    // `pyve --purge` keeps it, and `pyve test` still works outside an initialised project.
    let out = pyve(&sb, &["--purge"]);
    ok(&out, "pyve --purge");
    has(&out.stdout, "preserved .pyve/testenv");
    assert!(!p.join(".pyve/config").exists() && !p.join(".venv").exists());
    assert_eq!(read(&p.join(".pyve/testenv/venv/marker")), "keep", "--purge never touches .pyve/testenv");
    let out = pyve(&sb, &["test"]);
    ok(&out, "pyve test after pyve --purge");
    has(&out.stdout, "1 passed");

    // Only `testenv --purge` removes it; `pyve run` does not care.
    init_project(&sb, "3.12");
    let out = pyve(&sb, &["testenv", "--purge"]);
    ok(&out, "testenv --purge");
    has(&out.stdout, "✓ Removed .pyve/testenv");
    assert!(!p.join(".pyve/testenv").exists());
    assert!(p.join(".pyve/config").exists(), "the project stays initialised");
    ok(&pyve(&sb, &["run", "python", "-c", "pass"]), "pyve run without the test environment");
    let out = pyve(&sb, &["test"]);
    code(&out, 1, "pyve test without the test environment");
    has(&out.stderr, "ERROR: Dev/test runner environment not initialized");
}

/// pytest's exit codes pass through; the directory pytest runs in; `-h` is pytest's; tools
/// from the environment with `testenv run`.
#[test]
fn pytest_exit_codes_directories_and_tools() {
    let sb = sandbox();
    let p = sb.project();
    write(&p.join("pyproject.toml"), "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n");
    init_project(&sb, "3.12");
    ok(&pyve(&sb, &["testenv", "--init"]), "testenv --init");
    ok(&pyve(&sb, &["testenv", "--install"]), "testenv --install");
    write(&p.join("tests/test_ok.py"), "def test_ok():\n    pass\n");
    write(&p.join("other/test_fail.py"), "def test_fail():\n    assert False\n");
    write(&p.join("src/pkg/test_here.py"), "def test_here():\n    pass\n");
    let sub = p.join("src/pkg");

    // No arguments, from a sub-directory: the project root, so testpaths applies.
    let out = pyve_in(&sb, &sub, &["test"]);
    ok(&out, "pyve test from a sub-directory");
    has(&out.stdout, &format!("rootdir: {}", p.display()));
    has(&out.stdout, "tests/test_ok.py .");
    has(&out.stdout, "1 passed");
    // With arguments: the current directory (relative paths keep their meaning).
    let out = pyve_in(&sb, &sub, &["test", "-q", "test_here.py"]);
    ok(&out, "pyve test test_here.py from the sub-directory");
    has(&out.stdout, "1 passed");

    // Exit codes: a failing test (1), no tests collected (5), usage error (4), pytest's help.
    let out = pyve(&sb, &["test", "-q", "other"]);
    code(&out, 1, "a failing test");
    has(&out.stdout, "1 failed");
    code(&pyve(&sb, &["test", "-q", "-k", "nothing_matches_this"]), 5, "no tests collected");
    code(&pyve(&sb, &["test", "--no-such-pytest-option"]), 4, "a pytest usage error");
    let out = pyve(&sb, &["test", "-h"]);
    ok(&out, "pyve test -h");
    has(&out.stdout, "usage:");
    has(&out.stdout, "pytest");

    // testenv run: a tool from the environment, exit codes, 127, the environment applied.
    let out = pyve(&sb, &["testenv", "run", "pytest", "--version"]);
    ok(&out, "testenv run pytest --version");
    has(&(out.stdout + &out.stderr), "pytest ");
    code(&pyve(&sb, &["testenv", "run", "python", "-c", "import sys; sys.exit(7)"]), 7, "exit code passes");
    let out = pyve(&sb, &["testenv", "run", "no-such-tool-xyz", "--flag"]);
    code(&out, 127, "a missing tool");
    has(&out.stderr, "ERROR: command not found: no-such-tool-xyz");
    has(&out.stderr, "hint: ");
    // Found but not executable: 126, as a shell says.
    std::fs::write(sb.project().join(".pyve/testenv/venv/bin/not-exec-tool"), "#!/bin/sh\n").unwrap();
    let out = pyve(&sb, &["testenv", "run", "not-exec-tool"]);
    code(&out, 126, "a tool that is not executable");
    has(&out.stderr, "chmod +x");
    let kill = "import os, signal; os.kill(os.getpid(), signal.SIGTERM)";
    // Killed by SIGTERM: pyve and the plugin both replaced themselves (exec), so the caller sees
    // the signal itself (a shell reports 128+15).
    let out = pyve(&sb, &["testenv", "run", "python", "-c", kill]);
    assert_eq!((out.code, out.signal), (None, Some(libc::SIGTERM)), "killed by SIGTERM: {}", out.stderr);
    let out = pyve_in(&sb, &sub, &["testenv", "run", "sh", "-c", "echo $VIRTUAL_ENV; command -v python; pwd"]);
    ok(&out, "testenv run sh");
    let env = p.join(".pyve/testenv/venv");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines,
        [env.display().to_string(), env.join("bin/python").display().to_string(), sub.display().to_string()]
    );
    // `pyve run` still uses the project's environment.
    let out = pyve(&sb, &["run", "sh", "-c", "command -v python"]);
    assert_eq!(out.stdout.trim(), p.join(".venv/bin/python").display().to_string());
}

/// `--install -r FILE` (real requirements), a missing file, a failing install, and the uv path.
#[test]
fn requirements_files_and_the_uv_installer() {
    let sb = sandbox();
    let p = sb.project();
    let v312 = python("3.12");
    write(&p.join(".python-version"), &format!("{v312}\n"));
    ok(&pyve(&sb, &["testenv", "--init"]), "testenv --init (no pyve project)");

    write(&p.join("requirements-dev.txt"), "iniconfig\n");
    let start = Instant::now();
    let out = pyve(&sb, &["testenv", "--install", "-r", "requirements-dev.txt"]);
    let pip_time = start.elapsed();
    ok(&out, "install -r requirements-dev.txt");
    has(&out.stdout, "with pip (PYVE_NO_UV=1)");
    has(&out.stdout, "✓ Dev/test dependencies installed");
    ok(&pyve(&sb, &["testenv", "run", "python", "-c", "import iniconfig"]), "iniconfig is installed");
    let out = pyve(&sb, &["run", "python", "-c", "pass"]);
    code(&out, 1, "no project environment: pyve run does not fall back on the test environment");

    let out = pyve(&sb, &["testenv", "--install", "-r", "missing.txt"]);
    code(&out, 1, "a missing requirements file");
    has(&out.stderr, "ERROR: Requirements file not found: missing.txt");
    write(&p.join("bad.txt"), "pyve-this-package-does-not-exist-4242\n");
    let out = pyve(&sb, &["testenv", "--install", "--requirements", "bad.txt"]);
    code(&out, 1, "a failing install");
    has(&out.stderr, "ERROR: Installing dev/test dependencies failed: `");
    has(&out.stderr, "hint: ");

    // uv, from PyPI into a throwaway venv in the sandbox; only `uv` itself goes on PATH.
    let tools = sb.path().join("uv-venv");
    let mut venv = Command::new(python_exe(&v312));
    sb.isolate(&mut venv);
    ok(&run(venv.args(["-m", "venv"]).arg(&tools)), "python -m venv for uv");
    let mut pip = Command::new(tools.join("bin/python"));
    sb.isolate(&mut pip);
    ok(&run(pip.args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "uv"])), "pip install uv");
    let uv_bin = sb.path().join("uv-bin");
    std::fs::create_dir_all(&uv_bin).unwrap();
    std::os::unix::fs::symlink(tools.join("bin/uv"), uv_bin.join("uv")).unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", uv_bin.display());
    // uv does not read pip's configuration: hand it the machine's CA settings, if any (a
    // proxy with its own certificate authority), as a user would have them.
    let with_uv = |args: &[&str]| {
        let mut cmd = sb.e2e();
        cmd.env("PATH", &path).env_remove("PYVE_NO_UV").args(args);
        for var in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        run(&mut cmd)
    };

    let start = Instant::now();
    let out = with_uv(&["testenv", "--install"]);
    let uv_time = start.elapsed();
    ok(&out, "install pytest with uv");
    has(&out.stdout, &format!("with uv ({})", uv_bin.join("uv").display()));
    has(&out.stdout, "✓ Dev/test dependencies installed");
    write(&p.join("test_x.py"), "def test_x():\n    pass\n");
    let out = with_uv(&["test", "-q"]);
    ok(&out, "pytest installed by uv runs");
    has(&out.stdout, "1 passed");
    let out = with_uv(&["testenv", "--install", "-r", "bad.txt"]);
    code(&out, 1, "a failing uv install");
    has(&out.stderr, "ERROR: Installing dev/test dependencies failed: `");
    eprintln!("install times: pip (iniconfig) {pip_time:?}, uv (pytest) {uv_time:?}");
    assert!(uv_time < Duration::from_secs(120));
}

/// The interpreter policy, the record, idempotency, the warning when the pin changes, and
/// `.gitignore`.
#[test]
fn interpreter_record_pin_drift_and_gitignore() {
    let sb = sandbox();
    let p = sb.project();
    let (v311, v312) = (python("3.11"), python("3.12"));
    write(&p.join(".gitignore"), "target"); // no final newline
    write(&p.join(".python-version"), &format!("{v311}\n"));

    let out = pyve(&sb, &["testenv", "--init"]);
    ok(&out, "testenv --init");
    has(&out.stdout, &format!("INFO: Using Python {v311} (pinned in .python-version): "));
    let out = run(Command::new(p.join(".pyve/testenv/venv/bin/python"))
        .args(["-c", "import sys; print(sys.version.split()[0], sys.prefix != sys.base_prefix)"]));
    assert_eq!(out.stdout.trim(), format!("{v311} True"));
    assert_eq!(read(&p.join(".gitignore")), "target\n.pyve/testenv\n", "added once, final newline fixed");

    // The record.
    let r = record(&p);
    assert_eq!(r["format"], 1);
    assert_eq!(r["python_version"], v311.as_str());
    assert_eq!(r["interpreter"], python_exe(&v311).display().to_string());
    assert!(!r["interpreter"].as_str().unwrap().contains("shims"), "never a shim");
    assert_eq!(r["source"], "pinned in .python-version");
    let plugin_version = pyve(&sb, &["testenv", "--version"]).stdout;
    assert_eq!(r["created_by"], plugin_version.trim(), "pyve-testenv X.Y.Z");
    assert_eq!(r["pyve_version"], pyve::env::VERSION);
    let at = r["created_at"].as_str().unwrap();
    assert!(at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");
    assert_eq!((r["gitignore_added"].as_bool(), r["gitignore_created"].as_bool()), (Some(true), Some(false)));
    let record_text = read(&p.join(".pyve/testenv/testenv.json"));

    // Idempotent: nothing is rebuilt or reinstalled.
    let inode = std::fs::metadata(p.join(".pyve/testenv/venv/pyvenv.cfg")).unwrap().ino();
    let out = pyve(&sb, &["testenv", "--init"]);
    ok(&out, "second testenv --init");
    assert_eq!(
        out.stdout.trim(),
        format!("INFO: Dev/test runner environment already exists: .pyve/testenv/venv (Python {v311})")
    );
    assert_eq!(std::fs::metadata(p.join(".pyve/testenv/venv/pyvenv.cfg")).unwrap().ino(), inode);
    assert_eq!(read(&p.join(".pyve/testenv/testenv.json")), record_text);
    assert_eq!(read(&p.join(".gitignore")), "target\n.pyve/testenv\n");

    // The project pins another version: said once per command, never changed silently.
    write(&p.join(".python-version"), &format!("{v312}\n"));
    let warning = format!(
        "WARNING: The dev/test runner environment uses Python {v311}, but Python {v312} is pinned in \
         .python-version; keeping it (rebuild it with `pyve testenv --purge && pyve testenv --init`)"
    );
    let out = pyve(&sb, &["testenv", "--init"]);
    ok(&out, "testenv --init after the pin changed");
    assert_eq!(out.stderr.lines().filter(|l| l.starts_with("WARNING:")).collect::<Vec<_>>(), [warning.as_str()]);
    assert_eq!(read(&p.join(".pyve/testenv/testenv.json")), record_text, "kept");
    // `pyve test` says so too (here before saying that pytest is missing).
    let out = pyve(&sb, &["test"]);
    code(&out, 1, "pyve test without pytest");
    has(&out.stderr, &warning);
    has(&out.stderr, "ERROR: pytest is not installed in the dev/test runner environment");
    // Reference 2.6: the original's users saw Python's "No module named pytest" here.
    has(&out.stderr, "No module named pytest");
    has(&out.stderr, "pyve testenv --install");
    let out = pyve(&sb, &["testenv", "--status"]);
    ok(&out, "status");
    has(&out.stdout, "Dev/test runner environment: .pyve/testenv/venv\n");
    has(&out.stdout, &format!("  Python:         {v311} ("));
    has(&out.stdout, "  pytest:         not installed");
    has(&out.stdout, &format!("  Project Python: {v312} (pinned in .python-version) - differs"));
    has(&out.stdout, "  Distutils shim: unknown: no project environment at .venv");

    // Rebuilt as the warning says: now with the project's Python.
    let out = pyve(&sb, &["testenv", "--purge"]);
    ok(&out, "testenv --purge");
    assert_eq!(read(&p.join(".gitignore")), "target\n", "exactly the line pyve added is removed");
    assert!(!p.join(".pyve").exists(), ".pyve held only the test environment");
    let out = pyve(&sb, &["testenv", "--purge"]);
    ok(&out, "second testenv --purge");
    has(&out.stdout, "INFO: No dev/test runner environment found at '.pyve/testenv'");
    ok(&pyve(&sb, &["testenv", "--init"]), "testenv --init");
    assert_eq!(record(&p)["python_version"], v312.as_str());

    // A .gitignore pyve created goes when nothing else is in it; a user's line stays.
    ok(&pyve(&sb, &["testenv", "--purge"]), "purge");
    std::fs::remove_file(p.join(".gitignore")).unwrap();
    ok(&pyve(&sb, &["testenv", "--init"]), "init without .gitignore");
    assert_eq!(read(&p.join(".gitignore")), ".pyve/testenv\n");
    assert_eq!(record(&p)["gitignore_created"], true);
    ok(&pyve(&sb, &["testenv", "--purge"]), "purge");
    assert!(!p.join(".gitignore").exists());
    write(&p.join(".gitignore"), "# mine\n.pyve/testenv/\n");
    ok(&pyve(&sb, &["testenv", "--init"]), "init with the user's line");
    assert_eq!(record(&p)["gitignore_added"], false);
    ok(&pyve(&sb, &["testenv", "--purge"]), "purge");
    assert_eq!(read(&p.join(".gitignore")), "# mine\n.pyve/testenv/\n");

    // Without any pin: the newest installed, said so, and `pyve --init` pins nothing for it.
    std::fs::remove_file(p.join(".python-version")).unwrap();
    let out = pyve(&sb, &["testenv", "--init"]);
    ok(&out, "init without a pin");
    has(&out.stdout, "the newest installed (the project pins no version)");
    assert!(!p.join(".python-version").exists(), "testenv never pins");
    // The project's recorded version (.pyve/config) counts as its pin.
    write(&p.join(".pyve/config"), &format!("backend: venv\npython:\n  version: {v311}\n"));
    let out = pyve(&sb, &["testenv", "--init"]);
    has(&out.stderr, &format!("but Python {v311} is recorded in .pyve/config"));
}

/// The test environment is never rebuilt by itself (the original's defect 21, a later
/// release's "stale environments" trap): after the project moves to another Python, doctor
/// says the test environment is stale (`⚠`, exit 0) instead of `✓`, in text and JSON.
#[test]
fn doctor_reports_a_test_environment_left_on_another_python() {
    let sb = sandbox();
    let v311 = init_project(&sb, "3.11");
    ok(&pyve(&sb, &["testenv", "--init"]), "testenv --init");
    let out = pyve(&sb, &["doctor"]);
    ok(&out, "doctor");
    has(&out.stdout, &format!("✓ Test environment: .pyve/testenv/venv (Python {v311})"));

    let v312 = python("3.12");
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--python-version", &v312]));
    ok(&out, "init --force on another Python");
    let out = pyve(&sb, &["doctor"]);
    ok(&out, "doctor: a warning alone exits 0");
    has(
        &out.stdout,
        &format!(
            "⚠ Test environment: .pyve/testenv/venv runs Python {v311}, but the project's environment runs Python \
             {v312}\n  Rebuild it with 'pyve testenv --purge && pyve testenv --init'"
        ),
    );
    let out = pyve(&sb, &["doctor", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("doctor --json");
    let check = json["checks"].as_array().unwrap().iter().find(|c| c["label"] == "Test environment").unwrap();
    assert_eq!(check["status"], "warn", "{check}");
}

/// Not initialised: every command that needs the environment says so, with the next step.
#[test]
fn not_initialised() {
    let sb = sandbox();
    let sub: PathBuf = sb.project().join("deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    for args in [&["testenv", "--install"][..], &["testenv", "run", "ruff"], &["test"], &["test", "-h"]] {
        let out = pyve_in(&sb, &sub, args);
        code(&out, 1, &args.join(" "));
        has(&out.stderr, "ERROR: Dev/test runner environment not initialized\nhint: run pyve testenv --init");
        assert!(out.stdout.is_empty());
    }
    let out = pyve(&sb, &["testenv", "--purge"]);
    ok(&out, "purge with nothing to purge");
    has(&out.stdout, "INFO: No dev/test runner environment found at '.pyve/testenv'");
}

/// Without uv on `PATH`, pyve provisions uv once into its cache (`pip download uv`), checks it
/// runs, and installs with it; a second project then installs offline from uv's cache.
#[test]
fn uv_is_provisioned_once_then_a_second_project_installs_offline() {
    let sb = sandbox();
    let p = sb.project();
    let v = python("3.12");
    write(&p.join(".python-version"), &format!("{v}\n"));
    let with_env = |dir: &Path, args: &[&str], cut: bool| {
        let mut inner = sb.e2e();
        inner.env_remove("PYVE_NO_UV").current_dir(dir).args(args);
        for var in ["SSL_CERT_FILE", "SSL_CERT_DIR", "PIP_CERT", "PIP_INDEX_URL"] {
            if let Some(val) = std::env::var_os(var) {
                inner.env(var, val);
            }
        }
        if !cut {
            return run(&mut inner);
        }
        let can_unshare = Command::new("unshare").args(["-rn", "true"]).output().is_ok_and(|o| o.status.success());
        if can_unshare {
            let mut cmd = Command::new("unshare");
            cmd.arg("-rn").arg(inner.get_program()).args(inner.get_args()).env_clear().current_dir(dir);
            for (k, val) in inner.get_envs() {
                if let Some(val) = val {
                    cmd.env(k, val);
                }
            }
            run(&mut cmd)
        } else {
            run(inner
                .env("UV_INDEX_URL", "http://127.0.0.1:9/simple")
                .env("PIP_INDEX_URL", "http://127.0.0.1:9/simple"))
        }
    };
    ok(&with_env(&p, &["testenv", "--init"], false), "testenv --init");
    let out = with_env(&p, &["testenv", "--install"], false);
    ok(&out, "testenv --install, provisioning uv");
    has(&out.stdout, "uv is not on PATH; fetching it once into pyve's cache (set PYVE_NO_UV=1 to keep pip)");
    let uv = sb.cache().join("pyve/wheels/uv");
    has(&out.stdout, "✓ Provisioned uv ");
    has(&out.stdout, &format!("with uv (pyve's copy, {}", uv.display()));
    ok(&with_env(&p, &["testenv", "run", "python", "-c", "import pytest"], false), "pytest installed");
    assert!(
        std::fs::read_dir(&uv).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with('.')),
        "no temporary directories left in {}",
        uv.display()
    );

    // A second project, the network cut: uv is reused, pytest comes from uv's cache.
    let second = sb.path().join("second");
    write(&second.join(".python-version"), &format!("{v}\n"));
    ok(&with_env(&second, &["testenv", "--init"], true), "testenv --init offline");
    let out = with_env(&second, &["testenv", "--install"], true);
    ok(&out, "testenv --install offline");
    assert!(!out.stdout.contains("fetching it once"), "{}", out.stdout);
    has(&out.stdout, "✓ Dev/test dependencies installed (from uv's cache, offline)");
    ok(&with_env(&second, &["testenv", "run", "python", "-c", "import pytest"], true), "pytest installed offline");

    // PYVE_NO_UV=1 keeps plain pip.
    write(&second.join("empty.txt"), "");
    let out = run(sb.e2e().current_dir(&second).args(["testenv", "--install", "-r", "empty.txt"]));
    has(&out.stdout, "with pip (PYVE_NO_UV=1)");
}

/// `pyve test` can import what the project's environment has installed (a `.pth` into its
/// site-packages, the interpreters being the same X.Y), while pytest comes from the test
/// environment.
#[test]
fn tests_import_the_projects_packages() {
    let sb = sandbox();
    let p = sb.project();
    write(&p.join("requirements.txt"), "iniconfig\n");
    init_project(&sb, "3.11");
    ok(&pyve(&sb, &["testenv", "--init"]), "testenv --init");
    ok(&pyve(&sb, &["testenv", "--install"]), "testenv --install");
    write(&p.join("tests/test_dep.py"), "import iniconfig\n\ndef test_dep():\n    assert iniconfig.__file__\n");
    let out = pyve(&sb, &["test", "tests"]);
    ok(&out, "pyve test");
    has(&out.stdout, "1 passed");
    let v = python("3.11");
    let short: String = v.split('.').take(2).collect::<Vec<_>>().join(".");
    let pth = p.join(format!(".pyve/testenv/venv/lib/python{short}/site-packages/_pyve_project.pth"));
    assert_eq!(read(&pth), format!("{}\n", p.join(format!(".venv/lib/python{short}/site-packages")).display()));

    // The project's environment purged: the tests' ImportError is explained, with the way back.
    ok(&pyve(&sb, &["--purge"]), "pyve --purge");
    // (iniconfig, a dependency of pytest, still imports from the test environment.)
    let out = pyve(&sb, &["test", "tests"]);
    ok(&out, "pyve test without the project's environment");
    has(
        &out.stderr,
        "WARNING: the project's environment (.venv) is missing: tests cannot import the project's packages (create it with `pyve --init`)",
    );
    assert!(!pth.exists(), "the link to a missing environment is removed");
    // A project that never had one (only a test environment) is not warned about.
    std::fs::remove_file(p.join("tests/test_dep.py")).unwrap();
    write(&p.join("tests/test_ok.py"), "def test_ok():\n    pass\n");
    let out = pyve(&sb, &["test", "tests"]);
    ok(&out, "pyve test in a project with only a test environment");
    assert!(!out.stderr.contains("WARNING"), "{}", out.stderr);
    // Set up again: linked again.
    init_project(&sb, "3.11");
    let out = pyve(&sb, &["test", "tests"]);
    ok(&out, "pyve test after pyve --init");
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert!(pth.exists());
}

/// pytest's package deleted while its metadata stays (by hand, an interrupted uninstall): the
/// installer would see pytest installed and do nothing, so `pyve testenv --install`, which
/// `pyve test` names, reinstalls it, with uv and with pip.
#[test]
fn install_repairs_a_pytest_whose_files_are_gone() {
    let sb = sandbox();
    let p = sb.project();
    init_project(&sb, "3.12");
    ok(&pyve(&sb, &["testenv", "--init"]), "testenv --init");
    ok(&pyve(&sb, &["testenv", "--install"]), "testenv --install");
    write(&p.join("tests/test_ok.py"), "def test_ok():\n    pass\n");
    let lib = p.join(".pyve/testenv/venv/lib");
    let site = std::fs::read_dir(&lib).unwrap().next().unwrap().unwrap().path().join("site-packages");
    for no_uv in [false, true] {
        std::fs::remove_dir_all(site.join("pytest")).unwrap();
        let out = pyve(&sb, &["test", "-q"]);
        code(&out, 1, "pyve test without pytest's files");
        has(&out.stderr, "No module named pytest");
        has(&out.stderr, "pyve testenv --install");
        let mut cmd = sb.e2e();
        if no_uv {
            cmd.env("PYVE_NO_UV", "1");
        }
        let out = run(cmd.args(["testenv", "--install"]));
        ok(&out, "testenv --install repairs pytest");
        has(&out.stdout, "✓ Dev/test dependencies installed");
        assert!(
            site.join("pytest/__init__.py").is_file(),
            "no_uv={no_uv}: pytest reinstalled\n{}{}",
            out.stdout,
            out.stderr
        );
        let out = pyve(&sb, &["test", "-q"]);
        ok(&out, "pyve test after the repair");
        has(&out.stdout, "1 passed");
    }
}

/// In a conda (micromamba) project the test environment is built on the conda environment's
/// Python, not the version manager's newest.
#[test]
fn a_conda_projects_tests_use_its_python() {
    let sb = sandbox();
    let p = sb.project();
    let v = python("3.12");
    let short: String = v.split('.').take(2).collect::<Vec<_>>().join(".");
    let conda_python = pyve_tests::pyenv_root().join(format!("versions/{v}/bin/python{short}"));
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::write(p.join(".pyve/config"), "backend: micromamba\nmicromamba:\n  env_name: demo\n").unwrap();
    let state = serde_json::json!({
        "format": 1, "pyve_version": "0.1.0", "project_root": p, "backend": "micromamba",
        "plugin": "micromamba", "plugin_version": "0.1.0", "env_path": p.join(".pyve/envs/demo"),
        "interpreter": conda_python, "activation": {},
    });
    std::fs::write(p.join(".pyve/state.json"), state.to_string()).unwrap();
    let out = pyve(&sb, &["testenv", "--init"]);
    ok(&out, "testenv --init");
    has(&out.stdout, &format!("Using Python {v} of the project's conda environment"));
    assert_eq!(record(&p)["python_version"], v.as_str());
    assert_eq!(record(&p)["source"], "the project's conda environment");
}

/// `--install -r <(cmd)` and `-r FIFO` (issue 17 item 11): a pipe is read once, bounded, into a
/// private temporary file the installer reads (uv's offline attempt and the real run both see
/// it), removed afterwards; a pipe holding more than the bound, a directory or a device is
/// refused by name with nothing installed.
#[test]
fn requirements_from_a_pipe() {
    use std::io::Write;
    let sb = sandbox();
    let p = sb.project();
    let v = python("3.12");
    write(&p.join(".python-version"), &format!("{v}\n"));
    ok(&pyve(&sb, &["testenv", "--init"]), "testenv --init");
    let tmp = sb.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();

    // A real FIFO, written by another thread once pyve opens it.
    let fifo = sb.path().join("requirements.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            w.write_all(b"iniconfig\n").unwrap();
        })
    };
    let out = run(sb.e2e().env("TMPDIR", &tmp).args(["testenv", "--install", "-r"]).arg(&fifo));
    writer.join().unwrap();
    ok(&out, "install -r FIFO");
    has(&out.stdout, &format!("(-r {})", fifo.display()));
    has(&out.stdout, "✓ Dev/test dependencies installed");
    ok(&pyve(&sb, &["testenv", "run", "python", "-c", "import iniconfig"]), "iniconfig is installed");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "the temporary copy is removed");

    // Process substitution, as a user types it: /dev/fd/N handed through the pyve host.
    let mut cmd = Command::new("bash");
    sb.isolate(&mut cmd);
    cmd.env("PYENV_ROOT", pyve_tests::pyenv_root()).env("PYVE_NO_UV", "1").env("TMPDIR", &tmp);
    cmd.arg("-c").arg(r#""$0" testenv --install -r <(printf 'iniconfig\n')"#).arg(sb.pyve());
    let out = run(&mut cmd);
    ok(&out, "install -r <(printf ...)");
    has(&out.stdout, "(-r /dev/fd/");
    has(&out.stdout, "✓ Dev/test dependencies installed");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    // More than the bound: refused, nothing installed, nothing left.
    let mut cmd = Command::new("bash");
    sb.isolate(&mut cmd);
    cmd.env("PYENV_ROOT", pyve_tests::pyenv_root()).env("PYVE_NO_UV", "1").env("TMPDIR", &tmp);
    cmd.arg("-c").arg(r#""$0" testenv --install -r <(head -c 2000000 /dev/zero | tr '\0' '#')"#).arg(sb.pyve());
    let out = run(&mut cmd);
    code(&out, 1, "a pipe over the bound");
    has(&out.stderr, "cannot read requirements from the pipe /dev/fd/");
    has(&out.stderr, "more than 1 MiB");
    assert!(!out.stdout.contains("Installing dev/test dependencies"), "{}", out.stdout);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    // Not a file and not a pipe.
    for (path, what) in [("/dev/null", "a device"), (".", "a directory")] {
        let out = pyve(&sb, &["testenv", "--install", "-r", path]);
        code(&out, 1, path);
        has(&out.stderr, &format!("(it is {what}, not a file or a pipe)"));
    }
}
