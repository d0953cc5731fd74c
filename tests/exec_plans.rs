//! Exec plans (docs/protocol.md section 3.1) end to end: `pyve test` and `pyve testenv run` leave
//! a plan, pyve runs it without starting pyve-testenv, and every change the plan rests on sends
//! the next run through the plugin again. Also a plan from a plugin written in Python from the
//! protocol text alone. Real interpreters and pytest from PyPI, as tests/testenv.rs.

use std::path::{Path, PathBuf};

use pyve_tests::{Outcome, Sandbox, python, run};

#[track_caller]
fn code(out: &Outcome, want: i32, what: &str) {
    assert_eq!(out.code, Some(want), "{what}: exit {:?}\nstdout:\n{}\nstderr:\n{}", out.code, out.stdout, out.stderr);
}

#[track_caller]
fn has(text: &str, needle: &str) {
    assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
}

fn pyve(sb: &Sandbox, args: &[&str]) -> Outcome {
    run(sb.e2e().args(args))
}

fn plans_dir(sb: &Sandbox) -> PathBuf {
    sb.cache().join("pyve").join("exec-plans")
}

/// The plan files on disk.
fn plans(sb: &Sandbox) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(plans_dir(sb))
        .map(|rd| {
            rd.filter_map(|e| Some(e.ok()?.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The one plan on disk, parsed.
#[track_caller]
fn the_plan(sb: &Sandbox) -> (PathBuf, serde_json::Value) {
    let found = plans(sb);
    assert_eq!(found.len(), 1, "one plan: {found:?}");
    let text = std::fs::read_to_string(&found[0]).unwrap();
    (found[0].clone(), serde_json::from_str(&text).expect("a plan is JSON"))
}

/// Make the plan on disk print a marker instead (its watched paths stay as they are), so that
/// a run shows whether pyve took the plan or went through the plugin.
#[track_caller]
fn mark_plan(sb: &Sandbox) {
    let (file, mut plan) = the_plan(sb);
    plan["program"] = serde_json::json!("/bin/echo");
    plan["args"] = serde_json::json!(["ran the plan"]);
    std::fs::write(file, plan.to_string()).unwrap();
}

#[track_caller]
fn took_the_plan(out: &Outcome) -> bool {
    code(out, 0, "a run");
    out.stdout.contains("ran the plan")
}

fn set_up() -> (Sandbox, PathBuf) {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-testenv"]);
    let p = sb.project();
    code(&pyve(&sb, &["--init", "--python-version", &python("3.12"), "--no-direnv"]), 0, "pyve --init");
    code(&pyve(&sb, &["testenv", "--init"]), 0, "testenv --init");
    code(&pyve(&sb, &["testenv", "--install"]), 0, "testenv --install");
    std::fs::create_dir_all(p.join("tests")).unwrap();
    std::fs::write(p.join("tests/test_ok.py"), "def test_ok():\n    assert True\n").unwrap();
    (sb, p)
}

fn site_packages(env: &Path) -> PathBuf {
    let lib = env.join("lib");
    let v = std::fs::read_dir(&lib).unwrap().next().unwrap().unwrap().file_name();
    lib.join(v).join("site-packages")
}

#[test]
fn pyve_test_runs_the_plan_until_something_it_rests_on_changes() {
    let (sb, p) = set_up();
    // The first run links the project's environment (a write): no plan. The second leaves one.
    let out = pyve(&sb, &["test", "-q"]);
    code(&out, 0, "first pyve test");
    has(&out.stdout, "1 passed");
    code(&pyve(&sb, &["test", "-q"]), 0, "second pyve test");
    let (_, plan) = the_plan(&sb);
    assert_eq!(plan["format"], 1);
    assert_eq!(plan["program"], p.join(".pyve/testenv/venv/bin/python").display().to_string());
    assert_eq!(plan["args"], serde_json::json!(["-m", "pytest", "-q"]));
    assert_eq!(plan["env"]["VIRTUAL_ENV"], p.join(".pyve/testenv/venv").display().to_string());
    assert_eq!(plan["vars"]["PATH"], "/usr/local/bin:/usr/bin:/bin");
    assert!(plan["vars"]["PYVE_DEFAULT_PYTHON_VERSION"].is_null());
    assert!(plan["env"]["PYVE_EXEC_PLAN"].is_null() && plan["env"].get("PYVE_EXEC_PLAN").is_some());
    // pyve runs what the plan says, without the plugin.
    mark_plan(&sb);
    assert!(took_the_plan(&pyve(&sb, &["test", "-q"])), "an unchanged plan is taken");
    // `--verbose` says when a plan runs (a plan of its own: the plugin is told the verbosity).
    code(&pyve(&sb, &["--verbose", "test", "-q"]), 0, "verbose, leaving a plan");
    let out = pyve(&sb, &["--verbose", "test", "-q"]);
    code(&out, 0, "verbose, from the plan");
    has(&out.stderr, "running the exec plan ");
    has(&out.stderr, "(the plugin is not started)");
    // Other arguments are another plan.
    let out = pyve(&sb, &["test", "-q", "tests"]);
    assert!(!took_the_plan(&out), "{}", out.stdout);
    has(&out.stdout, "1 passed");
    keep_only_the_marked_plan(&sb);

    // pytest removed from the test environment: the plugin's own error, not the stale plan.
    let site = site_packages(&p.join(".pyve/testenv/venv"));
    std::fs::rename(site.join("pytest"), site.join("pytest.away")).unwrap();
    let out = pyve(&sb, &["test", "-q"]);
    code(&out, 1, "pyve test without pytest");
    has(&out.stderr, "No module named pytest");
    assert!(plans(&sb).is_empty(), "a plan that no longer holds is removed");
    std::fs::rename(site.join("pytest.away"), site.join("pytest")).unwrap();
    code(&pyve(&sb, &["test", "-q"]), 0, "pytest back");
    mark_plan(&sb);
    assert!(took_the_plan(&pyve(&sb, &["test", "-q"])));

    // The project now asks for another Python: the plugin's drift warning, and no plan from a
    // run that warned.
    std::fs::write(p.join(".python-version"), format!("{}\n", python("3.11"))).unwrap();
    let out = pyve(&sb, &["test", "-q"]);
    assert!(!took_the_plan(&out), "{}", out.stdout);
    has(&out.stderr, "The dev/test runner environment uses Python");
    code(&pyve(&sb, &["test", "-q"]), 0, "again");
    assert!(plans(&sb).is_empty(), "no plan from a run that warned");
    std::fs::remove_file(p.join(".python-version")).unwrap();
    code(&pyve(&sb, &["test", "-q"]), 0, "no pin");
    mark_plan(&sb);

    // A variable the plugin reads, now set: the plugin decides again (and its plan now holds
    // for that value); one nobody reads changes nothing.
    let out = run(sb.e2e().env("PYVE_DEFAULT_PYTHON_VERSION", "3.12").args(["test", "-q"]));
    assert!(!took_the_plan(&out), "a variable the plugin read has another value");
    assert_eq!(the_plan(&sb).1["vars"]["PYVE_DEFAULT_PYTHON_VERSION"], "3.12");
    assert!(!took_the_plan(&pyve(&sb, &["test", "-q"])), "unset again");
    mark_plan(&sb);
    let out = run(sb.e2e().env("HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET", "xyz").args(["test", "-q"]));
    assert!(took_the_plan(&out), "a variable nobody read changes nothing");

    // The plugin rebuilt, or another plugin that now serves `test`: the plugin decides again.
    let testenv = sb.path().join("bin/pyve-testenv");
    let bytes = std::fs::read(&testenv).unwrap();
    std::fs::remove_file(&testenv).unwrap();
    std::fs::write(&testenv, &bytes).unwrap();
    std::fs::set_permissions(&testenv, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert!(!took_the_plan(&pyve(&sb, &["test", "-q"])), "a rebuilt plugin");
    mark_plan(&sb);
    let other = sb.plugins().join("pyve-test");
    std::fs::write(&other, "#!/bin/sh\necho 'another pyve-test'\n").unwrap();
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = pyve(&sb, &["test", "-q"]);
    code(&out, 0, "pyve-test on the plugin path");
    has(&out.stdout, "another pyve-test");
    std::fs::remove_file(&other).unwrap();

    // Turned off: none left.
    for f in plans(&sb) {
        std::fs::remove_file(f).unwrap();
    }
    for _ in 0..2 {
        code(&run(sb.e2e().env("PYVE_NO_EXEC_PLANS", "1").args(["test", "-q"])), 0, "plans off");
    }
    assert!(plans(&sb).is_empty(), "PYVE_NO_EXEC_PLANS=1 leaves no plan");
}

/// A version file that is a symbolic link (a pin shared by several projects): the plan watches
/// the file it leads to and every link on the way, so a changed shared pin gets the plugin's
/// drift warning, not the stale plan.
#[test]
fn a_pin_that_links_elsewhere_is_watched_where_it_leads() {
    let (sb, p) = set_up();
    let shared = sb.path().join("shared");
    std::fs::create_dir_all(shared.join("a")).unwrap();
    std::fs::create_dir_all(shared.join("b")).unwrap();
    let v312 = python("3.12");
    std::fs::write(shared.join("a/pin"), format!("{v312}\n")).unwrap();
    std::fs::write(shared.join("b/pin"), format!("{}\n", python("3.11"))).unwrap();
    // .python-version -> shared/current/pin, with shared/current -> a (a link among the directories).
    std::os::unix::fs::symlink("a", shared.join("current")).unwrap();
    let _ = std::fs::remove_file(p.join(".python-version"));
    std::os::unix::fs::symlink(shared.join("current/pin"), p.join(".python-version")).unwrap();
    let out = pyve(&sb, &["test", "-q"]);
    code(&out, 0, "first pyve test");
    code(&pyve(&sb, &["test", "-q"]), 0, "second pyve test");
    mark_plan(&sb);
    assert!(took_the_plan(&pyve(&sb, &["test", "-q"])), "an unchanged plan is taken");

    // The shared pin's content changes.
    std::fs::write(shared.join("a/pin"), format!("{}\n", python("3.11"))).unwrap();
    let out = pyve(&sb, &["test", "-q"]);
    assert!(!took_the_plan(&out), "{}", out.stdout);
    has(&out.stderr, "The dev/test runner environment uses Python");
    std::fs::write(shared.join("a/pin"), format!("{v312}\n")).unwrap();
    code(&pyve(&sb, &["test", "-q"]), 0, "back to 3.12");
    mark_plan(&sb);
    assert!(took_the_plan(&pyve(&sb, &["test", "-q"])));

    // A directory link on the way now leads elsewhere.
    std::fs::remove_file(shared.join("current")).unwrap();
    std::os::unix::fs::symlink("b", shared.join("current")).unwrap();
    let out = pyve(&sb, &["test", "-q"]);
    assert!(!took_the_plan(&out), "{}", out.stdout);
    has(&out.stderr, "The dev/test runner environment uses Python");
}

/// Remove every plan but the one [`mark_plan`] changed.
fn keep_only_the_marked_plan(sb: &Sandbox) {
    for f in plans(sb) {
        if !std::fs::read_to_string(&f).unwrap().contains("ran the plan") {
            std::fs::remove_file(f).unwrap();
        }
    }
}

#[test]
fn testenv_run_leaves_a_plan_and_the_program_never_sees_the_offer() {
    let (sb, p) = set_up();
    let env = |out: &Outcome| {
        code(out, 0, "testenv run env");
        let mut lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    let slow = env(&pyve(&sb, &["testenv", "run", "env"]));
    let (_, plan) = the_plan(&sb);
    assert_eq!(plan["program"], "/usr/bin/env");
    let fast = env(&pyve(&sb, &["testenv", "run", "env"]));
    assert_eq!(slow, fast, "the program gets the same environment either way");
    assert!(!slow.iter().any(|l| l.starts_with("PYVE_EXEC_PLAN")), "{slow:?}");
    has(&slow.join("\n"), &format!("VIRTUAL_ENV={}", p.join(".pyve/testenv/venv").display()));
    mark_plan(&sb);
    assert!(took_the_plan(&pyve(&sb, &["testenv", "run", "env"])));
    // A program of the same name put into the test environment's bin now wins the lookup.
    let shadow = p.join(".pyve/testenv/venv/bin/env");
    std::fs::write(&shadow, "#!/bin/sh\necho 'the environment s env'\n").unwrap();
    std::fs::set_permissions(&shadow, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = pyve(&sb, &["testenv", "run", "env"]);
    assert!(!took_the_plan(&out));
    has(&out.stdout, "the environment s env");
}

/// A plugin in Python, written from docs/protocol.md section 3.1 alone, leaves a plan; pyve runs
/// it, and runs the plugin again once its watched file changes.
#[test]
fn a_plugin_in_any_language_can_leave_a_plan() {
    let sb = Sandbox::new();
    let p = sb.project();
    let python = pyve_tests::python_exe(&python("3.12")).display().to_string();
    let script = format!(
        r#"#!{python}
import json, os, stat, sys
def fingerprint(path):
    try:
        s = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    return "%d:%d:%o:%d:%d:%d" % (s.st_dev, s.st_ino, s.st_mode, s.st_size, s.st_mtime_ns, s.st_ctime_ns)
greeting = os.path.abspath("greeting.txt")
watch = [{{"path": greeting, "stat": fingerprint(greeting)}}]
text = open(greeting).read().strip()
argv = ["/bin/echo", "plugin says " + text]
plan_file, token = os.environ.get("PYVE_EXEC_PLAN"), os.environ.get("PYVE_EXEC_PLAN_TOKEN")
env = dict(os.environ)
env.pop("PYVE_EXEC_PLAN", None)
env.pop("PYVE_EXEC_PLAN_TOKEN", None)
if plan_file and token and all(fingerprint(w["path"]) == w["stat"] for w in watch):
    plan = {{"format": 1, "token": token, "program": argv[0], "args": argv[1:],
            "env": {{"PYVE_EXEC_PLAN": None, "PYVE_EXEC_PLAN_TOKEN": None}}, "watch": watch}}
    tmp = plan_file + ".tmp"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        json.dump(plan, f)
    os.replace(tmp, plan_file)
os.execve(argv[0], argv, env)
"#
    );
    let plugin = sb.plugins().join("pyve-greet");
    std::fs::write(&plugin, script).unwrap();
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(p.join("greeting.txt"), "hello\n").unwrap();
    let out = run(sb.pyve_cmd().arg("greet"));
    code(&out, 0, "pyve greet");
    assert_eq!(out.stdout, "plugin says hello\n");
    let (_, plan) = the_plan(&sb);
    assert_eq!(plan["program"], "/bin/echo");
    // The plan is taken: a marker in place of its arguments shows it.
    let (file, mut plan) = the_plan(&sb);
    plan["args"] = serde_json::json!(["ran the plan"]);
    std::fs::write(&file, plan.to_string()).unwrap();
    assert_eq!(run(sb.pyve_cmd().arg("greet")).stdout, "ran the plan\n");
    // The watched file changed: the plugin runs again.
    std::fs::write(p.join("greeting.txt"), "bonjour\n").unwrap();
    assert_eq!(run(sb.pyve_cmd().arg("greet")).stdout, "plugin says bonjour\n");
    // A damaged plan is only a cost: the plugin runs.
    let (file, _) = the_plan(&sb);
    std::fs::write(&file, "{not json").unwrap();
    assert_eq!(run(sb.pyve_cmd().arg("greet")).stdout, "plugin says bonjour\n");
}
