//! `pyve --install` / `pyve --uninstall` into a temporary HOME: the files, the shell profiles
//! (bash and zsh), the `~/.local/.env` template, re-installing (also from the installed copy)
//! and uninstalling (twice), with the user's own files and lines left byte for byte.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use pyve_tests::{Outcome, Sandbox, run};

fn sandbox() -> Sandbox {
    let sb = Sandbox::new();
    sb.install(&["pyve-venv", "libpyve_distutils_shim.so"]);
    // What a cargo target directory also holds, and must not be installed.
    std::fs::write(sb.path().join("bin/pyve-venv.d"), "deps\n").unwrap();
    std::fs::write(sb.path().join("bin/libpyve.rlib"), "rlib\n").unwrap();
    sb
}

fn bin(sb: &Sandbox) -> PathBuf {
    sb.home().join(".local/bin")
}

fn pyve(sb: &Sandbox, exe: &Path, shell: &str, arg: &str) -> Outcome {
    let mut cmd = Command::new(exe);
    sb.isolate(&mut cmd);
    cmd.env("SHELL", shell).arg(arg);
    run(&mut cmd)
}

fn ok(out: &Outcome, what: &str) {
    assert_eq!(out.code, Some(0), "{what} failed:\nstdout:\n{}\nstderr:\n{}", out.stdout, out.stderr);
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

fn rc_block() -> &'static str {
    "# >>> pyve installer >>>\ncase \":$PATH:\" in *\":$HOME/.local/bin:\"*) ;; *) export PATH=\"$HOME/.local/bin:$PATH\" ;; esac  # Added by pyve installer\n# <<< pyve installer <<<\n"
}

fn block() -> &'static str {
    "# >>> pyve installer >>>\nexport PATH=\"$HOME/.local/bin:$PATH\"  # Added by pyve installer\n# <<< pyve installer <<<\n"
}

#[test]
fn install_reinstall_and_uninstall_with_bash() {
    let sb = sandbox();
    let home = sb.home();
    let out = pyve(&sb, &sb.pyve(), "/bin/bash", "--install");
    ok(&out, "install");
    assert_eq!(out.stderr, "");
    let b = bin(&sb);
    let v = pyve::env::VERSION;
    for line in [
        format!("Installing pyve to {}...", b.display()),
        format!("Source: {}", sb.path().join("bin").display()),
        format!("✓ Created {}", b.display()),
        "✓ Installed pyve".into(),
        "✓ Installed libpyve_distutils_shim.so".into(),
        "✓ Installed pyve-venv".into(),
        format!("✓ Added {} to PATH in {}", b.display(), home.join(".profile").display()),
        format!("✓ Added {} to PATH in {}", b.display(), home.join(".bashrc").display()),
        format!("✓ Created {} template", home.join(".local/.env").display()),
        format!("✓ pyve v{v} installed successfully!"),
        format!("  source {}", home.join(".profile").display()),
    ] {
        assert!(out.stdout.lines().any(|l| l == line), "`{line}` missing from:\n{}", out.stdout);
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&b).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["libpyve_distutils_shim.so", "pyve", "pyve-venv"], "no .d or .rlib, no temporary file");
    assert_eq!(mode(&b.join("pyve")) & 0o755, 0o755, "executable and readable by all");
    // No ~/.bash_profile: bash would stop reading ~/.profile.
    assert!(!home.join(".bash_profile").exists());
    assert_eq!(std::fs::read_to_string(home.join(".profile")).unwrap(), block());
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).unwrap(), rc_block());
    assert!(!home.join(".zprofile").exists());
    assert_eq!(std::fs::read(home.join(".local/.env")).unwrap(), b"");
    assert_eq!(mode(&home.join(".local/.env")), 0o600);

    // The installed pyve works, and finds the installed plugin beside it.
    let out = pyve(&sb, &b.join("pyve"), "/bin/bash", "--version");
    assert_eq!(out.stdout, format!("pyve version {v}\n"));
    let mut cmd = Command::new(b.join("pyve"));
    sb.isolate(&mut cmd);
    let out = run(cmd.args(["plugin", "which", "venv"]));
    assert!(out.stdout.contains(&b.join("pyve-venv").display().to_string()), "{}{}", out.stdout, out.stderr);

    // Again: nothing added twice.
    let out = pyve(&sb, &sb.pyve(), "/bin/bash", "--install");
    ok(&out, "reinstall");
    for f in [".profile", ".bashrc"] {
        assert!(out.stdout.contains(&format!("INFO: PATH already configured in {}", home.join(f).display())));
    }
    assert!(out.stdout.contains(&format!("INFO: {} already exists", home.join(".local/.env").display())));
    assert_eq!(std::fs::read_to_string(home.join(".profile")).unwrap(), block());
    assert_eq!(std::fs::read_to_string(home.join(".bashrc")).unwrap(), rc_block());

    // From the installed copy: safe, the running file is not rewritten.
    let before = std::fs::read(b.join("pyve")).unwrap();
    let out = pyve(&sb, &b.join("pyve"), "/bin/bash", "--install");
    ok(&out, "install from the installed copy");
    assert!(out.stdout.contains("Running the installed pyve"), "{}", out.stdout);
    assert_eq!(std::fs::read(b.join("pyve")).unwrap(), before);

    // The user's own file in the same directory is never pyve's.
    std::fs::write(b.join("pyve-mine"), "#!/bin/sh\n").unwrap();
    // Nor is a `lib` directory beside it (the original's uninstall removed all of `bin/lib`).
    std::fs::create_dir_all(b.join("lib")).unwrap();
    std::fs::write(b.join("lib/mine.sh"), "# mine\n").unwrap();
    let out = pyve(&sb, &b.join("pyve"), "/bin/bash", "--uninstall");
    ok(&out, "uninstall");
    for line in [
        format!("✓ Removed {}", b.join("pyve").display()),
        format!("✓ Removed {}", b.join("pyve-venv").display()),
        format!("✓ Removed PATH entry from {}", home.join(".profile").display()),
        format!("✓ Removed PATH entry from {}", home.join(".bashrc").display()),
        format!("✓ Removed {} (was empty)", home.join(".local/.env").display()),
        "✓ pyve uninstalled.".into(),
    ] {
        assert!(out.stdout.lines().any(|l| l == line), "`{line}` missing from:\n{}", out.stdout);
    }
    let mut names: Vec<String> =
        std::fs::read_dir(&b).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["lib", "pyve-mine"]);
    assert_eq!(std::fs::read_to_string(b.join("lib/mine.sh")).unwrap(), "# mine\n");
    assert!(!home.join(".profile").exists(), "install created it, uninstall removes it");
    assert!(!home.join(".bashrc").exists(), "install created it, uninstall removes it");
    assert!(!home.join(".local/.env").exists());
    assert!(!home.join(".local/share/pyve").exists());

    // Twice: nothing left to do, still a success.
    let out = pyve(&sb, &sb.pyve(), "/bin/bash", "--uninstall");
    ok(&out, "second uninstall");
    assert!(out.stdout.contains("No install record"), "{}", out.stdout);
    assert!(out.stdout.contains("✓ pyve uninstalled."), "{}", out.stdout);
    assert!(b.join("pyve-mine").exists());
}

#[test]
fn zsh_profiles_user_lines_and_a_template_with_data() {
    let sb = sandbox();
    let home = sb.home();
    // The user's profile, without a final newline, and the user's template with a secret.
    let profile = home.join(".zprofile");
    let mine = "# my zsh profile\nexport EDITOR=vim\n\nalias ll='ls -l'";
    std::fs::write(&profile, mine).unwrap();
    std::fs::write(home.join(".bash_profile"), "# bash, untouched\n").unwrap();
    std::fs::create_dir_all(home.join(".local")).unwrap();
    std::fs::write(home.join(".local/.env"), "TOKEN=abc\n").unwrap();

    let out = pyve(&sb, &sb.pyve(), "/bin/zsh", "--install");
    ok(&out, "install");
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), format!("{mine}\n{}", block()));
    assert_eq!(std::fs::read_to_string(home.join(".bash_profile")).unwrap(), "# bash, untouched\n");
    assert!(out.stdout.contains(&format!("INFO: {} already exists", home.join(".local/.env").display())));

    ok(&pyve(&sb, &sb.pyve(), "/bin/zsh", "--install"), "reinstall");
    assert_eq!(std::fs::read_to_string(&profile).unwrap().matches("# >>> pyve installer >>>").count(), 1);

    let out = pyve(&sb, &sb.pyve(), "/bin/zsh", "--uninstall");
    ok(&out, "uninstall");
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), mine, "the user's profile, byte for byte");
    assert_eq!(std::fs::read_to_string(home.join(".bash_profile")).unwrap(), "# bash, untouched\n");
    assert_eq!(
        out.stderr,
        format!(
            "WARNING: {} preserved (contains data). Delete manually if desired.\n",
            home.join(".local/.env").display()
        )
    );
    assert_eq!(std::fs::read_to_string(home.join(".local/.env")).unwrap(), "TOKEN=abc\n");
}

#[test]
fn a_bin_directory_already_on_path_is_not_added() {
    let sb = sandbox();
    let home = sb.home();
    let b = bin(&sb);
    let mut cmd = Command::new(sb.pyve());
    sb.isolate(&mut cmd);
    cmd.env("SHELL", "/bin/bash").env("PATH", format!("{}:/usr/bin:/bin", b.display())).arg("--install");
    let out = run(&mut cmd);
    ok(&out, "install");
    assert!(out.stdout.contains(&format!("INFO: {} already in PATH", b.display())), "{}", out.stdout);
    assert!(!home.join(".bash_profile").exists() && !home.join(".profile").exists() && !home.join(".bashrc").exists());
    assert!(!out.stdout.contains("source "), "{}", out.stdout);
}

#[test]
fn a_bash_profile_with_the_users_lines_survives_byte_for_byte() {
    let sb = sandbox();
    let profile = sb.home().join(".bash_profile");
    let mine = "# mine\nexport PATH=\"$HOME/bin:$PATH\"\n\n";
    std::fs::write(&profile, mine).unwrap();
    std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o640)).unwrap();
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--install"), "install");
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), format!("{mine}{}", block()), "no blank line added");
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--install"), "reinstall");
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--uninstall"), "uninstall");
    assert_eq!(std::fs::read_to_string(&profile).unwrap(), mine);
    assert_eq!(mode(&profile), 0o640, "its mode too");
}

/// `command -v pyve` in a real bash started as `bash ARGS` in the sandbox's home, with a PATH
/// that does not hold `~/.local/bin`.
fn bash_finds_pyve(sb: &Sandbox, args: &[&str]) -> String {
    let mut cmd = Command::new("bash");
    sb.isolate(&mut cmd);
    cmd.current_dir(sb.home()).args(args).arg("command -v pyve");
    let out = run(&mut cmd);
    out.stdout.trim().to_owned()
}

/// A stock Debian/Ubuntu home (/etc/skel: `.profile` that reads `.bashrc`, no
/// `~/.bash_profile`): install appends to `.profile` and `.bashrc`, creates no `.bash_profile`
/// (bash would stop reading `.profile`), and a real login shell and a real interactive shell
/// both find pyve; uninstall gives the files back byte for byte.
#[test]
fn a_stock_debian_home_keeps_its_login_shell() {
    let sb = sandbox();
    let home = sb.home();
    let skel = std::path::Path::new("/etc/skel");
    let mut originals = Vec::new();
    for f in [".profile", ".bashrc", ".bash_logout"] {
        let text = std::fs::read_to_string(skel.join(f)).unwrap_or_else(|_| match f {
            ".profile" => "if [ -n \"$BASH_VERSION\" ]; then\n    if [ -f \"$HOME/.bashrc\" ]; then\n\t. \"$HOME/.bashrc\"\n    fi\nfi\n".into(),
            ".bashrc" => "case $- in\n    *i*) ;;\n      *) return;;\nesac\nHISTCONTROL=ignoreboth\n".into(),
            _ => "# ~/.bash_logout\n".into(),
        });
        std::fs::write(home.join(f), &text).unwrap();
        originals.push((f, text));
    }
    let out = pyve(&sb, &sb.pyve(), "/bin/bash", "--install");
    ok(&out, "install");
    assert!(!home.join(".bash_profile").exists(), "a ~/.bash_profile would hide ~/.profile from bash");
    for (f, text) in &originals[..2] {
        let now = std::fs::read_to_string(home.join(f)).unwrap();
        assert!(now.starts_with(text.as_str()) && now.contains("# Added by pyve installer"), "{f}:\n{now}");
    }
    let installed = bin(&sb).join("pyve").display().to_string();
    assert_eq!(bash_finds_pyve(&sb, &["-l", "-c"]), installed, "a login shell");
    assert_eq!(bash_finds_pyve(&sb, &["-i", "-c"]), installed, "an interactive shell that is not a login shell");
    // ~/.bashrc (read again by every nested shell) adds the directory only when it is missing.
    let mut cmd = Command::new("bash");
    sb.isolate(&mut cmd);
    let on_path = format!("{}:/usr/bin:/bin", bin(&sb).display());
    let path = run(cmd.current_dir(&home).env("PATH", &on_path).args(["-i", "-c", "echo \"$PATH\""])).stdout;
    assert_eq!(path.trim(), on_path);

    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--uninstall"), "uninstall");
    for (f, text) in &originals {
        assert_eq!(&std::fs::read_to_string(home.join(f)).unwrap(), text, "{f}, byte for byte");
    }
    assert_eq!(bash_finds_pyve(&sb, &["-l", "-c"]), "");
}

#[test]
fn install_writes_the_completion_scripts_and_the_man_page_and_uninstall_removes_exactly_them() {
    let sb = sandbox();
    let home = sb.home();
    let files = [
        ".local/share/bash-completion/completions/pyve",
        ".zfunc/_pyve",
        ".config/fish/completions/pyve.fish",
        ".local/share/man/man1/pyve.1",
    ];
    // The user's own completion of another tool, beside pyve's.
    std::fs::create_dir_all(home.join(".zfunc")).unwrap();
    std::fs::write(home.join(".zfunc/_mine"), "#compdef mine\n").unwrap();
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--install"), "install");
    for f in files {
        let p = home.join(f);
        assert!(p.is_file(), "{f} not installed");
    }
    assert!(std::fs::read_to_string(home.join(".local/share/man/man1/pyve.1")).unwrap().contains(".TH pyve 1"));
    assert!(std::fs::read_to_string(home.join(".zfunc/_pyve")).unwrap().starts_with("#compdef pyve"));
    let out = pyve(&sb, &sb.pyve(), "/bin/bash", "--uninstall");
    ok(&out, "uninstall");
    for f in files {
        assert!(!home.join(f).exists(), "{f} not removed");
        assert!(out.stdout.contains(&format!("✓ Removed {}", home.join(f).display())), "{}", out.stdout);
    }
    assert!(home.join(".zfunc/_mine").is_file(), "the user's file stays");
}

/// zsh: the completion script is sourced from `~/.zshrc` after the user's `compinit`, so a real
/// interactive zsh knows how to complete `pyve`; uninstall gives `~/.zshrc` back byte for byte.
#[test]
fn zsh_completes_pyve_after_install() {
    let sb = sandbox();
    let home = sb.home();
    let zshrc = home.join(".zshrc");
    let mine = "autoload -Uz compinit && compinit -u\n";
    std::fs::write(&zshrc, mine).unwrap();
    ok(&pyve(&sb, &sb.pyve(), "/bin/zsh", "--install"), "install");
    let mut cmd = Command::new("zsh");
    sb.isolate(&mut cmd);
    cmd.env("ZDOTDIR", &home).current_dir(&home).args(["-i", "-c", "print -r -- ${_comps[pyve]}"]);
    let out = run(&mut cmd);
    assert_eq!(out.stdout.trim(), "_clap_dynamic_completer_pyve", "{}", out.stderr);
    ok(&pyve(&sb, &sb.pyve(), "/bin/zsh", "--uninstall"), "uninstall");
    assert_eq!(std::fs::read_to_string(&zshrc).unwrap(), mine);
}

/// What `--install` copies is stripped of debug information (a build's is most of its size) and
/// still runs; `PYVE_INSTALL_NO_STRIP=1` copies the files as they are.
#[test]
fn installed_binaries_are_stripped_and_still_run() {
    let sb = sandbox();
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--install"), "install");
    let built = std::fs::metadata(sb.path().join("bin/pyve-venv")).unwrap().len();
    let installed = std::fs::metadata(bin(&sb).join("pyve-venv")).unwrap().len();
    if pyve::commands::run::find_on_path("strip").is_some() {
        assert!(installed < built, "stripped: {installed} < {built}");
    }
    let out = run(Command::new(bin(&sb).join("pyve")).arg("--version"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = run(Command::new(bin(&sb).join("pyve-venv")).arg("--pyve-rpc").stdin(std::process::Stdio::null()));
    assert_eq!(out.code, Some(0), "the stripped plugin starts: {}", out.stderr);

    let sb = sandbox();
    let mut cmd = Command::new(sb.pyve());
    sb.isolate(&mut cmd);
    cmd.env("SHELL", "/bin/bash").env("PYVE_INSTALL_NO_STRIP", "1").arg("--install");
    ok(&run(&mut cmd), "install without stripping");
    assert_eq!(
        std::fs::metadata(bin(&sb).join("pyve-venv")).unwrap().len(),
        std::fs::metadata(sb.path().join("bin/pyve-venv")).unwrap().len()
    );
}

/// pyve and the plugin executables on its hot paths (`pyve-venv` at every init, `pyve-testenv`
/// at every `pyve test`) link GCC's unwinder statically (build/static-unwinder.rs): loading
/// `libgcc_s.so.1` cost each start ~0.1-0.17 ms. Checked where the build script applies: the C
/// compiler names a `libgcc_eh.a` and `PYVE_DYNAMIC_LIBGCC` does not ask for the shared one.
#[test]
fn the_hot_path_binaries_do_not_load_libgcc_s() {
    let archive = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or_default();
    if !archive.is_absolute()
        || !archive.is_file()
        || !matches!(std::env::var("PYVE_DYNAMIC_LIBGCC").as_deref(), Err(_) | Ok("") | Ok("0"))
    {
        eprintln!("no static unwinder to link here ({}): nothing to check", archive.display());
        return;
    }
    for name in ["pyve", "pyve-venv", "pyve-testenv"] {
        let out = Command::new("readelf").arg("-d").arg(pyve_tests::bin(name)).output().expect("readelf (binutils)");
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let dynamic = String::from_utf8_lossy(&out.stdout);
        assert!(dynamic.contains("(NEEDED)"), "{name} is dynamically linked (glibc): {dynamic}");
        assert!(!dynamic.contains("libgcc_s"), "{name} needs libgcc_s.so.1:\n{dynamic}");
    }
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn uninstall_leaves_the_home_directory_as_install_found_it() {
    // The directories install had to create (`~/.local/bin`, the completion and man
    // directories) go too, when empty; those the user had, and the user's files, stay.
    let sb = sandbox();
    let home = sb.home();
    std::fs::create_dir_all(home.join(".config/mine")).unwrap();
    std::fs::write(home.join(".profile"), "# mine\n").unwrap();
    std::fs::write(home.join(".bashrc"), "# mine\n").unwrap();
    let before = tree(&home);
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--install"), "install");
    assert!(bin(&sb).join("pyve").is_file());
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--uninstall"), "uninstall");
    assert_eq!(tree(&home), before, "uninstall did not reverse install exactly");

    // A directory install created that now holds the user's file stays, with the file.
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--install"), "install again");
    std::fs::write(home.join(".zfunc/_mine"), "#compdef mine\n").unwrap();
    ok(&pyve(&sb, &sb.pyve(), "/bin/bash", "--uninstall"), "uninstall again");
    assert!(home.join(".zfunc/_mine").is_file(), "the user's file stays");
    assert!(!home.join(".local").exists(), "{:?}", tree(&home));
}
