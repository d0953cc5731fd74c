//! The user's conda configuration, as conda and micromamba read it: `.condarc` / `.mambarc`
//! files and `CONDA_*` / `MAMBA_*` variables. The built-in engine resolves channel names with
//! it (`channel_alias`, `custom_channels`, `default_channels`), solves with its
//! `channel_priority` and caches packages in its `pkgs_dirs`.
//!
//! Files are read in this order, a later one overriding an earlier one key by key
//! (`custom_channels` and `proxy_servers` are merged entry by entry), then the variables:
//!
//! 1. `/etc/conda/.condarc`, `/etc/conda/condarc`, `/etc/conda/.mambarc`
//! 2. `$XDG_CONFIG_HOME/conda/.condarc`, `$XDG_CONFIG_HOME/conda/condarc` (`~/.config` when unset)
//! 3. `~/.conda/.condarc`, `~/.conda/condarc`
//! 4. `~/.condarc`
//! 5. `~/.mambarc`
//! 6. `$CONDARC`, then `$MAMBARC`
//! 7. `CONDA_CHANNEL_ALIAS`, `CONDA_DEFAULT_CHANNELS` (comma-separated), `CONDA_CHANNEL_PRIORITY`,
//!    `CONDA_PKGS_DIRS` (comma-separated), `CONDA_SSL_VERIFY`; the same with `MAMBA_` win over them.
//!
//! A project's own `.condarc` is not read: a project does not redirect its channels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rattler_conda_types::{ChannelConfig, NamedChannelOrUrl};
use serde_yaml::Value;

/// conda's `default_channels` when nothing sets them (what `defaults` means).
pub const DEFAULT_CHANNELS: [&str; 2] = ["https://repo.anaconda.com/pkgs/main", "https://repo.anaconda.com/pkgs/r"];

/// conda's `channel_alias` when nothing sets it.
pub const DEFAULT_ALIAS: &str = "https://conda.anaconda.org";

/// `channel_priority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A package comes from the first channel that has it.
    Strict,
    /// conda's default: a name's candidates from higher channels come first, and lower
    /// channels fill in what they cannot satisfy.
    Flexible,
    /// Channels are ignored; the best version wins.
    Disabled,
}

impl Priority {
    fn parse(s: &str) -> Option<Priority> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Some(Priority::Strict),
            "flexible" | "true" => Some(Priority::Flexible),
            "disabled" | "false" => Some(Priority::Disabled),
            _ => None,
        }
    }

    /// As conda spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Strict => "strict",
            Priority::Flexible => "flexible",
            Priority::Disabled => "disabled",
        }
    }
}

/// `ssl_verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SslVerify {
    /// Verify with the system's roots (`true`, the default).
    Yes,
    /// Do not verify (`false`).
    No,
    /// Verify against this CA bundle.
    CaBundle(PathBuf),
}

/// The effective configuration.
#[derive(Debug, Clone, Default)]
pub struct CondaConfig {
    /// `channel_alias`.
    pub channel_alias: Option<String>,
    /// `custom_channels`: name → base URL (`name` is `<base>/<name>`).
    pub custom_channels: BTreeMap<String, String>,
    /// `default_channels`.
    pub default_channels: Option<Vec<String>>,
    /// `channel_priority`.
    pub channel_priority: Option<Priority>,
    /// `pkgs_dirs`.
    pub pkgs_dirs: Vec<PathBuf>,
    /// `ssl_verify`.
    pub ssl_verify: Option<SslVerify>,
    /// `proxy_servers`: scheme → proxy URL.
    pub proxy_servers: BTreeMap<String, String>,
    /// Mirrors: a channel (name or URL) → the URLs that serve it instead, in order. From
    /// mamba's `mirrored_channels` (.condarc/.mambarc) and pixi's `[mirrors]` (its config.toml).
    pub mirrors: BTreeMap<String, Vec<String>>,
    /// The files that were read, in order.
    pub sources: Vec<PathBuf>,
    /// Files that could not be parsed, with why.
    pub errors: Vec<String>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Sequence(s) => Some(s.iter().filter_map(scalar).collect()),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn expand(s: &str, home: Option<&Path>) -> PathBuf {
    match (s.strip_prefix("~/"), home) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(s),
    }
}

fn ssl(s: &str, home: Option<&Path>) -> SslVerify {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "" => SslVerify::Yes,
        "false" | "no" | "0" => SslVerify::No,
        _ => SslVerify::CaBundle(expand(s.trim(), home)),
    }
}

impl CondaConfig {
    /// Read this process's configuration (its `HOME`, `CONDARC`, `CONDA_*`, ...).
    pub fn load() -> CondaConfig {
        CondaConfig::load_with(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Read the configuration with `var` standing for the environment.
    pub fn load_with(var: impl Fn(&str) -> Option<String>) -> CondaConfig {
        let home = var("HOME").map(PathBuf::from);
        let mut files: Vec<PathBuf> =
            ["/etc/conda/.condarc", "/etc/conda/condarc", "/etc/conda/.mambarc"].map(PathBuf::from).to_vec();
        let xdg = var("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".config")));
        if let Some(x) = &xdg {
            files.push(x.join("conda/.condarc"));
            files.push(x.join("conda/condarc"));
        }
        if let Some(h) = &home {
            files.extend([".conda/.condarc", ".conda/condarc", ".condarc", ".mambarc"].map(|f| h.join(f)));
        }
        files.extend(["CONDARC", "MAMBARC"].iter().filter_map(|k| var(k)).map(PathBuf::from));
        let mut c = CondaConfig::default();
        let mut seen = Vec::new();
        for f in files {
            if seen.contains(&f) || !f.is_file() {
                continue;
            }
            seen.push(f.clone());
            match pyve_fs::read_bounded_text(&f, pyve_fs::READ_LIMIT) {
                Ok(text) => match serde_yaml::from_str::<Value>(&text) {
                    Ok(v) => {
                        c.apply(&v, home.as_deref());
                        c.sources.push(f);
                    }
                    Err(e) => c.errors.push(format!("{}: {e}", f.display())),
                },
                Err(e) => c.errors.push(format!("{}: {e}", f.display())),
            }
        }
        // pixi's global configuration: its `[mirrors]` table (URL prefix → mirror URLs).
        let pixi_home = var("PIXI_HOME").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".pixi")));
        let pixi_files = [
            Some(PathBuf::from("/etc/pixi/config.toml")),
            xdg.as_ref().map(|x| x.join("pixi/config.toml")),
            pixi_home.map(|p| p.join("config.toml")),
        ];
        for f in pixi_files.into_iter().flatten() {
            if seen.contains(&f) || !f.is_file() {
                continue;
            }
            seen.push(f.clone());
            match pyve_fs::read_bounded_text(&f, pyve_fs::READ_LIMIT)
                .map_err(|e| e.to_string())
                .and_then(|t| pixi_mirrors(&t))
            {
                Ok(m) if m.is_empty() => {}
                Ok(m) => {
                    c.mirrors.extend(m);
                    c.sources.push(f);
                }
                Err(e) => c.errors.push(format!("{}: {e}", f.display())),
            }
        }
        for prefix in ["CONDA_", "MAMBA_"] {
            let v = |k: &str| var(&format!("{prefix}{k}"));
            if let Some(a) = v("CHANNEL_ALIAS") {
                c.channel_alias = Some(a);
            }
            if let Some(d) = v("DEFAULT_CHANNELS") {
                c.default_channels =
                    Some(d.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
            }
            if let Some(p) = v("CHANNEL_PRIORITY").as_deref().and_then(Priority::parse) {
                c.channel_priority = Some(p);
            }
            if let Some(p) = v("PKGS_DIRS") {
                c.pkgs_dirs =
                    p.split(',').filter(|s| !s.trim().is_empty()).map(|s| expand(s.trim(), home.as_deref())).collect();
            }
            if let Some(s) = v("SSL_VERIFY") {
                c.ssl_verify = Some(ssl(&s, home.as_deref()));
            }
        }
        c
    }

    fn apply(&mut self, v: &Value, home: Option<&Path>) {
        let Value::Mapping(m) = v else { return };
        let get = |k: &str| m.get(Value::String(k.into()));
        if let Some(a) = get("channel_alias").and_then(scalar) {
            self.channel_alias = Some(a);
        }
        if let Some(Value::Mapping(cc)) = get("custom_channels") {
            for (k, v) in cc {
                if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
                    self.custom_channels.insert(k, v);
                }
            }
        }
        if let Some(d) = get("default_channels").and_then(list) {
            self.default_channels = Some(d);
        }
        if let Some(p) = get("channel_priority").and_then(scalar).as_deref().and_then(Priority::parse) {
            self.channel_priority = Some(p);
        }
        if let Some(p) = get("pkgs_dirs").and_then(list) {
            self.pkgs_dirs = p.iter().map(|s| expand(s, home)).collect();
        }
        if let Some(s) = get("ssl_verify").and_then(scalar) {
            self.ssl_verify = Some(ssl(&s, home));
        }
        if let Some(Value::Mapping(mc)) = get("mirrored_channels") {
            for (k, v) in mc {
                if let (Some(k), Some(v)) = (scalar(k), list(v)) {
                    self.mirrors.insert(k, v);
                }
            }
        }
        if let Some(Value::Mapping(p)) = get("proxy_servers") {
            for (k, v) in p {
                if let (Some(k), Some(v)) = (scalar(k), scalar(v)) {
                    self.proxy_servers.insert(k, v);
                }
            }
        }
    }

    /// The channel alias in effect.
    pub fn alias(&self) -> &str {
        self.channel_alias.as_deref().unwrap_or(DEFAULT_ALIAS)
    }

    /// rattler's channel configuration: the alias, relative paths read against `root`.
    pub fn channel_config(&self, root: &Path) -> ChannelConfig {
        let mut config = ChannelConfig::default_with_root_dir(root.to_path_buf());
        if let Ok(u) = url::Url::parse(&with_slash(self.alias())) {
            config.channel_alias = u;
        }
        config
    }

    /// The channels `c` stands for, as URL-or-path spellings that rattler reads without the
    /// alias deciding anything more: `defaults` is `default_channels`, a name that
    /// `custom_channels` maps is `<base>/<name>`, another name is `<alias>/<name>`.
    pub fn expand(&self, c: &NamedChannelOrUrl) -> Vec<NamedChannelOrUrl> {
        let NamedChannelOrUrl::Name(name) = c else { return vec![c.clone()] };
        if name == "defaults" {
            let d: Vec<String> = match &self.default_channels {
                Some(d) => d.clone(),
                None => DEFAULT_CHANNELS.map(String::from).to_vec(),
            };
            return d
                .iter()
                .filter(|s| s.as_str() != "defaults")
                .filter_map(|s| s.parse::<NamedChannelOrUrl>().ok())
                .flat_map(|c| self.expand(&c))
                .collect();
        }
        let first = name.split('/').next().unwrap_or(name);
        let base = self
            .custom_channels
            .get(name.as_str())
            .or_else(|| self.custom_channels.get(first))
            .map_or_else(|| self.alias().to_string(), Clone::clone);
        let joined = format!("{}/{}", base.trim_end_matches('/'), name);
        match url::Url::parse(&joined) {
            Ok(u) => vec![NamedChannelOrUrl::Url(u)],
            Err(_) => vec![c.clone()],
        }
    }

    /// The effective URLs of `channels` (conda-forge when empty), in order, without trailing `/`.
    pub fn effective_urls(&self, channels: &[NamedChannelOrUrl], root: &Path) -> Vec<String> {
        let config = self.channel_config(root);
        let default = [NamedChannelOrUrl::Name("conda-forge".into())];
        let channels = if channels.is_empty() { &default[..] } else { channels };
        channels
            .iter()
            .flat_map(|c| self.expand(c))
            .map(|c| match c.clone().into_base_url(&config) {
                Ok(u) => u.as_str().trim_end_matches('/').to_string(),
                Err(_) => c.to_string(),
            })
            .collect()
    }

    /// The mirrors in effect: each mirrored channel's URL (a name read through the alias and
    /// `custom_channels`, as [`CondaConfig::expand`] does), with a trailing `/`, → its mirrors'
    /// URLs. Requests under a key go to its first live mirror.
    pub fn mirror_map(&self) -> BTreeMap<String, Vec<url::Url>> {
        let mut out = BTreeMap::new();
        for (channel, mirrors) in &self.mirrors {
            let key = if channel.contains("://") {
                with_slash(channel)
            } else {
                match self.expand(&NamedChannelOrUrl::Name(channel.clone())).first() {
                    Some(NamedChannelOrUrl::Url(u)) => with_slash(u.as_str()),
                    _ => continue,
                }
            };
            let urls: Vec<url::Url> = mirrors.iter().filter_map(|m| url::Url::parse(&with_slash(m)).ok()).collect();
            if !urls.is_empty() {
                out.insert(key, urls);
            }
        }
        out
    }

    /// The mirror serving `url`, when one does (for messages).
    pub fn mirror_of(&self, url: &str) -> Option<String> {
        let url = with_slash(url);
        self.mirror_map()
            .into_iter()
            .filter(|(k, _)| url.starts_with(k.as_str()))
            .max_by_key(|(k, _)| k.len())
            .and_then(|(k, m)| m.first().map(|first| format!("{}{}", first.as_str(), &url[k.len()..])))
            .map(|m| m.trim_end_matches('/').to_string())
    }

    /// The package cache: the first of `pkgs_dirs`, if any.
    pub fn pkgs_dir(&self) -> Option<&Path> {
        self.pkgs_dirs.first().map(PathBuf::as_path)
    }
}

/// pixi's `[mirrors]` table: `"https://conda.anaconda.org/conda-forge" = ["https://mirror/..."]`.
fn pixi_mirrors(text: &str) -> Result<BTreeMap<String, Vec<String>>, String> {
    let doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| e.to_string())?;
    let mut out = BTreeMap::new();
    let Some(table) = doc.get("mirrors").and_then(|m| m.as_table_like()) else { return Ok(out) };
    for (k, v) in table.iter() {
        let Some(arr) = v.as_array() else {
            return Err(format!("mirrors.\"{k}\" must be a list of URLs"));
        };
        out.insert(k.to_string(), arr.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect());
    }
    Ok(out)
}

fn with_slash(s: &str) -> String {
    if s.ends_with('/') { s.to_string() } else { format!("{s}/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(files: &[(&str, &str)], vars: &[(&str, &str)]) -> (tempfile::TempDir, CondaConfig) {
        let d = tempfile::tempdir().unwrap();
        for (f, text) in files {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let home = d.path().to_string_lossy().to_string();
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.replace("$H", &home))).collect();
        let c = CondaConfig::load_with(|k| {
            if k == "HOME" {
                return Some(home.clone());
            }
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        });
        (d, c)
    }

    fn name(n: &str) -> NamedChannelOrUrl {
        NamedChannelOrUrl::Name(n.into())
    }

    #[test]
    fn nothing_configured_is_condas_defaults() {
        let (d, c) = cfg(&[], &[]);
        assert!(c.sources.is_empty());
        assert_eq!(c.effective_urls(&[], d.path()), ["https://conda.anaconda.org/conda-forge"]);
        assert_eq!(c.effective_urls(&[name("defaults")], d.path()), DEFAULT_CHANNELS);
    }

    #[test]
    fn later_files_win_and_variables_win_over_files() {
        let (d, c) = cfg(
            &[
                (
                    ".condarc",
                    "channel_alias: https://a.example\nchannel_priority: strict\ncustom_channels: {x: https://x.example}\n",
                ),
                (".mambarc", "channel_alias: https://b.example/mirror/\ncustom_channels: {y: https://y.example}\n"),
                (".config/conda/condarc", "channel_alias: https://first.example\npkgs_dirs: [~/pkgs]\n"),
            ],
            &[("CONDA_CHANNEL_PRIORITY", "disabled")],
        );
        assert_eq!(c.sources.len(), 3);
        assert!(c.sources[0].ends_with(".config/conda/condarc"), "{:?}", c.sources);
        assert_eq!(c.alias(), "https://b.example/mirror/");
        assert_eq!(c.channel_priority, Some(Priority::Disabled));
        assert_eq!(c.pkgs_dir(), Some(d.path().join("pkgs").as_path()));
        assert_eq!(
            c.effective_urls(&[name("conda-forge"), name("x"), name("y/label/dev")], d.path()),
            ["https://b.example/mirror/conda-forge", "https://x.example/x", "https://y.example/y/label/dev"]
        );
    }

    #[test]
    fn condarc_variable_defaults_and_pkgs_dirs() {
        let (d, c) = cfg(
            &[(
                "elsewhere.yml",
                "default_channels: [https://m.example/main, conda-forge]\nssl_verify: /ca.pem\nproxy_servers: {https: http://p:3128}\n",
            )],
            &[
                ("CONDARC", "$H/elsewhere.yml"),
                ("CONDA_PKGS_DIRS", "$H/p1,$H/p2"),
                ("MAMBA_CHANNEL_ALIAS", "file:///mirror"),
            ],
        );
        assert_eq!(
            c.effective_urls(&[name("defaults")], d.path()),
            ["https://m.example/main", "file:///mirror/conda-forge"]
        );
        assert_eq!(c.pkgs_dir(), Some(d.path().join("p1").as_path()));
        assert_eq!(c.ssl_verify, Some(SslVerify::CaBundle("/ca.pem".into())));
        assert_eq!(c.proxy_servers["https"], "http://p:3128");
    }

    #[test]
    fn a_broken_file_is_reported_and_skipped() {
        let (_d, c) = cfg(&[(".condarc", "channel_alias: [unclosed\n")], &[]);
        assert!(c.sources.is_empty());
        assert_eq!(c.errors.len(), 1);
    }

    #[test]
    fn mirrors_from_mambarc_names_and_pixi_urls() {
        let (_d, c) = cfg(
            &[
                (
                    ".mambarc",
                    "channel_alias: https://alias.example\nmirrored_channels:\n  conda-forge: [https://m1.example/cf, https://m2.example/cf/]\n",
                ),
                (".pixi/config.toml", "[mirrors]\n\"https://repo.example/bioconda\" = [\"https://m3.example/bio\"]\n"),
            ],
            &[],
        );
        let map = c.mirror_map();
        let keys: Vec<&str> = map.keys().map(String::as_str).collect();
        assert_eq!(keys, ["https://alias.example/conda-forge/", "https://repo.example/bioconda/"]);
        assert_eq!(map["https://alias.example/conda-forge/"][1].as_str(), "https://m2.example/cf/");
        assert_eq!(c.mirror_of("https://alias.example/conda-forge").as_deref(), Some("https://m1.example/cf"));
        assert_eq!(c.mirror_of("https://alias.example/conda-forge-x"), None, "a prefix is a whole path segment");
        assert_eq!(c.sources.len(), 2, "{:?}", c.sources);
        let (_d, c) = cfg(&[(".pixi/config.toml", "[mirrors]\n\"https://x\" = \"not a list\"\n")], &[]);
        assert!(c.mirrors.is_empty() && c.errors[0].contains("must be a list of URLs"), "{:?}", c.errors);
        // PIXI_HOME moves pixi's file.
        let (_d, c) =
            cfg(&[("p/config.toml", "[mirrors]\n\"https://x/c\" = [\"https://y/c\"]\n")], &[("PIXI_HOME", "$H/p")]);
        assert_eq!(
            c.mirror_of("https://x/c/noarch/repodata.json").as_deref(),
            Some("https://y/c/noarch/repodata.json")
        );
    }
}
