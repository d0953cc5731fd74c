//! Time `create` (with pip) against `python -m venv`, side by side.
//!
//! ```text
//! cargo run --release -p pyve-venv --example bench -- [PYTHON...] [--runs N] [--no-python-venv]
//! ```
//!
//! For each interpreter (default: every pyenv CPython 3.8 to 3.13): the cold run (empty
//! cache: unpack then hard-link), the warm runs (hard links from the cache), runs without a
//! cache (unpack straight into the environment), and one `python -m venv`. Everything is
//! written under a temporary directory removed at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pyve_venv::{CreateOptions, Interpreter, Method, MethodChoice, create};

fn main() {
    let mut runs = 10usize;
    let mut python_venv = true;
    let mut pythons: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(runs),
            "--no-python-venv" => python_venv = false,
            p => pythons.push(PathBuf::from(p)),
        }
    }
    if pythons.is_empty() {
        pythons = pyenv_pythons();
    }
    let tmp = tempfile::tempdir().expect("create a temporary directory");
    println!(
        "{:<48} {:>9} {:>9} {:>9} {:>9} {:>12} {:>7}",
        "interpreter", "cold", "warm-med", "warm-min", "no-cache", "python-venv", "ratio"
    );
    for (i, python) in pythons.iter().enumerate() {
        let interp = match Interpreter::inspect(python) {
            Ok(i) => i,
            Err(e) => {
                eprintln!("{}: {e}", python.display());
                continue;
            }
        };
        let base = tmp.path().join(format!("p{i}"));
        let cache = base.join("cache");
        let opts = CreateOptions { cache_dir: Some(cache), method: MethodChoice::NativeOnly, ..Default::default() };
        let mut n = 0;
        let mut once = |opts: &CreateOptions| -> f64 {
            n += 1;
            let dest = base.join(format!("venv-{n}"));
            let t = Instant::now();
            let created = create(&interp, &dest, opts).unwrap_or_else(|e| panic!("{e}"));
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert_eq!(created.method, Method::Native);
            ms
        };
        let cold = once(&opts);
        let mut warm: Vec<f64> = (0..runs).map(|_| once(&opts)).collect();
        warm.sort_by(f64::total_cmp);
        let no_cache_opts = CreateOptions { cache_dir: None, ..opts.clone() };
        let mut no_cache: Vec<f64> = (0..runs.div_ceil(2)).map(|_| once(&no_cache_opts)).collect();
        no_cache.sort_by(f64::total_cmp);
        let (pv, ratio) = if python_venv {
            let dest = base.join("python-venv");
            let t = Instant::now();
            let ok =
                Command::new(&interp.executable).args(["-m", "venv"]).arg(&dest).status().is_ok_and(|s| s.success());
            let ms = t.elapsed().as_secs_f64() * 1e3;
            assert!(ok, "python -m venv failed");
            (format!("{ms:.0} ms"), format!("{:.0}x", ms / warm[warm.len() / 2]))
        } else {
            ("-".into(), "-".into())
        };
        println!(
            "{:<48} {:>6.1} ms {:>6.1} ms {:>6.1} ms {:>6.1} ms {:>12} {:>7}",
            python.display(),
            cold,
            warm[warm.len() / 2],
            warm[0],
            no_cache[no_cache.len() / 2],
            pv,
            ratio
        );
    }
}

fn pyenv_pythons() -> Vec<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".pyenv")))
        .unwrap_or_default();
    let mut out = Vec::new();
    for minor in 8..=13 {
        let Ok(entries) = std::fs::read_dir(root.join("versions")) else { break };
        let mut best: Option<PathBuf> = None;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&format!("3.{minor}.")) {
                let p = e.path().join("bin").join(format!("python3.{minor}"));
                if p.is_file() {
                    best = Some(p);
                }
            }
        }
        out.extend(best);
    }
    out
}
