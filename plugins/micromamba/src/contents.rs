//! Package contents are untrusted input. Before the installer links anything, every path a
//! package names (`info/paths.json`, or the older `info/files`/`info/has_prefix`, and its
//! `info/link.json` entry points) is checked to stay inside the environment:
//!
//! - a path is relative and made of plain names only (no `..`, no root, no `.`);
//! - no directory on the way to a path is a link, neither in the extracted package (the
//!   installer reads its files from there) nor among the links the packages install (nothing
//!   is written through a packaged link);
//! - a packaged link points inside the environment, resolved with the other packaged links;
//! - an entry point's command is one plain name.
//!
//! A package that breaks one of these rules is refused by name, before anything is written.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use rattler_conda_types::package::{LinkJson, NoArchLinks, PackageFile, PathType, PathsJson};

/// How many packaged links one path may go through (as the kernel's bound).
const MAX_LINK_DEPTH: usize = 40;

/// The links the packages of one environment install: path in the prefix → target, with the
/// package that installs each.
#[derive(Debug, Default)]
pub struct Links {
    links: BTreeMap<PathBuf, (PathBuf, String)>,
    paths: Vec<(PathBuf, String)>,
}

/// Whether `p` is a non-empty relative path of plain names only.
pub fn is_plain_relative(p: &Path) -> bool {
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

fn shown(p: &Path) -> String {
    format!("`{}`", p.display())
}

/// Check the extracted package at `dir` (named `package` in errors), and record its paths and
/// links in `links` for [`Links::check`].
pub fn check_package(package: &str, dir: &Path, links: &mut Links) -> Result<(), String> {
    let refuse = |why: String| Err(format!("package {package} is refused: {why}; pyve installs nothing from it"));
    let paths = match PathsJson::from_package_directory_with_deprecated_fallback(dir) {
        Ok(p) => p,
        Err(e) => return refuse(format!("its list of files (info/paths.json) cannot be read: {e}")),
    };
    for entry in &paths.paths {
        let rel = &entry.relative_path;
        if !is_plain_relative(rel) {
            return refuse(format!("its path {} leaves the environment", shown(rel)));
        }
        // The installer reads the file from the extracted package: no directory on the way
        // there may be a link (it could lead anywhere on this machine).
        let mut at = dir.to_path_buf();
        let mut comps = rel.components().peekable();
        while let Some(c) = comps.next() {
            at.push(c);
            let Ok(meta) = std::fs::symlink_metadata(&at) else { break };
            if comps.peek().is_some() && !meta.is_dir() {
                return refuse(format!("its path {} goes through a link or a file in the package", shown(rel)));
            }
            if comps.peek().is_none() && entry.path_type == PathType::SoftLink {
                if !meta.file_type().is_symlink() {
                    continue;
                }
                match std::fs::read_link(&at) {
                    Ok(target) => {
                        links.links.insert(rel.clone(), (target, package.to_string()));
                    }
                    Err(e) => return refuse(format!("its link {} cannot be read: {e}", shown(rel))),
                }
            } else if comps.peek().is_none() && meta.file_type().is_symlink() {
                // A link the list calls a file: the installer would copy what it points to.
                match std::fs::read_link(&at) {
                    Ok(target) => {
                        links.links.insert(rel.clone(), (target, package.to_string()));
                    }
                    Err(e) => return refuse(format!("its link {} cannot be read: {e}", shown(rel))),
                }
            }
        }
        links.paths.push((rel.clone(), package.to_string()));
    }
    if dir.join(LinkJson::package_path()).exists() {
        match LinkJson::from_package_directory(dir) {
            Ok(LinkJson { noarch: NoArchLinks::Python(eps), .. }) => {
                for ep in &eps.entry_points {
                    let p = Path::new(&ep.command);
                    if !is_plain_relative(p) || p.components().count() != 1 {
                        return refuse(format!("its entry point {} is not a plain command name", shown(p)));
                    }
                }
            }
            Ok(_) => {}
            Err(e) => return refuse(format!("its info/link.json cannot be read: {e}")),
        }
    }
    Ok(())
}

impl Links {
    /// Check what all packages install together: nothing is written through a packaged link,
    /// and every packaged link points inside the environment.
    pub fn check(&self) -> Result<(), String> {
        for (path, package) in &self.paths {
            let mut at = PathBuf::new();
            let mut comps = path.components().peekable();
            while let Some(c) = comps.next() {
                if comps.peek().is_none() {
                    break;
                }
                at.push(c);
                if let Some((_, by)) = self.links.get(&at) {
                    return Err(format!(
                        "package {package} is refused: its path {} goes through {}, a link installed by {by}; \
                         pyve installs nothing from it",
                        shown(path),
                        shown(&at)
                    ));
                }
            }
        }
        for (path, (target, package)) in &self.links {
            let parent = path.parent().unwrap_or(Path::new(""));
            if target.is_absolute() || self.resolve(parent, target, 0).is_none() {
                return Err(format!(
                    "package {package} is refused: its link {} points to {}, outside the environment; \
                     pyve installs nothing from it",
                    shown(path),
                    shown(target)
                ));
            }
        }
        Ok(())
    }

    /// Where `target`, read in the directory `from` (both inside the prefix), leads: `None`
    /// when it leaves the prefix (or goes through too many links).
    fn resolve(&self, from: &Path, target: &Path, depth: usize) -> Option<PathBuf> {
        if depth > MAX_LINK_DEPTH {
            return None;
        }
        let mut at: Vec<std::ffi::OsString> = from.components().map(|c| c.as_os_str().to_owned()).collect();
        let comps: Vec<Component<'_>> = target.components().collect();
        for (i, c) in comps.iter().enumerate() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    at.pop()?;
                }
                Component::Normal(n) => {
                    at.push(n.to_os_string());
                    let here: PathBuf = at.iter().collect();
                    // A packaged link on the way is followed (the last component is the
                    // link's own business, checked on its own).
                    if i + 1 < comps.len()
                        && let Some((t, _)) = self.links.get(&here)
                    {
                        if t.is_absolute() {
                            return None;
                        }
                        let parent = here.parent().unwrap_or(Path::new("")).to_path_buf();
                        let r = self.resolve(&parent, t, depth + 1)?;
                        at = r.components().map(|c| c.as_os_str().to_owned()).collect();
                    }
                }
                Component::RootDir | Component::Prefix(_) => return None,
            }
        }
        Some(at.iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(l: &[(&str, &str)], paths: &[&str]) -> Links {
        Links {
            links: l.iter().map(|(p, t)| (PathBuf::from(p), (PathBuf::from(t), "pkg-1-0".to_string()))).collect(),
            paths: paths.iter().map(|p| (PathBuf::from(p), "pkg-1-0".to_string())).collect(),
        }
    }

    #[test]
    fn plain_relative_paths_only() {
        for ok in ["bin/x", "a", "lib/python3.12/site-packages/m.py"] {
            assert!(is_plain_relative(Path::new(ok)), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "bin/../../x", "./x", "a/.."] {
            assert!(!is_plain_relative(Path::new(bad)), "{bad}");
        }
    }

    #[test]
    fn links_stay_inside_and_are_never_written_through() {
        links(&[("lib/libz.so", "libz.so.1"), ("bin/x", "../lib/x"), ("lib64", "lib")], &["lib/x"]).check().unwrap();
        for (l, why) in [
            (vec![("bin/x", "/etc/passwd")], "absolute"),
            (vec![("bin/x", "../../x")], "climbs out"),
            (vec![("d", "."), ("bin/x", "../d/../..")], "through a link to `.`"),
            (vec![("a", "b/c"), ("b/c", "../.."), ("x", "a/y")], "through a link chain"),
            (vec![("a", "a/b")], "a loop"),
        ] {
            let e = links(&l, &[]).check().unwrap_err();
            assert!(e.contains("outside the environment") && e.contains("pkg-1-0"), "{why}: {e}");
        }
        let e = links(&[("lib", "sub")], &["lib/x"]).check().unwrap_err();
        assert!(e.contains("goes through `lib`"), "{e}");
    }
}
