//! `pyve doctor` and `pyve --validate` end to end, with the real venv plugin and real CPython
//! interpreters: a healthy project, a custom venv directory, and the ways a project breaks
//! (venv deleted, the interpreter behind it gone, the project moved, the config corrupt or
//! from another pyve), and an uninitialised one. What the original's users' scripts read:
//! stdout, the exit code, a few words.

use std::path::{Path, PathBuf};

use pyve_tests::{Outcome, Sandbox, assert_matches_schema, python, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    sb
}

fn ok(out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(0), "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn init(sb: &Sandbox, args: &[&str]) {
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--no-direnv", "--force"]).args(args));
    ok(&out, "init");
}

fn doctor(sb: &Sandbox, dir: &Path) -> Outcome {
    run(sb.e2e().current_dir(dir).arg("doctor"))
}

fn validate(sb: &Sandbox, dir: &Path) -> Outcome {
    run(sb.e2e().current_dir(dir).arg("--validate"))
}

fn has_line(out: &Outcome, line: &str) -> bool {
    out.stdout.lines().any(|l| l == line)
}

fn set_recorded_version(project: &Path, version: &str) {
    let path = project.join(".pyve/config");
    let text = std::fs::read_to_string(&path).unwrap();
    let text =
        text.replacen(&format!("pyve_version: \"{}\"", pyve::env::VERSION), &format!("pyve_version: \"{version}\""), 1);
    std::fs::write(&path, text).unwrap();
}

#[test]
fn a_healthy_project_passes_and_an_uninitialised_one_says_so() {
    let sb = sandbox();
    let p = sb.project();
    let before = doctor(&sb, &p);
    assert_eq!(before.code, Some(1), "{}", before.stdout);
    assert!(
        before.stdout.contains("not initialized") && before.stdout.contains("No environment found"),
        "{}",
        before.stdout
    );
    assert!(has_line(&before, "  Run 'pyve --init' to create an environment"), "{}", before.stdout);

    let v = python("3.12");
    init(&sb, &["--backend", "venv", "--python-version", &v]);
    let out = doctor(&sb, &p);
    ok(&out, "doctor");
    assert!(
        out.stdout.starts_with("Pyve Environment Diagnostics\n=============================\n\n"),
        "{}",
        out.stdout
    );
    for line in [
        "✓ Backend: venv",
        "✓ Environment: .venv",
        &format!("✓ Python: {v}"),
        "✓ Version file: .python-version (pyenv)",
        &format!("  Python: {v}"),
        "✓ pyve run: python is .venv/bin/python",
        "⚠ Direnv: .envrc not found",
        "  Use 'pyve run' to execute commands",
        "✓ Environment file: .env (empty)",
    ] {
        assert!(has_line(&out, line), "`{line}` missing from:\n{}", out.stdout);
    }
    assert!(out.stdout.lines().any(|l| l.starts_with("✓ pip: ")), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l.starts_with("  Packages: ") && l.ends_with(" installed")), "{}", out.stdout);
    assert!(!out.stdout.to_lowercase().contains("error"), "a healthy project:\n{}", out.stdout);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    // Running it again changes nothing.
    ok(&doctor(&sb, &p), "doctor again");

    let json = run(sb.e2e().args(["doctor", "--json"]));
    ok(&json, "doctor --json");
    let j = assert_matches_schema("doctor.schema.json", &json.stdout);
    assert_eq!(j["backend"], "venv");
    assert_eq!(j["environment"]["exists"], true);
    assert_eq!(j["environment"]["python_version"], v.as_str());
    assert_eq!(j["counts"]["error"], 0);
    assert!(j["plugins"].as_array().unwrap().iter().any(|p| p["name"] == "venv" && p["role"] == "backend"), "{j:#}");
    assert!(j["checks"].as_array().unwrap().iter().any(|c| c["source"] == "venv"), "{j:#}");

    let val = validate(&sb, &p);
    ok(&val, "validate");
    assert!(
        val.stdout.starts_with("Pyve Installation Validation\n==============================\n\n"),
        "{}",
        val.stdout
    );
    for line in [
        &format!("✓ Pyve version: {} (current)", pyve::env::VERSION),
        "✓ Configuration: valid",
        "✓ Backend: venv",
        "✓ Virtual environment: .venv (exists)",
        &format!("✓ Python: {v} (.venv/bin/python runs)"),
        "✓ direnv integration: .env (exists)",
        "All validations passed.",
    ] {
        assert!(has_line(&val, line), "`{line}` missing from:\n{}", val.stdout);
    }
    let vj = run(sb.e2e().args(["--validate", "--json"]));
    ok(&vj, "validate --json");
    assert_eq!(assert_matches_schema("validate.schema.json", &vj.stdout)["result"], "passed");

    // --config names where --install puts pyve, as the original's report did (reference 2.9).
    let home = sb.home();
    let config = run(sb.e2e().arg("--config"));
    ok(&config, "--config");
    let line = format!("  Install directory:      {}", home.join(".local/bin").display());
    assert!(has_line(&config, &line), "`{line}` missing from:\n{}", config.stdout);
    let cj = run(sb.e2e().args(["--config", "--json"]));
    ok(&cj, "--config --json");
    let cj = assert_matches_schema("config.schema.json", &cj.stdout);
    assert_eq!(cj["install_dir"], home.join(".local/bin").display().to_string().as_str());

    // Works from a sub-directory, like every command.
    let sub = p.join("src");
    std::fs::create_dir_all(&sub).unwrap();
    ok(&doctor(&sb, &sub), "doctor in a sub-directory");

    // After --purge: not initialized again.
    ok(&run(sb.e2e().arg("--purge")), "purge");
    let after = doctor(&sb, &p);
    assert_eq!(after.code, Some(1));
    assert!(after.stdout.to_lowercase().contains("no environment"), "{}", after.stdout);
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1));
    assert!(val.stdout.contains("not found"), "{}", val.stdout);
}

#[test]
fn a_custom_venv_directory_is_the_one_checked() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["my_venv", "--python-version", &python("3.13")]);
    let out = doctor(&sb, &p);
    ok(&out, "doctor");
    assert!(has_line(&out, "✓ Environment: my_venv"), "{}", out.stdout);
    assert!(has_line(&out, "✓ pyve run: python is my_venv/bin/python"), "{}", out.stdout);
    let val = validate(&sb, &p);
    ok(&val, "validate");
    assert!(has_line(&val, "✓ Virtual environment: my_venv (exists)"), "{}", val.stdout);

    // Deleted: doctor fails and says so; validate exits 1.
    std::fs::remove_dir_all(p.join("my_venv")).unwrap();
    let out = doctor(&sb, &p);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(has_line(&out, "✗ Environment: not found: my_venv"), "{}", out.stdout);
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    assert!(has_line(&val, "✗ Virtual environment: my_venv (missing)"), "{}", val.stdout);
    assert!(has_line(&val, "Validation completed with errors."), "{}", val.stdout);
}

#[test]
fn an_interpreter_that_is_gone_is_an_error() {
    // A pyenv root of our own whose 3.12 is a link to the real one: removing the link
    // "uninstalls" the interpreter the environment was made from.
    let sb = &sandbox();
    let v = python("3.12");
    let fake = sb.path().join("fake-pyenv");
    std::fs::create_dir_all(fake.join("versions")).unwrap();
    std::os::unix::fs::symlink(pyve_tests::pyenv_root().join("versions").join(&v), fake.join("versions").join(&v))
        .unwrap();
    let with_root = |args: &[&str]| run(sb.e2e().env("PYENV_ROOT", &fake).args(args));
    ok(&with_root(&["--init", "--no-direnv", "--backend", "venv", "--python-version", &v]), "init with the fake pyenv");
    ok(&with_root(&["doctor"]), "doctor before");
    std::fs::remove_file(fake.join("versions").join(&v)).unwrap();

    let out = with_root(&["doctor"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("✗ Python: .venv/bin/python does not start"), "{}", out.stdout);
    assert!(out.stdout.contains("✗ Base interpreter: missing"), "{}", out.stdout);
    let val = with_root(&["--validate"]);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    assert!(val.stdout.contains("✗ Python: .venv/bin/python does not run"), "{}", val.stdout);
}

#[test]
fn a_venv_without_its_python_is_python_not_found() {
    // Reference 2.7: `✗ Python: not found in venv` when `.venv/bin/python` is not there; the
    // base interpreter it was made from is still installed and is not reported missing.
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.11")]);
    std::fs::remove_file(p.join(".venv/bin/python")).unwrap();
    let out = doctor(&sb, &p);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("✗ Python: not found in venv"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ Base interpreter: "), "{}", out.stdout);
    assert!(!out.stdout.contains("✗ Base interpreter"), "{}", out.stdout);
    // `pyve sync` sees unchanged inputs and does nothing here: not a fix to offer.
    assert!(has_line(&out, "  rebuild the environment: 'pyve --init --force'"), "{}", out.stdout);
    assert!(!out.stdout.contains("pyve sync"), "{}", out.stdout);
}

/// A stale environment (the later original's trap): the version asked for changed and the
/// environment was not rebuilt. `--validate` must not tick the recorded version.
#[test]
fn validate_warns_when_the_environment_runs_another_python_than_the_config_records() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.11")]);
    let val = validate(&sb, &p);
    assert!(has_line(&val, &format!("✓ Python version: {}", python("3.11"))), "{}", val.stdout);
    ok(&run(sb.e2e().current_dir(&p).args(["--python-version", &python("3.12")])), "--python-version");
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(2), "{}", val.stdout);
    let line = format!(
        "⚠ Python version: {} in .pyve/config, but the environment runs Python {}",
        python("3.12"),
        python("3.11")
    );
    assert!(has_line(&val, &line), "{}", val.stdout);
    assert!(has_line(&val, "  Recreate the environment with 'pyve --init --force'"), "{}", val.stdout);
}

#[test]
fn a_moved_project_is_diagnosed_by_running_its_scripts() {
    let sb = sandbox();
    init(&sb, &["--python-version", &python("3.11")]);
    let moved: PathBuf = sb.path().join("moved");
    std::fs::rename(sb.project(), &moved).unwrap();
    let out = doctor(&sb, &moved);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("✗ Project: this project was initialised at"), "{}", out.stdout);
    // The interpreter link still works, so only running pip shows the dead shebang.
    assert!(out.stdout.contains("✗ pip: .venv/bin/pip does not start: its interpreter"), "{}", out.stdout);
    assert!(out.stdout.contains("was the project moved?"), "{}", out.stdout);
    let val = validate(&sb, &moved);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    // `--update` rewrites only the config: it says what rebuilds the environment.
    let up = run(sb.e2e().current_dir(&moved).args(["--init", "--update"]));
    assert_eq!(up.code, Some(0), "{}{}", up.stdout, up.stderr);
    assert!(up.stderr.contains("has moved to") && up.stderr.contains("continuing without it"), "{}", up.stderr);
    assert!(up.stderr.contains("rebuild it with `pyve --init --force`"), "{}", up.stderr);
}

#[test]
fn a_corrupt_config_is_reported_with_its_line() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.12")]);
    std::fs::write(p.join(".pyve/config"), "invalid: yaml: [[[").unwrap();
    let out = doctor(&sb, &p);
    assert_eq!(out.code, Some(1), "never 2, never a panic: {}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✗ Configuration: invalid (.pyve/config:1: not valid YAML"), "{}", out.stdout);
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    assert!(val.stdout.contains("✗ Configuration: invalid (.pyve/config:1:"), "{}", val.stdout);
    assert!(!val.stdout.contains("Configuration: valid"), "{}", val.stdout);
}

#[test]
fn a_config_from_another_pyve_is_a_warning() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.12")]);
    let current = pyve::env::VERSION;
    for (recorded, doctor_warning) in [
        ("0.0.1", format!("WARNING: Project initialized with Pyve v0.0.1 (current: v{current})")),
        ("99.0.0", format!("WARNING: Project initialized with newer Pyve v99.0.0 (current: v{current})")),
    ] {
        let before = std::fs::read_to_string(p.join(".pyve/config")).unwrap();
        set_recorded_version(&p, recorded);
        let val = validate(&sb, &p);
        assert_eq!(val.code, Some(2), "warnings only: {}", val.stdout);
        assert!(has_line(&val, &format!("⚠ Pyve version: {recorded} (current: {current})")), "{}", val.stdout);
        assert!(has_line(&val, "Validation completed with warnings."), "{}", val.stdout);
        let out = doctor(&sb, &p);
        ok(&out, "doctor with another version");
        assert!(out.stderr.contains(&doctor_warning), "{}", out.stderr);
        let quiet = run(sb.e2e().env("PYVE_SKIP_VERSION_CHECK", "1").arg("doctor"));
        ok(&quiet, "doctor, version check skipped");
        assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
        std::fs::write(p.join(".pyve/config"), before).unwrap();
    }
    // Not recorded at all (a legacy project): a warning; and an error still wins over it.
    let text = std::fs::read_to_string(p.join(".pyve/config")).unwrap();
    let legacy: String = text.lines().filter(|l| !l.starts_with("pyve_version:")).map(|l| format!("{l}\n")).collect();
    std::fs::write(p.join(".pyve/config"), legacy).unwrap();
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(2), "{}", val.stdout);
    assert!(val.stdout.contains("not recorded (legacy project"), "{}", val.stdout);
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1), "errors win whatever the order: {}", val.stdout);
}

#[test]
fn a_config_without_a_backend_is_not_configured_even_with_a_state() {
    // Reference 2.8: `--validate` checks the config's `backend`; `.pyve/state.json` (pyve's
    // own record) naming one does not make an incomplete config valid, since `--init
    // --update` reads the config and refuses it.
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.11")]);
    let text = std::fs::read_to_string(p.join(".pyve/config")).unwrap();
    let without: String = text.lines().filter(|l| !l.starts_with("backend:")).map(|l| format!("{l}\n")).collect();
    std::fs::write(p.join(".pyve/config"), without).unwrap();
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    assert!(has_line(&val, "✗ Backend: not configured"), "{}", val.stdout);
    assert!(val.stdout.contains("add `backend: venv`"), "{}", val.stdout);
    assert!(has_line(&val, "Validation completed with errors."), "{}", val.stdout);
}

#[test]
fn direnv_and_dotenv_are_checked() {
    let sb = sandbox();
    let p = sb.project();
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--python-version", &python("3.12")]));
    ok(&out, "init with direnv");
    let out = doctor(&sb, &p);
    ok(&out, "doctor");
    if pyve::commands::run::find_on_path("direnv").is_some() {
        assert!(has_line(&out, "⚠ Direnv: .envrc configured, not allowed"), "{}", out.stdout);
        let allow = run(sb.e2e().env_remove("PYVE_PLUGIN_PATH").arg("run").args(["direnv", "allow", "."]));
        ok(&allow, "direnv allow");
        let out = doctor(&sb, &p);
        assert!(has_line(&out, "✓ Direnv: .envrc configured (allowed)"), "{}", out.stdout);
    }
    std::fs::write(p.join(".env"), "TOKEN=1\n").unwrap();
    std::fs::set_permissions(p.join(".env"), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = doctor(&sb, &p);
    ok(&out, "doctor with a readable .env");
    assert!(has_line(&out, "⚠ Environment file: .env (configured, mode 644: others can read it)"), "{}", out.stdout);
    assert!(has_line(&out, "  Run 'chmod 600 .env'"), "{}", out.stdout);
}

#[test]
fn relative_and_empty_path_entries_are_warnings() {
    let sb = Sandbox::new();
    let out = run(sb.pyve_cmd().env("PATH", "bin::/usr/bin:/bin").arg("doctor"));
    assert_eq!(out.code, Some(1), "no project: {}", out.stdout);
    assert!(
        has_line(
            &out,
            "⚠ PATH: relative entry 'bin': your shell resolves it against the current directory (pyve never searches it)"
        ),
        "{}",
        out.stdout
    );
    assert!(
        has_line(
            &out,
            "⚠ PATH: an empty entry: your shell searches the current directory for it (pyve never searches it)"
        ),
        "{}",
        out.stdout
    );
    let json = run(sb.pyve_cmd().env("PATH", "bin:/usr/bin:/bin").args(["doctor", "--json"]));
    let v = assert_matches_schema("doctor.schema.json", &json.stdout);
    assert_eq!(v["counts"]["warn"], 1, "{v:#}");
}

#[test]
fn a_pin_no_installed_plugin_matches_is_an_error_naming_what_was_found() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    std::fs::write(p.join(".pyve/config"), "backend: venv\nplugins:\n  venv: \"^9\"\n").unwrap();
    let out = doctor(&sb, &p);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let line =
        out.stdout.lines().find(|l| l.starts_with("✗ Backend plugin: ")).unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(line.contains("matches the pin venv \"^9\" (.pyve/config, line 3)"), "{line}");
    assert!(line.contains("found: venv "), "the version found is named: {line}");
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    assert!(val.stdout.contains("✗ Backend plugin: no installed copy of plugin 'venv' matches"), "{}", val.stdout);
}

/// A `bin/python` link that leads nowhere while the base interpreter is still installed: the
/// link is broken, the base interpreter is not "missing" (`pyenv install` would not help), and
/// pip's line says why it was not checked, in a whole sentence.
#[test]
fn a_dangling_python_link_is_not_a_missing_base_interpreter() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.12")]);
    let link = p.join(".venv/bin/python");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/nonexistent/python", &link).unwrap();
    let out = doctor(&sb, &p);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("✗ Python: .venv/bin/python does not start"), "{}", out.stdout);
    assert!(
        out.stdout.contains("is still there, but the environment's python links to /nonexistent/python"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("no longer exists") && !out.stdout.contains("pyenv install"), "{}", out.stdout);
    assert!(has_line(&out, "✗ pip: not checked: the environment's python does not start"), "{}", out.stdout);
    assert!(!out.stdout.contains("was the project moved?"), "{}", out.stdout);
}

/// A deleted environment of an initialised project: `pyve --init` refuses there (the project is
/// initialised), so both commands point at `pyve sync`, which makes it from .pyve/config.
#[test]
fn a_deleted_environment_points_at_sync() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.12")]);
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    let out = doctor(&sb, &p);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(has_line(&out, "  create it from .pyve/config with `pyve sync`"), "{}", out.stdout);
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    assert!(has_line(&val, "✗ Virtual environment: .venv (missing)"), "{}", val.stdout);
    assert!(
        has_line(&val, "  Run 'pyve sync' to create it from .pyve/config (or 'pyve --init --force')."),
        "{}",
        val.stdout
    );
    ok(&run(sb.e2e().current_dir(&p).arg("sync")), "the hint's command");
    ok(&doctor(&sb, &p), "doctor after sync");
}

/// A pin to a version the version manager has not installed: rebuilding would fail, so the
/// line says it is not installed and how to install it.
#[test]
fn a_pin_to_an_uninstalled_version_says_so() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.12")]);
    std::fs::write(p.join(".python-version"), "3.7.99\n").unwrap();
    let out = doctor(&sb, &p);
    assert!(
        out.stdout.contains("pins 3.7.99, which pyenv has not installed, but the environment uses Python"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("install it with `pyenv install 3.7.99`"), "{}", out.stdout);
}

/// `.pyve/config` that is a directory: the project is there, its config is unreadable. Not
/// "not initialized" (`pyve --init` refuses there), and the hint's command works.
#[test]
fn a_config_that_is_a_directory_is_invalid_not_uninitialised() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.12")]);
    std::fs::remove_file(p.join(".pyve/config")).unwrap();
    std::fs::create_dir(p.join(".pyve/config")).unwrap();
    let out = doctor(&sb, &p);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("✗ Configuration: invalid (") && out.stdout.contains("it is a directory"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("not initialized"), "{}", out.stdout);
    let val = validate(&sb, &p);
    assert_eq!(val.code, Some(1), "{}", val.stdout);
    assert!(val.stdout.contains("✗ Configuration: invalid ("), "{}", val.stdout);
    let cfg = run(sb.e2e().current_dir(&p).args(["--config", "--json"]));
    assert_eq!(cfg.code, Some(0), "{}", cfg.stderr);
    let v = assert_matches_schema("config.schema.json", &cfg.stdout);
    assert_eq!(v["config_file"], true, "{}", cfg.stdout);
    assert!(v["config_error"].as_str().is_some_and(|e| e.contains("directory")), "{}", cfg.stdout);
}

/// The hint for an unreadable config is a command that works: `pyve --init --force` refuses a
/// config it cannot read, so the file is moved aside first.
#[test]
fn a_corrupt_config_hint_is_a_command_that_works() {
    let sb = sandbox();
    let p = sb.project();
    init(&sb, &["--python-version", &python("3.12")]);
    std::fs::write(p.join(".pyve/config"), "invalid: yaml: [[[").unwrap();
    let out = doctor(&sb, &p);
    let hint = "  fix the file, or start over: `mv .pyve/config .pyve/config.broken && pyve --init --force`";
    assert!(has_line(&out, hint), "{}", out.stdout);
    let refused = run(sb.e2e().current_dir(&p).env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
    assert_eq!(refused.code, Some(1), "init --force refuses the corrupt config: {}", refused.stderr);
    std::fs::rename(p.join(".pyve/config"), p.join(".pyve/config.broken")).unwrap();
    init(&sb, &["--python-version", &python("3.12")]);
    ok(&doctor(&sb, &p), "doctor after starting over");
}
