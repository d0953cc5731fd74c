//! The build script of pyve and of the plugin executables that start on its hot paths
//! (`pyve-venv` at every init, `pyve-testenv` at every `pyve test`): link GCC's unwinder
//! statically (`libgcc_eh.a`) rather than loading `libgcc_s.so.1` at every start
//! (docs/decisions.md, "pyve links the unwinder statically").
//!
//! Rust's standard library asks the linker for `-lgcc_s`. Loading that library costs each run
//! about 0.1 ms on a virtual machine (the dynamic loader maps it, and its constructor
//! probes the CPU with `cpuid`, which traps to the hypervisor): a tenth of `pyve NAME`'s
//! dispatch, and as much again for each plugin executable it starts. A directory holding only
//! a `libgcc_s.a` that is GCC's own static unwinder, searched before the system's, makes that
//! `-lgcc_s` resolve to the archive. Unwinding,
//! backtraces and the plugin libraries pyve loads (each with its own unwinder) are unchanged.
//!
//! Only on GNU/Linux targets, only when the C compiler names an existing `libgcc_eh.a`;
//! `PYVE_DYNAMIC_LIBGCC=1` keeps the dynamic library.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    // (A change of this file rebuilds and reruns it; the lines below keep cargo from rerunning
    // it for every other change in the package.)
    println!("cargo::rerun-if-env-changed=PYVE_DYNAMIC_LIBGCC");
    println!("cargo::rerun-if-env-changed=CC");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    // A fully static build links the unwinder statically already.
    if var("CARGO_CFG_TARGET_FEATURE").split(',').any(|f| f == "crt-static") {
        return;
    }
    if !matches!(var("PYVE_DYNAMIC_LIBGCC").as_str(), "" | "0") {
        return;
    }
    let target = var("TARGET");
    let cc = [format!("CC_{target}"), format!("CC_{}", target.replace('-', "_")), "CC".to_owned()]
        .iter()
        .map(|k| var(k))
        .find(|v| !v.is_empty())
        .unwrap_or_else(|| "cc".to_owned());
    let Ok(out) = Command::new(&cc).arg("-print-file-name=libgcc_eh.a").output() else { return };
    let archive = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // Without it the compiler prints the bare name back.
    if !out.status.success() || !archive.is_absolute() || !archive.is_file() {
        return;
    }
    let dir = PathBuf::from(var("OUT_DIR")).join("static-libgcc");
    if std::fs::create_dir_all(&dir).is_err() || std::fs::copy(&archive, dir.join("libgcc_s.a")).is_err() {
        return;
    }
    println!("cargo::rerun-if-changed={}", archive.display());
    println!("cargo::rustc-link-search=native={}", dir.display());
}
