//! Write a local conda channel for benchmarks: `make-channel DIR N [FILES]` writes N noarch
//! packages `pkg0..pkgN-1` (each depending on the next, so one spec pulls them all) with FILES
//! files each (default 1), half `.tar.bz2`, half `.conda`, and prints an environment.yml that
//! installs them.

use std::path::PathBuf;

use pyve_micromamba::channel::{Format, Package, write_channel};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: make-channel DIR N [FILES]");
        std::process::exit(2);
    };
    let files: usize = args.get(2).and_then(|f| f.parse().ok()).unwrap_or(1).max(1);
    let packages: Vec<Package> = (0..n)
        .map(|i| {
            let format = if i % 2 == 0 { Format::TarBz2 } else { Format::Conda };
            let mut p = Package::with_command(&format!("pkg{i}"), "1.0", &format!("cmd{i}"), "ok", format);
            for f in 1..files {
                p.files.push((format!("share/pkg{i}/file{f}.txt"), format!("pkg{i} file {f}\n"), false));
            }
            if i + 1 < n {
                p.depends = vec![format!("pkg{}", i + 1)];
            }
            p
        })
        .collect();
    let dir = PathBuf::from(dir);
    if let Err(e) = write_channel(&dir, pyve_micromamba::lock::platform(), &packages) {
        eprintln!("make-channel: cannot write {}: {e}", dir.display());
        std::process::exit(1);
    }
    println!("name: bench\nchannels:\n  - {}\ndependencies:\n  - pkg0", dir.display());
}
