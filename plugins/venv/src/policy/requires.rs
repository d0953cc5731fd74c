//! `requires-python` (`[project]` of pyproject.toml, PEP 621): a PEP 440 specifier set, matched
//! against interpreters' release numbers (`3.12.1`).
//!
//! Supported: `==`, `!=` (both with a trailing `.*`), `<`, `<=`, `>`, `>=`, `~=` and `===`,
//! comma-separated, as packaging tools accept them. Pre-, post- and dev-release parts of a
//! specifier are refused with a clear error: interpreters are chosen by release number.

use std::cmp::Ordering;
use std::path::Path;

use super::error::PolicyError;

/// The largest pyproject.toml read (a real one is a few KiB).
const MAX_PYPROJECT: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Compatible,
    Arbitrary,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    op: Op,
    release: Vec<u32>,
    wildcard: bool,
    text: String,
}

/// A project's `requires-python`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiresPython {
    /// As written.
    pub text: String,
    specs: Vec<Spec>,
}

fn cmp_release(a: &[u32], b: &[u32]) -> Ordering {
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        match x.cmp(&y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    Ordering::Equal
}

fn prefix_matches(v: &[u32], prefix: &[u32]) -> bool {
    prefix.iter().enumerate().all(|(i, p)| v.get(i).copied().unwrap_or(0) == *p)
}

impl Spec {
    fn parse(part: &str) -> Result<Spec, String> {
        let part = part.trim();
        let (op, rest) = [
            ("===", Op::Arbitrary),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("~=", Op::Compatible),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .iter()
        .find_map(|(p, op)| part.strip_prefix(p).map(|r| (*op, r.trim())))
        .ok_or_else(|| format!("`{part}` does not start with an operator (>=, <, ==, ~=, ...)"))?;
        let (body, wildcard) = match rest.strip_suffix(".*") {
            Some(b) if matches!(op, Op::Eq | Op::Ne) => (b, true),
            Some(_) => return Err(format!("`{part}`: only == and != take a trailing .*")),
            None => (rest, false),
        };
        let body = body.strip_prefix('v').unwrap_or(body);
        let release: Vec<u32> = body
            .split('.')
            .map(|n| n.parse::<u32>().map_err(|_| format!("`{part}`: `{body}` is not a release number such as 3.10")))
            .collect::<Result<_, _>>()?;
        if release.is_empty() || (op == Op::Compatible && release.len() < 2) {
            return Err(format!("`{part}`: ~= needs at least two parts, such as ~=3.10"));
        }
        Ok(Spec { op, release, wildcard, text: part.to_owned() })
    }

    fn matches(&self, v: &[u32]) -> bool {
        let c = cmp_release(v, &self.release);
        match self.op {
            Op::Eq if self.wildcard => prefix_matches(v, &self.release),
            Op::Ne if self.wildcard => !prefix_matches(v, &self.release),
            Op::Eq | Op::Arbitrary => c == Ordering::Equal,
            Op::Ne => c != Ordering::Equal,
            Op::Lt => c == Ordering::Less,
            Op::Le => c != Ordering::Greater,
            Op::Gt => c == Ordering::Greater,
            Op::Ge => c != Ordering::Less,
            Op::Compatible => c != Ordering::Less && prefix_matches(v, &self.release[..self.release.len() - 1]),
        }
    }
}

impl RequiresPython {
    /// Parse a specifier set such as `>=3.9, <3.13`.
    pub fn parse(text: &str) -> Result<RequiresPython, String> {
        let specs = text.split(',').filter(|p| !p.trim().is_empty()).map(Spec::parse).collect::<Result<Vec<_>, _>>()?;
        if specs.is_empty() {
            return Err("it is empty".into());
        }
        Ok(RequiresPython { text: text.trim().to_owned(), specs })
    }

    /// Whether an interpreter of release `(major, minor, micro)` satisfies it.
    pub fn matches(&self, release: (u32, u32, u32)) -> bool {
        let v = [release.0, release.1, release.2];
        self.specs.iter().all(|s| s.matches(&v))
    }

    /// The clauses an interpreter of `release` does not meet, for messages.
    pub fn unmet(&self, release: (u32, u32, u32)) -> Vec<&str> {
        let v = [release.0, release.1, release.2];
        self.specs.iter().filter(|s| !s.matches(&v)).map(|s| s.text.as_str()).collect()
    }

    /// The project's `requires-python`, when its pyproject.toml declares one.
    pub fn read(project_root: &Path) -> Result<Option<RequiresPython>, PolicyError> {
        let path = project_root.join("pyproject.toml");
        let text = match pyve_fs::read_bounded_text(&path, MAX_PYPROJECT) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(PolicyError::io("read", path, e)),
        };
        let bad = |why: String| PolicyError::RequiresPython { path: path.clone(), why };
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| PolicyError::InvalidToml {
            path: path.clone(),
            at: pyve_pyproject::toml_error(&text, &e),
        })?;
        let Some(value) = doc.get("project").and_then(|p| p.get("requires-python")) else { return Ok(None) };
        let Some(spec) = value.as_str() else {
            return Err(bad("`requires-python` must be a string such as \">=3.10\"".into()));
        };
        RequiresPython::parse(spec).map(Some).map_err(|why| bad(format!("`requires-python = \"{spec}\"`: {why}")))
    }
}

impl std::fmt::Display for RequiresPython {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(spec: &str, v: (u32, u32, u32)) -> bool {
        RequiresPython::parse(spec).unwrap().matches(v)
    }

    #[test]
    fn specifiers_match_as_pep_440_says() {
        assert!(m(">=3.9", (3, 9, 0)) && m(">=3.9", (3, 13, 1)) && !m(">=3.9", (3, 8, 18)));
        assert!(m("<3.12", (3, 11, 9)) && !m("<3.12", (3, 12, 0)) && !m("<3.12", (3, 12, 1)));
        assert!(m(">=3.9,<3.12", (3, 10, 2)) && !m(">=3.9, <3.12", (3, 13, 0)));
        assert!(m("~=3.10", (3, 12, 1)) && !m("~=3.10", (3, 9, 1)) && !m("~=3.10", (4, 0, 0)));
        assert!(m("~=3.10.2", (3, 10, 5)) && !m("~=3.10.2", (3, 11, 0)) && !m("~=3.10.2", (3, 10, 1)));
        assert!(m("==3.11.*", (3, 11, 7)) && !m("==3.11.*", (3, 12, 0)));
        assert!(m("!=3.11.*", (3, 12, 0)) && !m("!=3.11.*", (3, 11, 2)));
        assert!(m("==3.11", (3, 11, 0)) && !m("==3.11", (3, 11, 1)));
        assert!(m("<=3.11", (3, 11, 0)) && !m("<=3.11", (3, 11, 1)));
        assert!(m(">3.8", (3, 8, 1)) && !m(">3.8", (3, 8, 0)));
        let r = RequiresPython::parse(">=3.9, <3.12").unwrap();
        assert_eq!(r.unmet((3, 13, 0)), ["<3.12"]);
        for bad in ["", "3.9", ">=3.9rc1", "~=3", ">=3.*", "=>3.9"] {
            assert!(RequiresPython::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn read_from_pyproject() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(RequiresPython::read(d.path()).unwrap(), None);
        std::fs::write(d.path().join("pyproject.toml"), "[project]\nname = \"x\"\n").unwrap();
        assert_eq!(RequiresPython::read(d.path()).unwrap(), None);
        std::fs::write(d.path().join("pyproject.toml"), "[project]\nrequires-python = \">=3.9,<3.12\"\n").unwrap();
        assert_eq!(RequiresPython::read(d.path()).unwrap().unwrap().text, ">=3.9,<3.12");
        std::fs::write(d.path().join("pyproject.toml"), "[project]\nrequires-python = \"3.9\"\n").unwrap();
        let e = RequiresPython::read(d.path()).unwrap_err();
        assert!(e.to_string().contains("does not start with an operator"), "{e}");
        std::fs::write(d.path().join("pyproject.toml"), "[project\n").unwrap();
        let e = RequiresPython::read(d.path()).unwrap_err();
        assert!(e.to_string().contains("not valid TOML (line 1, column 9: "), "{e}");
        assert!(e.hint().unwrap().contains("fix the TOML syntax at line 1, column 9"), "{:?}", e.hint());
    }
}
