//! The project's version file: `.python-version` (pyenv) or the `python` line of
//! `.tool-versions` (asdf). Read, written directly (never through `pyenv local`), and
//! removed only when pyve wrote it.
//!
//! Writing keeps everything else in the file: other tools' lines of `.tool-versions`, their
//! order, comments, further (fallback) versions; only the first version of the pin is
//! replaced, and a final newline is added when missing. Files are replaced atomically (a
//! temporary sibling renamed over them) and keep their permissions.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::PolicyError;
use super::managers::ManagerKind;

/// Which version file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinFile {
    /// `.python-version`, read by pyenv: the first line names the version.
    PythonVersion,
    /// `.tool-versions`, read by asdf: the line `python X.Y.Z` among other tools' lines.
    ToolVersions,
}

impl PinFile {
    /// The file name in the project root.
    pub fn file_name(self) -> &'static str {
        match self {
            PinFile::PythonVersion => ".python-version",
            PinFile::ToolVersions => ".tool-versions",
        }
    }

    /// The inverse of [`PinFile::file_name`].
    pub fn from_file_name(name: &str) -> Option<PinFile> {
        match name {
            ".python-version" => Some(PinFile::PythonVersion),
            ".tool-versions" => Some(PinFile::ToolVersions),
            _ => None,
        }
    }

    /// The version manager that reads it.
    pub fn manager(self) -> ManagerKind {
        match self {
            PinFile::PythonVersion => ManagerKind::Pyenv,
            PinFile::ToolVersions => ManagerKind::Asdf,
        }
    }

    /// The version the file's text pins, if any.
    pub fn parse(self, text: &str) -> Option<String> {
        match self {
            PinFile::PythonVersion => python_version_pin(text),
            PinFile::ToolVersions => tool_versions_pin(text),
        }
    }

    /// The file's text pinning `version` instead, everything else kept.
    pub fn set(self, text: &str, version: &str) -> String {
        match self {
            PinFile::PythonVersion => set_python_version(text, version),
            PinFile::ToolVersions => set_tool_versions(text, version),
        }
    }
}

impl std::fmt::Display for PinFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file_name())
    }
}

/// A version file as found in a project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinState {
    /// Which file.
    pub file: PinFile,
    /// Its path.
    pub path: PathBuf,
    /// Whether it exists.
    pub exists: bool,
    /// The version it pins (for `.tool-versions`: the first version of its `python` line).
    pub version: Option<String>,
}

/// Read a project's version file.
pub fn read_pin(project_root: &Path, file: PinFile) -> Result<PinState, PolicyError> {
    let path = project_root.join(file.file_name());
    let text = read_text(&path)?;
    Ok(PinState { file, version: text.as_deref().and_then(|t| file.parse(t)), exists: text.is_some(), path })
}

/// How a pin changes a version file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinChange {
    /// The file does not exist: create it.
    Create,
    /// The file exists without a pin (a `.tool-versions` without a `python` line): add it.
    AddLine,
    /// The file pins another version: replace it.
    Update {
        /// The version pinned before.
        from: String,
    },
}

/// A pin to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinAction {
    /// Which file.
    pub file: PinFile,
    /// The version to pin (`X.Y.Z`).
    pub version: String,
    /// What happens to the file.
    pub change: PinChange,
}

impl PinAction {
    /// What was done, for the user: "Created .python-version with Python 3.12.1".
    pub fn message(&self) -> String {
        let (file, v) = (self.file.file_name(), &self.version);
        match &self.change {
            PinChange::Create => format!("Created {file} with Python {v}"),
            PinChange::AddLine => format!("Added Python {v} to {file}"),
            PinChange::Update { from } => format!("Updated {file}: {from} → {v}"),
        }
    }
}

/// A pin that was written, with what is needed to undo it.
#[derive(Debug, Clone)]
pub struct AppliedPin {
    /// What was done.
    pub action: PinAction,
    /// The file.
    pub path: PathBuf,
    /// Its content before (`None`: it did not exist).
    previous: Option<String>,
    /// What was written.
    written: String,
    /// Where the file is really written (a link inside the project leads there).
    target: PathBuf,
    /// A link leading out of the project that the pin replaced by a regular file: what it
    /// said (restored by [`AppliedPin::revert`]).
    pub replaced_link: Option<PathBuf>,
}

/// Write a pin into the project's version file (the change is recomputed from the file as it
/// is now; `action.change` describes it).
///
/// Nothing is written outside the project: a version file that is a symbolic link inside the
/// project is written where it leads; a `.python-version` linking out of it is replaced by a
/// regular file (its whole content is the version, nothing is copied;
/// [`AppliedPin::replaced_link`] says so); a `.tool-versions` linking out is refused, since
/// keeping its other lines would copy a file from outside into the project.
pub fn apply_pin(project_root: &Path, action: &PinAction) -> Result<AppliedPin, PolicyError> {
    let path = project_root.join(action.file.file_name());
    let (target, replaced_link) = match pyve_fs::inspect(project_root, &path)? {
        pyve_fs::Entry::Link(l) if l.inside => (l.resolved.unwrap_or_else(|| path.clone()), None),
        pyve_fs::Entry::Link(l) if action.file == PinFile::PythonVersion => (path.clone(), Some(l.target)),
        pyve_fs::Entry::Link(l) => return Err(PolicyError::VersionFileLink { path, target: l.target }),
        _ => (path.clone(), None),
    };
    let previous = if replaced_link.is_some() { None } else { read_text(&target)? };
    let written = action.file.set(previous.as_deref().unwrap_or(""), &action.version);
    write_text(&target, &written)?;
    Ok(AppliedPin { action: action.clone(), path, previous, written, target, replaced_link })
}

impl AppliedPin {
    /// Put the file back as it was (remove it when pyve created it), unless someone changed it
    /// since.
    pub fn revert(&self) -> Result<(), PolicyError> {
        if read_text(&self.target)?.as_deref() != Some(self.written.as_str()) {
            return Ok(());
        }
        match (&self.previous, &self.replaced_link) {
            (Some(text), _) => write_text(&self.target, text),
            (None, None) => fs::remove_file(&self.target).map_err(|e| PolicyError::io("remove", &self.target, e)),
            (None, Some(link)) => {
                fs::remove_file(&self.path).map_err(|e| PolicyError::io("remove", &self.path, e))?;
                #[cfg(unix)]
                std::os::unix::fs::symlink(link, &self.path)
                    .map_err(|e| PolicyError::io("restore the link", &self.path, e))?;
                Ok(())
            }
        }
    }

    /// Whether pyve created the file.
    pub fn created_file(&self) -> bool {
        self.previous.is_none() && self.replaced_link.is_none()
    }
}

/// How a pin pyve wrote came about: what `env/remove` needs to undo exactly that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinOrigin {
    /// pyve created the file.
    Created,
    /// pyve added its `python` line to an existing file.
    Added,
    /// pyve replaced the version of an existing pin.
    Updated {
        /// The version pinned before pyve changed it.
        from: String,
    },
}

/// What pyve wrote into a version file, recorded in the backend's settings
/// (`{"file": ".python-version", "version": "3.12.1", "origin": "created"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinRecord {
    /// Which file.
    pub file: PinFile,
    /// The version pyve wrote.
    pub version: String,
    /// How.
    pub origin: PinOrigin,
}

impl PinRecord {
    /// The record after `action` was applied on top of `prior` (what pyve had written before,
    /// when the file still held it): a pin pyve created and later updated is still pyve's.
    pub fn after(prior: Option<&PinRecord>, action: &PinAction) -> PinRecord {
        let origin = match &action.change {
            PinChange::Create => PinOrigin::Created,
            PinChange::AddLine => PinOrigin::Added,
            PinChange::Update { from } => match prior {
                Some(p) if p.file == action.file && &p.version == from => p.origin.clone(),
                _ => PinOrigin::Updated { from: from.clone() },
            },
        };
        PinRecord { file: action.file, version: action.version.clone(), origin }
    }

    /// Whether the file still pins what pyve wrote.
    pub fn still_holds(&self, project_root: &Path) -> bool {
        read_pin(project_root, self.file).is_ok_and(|s| s.version.as_deref() == Some(self.version.as_str()))
    }

    /// Whether pyve created the file.
    pub fn created_file(&self) -> bool {
        self.origin == PinOrigin::Created
    }

    /// As recorded in settings.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({ "file": self.file.file_name(), "version": self.version });
        let origin = match &self.origin {
            PinOrigin::Created => "created",
            PinOrigin::Added => "added",
            PinOrigin::Updated { from } => {
                v["previous"] = serde_json::Value::String(from.clone());
                "updated"
            }
        };
        v["origin"] = serde_json::Value::String(origin.into());
        v
    }

    /// Read a record back; `None` for anything malformed (a hostile or hand-edited config
    /// cannot name another file).
    pub fn from_json(v: &serde_json::Value) -> Option<PinRecord> {
        let file = PinFile::from_file_name(v.get("file")?.as_str()?)?;
        let version = v.get("version")?.as_str()?.to_string();
        let origin = match v.get("origin").and_then(|o| o.as_str()).unwrap_or("created") {
            "created" => PinOrigin::Created,
            "added" => PinOrigin::Added,
            "updated" => {
                PinOrigin::Updated { from: v.get("previous").and_then(|p| p.as_str()).unwrap_or_default().to_string() }
            }
            _ => return None,
        };
        Some(PinRecord { file, version, origin })
    }
}

/// What [`remove_pin`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinRemoval {
    /// The file was deleted.
    Removed,
    /// pyve's `python` line was taken out of `.tool-versions`; the file stays, with why.
    LineRemoved(String),
    /// Nothing was changed, with why.
    Kept(String),
    /// The file does not exist.
    Missing,
}

/// Undo what pyve wrote: delete a version file pyve created and that still holds only what it
/// wrote; from `.tool-versions` take out only pyve's `python` line (deleting the file when
/// pyve created it and nothing else is left). Anything else is kept, with the reason.
pub fn remove_pin(project_root: &Path, record: &PinRecord) -> Result<PinRemoval, PolicyError> {
    let path = project_root.join(record.file.file_name());
    // pyve writes only regular files: a link is the user's, wherever it leads.
    if let Some(l) = pyve_fs::inspect(project_root, &path)?.link() {
        return Ok(PinRemoval::Kept(format!(
            "it is a symbolic link (to {}), not a file pyve wrote",
            l.target.display()
        )));
    }
    let Some(text) = read_text(&path)? else { return Ok(PinRemoval::Missing) };
    let pinned = record.file.parse(&text);
    if pinned.as_deref() != Some(record.version.as_str()) {
        let now = pinned.map(|p| format!("it now pins {p}")).unwrap_or_else(|| "it no longer pins Python".into());
        return Ok(PinRemoval::Kept(format!("{now}, not the {} pyve wrote", record.version)));
    }
    match (&record.origin, record.file) {
        (PinOrigin::Updated { from }, _) => Ok(PinRemoval::Kept(if from.is_empty() {
            "it existed before pyve; pyve only wrote the version into it".into()
        } else {
            format!("it existed before pyve (pinning {from}); pyve only updated it")
        })),
        (PinOrigin::Added, PinFile::PythonVersion) => {
            Ok(PinRemoval::Kept("it existed before pyve; pyve only wrote the version into it".into()))
        }
        (PinOrigin::Created, PinFile::PythonVersion) => {
            if text.trim() != record.version {
                return Ok(PinRemoval::Kept("it was changed since pyve wrote it".into()));
            }
            fs::remove_file(&path).map_err(|e| PolicyError::io("remove", &path, e))?;
            Ok(PinRemoval::Removed)
        }
        (origin, PinFile::ToolVersions) => {
            let rest = remove_tool_versions_python(&text);
            if *origin == PinOrigin::Created && rest.trim().is_empty() {
                fs::remove_file(&path).map_err(|e| PolicyError::io("remove", &path, e))?;
                return Ok(PinRemoval::Removed);
            }
            write_text(&path, &rest)?;
            Ok(PinRemoval::LineRemoved(if *origin == PinOrigin::Created {
                "removed pyve's python line; the file holds other tools' versions".into()
            } else {
                "not created by pyve; removed only pyve's python line".into()
            }))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// the formats

/// The significant part of a line: without a `# comment` and surrounding blanks.
fn content(line: &str) -> &str {
    line.split('#').next().unwrap_or_default().trim()
}

/// `.python-version`: the first word of the first line that is not blank or a comment.
fn python_version_pin(text: &str) -> Option<String> {
    text.lines().map(content).find(|l| !l.is_empty()).and_then(|l| l.split_whitespace().next()).map(str::to_string)
}

/// `.tool-versions`: the first version of the first `python` line.
fn tool_versions_pin(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut words = content(line).split_whitespace();
        (words.next() == Some("python")).then(|| words.next().map(str::to_string)).flatten()
    })
}

/// The byte range of the `n`-th whitespace-separated word of `line` (before any comment).
fn word_span(line: &str, n: usize) -> Option<(usize, usize)> {
    let end_of_content = line.find('#').unwrap_or(line.len());
    let mut count = 0;
    let mut start = None;
    for (i, c) in line[..end_of_content].char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                if count == n {
                    return Some((s, i));
                }
                count += 1;
                start = None;
            }
            _ => {}
        }
    }
    start.filter(|_| count == n).map(|s| (s, end_of_content))
}

/// The line ending the file uses (`\r\n` when its first line has one).
fn line_ending(text: &str) -> &'static str {
    match text.find('\n') {
        Some(i) if i > 0 && text.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

fn with_final_newline(mut text: String, eol: &str) -> String {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push_str(eol);
    }
    text
}

fn set_python_version(text: &str, version: &str) -> String {
    let eol = line_ending(text);
    let mut out = String::with_capacity(text.len() + version.len() + 1);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done
            && !content(line).is_empty()
            && let Some((s, e)) = word_span(line, 0)
        {
            out.push_str(&line[..s]);
            out.push_str(version);
            out.push_str(&line[e..]);
            done = true;
            continue;
        }
        out.push_str(line);
    }
    if !done {
        // Blank or comments only: the version goes first, as pyenv reads the first line.
        return with_final_newline(format!("{version}{eol}{text}"), eol);
    }
    with_final_newline(out, eol)
}

fn set_tool_versions(text: &str, version: &str) -> String {
    let eol = line_ending(text);
    let mut out = String::with_capacity(text.len() + version.len() + 8);
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done && content(line).split_whitespace().next() == Some("python") {
            done = true;
            match word_span(line, 1) {
                Some((s, e)) => {
                    out.push_str(&line[..s]);
                    out.push_str(version);
                    out.push_str(&line[e..]);
                }
                None => {
                    // `python` without a version: complete the line.
                    let (_, e) = word_span(line, 0).unwrap_or((0, 0));
                    out.push_str(&line[..e]);
                    out.push(' ');
                    out.push_str(version);
                    out.push_str(&line[e..]);
                }
            }
            continue;
        }
        out.push_str(line);
    }
    let mut out = with_final_newline(out, eol);
    if !done {
        out.push_str("python ");
        out.push_str(version);
        out.push_str(eol);
    }
    out
}

/// `.tool-versions` without its (first) `python` line.
fn remove_tool_versions_python(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = false;
    for line in text.split_inclusive('\n') {
        if !done && content(line).split_whitespace().next() == Some("python") {
            done = true;
            continue;
        }
        out.push_str(line);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// files

/// The most pyve reads of a version file (`.python-version`, `.tool-versions`).
pub const PIN_MAX: u64 = 64 << 10;

/// The file's text, `None` when it does not exist. Only a regular file of at most [`PIN_MAX`]
/// bytes is read (a FIFO, a device or a larger file is an error naming it).
fn read_text(path: &Path) -> Result<Option<String>, PolicyError> {
    match pyve_fs::read_bounded(path, PIN_MAX) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| PolicyError::VersionFile {
            op: "read",
            path: path.to_path_buf(),
            reason: "it is not UTF-8 text".into(),
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PolicyError::VersionFile { op: "read", path: path.to_path_buf(), reason: e.to_string() }),
    }
}

/// Replace the file's content atomically (keeping its permissions). A symbolic link at `path`
/// is replaced, never written through ([`apply_pin`] decides what to do with links first).
fn write_text(path: &Path, text: &str) -> Result<(), PolicyError> {
    let fail =
        |e: std::io::Error| PolicyError::VersionFile { op: "write", path: path.to_path_buf(), reason: e.to_string() };
    let meta = fs::symlink_metadata(path).ok().filter(|m| m.is_file());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.pyve-tmp-{}-0", std::process::id()));
    let result = (|| {
        fs::write(&tmp, text)?;
        if let Some(m) = &meta {
            fs::set_permissions(&tmp, fs::Permissions::from_mode(m.permissions().mode()))?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pins() {
        assert_eq!(python_version_pin("3.12.1\n").as_deref(), Some("3.12.1"));
        assert_eq!(python_version_pin("# pinned\n\n  3.11.7 3.10.13\n3.9.18\n").as_deref(), Some("3.11.7"));
        assert_eq!(python_version_pin("\n# nothing\n"), None);
        let tv = "nodejs 20.11.0\n# python 3.8.18\npython 3.12.1 3.11.7 # main\nruby 3.3.0";
        assert_eq!(tool_versions_pin(tv).as_deref(), Some("3.12.1"));
        assert_eq!(tool_versions_pin("nodejs 20.11.0\npythonista 1.0\n"), None);
        assert_eq!(tool_versions_pin("python\n"), None);
    }

    #[test]
    fn rewrites_python_version_keeping_the_rest() {
        assert_eq!(set_python_version("", "3.12.1"), "3.12.1\n");
        assert_eq!(set_python_version("3.11.7", "3.12.1"), "3.12.1\n");
        assert_eq!(
            set_python_version("# pin\n3.11.7  # main\n3.10.13\n", "3.12.1"),
            "# pin\n3.12.1  # main\n3.10.13\n"
        );
        assert_eq!(set_python_version("# only a comment\n", "3.12.1"), "3.12.1\n# only a comment\n");
        assert_eq!(set_python_version("3.11.7\r\n", "3.12.1"), "3.12.1\r\n");
    }

    #[test]
    fn rewrites_tool_versions_keeping_other_tools_and_order() {
        let tv = "nodejs 20.11.0\npython   3.11.7 3.10.13  # keep\nruby 3.3.0";
        assert_eq!(set_tool_versions(tv, "3.12.1"), "nodejs 20.11.0\npython   3.12.1 3.10.13  # keep\nruby 3.3.0\n");
        assert_eq!(set_tool_versions("nodejs 20.11.0", "3.12.1"), "nodejs 20.11.0\npython 3.12.1\n");
        assert_eq!(set_tool_versions("nodejs 20.11.0\r\n", "3.12.1"), "nodejs 20.11.0\r\npython 3.12.1\r\n");
        assert_eq!(set_tool_versions("", "3.12.1"), "python 3.12.1\n");
        assert_eq!(set_tool_versions("python\nnodejs 1\n", "3.12.1"), "python 3.12.1\nnodejs 1\n");
        assert_eq!(set_tool_versions("python\tnope\n", "3.12.1"), "python\t3.12.1\n");
        assert_eq!(remove_tool_versions_python("nodejs 20\npython 3.12.1\nruby 3\n"), "nodejs 20\nruby 3\n");
    }

    #[test]
    fn words() {
        assert_eq!(word_span("python 3.12.1", 1), Some((7, 13)));
        assert_eq!(word_span("  a b#c", 1), Some((4, 5)));
        assert_eq!(word_span("a", 1), None);
        assert_eq!(word_span("a\n", 0), Some((0, 1)));
    }

    #[test]
    fn apply_revert_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let create = PinAction { file: PinFile::PythonVersion, version: "3.12.1".into(), change: PinChange::Create };
        assert_eq!(create.message(), "Created .python-version with Python 3.12.1");
        let applied = apply_pin(root, &create).unwrap();
        assert!(applied.created_file());
        assert_eq!(fs::read_to_string(root.join(".python-version")).unwrap(), "3.12.1\n");
        applied.revert().unwrap();
        assert!(!root.join(".python-version").exists());

        // Created by pyve, then updated by pyve: still pyve's, removed.
        apply_pin(root, &create).unwrap();
        let record = PinRecord::after(None, &create);
        let update = PinAction {
            file: PinFile::PythonVersion,
            version: "3.13.0".into(),
            change: PinChange::Update { from: "3.12.1".into() },
        };
        apply_pin(root, &update).unwrap();
        let record = PinRecord::after(Some(&record), &update);
        assert_eq!(record.origin, PinOrigin::Created);
        assert_eq!(PinRecord::from_json(&record.to_json()), Some(record.clone()));
        assert_eq!(remove_pin(root, &record).unwrap(), PinRemoval::Removed);
        assert_eq!(remove_pin(root, &record).unwrap(), PinRemoval::Missing);

        // A user's pin updated by pyve is kept, and so is a pin the user changed.
        fs::write(root.join(".python-version"), "3.11.7\n").unwrap();
        let update = PinAction { change: PinChange::Update { from: "3.11.7".into() }, ..update };
        let applied = apply_pin(root, &update).unwrap();
        let record = PinRecord::after(None, &applied.action);
        assert!(matches!(remove_pin(root, &record).unwrap(), PinRemoval::Kept(r) if r.contains("3.11.7")));
        applied.revert().unwrap();
        assert_eq!(fs::read_to_string(root.join(".python-version")).unwrap(), "3.11.7\n");
        let mine = PinRecord { file: PinFile::PythonVersion, version: "3.13.0".into(), origin: PinOrigin::Created };
        assert!(matches!(remove_pin(root, &mine).unwrap(), PinRemoval::Kept(r) if r.contains("now pins 3.11.7")));

        // .tool-versions: only pyve's line goes.
        fs::write(root.join(".tool-versions"), "nodejs 20.11.0\n").unwrap();
        let add = PinAction { file: PinFile::ToolVersions, version: "3.12.1".into(), change: PinChange::AddLine };
        apply_pin(root, &add).unwrap();
        assert_eq!(read_pin(root, PinFile::ToolVersions).unwrap().version.as_deref(), Some("3.12.1"));
        let record = PinRecord::after(None, &add);
        assert!(matches!(remove_pin(root, &record).unwrap(), PinRemoval::LineRemoved(_)));
        assert_eq!(fs::read_to_string(root.join(".tool-versions")).unwrap(), "nodejs 20.11.0\n");

        fs::remove_file(root.join(".tool-versions")).unwrap();
        let create = PinAction { file: PinFile::ToolVersions, version: "3.12.1".into(), change: PinChange::Create };
        apply_pin(root, &create).unwrap();
        assert_eq!(fs::read_to_string(root.join(".tool-versions")).unwrap(), "python 3.12.1\n");
        assert_eq!(remove_pin(root, &PinRecord::after(None, &create)).unwrap(), PinRemoval::Removed);
        assert!(!root.join(".tool-versions").exists());
        assert!(PinRecord::from_json(&serde_json::json!({"file": "../etc/passwd", "version": "1"})).is_none());
    }

    #[test]
    fn links_out_of_the_project_are_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let root = &dir.path().join("p");
        fs::create_dir(root).unwrap();
        let shared = dir.path().join("shared");
        fs::write(&shared, "nodejs 20\npython 3.11.7\n").unwrap();
        let update =
            |file| PinAction { file, version: "3.12.1".into(), change: PinChange::Update { from: "3.11.7".into() } };

        // .tool-versions: refused (its other lines would be copied in from outside).
        std::os::unix::fs::symlink(&shared, root.join(".tool-versions")).unwrap();
        let e = apply_pin(root, &update(PinFile::ToolVersions)).unwrap_err();
        assert!(matches!(e, PolicyError::VersionFileLink { .. }), "{e}");
        assert!(e.hint().unwrap().contains("removes only the link"));
        let record = PinRecord { file: PinFile::ToolVersions, version: "3.11.7".into(), origin: PinOrigin::Created };
        assert!(matches!(remove_pin(root, &record).unwrap(), PinRemoval::Kept(r) if r.contains("symbolic link")));

        // .python-version: replaced by a regular file holding only the version; revert puts
        // the link back.
        std::os::unix::fs::symlink(&shared, root.join(".python-version")).unwrap();
        let applied = apply_pin(root, &update(PinFile::PythonVersion)).unwrap();
        assert_eq!(applied.replaced_link.as_deref(), Some(shared.as_path()));
        assert!(!applied.created_file());
        assert_eq!(fs::read_to_string(root.join(".python-version")).unwrap(), "3.12.1\n");
        applied.revert().unwrap();
        assert_eq!(fs::read_link(root.join(".python-version")).unwrap(), shared);
        assert_eq!(fs::read_to_string(&shared).unwrap(), "nodejs 20\npython 3.11.7\n");

        // A link inside the project is written where it leads, and stays a link.
        fs::remove_file(root.join(".python-version")).unwrap();
        fs::write(root.join("pin"), "3.11.7\n").unwrap();
        std::os::unix::fs::symlink("pin", root.join(".python-version")).unwrap();
        apply_pin(root, &update(PinFile::PythonVersion)).unwrap();
        assert_eq!(fs::read_to_string(root.join("pin")).unwrap(), "3.12.1\n");
        assert!(fs::symlink_metadata(root.join(".python-version")).unwrap().file_type().is_symlink());
    }

    #[test]
    fn keeps_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".python-version");
        fs::write(&path, "3.11.7\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_text(&path, "3.12.1\n").unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
