//! Fixtures shared by the simulator's integration tests: a small scenario and a reader of an
//! output folder.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use simulator::Scenario;

/// Eight Track 1 ACOs over PY2013-2014 with a fixed effect, a gap and exits.
pub const SMALL: &str = include_str!("small.toml");

/// Twelve Track 1 ACOs over PY2013-2018, rebased on 2016-01-01 (MODEL.md 5.5), with a constant
/// 5% effect.
pub const REBASED: &str = include_str!("rebased.toml");

/// [`SMALL`], loaded.
pub fn small() -> Scenario {
    Scenario::from_toml(SMALL, "small.toml").unwrap()
}

/// Every file of `dir` by name, with its bytes.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Runs the `simulator` binary.
pub fn simulator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_simulator"))
        .args(args)
        .output()
        .expect("run the simulator binary")
}

/// Runs the `simulator` binary, which must succeed; its standard output.
pub fn ok(args: &[&str]) -> String {
    let out = simulator(args);
    assert!(
        out.status.success(),
        "simulator {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// [`SMALL`] in claims mode with three ACOs (MODEL.md 3.5): a market of about 30,000
/// beneficiaries whose claim lines the attribution engine assigns each year.
pub fn claims_toml() -> String {
    format!(
        "mode = \"claims\"\n{}",
        SMALL.replace("acos = 8", "acos = 3")
    )
}

/// [`claims_toml`], loaded.
pub fn claims() -> Scenario {
    Scenario::from_toml(&claims_toml(), "claims.toml").unwrap()
}
