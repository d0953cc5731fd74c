//! Downloading micromamba (bootstrap): from `<base>/<platform>/latest` (micro.mamba.pm by
//! default, `PYVE_MICROMAMBA_URL` overrides the base) into the project's `.pyve/bin` or the
//! user's `$PYVE_HOME/bin`.
//!
//! The download goes to a temporary file beside the target (redirects followed, at most 10; a
//! response that stalls longer than the stall timeout fails), the archive type comes from its
//! magic bytes (bzip2 tar, what micro.mamba.pm serves, or gzip tar), only `bin/micromamba` is
//! extracted, into a second temporary file beside the target, made 0755 and asked `--version`
//! (bounded time) before it is renamed into place. When the source publishes a sha256 (the
//! `X-Checksum-Sha256` header of the archive's response, or a `<url>.sha256` file next to the
//! URL asked or to the URL redirected to), the archive must match it.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rattler_digest::digest::Digest;

/// Overrides the base URL (`<base>/<platform>/latest` is downloaded).
pub const URL_VAR: &str = "PYVE_MICROMAMBA_URL";
/// Overrides the stall timeout, in seconds (fractions allowed).
pub const TIMEOUT_VAR: &str = "PYVE_MICROMAMBA_TIMEOUT";
/// The default base URL.
pub const DEFAULT_BASE: &str = "https://micro.mamba.pm/api/micromamba";
/// How long a connection or a read may stall by default.
pub const DEFAULT_STALL: Duration = Duration::from_secs(30);
/// The largest archive accepted, and the largest `bin/micromamba` extracted.
pub const MAX_SIZE: u64 = 512 << 20;

/// Where the binary goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `<project>/.pyve/bin/micromamba`.
    Project,
    /// `$PYVE_HOME/bin/micromamba`.
    User,
}

impl Target {
    /// `project` or `user`.
    pub fn parse(s: &str) -> Option<Target> {
        match s {
            "project" => Some(Target::Project),
            "user" => Some(Target::User),
            _ => None,
        }
    }

    /// The binary's path for this target.
    pub fn path(self, root: &Path, pyve_home: Option<&Path>) -> Option<PathBuf> {
        match self {
            Target::Project => Some(crate::discovery::project_binary(root)),
            Target::User => crate::discovery::user_binary(pyve_home),
        }
    }
}

/// Where to download from and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The archive's URL.
    pub url: String,
    /// How long a connection or a read may stall.
    pub stall: Duration,
    /// How long the downloaded binary's `--version` may take.
    pub version_timeout: Duration,
}

impl Source {
    /// From `PYVE_MICROMAMBA_URL` (the base) and `PYVE_MICROMAMBA_TIMEOUT`, for this machine.
    pub fn from_env() -> Result<Source, String> {
        let base = std::env::var(URL_VAR).ok().filter(|v| !v.is_empty());
        let stall = match std::env::var(TIMEOUT_VAR).ok().filter(|v| !v.is_empty()) {
            None => DEFAULT_STALL,
            Some(t) => t
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("{TIMEOUT_VAR} must be a positive number of seconds, not '{t}'"))?,
        };
        Ok(Source {
            url: archive_url(base.as_deref().unwrap_or(DEFAULT_BASE), crate::lock::platform()),
            stall,
            version_timeout: crate::discovery::VERSION_TIMEOUT,
        })
    }
}

/// `<base>/<platform>/latest`.
pub fn archive_url(base: &str, platform: &str) -> String {
    format!("{}/{platform}/latest", base.trim_end_matches('/'))
}

/// What a bootstrap installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The binary.
    pub path: PathBuf,
    /// Its `--version`.
    pub version: String,
    /// The archive's sha256 (hex).
    pub sha256: String,
    /// Where the published sha256 the archive matched came from; `None` when none is published.
    pub verified_by: Option<String>,
}

/// Why a bootstrap failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BootstrapError {
    /// The caller asked to stop.
    #[error("cancelled")]
    Cancelled,
    /// Anything else, said in one line.
    #[error("{0}")]
    Failed(String),
}

fn failed(s: impl Into<String>) -> BootstrapError {
    BootstrapError::Failed(s.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bzip2,
    Gzip,
}

fn kind_of(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"BZh") {
        Some(Kind::Bzip2)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Some(Kind::Gzip)
    } else {
        None
    }
}

/// Download micromamba from `source` to `target`; `progress(done, total)` is called as bytes
/// arrive and stops the download (with [`BootstrapError::Cancelled`]) when it returns false.
/// Nothing is left beside `target` on failure, and an existing `target` is only replaced by a
/// binary that answered `--version`.
pub fn install(
    source: &Source,
    target: &Path,
    progress: &mut dyn FnMut(u64, Option<u64>) -> bool,
) -> Result<Installed, BootstrapError> {
    let dir = target.parent().ok_or_else(|| failed(format!("{} has no parent directory", target.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    let mut archive = tempfile::Builder::new()
        .prefix(".micromamba.download-")
        .tempfile_in(dir)
        .map_err(|e| failed(format!("cannot create a temporary file in {}: {e}", dir.display())))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the downloader: {e}")))?;
    let (sha256, verified_by) = rt.block_on(download(source, archive.as_file_mut(), progress))?;
    drop(rt);

    let file = archive.as_file_mut();
    file.rewind().map_err(|e| failed(format!("cannot read the download back: {e}")))?;
    let mut head = [0u8; 4];
    let n = file.read(&mut head).map_err(|e| failed(format!("cannot read the download back: {e}")))?;
    file.rewind().map_err(|e| failed(format!("cannot read the download back: {e}")))?;
    if n == 0 {
        return Err(failed(format!("{} returned an empty body", source.url)));
    }
    let kind = kind_of(&head[..n]).ok_or_else(|| {
        failed(format!("{} did not return a bzip2 or gzip archive (it starts with {:02x?})", source.url, &head[..n]))
    })?;
    let reader = std::io::BufReader::new(&mut *file);
    let decoder: Box<dyn Read + '_> = match kind {
        Kind::Bzip2 => Box::new(bzip2::read::BzDecoder::new(reader)),
        Kind::Gzip => Box::new(flate2::read::GzDecoder::new(reader)),
    };

    let mut binary = tempfile::Builder::new()
        .prefix(".micromamba.tmp-")
        .tempfile_in(dir)
        .map_err(|e| failed(format!("cannot create a temporary file in {}: {e}", dir.display())))?;
    extract_binary(decoder, binary.as_file_mut(), &source.url)?;
    drop(archive);
    let binary = binary.into_temp_path();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| failed(format!("cannot make {} executable: {e}", binary.display())))?;
    }
    let version = crate::discovery::version_within(&binary, source.version_timeout)
        .map_err(|e| failed(format!("the downloaded micromamba does not work: {e}")))?;
    binary.persist(target).map_err(|e| failed(format!("cannot move micromamba into {}: {e}", target.display())))?;
    Ok(Installed { path: target.to_path_buf(), version, sha256, verified_by })
}

/// Copy the archive's `bin/micromamba` (a regular file) to `out`.
fn extract_binary(decoder: impl Read, out: &mut std::fs::File, url: &str) -> Result<(), BootstrapError> {
    let bad = |e: std::io::Error| failed(format!("the archive from {url} is not a readable tar archive: {e}"));
    let mut tar = tar::Archive::new(decoder);
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let path = entry.path().map_err(bad)?.into_owned();
        let path = path.strip_prefix(".").unwrap_or(&path);
        if path != Path::new("bin/micromamba") {
            continue;
        }
        if !entry.header().entry_type().is_file() {
            return Err(failed(format!("bin/micromamba in the archive from {url} is not a regular file")));
        }
        if entry.size() > MAX_SIZE {
            return Err(failed(format!("bin/micromamba in the archive from {url} is larger than {MAX_SIZE} bytes")));
        }
        std::io::copy(&mut (&mut entry).take(MAX_SIZE), out).map_err(bad)?;
        out.sync_all().map_err(|e| failed(format!("cannot write micromamba: {e}")))?;
        return Ok(());
    }
    Err(failed(format!("the archive from {url} has no bin/micromamba")))
}

fn client(source: &Source) -> Result<reqwest::Client, BootstrapError> {
    crate::install_tls_provider();
    reqwest::Client::builder()
        .connect_timeout(source.stall)
        .read_timeout(source.stall)
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(|e| failed(format!("cannot start the downloader: {e}")))
}

fn stalled(source: &Source, e: reqwest::Error) -> BootstrapError {
    if e.is_timeout() {
        failed(format!("downloading {} stalled for more than {:?}", source.url, source.stall))
    } else {
        failed(format!("cannot download {}: {e}", source.url))
    }
}

/// Download into `out`: the archive's sha256 and where the published one it matched came from.
async fn download(
    source: &Source,
    out: &mut std::fs::File,
    progress: &mut dyn FnMut(u64, Option<u64>) -> bool,
) -> Result<(String, Option<String>), BootstrapError> {
    let client = client(source)?;
    let mut resp = client.get(&source.url).send().await.map_err(|e| stalled(source, e))?;
    if !resp.status().is_success() {
        return Err(failed(format!("{} answered HTTP {}", source.url, resp.status())));
    }
    let final_url = resp.url().to_string();
    let header =
        resp.headers().get("x-checksum-sha256").and_then(|v| v.to_str().ok()).map(|v| v.trim().to_ascii_lowercase());
    let total = resp.content_length();
    let mut hasher = rattler_digest::Sha256::new();
    let mut done = 0u64;
    if !progress(0, total) {
        return Err(BootstrapError::Cancelled);
    }
    while let Some(chunk) = resp.chunk().await.map_err(|e| stalled(source, e))? {
        done += chunk.len() as u64;
        if done > MAX_SIZE {
            return Err(failed(format!("{} sent more than {MAX_SIZE} bytes", source.url)));
        }
        hasher.update(&chunk);
        out.write_all(&chunk).map_err(|e| failed(format!("cannot write the download: {e}")))?;
        if !progress(done, total) {
            return Err(BootstrapError::Cancelled);
        }
    }
    let sha256 = hex(&hasher.finalize());
    let published = match header {
        Some(h) => Some((h, format!("the X-Checksum-Sha256 header of {final_url}"))),
        None => {
            let mut found = None;
            let mut urls = vec![format!("{}.sha256", source.url)];
            if final_url != source.url {
                urls.push(format!("{final_url}.sha256"));
            }
            for u in urls {
                if let Some(h) = published_sha256(&client, &u).await? {
                    found = Some((h, u));
                    break;
                }
            }
            found
        }
    };
    match published {
        None => Ok((sha256, None)),
        Some((want, from)) if want == sha256 => Ok((sha256, Some(from))),
        Some((want, from)) => Err(failed(format!(
            "the archive from {} has sha256 {sha256}, but {from} publishes {want}; nothing was installed",
            source.url
        ))),
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha256 published at `url`: `None` when there is none (no answer, or not 2xx); an error
/// when what is there is not a sha256.
async fn published_sha256(client: &reqwest::Client, url: &str) -> Result<Option<String>, BootstrapError> {
    let Ok(resp) = client.get(url).send().await else { return Ok(None) };
    if !resp.status().is_success() {
        return Ok(None);
    }
    let Ok(text) = resp.text().await else { return Ok(None) };
    let word = text.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    if word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(Some(word))
    } else {
        Err(failed(format!("{url} is not a sha256 (it starts with {:?})", text.chars().take(40).collect::<String>())))
    }
}

/// Test helpers: archives holding a `bin/micromamba`, and a loopback HTTP server.
#[doc(hidden)]
pub mod testing {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// A tar archive with `files` (path, contents, mode), compressed as `gzip` or bzip2.
    pub fn archive(files: &[(&str, &[u8], u32)], gzip: bool) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data, mode) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_cksum();
            tar.append_data(&mut h, path, *data).unwrap();
        }
        let raw = tar.into_inner().unwrap();
        if gzip {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&raw).unwrap();
            e.finish().unwrap()
        } else {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(&raw).unwrap();
            e.finish().unwrap()
        }
    }

    /// A `bin/micromamba` shell script printing `micromamba <version>` for `--version`.
    pub fn script(version: &str) -> Vec<u8> {
        format!("#!/bin/sh\nif [ \"$1\" = --version ]; then echo {version}; exit 0; fi\nexit 0\n").into_bytes()
    }

    /// What the server answers for a path.
    #[derive(Debug, Clone)]
    pub enum Reply {
        /// 200 with this body (and these extra headers).
        Body(Vec<u8>, Vec<(String, String)>),
        /// A 302 to this path.
        Redirect(String),
        /// Headers promising a body, then nothing for this long.
        Stall(Duration),
    }

    /// Serve `routes` (path → reply; anything else is a 404) on a loopback port, in a thread,
    /// until the process ends. Returns `http://127.0.0.1:PORT`.
    pub fn serve(routes: Vec<(String, Reply)>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let routes = routes.clone();
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).map(|n| n == 0).unwrap_or(true) || h == "\r\n" {
                            break;
                        }
                    }
                    let reply = routes.iter().find(|(p, _)| *p == path).map(|(_, r)| r.clone());
                    let _ = match reply {
                        None => stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
                        Some(Reply::Redirect(to)) => stream.write_all(
                            format!(
                                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            )
                            .as_bytes(),
                        ),
                        Some(Reply::Body(body, headers)) => {
                            let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
                                body.len()
                            );
                            stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&body))
                        }
                        Some(Reply::Stall(d)) => {
                            let r = stream.write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nConnection: close\r\n\r\nBZh",
                            );
                            std::thread::sleep(d);
                            r
                        }
                    };
                });
            }
        });
        format!("http://{addr}")
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{Reply, archive, script, serve};
    use super::*;

    fn source(url: String) -> Source {
        Source { url, stall: Duration::from_millis(500), version_timeout: Duration::from_secs(5) }
    }

    fn run(
        routes: Vec<(String, Reply)>,
        path: &str,
    ) -> (tempfile::TempDir, PathBuf, Result<Installed, BootstrapError>) {
        let base = serve(routes);
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("bin/micromamba");
        let mut calls = 0;
        let r = install(&source(format!("{base}{path}")), &target, &mut |_, _| {
            calls += 1;
            true
        });
        assert!(calls > 0 || r.is_err());
        (d, target, r)
    }

    fn body(b: Vec<u8>) -> Reply {
        Reply::Body(b, Vec::new())
    }

    /// Only the target may be left in its directory.
    fn nothing_beside(target: &Path) {
        let left: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "micromamba")
            .collect();
        assert!(left.is_empty(), "left beside the target: {left:?}");
    }

    #[test]
    fn bzip2_and_gzip_archives_install_only_bin_micromamba_0755() {
        use std::os::unix::fs::PermissionsExt;
        for gzip in [false, true] {
            let a = archive(
                &[("info/index.json", b"{}", 0o644), ("bin/micromamba", &script("micromamba 2.1.0"), 0o600)],
                gzip,
            );
            let (_d, target, r) = run(vec![("/linux-64/latest".into(), body(a))], "/linux-64/latest");
            let i = r.unwrap();
            assert_eq!((i.path.clone(), i.version.as_str(), i.verified_by.clone()), (target.clone(), "2.1.0", None));
            assert_eq!(std::fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o755);
            nothing_beside(&target);
            assert!(!target.parent().unwrap().parent().unwrap().join("info").exists(), "only bin/micromamba");
        }
    }

    #[test]
    fn a_redirect_is_followed_and_a_published_sha256_is_checked() {
        let a = archive(&[("bin/micromamba", &script("micromamba 2.0.5"), 0o755)], false);
        let sum = hex(&rattler_digest::compute_bytes_digest::<rattler_digest::Sha256>(&a));
        let routes = vec![
            ("/latest".into(), Reply::Redirect("/files/micromamba.tar.bz2".into())),
            ("/files/micromamba.tar.bz2".into(), body(a.clone())),
            ("/files/micromamba.tar.bz2.sha256".into(), body(format!("{sum}  micromamba.tar.bz2\n").into_bytes())),
        ];
        let (_d, _t, r) = run(routes, "/latest");
        let i = r.unwrap();
        assert_eq!(i.sha256, sum);
        assert!(i.verified_by.unwrap().ends_with("/files/micromamba.tar.bz2.sha256"));
        // A header wins; a mismatch installs nothing.
        let bad = vec![("/latest".into(), Reply::Body(a.clone(), vec![("X-Checksum-Sha256".into(), "0".repeat(64))]))];
        let (_d, target, r) = run(bad, "/latest");
        let e = r.unwrap_err().to_string();
        assert!(e.contains("publishes 0000") && e.contains(&sum), "{e}");
        assert!(!target.exists());
        nothing_beside(&target);
        let bad = vec![("/latest".into(), body(a)), ("/latest.sha256".into(), body(b"<html>".to_vec()))];
        let e = run(bad, "/latest").2.unwrap_err().to_string();
        assert!(e.contains("is not a sha256"), "{e}");
    }

    #[test]
    fn failures_say_why_and_leave_nothing() {
        let cases: Vec<(Vec<(String, Reply)>, &str)> = vec![
            (vec![], "answered HTTP 404"),
            (vec![("/latest".into(), body(Vec::new()))], "empty body"),
            (vec![("/latest".into(), body(b"<html>not here</html>".to_vec()))], "not return a bzip2 or gzip archive"),
            (
                vec![("/latest".into(), body(archive(&[("bin/mamba", &script("micromamba 1.0.0"), 0o755)], true)))],
                "has no bin/micromamba",
            ),
            (
                vec![("/latest".into(), body(archive(&[("bin/micromamba", b"#!/bin/sh\nexit 3\n", 0o755)], false)))],
                "does not work",
            ),
            (vec![("/latest".into(), Reply::Stall(Duration::from_secs(5)))], "stalled for more than"),
        ];
        for (routes, want) in cases {
            let start = std::time::Instant::now();
            let (_d, target, r) = run(routes, "/latest");
            let e = r.unwrap_err().to_string();
            assert!(e.contains(want), "want {want:?}: {e}");
            assert!(start.elapsed() < Duration::from_secs(4), "{want}: took {:?}", start.elapsed());
            assert!(!target.exists(), "{want}");
            nothing_beside(&target);
        }
    }

    #[test]
    fn an_existing_binary_is_kept_when_the_new_one_fails() {
        let bad = archive(&[("bin/micromamba", b"#!/bin/sh\nexit 3\n", 0o755)], false);
        let base = serve(vec![("/latest".into(), body(bad))]);
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("micromamba");
        std::fs::write(&target, "old").unwrap();
        assert!(install(&source(format!("{base}/latest")), &target, &mut |_, _| true).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        let e = install(&source(format!("{base}/latest")), &target, &mut |_, _| false).unwrap_err();
        assert_eq!(e, BootstrapError::Cancelled);
    }

    #[test]
    fn urls_and_timeouts() {
        assert_eq!(archive_url("https://x/api/", "linux-64"), "https://x/api/linux-64/latest");
        assert_eq!(Target::parse("user"), Some(Target::User));
        assert_eq!(Target::parse("elsewhere"), None);
    }
}
