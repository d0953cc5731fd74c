//! The environment's name: where it comes from, how a directory name is sanitised, which
//! names are refused (reference 3.4).

use std::fmt;

/// Names conda reserves for its own environments.
pub const RESERVED: &[&str] = &["base", "root", "default", "conda", "mamba", "micromamba"];

/// The longest name accepted.
pub const MAX_LEN: usize = 255;

/// Where a name came from, first match wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameSource {
    /// `--env-name`.
    Flag,
    /// `micromamba.env_name` in `.pyve/config`.
    Config,
    /// The `name:` of environment.yml.
    EnvironmentYml,
    /// The project directory's name, sanitised.
    Directory,
}

impl fmt::Display for NameSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameSource::Flag => "--env-name",
            NameSource::Config => ".pyve/config",
            NameSource::EnvironmentYml => "environment.yml",
            NameSource::Directory => "the project directory's name",
        })
    }
}

/// Why a name was refused. `Display` gives the reference's first error line; [`NameError::detail`]
/// its second, where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty.
    #[error("Environment name cannot be empty")]
    Empty,
    /// One of [`RESERVED`].
    #[error("Environment name '{0}' is reserved")]
    Reserved(String),
    /// Longer than [`MAX_LEN`].
    #[error("Environment name too long (max {MAX_LEN} characters): {0}")]
    TooLong(String),
    /// Characters outside `[A-Za-z0-9_-]`.
    #[error("Invalid environment name: {0}")]
    Invalid(String),
    /// Starts with a digit or `-`.
    #[error("Environment name must start with letter or underscore: {0}")]
    BadStart(String),
}

impl NameError {
    /// The line the reference prints after the first, if any.
    pub fn detail(&self) -> Option<String> {
        match self {
            NameError::Reserved(_) => Some(format!("Reserved names: {}", RESERVED.join(", "))),
            NameError::Invalid(_) => Some("Use only alphanumeric characters, hyphens, and underscores".into()),
            _ => None,
        }
    }
}

/// Check a name by the reference's rules, first failing rule wins.
pub fn validate(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if RESERVED.contains(&name) {
        return Err(NameError::Reserved(name.into()));
    }
    if name.len() > MAX_LEN {
        return Err(NameError::TooLong(name.into()));
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(NameError::Invalid(name.into()));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return Err(NameError::BadStart(name.into()));
    }
    Ok(())
}

/// A directory name made into an environment name: lowercase, every run of other characters
/// than `[a-z0-9_-]` one `-`, one leading and one trailing `-` trimmed, `env-` in front when it
/// does not start with a letter or `_`, at most 255 characters. `None` for an empty input.
pub fn sanitize(dir: &str) -> Option<String> {
    if dir.is_empty() {
        return None;
    }
    let mut out = String::new();
    let mut in_run = false;
    for c in dir.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('-');
            in_run = true;
        }
    }
    let out = out.strip_prefix('-').unwrap_or(&out);
    let out = out.strip_suffix('-').unwrap_or(out);
    let mut out = if out.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        out.to_string()
    } else {
        format!("env-{out}")
    };
    out.truncate(MAX_LEN);
    Some(out)
}

/// The name to use: the first of flag, config, environment.yml's `name:` that is not empty
/// (verbatim), else the sanitised directory name.
pub fn resolve(
    flag: Option<&str>,
    config: Option<&str>,
    env_yml: Option<&str>,
    dir: &str,
) -> (Option<String>, NameSource) {
    let given = [(flag, NameSource::Flag), (config, NameSource::Config), (env_yml, NameSource::EnvironmentYml)];
    for (value, source) in given {
        if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
            return (Some(v.to_string()), source);
        }
    }
    (sanitize(dir), NameSource::Directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_as_the_reference() {
        for (dir, want) in [
            ("MyProject", "myproject"),
            ("my project", "my-project"),
            ("my@project#123", "my-project-123"),
            ("-myproject", "myproject"),
            ("123project", "env-123project"),
            ("_myproject", "_myproject"),
            ("My Cool Project 2024!", "my-cool-project-2024"),
            ("My ML Project", "my-ml-project"),
            ("@@@", "env-"),
        ] {
            assert_eq!(sanitize(dir).as_deref(), Some(want), "{dir}");
        }
        assert_eq!(sanitize(""), None);
        assert_eq!(sanitize(&"a".repeat(300)).unwrap().len(), 255);
    }

    #[test]
    fn a_directory_named_base_is_refused() {
        let (name, source) = resolve(None, None, None, "Base");
        assert_eq!(source, NameSource::Directory);
        assert_eq!(validate(&name.unwrap()), Err(NameError::Reserved("base".into())));
    }

    #[test]
    fn validates_with_the_reference_messages() {
        assert_eq!(validate("").unwrap_err().to_string(), "Environment name cannot be empty");
        for r in RESERVED {
            let e = validate(r).unwrap_err();
            assert_eq!(e.to_string(), format!("Environment name '{r}' is reserved"));
            assert_eq!(e.detail().unwrap(), "Reserved names: base, root, default, conda, mamba, micromamba");
        }
        assert!(validate("Base").is_ok(), "the reserved check is case-sensitive");
        assert!(matches!(validate(&"a".repeat(256)), Err(NameError::TooLong(_))));
        let e = validate("my env").unwrap_err();
        assert_eq!(e.to_string(), "Invalid environment name: my env");
        assert!(e.detail().unwrap().contains("alphanumeric"));
        assert_eq!(
            validate("1env").unwrap_err().to_string(),
            "Environment name must start with letter or underscore: 1env"
        );
        assert!(validate("_ok-Name_2").is_ok());
    }

    #[test]
    fn resolves_in_order() {
        assert_eq!(resolve(Some("f"), Some("c"), Some("y"), "D"), (Some("f".into()), NameSource::Flag));
        assert_eq!(resolve(None, Some("c"), Some("y"), "D"), (Some("c".into()), NameSource::Config));
        assert_eq!(resolve(Some(""), None, Some("y"), "D"), (Some("y".into()), NameSource::EnvironmentYml));
        assert_eq!(resolve(None, None, None, "My Dir"), (Some("my-dir".into()), NameSource::Directory));
    }
}
