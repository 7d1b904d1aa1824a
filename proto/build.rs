//! Compiles the acorn contracts with protox (pure Rust: no system `protoc` needed) and generates
//! the prost messages and tonic clients/servers. The encoded descriptor set is kept for reflection.

use prost::Message as _;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "acorn/common/v1/common.proto",
    "acorn/settlement/v1/settlement.proto",
    "acorn/benchmark/v1/benchmark.proto",
    "acorn/attribution/v1/attribution.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=acorn");
    let fds = protox::compile(PROTOS, ["."])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out.join("acorn_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
