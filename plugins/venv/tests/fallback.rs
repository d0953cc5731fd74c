//! The `python -m venv` fallback: used only where the native layout is not verified, run in
//! the temporary sibling and relocated so that the result is the same as the native one.

mod common;

use common::{check_record, diff, python, run_ok, snapshot};
use pyve_venv::{CreateOptions, Error, Interpreter, Method, MethodChoice, create};

#[test]
fn python_venv_method_is_relocated_to_the_same_tree_as_native() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    let py = python("3.13");
    let interp = Interpreter::inspect(&py.path).expect("inspect");
    let (native, fallback) = (tmp.path().join("a").join("venv"), tmp.path().join("b").join("venv"));
    let created = create(&interp, &native, &CreateOptions { method: MethodChoice::NativeOnly, ..Default::default() })
        .expect("native");
    assert_eq!(created.method, Method::Native);
    let created = create(&interp, &fallback, &CreateOptions { method: MethodChoice::PythonVenv, ..Default::default() })
        .expect("fallback");
    assert!(matches!(created.method, Method::PythonVenv { .. }), "{:?}", created.method);
    assert!(created.seeded.is_empty());
    assert!(common::temp_leftovers(&tmp.path().join("b")).is_empty());

    let differences = diff(&snapshot(&native), &snapshot(&fallback));
    assert!(differences.is_empty(), "fallback differs from native:\n  {}", differences.join("\n  "));
    check_record(&fallback.join("lib/python3.13/site-packages"));
    // Nothing mentions the temporary directory any more (compiled files aside).
    let snap = snapshot(&fallback);
    for (path, node) in &snap {
        if let common::Node::File { content, .. } = node {
            assert!(
                !String::from_utf8_lossy(content).contains(".pyve-tmp-"),
                "{path} mentions the temporary directory"
            );
        }
    }
    let out = run_ok(&fallback.join("bin/pip"), &["--version"], &home);
    assert!(out.contains(&fallback.join("lib/python3.13/site-packages/pip").display().to_string()), "{out}");
}

#[test]
fn unverified_interpreters_fall_back_and_native_only_refuses() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("home");
    // An interpreter inside a virtual environment: its sys._base_executable is elsewhere.
    let py = python("3.12");
    let base = Interpreter::inspect(&py.path).expect("inspect");
    let outer = tmp.path().join("outer");
    create(&base, &outer, &CreateOptions { with_pip: false, ..Default::default() }).expect("outer venv");
    let inner_python = outer.join("bin/python");
    let interp = Interpreter::inspect(&inner_python).expect("inspect a venv's python");
    assert!(interp.native_blocker.is_some(), "{interp:?}");

    let strict = CreateOptions { with_pip: false, method: MethodChoice::NativeOnly, ..Default::default() };
    let err = create(&interp, &tmp.path().join("strict"), &strict).expect_err("native only");
    assert!(matches!(err, Error::NativeUnavailable { .. }), "{err}");
    assert!(!tmp.path().join("strict").exists());

    let dest = tmp.path().join("nested");
    let created = create(&interp, &dest, &CreateOptions { with_pip: false, ..Default::default() }).expect("fallback");
    let Method::PythonVenv { reason } = &created.method else { panic!("expected the fallback: {:?}", created.method) };
    assert!(reason.contains("virtual environment"), "{reason}");
    let cfg = std::fs::read_to_string(dest.join("pyvenv.cfg")).expect("pyvenv.cfg");
    assert!(
        cfg.contains(&format!("command = {} -m venv --without-pip {}\n", inner_python.display(), dest.display())),
        "{cfg}"
    );
    run_ok(&dest.join("bin/python"), &["-c", "import sys; assert sys.prefix != sys.base_prefix"], &home);
    assert!(common::temp_leftovers(tmp.path()).is_empty());

    // Versions outside 3.8-3.13 (pyenv has 3.7 here, but it is not required).
    if let Some(root) = common::pyenv_root() {
        let py37 = root.join("versions/3.7.16/bin/python3.7");
        if py37.is_file() {
            let interp = Interpreter::inspect(&py37).expect("inspect 3.7");
            let err = create(&interp, &tmp.path().join("x37"), &strict).expect_err("not verified");
            assert!(err.to_string().contains("outside the verified range"), "{err}");
        }
    }
}
