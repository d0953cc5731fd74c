//! trycmd cases for every host surface: `tests/cmd/*.toml`, each with its expected stdout,
//! stderr and exit code. `TRYCMD=overwrite cargo test -p pyve-tests --test cli` rewrites the
//! expectations after an intended change (review the diff).
//!
//! Each `bin.name` is a private copy of pyve in a staged directory, so the directory of the
//! running pyve (searched last for plugins) holds exactly the plugins the case needs:
//! `pyve` (none), `pyve-with-hello` (the example plugin, executable and library),
//! `pyve-with-misbehave` (the misbehaving fixture, both forms), `pyve-with-noexec` (a plugin
//! file without the execute bit), `pyve-with-testenv` (the `pyve-testenv` plugin).

use std::path::Path;

use pyve_tests::{bin, example, example_dylib, place};

fn stage(root: &Path, name: &str, plugins: &[(&Path, &str)]) -> String {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    place(&bin("pyve"), &dir.join("pyve"));
    for (src, file) in plugins {
        place(src, &dir.join(file));
    }
    dir.join("pyve").display().to_string()
}

#[test]
fn cli() {
    let root = tempfile::Builder::new().prefix("stage-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sandbox = tempfile::Builder::new().prefix("pyve-cli-").tempdir().unwrap();
    let home = sandbox.path().join("home");
    std::fs::create_dir_all(&home).unwrap();

    let noexec = root.path().join("noexec-src");
    std::fs::write(&noexec, "#!/bin/sh\necho never runs\n").unwrap();

    let hello_exe = example("pyve-hello");
    let hello_lib = example_dylib("hello_dylib");
    let mis_exe = example("pyve-misbehave");
    let mis_lib = example_dylib("misbehave_lib");
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("pyve", Path::new(&stage(root.path(), "bare", &[])))
        .register_bin(
            "pyve-with-hello",
            Path::new(&stage(root.path(), "hello", &[(&hello_exe, "pyve-hello"), (&hello_lib, "libpyve_hello.so")])),
        )
        .register_bin(
            "pyve-with-misbehave",
            Path::new(&stage(
                root.path(),
                "misbehave",
                &[(&mis_exe, "pyve-misbehave"), (&mis_lib, "libpyve_misbehave_lib.so")],
            )),
        )
        .register_bin("pyve-with-noexec", Path::new(&stage(root.path(), "noexec", &[(&noexec, "pyve-noexec")])))
        .register_bin(
            "pyve-with-backends",
            Path::new(&stage(
                root.path(),
                "backends",
                &[(&bin("pyve-venv"), "pyve-venv"), (&bin("pyve-micromamba"), "pyve-micromamba")],
            )),
        )
        .register_bin(
            "pyve-with-testenv",
            Path::new(&stage(root.path(), "testenv", &[(&bin("pyve-testenv"), "pyve-testenv")])),
        )
        .env("HOME", home.display().to_string())
        .env("XDG_CACHE_HOME", sandbox.path().join("cache").display().to_string())
        .env("PATH", "/usr/bin:/bin")
        .env("RUST_BACKTRACE", "0")
        .insert_var("[STAGE]", root.path().display().to_string())
        .unwrap()
        .insert_var("[HOME]", home.display().to_string())
        .unwrap()
        .insert_var("[SANDBOX]", sandbox.path().display().to_string())
        .unwrap();
    // The copied file keeps the execute bit of nothing: make sure it has none.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let f = root.path().join("noexec/pyve-noexec");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    cases.case("cmd/*.toml");
    cases.run();
}
