//! `.pyve/testenv/testenv.json`: what the test environment was built from, written once by
//! `pyve testenv --init` and read by every later command.
//!
//! ```json
//! {
//!   "format": 1,
//!   "python_version": "3.12.1",
//!   "interpreter": "/home/u/.pyenv/versions/3.12.1/bin/python3.12",
//!   "source": "pinned in .python-version",
//!   "created_at": "2025-06-01T09:30:00Z",
//!   "created_by": "pyve-testenv 0.1.0",
//!   "pyve_version": "0.1.0",
//!   "gitignore_added": true,
//!   "gitignore_created": false
//! }
//! ```
//!
//! Unknown keys are ignored; a record of another `format` or that cannot be parsed is reported
//! and treated as missing (the environment's `pyvenv.cfg` then gives its version).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The record's file name, inside `.pyve/testenv`.
pub const FILE: &str = "testenv.json";

/// The format written by this version.
pub const FORMAT: u32 = 1;

/// What the test environment was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The format of this file ([`FORMAT`]).
    pub format: u32,
    /// The interpreter's version, `X.Y.Z`.
    pub python_version: String,
    /// The base interpreter, by its path (never a shim).
    pub interpreter: PathBuf,
    /// Why this version: `pinned in .python-version`, `the newest installed`, ...
    pub source: String,
    /// When the environment was created, RFC 3339 in UTC (`2025-06-01T09:30:00Z`).
    pub created_at: String,
    /// Which plugin created it: `pyve-testenv 0.1.0`.
    pub created_by: String,
    /// The pyve that ran the plugin (`PYVE_VERSION`), when it was run through pyve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pyve_version: Option<String>,
    /// `pyve testenv --init` added the `.pyve/testenv` line to `.gitignore` (so `--purge`
    /// removes it again).
    #[serde(default)]
    pub gitignore_added: bool,
    /// ... and created `.gitignore` to do so (so `--purge` deletes it when nothing else is left).
    #[serde(default)]
    pub gitignore_created: bool,
}

/// A record that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// It cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// It is not a record this version understands.
    #[error("{} is not a record pyve-testenv understands: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Record {
    /// The record in the test environment's directory (`.pyve/testenv`); `None` when there is
    /// none.
    pub fn load(testenv_dir: &Path) -> Result<Option<Record>, RecordError> {
        let path = testenv_dir.join(FILE);
        let bytes = match pyve_fs::read_bounded(&path, pyve_fs::READ_LIMIT) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(RecordError::Read { path, source }),
        };
        Record::parse(&bytes).map(Some).map_err(|reason| RecordError::Invalid { path, reason })
    }

    /// Parse the file's content.
    pub fn parse(bytes: &[u8]) -> Result<Record, String> {
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => return Err(format!("format {f}, this version reads format {FORMAT}")),
            None => return Err("it has no `format`".into()),
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// The file's content: pretty JSON with a final newline.
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a record serializes");
        text.push('\n');
        text
    }

    /// Write the record into `testenv_dir`, atomically (a temporary file renamed into place).
    pub fn save(&self, testenv_dir: &Path) -> io::Result<()> {
        write_atomically(&testenv_dir.join(FILE), self.to_text().as_bytes())
    }
}

/// Replace `path` with `content` through a temporary sibling and a rename, keeping the
/// permissions of the file it replaces. A symbolic link is written through.
pub fn write_atomically(path: &Path, content: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // A link at `path` is replaced, never written through (callers resolve links they follow).
    let meta = fs::symlink_metadata(path).ok().filter(|m| m.is_file());
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.pyve-tmp-{}", std::process::id()));
    let result = (|| {
        fs::write(&tmp, content)?;
        if let Some(m) = &meta {
            fs::set_permissions(&tmp, fs::Permissions::from_mode(m.permissions().mode()))?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// `time` as RFC 3339 in UTC, to the second: `2025-06-01T09:30:00Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample() -> Record {
        Record {
            format: FORMAT,
            python_version: "3.12.1".into(),
            interpreter: "/home/u/.pyenv/versions/3.12.1/bin/python3.12".into(),
            source: "pinned in .python-version".into(),
            created_at: "2025-06-01T09:30:00Z".into(),
            created_by: "pyve-testenv 0.1.0".into(),
            pyve_version: Some("0.1.0".into()),
            gitignore_added: true,
            gitignore_created: false,
        }
    }

    #[test]
    fn round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Record::load(dir.path()).unwrap().is_none());
        let r = sample();
        r.save(dir.path()).unwrap();
        let text = fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert!(text.starts_with("{\n  \"format\": 1,\n  \"python_version\": \"3.12.1\",\n"), "{text}");
        assert!(text.ends_with("}\n"));
        assert_eq!(Record::load(dir.path()).unwrap(), Some(r));
        // Nothing left beside it.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn optional_and_unknown_keys() {
        let text = br#"{"format": 1, "python_version": "3.11.7", "interpreter": "/usr/bin/python3.11",
            "source": "the newest installed", "created_at": "2025-01-01T00:00:00Z",
            "created_by": "pyve-testenv 0.1.0", "future": {"x": 1}}"#;
        let r = Record::parse(text).unwrap();
        assert_eq!((r.pyve_version, r.gitignore_added, r.gitignore_created), (None, false, false));
        assert!(!sample().to_text().contains("null"));
        let mut no_pyve = sample();
        no_pyve.pyve_version = None;
        assert!(!no_pyve.to_text().contains("pyve_version"));
    }

    #[test]
    fn bad_records_are_errors() {
        assert!(Record::parse(b"not json").is_err());
        assert_eq!(Record::parse(b"{}").unwrap_err(), "it has no `format`");
        assert_eq!(Record::parse(br#"{"format": 2}"#).unwrap_err(), "format 2, this version reads format 1");
        assert!(Record::parse(br#"{"format": 1, "python_version": 3}"#).is_err());
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE), "{").unwrap();
        let e = Record::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("testenv.json is not a record pyve-testenv understands"), "{e}");
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_748_770_200)), "2025-06-01T09:30:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(4_102_444_799)), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn a_record_that_is_not_a_small_regular_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = Record::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains(FILE) && e.contains("named pipe"), "{e}");
        fs::remove_file(&path).unwrap();
        fs::File::create(&path).unwrap().set_len(16 << 30).unwrap();
        let e = Record::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains(FILE) && e.contains("larger than 1 MiB"), "{e}");
    }
}
