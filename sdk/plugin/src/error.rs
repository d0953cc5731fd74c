use pyve_protocol::ErrorObject;
use pyve_protocol::error::kind;

/// What a handler returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error a handler reports to the host: a stable kind, a message saying what failed and
/// why, and usually a hint with the next step. The host prints it like its own, naming the
/// plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Error(pub(crate) ErrorObject);

impl Error {
    /// A failure of a kind of the plugin's own, such as `python-not-available`. The code
    /// follows the kind: `invalid-params` and `cancelled` get their own codes, any other kind
    /// `-32000`.
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        let code = match kind {
            kind::INVALID_PARAMS => pyve_protocol::error::code::INVALID_PARAMS,
            kind::CANCELLED => pyve_protocol::error::code::CANCELLED,
            _ => pyve_protocol::error::code::FAILED,
        };
        Error(ErrorObject::new(code, kind, message))
    }

    /// A file-system operation failed: says what was being done to which path, and why.
    pub fn io(action: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        let hint = match err.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(path);
                Some(format!("check the permissions of {}", dir.display()))
            }
            std::io::ErrorKind::StorageFull => Some("free some disk space and try again".to_owned()),
            _ => None,
        };
        let e = Self::new(kind::IO, format!("cannot {action} {}: {err}", path.display()));
        match hint {
            Some(h) => e.hint(h),
            None => e,
        }
    }

    /// Something the request names does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(kind::NOT_FOUND, message)
    }

    /// The parameters do not fit (a setting with a wrong type, a missing value).
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Error(ErrorObject::new(pyve_protocol::error::code::INVALID_PARAMS, kind::INVALID_PARAMS, message))
    }

    /// The request was cancelled.
    pub fn cancelled() -> Self {
        Error(ErrorObject::cancelled())
    }

    /// Attach the next step for the user.
    pub fn hint(self, hint: impl Into<String>) -> Self {
        Error(self.0.with_hint(hint))
    }

    /// Attach structured details.
    pub fn details(self, details: serde_json::Value) -> Self {
        Error(self.0.with_details(details))
    }

    /// The stable kind.
    pub fn kind(&self) -> String {
        self.0.kind()
    }

    /// The error as it goes on the wire.
    pub fn into_object(self) -> ErrorObject {
        self.0
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {}

impl From<ErrorObject> for Error {
    fn from(e: ErrorObject) -> Self {
        Error(e)
    }
}

/// Prefer [`Error::io`], which names the path: this conversion (for `?`) cannot.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(kind::IO, e.to_string())
    }
}
