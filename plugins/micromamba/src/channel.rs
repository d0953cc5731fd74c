//! Writing a local conda channel: noarch packages (`.tar.bz2` or `.conda`, with rattler's own
//! package writers) and each subdir's `repodata.json`. Tests and benchmarks build their
//! channels with it at run time, so nothing is downloaded.

use std::io;
use std::path::{Path, PathBuf};

use rattler_conda_types::compression_level::CompressionLevel;
use rattler_digest::{Md5, Sha256, compute_bytes_digest, compute_file_digest};
use serde_json::{Value, json};

/// The placeholder conda packages carry where their install prefix goes.
pub const PREFIX_PLACEHOLDER: &str = "/opt/anaconda1anaconda2anaconda3";

/// The archive format of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.tar.bz2`.
    TarBz2,
    /// `.conda`.
    Conda,
}

/// One noarch package to write.
#[derive(Debug, Clone)]
pub struct Package {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Match specs of its dependencies.
    pub depends: Vec<String>,
    /// Files: path inside the prefix, contents, executable. A file whose contents hold
    /// [`PREFIX_PLACEHOLDER`] is recorded so that the installer writes the prefix in.
    pub files: Vec<(String, String, bool)>,
    /// Archive format.
    pub format: Format,
    /// Symbolic links in the package: path inside the prefix, target (for tests of hostile
    /// packages; recorded in `info/paths.json` as `softlink`).
    pub links: Vec<(String, String)>,
    /// Extra `info/paths.json` entries written as given, with no file behind them (for tests
    /// of hostile packages: `{"_path": "../../x", ...}`).
    pub raw_paths: Vec<Value>,
}

impl Package {
    /// A package with one executable `bin/<command>` script that prints `output` and the
    /// prefix it was installed into (`prefix=<PREFIX>`).
    pub fn with_command(name: &str, version: &str, command: &str, output: &str, format: Format) -> Package {
        let script = format!("#!/bin/sh\necho \"{output}\"\necho \"prefix={PREFIX_PLACEHOLDER}\"\n");
        Package {
            name: name.into(),
            version: version.into(),
            depends: Vec::new(),
            files: vec![(format!("bin/{command}"), script, true)],
            format,
            links: Vec::new(),
            raw_paths: Vec::new(),
        }
    }

    /// The archive's file name.
    pub fn file_name(&self) -> String {
        let ext = match self.format {
            Format::TarBz2 => "tar.bz2",
            Format::Conda => "conda",
        };
        format!("{}-{}-0.{ext}", self.name, self.version)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write(path: &Path, contents: &[u8]) -> io::Result<()> {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p)?;
    }
    std::fs::write(path, contents)
}

fn package_dir(pkg: &Package, dir: &Path) -> io::Result<Vec<PathBuf>> {
    use std::os::unix::fs::PermissionsExt;
    let mut paths = Vec::new();
    let mut entries = Vec::new();
    for (rel, contents, exec) in &pkg.files {
        let p = dir.join(rel);
        write(&p, contents.as_bytes())?;
        if *exec {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        }
        let mut e = json!({
            "_path": rel,
            "path_type": "hardlink",
            "sha256": hex(&compute_bytes_digest::<Sha256>(contents.as_bytes())),
            "size_in_bytes": contents.len(),
        });
        if contents.contains(PREFIX_PLACEHOLDER) {
            e["prefix_placeholder"] = PREFIX_PLACEHOLDER.into();
            e["file_mode"] = "text".into();
        }
        entries.push(e);
        paths.push(PathBuf::from(rel));
    }
    for (rel, target) in &pkg.links {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::os::unix::fs::symlink(target, &p)?;
        entries.push(json!({"_path": rel, "path_type": "softlink", "size_in_bytes": 0}));
        paths.push(PathBuf::from(rel));
    }
    entries.extend(pkg.raw_paths.iter().cloned());
    let index = index_json(pkg);
    write(&dir.join("info/index.json"), serde_json::to_string_pretty(&index)?.as_bytes())?;
    write(
        &dir.join("info/paths.json"),
        serde_json::to_string_pretty(&json!({"paths": entries, "paths_version": 1}))?.as_bytes(),
    )?;
    let files: String = pkg.files.iter().map(|(r, _, _)| format!("{r}\n")).collect();
    let files = files + &pkg.links.iter().map(|(r, _)| format!("{r}\n")).collect::<String>();
    write(&dir.join("info/files"), files.as_bytes())?;
    paths.extend(["info/index.json", "info/paths.json", "info/files"].map(PathBuf::from));
    Ok(paths)
}

fn index_json(pkg: &Package) -> Value {
    json!({
        "name": pkg.name,
        "version": pkg.version,
        "build": "0",
        "build_number": 0,
        "depends": pkg.depends,
        "noarch": "generic",
        "subdir": "noarch",
        "license": "MIT",
    })
}

/// Write `packages` into the channel at `dir` (`noarch/` with the archives and
/// `repodata.json`, and an empty `repodata.json` for `platform`). Returns each archive's
/// path, md5 and sha256, in order.
pub fn write_channel(dir: &Path, platform: &str, packages: &[Package]) -> io::Result<Vec<(PathBuf, String, String)>> {
    let noarch = dir.join("noarch");
    std::fs::create_dir_all(&noarch)?;
    let mut tar = serde_json::Map::new();
    let mut conda = serde_json::Map::new();
    let mut out = Vec::new();
    for pkg in packages {
        let work = tempfile::tempdir_in(dir)?;
        let paths: Vec<PathBuf> = package_dir(pkg, work.path())?.iter().map(|p| work.path().join(p)).collect();
        let file_name = pkg.file_name();
        let archive = noarch.join(&file_name);
        let f = std::fs::File::create(&archive)?;
        let ts = jiff::Timestamp::from_second(1_700_000_000).ok();
        match pkg.format {
            Format::TarBz2 => rattler_package_streaming::write::write_tar_bz2_package(
                f,
                work.path(),
                &paths,
                CompressionLevel::Default,
                ts.as_ref(),
                None,
            )?,
            Format::Conda => rattler_package_streaming::write::write_conda_package(
                f,
                work.path(),
                &paths,
                CompressionLevel::Default,
                None,
                file_name.trim_end_matches(".conda"),
                ts.as_ref(),
                None,
            )?,
        }
        let md5 = hex(&compute_file_digest::<Md5>(&archive)?);
        let sha256 = hex(&compute_file_digest::<Sha256>(&archive)?);
        let mut rec = index_json(pkg);
        rec["md5"] = md5.clone().into();
        rec["sha256"] = sha256.clone().into();
        rec["size"] = std::fs::metadata(&archive)?.len().into();
        match pkg.format {
            Format::TarBz2 => tar.insert(file_name, rec),
            Format::Conda => conda.insert(file_name, rec),
        };
        out.push((archive, md5, sha256));
    }
    let repodata =
        json!({"info": {"subdir": "noarch"}, "packages": tar, "packages.conda": conda, "repodata_version": 1});
    write(&noarch.join("repodata.json"), serde_json::to_string_pretty(&repodata)?.as_bytes())?;
    let empty = json!({"info": {"subdir": platform}, "packages": {}, "packages.conda": {}, "repodata_version": 1});
    write(&dir.join(platform).join("repodata.json"), serde_json::to_string_pretty(&empty)?.as_bytes())?;
    Ok(out)
}

/// A conda-lock.yml (version 1) for `packages` of the channel at `channel`, as written by
/// [`write_channel`] (`written` is its result).
pub fn lock_yml(channel: &Path, platform: &str, packages: &[Package], written: &[(PathBuf, String, String)]) -> String {
    let mut s = format!(
        "version: 1\nmetadata:\n  content_hash: {{}}\n  channels:\n  - url: {}\n    used_env_vars: []\n  platforms:\n  - {platform}\n  sources:\n  - environment.yml\npackage:\n",
        channel.display()
    );
    for (pkg, (archive, md5, sha256)) in packages.iter().zip(written) {
        s.push_str(&format!(
            "- name: {}\n  version: '{}'\n  manager: conda\n  platform: {platform}\n  dependencies: {{{}}}\n  url: file://{}\n  hash:\n    md5: {md5}\n    sha256: {sha256}\n  category: main\n  optional: false\n",
            pkg.name,
            pkg.version,
            pkg.depends
                .iter()
                .map(|d| {
                    let mut it = d.splitn(2, ' ');
                    let n = it.next().unwrap_or_default();
                    format!("{n}: '{}'", it.next().unwrap_or("*"))
                })
                .collect::<Vec<_>>()
                .join(", "),
            archive.display()
        ));
    }
    s
}
