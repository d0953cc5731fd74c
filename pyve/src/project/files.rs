//! The project files pyve owns besides the environment: `.envrc`, `.env`, `.gitignore`. Every
//! write goes to a temporary sibling renamed into place, so an interrupted pyve never leaves a
//! half-written file; existing files are never overwritten unless pyve wrote them.
//!
//! The writes are not `fsync`ed: the rename makes them whole against any interruption of
//! pyve, and a flush to disk per file would cost several milliseconds each on a busy disk,
//! against a crash of the whole machine that the file system's own rename handling (ext4's
//! `auto_da_alloc`, for example) already covers for replace-by-rename.

use std::io::Write;
use std::path::{Path, PathBuf};

use pyve_protocol::types::Activation;

use crate::error::{Error, Result};

/// The first line of every `.envrc` pyve writes; a file without it is the user's.
pub const ENVRC_MARKER: &str = "# pyve-managed .envrc";

fn write_error(path: &Path, e: std::io::Error) -> Error {
    let err = Error::new(format!("cannot write {}", path.display())).because(&e);
    match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => err.hint(format!(
            "the directory is not writable: check its permissions ({}), or run pyve in a project you own",
            path.parent().unwrap_or(path).display()
        )),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            err.hint("the disk is full: free some space and run the command again")
        }
        _ => err,
    }
}

/// Look at `path`, a path of the project at `root`, before writing, replacing or removing it:
/// the directories on the way must stay inside the project (a symbolic link among them that
/// leads out is refused with a hint); the last component is reported without being followed,
/// and what to do with a link there is the caller's decision. The one check every write of the
/// host goes through (the plugins use the same library, `pyve-fs`).
pub fn inspect(root: &Path, path: &Path) -> Result<pyve_fs::Entry> {
    pyve_fs::inspect(root, path).map_err(refused)
}

/// The host's error for a refused project path.
pub fn refused(r: pyve_fs::Refused) -> Error {
    let hint = r.hint();
    Error::new(r.to_string()).hint(hint)
}

/// Say that a link at `path` leading out of the project (to `link`) is not followed.
pub fn describe_link(root: &Path, path: &Path, link: &pyve_fs::Link) -> String {
    format!(
        "{} is a symbolic link to {}{}",
        crate::project::display_in(root, path),
        link.target.display(),
        if link.inside { "" } else { ", outside the project" }
    )
}

/// Write one of pyve's own files of the project at `root` (config, state) atomically. A
/// symbolic link at its place is replaced by a regular file (the link's target is not
/// touched), with a warning; a link on the way out of the project is refused.
pub fn write_own(root: &Path, path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(link) = inspect(root, path)?.link() {
        crate::ui::warn(&format!(
            "{}: replaced by a regular file (pyve never writes through a link; its target is unchanged)",
            describe_link(root, path, link)
        ));
    }
    write_atomic(path, contents, None)
}

/// Write `contents` to `path` atomically (temporary sibling, then rename), with `mode` on Unix.
/// A symbolic link at `path` is replaced, never written through.
pub fn write_atomic(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.pyve-tmp-{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        let mut f = options.open(&tmp)?;
        f.write_all(contents)?;
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_error(path, e));
    }
    Ok(())
}

/// Remove what an interrupted pyve left of its atomic writes in `dir`: files named
/// `.NAME.pyve-tmp-PID` (or `-PID-N`) whose process is gone. (The file they were to replace is intact.)
pub fn remove_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((_, pid)) = name.rsplit_once(".pyve-tmp-") else { continue };
        if !name.starts_with('.') || !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        // `PID` (the host's) or `PID-N` (the plugins': a version pin written by the venv
        // backend, killed with pyve).
        let Ok(pid) = pid.split('-').next().unwrap_or_default().parse::<i32>() else { continue };
        if pid != std::process::id() as i32 && !process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn process_alive(pid: i32) -> bool {
    u32::try_from(pid).is_ok_and(pyve_fs::process_alive)
}

/// Create `path` with `contents` only if it does not exist (no overwrite, even in a race).
/// Returns `false` when it existed.
pub fn create_new(path: &Path, contents: &[u8], mode: Option<u32>) -> Result<bool> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    match options.open(path) {
        Ok(mut f) => {
            let written = f.write_all(contents);
            #[cfg(unix)]
            let written = written.and_then(|()| match mode {
                Some(mode) => {
                    use std::os::unix::fs::PermissionsExt;
                    f.set_permissions(std::fs::Permissions::from_mode(mode))
                }
                None => Ok(()),
            });
            if let Err(e) = written {
                let _ = std::fs::remove_file(path);
                return Err(write_error(path, e));
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(write_error(path, e)),
    }
}

/// Quote a value for a shell (`.envrc` is bash).
fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+:,@%".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A path as `.envrc` should say it: relative to the project as `$PWD/...` (direnv runs
/// `.envrc` in its directory), so that the file keeps working when the project is moved with
/// its environment rebuilt.
fn envrc_path(root: &Path, p: &Path) -> String {
    match p.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => "\"$PWD\"".to_owned(),
        // Inside double quotes bash still reads `$`, `` ` ``, `\\` and `"`: each is escaped.
        Ok(rel) => format!("\"$PWD/{}\"", dquote_escape(&rel.display().to_string())),
        Err(_) => shell_quote(&p.display().to_string()),
    }
}

/// `s` escaped for the inside of a bash double-quoted string.
fn dquote_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '$' | '`' | '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `name` can be a shell variable's name (`[A-Za-z_][A-Za-z0-9_]*`): a plugin's
/// activation names anything else, it is left out of `.envrc` (it would be read as a command).
pub fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

/// Why a `.gitignore` line a plugin asks for is refused, if it is: a line break or another
/// control character (more lines than one), a leading `!` (it would un-ignore, `.env` for
/// example), a leading `#` (a comment), or an empty line.
pub fn gitignore_line_refused(line: &str) -> Option<&'static str> {
    if line.trim().is_empty() {
        Some("it is empty")
    } else if line.chars().any(char::is_control) {
        Some("it holds a line break or a control character")
    } else if line.starts_with('!') {
        Some("a leading '!' would un-ignore files")
    } else if line.starts_with('#') {
        Some("it is a comment")
    } else {
        None
    }
}

/// The text of the `.envrc` for an environment. Names that are not shell variable names
/// are left out (with a warning); every value and path is quoted.
pub fn envrc_text(root: &Path, backend: &str, activation: &Activation, env_path: &Path, inputs: &[PathBuf]) -> String {
    let project = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "project".into());
    let env_name = env_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut t = String::new();
    t.push_str(ENVRC_MARKER);
    t.push_str(&format!(
        " (pyve {}): activates the {backend} environment with direnv.\n\
         # Remove the first line to make the file yours; pyve then never changes or deletes it.\n",
        crate::env::VERSION
    ));
    let refuse = |name: &str| {
        let bad = !is_var_name(name);
        if bad {
            crate::ui::warn(&format!(
                "the {backend} backend names the variable {name:?}: left out of .envrc (not a variable name)"
            ));
        }
        bad
    };
    for var in activation.unset.iter().filter(|v| !refuse(v)) {
        t.push_str(&format!("unset {var}\n"));
    }
    for (k, v) in activation.set.iter().filter(|(k, _)| !refuse(k)) {
        let value = if Path::new(v).is_absolute() { envrc_path(root, Path::new(v)) } else { shell_quote(v) };
        t.push_str(&format!("export {k}={value}\n"));
    }
    for dir in activation.path_prepend.iter().rev() {
        t.push_str(&format!("PATH_add {}\n", envrc_path(root, dir)));
    }
    if !activation.set.contains_key("PYVE_BACKEND") {
        t.push_str(&format!("export PYVE_BACKEND={}\n", shell_quote(backend)));
    }
    // venv: the project's name (as the original); other backends: the environment's own name.
    let name_var = if backend == "venv" { &project } else { &env_name };
    if !activation.set.contains_key("PYVE_ENV_NAME") {
        t.push_str(&format!("export PYVE_ENV_NAME={}\n", shell_quote(name_var)));
    }
    if backend != "venv" && !activation.set.contains_key("PYVE_ENV_PATH") {
        t.push_str(&format!("export PYVE_ENV_PATH={}\n", envrc_path(root, env_path)));
    }
    let label = if backend == "venv" { project.clone() } else { env_name };
    if !activation.set.contains_key("PYVE_PROMPT_PREFIX") {
        t.push_str(&format!("export PYVE_PROMPT_PREFIX={}\n", shell_quote(&format!("({backend}:{label}) "))));
    }
    t.push_str("dotenv_if_exists .env\n");
    // The files the environment is made from: direnv reloads when one changes, and on entry
    // one line says when the environment no longer matches them (`pyve sync --check` reads a
    // few files and starts no plugin).
    let watched: Vec<String> = inputs
        .iter()
        .filter(|p| p.components().all(|c| matches!(c, std::path::Component::Normal(_))))
        .filter_map(|p| p.to_str())
        .map(shell_quote)
        .collect();
    if !watched.is_empty() {
        t.push_str(&format!("watch_file {}\n", watched.join(" ")));
        t.push_str(
            "if has pyve && ! pyve sync --check -q >/dev/null 2>&1; then log_status \"pyve: the environment is out of date: run pyve sync\"; fi\n",
        );
    }
    t
}

/// The most pyve reads of a project's `.env` (`pyve run`).
pub const DOTENV_MAX: u64 = pyve_fs::READ_LIMIT;
/// The most pyve reads of a `.gitignore` or an `.envrc` it may change.
pub const TEXT_MAX: u64 = pyve_fs::READ_LIMIT;

/// Whether the `.envrc` at `path` is one pyve wrote (and may rewrite or delete). Only a regular
/// file of at most [`TEXT_MAX`] bytes can be.
pub fn envrc_is_ours(path: &Path) -> bool {
    pyve_fs::read_bounded_text(path, TEXT_MAX).is_ok_and(|t| t.starts_with(ENVRC_MARKER))
}

/// The `.gitignore` of the project at `root` to read and change: the file itself, or where a
/// symbolic link inside the project leads. `None` (with a warning) when it is a link leading
/// out of the project: pyve does not change files outside the project, nor copy their
/// content into it.
pub fn gitignore_path(root: &Path) -> Result<Option<PathBuf>> {
    let path = root.join(".gitignore");
    match inspect(root, &path)? {
        pyve_fs::Entry::Link(link) if link.inside => Ok(Some(link.resolved.unwrap_or(path))),
        pyve_fs::Entry::Link(link) => {
            crate::ui::warn(&format!(
                "{}: pyve does not change it (it does not write outside the project)",
                describe_link(root, &path, &link)
            ));
            Ok(None)
        }
        _ => Ok(Some(path)),
    }
}

/// Add `lines` to the `.gitignore` at `path` where missing, keeping every other line (and
/// ending the last one first when the file lacks a final newline). Returns the lines added,
/// whether the file was created, and whether a final newline had to be added first.
pub fn gitignore_add(path: &Path, lines: &[String]) -> Result<(Vec<String>, bool, bool)> {
    let existing = match pyve_fs::read_bounded_text(path, TEXT_MAX) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::new(format!("cannot read {}", path.display())).because(e)),
    };
    let text = existing.clone().unwrap_or_default();
    let present: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut added = Vec::new();
    for l in lines {
        if !present.contains(&l.as_str()) && !added.contains(l) {
            added.push(l.clone());
        }
    }
    if added.is_empty() {
        return Ok((added, false, false));
    }
    // The file's own line ending: a CRLF file stays CRLF.
    let eol = if text.find('\n').is_some_and(|i| i > 0 && text.as_bytes()[i - 1] == b'\r') { "\r\n" } else { "\n" };
    let mut new = text.clone();
    let added_eol = !new.is_empty() && !new.ends_with('\n');
    if added_eol {
        new.push_str(eol);
    }
    for l in &added {
        new.push_str(l);
        new.push_str(eol);
    }
    write_atomic(path, new.as_bytes(), None)?;
    Ok((added, existing.is_none(), added_eol))
}

/// Remove `lines` (once each) from the `.gitignore` at `path`; delete the file when pyve
/// created it and nothing else is left. Every other line is kept byte for byte, its line
/// ending (CRLF) included; `added_eol` (pyve ended the user's last line to append its own)
/// takes that line ending back when pyve's lines were still the file's tail. Returns whether
/// anything changed.
pub fn gitignore_remove(path: &Path, lines: &[String], created: bool, added_eol: bool) -> Result<bool> {
    let Ok(text) = pyve_fs::read_bounded_text(path, TEXT_MAX) else { return Ok(false) };
    let mut to_remove: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut kept = Vec::new();
    // Whether every removed line comes after every kept one.
    let (mut removed_any, mut tail) = (false, true);
    for l in text.split_inclusive('\n') {
        if let Some(i) = to_remove.iter().position(|r| *r == l.trim_end()) {
            to_remove.remove(i);
            removed_any = true;
        } else {
            tail &= !removed_any;
            kept.push(l);
        }
    }
    if to_remove.len() == lines.len() {
        return Ok(false);
    }
    if created && kept.iter().all(|l| l.trim().is_empty()) {
        std::fs::remove_file(path).map_err(|e| Error::new(format!("cannot remove {}", path.display())).because(e))?;
        return Ok(true);
    }
    let mut new = kept.concat();
    if added_eol && tail && to_remove.is_empty() {
        let trimmed = new.strip_suffix("\r\n").or_else(|| new.strip_suffix('\n')).map(str::len);
        if let Some(len) = trimmed {
            new.truncate(len);
        }
    }
    write_atomic(path, new.as_bytes(), None)?;
    Ok(true)
}

/// `~/.local/.env`, the template `--local-env` copies.
pub fn local_env_template(home: Option<&Path>) -> Option<PathBuf> {
    home.map(|h| h.join(".local").join(".env"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_lines_are_added_once_and_removed_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".gitignore");
        std::fs::write(&p, "target\n.env").unwrap(); // no final newline, and `.env` is the user's
        let lines = vec![".venv".to_owned(), ".env".to_owned(), ".envrc".to_owned()];
        let (added, created, added_eol) = gitignore_add(&p, &lines).unwrap();
        assert_eq!(added, [".venv", ".envrc"]);
        assert!(!created);
        assert!(added_eol);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "target\n.env\n.venv\n.envrc\n");
        assert_eq!(gitignore_add(&p, &lines).unwrap().0, Vec::<String>::new());
        assert!(gitignore_remove(&p, &added, false, added_eol).unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "target\n.env", "byte for byte, no final newline");

        // A line the user appended after pyve's: the newline pyve added is now theirs.
        std::fs::write(&p, "target").unwrap();
        let (added, _, added_eol) = gitignore_add(&p, &lines).unwrap();
        std::fs::write(&p, std::fs::read_to_string(&p).unwrap() + "mine\n").unwrap();
        assert!(gitignore_remove(&p, &added, false, added_eol).unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "target\nmine\n");

        let q = dir.path().join("new.gitignore");
        let (added, created, _) = gitignore_add(&q, &lines).unwrap();
        assert!(created);
        gitignore_remove(&q, &added, true, false).unwrap();
        assert!(!q.exists(), "a file pyve created and emptied is removed");
    }

    #[test]
    fn stale_temporaries_of_dead_processes_go_live_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let dead = ["..python-version.pyve-tmp-999999999-0", "..envrc.pyve-tmp-999999999"];
        let mine = format!("..env.pyve-tmp-{}", std::process::id());
        for f in dead.iter().copied().chain([mine.as_str(), "not-ours.pyve-tmp-999999999"]) {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        remove_stale_temps(dir.path());
        for f in dead {
            assert!(!dir.path().join(f).exists(), "{f}");
        }
        assert!(dir.path().join(&mine).exists() && dir.path().join("not-ours.pyve-tmp-999999999").exists());
    }

    #[test]
    fn create_new_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".env");
        assert!(create_new(&p, b"", Some(0o600)).unwrap());
        std::fs::write(&p, "A=1\n").unwrap();
        assert!(!create_new(&p, b"", Some(0o600)).unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "A=1\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn envrc_uses_project_relative_paths() {
        let root = Path::new("/home/u/my proj");
        let act = Activation {
            set: [("VIRTUAL_ENV".to_owned(), "/home/u/my proj/.venv".to_owned())].into(),
            unset: vec!["PYTHONHOME".into()],
            path_prepend: vec!["/home/u/my proj/.venv/bin".into()],
        };
        let t = envrc_text(root, "venv", &act, Path::new("/home/u/my proj/.venv"), &[]);
        assert!(t.starts_with(ENVRC_MARKER));
        assert!(
            t.contains("unset PYTHONHOME\nexport VIRTUAL_ENV=\"$PWD/.venv\"\nPATH_add \"$PWD/.venv/bin\"\n"),
            "{t}"
        );
        assert!(t.contains("export PYVE_PROMPT_PREFIX='(venv:my proj) '\n"), "{t}");
        assert!(t.ends_with("dotenv_if_exists .env\n"));
    }

    #[test]
    fn plugin_names_never_reach_envrc_raw() {
        let root = Path::new("/p");
        let act = Activation {
            set: [
                ("X; rm -rf ~".to_owned(), "1".to_owned()),
                ("OK".to_owned(), "/p/$(touch pwned)`id`\\\"".to_owned()),
            ]
            .into(),
            unset: vec!["A\nB".into(), "GOOD".into()],
            path_prepend: vec!["/p/a$(id)/bin".into()],
        };
        let t = envrc_text(
            root,
            "venv",
            &act,
            Path::new("/p/.venv"),
            &[PathBuf::from("requirements.txt"), PathBuf::from("../x")],
        );
        assert!(!t.contains("rm -rf") && !t.contains("A\nB"), "{t}");
        assert!(t.contains("unset GOOD\n"), "{t}");
        assert!(t.contains("export OK=\"$PWD/\\$(touch pwned)\\`id\\`\\\\\\\"\"\n"), "{t}");
        assert!(t.contains("PATH_add \"$PWD/a\\$(id)/bin\"\n"), "{t}");
        // Inputs are watched; one that leaves the project is not.
        assert!(t.contains("watch_file requirements.txt\n"), "{t}");
        assert!(!t.contains("../x"), "{t}");
        assert!(t.contains("pyve sync --check -q"), "{t}");
    }

    #[test]
    fn plugin_gitignore_lines_are_checked() {
        assert!(gitignore_line_refused(".venv").is_none());
        for l in ["!.env", ".venv\n!.env", "# x", "", "a\rb"] {
            assert!(gitignore_line_refused(l).is_some(), "{l:?}");
        }
    }
}
