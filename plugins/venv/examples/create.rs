//! Create one environment and print how it went and how long it took.
//!
//! ```text
//! cargo run --release -p pyve-venv --example create -- PYTHON DEST [--cache DIR] [--without-pip]
//!     [--prompt P] [--python-venv]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use pyve_venv::{CreateOptions, Interpreter, MethodChoice, create};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(python), Some(dest)) = (args.next(), args.next()) else {
        eprintln!("usage: create PYTHON DEST [--cache DIR] [--without-pip] [--prompt P] [--python-venv]");
        std::process::exit(2);
    };
    let mut opts = CreateOptions::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--cache" => opts.cache_dir = args.next().map(PathBuf::from),
            "--without-pip" => opts.with_pip = false,
            "--prompt" => opts.prompt = args.next(),
            "--python-venv" => opts.method = MethodChoice::PythonVenv,
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    let t0 = Instant::now();
    let interp = match Interpreter::inspect(python.as_ref()) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let t1 = Instant::now();
    match create(&interp, dest.as_ref(), &opts) {
        Ok(created) => {
            let t2 = Instant::now();
            println!("{}", created.path.display());
            eprintln!(
                "inspect {:.2} ms ({:?}), create {:.2} ms, method {:?}",
                (t1 - t0).as_secs_f64() * 1e3,
                interp.inspected_by,
                (t2 - t1).as_secs_f64() * 1e3,
                created.method
            );
            for s in &created.seeded {
                eprintln!("  seeded {} {} ({:?}, hard links: {})", s.project, s.version, s.source, s.hard_linked);
            }
            for w in &created.warnings {
                eprintln!("  warning: {w}");
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
