//! The project's `.gitignore`: the `.pyve/testenv` line, added by `testenv --init` when the
//! test environment is not ignored yet, and removed again by `testenv --purge` when `--init`
//! added it. Every other line is kept as it is.

use std::fs;
use std::io;
use std::path::Path;

use crate::record::write_atomically;

/// The line added.
pub const LINE: &str = ".pyve/testenv";

/// Patterns that already ignore the test environment (the line itself, anchored or with a
/// trailing slash, or all of `.pyve`).
const COVERING: &[&str] =
    &[".pyve/testenv", ".pyve/testenv/", "/.pyve/testenv", "/.pyve/testenv/", ".pyve", ".pyve/", "/.pyve", "/.pyve/"];

/// What [`add`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Added {
    /// The line was added.
    pub added: bool,
    /// `.gitignore` did not exist and was created.
    pub created: bool,
}

fn read(path: &Path) -> io::Result<Option<String>> {
    match pyve_fs::read_bounded(path, pyve_fs::READ_LIMIT) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r']).trim_end_matches([' ', '\t'])
}

/// Whether the text already ignores the test environment.
pub fn covers(text: &str) -> bool {
    text.lines().any(|l| COVERING.contains(&content(l)))
}

/// `text` with [`LINE`] appended (a missing final newline is added first; the file's line
/// ending is used).
pub fn with_line(text: &str) -> String {
    let crlf = text.find('\n').is_some_and(|i| i > 0 && text.as_bytes()[i - 1] == b'\r');
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut out = String::with_capacity(text.len() + LINE.len() + 2);
    out.push_str(text);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(eol);
    }
    out.push_str(LINE);
    out.push_str(eol);
    out
}

/// `text` without its last [`LINE`] line; `None` when it has none.
pub fn without_line(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at = lines.iter().rposition(|l| content(l) == LINE)?;
    let mut out: String = lines[..at].concat();
    out.push_str(&lines[at + 1..].concat());
    Some(out)
}

/// The `.gitignore` to change: the file, or where a link inside the project leads. A link
/// leading out of the project is an error: pyve neither writes there nor copies that file
/// into the project.
fn target(root: &Path) -> io::Result<std::path::PathBuf> {
    let path = root.join(".gitignore");
    match pyve_fs::inspect(root, &path).map_err(io::Error::other)? {
        pyve_fs::Entry::Link(l) if l.inside => Ok(l.resolved.unwrap_or(path)),
        pyve_fs::Entry::Link(l) => Err(io::Error::other(format!(
            "it is a symbolic link to {}, outside the project, and pyve does not write outside the project",
            l.target.display()
        ))),
        _ => Ok(path),
    }
}

/// Add [`LINE`] to `<root>/.gitignore` unless the test environment is ignored already.
pub fn add(root: &Path) -> io::Result<Added> {
    let path = target(root)?;
    let text = read(&path)?;
    if text.as_deref().is_some_and(covers) {
        return Ok(Added::default());
    }
    let created = text.is_none();
    write_atomically(&path, with_line(text.as_deref().unwrap_or("")).as_bytes())?;
    Ok(Added { added: true, created })
}

/// What [`remove`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// The line was removed.
    Line,
    /// The line was removed, and `.gitignore`, created by `--init` and now empty, deleted.
    File,
    /// There was no such line (the user removed it).
    Nothing,
}

/// Remove the line [`add`] added; delete `.gitignore` too when [`add`] created it and nothing
/// else is left in it.
pub fn remove(root: &Path, created: bool) -> io::Result<Removed> {
    let path = target(root)?;
    let created = created && path == root.join(".gitignore");
    let Some(text) = read(&path)? else { return Ok(Removed::Nothing) };
    let Some(rest) = without_line(&text) else { return Ok(Removed::Nothing) };
    if created && rest.trim().is_empty() {
        fs::remove_file(&path)?;
        return Ok(Removed::File);
    }
    write_atomically(&path, rest.as_bytes())?;
    Ok(Removed::Line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appending() {
        assert_eq!(with_line(""), ".pyve/testenv\n");
        assert_eq!(with_line("target\n.venv\n"), "target\n.venv\n.pyve/testenv\n");
        assert_eq!(with_line("target\n.venv"), "target\n.venv\n.pyve/testenv\n", "missing final newline fixed");
        assert_eq!(with_line("target\r\n.venv"), "target\r\n.venv\r\n.pyve/testenv\r\n");
        assert!(covers("a\n.pyve/testenv/\n") && covers("/.pyve\n") && covers(".pyve/testenv  \r\n"));
        assert!(!covers("# .pyve/testenv\n") && !covers(".pyve/testenv/venv\n") && !covers(""));
    }

    #[test]
    fn removing_only_the_line_added() {
        assert_eq!(without_line("target\n.pyve/testenv\n").as_deref(), Some("target\n"));
        assert_eq!(without_line("a\n.pyve/testenv\nb\n").as_deref(), Some("a\nb\n"));
        assert_eq!(without_line(".pyve/testenv\r\nb\r\n").as_deref(), Some("b\r\n"));
        assert_eq!(without_line(".pyve/testenv\nx\n.pyve/testenv").as_deref(), Some(".pyve/testenv\nx\n"));
        assert_eq!(without_line("target\n"), None);
    }

    #[test]
    fn files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let gi = root.join(".gitignore");
        // Created, then deleted again.
        assert_eq!(add(root).unwrap(), Added { added: true, created: true });
        assert_eq!(fs::read_to_string(&gi).unwrap(), ".pyve/testenv\n");
        assert_eq!(add(root).unwrap(), Added::default(), "once only");
        assert_eq!(remove(root, true).unwrap(), Removed::File);
        assert!(!gi.exists());
        assert_eq!(remove(root, true).unwrap(), Removed::Nothing);
        // The user's file: their lines stay, also the ones added after.
        fs::write(&gi, "target").unwrap();
        assert_eq!(add(root).unwrap(), Added { added: true, created: false });
        fs::write(&gi, format!("{}*.log\n", fs::read_to_string(&gi).unwrap())).unwrap();
        assert_eq!(remove(root, false).unwrap(), Removed::Line);
        assert_eq!(fs::read_to_string(&gi).unwrap(), "target\n*.log\n");
        // Created by pyve, but the user added lines since: kept.
        fs::write(&gi, ".pyve/testenv\nnotes.txt\n").unwrap();
        assert_eq!(remove(root, true).unwrap(), Removed::Line);
        assert_eq!(fs::read_to_string(&gi).unwrap(), "notes.txt\n");
        // Already ignored: nothing added.
        fs::write(&gi, ".pyve/\n").unwrap();
        assert_eq!(add(root).unwrap(), Added::default());
        assert_eq!(fs::read_to_string(&gi).unwrap(), ".pyve/\n");
    }

    #[test]
    fn links_out_of_the_project_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("p");
        fs::create_dir(&root).unwrap();
        let outside = dir.path().join("shared-gitignore");
        fs::write(&outside, "secret\n").unwrap();
        std::os::unix::fs::symlink(&outside, root.join(".gitignore")).unwrap();
        let e = add(&root).unwrap_err();
        assert!(e.to_string().contains("outside the project"), "{e}");
        assert!(remove(&root, true).is_err());
        assert_eq!(fs::read_to_string(&outside).unwrap(), "secret\n");
        assert!(fs::symlink_metadata(root.join(".gitignore")).unwrap().file_type().is_symlink());
        // A link inside the project is followed, and stays a link.
        fs::remove_file(root.join(".gitignore")).unwrap();
        fs::write(root.join("gi"), "target\n").unwrap();
        std::os::unix::fs::symlink("gi", root.join(".gitignore")).unwrap();
        assert!(add(&root).unwrap().added);
        assert_eq!(fs::read_to_string(root.join("gi")).unwrap(), "target\n.pyve/testenv\n");
        assert_eq!(remove(&root, true).unwrap(), Removed::Line);
        assert!(root.join("gi").exists());
    }
}
