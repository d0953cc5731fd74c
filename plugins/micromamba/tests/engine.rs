//! Both engines for real, offline: a conda channel written at run time (noarch packages with an
//! executable and a dependency, `.tar.bz2` and `.conda`), solved and installed by the built-in
//! engine, and by the micromamba engine driving `micromamba-compat`.

use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_micromamba::channel::{Format, Package, write_channel};
use pyve_micromamba::engine::{Binary, Builtin, CreateRequest, Engine, Source};
use pyve_micromamba::envfile::EnvFile;
use pyve_micromamba::lock::{LockFile, platform};

fn packages() -> Vec<Package> {
    let mut hello = Package::with_command("hello", "1.0", "hello", "hello from conda", Format::TarBz2);
    hello.depends = vec!["greet >=2".into()];
    vec![
        hello,
        Package::with_command("greet", "1.0", "greet", "greet 1", Format::Conda),
        Package::with_command("greet", "2.1", "greet", "greet 2", Format::Conda),
    ]
}

struct World {
    dir: tempfile::TempDir,
    channel: PathBuf,
    written: Vec<(PathBuf, String, String)>,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let channel = dir.path().join("channel");
    let written = write_channel(&channel, platform(), &packages()).unwrap();
    std::fs::create_dir_all(dir.path().join("project")).unwrap();
    World { dir, channel, written }
}

impl World {
    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }
    fn env_yml(&self) -> PathBuf {
        let p = self.project().join("environment.yml");
        std::fs::write(
            &p,
            format!("name: demo\nchannels:\n  - {}\ndependencies:\n  - hello\n", self.channel.display()),
        )
        .unwrap();
        p
    }
    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
}

fn run(cmd: &Path) -> String {
    let out = Command::new(cmd).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn builtin_solves_and_installs_beside_the_final_place() {
    let w = world();
    let source = Source::EnvFile(EnvFile::read(&w.env_yml()).unwrap());
    let target = w.project().join(".pyve/envs/demo");
    let build = w.project().join(".pyve/envs/.demo.tmp");
    let req =
        CreateRequest { source: &source, target: &target, build_dir: &build, root: &w.project(), cache_dir: w.cache() };
    let created = Builtin.create(&req).unwrap();
    assert_eq!(created.packages, 2, "hello and the newest greet");
    assert!(!created.built_in_place);
    assert!(!target.exists(), "the engine builds beside; the caller renames");
    std::fs::rename(&build, &target).unwrap();
    assert_eq!(run(&target.join("bin/hello")), format!("hello from conda\nprefix={}\n", target.display()));
    assert_eq!(run(&target.join("bin/greet")).lines().next(), Some("greet 2"), "the solve picks greet 2.1 (>=2)");
    let list = Builtin.list(&target).unwrap();
    assert_eq!(
        list.iter().map(|p| (p.name.as_str(), p.version.as_str())).collect::<Vec<_>>(),
        [("greet", "2.1"), ("hello", "1.0")]
    );
}

#[test]
fn builtin_reports_an_unsatisfiable_spec() {
    let w = world();
    let p = w.project().join("environment.yml");
    std::fs::write(&p, format!("channels: [{}]\ndependencies:\n  - hello\n  - greet <1\n", w.channel.display()))
        .unwrap();
    let source = Source::EnvFile(EnvFile::read(&p).unwrap());
    let target = w.project().join("env");
    let req = CreateRequest {
        source: &source,
        target: &target,
        build_dir: &target,
        root: &w.project(),
        cache_dir: w.cache(),
    };
    let e = Builtin.create(&req).unwrap_err().to_string();
    assert!(e.starts_with("cannot solve the environment"), "{e}");
    assert!(e.contains("greet"), "{e}");
}

#[test]
fn builtin_installs_a_lock_file_as_locked_and_checks_hashes() {
    let w = world();
    // Lock the *older* greet: a solve would pick 2.1, the lock must win.
    let pkgs = packages();
    let mut hello = pkgs[0].clone();
    hello.depends = vec!["greet >=1".into()];
    let locked = [hello, pkgs[1].clone()];
    let written = [w.written[0].clone(), w.written[1].clone()];
    let lock_path = w.project().join("conda-lock.yml");
    std::fs::write(&lock_path, pyve_micromamba::channel::lock_yml(&w.channel, platform(), &locked, &written)).unwrap();
    let source = Source::Lock(LockFile::read(&lock_path).unwrap());
    let target = w.project().join("env");
    let req = CreateRequest {
        source: &source,
        target: &target,
        build_dir: &target,
        root: &w.project(),
        cache_dir: w.cache(),
    };
    Builtin.create(&req).unwrap();
    assert_eq!(run(&target.join("bin/greet")).lines().next(), Some("greet 1"), "installed as locked, no solve");

    // A wrong hash is refused.
    let text = std::fs::read_to_string(&lock_path).unwrap().replace(&w.written[1].2, &"0".repeat(64));
    std::fs::write(&lock_path, text).unwrap();
    let source = Source::Lock(LockFile::read(&lock_path).unwrap());
    let target = w.project().join("env2");
    let req = CreateRequest {
        source: &source,
        target: &target,
        build_dir: &target,
        root: &w.project(),
        cache_dir: w.dir.path().join("cache2"),
    };
    let e = Builtin.create(&req).unwrap_err().to_string();
    assert!(e.contains("cannot install"), "{e}");
    assert!(!target.join("bin/greet").exists());
}

#[test]
fn micromamba_engine_drives_a_compatible_binary() {
    let w = world();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_micromamba-compat"));
    let engine = Binary::new(bin.clone());
    assert_eq!(engine.version(), "2.0.5");
    let source = Source::EnvFile(EnvFile::read(&w.env_yml()).unwrap());
    let target = w.project().join(".pyve/envs/demo");
    let req = CreateRequest {
        source: &source,
        target: &target,
        build_dir: &target,
        root: &w.project(),
        cache_dir: w.cache(),
    };
    let created = engine.create(&req).unwrap();
    assert!(created.built_in_place);
    assert_eq!(created.packages, 2, "counted from `list --json`");
    assert_eq!(run(&target.join("bin/hello")), format!("hello from conda\nprefix={}\n", target.display()));
    let out = Command::new(&bin).args(["run", "-p"]).arg(&target).arg("greet").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().next(), Some("greet 2"));
    // A failing create names the command.
    let text = format!("channels: [{}]\ndependencies:\n  - nothing-like-this\n", w.channel.display());
    std::fs::write(w.project().join("environment.yml"), text).unwrap();
    let source = Source::EnvFile(EnvFile::read(&w.project().join("environment.yml")).unwrap());
    let t2 = w.project().join("other");
    let req = CreateRequest { source: &source, target: &t2, build_dir: &t2, root: &w.project(), cache_dir: w.cache() };
    let e = engine.create(&req).unwrap_err().to_string();
    assert!(e.contains("create -p") && e.contains("failed"), "{e}");
}
