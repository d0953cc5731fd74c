//! Requested Python versions: `X.Y.Z` (exactly that release) or `X.Y` (the newest `X.Y.*`).

use std::fmt;

use crate::interpreter::PythonVersion;

/// A version asked for: `--python-version 3.12.1`, `3.12`, a pin file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRequest {
    /// 3
    pub major: u32,
    /// 12
    pub minor: u32,
    /// 1, or `None` for "the newest `X.Y.*`".
    pub patch: Option<u32>,
}

impl VersionRequest {
    /// Parse `X.Y.Z` or `X.Y` (ASCII digits only). Anything else (`3`, `3.12.1rc1`,
    /// `system`, ` 3.12`) is `None`.
    pub fn parse(s: &str) -> Option<VersionRequest> {
        let parts: Vec<&str> = s.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let major = number(parts[0])?;
        let minor = number(parts[1])?;
        let patch = match parts.get(2) {
            Some(p) => Some(number(p)?),
            None => None,
        };
        Some(VersionRequest { major, minor, patch })
    }

    /// Whether it names one release (`X.Y.Z`).
    pub fn is_exact(&self) -> bool {
        self.patch.is_some()
    }

    /// Whether the release `(major, minor, micro)` satisfies the request.
    pub fn matches(&self, (major, minor, micro): (u32, u32, u32)) -> bool {
        self.major == major && self.minor == minor && self.patch.is_none_or(|p| p == micro)
    }

    /// Whether an interpreter's version satisfies the request. An exact request wants exactly
    /// that final release (`3.13.0` is not `3.13.0rc2`).
    pub fn matches_version(&self, v: &PythonVersion) -> bool {
        let is_final = parse_release(&v.full).is_some();
        self.matches((v.major, v.minor, v.micro)) && (self.patch.is_none() || is_final)
    }
}

impl fmt::Display for VersionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{p}", self.major, self.minor),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

/// A final CPython release name, `X.Y.Z` in digits (a pyenv `versions/` or asdf
/// `installs/python/` entry, a line of `pyenv install --list`).
pub fn parse_release(s: &str) -> Option<(u32, u32, u32)> {
    match VersionRequest::parse(s)? {
        VersionRequest { major, minor, patch: Some(patch) } => Some((major, minor, patch)),
        _ => None,
    }
}

fn number(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_and_minor_requests_only() {
        assert_eq!(VersionRequest::parse("3.12.1"), Some(VersionRequest { major: 3, minor: 12, patch: Some(1) }));
        assert_eq!(VersionRequest::parse("3.12"), Some(VersionRequest { major: 3, minor: 12, patch: None }));
        for bad in ["", "3", "3.", ".3", "3.12.", "3.12.1.4", "3.12.1rc1", "system", " 3.12", "3.x", "+3.12", "3..1"] {
            assert_eq!(VersionRequest::parse(bad), None, "{bad:?}");
        }
        assert_eq!(VersionRequest::parse("3.12").unwrap().to_string(), "3.12");
        assert_eq!(VersionRequest::parse("3.12.10").unwrap().to_string(), "3.12.10");
    }

    #[test]
    fn matching() {
        let minor = VersionRequest::parse("3.12").unwrap();
        let exact = VersionRequest::parse("3.12.1").unwrap();
        assert!(minor.matches((3, 12, 7)) && !minor.matches((3, 11, 7)));
        assert!(exact.matches((3, 12, 1)) && !exact.matches((3, 12, 10)));
        let rc = PythonVersion::parse("3.12.1rc1").unwrap();
        assert!(!exact.matches_version(&rc) && minor.matches_version(&rc));
        assert_eq!(parse_release("3.11.10"), Some((3, 11, 10)));
        assert_eq!(parse_release("3.11"), None);
        assert_eq!(parse_release("pypy3.10-7.3.12"), None);
    }
}
