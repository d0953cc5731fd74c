//! Helpers shared by the integration tests: finding the pyenv interpreters, comparing trees,
//! running commands.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

/// A pyenv-installed CPython found for the tests.
#[derive(Debug, Clone)]
pub struct Python {
    /// `3.12.1`
    pub version: String,
    /// `3.12`
    pub short: String,
    /// `<root>/versions/3.12.1/bin/python3.12`
    pub path: PathBuf,
}

/// `$(pyenv root)`: `PYENV_ROOT`, `~/.pyenv`, or what `pyenv root` prints.
pub fn pyenv_root() -> Option<PathBuf> {
    if let Some(r) = std::env::var_os("PYENV_ROOT").map(PathBuf::from).filter(|p| p.join("versions").is_dir()) {
        return Some(r);
    }
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        let r = home.join(".pyenv");
        if r.join("versions").is_dir() {
            return Some(r);
        }
    }
    let out = Command::new("pyenv").arg("root").output().ok()?;
    let r = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    r.join("versions").is_dir().then_some(r)
}

/// Every pyenv CPython 3.8 to 3.13, oldest first. Panics when 3.11, 3.12 or 3.13 is
/// missing: the tests require them.
pub fn pythons() -> Vec<Python> {
    let root =
        pyenv_root().expect("no pyenv root found (PYENV_ROOT, ~/.pyenv, `pyenv root`); Python 3.11-3.13 are required");
    let mut found: Vec<(u32, u32, Python)> = Vec::new();
    for entry in std::fs::read_dir(root.join("versions")).expect("list pyenv versions") {
        let entry = entry.expect("list pyenv versions");
        let name = entry.file_name().to_string_lossy().into_owned();
        let parts: Vec<&str> = name.split('.').collect();
        let [major, minor, micro] = parts[..] else { continue };
        let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else { continue };
        if major != 3 || !(8..=13).contains(&minor) || !micro.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let short = format!("{major}.{minor}");
        let path = entry.path().join("bin").join(format!("python{short}"));
        if path.is_file() {
            found.push((minor, micro.parse().unwrap_or(0), Python { version: name, short, path }));
        }
    }
    found.sort_by_key(|(minor, micro, _)| (*minor, *micro));
    for required in ["3.11", "3.12", "3.13"] {
        assert!(
            found.iter().any(|(_, _, p)| p.short == required),
            "Python {required} is required under {}/versions",
            root.display()
        );
    }
    found.into_iter().map(|(_, _, p)| p).collect()
}

/// The pyenv Python `short` (e.g. "3.13").
pub fn python(short: &str) -> Python {
    pythons().into_iter().rev().find(|p| p.short == short).expect("required Python")
}

/// What a path in an environment is, for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    Link { target: String },
    File { mode: u32, content: Vec<u8> },
}

/// The tree under `root` (without `__pycache__` and `*.pyc`), with `root`'s path replaced by
/// `@DEST@` in file contents and link targets. RECORD files lose their `.pyc` rows, and the
/// hash and size of the launcher rows (they hash the destination path; [`check_record`]
/// verifies them against the files).
pub fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let dest = root.to_str().expect("utf-8 path").as_bytes().to_vec();
    walk(root, root, &dest, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, dest: &[u8], out: &mut BTreeMap<String, Node>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "__pycache__" || name.ends_with(".pyc") {
            continue;
        }
        let rel = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&path).expect("lstat");
        let ft = meta.file_type();
        if ft.is_symlink() {
            let t = std::fs::read_link(&path).expect("readlink").to_string_lossy().into_owned();
            let target = String::from_utf8(replace(t.as_bytes(), dest, b"@DEST@")).expect("utf-8");
            out.insert(rel, Node::Link { target });
        } else if ft.is_dir() {
            out.insert(rel, Node::Dir { mode: meta.permissions().mode() & 0o7777 });
            walk(root, &path, dest, out);
        } else {
            let mut content = replace(&std::fs::read(&path).expect("read"), dest, b"@DEST@");
            if name == "RECORD" {
                content = normalise_record(&content);
            }
            out.insert(rel, Node::File { mode: meta.permissions().mode() & 0o7777, content });
        }
    }
}

fn normalise_record(content: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(content);
    let mut lines = Vec::new();
    for line in text.split("\r\n") {
        let path = line.split(',').next().unwrap_or("");
        if path.ends_with(".pyc") {
            continue;
        }
        if path.starts_with("../../../bin/") {
            lines.push(format!("{path},<hash>,<size>"));
        } else {
            lines.push(line.to_string());
        }
    }
    lines.join("\r\n").into_bytes()
}

/// `data` with every `from` replaced by `to`.
pub fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    if from.is_empty() {
        return data.to_vec();
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

/// Compare two snapshots; the differences, described.
pub fn diff(expected: &BTreeMap<String, Node>, actual: &BTreeMap<String, Node>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in expected {
        match actual.get(k) {
            None => out.push(format!("missing: {k}")),
            Some(a) if a != v => out.push(describe(k, v, a)),
            Some(_) => {}
        }
    }
    for k in actual.keys() {
        if !expected.contains_key(k) {
            out.push(format!("unexpected: {k}"));
        }
    }
    out
}

fn describe(k: &str, e: &Node, a: &Node) -> String {
    match (e, a) {
        (Node::File { mode: m1, content: c1 }, Node::File { mode: m2, content: c2 }) => {
            let mut s = format!("{k}:");
            if m1 != m2 {
                s.push_str(&format!(" mode {m1:o} != {m2:o}"));
            }
            if c1 != c2 {
                let (l1, l2) = (String::from_utf8_lossy(c1), String::from_utf8_lossy(c2));
                let first = l1.lines().zip(l2.lines()).find(|(a, b)| a != b);
                s.push_str(&format!(
                    " content differs (first differing line: {first:?}; lengths {} vs {})",
                    c1.len(),
                    c2.len()
                ));
            }
            s
        }
        _ => format!("{k}: expected {e:?}, found {a:?}"),
    }
}

/// Every RECORD row with a hash matches the file it names.
pub fn check_record(site_packages: &Path) {
    for entry in std::fs::read_dir(site_packages).expect("list site-packages") {
        let record = entry.expect("entry").path().join("RECORD");
        if !record.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&record).expect("read RECORD");
        assert!(text.ends_with("\r\n"), "{} must use CRLF lines like pip", record.display());
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), 3, "bad RECORD row {line:?}");
            if fields[1].is_empty() {
                continue;
            }
            let file = site_packages.join(fields[0]);
            let data = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(fields[2], data.len().to_string(), "size of {}", file.display());
            let digest = Sha256::digest(&data);
            let b64 = b64url(&digest);
            assert_eq!(fields[1], format!("sha256={b64}"), "hash of {}", file.display());
        }
    }
}

fn b64url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            s.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    s
}

/// Run a command with an environment that keeps pip away from the real home directory.
pub fn run(program: &Path, args: &[&str], home: &Path) -> Output {
    Command::new(program)
        .args(args)
        .env("PIP_NO_CACHE_DIR", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_CONFIG_FILE", "/dev/null")
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("HOME", home)
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

/// Run and require success; stdout.
pub fn run_ok(program: &Path, args: &[&str], home: &Path) -> String {
    let out = run(program, args, home);
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{}\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `<python> -m venv [args] <dest>`, the reference.
pub fn python_venv(python: &Path, dest: &Path, args: &[&str], home: &Path) {
    let mut all: Vec<&str> = vec!["-m", "venv"];
    all.extend_from_slice(args);
    let d = dest.to_str().expect("utf-8");
    all.push(d);
    run_ok(python, &all, home);
}

/// The names in `dir` that contain `.pyve-tmp-`.
pub fn temp_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pyve-tmp-"))
        .collect()
}
