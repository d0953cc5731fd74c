//! pip in a natively seeded environment really works: it installs from PyPI, and it can
//! uninstall itself (which needs a correct RECORD) without harming the shared cache.

mod common;

use common::{python, run_ok};
use pyve_venv::{CreateOptions, Interpreter, Method, MethodChoice, create};

#[test]
fn pip_install_from_pypi_works_on_311_312_313() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let cache = tmp.path().join("cache");
    for short in ["3.11", "3.12", "3.13"] {
        let py = python(short);
        let interp = Interpreter::inspect(&py.path).expect("inspect");
        let dest = tmp.path().join(format!("venv-{short}"));
        let opts =
            CreateOptions { cache_dir: Some(cache.clone()), method: MethodChoice::NativeOnly, ..Default::default() };
        let created = create(&interp, &dest, &opts).expect("create");
        assert_eq!(created.method, Method::Native);
        run_ok(&dest.join("bin/pip"), &["install", "--quiet", "iniconfig"], &home);
        let out = run_ok(&created.python, &["-c", "import iniconfig; print(iniconfig.__file__)"], &home);
        assert!(out.trim().starts_with(dest.to_str().unwrap_or_default()), "iniconfig imported from {out:?}");
    }
}

#[test]
fn pip_uninstall_pip_removes_its_launchers_and_keeps_the_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let cache = tmp.path().join("cache");
    let py = python("3.12");
    let interp = Interpreter::inspect(&py.path).expect("inspect");
    let opts = CreateOptions { cache_dir: Some(cache.clone()), method: MethodChoice::NativeOnly, ..Default::default() };
    let dest = tmp.path().join("venv");
    let created = create(&interp, &dest, &opts).expect("create");
    let seeded = created.seeded[0].clone();
    assert_eq!(seeded.launchers, ["pip", "pip3", "pip3.12"]);

    run_ok(&created.python, &["-m", "pip", "uninstall", "--yes", "pip"], &home);
    for name in &seeded.launchers {
        assert!(!dest.join("bin").join(name).exists(), "bin/{name} survived `pip uninstall pip`");
    }
    let sp = dest.join("lib/python3.12/site-packages");
    let left: Vec<String> = std::fs::read_dir(&sp)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "site-packages still has {left:?}");

    // The cache entry the files were linked from is intact: a new environment works.
    let again = tmp.path().join("again");
    let created = create(&interp, &again, &opts).expect("create from the cache");
    let out = run_ok(&again.join("bin/pip"), &["--version"], &home);
    assert!(out.contains(&format!("pip {} ", seeded.version)), "{out}");
    common::check_record(&again.join("lib/python3.12/site-packages"));
    drop(created);
}
