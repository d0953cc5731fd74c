//! The built-in engine: rattler's gateway, resolvo and installer, in-process.

use std::path::{Path, PathBuf};

use rattler::install::Installer;
use rattler_cache::package_cache::PackageCache;
use rattler_cache::validation::ValidationMode;
use rattler_conda_types::{Channel, GenericVirtualPackage, MatchSpec, NamedChannelOrUrl, RepoDataRecord, Subdir};
use rattler_repodata_gateway::Gateway;
use rattler_solve::{ChannelPriority, SolverImpl, SolverTask, resolvo};
use rattler_virtual_packages::{VirtualPackage, VirtualPackageOverrides};

use super::{CreateRequest, Created, Engine, EngineError, Package, Source};
use crate::condarc::{CondaConfig, Priority};
use crate::lock::platform;

/// The built-in engine.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

/// The rattler release this engine is built on.
pub const RATTLER_VERSION: &str = "0.55.5";

/// The async runtime every engine operation runs in; the TLS provider is installed first, as
/// rattler builds its default HTTP clients inside it.
fn runtime() -> Result<tokio::runtime::Runtime, EngineError> {
    crate::install_tls_provider();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| EngineError::Install(format!("cannot start the async runtime: {e}")))
}

/// The package cache: the first of the user's `pkgs_dirs` (`CONDA_PKGS_DIRS`), else
/// `<cache>/pkgs`.
fn pkgs_dir(conda: &CondaConfig, cache: &Path) -> PathBuf {
    conda.pkgs_dir().map_or_else(|| cache.join("pkgs"), Path::to_path_buf)
}

/// The HTTP client for the user's `ssl_verify` (`false`, or a CA bundle added to the roots)
/// and `proxy_servers` (`http`, `https`, `all`); rattler's default client when neither is set.
pub(crate) fn http_client(conda: &CondaConfig) -> Result<rattler_networking::LazyClient, EngineError> {
    use crate::condarc::SslVerify;
    crate::install_tls_provider();
    let bad = |what: String| EngineError::Channels(format!("conda configuration: {what}"));
    let mirrors = conda.mirror_map();
    if matches!(conda.ssl_verify, None | Some(SslVerify::Yes)) && conda.proxy_servers.is_empty() && mirrors.is_empty() {
        return Ok(rattler_networking::LazyClient::default());
    }
    let mut b = reqwest::Client::builder();
    match &conda.ssl_verify {
        Some(SslVerify::No) => b = b.tls_danger_accept_invalid_certs(true),
        Some(SslVerify::CaBundle(p)) => {
            let pem = std::fs::read(p).map_err(|e| bad(format!("ssl_verify: cannot read {}: {e}", p.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| bad(format!("ssl_verify: {} is not a PEM bundle: {e}", p.display())))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        _ => {}
    }
    for (scheme, url) in &conda.proxy_servers {
        let proxy = match scheme.as_str() {
            "http" => reqwest::Proxy::http(url),
            "https" => reqwest::Proxy::https(url),
            "all" => reqwest::Proxy::all(url),
            // conda also takes `scheme://host` keys; those are not applied.
            _ => continue,
        }
        .map_err(|e| bad(format!("proxy_servers.{scheme}: {e}")))?;
        b = b.proxy(proxy);
    }
    let client = b.build().map_err(|e| bad(format!("cannot make the HTTP client: {e}")))?;
    if mirrors.is_empty() {
        return Ok(client.into());
    }
    // Mirrors (mamba's `mirrored_channels`, pixi's `[mirrors]`): requests under a mirrored
    // channel go to its first live mirror; the channel's own URLs stay what the lock records.
    use rattler_networking::mirror_middleware::Mirror;
    let map = mirrors
        .into_iter()
        .filter_map(|(channel, urls)| {
            let channel = url::Url::parse(&channel).ok()?;
            let urls = urls.into_iter().map(|url| Mirror { url, no_zstd: false, no_bz2: false, max_failures: Some(3) });
            Some((channel, urls.collect()))
        })
        .collect();
    let with = reqwest_middleware::ClientBuilder::new(client)
        .with(rattler_networking::MirrorMiddleware::from_map(map))
        .build();
    Ok(with.into())
}

fn subdir() -> Subdir {
    Subdir::current().unwrap_or(Subdir::NoArch)
}

impl Builtin {
    /// Solve environment.yml's conda specs for this platform, installing nothing (what
    /// `pyve lock` writes): the records `create` would install, with their URLs and hashes.
    pub fn solve_only(
        &self,
        env: &crate::envfile::EnvFile,
        root: &Path,
        cache: &Path,
    ) -> Result<Vec<RepoDataRecord>, EngineError> {
        let mut records = runtime()?.block_on(self.solve(env, root, cache))?;
        records.sort_by(|a, b| a.package_record.name.as_normalized().cmp(b.package_record.name.as_normalized()));
        Ok(records)
    }

    /// Solve environment.yml's specs against its channels.
    async fn solve(
        &self,
        env: &crate::envfile::EnvFile,
        root: &Path,
        cache: &Path,
    ) -> Result<Vec<RepoDataRecord>, EngineError> {
        let conda = crate::condarc::CondaConfig::load();
        let config = conda.channel_config(root);
        let named = if env.channels.is_empty() {
            vec![NamedChannelOrUrl::Name("conda-forge".into())]
        } else {
            env.channels.clone()
        };
        let channels: Vec<Channel> = named
            .iter()
            .flat_map(|c| conda.expand(c))
            .map(|c| {
                let shown = c.to_string();
                c.into_channel(&config).map_err(|e| EngineError::Channels(format!("channel '{shown}': {e}")))
            })
            .collect::<Result<_, _>>()?;
        let gateway = Gateway::builder()
            .with_cache_dir(cache.join("repodata"))
            .with_package_cache(PackageCache::new(pkgs_dir(&conda, cache)))
            .with_client(http_client(&conda)?)
            .finish();
        // Every record of each named package, not only those matching its spec: channel
        // priority is about names (strict: a name comes only from the highest channel that has
        // it, whatever the versions there), so the solver must see the versions that do not fit.
        let names: Vec<MatchSpec> = env
            .specs
            .iter()
            .map(|s| s.name.as_exact().map_or_else(|| s.clone(), |n| MatchSpec::from(n.clone())))
            .collect();
        let repodata = gateway
            .query(channels, [subdir(), Subdir::NoArch], names)
            .recursive(true)
            .execute()
            .await
            .map_err(|e| EngineError::Channels(error_chain(&e)))?;
        let virtual_packages: Vec<GenericVirtualPackage> =
            // CONDA_OVERRIDE_CUDA, CONDA_OVERRIDE_GLIBC, ... as conda and micromamba honour them.
            VirtualPackage::detect(&VirtualPackageOverrides::from_env(), None)
                .map_err(|e| EngineError::Solve(format!("cannot detect this system's virtual packages: {e}")))?
                .into_iter()
                .map(GenericVirtualPackage::from)
                .collect();
        let task = SolverTask {
            specs: env.specs.clone(),
            virtual_packages,
            channel_priority: match conda.channel_priority {
                Some(Priority::Strict) | None => ChannelPriority::Strict,
                Some(Priority::Flexible) => ChannelPriority::Flexible,
                Some(Priority::Disabled) => ChannelPriority::Disabled,
            },
            ..SolverTask::from_iter(repodata.repodata.iter())
        };
        let solved = resolvo::Solver.solve(task).map_err(|e| EngineError::Solve(e.to_string()))?;
        Ok(solved.records)
    }
}

/// Check the archives of `file:` records against their hashes (sha256, else md5) before
/// anything is extracted (rattler checks only a sha256 for them), and record the sha256 of an
/// md5-only one so that the cache serves only that archive's contents.
fn verify_local_archives(mut records: Vec<RepoDataRecord>) -> Result<Vec<RepoDataRecord>, EngineError> {
    use rattler_digest::{Md5, Sha256, compute_file_digest};
    for r in &mut records {
        if r.url.scheme() != "file" {
            continue;
        }
        let id = r.identifier.to_string();
        let Ok(path) = r.url.to_file_path() else {
            return Err(EngineError::Install(format!("package {id}: {} is not a file path", r.url)));
        };
        let io = |e: std::io::Error| EngineError::Install(format!("package {id}: cannot read {}: {e}", path.display()));
        let sha256 = compute_file_digest::<Sha256>(&path).map_err(io)?;
        let (kind, expected, actual) = match (&r.package_record.sha256, &r.package_record.md5) {
            (Some(s), _) => ("sha256", hex(s), hex(&sha256)),
            (None, Some(m)) => ("md5", hex(m), hex(&compute_file_digest::<Md5>(&path).map_err(io)?)),
            (None, None) => continue,
        };
        if expected != actual {
            return Err(EngineError::Install(format!(
                "package {id} is refused: its {kind} is {actual}, the lock or channel records {expected} ({})",
                path.display()
            )));
        }
        r.package_record.sha256 = Some(sha256);
    }
    Ok(records)
}

/// Remove what a killed run left half-extracted in the shared package cache. rattler extracts
/// a package into a hidden temporary sibling (`.NAME-VERSION-BUILD` and six random characters)
/// and renames it into place while it holds the cache's global lock (`.cache.lock`, an advisory
/// file lock); a `kill -9` leaves the temporary directory behind, and nothing else ever removes
/// it. Taken with that lock held, every hidden directory there belongs to a run that is gone
/// (a live one would hold the lock), so it is removed. Best effort: without the lock, nothing
/// is touched.
async fn sweep_killed_extractions(cache: &PackageCache, pkgs: &Path) {
    if !pkgs.is_dir() {
        return;
    }
    let Ok(lock) = cache.acquire_global_lock().await else { return };
    if let Ok(entries) = std::fs::read_dir(pkgs) {
        for e in entries.filter_map(std::result::Result::ok) {
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            if hidden && e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    drop(lock);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Fetch every package into `cache` and check its contents ([`crate::contents`]) before the
/// installer links any of them. A refused package's extracted copy is removed from the cache.
async fn check_contents(cache: &PackageCache, records: &[RepoDataRecord]) -> Result<(), EngineError> {
    let client = http_client(&CondaConfig::load())?;
    let mut links = crate::contents::Links::default();
    for r in records {
        let id = r.identifier.to_string();
        let fetched = if r.url.scheme() == "file" {
            let path = r
                .url
                .to_file_path()
                .map_err(|()| EngineError::Install(format!("package {id}: {} is not a file path", r.url)))?;
            cache.get_or_fetch_from_path(&path, Some(&r.package_record), None).await
        } else {
            cache.get_or_fetch_from_url(&r.package_record, r.url.clone(), client.clone(), None, None).await
        };
        let meta = fetched.map_err(|e| EngineError::Install(format!("package {id}: {}", error_chain(&e))))?;
        if let Err(why) = crate::contents::check_package(&id, meta.path(), &mut links) {
            let _ = std::fs::remove_dir_all(meta.path());
            return Err(EngineError::Refused(why));
        }
    }
    links.check().map_err(EngineError::Refused)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

impl Engine for Builtin {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn version(&self) -> String {
        format!("rattler {RATTLER_VERSION}")
    }

    fn create(&self, req: &CreateRequest<'_>) -> Result<Created, EngineError> {
        let rt = runtime()?;
        rt.block_on(async {
            let records = match req.source {
                Source::EnvFile(env) => self.solve(env, req.root, &req.cache_dir).await?,
                Source::Lock(lock) => {
                    lock.conda_records(platform()).map_err(|e| EngineError::Install(e.to_string()))?
                }
            };
            let packages = records.len();
            // A record that only an md5 vouches for may match a cached copy nobody checked:
            // such installs fetch into a private cache, where every download is checked.
            let private = if records.iter().any(|r| r.package_record.sha256.is_none()) {
                Some(
                    tempfile::tempdir()
                        .map_err(|e| EngineError::Install(format!("cannot make a temporary cache: {e}")))?,
                )
            } else {
                None
            };
            let pkgs = private
                .as_ref()
                .map_or_else(|| pkgs_dir(&CondaConfig::load(), &req.cache_dir), |d| d.path().to_path_buf());
            let records = verify_local_archives(records)?;
            // `Fast`: a cached package is used only when every file its paths.json lists is
            // there; a half-extracted copy (an older rattler's, or one planted) is fetched again.
            let cache = PackageCache::new_layered(std::iter::once(pkgs.clone()), false, ValidationMode::Fast);
            sweep_killed_extractions(&cache, &pkgs).await;
            check_contents(&cache, &records).await?;
            let mut installer = Installer::new()
                .with_package_cache(cache)
                .with_target_platform(subdir())
                .with_execute_link_scripts(false);
            let in_place = req.build_dir == req.target;
            if !in_place {
                installer = installer.with_alternative_target_prefix(req.target);
            }
            installer.install(req.build_dir, records).await.map_err(|e| EngineError::Install(error_chain(&e)))?;
            Ok(Created { packages, built_in_place: in_place })
        })
    }

    fn list(&self, prefix: &Path) -> Result<Vec<Package>, EngineError> {
        let dir = prefix.join("conda-meta");
        let entries =
            std::fs::read_dir(&dir).map_err(|e| EngineError::Install(format!("cannot read {}: {e}", dir.display())))?;
        let mut out = Vec::new();
        for e in entries.filter_map(Result::ok) {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Ok(text) = pyve_fs::read_bounded_text(&p, pyve_fs::READ_LIMIT) else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
            out.push(Package { name: s("name"), version: s("version"), build: s("build"), channel: s("channel") });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condarc::SslVerify;

    #[test]
    fn ssl_verify_and_proxies_make_a_client_or_say_what_is_wrong() {
        let mut c = CondaConfig::default();
        assert!(http_client(&c).is_ok());
        c.ssl_verify = Some(SslVerify::No);
        c.proxy_servers.insert("https".into(), "http://proxy.invalid:3128".into());
        assert!(http_client(&c).is_ok());
        c.ssl_verify = Some(SslVerify::CaBundle("/nonexistent/ca.pem".into()));
        let e = http_client(&c).unwrap_err().to_string();
        assert!(e.contains("ssl_verify: cannot read /nonexistent/ca.pem"), "{e}");
    }
}
