//! Protocol versions and their negotiation.
//!
//! The protocol is versioned `MAJOR.MINOR`, independently of pyve's own version and of any
//! plugin's semver. Minor versions only add optional things (fields, methods, notifications);
//! a major version change may break. Two peers are compatible when they share a major version,
//! and they then speak the lower of their two minor versions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A protocol version, written `MAJOR.MINOR` on the wire (`"1.0"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// Incompatible revisions.
    pub major: u32,
    /// Backwards-compatible additions.
    pub minor: u32,
}

/// The protocol version this crate describes. 1.1 added backend options (`BackendInfo::options`);
/// a 1.1 peer speaks 1.0 with a 1.0 peer.
pub const PROTOCOL_VERSION: ProtocolVersion = ProtocolVersion { major: 1, minor: 1 };

impl ProtocolVersion {
    /// A version from its two parts.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// Pick the version two peers speak: the highest major both offer, at the lower of the two
    /// minors offered for it. `None` when no major is shared.
    pub fn negotiate(ours: &[ProtocolVersion], theirs: &[ProtocolVersion]) -> Option<Self> {
        ours.iter()
            .filter_map(|o| {
                theirs
                    .iter()
                    .filter(|t| t.major == o.major)
                    .map(|t| t.minor)
                    .max()
                    .map(|minor| ProtocolVersion::new(o.major, minor.min(o.minor)))
            })
            .max()
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A version string that is not `MAJOR.MINOR`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid protocol version `{0}`: expected MAJOR.MINOR, such as 1.0")]
pub struct ParseVersionError(pub String);

impl FromStr for ProtocolVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError(s.to_owned());
        let (major, minor) = s.split_once('.').ok_or_else(err)?;
        let part = |p: &str| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            p.parse::<u32>().map_err(|_| err())
        };
        Ok(Self::new(part(major)?, part(minor)?))
    }
}

impl Serialize for ProtocolVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ProtocolVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ProtocolVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ProtocolVersion".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A protocol version, MAJOR.MINOR.",
            "type": "string",
            "pattern": "^[0-9]+\\.[0-9]+$",
            "examples": ["1.0"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ProtocolVersion {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints() {
        assert_eq!(v("1.0"), ProtocolVersion::new(1, 0));
        assert_eq!(v("12.34").to_string(), "12.34");
        for bad in ["", "1", "1.", ".1", "1.0.0", "a.b", "-1.0", "1.+2", " 1.0"] {
            assert!(bad.parse::<ProtocolVersion>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn negotiation_takes_the_highest_shared_major_at_the_lower_minor() {
        let n = |a: &[&str], b: &[&str]| {
            let a: Vec<_> = a.iter().map(|s| v(s)).collect();
            let b: Vec<_> = b.iter().map(|s| v(s)).collect();
            ProtocolVersion::negotiate(&a, &b).map(|v| v.to_string())
        };
        assert_eq!(n(&["1.0"], &["1.0"]).as_deref(), Some("1.0"));
        assert_eq!(n(&["1.3"], &["1.1"]).as_deref(), Some("1.1"));
        assert_eq!(n(&["1.1"], &["1.3"]).as_deref(), Some("1.1"));
        assert_eq!(n(&["1.2", "2.0"], &["2.1", "1.0"]).as_deref(), Some("2.0"));
        assert_eq!(n(&["1.0"], &["2.0"]), None);
        assert_eq!(n(&[], &["1.0"]), None);
    }
}
