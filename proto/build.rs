//! Compiles the acorn contracts with protox (pure Rust: no system `protoc` needed) and generates
//! the prost messages and tonic clients/servers. The encoded descriptor set is kept for reflection,
//! with a second one of the vendored `google.rpc` error details (`third_party/google/README.md`)
//! that reflection also serves, so clients can decode error details. No code is generated for
//! those: `tonic-types` has the Rust types.

use prost::Message as _;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "acorn/common/v1/common.proto",
    "acorn/settlement/v1/settlement.proto",
    "acorn/benchmark/v1/benchmark.proto",
    "acorn/attribution/v1/attribution.proto",
];

/// googleapis' error-detail contracts, for reflection only.
const ERROR_DETAILS: &[&str] = &[
    "third_party/google/rpc/error_details.proto",
    "third_party/google/rpc/status.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=acorn");
    println!("cargo:rerun-if-changed=third_party");
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("acorn_descriptor.bin"), fds.encode_to_vec())?;
    let error_details = protox::compile(ERROR_DETAILS, ["third_party"])?;
    fs::write(
        out.join("error_details_descriptor.bin"),
        error_details.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // The columnar upload's text data decode as slices of the received message (no copy).
        .bytes(".acorn.attribution.v1.TextColumn.data")
        .compile_fds(fds)?;
    Ok(())
}
