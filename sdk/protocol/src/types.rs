//! Parameters and results of every method of protocol 1.
//!
//! Rules that keep the protocol forward compatible: every field added after 1.0 is optional,
//! receivers ignore fields they do not know, and enumerations that may grow (hook events, error
//! kinds) are plain strings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::Id;
use crate::version::ProtocolVersion;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// Backend settings: the backend's section of `.pyve/config` merged with the command-line flags
/// meant for it (for example `directory` for venv, `env_name` for micromamba).
pub type Settings = BTreeMap<String, Value>;

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i8) -> bool {
    *n == 0
}

// ---------------------------------------------------------------------------------------------
// initialize

/// Parameters of `initialize`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct InitializeParams {
    /// Every protocol version the host speaks, one per major, each at its highest minor.
    pub protocol_versions: Vec<ProtocolVersion>,
    /// Who is asking.
    pub host: HostInfo,
    /// The project the session is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectContext>,
    /// The user's choices for this session.
    #[serde(default)]
    pub settings: HostSettings,
}

/// The host program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct HostInfo {
    /// Always `pyve` for pyve itself.
    pub name: String,
    /// The host's semver.
    pub version: String,
}

/// A project pyve works on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct ProjectContext {
    /// Absolute path of the project root (the directory holding `.pyve/`).
    pub root: PathBuf,
}

/// Session settings chosen by the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct HostSettings {
    /// Whether the host can ask the user questions (`host/prompt`).
    #[serde(default)]
    pub interactive: bool,
    /// -1 quiet, 0 normal, 1 verbose, 2 debug.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub verbosity: i8,
    /// Whether the user's terminal shows colours (plugins writing to stderr may use them).
    #[serde(default)]
    pub color: bool,
}

/// The answer to `initialize`: who the plugin is and what it provides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Manifest {
    /// The plugin's name, `[a-z][a-z0-9-]*`, the part after `pyve-` in its file name.
    pub name: String,
    /// The plugin's own semver, independent of pyve's and of the protocol's.
    pub version: String,
    /// The protocol version chosen for this session.
    pub protocol: ProtocolVersion,
    /// One line saying what the plugin is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The roles the plugin plays.
    #[serde(default)]
    pub provides: Provides,
    /// Optional protocol features the plugin supports.
    #[serde(default)]
    pub capabilities: Capabilities,
}

/// What a plugin provides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Provides {
    /// Environment backends (they answer `env/*` and `doctor/checks`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backends: Vec<BackendInfo>,
    /// Commands run in passthrough (`pyve NAME ARGS...`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandInfo>,
    /// Hooks (they answer `hook/<event>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookInfo>,
}

impl Provides {
    /// Whether the plugin provides nothing at all.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty() && self.commands.is_empty() && self.hooks.is_empty()
    }
}

/// A backend and the project files that select it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct BackendInfo {
    /// The backend name, as given to `--backend`.
    pub name: String,
    /// File names in the project root whose presence selects this backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<String>,
    /// When the files of several backends are present, the higher priority wins (conda files
    /// outrank Python packaging files).
    #[serde(default)]
    pub priority: i32,
    /// One line saying what the backend makes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The options the backend adds to `pyve --init` (protocol 1.1). The host parses them,
    /// shows them in `pyve --init --help` and completion, and hands their values on in
    /// `settings`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionInfo>,
}

/// An option a backend adds to `pyve --init` (protocol 1.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct OptionInfo {
    /// The long flag without its dashes: `env-name` for `--env-name` (lowercase letters, digits
    /// and dashes).
    pub name: String,
    /// What it takes.
    #[serde(default)]
    pub kind: OptionKind,
    /// For `enum`: the values accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// One line of help.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
    /// The `settings` key the value fills (`env_name`): `true` for a flag, the text otherwise.
    pub setting: String,
    /// The value the backend uses when the option is not given, as shown in help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The placeholder in help (`NAME`, `DIR`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_name: Option<String>,
    /// Also accepted as the positional argument of `pyve --init VALUE` (the original tool's
    /// `pyve --init DIR` for the venv directory). One option of all backends may claim it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub positional: bool,
}

/// What an option takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum OptionKind {
    /// Nothing: present or not (`--strict`).
    #[default]
    Flag,
    /// A text (`--env-name NAME`).
    String,
    /// A path, passed as typed (the backend's help says what it is relative to).
    Path,
    /// One of `choices`.
    Enum,
    /// A kind from a newer protocol: the host does not offer the option.
    #[serde(other)]
    Unknown,
}

/// A command the plugin runs in passthrough.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct CommandInfo {
    /// The command name (`pyve NAME`).
    pub name: String,
    /// One line for `pyve --help` and `pyve --list`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

/// A hook the plugin answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct HookInfo {
    /// The event, such as `post-create` (the method is `hook/<event>`). Unknown events are
    /// ignored by hosts that do not know them.
    pub event: String,
    /// One line saying what the hook does.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Optional protocol features.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Capabilities {
    /// The plugin stops work on `$/cancel` and answers with kind `cancelled`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cancel: bool,
    /// The plugin sends `$/progress`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub progress: bool,
    /// The plugin may send `host/prompt`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub prompt: bool,
}

// ---------------------------------------------------------------------------------------------
// backend methods

/// Parameters of `env/create`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct CreateParams {
    /// Absolute path of the project root.
    pub project_root: PathBuf,
    /// Which of the plugin's backends is meant.
    pub backend: String,
    /// The Python version the user asked for (`--python-version`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_version: Option<String>,
    /// Backend settings (config section plus flags).
    #[serde(default, skip_serializing_if = "Settings::is_empty")]
    pub settings: Settings,
    /// Replace an existing environment (`pyve --init --force`): build the new one beside it
    /// and swap it in only once it is complete, so that a failure keeps the old one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub replace: bool,
}

/// The answer to `env/create`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct CreateResult {
    /// Absolute path of the environment.
    pub env_path: PathBuf,
    /// `false` when the environment already existed and was kept.
    pub created: bool,
    /// The environment's Python interpreter, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<PathBuf>,
    /// Its version, `X.Y.Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_version: Option<String>,
    /// How to run commands inside it; the host records this so that `pyve run` needs no
    /// plugin.
    #[serde(default)]
    pub activation: Activation,
    /// What to record in the backend's section of `.pyve/config`; sent back in later requests.
    #[serde(default, skip_serializing_if = "Settings::is_empty")]
    pub settings: Settings,
    /// Lines the host adds to `.gitignore` (and removes on purge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gitignore: Vec<String>,
    /// Project files the backend created besides the environment (a `.python-version` pin),
    /// relative to the project root, for the host to report. What the backend needs to remove
    /// them later it records in `settings` (which every later request carries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created_files: Vec<PathBuf>,
    /// (1.1) The project files the environment is made from, relative to the project root,
    /// whether they exist or not (`requirements.txt`, `pyproject.toml`, `environment.yml`,
    /// the version pin): pyve records their content and `pyve sync` rebuilds the environment
    /// when one changes, appears or goes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<PathBuf>,
}

/// Parameters of `env/describe`, `env/activation`, `env/remove` and `doctor/checks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct EnvParams {
    /// Absolute path of the project root.
    pub project_root: PathBuf,
    /// Which of the plugin's backends is meant.
    pub backend: String,
    /// Backend settings as recorded in `.pyve/config`.
    #[serde(default, skip_serializing_if = "Settings::is_empty")]
    pub settings: Settings,
}

/// The answer to `env/describe`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct EnvDescription {
    /// Whether the environment exists.
    pub exists: bool,
    /// Where it is (or would be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_path: Option<PathBuf>,
    /// Its interpreter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<PathBuf>,
    /// The interpreter's version, `X.Y.Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_version: Option<String>,
    /// How many distributions are installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_count: Option<u64>,
    /// The state of the lock file, for backends that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<LockStatus>,
}

/// The state of a lock file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct LockStatus {
    /// `fresh`, `stale`, `missing`, `unchecked` (a lock file without the source to check it
    /// against) or `none` (the backend uses no lock file).
    pub state: String,
    /// The lock file, relative to the project root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// One line of explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How to run a command inside an environment. The host applies it in this order: remove
/// `unset`, set `set`, put `path_prepend` in front of `PATH`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Activation {
    /// Variables to set, such as `VIRTUAL_ENV`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Variables to remove, such as `PYTHONHOME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<String>,
    /// Absolute directories to put first on `PATH`, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub path_prepend: Vec<PathBuf>,
}

/// The answer to `env/remove`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct RemoveResult {
    /// What was removed, absolute paths.
    #[serde(default)]
    pub removed: Vec<PathBuf>,
    /// What was deliberately kept, with why, for the host to report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptPath>,
}

/// A path `env/remove` left in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct KeptPath {
    /// The path.
    pub path: PathBuf,
    /// Why it was kept.
    pub reason: String,
}

/// The answer to `doctor/checks`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct DoctorReport {
    /// The checks, in the order to show them.
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// One diagnostic line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Check {
    /// How it went.
    pub status: CheckStatus,
    /// What was checked, such as `Python`.
    pub label: String,
    /// What was found, such as `3.12.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// What to do about a warning or an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Fine.
    Ok,
    /// Information only.
    Info,
    /// Works, but worth a look.
    Warn,
    /// Broken.
    Error,
}

// ---------------------------------------------------------------------------------------------
// hooks

/// Parameters of `hook/post-create`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct PostCreateParams {
    /// Absolute path of the project root.
    pub project_root: PathBuf,
    /// The backend that made the environment.
    pub backend: String,
    /// Absolute path of the environment.
    pub env_path: PathBuf,
    /// The environment's interpreter, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<PathBuf>,
    /// Its version, `X.Y.Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_version: Option<String>,
    /// Whether the environment was created by this init (`false`: it existed already).
    #[serde(default)]
    pub created: bool,
}

/// The answer to a hook.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct HookResult {
    /// Whether the hook changed anything.
    #[serde(default)]
    pub changed: bool,
    /// One line for the user about what it did (or why it did nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// host/prompt

/// Parameters of `host/prompt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct PromptParams {
    /// The question.
    pub message: String,
    /// The allowed answers; empty for free text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<PromptChoice>,
    /// The answer taken when the user just presses Enter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// What the user should pass instead when the session is not interactive (for example
    /// `--auto-bootstrap`); the host puts it in the `not-interactive` error's hint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_interactive_hint: Option<String>,
}

/// One allowed answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct PromptChoice {
    /// What the user types and what the answer carries, such as `1` or `y`.
    pub key: String,
    /// What it means.
    pub label: String,
}

/// The answer to `host/prompt`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct PromptResult {
    /// The key of the chosen answer, or the text typed.
    pub answer: String,
}

// ---------------------------------------------------------------------------------------------
// notifications

/// Parameters of `$/progress`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct ProgressParams {
    /// Ties the `begin`, `report`s and `end` of one operation together.
    pub token: String,
    /// Where in the operation this is.
    pub kind: ProgressKind,
    /// What the operation is (`begin` only), such as `Installing Python 3.12.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The current step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Units done so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    /// Units in all, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// The phase of a progress notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProgressKind {
    /// The operation starts.
    Begin,
    /// It advanced.
    Report,
    /// It finished.
    End,
}

/// Parameters of `$/log`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct LogParams {
    /// How important it is.
    pub level: LogLevel,
    /// The message, one line.
    pub message: String,
}

/// The level of a log message. The host shows `error`, `warn`, `success` and `info` by
/// default (`success` as a `✓` line), `debug` with `--verbose`, `trace` with `-vv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something is off.
    Warn,
    /// A step completed (shown as `✓ message`).
    Success,
    /// A step the user should see.
    Info,
    /// Details for `--verbose`.
    Debug,
    /// Everything.
    Trace,
}

/// Parameters of `$/cancel`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct CancelParams {
    /// The id of the request to cancel.
    pub id: Id,
}
