//! Generates the prost types for `proto/payledger/v1/*.proto`.
//!
//! The protos are parsed with `protox` (pure Rust, so no system `protoc` is
//! needed) and the resulting descriptor set is handed to `prost-build`. Maps
//! are generated as `BTreeMap` so that encoding is deterministic: the same
//! value always gives the same bytes, which replay and the golden corpus rely
//! on.

use std::error::Error;
use std::path::PathBuf;

/// The proto files of the stored-data contract, relative to the include root.
const PROTO_FILES: [&str; 3] = [
    "payledger/v1/types.proto",
    "payledger/v1/events.proto",
    "payledger/v1/views.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    let descriptors = protox::compile(PROTO_FILES, [&proto_root])?;
    prost_build::Config::new()
        .btree_map(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
