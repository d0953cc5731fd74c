//! The one rule every pyve component follows when it writes, replaces or removes a file of a
//! project: **nothing is written or deleted through a symbolic link that leads out of the
//! project.** A project may come from a clone, and a clone may hold links (`.pyve ->
//! /home/you`, `.gitignore -> ~/.ssh/config`): following them would change files the user
//! never meant pyve to touch.
//!
//! [`inspect`] looks at a path below the project root without following its last component,
//! and checks every directory on the way with `symlink_metadata`: a link among them must
//! resolve inside the project, or the path is refused ([`Refused`]). What the caller does with
//! a last component that is a link is its own decision (replace the link with a regular file,
//! keep it, or refuse), made from [`Entry::Link`]; [`remove`] removes a link itself, never what
//! it points to.
//!
//! The check is made against the real (canonical) project root, so a project that lives under
//! a linked directory (`/tmp -> /private/tmp`) is inside itself.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// What a project path holds, its last component not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Nothing (not even a dangling link).
    Missing,
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// Something else (a socket, a device, a fifo).
    Other,
    /// A symbolic link.
    Link(Link),
}

/// A symbolic link found at a project path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// What the link says (`readlink`).
    pub target: PathBuf,
    /// Where it really leads, when that exists.
    pub resolved: Option<PathBuf>,
    /// It resolves inside the project. A dangling link, or one that cannot be resolved, does
    /// not: nobody can tell where a write through it would land.
    pub inside: bool,
}

impl Entry {
    /// The link, when the path is one.
    pub fn link(&self) -> Option<&Link> {
        match self {
            Entry::Link(l) => Some(l),
            _ => None,
        }
    }

    /// A link that leads out of the project (or nowhere).
    pub fn leads_out(&self) -> Option<&Link> {
        self.link().filter(|l| !l.inside)
    }
}

/// Why a path was refused.
#[derive(Debug)]
pub enum Refused {
    /// The path is not below the project root.
    NotBelow {
        /// The path.
        path: PathBuf,
        /// The project root.
        root: PathBuf,
    },
    /// A directory on the way to the path is a symbolic link leading out of the project.
    LinkOnTheWay {
        /// The link (a path inside the project).
        link: PathBuf,
        /// What it says.
        target: PathBuf,
    },
    /// The file system could not be read.
    Io {
        /// What could not be inspected.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotBelow { path, root } => {
                write!(f, "{} is not inside the project {}", path.display(), root.display())
            }
            Refused::LinkOnTheWay { link, target } => write!(
                f,
                "{} is a symbolic link to {}, outside the project; pyve does not write through it",
                link.display(),
                target.display()
            ),
            Refused::Io { path, error } => write!(f, "cannot inspect {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for Refused {}

impl Refused {
    /// The link to remove for the path to become usable, when that is the reason.
    pub fn link(&self) -> Option<&Path> {
        match self {
            Refused::LinkOnTheWay { link, .. } => Some(link),
            _ => None,
        }
    }

    /// The next step for the user, one line.
    pub fn hint(&self) -> String {
        match self {
            Refused::LinkOnTheWay { link, .. } => format!(
                "replace the link with a real directory (`rm {0}` removes the link only, not what it points to), \
                 then run the command again",
                link.display()
            ),
            Refused::NotBelow { root, .. } => format!("pyve only writes inside the project {}", root.display()),
            Refused::Io { path, .. } => format!("check the permissions of {}", path.display()),
        }
    }
}

fn canonical_root(root: &Path) -> PathBuf {
    fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

fn is_inside(canonical_root: &Path, p: &Path) -> bool {
    p.starts_with(canonical_root)
}

fn link_at(canonical_root: &Path, path: &Path) -> io::Result<Link> {
    let target = fs::read_link(path)?;
    let resolved = fs::canonicalize(path).ok();
    let inside = resolved.as_deref().is_some_and(|r| is_inside(canonical_root, r));
    Ok(Link { target, resolved, inside })
}

fn entry_at(canonical_root: &Path, path: &Path) -> Result<Entry, Refused> {
    let io = |error| Refused::Io { path: path.to_path_buf(), error };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
        Err(e) => Err(io(e)),
        Ok(m) if m.file_type().is_symlink() => link_at(canonical_root, path).map(Entry::Link).map_err(io),
        Ok(m) if m.is_dir() => Ok(Entry::Dir),
        Ok(m) if m.is_file() => Ok(Entry::File),
        Ok(_) => Ok(Entry::Other),
    }
}

/// Check the directories between `root` and `path` (not `path` itself): each that exists must
/// be a directory or a link resolving inside the project.
pub fn check_parents(root: &Path, path: &Path) -> Result<(), Refused> {
    let rel = relative(root, path)?;
    let croot = canonical_root(root);
    let mut at = root.to_path_buf();
    let mut components = rel.components().peekable();
    while let Some(c) = components.next() {
        if components.peek().is_none() {
            break;
        }
        at.push(c);
        match entry_at(&croot, &at)? {
            Entry::Missing => break,
            Entry::Link(l) if !l.inside => return Err(Refused::LinkOnTheWay { link: at, target: l.target }),
            _ => {}
        }
    }
    Ok(())
}

fn relative<'a>(root: &Path, path: &'a Path) -> Result<&'a Path, Refused> {
    let not_below = || Refused::NotBelow { path: path.to_path_buf(), root: root.to_path_buf() };
    let rel = path.strip_prefix(root).map_err(|_| not_below())?;
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(not_below());
    }
    Ok(rel)
}

/// Look at `path`, a path below the project `root`: its directories on the way are checked
/// ([`check_parents`]) and its last component is reported without being followed.
pub fn inspect(root: &Path, path: &Path) -> Result<Entry, Refused> {
    check_parents(root, path)?;
    entry_at(&canonical_root(root), path)
}

/// Remove what is at `path` (below `root`): a file or a link is unlinked (a link's target is
/// never touched), a directory is removed with its contents (links inside it are removed as
/// links). Returns what was there; a missing path is not an error.
pub fn remove(root: &Path, path: &Path) -> Result<Entry, Refused> {
    let entry = inspect(root, path)?;
    let io = |error| Refused::Io { path: path.to_path_buf(), error };
    let r = match &entry {
        Entry::Missing => Ok(()),
        Entry::Dir => fs::remove_dir_all(path),
        _ => fs::remove_file(path),
    };
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io(e)),
        _ => Ok(entry),
    }
}

/// Open (creating it) a file below `root` for reading and writing without following a link
/// at its place: a link there is removed first and a regular file made instead (the link's
/// target is never opened). For pyve's own small files such as the project lock.
pub fn open_own_file(root: &Path, path: &Path) -> Result<fs::File, Refused> {
    let io = |error| Refused::Io { path: path.to_path_buf(), error };
    if let Entry::Link(_) = inspect(root, path)? {
        fs::remove_file(path).map_err(io)?;
    }
    let mut options = fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path).map_err(io)
}

/// The most pyve reads of a small project file it parses (`.env`, version pins, records,
/// `environment.yml`, lock files): 1 MiB unless the caller documents another bound.
pub const READ_LIMIT: u64 = 1 << 20;

/// Read a file a project supplies, safely: opened without blocking (`O_NONBLOCK`, so a FIFO
/// without a writer cannot hang pyve and a link to `/dev/stdin` cannot swallow the user's
/// piped input), checked with `fstat` to be a regular file (a FIFO, a device, a socket or a
/// directory is refused without reading a byte), and read up to `limit` bytes (a larger file
/// is refused, never read whole). Links are followed: where the file lives is the caller's
/// concern ([`inspect`]); what is read is always one bounded regular file.
///
/// Errors keep their [`io::ErrorKind`] (`NotFound` for a missing file, so callers can tell
/// "absent" from "refused"); a refusal is `InvalidInput` with a message saying why and what to
/// do, meant to follow "cannot read FILE: ".
pub fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file (pyve reads project files only when they are regular files; replace it with one)",
                kind_name(&meta.file_type())
            ),
        ));
    }
    let too_big = || io::Error::new(io::ErrorKind::InvalidInput, TooLarge { limit });
    if meta.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The error inside an [`io::Error`] from [`read_bounded`] for a file larger than its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    /// The bound, in bytes.
    pub limit: u64,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "it is larger than {}, the most pyve reads of this file (shorten it or remove it)",
            size_name(self.limit)
        )
    }
}

impl std::error::Error for TooLarge {}

/// Whether `e` is [`read_bounded`]'s refusal of a file larger than its bound.
pub fn too_large(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.downcast_ref::<TooLarge>().is_some())
}

/// [`read_bounded`], as UTF-8 text (`InvalidData` otherwise).
pub fn read_bounded_text(path: &Path, limit: u64) -> io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

fn kind_name(t: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() { "a directory" } else { "not a regular file" }
}

fn size_name(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// Whether process `pid` still runs: it exists and is not a zombie (a process killed while its
/// parent was gone may stay a zombie for long where nothing reaps orphans, as in a container,
/// yet it will never finish the temporary files it left). Decides whether another pyve's
/// leftovers (`.NAME.pyve-tmp-PID...`) may be removed.
pub fn process_alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            // `pid (comm) state ...`: the state follows the last ')'.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !matches!(rest.trim_start().chars().next(), Some('Z' | 'X'))),
            Err(_) => false,
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: kill with signal 0 only checks whether the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("p");
        let out = tmp.path().join("out");
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&out).unwrap();
        fs::write(out.join("keep"), "user data").unwrap();
        (tmp, root, out)
    }

    #[test]
    fn bounded_reads_refuse_what_is_not_a_small_regular_file() {
        let (_tmp, root, _out) = setup();
        let f = root.join("f");
        fs::write(&f, "hello").unwrap();
        assert_eq!(read_bounded_text(&f, 5).unwrap(), "hello");
        let e = read_bounded(&f, 4).unwrap_err();
        assert!(e.to_string().contains("larger than 4 bytes") && too_large(&e), "{e}");
        // A huge sparse file is refused from its size, without reading it.
        let big = root.join("big");
        fs::File::create(&big).unwrap().set_len(8 << 30).unwrap();
        let start = std::time::Instant::now();
        let e = read_bounded(&big, READ_LIMIT).unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        // A FIFO without a writer: refused at once, never waited on.
        let fifo = root.join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_bounded(&fifo, READ_LIMIT).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("named pipe"), "{e}");
        // A link to a device, and a directory.
        symlink("/dev/zero", root.join("zero")).unwrap();
        assert!(read_bounded(&root.join("zero"), READ_LIMIT).unwrap_err().to_string().contains("a device"));
        assert!(read_bounded(&root, READ_LIMIT).unwrap_err().to_string().contains("a directory"));
        assert_eq!(read_bounded(&root.join("none"), 1).unwrap_err().kind(), io::ErrorKind::NotFound);
        fs::write(&f, [0xff, 0xfe]).unwrap();
        assert_eq!(read_bounded_text(&f, 5).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn kinds_without_following_the_last_component() {
        let (_tmp, root, out) = setup();
        assert_eq!(inspect(&root, &root.join("x")).unwrap(), Entry::Missing);
        fs::write(root.join("f"), "").unwrap();
        assert_eq!(inspect(&root, &root.join("f")).unwrap(), Entry::File);
        fs::create_dir(root.join("d")).unwrap();
        assert_eq!(inspect(&root, &root.join("d")).unwrap(), Entry::Dir);
        symlink(&out, root.join("out-link")).unwrap();
        let e = inspect(&root, &root.join("out-link")).unwrap();
        assert_eq!(e.leads_out().unwrap().target, out);
        symlink("d", root.join("in-link")).unwrap();
        let e = inspect(&root, &root.join("in-link")).unwrap();
        assert!(e.link().unwrap().inside && e.leads_out().is_none());
        symlink("nowhere", root.join("dangling")).unwrap();
        assert!(inspect(&root, &root.join("dangling")).unwrap().leads_out().is_some(), "dangling counts as out");
        // A link that climbs out and back in is inside.
        symlink("../p/d", root.join("round-trip")).unwrap();
        assert!(inspect(&root, &root.join("round-trip")).unwrap().link().unwrap().inside);
    }

    #[test]
    fn a_link_on_the_way_out_is_refused() {
        let (_tmp, root, out) = setup();
        symlink(&out, root.join(".pyve")).unwrap();
        let e = inspect(&root, &root.join(".pyve/config")).unwrap_err();
        assert_eq!(e.link(), Some(root.join(".pyve").as_path()));
        assert!(e.to_string().contains("outside the project"), "{e}");
        assert!(e.hint().contains("rm "), "{}", e.hint());
        // Deeper too.
        fs::create_dir_all(root.join("a")).unwrap();
        symlink(&out, root.join("a/b")).unwrap();
        assert!(inspect(&root, &root.join("a/b/c/d")).is_err());
        // Inside the project, links on the way are fine.
        fs::create_dir_all(root.join("real")).unwrap();
        symlink("real", root.join("alias")).unwrap();
        assert_eq!(inspect(&root, &root.join("alias/x")).unwrap(), Entry::Missing);
    }

    #[test]
    fn paths_not_below_the_root_are_refused() {
        let (_tmp, root, out) = setup();
        for p in [out.join("keep"), root.clone(), root.join("../out/keep")] {
            assert!(matches!(inspect(&root, &p), Err(Refused::NotBelow { .. })), "{}", p.display());
        }
    }

    #[test]
    fn a_project_under_a_linked_directory_is_inside_itself() {
        let (tmp, root, _out) = setup();
        let alias = tmp.path().join("alias");
        symlink(&root, &alias).unwrap();
        fs::create_dir(root.join("d")).unwrap();
        symlink("d", root.join("l")).unwrap();
        assert!(inspect(&alias, &alias.join("l")).unwrap().link().unwrap().inside);
        assert!(inspect(&alias, &alias.join("l/x")).is_ok());
    }

    #[test]
    fn removing_a_link_never_touches_its_target() {
        let (_tmp, root, out) = setup();
        symlink(&out, root.join("env")).unwrap();
        assert!(matches!(remove(&root, &root.join("env")).unwrap(), Entry::Link(_)));
        assert!(fs::symlink_metadata(root.join("env")).is_err());
        assert_eq!(fs::read_to_string(out.join("keep")).unwrap(), "user data");
        // A directory with a link inside: the link goes, the target stays.
        fs::create_dir_all(root.join("d")).unwrap();
        symlink(&out, root.join("d/inner")).unwrap();
        assert_eq!(remove(&root, &root.join("d")).unwrap(), Entry::Dir);
        assert_eq!(fs::read_to_string(out.join("keep")).unwrap(), "user data");
        assert_eq!(remove(&root, &root.join("d")).unwrap(), Entry::Missing);
        // Through a link on the way: refused, nothing removed.
        symlink(&out, root.join(".pyve")).unwrap();
        assert!(remove(&root, &root.join(".pyve/keep")).is_err());
        assert!(out.join("keep").exists());
    }

    #[test]
    fn zombies_are_not_alive() {
        assert!(process_alive(std::process::id()));
        assert!(!process_alive(u32::MAX - 1));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: a zombie once it has exited.
        let start = std::time::Instant::now();
        while process_alive(pid) && start.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        #[cfg(target_os = "linux")]
        assert!(!process_alive(pid), "an exited, unreaped child counts as gone");
        child.wait().unwrap();
    }

    #[test]
    fn own_files_replace_a_link_and_never_open_its_target() {
        let (_tmp, root, out) = setup();
        fs::create_dir(root.join(".pyve")).unwrap();
        symlink(out.join("keep"), root.join(".pyve/lock")).unwrap();
        let f = open_own_file(&root, &root.join(".pyve/lock")).unwrap();
        f.set_len(0).unwrap();
        assert!(fs::symlink_metadata(root.join(".pyve/lock")).unwrap().is_file());
        assert_eq!(fs::read_to_string(out.join("keep")).unwrap(), "user data");
    }
}
