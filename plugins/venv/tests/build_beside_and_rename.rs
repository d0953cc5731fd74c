//! The environment is built in a hidden sibling and renamed in: an existing destination is
//! refused untouched, a failure leaves neither the destination nor the temporary directory,
//! leftovers of crashed creators are cleaned up, concurrent creators do not corrupt
//! anything. Plus the interpreter checks that guard all of it.

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{python, temp_leftovers};
use pyve_venv::{CreateOptions, Error, InspectMethod, Interpreter, MethodChoice, cleanup_stale_temps, create};

fn interp(short: &str) -> Interpreter {
    Interpreter::inspect(&python(short).path).expect("inspect")
}

fn native() -> CreateOptions {
    CreateOptions { method: MethodChoice::NativeOnly, ..CreateOptions::default() }
}

#[test]
fn existing_destination_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dest = tmp.path().join("venv");
    std::fs::create_dir(&dest).expect("mkdir");
    std::fs::write(dest.join("keep.txt"), "mine").expect("write");
    let err = create(&interp("3.13"), &dest, &native()).expect_err("must refuse");
    assert!(matches!(err, Error::DestinationExists { .. }), "{err}");
    assert!(err.to_string().contains("already exists"), "{err}");
    let names: Vec<_> = std::fs::read_dir(&dest).expect("list").map(|e| e.expect("e").file_name()).collect();
    assert_eq!(names, ["keep.txt"]);
    assert_eq!(std::fs::read_to_string(dest.join("keep.txt")).expect("read"), "mine");
    assert!(temp_leftovers(tmp.path()).is_empty());

    // An empty directory and a file count as existing too.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    assert!(matches!(create(&interp("3.13"), &empty, &native()), Err(Error::DestinationExists { .. })));
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").expect("write");
    assert!(matches!(create(&interp("3.13"), &file, &native()), Err(Error::DestinationExists { .. })));
    assert!(temp_leftovers(tmp.path()).is_empty());
}

#[test]
fn a_failure_mid_way_leaves_no_destination_and_no_temporary_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let parent = tmp.path().join("projects");

    // The cache "directory" is a file: seeding fails after the layout was written.
    let not_a_dir = tmp.path().join("cache-file");
    std::fs::write(&not_a_dir, "x").expect("write");
    let opts = CreateOptions { cache_dir: Some(not_a_dir), ..native() };
    let dest = parent.join("venv");
    let err = create(&interp("3.12"), &dest, &opts).expect_err("must fail");
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(!dest.exists());
    assert!(temp_leftovers(&parent).is_empty(), "{:?}", temp_leftovers(&parent));

    // A corrupt wheel: the error names it, and nothing is left.
    let mut broken = interp("3.13");
    let fake = tmp.path().join("pip-99.0-py3-none-any.whl");
    std::fs::write(&fake, "not a zip").expect("write");
    broken.bundled_wheels[0].path = fake.clone();
    let err = create(&broken, &dest, &native()).expect_err("must fail");
    assert!(matches!(&err, Error::Wheel { path, .. } if path == &fake), "{err}");
    assert!(!dest.exists());
    assert!(temp_leftovers(&parent).is_empty());
    // And with a cache: no half-made cache entry either.
    let cache = tmp.path().join("cache");
    let err = create(&broken, &dest, &CreateOptions { cache_dir: Some(cache.clone()), ..native() }).expect_err("fail");
    assert!(matches!(err, Error::Wheel { .. }), "{err}");
    assert!(!dest.exists());
    assert!(temp_leftovers(&parent).is_empty());
    let entries: Vec<_> = std::fs::read_dir(cache.join(pyve_venv::seed::CACHE_SUBDIR)).expect("list").collect();
    assert!(entries.is_empty(), "cache entries left: {entries:?}");
}

#[test]
fn stale_temporary_directories_are_cleaned_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // A dead process (pids never get this large on Linux).
    let dead = dir.join(".venv.pyve-tmp-999999999-0");
    std::fs::create_dir_all(dead.join("bin")).expect("mkdir");
    // A live process (pid 1), fresh: kept. The same, a minute old: removed.
    let fresh = dir.join(".venv.pyve-tmp-1-0");
    std::fs::create_dir(&fresh).expect("mkdir");
    let old = dir.join(".other.pyve-tmp-1-1");
    std::fs::create_dir(&old).expect("mkdir");
    let two_minutes_ago = SystemTime::now() - Duration::from_secs(120);
    std::fs::File::open(&old)
        .and_then(|f| f.set_times(std::fs::FileTimes::new().set_modified(two_minutes_ago)))
        .expect("age the directory");
    // This process's own: kept. Unrelated names: kept.
    let mine = dir.join(format!(".venv.pyve-tmp-{}-5", std::process::id()));
    std::fs::create_dir(&mine).expect("mkdir");
    let unrelated = dir.join("venv.pyve-tmp-1-0");
    std::fs::create_dir(&unrelated).expect("mkdir");

    let mut removed = cleanup_stale_temps(dir).expect("cleanup");
    removed.sort();
    let mut expected = vec![dead.clone(), old.clone()];
    expected.sort();
    assert_eq!(removed, expected);
    assert!(!dead.exists() && !old.exists());
    assert!(fresh.exists() && mine.exists() && unrelated.exists());
    assert!(cleanup_stale_temps(&dir.join("missing")).expect("missing dir is fine").is_empty());
}

#[test]
fn concurrent_creators_share_the_cache_and_race_for_a_destination() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = tmp.path().join("cache");
    let interp = interp("3.13");
    let opts = CreateOptions { cache_dir: Some(cache.clone()), ..native() };
    // Four creators, two destinations, one empty cache.
    let results: Vec<Result<pyve_venv::Created, Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (interp, opts) = (&interp, &opts);
                let dest = tmp.path().join(format!("venv-{}", i % 2));
                s.spawn(move || create(interp, &dest, opts))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 2, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::DestinationExists { .. }), "{e}");
        }
    }
    assert!(temp_leftovers(tmp.path()).is_empty());
    let entries = std::fs::read_dir(cache.join(pyve_venv::seed::CACHE_SUBDIR)).expect("list").count();
    assert_eq!(entries, 1, "one cache entry for the one wheel");
    let home = tmp.path().join("home");
    for i in 0..2 {
        let venv = tmp.path().join(format!("venv-{i}"));
        common::check_record(&venv.join("lib/python3.13/site-packages"));
        common::run_ok(&venv.join("bin/pip"), &["--version"], &home);
    }
}

#[test]
fn interpreters_are_described_from_their_files() {
    for py in common::pythons() {
        let interp = Interpreter::inspect(&py.path).expect("inspect");
        assert_eq!(interp.inspected_by, InspectMethod::FileSystem, "{}", py.path.display());
        assert_eq!(interp.version.full, py.version);
        assert_eq!(interp.executable, py.path);
        assert_eq!(interp.real_executable, std::fs::canonicalize(&py.path).expect("canonicalize"));
        let prefix = py.path.parent().and_then(Path::parent).expect("prefix");
        assert_eq!(interp.base_prefix, prefix);
        assert_eq!(interp.stdlib, prefix.join("lib").join(format!("python{}", py.short)));
        assert!(interp.bundled_wheels.iter().any(|w| w.project == "pip" && w.path.is_file()));
        // What the interpreter itself says.
        let out = common::run_ok(
            &py.path,
            &["-I", "-c", "import sys, ensurepip; print(sys.version.split()[0], sys.base_prefix, ensurepip.version())"],
            Path::new("/nonexistent"),
        );
        let pip = interp.bundled_wheels.iter().find(|w| w.project == "pip").expect("pip");
        assert_eq!(out.trim(), format!("{} {} {}", py.version, prefix.display(), pip.version));
    }
}

#[test]
fn shims_and_non_interpreters_are_refused_clearly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let shims = tmp.path().join(".pyenv").join("shims");
    std::fs::create_dir_all(&shims).expect("mkdir");
    let shim = shims.join("python3.12");
    std::fs::write(
        &shim,
        "#!/usr/bin/env bash\nset -e\nexec \"/root/.pyenv/libexec/pyenv\" exec \"$program\" \"$@\"\n",
    )
    .expect("write");
    let err = Interpreter::inspect(&shim).expect_err("a shim");
    assert!(matches!(err, Error::Shim { manager: "pyenv", .. }), "{err}");
    assert!(err.to_string().contains("pyenv which python3.12"), "{err}");

    let asdf = tmp.path().join("python3");
    std::fs::write(&asdf, "#!/usr/bin/env bash\n# asdf-plugin: python\nexec asdf exec \"python3\" \"$@\"\n")
        .expect("write");
    assert!(matches!(Interpreter::inspect(&asdf), Err(Error::Shim { manager: "asdf", .. })));

    let missing = tmp.path().join("nope");
    assert!(matches!(Interpreter::inspect(&missing), Err(Error::InterpreterNotFound { .. })));
    assert!(matches!(Interpreter::inspect(tmp.path()), Err(Error::NotAnInterpreter { .. })));
    if let Some(root) = common::pyenv_root() {
        let real_shim = root.join("shims").join("python3.12");
        if real_shim.is_file() {
            assert!(matches!(Interpreter::inspect(&real_shim), Err(Error::Shim { .. })));
        }
    }
}
