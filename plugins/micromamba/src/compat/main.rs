//! `micromamba-compat`: a micromamba-compatible command line over the built-in engine, so that
//! the micromamba engine's argument handling and output parsing are tested against a real
//! binary without downloading micromamba. Speaks the subset pyve uses: `--version`,
//! `create -p PREFIX -f FILE -y`, `list -p PREFIX --json`, `run -p PREFIX CMD [ARGS]`.
//! Not installed with pyve; tests place it as `micromamba` on a temporary `PATH`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use pyve_micromamba::engine::{Builtin, CreateRequest, Engine, Source, install_locked_pip, install_pip};
use pyve_micromamba::envfile::EnvFile;
use pyve_micromamba::lock::{LockFile, platform};

/// The micromamba version this imitates.
const VERSION: &str = "2.0.5";

fn usage(msg: &str) -> ExitCode {
    eprintln!("micromamba-compat: {msg}");
    eprintln!(
        "usage: micromamba --version | create -p PREFIX -f FILE -y | list -p PREFIX --json | run -p PREFIX CMD [ARGS]"
    );
    ExitCode::from(2)
}

fn opt(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

fn cache() -> PathBuf {
    std::env::var_os("CONDA_PKGS_DIRS")
        .map(|p| PathBuf::from(p).parent().map(Path::to_path_buf).unwrap_or_default())
        .or_else(|| std::env::var_os("MAMBA_ROOT_PREFIX").map(PathBuf::from))
        .unwrap_or_else(|| std::env::temp_dir().join("micromamba-compat"))
}

fn create(args: &[String]) -> ExitCode {
    let (Some(prefix), Some(file)) = (opt(args, "-p"), opt(args, "-f")) else {
        return usage("create needs -p PREFIX and -f FILE");
    };
    if !args.iter().any(|a| a == "-y") {
        return usage("create without -y would ask; pass -y");
    }
    let (prefix, file) = (std::path::absolute(prefix).unwrap_or_default(), PathBuf::from(file));
    let source = if file.to_string_lossy().ends_with("conda-lock.yml") {
        LockFile::read(&file).map(Source::Lock).map_err(|e| e.to_string())
    } else {
        EnvFile::read(&file).map(Source::EnvFile).map_err(|e| e.to_string())
    };
    let source = match source {
        Ok(s) => s,
        Err(e) => {
            eprintln!("critical libmamba {e}");
            return ExitCode::from(1);
        }
    };
    let root = std::path::absolute(&file).ok().and_then(|f| f.parent().map(Path::to_path_buf)).unwrap_or_default();
    let req = CreateRequest { source: &source, target: &prefix, build_dir: &prefix, root: &root, cache_dir: cache() };
    match Builtin.create(&req) {
        Ok(c) => println!("\nTransaction finished ({} packages)\n", c.packages),
        Err(e) => {
            eprintln!("critical libmamba {e}");
            return ExitCode::from(1);
        }
    }
    let pip = match &source {
        Source::EnvFile(f) => install_pip(&prefix, &f.pip, false),
        Source::Lock(l) => match l.pip_requirements(platform()) {
            Ok(reqs) => install_locked_pip(&prefix, &reqs),
            Err(e) => Err(pyve_micromamba::engine::EngineError::Pip(e.to_string())),
        },
    };
    if let Err(e) = pip {
        eprintln!("critical libmamba {e}");
        return ExitCode::from(1);
    }
    println!("To activate this environment, use:\n\n    micromamba activate {}\n", prefix.display());
    ExitCode::SUCCESS
}

fn list(args: &[String]) -> ExitCode {
    let Some(prefix) = opt(args, "-p") else { return usage("list needs -p PREFIX") };
    if !args.iter().any(|a| a == "--json") {
        return usage("only `list --json` is supported");
    }
    match Builtin.list(Path::new(&prefix)) {
        Ok(pkgs) => {
            let v: Vec<serde_json::Value> = pkgs
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "base_url": p.channel, "build_number": 0, "build_string": p.build, "channel": p.channel,
                        "dist_name": format!("{}-{}-{}", p.name, p.version, p.build), "name": p.name,
                        "platform": "noarch", "version": p.version,
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("critical libmamba {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some(i) = args.iter().position(|a| a == "-p") else { return usage("run needs -p PREFIX") };
    let Some(prefix) = args.get(i + 1) else { return usage("run needs -p PREFIX") };
    let Some(cmd) = args.get(i + 2) else { return usage("run needs a command") };
    let bin = Path::new(prefix).join("bin");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin];
    dirs.extend(std::env::split_paths(&path));
    let err = std::process::Command::new(cmd)
        .args(&args[i + 3..])
        .env("PATH", std::env::join_paths(dirs).unwrap_or_default())
        .env("CONDA_PREFIX", prefix)
        .exec();
    eprintln!("critical libmamba cannot run {cmd}: {err}");
    ExitCode::from(127)
}

fn main() -> ExitCode {
    pyve_micromamba::install_tls_provider();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("{VERSION}");
            ExitCode::SUCCESS
        }
        Some("create") => create(&args[1..]),
        Some("list") => list(&args[1..]),
        Some("run") => run(&args[1..]),
        Some(other) => usage(&format!("unknown command '{other}'")),
        None => usage("no command"),
    }
}
