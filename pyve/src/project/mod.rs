//! A pyve project: its root, its recorded config and state, and the lock that keeps two pyve
//! processes from changing it at once.

pub mod answer;
pub mod config;
pub mod dotenv;
pub mod files;
pub mod state;

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use crate::error::{Error, Result};

pub use config::{CONFIG_FILE, Config};
pub use state::{STATE_FILE, State};

/// The directory pyve keeps its project files in.
pub const PYVE_DIR: &str = ".pyve";
const LOCK_FILE: &str = ".pyve/lock";

/// A path as users see it: relative to the project root when inside it.
pub fn display_in(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string())
}

/// The current directory, absolute, with a clear error when it is gone.
pub fn current_dir() -> Result<PathBuf> {
    std::env::current_dir().map_err(|e| {
        Error::new("cannot determine the current directory")
            .because(e)
            .hint("it may have been deleted: cd into your project and run the command again")
    })
}

/// Exclusive right to change a project, held until dropped.
#[derive(Debug)]
pub struct Lock {
    file: File,
    /// `.pyve` did not exist before: remove it again if nothing else was put there.
    created_dir: Option<PathBuf>,
}

impl Lock {
    /// Take the project's lock, waiting up to `wait` for another pyve to finish.
    pub fn acquire(root: &Path, wait: Duration) -> Result<Lock> {
        let dir = root.join(PYVE_DIR);
        // `.pyve` must be the project's own directory: a link to elsewhere (from a clone, say)
        // would have pyve write, and purge delete, files outside the project.
        match files::inspect(root, &dir)? {
            pyve_fs::Entry::Link(l) if !l.inside => {
                return Err(Error::new(format!(
                    "{} is a symbolic link to {}, outside the project; pyve keeps its files inside the project",
                    dir.display(),
                    l.target.display()
                ))
                .hint(format!(
                    "remove the link (`rm {}` removes only the link, not what it points to), then run the command again",
                    dir.display()
                )));
            }
            pyve_fs::Entry::File | pyve_fs::Entry::Other => {
                return Err(Error::new(format!("{} exists and is not a directory", dir.display()))
                    .hint("pyve keeps its files in the directory .pyve: move that file out of the way"));
            }
            _ => {}
        }
        let created_dir = match std::fs::create_dir(&dir) {
            Ok(()) => Some(dir.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
            Err(e) => {
                let err = Error::new(format!("cannot create {}", dir.display())).because(&e);
                return Err(match e.kind() {
                    std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => err.hint(format!(
                        "the project directory is not writable: check its permissions ({}), or run pyve in a directory you own",
                        root.display()
                    )),
                    _ => err,
                });
            }
        };
        let path = root.join(LOCK_FILE);
        // Never through a link: the lock's content (a pid) is written.
        let file = pyve_fs::open_own_file(root, &path)
            .map_err(|e| Error::new(format!("cannot open {}", path.display())).because(e))?;
        let start = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = (&file).read_to_string(&mut holder);
                    let who = holder.trim().parse::<u32>().map(|p| format!(" (pid {p})")).unwrap_or_default();
                    return Err(Error::new(format!(
                        "another pyve{who} is changing this project ({}); waited {} s",
                        root.display(),
                        wait.as_secs()
                    ))
                    .hint("let it finish, then run the command again"));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::new(format!("cannot lock {}", path.display())).because(e));
                }
            }
        }
        let mut f = &file;
        let _ = f.set_len(0);
        let _ = f.rewind();
        let _ = write!(f, "{}", std::process::id());
        // Holding the lock, nobody else is writing here: clear what an interrupted pyve left.
        files::remove_stale_temps(root);
        files::remove_stale_temps(&dir);
        Ok(Lock { file, created_dir })
    }

    /// Keep `.pyve` even if this command made it and it holds only the lock.
    pub fn keep_dir(&mut self) {
        self.created_dir = None;
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
        if let Some(dir) = &self.created_dir {
            // Made by this command, which failed before writing anything else: leave no trace.
            let _ = std::fs::remove_file(dir.join("lock"));
            let _ = std::fs::remove_dir(dir);
        }
    }
}
