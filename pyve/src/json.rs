//! JSON output with a stable key order.
//!
//! `serde_json`'s maps are sorted unless its `preserve_order` feature is on, and cargo turns
//! features on for every package of one build: a `cargo build --workspace` that includes
//! `pyve-micromamba` (whose rattler crates ask for `preserve_order`) would otherwise print the
//! host's `--json` output in another order than `cargo build -p pyve`. Every `--json` printer
//! goes through [`pretty`], which sorts object keys, so the output is the same either way.

use serde::Serialize;
use serde_json::Value;

/// Sort every object's keys, recursively.
pub fn sorted(mut v: Value) -> Value {
    pyve_protocol::sort_keys(&mut v);
    v
}

/// `value` as pretty-printed JSON with sorted keys.
pub fn pretty(value: &impl Serialize) -> String {
    let v = serde_json::to_value(value).expect("JSON values serialize");
    serde_json::to_string_pretty(&sorted(v)).expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_out_sorted_whatever_the_map_type() {
        let mut m = serde_json::Map::new();
        m.insert("b".into(), serde_json::json!([{"z": 1, "a": 2}]));
        m.insert("a".into(), Value::Null);
        assert_eq!(
            pretty(&Value::Object(m)),
            "{\n  \"a\": null,\n  \"b\": [\n    {\n      \"a\": 2,\n      \"z\": 1\n    }\n  ]\n}"
        );
    }
}
