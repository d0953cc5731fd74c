//! A third-party backend (a Python script on the helper) as the host treats it: the host
//! reports what `env/remove` removed and kept, refuses a backend that answers
//! `created: false` to `replace: true`, and names an interpreter other than the one asked for.

use std::path::{Path, PathBuf};

use pyve_tests::{Sandbox, repo_root, run};

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
