//! Rebuild when a migration changes: `sqlx::migrate!` embeds the files at compile time, and
//! Cargo would not otherwise notice an edit to them.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
