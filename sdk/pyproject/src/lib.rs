//! What a Python project declares for its environment, read by the backends for the install at
//! init (`docs/venv-backend.md`, "Dependencies"; the conda backend installs the same into its
//! environment's Python):
//!
//! - `uv.lock`: when present it is the source of truth, installed exactly by uv's frozen sync;
//! - otherwise `requirements.txt` (at the root), pyproject.toml's `[project] dependencies`, the
//!   `dev` dependency group (PEP 735, `{include-group = ...}` resolved), and the project itself,
//!   editable, when it is a buildable package (a `[build-system]` table, or `setup.py` /
//!   `setup.cfg`).
//!
//! Each declaration file read is recorded with the sha256 of its bytes, for `pyve sync` to
//! tell later whether the declarations changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The largest declaration file read.
const MAX_FILE: u64 = 4 << 20;

/// The dependency group installed by default.
pub const DEFAULT_GROUP: &str = "dev";

/// One requirement and the file that declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The requirement as written (PEP 508).
    pub spec: String,
    /// Where it comes from: `pyproject.toml [project] dependencies`, `... [dependency-groups] dev`.
    pub origin: String,
}

impl Requirement {
    /// The distribution name the requirement names (lowercase, `_`/`.` as `-`).
    pub fn name(&self) -> String {
        requirement_name(&self.spec)
    }
}

/// What to install.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// `uv.lock` exists: install it exactly (uv's frozen sync) when uv is available.
    pub uv_lock: bool,
    /// `requirements.txt` exists at the root.
    pub requirements_txt: bool,
    /// `[project] dependencies` and the groups' requirements, in order.
    pub requirements: Vec<Requirement>,
    /// The groups installed (`dev` when declared).
    pub groups: Vec<String>,
    /// The project is a buildable package: install it editable (`-e .`).
    pub editable: bool,
    /// The declaration files read, by name, with the sha256 (hex) of their bytes.
    pub files: BTreeMap<String, String>,
}

impl Declared {
    /// Whether there is anything to install.
    pub fn is_empty(&self) -> bool {
        !self.uv_lock && !self.requirements_txt && self.requirements.is_empty() && !self.editable
    }

    /// The installer arguments for the declarations (not the lock): `-r requirements.txt`, the
    /// requirements, `-e .`.
    pub fn install_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if self.requirements_txt {
            args.extend(["-r".to_owned(), "requirements.txt".to_owned()]);
        }
        args.extend(self.requirements.iter().map(|r| r.spec.clone()));
        if self.editable {
            args.extend(["-e".to_owned(), ".".to_owned()]);
        }
        args
    }

    /// Where the requirement named `name` is declared, when it is.
    pub fn origin_of(&self, root: &Path, name: &str) -> Option<String> {
        let name = normalize(name);
        if let Some(r) = self.requirements.iter().find(|r| r.name() == name) {
            return Some(r.origin.clone());
        }
        if self.requirements_txt
            && let Ok(text) = pyve_fs::read_bounded_text(&root.join("requirements.txt"), MAX_FILE)
            && requirements_txt_names(&text).contains(&name)
        {
            return Some("requirements.txt".into());
        }
        None
    }
}

impl Declared {
    /// What is installed, for messages: `requirements.txt, 2 from pyproject.toml, group dev,
    /// the project, editable`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.requirements_txt {
            parts.push("requirements.txt".to_owned());
        }
        let project = self.requirements.iter().filter(|r| r.origin.ends_with("[project] dependencies")).count();
        if project > 0 {
            parts.push(format!("{project} from pyproject.toml"));
        }
        for g in &self.groups {
            parts.push(format!("group {g}"));
        }
        if self.editable {
            parts.push("the project, editable".into());
        }
        parts.join(", ")
    }

    /// The installer's error lines (pip's or uv's last output lines, `tail`) and the declared
    /// requirement they name: `requirement 'nosuch' from requirements.txt: ERROR: ...`.
    pub fn culprit(&self, root: &Path, tail: &[String]) -> Option<String> {
        let errors: Vec<&str> = tail
            .iter()
            .map(|l| l.trim())
            .filter(|l| {
                l.starts_with("ERROR:")
                    || l.starts_with("error:")
                    || l.starts_with("×")
                    || l.starts_with("╰─▶")
                    || l.contains("Because ")
                    || l.contains("No solution found")
            })
            .collect();
        let text = errors.join("\n").to_ascii_lowercase();
        let mut names: Vec<(String, String)> = Vec::new();
        for r in &self.requirements {
            names.push((r.name(), r.spec.clone()));
        }
        if self.requirements_txt
            && let Ok(t) = std::fs::read_to_string(root.join("requirements.txt"))
        {
            for l in t.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('-')) {
                names.push((requirement_name(l), l.split(" #").next().unwrap_or(l).trim().to_owned()));
            }
        }
        let found = names.iter().find(|(n, _)| !n.is_empty() && mentions(&text, n));
        let first = errors.first().map(|s| s.to_string());
        match (found, first) {
            (Some((name, spec)), first) => {
                let origin = self.origin_of(root, name).unwrap_or_else(|| "the project".into());
                Some(match first {
                    Some(f) => format!("requirement '{spec}' from {origin}: {f}"),
                    None => format!("requirement '{spec}' from {origin}"),
                })
            }
            (None, Some(f)) => Some(f),
            (None, None) => None,
        }
    }
}

/// Whether `text` names the distribution `name` (in any of its spellings), as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    let spellings = [name.to_owned(), name.replace('-', "_"), name.replace('-', ".")];
    spellings.iter().any(|s| {
        text.match_indices(s.as_str()).any(|(i, m)| {
            let before = text[..i].chars().next_back();
            let after = text[i + m.len()..].chars().next();
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            !word(before) && !word(after)
        })
    })
}

/// The dependency groups of `--groups` (the backends' `groups` setting): a comma-separated
/// list, blanks around names dropped, `""` for none.
pub fn parse_groups(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_owned).collect()
}

/// `s` as one POSIX shell word, quoted only when it needs to be (for retry commands users copy).
pub fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=+:@,".contains(&b)) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Why the declarations cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DeclError {
    /// A file could not be read.
    #[error("cannot read {file}: {source}")]
    Io {
        /// The file name.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// pyproject.toml is not what PEP 621 / PEP 735 describe.
    #[error("pyproject.toml: {0}")]
    Pyproject(String),
    /// A group asked for (`--groups`, or `groups` in `.pyve/config`) is not declared.
    #[error(
        "pyproject.toml: the dependency group `{name}` (--groups, recorded as `groups` in .pyve/config) is not declared in `[dependency-groups]`"
    )]
    UndeclaredGroup {
        /// The group asked for.
        name: String,
        /// The groups pyproject.toml declares.
        declared: Vec<String>,
    },
}

impl DeclError {
    /// What the user does next (the environment was kept): `sync` is the command that installs
    /// again (`pyve sync`).
    pub fn next_step(&self, sync: &str) -> String {
        match self {
            DeclError::UndeclaredGroup { declared, .. } => format!(
                "declare it in pyproject.toml, or choose other groups with `pyve --init --force --groups G1,G2` ({}; `--groups \"\"` for none)",
                if declared.is_empty() {
                    "none is declared".to_owned()
                } else {
                    format!("declared: {}", declared.join(", "))
                }
            ),
            DeclError::Io { .. } | DeclError::Pyproject(_) => format!("fix the file, then run `{sync}`"),
        }
    }
}

fn read(root: &Path, name: &str, files: &mut BTreeMap<String, String>) -> Result<Option<String>, DeclError> {
    match pyve_fs::read_bounded_text(&root.join(name), MAX_FILE) {
        Ok(text) => {
            files.insert(name.to_owned(), sha256_hex(text.as_bytes()));
            Ok(Some(text))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(DeclError::Io { file: name.to_owned(), source }),
    }
}

/// A TOML syntax error for people: `line 4, column 1: unclosed array, expected `]``, so the
/// user can go to the place (toml_edit's own `Display` is several lines with a snippet).
pub fn toml_error(text: &str, e: &toml_edit::TomlError) -> String {
    let message = e.message().trim();
    let Some(span) = e.span() else { return message.to_owned() };
    let before = &text.as_bytes()[..span.start.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    format!("line {line}, column {column}: {message}")
}

/// The sha256 of `data`, in lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Read what the project at `root` declares, with the `dev` dependency group (when declared).
pub fn read_declared(root: &Path) -> Result<Declared, DeclError> {
    read_declared_groups(root, None)
}

/// Read what the project at `root` declares, with the dependency groups named (`None`: `dev`
/// when declared; a named group that is not declared is an error).
pub fn read_declared_groups(root: &Path, wanted: Option<&[String]>) -> Result<Declared, DeclError> {
    let mut d = Declared::default();
    if read(root, "uv.lock", &mut d.files)?.is_some() {
        d.uv_lock = true;
    }
    d.requirements_txt = read(root, "requirements.txt", &mut d.files)?.is_some();
    let mut build_system = false;
    if let Some(text) = read(root, "pyproject.toml", &mut d.files)? {
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            DeclError::Pyproject(format!("not valid TOML ({})", toml_error(&text, &e)))
        })?;
        build_system = doc.get("build-system").is_some_and(|b| b.is_table_like());
        if let Some(deps) = doc.get("project").and_then(|p| p.get("dependencies")) {
            let list = strings(deps)
                .ok_or_else(|| DeclError::Pyproject("`[project] dependencies` must be a list of strings".into()))?;
            d.requirements.extend(
                list.into_iter()
                    .map(|spec| Requirement { spec, origin: "pyproject.toml [project] dependencies".into() }),
            );
        }
        let groups = doc.get("dependency-groups");
        let names: Vec<String> = match wanted {
            Some(w) => w.to_vec(),
            None if groups.is_some_and(|g| g.get(DEFAULT_GROUP).is_some()) => vec![DEFAULT_GROUP.into()],
            None => Vec::new(),
        };
        for name in names {
            let Some(table) = groups.filter(|g| g.get(&name).is_some()) else {
                let declared = groups
                    .and_then(|g| g.as_table_like())
                    .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
                    .unwrap_or_default();
                return Err(DeclError::UndeclaredGroup { name, declared });
            };
            let mut seen = Vec::new();
            let specs = group(table, &name, &mut seen)?;
            d.requirements.extend(
                specs
                    .into_iter()
                    .map(|spec| Requirement { spec, origin: format!("pyproject.toml [dependency-groups] {name}") }),
            );
            d.groups.push(name);
        }
    }
    for legacy in ["setup.py", "setup.cfg"] {
        if root.join(legacy).is_file() {
            read(root, legacy, &mut d.files)?;
            build_system = true;
        }
    }
    d.editable = build_system;
    Ok(d)
}

fn strings(item: &toml_edit::Item) -> Option<Vec<String>> {
    let array = item.as_array()?;
    array.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

/// The requirements of dependency group `name`, includes resolved (PEP 735).
fn group(groups: &toml_edit::Item, name: &str, seen: &mut Vec<String>) -> Result<Vec<String>, DeclError> {
    let key = normalize(name);
    if seen.contains(&key) {
        return Err(DeclError::Pyproject(format!(
            "dependency group `{name}` includes itself (through {})",
            seen.join(" → ")
        )));
    }
    seen.push(key.clone());
    let table =
        groups.as_table_like().ok_or_else(|| DeclError::Pyproject("`[dependency-groups]` must be a table".into()))?;
    let (_, item) = table
        .iter()
        .find(|(k, _)| normalize(k) == key)
        .ok_or_else(|| DeclError::Pyproject(format!("dependency group `{name}` is included but not defined")))?;
    let array =
        item.as_array().ok_or_else(|| DeclError::Pyproject(format!("dependency group `{name}` must be a list")))?;
    let mut out = Vec::new();
    for v in array {
        if let Some(s) = v.as_str() {
            out.push(s.to_owned());
        } else if let Some(included) = v.as_inline_table().and_then(|t| t.get("include-group")).and_then(|i| i.as_str())
        {
            out.extend(group(groups, included, seen)?);
        } else {
            return Err(DeclError::Pyproject(format!(
                "dependency group `{name}`: each entry is a requirement string or {{include-group = \"...\"}}"
            )));
        }
    }
    seen.pop();
    Ok(out)
}

/// A distribution name normalised (PEP 503): lowercase, runs of `-_.` as one `-` (surrounding
/// blanks dropped).
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The name a PEP 508 requirement starts with.
pub fn requirement_name(spec: &str) -> String {
    let name: String =
        spec.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')).collect();
    normalize(&name)
}

/// The files `requirements.txt` at `root` pulls in (`-r FILE`, `--requirement FILE`, `-c FILE`,
/// `--constraint FILE`, nested), relative to `root`: what the installer reads besides it, so
/// that `pyve sync` notices a change in one. Paths are taken relative to the including file,
/// as pip does; URLs and files outside the project are left out.
pub fn requirements_includes(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut queue = vec![PathBuf::from("requirements.txt")];
    while let Some(file) = queue.pop() {
        let Ok(text) = pyve_fs::read_bounded_text(&root.join(&file), MAX_FILE) else { continue };
        let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for line in text.lines() {
            let line = line.split(" #").next().unwrap_or("").trim();
            let target = ["--requirement", "--constraint", "-r", "-c"].iter().find_map(|opt| {
                let rest = line.strip_prefix(opt)?;
                // `--requirement=FILE`, `--requirement FILE`; `-rFILE`, `-r FILE` too.
                let long_ok = opt.len() == 2 || rest.starts_with(['=', ' ', '\t']);
                long_ok.then(|| rest.strip_prefix('=').unwrap_or(rest).trim())
            });
            let Some(target) = target.filter(|t| !t.is_empty() && !t.contains("://")) else { continue };
            let Some(rel) = inside(&dir.join(target)) else { continue };
            if rel != Path::new("requirements.txt") && !out.contains(&rel) && out.len() < 64 {
                out.push(rel.clone());
                queue.push(rel);
            }
        }
    }
    out
}

/// How `uv.lock` at `root` no longer matches pyproject.toml (`None`: it matches, or this cannot
/// tell): a requirement of `[project] dependencies` the lock does not have, or one the lock has
/// that is no longer declared; a dependency group's requirement the lock does not have. By
/// name, from the lock's record of the declarations (`[package.metadata]` of the project's own
/// entry), so nothing is resolved. `uv sync --frozen` installs a stale lock without a word.
pub fn uv_lock_stale(root: &Path) -> Option<String> {
    let read = |name: &str| -> Option<toml_edit::DocumentMut> {
        pyve_fs::read_bounded_text(&root.join(name), MAX_FILE).ok()?.parse().ok()
    };
    let (lock, pyproject) = (read("uv.lock")?, read("pyproject.toml")?);
    let own = lock.get("package")?.as_array_of_tables()?.iter().find(|p| {
        p.get("source").and_then(|s| s.as_inline_table()).is_some_and(|s| {
            ["virtual", "editable", "directory"].iter().any(|k| s.get(k).and_then(|v| v.as_str()) == Some("."))
        })
    })?;
    let metadata = own.get("metadata")?;
    let names_of = |item: Option<&toml_edit::Item>| -> Vec<String> {
        let Some(array) = item.and_then(|i| i.as_array()) else { return Vec::new() };
        array.iter().filter_map(|v| v.as_inline_table()?.get("name")?.as_str().map(normalize)).collect()
    };
    let declared = |item: Option<&toml_edit::Item>| -> Vec<String> {
        strings_in(item).iter().map(|s| requirement_name(s)).filter(|n| !n.is_empty()).collect()
    };
    let locked = names_of(metadata.get("requires-dist"));
    let project = declared(pyproject.get("project").and_then(|p| p.get("dependencies")));
    let mut problems = Vec::new();
    let added: Vec<&String> = project.iter().filter(|n| !locked.contains(n)).collect();
    let gone: Vec<&String> = locked.iter().filter(|n| !project.contains(n)).collect();
    if !added.is_empty() {
        problems.push(format!("pyproject.toml declares {}, which it does not lock", join(&added)));
    }
    if !gone.is_empty() {
        problems.push(format!("it locks {}, which pyproject.toml no longer declares", join(&gone)));
    }
    if let Some(groups) = pyproject.get("dependency-groups").and_then(|g| g.as_table_like()) {
        let dev = metadata.get("requires-dev");
        for (group, list) in groups.iter() {
            let locked = names_of(dev.and_then(|d| d.get(group)));
            let missing: Vec<String> = declared(Some(list)).into_iter().filter(|n| !locked.contains(n)).collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "the group {group} declares {}, which it does not lock",
                    join(&missing.iter().collect::<Vec<_>>())
                ));
            }
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn join(names: &[&String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The strings of a TOML array item (other entries, such as `{include-group = ...}`, skipped).
fn strings_in(item: Option<&toml_edit::Item>) -> Vec<String> {
    let Some(array) = item.and_then(|i| i.as_array()) else { return Vec::new() };
    array.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

/// `path` (relative to the project root) with `.` and `..` resolved, when it stays inside.
fn inside(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// The names `requirements.txt` lists (option lines, URLs and paths skipped).
fn requirements_txt_names(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split(" #").next().unwrap_or("").trim())
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('-') && !l.contains("://"))
        .map(requirement_name)
        .filter(|n| !n.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_includes_are_followed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("reqs")).unwrap();
        std::fs::write(
            d.path().join("requirements.txt"),
            "-r reqs/base.txt\n--constraint=constraints.txt\n-e .\nsix\n-r https://x/y.txt\n-r ../outside.txt\n",
        )
        .unwrap();
        std::fs::write(d.path().join("reqs/base.txt"), "--requirement ../common.txt  # shared\n-r base.txt\nidna\n")
            .unwrap();
        let mut got = requirements_includes(d.path());
        got.sort();
        let want: Vec<PathBuf> = ["common.txt", "constraints.txt", "reqs/base.txt"].iter().map(PathBuf::from).collect();
        assert_eq!(got, want);
        assert!(requirements_includes(&d.path().join("none")).is_empty());
    }

    #[test]
    fn a_stale_uv_lock_is_told() {
        let lock = "version = 1\n\n[[package]]\nname = \"p\"\nversion = \"0.1\"\nsource = { virtual = \".\" }\n\n\
                    [package.metadata]\nrequires-dist = [{ name = \"six\", specifier = \"<1.17\" }, { name = \"Typing_Extensions\" }]\n\n\
                    [package.metadata.requires-dev]\ndev = [{ name = \"iniconfig\" }]\n";
        let project = |deps: &str, dev: &str| {
            let d = tempfile::tempdir().unwrap();
            std::fs::write(d.path().join("uv.lock"), lock).unwrap();
            std::fs::write(
                d.path().join("pyproject.toml"),
                format!("[project]\nname = \"p\"\nversion = \"0.1\"\ndependencies = [{deps}]\n[dependency-groups]\ndev = [{dev}]\n"),
            )
            .unwrap();
            uv_lock_stale(d.path())
        };
        // Matching (a loosened specifier is not told: names only), then each kind of change.
        assert_eq!(project("\"six\", \"typing-extensions>=4\"", "\"iniconfig\", {include-group = \"x\"}"), None);
        assert_eq!(
            project("\"six\", \"typing_extensions\", \"idna\"", "\"iniconfig\""),
            Some("pyproject.toml declares `idna`, which it does not lock".into())
        );
        assert_eq!(
            project("\"typing_extensions\"", "\"iniconfig\", \"tomli\""),
            Some(
                "it locks `six`, which pyproject.toml no longer declares; the group dev declares `tomli`, which it does not lock"
                    .into()
            )
        );
        let d = tempfile::tempdir().unwrap();
        assert_eq!(uv_lock_stale(d.path()), None);
    }

    #[test]
    fn toml_errors_say_where() {
        let text = "[project]\nname = \"x\"\ndependencies = [\"six\"\n";
        let e = text.parse::<toml_edit::DocumentMut>().unwrap_err();
        let at = toml_error(text, &e);
        assert!(at.starts_with("line 3, column 22: unclosed array"), "{at}");
    }

    #[test]
    fn words_and_mentions() {
        assert_eq!(shell_word("-r"), "-r");
        assert_eq!(shell_word("six>=1"), "'six>=1'");
        assert!(mentions("error: because nosuch-pkg was not found", "nosuch-pkg"));
        assert!(!mentions("error: sixty", "six"));
        assert!(mentions("no matching distribution found for six_x", "six-x"));
    }

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn nothing_declared() {
        let d = project(&[]);
        let decl = read_declared(d.path()).unwrap();
        assert!(decl.is_empty());
        assert!(decl.files.is_empty());
    }

    #[test]
    fn requirements_and_pyproject() {
        let d = project(&[
            ("requirements.txt", "six==1.16.0  # pinned\n-i https://x/simple\n"),
            (
                "pyproject.toml",
                "[project]\nname = \"p\"\ndependencies = [\"iniconfig>=1\"]\n\n[dependency-groups]\n\
                 dev = [\"tomli\", {include-group = \"Test_Tools\"}]\ntest-tools = [\"packaging\"]\nother = [\"x\"]\n",
            ),
        ]);
        let decl = read_declared(d.path()).unwrap();
        assert!(decl.requirements_txt && !decl.uv_lock && !decl.editable);
        assert_eq!(decl.install_args(), ["-r", "requirements.txt", "iniconfig>=1", "tomli", "packaging"]);
        assert_eq!(decl.groups, ["dev"]);
        assert_eq!(decl.files.keys().collect::<Vec<_>>(), ["pyproject.toml", "requirements.txt"]);
        assert_eq!(decl.files["requirements.txt"].len(), 64);
        assert_eq!(decl.origin_of(d.path(), "Six"), Some("requirements.txt".into()));
        assert_eq!(decl.origin_of(d.path(), "packaging").unwrap(), "pyproject.toml [dependency-groups] dev");
        assert_eq!(decl.origin_of(d.path(), "iniconfig").unwrap(), "pyproject.toml [project] dependencies");
        assert_eq!(decl.origin_of(d.path(), "nope"), None);
    }

    #[test]
    fn buildable_and_locked() {
        let d = project(&[
            ("pyproject.toml", "[build-system]\nrequires = [\"setuptools\"]\n"),
            ("uv.lock", "version = 1\n"),
        ]);
        let decl = read_declared(d.path()).unwrap();
        assert!(decl.editable && decl.uv_lock);
        assert_eq!(decl.install_args(), ["-e", "."]);
        let d = project(&[("setup.py", "")]);
        assert!(read_declared(d.path()).unwrap().editable);
    }

    #[test]
    fn bad_declarations() {
        let d = project(&[("pyproject.toml", "[dependency-groups]\ndev = [{include-group = \"dev\"}]\n")]);
        assert!(read_declared(d.path()).unwrap_err().to_string().contains("includes itself"));
        let d = project(&[("pyproject.toml", "[project]\ndependencies = \"six\"\n")]);
        assert!(read_declared(d.path()).unwrap_err().to_string().contains("list of strings"));
        let d = project(&[("pyproject.toml", "[dependency-groups]\ndev = [{include-group = \"gone\"}]\n")]);
        assert!(read_declared(d.path()).unwrap_err().to_string().contains("not defined"));
        // Groups on request.
        let d = project(&[(
            "pyproject.toml",
            "[project]\nname = \"p\"\n\n[dependency-groups]\ndev = [\"a\"]\ndocs = [\"b\"]\n",
        )]);
        let decl = read_declared_groups(d.path(), Some(&["docs".into()])).unwrap();
        assert_eq!(decl.groups, ["docs"]);
        assert_eq!(decl.requirements.iter().map(|r| r.spec.as_str()).collect::<Vec<_>>(), ["b"]);
        let e = read_declared_groups(d.path(), Some(&["nope".into()])).unwrap_err();
        assert!(
            e.to_string().contains("`nope` (--groups, recorded as `groups` in .pyve/config) is not declared"),
            "{e}"
        );
        assert!(e.next_step("pyve sync").contains("(declared: dev, docs;"), "{}", e.next_step("pyve sync"));
        assert!(read_declared_groups(d.path(), Some(&[])).unwrap().groups.is_empty());
    }

    #[test]
    fn names() {
        assert_eq!(requirement_name("Foo_Bar.baz>=1 ; python_version<'3.12'"), "foo-bar-baz");
        assert_eq!(requirement_name("six[extra]==1"), "six");
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}
