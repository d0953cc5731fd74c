//! Paths taken from a plugin's answer to `env/create` (and recorded from it in
//! `.pyve/state.json`) are checked before the host writes or removes anything based on them
//! (issue 17, class 1): a plugin is trusted to run, not to be well-formed, and a state file
//! may come from a clone.
//!
//! - `created_files`: each is a path inside the project (relative without `..`, or absolute
//!   below the root), not the root itself, with no directory on the way linking out;
//! - `env_path`: absolute, without `..`; never the project root, `.pyve`, or a directory that
//!   holds the project (`/`, the home directory): a backend that answers one of those could
//!   have pyve record it and later remove it; an environment elsewhere is allowed and reported
//!   in a warning (a backend may keep environments in a shared directory);
//! - `gitignore` lines: no `..` component (a pattern names files of the project);
//! - `activation.path_prepend`: absolute, without `..`, inside the project or inside the
//!   environment (`pyve run` and `.envrc` search commands there).

use std::path::{Component, Path, PathBuf};

use pyve_protocol::types::CreateResult;

use crate::error::{Error, Result};

fn has_parent_dir(p: &Path) -> bool {
    p.components().any(|c| matches!(c, Component::ParentDir))
}

/// `p` made absolute against `root`, when it stays inside it (lexically, and no directory on
/// the way is a link leading out).
fn inside(root: &Path, p: &Path) -> Option<PathBuf> {
    if has_parent_dir(p) {
        return None;
    }
    let abs = if p.is_absolute() { p.to_path_buf() } else { root.join(p) };
    // The plugin may answer below the root as given or below its canonical form.
    let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let base = [root, canonical.as_path()].into_iter().find(|r| abs.starts_with(r))?;
    let rel = abs.strip_prefix(base).ok()?;
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    pyve_fs::check_parents(base, &abs).ok()?;
    Some(abs)
}

/// `dir` is the project root or holds it (`/`, the home directory).
fn holds_root(root: &Path, dir: &Path) -> bool {
    let canonical = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    root.starts_with(dir) || canonical.starts_with(dir)
}

fn refused(plugin: &str, field: &str, value: &Path, why: &str) -> Error {
    Error::new(format!(
        "plugin '{plugin}' answered env/create with {field} `{}`, {why}; pyve refuses it and writes nothing based on it",
        value.display()
    ))
    .hint(format!(
        "the plugin is faulty or hostile: report it to its author (`pyve plugin test {plugin}` shows what it answers), \
         or choose another backend"
    ))
}

/// Check the paths of `created` (from plugin `plugin`) for the project at `root`; `Ok` carries
/// the warning to show for an environment outside the project.
pub fn check_create_result(root: &Path, plugin: &str, created: &CreateResult) -> Result<Option<String>> {
    let env = &created.env_path;
    if !env.is_absolute() || has_parent_dir(env) {
        return Err(refused(plugin, "env_path", env, "which is not an absolute path without `..`"));
    }
    if holds_root(root, env) {
        return Err(refused(plugin, "env_path", env, "which is the project or a directory that holds it"));
    }
    if env == &root.join(super::PYVE_DIR) {
        return Err(refused(plugin, "env_path", env, "which is pyve's own directory"));
    }
    let env_inside = inside(root, env).is_some();
    for f in &created.created_files {
        if inside(root, f).is_none() {
            return Err(refused(plugin, "created_files entry", f, "which is outside the project"));
        }
    }
    for line in &created.gitignore {
        if has_parent_dir(Path::new(line.trim())) {
            return Err(refused(
                plugin,
                "gitignore line",
                Path::new(line),
                "which climbs out of the project with `..`",
            ));
        }
    }
    for dir in &created.activation.path_prepend {
        let ok = dir.is_absolute()
            && !has_parent_dir(dir)
            && (dir.starts_with(env) || inside(root, dir).is_some())
            && !holds_root(root, dir);
        if !ok {
            return Err(refused(
                plugin,
                "activation path_prepend entry",
                dir,
                "which is neither inside the project nor inside the environment",
            ));
        }
    }
    Ok((!env_inside).then(|| format!("the environment is outside the project: {}", env.display())))
}

/// The `created_files` recorded in `.pyve/state.json` that may be handed back to a backend:
/// those inside the project. The others (a clone's state can say anything) are returned apart
/// so that the caller names them.
pub fn recorded_files_inside(root: &Path, files: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathBuf>) {
    files.iter().cloned().partition(|f| inside(root, f).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(env: &str) -> CreateResult {
        serde_json::from_value(serde_json::json!({"env_path": env, "created": true})).unwrap()
    }

    #[test]
    fn paths_from_a_plugin_stay_inside_the_project() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("p");
        std::fs::create_dir_all(&root).unwrap();
        let env = root.join(".venv");
        let ok = answer(env.to_str().unwrap());
        assert_eq!(check_create_result(&root, "x", &ok).unwrap(), None);
        for bad in ["/", d.path().to_str().unwrap(), root.to_str().unwrap(), "relative", "/a/../b"] {
            let e = check_create_result(&root, "evil", &answer(bad)).unwrap_err().to_string();
            assert!(e.contains("plugin 'evil'") && e.contains("env_path"), "{bad}: {e}");
        }
        let elsewhere = answer("/opt/envs/demo");
        assert!(check_create_result(&root, "x", &elsewhere).unwrap().unwrap().contains("outside the project"));
        for f in ["../../outside", "/etc/passwd", "", "."] {
            let mut a = ok.clone();
            a.created_files = vec![f.into()];
            let e = check_create_result(&root, "evil", &a).unwrap_err().to_string();
            assert!(e.contains("created_files") && e.contains("evil"), "{f}: {e}");
        }
        let mut a = ok.clone();
        a.created_files = vec![".python-version".into(), root.join("x/y")];
        check_create_result(&root, "x", &a).unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("out")).unwrap();
        a.created_files = vec!["out/file".into()];
        assert!(check_create_result(&root, "x", &a).is_err(), "a link out on the way");
        let mut a = ok.clone();
        a.gitignore = vec!["../secrets".into()];
        assert!(check_create_result(&root, "x", &a).is_err());
        a.gitignore = vec!["/.venv".into()];
        check_create_result(&root, "x", &a).unwrap();
        let mut a = ok.clone();
        a.activation.path_prepend = vec![env.join("bin")];
        check_create_result(&root, "x", &a).unwrap();
        for bad in ["/usr/bin", "bin", "/"] {
            a.activation.path_prepend = vec![bad.into()];
            assert!(check_create_result(&root, "x", &a).is_err(), "{bad}");
        }
        let (kept, dropped) = recorded_files_inside(&root, &[".python-version".into(), "../../x".into()]);
        assert_eq!((kept.len(), dropped.len()), (1, 1));
    }
}
