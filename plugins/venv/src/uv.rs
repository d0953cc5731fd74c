//! uv, provisioned once into pyve's cache when it is not on `PATH`: uv ships as a binary
//! wheel (`uv-X.Y.Z-py3-none-<platform>.whl`, its executable in `uv-X.Y.Z.data/scripts/uv`),
//! so the environment's own `pip download` fetches it through the user's index
//! configuration, exactly like the seeding wheels.
//!
//! ```text
//! <cache>/uv/uv-0.13.9/uv      the binary, checked to run `uv --version` before it is used
//! <cache>/uv/current           the name of the directory to use (`uv-0.13.9`), replaced by rename
//! ```
//!
//! A directory is renamed into place only once its binary ran: a half-written or broken
//! download is never used. `PYVE_NO_UV=1` turns all of this off ([`disabled`]).

use std::fs;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, IoContext};
use pyve_wheels::temp::TempDir;

/// The directory under a cache root that holds provisioned uv binaries.
pub const UV_SUBDIR: &str = "uv";

/// The variable that keeps plain pip (`1`).
pub const NO_UV_VAR: &str = "PYVE_NO_UV";

/// Whether `PYVE_NO_UV=1`.
pub fn disabled() -> bool {
    std::env::var_os(NO_UV_VAR).is_some_and(|v| v == "1")
}

/// The provisioned uv in `cache`, when there is one that is an executable file.
pub fn cached(cache: &Path) -> Option<PathBuf> {
    let root = cache.join(UV_SUBDIR);
    let name = fs::read_to_string(root.join("current")).ok()?;
    let name = name.trim();
    if name.is_empty() || name.contains('/') || name.starts_with('.') {
        return None;
    }
    let uv = root.join(name).join("uv");
    fs::metadata(&uv).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).then_some(uv)
}

/// A provisioning in progress: a temporary directory in the cache.
pub struct Provision {
    tmp: TempDir,
    root: PathBuf,
}

impl Provision {
    /// Prepare provisioning into `cache`.
    pub fn prepare(cache: &Path) -> Result<Provision, Error> {
        let root = cache.join(UV_SUBDIR);
        fs::create_dir_all(&root).ctx("create the cache directory", &root)?;
        let _ = crate::layout::cleanup_stale_temps(&root);
        let tmp = TempDir::create(&root, "provision")?;
        Ok(Provision { tmp, root })
    }

    /// `<python> -m pip download` of the `uv` wheel for this platform (no dependencies).
    pub fn command(&self, python: &Path) -> Command {
        let mut cmd = crate::wheels::pip_download(python, self.tmp.path());
        cmd.args(["--no-deps", "uv"]);
        cmd
    }

    /// Unpack the downloaded wheel's `uv`, check that it runs, and move it into place.
    /// Returns the binary and its `uv --version` line.
    pub fn finish(self) -> Result<(PathBuf, String), Error> {
        let dir = self.tmp.path();
        let wheel = fs::read_dir(dir)
            .ctx("list", dir)?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("uv-") && n.ends_with(".whl"))
            })
            .ok_or_else(|| Error::Wheel {
                path: dir.to_path_buf(),
                reason: "pip download did not download uv".into(),
            })?;
        let bad = |reason: String| Error::Wheel { path: wheel.clone(), reason };
        let file = fs::File::open(&wheel).ctx("open", &wheel)?;
        let mut zip =
            zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(format!("not a zip archive: {e}")))?;
        let name = (0..zip.len())
            .filter_map(|i| zip.name_for_index(i).and_then(|n| n.ok()).map(|n| n.into_owned()))
            .find(|n| {
                let mut parts = n.split('/');
                matches!((parts.next(), parts.next(), parts.next(), parts.next()),
                    (Some(top), Some("scripts"), Some("uv"), None) if top.starts_with("uv-") && top.ends_with(".data"))
            })
            .ok_or_else(|| bad("no uv-*.data/scripts/uv in the wheel".into()))?;
        let version = name.trim_start_matches("uv-").split(".data/").next().unwrap_or_default().to_owned();
        let mut entry = zip.by_name(&name).map_err(|e| bad(format!("cannot read {name}: {e}")))?;
        let bin_dir = dir.join("bin");
        fs::create_dir(&bin_dir).ctx("create directory", &bin_dir)?;
        let uv = bin_dir.join("uv");
        let mut out = fs::OpenOptions::new().write(true).create_new(true).mode(0o755).open(&uv).ctx("create", &uv)?;
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(|e| bad(format!("cannot extract {name}: {e}")))?;
        std::io::Write::write_all(&mut out, &data).ctx("write", &uv)?;
        drop(out);
        // It must run before it is used.
        let ran = Command::new(&uv).arg("--version").stdin(Stdio::null()).stderr(Stdio::null()).output();
        let line = match ran {
            Ok(o) if o.status.success() && o.stdout.starts_with(b"uv ") => {
                String::from_utf8_lossy(&o.stdout).trim().to_owned()
            }
            Ok(o) => return Err(bad(format!("the unpacked uv does not run (`uv --version`: {})", o.status))),
            Err(e) => return Err(bad(format!("the unpacked uv does not run: {e}"))),
        };
        let final_dir = self.root.join(format!("uv-{version}"));
        if fs::rename(&bin_dir, &final_dir).is_err() && cached_in(&final_dir).is_none() {
            // A broken directory of that name: replace it.
            let _ = fs::remove_dir_all(&final_dir);
            fs::rename(&bin_dir, &final_dir).ctx("move into place", &final_dir)?;
        }
        let pointer = dir.join("current");
        fs::write(&pointer, format!("uv-{version}\n")).ctx("write", &pointer)?;
        let current = self.root.join("current");
        fs::rename(&pointer, &current).ctx("move into place", &current)?;
        Ok((final_dir.join("uv"), line))
    }
}

fn cached_in(dir: &Path) -> Option<PathBuf> {
    let uv = dir.join("uv");
    fs::metadata(&uv).is_ok_and(|m| m.is_file()).then_some(uv)
}
