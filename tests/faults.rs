//! Fault classes of issue 11, end to end with the real host, the real plugins and real
//! interpreters. Class 1: nothing is written or deleted through a symbolic link that leads out
//! of the project. Each test points one of the project's paths at a directory or file outside
//! the project, runs the commands that write or remove that path, and checks that what is
//! outside is byte for byte what it was.
//!
//! Messages are matched on stdout and stderr together: which stream a status line uses is
//! decided elsewhere (issue 8).

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_tests::{Outcome, Sandbox, python, run};

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
fn has(out: &Outcome, needle: &str) {
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(all.contains(needle), "`{needle}` missing from:\n{all}");
}

fn pyve(sb: &Sandbox, args: &[&str]) -> Outcome {
    run(sb.e2e().args(args))
}

/// Everything under `p` (a file or a directory): paths, kinds, contents, permissions.
fn snapshot(p: &Path) -> BTreeMap<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut todo = vec![p.to_path_buf()];
    while let Some(at) = todo.pop() {
        let meta = std::fs::symlink_metadata(&at).unwrap();
        let mode = meta.permissions().mode();
        let what = if meta.file_type().is_symlink() {
            format!("link {}", std::fs::read_link(&at).unwrap().display())
        } else if meta.is_dir() {
            for e in std::fs::read_dir(&at).unwrap() {
                todo.push(e.unwrap().path());
            }
            format!("dir {mode:o}")
        } else {
            format!("file {mode:o} {:?}", std::fs::read(&at).unwrap())
        };
        out.insert(at, what);
    }
    out
}

/// An outside directory with a user's file in it.
fn outside_dir(sb: &Sandbox, name: &str) -> PathBuf {
    let d = sb.path().join("outside").join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("notes.txt"), "the user's notes\n").unwrap();
    d
}

/// An outside file with `text`.
fn outside_file(sb: &Sandbox, name: &str, text: &str) -> PathBuf {
    let d = sb.path().join("outside");
    std::fs::create_dir_all(&d).unwrap();
    let f = d.join(name);
    std::fs::write(&f, text).unwrap();
    f
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

#[test]
fn pyve_dir_linking_out_is_refused_by_every_write_command_before_anything_changes() {
    let sb = sandbox();
    let p = sb.project();
    let out = outside_dir(&sb, "elsewhere");
    // A config there too, as a clone could bring: the project is "initialised" through it.
    std::fs::write(out.join("config"), "backend: venv\n").unwrap();
    symlink(&out, p.join(".pyve")).unwrap();
    let before = snapshot(&out);

    let r = pyve(&sb, &["--init", "--no-direnv"]);
    code(&r, 1, "--init");
    has(&r, "is a symbolic link to");
    has(&r, "outside the project");
    has(&r, "hint: remove the link");
    let r = pyve(&sb, &["--purge"]);
    code(&r, 1, "--purge");
    has(&r, "outside the project");
    let r = pyve(&sb, &["testenv", "--init"]);
    code(&r, 1, "testenv --init");
    has(&r, "outside the project");
    let r = pyve(&sb, &["testenv", "--purge"]);
    code(&r, 1, "testenv --purge");

    assert_eq!(snapshot(&out), before, "nothing outside the project changed");
    let left: Vec<_> = std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [".pyve"], "nothing was created in the project either");
}

#[test]
fn pyve_files_that_are_links_are_replaced_never_written_through() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir(p.join(".pyve")).unwrap();
    let config = outside_file(&sb, "config", "");
    let state = outside_file(&sb, "state.json", "{}");
    let lock = outside_file(&sb, "lock", "precious\n");
    symlink(&config, p.join(".pyve/config")).unwrap();
    symlink(&state, p.join(".pyve/state.json")).unwrap();
    symlink(&lock, p.join(".pyve/lock")).unwrap();
    let before = snapshot(&sb.path().join("outside"));

    let v = python("3.12");
    let r = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--python-version", &v, "--no-direnv"]));
    code(&r, 0, "--init --force over an empty config");
    has(&r, "replaced by a regular file");
    for f in ["config", "state.json", "lock"] {
        assert!(!is_link(&p.join(".pyve").join(f)), ".pyve/{f} is a regular file now");
    }
    assert!(std::fs::read_to_string(p.join(".pyve/config")).unwrap().contains("backend: venv"));
    code(&pyve(&sb, &["--purge"]), 0, "--purge");
    assert_eq!(snapshot(&sb.path().join("outside")), before, "nothing outside the project changed");
}

#[test]
fn venv_dir_linking_out_is_neither_used_nor_emptied() {
    let sb = sandbox();
    let p = sb.project();
    let out = outside_dir(&sb, "venv");
    symlink(&out, p.join(".venv")).unwrap();
    let before = snapshot(&out);
    let r = pyve(&sb, &["--init", "--no-direnv"]);
    code(&r, 1, "--init onto a linked .venv");
    has(&r, "it is a symbolic link");
    assert!(!p.join(".pyve/config").exists() && !p.join(".env").exists(), "nothing else was made");

    // Initialised, then the environment replaced by a link: purge refuses to delete it.
    std::fs::remove_file(p.join(".venv")).unwrap();
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    symlink(&out, p.join(".venv")).unwrap();
    let r = pyve(&sb, &["--purge"]);
    code(&r, 1, "--purge of a linked .venv");
    has(&r, "pyve will not delete it");
    // A positional directory is the same path under another name.
    let r = pyve(&sb, &["--init", "--force", ".venv"]);
    assert_ne!(r.code, Some(0), "--force onto a linked .venv:\n{}{}", r.stdout, r.stderr);
    assert_eq!(snapshot(&out), before, "nothing outside the project changed");
    assert!(is_link(&p.join(".venv")));
}

#[test]
fn dotenv_envrc_and_gitignore_linking_out_are_kept_and_never_changed() {
    let sb = sandbox();
    let p = sb.project();
    let dotenv = outside_file(&sb, "secrets.env", "TOKEN=abc\n");
    let empty_env = outside_file(&sb, "empty.env", "");
    let envrc = outside_file(&sb, "envrc", "# pyve-managed .envrc (forged)\nexport X=1\n");
    let gitignore = outside_file(&sb, "gitignore", "secret-key-material\n");
    symlink(&dotenv, p.join(".env")).unwrap();
    symlink(&envrc, p.join(".envrc")).unwrap();
    symlink(&gitignore, p.join(".gitignore")).unwrap();
    let before = snapshot(&sb.path().join("outside"));

    let r = pyve(&sb, &["--init", "--python-version", &python("3.12")]);
    code(&r, 0, "--init");
    has(&r, "Kept .envrc as it is: .envrc is a symbolic link to");
    has(&r, ".env already exists, skipping: .env is a symbolic link to");
    has(&r, ".gitignore is a symbolic link to");
    has(&r, "pyve does not change it");
    has(&r, "Add these lines to it yourself");
    for f in [".env", ".envrc", ".gitignore"] {
        assert!(is_link(&p.join(f)), "{f} is still the user's link");
    }
    code(&pyve(&sb, &["--init", "--update"]), 0, "--update");

    let r = pyve(&sb, &["--purge"]);
    code(&r, 0, "--purge");
    has(&r, "Kept .envrc");
    has(&r, "Kept .env");
    for f in [".env", ".envrc", ".gitignore"] {
        assert!(is_link(&p.join(f)), "{f} is still the user's link after purge");
    }
    // A link to an empty file outside is not "an empty .env pyve made".
    std::fs::remove_file(p.join(".env")).unwrap();
    symlink(&empty_env, p.join(".env")).unwrap();
    code(&pyve(&sb, &["--init", "--no-direnv"]), 0, "--init");
    code(&pyve(&sb, &["--purge"]), 0, "--purge");
    assert!(is_link(&p.join(".env")));
    assert_eq!(snapshot(&sb.path().join("outside")), before, "nothing outside the project changed");
}

#[test]
fn a_gitignore_link_inside_the_project_is_followed_and_stays_a_link() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir(p.join("config")).unwrap();
    std::fs::write(p.join("config/gitignore"), "target\n").unwrap();
    symlink("config/gitignore", p.join(".gitignore")).unwrap();
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    assert!(is_link(&p.join(".gitignore")));
    let text = std::fs::read_to_string(p.join("config/gitignore")).unwrap();
    assert!(text.starts_with("target\n.venv\n"), "{text}");
    code(&pyve(&sb, &["--purge"]), 0, "--purge");
    assert_eq!(std::fs::read_to_string(p.join("config/gitignore")).unwrap(), "target\n");
    assert!(is_link(&p.join(".gitignore")));
}

#[test]
fn a_version_pin_linking_out_is_replaced_by_a_regular_file() {
    let sb = sandbox();
    let p = sb.project();
    let old = python("3.11");
    let new = python("3.12");
    let shared = outside_file(&sb, "python-version", &format!("{old}\n"));
    symlink(&shared, p.join(".python-version")).unwrap();
    let before = snapshot(&sb.path().join("outside"));

    let r = pyve(&sb, &["--init", "--no-direnv", "--python-version", &new]);
    code(&r, 0, "--init");
    has(&r, ".python-version was a symbolic link to");
    has(&r, "replaced by a regular file");
    assert!(!is_link(&p.join(".python-version")));
    assert_eq!(std::fs::read_to_string(p.join(".python-version")).unwrap().trim(), new);

    // --python-version: the same rule.
    std::fs::remove_file(p.join(".python-version")).unwrap();
    symlink(&shared, p.join(".python-version")).unwrap();
    let r = pyve(&sb, &["--python-version", &new]);
    code(&r, 0, "--python-version");
    has(&r, "replaced by a regular file");
    assert!(!is_link(&p.join(".python-version")));

    // A link pyve did not write is never removed by purge.
    std::fs::remove_file(p.join(".python-version")).unwrap();
    symlink(&shared, p.join(".python-version")).unwrap();
    code(&pyve(&sb, &["--purge"]), 0, "--purge");
    assert!(is_link(&p.join(".python-version")));
    assert_eq!(snapshot(&sb.path().join("outside")), before, "nothing outside the project changed");
}

#[test]
fn testenv_dir_linking_out_is_refused_and_purge_removes_only_the_link() {
    let sb = sandbox();
    let p = sb.project();
    let out = outside_dir(&sb, "testenv");
    std::fs::create_dir(p.join(".pyve")).unwrap();
    symlink(&out, p.join(".pyve/testenv")).unwrap();
    let before = snapshot(&out);
    for args in [&["testenv", "--init"][..], &["testenv", "--install"], &["test"]] {
        let r = pyve(&sb, args);
        assert_ne!(r.code, Some(0), "{args:?}:\n{}{}", r.stdout, r.stderr);
        has(&r, "outside the project");
    }
    assert_eq!(snapshot(&out), before);
    // --init --purge of the project keep .pyve/testenv (its link) as they keep the directory.
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    code(&pyve(&sb, &["--purge"]), 0, "--purge");
    assert!(is_link(&p.join(".pyve/testenv")));
    let r = pyve(&sb, &["testenv", "--purge"]);
    code(&r, 0, "testenv --purge");
    assert!(std::fs::symlink_metadata(p.join(".pyve/testenv")).is_err(), "the link is gone");
    assert_eq!(snapshot(&out), before, "nothing outside the project changed");
}

#[test]
fn testenv_venv_linking_out_is_neither_adopted_nor_installed_into_nor_deleted() {
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox();
    let p = sb.project();
    // The user's own virtual environment, which a clone's `.pyve/testenv/venv` points at.
    let out = outside_dir(&sb, "user-venv");
    std::fs::write(out.join("pyvenv.cfg"), "home = /usr/bin\nversion = 3.12.0\n").unwrap();
    std::fs::create_dir_all(out.join("bin")).unwrap();
    std::fs::write(out.join("bin/python"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(out.join("bin/python"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(p.join(".pyve/testenv")).unwrap();
    symlink(&out, p.join(".pyve/testenv/venv")).unwrap();
    let before = snapshot(&out);
    for args in [&["testenv", "--init"][..], &["testenv", "--install"], &["test"], &["testenv", "run", "python"]] {
        let r = pyve(&sb, args);
        assert_ne!(r.code, Some(0), "{args:?}:\n{}{}", r.stdout, r.stderr);
        has(&r, ".pyve/testenv/venv is a symbolic link to");
        has(&r, "outside the project");
        has(&r, "hint:");
        assert_eq!(snapshot(&out), before, "{args:?} changed the user's environment");
    }
    let r = pyve(&sb, &["testenv", "--purge"]);
    code(&r, 0, "testenv --purge");
    assert!(std::fs::symlink_metadata(p.join(".pyve/testenv")).is_err(), "the project's directory is gone");
    assert_eq!(snapshot(&out), before, "nothing outside the project changed");
}

// ---------------------------------------------------------------------------------------------
// Class 2: no setting, environment value or project file makes pyve panic.

#[track_caller]
fn no_panic(out: &Outcome, what: &str) {
    assert!(
        out.code.is_some_and(|c| c < 100) && !out.stderr.contains("panicked"),
        "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.code,
        out.stdout,
        out.stderr
    );
}

#[test]
fn timeouts_of_any_size_are_capped_with_a_warning() {
    let sb = sandbox();
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    for var in ["PYVE_RPC_TIMEOUT", "PYVE_HANDSHAKE_TIMEOUT"] {
        for value in ["1e300", "1e19", "18446744073709551616"] {
            let r = run(sb.e2e().env(var, value).args(["--init", "--update"]));
            code(&r, 0, &format!("{var}={value} pyve --init --update"));
            has(&r, &format!("{var}={value} is more than a week; using 604800 seconds"));
        }
        let r = run(sb.e2e().env(var, "soon").args(["--init", "--update"]));
        code(&r, 0, "a malformed timeout");
        has(&r, &format!("ignoring {var}=soon: expected a positive number of seconds"));
    }
    let r = run(sb.e2e().env("PYVE_RPC_TIMEOUT", "1e300").arg("--purge"));
    code(&r, 0, "--purge with a huge timeout");
}

#[test]
fn hostile_environment_values_never_panic() {
    let sb = sandbox();
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    std::fs::write(sb.path().join("a-file"), "not a directory\n").unwrap();
    let big = "99999999999999999999999";
    // Paths stay inside the sandbox: pyve creates its cache directory wherever it is told.
    let values = [
        String::new(),
        "relative/dir".into(),
        sb.path().join("missing/x").display().to_string(),
        sb.path().join("a-file").display().to_string(),
        big.into(),
        format!("3.{big}"),
        format!("3.12.{big}"),
        "-1".into(),
        "1e300".into(),
        "3.12\u{1}".into(),
        "x".repeat(10_000),
    ];
    let vars = [
        "PYVE_HOME",
        "PYVE_PLUGIN_PATH",
        "HOME",
        "XDG_CACHE_HOME",
        "PYENV_ROOT",
        "ASDF_DATA_DIR",
        "PYVE_DEFAULT_PYTHON_VERSION",
        "PYVE_TEST_PIN_PYTHON",
        "PYVE_VERBOSITY",
        "PYVE_COLOR",
        "PYVE_PROJECT_ROOT",
        "NO_COLOR",
        "PATH",
    ];
    for var in vars {
        for value in &values {
            for args in [&["--config"][..], &["--list"], &["run", "python", "-c", "pass"], &["testenv", "--status"]] {
                let r = run(sb.e2e().env(var, value).args(args));
                no_panic(&r, &format!("{var}={value:.40} pyve {args:?}"));
            }
        }
    }
    for v in [format!("3.{big}"), format!("3.12.{big}"), format!("{big}.1")] {
        let r = pyve(&sb, &["--python-version", &v]);
        no_panic(&r, &format!("--python-version {v}"));
        assert_ne!(r.code, Some(0));
        let r = pyve(&sb, &["--init", "--force", "--python-version", &v]);
        no_panic(&r, &format!("--init --python-version {v}"));
        assert_ne!(r.code, Some(0));
    }
}

#[test]
fn hostile_configs_are_refused_quickly_and_change_nothing() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir(p.join(".pyve")).unwrap();
    let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 0..12 {
        let prev = if i == 0 { "a".to_owned() } else { format!("b{}", i - 1) };
        laughs.push_str(&format!("b{i}: &b{i} [{}]\n", vec![format!("*{prev}"); 10].join(", ")));
    }
    for (text, why) in [
        (format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)), "larger than 64 KiB"),
        (format!("a: {}{}\n", "{a: ".repeat(5_000), "}".repeat(5_000)), "nests deeper than 32 levels"),
        (laughs, "more than 16 YAML aliases"),
    ] {
        std::fs::write(p.join(".pyve/config"), &text).unwrap();
        for args in [&["--init", "--update"][..], &["--init", "--no-direnv"], &["--purge"]] {
            let r = pyve(&sb, args);
            no_panic(&r, &format!("{why}: {args:?}"));
            code(&r, 1, &format!("{why}: {args:?}"));
            has(&r, why);
            has(&r, "pyve changed nothing");
        }
        // `--config` only reports, and exits 0 whatever the file holds (reference 2.9): the
        // report says why the file is not valid.
        let r = pyve(&sb, &["--config"]);
        no_panic(&r, &format!("{why}: --config"));
        code(&r, 0, &format!("{why}: --config"));
        has(&r, why);
        assert_eq!(std::fs::read_to_string(p.join(".pyve/config")).unwrap(), text);
        assert!(!p.join(".venv").exists());
    }

    // A state file far beyond what pyve writes.
    std::fs::remove_dir_all(p.join(".pyve")).unwrap();
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    std::fs::write(p.join(".pyve/state.json"), format!("{{\"x\": \"{}\"}}", "y".repeat(2 << 20))).unwrap();
    let r = pyve(&sb, &["run", "python", "-c", "pass"]);
    no_panic(&r, "huge state.json");
    has(&r, "larger than 1 MiB");
}

// ---------------------------------------------------------------------------------------------
// Class 6: one lock for every command that writes.

/// Take the project's lock from this process, as a running pyve holds it.
fn hold_lock(p: &Path) -> std::fs::File {
    std::fs::create_dir_all(p.join(".pyve")).unwrap();
    let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(p.join(".pyve/lock")).unwrap();
    f.lock().unwrap();
    std::fs::write(p.join(".pyve/lock"), "424242").unwrap();
    f
}

#[test]
fn every_write_command_waits_for_the_project_lock() {
    let sb = sandbox();
    let p = sb.project();
    let v = python("3.12");
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &v]), 0, "--init");
    code(&pyve(&sb, &["testenv", "--init"]), 0, "testenv --init");
    let before = snapshot(&p);
    let lock = hold_lock(&p);
    let before_lock = {
        let mut b = before.clone();
        b.insert(p.join(".pyve/lock"), snapshot(&p.join(".pyve/lock")).into_values().next().unwrap());
        b
    };
    for args in [
        &["--python-version", v.as_str()][..],
        &["--init", "--update"],
        &["--init", "--force"],
        &["--purge"],
        &["testenv", "--init"],
        &["testenv", "--install"],
        &["testenv", "--purge"],
    ] {
        let r = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(args));
        code(&r, 1, &format!("{args:?} while another pyve holds the lock"));
        has(&r, "another pyve (pid 424242) is changing this project");
        has(&r, "hint: let it finish");
        assert_eq!(snapshot(&p), before_lock, "{args:?} changed the project while it was locked");
    }
    drop(lock);
    code(&pyve(&sb, &["--python-version", &v]), 0, "--python-version once the lock is free");
    code(&pyve(&sb, &["testenv", "--purge"]), 0, "testenv --purge once the lock is free");
}

#[test]
fn python_version_outside_a_project_locks_the_directory_and_leaves_no_trace() {
    let sb = sandbox();
    let p = sb.project();
    let v = python("3.12");
    let lock = hold_lock(&p);
    let r = pyve(&sb, &["--python-version", &v]);
    code(&r, 1, "--python-version while an --init holds the directory");
    assert!(!p.join(".python-version").exists());
    drop(lock);
    std::fs::remove_dir_all(p.join(".pyve")).unwrap();
    code(&pyve(&sb, &["--python-version", &v]), 0, "--python-version");
    assert!(p.join(".python-version").exists());
    assert!(!p.join(".pyve").exists(), "the lock's directory is not left behind");
}

// ---------------------------------------------------------------------------------------------
// Class 4 (everything validated before the first change; a failed first init is undone) and
// class 3 (an interrupted hook ends the init).

/// What is in the project directory, by name.
fn names(p: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(p).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn a_wrong_target_is_found_before_anything_is_made() {
    let sb = sandbox();
    let p = sb.project();
    let v = python("3.12");
    for (target, args) in [
        (".gitignore", &["--no-direnv"][..]),
        (".env", &["--no-direnv"]),
        (".envrc", &[]),
        (".pyve/config", &["--no-direnv"]),
        (".pyve/state.json", &["--no-direnv"]),
    ] {
        std::fs::create_dir_all(p.join(target)).unwrap();
        let before = names(&p);
        let r = run(sb.e2e().args(["--init", "--python-version", &v]).args(args));
        code(&r, 1, &format!("--init with a directory at {target}"));
        if target == ".pyve/config" {
            has(&r, "cannot read");
            has(&r, "pyve changed nothing");
        } else {
            has(&r, &format!("{target} is a directory; pyve needs to write a file there"));
            has(&r, "nothing was changed");
        }
        assert_eq!(names(&p), before, "{target}: something was made before the check");
        assert!(!p.join(".venv").exists() && !p.join(".python-version").exists());
        std::fs::remove_dir_all(p.join(target.split('/').next().unwrap())).unwrap();
    }
    // A fifo where .env goes: not a regular file.
    let fifo = std::ffi::CString::new(p.join(".env").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let r = pyve(&sb, &["--init", "--no-direnv", "--python-version", &v]);
    code(&r, 1, "--init with a fifo at .env");
    has(&r, ".env is not a regular file");
    assert_eq!(names(&p), [".env"]);
}

#[test]
fn an_unwritable_project_is_refused_before_anything_is_made() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: running as root, for whom every directory is writable");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let sb = sandbox();
    let p = sb.project();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o555)).unwrap();
    let r = pyve(&sb, &["--init", "--no-direnv"]);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    code(&r, 1, "--init in a read-only project");
    has(&r, "cannot");
    assert!(names(&p).is_empty());
}

#[test]
fn an_interrupted_post_create_hook_ends_the_init_and_leaves_nothing() {
    for (signal, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGHUP, "SIGHUP")] {
        interrupted_hook(signal, name);
    }
}

fn interrupted_hook(signal: i32, name: &str) {
    use std::io::BufRead;
    let sb = sandbox();
    sb.install(&["pyve-distutils-shim"]);
    let p = sb.project();
    std::fs::write(p.join(".gitignore"), "target\n").unwrap();
    // The shim's installer waits on an index that accepts connections and never answers: the
    // hook is certainly running when the interrupt comes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let index = format!("http://{}/simple", silent.local_addr().unwrap());
    let mut cmd = sb.e2e();
    cmd.env_remove("PYVE_DISABLE_DISTUTILS_SHIM")
        .env("PIP_INDEX_URL", &index)
        .env("UV_INDEX_URL", &index)
        .env("UV_DEFAULT_INDEX", &index)
        .env("PIP_DEFAULT_TIMEOUT", "60")
        .args(["--init", "--no-direnv", "--python-version", &python("3.12")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("installing distutils compatibility shim") {
            break;
        }
    }
    assert!(seen.contains("installing distutils compatibility shim"), "the hook never started:\n{seen}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let status = child.wait().unwrap();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(5)) {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(128 + signal), "{name}: an interrupted hook ends the init with 128+n:\n{seen}");
    assert!(!seen.contains("initialized successfully"), "{seen}");
    no_processes_left(&sb, name);
    assert_eq!(names(&p), [".gitignore"], "nothing half-made is left:\n{seen}");
    assert_eq!(std::fs::read_to_string(p.join(".gitignore")).unwrap(), "target\n");
    // And the next init works.
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init after the interrupt");
}

// ---------------------------------------------------------------------------------------------
// Class 9 (messages that send users the right way) and class 3 (`pyve run` is the command).

#[test]
fn run_in_an_environment_whose_python_was_removed_says_to_rebuild_it() {
    let sb = sandbox();
    let p = sb.project();
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    // What removing the base interpreter does to the environment: its links dangle.
    for e in std::fs::read_dir(p.join(".venv/bin")).unwrap() {
        let path = e.unwrap().path();
        if is_link(&path) && std::fs::read_link(&path).unwrap().is_absolute() {
            std::fs::remove_file(&path).unwrap();
            symlink(sb.path().join("removed/bin/python3.12"), &path).unwrap();
        }
    }
    let r = pyve(&sb, &["run", "python", "-c", "pass"]);
    code(&r, 127, "run python");
    has(&r, "the environment's python is broken");
    has(&r, "which does not exist");
    has(&r, "hint: rebuild the environment: pyve --init --force");
    assert!(!r.stderr.contains("pip install python"), "{}", r.stderr);
    // A script of the environment whose interpreter is gone.
    let r = pyve(&sb, &["run", "pip", "--version"]);
    code(&r, 126, "run pip");
    has(&r, "its interpreter");
    has(&r, "does not exist");
    has(&r, "pyve --init --force");
    // A command that is nowhere: no advice to pip-install a Python.
    std::fs::remove_dir_all(p.join(".venv/bin")).unwrap();
    std::fs::create_dir(p.join(".venv/bin")).unwrap();
    let r = pyve(&sb, &["run", "python3.12", "-c", "pass"]);
    code(&r, 127, "run python3.12 with no python at all");
    has(&r, "the project's environment has no python3.12 (.venv)");
    has(&r, "hint: rebuild the environment: pyve --init --force");
    let r = pyve(&sb, &["run", "no-such-tool"]);
    code(&r, 127, "run no-such-tool");
    has(&r, "if it is a Python package, install it into the environment (pyve run pip install no-such-tool)");
    // The whole environment gone: the original's words first (reference 2.4), exit 1.
    std::fs::remove_dir_all(p.join(".venv")).unwrap();
    let r = pyve(&sb, &["run", "python", "-c", "pass"]);
    code(&r, 1, "run without the environment");
    has(&r, "ERROR: No Python environment found: the environment");
    has(&r, "hint: create it again from .pyve/config with `pyve sync` (or `pyve --init --force`)");
}

#[test]
fn bad_versions_fail_alike_in_every_command() {
    let sb = sandbox();
    for v in ["3.x", "3.12.1.1", "abc", "3", "3.99999999999999999999"] {
        let a = pyve(&sb, &["--init", "--no-direnv", "--python-version", v]);
        let b = pyve(&sb, &["--python-version", v]);
        code(&a, 1, &format!("--init --python-version {v}"));
        code(&b, 1, &format!("--python-version {v}"));
        let msg = format!("Invalid Python version format '{v}'. Expected format: #.#.# or #.# (e.g., 3.13.7)");
        has(&a, &msg);
        has(&b, &msg);
    }
    assert!(names(&sb.project()).is_empty(), "nothing was made");
}

#[test]
fn a_bad_configured_venv_directory_says_where_it_is_set() {
    let sb = sandbox();
    let p = sb.project();
    std::fs::create_dir(p.join(".pyve")).unwrap();
    std::fs::write(p.join(".pyve/config"), "backend: venv\nvenv:\n  directory: ../elsewhere\n").unwrap();
    let r = pyve(&sb, &["--purge"]);
    code(&r, 1, "--purge with a directory outside the project");
    has(&r, "choose a plain directory name");
    has(&r, "`directory:` under `venv:` in .pyve/config");
}

#[test]
fn run_replaces_itself_with_the_command() {
    let sb = sandbox();
    code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &python("3.12")]), 0, "--init");
    // The command runs as pyve's own process: same pid, no parent left waiting.
    let mut cmd = sb.e2e();
    cmd.args(["run", "sh", "-c", "echo $$; exec sleep 30"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), child.id().to_string(), "the command has pyve's pid");
    // SIGTERM to "pyve" is SIGTERM to the command: nothing is left running.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "the caller sees the command's own death by signal");
    // Not found and not executable keep pyve's messages and the shell's codes.
    let r = pyve(&sb, &["run", "no-such-command"]);
    code(&r, 127, "not found");
    std::fs::write(sb.project().join("script.sh"), "#!/bin/sh\necho hi\n").unwrap();
    let r = pyve(&sb, &["run", "./script.sh"]);
    code(&r, 126, "not executable");
    has(&r, "chmod +x");
    // Found by name but not executable (in the environment's bin): 126 too, as a shell says.
    std::fs::write(sb.project().join(".venv/bin/tool"), "#!/bin/sh\necho hi\n").unwrap();
    let r = pyve(&sb, &["run", "tool"]);
    code(&r, 126, "a non-executable file in the environment");
    has(&r, "chmod +x");
    let r = pyve(&sb, &["run", "sh", "-c", "exit 7"]);
    code(&r, 7, "the exit code passes through");
}

// ---------------------------------------------------------------------------------------------
// Class 3: SIGINT and SIGTERM end pyve at any moment, and children never outlive it.

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else { continue };
        // `pid (comm) state ppid ...`: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.to_owned()) else { continue };
        if rest.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// Whether `pid` is running (not gone, not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit_once(')').is_some_and(|(_, r)| !r.trim_start().starts_with('Z')))
}

#[track_caller]
fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn a_plugin_hung_in_its_handshake_never_outlives_pyve() {
    for signal in [libc::SIGKILL, libc::SIGTERM, libc::SIGINT] {
        let sb = Sandbox::new();
        sb.add_plugin(&pyve_tests::example("pyve-misbehave"), "pyve-misbehave");
        let log = sb.path().join("started.log");
        let mut cmd = sb.pyve_cmd();
        cmd.args(["plugin", "info", "misbehave"])
            .env("PYVE_MISBEHAVE", "hang")
            .env("PYVE_MISBEHAVE_LOG", &log)
            .env("PYVE_HANDSHAKE_TIMEOUT", "3600")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
        wait_until("the plugin to start", || log.exists());
        let plugins = children_of(child.id());
        assert_eq!(plugins.len(), 1, "one plugin process");
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        child.wait().unwrap();
        wait_until(&format!("the plugin to end after pyve got signal {signal}"), || !alive(plugins[0]));
    }
}

#[test]
fn sigterm_to_pyve_during_a_passthrough_command_reaches_the_plugin() {
    let sb = Sandbox::new();
    let pidfile = sb.path().join("plugin.pid");
    let script = sb.path().join("pyve-sleeper");
    std::fs::write(&script, format!("#!/bin/sh\necho $$ > '{}'\nexec sleep 30\n", pidfile.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    sb.add_plugin(&script, "pyve-sleeper");
    let mut cmd = sb.pyve_cmd();
    cmd.arg("sleeper").stdin(std::process::Stdio::null());
    let mut child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
    wait_until("the plugin to start", || std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n')));
    let plugin: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    // pyve replaced itself with the plugin (passthrough is an exec): one process, no orphan.
    assert_eq!(plugin, child.id(), "the plugin runs in pyve's process");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt as _;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "the caller sees the plugin's own death by SIGTERM");
    wait_until("the plugin to end", || !alive(plugin));
}

#[test]
fn ctrl_c_during_a_call_says_what_happens_and_a_second_one_stops_the_plugin() {
    use std::io::BufRead;
    let sb = Sandbox::new();
    sb.add_plugin(&pyve_tests::example("pyve-misbehave"), "pyve-misbehave");
    let log = sb.path().join("plugin.log");
    let mut cmd = sb.pyve_cmd();
    cmd.args(["--init", "--backend", "stuck", "--no-direnv"])
        .env("PYVE_MISBEHAVE", "stuck-create")
        .env("PYVE_MISBEHAVE_LOG", &log)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    wait_until("the backend to be creating", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("creating")) && children_of(child.id()).len() == 1
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    let pid = child.id() as libc::pid_t;
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("press Ctrl-C again") {
            break;
        }
    }
    assert!(seen.contains("Interrupted: asking plugin 'misbehave' to stop and clean up"), "{seen}");
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = child.wait().unwrap();
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(5)) {
        seen.push_str(&line);
        seen.push('\n');
    }
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("Interrupted again: stopping plugin 'misbehave' (SIGTERM, then SIGKILL)"), "{seen}");
    // The plugin got SIGTERM, so its own clean-up ran.
    wait_until("the plugin's clean-up", || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("terminated")));
    assert!(!sb.project().join(".pyve").exists(), "nothing of the failed init is left");
}

// ---------------------------------------------------------------------------------------------
// Classes 7 and 8: the manifest cache notices any replacement; refusals judge the real file.

#[test]
fn the_manifest_cache_notices_a_replacement_with_the_same_size_and_time() {
    let sb = Sandbox::new();
    let plugin = sb.add_plugin(&pyve_tests::example("pyve-misbehave"), "pyve-misbehave");
    let log = sb.path().join("starts.log");
    let starts = || std::fs::read_to_string(&log).unwrap_or_default().lines().count();
    let list = || run(sb.pyve_cmd().arg("--list").env("PYVE_MISBEHAVE_LOG", &log));
    code(&list(), 0, "--list");
    code(&list(), 0, "--list");
    assert_eq!(starts(), 1, "a warm cache starts nothing");
    // Replaced by a copy with the same size and modification time (as `cp -p` would).
    let mtime = std::fs::metadata(&plugin).unwrap().modified().unwrap();
    let copy = sb.path().join("copy");
    std::fs::copy(&plugin, &copy).unwrap();
    std::fs::File::options().write(true).open(&copy).unwrap().set_modified(mtime).unwrap();
    std::fs::rename(&copy, &plugin).unwrap();
    assert_eq!(std::fs::metadata(&plugin).unwrap().modified().unwrap(), mtime);
    code(&list(), 0, "--list");
    assert_eq!(starts(), 2, "the replaced plugin is asked again");
}

#[test]
fn a_library_linked_from_a_safe_directory_into_a_world_writable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let open = sb.path().join("world-writable");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let real = open.join("libpyve_misbehave_lib.so");
    pyve_tests::place(&pyve_tests::example_dylib("misbehave_lib"), &real);
    symlink(&real, sb.plugins().join("libpyve_misbehave_lib.so")).unwrap();
    let r = run(sb.pyve_cmd().args(["--list"]));
    has(&r, "world-writable");
    has(&r, &open.display().to_string());
    let r = run(sb.pyve_cmd().args(["plugin", "info", "misbehave-lib"]));
    assert_ne!(r.code, Some(0), "the library is not loaded:\n{}{}", r.stdout, r.stderr);
}

#[test]
fn a_misnamed_plugin_is_reported_by_verbose_listing_and_never_suggested() {
    let sb = Sandbox::new();
    let script = sb.plugins().join("pyve-Upper");
    std::fs::write(&script, "#!/bin/sh\necho upper\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(sb.pyve_cmd().args(["plugin", "list", "-v"]));
    has(&r, &format!("{} is ignored: not a plugin name", script.display()));
    has(&r, "rename it to pyve-upper");
    let r = run(sb.pyve_cmd().arg("Upper"));
    assert_ne!(r.code, Some(0));
    has(&r, "Unknown command: Upper");
    has(&r, "plugin names are lowercase");
    assert!(!r.stderr.contains("named pyve-Upper"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// Issue 17, class 7: an interrupt (SIGINT, SIGTERM, SIGHUP) seen at any point of `--init` ends
// it with 128 + the signal and the undo; children never outlive pyve; after `kill -9` the next
// command finds config, state and environment in agreement or says what to run.

/// The running processes started for this sandbox (their environment names it), other than
/// zombies: after pyve is gone there must be none.
fn sandbox_processes(sb: &Sandbox) -> Vec<(u32, String)> {
    let needle = sb.path().to_string_lossy().into_owned().into_bytes();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(environ) = std::fs::read(e.path().join("environ")) else { continue };
        if environ.windows(needle.len()).any(|w| w == needle.as_slice()) && alive(pid) {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    out
}

#[track_caller]
fn no_processes_left(sb: &Sandbox, when: &str) {
    let start = std::time::Instant::now();
    loop {
        let left = sandbox_processes(sb);
        if left.is_empty() {
            return;
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(30), "{when}: processes outlived pyve: {left:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A running pyve whose stdout and stderr lines are collected.
struct Running {
    child: std::process::Child,
    rx: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Running {
    fn start(cmd: &mut std::process::Command) -> Running {
        use std::io::BufRead;
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Running { child, rx, seen: String::new() }
    }

    /// Wait for a line containing `what` (the process may end first: then the assertion says so).
    fn wait_for(&mut self, what: &str) {
        while let Ok(line) = self.rx.recv_timeout(std::time::Duration::from_secs(180)) {
            self.seen.push_str(&line);
            self.seen.push('\n');
            if line.contains(what) {
                return;
            }
        }
        panic!("`{what}` never came:\n{}", self.seen);
    }

    /// Send `signal`, wait for the end; the exit code and everything printed.
    fn signal(mut self, signal: i32) -> (Option<i32>, String) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.rx.recv_timeout(std::time::Duration::from_secs(5)) {
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
        (status.code(), self.seen)
    }
}

const SIGNALS: [(i32, &str); 3] = [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")];

#[test]
fn an_interrupt_at_any_step_of_a_first_init_ends_it_and_leaves_nothing() {
    let v = python("3.12");
    for step in ["before-create", "after-create", "write-files", "write-config"] {
        for (signal, name) in SIGNALS {
            let when = format!("{name} at {step}");
            let sb = sandbox();
            let p = sb.project();
            std::fs::write(p.join(".gitignore"), "target\n").unwrap();
            let mut cmd = sb.e2e();
            cmd.env("PYVE_TEST_PAUSE_AT", step).args(["--init", "--python-version", &v]);
            let mut running = Running::start(&mut cmd);
            running.wait_for(&format!("pyve-test: paused at {step}"));
            let (status, seen) = running.signal(signal);
            assert_eq!(status, Some(128 + signal), "{when}: exit status\n{seen}");
            assert!(!seen.contains("initialized successfully"), "{when}:\n{seen}");
            assert!(seen.contains(&format!("interrupted ({name})")), "{when}: says why\n{seen}");
            assert_eq!(names(&p), [".gitignore"], "{when}: nothing half-made is left:\n{seen}");
            assert_eq!(std::fs::read_to_string(p.join(".gitignore")).unwrap(), "target\n", "{when}");
            no_processes_left(&sb, &when);
            // `--validate` is honest: there is no project.
            let r = pyve(&sb, &["--validate"]);
            code(&r, 1, &format!("--validate after {when}"));
            has(&r, "not initialized");
        }
    }
}

#[test]
fn an_interrupted_first_init_keeps_an_environment_that_was_there_before() {
    // `--init` keeps a venv it finds (made by `python -m venv`, with the user's packages): the
    // undo of an interrupted first init takes back what the run made, never that environment.
    let v = python("3.12");
    let sb = sandbox();
    let p = sb.project();
    code(
        &run(Command::new(pyve_tests::python_exe(&v)).args(["-m", "venv", "--without-pip"]).arg(p.join(".venv"))),
        0,
        "python -m venv",
    );
    std::fs::write(p.join(".venv/users-file"), "mine").unwrap();
    let mut cmd = sb.e2e();
    cmd.env("PYVE_TEST_PAUSE_AT", "write-files").args(["--init", "--no-direnv"]);
    let mut running = Running::start(&mut cmd);
    running.wait_for("pyve-test: paused at write-files");
    let (status, seen) = running.signal(libc::SIGINT);
    assert_eq!(status, Some(130), "exit status\n{seen}");
    assert!(p.join(".venv/users-file").is_file(), "the user's environment was deleted:\n{seen}");
    assert!(p.join(".venv/pyvenv.cfg").is_file(), "{seen}");
    assert_eq!(names(&p), [".venv"], "the run's own files go:\n{seen}");
}

#[test]
fn sighup_and_sigterm_during_the_creation_cancel_it_and_leave_nothing() {
    for (signal, name) in SIGNALS {
        let sb = Sandbox::new();
        sb.add_plugin(&pyve_tests::example("pyve-misbehave"), "pyve-misbehave");
        let log = sb.path().join("plugin.log");
        let mut cmd = sb.pyve_cmd();
        cmd.args(["--init", "--backend", "stuck", "--no-direnv"])
            .env("PYVE_MISBEHAVE", "stuck-create")
            .env("PYVE_MISBEHAVE_LOG", &log);
        let running = Running::start(&mut cmd);
        wait_until("the backend to be creating", || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("creating"))
                && children_of(running.child.id()).len() == 1
        });
        let (status, seen) = running.signal(signal);
        assert_eq!(status, Some(128 + signal), "{name} during env/create\n{seen}");
        assert!(seen.contains("asking plugin 'misbehave' to stop"), "{name}: the backend is cancelled\n{seen}");
        assert!(!sb.project().join(".pyve").exists(), "{name}: nothing of the failed init is left\n{seen}");
        no_processes_left(&sb, name);
    }
}

#[test]
fn an_interrupt_during_a_reinit_after_the_swap_records_the_new_environment_and_says_what_to_run() {
    let v = python("3.12");
    for (signal, name) in [(libc::SIGKILL, "SIGKILL"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let sb = sandbox();
        code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &v]), 0, "first --init");
        let mut cmd = sb.e2e();
        cmd.env("PYVE_TEST_PAUSE_AT", "after-create").env("PYVE_FORCE_YES", "1").args([
            "--init",
            "--force",
            "--no-direnv",
            "--python-version",
            &v,
        ]);
        let mut running = Running::start(&mut cmd);
        running.wait_for("pyve-test: paused at after-create");
        let (status, seen) = running.signal(signal);
        if signal == libc::SIGKILL {
            assert_eq!(status, None, "{seen}");
        } else {
            assert_eq!(status, Some(128 + signal), "{name}: exit status\n{seen}");
            has_text(&seen, "run `pyve --init --force` again");
        }
        assert!(!seen.contains("initialized successfully"), "{name}:\n{seen}");
        no_processes_left(&sb, name);
        // The next commands say the init did not finish, and what to run.
        let r = pyve(&sb, &["--validate"]);
        code(&r, 1, &format!("--validate after {name}"));
        has(&r, "did not finish");
        has(&r, "pyve --init --force");
        let r = pyve(&sb, &["doctor"]);
        has(&r, "did not finish");
        let r = pyve(&sb, &["--init", "--update"]);
        code(&r, 1, &format!("--update after {name}"));
        has(&r, "did not finish");
        has(&r, "pyve --init --force");
        let r = run(sb.e2e().args(["run", "python", "-c", "print('ran')"]));
        has(&r, "did not finish");
        // --force makes it whole, and everything agrees again.
        let r =
            run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv", "--python-version", &v]));
        code(&r, 0, &format!("--force after {name}"));
        let r = pyve(&sb, &["--validate"]);
        code(&r, 0, &format!("--validate after the repair ({name})"));
        assert!(!r.stdout.contains("did not finish"), "{}", r.stdout);
    }
}

#[test]
fn an_interrupt_before_the_swap_keeps_the_old_environment() {
    let v = python("3.12");
    for (signal, name) in SIGNALS {
        let sb = sandbox();
        let p = sb.project();
        code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &v]), 0, "first --init");
        let before =
            (std::fs::read(p.join(".pyve/config")).unwrap(), std::fs::read(p.join(".pyve/state.json")).unwrap());
        std::fs::write(p.join(".venv/marker"), "old").unwrap();
        let mut cmd = sb.e2e();
        cmd.env("PYVE_TEST_PAUSE_AT", "before-create").env("PYVE_FORCE_YES", "1").args([
            "--init",
            "--force",
            "--no-direnv",
        ]);
        let mut running = Running::start(&mut cmd);
        running.wait_for("pyve-test: paused at before-create");
        let (status, seen) = running.signal(signal);
        assert_eq!(status, Some(128 + signal), "{name}\n{seen}");
        assert_eq!(
            std::fs::read_to_string(p.join(".venv/marker")).unwrap(),
            "old",
            "{name}: the old environment stays"
        );
        let after =
            (std::fs::read(p.join(".pyve/config")).unwrap(), std::fs::read(p.join(".pyve/state.json")).unwrap());
        assert_eq!(after, before, "{name}: config and state unchanged");
        code(&pyve(&sb, &["--validate"]), 0, &format!("--validate after {name}"));
    }
}

#[track_caller]
fn has_text(all: &str, needle: &str) {
    assert!(all.contains(needle), "`{needle}` missing from:\n{all}");
}

#[test]
fn sigterm_to_testenv_install_ends_its_pip() {
    for (signal, name) in [(libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP")] {
        let sb = sandbox();
        let p = sb.project();
        code(&pyve(&sb, &["testenv", "--init"]), 0, "testenv --init");
        std::fs::write(p.join("requirements-dev.txt"), "pyve-no-such-package-for-tests\n").unwrap();
        // An index that accepts connections and never answers: pip is certainly running (and
        // would go on for a minute) when the signal comes.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let index = format!("http://{}/simple", silent.local_addr().unwrap());
        let mut cmd = sb.e2e();
        cmd.env("PIP_INDEX_URL", &index).env("PIP_DEFAULT_TIMEOUT", "60").env("PIP_RETRIES", "0").args([
            "testenv",
            "--install",
            "-r",
            "requirements-dev.txt",
        ]);
        let running = Running::start(&mut cmd);
        let mut pip = None;
        wait_until("pip to run", || {
            pip = sandbox_processes(&sb).into_iter().find(|(_, c)| c.contains("pip install")).map(|(pid, _)| pid);
            pip.is_some()
        });
        let (status, seen) = running.signal(signal);
        assert_eq!(status, Some(128 + signal), "{name}: pyve reports the end by the signal\n{seen}");
        let pip = pip.unwrap();
        wait_until(&format!("pip to end after {name}"), || !alive(pip));
        no_processes_left(&sb, name);
        drop(silent);
    }
}

#[test]
fn an_interrupt_during_purge_ends_it_and_the_next_purge_finishes() {
    let v = python("3.12");
    for (signal, name) in SIGNALS {
        let sb = sandbox();
        let p = sb.project();
        code(&pyve(&sb, &["--init", "--no-direnv", "--python-version", &v]), 0, "--init");
        let mut cmd = sb.e2e();
        cmd.env("PYVE_TEST_PAUSE_AT", "purge-files").args(["--purge"]);
        let mut running = Running::start(&mut cmd);
        running.wait_for("pyve-test: paused at purge-files");
        let (status, seen) = running.signal(signal);
        assert_eq!(status, Some(128 + signal), "{name}\n{seen}");
        has_text(&seen, "run `pyve --purge` again");
        assert!(!seen.contains("artifacts removed"), "{name}: not reported as done\n{seen}");
        assert!(p.join(".pyve/config").exists(), "{name}: the config stays until the end");
        no_processes_left(&sb, name);
        code(&pyve(&sb, &["--purge"]), 0, &format!("--purge after {name}"));
        assert!(!p.join(".pyve").exists() && !p.join(".venv").exists(), "{name}: the next purge finishes");
    }
}

/// Found beyond the named instances: the kernel's SIGTERM to a plugin whose pyve was killed
/// ended the plugin but not the pip it ran.
#[test]
fn kill_9_during_a_hook_leaves_no_process() {
    let sb = sandbox();
    sb.install(&["pyve-distutils-shim"]);
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let index = format!("http://{}/simple", silent.local_addr().unwrap());
    let mut cmd = sb.e2e();
    cmd.env_remove("PYVE_DISABLE_DISTUTILS_SHIM")
        .env("PIP_INDEX_URL", &index)
        .env("UV_INDEX_URL", &index)
        .env("UV_DEFAULT_INDEX", &index)
        .env("PIP_DEFAULT_TIMEOUT", "60")
        .args(["--init", "--no-direnv", "--python-version", &python("3.12")]);
    let mut running = Running::start(&mut cmd);
    running.wait_for("installing distutils compatibility shim");
    let pyve_pid = running.child.id();
    wait_until("the hook's installer to run", || {
        sandbox_processes(&sb).iter().any(|(pid, c)| *pid != pyve_pid && c.contains(" pip "))
    });
    let (status, _) = running.signal(libc::SIGKILL);
    assert_eq!(status, None);
    no_processes_left(&sb, "SIGKILL during the hook");
}

// The same for the micromamba backend (issue 17: the fault suite extended to it), offline: a
// conda channel written at run time (as tests/micromamba.rs does), the built-in engine.

/// A sandbox with the micromamba plugin, a local channel and an environment.yml naming it.
fn mamba_sandbox() -> Sandbox {
    use pyve_micromamba::channel::{Format, Package, write_channel};
    let sb = Sandbox::new();
    sb.install(&["pyve-micromamba"]);
    let channel = sb.path().join("channel");
    let hello = Package::with_command("hello", "1.0", "hello", "hello from conda", Format::Conda);
    write_channel(&channel, pyve_micromamba::lock::platform(), &[hello]).unwrap();
    let yml = format!("name: demo\nchannels:\n  - {}\ndependencies:\n  - hello\n", channel.display());
    std::fs::write(sb.project().join("environment.yml"), yml).unwrap();
    sb
}

fn mamba_cmd(sb: &Sandbox) -> std::process::Command {
    let mut c = sb.pyve_cmd();
    c.env("MAMBA_ROOT_PREFIX", sb.path().join("mamba-root"))
        .env("RATTLER_CACHE_DIR", sb.cache().join("rattler"))
        .env("PYVE_DISABLE_DISTUTILS_SHIM", "1");
    c
}

#[test]
fn an_interrupt_at_any_step_of_a_first_micromamba_init_ends_it_and_leaves_nothing() {
    for step in ["before-create", "after-create", "write-files", "write-config"] {
        for (signal, name) in SIGNALS {
            let when = format!("micromamba: {name} at {step}");
            let sb = mamba_sandbox();
            let p = sb.project();
            std::fs::write(p.join(".gitignore"), "target\n").unwrap();
            let yml = std::fs::read_to_string(p.join("environment.yml")).unwrap();
            let mut cmd = mamba_cmd(&sb);
            cmd.env("PYVE_TEST_PAUSE_AT", step).args(["--init"]);
            let mut running = Running::start(&mut cmd);
            running.wait_for(&format!("pyve-test: paused at {step}"));
            let (status, seen) = running.signal(signal);
            assert_eq!(status, Some(128 + signal), "{when}: exit status\n{seen}");
            assert!(!seen.contains("initialized successfully"), "{when}:\n{seen}");
            assert!(seen.contains(&format!("interrupted ({name})")), "{when}: says why\n{seen}");
            assert_eq!(names(&p), [".gitignore", "environment.yml"], "{when}: nothing half-made is left:\n{seen}");
            assert_eq!(std::fs::read_to_string(p.join(".gitignore")).unwrap(), "target\n", "{when}");
            assert_eq!(std::fs::read_to_string(p.join("environment.yml")).unwrap(), yml, "{when}");
            no_processes_left(&sb, &when);
            let r = run(mamba_cmd(&sb).arg("--validate"));
            code(&r, 1, &format!("--validate after {when}"));
            has(&r, "not initialized");
            // And the next init makes it whole.
            code(&run(mamba_cmd(&sb).args(["--init", "--no-direnv"])), 0, &format!("--init after {when}"));
            code(&run(mamba_cmd(&sb).arg("--validate")), 0, &format!("--validate after the init ({when})"));
        }
    }
}

#[test]
fn an_interrupt_during_a_micromamba_reinit_keeps_or_records_and_says_what_to_run() {
    for (signal, name) in SIGNALS {
        let sb = mamba_sandbox();
        let p = sb.project();
        code(&run(mamba_cmd(&sb).args(["--init", "--no-direnv"])), 0, "first --init");
        let env = p.join(".pyve/envs/demo");
        let before =
            (std::fs::read(p.join(".pyve/config")).unwrap(), std::fs::read(p.join(".pyve/state.json")).unwrap());

        // Before the swap: the old environment, config and state stay, --validate passes.
        std::fs::write(env.join("marker"), "old").unwrap();
        let mut cmd = mamba_cmd(&sb);
        cmd.env("PYVE_TEST_PAUSE_AT", "before-create").env("PYVE_FORCE_YES", "1").args([
            "--init",
            "--force",
            "--no-direnv",
        ]);
        let mut running = Running::start(&mut cmd);
        running.wait_for("pyve-test: paused at before-create");
        let (status, seen) = running.signal(signal);
        assert_eq!(status, Some(128 + signal), "micromamba {name} before the swap\n{seen}");
        assert_eq!(std::fs::read_to_string(env.join("marker")).unwrap(), "old", "{name}: the old environment stays");
        let after =
            (std::fs::read(p.join(".pyve/config")).unwrap(), std::fs::read(p.join(".pyve/state.json")).unwrap());
        assert_eq!(after, before, "{name}: config and state unchanged");
        no_processes_left(&sb, name);
        code(&run(mamba_cmd(&sb).arg("--validate")), 0, &format!("--validate after {name} before the swap"));

        // After the swap: the new environment is recorded, and every command says what to run.
        let mut cmd = mamba_cmd(&sb);
        cmd.env("PYVE_TEST_PAUSE_AT", "after-create").env("PYVE_FORCE_YES", "1").args([
            "--init",
            "--force",
            "--no-direnv",
        ]);
        let mut running = Running::start(&mut cmd);
        running.wait_for("pyve-test: paused at after-create");
        let (status, seen) = running.signal(signal);
        assert_eq!(status, Some(128 + signal), "micromamba {name} after the swap\n{seen}");
        has_text(&seen, "run `pyve --init --force` again");
        assert!(!seen.contains("initialized successfully"), "{name}:\n{seen}");
        assert!(!env.join("marker").exists(), "{name}: the new environment is in place");
        no_processes_left(&sb, name);
        let r = run(mamba_cmd(&sb).arg("--validate"));
        code(&r, 1, &format!("--validate after {name} after the swap"));
        has(&r, "did not finish");
        has(&r, "pyve --init --force");
        let r = run(mamba_cmd(&sb).env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
        code(&r, 0, &format!("--force after {name}"));
        code(&run(mamba_cmd(&sb).arg("--validate")), 0, &format!("--validate after the repair ({name})"));
    }
}
