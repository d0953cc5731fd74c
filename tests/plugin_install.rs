//! `pyve plugin install` and `pyve plugin remove`: from built files, a Python script, a crate
//! directory and a local registry; refusals that change nothing; receipts; removal of exactly
//! what was installed. No test needs the network: cargo runs with `CARGO_NET_OFFLINE=true`
//! and a sandboxed `CARGO_HOME`.

use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_tests::{Outcome, Sandbox, example, example_dylib, place, repo_root, run};
use serde_json::Value;

fn user_dir(sb: &Sandbox) -> PathBuf {
    sb.home().join(".pyve/plugins")
}

fn install(sb: &Sandbox, args: &[&str]) -> Outcome {
    let mut cmd = sb.pyve_cmd();
    with_cargo(sb, &mut cmd);
    run(cmd.args(["plugin", "install"]).args(args))
}

/// The real cargo (the one running these tests, not a rustup proxy) on PATH, with a sandboxed
/// CARGO_HOME and no network.
fn with_cargo(sb: &Sandbox, cmd: &mut Command) {
    let cargo = PathBuf::from(env!("CARGO"));
    let bin = cargo.parent().unwrap();
    cmd.env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()))
        .env("CARGO", &cargo)
        .env("CARGO_HOME", sb.path().join("cargo-home"))
        .env("CARGO_NET_OFFLINE", "true");
    for var in ["RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
}

fn receipt(sb: &Sandbox, name: &str) -> Value {
    let text = std::fs::read_to_string(user_dir(sb).join(format!(".receipts/{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every file under `dir` (relative), sorted, symlinks included.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else if p == root.join(".lock") {
                // The install lock: pyve's, like the receipts directory.
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn built_hello(sb: &Sandbox) -> PathBuf {
    let src = sb.path().join("src");
    place(&example("pyve-hello"), &src.join("pyve-hello"));
    place(&example_dylib("hello_dylib"), &src.join("libpyve_hello.so"));
    src.join("pyve-hello")
}

#[test]
fn a_built_file_installs_with_its_library_and_a_receipt() {
    let sb = Sandbox::new();
    let src = built_hello(&sb);
    let out = install(&sb, &[src.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("✓ Installed plugin hello 0.1.0 (pyve-hello, libpyve_hello.so)"), "{}", out.stdout);
    assert_eq!(tree(&user_dir(&sb)), [".receipts/hello.json", "libpyve_hello.so", "pyve-hello"]);

    let r = receipt(&sb, "hello");
    assert_eq!(r["version"], "0.1.0");
    assert_eq!(r["source"]["kind"], "file");
    assert_eq!(r["source"]["spec"], src.display().to_string());
    assert_eq!(r["files"].as_array().unwrap().len(), 2);
    assert_eq!(r["files"][0]["sha256"].as_str().unwrap().len(), 64);

    // It serves, from the user directory, and `plugin list` says where it came from.
    let out = run(sb.pyve_cmd().args(["hello", "x"]));
    assert_eq!(out.stdout, "Hello, x!\n", "{}", out.stderr);
    let list: Value = serde_json::from_str(&run(sb.pyve_cmd().args(["plugin", "list", "--json"])).stdout).unwrap();
    let hello: Vec<&Value> = list.as_array().unwrap().iter().filter(|e| e["name"] == "hello").collect();
    assert_eq!(hello.len(), 2);
    assert!(hello.iter().all(|e| e["source"]["kind"] == "file"), "{hello:?}");
    let out = run(sb.pyve_cmd().args(["plugin", "list", "-v"]));
    assert!(out.stdout.contains(&src.display().to_string()), "{}", out.stdout);

    // The same version again: refused unless --force.
    let out = install(&sb, &[src.to_str().unwrap()]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("plugin hello 0.1.0 is already installed"), "{}", out.stderr);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    let out = install(&sb, &["--force", src.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);

    // Remove takes exactly the receipt's files.
    std::fs::write(user_dir(&sb).join("notes.txt"), "mine").unwrap();
    let out = run(sb.pyve_cmd().args(["plugin", "remove", "hello"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(tree(&user_dir(&sb)), ["notes.txt"]);
    let out = run(sb.pyve_cmd().args(["hello", "x"]));
    assert_eq!(out.code, Some(1));
}

#[test]
fn a_plugin_without_a_receipt_is_not_removed() {
    let sb = Sandbox::new();
    let file = user_dir(&sb).join("pyve-hello");
    place(&example("pyve-hello"), &file);
    let out = run(sb.pyve_cmd().args(["plugin", "remove", "hello"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("was not installed by `pyve plugin install`"), "{}", out.stderr);
    assert!(out.stderr.contains(&file.display().to_string()), "{}", out.stderr);
    assert!(file.exists());
    // Nor replaced by an install without --force.
    let src = built_hello(&sb);
    let out = install(&sb, &[src.to_str().unwrap()]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("was not installed by pyve"), "{}", out.stderr);
}

#[test]
fn a_python_script_installs_with_the_helper_and_runs_without_a_path() {
    let sb = Sandbox::new();
    // A package directory no receipt lists (an install killed between moving it in and
    // switching the entry point) is removed by the next install.
    let orphan = user_dir(&sb).join(".pkg/hello-orphan");
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("pyve-hello"), "#!/bin/sh\n").unwrap();
    let src = repo_root().join("sdk/python/examples/pyve-hello");
    let out = install(&sb, &[src.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    let files = tree(&user_dir(&sb));
    assert!(files.iter().any(|f| f.starts_with(".pkg/hello-") && f.ends_with("/pyve_plugin.py")), "{files:?}");
    assert!(!orphan.exists(), "{files:?}");
    assert!(user_dir(&sb).join("pyve-hello").symlink_metadata().unwrap().file_type().is_symlink());
    assert_eq!(receipt(&sb, "hello")["source"]["kind"], "script");
    let out = run(sb.pyve_cmd().env_remove("PYVE_PLUGIN_PYTHONPATH").args(["hello", "world"]));
    assert_eq!(out.stdout, "Hello, world!\n", "{}", out.stderr);

    // Replaced by a built version: the script's package goes.
    let built = built_hello(&sb);
    let out = install(&sb, &["--force", built.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(tree(&user_dir(&sb)), [".receipts/hello.json", "libpyve_hello.so", "pyve-hello"]);
}

/// A zero-dependency plugin crate speaking just enough protocol: `initialize`, `shutdown`.
fn tiny_crate(dir: &Path, name: &str, version: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"pyve-{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\n[workspace]\n\n[[bin]]\nname = \"pyve-{name}\"\npath = \"src/main.rs\"\n"
        ),
    )
    .unwrap();
    let main = r##"use std::io::{BufRead, Write};
fn main() {
    if std::env::args().nth(1).as_deref() != Some("--pyve-rpc") {
        println!("tiny NAME VERSION");
        return;
    }
    let mut out = std::io::stdout();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let id: String = line
            .split("\"id\":")
            .nth(1)
            .map(|r| r.trim_start().chars().take_while(|c| c.is_ascii_digit()).collect())
            .unwrap_or_default();
        if id.is_empty() {
            if line.contains("\"exit\"") { return; }
            continue;
        }
        if line.contains("\"method\":\"initialize\"") {
            writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":{{"name":"NAME","version":"VERSION","protocol":"1.0","provides":{{"commands":[{{"name":"NAME","summary":"tiny"}}]}}}}}}"#).unwrap();
        } else if line.contains("\"method\":\"shutdown\"") {
            writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":null}}"#).unwrap();
        } else {
            writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"no","data":{{"kind":"method-not-found"}}}}}}"#).unwrap();
        }
        out.flush().unwrap();
    }
}
"##;
    std::fs::write(dir.join("src/main.rs"), main.replace("NAME", name).replace("VERSION", version)).unwrap();
}

#[test]
fn a_crate_directory_is_built_with_cargo_install_and_upgraded() {
    let sb = Sandbox::new();
    let v1 = sb.path().join("tiny-1");
    tiny_crate(&v1, "tiny", "0.1.0");
    let out = install(&sb, &[v1.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Installed plugin tiny 0.1.0"), "{}", out.stdout);
    assert_eq!(receipt(&sb, "tiny")["source"]["kind"], "crate");
    assert_eq!(run(sb.pyve_cmd().arg("tiny")).stdout, "tiny tiny 0.1.0\n");

    let v2 = sb.path().join("tiny-2");
    tiny_crate(&v2, "tiny", "0.2.0");
    let out = install(&sb, &[v2.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    // The replaced file is not served a stale manifest.
    let out = run(sb.pyve_cmd().args(["plugin", "list", "--json"]));
    assert!(out.stdout.contains("\"0.2.0\""), "{}", out.stdout);
    assert_eq!(run(sb.pyve_cmd().arg("tiny")).stdout, "tiny tiny 0.2.0\n");
    assert_eq!(tree(&user_dir(&sb)), [".receipts/tiny.json", "pyve-tiny"]);
}

#[test]
fn the_registry_is_cargos_with_its_own_configuration() {
    // A `directory` source (a vendored registry) replaces crates-io in the sandbox's
    // CARGO_HOME/config.toml, standing in for the Rust package registry.
    let sb = Sandbox::new();
    let vendor = sb.path().join("vendor");
    for v in ["0.3.0", "0.4.0"] {
        let dir = vendor.join(format!("pyve-reg-{v}"));
        tiny_crate(&dir, "reg", v);
        std::fs::write(dir.join(".cargo-checksum.json"), r#"{"files":{},"package":null}"#).unwrap();
    }
    let home = sb.path().join("cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[source.crates-io]\nreplace-with = \"vendored\"\n\n[source.vendored]\ndirectory = \"{}\"\n",
            vendor.display()
        ),
    )
    .unwrap();
    let out = install(&sb, &["reg@^0.3", "--offline"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Installed plugin reg 0.3.0"), "{}", out.stdout);
    let r = receipt(&sb, "reg");
    assert_eq!(r["source"]["kind"], "registry");
    assert_eq!(r["source"]["spec"], "pyve-reg@^0.3");
    // Without a requirement: the newest.
    let out = install(&sb, &["pyve-reg"]);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("Installed plugin reg 0.4.0"), "{}", out.stdout);
}

/// Refused installs change nothing: the previous version still serves, no staging is left.
fn assert_refused(sb: &Sandbox, out: &Outcome, why: &str) {
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("refusing to install"), "{}", out.stderr);
    assert!(out.stderr.contains(why), "{}", out.stderr);
    assert_eq!(tree(&user_dir(sb)), [".receipts/hello.json", "libpyve_hello.so", "pyve-hello"]);
    assert_eq!(run(sb.pyve_cmd().args(["hello", "x"])).stdout, "Hello, x!\n");
}

#[test]
fn broken_plugins_are_refused_and_nothing_changes() {
    let sb = Sandbox::new();
    let src = built_hello(&sb);
    assert_eq!(install(&sb, &[src.to_str().unwrap()]).code, Some(0));

    // A file whose manifest names another plugin.
    let other = sb.path().join("other/pyve-hello");
    place(&example("pyve-misbehave"), &other);
    let out = install(&sb, &["--force", other.to_str().unwrap()]);
    assert_refused(&sb, &out, "calls itself 'misbehave' but its file name says 'hello'");

    let mis = sb.path().join("mis/pyve-misbehave");
    place(&example("pyve-misbehave"), &mis);
    for (mode, why) in [("protocol-2", "speaks protocol 2.0"), ("exit-early", "exited before the handshake")] {
        let mut cmd = sb.pyve_cmd();
        with_cargo(&sb, &mut cmd);
        let out = run(cmd.env("PYVE_MISBEHAVE", mode).args(["plugin", "install", mis.to_str().unwrap()]));
        assert_refused(&sb, &out, why);
    }

    // A handshake that fails (a script that exits at once).
    let sh = sb.path().join("bad/pyve-hello");
    std::fs::create_dir_all(sh.parent().unwrap()).unwrap();
    std::fs::write(&sh, "#!/bin/sh\nexit 3\n").unwrap();
    let out = install(&sb, &["--force", sh.to_str().unwrap()]);
    assert_refused(&sb, &out, "exited before the handshake");
    // The hint names a file the user can run: the source, not the staged copy, which is gone.
    assert!(out.stderr.contains(&format!("run `{} --pyve-rpc` to see what it does", sh.display())), "{}", out.stderr);
    assert!(!out.stderr.contains(".staging-"), "{}", out.stderr);
}

#[test]
fn a_killed_install_leaves_the_previous_version_working() {
    let sb = Sandbox::new();
    let src = built_hello(&sb);
    assert_eq!(install(&sb, &[src.to_str().unwrap()]).code, Some(0));

    // A new "version" whose handshake hangs: kill pyve while it waits.
    let slow = sb.path().join("slow/pyve-hello");
    std::fs::create_dir_all(slow.parent().unwrap()).unwrap();
    std::fs::write(&slow, "#!/bin/sh\nexec sleep 5\n").unwrap();
    let mut cmd = sb.pyve_cmd();
    cmd.args(["plugin", "install", "--force", slow.to_str().unwrap()]);
    let mut child = pyve_tests::retry_busy(|| cmd.spawn()).unwrap();
    let staging = || {
        std::fs::read_dir(user_dir(&sb))
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".staging-"))
    };
    let start = std::time::Instant::now();
    while !staging() && start.elapsed() < std::time::Duration::from_secs(10) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(staging(), "the install was killed while staging");
    assert_eq!(run(sb.pyve_cmd().args(["hello", "x"])).stdout, "Hello, x!\n");

    // The next install cleans the leftovers.
    let out = install(&sb, &["--force", src.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!staging());
    assert_eq!(tree(&user_dir(&sb)), [".receipts/hello.json", "libpyve_hello.so", "pyve-hello"]);
}

#[test]
fn names_and_paths_that_are_not_plugins_are_usage_errors() {
    let sb = Sandbox::new();
    let out = install(&sb, &["Not_A_Name"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("is neither a path nor a plugin name"), "{}", out.stderr);
    let f = sb.path().join("tool");
    std::fs::write(&f, "x").unwrap();
    let out = install(&sb, &[f.to_str().unwrap()]);
    assert!(out.stderr.contains("is not named like a plugin"), "{}", out.stderr);
    // A path that does not exist says what SOURCE can be.
    let out = install(&sb, &["./pyve-nothing-here"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("pyve-nothing-here does not exist\nhint: give a plugin file"), "{}", out.stderr);
}

#[test]
fn a_user_plugin_directory_that_cannot_be_made_says_how_to_fix_it() {
    let sb = Sandbox::new();
    let src = built_hello(&sb);
    std::fs::write(user_dir(&sb), "not a directory").unwrap();
    let out = install(&sb, &[src.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr
            .contains(&format!("ERROR: the user plugin directory {} is not a directory", user_dir(&sb).display())),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint: move that file away, or set PYVE_HOME"), "{}", out.stderr);
    // A PYVE_HOME that cannot hold one.
    let mut cmd = sb.pyve_cmd();
    let out = run(cmd.env("PYVE_HOME", sb.path().join("home/.pyve/plugins/under-a-file")).args([
        "plugin",
        "install",
        src.to_str().unwrap(),
    ]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("ERROR: cannot create the user plugin directory"), "{}", out.stderr);
    assert!(out.stderr.contains("set PYVE_HOME to a writable directory"), "{}", out.stderr);
}

#[test]
fn installing_another_version_says_which_it_replaced() {
    let sb = Sandbox::new();
    let script = |version: &str| {
        let path = pyve_tests::python_command_plugin(&sb.path().join(version), "tool", &["tool"]);
        let text = std::fs::read_to_string(&path).unwrap().replace("\"0.1.0\"", &format!("\"{version}\""));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let (newer, older) = (script("0.2.0"), script("0.1.0"));
    let out = install(&sb, &[&newer]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stdout.contains("replaced"), "{}", out.stdout);
    // A downgrade says what it replaced, on stdout.
    let out = install(&sb, &[&older]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("INFO: replaced tool 0.2.0 with 0.1.0\n"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ Installed plugin tool 0.1.0"), "{}", out.stdout);
    assert_eq!(receipt(&sb, "tool")["version"], "0.1.0");
    // The same version again (--force) replaces nothing worth naming.
    let out = install(&sb, &["--force", &older]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!out.stdout.contains("replaced"), "{}", out.stdout);
}

#[test]
fn files_remove_cannot_delete_are_reported_and_the_receipt_is_kept() {
    // A file of the receipt replaced by a non-empty directory of the same name: removing it
    // fails even as root (permissions cannot make it fail there).
    let sb = Sandbox::new();
    let src = built_hello(&sb);
    let out = install(&sb, &[src.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lib = user_dir(&sb).join("libpyve_hello.so");
    std::fs::remove_file(&lib).unwrap();
    std::fs::create_dir_all(lib.join("inside")).unwrap();
    let out = run(sb.pyve_cmd().args(["plugin", "remove", "hello"]));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("Removed"), "{}", out.stdout);
    assert!(out.stderr.contains("ERROR: could not remove 1 of 2 files of plugin hello 0.1.0"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("ERROR: kept: {} (", lib.display())), "{}", out.stderr);
    assert!(
        out.stderr.contains("hint: remove them yourself, then run `pyve plugin remove hello` again"),
        "{}",
        out.stderr
    );
    // What could go went; the receipt stays, so a second remove finishes the job.
    assert!(!user_dir(&sb).join("pyve-hello").exists());
    assert_eq!(receipt(&sb, "hello")["version"], "0.1.0");
    std::fs::remove_dir_all(&lib).unwrap();
    let out = run(sb.pyve_cmd().args(["plugin", "remove", "hello"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("✓ Removed plugin hello 0.1.0"), "{}", out.stdout);
    assert_eq!(tree(&user_dir(&sb)), Vec::<String>::new());
}
