//! Compiles `proto/todo/v1/*.proto` into Rust, with protox (a protobuf compiler written in
//! Rust, so the build needs no `protoc`) and tonic-prost-build.
//!
//! The compiled descriptors are also written to `OUT_DIR/todo_v1_descriptor.bin`, for the
//! reflection service: clients such as grpcurl then discover the API from the server.

use std::{env, error::Error, fs, path::PathBuf};

use protox::prost::Message;

const PROTO_ROOT: &str = "../../proto";
const FILES: &[&str] = &["todo/v1/todos.proto", "todo/v1/users.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    let descriptors = protox::compile(FILES, [PROTO_ROOT])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("todo_v1_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        // Clients are generated too: for the tests and the load generator, and for anyone
        // who wants to call the API from Rust. They come without tonic's transport; the
        // caller brings a channel.
        .build_transport(false)
        .compile_fds(descriptors)?;
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    Ok(())
}
