//! `pyve --purge [DIR]`: remove what pyve created — the environment (through its backend,
//! which removes only a real environment inside the project, and a version pin only if it
//! wrote it), `.envrc` if pyve wrote it, `.env` only when empty, the `.gitignore` lines pyve
//! added, and `.pyve` except `.pyve/testenv`. Nothing outside the project is ever touched.

use std::path::{Component, Path};
use std::time::Duration;

use pyve_protocol::methods::request;
use pyve_protocol::types::{EnvParams, Settings};
use serde_json::Value;

use crate::backend::{self, Session};
use crate::env::HostEnv;
use crate::error::{Error, Result};
use crate::plugins;
use crate::project::{self, Config, Lock, PYVE_DIR, State, files};
use crate::ui;

/// `.pyve/testenv`: kept by purge (only `pyve testenv --purge` removes it).
pub const TESTENV_DIR: &str = "testenv";

/// `pyve --purge`.
pub fn run(env: &HostEnv, dir: Option<&str>) -> Result<u8> {
    // An interrupt (SIGINT, SIGTERM, SIGHUP) ends the purge at its next step; the config
    // stays until the end, so the next `--purge` finishes (docs/interrupts.md).
    crate::signals::catch_interrupts();
    let cwd = project::current_dir()?;
    let Some(root) = env.project_root(&cwd) else {
        // The original's header and its "No virtual environment found" line (reference 2.2:
        // purging an uninitialised directory says so and exits 0); a directory that is there
        // is not pyve's here, and is kept.
        ui::status("");
        ui::status("Purging Python environment artifacts...");
        let shown = dir.map_or(".venv", |d| d.trim_end_matches('/'));
        if !cwd.join(shown).is_dir() {
            ui::info(&format!("No virtual environment found at '{shown}'"));
        }
        ui::info(&format!(
            "No pyve project here: no {} in {} or its parents; nothing to purge",
            project::CONFIG_FILE,
            cwd.display()
        ));
        return Ok(0);
    };
    let lock = Lock::acquire(&root, Duration::from_secs(5))?;
    crate::signals::check()?;
    let config =
        Config::load(&root)?.ok_or_else(|| Error::new("the project's config disappeared while pyve was starting"))?;
    let state = match State::load(&root) {
        Ok(s) => s,
        Err(e) => {
            ui::warn(&format!("{e}; purging from .pyve/config alone"));
            None
        }
    };

    let backend = state.as_ref().map(|s| s.backend.clone()).or_else(|| config.backend.clone());
    let mut settings: Settings = state.as_ref().map(|s| s.settings.clone()).unwrap_or_default();
    if let Some(b) = &backend {
        settings.extend(config.backend_settings(b));
        if let Some(s) = &state {
            // A clone's state can say anything: only files inside the project go to the backend.
            let (inside, outside) = project::answer::recorded_files_inside(&root, &s.created_files);
            for f in &outside {
                ui::warn(&format!(
                    ".pyve/state.json records created file {}, outside the project: not removed",
                    f.display()
                ));
            }
            settings.insert("created_files".into(), serde_json::to_value(&inside).unwrap_or(Value::Null));
        }
    }
    if let Some(d) = dir {
        check_dir_argument(&root, d, &settings)?;
        settings.insert("directory".into(), Value::String(d.trim_end_matches('/').to_owned()));
    }

    ui::status("");
    ui::status("Purging Python environment artifacts...");

    // The environment, through its backend; one the first `--init` found and kept is the
    // user's, removed only when named.
    let kept = state.as_ref().filter(|s| s.managed.env_kept && dir.is_none());
    match &backend {
        Some(_) if let Some(s) = kept => {
            let shown = project::display_in(&root, &s.env_path);
            ui::info(&format!(
                "Kept {shown}: it was there before `pyve --init`, which kept it (remove it with `pyve --purge {shown}`, or by hand)"
            ));
        }
        Some(name) => {
            let inventory = plugins::inventory(env, crate::cli::BUILTINS);
            let entry = backend::plugin_for(&inventory, name)?;
            let mut session = Session::open(env, &entry, &root)?;
            let result = session
                .call::<request::EnvRemove>(&EnvParams { project_root: root.clone(), backend: name.clone(), settings })
                .map_err(|e| e.to_error())?;
            session.close();
            // The backend says what it removed and kept; pyve reports it (protocol.md, env/remove).
            if result.removed.is_empty() {
                ui::info("No environment found to remove");
            }
            for removed in &result.removed {
                ui::success(&format!("Removed {}", project::display_in(&root, removed)));
            }
            for kept in &result.kept {
                ui::info(&format!("Kept {}: {}", project::display_in(&root, &kept.path), kept.reason));
            }
        }
        None => ui::warn("the config records no backend: no environment removed"),
    }
    crate::commands::init::test_pause("purge-files");
    crate::signals::check().map_err(|e| e.hint("run `pyve --purge` again to finish"))?;

    // The host's files.
    let managed = state.as_ref().map(|s| s.managed.clone()).unwrap_or_default();
    let envrc = root.join(".envrc");
    match files::inspect(&root, &envrc)? {
        pyve_fs::Entry::Link(link) => {
            ui::info(&format!(
                "Kept .envrc: {} (pyve removes only its own regular .envrc)",
                files::describe_link(&root, &envrc, &link)
            ));
        }
        pyve_fs::Entry::File if files::envrc_is_ours(&envrc) => {
            remove_file(&envrc)?;
            ui::success("Removed .envrc");
        }
        pyve_fs::Entry::File => ui::info("Kept .envrc: it is not pyve's (no pyve marker on its first line)"),
        _ => {}
    }
    let dotenv = root.join(".env");
    match files::inspect(&root, &dotenv)? {
        pyve_fs::Entry::Link(link) => {
            ui::info(&format!(
                "Kept .env: {} (pyve never removes a link)",
                files::describe_link(&root, &dotenv, &link)
            ));
        }
        pyve_fs::Entry::File => {
            if std::fs::symlink_metadata(&dotenv).is_ok_and(|m| m.len() == 0) {
                remove_file(&dotenv)?;
                ui::success("Removed .env (was empty)");
            } else {
                ui::warn(".env preserved (contains data). Delete manually if desired.");
            }
        }
        _ => {}
    }
    // The file itself stays, even one pyve created and emptied: the original never deleted
    // `.gitignore` (reference 3.16), and its users' tests read it after a purge.
    if !managed.gitignore_lines.is_empty() {
        if let Some(path) = files::gitignore_path(&root)?
            && files::gitignore_remove(&path, &managed.gitignore_lines, false, managed.gitignore_added_eol)?
        {
            ui::success("Cleaned .gitignore");
        }
    } else if state.is_none() && root.join(".gitignore").exists() {
        ui::info("Kept .gitignore as it is: without .pyve/state.json pyve does not know which lines it added");
    }

    // `.pyve` last (the config marks the project initialised until the end), except testenv.
    let pyve_dir = root.join(PYVE_DIR);
    let testenv = pyve_dir.join(TESTENV_DIR);
    let keep_testenv = testenv.exists();
    let entries = std::fs::read_dir(&pyve_dir)
        .map_err(|e| Error::new(format!("cannot read {}", pyve_dir.display())).because(e))?;
    let mut last = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name == TESTENV_DIR {
            continue;
        }
        if name == "config" || name == "lock" {
            last.push(entry.path());
            continue;
        }
        remove_any(&root, &entry.path())?;
    }
    drop(lock);
    for p in last {
        remove_any(&root, &p)?;
    }
    if keep_testenv {
        ui::success("Removed .pyve directory contents (preserved .pyve/testenv)");
    } else {
        let _ = std::fs::remove_dir(&pyve_dir);
        // The original's words (reference 2.2).
        ui::success("Removed .pyve directory (config and micromamba environments)");
    }
    ui::status("");
    ui::success("Python environment artifacts removed.");
    Ok(0)
}

/// `--purge DIR` names the environment to remove: it must be the project's (a relative path
/// inside the project, matching what was recorded when something was), never an arbitrary path
/// (the original deleted whatever it was given).
fn check_dir_argument(root: &Path, dir: &str, settings: &Settings) -> Result<()> {
    let p = Path::new(dir);
    let escapes = p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir | Component::RootDir));
    if escapes || dir.is_empty() || p.components().all(|c| matches!(c, Component::CurDir)) {
        return Err(Error::new(format!("refusing to purge '{dir}': it is not a directory inside the project"))
            .hint(format!("pyve --purge removes only the project's own environment, inside {}", root.display())));
    }
    if let Some(recorded) = settings.get("directory").and_then(Value::as_str)
        && Path::new(recorded) != Path::new(dir.trim_end_matches('/'))
    {
        return Err(Error::new(format!("'{dir}' is not this project's environment: .pyve records '{recorded}'"))
            .hint(format!("run `pyve --purge` (or `pyve --purge {recorded}`)")));
    }
    Ok(())
}

fn remove_file(p: &Path) -> Result<()> {
    std::fs::remove_file(p).map_err(|e| Error::new(format!("cannot remove {}", p.display())).because(e))
}

/// Remove a file, a directory or a link (the link only, never what it points to).
fn remove_any(root: &Path, p: &Path) -> Result<()> {
    pyve_fs::remove(root, p).map(drop).map_err(|e| match e {
        pyve_fs::Refused::Io { path, error } => Error::new(format!("cannot remove {}", path.display())).because(error),
        other => files::refused(other),
    })
}
