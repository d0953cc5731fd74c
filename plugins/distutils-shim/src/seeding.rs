//! setuptools and wheel from pyve's seeding cache (`pyve_wheels`): linked from the
//! cache when it has them for this `X.Y`, else downloaded into it first with the
//! environment's own `pip download` (the user's index configuration applies), then linked.

use std::path::Path;

use pyve_wheels::{self as wheels, Fetch, Target};

use crate::process::{self, RunError};
use crate::{Cancelled, Level, Options, PythonInfo, Reporter, packages};

/// Install `missing` from the cache under `cache`, fetching what it lacks. `Ok(Ok((how,
/// wheels)))`: done, `how` finishes the user's `Installed setuptools, wheel ...` line, `wheels`
/// names what was linked (project, version and sha256 of each wheel, one a line) unless a
/// damaged cache entry had to be rebuilt; `Ok(Err(why))`: not done (nothing, or only whole
/// distributions, were installed), the caller falls back.
pub(crate) fn install(
    opts: &Options,
    info: &PythonInfo,
    site_packages: &Path,
    cache: &Path,
    missing: &[&'static str],
    reporter: &dyn Reporter,
) -> Result<Result<(&'static str, Option<String>), String>, Cancelled> {
    let (major, minor, _) = info.version;
    let python = opts.interpreter.to_string_lossy();
    let bin_dir = opts.env_path.join("bin");
    let target = Target { site_packages, bin_dir: &bin_dir, python: &python, major, minor };

    let found = wheels::lookup(cache, major, minor, missing);
    let mut missing = missing.to_vec();
    if let Some(found) = found {
        reporter.log(Level::Debug, &format!("linking {} from {}", missing.join(", "), cache.display()));
        match wheels::install(&found, &target, cache) {
            Ok(seeded) => {
                for w in &seeded {
                    reporter.log(Level::Debug, &format!("{} {}: {:?}", w.project, w.version, w.source));
                }
                return Ok(Ok(("from pyve's wheel cache", identity(&found, &seeded))));
            }
            Err(e) => {
                reporter
                    .log(Level::Debug, &format!("the cached wheels could not be installed ({e}); fetching them again"));
                // Only what is still missing (a whole distribution may have been installed).
                if let Ok(still) = packages::missing(site_packages) {
                    missing.retain(|p| still.contains(p));
                }
                if missing.is_empty() {
                    return Ok(Ok(("from pyve's wheel cache", None)));
                }
            }
        }
    }

    let fetch = match Fetch::prepare(cache, major, minor) {
        Ok(f) => f,
        Err(e) => return Ok(Err(format!("cannot use pyve's wheel cache: {e}"))),
    };
    let mut cmd = fetch.command(&opts.interpreter, &missing);
    cmd.current_dir(if opts.env_path.is_dir() { &opts.env_path } else { Path::new("/") });
    let list = missing.join(", ");
    reporter.log(Level::Debug, &format!("downloading {list} into {} with pip", cache.display()));
    reporter.begin(&format!("Downloading {list} into pyve's wheel cache (distutils shim)"));
    let done = process::run(&mut cmd, None, &|| reporter.is_cancelled());
    reporter.end();
    let done = match done {
        Ok(done) => done,
        Err(RunError::Cancelled) => return Err(Cancelled),
        Err(e) => return Ok(Err(e.to_string())),
    };
    if !done.status.success() {
        let output = done.stderr_text();
        if !output.is_empty() {
            reporter.log(Level::Debug, &format!("pip download said:\n{output}"));
        }
        let last = process::last_line(&output).unwrap_or("no error output");
        return Ok(Err(format!("pip download failed ({}): {last}", process::describe(done.status))));
    }
    let fetched = match fetch.finish(&missing) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e.to_string())),
    };
    for w in &fetched {
        reporter.log(Level::Debug, &format!("cached {} {} (sha256 {})", w.project, w.version, w.sha256));
    }
    match wheels::install(&fetched, &target, cache) {
        Ok(seeded) => Ok(Ok((
            "(downloaded with pip into pyve's wheel cache; later environments reuse it offline)",
            identity(&fetched, &seeded),
        ))),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// What was linked, for [`crate::verdict`]: each wheel's project, version and sha256, one a
/// line; `None` when a damaged cache entry was rebuilt (the next probe then runs for real).
fn identity(wheels: &[wheels::CachedWheel], seeded: &[wheels::SeededWheel]) -> Option<String> {
    if seeded.iter().any(|w| w.source == wheels::SeedSource::CacheRebuilt) {
        return None;
    }
    let mut lines: Vec<String> = wheels.iter().map(|w| format!("{} {} {}", w.project, w.version, w.sha256)).collect();
    lines.sort();
    Some(lines.join("\n"))
}
