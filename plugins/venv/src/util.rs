//! Small helpers that reproduce Python's own string and path functions byte for byte.

use std::path::{Component, Path, PathBuf};

pub(crate) use pyve_wheels::record::{csv_field, parse_csv, record_hash};

/// `os.path.abspath`: make `path` absolute against the current directory and normalise it
/// lexically (`.` removed, `..` folded, repeated separators collapsed). Symlinks are not
/// resolved, exactly like Python.
pub(crate) fn abspath(path: &Path) -> std::io::Result<PathBuf> {
    let joined = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir()?.join(path) };
    let mut out = PathBuf::new();
    for comp in joined.components() {
        match comp {
            Component::Prefix(p) => out.push(p.as_os_str()),
            Component::RootDir => out.push(Component::RootDir.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                // At the root `..` stays at the root, as in `posixpath.normpath`.
                if out.parent().is_some() {
                    out.pop();
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Ok(out)
}

/// `repr(s)` for a Python `str`.
///
/// Non-ASCII characters are kept unless they are one of the well-known non-printable ones
/// (controls, separators, format characters, private use); Python consults the full
/// Unicode database for that, which is not reproduced here.
pub(crate) fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            _ if c == quote || c == '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_ascii() => out.push(c),
            c if !is_printable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// An approximation of `str.isprintable` for one non-ASCII character.
fn is_printable(c: char) -> bool {
    let n = c as u32;
    !matches!(n,
        0x80..=0xa0 | 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x1680 | 0x180e
        | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x206f | 0x3000 | 0xd800..=0xf8ff
        | 0xfeff | 0xfff9..=0xfffb | 0xfffe | 0xffff | 0xe0001 | 0xe0020..=0xe007f
        | 0xf0000..)
}

/// `shlex.quote(s)`.
pub(crate) fn shlex_quote(s: &str) -> String {
    if s.is_empty() {
        return "''".to_string();
    }
    let safe = s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if safe { s.to_string() } else { format!("'{}'", s.replace('\'', "'\"'\"'")) }
}

/// Python source with every run of whitespace (newlines and indentation included) reduced
/// to one space, so that code can be matched regardless of how a line was wrapped.
pub(crate) fn squash_ws(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut pending_space = false;
    for c in src.chars() {
        if c.is_whitespace() {
            pending_space = true;
        } else {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c);
        }
    }
    out
}

/// The code of the method `def <name>(` in Python source: its lines up to the next line
/// indented at most as deep as the `def`, without the docstring, comments and blank lines,
/// each stripped of surrounding whitespace. `None` when the method is not there.
pub(crate) fn method_code(src: &str, name: &str) -> Option<Vec<String>> {
    let needle = format!("def {name}(");
    let mut lines = src.lines();
    let def_indent = loop {
        let line = lines.next()?;
        let trimmed = line.trim_start();
        if trimmed.starts_with(&needle) {
            break line.len() - trimmed.len();
        }
    };
    let mut code = Vec::new();
    let mut in_doc: Option<&str> = None;
    let mut seen_statement = false;
    'lines: for line in lines {
        let trimmed = line.trim();
        if let Some(delim) = in_doc {
            if trimmed.contains(delim) {
                in_doc = None;
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent <= def_indent {
            break;
        }
        if !seen_statement {
            seen_statement = true;
            // The docstring: a string literal as the first statement.
            for delim in ["\"\"\"", "'''"] {
                if let Some(rest) = trimmed.strip_prefix(delim) {
                    if !rest.contains(delim) {
                        in_doc = Some(delim);
                    }
                    continue 'lines;
                }
            }
        }
        code.push(strip_trailing_comment(trimmed).to_string());
    }
    Some(code)
}

/// `line` without a trailing `# comment` (only when the `#` is outside string literals).
fn strip_trailing_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' => return line[..i].trim_end(),
            None => {}
        }
    }
    line
}

/// The value of a top-level string assignment `NAME = "value"` in Python source.
pub(crate) fn py_str_assignment(src: &str, name: &str) -> Option<String> {
    for line in src.lines() {
        let Some(rest) = line.strip_prefix(name) else { continue };
        let Some(rest) = rest.trim_start().strip_prefix('=') else { continue };
        let rest = rest.trim();
        for q in ['"', '\''] {
            if let Some(inner) = rest.strip_prefix(q)
                && let Some(end) = inner.find(q)
            {
                return Some(inner[..end].to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abspath_normalises_lexically() {
        assert_eq!(abspath(Path::new("/a/./b//c/../d")).unwrap(), PathBuf::from("/a/b/d"));
        assert_eq!(abspath(Path::new("/../x")).unwrap(), PathBuf::from("/x"));
        assert!(abspath(Path::new("rel")).unwrap().is_absolute());
    }

    #[test]
    fn repr_like_python() {
        assert_eq!(py_repr("abc"), "'abc'");
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr("tab\there\\"), "'tab\\there\\\\'");
        assert_eq!(py_repr("\x01é\u{a0}"), "'\\x01é\\xa0'");
    }

    #[test]
    fn shlex_like_python() {
        assert_eq!(shlex_quote(""), "''");
        assert_eq!(shlex_quote("/tmp/x-y_z.1"), "/tmp/x-y_z.1");
        assert_eq!(shlex_quote("(venv) "), "'(venv) '");
        assert_eq!(shlex_quote("it's"), "'it'\"'\"'s'");
    }

    #[test]
    fn finds_method_code() {
        let src = "class A:\n    def f(self, x):\n        \"\"\"\n        Doc.\n        \"\"\"\n        # c\n        y = x  # trailing\n\n        return y\n\n    def g(self):\n        pass\n";
        assert_eq!(method_code(src, "f").unwrap(), vec!["y = x", "return y"]);
        assert_eq!(method_code(src, "g").unwrap(), vec!["pass"]);
        assert!(method_code(src, "h").is_none());
        assert_eq!(squash_ws("a (\n   b,\n c)"), "a ( b, c)");
        assert_eq!(py_str_assignment("_PIP_VERSION = \"24.2\"\n", "_PIP_VERSION").as_deref(), Some("24.2"));
    }
}
