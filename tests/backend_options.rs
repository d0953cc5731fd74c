//! Backends own their `pyve --init` options (protocol 1.1): a third-party backend written in
//! Python on the helper declares options, and pyve parses them, shows them in help, hands
//! them on in `settings` and records them; other backends' options are warnings naming both;
//! the bundled backends' flags (the original's command lines) keep working.

use std::path::{Path, PathBuf};

use pyve_tests::{Sandbox, repo_root, run};
use serde_json::Value;

/// `pyve-optbe`: backend `optbe` with three options; `env/create` writes the settings it
/// received into its environment, for the test to read.
fn optbe(dest: &Path) -> PathBuf {
    let sdk = repo_root().join("sdk/python");
    let text = format!(
        r#"#!/usr/bin/env python3
import json, os, sys
sys.path.insert(0, {sdk:?})
import pyve_plugin as pp

class Optbe(pp.Backend):
    def _env(self, params):
        return os.path.join(params["project_root"], ".optbe")
    def create(self, cx, params):
        env = self._env(params)
        os.makedirs(os.path.join(env, "bin"), exist_ok=True)
        with open(os.path.join(env, "settings.json"), "w") as f:
            json.dump(params["settings"], f, sort_keys=True)
        return {{"env_path": env, "created": True, "settings": params["settings"]}}
    def describe(self, cx, params):
        return {{"exists": os.path.isdir(self._env(params)), "env_path": self._env(params)}}
    def activation(self, cx, params):
        return {{"path_prepend": [os.path.join(self._env(params), "bin")]}}
    def remove(self, cx, params):
        return {{"removed": []}}

plugin = pp.Plugin("optbe", "0.1.0", description="A backend with options")
plugin.backend("optbe", Optbe(), selectors=["optbe.toml"], options=[
    {{"name": "opt-python", "kind": "string", "setting": "python", "help": "The Python to use", "value_name": "VERSION"}},
    {{"name": "opt-fast", "kind": "flag", "setting": "fast", "help": "Go fast"}},
    {{"name": "opt-mode", "kind": "enum", "choices": ["a", "b"], "setting": "mode", "help": "The mode", "default": "a"}},
])

if __name__ == "__main__":
    pp.main(plugin)
"#,
        sdk = sdk.display().to_string(),
    );
    std::fs::create_dir_all(dest).unwrap();
    let path = dest.join("pyve-optbe");
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "pyve-micromamba"]);
    optbe(&sb.plugins());
    sb
}

#[test]
fn a_third_party_backend_takes_its_own_options() {
    let sb = sandbox();
    let out = run(sb.pyve_cmd().args(["--init", "--help"]));
    assert!(out.stdout.contains("Options of backend optbe (optbe 0.1.0):"), "{}", out.stdout);
    assert!(out.stdout.contains("--opt-python <VERSION>  The Python to use"), "{}", out.stdout);
    assert!(
        out.stdout.contains("--opt-mode <OPT-MODE>   The mode [default: a] [possible values: a, b]"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Options of backend venv ("), "{}", out.stdout);

    let out = run(sb.pyve_cmd().args([
        "--init",
        "--backend",
        "optbe",
        "--opt-python",
        "3.12",
        "--opt-fast",
        "--opt-mode",
        "b",
        "--no-direnv",
    ]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let settings: Value =
        serde_json::from_str(&std::fs::read_to_string(sb.project().join(".optbe/settings.json")).unwrap()).unwrap();
    assert_eq!(settings, serde_json::json!({"fast": true, "mode": "b", "python": "3.12"}));
    let config = std::fs::read_to_string(sb.project().join(".pyve/config")).unwrap();
    assert!(config.ends_with("backend: optbe\noptbe:\n  fast: true\n  mode: b\n  python: '3.12'\n"), "{config}");
}

#[test]
fn options_are_validated_and_routed_by_backend() {
    let sb = sandbox();
    // A value outside an enum's choices, an option nobody declares: usage errors.
    let out = run(sb.pyve_cmd().args(["--init", "--backend", "optbe", "--opt-mode", "c"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("invalid value 'c' for '--opt-mode"), "{}", out.stderr);
    assert!(out.stderr.contains("possible values: a, b"), "{}", out.stderr);
    let out = run(sb.pyve_cmd().args(["--init", "--backend", "optbe", "--opt-fats"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("ERROR: Unknown option: --opt-fats"), "{}", out.stderr);
    assert!(out.stderr.contains("--opt-fast"), "a suggestion: {}", out.stderr);
    assert!(!sb.project().join(".optbe").exists() && !sb.project().join(".pyve").exists());

    // Another backend's options: a warning naming both, not handed on.
    let out = run(sb.pyve_cmd().args(["--init", "mydir", "--backend", "optbe", "--env-name", "demo", "--no-direnv"]));
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "WARNING: --env-name is an option of backend micromamba, not of the optbe backend in use; ignored"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "WARNING: the argument 'mydir' is an option of backend venv, not of the optbe backend in use; ignored"
        ),
        "{}",
        out.stderr
    );
    let settings = std::fs::read_to_string(sb.project().join(".optbe/settings.json")).unwrap();
    assert_eq!(settings, "{}");
}

#[test]
fn without_the_backend_its_options_say_how_to_install_it() {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv"]);
    let out = run(sb.pyve_cmd().args(["--init", "--env-name", "demo"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("ERROR: Unknown option: --env-name"), "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: --env-name is an option of the micromamba backend, whose plugin is not installed: `pyve plugin install micromamba`"),
        "{}",
        out.stderr
    );
}
