//! Helpers for pyve's end-to-end tests: where the built binaries are, staged plugin
//! directories, and sandboxes that isolate `HOME`, `PYVE_HOME`, the cache and the plugin path
//! so that no test reads or writes outside a temporary directory.
//!
//! The binaries must be built first (`cargo test` alone does not build other packages'
//! binaries): `cargo build --workspace --lib --bins --examples`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the built binaries (`target/debug`), found from the running test.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    // target/debug/deps/<test>-<hash>
    let dir = exe.parent().and_then(Path::parent).expect("tests run from target/<profile>/deps");
    dir.to_path_buf()
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --lib --bins --examples` before the tests (see README.md)",
        path.display()
    );
    path
}

/// A binary of the workspace, such as `pyve` or `pyve-venv`.
pub fn bin(name: &str) -> PathBuf {
    built(target_dir().join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

/// An example executable, such as `pyve-hello` or `pyve-misbehave`.
pub fn example(name: &str) -> PathBuf {
    built(target_dir().join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
}

/// An example dynamic library by its crate name, such as `hello_dylib`.
pub fn example_dylib(stem: &str) -> PathBuf {
    built(target_dir().join("examples").join(format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )))
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the repository").to_path_buf()
}

/// Copy `src` to `dest` (never a hard link: a test that changes the copy's mode or content
/// must not change the build's file).
///
/// The copy is made by `cp`, not in this process: a file this (multi-threaded) test process
/// held open for writing would be inherited by processes other test threads fork at that
/// instant, and executing the copy would then fail with "text file busy".
pub fn place(src: &Path, dest: &Path) {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let _ = std::fs::remove_file(dest);
    let status = Command::new("cp").arg(src).arg(dest).status().expect("cp runs");
    assert!(status.success(), "cp {} {} failed", src.display(), dest.display());
}

/// A temporary world for one test: `home/` (HOME), `home/.pyve` (PYVE_HOME), `cache/`
/// (XDG_CACHE_HOME), `plugins/` (PYVE_PLUGIN_PATH), `bin/` (a private copy of pyve, so the
/// directory of the running pyve holds only what the test puts there), `project/`.
#[derive(Debug)]
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh sandbox with pyve placed in `bin/`.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new().prefix("pyve-test-").tempdir().expect("a temporary directory");
        let sb = Sandbox { dir };
        for d in ["home/.pyve", "cache", "plugins", "bin", "project"] {
            std::fs::create_dir_all(sb.path().join(d)).unwrap();
        }
        place(&bin("pyve"), &sb.pyve());
        sb
    }

    /// The sandbox root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The private pyve.
    pub fn pyve(&self) -> PathBuf {
        self.path().join("bin").join("pyve")
    }

    /// `PYVE_PLUGIN_PATH`.
    pub fn plugins(&self) -> PathBuf {
        self.path().join("plugins")
    }

    /// A project directory.
    pub fn project(&self) -> PathBuf {
        self.path().join("project")
    }

    /// `HOME`.
    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// `XDG_CACHE_HOME`.
    pub fn cache(&self) -> PathBuf {
        self.path().join("cache")
    }

    /// Install a plugin file into `plugins/` under `name`.
    pub fn add_plugin(&self, src: &Path, name: &str) -> PathBuf {
        let dest = self.plugins().join(name);
        place(src, &dest);
        dest
    }

    /// A command for the private pyve, with a clean environment: only `PATH` (system
    /// directories), `HOME`, `PYVE_HOME`, `XDG_CACHE_HOME`, `PYVE_PLUGIN_PATH` and `LANG`.
    pub fn pyve_cmd(&self) -> Command {
        let mut cmd = Command::new(self.pyve());
        self.isolate(&mut cmd);
        cmd
    }

    /// Put plugins built by the workspace (`pyve-venv`, `libpyve_distutils_shim.so`, ...) beside
    /// the sandbox's pyve, as an installation would.
    pub fn install(&self, files: &[&str]) -> &Self {
        for f in files {
            place(&built(target_dir().join(f)), &self.path().join("bin").join(f));
        }
        self
    }

    /// A pyve command for end-to-end tests with real interpreters: the sandbox's environment,
    /// plus the pyenv root (read only), the distutils shim off and no provisioning of uv
    /// (`PYVE_NO_UV=1`; the tests of each turn it on), and no `CI` or `PYVE_FORCE_YES` unless
    /// a test sets them.
    pub fn e2e(&self) -> Command {
        let mut cmd = self.pyve_cmd();
        cmd.env("PYENV_ROOT", pyenv_root()).env("PYVE_DISABLE_DISTUTILS_SHIM", "1").env("PYVE_NO_UV", "1");
        cmd
    }

    /// Apply the sandbox's environment to any command.
    pub fn isolate(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.home())
            .env("PYVE_HOME", self.home().join(".pyve"))
            .env("XDG_CACHE_HOME", self.cache())
            .env("PYVE_PLUGIN_PATH", self.plugins())
            .env("LANG", "C.UTF-8")
            .current_dir(self.project());
    }
}

/// The pyenv root holding the real interpreters the tests use (read, never written):
/// `PYENV_ROOT`, else `~/.pyenv` of the real home.
pub fn pyenv_root() -> PathBuf {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
        .expect("PYENV_ROOT or HOME is set")
}

/// The newest installed CPython `X.Y.*` under the pyenv root, as `X.Y.Z`.
///
/// # Panics
/// When none is installed: the end-to-end tests need real 3.11, 3.12 and 3.13.
pub fn python(minor: &str) -> String {
    let dir = pyenv_root().join("versions");
    let mut found: Vec<(u32, String)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|v| {
                    let micro = v.strip_prefix(&format!("{minor}."))?.parse().ok()?;
                    Some((micro, v))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no CPython {minor} under {}: install it with pyenv", dir.display()))
}

/// The real executable of an installed pyenv version (`3.12.1` → `.../bin/python3.12`).
pub fn python_exe(version: &str) -> PathBuf {
    let minor: Vec<&str> = version.split('.').take(2).collect();
    pyenv_root().join("versions").join(version).join("bin").join(format!("python{}", minor.join(".")))
}

/// What a finished command did.
#[derive(Debug)]
pub struct Outcome {
    /// Exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall-clock time.
    pub elapsed: std::time::Duration,
}

/// Retry `f` while it fails with "text file busy": an executable a test just copied can be
/// held open for writing, for an instant, by a process another test thread is forking.
pub fn retry_busy<T>(mut f: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Run a command to completion, capturing its output.
pub fn run(cmd: &mut Command) -> Outcome {
    let start = std::time::Instant::now();
    cmd.stdin(std::process::Stdio::null());
    let out = retry_busy(|| cmd.output()).expect("the command starts");
    Outcome::of(out, start.elapsed())
}

impl Outcome {
    /// What a finished process gave, with the time it took.
    pub fn of(out: std::process::Output, elapsed: std::time::Duration) -> Outcome {
        Outcome {
            code: out.status.code(),
            signal: std::os::unix::process::ExitStatusExt::signal(&out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }
}

/// Where `instance` breaks `schema`: the subset of JSON Schema (draft 2020-12) that schemars
/// generates — `type` (one or several), `enum`, `const`, `properties`, `required`,
/// `additionalProperties: false`, `items`, `$ref` into `$defs`, `oneOf`/`anyOf`/`allOf`,
/// `minimum`, `maximum`. Returns one message per violation, with its JSON pointer; empty when valid.
pub fn schema_errors(schema: &serde_json::Value, instance: &serde_json::Value) -> Vec<String> {
    let mut errors = Vec::new();
    check_schema(schema, schema, instance, "", &mut errors);
    errors
}

fn check_schema(
    root: &serde_json::Value,
    schema: &serde_json::Value,
    v: &serde_json::Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    use serde_json::Value;
    let Some(s) = schema.as_object() else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{at}: no value is allowed here"));
        }
        return;
    };
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r.strip_prefix('#').and_then(|p| root.pointer(p));
        match target {
            Some(t) => check_schema(root, t, v, at, errors),
            None => errors.push(format!("{at}: unresolvable $ref {r}")),
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let fits = |ty: &str| match ty {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            _ => false,
        };
        if !types.iter().any(|ty| fits(ty)) {
            errors.push(format!("{at}: {v} is not of type {types:?}"));
            return;
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {e:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{at}: {v} is not {c}"));
    }
    if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} is below {min}"));
    }
    if let (Some(max), Some(n)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64())
        && n > max
    {
        errors.push(format!("{at}: {n} is above {max}"));
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for req in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !obj.contains_key(req) {
                errors.push(format!("{at}: `{req}` is required"));
            }
        }
        for (k, val) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check_schema(root, ps, val, &format!("{at}/{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: `{k}` is not allowed"))
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (s.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            check_schema(root, items, item, &format!("{at}/{i}"), errors);
        }
    }
    for (key, need) in [("oneOf", Some(1)), ("anyOf", None)] {
        if let Some(alts) = s.get(key).and_then(Value::as_array) {
            let fitting = alts.iter().filter(|a| schema_fits(root, a, v)).count();
            let ok = match need {
                Some(n) => fitting == n,
                None => fitting > 0,
            };
            if !ok {
                errors.push(format!("{at}: {v} fits {fitting} of the {key} alternatives"));
            }
        }
    }
    for a in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        check_schema(root, a, v, at, errors);
    }
}

fn schema_fits(root: &serde_json::Value, schema: &serde_json::Value, v: &serde_json::Value) -> bool {
    let mut errors = Vec::new();
    check_schema(root, schema, v, "", &mut errors);
    errors.is_empty()
}

/// The committed schema `docs/schemas/NAME`.
pub fn committed_schema(name: &str) -> serde_json::Value {
    let path = repo_root().join("docs/schemas").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parse `text` as JSON and check it against the committed schema `docs/schemas/NAME`.
///
/// # Panics
/// When the text is not JSON or breaks the schema.
pub fn assert_matches_schema(name: &str, text: &str) -> serde_json::Value {
    let value: serde_json::Value =
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{text}"));
    let errors = schema_errors(&committed_schema(name), &value);
    assert!(errors.is_empty(), "output breaks {name}:\n{}\n{text}", errors.join("\n"));
    value
}

/// A Python command plugin on the helper (sdk/python), `pyve-NAME` in `dir`, providing
/// `commands`; each prints `NAME: COMMAND ARGS...`.
pub fn python_command_plugin(dir: &Path, name: &str, commands: &[&str]) -> PathBuf {
    let sdk = repo_root().join("sdk/python");
    let mut text = format!(
        "#!/usr/bin/env python3\nimport os, sys\nsys.path.insert(0, {sdk:?})\nimport pyve_plugin as pp\n\nplugin = pp.Plugin({name:?}, \"0.1.0\", description=\"A test command plugin\")\n\n",
        sdk = sdk.display().to_string(),
    );
    for c in commands {
        let f = c.replace('-', "_");
        text.push_str(&format!(
            "@plugin.command({c:?}, summary=\"The {c} command of {name}\")\ndef cmd_{f}(inv):\n    print({name:?} + \": \" + \" \".join([os.environ.get(\"PYVE_COMMAND\", \"?\")] + [pp.as_text(a) for a in inv.args]))\n    return 0\n\n"
        ));
    }
    text.push_str("if __name__ == \"__main__\":\n    pp.main(plugin)\n");
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(format!("pyve-{name}"));
    std::fs::write(&path, text).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}
