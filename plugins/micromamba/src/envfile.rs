//! `environment.yml`: read with a real YAML parser, checked as the reference did (reference 3.5),
//! with errors that name the file and the line.

use std::path::{Path, PathBuf};

use rattler_conda_types::{EnvironmentYaml, MatchSpec, MatchSpecOrSubSection, NamedChannelOrUrl};

/// The environment file's name.
pub const ENVIRONMENT_YML: &str = "environment.yml";
/// The lock file's name.
pub const CONDA_LOCK_YML: &str = "conda-lock.yml";

/// A parsed environment.yml.
#[derive(Debug, Clone)]
pub struct EnvFile {
    /// Where it was read.
    pub path: PathBuf,
    /// Its `name:`, if any.
    pub name: Option<String>,
    /// Its channels, in order (empty when `channels:` is missing).
    pub channels: Vec<NamedChannelOrUrl>,
    /// Its conda dependencies.
    pub specs: Vec<MatchSpec>,
    /// The requirements of its `pip:` section.
    pub pip: Vec<String>,
    /// What the reference warns about (missing `name:` or `channels:`), one or two lines each.
    pub warnings: Vec<Vec<String>>,
    /// Its `variables:`, set when the environment is activated (as conda does).
    pub variables: std::collections::BTreeMap<String, String>,
}

/// Why environment.yml cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    /// It does not exist or cannot be read.
    #[error("Environment file '{}' is not readable: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not YAML, or not the shape of an environment file.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// No `dependencies:`.
    #[error("environment.yml missing required 'dependencies:' field ({})", path.display())]
    NoDependencies {
        /// The file.
        path: PathBuf,
    },
}

fn parse_error(path: &Path, e: &serde_yaml::Error) -> EnvFileError {
    let line = e.location().map(|l| l.line());
    let mut message = e.to_string();
    // serde_yaml appends " at line L column C"; the line is in the prefix already.
    if let Some(i) = message.find(" at line ") {
        message.truncate(i);
    }
    EnvFileError::Parse { path: path.to_path_buf(), line, message }
}

/// The most pyve reads of an `environment.yml` (a FIFO, a device or a larger file is refused
/// without being read).
pub const MAX_SIZE: u64 = pyve_fs::READ_LIMIT;

impl EnvFile {
    /// Read and check `path` (a regular file of at most [`MAX_SIZE`] bytes).
    pub fn read(path: &Path) -> Result<EnvFile, EnvFileError> {
        let text = pyve_fs::read_bounded_text(path, MAX_SIZE)
            .map_err(|source| EnvFileError::Unreadable { path: path.to_path_buf(), source })?;
        Self::parse(path, &text)
    }

    /// Check `text`, read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<EnvFile, EnvFileError> {
        let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| parse_error(path, &e))?;
        let Some(map) = value.as_mapping() else {
            return Err(EnvFileError::Parse {
                path: path.to_path_buf(),
                line: Some(1),
                message: "expected a mapping with `name:`, `channels:` and `dependencies:`".into(),
            });
        };
        let has = |k: &str| map.get(k).is_some_and(|v| !v.is_null());
        if !has("dependencies") {
            return Err(EnvFileError::NoDependencies { path: path.to_path_buf() });
        }
        let mut warnings = Vec::new();
        if !has("name") {
            warnings.push(vec![
                "environment.yml missing 'name:' field".to_string(),
                "Environment name will be derived from project directory".to_string(),
            ]);
        }
        if !has("channels") {
            warnings
                .push(vec!["environment.yml missing 'channels:' field".to_string(), "Using default channels".into()]);
        }
        let mut variables = std::collections::BTreeMap::new();
        match map.get("variables") {
            None | Some(serde_yaml::Value::Null) => {}
            Some(serde_yaml::Value::Mapping(vars)) => {
                for (k, v) in vars {
                    let name = k.as_str().unwrap_or_default();
                    let valid = name.chars().next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                        && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
                    let value = match v {
                        serde_yaml::Value::String(s) => Some(s.clone()),
                        serde_yaml::Value::Number(n) => Some(n.to_string()),
                        serde_yaml::Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    };
                    match (valid, value) {
                        (true, Some(value)) => {
                            variables.insert(name.to_owned(), value);
                        }
                        _ => {
                            return Err(EnvFileError::Parse {
                                path: path.to_path_buf(),
                                line: line_of(text, &format!("{name}:")),
                                message: format!(
                                    "`variables:` maps variable names to text; `{name}` is not a variable name or its value is not text"
                                ),
                            });
                        }
                    }
                }
            }
            Some(_) => {
                return Err(EnvFileError::Parse {
                    path: path.to_path_buf(),
                    line: line_of(text, "variables:"),
                    message: "`variables:` maps variable names to values, such as `GDAL_DATA: /path`".into(),
                });
            }
        }
        let env = EnvironmentYaml::from_yaml_str(text).map_err(|e| parse_error(path, &e))?;
        let mut specs = Vec::new();
        let mut pip = Vec::new();
        for dep in env.dependencies {
            match dep {
                MatchSpecOrSubSection::MatchSpec(s) => specs.push(*s),
                MatchSpecOrSubSection::SubSection(name, items) if name == "pip" => {
                    // Requirements, never pip options (`--target=DIR` would install outside
                    // the environment, `-e`/`-r` read other places).
                    if let Some(bad) = items.iter().find(|i| i.trim_start().starts_with('-')) {
                        return Err(EnvFileError::Parse {
                            path: path.to_path_buf(),
                            line: line_of(text, bad.trim()),
                            message: format!(
                                "pip entry `{}` is an option, not a requirement: pyve passes only requirements to pip",
                                bad.trim()
                            ),
                        });
                    }
                    pip.extend(items)
                }
                MatchSpecOrSubSection::SubSection(name, _) => {
                    return Err(EnvFileError::Parse {
                        path: path.to_path_buf(),
                        line: line_of(text, &format!("{name}:")),
                        message: format!("unknown dependency section `{name}:` (only `pip:` is understood)"),
                    });
                }
            }
        }
        Ok(EnvFile {
            path: path.to_path_buf(),
            name: env.name.filter(|n| !n.trim().is_empty()),
            // `nodefaults` tells conda not to add its default channels: it is not a channel.
            channels: env
                .channels
                .into_iter()
                .filter(|c| !matches!(c, NamedChannelOrUrl::Name(n) if n == "nodefaults"))
                .collect(),
            specs,
            pip,
            warnings,
            variables,
        })
    }
}

/// The 1-based line of the first line holding `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_and_nodefaults() {
        let text = "name: a\nchannels:\n  - conda-forge\n  - nodefaults\ndependencies:\n  - python\nvariables:\n  GDAL_DATA: /opt/gdal\n  LEVEL: 3\n";
        let f = EnvFile::parse(Path::new("environment.yml"), text).unwrap();
        assert_eq!(f.channels.len(), 1);
        assert_eq!(f.variables.get("GDAL_DATA").map(String::as_str), Some("/opt/gdal"));
        assert_eq!(f.variables.get("LEVEL").map(String::as_str), Some("3"));
        let bad = "name: a\ndependencies: [python]\nvariables:\n  \"A B\": x\n";
        let e = EnvFile::parse(Path::new("environment.yml"), bad).unwrap_err();
        assert!(e.to_string().contains("not a variable name"), "{e}");
        let e = EnvFile::parse(Path::new("environment.yml"), "dependencies: [python]\nvariables: [a]\n").unwrap_err();
        assert!(e.to_string().contains("`variables:` maps variable names"), "{e}");
    }

    #[test]
    fn pip_entries_that_look_like_options_are_refused() {
        for bad in ["--target=/tmp/x", "-e .", "-r other.txt", "--index-url=http://evil"] {
            let text = format!(
                "name: a\nchannels: [c]\ndependencies:\n  - python\n  - pip:\n    - requests\n    - \"{bad}\"\n"
            );
            let e = EnvFile::parse(Path::new("environment.yml"), &text).unwrap_err().to_string();
            assert!(e.contains("is an option, not a requirement"), "{bad}: {e}");
        }
    }

    fn parse(text: &str) -> Result<EnvFile, EnvFileError> {
        EnvFile::parse(Path::new("/p/environment.yml"), text)
    }

    #[test]
    fn reads_name_channels_specs_and_pip() {
        let f = parse(
            "name: \"my env\"\nchannels:\n  - conda-forge\n  - file:///tmp/ch\ndependencies:\n  - python=3.11\n  - numpy >=1.20\n  - pip:\n    - requests==2.31\n",
        )
        .unwrap();
        assert_eq!(f.name.as_deref(), Some("my env"), "a real parser keeps the whole quoted name");
        assert_eq!(f.channels.len(), 2);
        assert_eq!(f.specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), ["python 3.11.*", "numpy >=1.20"]);
        assert_eq!(f.pip, ["requests==2.31"]);
        assert!(f.warnings.is_empty());
    }

    #[test]
    fn missing_name_and_channels_warn_as_the_reference() {
        let f = parse("dependencies:\n  - python\n").unwrap();
        assert_eq!(
            f.warnings[0],
            ["environment.yml missing 'name:' field", "Environment name will be derived from project directory"]
        );
        assert_eq!(f.warnings[1], ["environment.yml missing 'channels:' field", "Using default channels"]);
    }

    #[test]
    fn missing_dependencies_is_fatal() {
        let e = parse("name: x\nchannels: [conda-forge]\n").unwrap_err();
        assert!(e.to_string().starts_with("environment.yml missing required 'dependencies:' field"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = parse("name: x\ndependencies:\n  - python\n  bad: [\n").unwrap_err();
        let EnvFileError::Parse { line, .. } = &e else { panic!("{e:?}") };
        assert!(line.is_some(), "{e}");
        assert!(e.to_string().starts_with("/p/environment.yml:"), "{e}");
        let e = parse("name: x\ndependencies:\n  - \"python >=>= 3\"\n").unwrap_err();
        assert!(e.to_string().starts_with("/p/environment.yml"), "{e}");
        let e = parse("- a\n- b\n").unwrap_err();
        assert!(e.to_string().contains(":1: expected a mapping"), "{e}");
    }

    #[test]
    fn unreadable_names_the_file() {
        let e = EnvFile::read(Path::new("/nonexistent/environment.yml")).unwrap_err();
        assert!(e.to_string().starts_with("Environment file '/nonexistent/environment.yml' is not readable"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_small_regular_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("environment.yml");
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = EnvFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("environment.yml") && e.contains("named pipe"), "{e}");
        std::fs::remove_file(&path).unwrap();
        std::fs::File::create(&path).unwrap().set_len(16 << 30).unwrap();
        let e = EnvFile::read(&path).unwrap_err().to_string();
        assert!(e.contains("environment.yml") && e.contains("larger than"), "{e}");
    }
}
