//! The two hot loops of a warm seed: checking that every file of a cache entry is whole, and
//! hard-linking the files into the environment.
//!
//! Both go through directory handles (`fstatat`/`linkat`/`mkdirat` relative to the entry's
//! and the environment's root), so the kernel walks only the file's path inside the wheel,
//! not the cache's and the environment's long prefixes, and a large wheel's files are split
//! between a few threads (pip's 900 files: the kernel work of the links runs on every core).

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;

/// Below this many files one thread does the work (a thread costs more than it saves).
const PARALLEL_FROM: usize = 256;
/// At most this many threads.
const MAX_THREADS: usize = 4;

/// A directory opened for `*at` calls (on Linux with `O_PATH`: no read permission needed).
pub(crate) struct Dir(File);

#[cfg(any(target_os = "linux", target_os = "android"))]
const DIR_FLAGS: libc::c_int = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const DIR_FLAGS: libc::c_int = libc::O_DIRECTORY | libc::O_CLOEXEC;

impl Dir {
    pub(crate) fn open(path: &Path) -> io::Result<Dir> {
        std::fs::OpenOptions::new().read(true).custom_flags(DIR_FLAGS).open(path).map(Dir)
    }

    /// `lstat` of `rel` below this directory: its file type bits and size; `None` when it
    /// cannot be looked at (missing, say).
    fn lstat(&self, rel: &CString) -> Option<(libc::mode_t, u64)> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `rel` is NUL-terminated, `st` is a valid out-pointer of the right type and
        // the descriptor is open for the lifetime of `self`.
        let rc = unsafe { libc::fstatat(self.0.as_raw_fd(), rel.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
        if rc != 0 {
            return None;
        }
        // SAFETY: fstatat returned 0, so it filled `st`.
        let st = unsafe { st.assume_init() };
        Some((st.st_mode & libc::S_IFMT, st.st_size as u64))
    }

    /// Size of the regular file `rel` (not following a symbolic link); `None` when it is
    /// missing or is not a regular file.
    fn file_size(&self, rel: &CString) -> Option<u64> {
        self.lstat(rel).and_then(|(kind, size)| (kind == libc::S_IFREG).then_some(size))
    }

    /// `mkdir` of `rel` below this directory; an existing directory is fine.
    pub(crate) fn mkdir(&self, rel: &str) -> io::Result<()> {
        let c = cstring(rel)?;
        // SAFETY: `c` is NUL-terminated and the descriptor is open.
        if unsafe { libc::mkdirat(self.0.as_raw_fd(), c.as_ptr(), 0o777) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::AlreadyExists && self.lstat(&c).is_some_and(|(kind, _)| kind == libc::S_IFDIR) {
            return Ok(());
        }
        Err(err)
    }

    /// Hard-link `rel` of this directory to `rel` of `dest`.
    fn link_to(&self, rel: &CString, dest: &Dir) -> io::Result<()> {
        // SAFETY: both paths are NUL-terminated and both descriptors are open.
        let rc = unsafe { libc::linkat(self.0.as_raw_fd(), rel.as_ptr(), dest.0.as_raw_fd(), rel.as_ptr(), 0) };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }
}

fn cstring(rel: &str) -> io::Result<CString> {
    CString::new(Path::new(rel).as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{rel:?} holds a NUL byte")))
}

/// How many threads for `n` files.
fn threads_for(n: usize) -> usize {
    if n < PARALLEL_FROM {
        return 1;
    }
    // Asked once per process: the standard library reads the cgroup's CPU quota each time.
    static CORES: OnceLock<usize> = OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |c| c.get()));
    cores.clamp(1, MAX_THREADS).min(n / (PARALLEL_FROM / 2))
}

/// Run `work` over `items` split into contiguous chunks, one per thread; the results in
/// chunk order.
fn split<T: Sync, R: Send>(items: &[T], work: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = threads_for(items.len());
    if threads <= 1 {
        return vec![work(items)];
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items.chunks(chunk).skip(1).map(|c| s.spawn(|| work(c))).collect();
        let mut out = vec![work(&items[..chunk.min(items.len())])];
        // A worker that panicked is a bug: pass its panic on.
        out.extend(handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))));
        out
    })
}

/// Whether each of `files` is a regular file of its size in `sizes` below `root`.
pub(crate) fn all_whole(root: &Path, files: &[String], sizes: &[u64]) -> bool {
    let Ok(dir) = Dir::open(root) else { return false };
    let pairs: Vec<(&String, &u64)> = files.iter().zip(sizes).collect();
    split(&pairs, |chunk| chunk.iter().all(|(f, size)| cstring(f).ok().and_then(|c| dir.file_size(&c)) == Some(**size)))
        .into_iter()
        .all(|ok| ok)
}

/// What happened to one file that could not be linked.
pub(crate) enum LinkFailure {
    /// The destination exists: an error, never overwritten.
    Exists(String, io::Error),
    /// Linking is not possible here (another file system, a link limit, no hard links): the
    /// file and every later one of its chunk are left for the caller to copy.
    Unlinkable(Vec<String>),
    /// Another error.
    Other(String, io::Error),
}

/// Hard-link `files` (whose directories exist in `dest`) from `src` to `dest`. Returns, per
/// chunk, what could not be linked.
pub(crate) fn link_all(src: &Dir, dest: &Dir, files: &[&String]) -> Vec<LinkFailure> {
    split(files, |chunk| {
        for (i, f) in chunk.iter().enumerate() {
            let c = match cstring(f) {
                Ok(c) => c,
                Err(e) => return Some(LinkFailure::Other((*f).clone(), e)),
            };
            match src.link_to(&c, dest) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Some(LinkFailure::Exists((*f).clone(), e));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Some(LinkFailure::Other((*f).clone(), e)),
                Err(_) => return Some(LinkFailure::Unlinkable(chunk[i..].iter().map(|f| (*f).clone()).collect())),
            }
        }
        None
    })
    .into_iter()
    .flatten()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_in_order() {
        let items: Vec<usize> = (0..1000).collect();
        let seen: Vec<usize> = split(&items, |c| c.to_vec()).concat();
        assert_eq!(seen, items);
        assert_eq!(threads_for(10), 1);
        assert!(threads_for(1000) <= MAX_THREADS);
    }

    #[test]
    fn whole_and_link_through_handles() {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        std::fs::create_dir_all(src.join("a/b")).unwrap();
        std::fs::create_dir_all(&dst).unwrap();
        let files: Vec<String> = (0..600).map(|i| format!("a/b/f{i}.py")).collect();
        for f in &files {
            std::fs::write(src.join(f), f.as_bytes()).unwrap();
        }
        let sizes: Vec<u64> = files.iter().map(|f| f.len() as u64).collect();
        assert!(all_whole(&src, &files, &sizes));
        let mut wrong = sizes.clone();
        wrong[599] += 1;
        assert!(!all_whole(&src, &files, &wrong), "a file of another size is caught in the last chunk");

        let (s, d) = (Dir::open(&src).unwrap(), Dir::open(&dst).unwrap());
        d.mkdir("a").unwrap();
        d.mkdir("a/b").unwrap();
        d.mkdir("a/b").unwrap();
        let refs: Vec<&String> = files.iter().collect();
        assert!(link_all(&s, &d, &refs).is_empty());
        assert_eq!(std::fs::read_to_string(dst.join("a/b/f7.py")).unwrap(), "a/b/f7.py");
        let again = link_all(&s, &d, &refs);
        assert!(again.iter().all(|f| matches!(f, LinkFailure::Exists(..))), "links never overwrite");

        std::fs::write(dst.join("plain"), b"x").unwrap();
        assert!(d.mkdir("plain").is_err(), "a file where a directory should be is an error");
    }

    #[test]
    fn another_file_system_leaves_the_rest_of_each_chunk_to_copy() {
        use std::os::unix::fs::MetadataExt;
        // /dev/shm is a tmpfs on Linux; the test's temporary directory is wherever TMPDIR is.
        let shm = Path::new("/dev/shm");
        let tmp = tempfile::tempdir().unwrap();
        let Ok(other) = tempfile::tempdir_in(shm) else { return };
        if std::fs::metadata(shm).unwrap().dev() == std::fs::metadata(tmp.path()).unwrap().dev() {
            return;
        }
        let files: Vec<String> = (0..300).map(|i| format!("f{i}")).collect();
        for f in &files {
            std::fs::write(other.path().join(f), b"x").unwrap();
        }
        let refs: Vec<&String> = files.iter().collect();
        let failures = link_all(&Dir::open(other.path()).unwrap(), &Dir::open(tmp.path()).unwrap(), &refs);
        let mut left: Vec<String> = Vec::new();
        for f in failures {
            let LinkFailure::Unlinkable(rest) = f else { panic!("EXDEV is not an error") };
            left.extend(rest);
        }
        assert_eq!(left, files, "every file is left to copy, in order");
    }
}
