//! The `sitecustomize.py` the shim writes, and the rules for writing it: never over a file
//! without pyve's marker, never when the content is already right, and always whole (written
//! beside and renamed into place, so an interpreter starting meanwhile sees the old file or
//! the new one, never half of one).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The first line of every file the shim writes: its ownership marker.
pub const MARKER: &str = "# pyve-managed: distutils shim";

/// The file's content (see `src/sitecustomize.py`, and `docs/distutils-shim.md`).
pub const CONTENT: &str = include_str!("sitecustomize.py");

/// The file's name in site-packages.
pub const FILE_NAME: &str = "sitecustomize.py";

/// What is at the shim's place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Nothing.
    Absent,
    /// A file pyve wrote, with exactly the current content.
    Current,
    /// A file pyve wrote, with other content (an older shim, such as the original tool's
    /// eager `import setuptools`).
    Outdated,
    /// A file pyve did not write (or something that is not a regular file): never touched.
    Foreign,
}

/// Look at `path`.
pub fn inspect(path: &Path) -> std::io::Result<Existing> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Ok(Existing::Foreign);
    }
    let bytes = std::fs::read(path)?;
    if bytes == CONTENT.as_bytes() {
        return Ok(Existing::Current);
    }
    Ok(if is_marked(&bytes) { Existing::Outdated } else { Existing::Foreign })
}

/// Whether the first line is the marker (trailing blanks and a `\r` tolerated).
pub fn is_marked(content: &[u8]) -> bool {
    let first = content.split(|&b| b == b'\n').next().unwrap_or_default();
    first.trim_ascii_end() == MARKER.as_bytes()
}

/// Write [`CONTENT`] to `path` through a temporary sibling renamed into place, and remove the
/// compiled copy of the previous content (its timestamp-and-size check could pass for a file
/// rewritten within the same second).
///
/// `replacing`: a file is there (an older shim). Its replacement is flushed to disk before the
/// rename, so that a crash never leaves an empty file where a working one was. A new file in a
/// new environment is not: the flush would commit the whole environment's metadata to the
/// journal and wait for it (0.6-0.9 ms of every `pyve --init` here), to protect nothing that
/// existed before.
pub fn write(path: &Path, cache_tag: Option<&str>, replacing: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{FILE_NAME}.pyve-{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(CONTENT.as_bytes())?;
        if replacing {
            file.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    if let Some(pyc) = cache_tag.and_then(|tag| compiled_path(path, tag)) {
        let _ = std::fs::remove_file(pyc);
    }
    Ok(())
}

/// Where the interpreter with `cache_tag` keeps the compiled `path`
/// (`__pycache__/sitecustomize.cpython-312.pyc`), as `importlib.util.cache_from_source` says.
pub fn compiled_path(path: &Path, cache_tag: &str) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_str()?;
    Some(path.parent()?.join("__pycache__").join(format!("{stem}.{cache_tag}.pyc")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_starts_with_the_marker_and_defers_setuptools() {
        assert!(CONTENT.starts_with(MARKER));
        assert!(is_marked(CONTENT.as_bytes()));
        assert!(CONTENT.contains(r#"os.environ.setdefault("SETUPTOOLS_USE_DISTUTILS", "local")"#));
        let code: Vec<&str> = CONTENT.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
        let top_level_imports: Vec<&&str> =
            code.iter().filter(|l| l.starts_with("import ") || l.starts_with("from ")).collect();
        assert_eq!(top_level_imports, [&"import os", &"import sys"], "only modules site has already imported");
        assert!(!code.iter().any(|l| l.contains("import setuptools")), "setuptools is never imported eagerly");
    }

    #[test]
    fn marker_detection() {
        assert!(is_marked(b"# pyve-managed: distutils shim\nimport os\n"));
        assert!(is_marked(b"# pyve-managed: distutils shim  \r\nimport os\n"));
        assert!(is_marked(b"# pyve-managed: distutils shim"));
        assert!(!is_marked(b"import os\n# pyve-managed: distutils shim\n"));
        assert!(!is_marked(b"# pyve-managed: something else\n"));
        assert!(!is_marked(b""));
    }

    #[test]
    fn inspect_tells_ours_from_foreign() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(FILE_NAME);
        assert_eq!(inspect(&path).unwrap(), Existing::Absent);
        std::fs::write(&path, "import mycompany_hooks\n").unwrap();
        assert_eq!(inspect(&path).unwrap(), Existing::Foreign);
        let original = "# pyve-managed: distutils shim\nimport os\n\
                        os.environ.setdefault(\"SETUPTOOLS_USE_DISTUTILS\", \"local\")\nimport setuptools  # noqa: F401\n";
        std::fs::write(&path, original).unwrap();
        assert_eq!(inspect(&path).unwrap(), Existing::Outdated);
        write(&path, Some("cpython-312"), true).unwrap();
        assert_eq!(inspect(&path).unwrap(), Existing::Current);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), CONTENT);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(inspect(&path).unwrap(), Existing::Foreign);
    }

    #[test]
    fn write_replaces_and_drops_the_stale_compiled_copy() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(FILE_NAME);
        let pyc = compiled_path(&path, "cpython-313").unwrap();
        assert_eq!(pyc, tmp.path().join("__pycache__/sitecustomize.cpython-313.pyc"));
        std::fs::create_dir(pyc.parent().unwrap()).unwrap();
        std::fs::write(&pyc, b"stale").unwrap();
        std::fs::write(&path, "# pyve-managed: distutils shim\n").unwrap();
        write(&path, Some("cpython-313"), true).unwrap();
        assert!(!pyc.exists());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), CONTENT);
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 2, "no temporary file left: {leftovers:?}");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("missing-dir").join(FILE_NAME);
        assert!(write(&path, None, false).is_err());
        assert!(!path.exists());
    }
}
