//! The project lifecycle end to end, with the real venv plugin and real CPython interpreters:
//! `pyve --init`, `pyve run`, re-initialisation, `pyve --purge`, `--python-version`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use pyve_tests::{Outcome, Sandbox, python, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    sb
}

fn ok(out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(0), "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn init(sb: &Sandbox, args: &[&str]) -> Outcome {
    run(sb.e2e().arg("--init").args(args))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn pyve_run(sb: &Sandbox, args: &[&str]) -> Outcome {
    run(sb.e2e().arg("run").args(args))
}

#[test]
fn init_run_purge_on_every_supported_python() {
    for minor in ["3.11", "3.12", "3.13"] {
        let v = python(minor);
        let sb = sandbox();
        let p = sb.project();
        std::fs::write(p.join(".gitignore"), "target\n.venv\n").unwrap(); // `.venv` is the user's line
        let out = init(&sb, &["--python-version", &v, "--no-direnv"]);
        ok(&out, "init");
        for expected in [
            "Initializing Python environment...",
            "  Backend:        venv",
            &format!("  Python version: {v}"),
            "  Venv directory: .venv",
            "✓ Created virtual environment",
            "INFO: Skipping .envrc creation (--no-direnv)",
            "✓ Created empty .env",
            "✓ Created .pyve/config",
            "✓ Python environment initialized successfully!",
        ] {
            assert!(out.stdout.contains(expected), "{minor}: `{expected}` missing from:\n{}", out.stdout);
        }
        assert_eq!(out.stderr, "", "status lines go to stdout; nothing went wrong");
        // The header already names the exact version asked for: no second line about it.
        assert!(!out.stdout.contains("Using Python"), "{minor}: said twice:\n{}", out.stdout);

        // The files.
        assert!(p.join(".venv/pyvenv.cfg").is_file());
        assert_eq!(read(&p.join(".python-version")).trim(), v);
        let config = read(&p.join(".pyve/config"));
        assert!(
            config.starts_with(&format!(
                "pyve_version: \"{}\"\nbackend: venv\nvenv:\n  directory: .venv\n",
                pyve::env::VERSION
            )),
            "{config}"
        );
        assert!(config.contains(&format!("python:\n  version: {v}\n")), "{config}");
        assert_eq!(std::fs::metadata(p.join(".env")).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!p.join(".envrc").exists());
        let gitignore = read(&p.join(".gitignore"));
        assert_eq!(
            gitignore, "target\n.venv\n.env\n.envrc\n.pyve/state.json\n.pyve/lock\n",
            "user lines kept, pyve's added once"
        );

        // run: the environment's python, sys.prefix inside it, from a sub-directory too.
        let sub = p.join("src/pkg");
        std::fs::create_dir_all(&sub).unwrap();
        let out = run(sb.e2e().current_dir(&sub).args([
            "run",
            "python",
            "-c",
            "import sys; print(sys.prefix != sys.base_prefix, sys.prefix, sys.version.split()[0])",
        ]));
        ok(&out, "run python");
        assert_eq!(out.stdout.trim(), format!("True {} {v}", p.join(".venv").display()));
        // PATH: the environment first, then the system (bash is not in the venv).
        let out = pyve_run(&sb, &["bash", "-c", "echo $VIRTUAL_ENV; command -v python; command -v pip"]);
        ok(&out, "run bash");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines,
            [
                p.join(".venv").display().to_string(),
                p.join(".venv/bin/python").display().to_string(),
                p.join(".venv/bin/pip").display().to_string()
            ]
        );

        // purge: everything pyve made, nothing of the user's.
        let out = run(sb.e2e().current_dir(&sub).arg("--purge"));
        ok(&out, "purge");
        assert!(!p.join(".venv").exists());
        assert!(!p.join(".python-version").exists(), "pyve wrote the pin, so purge removes it");
        assert!(!p.join(".env").exists(), "an empty .env goes");
        assert!(!p.join(".pyve").exists());
        // The original's lines (reference 2.2), on stdout.
        for line in [
            "✓ Removed .pyve directory (config and micromamba environments)",
            "✓ Python environment artifacts removed.",
        ] {
            assert!(out.stdout.lines().any(|l| l == line), "`{line}` missing from:\n{}", out.stdout);
        }
        assert_eq!(read(&p.join(".gitignore")), "target\n.venv\n", "exactly pyve's lines removed");
    }
}

#[test]
fn pip_installs_real_packages_into_the_environment() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.12"), "--no-direnv"]), "init");
    let out = pyve_run(&sb, &["pip", "install", "--disable-pip-version-check", "-q", "iniconfig"]);
    ok(&out, "pip install");
    let out =
        pyve_run(&sb, &["python", "-c", "import iniconfig, sys; print(iniconfig.__file__.startswith(sys.prefix))"]);
    ok(&out, "import");
    assert_eq!(out.stdout.trim(), "True");
}

#[test]
fn run_passes_exit_codes_signals_and_reports_unknown_commands() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    assert_eq!(pyve_run(&sb, &["python", "-c", "raise SystemExit(42)"]).code, Some(42));
    // pyve replaces itself with the command: a shell sees the command's own death by signal
    // (and reports 128+n, as for any command).
    let shell = |inner: &str| {
        let mut cmd = sb.e2e();
        cmd.arg("run").args(["bash", "-c", inner]);
        let mut sh = Command::new("sh");
        sh.arg("-c").arg("\"$@\"; echo \"status $?\"").arg("sh").arg(cmd.get_program()).args(cmd.get_args());
        sb.isolate(&mut sh);
        sh.env("PYENV_ROOT", pyve_tests::pyenv_root()).env("PYVE_DISABLE_DISTUTILS_SHIM", "1");
        run(&mut sh).stdout
    };
    assert_eq!(shell("kill -TERM $$").trim(), "status 143");
    assert_eq!(shell("kill -KILL $$").trim(), "status 137");
    let out = pyve_run(&sb, &["no-such-tool", "--flag"]);
    assert_eq!(out.code, Some(127));
    assert!(out.stderr.contains("ERROR: command not found: no-such-tool"), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "hint: if it is a Python package, install it into the environment (pyve run pip install no-such-tool)"
        ),
        "{}",
        out.stderr
    );
    // A command whose name starts with a dash is a command, not an option.
    let out = pyve_run(&sb, &["-weird"]);
    assert_eq!(out.code, Some(127), "{}", out.stderr);
    // stdin is the user's.
    let mut cmd = sb.e2e();
    cmd.args(["run", "python", "-c", "import sys; print(sys.stdin.read().upper())"]);
    let out = cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(b"hello")?;
        c.wait_with_output()
    });
    assert_eq!(String::from_utf8_lossy(&out.unwrap().stdout).trim(), "HELLO");
}

#[test]
fn run_loads_dotenv_over_the_callers_variables_as_direnv_does() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    std::fs::write(sb.project().join(".env"), "API_TOKEN=secret\nexport MODE=\"dev mode\"\nKEEP=from-dotenv\n")
        .unwrap();
    let out = run(sb.e2e().env("KEEP", "mine").args(["run", "bash", "-c", "echo $API_TOKEN/$MODE/$KEEP"]));
    ok(&out, "run");
    // As direnv's `dotenv` (issue 24 item 7): the project's .env wins over the environment.
    assert_eq!(out.stdout.trim(), "secret/dev mode/from-dotenv");
}

#[test]
fn a_custom_environment_directory_is_honoured_everywhere() {
    let sb = sandbox();
    let out = init(&sb, &["envs-here", "--python-version", &python("3.11"), "--no-direnv"]);
    ok(&out, "init");
    assert!(out.stdout.contains("  Venv directory: envs-here"), "{}", out.stdout);
    let p = sb.project();
    assert!(p.join("envs-here/pyvenv.cfg").is_file());
    assert!(read(&p.join(".pyve/config")).contains("venv:\n  directory: envs-here\n"));
    assert!(read(&p.join(".gitignore")).contains("envs-here\n"));
    let out = pyve_run(&sb, &["python", "-c", "import sys; print(sys.prefix)"]);
    assert_eq!(out.stdout.trim(), p.join("envs-here").display().to_string());
    let out = run(sb.e2e().args(["--purge", ".venv"]));
    assert_eq!(out.code, Some(1), "a directory that is not the project's environment is refused");
    assert!(
        out.stderr.contains("'.venv' is not this project's environment: .pyve records 'envs-here'"),
        "{}",
        out.stderr
    );
    ok(&run(sb.e2e().args(["--purge", "envs-here"])), "purge");
    assert!(!p.join("envs-here").exists());
}

/// A CRLF `.gitignore` (a Windows checkout): init adds its lines with the file's own line
/// ending, and purge removes them and leaves every other line byte for byte (it rewrote them
/// all with LF, so that every line of the user's file showed as changed).
#[test]
fn a_crlf_gitignore_keeps_its_line_endings() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::write(p.join(".gitignore"), "node_modules\r\n*.log\r\n").unwrap();
    ok(&init(&sb, &["--no-direnv"]), "init");
    let text = read(&p.join(".gitignore"));
    assert!(text.starts_with("node_modules\r\n*.log\r\n.venv\r\n.env\r\n"), "{text:?}");
    assert!(!text.replace("\r\n", "").contains('\n'), "one line ending: {text:?}");
    ok(&init(&sb, &["--update"]), "re-init");
    assert_eq!(read(&p.join(".gitignore")), text, "a re-init adds nothing");
    ok(&run(sb.e2e().arg("--purge")), "purge");
    assert_eq!(read(&p.join(".gitignore")), "node_modules\r\n*.log\r\n");

    // No final line ending: pyve ends the last line to add its own, and purge takes it back.
    std::fs::write(p.join(".gitignore"), "node_modules\r\n*.log").unwrap();
    ok(&init(&sb, &["--no-direnv"]), "init");
    assert!(read(&p.join(".gitignore")).starts_with("node_modules\r\n*.log\r\n.venv\r\n"));
    ok(&run(sb.e2e().arg("--purge")), "purge");
    assert_eq!(read(&p.join(".gitignore")), "node_modules\r\n*.log", "byte for byte");
}

#[test]
fn existing_files_are_never_overwritten() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::write(p.join(".envrc"), "export MINE=1\n").unwrap();
    std::fs::write(p.join(".env"), "SECRET=1\n").unwrap();
    std::fs::set_permissions(p.join(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(p.join(".python-version"), format!("{}\n", python("3.11"))).unwrap();
    let out = init(&sb, &[]);
    ok(&out, "init");
    assert!(out.stdout.contains("INFO: .envrc already exists, skipping"), "{}", out.stdout);
    assert!(out.stdout.contains("INFO: .env already exists, skipping"), "{}", out.stdout);
    // Defect 18 of the original: the mode of an existing `.env` is tightened too.
    assert!(out.stdout.contains("✓ Set .env to mode 600 (was 644): it holds secrets"), "{}", out.stdout);
    assert_eq!(std::fs::metadata(p.join(".env")).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(read(&p.join(".envrc")), "export MINE=1\n");
    assert_eq!(read(&p.join(".env")), "SECRET=1\n");
    // The existing pin chose the interpreter, and stays the user's.
    let out = pyve_run(&sb, &["python", "-c", "import sys; print(sys.version.split()[0])"]);
    assert_eq!(out.stdout.trim(), python("3.11"));
    ok(&run(sb.e2e().arg("--purge")), "purge");
    assert_eq!(read(&p.join(".envrc")), "export MINE=1\n", "purge keeps the user's .envrc");
    assert_eq!(read(&p.join(".env")), "SECRET=1\n", "and a .env with data");
    assert!(p.join(".python-version").exists(), "and a pin pyve did not write");
}

/// Purge keeps every pin it did not write as it is (the original deleted `.tool-versions` and
/// `.python-version` unconditionally, its defect 2): a `.tool-versions` of other tools, and a
/// pin pyve wrote that the user has changed since.
#[test]
fn purge_keeps_pins_that_are_not_pyves() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::write(p.join(".tool-versions"), "nodejs 20.1.0\n").unwrap();
    ok(&init(&sb, &["--python-version", &python("3.12"), "--no-direnv"]), "init");
    assert_eq!(read(&p.join(".tool-versions")), "nodejs 20.1.0\n", "init leaves another tool's pins alone");
    let mine = python("3.11");
    std::fs::write(p.join(".python-version"), format!("{mine}\n")).unwrap();
    let out = run(sb.e2e().arg("--purge"));
    ok(&out, "purge");
    assert!(out.stdout.contains("INFO: Kept .tool-versions: not created by pyve"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("INFO: Kept .python-version: it now pins {mine}")), "{}", out.stdout);
    assert_eq!(read(&p.join(".tool-versions")), "nodejs 20.1.0\n");
    assert_eq!(read(&p.join(".python-version")), format!("{mine}\n"));
    assert!(!p.join(".venv").exists() && !p.join(".pyve").exists(), "the rest is gone");
}

#[test]
fn an_environment_found_at_init_is_the_users_and_purge_keeps_it() {
    // A venv the user made (`python -m venv`, with what they installed) is kept by `--init`;
    // `--purge` removes what pyve created, so it keeps that one too unless it is named.
    let sb = sandbox();
    let p = sb.project();
    let venv = |p: &Path| {
        let py = pyve_tests::python_exe(&python("3.11"));
        ok(&run(Command::new(py).args(["-m", "venv", "--without-pip"]).arg(p.join(".venv"))), "python -m venv");
        std::fs::write(p.join(".venv/users-file"), "mine").unwrap();
    };
    venv(&p);
    let out = init(&sb, &["--no-direnv"]);
    ok(&out, "init");
    assert!(out.stdout.contains("Virtual environment '.venv' already exists, skipping"), "{}", out.stdout);
    let out = run(sb.e2e().arg("--purge"));
    ok(&out, "purge");
    assert!(out.stdout.contains("INFO: Kept .venv: it was there before `pyve --init`"), "{}", out.stdout);
    assert!(p.join(".venv/users-file").is_file(), "purge deleted the user's environment");
    assert!(!p.join(".pyve").exists(), "the rest of pyve's files go");
    // Named, it goes.
    ok(&init(&sb, &["--no-direnv"]), "init again");
    ok(&run(sb.e2e().args(["--purge", ".venv"])), "purge .venv");
    assert!(!p.join(".venv").exists(), "`--purge .venv` removes it");
    // Rebuilt by pyve (`--force`), it is pyve's: purge removes it.
    venv(&p);
    ok(&init(&sb, &["--no-direnv"]), "init over a venv");
    ok(&run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"])), "force");
    ok(&run(sb.e2e().arg("--purge")), "purge after force");
    assert!(!p.join(".venv").exists(), "an environment pyve rebuilt is pyve's");
}

#[test]
fn local_env_copies_the_template() {
    let sb = sandbox();
    let template = sb.home().join(".local/.env");
    std::fs::create_dir_all(template.parent().unwrap()).unwrap();
    std::fs::write(&template, "TOKEN=abc\n").unwrap();
    let out = init(&sb, &["--local-env", "--python-version", &python("3.11"), "--no-direnv"]);
    ok(&out, "init");
    assert!(out.stdout.contains(&format!("✓ Copied {} to .env", template.display())), "{}", out.stdout);
    let env = sb.project().join(".env");
    assert_eq!(read(&env), "TOKEN=abc\n");
    assert_eq!(std::fs::metadata(&env).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn envrc_really_activates_under_direnv() {
    let Some(direnv) = pyve::commands::run::find_on_path("direnv") else {
        panic!("direnv is not installed: .ci/run installs it (apt-get install direnv)");
    };
    let sb = sandbox();
    let v = python("3.12");
    ok(&init(&sb, &["--python-version", &v]), "init");
    let p = sb.project();
    let envrc = read(&p.join(".envrc"));
    assert!(envrc.starts_with("# pyve-managed .envrc"), "{envrc}");
    let direnv_cmd = |args: &[&str]| {
        let mut c = Command::new(&direnv);
        sb.isolate(&mut c);
        c.args(args)
            .env("XDG_CONFIG_HOME", sb.home().join(".config"))
            .env("XDG_DATA_HOME", sb.home().join(".local/share"));
        c
    };
    ok(&run(&mut direnv_cmd(&["allow", "."])), "direnv allow");
    let out = run(&mut direnv_cmd(&[
        "exec",
        ".",
        "python",
        "-c",
        "import os, sys; print(sys.prefix); print(os.environ['VIRTUAL_ENV']); print(os.environ['PYVE_PROMPT_PREFIX'])",
    ]));
    ok(&out, "direnv exec");
    let lines: Vec<&str> = out.stdout.lines().collect();
    let venv = p.join(".venv").display().to_string();
    assert_eq!(lines[0], venv);
    assert_eq!(lines[1], venv);
    assert_eq!(lines[2], format!("(venv:{}) ", p.file_name().unwrap().to_string_lossy()));
    // .env is loaded by direnv too.
    std::fs::write(p.join(".env"), "FROM_DOTENV=yes\n").unwrap();
    let out = run(&mut direnv_cmd(&["exec", ".", "bash", "-c", "echo $FROM_DOTENV"]));
    assert_eq!(out.stdout.trim(), "yes", "{}", out.stderr);
}

#[test]
fn reinit_without_a_terminal_names_the_flags() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    let out = init(&sb, &[]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("already initialised with pyve (backend: venv"), "{}", out.stderr);
    assert!(out.stderr.contains("--update") && out.stderr.contains("--force"), "{}", out.stderr);
}

/// `--force` with a directory the backend refuses: refused before the question and before
/// "Purging existing environment..." (the original's defect 3: purge before validating), with
/// an answer waiting in the pipe that is never read.
#[test]
fn force_refuses_a_bad_directory_before_asking() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    let p = sb.project();
    let inode = std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino();
    for dir in [".", "..", ".pyve"] {
        let mut cmd = sb.e2e();
        cmd.args(["--init", "--force", "--venv-dir", dir]).stdin(std::process::Stdio::piped());
        let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        // pyve may have exited already (that is the point): a failed write is fine.
        let _ = child.stdin.take().unwrap().write_all(b"y\n");
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{dir}: {stdout}{stderr}");
        assert!(stderr.contains(&format!("ERROR: venv: Directory name '{dir}'")), "{stderr}");
        assert!(!stdout.contains("Continue?") && !stdout.contains("Purging"), "asked or purged first: {stdout}");
        assert!(!stderr.contains("Force re-initialization"), "{stderr}");
    }
    assert_eq!(std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino(), inode, "the environment is untouched");
}

/// A first `--init` with a directory name the backend refuses: the original checked the name
/// before printing anything, so stdout stays empty; the error is on stderr, exit 1, and the
/// directory is left as it was.
#[test]
fn first_init_refuses_a_bad_directory_before_the_header() {
    let sb = sandbox();
    for args in [&["bad dir"][..], &[".git"], &["--venv-dir", "../x"]] {
        let out = init(&sb, &[args, &["--no-direnv"]].concat());
        assert_eq!(out.code, Some(1), "{args:?}: {}{}", out.stdout, out.stderr);
        assert_eq!(out.stdout, "", "{args:?}: nothing on stdout");
        assert!(out.stderr.starts_with("ERROR: venv: "), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("Invalid directory name") || out.stderr.contains("is reserved"), "{}", out.stderr);
        assert_eq!(std::fs::read_dir(sb.project()).unwrap().count(), 0, "{args:?}: nothing written");
    }
}

#[test]
fn update_keeps_the_environment_and_refuses_a_backend_change() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    let p = sb.project();
    let config = p.join(".pyve/config");
    std::fs::write(&config, read(&config).replace(&format!("\"{}\"", pyve::env::VERSION), "\"0.9.2\"") + "# mine\n")
        .unwrap();
    let inode = std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino();

    let out = init(&sb, &["--update", "--backend", "micromamba"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains(
            "ERROR: Cannot update in-place: Backend change detected\nERROR:   Current: venv\nERROR:   Requested: micromamba\n"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("pyve --init --force"), "{}", out.stderr);

    let out = init(&sb, &["--update", "--backend", "auto"]);
    ok(&out, "update --backend auto (not a change)");
    assert!(out.stdout.contains(&format!("INFO:   Version: 0.9.2 → {}", pyve::env::VERSION)), "{}", out.stdout);
    let text = read(&config);
    assert!(text.starts_with(&format!("pyve_version: \"{}\"\n", pyve::env::VERSION)));
    assert!(text.ends_with("# mine\n"), "the rest of the file is kept");
    assert_eq!(std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino(), inode, "the environment is untouched");
}

#[test]
fn force_rebuilds_atomically_and_keeps_the_test_environment() {
    let sb = sandbox();
    let p = sb.project();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    std::fs::create_dir_all(p.join(".pyve/testenv/venv")).unwrap();
    std::fs::write(p.join(".pyve/testenv/venv/marker"), "keep").unwrap();
    let inode = std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino();

    // Without a terminal and without PYVE_FORCE_YES/CI: refused, nothing changed.
    let out = init(&sb, &["--force"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("refusing to rebuild the environment without confirmation"), "{}", out.stderr);
    assert!(out.stderr.contains("PYVE_FORCE_YES=1"), "{}", out.stderr);
    assert_eq!(std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino(), inode);

    // A request that cannot be met fails before anything is removed.
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--python-version", "3.99.0"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("3.99.0"), "{}", out.stderr);
    assert_eq!(std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino(), inode, "the old environment is kept");
    ok(&pyve_run(&sb, &["python", "-c", "pass"]), "the old environment still works");
    // So does a backend that is not valid, or whose plugin is not installed (defect 3: the
    // original purged first and left the project with no environment).
    for backend in ["bogus", "micromamba"] {
        let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--backend", backend]));
        assert_eq!(out.code, Some(1), "{backend}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("ERROR: "), "{backend}: {}", out.stderr);
        assert!(!out.stdout.contains("Purging"), "{backend}: purged first: {}", out.stdout);
        assert_eq!(std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino(), inode, "{backend}: kept");
    }

    // Confirmed by CI: rebuilt with the new version.
    let v = python("3.12");
    let out = run(sb.e2e().env("CI", "true").args(["--init", "--force", "--python-version", &v]));
    ok(&out, "force");
    assert_ne!(std::fs::metadata(p.join(".venv/pyvenv.cfg")).unwrap().ino(), inode);
    let out = pyve_run(&sb, &["python", "-c", "import sys; print(sys.version.split()[0])"]);
    assert_eq!(out.stdout.trim(), v);
    assert!(read(&p.join(".pyve/config")).contains(&format!("version: {v}")));
    assert_eq!(read(&p.join(".pyve/testenv/venv/marker")), "keep", "--force never touches .pyve/testenv");

    // Purge keeps it too.
    ok(&run(sb.e2e().arg("--purge")), "purge");
    assert_eq!(read(&p.join(".pyve/testenv/venv/marker")), "keep");
    assert!(!p.join(".pyve/config").exists());
}

/// Run pyve on a pseudo-terminal (util-linux `script`), feeding `input`.
fn on_terminal(sb: &Sandbox, args: &str, input: &str) -> Outcome {
    let mut cmd = Command::new("script");
    sb.isolate(&mut cmd);
    cmd.env("PYENV_ROOT", pyve_tests::pyenv_root()).env("PYVE_DISABLE_DISTUTILS_SHIM", "1");
    cmd.args(["-qec", &format!("{} {args}", sb.pyve().display()), "/dev/null"]);
    let child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Outcome::of(out, std::time::Duration::ZERO)
}

#[test]
fn the_reinit_menu_on_a_terminal() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    let inode = || std::fs::metadata(sb.project().join(".venv/pyvenv.cfg")).unwrap().ino();
    let before = inode();
    let out = on_terminal(&sb, "--init", "3\n");
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("What would you like to do?"), "{}", out.stdout);
    assert!(out.stdout.contains("Initialization cancelled"), "{}", out.stdout);
    assert_eq!(inode(), before);
    let out = on_terminal(&sb, "--init", "1\n");
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stdout.contains("Configuration updated"), "{}", out.stdout);
    assert_eq!(inode(), before);
    // End of input at the menu is no answer: it never picks one.
    let out = on_terminal(&sb, "--init", "");
    assert_ne!(out.code, Some(0));
    assert!(out.stdout.contains("no choice was made"), "{}", out.stdout);
    assert_eq!(inode(), before);
}

#[test]
fn a_malformed_config_is_reported_with_its_line_and_left_alone() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    let config = sb.project().join(".pyve/config");
    let broken = "pyve_version: \"0.1.0\"\nbackend: venv\nvenv:\n  directory: [.venv\n";
    std::fs::write(&config, broken).unwrap();
    for args in [&["--force"][..], &["--update"][..]] {
        let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").arg("--init").args(args));
        assert_eq!(out.code, Some(1));
        assert!(out.stderr.contains(".pyve/config, line 5: not valid YAML"), "{}", out.stderr);
        assert_eq!(read(&config), broken, "nothing overwritten");
    }
    let out = run(sb.e2e().arg("--purge"));
    assert_eq!(out.code, Some(1));
    assert!(sb.project().join(".venv").exists());
}

#[test]
fn a_second_pyve_waits_for_the_lock_then_fails_clearly() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(p.join(".pyve/lock")).unwrap();
    lock.lock().unwrap();
    std::fs::write(p.join(".pyve/lock"), "4242").unwrap();
    let out = init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("another pyve (pid 4242) is changing this project"), "{}", out.stderr);
    assert!(!p.join(".venv").exists());
    // Released while the second one waits: it goes on.
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(800));
        drop(lock);
    });
    let out = init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]);
    holder.join().unwrap();
    ok(&out, "init after the lock was released");
}

#[test]
fn a_read_only_project_gets_a_clear_error() {
    let sb = sandbox();
    // Everyone may traverse the sandbox; the project itself is read-only.
    for d in [sb.path().to_path_buf(), sb.home(), sb.path().join("bin"), sb.cache(), sb.plugins()] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    std::fs::set_permissions(sb.project(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = if unsafe_is_root() {
        // root ignores permissions: run as nobody.
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(sb.pyve());
        c
    } else {
        Command::new(sb.pyve())
    };
    sb.isolate(&mut cmd);
    cmd.env("PYENV_ROOT", pyve_tests::pyenv_root()).args(["--init", "--no-direnv"]);
    let out = run(&mut cmd);
    std::fs::set_permissions(sb.project(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("ERROR: cannot create {}/.pyve", sb.project().display())), "{}", out.stderr);
    assert!(out.stderr.contains("hint: the project directory is not writable"), "{}", out.stderr);
    assert_eq!(std::fs::read_dir(sb.project()).unwrap().count(), 0);
}

fn unsafe_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn python_version_pins_and_updates_the_config() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    let v = python("3.13");
    let out = run(sb.e2e().args(["--python-version", &v]));
    ok(&out, "--python-version");
    assert_eq!(read(&sb.project().join(".python-version")).trim(), v);
    assert!(read(&sb.project().join(".pyve/config")).contains(&format!("python:\n  version: {v}\n")));
    let out = run(sb.e2e().args(["--python-version", "3.99.1"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("3.99.1"), "{}", out.stderr);
}

/// Entries of a directory whose names mark a temporary file or directory of pyve or its
/// backend (a half-made thing).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.contains("pyve-tmp") || n.contains("pyve-old") || n.contains("pyve-new"))
                .collect()
        })
        .unwrap_or_default()
}

/// After an interrupted init, what is there is whole: no temporary leftovers (once the
/// plugin, which sees its input end, has cleaned up), an environment only if complete, a
/// config only with its state and environment, and files only with their full content.
fn assert_whole(p: &Path, when: &str) {
    // The backend's temporary environment goes once the plugin, whose input ended, has cleaned
    // up; pyve's own temporary files (a kill can interrupt an atomic write) are only cleared
    // by the next pyve, and never stand for the real file.
    let half_made = |p: &Path| leftovers(p).into_iter().filter(|n| !n.starts_with("..")).collect::<Vec<_>>();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !half_made(p).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(half_made(p), Vec::<String>::new(), "{when}: a half-made environment");
    if p.join(".venv").exists() {
        assert!(
            p.join(".venv/pyvenv.cfg").is_file() && p.join(".venv/bin/pip").is_file(),
            "{when}: a half-built .venv"
        );
    }
    if p.join(".pyve/config").exists() {
        assert!(p.join(".pyve/state.json").is_file(), "{when}: a config without its state");
        assert!(p.join(".venv/pyvenv.cfg").is_file(), "{when}: a config without its environment");
    }
    if let Ok(g) = std::fs::read_to_string(p.join(".gitignore")) {
        assert_eq!(g, ".venv\n.env\n.envrc\n.pyve/state.json\n.pyve/lock\n", "{when}: a partial .gitignore");
    }
    if let Ok(c) = std::fs::read_to_string(p.join(".pyve/config")) {
        assert!(c.ends_with("version: 3.11.7\n") || c.contains("python:\n  version:"), "{when}: a partial config: {c}");
    }
}

#[test]
fn an_interrupted_init_leaves_nothing_half_made() {
    let v = python("3.11");
    // With a cold wheel cache creation takes long and is interrupted mid-way; with a warm one
    // (filled by a first init elsewhere in the sandbox) the later delays land in the hooks and
    // the writing of pyve's files.
    let runs = [(false, &[0u64, 10, 40, 140][..]), (true, &[10, 40, 70, 90, 110, 130, 160, 200, 300][..])];
    for (signal, name) in [(libc::SIGKILL, "SIGKILL"), (libc::SIGINT, "SIGINT")] {
        for (warm, delay_ms) in runs.iter().flat_map(|(w, ds)| ds.iter().map(move |d| (*w, *d))) {
            let sb = sandbox();
            if warm {
                let scratch = sb.path().join("scratch");
                std::fs::create_dir_all(&scratch).unwrap();
                ok(
                    &run(sb.e2e().current_dir(&scratch).args(["--init", "--no-direnv", "--python-version", &v])),
                    "warm-up",
                );
            }
            let p = sb.project();
            let mut cmd = sb.e2e();
            cmd.args(["--init", "--no-direnv", "--python-version", &v]);
            cmd.stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            let child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            let out = child.wait_with_output().unwrap();
            let when = format!("{name} after {delay_ms} ms ({} cache)", if warm { "warm" } else { "cold" });
            if signal == libc::SIGINT {
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(!stderr.contains("panicked"), "{when}: {stderr}");
                // Interrupted (130, or killed by the signal before pyve was listening), or done.
                let code = out.status.code();
                assert!(code == Some(130) || code == Some(0) || code.is_none(), "{when}: exit {code:?}: {stderr}");
            }
            assert_whole(&p, &when);
            eprintln!(
                "{when}: exit {:?}; left: venv={} config={} gitignore={}",
                out.status.code(),
                p.join(".venv").exists(),
                p.join(".pyve/config").exists(),
                p.join(".gitignore").exists()
            );
            // And the project can be initialised afterwards, whatever state it was left in.
            let again = if p.join(".pyve/config").exists() {
                run(sb.e2e().env("PYVE_FORCE_YES", "1").args([
                    "--init",
                    "--force",
                    "--no-direnv",
                    "--python-version",
                    &v,
                ]))
            } else {
                init(&sb, &["--no-direnv", "--python-version", &v])
            };
            ok(&again, &format!("init after {when}"));
            assert_eq!(leftovers(&p), Vec::<String>::new(), "{when}: leftovers after the next init");
            assert_eq!(
                leftovers(&p.join(".pyve")),
                Vec::<String>::new(),
                "{when}: leftovers in .pyve after the next init"
            );
            ok(&pyve_run(&sb, &["python", "-c", "import pip"]), &format!("the environment after {when}"));
        }
    }
}

#[test]
fn the_distutils_shim_runs_in_process_as_a_library() {
    // Only the library form is installed: the hook can only have run inside pyve.
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "libpyve_distutils_shim.so"]);
    let list = run(sb.e2e().args(["plugin", "list", "--json"]));
    ok(&list, "plugin list");
    let entries: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let shim = entries.as_array().unwrap().iter().find(|e| e["name"] == "distutils-shim").expect("the shim is listed");
    assert_eq!((shim["kind"].as_str(), shim["status"].as_str()), (Some("dylib"), Some("ok")));

    let v = python("3.12");
    let out =
        run(sb.e2e().env_remove("PYVE_DISABLE_DISTUTILS_SHIM").args(["--init", "--no-direnv", "--python-version", &v]));
    ok(&out, "init with the shim");
    assert!(out.stdout.contains("Python >= 3.12 detected; installing distutils compatibility shim"), "{}", out.stdout);
    let site = sb.project().join(format!(".venv/lib/python{}/site-packages", &v[..4]));
    let shim_file = read(&site.join("sitecustomize.py"));
    assert!(shim_file.starts_with("# pyve-managed: distutils shim"), "{shim_file}");
    let out = pyve_run(&sb, &["python", "-c", "import distutils.core, sys; print('setuptools' in sys.modules)"]);
    ok(&out, "import distutils");
    let out = pyve_run(&sb, &["python", "-c", "import sys; print('setuptools' in sys.modules)"]);
    assert_eq!(out.stdout.trim(), "False", "no setuptools at start-up");

    // Below 3.12 and with the escape hatch: nothing written.
    for (minor, disable) in [("3.11", false), ("3.13", true)] {
        let sb = Sandbox::new();
        sb.install(&["pyve-venv", "libpyve_distutils_shim.so"]);
        let mut cmd = sb.e2e();
        if !disable {
            cmd.env_remove("PYVE_DISABLE_DISTUTILS_SHIM");
        }
        let v = python(minor);
        ok(&run(cmd.args(["--init", "--no-direnv", "--python-version", &v])), "init");
        let site = sb.project().join(format!(".venv/lib/python{minor}/site-packages"));
        assert!(!site.join("sitecustomize.py").exists(), "{minor}: no shim");
    }
}

/// The original's defect 4: `--force` purged the default `.venv`, not the configured directory,
/// and left the custom one and its `.gitignore` line behind. A plain `--force` rebuilds the
/// configured directory; `run` and `doctor` see it; purge removes it and exactly its line.
#[test]
fn force_and_purge_honour_a_custom_directory() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::write(p.join(".gitignore"), "target\n").unwrap();
    ok(&init(&sb, &["myenv", "--python-version", &python("3.11"), "--no-direnv"]), "init myenv");
    let inode = std::fs::metadata(p.join("myenv/pyvenv.cfg")).unwrap().ino();
    ok(&run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force"])), "force");
    assert_ne!(std::fs::metadata(p.join("myenv/pyvenv.cfg")).unwrap().ino(), inode, "myenv rebuilt");
    assert!(!p.join(".venv").exists(), "no default .venv made beside it");
    let out = pyve_run(&sb, &["python", "-c", "import sys; print(sys.prefix)"]);
    assert_eq!(out.stdout.trim(), p.join("myenv").display().to_string());
    let out = run(sb.e2e().arg("doctor"));
    ok(&out, "doctor");
    assert!(out.stdout.contains("✓ Environment: myenv\n"), "{}", out.stdout);
    let out = run(sb.e2e().arg("--purge"));
    ok(&out, "purge");
    assert!(out.stdout.contains("✓ Removed myenv"), "{}", out.stdout);
    assert!(!p.join("myenv").exists());
    assert_eq!(read(&p.join(".gitignore")), "target\n", "exactly pyve's lines removed");
}

#[test]
fn force_into_another_directory_moves_pyves_files_and_keeps_the_old_environment() {
    let sb = sandbox();
    let p = sb.project();
    ok(&init(&sb, &["--python-version", &python("3.11")]), "init");
    assert!(read(&p.join(".envrc")).contains("\"$PWD/.venv\""));
    let out = run(sb.e2e().env("CI", "1").args(["--init", "--force", "envs2"]));
    ok(&out, "force into envs2");
    assert!(out.stdout.contains("✓ Updated .envrc"), "{}", out.stdout);
    assert!(
        out.stderr.contains("WARNING: the previous environment .venv is kept: the project now uses envs2"),
        "{}",
        out.stderr
    );
    assert!(p.join(".venv/pyvenv.cfg").is_file(), "nothing lost");
    let envrc = read(&p.join(".envrc"));
    assert!(envrc.contains("\"$PWD/envs2\"") && !envrc.contains("\"$PWD/.venv\""), "{envrc}");
    // The kept environment stays out of git until it is deleted.
    let gitignore = read(&p.join(".gitignore"));
    assert!(gitignore.lines().any(|l| l == "envs2") && gitignore.lines().any(|l| l == ".venv"), "{gitignore}");
    let out = pyve_run(&sb, &["python", "-c", "import sys; print(sys.prefix)"]);
    assert_eq!(out.stdout.trim(), p.join("envs2").display().to_string());
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    ok(&run(sb.e2e().env("CI", "1").args(["--init", "--force", "envs2"])), "force again, the old one deleted");
    let gitignore = read(&p.join(".gitignore"));
    assert!(gitignore.lines().any(|l| l == "envs2") && !gitignore.lines().any(|l| l == ".venv"), "{gitignore}");
}

#[test]
fn plugin_versions_pinned_in_the_config_are_honoured() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.11"), "--no-direnv"]), "init");
    let config = sb.project().join(".pyve/config");
    let base = read(&config);
    std::fs::write(&config, format!("{base}plugins:\n  venv: \">=9\"\n")).unwrap();
    let out = run(sb.e2e().arg("--purge"));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("no installed copy of plugin 'venv' matches the pin venv \">=9\""), "{}", out.stderr);
    assert!(out.stderr.contains("found: venv 0.1.0"), "{}", out.stderr);
    assert!(sb.project().join(".venv").exists(), "nothing removed");
    std::fs::write(&config, format!("{base}plugins:\n  venv: \"^0.1\"\n")).unwrap();
    ok(&run(sb.e2e().arg("--purge")), "purge with a matching pin");
    assert!(!sb.project().join(".venv").exists());
}

/// Issue 24 item 7: `pyve run` reads `.env` as direnv's `dotenv` does (expansion, quotes,
/// comments, precedence over the environment), and names the lines it skips; the `.env` is
/// announced once, on stderr, and again when it changes.
#[test]
fn dotenv_means_the_same_under_pyve_run_and_direnv() {
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &python("3.12")]), "init");
    let p = sb.project();
    let names = ["A", "B", "C", "D", "E", "F", "G", "H", "I", "OUTER", "PRE"];
    let dotenv = "# comment\n\nA=1\nexport B=word # note\nC=\"x\\ny \\\"q\\\" ${A} $A $PRE\"\nD='lit $A ${A}'\n\
                  E=\nF=${A}-${NOPE:-dflt}-$PRE\nG=a#b\nH = \"a\\tb\\\\c\" # c\nI: yaml\n\
                  OUTER=from-dotenv\n";
    std::fs::write(p.join(".env"), dotenv).unwrap();
    let script = format!(
        "import os; print(repr([os.environ.get(n) for n in {:?}]))",
        names.iter().map(|n| n.to_string()).collect::<Vec<_>>()
    );
    let mut pyve = sb.e2e();
    pyve.args(["run", "python", "-c", &script]).env("PRE", "outer").env("OUTER", "from-env");
    let first = run(&mut pyve);
    ok(&first, "pyve run");
    assert!(first.stderr.contains("WARNING: .env is new: pyve run sets A, B, C"), "{}", first.stderr);
    let again = run(&mut pyve);
    assert_eq!(again.stdout, first.stdout);
    assert_eq!(again.stderr, "", "announced once");
    let want = "['1', 'word', 'x\\ny \"q\" 1 1 outer', 'lit $A ${A}', '', '1-dflt-outer', 'a', 'atb\\\\c', 'yaml', \
                'from-dotenv', 'outer']";
    assert_eq!(first.stdout.trim(), want);

    if let Some(direnv) = pyve::commands::run::find_on_path("direnv") {
        let direnv_cmd = |args: &[&str]| {
            let mut c = Command::new(&direnv);
            sb.isolate(&mut c);
            c.args(args)
                .env("XDG_CONFIG_HOME", sb.home().join(".config"))
                .env("XDG_DATA_HOME", sb.home().join(".local/share"))
                .env("PRE", "outer")
                .env("OUTER", "from-env");
            c
        };
        ok(&run(&mut direnv_cmd(&["allow", "."])), "direnv allow");
        let out = run(&mut direnv_cmd(&["exec", ".", "python", "-c", &script]));
        ok(&out, "direnv exec");
        assert_eq!(out.stdout, first.stdout, "direnv and pyve run agree\n{}", out.stderr);
    }

    // A line pyve cannot read is named (file and line) and skipped; a change is announced.
    std::fs::write(p.join(".env"), "A=1\nB=two words\nC=3\n").unwrap();
    let out = run(sb.e2e().args(["run", "python", "-c", "import os; print(os.environ.get('B'), os.environ['C'])"]));
    ok(&out, "pyve run with a bad line");
    assert_eq!(out.stdout.trim(), "None 3");
    assert!(out.stderr.contains(".env:2: skipped, not an assignment pyve can read"), "{}", out.stderr);
    assert!(out.stderr.contains(".env is changed since the last run: pyve run sets A, C"), "{}", out.stderr);
}

/// The next step a successful init names (issue 24 item 8): `direnv allow` only when direnv is
/// installed and `.envrc` is pyve's; `--force` keeps a `--no-direnv` project without `.envrc`.
#[test]
fn the_next_step_is_one_that_applies() {
    let v = python("3.12");
    let last = |out: &Outcome| out.stdout.lines().last().unwrap_or_default().to_owned();

    // direnv on PATH (a stand-in: only its presence is looked at) and pyve's .envrc.
    let sb = sandbox();
    let bin = sb.path().join("direnv-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("direnv"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(bin.join("direnv"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let with_direnv = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let out = run(sb.e2e().env("PATH", &with_direnv).args(["--init", "--python-version", &v]));
    ok(&out, "init");
    assert!(last(&out).contains("Run 'direnv allow'"), "{}", out.stdout);
    // Without the verbose flag the exact version is said once, in the header.
    assert_eq!(out.stdout.matches(v.as_str()).count(), 2, "header and pin:\n{}", out.stdout);

    // No direnv anywhere on PATH: never "direnv allow".
    let sb = sandbox();
    let empty = sb.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(sb.e2e().env("PATH", empty.display().to_string()).args(["--init", "--python-version", &v]));
    ok(&out, "init without direnv");
    assert!(!out.stdout.contains("direnv allow"), "{}", out.stdout);
    assert!(last(&out).contains("pyve run <command>") && last(&out).contains("install direnv"), "{}", out.stdout);

    // A .envrc pyve did not write: review it, never "allow" it.
    let sb = sandbox();
    std::fs::write(sb.project().join(".envrc"), "echo not pyve's\n").unwrap();
    let out = run(sb.e2e().env("PATH", &with_direnv).args(["--init", "--python-version", &v]));
    ok(&out, "init with a foreign .envrc");
    assert!(!out.stdout.contains("direnv allow"), "{}", out.stdout);
    assert!(last(&out).contains("review .envrc"), "{}", out.stdout);
    assert_eq!(read(&sb.project().join(".envrc")), "echo not pyve's\n");

    // --force in a --no-direnv project: still no .envrc, and the same next step.
    let sb = sandbox();
    ok(&init(&sb, &["--python-version", &v, "--no-direnv"]), "init --no-direnv");
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--python-version", &v]));
    ok(&out, "--force");
    assert!(!sb.project().join(".envrc").exists(), "{}", out.stdout);
    assert_eq!(last(&out), "Use 'pyve run <command>' to execute commands in the environment.", "{}", out.stdout);

    // --verbose shows the interpreter choice all the same.
    let sb = sandbox();
    let out = run(sb.e2e().args(["--verbose", "--init", "--no-direnv", "--python-version", &v]));
    ok(&out, "init --verbose");
    assert!(
        format!("{}{}", out.stdout, out.stderr)
            .contains(&format!("Using Python {v} (requested with --python-version)")),
        "{}{}",
        out.stdout,
        out.stderr
    );
}

/// Purge never deletes `.gitignore`, not even one pyve created and emptied (reference 3.16:
/// the original's users read it after a purge), and outside a project it prints the original's
/// header and its "No virtual environment found" line, exit 0 (reference 2.2).
#[test]
fn purge_keeps_the_gitignore_and_says_when_there_is_no_environment() {
    let sb = sandbox();
    let p = sb.project();
    let out = run(sb.e2e().arg("--purge"));
    ok(&out, "purge outside a project");
    assert!(out.stdout.contains("Purging Python environment artifacts..."), "{}", out.stdout);
    assert!(out.stdout.contains("INFO: No virtual environment found at '.venv'"), "{}", out.stdout);
    assert_eq!(out.stderr, "");
    assert!(!p.join(".gitignore").exists(), "a purge outside a project writes nothing");

    ok(&init(&sb, &["--python-version", &python("3.12"), "--no-direnv"]), "init");
    assert!(read(&p.join(".gitignore")).lines().any(|l| l == ".venv"));
    let out = run(sb.e2e().arg("--purge"));
    ok(&out, "purge");
    assert!(out.stdout.lines().any(|l| l == "✓ Cleaned .gitignore"), "{}", out.stdout);
    assert_eq!(read(&p.join(".gitignore")), "", "pyve's lines go, the file stays");
}

#[test]
fn a_fresh_clone_has_the_config_but_no_environment_and_is_pointed_at_sync() {
    // A team commits `.pyve/config`; a clone has it without the environment (and without
    // `.pyve/state.json`, which is ignored). `--init` sees a set-up project, so both its
    // non-interactive refusal and `--update` name `pyve sync`, which creates the environment.
    let sb = sandbox();
    let p = sb.project();
    ok(&init(&sb, &["--no-direnv"]), "init");
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    std::fs::remove_file(p.join(".pyve/state.json")).unwrap();

    let out = run(sb.e2e().arg("--init").stdin(std::process::Stdio::null()));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: no environment exists in this project yet: run `pyve sync` to create it"),
        "{}",
        out.stderr
    );
    let out = init(&sb, &["--update"]);
    ok(&out, "update");
    assert!(out.stdout.contains("Project updated to Pyve v"), "{}", out.stdout);
    assert!(
        out.stderr.contains("WARNING: no environment exists in this project yet: `--update` records the version and makes no environment\nhint: run `pyve sync`"),
        "{}",
        out.stderr
    );
    assert!(!p.join(".venv").exists(), "--update makes no environment");

    ok(&run(sb.e2e().arg("sync")), "sync");
    assert!(p.join(".venv/pyvenv.cfg").is_file(), "pyve sync created the environment");
    let out = init(&sb, &["--update"]);
    ok(&out, "update with an environment");
    assert_eq!(out.stderr, "", "nothing to warn about");
    // The recorded environment gone: the same warning.
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    let out = init(&sb, &["--update"]);
    assert!(out.stderr.contains("WARNING: the environment .venv does not exist: `--update`"), "{}", out.stderr);
}
