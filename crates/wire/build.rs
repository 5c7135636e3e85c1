//! Copies the descriptor set `temporalio-protos` exports into OUT_DIR, so `json.rs` can render
//! any Temporal message as protobuf JSON.

use std::path::PathBuf;

fn main() {
    const VAR: &str = "DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH";
    println!("cargo:rerun-if-env-changed={VAR}");
    println!("cargo:rerun-if-changed=build.rs");
    let path = PathBuf::from(
        std::env::var(VAR).unwrap_or_else(|_| panic!("{VAR} is not set by temporalio-protos")),
    );
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|err| panic!("cannot read descriptor set {}: {err}", path.display()));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    std::fs::write(out_dir.join("temporal_descriptors.bin"), &bytes)
        .expect("writing the descriptor set to OUT_DIR");
}
