//! Version pins (`plugins:` in `.pyve/config`) on every surface: passthrough, `plugin which`,
//! `plugin info`, `plugin list`, doctor, validate, `--init` (backend, command and hook plugins),
//! `pyve run`; a pin nothing matches is an error naming the pin, what was found and the fix.

use std::path::{Path, PathBuf};

use pyve_tests::{Sandbox, python, repo_root, run};
use serde_json::Value;

/// A script plugin `pyve-NAME` of version `version` (on the Python helper): the command `NAME`
/// prints `NAME VERSION`; its post-create hook writes `hook-VERSION.txt` into the project.
fn script_plugin(dest: &Path, name: &str, version: &str) -> PathBuf {
    let sdk = repo_root().join("sdk/python");
    let text = format!(
        r#"#!/usr/bin/env python3
import os, sys
sys.path.insert(0, {sdk:?})
import pyve_plugin as pp

plugin = pp.Plugin({name:?}, {version:?}, description="A pinned test plugin")

@plugin.command({name:?}, summary="Print the version")
def cmd(inv):
    print("%s %s" % ({name:?}, {version:?}))
    return 0

@plugin.hook("post-create", description="Mark the project")
def hook(cx, params):
    with open(os.path.join(params["project_root"], "hook-{version}.txt"), "w") as f:
        f.write("made\n")
    return {{"changed": True}}

if __name__ == "__main__":
    pp.main(plugin)
"#,
        sdk = sdk.display().to_string(),
    );
    std::fs::create_dir_all(dest).unwrap();
    let path = dest.join(format!("pyve-{name}"));
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Two copies of `tool`: 0.1.0 first on the search path (`PYVE_PLUGIN_PATH`), 0.2.0 in the
/// user plugin directory, and a project whose config pins `tool` as given.
fn two_copies(pin: &str) -> (Sandbox, PathBuf, PathBuf) {
    let sb = Sandbox::new();
    let first = script_plugin(&sb.plugins(), "tool", "0.1.0");
    let second = script_plugin(&sb.home().join(".pyve/plugins"), "tool", "0.2.0");
    write_config(&sb, &format!("pyve_version: \"0.1.0\"\nbackend: venv\nplugins:\n  tool: {pin}\n"));
    (sb, first, second)
}

fn write_config(sb: &Sandbox, text: &str) {
    std::fs::create_dir_all(sb.project().join(".pyve")).unwrap();
    std::fs::write(sb.project().join(".pyve/config"), text).unwrap();
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn a_pin_selects_a_shadowed_copy_on_every_surface() {
    let (sb, first, second) = two_copies("\"^0.2\"");

    // Passthrough runs the pinned copy; outside the project the first copy serves.
    let out = run(sb.pyve_cmd().args(["tool"]));
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "tool 0.2.0\n"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().current_dir(sb.path()).args(["tool"]));
    assert_eq!(out.stdout, "tool 0.1.0\n", "{}", out.stderr);

    // From a subdirectory of the project too.
    std::fs::create_dir_all(sb.project().join("src/pkg")).unwrap();
    let out = run(sb.pyve_cmd().current_dir(sb.project().join("src/pkg")).args(["tool"]));
    assert_eq!(out.stdout, "tool 0.2.0\n", "{}", out.stderr);

    // `plugin which` explains it.
    let out = run(sb.pyve_cmd().args(["plugin", "which", "tool"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.starts_with(&format!("tool: {}\n", second.display())), "{}", out.stdout);
    assert!(out.stdout.contains("pinned: tool \"^0.2\" (.pyve/config, line 4)"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!(
            "skipped: {} (PYVE_PLUGIN_PATH): version 0.1.0 does not match the pin",
            first.display()
        )),
        "{}",
        out.stdout
    );

    // `plugin info` starts the pinned copy.
    let out = run(sb.pyve_cmd().args(["plugin", "info", "tool", "--json"]));
    assert_eq!(json(&out.stdout)["version"], "0.2.0", "{}", out.stderr);

    // `plugin list --json`: the pinned copy serves, the other is excluded by the pin.
    let out = run(sb.pyve_cmd().args(["plugin", "list", "--json"]));
    let list = json(&out.stdout);
    let entry =
        |p: &Path| list.as_array().unwrap().iter().find(|e| e["path"] == p.display().to_string()).unwrap().clone();
    assert_eq!(entry(&second)["status"], "ok");
    assert_eq!(entry(&first)["status"], "pin-mismatch");
    assert!(entry(&first)["error"].as_str().unwrap().contains("\"^0.2\""));

    // doctor agrees (no "shadowed" warning about the copy in use), and --json is alone on
    // stdout.
    let out = run(sb.pyve_cmd().args(["doctor", "--json"]));
    let doctor = json(&out.stdout);
    let checks = doctor["checks"].as_array().unwrap();
    let pin = checks.iter().find(|c| c["label"] == "Plugin pin").expect("a pin check");
    assert_eq!(pin["status"], "ok", "{pin}");
    assert!(pin["detail"].as_str().unwrap().contains(&second.display().to_string()), "{pin}");
    assert!(!checks.iter().any(|c| c["detail"].as_str().is_some_and(|d| d.contains("shadowed by"))), "{}", out.stdout);
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{:?} doctor --json | python3 -m json.tool > /dev/null", sb.pyve()))
        .envs(sb.pyve_cmd().get_envs().filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))))
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(sb.project())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn a_pin_nothing_matches_is_an_error_with_the_fix() {
    let (sb, first, second) = two_copies("\"9\"");
    let out = run(sb.pyve_cmd().args(["tool"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("no installed copy of plugin 'tool' matches the pin tool \"^9\" (.pyve/config, line 4)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&format!("tool 0.1.0 ({}, PYVE_PLUGIN_PATH)", first.display())), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("tool 0.2.0 ({}, the user plugin directory)", second.display())),
        "{}",
        out.stderr
    );
    // A script plugin is not in the Rust package registry: the hint says how to install it.
    assert!(
        out.stderr.contains("tool is a script plugin: install a matching copy with `pyve plugin install PATH`"),
        "{}",
        out.stderr
    );

    for args in [&["plugin", "which", "tool"][..], &["plugin", "info", "tool"]] {
        let out = run(sb.pyve_cmd().args(args));
        assert_eq!(out.code, Some(1), "{args:?}: {}", out.stdout);
        assert!(out.stderr.contains("matches the pin tool \"^9\""), "{args:?}: {}", out.stderr);
    }
    let out = run(sb.pyve_cmd().args(["--list"]));
    assert!(out.stderr.contains("matches the pin tool \"^9\""), "{}", out.stderr);

    let out = run(sb.pyve_cmd().args(["doctor", "--json"]));
    assert_eq!(out.code, Some(1));
    let doctor = json(&out.stdout);
    let pin = doctor["checks"].as_array().unwrap().iter().find(|c| c["label"] == "Plugin pin").unwrap().clone();
    assert_eq!(pin["status"], "error", "{pin}");

    // --init checks every pin before it changes anything.
    let out = run(sb.pyve_cmd().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("matches the pin tool \"^9\""), "{}", out.stderr);
    assert!(!sb.project().join(".venv").exists());
    assert_eq!(
        std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap(),
        "pyve_version: \"0.1.0\"\nbackend: venv\nplugins:\n  tool: \"9\"\n"
    );
}

#[test]
fn a_pinned_plugin_that_is_not_installed_is_named_with_the_install_command() {
    let sb = Sandbox::new();
    script_plugin(&sb.plugins(), "tool", "0.1.0");
    write_config(
        &sb,
        "backend: venv\nplugins:\n  tol: \"^0.3\"\n  uvenv:\n    version: \"~0.2\"\n    sorce: x\n  tool: \"9\"\n",
    );
    let out = run(sb.pyve_cmd().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no plugin named 'tol' is installed (did you mean 'tool'?)"), "{}", out.stderr);
    assert!(out.stderr.contains("also: no installed copy of plugin 'uvenv'"), "{}", out.stderr);
    assert!(
        out.stderr.contains("also: no installed copy of plugin 'tool' matches the pin tool \"^9\""),
        "{}",
        out.stderr
    );
    // Every broken pin gets its fix, not only the first.
    assert!(
        out.stderr.contains(
            "hint: run `pyve plugin install tol@^0.3` (tol), `pyve plugin install PATH` (tool: PATH is the script plugin or its directory), `pyve plugin install uvenv@~0.2` (uvenv); or change the pins in .pyve/config"
        ),
        "{}",
        out.stderr
    );
    // Unknown keys are warnings with the line.
    assert!(
        out.stderr.contains("WARNING: .pyve/config, line 6: unknown key `plugins.uvenv.sorce` ignored"),
        "{}",
        out.stderr
    );
    let out = run(sb.pyve_cmd().args(["plugin", "list"]));
    assert_eq!(out.code, Some(0));
    assert!(out.stderr.contains("line 6: unknown key `plugins.uvenv.sorce`"), "{}", out.stderr);
}

#[test]
fn backend_command_and_hook_pins_hold_through_init_run_and_doctor() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    script_plugin(&sb.plugins(), "marker", "0.1.0");
    script_plugin(&sb.home().join(".pyve/plugins"), "marker", "0.2.0");
    let py = python("3.11");
    write_config(
        &sb,
        &format!(
            "pyve_version: \"0.1.0\"\nbackend: venv\npython:\n  version: {py}\nplugins:\n  venv: \"*\"\n  marker: \"0.2\"\n"
        ),
    );
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    // The pinned hook ran, the other copy did not.
    assert!(sb.project().join("hook-0.2.0.txt").exists());
    assert!(!sb.project().join("hook-0.1.0.txt").exists());
    let out = run(sb.e2e().args(["run", "python", "-c", "print('ok')"]));
    assert_eq!(out.stdout, "ok\n", "{}", out.stderr);

    // A backend pin nothing matches: run, doctor, validate and --init say so; nothing changes.
    let config = std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap();
    // (`pyve --init` rewrote the config, keeping the pins.)
    assert!(config.contains("plugins:\n  venv: '*'\n  marker: '0.2'\n"), "{config}");
    std::fs::write(sb.project().join(".pyve/config"), config.replace("venv: '*'", "venv: \"9\"")).unwrap();
    let out = run(sb.e2e().args(["run", "python", "-c", "print('ok')"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stderr.contains("matches the pin venv \"^9\""), "{}", out.stderr);
    assert!(out.stderr.contains("run `pyve plugin install venv@^9`"), "{}", out.stderr);
    let out = run(sb.e2e().args(["doctor"]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout.contains("✗ Backend plugin: no installed copy of plugin 'venv' matches the pin"),
        "{}",
        out.stdout
    );
    let out = run(sb.e2e().args(["--validate"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let out = run(sb.e2e().args(["--init", "--update"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stderr.contains("matches the pin venv \"^9\""), "{}", out.stderr);
    let out = run(sb.e2e().env("PYVE_FORCE_YES", "1").args(["--init", "--force", "--no-direnv"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(sb.project().join(".venv/bin/python").exists(), "the environment is kept");
}

#[test]
fn doctor_compares_the_plugin_that_made_the_environment_with_the_one_serving() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let py = python("3.11");
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &py]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let state_path = sb.project().join(".pyve/state.json");
    let state = std::fs::read_to_string(&state_path).unwrap();
    let v = json(&state);
    let now = semver::Version::parse(v["plugin_version"].as_str().unwrap()).unwrap();

    let set = |version: &str| {
        let mut v = v.clone();
        v["plugin_version"] = Value::String(version.to_owned());
        std::fs::write(&state_path, serde_json::to_string(&v).unwrap()).unwrap();
    };
    // Made by an older release of the same major: information.
    if now.minor > 0 || now.patch > 0 {
        set(&format!("{}.0.0-alpha.1", now.major));
        let out = run(sb.e2e().args(["doctor"]));
        assert!(out.stdout.contains("a newer compatible release"), "{}", out.stdout);
    }
    // Made by a newer one: a warning with the fix.
    set(&format!("{}.0.0", now.major + 1));
    let out = run(sb.e2e().args(["doctor"]));
    assert!(
        out.stdout.contains(&format!("⚠ Backend plugin: venv {}.0.0 made the environment", now.major + 1)),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("(an older version)"), "{}", out.stdout);
    let out = run(sb.e2e().args(["--validate"]));
    assert_eq!(out.code, Some(2), "{}", out.stdout);
    set(&now.to_string());
    let out = run(sb.e2e().args(["doctor"]));
    assert!(!out.stdout.contains("made the environment"), "{}", out.stdout);
}

#[test]
fn a_team_pins_what_it_installed_and_a_teammate_installs_the_pins() {
    let sb = Sandbox::new();
    write_config(&sb, "pyve_version: \"0.1.0\"\nbackend: venv\n");
    script_plugin(&sb.project().join("tools"), "tool", "0.2.0");

    // The author installs the project's plugin and pins it: the pin records the source,
    // relative to the project.
    let out = run(sb.pyve_cmd().args(["plugin", "install", "./tools/pyve-tool"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ Pinned tool to \"^0.2.0\" in .pyve/config"), "{}", out.stdout);
    let config = std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap();
    assert_eq!(
        config,
        "pyve_version: \"0.1.0\"\nbackend: venv\nplugins:\n  tool: {version: \"^0.2.0\", source: \"./tools/pyve-tool\"}\n"
    );

    // A teammate without the plugin: every surface names the pin and the one command to run.
    let out = run(sb.pyve_cmd().args(["plugin", "remove", "tool"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["tool"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("no plugin named 'tool' is installed"), "{}", out.stderr);
    assert!(out.stderr.contains("hint: run `pyve plugin install`, or change the pin"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "install"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ Installed plugin tool 0.2.0 (pinned \"^0.2.0\")"), "{}", out.stdout);
    let out = run(sb.pyve_cmd().args(["tool"]));
    assert_eq!(out.stdout, "tool 0.2.0\n", "{}", out.stderr);
    // Run again, nothing to do.
    let out = run(sb.pyve_cmd().args(["plugin", "install"]));
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.contains("tool 0.2.0 ("), "{}", out.stdout);
    assert!(out.stdout.contains("already matches \"^0.2.0\""), "{}", out.stdout);

    // A pin the source cannot satisfy: install says so and changes nothing.
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool", "--version", "^9"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("does not match \"^9\""), "{}", out.stderr);
    // The recorded source gave the copy in use, so `pyve plugin install` is not the fix.
    assert!(
        out.stderr.contains("its source ./tools/pyve-tool gave that version: install a matching copy"),
        "{}",
        out.stderr
    );
    let out = run(sb.pyve_cmd().args(["plugin", "install"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("1 of 1 pinned plugins could not be installed: tool"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().current_dir(sb.path()).args(["tool"]));
    assert_eq!(out.stdout, "tool 0.2.0\n", "the installed copy still works: {}", out.stderr);

    // Re-pinning is how the pin nothing matches is fixed: `plugin pin` takes the copy found
    // (it used to stop at the very pin it was asked to replace), and a typo in the new
    // requirement is reported as such.
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool", "--version", "not a req"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("`not a req` is not a version requirement"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ Pinned tool to \"^0.2.0\""), "{}", out.stdout);
    let out = run(sb.pyve_cmd().args(["tool"]));
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "tool 0.2.0\n"), "{}", out.stderr);
}

#[test]
fn pin_and_pinned_install_explain_what_they_need() {
    let sb = Sandbox::new();
    // Outside a project.
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("cannot pin: no pyve project here"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "install"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("nothing to install: no pyve project here"), "{}", out.stderr);
    // A project without pins, a plugin that is not installed, a built-in name.
    write_config(&sb, "backend: venv\n");
    let out = run(sb.pyve_cmd().args(["plugin", "install"]));
    assert!(out.stderr.contains("pins no plugin, so there is nothing to install"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool"]));
    assert!(
        out.stderr.contains("no plugin named 'tool' is installed, so there is no version to pin"),
        "{}",
        out.stderr
    );
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "doctor"]));
    assert!(out.stderr.contains("`doctor` is a built-in command of pyve, not a plugin"), "{}", out.stderr);
    // A plugin found on the search path (not installed by pyve): pinned without a source.
    script_plugin(&sb.plugins(), "tool", "1.4.2");
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool", "--version", "~1.4"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("no source is recorded"), "{}", out.stdout);
    assert_eq!(
        std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap(),
        "backend: venv\nplugins:\n  tool: \"~1.4\"\n"
    );
    let out = run(sb.pyve_cmd().args(["plugin", "pin", "tool", "--version", "not a req"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("`not a req` is not a version requirement"), "{}", out.stderr);
}

#[test]
fn pins_written_before_the_first_init_are_checked_and_kept() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let py = python("3.11");
    let config = || std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap();

    // A pin nothing matches: refused before anything is made, the file as it was.
    write_config(&sb, "plugins:\n  venv: \"^9\"\n");
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &py]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("matches the pin venv \"^9\""), "{}", out.stderr);
    assert!(!sb.project().join(".venv").exists());
    assert_eq!(config(), "plugins:\n  venv: \"^9\"\n");

    // A pin that matches: a first init (not the re-initialisation menu), the pins kept.
    write_config(&sb, "plugins:\n  venv: \"*\"\n");
    let out = run(sb.e2e().args(["--init", "--no-direnv", "--python-version", &py]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("What would you like to do?"), "{}", out.stdout);
    assert!(!out.stdout.contains("No previous environment to purge"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ Created .pyve/config"), "{}", out.stdout);
    assert!(config().contains("backend: venv"), "{}", config());
    assert!(config().contains("plugins:\n  venv: '*'\n"), "{}", config());
    assert!(sb.project().join(".venv/bin/python").exists());

    // Now the project is initialised: a plain --init without a terminal is the menu's refusal.
    let out = run(sb.e2e().args(["--init"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("backend"), "{}", out.stderr);
}

#[test]
fn unpin_removes_the_pin_and_keeps_the_rest_of_the_config() {
    let sb = Sandbox::new();
    // Outside a project: the error `pin` gives.
    let out = run(sb.pyve_cmd().args(["plugin", "unpin", "tool"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("cannot unpin: no pyve project here"), "{}", out.stderr);
    assert!(out.stderr.contains("pyve --init"), "{}", out.stderr);

    script_plugin(&sb.plugins(), "tool", "0.1.0");
    write_config(
        &sb,
        "# the team's\npyve_version: \"0.1.0\"\nbackend: venv   # fast\nplugins:\n  # keep tool old\n  tool: {version: \"9\", source: ./x}\n  venv:\n    version: \"*\"\n\nvenv:\n  directory: .venv\n",
    );
    // The pin nothing matches stops `pyve tool`; unpinning it is a fix.
    let out = run(sb.pyve_cmd().args(["tool"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);

    // Not pinned: an error naming the pins there are.
    let out = run(sb.pyve_cmd().args(["plugin", "unpin", "tol"]));
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stderr.contains(".pyve/config does not pin 'tol' (its pins: tool \"^9\", venv \"*\")"),
        "{}",
        out.stderr
    );

    let out = run(sb.pyve_cmd().args(["plugin", "unpin", "tool"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ Unpinned tool \"^9\" from .pyve/config"), "{}", out.stdout);
    assert_eq!(
        std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap(),
        "# the team's\npyve_version: \"0.1.0\"\nbackend: venv   # fast\nplugins:\n  # keep tool old\n  venv:\n    version: \"*\"\n\nvenv:\n  directory: .venv\n"
    );
    let out = run(sb.pyve_cmd().args(["tool"]));
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "tool 0.1.0\n"), "{}", out.stderr);

    // The last pin: the section goes, and then there is nothing to unpin.
    write_config(&sb, "backend: venv\nplugins:\n  tool: \"^0.1\"\n");
    let out = run(sb.pyve_cmd().args(["plugin", "unpin", "tool"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap(), "backend: venv\n");
    let out = run(sb.pyve_cmd().args(["plugin", "unpin", "tool"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains(".pyve/config does not pin 'tool' (it pins no plugin)"), "{}", out.stderr);
}
