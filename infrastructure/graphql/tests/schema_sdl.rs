//! The schema is a contract: `schema.graphql` is checked in, and this test fails, showing
//! the diff, when the code's schema differs from it, so every schema change shows up in
//! review. Run with `UPDATE_SCHEMA=1` to write the file after an intended change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pretty_assertions::assert_eq;

#[test]
fn the_code_s_schema_is_the_checked_in_schema_graphql() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let actual = driving_graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &actual).unwrap();
    }
    let checked_in = std::fs::read_to_string(path)
        .expect("schema.graphql is missing: run with UPDATE_SCHEMA=1 to write it");
    assert_eq!(
        checked_in, actual,
        "the schema changed: review the diff, then run with UPDATE_SCHEMA=1 to accept it"
    );
}
