//! Fixtures shared by the simulator's integration tests: a small scenario and a reader of an
//! output folder.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use simulator::Scenario;

/// Eight Track 1 ACOs over PY2013-2014 with a fixed effect, a gap and exits.
pub const SMALL: &str = r#"
name = "small"
performance_years = [2013, 2014]
benchmark_years = [2010, 2011, 2012]

[population]
acos = 8
size_median = 6000
size_sigma = 0.3
size_floor = 5000

[rules]
tracks = ["TRACK_1"]
agreement_start = "2013-01-01"
msr = "variable"

[effect]
mean = 0.02
sigma = 0.01

[gap]
sigma = 0.02

[transient]
k_cluster = 3.0

[exit]
p_above_benchmark = 0.5
"#;

/// Twelve Track 1 ACOs over PY2013-2018, rebased on 2016-01-01 (MODEL.md 5.5), with a constant
/// 5% effect.
pub const REBASED: &str = r#"
name = "rebased"
performance_years = [2013, 2014, 2015, 2016, 2017, 2018]
benchmark_years = [2010, 2011, 2012]

[population]
acos = 12
size_median = 8000
size_sigma = 0.3
size_floor = 5000

[rules]
tracks = ["TRACK_1"]
agreement_start = "2013-01-01"
rebase_start = "2016-01-01"
msr = "variable"

[effect]
mean = 0.05
sigma = 0.0
"#;

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
