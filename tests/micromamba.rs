//! The micromamba backend end to end through pyve, offline: conda channels written at run time,
//! `pyve --init` from environment.yml and from conda-lock.yml through the built-in engine and
//! through a micromamba binary (`micromamba-compat`), `pyve run`, direnv, `--purge`.

use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_micromamba::channel::{Format, Package, lock_yml, write_channel};
use pyve_micromamba::lock::platform;
use pyve_tests::{Outcome, Sandbox, place, run, target_dir};

fn packages() -> Vec<Package> {
    let mut hello = Package::with_command("hello", "1.0", "hello", "hello from conda", Format::TarBz2);
    hello.depends = vec!["greet".into()];
    vec![hello, Package::with_command("greet", "2.1", "greet", "greet 2", Format::Conda)]
}

struct World {
    sb: Sandbox,
    channel: PathBuf,
    written: Vec<(PathBuf, String, String)>,
}

fn world() -> World {
    let sb = Sandbox::new();
    sb.install(&["pyve-micromamba"]);
    let channel = sb.path().join("channel");
    let written = write_channel(&channel, platform(), &packages()).unwrap();
    World { sb, channel, written }
}

impl World {
    fn env_yml(&self, name: Option<&str>) {
        let name = name.map(|n| format!("name: {n}\n")).unwrap_or_default();
        let text = format!("{name}channels:\n  - {}\ndependencies:\n  - hello\n", self.channel.display());
        std::fs::write(self.sb.project().join("environment.yml"), text).unwrap();
    }
    fn cmd(&self) -> Command {
        let mut c = self.sb.pyve_cmd();
        c.env("MAMBA_ROOT_PREFIX", self.sb.path().join("mamba-root"))
            .env("RATTLER_CACHE_DIR", self.sb.cache().join("rattler"))
            .env("PYVE_DISABLE_DISTUTILS_SHIM", "1");
        c
    }
    fn pyve(&self, args: &[&str]) -> Outcome {
        run(self.cmd().args(args))
    }
    fn env(&self, name: &str) -> PathBuf {
        self.sb.project().join(".pyve/envs").join(name)
    }
}

fn ok(out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(0), "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn all(out: &Outcome) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn init_run_purge_from_environment_yml_with_the_builtin_engine() {
    let w = world();
    w.env_yml(Some("demo"));
    let out = w.pyve(&["--init", "--no-direnv"]);
    ok(&out, "init");
    let text = all(&out);
    for want in [
        "Initializing micromamba environment...",
        "INFO: Environment name: demo",
        "INFO: Using file: environment.yml",
        "INFO: Engine: built-in (rattler ",
        "INFO: Creating micromamba environment 'demo' from environment.yml...",
        "✓ Micromamba environment 'demo' created successfully",
        "Micromamba environment initialized successfully!",
        "Environment location: .pyve/envs/demo",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("created_with"), "machine records stay out of the output:\n{text}");
    let env = w.env("demo");
    assert!(env.join("conda-meta").is_dir());
    let leftovers: Vec<_> = std::fs::read_dir(env.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["demo"], "nothing but the environment in .pyve/envs");
    let config = std::fs::read_to_string(w.sb.project().join(".pyve/config")).unwrap();
    assert!(config.contains("backend: micromamba"), "{config}");
    assert!(config.contains("env_name: demo"), "{config}");
    assert!(!config.contains("created_with"), "{config}");
    let gitignore = std::fs::read_to_string(w.sb.project().join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == ".pyve/envs"), "{gitignore}");
    assert!(!gitignore.contains("conda-lock.yml"), "{gitignore}");

    // doctor: the conda file is `Conda file` (the original's `Environment file` is the .env
    // line, which stays), a missing lock says how to make one; --validate names the environment.
    let out = w.pyve(&["doctor"]);
    ok(&out, "doctor");
    assert!(out.stdout.contains("\n✓ Conda file: environment.yml\n"), "{}", out.stdout);
    assert!(!out.stdout.contains("Environment file: environment.yml"), "{}", out.stdout);
    assert!(out.stdout.contains("\n✓ Environment file: .env (empty)\n"), "{}", out.stdout);
    assert!(out.stdout.contains("\n⚠ Lock file: missing\n  Generate with: pyve lock"), "{}", out.stdout);
    let out = w.pyve(&["--validate"]);
    assert!(
        out.stdout.contains("\n✓ Environment file: environment.yml (exists)\n✓ Environment name: demo\n"),
        "{}",
        out.stdout
    );
    // The micromamba engine chosen and no binary: an error saying where pyve looked.
    let mut c = w.cmd();
    let out = run(c.arg("doctor").env("PYVE_MICROMAMBA_ENGINE", "micromamba"));
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stdout.contains("\n✗ Micromamba: not found (checked .pyve/bin/micromamba, "), "{}", out.stdout);
    assert!(
        out.stdout.contains(", micromamba on PATH)\n  the micromamba engine is chosen (from PYVE_MICROMAMBA_ENGINE)"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("needs none"), "{}", out.stdout);

    // pyve run: the installed command, with the prefix the files were written for.
    let out = w.pyve(&["run", "hello"]);
    ok(&out, "run hello");
    assert_eq!(out.stdout, format!("hello from conda\nprefix={}\n", env.display()));
    let out = w.pyve(&["run", "sh", "-c", "echo $CONDA_PREFIX $PYVE_BACKEND $PYVE_ENV_NAME"]);
    ok(&out, "run sh");
    assert_eq!(out.stdout.trim(), format!("{} micromamba demo", env.display()));

    // Re-init without flags keeps it; --update keeps it.
    let out = w.pyve(&["--init", "--update"]);
    ok(&out, "update");
    assert!(env.join("bin/hello").is_file());

    // --force rebuilds it (the same name, a fresh build swapped in).
    let marker = env.join("marker");
    std::fs::write(&marker, "old").unwrap();
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1"));
    ok(&out, "force");
    assert!(all(&out).contains("Replacing micromamba environment 'demo'"), "{}", all(&out));
    assert!(!marker.exists(), "the old environment was replaced");
    assert!(env.join("bin/hello").is_file());

    // --purge removes it and only it.
    std::fs::write(w.sb.project().join("keep.txt"), "mine").unwrap();
    let out = w.pyve(&["--purge"]);
    ok(&out, "purge");
    assert!(!w.sb.project().join(".pyve/envs").exists(), "{}", all(&out));
    assert!(w.sb.project().join("environment.yml").is_file());
    assert!(w.sb.project().join("keep.txt").is_file());

    // An environment a first --init finds under .pyve/envs (the config was lost) is pyve's
    // own: --purge removes it with the rest of .pyve and does not claim to keep it.
    ok(&w.pyve(&["--init", "--no-direnv"]), "init again");
    for f in [".pyve/config", ".pyve/state.json"] {
        std::fs::remove_file(w.sb.project().join(f)).unwrap();
    }
    let out = w.pyve(&["--init", "--no-direnv"]);
    ok(&out, "init over the environment left behind");
    assert!(all(&out).contains("Micromamba environment 'demo' already exists, skipping creation"), "{}", all(&out));
    let out = w.pyve(&["--purge"]);
    ok(&out, "purge");
    assert!(!out.stdout.contains("Kept .pyve/envs"), "{}", out.stdout);
    assert!(!w.sb.project().join(".pyve/envs").exists(), "{}", all(&out));
}

#[test]
fn init_from_a_lock_file_installs_it_as_locked() {
    let w = world();
    w.env_yml(None);
    std::fs::write(w.sb.project().join("conda-lock.yml"), lock_yml(&w.channel, platform(), &packages(), &w.written))
        .unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--env-name", "locked", "--strict"]);
    ok(&out, "init");
    let text = all(&out);
    assert!(text.contains("INFO: Using file: conda-lock.yml"), "{text}");
    let out = w.pyve(&["run", "greet"]);
    ok(&out, "run greet");
    assert!(out.stdout.starts_with("greet 2\n"), "{}", out.stdout);
    assert!(w.env("locked").is_dir());
}

#[test]
fn lock_status_warns_by_default_and_fails_with_strict() {
    let w = world();
    w.env_yml(Some("demo"));
    let out = w.pyve(&["--init", "--no-direnv", "--strict"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    let text = all(&out);
    assert!(text.contains("Lock file missing (strict mode)"), "{text}");
    assert!(text.contains(&format!("conda-lock -f environment.yml -p {}", platform())), "{text}");
    assert!(!w.sb.project().join(".pyve/envs").exists(), "nothing made");

    // Stale by content: environment.yml asks for hello >=2, the lock (written after it, so
    // newer) has hello 1.0. --strict refuses it naming the spec; doctor and --validate say stale.
    let yml = w.sb.project().join("environment.yml");
    std::fs::write(&yml, format!("name: demo\nchannels:\n  - {}\ndependencies:\n  - hello >=2\n", w.channel.display()))
        .unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&yml).unwrap().set_modified(old).unwrap();
    let lock = w.sb.project().join("conda-lock.yml");
    std::fs::write(&lock, lock_yml(&w.channel, platform(), &packages(), &w.written)).unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--strict"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    let text = all(&out);
    assert!(text.contains("Lock file is stale (strict mode)"), "{text}");
    assert!(text.contains("hello >=2: conda-lock.yml locks hello 1.0"), "{text}");
    assert!(!w.sb.project().join(".pyve/envs").exists(), "nothing made");
    // A lock without its environment.yml (the original failed silently here, its defect 12):
    // refused by --strict with a message and a hint, before anything is made.
    std::fs::rename(&yml, w.sb.project().join("environment.yml.away")).unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--strict"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("environment.yml missing but conda-lock.yml exists (strict mode)"), "{}", all(&out));
    assert!(out.stderr.contains("hint: "), "{}", all(&out));
    assert!(!w.sb.project().join(".pyve/envs").exists(), "nothing made");
    std::fs::rename(w.sb.project().join("environment.yml.away"), &yml).unwrap();
    let out = w.pyve(&["--init", "--no-direnv"]);
    ok(&out, "init with a stale lock");
    assert!(out.stderr.contains("WARNING: Lock file may be stale"), "{}", all(&out));
    assert!(out.stderr.contains("hello >=2: conda-lock.yml locks hello 1.0"), "{}", all(&out));
    let out = w.pyve(&["doctor"]);
    assert!(
        all(&out).contains("conda-lock.yml (stale): it does not satisfy environment.yml: hello >=2"),
        "{}",
        all(&out)
    );
    let doctor_hint = format!("\n  regenerate it: pyve lock (or: conda-lock -f environment.yml -p {})\n", platform());
    assert!(out.stdout.contains(&doctor_hint), "{}", out.stdout);
    let out = w.pyve(&["--validate"]);
    assert!(
        all(&out)
            .contains("Lock file: conda-lock.yml (stale): conda-lock.yml does not satisfy environment.yml: hello >=2"),
        "{}",
        all(&out)
    );
    // --validate says how to fix it, in doctor's words.
    assert!(out.stdout.contains(&doctor_hint), "{}", out.stdout);

    // Fresh by content: a lock older than environment.yml that satisfies it passes --strict.
    w.env_yml(Some("demo"));
    std::fs::File::options().write(true).open(&lock).unwrap().set_modified(old).unwrap();
    let out = w.pyve(&["doctor"]);
    assert!(all(&out).contains("conda-lock.yml (up to date)"), "{}", all(&out));
    let out = w.pyve(&["--validate"]);
    assert!(all(&out).contains("Lock file: conda-lock.yml (up to date)"), "{}", all(&out));
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--no-direnv", "--strict"]).env("PYVE_FORCE_YES", "1"));
    ok(&out, "strict init with an older lock that satisfies environment.yml");
    assert!(!all(&out).contains("stale"), "{}", all(&out));
}

#[test]
fn bad_names_and_files_are_clear_errors() {
    let w = world();
    w.env_yml(Some("base"));
    let out = w.pyve(&["--init", "--no-direnv"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Environment name 'base' is reserved"), "{}", out.stderr);
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);

    std::fs::write(w.sb.project().join("environment.yml"), "name: x\nchannels: [a]\n").unwrap();
    let out = w.pyve(&["--init", "--no-direnv"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("environment.yml missing required 'dependencies:' field"), "{}", out.stderr);

    std::fs::write(w.sb.project().join("environment.yml"), "name: x\ndependencies:\n  - a\n  b: [\n").unwrap();
    let out = w.pyve(&["--init", "--no-direnv"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("environment.yml:"), "the file and line: {}", out.stderr);
    assert!(!w.sb.project().join(".pyve/config").exists());

    // A package no channel has: the engine's error, and nothing left that looks made.
    let text = format!("name: x\nchannels: [{}]\ndependencies:\n  - no-such-package\n", w.channel.display());
    std::fs::write(w.sb.project().join("environment.yml"), text).unwrap();
    let out = w.pyve(&["--init", "--no-direnv"]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("Failed to create micromamba environment 'x'"), "{}", out.stderr);
    assert!(out.stderr.contains("no-such-package"), "{}", out.stderr);
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    assert!(!w.sb.project().join(".pyve/envs").exists(), "no half-made environment");
    assert!(!w.sb.project().join(".pyve/config").exists());
}

/// The reference's own words (section 3.4, 3.6, 2.1 E.6), which scripts grep for: each of its
/// error lines appears as printed, capitals included; nothing is made.
#[test]
fn name_and_strict_lock_errors_keep_the_reference_wording() {
    let w = world();
    w.env_yml(Some("demo"));
    let out = w.pyve(&["--init", "--no-direnv", "--env-name", "base"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stdout.contains("\n  Backend:         micromamba"), "the original's column: {}", out.stdout);
    for want in ["Environment name 'base' is reserved", "Reserved names: base, root, default, conda, mamba, micromamba"]
    {
        assert!(out.stderr.contains(want), "missing {want:?}: {}", out.stderr);
    }
    let out = w.pyve(&["--init", "--no-direnv", "--env-name", "my-env!"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    for want in ["Invalid environment name: my-env!", "Use only alphanumeric characters, hyphens, and underscores"] {
        assert!(out.stderr.contains(want), "missing {want:?}: {}", out.stderr);
    }

    let out = w.pyve(&["--init", "--no-direnv", "--strict"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("Lock file missing (strict mode)"), "{}", out.stderr);
    assert!(out.stderr.contains("Generate lock file for reproducible builds:"), "{}", out.stderr);

    std::fs::rename(w.sb.project().join("environment.yml"), w.sb.project().join("conda-lock.yml")).unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--strict"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    for want in [
        "environment.yml missing but conda-lock.yml exists (strict mode)",
        "Lock file without source environment file is invalid",
    ] {
        assert!(out.stderr.contains(want), "missing {want:?}: {}", out.stderr);
    }

    std::fs::remove_file(w.sb.project().join("conda-lock.yml")).unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--backend", "micromamba", "--strict"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("Both environment.yml and conda-lock.yml missing (strict mode)"), "{}", out.stderr);
    let out = w.pyve(&["--init", "--no-direnv", "--backend", "micromamba"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("No environment file found"), "not silent (defect 12): {}", out.stderr);
    assert!(!w.sb.project().join(".pyve/envs").exists(), "nothing made");
    assert!(!w.sb.project().join(".pyve/config").exists(), "nothing made");
}

/// environment.yml beside requirements.txt: the original's warning (reference 3.1) on stderr;
/// micromamba wins (docs/micromamba-backend.md: its files outrank the venv backend's).
#[test]
fn conda_and_python_files_together_warn_in_the_reference_words() {
    let w = world();
    w.env_yml(Some("both"));
    std::fs::write(w.sb.project().join("requirements.txt"), "").unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--no-install-deps"]);
    ok(&out, "init");
    assert!(
        out.stderr.contains(
            "WARNING: Both conda and Python package files detected: environment.yml (micromamba) and requirements.txt (venv)\n"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("choose another with --backend (for example --backend venv)"), "{}", out.stderr);
    assert!(!out.stdout.contains("Both conda"), "a warning, on stderr only: {}", out.stdout);
    assert!(w.env("both").join("conda-meta").is_dir());
}

#[test]
fn the_micromamba_engine_drives_a_binary_on_path() {
    let w = world();
    w.env_yml(None);
    let bin = w.sb.path().join("mmbin");
    place(&target_dir().join("micromamba-compat"), &bin.join("micromamba"));
    let mut c = w.cmd();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let out = run(c.args(["--init", "--no-direnv"]).env("PATH", &path));
    ok(&out, "init");
    let text = all(&out);
    let dir = w.sb.project().file_name().unwrap().to_string_lossy().to_lowercase();
    assert!(text.contains(&format!("INFO: Environment name: {dir}")), "{text}");
    assert!(text.contains("WARNING: environment.yml missing 'name:' field"), "{text}");
    assert!(text.contains(&format!("INFO: Engine: micromamba 2.0.5 ({})", bin.join("micromamba").display())), "{text}");
    let out = w.pyve(&["run", "hello"]);
    ok(&out, "run");
    assert_eq!(out.stdout, format!("hello from conda\nprefix={}\n", w.env(&dir).display()));
    // PYVE_MICROMAMBA_ENGINE=micromamba without a binary: a clear error.
    let mut c = w.cmd();
    let out = run(c
        .args(["--init", "--force", "--no-direnv"])
        .env("PYVE_FORCE_YES", "1")
        .env("PYVE_MICROMAMBA_ENGINE", "micromamba"));
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("Micromamba not found"), "{}", out.stderr);
    assert!(w.env(&dir).join("bin/hello").is_file(), "a failed rebuild keeps the environment");
}

#[test]
fn envrc_activates_under_direnv() {
    let Some(direnv) = pyve::commands::run::find_on_path("direnv") else {
        panic!("direnv is not installed: .ci/run installs it (apt-get install direnv)");
    };
    let w = world();
    w.env_yml(Some("demo"));
    ok(&w.pyve(&["--init"]), "init");
    let envrc = std::fs::read_to_string(w.sb.project().join(".envrc")).unwrap();
    assert!(envrc.contains("PATH_add \"$PWD/.pyve/envs/demo/bin\""), "{envrc}");
    assert_eq!(envrc.matches("PYVE_ENV_NAME").count(), 1, "{envrc}");
    let direnv_cmd = |args: &[&str]| {
        let mut c = Command::new(&direnv);
        w.sb.isolate(&mut c);
        c.args(args)
            .env("XDG_CONFIG_HOME", w.sb.home().join(".config"))
            .env("XDG_DATA_HOME", w.sb.home().join(".local/share"));
        c
    };
    ok(&run(&mut direnv_cmd(&["allow", "."])), "direnv allow");
    // From a subdirectory too: the PATH entry is absolute once direnv evaluates it.
    let sub = w.sb.project().join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    let mut c = direnv_cmd(&["exec", ".", "sh", "-c", "cd sub && hello && echo $PYVE_ENV_NAME $PYVE_PROMPT_PREFIX"]);
    let out = run(&mut c);
    ok(&out, "direnv exec");
    let env = w.env("demo");
    assert_eq!(out.stdout, format!("hello from conda\nprefix={}\ndemo (micromamba:demo)\n", env.display()));
    assert!(Path::new(&env).is_absolute());
}

/// A channel with `hello` depending on `evil`, a package made hostile by `make`.
fn hostile_world(make: impl FnOnce(&mut Package, &Path)) -> World {
    let sb = Sandbox::new();
    sb.install(&["pyve-micromamba"]);
    let channel = sb.path().join("channel");
    let outside = sb.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("victim"), "the user's data\n").unwrap();
    let mut evil = Package::with_command("evil", "6.6", "evil", "evil", Format::Conda);
    make(&mut evil, &outside);
    let mut hello = Package::with_command("hello", "1.0", "hello", "hello from conda", Format::TarBz2);
    hello.depends = vec!["evil".into()];
    let written = write_channel(&channel, platform(), &[hello, evil]).unwrap();
    World { sb, channel, written }
}

fn assert_refused_untouched(w: &World, out: &Outcome, why: &str) {
    assert_ne!(out.code, Some(0), "{why}: a hostile package was installed:\n{}", all(out));
    let text = all(out);
    assert!(
        text.contains("package evil-6.6-0") && text.contains("is refused"),
        "{why}: the error names the package:\n{text}"
    );
    assert!(!text.contains("panicked"), "{why}:\n{text}");
    let outside = w.sb.path().join("outside");
    assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"the user's data\n", "{why}");
    let names: Vec<_> = std::fs::read_dir(&outside).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["victim"], "{why}: nothing written outside");
    assert!(!w.env("demo").exists(), "{why}: no environment left behind");
    let envs = w.sb.project().join(".pyve/envs");
    assert!(std::fs::read_dir(&envs).map_or(true, |mut d| d.next().is_none()), "{why}: nothing left in .pyve/envs");
}

#[test]
fn hostile_package_contents_are_refused_by_name_before_anything_is_written() {
    let file_entry = |path: String| -> serde_json::Value {
        serde_json::json!({"_path": path, "path_type": "hardlink", "size_in_bytes": 3,
            "sha256": "0000000000000000000000000000000000000000000000000000000000000000"})
    };
    type Make = Box<dyn FnOnce(&mut Package, &Path)>;
    let cases: Vec<(&str, Make)> = vec![
        (
            "a path climbing out with ../",
            Box::new(move |p, _| p.raw_paths.push(file_entry("../../../../../outside/victim".into()))),
        ),
        (
            "an absolute path",
            Box::new(move |p, out| p.raw_paths.push(file_entry(out.join("victim").display().to_string()))),
        ),
        ("a link leading out", Box::new(|p, out| p.links.push(("lib/out".into(), out.display().to_string())))),
        (
            "a relative link climbing out",
            Box::new(|p, _| p.links.push(("lib/up".into(), "../../../../../outside".into()))),
        ),
        (
            "a file written through a packaged link",
            Box::new(move |p, _| {
                p.links.push(("share".into(), "lib".into()));
                p.raw_paths.push(file_entry("share/x".into()));
            }),
        ),
    ];
    for (why, make) in cases {
        let w = hostile_world(make);
        w.env_yml(Some("demo"));
        let out = w.pyve(&["--init", "--no-direnv"]);
        assert_refused_untouched(&w, &out, why);
    }
}

#[test]
fn a_pyve_envs_link_out_of_the_project_is_neither_adopted_nor_purged() {
    let w = world();
    w.env_yml(Some("demo"));
    // The user's own conda envs directory, with an environment named like the project's.
    let theirs = w.sb.path().join("user-conda-envs");
    std::fs::create_dir_all(theirs.join("demo/conda-meta")).unwrap();
    std::fs::write(theirs.join("demo/conda-meta/x-1-0.json"), "{}").unwrap();
    std::fs::create_dir_all(theirs.join(".demo.tmp-1")).unwrap();
    std::fs::create_dir_all(w.sb.project().join(".pyve")).unwrap();
    std::os::unix::fs::symlink(&theirs, w.sb.project().join(".pyve/envs")).unwrap();
    let untouched = || {
        assert!(theirs.join("demo/conda-meta/x-1-0.json").is_file());
        assert!(theirs.join(".demo.tmp-1").is_dir(), "another tool's directory is not tidied");
    };
    let out = w.pyve(&["--init", "--no-direnv"]);
    assert_ne!(out.code, Some(0), "init adopted an environment outside the project:\n{}", all(&out));
    let text = all(&out);
    assert!(text.contains("outside the project") && text.contains(".pyve/envs"), "{text}");
    assert!(text.contains("hint:") && text.contains("rm "), "{text}");
    untouched();
    w.pyve(&["doctor"]);
    untouched();
    let out = w.pyve(&["--purge"]);
    assert!(!all(&out).contains("Removed .pyve/envs/demo"), "{}", all(&out));
    untouched();
    // The link itself stays too: it is the user's.
    assert!(std::fs::symlink_metadata(w.sb.project().join(".pyve/envs")).unwrap().file_type().is_symlink());
}

#[test]
fn leftovers_of_a_live_run_survive_and_those_of_a_dead_one_are_cleaned_by_the_next_init() {
    let w = world();
    w.env_yml(Some("demo"));
    ok(&w.pyve(&["--init", "--no-direnv"]), "init");
    let envs = w.sb.project().join(".pyve/envs");
    // A live run's environment set aside by `--init --force` (this test's own pid is alive),
    // and a dead run's temporary build.
    let live = envs.join(format!(".demo.old-{}", std::process::id()));
    let dead = envs.join(".demo.tmp-999999999");
    for d in [&live, &dead] {
        std::fs::create_dir_all(d.join("conda-meta")).unwrap();
        std::fs::write(d.join("conda-meta/x-1-0.json"), "{}").unwrap();
    }
    let out = w.pyve(&["doctor"]);
    assert!(!all(&out).contains("panicked"), "{}", all(&out));
    assert!(live.join("conda-meta/x-1-0.json").is_file(), "doctor deleted a live run's work");
    assert!(dead.is_dir(), "doctor is read-only: it touches nothing");
    ok(&w.pyve(&["run", "hello"]), "run");
    assert!(live.is_dir() && dead.is_dir(), "run touches nothing");
    let mut c = w.cmd();
    ok(&run(c.args(["--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1")), "second init");
    assert!(!dead.exists(), "a dead run's leftover is cleaned by the next init");
    assert!(live.join("conda-meta/x-1-0.json").is_file(), "init deleted a live run's work");
}

/// A world with a conda-lock.yml whose text `edit` changes.
fn locked_world(edit: impl FnOnce(String, &World) -> String) -> World {
    let w = world();
    w.env_yml(Some("demo"));
    let text = lock_yml(&w.channel, platform(), &packages(), &w.written);
    let text = edit(text, &w);
    std::fs::write(w.sb.project().join("conda-lock.yml"), text).unwrap();
    w
}

/// The lock with `hello`'s sha256 dropped (md5 only) and its md5 replaced by `md5`.
fn md5_only(text: String, w: &World, md5: &str) -> String {
    let (_, good_md5, sha) = &w.written[0];
    text.replace(&format!("    md5: {good_md5}\n    sha256: {sha}\n"), &format!("    md5: {md5}\n"))
}

fn refused_nothing_made(w: &World, out: &Outcome, want: &[&str]) {
    assert_eq!(out.code, Some(1), "{}", all(out));
    let text = all(out);
    for s in want {
        assert!(text.contains(s), "missing {s:?} in:\n{text}");
    }
    assert!(!text.contains("panicked"), "{text}");
    assert!(!w.env("demo").exists(), "nothing installed");
}

#[test]
fn lock_entries_are_checked_against_what_the_lock_records() {
    // md5 only, right: verified and installed.
    let w = locked_world(|t, w| {
        let m = w.written[0].1.clone();
        md5_only(t, w, &m)
    });
    ok(&w.pyve(&["--init", "--no-direnv", "--strict"]), "md5-only lock entry");
    assert!(w.env("demo").join("bin/hello").is_file());

    // md5 only, wrong: refused by name.
    let w = locked_world(|t, w| md5_only(t, w, "0123456789abcdef0123456789abcdef"));
    let out = w.pyve(&["--init", "--no-direnv"]);
    refused_nothing_made(
        &w,
        &out,
        &["package hello-1.0-0", "is refused: its md5 is", "0123456789abcdef0123456789abcdef"],
    );

    // A malformed hash: the file, the entry and what is wrong, not a serde error.
    let w = locked_world(|t, w| md5_only(t, w, "zz-not-hex"));
    let out = w.pyve(&["--init", "--no-direnv"]);
    refused_nothing_made(
        &w,
        &out,
        &[
            "conda-lock.yml",
            "package `hello` (conda,",
            "hash.md5 `zz-not-hex` is malformed: a md5 is 32 hexadecimal digits",
            "hint:",
        ],
    );
}

/// A `manager: pip` entry for a local wheel file, with `hash` as its hash block.
fn pip_entry(w: &World, hash: &str) -> String {
    let wheel = w.sb.path().join("wheels/tool-1.0-py3-none-any.whl");
    std::fs::create_dir_all(wheel.parent().unwrap()).unwrap();
    std::fs::write(&wheel, b"not really a wheel").unwrap();
    format!(
        "- name: tool\n  version: '1.0'\n  manager: pip\n  platform: {}\n  dependencies: {{}}\n  url: file://{}\n{hash}  category: main\n  optional: false\n",
        platform(),
        wheel.display()
    )
}

#[test]
fn pip_lock_entries_install_with_their_hash_and_strict_refuses_unhashed_ones() {
    // A wrong hash: refused before anything is built or pip runs.
    let w = locked_world(|t, w| t + &pip_entry(w, &format!("  hash:\n    sha256: {}\n", "ab".repeat(32))));
    let out = w.pyve(&["--init", "--no-direnv"]);
    refused_nothing_made(&w, &out, &["pip package tool is refused: its sha256 is", &"ab".repeat(32), "hint:"]);

    // No hash, --strict: refused, naming the entry.
    let w = locked_world(|t, w| t + &pip_entry(w, ""));
    let out = w.pyve(&["--init", "--no-direnv", "--strict"]);
    refused_nothing_made(&w, &out, &["cannot check", "(strict mode)", "tool (pip)", "hint:"]);

    // An option where the URL goes: refused, whatever the engine.
    let w = locked_world(|t, _| {
        t + &format!(
            "- name: tool\n  version: '1.0'\n  manager: pip\n  platform: {}\n  url: --target=/tmp/x\n  hash: {{sha256: {}}}\n",
            platform(),
            "ab".repeat(32)
        )
    });
    let out = w.pyve(&["--init", "--no-direnv"]);
    refused_nothing_made(&w, &out, &["package `tool` (pip,", "is not a URL"]);
}

#[test]
fn a_pyve_envs_name_link_out_of_the_project_is_refused_and_left_byte_identical() {
    let w = world();
    w.env_yml(Some("demo"));
    let theirs = w.sb.path().join("user-env");
    std::fs::create_dir_all(theirs.join("conda-meta")).unwrap();
    std::fs::write(theirs.join("conda-meta/x-1-0.json"), "{\"mine\": 1}").unwrap();
    std::fs::create_dir_all(w.sb.project().join(".pyve/envs")).unwrap();
    std::os::unix::fs::symlink(&theirs, w.env("demo")).unwrap();
    let untouched = || {
        assert_eq!(std::fs::read(theirs.join("conda-meta/x-1-0.json")).unwrap(), b"{\"mine\": 1}");
        let names: Vec<_> = std::fs::read_dir(&theirs).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["conda-meta"]);
        assert!(std::fs::symlink_metadata(w.env("demo")).unwrap().file_type().is_symlink());
    };
    let out = w.pyve(&["--init", "--no-direnv"]);
    assert_ne!(out.code, Some(0), "init used a link out of the project:\n{}", all(&out));
    let text = all(&out);
    assert!(text.contains(".pyve/envs/demo") && text.contains("outside the project"), "{text}");
    assert!(text.contains("hint:") && text.contains("rm "), "{text}");
    untouched();
    let out = w.pyve(&["--purge"]);
    assert!(!all(&out).contains("Removed .pyve/envs/demo"), "{}", all(&out));
    untouched();
    w.pyve(&["doctor"]);
    untouched();
}

/// Issue 17, class 5: read-only commands execute nothing the project supplies.
#[test]
fn read_only_commands_never_run_the_projects_micromamba() {
    use std::os::unix::fs::PermissionsExt;
    let w = world();
    w.env_yml(Some("demo"));
    ok(&w.pyve(&["--init", "--no-direnv"]), "init");
    let marker = w.sb.path().join("ran");
    let bin = w.sb.project().join(".pyve/bin/micromamba");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::write(&bin, format!("#!/bin/sh\ntouch '{}'\necho 'micromamba 9.9.9'\n", marker.display())).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    for args in [&["doctor"][..], &["--validate"], &["--config"], &["--list"]] {
        let out = w.pyve(args);
        assert!(!all(&out).contains("panicked"), "{args:?}: {}", all(&out));
        assert!(!marker.exists(), "{args:?} ran the project's .pyve/bin/micromamba:\n{}", all(&out));
    }
    let out = w.pyve(&["doctor"]);
    assert!(all(&out).contains("not run by doctor"), "{}", all(&out));
}

/// A conda environment without python: `pyve run python3` / `pip` say so instead of running
/// an interpreter from PATH outside the environment.
#[test]
fn an_environment_without_python_never_falls_through_to_path() {
    let w = world();
    w.env_yml(Some("demo"));
    ok(&w.pyve(&["--init", "--no-direnv"]), "init");
    assert!(
        std::path::Path::new("/usr/bin/python3").exists() || std::path::Path::new("/usr/local/bin/python3").exists()
    );
    for program in ["python3", "python", "pip"] {
        let out = w.pyve(&["run", program, "-c", "pass"]);
        assert_eq!(out.code, Some(127), "{program}: {}", all(&out));
        assert!(
            out.stderr.contains(&format!(
                "the project's environment has no {program} (.pyve/envs/demo): a conda environment without python"
            )),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("hint: add `python` (and `pip`) to environment.yml's dependencies"),
            "{}",
            out.stderr
        );
    }
    // doctor says so, with a fix that can help (not `--init --force`).
    let out = w.pyve(&["doctor"]);
    assert!(out.stdout.contains("⚠ pyve run: the environment has no python"), "{}", out.stdout);
    assert!(out.stdout.contains("add `python` to environment.yml's dependencies"), "{}", out.stdout);
    assert!(!out.stdout.contains("outside the environment"), "{}", out.stdout);
    // Commands the environment has, and others from PATH, still run.
    let out = w.pyve(&["run", "hello"]);
    assert_eq!(out.code, Some(0), "{}", all(&out));
    let out = w.pyve(&["run", "true"]);
    assert_eq!(out.code, Some(0), "{}", all(&out));
}

/// Issue 17, class 3: a `.pyve/bin` linking out of the project is skipped with a warning that
/// names the link and says what to do, and nothing there is run or changed.
#[test]
fn a_pyve_bin_link_out_of_the_project_is_skipped_with_a_warning_and_left_byte_identical() {
    use std::os::unix::fs::PermissionsExt;
    let w = world();
    w.env_yml(Some("demo"));
    let theirs = w.sb.path().join("user-bin");
    let marker = w.sb.path().join("ran");
    std::fs::create_dir_all(&theirs).unwrap();
    let script = format!("#!/bin/sh\ntouch '{}'\necho 'micromamba 9.9.9'\n", marker.display());
    std::fs::write(theirs.join("micromamba"), &script).unwrap();
    std::fs::set_permissions(theirs.join("micromamba"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(w.sb.project().join(".pyve")).unwrap();
    std::os::unix::fs::symlink(&theirs, w.sb.project().join(".pyve/bin")).unwrap();
    let untouched = || {
        assert_eq!(std::fs::read_to_string(theirs.join("micromamba")).unwrap(), script);
        let names: Vec<_> = std::fs::read_dir(&theirs).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["micromamba"]);
        assert!(!marker.exists(), "the binary behind a .pyve/bin link out was run");
    };
    let out = w.pyve(&["--init", "--no-direnv"]);
    ok(&out, "init with the built-in engine");
    let text = all(&out);
    assert!(text.contains(".pyve/bin is a symbolic link to") && text.contains("outside the project"), "{text}");
    assert!(text.contains("hint:") && text.contains("rm "), "{text}");
    untouched();
    let out = w.pyve(&["doctor"]);
    assert!(all(&out).contains(".pyve/bin is a symbolic link to"), "{}", all(&out));
    untouched();
    assert!(std::fs::symlink_metadata(w.sb.project().join(".pyve/bin")).unwrap().file_type().is_symlink());
    // Purge may remove the link (never what it points to).
    ok(&w.pyve(&["--purge"]), "purge");
    untouched();
}

/// Issue 17, class 6: what a killed init leaves behind does not stop the next one. In the shared
/// package cache: rattler's hidden extraction directory and a half-extracted copy at the
/// package's place (files missing); in `.pyve/envs`: an environment marked unfinished by an
/// older build whose `.NAME.incomplete` holds no pid.
#[test]
fn a_killed_inits_half_extracted_packages_and_pidless_markers_do_not_stop_the_next_init() {
    let w = world();
    w.env_yml(Some("demo"));
    ok(&w.pyve(&["--init", "--no-direnv"]), "first init");
    ok(&w.pyve(&["--purge"]), "purge");
    let pkgs = w.sb.cache().join("rattler/pkgs");
    let cached: Vec<_> = std::fs::read_dir(&pkgs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && p.file_name().unwrap().to_string_lossy().starts_with("hello-"))
        .collect();
    assert_eq!(cached.len(), 1, "{cached:?}");
    let hello = &cached[0];
    // Half-extracted in place: the metadata is there, the command is not.
    let bin = hello.join("bin/hello");
    assert!(bin.is_file(), "{}", bin.display());
    std::fs::remove_file(&bin).unwrap();
    // rattler's temporary extraction directory, as a `kill -9` leaves it.
    let tmp = pkgs.join(format!(".{}Ab3xYz", hello.file_name().unwrap().to_string_lossy()));
    std::fs::create_dir_all(tmp.join("info")).unwrap();
    std::fs::write(tmp.join("info/index.json"), "{").unwrap();
    ok(&w.pyve(&["--init", "--no-direnv"]), "init after a killed extraction");
    assert!(!tmp.exists(), "the killed run's extraction directory is cleaned");
    assert!(bin.is_file(), "the half-extracted package is extracted again");
    let out = w.pyve(&["run", "hello"]);
    ok(&out, "run hello");
    assert!(out.stdout.contains("hello from conda"), "{}", all(&out));

    // An environment an older build left unfinished, its marker empty and old.
    let marker = w.sb.project().join(".pyve/envs/.demo.incomplete");
    std::fs::write(&marker, "").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&marker).unwrap().set_modified(old).unwrap();
    let mut c = w.cmd();
    ok(&run(c.args(["--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1")), "init over a pidless marker");
    assert!(!marker.exists(), "the stale marker is gone");
    ok(&w.pyve(&["run", "hello"]), "run hello after the rebuild");
    ok(&w.pyve(&["--validate"]), "validate");
}

/// environment.yml's `variables:` are set by `pyve run` (and .envrc), `nodefaults` is not a
/// channel, and with --env-name no warning says the name comes from the directory.
#[test]
fn variables_nodefaults_and_a_given_name() {
    let w = world();
    let text = format!(
        "channels:\n  - {}\n  - nodefaults\ndependencies:\n  - hello\nvariables:\n  GREETING: from environment.yml\n",
        w.channel.display()
    );
    std::fs::write(w.sb.project().join("environment.yml"), text).unwrap();
    let out = w.pyve(&["--init", "--env-name", "demo"]);
    ok(&out, "init");
    assert!(!all(&out).contains("derived from project directory"), "{}", all(&out));

    let out = w.pyve(&["run", "bash", "-c", "echo $GREETING"]);
    assert_eq!(out.stdout.trim(), "from environment.yml", "{}", out.stderr);
    let envrc = std::fs::read_to_string(w.sb.project().join(".envrc")).unwrap();
    assert!(envrc.contains("export GREETING='from environment.yml'"), "{envrc}");
}

/// A package's `etc/conda/activate.d` script sets variables for `pyve run` and `.envrc`, as
/// conda's activation does (GDAL, PROJ, Java).
#[test]
fn activate_d_scripts_are_applied() {
    let sb = Sandbox::new();
    sb.install(&["pyve-micromamba"]);
    let channel = sb.path().join("channel");
    let mut gdal = Package::with_command("gdal", "3.8", "gdalinfo", "gdal", Format::Conda);
    gdal.files.push((
        "etc/conda/activate.d/gdal.sh".into(),
        "export GDAL_DATA=\"$CONDA_PREFIX/share/gdal\"\nexport GDAL_DRIVER_PATH=drivers\n".into(),
        false,
    ));
    write_channel(&channel, platform(), &[gdal]).unwrap();
    let w = World { sb, channel, written: Vec::new() };
    std::fs::write(
        w.sb.project().join("environment.yml"),
        format!("name: geo\nchannels:\n  - {}\ndependencies:\n  - gdal\n", w.channel.display()),
    )
    .unwrap();
    ok(&w.pyve(&["--init"]), "init");
    let env = w.env("geo");
    let out = w.pyve(&["run", "sh", "-c", "echo $GDAL_DATA:$GDAL_DRIVER_PATH"]);
    assert_eq!(out.stdout.trim(), format!("{}/share/gdal:drivers", env.display()), "{}", out.stderr);
    let envrc = std::fs::read_to_string(w.sb.project().join(".envrc")).unwrap();
    assert!(envrc.contains("export GDAL_DRIVER_PATH=drivers"), "{envrc}");
}

/// `CONDA_OVERRIDE_CUDA` feeds the solver's virtual packages, as with conda and micromamba.
#[test]
fn conda_override_cuda_feeds_the_solver() {
    let sb = Sandbox::new();
    sb.install(&["pyve-micromamba"]);
    let channel = sb.path().join("channel");
    let mut gpu = Package::with_command("gpukit", "1.0", "gpukit", "gpu", Format::Conda);
    gpu.depends = vec!["__cuda >=12".into()];
    write_channel(&channel, platform(), &[gpu]).unwrap();
    let w = World { sb, channel, written: Vec::new() };
    std::fs::write(
        w.sb.project().join("environment.yml"),
        format!("name: gpu\nchannels:\n  - {}\ndependencies:\n  - gpukit\n", w.channel.display()),
    )
    .unwrap();
    let out = run(w.cmd().args(["--init", "--no-direnv"]).env("CONDA_OVERRIDE_CUDA", ""));
    assert_eq!(out.code, Some(1), "no CUDA here, so no solution: {}", all(&out));
    let out = run(w.cmd().args(["--init", "--no-direnv"]).env("CONDA_OVERRIDE_CUDA", "12.4"));
    ok(&out, "init with CONDA_OVERRIDE_CUDA=12.4");
    assert!(w.env("gpu").join("bin/gpukit").exists());
}

/// A channel with a "python" package whose interpreter is a venv of the sandbox (made with
/// pyenv's 3.11, with pip): conda environments get a real Python and pip, and whatever pip
/// installs lands in the sandbox. Returns the channel and the venv.
fn python_channel(w: &World) -> (PathBuf, PathBuf) {
    let base = w.sb.path().join("base-python");
    let made = Command::new(pyve_tests::python_exe(&pyve_tests::python("3.11")))
        .args(["-m", "venv"])
        .arg(&base)
        .status()
        .unwrap();
    assert!(made.success());
    let mut python = Package::with_command("python", "3.11.7", "python", "", Format::Conda);
    python.files =
        vec![("bin/python".into(), format!("#!/bin/sh\nexec {} \"$@\"\n", base.join("bin/python").display()), true)];
    let pychannel = w.sb.path().join("pychannel");
    write_channel(&pychannel, platform(), &[python]).unwrap();
    (pychannel, base)
}

/// Issue 21: the project's Python declarations (requirements.txt, pyproject.toml) are
/// installed into the conda environment with its own pip; `--no-install-deps` skips them; a
/// failure keeps the environment and says what to retry; an edit is drift for `pyve sync`.
#[test]
fn the_projects_python_dependencies_are_installed_into_the_conda_environment() {
    let w = world();
    let (pychannel, base) = python_channel(&w);
    let p = w.sb.project();
    let yml = format!(
        "name: demo\nchannels:\n  - {}\n  - {}\ndependencies:\n  - hello\n  - python\n",
        w.channel.display(),
        pychannel.display()
    );
    std::fs::write(p.join("environment.yml"), &yml).unwrap();
    std::fs::write(p.join("requirements.txt"), "iniconfig==2.0.0\n").unwrap();
    let out = w.pyve(&["--init", "--no-direnv"]);
    ok(&out, "init");
    assert!(
        out.stdout
            .contains("Installing the project's Python dependencies (requirements.txt) with the environment's pip"),
        "{}",
        all(&out)
    );
    assert!(out.stdout.contains("✓ Installed the project's Python dependencies (requirements.txt)"), "{}", all(&out));
    let out = w.pyve(&["run", "python", "-c", "import iniconfig; print(iniconfig.__name__)"]);
    assert_eq!(out.stdout.trim(), "iniconfig", "{}", all(&out));
    assert!(
        base.join("lib/python3.11/site-packages/iniconfig").is_dir(),
        "pip installed into the environment's python"
    );
    ok(&w.pyve(&["sync", "--check"]), "sync --check right after init");

    // An edit of requirements.txt is drift: sync --check says so (exit 1).
    std::fs::write(p.join("requirements.txt"), "iniconfig==2.0.0\nnosuch-pyve-test-package==1.0\n").unwrap();
    let out = w.pyve(&["sync", "--check"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(all(&out).contains("requirements.txt"), "{}", all(&out));

    // A requirement that cannot be installed: the environment is kept, the error names it and
    // the command to retry.
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1"));
    ok(&out, "init --force with a bad requirement keeps the environment");
    let err = &out.stderr;
    assert!(err.contains("Installing the project's Python dependencies failed (requirement 'nosuch-pyve-test-package==1.0' from requirements.txt"), "{}", all(&out));
    assert!(err.contains("The environment 'demo' is kept; fix the declaration, then retry with: pyve run python -m pip install -r requirements.txt"), "{}", all(&out));
    assert!(w.env("demo").join("bin/hello").is_file());

    // --no-install-deps: nothing is installed, and it says so.
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--no-direnv", "--no-install-deps"]).env("PYVE_FORCE_YES", "1"));
    ok(&out, "init --no-install-deps");
    assert!(
        out.stdout.contains("Not installing the project's Python dependencies (--no-install-deps)"),
        "{}",
        all(&out)
    );
    assert!(!out.stdout.contains("Installing the project's Python dependencies"), "{}", all(&out));

    // An environment without python: the declarations cannot be installed, and the error says
    // how to fix it.
    std::fs::write(p.join("environment.yml"), yml.replace("  - python\n", "")).unwrap();
    std::fs::write(p.join("requirements.txt"), "iniconfig==2.0.0\n").unwrap();
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--no-direnv", "--auto-install-deps"]).env("PYVE_FORCE_YES", "1"));
    ok(&out, "init without python");
    assert!(out.stderr.contains("the conda environment has no python to install them with"), "{}", all(&out));
    assert!(out.stderr.contains("add python and pip to environment.yml's dependencies"), "{}", all(&out));
}

#[test]
fn pyve_lock_writes_a_lock_that_init_installs_and_check_compares_by_content() {
    let w = world();
    // Outside a conda project: a clear error, nothing written.
    let out = w.pyve(&["lock"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("ERROR: no environment.yml in"), "{}", all(&out));
    assert!(!w.sb.project().join("conda-lock.yml").exists());
    let out = w.pyve(&["lock", "--help"]);
    ok(&out, "lock --help");
    assert!(out.stdout.contains("Usage: pyve lock [--check]"), "{}", out.stdout);

    w.env_yml(Some("demo"));
    let out = w.pyve(&["lock", "--check"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("no conda-lock.yml"), "{}", all(&out));
    let out = w.pyve(&["lock"]);
    ok(&out, "lock");
    assert!(all(&out).contains("✓ Wrote conda-lock.yml (2 packages for "), "{}", all(&out));
    let lock = w.sb.project().join("conda-lock.yml");
    let text = std::fs::read_to_string(&lock).unwrap();
    for (archive, md5, sha256) in &w.written {
        assert!(text.contains(&format!("url: file://{}", archive.display())), "{text}");
        assert!(text.contains(md5) && text.contains(sha256), "{text}");
    }
    assert!(text.contains("greet: '*'") || text.contains("greet: \"*\""), "{text}");
    let names: Vec<_> = std::fs::read_dir(w.sb.project()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!names.iter().any(|n| n.to_string_lossy().starts_with(".conda-lock")), "no temporary left: {names:?}");
    let out = w.pyve(&["lock", "--check"]);
    ok(&out, "lock --check");
    assert!(out.stdout.contains("✓ conda-lock.yml satisfies environment.yml"), "{}", all(&out));

    // The written lock is what --init --strict installs.
    let out = w.pyve(&["--init", "--no-direnv", "--strict"]);
    ok(&out, "init --strict from pyve's lock");
    assert!(all(&out).contains("INFO: Using file: conda-lock.yml"), "{}", all(&out));
    ok(&w.pyve(&["run", "greet"]), "run greet");

    // environment.yml asks for what the lock contradicts: --check fails by content, naming the
    // spec, although the lock is not older.
    let yml = w.sb.project().join("environment.yml");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::write(&yml, format!("channels:\n  - {}\ndependencies:\n  - hello >=2\n", w.channel.display())).unwrap();
    std::fs::File::options().write(true).open(&yml).unwrap().set_modified(old).unwrap();
    let out = w.pyve(&["lock", "--check"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("hello >=2: conda-lock.yml locks hello 1.0"), "{}", all(&out));
    // Unsatisfiable: pyve lock fails and leaves the lock as it was.
    let out = w.pyve(&["lock"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("cannot solve"), "{}", all(&out));
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), text);

    // pip: entries are locked too, resolved by the environment's own pip (a "python" package
    // whose interpreter is a venv of this sandbox, so that pip installs nowhere else), with
    // the archive's URL and sha256 from the real index.
    let (pychannel, base) = python_channel(&w);
    std::fs::write(
        &yml,
        format!(
            "channels:\n  - {}\n  - {}\ndependencies:\n  - hello\n  - python\n  - pip:\n    - iniconfig==2.0.0\n",
            w.channel.display(),
            pychannel.display()
        ),
    )
    .unwrap();
    let out = w.pyve(&["lock"]);
    ok(&out, "lock with pip entries");
    assert!(out.stdout.contains("Resolving 1 pip: entry with the environment's pip"), "{}", all(&out));
    assert!(out.stdout.contains("Wrote conda-lock.yml (3 conda and 1 pip packages for"), "{}", all(&out));
    let text = std::fs::read_to_string(&lock).unwrap();
    let entry = &text[text.find("name: iniconfig").expect(&text)..];
    assert!(entry.contains("manager: pip") && entry.contains("version: 2.0.0"), "{text}");
    assert!(entry.contains("url: https://") && entry.contains("iniconfig-2.0.0-py3-none-any.whl"), "{text}");
    let sha = entry.split("sha256: ").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()), "{text}");
    assert!(!base.join("lib/python3.11/site-packages/iniconfig").exists(), "locking installed nothing");
    ok(&w.pyve(&["lock", "--check"]), "lock --check with pip entries");
    // --init --strict installs the locked pip package by its hash.
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--strict", "--no-direnv"]).env("PYVE_FORCE_YES", "1"));
    ok(&out, "init --strict from a lock with pip entries");
    let out = w.pyve(&["run", "python", "-c", "import iniconfig; print(iniconfig.__name__)"]);
    assert_eq!(out.stdout.trim(), "iniconfig", "{}", all(&out));

    // An entry pip cannot resolve: pyve lock fails naming it, and the lock stays as it was.
    let before = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(
        &yml,
        format!(
            "channels:\n  - {}\n  - {}\ndependencies:\n  - python\n  - pip:\n    - ./not-a-project-dir\n",
            w.channel.display(),
            pychannel.display()
        ),
    )
    .unwrap();
    let out = w.pyve(&["lock"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("pip could not resolve ./not-a-project-dir"), "{}", all(&out));
    assert!(out.stderr.contains("hint: fix environment.yml's pip: entries"), "{}", all(&out));
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), before);
}

#[test]
fn auto_bootstrap_downloads_micromamba_into_the_chosen_sandbox_and_uses_it() {
    use pyve_micromamba::bootstrap::testing::{Reply, archive, serve};
    let w = world();
    w.env_yml(Some("boot"));
    // The "binary": a script handing on to micromamba-compat.
    let compat = target_dir().join("micromamba-compat");
    let script = format!("#!/bin/sh\nexec {} \"$@\"\n", compat.display());
    let bz = archive(&[("info/index.json", b"{}", 0o644), ("bin/micromamba", script.as_bytes(), 0o644)], false);
    let gz = archive(&[("bin/micromamba", script.as_bytes(), 0o644)], true);
    let p = platform();
    let base = serve(vec![
        (format!("/bz/{p}/latest"), Reply::Redirect(format!("/files/{p}/micromamba.tar.bz2"))),
        (format!("/files/{p}/micromamba.tar.bz2"), Reply::Body(bz, Vec::new())),
        (format!("/gz/{p}/latest"), Reply::Body(gz, Vec::new())),
    ]);
    let path = "/usr/local/bin:/usr/bin:/bin";
    // Nothing published: a clear error, nothing made.
    let mut c = w.cmd();
    let out = run(c
        .args(["--init", "--no-direnv", "--auto-bootstrap", "--bootstrap-to", "project"])
        .env("PATH", path)
        .env("PYVE_MICROMAMBA_URL", format!("{base}/missing")));
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("Auto-bootstrap failed: could not download micromamba"), "{}", out.stderr);
    assert!(out.stderr.contains("HTTP 404"), "{}", out.stderr);
    assert!(out.stdout.contains("INFO: Auto-bootstrapping micromamba to project sandbox...\n"), "{}", out.stdout);
    assert!(!w.sb.project().join(".pyve/bin/micromamba").exists());
    assert!(!w.env("boot").exists());
    // The project sandbox, through a redirect, from a bzip2 archive.
    let mut c = w.cmd();
    let out = run(c
        .args(["--init", "--no-direnv", "--auto-bootstrap", "--bootstrap-to", "project"])
        .env("PATH", path)
        .env("PYVE_MICROMAMBA_URL", format!("{base}/bz")));
    ok(&out, "init --auto-bootstrap --bootstrap-to project");
    let bin = w.sb.project().join(".pyve/bin/micromamba");
    let text = all(&out);
    // The reference's lines (section 3.3).
    assert!(text.contains(&format!("✓ Micromamba installed successfully to {}\n", bin.display())), "{text}");
    assert!(text.contains("INFO: Version: micromamba 2.0.5\n"), "{text}");
    assert!(text.contains(&format!("INFO: Downloading micromamba from: {base}/bz/")), "{text}");
    assert!(text.contains("publishes no sha256"), "{text}");
    assert!(text.contains(&format!("INFO: Engine: micromamba 2.0.5 ({})", bin.display())), "{text}");
    assert!(w.env("boot").join("bin/hello").is_file());
    assert_eq!(std::fs::read_dir(bin.parent().unwrap()).unwrap().count(), 1, "only the binary in .pyve/bin");
    // The user sandbox ($PYVE_HOME/bin) from a gzip archive; the next run finds it there.
    std::fs::remove_file(&bin).unwrap();
    let mut c = w.cmd();
    let out = run(c
        .args(["--init", "--force", "--no-direnv", "--auto-bootstrap"])
        .env("PYVE_FORCE_YES", "1")
        .env("PATH", path)
        .env("PYVE_MICROMAMBA_URL", format!("{base}/gz")));
    ok(&out, "init --force --auto-bootstrap");
    let user = w.sb.home().join(".pyve/bin/micromamba");
    assert!(all(&out).contains("INFO: Auto-bootstrapping micromamba to user sandbox...\n"), "{}", all(&out));
    assert!(all(&out).contains(&format!("installed successfully to {}", user.display())), "{}", all(&out));
    let mut c = w.cmd();
    let out = run(c
        .args(["--init", "--force", "--no-direnv"])
        .env("PYVE_FORCE_YES", "1")
        .env("PATH", path)
        .env("PYVE_MICROMAMBA_ENGINE", "micromamba")
        .env("PYVE_MICROMAMBA_URL", format!("{base}/missing")));
    ok(&out, "init with the user's bootstrapped binary");
    assert!(all(&out).contains(&format!("INFO: Engine: micromamba 2.0.5 ({})", user.display())), "{}", all(&out));
    assert!(!all(&out).contains("Downloading"), "{}", all(&out));
}

/// `pyve ARGS` on a pseudo-terminal (`script`), with `input` typed in; the terminal's output
/// (stdout and stderr together) is the outcome's stdout.
fn on_terminal(w: &World, args: &str, input: &str, envs: &[(&str, String)]) -> Outcome {
    use std::io::Write as _;
    let mut cmd = Command::new("script");
    w.sb.isolate(&mut cmd);
    cmd.env("MAMBA_ROOT_PREFIX", w.sb.path().join("mamba-root"))
        .env("RATTLER_CACHE_DIR", w.sb.cache().join("rattler"))
        .env("PYVE_DISABLE_DISTUTILS_SHIM", "1")
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .args(["-qec", &format!("{} {args}", w.sb.pyve().display()), "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    Outcome::of(child.wait_with_output().unwrap(), std::time::Duration::ZERO)
}

/// Without --auto-bootstrap, on a terminal, a missing micromamba is a menu (through the host's
/// prompt): download it into the project, for the user, or use the built-in engine.
#[test]
fn the_bootstrap_menu_downloads_into_the_project_or_falls_back_to_the_builtin_engine() {
    use pyve_micromamba::bootstrap::testing::{Reply, archive, serve};
    let w = world();
    w.env_yml(Some("menu"));
    let compat = target_dir().join("micromamba-compat");
    let script = format!("#!/bin/sh\nexec {} \"$@\"\n", compat.display());
    let bz = archive(&[("bin/micromamba", script.as_bytes(), 0o644)], false);
    let p = platform();
    let base = serve(vec![(format!("/bz/{p}/latest"), Reply::Body(bz, Vec::new()))]);
    let envs = [("PYVE_MICROMAMBA_ENGINE", "micromamba".to_owned()), ("PYVE_MICROMAMBA_URL", format!("{base}/bz"))];

    // 3: the built-in engine, nothing downloaded.
    let out = on_terminal(&w, "--init --no-direnv", "3\n", &envs);
    ok(&out, "menu: built-in engine");
    let text = &out.stdout;
    assert!(text.contains("Micromamba not found (micromamba, from PYVE_MICROMAMBA_ENGINE). Download it?"), "{text}");
    assert!(text.contains("download it into this project (.pyve/bin/micromamba)"), "{text}");
    assert!(text.contains("use the built-in engine instead (no download)"), "{text}");
    assert!(text.contains("Using the built-in engine") && text.contains("Engine: built-in"), "{text}");
    assert!(!w.sb.project().join(".pyve/bin/micromamba").exists(), "{text}");
    assert!(w.env("menu").join("bin/hello").is_file(), "{text}");

    // 1: into the project, then used.
    let out = on_terminal(
        &w,
        "--init --force --no-direnv",
        "1\n",
        &[envs[0].clone(), envs[1].clone(), ("PYVE_FORCE_YES", "1".into())],
    );
    ok(&out, "menu: download into the project");
    let bin = w.sb.project().join(".pyve/bin/micromamba");
    assert!(out.stdout.contains("Installing micromamba to project sandbox..."), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("Micromamba installed successfully to {}", bin.display())), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("Engine: micromamba 2.0.5 ({})", bin.display())), "{}", out.stdout);
    assert!(bin.is_file() && w.env("menu").join("bin/hello").is_file());
}

/// A world whose channel stands in for `conda-forge` at `<dir>/conda-forge`, and an
/// environment.yml that names only `conda-forge`.
fn mirrored_world(dir: &str) -> (World, PathBuf) {
    let sb = Sandbox::new();
    sb.install(&["pyve-micromamba"]);
    let base = sb.path().join(dir);
    let channel = base.join("conda-forge");
    let written = write_channel(&channel, platform(), &packages()).unwrap();
    let w = World { sb, channel, written };
    std::fs::write(
        w.sb.project().join("environment.yml"),
        "name: demo\nchannels: [conda-forge]\ndependencies: [hello]\n",
    )
    .unwrap();
    (w, base)
}

/// Every file of the channel directory `dir`, served over loopback HTTP under `/prefix/`.
fn serve_channel(dir: &Path, prefix: &str) -> String {
    use pyve_micromamba::bootstrap::testing::{Reply, serve};
    fn walk(dir: &Path, base: &Path, prefix: &str, out: &mut Vec<(String, Reply)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, prefix, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.push((format!("/{prefix}/{rel}"), Reply::Body(std::fs::read(&p).unwrap(), Vec::new())));
            }
        }
    }
    let mut routes = Vec::new();
    walk(dir, dir, prefix, &mut routes);
    serve(routes)
}

/// Issue 22: `conda-forge` (https://conda.anaconda.org, unreachable here) served by a mirror,
/// from mamba's `mirrored_channels` and from pixi's `[mirrors]`: solve, downloads and the
/// lock's installs all go to the mirror; the lock keeps conda-forge's own URLs; doctor shows it.
#[test]
fn conda_forge_through_mirrored_channels_and_pixi_mirrors() {
    let (w, base) = mirrored_world("served");
    let server = serve_channel(&base.join("conda-forge"), "cf");
    let mirror = format!("{server}/cf");
    std::fs::write(w.sb.home().join(".mambarc"), format!("mirrored_channels:\n  conda-forge: [{mirror}]\n")).unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--verbose"]);
    ok(&out, "init through mirrored_channels");
    let shown = format!("conda-forge → https://conda.anaconda.org/conda-forge (mirror: {mirror})");
    assert!(all(&out).contains(&shown), "{}", all(&out));
    assert!(w.env("demo").join("bin/hello").is_file());
    let out = w.pyve(&["doctor"]);
    assert!(out.stdout.contains(&shown) && out.stdout.contains(".mambarc"), "{}", all(&out));
    ok(&w.pyve(&["lock"]), "lock through the mirror");
    let lock = std::fs::read_to_string(w.sb.project().join("conda-lock.yml")).unwrap();
    assert!(lock.contains("url: https://conda.anaconda.org/conda-forge/noarch/hello-1.0-0.tar.bz2"), "{lock}");

    // pixi's [mirrors], no .mambarc; the lock's packages downloaded again, from the mirror.
    std::fs::remove_file(w.sb.home().join(".mambarc")).unwrap();
    std::fs::create_dir_all(w.sb.home().join(".pixi")).unwrap();
    std::fs::write(
        w.sb.home().join(".pixi/config.toml"),
        format!("[mirrors]\n\"https://conda.anaconda.org/conda-forge\" = [\"{mirror}\"]\n"),
    )
    .unwrap();
    std::fs::remove_dir_all(w.sb.cache().join("rattler")).unwrap();
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--strict", "--no-direnv"]).env("PYVE_FORCE_YES", "1"));
    ok(&out, "init --force from the lock through pixi's mirrors");
    assert!(all(&out).contains("Using file: conda-lock.yml"), "{}", all(&out));
    assert!(w.env("demo").join("bin/greet").is_file());
    let out = w.pyve(&["doctor"]);
    assert!(out.stdout.contains(".pixi/config.toml"), "{}", all(&out));

    // Without a mirror, conda-forge is unreachable here: the error names the channel.
    std::fs::remove_file(w.sb.home().join(".pixi/config.toml")).unwrap();
    std::fs::remove_file(w.sb.project().join("conda-lock.yml")).unwrap();
    std::fs::remove_dir_all(w.sb.cache().join("rattler")).unwrap();
    let mut c = w.cmd();
    let out = run(c.args(["--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1"));
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("conda.anaconda.org/conda-forge"), "{}", all(&out));
}

/// A process killed when the test ends, pass or fail.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 22: `ssl_verify` and `proxy_servers` are applied to real connections: an HTTPS
/// channel whose certificate a test CA signed (openssl makes them; python serves) fails without the CA, works
/// with `ssl_verify: CA.pem` and with `ssl_verify: false`; a channel on a host that does not
/// resolve is reached through `proxy_servers`.
#[test]
fn ssl_verify_and_proxy_servers_apply_to_real_connections() {
    use pyve_micromamba::bootstrap::testing::{Reply, serve};
    let (w, base) = mirrored_world("tls");
    let d = w.sb.path().join("tls-certs");
    std::fs::create_dir_all(&d).unwrap();
    let sh = |script: &str| {
        let st = Command::new("sh").args(["-ec", script]).current_dir(&d).output().unwrap();
        assert!(st.status.success(), "{script}: {}", String::from_utf8_lossy(&st.stderr));
    };
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=pyve-test-ca 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null
        printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > ext.cnf
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext.cnf 2>/dev/null");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Python's file server behind TLS (real 404s, which rattler's shard probe needs).
    let server = "import http.server, ssl, sys\n\
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[2], sys.argv[3])\n\
        s = http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)\n\
        s.socket = ctx.wrap_socket(s.socket, server_side=True)\n\
        s.serve_forever()\n";
    let _server = KillOnDrop(
        Command::new("python3")
            .args(["-c", server, &port.to_string()])
            .arg(d.join("srv.pem"))
            .arg(d.join("srv.key"))
            .current_dir(&base)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "the HTTPS server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let rc = w.sb.home().join(".condarc");
    let alias = format!("channel_alias: https://localhost:{port}\n");
    let init = |what: &str| {
        let _ = std::fs::remove_dir_all(w.sb.cache().join("rattler"));
        let mut c = w.cmd();
        let out = run(c.args(["--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1"));
        (out, what.to_owned())
    };
    // Not trusted: the certificate error, naming the channel.
    std::fs::write(&rc, &alias).unwrap();
    let (out, _) = init("untrusted");
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains(&format!("localhost:{port}")), "{}", all(&out));
    assert!(!w.env("demo").exists());
    // The test CA as ssl_verify: trusted.
    std::fs::write(&rc, format!("{alias}ssl_verify: {}\n", d.join("ca.pem").display())).unwrap();
    let (out, what) = init("ssl_verify: CA bundle");
    ok(&out, &what);
    assert!(w.env("demo").join("bin/hello").is_file());
    // ssl_verify: false: not verified.
    std::fs::write(&rc, format!("{alias}ssl_verify: false\n")).unwrap();
    let (out, what) = init("ssl_verify: false");
    ok(&out, &what);

    // proxy_servers: a host that does not resolve, reached through a loopback proxy (which
    // sees the absolute URL in the request line, as a forward proxy does).
    let host = "http://pyve-proxy-test.invalid";
    let mut routes = Vec::new();
    for rel in ["conda-forge/noarch/repodata.json", &format!("conda-forge/{}/repodata.json", platform())] {
        routes.push((format!("{host}/{rel}"), Reply::Body(std::fs::read(base.join(rel)).unwrap(), Vec::new())));
    }
    for (archive, _, _) in &w.written {
        let rel = archive.strip_prefix(&base).unwrap().display().to_string();
        routes.push((format!("{host}/{rel}"), Reply::Body(std::fs::read(archive).unwrap(), Vec::new())));
    }
    let proxy = serve(routes);
    std::fs::write(&rc, format!("channel_alias: {host}\n")).unwrap();
    let (out, _) = init("no proxy");
    assert_eq!(out.code, Some(1), "without the proxy the host does not resolve:\n{}", all(&out));
    std::fs::write(&rc, format!("channel_alias: {host}\nproxy_servers:\n  http: {proxy}\n")).unwrap();
    let (out, what) = init("proxy_servers");
    ok(&out, &what);
    assert!(w.env("demo").join("bin/hello").is_file());
}

/// Issue 22: `channel_priority`: strict takes a name only from the highest channel that has
/// it; flexible (conda's default) prefers it but lets lower channels fill in what it cannot;
/// disabled lets the best version win.
#[test]
fn channel_priority_strict_flexible_and_disabled() {
    let w = world();
    let mut hello2 = Package::with_command("hello", "2.0", "hello", "hello 2", Format::Conda);
    hello2.depends = vec!["greet".into()];
    let low = w.sb.path().join("low");
    write_channel(&low, platform(), &[hello2]).unwrap();
    let yml = w.sb.project().join("environment.yml");
    let locked = |spec: &str, priority: &str| {
        std::fs::write(
            &yml,
            format!("channels:\n  - {}\n  - {}\ndependencies:\n  - {spec}\n", w.channel.display(), low.display()),
        )
        .unwrap();
        std::fs::write(w.sb.home().join(".condarc"), format!("channel_priority: {priority}\n")).unwrap();
        let out = w.pyve(&["lock"]);
        if out.code != Some(0) {
            return Err(all(&out));
        }
        let text = std::fs::read_to_string(w.sb.project().join("conda-lock.yml")).unwrap();
        let entry = &text[text.find("name: hello").expect(&text)..];
        Ok(entry.lines().find(|l| l.trim_start().starts_with("version:")).unwrap().trim().to_owned())
    };
    assert_eq!(locked("hello", "strict").unwrap(), "version: '1.0'");
    assert_eq!(locked("hello", "flexible").unwrap(), "version: '1.0'", "flexible prefers the higher channel");
    assert_eq!(locked("hello", "disabled").unwrap(), "version: '2.0'", "disabled: the best version wins");
    let strict = locked("hello >=2", "strict").unwrap_err();
    assert!(strict.contains("cannot solve"), "{strict}");
    assert_eq!(locked("hello >=2", "flexible").unwrap(), "version: '2.0'", "the lower channel fills in");
}

#[test]
fn conda_forge_through_a_channel_alias_mirror_offline() {
    let (w, mirror) = mirrored_world("mirror");
    let url = format!("file://{}", mirror.display());
    std::fs::write(w.sb.home().join(".condarc"), format!("channel_alias: {url}\nchannel_priority: strict\n")).unwrap();
    let effective = format!("conda-forge → {url}/conda-forge");
    let out = w.pyve(&["--init", "--no-direnv", "--verbose"]);
    ok(&out, "init through the alias");
    assert!(all(&out).contains(&effective), "{}", all(&out));
    assert!(w.env("demo").join("bin/hello").is_file());
    let out = w.pyve(&["doctor"]);
    let text = all(&out);
    assert!(text.contains("Channels") && text.contains(&effective), "{text}");
    assert!(text.contains(".condarc"), "{text}");
    // The lock records conda-forge; --check compares the URLs both resolve to.
    ok(&w.pyve(&["lock"]), "lock through the alias");
    let lock = std::fs::read_to_string(w.sb.project().join("conda-lock.yml")).unwrap();
    assert!(lock.contains(&format!("url: file://{}", w.channel.display())), "{lock}");
    ok(&w.pyve(&["lock", "--check"]), "lock --check through the alias");
    // A lock made with the mirror's URL is the same channel.
    std::fs::write(
        w.sb.project().join("conda-lock.yml"),
        lock.replace("url: conda-forge", &format!("url: {url}/conda-forge/")),
    )
    .unwrap();
    ok(&w.pyve(&["lock", "--check"]), "lock --check with the mirror's URL");
    // Without the configuration, conda-forge is anaconda.org's: not the lock's mirror URL.
    std::fs::remove_file(w.sb.home().join(".condarc")).unwrap();
    let out = w.pyve(&["lock", "--check"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stderr.contains("https://conda.anaconda.org/conda-forge"), "{}", all(&out));
}

#[test]
fn conda_forge_through_custom_channels_condarc_variable_and_pkgs_dirs() {
    let (w, base) = mirrored_world("corp");
    let rc = w.sb.path().join("corp.condarc");
    let url = format!("file://{}", base.display());
    std::fs::write(&rc, format!("custom_channels:\n  conda-forge: {url}\nchannel_alias: https://nowhere.invalid\n"))
        .unwrap();
    let pkgs = w.sb.path().join("pkgs-dir");
    let out =
        run(w.cmd().env("CONDARC", &rc).env("CONDA_PKGS_DIRS", &pkgs).args(["--init", "--no-direnv", "--verbose"]));
    ok(&out, "init through custom_channels");
    assert!(all(&out).contains(&format!("conda-forge → {url}/conda-forge")), "{}", all(&out));
    assert!(all(&out).contains(&format!("Package cache: {}", pkgs.display())), "{}", all(&out));
    assert!(pkgs.join("greet-2.1-0").is_dir(), "CONDA_PKGS_DIRS holds the packages");
    ok(&run(w.cmd().env("CONDARC", &rc).args(["run", "hello"])), "run hello");
    // A broken configuration file is reported, not fatal.
    std::fs::write(w.sb.home().join(".mambarc"), "channel_alias: [\n").unwrap();
    let out = run(w.cmd().env("CONDARC", &rc).args(["doctor"]));
    assert!(all(&out).contains("conda configuration") || all(&out).contains("Conda configuration"), "{}", all(&out));
    assert!(all(&out).contains(&format!("{url}/conda-forge")), "{}", all(&out));
}

/// A setting the user wrote in the backend's section (`engine:`) survives `--init --force`.
#[test]
fn the_engine_setting_survives_force() {
    let w = world();
    w.env_yml(Some("demo"));
    ok(&w.pyve(&["--init", "--no-direnv"]), "init");
    let config = w.sb.project().join(".pyve/config");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("micromamba:\n", "micromamba:\n  engine: builtin\n")).unwrap();
    ok(&run(w.cmd().args(["--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1")), "force");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("  engine: builtin\n"), "{text}");
}

/// `-q` silences the engines' own lines: only errors and warnings remain.
#[test]
fn quiet_init_prints_only_warnings_and_errors() {
    let w = world();
    w.env_yml(Some("demo"));
    let out = w.pyve(&["-q", "--init", "--no-direnv"]);
    ok(&out, "init -q");
    assert!(!out.stdout.contains("INFO:"), "{}", out.stdout);
    // The micromamba-binary engine too: its own output does not reach the terminal with -q.
    let bin = w.sb.path().join("mmbin");
    place(&target_dir().join("micromamba-compat"), &bin.join("micromamba"));
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let out =
        run(w.cmd().args(["-q", "--init", "--force", "--no-direnv"]).env("PYVE_FORCE_YES", "1").env("PATH", &path));
    ok(&out, "init -q with the binary");
    assert!(out.stdout.trim().is_empty(), "stdout: {}", out.stdout);
}

/// The end of a micromamba init is the original's closing block (reference 2.1 E 14), on
/// stdout, after `.pyve/config` is written; `-q` drops it with the other status lines.
#[test]
fn init_ends_with_the_original_closing_block() {
    let head = "✓ Created .pyve/config\n\n✓ Micromamba environment initialized successfully!\n\n\
                Environment location: .pyve/envs/demo\n\nNext steps:\n";
    let note =
        "  Note: Ignore micromamba's 'activate' instructions above — Pyve uses direnv activation (or 'pyve run').\n";

    // direnv installed (a stand-in: only its presence is looked at) and pyve's .envrc.
    let w = world();
    w.env_yml(Some("demo"));
    let bin = w.sb.path().join("direnv-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("direnv"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(bin.join("direnv"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let with_direnv = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let out = run(w.cmd().args(["--init"]).env("PATH", &with_direnv));
    ok(&out, "init");
    let want =
        format!("{head}{note}  1. Run 'direnv allow' to activate the environment\n  2. Or use: pyve run <command>\n");
    assert!(out.stdout.ends_with(&want), "want the block:\n{want}\ngot:\n{}", out.stdout);
    assert_eq!(out.stdout.matches("initialized successfully").count(), 1, "{}", out.stdout);

    // A re-init (a rebuild) ends the same way.
    let out = run(w.cmd().args(["--init", "--force"]).env("PATH", &with_direnv).env("PYVE_FORCE_YES", "1"));
    ok(&out, "force");
    assert!(out.stdout.ends_with(&want.replacen("Created", "Updated", 1)), "{}", out.stdout);

    // No direnv anywhere on PATH: pyve run first, never a bare `direnv allow`.
    let empty = w.sb.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(w.cmd().args(["--init", "--force"]).env("PATH", &empty).env("PYVE_FORCE_YES", "1"));
    ok(&out, "force without direnv");
    assert!(
        out.stdout.ends_with(&format!(
            "{note}  1. Use: pyve run <command>\n  2. Or install direnv, then run 'direnv allow' to activate the environment\n"
        )),
        "{}",
        out.stdout
    );

    // A .envrc pyve did not write: review it, never "allow" it.
    std::fs::write(w.sb.project().join(".envrc"), "echo not pyve's\n").unwrap();
    let out = run(w.cmd().args(["--init", "--force"]).env("PATH", &with_direnv).env("PYVE_FORCE_YES", "1"));
    ok(&out, "force with a foreign .envrc");
    assert!(!out.stdout.contains("direnv allow"), "{}", out.stdout);
    assert!(
        out.stdout.ends_with(&format!(
            "{note}  1. Review .envrc (it is not pyve's) before allowing it with direnv\n  2. Or use: pyve run <command>\n"
        )),
        "{}",
        out.stdout
    );

    // --no-direnv: the one line.
    let w = world();
    w.env_yml(Some("demo"));
    let out = w.pyve(&["--init", "--no-direnv"]);
    ok(&out, "init --no-direnv");
    let want = format!("{head}  Use: pyve run <command> to execute in environment\n");
    assert!(out.stdout.ends_with(&want), "want the block:\n{want}\ngot:\n{}", out.stdout);
    assert!(!out.stdout.contains("Note: Ignore"), "{}", out.stdout);

    // -q: no status lines, so none of the block.
    let w = world();
    w.env_yml(Some("demo"));
    let out = w.pyve(&["-q", "--init", "--no-direnv"]);
    ok(&out, "init -q");
    assert_eq!(out.stdout, "", "quiet: nothing on stdout");
    assert!(w.env("demo").join("conda-meta").is_dir());
}

/// A conda-lock.yml without environment.yml is installed as locked, but nothing can say it is
/// current: doctor and --validate warn `unchecked` (not "up to date"), as `pyve lock --check`
/// fails on it.
#[test]
fn a_lock_without_environment_yml_is_unchecked_everywhere() {
    let w = world();
    std::fs::write(w.sb.project().join("conda-lock.yml"), lock_yml(&w.channel, platform(), &packages(), &w.written))
        .unwrap();
    let out = w.pyve(&["--init", "--no-direnv", "--env-name", "locked"]);
    ok(&out, "init");
    assert!(out.stderr.contains("conda-lock.yml has no environment.yml beside it"), "{}", all(&out));

    let out = w.pyve(&["doctor"]);
    ok(&out, "doctor");
    assert!(
        out.stdout.contains(
            "\n⚠ Lock file: conda-lock.yml (unchecked): no environment.yml to check it against\n  \
             add the environment.yml it was made from (`pyve lock --check` needs it)\n"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("up to date"), "{}", out.stdout);
    let out = w.pyve(&["doctor", "--json"]);
    ok(&out, "doctor --json");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["environment"]["lock"], "unchecked", "{}", out.stdout);

    let out = w.pyve(&["--validate"]);
    assert_eq!(out.code, Some(2), "warnings only:\n{}", all(&out));
    assert!(
        out.stdout.contains(
            "\n⚠ Lock file: conda-lock.yml (unchecked): no environment.yml to check it against\n  \
             add the environment.yml it was made from (`pyve lock --check` needs it)\n"
        ),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("up to date"), "{}", out.stdout);

    let out = w.pyve(&["lock", "--check"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
}

/// A broken project as a user in trouble meets it: every ✗ carries a command that really fixes
/// it (run here), and `pyve run` points at the same one.
#[test]
fn a_broken_projects_hints_are_commands_that_fix_it() {
    let w = world();
    w.env_yml(Some("demo"));
    ok(&w.pyve(&["--init", "--no-direnv"]), "init");
    let env = w.env("demo");
    let p = w.sb.project();

    // The environment deleted: `pyve sync` makes it again from .pyve/config, as run says too.
    std::fs::remove_dir_all(&env).unwrap();
    let out = w.pyve(&["run", "hello"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(
        out.stderr.contains("hint: create it again from .pyve/config with `pyve sync` (or `pyve --init --force`)"),
        "{}",
        out.stderr
    );
    ok(&w.pyve(&["sync"]), "the hint's sync");
    ok(&w.pyve(&["doctor"]), "doctor after sync");

    // A directory without conda-meta/: sync sees it there and --init --force will not replace
    // it, so the hint says to move it away first.
    std::fs::remove_dir_all(env.join("conda-meta")).unwrap();
    let out = w.pyve(&["doctor"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "\n✗ Environment: .pyve/envs/demo is not a conda environment (no conda-meta/, or its build did not finish)\n  move '.pyve/envs/demo' away, then run `pyve sync`\n"
        ),
        "{}",
        out.stdout
    );
    let out = w.pyve(&["--validate"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("move it away and run 'pyve sync'"), "{}", out.stdout);
    std::fs::rename(&env, p.join("moved-away")).unwrap();
    ok(&w.pyve(&["sync"]), "sync after moving it away");
    ok(&w.pyve(&["doctor"]), "doctor after the fix");

    // An environment.yml no rebuild can read is an error, not a ✓, in both commands.
    let good = std::fs::read_to_string(p.join("environment.yml")).unwrap();
    for (bad, why) in
        [("name: demo\ndependencies: [hello\n", "did not find expected"), ("name: demo\n", "dependencies")]
    {
        std::fs::write(p.join("environment.yml"), bad).unwrap();
        let out = w.pyve(&["doctor"]);
        assert_eq!(out.code, Some(1), "{}", out.stdout);
        assert!(out.stdout.contains("\n✗ Conda file: environment.yml (invalid: "), "{}", out.stdout);
        assert!(out.stdout.contains(why), "{}", out.stdout);
        assert!(
            out.stdout
                .contains("\n  fix environment.yml (its YAML, and a `dependencies:` list), then run `pyve sync`\n")
        );
        let out = w.pyve(&["doctor", "--json"]);
        assert_eq!(out.code, Some(1));
        let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON object");
        assert!(v.is_object(), "{}", out.stdout);
        let out = w.pyve(&["--validate"]);
        assert_eq!(out.code, Some(1), "{}", out.stdout);
        assert!(out.stdout.contains("\n✗ Environment file: environment.yml (invalid: "), "{}", out.stdout);
        assert!(
            out.stdout
                .contains("\n  Fix environment.yml (its YAML, and a `dependencies:` list), then run 'pyve sync'.\n"),
            "{}",
            out.stdout
        );
    }
    std::fs::write(p.join("environment.yml"), good).unwrap();
    ok(&w.pyve(&["sync"]), "sync after fixing environment.yml");
    ok(&w.pyve(&["doctor"]), "doctor after the fix");

    // .pyve/config edited to name an environment that does not exist: doctor says `pyve sync`,
    // and sync sees the edit (it used to say "up to date") and makes it.
    let config = std::fs::read_to_string(p.join(".pyve/config")).unwrap();
    std::fs::write(p.join(".pyve/config"), config.replace("env_name: demo", "env_name: other")).unwrap();
    let out = w.pyve(&["doctor"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("\n✗ Environment: not found: .pyve/envs/other\n  create it from .pyve/config with `pyve sync`\n")
    );
    // doctor's inputs line gives `sync --check`'s reason (it used to say "unchanged").
    let edited = ".pyve/config's micromamba.env_name changed (\"demo\" → \"other\")";
    assert!(out.stdout.contains(&format!("\n⚠ Environment inputs: out of date: {edited}\n")), "{}", out.stdout);
    let out = w.pyve(&["sync", "--check"]);
    assert_eq!(out.code, Some(1), "{}", all(&out));
    assert!(out.stdout.contains(&format!("Out of date: {edited}\n")), "{}", all(&out));
    let out = w.pyve(&["sync"]);
    ok(&out, "the hint's sync");
    assert!(all(&out).contains("micromamba.env_name changed (\"demo\" → \"other\")"), "{}", all(&out));
    assert!(w.env("other").join("conda-meta").is_dir());
    ok(&w.pyve(&["doctor"]), "doctor after sync");
}
