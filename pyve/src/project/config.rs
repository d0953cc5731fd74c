//! `.pyve/config`: the project's recorded choices, in YAML, in the original tool's format:
//!
//! ```yaml
//! pyve_version: "0.1.0"
//! backend: venv
//! venv:
//!   directory: .venv
//! python:
//!   version: 3.12.1
//! ```
//!
//! Other top-level keys are kept as they are: `plugins` pins plugin versions
//! (`plugins: {micromamba: "^0.3"}`), and anything a user adds survives updates. A file that is
//! not valid YAML, or whose known keys have the wrong shape, is an error naming the line; pyve
//! then changes nothing.

use std::path::{Path, PathBuf};

use pyve_protocol::types::Settings;
use serde_json::Value as Json;
use serde_yaml_ng::{Mapping, Value as Yaml};

use crate::error::{Error, Result};

/// The file, relative to the project root.
pub const CONFIG_FILE: &str = ".pyve/config";

/// A parsed `.pyve/config`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from.
    pub path: PathBuf,
    /// The text as read (updates edit it line by line, keeping the rest).
    pub text: String,
    /// `pyve_version`, when recorded.
    pub pyve_version: Option<String>,
    /// `backend`, when recorded.
    pub backend: Option<String>,
    /// `plugins`: version pins by plugin name.
    pub plugins: crate::plugins::pins::Pins,
    /// Every top-level key, as parsed.
    pub root: Mapping,
}

/// An error about a place in the file.
fn at(path: &Path, line: Option<usize>, what: impl std::fmt::Display) -> Error {
    let place = match line {
        Some(l) => format!("{}, line {l}", path.display()),
        None => path.display().to_string(),
    };
    Error::new(format!("{place}: {what}"))
        .hint(format!("fix the file (or move it aside to start over); pyve changed nothing: {}", path.display()))
}

/// The largest config pyve parses. A real one is a few hundred bytes; the bound keeps a hostile
/// file (from a clone) from costing minutes before it is refused.
pub const MAX_SIZE: usize = 64 * 1024;
/// The deepest nesting of `[` / `{` (flow collections) or of indented blocks accepted.
pub const MAX_DEPTH: usize = 32;
/// The most aliases (`*name`) accepted: each can repeat a whole structure ("billion laughs").
pub const MAX_ALIASES: usize = 16;

/// Refuse, before any parsing, a config whose size, nesting or aliases are beyond what a
/// config needs: the YAML parser would otherwise take tens of seconds to minutes on one.
fn check_bounds(path: &Path, text: &str) -> Result<()> {
    if text.len() > MAX_SIZE {
        return Err(at(path, None, format!("is larger than {} KiB, the most a pyve config may be", MAX_SIZE / 1024)));
    }
    let mut aliases = 0;
    for (n, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let mut depth = indent / 2;
        let (mut quote, mut prev) = (None::<char>, ' ');
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '#') if prev == ' ' || prev == '\t' => break,
                (None, '"' | '\'') => quote = Some(c),
                (None, '[' | '{') => depth += 1,
                (None, ']' | '}') => depth = depth.saturating_sub(1),
                (None, '*') if matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':' | '-') => aliases += 1,
                _ => {}
            }
            if depth > MAX_DEPTH {
                return Err(at(path, Some(n + 1), format!("nests deeper than {MAX_DEPTH} levels")));
            }
            prev = c;
        }
        if aliases > MAX_ALIASES {
            return Err(at(path, Some(n + 1), format!("uses more than {MAX_ALIASES} YAML aliases (`*name`)")));
        }
    }
    Ok(())
}

/// The 1-based line of the first line starting with `key:` (for messages about known keys).
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines().position(|l| l.starts_with(&format!("{key}:"))).map(|i| i + 1)
}

fn scalar_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Read at most [`MAX_SIZE`] bytes of a regular file (a huge file, a FIFO or a device is refused
/// without being read).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    pyve_fs::read_bounded(path, MAX_SIZE as u64)
}

impl Config {
    /// Read and check the config of the project at `root`; `None` when there is none.
    pub fn load(root: &Path) -> Result<Option<Config>> {
        let path = root.join(CONFIG_FILE);
        let text = match read_bounded(&path) {
            Err(e) if pyve_fs::too_large(&e) => {
                return Err(at(
                    &path,
                    None,
                    format!("is larger than {} KiB, the most a pyve config may be", MAX_SIZE / 1024),
                ));
            }
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| at(&path, None, "is not UTF-8 text"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::new(format!("cannot read {}", path.display()))
                    .because(e)
                    .hint(format!("pyve keeps its config in that file: make it a readable file (or move it aside to start over); pyve changed nothing: {}", path.display())));
            }
        };
        Self::parse(path, text).map(Some)
    }

    /// Parse the text of a config file.
    pub fn parse(path: PathBuf, text: String) -> Result<Config> {
        check_bounds(&path, &text)?;
        let value: Yaml = if text.trim().is_empty() {
            Yaml::Mapping(Mapping::new())
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| {
                let line = e.location().map(|l| l.line());
                let msg = e.to_string();
                // The library appends " at line X column Y"; we say the line ourselves.
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
                at(&path, line, format!("not valid YAML: {msg}"))
            })?
        };
        let root = match value {
            Yaml::Mapping(m) => m,
            Yaml::Null => Mapping::new(),
            _ => return Err(at(&path, Some(1), "expected `key: value` lines (a YAML mapping)")),
        };
        let get = |k: &str| root.get(Yaml::String(k.to_owned()));
        let pyve_version = match get("pyve_version") {
            None | Some(Yaml::Null) => None,
            Some(v) => Some(scalar_text(v).ok_or_else(|| {
                at(&path, line_of(&text, "pyve_version"), "`pyve_version` must be a version such as \"0.1.0\"")
            })?),
        };
        let backend = match get("backend") {
            None | Some(Yaml::Null) => None,
            Some(Yaml::String(b)) if pyve_protocol::is_valid_plugin_name(b) => Some(b.clone()),
            Some(Yaml::String(b)) if b.contains('@') => {
                let (name, req) = b.split_once('@').unwrap_or((b, ""));
                return Err(at(
                    &path,
                    line_of(&text, "backend"),
                    format!(
                        "`backend` is a backend name, not `{b}`: pin the plugin's version under `plugins:` instead (`backend: {name}` and `plugins: {{{name}: \"{req}\"}}`)"
                    ),
                ));
            }
            Some(other) => {
                return Err(at(
                    &path,
                    line_of(&text, "backend"),
                    format!(
                        "`backend` must be a backend name such as venv or micromamba, not {}",
                        scalar_text(other).unwrap_or_else(|| "a structure".into())
                    ),
                ));
            }
        };
        let plugins = crate::plugins::pins::Pins::parse(&path, &text, get("plugins"))?;
        for key in backend.iter().map(String::as_str).chain(["python"]) {
            if let Some(v) = get(key)
                && !matches!(v, Yaml::Mapping(_) | Yaml::Null)
            {
                return Err(at(
                    &path,
                    line_of(&text, key),
                    format!("`{key}` must hold settings as indented `key: value` lines"),
                ));
            }
        }
        Ok(Config { path, text, pyve_version, backend, plugins, root })
    }

    /// `commands:`: which plugin serves a command several plugins provide (`commands: {test:
    /// testenv}`). Entries that are not `name: plugin` are ignored.
    pub fn command_choices(&self) -> std::collections::BTreeMap<String, String> {
        let mut out = std::collections::BTreeMap::new();
        if let Some(Yaml::Mapping(m)) = self.root.get(Yaml::String("commands".to_owned())) {
            for (k, v) in m {
                if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                    let v = v.strip_prefix("pyve-").unwrap_or(v);
                    if pyve_protocol::is_valid_plugin_name(v) {
                        out.insert(k.to_owned(), v.to_owned());
                    }
                }
            }
        }
        out
    }

    /// The settings recorded for `backend`: its section, plus `python.version` as
    /// `python_version` (the original's layout).
    pub fn backend_settings(&self, backend: &str) -> Settings {
        let mut settings = Settings::new();
        if let Some(Yaml::Mapping(section)) = self.root.get(Yaml::String(backend.to_owned())) {
            for (k, v) in section {
                if let (Some(k), Ok(v)) = (k.as_str(), serde_json::to_value(v)) {
                    settings.insert(k.to_owned(), v);
                }
            }
        }
        if let Some(Yaml::Mapping(python)) = self.root.get(Yaml::String("python".into()))
            && let Some(v) = python.get(Yaml::String("version".into())).and_then(scalar_text)
        {
            settings.insert("python_version".into(), Json::String(v));
        }
        settings
    }

    /// The config text with `pyve_version` set to `version`, everything else kept as written.
    pub fn with_version(&self, version: &str) -> String {
        let line = format!("pyve_version: \"{version}\"");
        let mut out = Vec::new();
        let mut replaced = false;
        for l in self.text.lines() {
            if l.starts_with("pyve_version:") {
                if !replaced {
                    out.push(line.clone());
                    replaced = true;
                }
            } else {
                out.push(l.to_owned());
            }
        }
        if !replaced {
            out.insert(0, line);
        }
        let mut text = out.join("\n");
        text.push('\n');
        text
    }
}

/// A YAML scalar as written in the config (quoted where YAML needs it).
fn yaml_scalar(v: &Json) -> Option<String> {
    let y: Yaml = match v {
        Json::String(s) => Yaml::String(s.clone()),
        Json::Bool(b) => Yaml::Bool(*b),
        Json::Number(n) => serde_yaml_ng::to_value(n).ok()?,
        _ => return None,
    };
    let text = serde_yaml_ng::to_string(&y).ok()?;
    Some(text.trim_end().to_owned())
}

/// The text of a new config: `pyve_version`, `backend`, the backend's scalar settings (a
/// `python_version` setting goes to `python.version`, as the original wrote it), then `keep`:
/// other top-level sections of a previous config to carry over (such as `plugins`).
pub fn render(backend: &str, settings: &Settings, keep: &Mapping) -> String {
    let mut text = format!("pyve_version: \"{}\"\nbackend: {backend}\n", crate::env::VERSION);
    let mut section = String::new();
    let mut python_version = None;
    for (k, v) in settings {
        if k == "python_version" {
            python_version = yaml_scalar(v);
            continue;
        }
        if let Some(v) = yaml_scalar(v) {
            section.push_str(&format!("  {k}: {v}\n"));
        }
    }
    if !section.is_empty() {
        text.push_str(&format!("{backend}:\n{section}"));
    }
    if let Some(v) = python_version {
        text.push_str(&format!("python:\n  version: {v}\n"));
    }
    for (k, v) in keep {
        let Some(key) = k.as_str() else { continue };
        if ["pyve_version", "backend", "python", backend].contains(&key) {
            continue;
        }
        let mut one = Mapping::new();
        one.insert(k.clone(), v.clone());
        if let Ok(s) = serde_yaml_ng::to_string(&Yaml::Mapping(one)) {
            text.push_str(&s);
        }
    }
    text
}

impl Config {
    /// The config text with `python.version` set to `version`, everything else kept.
    pub fn with_python_version(&self, version: &str) -> String {
        let mut lines: Vec<String> = self.text.lines().map(str::to_owned).collect();
        let section = lines.iter().position(|l| l.trim_end() == "python:");
        match section {
            Some(i) => {
                let end = lines[i + 1..]
                    .iter()
                    .position(|l| !l.starts_with(' ') && !l.trim().is_empty())
                    .map_or(lines.len(), |p| i + 1 + p);
                match lines[i + 1..end].iter().position(|l| l.trim_start().starts_with("version:")) {
                    Some(j) => lines[i + 1 + j] = format!("  version: {version}"),
                    None => lines.insert(i + 1, format!("  version: {version}")),
                }
            }
            None => {
                lines.push("python:".into());
                lines.push(format!("  version: {version}"));
            }
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(PathBuf::from("/p/.pyve/config"), text.to_owned())
    }

    #[test]
    fn reads_the_original_format() {
        let c =
            parse("pyve_version: \"0.9.2\"\nbackend: venv\nvenv:\n  directory: .venv\npython:\n  version: 3.12.1\n")
                .unwrap();
        assert_eq!(c.pyve_version.as_deref(), Some("0.9.2"));
        assert_eq!(c.backend.as_deref(), Some("venv"));
        let s = c.backend_settings("venv");
        assert_eq!(s["directory"], ".venv");
        assert_eq!(s["python_version"], "3.12.1");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("pyve_version: \"0.9.2\"\nbackend: venv\nvenv:\n  directory: [.venv\n").unwrap_err();
        assert!(
            e.to_string().starts_with("/p/.pyve/config, line 5: not valid YAML") || e.to_string().contains("line 4"),
            "{e}"
        );
        let e = parse("backend: [a, b]\n").unwrap_err();
        assert!(e.to_string().contains("line 1: `backend` must be a backend name"), "{e}");
        let e = parse("backend: venv\nplugins:\n  venv: \"not a version\"\n").unwrap_err();
        assert!(e.to_string().contains("line 3: `plugins.venv`"), "{e}");
        let e = parse("backend: uvenv@9\n").unwrap_err();
        assert!(e.to_string().contains("line 1: `backend` is a backend name, not `uvenv@9`"), "{e}");
        assert!(e.to_string().contains("plugins: {uvenv: \"9\"}"), "{e}");
        let e = parse("- a\n- b\n").unwrap_err();
        assert!(e.to_string().contains("line 1: expected `key: value` lines"), "{e}");
        assert!(e.hint_text().unwrap().contains("pyve changed nothing"));
    }

    #[test]
    fn update_keeps_everything_else() {
        let c = parse("# mine\npyve_version: \"0.9.2\"\nbackend: venv\ncustom: 1\n").unwrap();
        assert_eq!(c.with_version("0.1.0"), "# mine\npyve_version: \"0.1.0\"\nbackend: venv\ncustom: 1\n");
        let c = parse("backend: venv\n").unwrap();
        assert_eq!(c.with_version("0.1.0"), "pyve_version: \"0.1.0\"\nbackend: venv\n");
    }

    #[test]
    fn python_version_is_set_in_place() {
        let c = parse("pyve_version: \"0.1.0\"\nbackend: venv\nvenv:\n  directory: .venv\npython:\n  version: 3.11.7\nplugins: {}\n").unwrap();
        assert_eq!(
            c.with_python_version("3.12.1"),
            "pyve_version: \"0.1.0\"\nbackend: venv\nvenv:\n  directory: .venv\npython:\n  version: 3.12.1\nplugins: {}\n"
        );
        let c = parse("backend: venv\n").unwrap();
        assert_eq!(c.with_python_version("3.12.1"), "backend: venv\npython:\n  version: 3.12.1\n");
    }

    #[test]
    fn renders_like_the_original() {
        let settings = Settings::from([
            ("directory".to_owned(), Json::String(".venv".into())),
            ("python_version".to_owned(), Json::String("3.12.1".into())),
            ("pinned".to_owned(), serde_json::json!({"file": ".python-version"})),
        ]);
        let mut keep = Mapping::new();
        let mut plugins = Mapping::new();
        plugins.insert("venv".into(), "^0.1".into());
        keep.insert("plugins".into(), Yaml::Mapping(plugins));
        let text = render("venv", &settings, &keep);
        assert_eq!(
            text,
            format!(
                "pyve_version: \"{}\"\nbackend: venv\nvenv:\n  directory: .venv\npython:\n  version: 3.12.1\nplugins:\n  venv: ^0.1\n",
                crate::env::VERSION
            )
        );
        let back = parse(&text).unwrap();
        assert_eq!(back.plugins.get("venv").unwrap().req.to_string(), "^0.1");
    }

    #[test]
    fn hostile_sizes_nesting_and_aliases_are_refused_before_parsing() {
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let start = std::time::Instant::now();
        let e = parse(&deep).unwrap_err();
        assert!(e.to_string().contains("larger than 64 KiB"), "{e}");
        let e = parse(&format!("a: {}{}\n", "[".repeat(1000), "]".repeat(1000))).unwrap_err();
        assert!(e.to_string().contains("line 1: nests deeper than 32 levels"), "{e}");
        let mut block = String::new();
        for i in 0..40 {
            block.push_str(&format!("{}k{i}:\n", "  ".repeat(i)));
        }
        assert!(parse(&block).unwrap_err().to_string().contains("nests deeper"));
        let mut laughs = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let prev = if i == 0 { "a".to_owned() } else { format!("b{}", i - 1) };
            laughs.push_str(&format!("b{i}: &b{i} [{}]\n", vec![format!("*{prev}"); 10].join(", ")));
        }
        let e = parse(&laughs).unwrap_err();
        assert!(e.to_string().contains("more than 16 YAML aliases"), "{e}");
        assert!(e.hint_text().unwrap().contains("pyve changed nothing"));
        // What is inside quotes and comments is not structure.
        let c = parse(
            "backend: venv # [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nnote: \"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{ *x\"\n",
        );
        assert!(c.is_ok(), "{c:?}");
        // Refusing is cheap (the parser alone took minutes on the first one).
        assert!(start.elapsed() < std::time::Duration::from_secs(30));
    }
}
