//! Version pins: the `plugins:` section of `.pyve/config`.
//!
//! ```yaml
//! plugins:
//!   micromamba: "^0.3"                  # cargo's requirement syntax
//!   uvenv:                              # with where a team member installs it from
//!     version: "^0.2"
//!     source: ../tools/pyve-uvenv       # a path, a crate directory, a git URL, or NAME@REQ
//!     registry: my-registry             # optional: cargo's --registry for a registry source
//! ```
//!
//! A pin binds every kind of plugin (backend, command, hook) on every surface: the resolver
//! takes the first copy, in search order, whose version matches, and treats the others as if
//! they were not there. Unknown keys and shapes are warnings that name the line; a requirement
//! that does not parse is an error (a pin must never be dropped silently).

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml_ng::Value as Yaml;

use crate::error::{Error, Result};

/// One pin.
#[derive(Clone, Debug, PartialEq)]
pub struct Pin {
    /// The plugin's name.
    pub name: String,
    /// The versions it accepts.
    pub req: semver::VersionReq,
    /// Where `pyve plugin install` (without an argument) installs it from.
    pub source: Option<String>,
    /// cargo's `--registry` for a registry source.
    pub registry: Option<String>,
    /// The 1-based line of the pin in the config.
    pub line: Option<usize>,
}

impl Pin {
    /// `NAME "REQ"`, as messages name a pin.
    pub fn describe(&self) -> String {
        format!("{} \"{}\"", self.name, self.req)
    }

    /// Where the pin is written: `.pyve/config, line N`.
    pub fn place(&self) -> String {
        match self.line {
            Some(l) => format!(".pyve/config, line {l}"),
            None => ".pyve/config".to_owned(),
        }
    }

    /// The command that installs a copy matching this pin.
    pub fn install_command(&self) -> String {
        if self.source.is_some() {
            return "pyve plugin install".to_owned();
        }
        let spec = format!("{}@{}", self.name, self.req);
        if spec.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@^~=".contains(c)) {
            format!("pyve plugin install {spec}")
        } else {
            format!("pyve plugin install '{spec}'")
        }
    }
}

/// The pins of a project, and what was wrong with the section.
#[derive(Clone, Debug, Default)]
pub struct Pins {
    /// Pins by plugin name.
    pub pins: BTreeMap<String, Pin>,
    /// Unknown keys and shapes, each `line N: what`.
    pub warnings: Vec<String>,
}

/// The keys a pin written as a mapping may have.
const PIN_KEYS: &[&str] = &["version", "source", "registry"];

fn scalar_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The 1-based line of `name:` inside the `plugins:` section (the section's own line for a
/// flow mapping or when it cannot be told).
pub fn line_of_pin(text: &str, name: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("plugins:"))?;
    for (i, l) in lines.iter().enumerate().skip(start + 1) {
        if !l.starts_with([' ', '\t']) && !l.trim().is_empty() && !l.trim_start().starts_with('#') {
            break;
        }
        let t = l.trim_start();
        for quote in ["", "\"", "'"] {
            if t.starts_with(&format!("{quote}{name}{quote}:")) {
                return Some(i + 1);
            }
        }
    }
    Some(start + 1)
}

/// The 1-based line of `key:` within the pin of `name` (the pin's line when not found).
fn line_of_key(text: &str, name: &str, key: &str) -> Option<usize> {
    let pin = line_of_pin(text, name)?;
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let base = lines.get(pin - 1).map(|l| indent(l)).unwrap_or(0);
    for (i, l) in lines.iter().enumerate().skip(pin) {
        if l.trim().is_empty() {
            continue;
        }
        if indent(l) <= base {
            break;
        }
        if l.trim_start().starts_with(&format!("{key}:")) {
            return Some(i + 1);
        }
    }
    Some(pin)
}

fn at(line: Option<usize>, what: String) -> String {
    match line {
        Some(l) => format!("line {l}: {what}"),
        None => what,
    }
}

impl Pins {
    /// Read the `plugins` value of a config. `path` and `text` are for messages.
    pub fn parse(path: &Path, text: &str, value: Option<&Yaml>) -> Result<Pins> {
        let mut pins = Pins::default();
        let section_line = text.lines().position(|l| l.starts_with("plugins:")).map(|i| i + 1);
        let m = match value {
            None | Some(Yaml::Null) => return Ok(pins),
            Some(Yaml::Mapping(m)) => m,
            Some(_) => {
                pins.warnings.push(at(
                    section_line,
                    "`plugins` must map plugin names to versions, such as `venv: \"^0.1\"`; ignored".to_owned(),
                ));
                return Ok(pins);
            }
        };
        for (k, v) in m {
            let Some(name) = k.as_str() else {
                pins.warnings.push(at(section_line, "a key of `plugins` is not a plugin name; ignored".to_owned()));
                continue;
            };
            let line = line_of_pin(text, name);
            if !pyve_protocol::is_valid_plugin_name(name) {
                let fixed = name.strip_prefix("pyve-").unwrap_or(name).to_ascii_lowercase().replace('_', "-");
                let hint = if fixed != name && pyve_protocol::is_valid_plugin_name(&fixed) {
                    format!(" (write `{fixed}`)")
                } else {
                    String::new()
                };
                pins.warnings.push(at(
                    line,
                    format!(
                        "`plugins.{name}` is not a plugin name{hint}: names are lowercase letters, digits and dashes; ignored"
                    ),
                ));
                continue;
            }
            let (req_text, source, registry, req_line) = match v {
                Yaml::Mapping(fields) => {
                    let mut version = None;
                    let mut source = None;
                    let mut registry = None;
                    for (fk, fv) in fields {
                        let key = fk.as_str().unwrap_or("?");
                        let kl = line_of_key(text, name, key);
                        match (key, scalar_text(fv)) {
                            ("version", Some(s)) => version = Some(s),
                            ("source", Some(s)) => source = Some(s),
                            ("registry", Some(s)) => registry = Some(s),
                            (k, _) if PIN_KEYS.contains(&k) => {
                                pins.warnings.push(at(kl, format!("`plugins.{name}.{k}` must be a string; ignored")))
                            }
                            (k, _) => pins.warnings.push(at(
                                kl,
                                format!("unknown key `plugins.{name}.{k}` ignored (a pin has {})", PIN_KEYS.join(", ")),
                            )),
                        }
                    }
                    let req_line = line_of_key(text, name, "version");
                    match version {
                        Some(v) => (v, source, registry, req_line),
                        None if source.is_some() => ("*".to_owned(), source, registry, req_line),
                        None => {
                            pins.warnings.push(at(
                                line,
                                format!(
                                    "`plugins.{name}` has no `version` (nor `source`): write `{name}: \"^0.1\"` or `{name}: {{version: \"^0.1\"}}`; ignored"
                                ),
                            ));
                            continue;
                        }
                    }
                }
                other => match scalar_text(other) {
                    Some(s) => (s, None, None, line),
                    None => {
                        pins.warnings.push(at(
                            line,
                            format!(
                                "`plugins.{name}` must be a version requirement such as \"^0.1\", or `{{version: ..., source: ...}}`; ignored"
                            ),
                        ));
                        continue;
                    }
                },
            };
            let req = semver::VersionReq::parse(req_text.trim()).map_err(|e| {
                let place = match req_line {
                    Some(l) => format!("{}, line {l}", path.display()),
                    None => path.display().to_string(),
                };
                Error::new(format!("{place}: `plugins.{name}`: `{req_text}` is not a version requirement: {e}")).hint(
                    "pins use cargo's requirement syntax, such as \"^0.2\", \"~1.4\", \">=1.2, <2\" or \"=0.3.1\"; pyve changed nothing",
                )
            })?;
            pins.pins.insert(name.to_owned(), Pin { name: name.to_owned(), req, source, registry, line: req_line });
        }
        Ok(pins)
    }

    /// The pin of `name`.
    pub fn get(&self, name: &str) -> Option<&Pin> {
        self.pins.get(name)
    }

    /// Whether there is no pin.
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// The pins of the project the current directory belongs to (none outside a project, or
    /// when its config cannot be read: the command reading the config reports that).
    pub fn for_cwd(env: &crate::env::HostEnv) -> Pins {
        let Ok(cwd) = std::env::current_dir() else { return Pins::default() };
        Self::for_root(env.project_root(&cwd).as_deref())
    }

    /// The pins of the project at `root`.
    pub fn for_root(root: Option<&Path>) -> Pins {
        root.and_then(|r| crate::project::Config::load(r).ok().flatten()).map(|c| c.plugins).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pins> {
        let v: Yaml = serde_yaml_ng::from_str(text).unwrap();
        Pins::parse(Path::new("/p/.pyve/config"), text, v.get("plugins"))
    }

    #[test]
    fn both_shapes_are_read_with_their_lines() {
        let p = parse(
            "backend: venv\nplugins:\n  venv: \"^0.1\"\n  uvenv:\n    version: \"~0.2\"\n    source: ../uvenv\n  hello: 1\n",
        )
        .unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(p.get("venv").unwrap().req.to_string(), "^0.1");
        assert_eq!(p.get("venv").unwrap().line, Some(3));
        let u = p.get("uvenv").unwrap();
        assert_eq!((u.req.to_string().as_str(), u.source.as_deref(), u.line), ("~0.2", Some("../uvenv"), Some(5)));
        assert_eq!(p.get("hello").unwrap().req.to_string(), "^1");
        let flow = parse("plugins: {venv: \"^0.1\", x: {source: /a}}\n").unwrap();
        assert_eq!(flow.get("venv").unwrap().line, Some(1));
        assert_eq!(flow.get("x").unwrap().req.to_string(), "*");
    }

    #[test]
    fn unknown_keys_and_shapes_are_warnings_with_the_line() {
        let p = parse(
            "plugins:\n  uvenv:\n    version: \"9\"\n    sorce: x\n  Bad_Name: \"1\"\n  listy: [1]\n  empty: {}\n",
        )
        .unwrap();
        assert_eq!(p.get("uvenv").unwrap().req.to_string(), "^9");
        let w = p.warnings.join("\n");
        assert!(w.contains("line 4: unknown key `plugins.uvenv.sorce` ignored"), "{w}");
        assert!(w.contains("line 5: `plugins.Bad_Name` is not a plugin name (write `bad-name`)"), "{w}");
        assert!(w.contains("line 6: `plugins.listy` must be a version requirement"), "{w}");
        assert!(w.contains("line 7: `plugins.empty` has no `version`"), "{w}");
        let p = parse("plugins: venv\n").unwrap();
        assert!(p.warnings[0].starts_with("line 1: `plugins` must map plugin names"), "{:?}", p.warnings);
    }

    #[test]
    fn a_requirement_that_does_not_parse_is_an_error_naming_the_line() {
        let e = parse("backend: venv\nplugins:\n  venv:\n    version: \"not a version\"\n").unwrap_err();
        assert!(e.to_string().starts_with("/p/.pyve/config, line 4: `plugins.venv`"), "{e}");
        assert!(e.hint_text().unwrap().contains("cargo's requirement syntax"));
    }

    #[test]
    fn the_install_command_quotes_what_a_shell_would_split() {
        let pin = |req: &str, source: Option<&str>| Pin {
            name: "uvenv".into(),
            req: semver::VersionReq::parse(req).unwrap(),
            source: source.map(str::to_owned),
            registry: None,
            line: None,
        };
        assert_eq!(pin("^0.2", None).install_command(), "pyve plugin install uvenv@^0.2");
        assert_eq!(pin(">=1, <2", None).install_command(), "pyve plugin install 'uvenv@>=1, <2'");
        assert_eq!(pin("^0.2", Some("../x")).install_command(), "pyve plugin install");
    }
}
