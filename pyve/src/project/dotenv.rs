//! The project's `.env` as direnv's `dotenv` reads it (direnv 2.32, which follows the Go
//! godotenv and Ruby dotenv rules), so that `pyve run` and a direnv shell see the same values:
//!
//! - `KEY=value`, `export KEY=value`, `KEY = value` and `KEY: value`; blank lines and `#`
//!   comments;
//! - `'single quotes'`: literal, nothing is expanded or unescaped;
//! - `"double quotes"`: `\n` and `\r` are line breaks, `\X` is `X` (except `\$`, which stays
//!   as written), then `$VAR`, `${VAR}` and `${VAR:-default}` are expanded (on one line);
//! - an unquoted value is one word (no spaces), ends at `#`, and is expanded like a double-quoted
//!   one (without unescaping);
//! - a variable is looked up among the lines above first, then in the environment the command
//!   gets (the default of `${VAR:-default}` applies when it is unset or empty).
//!
//! What direnv refuses (a value with spaces outside quotes, a line that is not an assignment)
//! fails the whole file there; pyve skips that line with a warning that names the file and the
//! line, and uses the others.

/// A line pyve could not read: its number (from 1) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub text: String,
}

/// The assignments of a `.env` text, in order, and the lines that are not assignments.
/// `lookup` answers the variables the file does not set itself.
pub fn parse(text: &str, lookup: impl Fn(&str) -> Option<String>) -> (Vec<(String, String)>, Vec<BadLine>) {
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut bad = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i];
        i += 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = split_assignment(trimmed) else {
            bad.push(BadLine { line: number, text: line.to_owned() });
            continue;
        };
        let value = match read_value(rest) {
            Some(v) => v,
            None => {
                bad.push(BadLine { line: number, text: line.to_owned() });
                continue;
            }
        };
        let value = match value {
            Value::Single(v) => v,
            Value::Double(v) => expand(&unescape(&v), &vars, &lookup),
            Value::Bare(v) => expand(&v, &vars, &lookup),
        };
        vars.retain(|(k, _)| k != key);
        vars.push((key.to_owned(), value));
    }
    (vars, bad)
}

enum Value {
    Single(String),
    Double(String),
    Bare(String),
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !s.as_bytes()[0].is_ascii_digit()
}

/// `[export ]KEY=` or `KEY: `, and what follows.
fn split_assignment(line: &str) -> Option<(&str, &str)> {
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
        _ => line,
    };
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(line.len());
    let (key, rest) = line.split_at(end);
    if !is_name(key) {
        return None;
    }
    let rest = rest.trim_start_matches([' ', '\t']);
    let rest = if let Some(r) = rest.strip_prefix('=') {
        r
    } else if let Some(r) = rest.strip_prefix(':') {
        if !r.starts_with([' ', '\t']) && !r.is_empty() {
            return None;
        }
        r
    } else {
        return None;
    };
    Some((key, rest.trim_start_matches([' ', '\t'])))
}

/// Whether `s` is nothing, or spaces and a comment.
fn only_comment(s: &str) -> bool {
    let s = s.trim_start();
    s.is_empty() || s.starts_with('#')
}

/// The value that starts with `rest` (one line: direnv refuses a quoted value that goes on
/// over the next lines). `None`: not a value direnv accepts.
fn read_value(rest: &str) -> Option<Value> {
    if let Some(q) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let body = &rest[1..];
        // On this line: the last closing quote followed only by a comment.
        if let Some(v) = closing(body, q) {
            return Some(quoted(q, v));
        }
        // No closing quote: the quote is part of a bare word.
    }
    let end = rest.find(|c: char| c.is_whitespace() || c == '#').unwrap_or(rest.len());
    let (word, tail) = rest.split_at(end);
    only_comment(tail).then(|| Value::Bare(word.to_owned()))
}

/// The quoted text of `body` (after the opening quote `q`) when a closing quote is followed
/// only by spaces and a comment; inside double quotes `\"` does not close.
fn closing(body: &str, q: char) -> Option<&str> {
    let bytes = body.as_bytes();
    let mut candidates = Vec::new();
    let mut k = 0;
    while k < bytes.len() {
        if q == '"' && bytes[k] == b'\\' {
            k += 2;
            continue;
        }
        if bytes[k] == q as u8 {
            candidates.push(k);
        }
        k += 1;
    }
    candidates.into_iter().rev().find(|&k| only_comment(&body[k + 1..])).map(|k| &body[..k])
}

fn quoted(q: char, v: &str) -> Value {
    if q == '\'' { Value::Single(v.to_owned()) } else { Value::Double(v.to_owned()) }
}

/// Double quotes: `\n`, `\r` are line breaks; `\X` is `X`, except `\$` (kept as written).
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('n') => {
                chars.next();
                out.push('\n');
            }
            Some('r') => {
                chars.next();
                out.push('\r');
            }
            Some('$') | None => out.push('\\'),
            Some(other) => {
                chars.next();
                out.push(other);
            }
        }
    }
    out
}

/// `$VAR`, `${VAR}`, `${VAR:-default}` as Go's `os.Expand` reads them (a `$` followed by
/// anything else stays; an unclosed `${` is dropped).
fn expand(v: &str, vars: &[(String, String)], lookup: &impl Fn(&str) -> Option<String>) -> String {
    let resolve = |name: &str| -> String {
        let (key, default) = match name.split_once(":-") {
            Some((k, d)) => (k, Some(d)),
            None => (name, None),
        };
        if let Some((_, v)) = vars.iter().rev().find(|(k, _)| k == key) {
            return v.clone();
        }
        let value = lookup(key).unwrap_or_default();
        match default {
            Some(d) if value.is_empty() => d.to_owned(),
            _ => value,
        }
    };
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let first = after.chars().next();
        match first {
            Some('{') => {
                if after[1..].starts_with('}') {
                    rest = &after[2..];
                } else if let Some(close) = after.find('}') {
                    out.push_str(&resolve(&after[1..close]));
                    rest = &after[close + 1..];
                } else {
                    rest = &after[1..];
                }
            }
            Some(c) if "*#$@!?-0123456789".contains(c) => {
                out.push_str(&resolve(&after[..1]));
                rest = &after[1..];
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                out.push_str(&resolve(&after[..end]));
                rest = &after[end..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PRE" => Some("outer".into()),
            "EMPTY" => Some(String::new()),
            "W" => Some("envw".into()),
            _ => None,
        }
    }

    fn one(line: &str) -> Option<String> {
        let (vars, bad) = parse(line, env);
        if !bad.is_empty() {
            return None;
        }
        vars.into_iter().find(|(k, _)| k == "V").map(|(_, v)| v)
    }

    /// Each case was checked against `direnv exec` (direnv 2.32) with PRE=outer EMPTY= W=envw.
    #[test]
    fn values_as_direnv_reads_them() {
        let cases: &[(&str, Option<&str>)] = &[
            ("export V=1", Some("1")),
            ("V=a#b", Some("a")),
            ("V=  spaced  ", Some("spaced")),
            ("  V = 1", Some("1")),
            ("V: yaml", Some("yaml")),
            (r#"V="x\ny \"q\" ${PRE} $PRE""#, Some("x\ny \"q\" outer outer")),
            ("V='lit $PRE'", Some("lit $PRE")),
            ("V=${PRE}-$PRE-${NOPE:-d}", Some("outer-outer-d")),
            ("V=${EMPTY:-d}", Some("d")),
            ("V=$EMPTY", Some("")),
            (r"V=a\$PRE", Some(r"a\outer")),
            (r#"V="a\tb\$c\\d""#, Some(r"atb\\d")),
            (r#"V="a\rb\"c""#, Some("a\rb\"c")),
            (r"V='it\'s'", Some(r"it\'s")),
            ("V=\"$\"", Some("$")),
            ("V=${PRE", Some("PRE")),
            ("V=$$", Some("")),
            ("V=\"a\"b", Some("\"a\"b")),
            ("V=\"unterminated", Some("\"unterminated")),
            ("V='multi", Some("'multi")),
            ("V = \"a\" #c", Some("a")),
            ("V='a' # c", Some("a")),
            ("V=", Some("")),
            ("V=two words", None),
            ("V=two words # note", None),
            ("not a line", None),
            ("1V=x", None),
        ];
        for (line, want) in cases {
            assert_eq!(one(line).as_deref(), *want, "{line}");
        }
    }

    #[test]
    fn earlier_lines_first_then_the_environment_and_bad_lines_named() {
        let (vars, bad) = parse("PRE=in\nV=$PRE\n\nnot a line\n# c\nX=$W\nW=late\nM=\"a\nb\"\nY=after\n", env);
        assert_eq!(
            vars,
            [
                ("PRE".to_owned(), "in".to_owned()),
                ("V".into(), "in".into()),
                ("X".into(), "envw".into()),
                ("W".into(), "late".into()),
                ("M".into(), "\"a".into()),
                ("Y".into(), "after".into()),
            ]
        );
        assert_eq!(bad, [BadLine { line: 4, text: "not a line".into() }, BadLine { line: 9, text: "b\"".into() }]);
    }
}
