//! pyve as the original tool's pytest harness (and its users' scripts) drive it: every run with
//! `PYVE_FORCE_YES=1` and `PYVE_TEST_PIN_PYTHON=1`, `pyve --init --no-direnv --force
//! --python-version V`, answers to prompts through a pipe, and assertions on stdout (`INFO:`,
//! `✓`, menus) and stderr (warnings, errors) separately. Real venv plugin, real CPython.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use pyve_tests::{Outcome, Sandbox, python, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    sb
}

/// The harness's environment: `PYVE_FORCE_YES=1`, `PYVE_TEST_PIN_PYTHON=1`.
fn harness(sb: &Sandbox) -> Command {
    let mut cmd = sb.e2e();
    cmd.env("PYVE_FORCE_YES", "1").env("PYVE_TEST_PIN_PYTHON", "1");
    cmd
}

/// The harness's `pyve.init()`: `--init --no-direnv --force --python-version V`.
fn harness_init(sb: &Sandbox, extra: &[&str]) -> Outcome {
    let v = python("3.12");
    run(harness(sb).args(["--init", "--no-direnv", "--force", "--python-version", &v]).args(extra))
}

/// Run with `input` written to a pipe on stdin, then the pipe closed (`subprocess.run(input=)`).
fn with_input(cmd: &mut Command, input: &str) -> Outcome {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    outcome(child.wait_with_output().unwrap())
}

/// Run with a pipe on stdin that stays open and silent.
fn with_silent_pipe(cmd: &mut Command) -> Outcome {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let _held_open = child.stdin.take();
    outcome(child.wait_with_output().unwrap())
}

fn outcome(out: std::process::Output) -> Outcome {
    Outcome::of(out, std::time::Duration::ZERO)
}

fn ok(out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(0), "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn set_recorded_version(sb: &Sandbox, version: &str) {
    let config = sb.project().join(".pyve/config");
    let text = read(&config)
        .replace(&format!("pyve_version: \"{}\"", pyve::env::VERSION), &format!("pyve_version: \"{version}\""));
    std::fs::write(&config, text).unwrap();
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).ino()
}

#[test]
fn pyve_test_pin_python_changes_nothing() {
    let v = python("3.12");
    let transcript = |pin: Option<&str>| {
        let sb = sandbox();
        let mut cmd = sb.e2e();
        if let Some(p) = pin {
            cmd.env("PYVE_TEST_PIN_PYTHON", p);
        }
        let out = run(cmd.args(["--init", "--no-direnv", "--python-version", &v]));
        ok(&out, &format!("init with PYVE_TEST_PIN_PYTHON={pin:?}"));
        let root = sb.path().display().to_string();
        (
            out.stdout.replace(&root, "[SB]"),
            out.stderr.replace(&root, "[SB]"),
            read(&sb.project().join(".python-version")),
        )
    };
    let plain = transcript(None);
    assert_eq!(transcript(Some("1")), plain);
    assert_eq!(transcript(Some("3.11.0")), plain, "not even a version in it is read");

    // Without --python-version it is not read either: the choice is the usual one.
    let sb = sandbox();
    let out = run(sb.e2e().env("PYVE_TEST_PIN_PYTHON", "1").args(["--init", "--no-direnv"]));
    ok(&out, "init without --python-version");
    assert!(!out.stdout.contains("PYVE_TEST_PIN_PYTHON") && !out.stderr.contains("PYVE_TEST_PIN_PYTHON"));
}

#[test]
fn a_first_init_reports_on_stdout_and_leaves_stderr_empty() {
    let sb = sandbox();
    let v = python("3.12");
    let out = harness_init(&sb, &[]);
    ok(&out, "init");
    assert_eq!(out.stderr, "", "nothing went wrong, so nothing on stderr");
    let lines: Vec<&str> = out.stdout.lines().collect();
    for expected in [
        "Initializing Python environment...",
        "  Backend:        venv",
        &format!("  Python version: {v}"),
        "  Venv directory: .venv",
        "INFO: Using pyenv for Python version management",
        &format!("✓ Created .python-version with Python {v}"),
        "INFO: Skipping .envrc creation (--no-direnv)",
        "✓ Created empty .env",
        "✓ Created .pyve/config",
        "✓ Python environment initialized successfully!",
        "Use 'pyve run <command>' to execute commands in the environment.",
    ] {
        assert!(lines.contains(&expected), "`{expected}` missing from stdout:\n{}", out.stdout);
    }
    assert!(read(&sb.project().join(".pyve/config")).contains("backend: venv"));
    // The original's tree (reference 2.1): `.envrc` is ignored also with `--no-direnv`.
    let gitignore = read(&sb.project().join(".gitignore"));
    let ignored: Vec<&str> = gitignore.lines().collect();
    for line in [".venv", ".env", ".envrc"] {
        assert!(ignored.contains(&line), "`{line}` missing from .gitignore:\n{gitignore}");
    }
}

#[test]
fn python_version_prints_the_originals_header_and_pin_on_stdout() {
    let sb = sandbox();
    let v = python("3.12");
    let out = run(harness(&sb).args(["--python-version", &v]));
    ok(&out, "--python-version");
    let lines: Vec<&str> = out.stdout.lines().collect();
    for expected in [
        &format!("Setting Python version to {v}...") as &str,
        "INFO: Using pyenv for Python version management",
        &format!("✓ Set Python {v} in .python-version"),
    ] {
        assert!(lines.contains(&expected), "`{expected}` missing from stdout:\n{}", out.stdout);
    }
    assert_eq!(out.stderr, "", "nothing went wrong, so nothing on stderr");
    assert_eq!(read(&sb.project().join(".python-version")).trim(), v);
}

#[test]
fn update_prints_the_originals_lines_on_stdout() {
    let sb = sandbox();
    ok(&harness_init(&sb, &[]), "init");
    let venv = sb.project().join(".venv/pyvenv.cfg");
    let before = inode(&venv);
    set_recorded_version(&sb, "0.8.7");
    let out = run(harness(&sb).args(["--init", "--update"]));
    ok(&out, "update");
    let v = pyve::env::VERSION;
    assert_eq!(
        out.stdout,
        format!(
            "INFO: Updating existing Pyve installation...\nINFO: ✓ Configuration updated\nINFO:   Version: 0.8.7 → {v}\n\
             INFO:   Backend: venv (unchanged)\n\nINFO: Project updated to Pyve v{v}\n"
        )
    );
    assert_eq!(out.stderr, "");
    assert_eq!(inode(&venv), before, "the environment is kept");
    assert!(read(&sb.project().join(".pyve/config")).starts_with(&format!("pyve_version: \"{v}\"\n")));

    // `--backend venv` is not a change.
    let out = run(harness(&sb).args(["--init", "--backend", "venv", "--update"]));
    ok(&out, "update --backend venv");
    assert!(out.stdout.contains("Configuration updated"), "{}", out.stdout);
}

#[test]
fn update_refuses_a_backend_change_on_stderr() {
    let sb = sandbox();
    ok(&harness_init(&sb, &[]), "init");
    let out = run(harness(&sb).args(["--init", "--backend", "micromamba", "--update"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "INFO: Updating existing Pyve installation...\n");
    assert_eq!(
        out.stderr,
        "ERROR: Cannot update in-place: Backend change detected\nERROR:   Current: venv\nERROR:   Requested: micromamba\n\
         ERROR: Backend changes require a clean re-initialization.\nhint: Run: pyve --init --force\n"
    );
}

#[test]
fn update_of_legacy_and_hand_made_projects() {
    // A config without pyve_version (before 0.8.8): updated, the version added.
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::create_dir_all(p.join(".venv/bin")).unwrap();
    std::fs::write(p.join(".pyve/config"), "backend: venv\n").unwrap();
    let out = run(harness(&sb).args(["--init", "--update"]));
    ok(&out, "legacy update");
    assert!(
        out.stdout.contains(&format!("INFO:   Version: (not recorded) → {}", pyve::env::VERSION)),
        "{}",
        out.stdout
    );
    assert_eq!(read(&p.join(".pyve/config")), format!("pyve_version: \"{}\"\nbackend: venv\n", pyve::env::VERSION));

    // A custom directory that is not a real venv (the harness's create_venv makes DIR/bin):
    // nothing is checked, the directory stays recorded.
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::create_dir_all(p.join("custom_venv/bin")).unwrap();
    std::fs::write(p.join(".pyve/config"), "pyve_version: \"0.8.8\"\nbackend: venv\nvenv:\n  directory: custom_venv\n")
        .unwrap();
    ok(&run(harness(&sb).args(["--init", "--update"])), "update of a hand-made project");
    assert!(read(&p.join(".pyve/config")).contains("  directory: custom_venv"));

    // The menu on a legacy project.
    let out = with_input(harness(&sb).arg("--init"), "1\n");
    ok(&out, "menu 1 on a hand-made project");
    assert!(out.stdout.contains("What would you like to do?"), "{}", out.stdout);

    // A corrupted config is refused, naming the file and line, and left alone.
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::write(p.join(".pyve/config"), "invalid: yaml: content:").unwrap();
    let out = run(harness(&sb).args(["--init", "--update"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains(".pyve/config, line 1"), "{}", out.stderr);
    assert_eq!(read(&p.join(".pyve/config")), "invalid: yaml: content:");
}

#[test]
fn force_confirms_through_a_pipe_or_the_environment() {
    let sb = sandbox();
    ok(&harness_init(&sb, &[]), "init");
    let p = sb.project();
    std::fs::write(p.join(".venv/marker.txt"), "test marker").unwrap();

    // Without PYVE_FORCE_YES: the question on stdout, answered through the pipe.
    let out = with_input(sb.e2e().args(["--init", "--force"]), "n\n");
    ok(&out, "force, answered n");
    assert!(out.stderr.contains("WARNING: Force re-initialization: This will purge the existing environment"));
    assert!(out.stderr.contains("WARNING:   Current backend: venv"), "{}", out.stderr);
    assert!(out.stdout.contains("Continue? [y/N]: n\n"), "{}", out.stdout);
    assert!(out.stdout.contains("INFO: Re-initialization cancelled"), "{}", out.stdout);
    assert!(p.join(".venv/marker.txt").exists());

    let out = with_input(sb.e2e().args(["--init", "--force", "--no-direnv"]), "y\n");
    ok(&out, "force, answered y");
    for expected in [
        "INFO: Purging existing environment...",
        "INFO: Proceeding with fresh initialization...",
        "INFO: ✓ Environment purged",
        "✓ Python environment initialized successfully!",
    ] {
        assert!(out.stdout.lines().any(|l| l == expected), "`{expected}` missing from stdout:\n{}", out.stdout);
    }
    assert!(!p.join(".venv/marker.txt").exists(), "the environment was rebuilt");

    // PYVE_FORCE_YES skips the question, not the warning.
    std::fs::write(p.join(".venv/marker.txt"), "test marker").unwrap();
    let out = harness_init(&sb, &["--backend", "venv"]);
    ok(&out, "force with PYVE_FORCE_YES");
    assert!(out.stderr.contains("Force re-initialization"), "{}", out.stderr);
    assert!(!out.stdout.contains("Continue?"), "{}", out.stdout);
    assert!(out.stdout.contains("Purging"), "{}", out.stdout);
    assert!(!p.join(".venv/marker.txt").exists());

    // End of input is no answer: exit 1, the variable named, nothing changed.
    let before = inode(&p.join(".venv/pyvenv.cfg"));
    let out = run(sb.e2e().args(["--init", "--force"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the input ended") && out.stderr.contains("PYVE_FORCE_YES=1"), "{}", out.stderr);
    assert_eq!(inode(&p.join(".venv/pyvenv.cfg")), before);
}

#[test]
fn force_on_projects_without_an_environment() {
    // A config and no environment.
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::write(p.join(".pyve/config"), "pyve_version: \"0.8.8\"\nbackend: venv\n").unwrap();
    let out = harness_init(&sb, &[]);
    ok(&out, "force without a venv");
    assert!(out.stdout.contains("INFO: No previous environment to purge"), "{}", out.stdout);
    assert!(p.join(".venv/pyvenv.cfg").exists());

    // A config for micromamba, whose plugin is not installed: nothing to purge through it.
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::write(
        p.join(".pyve/config"),
        "pyve_version: \"0.8.8\"\nbackend: micromamba\nmicromamba:\n  env_name: demo\n",
    )
    .unwrap();
    let out = harness_init(&sb, &["--backend", "venv"]);
    ok(&out, "force from micromamba to venv");
    assert!(out.stderr.contains("WARNING:   New backend:     venv"), "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "INFO: Nothing purged through the micromamba backend: backend 'micromamba' needs the plugin pyve-micromamba, which is not installed"
        ),
        "{}",
        out.stdout
    );
    assert!(p.join(".venv/pyvenv.cfg").exists());
    assert!(read(&p.join(".pyve/config")).contains("backend: venv"));
}

#[test]
fn the_menu_answered_through_a_pipe() {
    let sb = sandbox();
    ok(&harness_init(&sb, &[]), "init");
    set_recorded_version(&sb, "0.8.7");
    let venv = sb.project().join(".venv/pyvenv.cfg");
    let before = inode(&venv);

    // 3: cancelled; the menu, the prompt and both versions on stdout, warnings on stderr.
    let out = with_input(harness(&sb).arg("--init"), "3\n");
    ok(&out, "menu 3");
    let v = pyve::env::VERSION;
    assert!(
        out.stdout.contains(
            "What would you like to do?\n  1. Update in-place (preserves environment, updates config)\n  \
             2. Purge and re-initialize (clean slate)\n  3. Cancel\n\nChoose [1/2/3]: 3\nINFO: Initialization cancelled\n"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("0.8.7") && out.stdout.contains(v), "{}", out.stdout);
    assert!(
        out.stderr.contains("WARNING: Project already initialized with Pyve\nWARNING:   Recorded version: 0.8.7\n")
    );
    assert!(
        out.stderr.contains(&format!("WARNING:   Current version: {v}\nWARNING:   Backend: venv\n")),
        "{}",
        out.stderr
    );
    assert_eq!(inode(&venv), before);

    // 5: not a choice.
    let out = with_input(harness(&sb).arg("--init"), "5\n");
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("ERROR: Invalid choice: 5"), "{}", out.stderr);
    assert_eq!(inode(&venv), before);

    // 1 with another backend: refused.
    let out = with_input(harness(&sb).args(["--init", "--backend", "micromamba"]), "1\n");
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("Cannot update in-place: Backend change detected"), "{}", out.stderr);
    assert!(out.stderr.contains("Use option 2"), "{}", out.stderr);

    // 1: updated in place.
    let out = with_input(harness(&sb).arg("--init"), "1\n");
    ok(&out, "menu 1");
    assert!(out.stdout.contains("INFO: ✓ Configuration updated"), "{}", out.stdout);
    assert!(!out.stdout.contains("Updating existing Pyve installation"), "the menu does not print it");
    assert_eq!(inode(&venv), before);

    // 2: purged and re-initialised (no second question, even without PYVE_FORCE_YES).
    let out = with_input(sb.e2e().args(["--init", "--no-direnv"]), "2\n");
    ok(&out, "menu 2");
    assert!(out.stdout.contains("INFO: Purging existing environment..."), "{}", out.stdout);
    assert!(!out.stdout.contains("Continue?"), "{}", out.stdout);
    assert_ne!(inode(&venv), before);

    // End of input (</dev/null): exit 1, the flags named, nothing changed. It mentions the
    // backend, as the original's users' tests expect of a non-interactive re-init.
    let before = inode(&venv);
    let out = run(harness(&sb).arg("--init"));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("the input ended"), "{}", out.stderr);
    assert!(out.stderr.contains("backend") && out.stderr.contains("--update") && out.stderr.contains("--force"));
    assert_eq!(inode(&venv), before);

    // A pipe that stays silent: the bounded wait, then the same message.
    let out = with_silent_pipe(harness(&sb).env("PYVE_PROMPT_TIMEOUT", "1").arg("--init"));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("gave no answer within 1 s"), "{}", out.stderr);
    assert!(out.stderr.contains("--update"), "{}", out.stderr);
    assert_eq!(inode(&venv), before);
}

#[test]
fn venv_dir_is_the_directory_everywhere() {
    let sb = sandbox();
    let p = sb.project();
    let out = harness_init(&sb, &["--venv-dir", "my_venv"]);
    ok(&out, "init --venv-dir");
    assert!(out.stdout.contains("  Venv directory: my_venv"), "{}", out.stdout);
    assert!(p.join("my_venv/pyvenv.cfg").exists() && !p.join(".venv").exists());
    let out = run(sb.e2e().args(["run", "python", "-c", "import sys; print(sys.prefix)"]));
    ok(&out, "run");
    assert_eq!(out.stdout.trim(), p.join("my_venv").display().to_string());

    // Re-init through the harness keeps it.
    ok(&harness_init(&sb, &["--venv-dir", "my_venv"]), "force --venv-dir");
    assert!(read(&p.join(".pyve/config")).contains("directory: my_venv"));

    // Both spellings, different: a usage error, nothing changed.
    let out = run(harness(&sb).args(["--init", "other", "--venv-dir", "my_venv"]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("two values given for --venv-dir: 'other' (the argument) and 'my_venv' (--venv-dir)"),
        "{}",
        out.stderr
    );

    let out = run(sb.e2e().args(["--purge", "--venv-dir", "my_venv"]));
    ok(&out, "purge --venv-dir");
    assert!(!p.join("my_venv").exists() && !p.join(".pyve/config").exists());
}

/// A project set up by the original tool has `.pyve/config` and `.venv` but no
/// `.pyve/state.json`: `pyve run` asks the configured backend where the environment is, runs in
/// it, and writes nothing.
#[test]
fn run_works_in_a_project_the_original_tool_set_up() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::write(
        p.join(".pyve/config"),
        "pyve_version: \"0.9.2\"\nbackend: venv\nvenv:\n  directory: .venv\npython:\n  version: 3.12\n",
    )
    .unwrap();
    let base = pyve_tests::pyenv_root().join("versions").join(python("3.12")).join("bin/python3");
    let made = Command::new(&base).args(["-m", "venv", "--without-pip", ".venv"]).current_dir(&p).status().unwrap();
    assert!(made.success(), "python -m venv");
    let out = run(harness(&sb).args(["run", "python", "-c", "import sys; print(sys.prefix)"]));
    ok(&out, "pyve run in the original's project");
    assert_eq!(out.stdout.trim(), p.join(".venv").display().to_string());
    assert!(!p.join(".pyve/state.json").exists(), "pyve run writes nothing");
}
