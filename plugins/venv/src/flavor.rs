//! What `python -m venv` of one interpreter writes, read off that interpreter's own
//! `venv/__init__.py`.
//!
//! The native layout reproduces the `venv` module of CPython 3.8 to 3.13 on Linux. Those
//! modules differ in a handful of places (which `bin/` links are made, the prompt format,
//! the `pyvenv.cfg` keys, `include/pythonX.Y`, `.gitignore`, how activation scripts are
//! copied and quoted). Rather than trusting the version number alone, [`Flavor::detect`]
//! checks that the interpreter's own `venv` source still contains, word for word, the code
//! each of those behaviours comes from. Anything it does not recognise (a later patch
//! release that changed the code, a distribution patch, another implementation) makes it
//! return the reason, and the caller falls back to running `python -m venv`.

use std::path::Path;

use crate::error::Error;
use crate::interpreter::Interpreter;
use crate::util::{method_code, squash_ws};

/// How `replace_variables` substitutes the placeholders of the activation scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quoting {
    /// Plain `str.replace` of each placeholder (CPython up to 3.13.0).
    Plain,
    /// gh-124651: each value quoted for the script's shell (`shlex.quote`, PowerShell single
    /// quotes for `.ps1`, nothing for `.bat`), as in later patch releases and distributions
    /// that carry the fix.
    Shell,
}

/// The behaviours of one interpreter's `venv` module that the native layout reproduces.
#[derive(Debug, Clone)]
pub(crate) struct Flavor {
    /// `context.prompt = '(%s) ' % prompt` (3.8 to 3.12) rather than the bare name (3.13).
    pub prompt_in_parens: bool,
    /// `--prompt .` means the current directory's name (3.9+).
    pub dot_prompt_is_cwd: bool,
    /// `bin/python3.Y` is among the links made (3.9+).
    pub link_minor: bool,
    /// The include directory is `include/pythonX.Y` (3.11+) rather than `include`.
    pub include_subdir: bool,
    /// `pyvenv.cfg` has `executable` and `command` (3.11+).
    pub cfg_command: bool,
    /// The venv writes a `.gitignore` by default (3.13+).
    pub gitignore: bool,
    /// A destination containing `os.pathsep` is refused (3.11+).
    pub reject_pathsep: bool,
    /// An activation script with nothing substituted is copied with `shutil.copy2`, keeping
    /// its timestamps (3.13+).
    pub copy2_unchanged: bool,
    /// `.exe`/`.pdb` files are copied without substitution (up to 3.12).
    pub raw_exe_pdb: bool,
    /// How placeholders are substituted.
    pub quoting: Quoting,
}

const REPLACE_PLAIN: &str = "text = text.replace('__VENV_DIR__', context.env_dir)
text = text.replace('__VENV_NAME__', context.env_name)
text = text.replace('__VENV_PROMPT__', context.prompt)
text = text.replace('__VENV_BIN_NAME__', context.bin_name)
text = text.replace('__VENV_PYTHON__', context.env_exe)
return text";

// The docstring of `quote_ps1` is compared too (with `#...` cut as if it were a comment).
const REPLACE_SHELL: &str = r#"replacements = {
'__VENV_DIR__': context.env_dir,
'__VENV_NAME__': context.env_name,
'__VENV_PROMPT__': context.prompt,
'__VENV_BIN_NAME__': context.bin_name,
'__VENV_PYTHON__': context.env_exe,
}
def quote_ps1(s):
"""
This should satisfy PowerShell quoting rules [1], unless the quoted
string is passed directly to Windows native commands [2].
[1]: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_quoting_rules
[2]: https://learn.microsoft.com/en-us/powershell/module/microsoft.powershell.core/about/about_parsing
"""
s = s.replace("'", "''")
return f"'{s}'"
def quote_bat(s):
return s
quote = shlex.quote
script_path = context.script_path
if script_path.endswith('.ps1'):
quote = quote_ps1
elif script_path.endswith('.bat'):
quote = quote_bat
else:
quote = shlex.quote
replacements = {key: quote(s) for key, s in replacements.items()}
for key, quoted in replacements.items():
text = text.replace(key, quoted)
return text"#;

const CFG_BASE: &str = "context.cfg_path = path = os.path.join(context.env_dir, 'pyvenv.cfg')
with open(path, 'w', encoding='utf-8') as f:
f.write('home = %s\\n' % context.python_dir)
if self.system_site_packages:
incl = 'true'
else:
incl = 'false'
f.write('include-system-site-packages = %s\\n' % incl)
f.write('version = %d.%d.%d\\n' % sys.version_info[:3])
if self.prompt is not None:
f.write(f'prompt = {self.prompt!r}\\n')";

const CFG_COMMAND: &str = "
f.write('executable = %s\\n' % os.path.realpath(sys.executable))
args = []
nt = os.name == 'nt'
if nt and self.symlinks:
args.append('--symlinks')
if not nt and not self.symlinks:
args.append('--copies')
if not self.with_pip:
args.append('--without-pip')
if self.system_site_packages:
args.append('--system-site-packages')
if self.clear:
args.append('--clear')
if self.upgrade:
args.append('--upgrade')
if self.upgrade_deps:
args.append('--upgrade-deps')
if self.orig_prompt is not None:
args.append(f'--prompt=\"{self.orig_prompt}\"')";

const CFG_SCM: &str = "
if not self.scm_ignore_files:
args.append('--without-scm-ignore-files')";

const CFG_TAIL: &str = "
args.append(context.env_dir)
args = ' '.join(args)
f.write(f'command = {sys.executable} -m venv {args}\\n')";

impl Flavor {
    /// Work out the flavor of `interp`'s `venv` module, or why the native layout cannot
    /// reproduce it. `Err(Ok(reason))` means "fall back"; `Err(Err(e))` is an I/O failure.
    pub(crate) fn detect(interp: &Interpreter) -> Result<Flavor, Result<String, Error>> {
        let v = &interp.version;
        if !cfg!(target_os = "linux") {
            return Err(Ok("the native layout is verified on Linux only".into()));
        }
        if interp.implementation != "cpython" {
            return Err(Ok(format!("{} is not CPython", interp.implementation)));
        }
        if v.major != 3 || !(8..=13).contains(&v.minor) {
            return Err(Ok(format!("Python {} is outside the verified range 3.8 to 3.13", v.full)));
        }
        if !interp.abiflags.is_empty() {
            return Err(Ok(format!(
                "the interpreter has ABI flags {:?} (debug or free-threaded build)",
                interp.abiflags
            )));
        }
        if !interp.pointer_width_64 {
            return Err(Ok("32-bit interpreters are not verified".into()));
        }
        if let Some(reason) = &interp.native_blocker {
            return Err(Ok(reason.clone()));
        }
        let venv_py = interp.stdlib.join("venv").join("__init__.py");
        let src = match std::fs::read_to_string(&venv_py) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Ok(format!("{} does not exist", venv_py.display())));
            }
            Err(e) => return Err(Err(Error::io("read", &venv_py, e))),
        };
        if !interp.stdlib.join("venv").join("scripts").join("common").is_dir() {
            return Err(Ok(format!(
                "{} has no activation script templates",
                interp.stdlib.join("venv/scripts").display()
            )));
        }
        let minor = v.minor;
        let flavor = Flavor {
            prompt_in_parens: minor <= 12,
            dot_prompt_is_cwd: minor >= 9,
            link_minor: minor >= 9,
            include_subdir: minor >= 11,
            cfg_command: minor >= 11,
            gitignore: minor >= 13,
            reject_pathsep: minor >= 11,
            copy2_unchanged: minor >= 13,
            raw_exe_pdb: minor <= 12,
            quoting: Quoting::Plain,
        };
        let flavor = flavor.verify(&src, &venv_py).map_err(Ok)?;
        if flavor.include_subdir {
            check_sysconfig(interp, minor).map_err(Ok)?;
        }
        Ok(flavor)
    }

    /// Check that the `venv` source really does what this flavor assumes, and pick the
    /// quoting variant.
    fn verify(mut self, src: &str, path: &Path) -> Result<Flavor, String> {
        let unknown = |what: &str| format!("{} differs from the verified versions ({what})", path.display());

        let replace = method_code(src, "replace_variables").ok_or_else(|| unknown("no replace_variables"))?.join("\n");
        self.quoting = if replace == REPLACE_PLAIN {
            Quoting::Plain
        } else if replace == REPLACE_SHELL {
            Quoting::Shell
        } else {
            return Err(unknown("replace_variables"));
        };

        let mut cfg = CFG_BASE.to_string();
        if self.cfg_command {
            cfg.push_str(CFG_COMMAND);
            if self.gitignore {
                cfg.push_str(CFG_SCM);
            }
            cfg.push_str(CFG_TAIL);
        }
        let found = method_code(src, "create_configuration").ok_or_else(|| unknown("no create_configuration"))?;
        if found.join("\n") != cfg {
            return Err(unknown("create_configuration"));
        }

        let squashed = squash_ws(src);
        let mut snippets: Vec<&str> = vec![
            // ensure_directories
            "context.env_name = os.path.split(env_dir)[1]",
            "executable = sys._base_executable",
            "dirname, exename = os.path.split(os.path.abspath(executable))",
            "context.python_dir = dirname",
            "context.env_exe = os.path.join(binpath, exename)",
            "if ((sys.maxsize > 2**32) and (os.name == 'posix') and (sys.platform != 'darwin')):",
            "os.symlink('lib', link_path)",
            // create
            "self.create_configuration(context) self.setup_python(context) if self.with_pip: \
             self._setup_pip(context) if not self.upgrade: self.setup_scripts(context)",
            // setup_python and symlink_or_copy
            "copier(context.executable, path)",
            "copier(context.env_exe, path, relative_symlinks_ok=True)",
            "os.symlink(os.path.basename(src), dst)",
            // ensurepip, as pip's launchers are derived from it
            "'ensurepip', '--upgrade',",
            // install_scripts
            "if d not in ('common', os.name):",
            "suffix = root[plen:].split(os.sep)[2:]",
            "shutil.copymode(srcfile, dstfile)",
        ];
        snippets.push(if self.prompt_in_parens {
            "prompt = self.prompt if self.prompt is not None else context.env_name context.prompt = '(%s) ' % prompt"
        } else {
            "context.prompt = self.prompt if self.prompt is not None else context.env_name"
        });
        if self.dot_prompt_is_cwd {
            snippets.push("prompt = os.path.basename(os.getcwd())");
        }
        snippets.push(if self.link_minor {
            "for suffix in ('python', 'python3', f'python3.{sys.version_info[1]}'):"
        } else {
            "for suffix in ('python', 'python3'):"
        });
        if self.include_subdir {
            snippets.extend([
                "binpath = self._venv_path(env_dir, 'scripts') incpath = self._venv_path(env_dir, 'include') \
                 libpath = self._venv_path(env_dir, 'purelib')",
                "context.bin_name = os.path.relpath(binpath, env_dir)",
            ]);
        } else {
            snippets.extend([
                "binname = 'bin' incpath = 'include' libpath = os.path.join(env_dir, 'lib', \
                 'python%d.%d' % sys.version_info[:2], 'site-packages')",
                "context.bin_name = binname",
            ]);
        }
        if self.reject_pathsep {
            snippets.push("if os.pathsep in os.fspath(env_dir):");
        }
        if self.gitignore {
            snippets.extend([
                "for scm in self.scm_ignore_files: getattr(self, f\"create_{scm}_ignore_file\")(context)",
                "file.write('# Created by venv; ' 'see https://docs.python.org/3/library/venv.html\\n') file.write('*\\n')",
                "default=frozenset(['git'])",
            ]);
        }
        if self.copy2_unchanged {
            snippets.push("if new_data == data: shutil.copy2(srcfile, dstfile)");
        } else {
            snippets.push("if not srcfile.endswith(('.exe', '.pdb')):");
        }
        if self.quoting == Quoting::Shell {
            snippets.push("context.script_path = srcfile");
        }
        for s in snippets {
            if !squashed.contains(&squash_ws(s)) {
                return Err(unknown(&format!("missing `{s}`")));
            }
        }
        Ok(self)
    }
}

/// 3.11+ take the venv's paths from sysconfig's `posix_venv` scheme: check it is the one
/// verified (`lib/pythonX.Y/site-packages`, `include/pythonX.Y`, `bin`).
fn check_sysconfig(interp: &Interpreter, minor: u32) -> Result<(), String> {
    let candidates = [interp.stdlib.join("sysconfig.py"), interp.stdlib.join("sysconfig").join("__init__.py")];
    let Some((path, src)) = candidates.iter().find_map(|p| std::fs::read_to_string(p).ok().map(|s| (p, s))) else {
        return Err(format!("no sysconfig module in {}", interp.stdlib.display()));
    };
    let squashed = squash_ws(&src);
    let expected: &[&str] = if minor >= 13 {
        &[
            "'posix_venv': { 'stdlib': '{installed_base}/{platlibdir}/{implementation_lower}{py_version_short}{abi_thread}',",
            "'purelib': '{base}/lib/{implementation_lower}{py_version_short}{abi_thread}/site-packages',",
            "'include': '{installed_base}/include/{implementation_lower}{py_version_short}{abiflags}',",
            "_INSTALL_SCHEMES['venv'] = _INSTALL_SCHEMES['posix_venv']",
        ]
    } else {
        &[
            "'posix_venv': { 'stdlib': '{installed_base}/{platlibdir}/python{py_version_short}',",
            "'purelib': '{base}/lib/python{py_version_short}/site-packages',",
            "'include': '{installed_base}/include/python{py_version_short}{abiflags}',",
            "_INSTALL_SCHEMES['venv'] = _INSTALL_SCHEMES['posix_venv']",
        ]
    };
    for s in expected {
        if !squashed.contains(s) {
            return Err(format!("{} differs from the verified versions (missing `{s}`)", path.display()));
        }
    }
    Ok(())
}
