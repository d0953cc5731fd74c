//! A third-party backend (a Python script on the helper) as the host treats it: the host
//! reports what `env/remove` removed and kept, refuses a backend that answers
//! `created: false` to `replace: true`, and names an interpreter other than the one asked for.
//! And a backend written from the docs alone in another language (Node.js,
//! `tests/fixtures/pyve-nodevenv`), driven as a user would: conformance kit, install, pin,
//! init, run, doctor, validate, purge. And the two other roles written from the docs alone in
//! bash and jq: a passthrough command (`tests/fixtures/pyve-hello`) and a post-create hook
//! (`tests/fixtures/pyve-stamp`).

use std::path::{Path, PathBuf};

use pyve_tests::{Sandbox, python, repo_root, run};

/// `pyve-lazy`: backend `lazy`, an environment `.lazyenv` (a directory with a marker), and a
/// `create` that keeps an existing environment whatever it is asked (`replace` ignored). It
/// reports Python `3.99.0` whatever is requested.
fn lazy_backend(dest: &Path) -> PathBuf {
    let sdk = repo_root().join("sdk/python");
    let text = format!(
        r#"#!/usr/bin/env python3
import os, shutil, sys
sys.path.insert(0, {sdk:?})
import pyve_plugin as pp

class Lazy:
    def _env(self, params):
        return os.path.join(params["project_root"], ".lazyenv")
    def create(self, cx, params):
        env = self._env(params)
        made = not os.path.isdir(env)
        if made:
            os.makedirs(os.path.join(env, "bin"))
        return {{"env_path": env, "created": made, "python_version": "3.99.0"}}
    def describe(self, cx, params):
        env = self._env(params)
        return {{"exists": os.path.isdir(env), "env_path": env}}
    def activation(self, cx, params):
        return {{"path_prepend": [os.path.join(self._env(params), "bin")]}}
    def remove(self, cx, params):
        env = self._env(params)
        removed = []
        if os.path.isdir(env):
            shutil.rmtree(env)
            removed.append(env)
        return {{"removed": removed, "kept": [{{"path": os.path.join(params["project_root"], "lazy.toml"), "reason": "the project's own file"}}]}}

plugin = pp.Plugin("lazy", "0.1.0", description="A backend that never rebuilds")
plugin.backend("lazy", Lazy(), selectors=["lazy.toml"])

if __name__ == "__main__":
    pp.main(plugin)
"#,
        sdk = sdk.display().to_string(),
    );
    std::fs::create_dir_all(dest).unwrap();
    let path = dest.join("pyve-lazy");
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn the_host_reports_removals_and_refuses_a_backend_that_does_not_replace() {
    let sb = Sandbox::new();
    lazy_backend(&sb.plugins());
    std::fs::write(sb.project().join("lazy.toml"), "").unwrap();

    let out = run(sb.pyve_cmd().args(["--init", "--no-direnv", "--python-version", "3.12.1"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "WARNING: Python 3.12.1 was requested, but plugin 'lazy' made the environment with Python 3.99.0"
        ),
        "{}",
        out.stderr
    );
    assert!(sb.project().join(".lazyenv").is_dir());

    // --force: the backend keeps the environment although asked to replace it.
    let out = run(sb.pyve_cmd().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("ERROR: plugin 'lazy' (")
            && out.stderr.contains("answered `created: false` to `replace: true`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: the plugin does not honour --force"), "{}", out.stderr);
    assert!(!out.stdout.contains("Environment purged"), "{}", out.stdout);

    // Purge: the plugin prints nothing itself; pyve reports what env/remove said.
    let out = run(sb.pyve_cmd().args(["--purge"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ Removed .lazyenv\n"), "{}", out.stdout);
    assert!(out.stdout.contains("INFO: Kept lazy.toml: the project's own file\n"), "{}", out.stdout);
    assert!(!sb.project().join(".lazyenv").exists());
}

/// `pyve-evil`: backend `evil` (selector `evil.toml`) whose `env/create` answers what
/// `EVIL_ANSWER` (JSON, merged over a sane answer) says, and whose `env/remove` removes every
/// `created_files` entry it is handed, as a naive backend would.
fn evil_backend(dest: &Path) -> PathBuf {
    let sdk = repo_root().join("sdk/python");
    let text = format!(
        r#"#!/usr/bin/env python3
import json, os, sys
sys.path.insert(0, {sdk:?})
import pyve_plugin as pp

class Evil:
    def _env(self, params):
        return os.path.join(params["project_root"], ".evilenv")
    def create(self, cx, params):
        env = self._env(params)
        os.makedirs(os.path.join(env, "bin"), exist_ok=True)
        answer = {{"env_path": env, "created": True, "created_files": [".evil-pin"], "gitignore": [".evilenv"]}}
        answer.update(json.loads(os.environ.get("EVIL_ANSWER", "{{}}")))
        return answer
    def describe(self, cx, params):
        env = self._env(params)
        return {{"exists": os.path.isdir(env), "env_path": env}}
    def activation(self, cx, params):
        return {{"path_prepend": [os.path.join(self._env(params), "bin")]}}
    def remove(self, cx, params):
        removed = []
        for f in params["settings"].get("created_files", []):
            p = os.path.join(params["project_root"], f)
            if os.path.isfile(p):
                os.remove(p)
                removed.append(p)
        return {{"removed": removed}}

plugin = pp.Plugin("evil", "0.1.0", description="A backend whose answers climb out of the project")
plugin.backend("evil", Evil(), selectors=["evil.toml"])

if __name__ == "__main__":
    pp.main(plugin)
"#,
        sdk = sdk.display().to_string(),
    );
    std::fs::create_dir_all(dest).unwrap();
    let path = dest.join("pyve-evil");
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Issue 17, class 1 (the host's side): paths in a plugin's answer, and in the state recorded
/// from one, are checked to stay inside the project before the host writes or removes anything
/// based on them.
#[test]
fn paths_a_hostile_backend_answers_outside_the_project_are_refused_naming_the_plugin() {
    let sb = Sandbox::new();
    evil_backend(&sb.plugins());
    let p = sb.project();
    std::fs::write(p.join("evil.toml"), "").unwrap();
    // `../../outside` from the project (`<sandbox>/project`) is `<sandbox>/../outside`; both
    // places hold a file the user cares about.
    let outside = [sb.path().join("outside"), sb.path().parent().unwrap().join("outside")];
    let victim = sb.path().join("victim");
    std::fs::write(&victim, "the user's file\n").unwrap();
    let before_dir = |d: &Path| std::fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
    let counts: Vec<_> = outside.iter().map(|d| before_dir(d)).collect();
    let untouched = |what: &str| {
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "the user's file\n", "{what}");
        assert_eq!(outside.iter().map(|d| before_dir(d)).collect::<Vec<_>>(), counts, "{what}");
    };
    for (answer, field) in [
        (r#"{"created_files": ["../../outside"]}"#, "created_files entry `../../outside`"),
        (r#"{"env_path": "/"}"#, "env_path `/`"),
        (r#"{"gitignore": ["../victim"]}"#, "gitignore line `../victim`"),
        (r#"{"activation": {"path_prepend": ["/usr/bin"]}}"#, "activation path_prepend entry `/usr/bin`"),
    ] {
        let out = run(sb.pyve_cmd().env("EVIL_ANSWER", answer).args(["--init", "--no-direnv"]));
        assert_eq!(out.code, Some(1), "{answer}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&format!("plugin 'evil' answered env/create with {field}")),
            "{answer}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("hint:"), "{}", out.stderr);
        assert!(!p.join(".pyve/state.json").exists(), "{answer}: nothing recorded");
        assert!(!p.join(".gitignore").exists(), "{answer}: nothing written");
        untouched(answer);
    }

    // A sane answer; then a clone's state that names a file outside: purge hands the backend
    // only what is inside the project.
    let out = run(sb.pyve_cmd().args(["--init", "--no-direnv"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    std::fs::write(p.join(".evil-pin"), "3.12\n").unwrap();
    let state_path = p.join(".pyve/state.json");
    let mut state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state["created_files"] = serde_json::json!([".evil-pin", "../victim"]);
    std::fs::write(&state_path, state.to_string()).unwrap();
    let out = run(sb.pyve_cmd().args(["--purge"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("records created file ../victim, outside the project: not removed"), "{}", out.stderr);
    assert!(!p.join(".evil-pin").exists(), "the file inside the project is the backend's to remove");
    untouched("purge");
}

/// The directory of `node` on the test's `PATH`, if any.
fn node_dir() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).filter(|d| d.is_absolute()).find(|d| d.join("node").is_file())
}

/// `tests/fixtures/pyve-nodevenv`: a backend in Node.js with no SDK, written from
/// docs/protocol.md and docs/plugins.md alone. It must pass the conformance kit and serve a
/// project's whole life through pyve. Skipped (saying so) where `node` is not installed.
#[test]
fn a_node_backend_written_from_the_docs_passes_the_kit_and_serves_a_project() {
    let Some(node) = node_dir() else {
        eprintln!("SKIPPED: `node` is not on PATH: the Node.js third-party backend is not tested");
        return;
    };
    let sb = Sandbox::new();
    let fixture = repo_root().join("tests/fixtures/pyve-nodevenv");
    let path =
        std::env::join_paths([node.as_path(), Path::new("/usr/local/bin"), Path::new("/usr/bin"), Path::new("/bin")])
            .unwrap();
    let version = python("3.12");
    let pyve = |args: &[&str]| {
        let mut cmd = sb.e2e();
        cmd.env("PATH", &path).args(args);
        let out = run(&mut cmd);
        assert_eq!(out.code, Some(0), "pyve {}:\n{}{}", args.join(" "), out.stdout, out.stderr);
        out
    };

    // 1. The conformance kit, on the file as the author has it.
    let out = pyve(&["plugin", "test", fixture.to_str().unwrap()]);
    assert!(out.stdout.contains("nodevenv 0.1.0: ") && out.stdout.contains(" 0 failed"), "{}", out.stdout);
    assert!(out.stdout.contains("backend nodevenv: replace"), "the backend cycle ran: {}", out.stdout);

    // 2. Install, list.
    let out = pyve(&["plugin", "install", fixture.to_str().unwrap()]);
    assert!(out.stdout.contains("Installed plugin nodevenv 0.1.0"), "{}", out.stdout);
    let out = pyve(&["--list"]);
    assert!(out.stdout.lines().any(|l| l.starts_with("nodevenv ") && l.contains("backend nodevenv")), "{}", out.stdout);

    // 3. A project: init with the backend and its own option, pin, run, doctor, validate.
    std::fs::write(sb.project().join("pyproject.toml"), "[project]\nname = \"p\"\nrequires-python = \">=3.10\"\n")
        .unwrap();
    pyve(&["--init", "--backend", "nodevenv", "--nodevenv-dir", "env", "--no-direnv", "--python-version", &version]);
    assert!(sb.project().join("env/bin/python").exists());
    let out = pyve(&["plugin", "pin", "nodevenv"]);
    assert!(out.stdout.contains("Pinned nodevenv to \"^0.1.0\""), "{}", out.stdout);
    let out = pyve(&["run", "python", "-c", "import sys; print(sys.prefix); print('%d.%d.%d' % sys.version_info[:3])"]);
    assert_eq!(out.stdout, format!("{}\n{version}\n", sb.project().join("env").display()));
    let out = pyve(&["doctor"]);
    for line in
        [format!("✓ Python: {version}"), "✓ requires-python: ".into(), "✓ Plugin pin: nodevenv \"^0.1.0\"".into()]
    {
        assert!(out.stdout.contains(&line), "{line}: {}", out.stdout);
    }
    let out = pyve(&["--validate"]);
    assert!(
        out.stdout.contains("✓ requires-python: ") && out.stdout.contains("All validations passed"),
        "{}",
        out.stdout
    );
    let out = pyve(&["--config"]);
    assert!(out.stdout.contains("Config backend:         nodevenv"), "{}", out.stdout);

    // A rebuild keeps the version asked for at first (the backend records it in `settings`).
    let mut force = sb.e2e();
    force.env("PATH", &path).env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]);
    let out = run(&mut force);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = pyve(&["run", "python", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]);
    assert_eq!(out.stdout, format!("{version}\n"));

    // 4. Purge: the backend removes its environment, pyve reports it.
    let out = pyve(&["--purge"]);
    assert!(out.stdout.contains("✓ Removed env\n"), "{}", out.stdout);
    assert!(!sb.project().join("env").exists());
    assert!(!sb.project().join(".pyve").exists());
}

/// The directory of `prog` among the system directories the sandbox puts on `PATH`, if any.
fn system_tool(prog: &str) -> Option<PathBuf> {
    ["/usr/local/bin", "/usr/bin", "/bin"].iter().map(|d| Path::new(d).join(prog)).find(|p| p.is_file())
}

/// `tests/fixtures/pyve-hello` (a passthrough command) and `tests/fixtures/pyve-stamp` (a
/// post-create hook writing `.pyve-stamp` into the environment; `PYVE_STAMP_FAIL=1` makes it
/// fail), in bash with jq and no SDK, written from docs/protocol.md and docs/plugins.md alone:
/// the kit passes them, and a user installs them, runs the command, sees the hook run on
/// `--init`, sees a failing hook reported as a warning that keeps the environment, and purges.
/// Skipped (saying so) where `bash` or `jq` is missing.
#[test]
fn bash_command_and_hook_written_from_the_docs_pass_the_kit_and_serve_a_project() {
    for tool in ["bash", "jq"] {
        if system_tool(tool).is_none() {
            eprintln!("SKIPPED: `{tool}` is not in /usr/local/bin, /usr/bin or /bin: the bash plugins are not tested");
            return;
        }
    }
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let fixtures = repo_root().join("tests/fixtures");
    let (hello, stamp) = (fixtures.join("pyve-hello"), fixtures.join("pyve-stamp"));
    let version = python("3.12");
    let pyve = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = sb.e2e();
        cmd.args(args).envs(env.iter().copied());
        run(&mut cmd)
    };
    let ok = |args: &[&str]| {
        let out = pyve(args, &[]);
        assert_eq!(out.code, Some(0), "pyve {}:\n{}{}", args.join(" "), out.stdout, out.stderr);
        out
    };

    // 1. The conformance kit, on the files as the author has them.
    for (file, name) in [(&hello, "hello"), (&stamp, "stamp")] {
        let out = ok(&["plugin", "test", file.to_str().unwrap()]);
        assert!(out.stdout.contains(&format!("{name} 0.1.0: ")) && out.stdout.contains(" 0 failed"), "{}", out.stdout);
    }
    let out = ok(&["plugin", "test", stamp.to_str().unwrap()]);
    assert!(out.stdout.contains("✓ hook/post-create: answered"), "the hook was called: {}", out.stdout);
    assert!(out.stdout.contains("✓ invalid params hook/post-create"), "{}", out.stdout);

    // 2. Install the documented way; list, info.
    for (file, name) in [(&hello, "hello"), (&stamp, "stamp")] {
        let out = ok(&["plugin", "install", file.to_str().unwrap()]);
        assert!(out.stdout.contains(&format!("Installed plugin {name} 0.1.0")), "{}", out.stdout);
    }
    let out = ok(&["--list"]);
    assert!(out.stdout.lines().any(|l| l.starts_with("hello ") && l.contains("command hello")), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l.starts_with("stamp ") && l.contains("hook post-create")), "{}", out.stdout);
    let out = ok(&["plugin", "info", "stamp"]);
    assert!(out.stdout.contains("hook:         post-create - Write .pyve-stamp"), "{}", out.stdout);

    // 3. The command: arguments, section 4's variables, exit status.
    let out = ok(&["hello", "World"]);
    assert_eq!(out.stdout, "Hello, World!\nINFO: not in a pyve project (pyve 0.1.0)\n");
    let out = ok(&["-q", "hello"]);
    assert_eq!(out.stdout, "Hello, world!\n", "-q reaches the plugin as PYVE_VERBOSITY=-1");
    let out = pyve(&["hello", "--bogus"], &[]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(out.stderr, "ERROR: unknown option '--bogus'\nhint: pyve hello --help\n");

    // 4. --init: the hook runs and stamps the new environment.
    ok(&["--init", "--no-direnv", "--python-version", &version]);
    let venv = sb.project().join(".venv");
    let marker: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(venv.join(".pyve-stamp")).expect("the hook wrote its marker"))
            .unwrap();
    assert_eq!(
        (&marker["backend"], &marker["python_version"], &marker["created"]),
        (&"venv".into(), &version.clone().into(), &true.into())
    );
    let out = ok(&["hello"]);
    assert!(out.stdout.contains(&format!("INFO: project: {}", sb.project().display())), "{}", out.stdout);
    let out = ok(&["hello", "--env"]);
    assert_eq!(out.stdout, format!("{}\n", venv.display()), "the environment's path, through `$PYVE doctor --json`");
    let out = ok(&["--config"]);
    assert!(out.stdout.contains("stamp 0.1.0 (exec)"), "{}", out.stdout);

    // 5. A failing hook: warnings naming the plugin and its hint; the rebuilt environment is kept, exit 0.
    let out = pyve(&["--init", "--force", "--no-direnv"], &[("PYVE_STAMP_FAIL", "1"), ("PYVE_FORCE_YES", "1")]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    for line in [
        "WARNING: the post-create hook of plugin 'stamp' failed; the environment is ready without it\n",
        "WARNING: stamp: refusing to stamp ",
        "hint: unset PYVE_STAMP_FAIL and run `pyve --init --force`\n",
    ] {
        assert!(out.stderr.contains(line), "{line}: {}", out.stderr);
    }
    assert!(venv.join("bin/python").exists() && !venv.join(".pyve-stamp").exists(), "kept, without the marker");
    assert!(out.stdout.contains("initialized successfully"), "{}", out.stdout);

    // 6. Purge.
    let out = ok(&["--purge"]);
    assert!(out.stdout.contains("✓ Removed .venv\n"), "{}", out.stdout);
    assert!(!venv.exists() && !sb.project().join(".pyve").exists());
}
