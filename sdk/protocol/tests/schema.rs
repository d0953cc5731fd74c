//! `docs/protocol.schema.json` is generated from the wire types. This test fails when the
//! committed file is stale; `SNAPSHOTS=overwrite cargo test -p pyve-protocol --test schema`
//! rewrites it.

use std::path::Path;

#[test]
fn committed_schema_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol.schema.json");
    let fresh = pyve_protocol::schema::protocol_schema_text();
    snapbox::assert_data_eq!(fresh, snapbox::Data::read_from(&path, None).raw());
}

#[test]
fn schema_covers_every_method() {
    let schema = pyve_protocol::schema::protocol_schema();
    for m in pyve_protocol::methods::REQUESTS {
        assert!(schema["x-methods"].get(*m).is_some(), "{m} missing");
    }
    for m in pyve_protocol::methods::NOTIFICATIONS {
        assert!(schema["x-notifications"].get(*m).is_some(), "{m} missing");
    }
    assert!(schema["$defs"]["Manifest"].is_object());
}
