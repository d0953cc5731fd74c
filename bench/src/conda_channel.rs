//! Write a local conda channel for `bench/conda.sh`:
//!
//! `conda-channel OUT N FILES_PER_PACKAGE` writes N noarch `.conda` packages into OUT: `hello`
//! (with an executable `bin/hello`) depends on `p1` .. `p{N-1}` (a fan-out), and every package
//! holds FILES_PER_PACKAGE small files in all (`share/<name>/fNNNN.txt`, plus `bin/hello`).

use std::path::PathBuf;

use pyve_micromamba::channel::{Format, Package, write_channel};
use pyve_micromamba::lock::platform;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        eprintln!("usage: conda-channel OUT N FILES_PER_PACKAGE");
        std::process::exit(2);
    }
    let out = PathBuf::from(&args[0]);
    let n: usize = args[1].parse().expect("N");
    let files: usize = args[2].parse().expect("FILES_PER_PACKAGE");
    let fill = |p: &mut Package, count: usize| {
        for i in 0..count {
            p.files.push((format!("share/{}/f{i:04}.txt", p.name), format!("{} file {i}\n", p.name), false));
        }
    };
    let mut hello = Package::with_command("hello", "1.0", "hello", "hello from conda", Format::Conda);
    fill(&mut hello, files.saturating_sub(1));
    let mut packages = Vec::new();
    for k in 1..n {
        let mut p = Package::with_command(&format!("p{k}"), "1.0", &format!("p{k}"), "p", Format::Conda);
        p.files.clear();
        fill(&mut p, files);
        hello.depends.push(format!("p{k}"));
        packages.push(p);
    }
    packages.insert(0, hello);
    write_channel(&out, platform(), &packages).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}
