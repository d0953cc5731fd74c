//! Remembering a probe that passed, so that the next environment made the same way needs no
//! second start of its python.
//!
//! A new environment whose setuptools, wheel and packaging were just linked from pyve's wheel
//! cache, made from the same interpreter, holds the same files as the last one: the probe would
//! find what it found then. After a probe that passed there (the shim ran, its variable set,
//! distutils handed to setuptools, nothing imported at start-up), the shim keeps, in the wheel
//! cache, under `distutils-shim-v1/<key>/`:
//!
//! - `record.txt`: the key's text (what the environment was made of, below), then the sha256
//!   and size of each kept file;
//! - `sitecustomize.pyc` and `_distutils_hack.pyc`: the bytecode the probe compiled, as
//!   checked-hash `.pyc` files (PEP 552: the interpreter checks them against the source at
//!   every start, so a copy is valid wherever that source is, whatever its timestamp).
//!
//! The key is made of: this crate's version and the shim's content; the interpreter's real
//! file (path, size, mtime, inode) and its standard library directory (a `sitecustomize.py`
//! added there would shadow the shim); the version, implementation and cache tag; the wheels
//! linked (project, version, sha256); the `.pth` files in site-packages; and the environment
//! must not see the system site-packages nor have `SETUPTOOLS_USE_DISTUTILS` set to something
//! else than `local` (the probe's warnings are then due). With a record whose key matches and
//! whose files have their sha256, the `.pyc` files are copied into the environment and the
//! probe is not run; anything else (no record, another key, a damaged file) runs it, and a
//! passing probe writes the record anew.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use pyve_wheels::temp::TempDir;
use sha2::{Digest, Sha256};

use crate::{PythonInfo, sitecustomize};

/// The directory under the wheel cache that holds the records.
pub const SUBDIR: &str = "distutils-shim-v1";

const RECORD: &str = "record.txt";
const SEPARATOR: &str = "--";

/// The bytecode files a record keeps: its name in the record, and where the environment's
/// interpreter reads it, from site-packages (`{tag}`: the cache tag).
const FILES: [(&str, &str, &str); 2] = [
    ("sitecustomize.pyc", "__pycache__", "sitecustomize.{tag}.pyc"),
    ("_distutils_hack.pyc", "_distutils_hack/__pycache__", "__init__.{tag}.pyc"),
];

/// What a probe of this environment would depend on, when it can be known without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    text: String,
    dir: PathBuf,
    tag: String,
}

/// The key of the environment at `site_packages` (its interpreter `python`, `wheels` as
/// [`crate::seeding`] describes them), under the wheel cache `cache`; `None` when the probe
/// must run (a condition above fails, something cannot be read).
pub(crate) fn key(
    cache: &Path,
    python: &Path,
    env: &Path,
    info: &PythonInfo,
    site_packages: &Path,
    wheels: &str,
) -> Option<Key> {
    if std::env::var_os("SETUPTOOLS_USE_DISTUTILS").is_some_and(|v| v != "local") {
        return None;
    }
    let cfg = fs::read_to_string(env.join("pyvenv.cfg")).ok()?;
    let system_site = cfg.lines().any(|l| {
        l.split_once('=').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("include-system-site-packages") && !v.trim().eq_ignore_ascii_case("false")
        })
    });
    if system_site {
        return None;
    }
    let tag = info.cache_tag.clone()?;
    let real = fs::canonicalize(python).ok()?;
    let meta = fs::metadata(&real).ok()?;
    let (major, minor, _) = info.version;
    // `<prefix>/bin/pythonX.Y` -> `<prefix>/lib/pythonX.Y`; its mtime changes when a file is
    // added or removed there.
    let stdlib = real.parent()?.parent()?.join("lib").join(format!("python{major}.{minor}"));
    let stdlib_meta = fs::metadata(&stdlib).ok()?;
    let mut pth: Vec<String> = fs::read_dir(site_packages)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".pth"))
        .collect();
    pth.sort();
    let text = format!(
        "pyve-distutils-shim {}\nshim {}\ninterpreter {} {} {}.{:09} {}:{}\nstdlib {} {}.{:09}\n\
         python {} {} {tag}\npth {}\n{wheels}\n",
        env!("CARGO_PKG_VERSION"),
        sha256(sitecustomize::CONTENT.as_bytes()),
        real.display(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.dev(),
        meta.ino(),
        stdlib.display(),
        stdlib_meta.mtime(),
        stdlib_meta.mtime_nsec(),
        info.version_string(),
        info.implementation,
        pth.join(" "),
    );
    let dir = cache.join(SUBDIR).join(&sha256(text.as_bytes())[..32]);
    Some(Key { text, dir, tag })
}

/// Whether a record of a passing probe matches `key`: then its `.pyc` files are copied into
/// `site_packages` (a few kilobytes; a copy shares nothing with the cache), and the probe need
/// not run.
pub(crate) fn reuse(key: &Key, site_packages: &Path) -> Result<(), String> {
    let record = fs::read_to_string(key.dir.join(RECORD)).map_err(|e| format!("no record ({e})"))?;
    let (text, sums) =
        record.split_once(&format!("{SEPARATOR}\n")).ok_or_else(|| "a record without its sums".to_owned())?;
    if text != key.text {
        return Err("a record of another environment (a hash collision?)".into());
    }
    for (name, _, _) in FILES {
        let line = sums.lines().find(|l| l.ends_with(&format!(" {name}"))).ok_or_else(|| format!("{name} unlisted"))?;
        let data = fs::read(key.dir.join(name)).map_err(|e| format!("{name}: {e}"))?;
        if line != format!("{} {} {name}", sha256(&data), data.len()) {
            return Err(format!("{name} is damaged"));
        }
    }
    for (name, dir, file) in FILES {
        let dir = site_packages.join(dir);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let dst = dir.join(file.replace("{tag}", &key.tag));
        let _ = fs::remove_file(&dst);
        // Copied, not linked: a kept file damaged later must not damage this environment.
        fs::copy(key.dir.join(name), &dst).map_err(|e| format!("{}: {e}", dst.display()))?;
    }
    Ok(())
}

/// Keep the `.pyc` files a passing probe compiled in `site_packages`, under `key`. Best
/// effort: a failure only means the next environment is probed again.
pub(crate) fn keep(key: &Key, site_packages: &Path) -> Result<(), String> {
    let parent = key.dir.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    let _ = pyve_wheels::temp::cleanup_stale_temps(parent);
    let name = key.dir.file_name().and_then(|n| n.to_str()).unwrap_or("record");
    let tmp = TempDir::create(parent, name).map_err(|e| e.to_string())?;
    let mut sums = String::new();
    for (name, dir, file) in FILES {
        let src = site_packages.join(dir).join(file.replace("{tag}", &key.tag));
        let mut data = Vec::new();
        fs::File::open(&src)
            .and_then(|mut f| f.read_to_end(&mut data))
            .map_err(|e| format!("{}: {e}", src.display()))?;
        // Only what the probe compiled: checked-hash bytecode (flags 0b11 after the magic).
        if data.get(4..8) != Some(&[3, 0, 0, 0]) {
            return Err(format!("{} is not checked-hash bytecode", src.display()));
        }
        fs::write(tmp.path().join(name), &data).map_err(|e| e.to_string())?;
        sums.push_str(&format!("{} {} {name}\n", sha256(&data), data.len()));
    }
    fs::write(tmp.path().join(RECORD), format!("{}{SEPARATOR}\n{sums}", key.text)).map_err(|e| e.to_string())?;
    let _ = fs::remove_dir_all(&key.dir);
    fs::rename(tmp.path(), &key.dir).map_err(|e| e.to_string())?;
    tmp.disarm();
    Ok(())
}

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pyc(body: &[u8]) -> Vec<u8> {
        let mut data = vec![0xcb, 0x0d, 0x0d, 0x0a, 3, 0, 0, 0];
        data.extend_from_slice(&[7; 8]);
        data.extend_from_slice(body);
        data
    }

    #[test]
    fn a_kept_record_is_reused_and_a_damaged_one_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = tmp.path().join("cache");
        let key = Key { text: "k\n".into(), dir: cache.join(SUBDIR).join("abc"), tag: "cpython-312".into() };
        let (env1, env2) = (tmp.path().join("one"), tmp.path().join("two"));
        for (_, dir, file) in FILES {
            fs::create_dir_all(env1.join(dir)).unwrap();
            fs::write(env1.join(dir).join(file.replace("{tag}", "cpython-312")), pyc(file.as_bytes())).unwrap();
        }
        assert!(reuse(&key, &env2).unwrap_err().starts_with("no record"));
        keep(&key, &env1).unwrap();
        reuse(&key, &env2).unwrap();
        for (_, dir, file) in FILES {
            let name = file.replace("{tag}", "cpython-312");
            assert_eq!(fs::read(env2.join(dir).join(&name)).unwrap(), fs::read(env1.join(dir).join(&name)).unwrap());
        }
        // Another key of the same directory, a truncated file: not reused.
        let other = Key { text: "other\n".into(), ..key.clone() };
        assert!(reuse(&other, &env2).is_err());
        fs::write(key.dir.join(FILES[1].0), b"trunc").unwrap();
        assert_eq!(reuse(&key, &env2).unwrap_err(), "_distutils_hack.pyc is damaged");
        // Kept again, whole.
        keep(&key, &env1).unwrap();
        reuse(&key, &env2).unwrap();
        // Timestamp bytecode is not kept.
        let (_, dir, file) = FILES[0];
        let mut stamp = pyc(b"x");
        stamp[4] = 0;
        fs::write(env1.join(dir).join(file.replace("{tag}", "cpython-312")), stamp).unwrap();
        assert!(keep(&key, &env1).unwrap_err().contains("not checked-hash"));
    }
}
