//! The `simulator` binary on the real model: byte-identical `--out` files for 1, 2 and 8 threads
//! and for 4 shards merged; bad scenarios write nothing and name the key and line.

mod common;

use common::{files, ok, simulator};
use std::path::Path;

const RUN: [&str; 7] = [
    "run",
    "--scenario",
    "pioneer-2012-2013",
    "--replicates",
    "4",
    "--seed",
    "2012",
];

#[test]
fn threads_and_shards_give_the_same_bytes() {
    let outputs = same_bytes(&RUN);
    let summary: serde_json::Value = serde_json::from_slice(&outputs["summary.json"]).unwrap();
    assert_eq!(summary["scenario"], "pioneer-2012-2013");
    assert_eq!(summary["model_version"], simulator::MODEL_VERSION);
    assert_eq!(
        summary["by_performance_year"].as_array().map(Vec::len),
        Some(2)
    );
}

/// Claims mode (MODEL.md 3.5) through `--mode claims`: the same bytes for 1, 2 and 8 threads
/// and for 4 shards merged.
#[test]
fn claims_mode_threads_and_shards_give_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("claims.toml");
    std::fs::write(
        &file,
        common::claims_toml().replace("mode = \"claims\"\n", ""),
    )
    .unwrap();
    // One ACO: a market of about 9,000 beneficiaries (the debug build is slow).
    let run = [
        "run",
        "--scenario",
        file.to_str().unwrap(),
        "--set",
        "population.acos=1",
        "--replicates",
        "4",
        "--seed",
        "3",
    ];
    let outputs = same_bytes(&[&run[..], &["--mode", "claims"]].concat());
    let aggregate = tmp.path().join("aggregate");
    ok(&[&run[..], &["--out", aggregate.to_str().unwrap()]].concat());
    assert!(
        files(&aggregate)["acos.csv"] != outputs["acos.csv"],
        "--mode claims changed nothing"
    );
}

/// Runs `run` (its arguments up to `--out`) on 1, 2 and 8 threads and as 4 shards merged; every
/// output must be byte-identical. The files of the first run.
fn same_bytes(run: &[&str]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name).to_str().unwrap().to_owned();
    let mut outputs = Vec::new();
    for threads in ["1", "2", "8"] {
        let d = dir(&format!("t{threads}"));
        let stdout = ok(&[run, &["--threads", threads, "--out", &d]].concat());
        assert!(stdout.contains("net_to_medicare"), "{stdout}");
        outputs.push(files(Path::new(&d)));
    }
    assert!(outputs[0].contains_key("summary.json") && outputs[0].contains_key("acos.csv"));
    assert!(outputs[1] == outputs[0], "2 threads differ from 1");
    assert!(outputs[2] == outputs[0], "8 threads differ from 1");
    let shards: Vec<String> = (0..4)
        .map(|i| {
            let d = dir(&format!("s{i}"));
            ok(&[
                run,
                &["--threads", "1", "--shard", &format!("{i}/4"), "--out", &d],
            ]
            .concat());
            d
        })
        .collect();
    let merged = dir("merged");
    let mut args = vec!["merge"];
    args.extend(shards.iter().rev().map(String::as_str));
    args.extend(["--out", &merged]);
    ok(&args);
    assert!(
        files(Path::new(&merged)) == outputs[0],
        "4 shards merged differ from one run"
    );
    outputs.swap_remove(0)
}

#[test]
fn bad_scenarios_write_nothing_and_name_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    let bad = tmp.path().join("bad.toml");
    let preset = simulator::Scenario::preset_text("pioneer-2012-2013").unwrap();
    std::fs::write(&bad, format!("{preset}\nunknown_knob = 3\n")).unwrap();
    let line = preset.lines().count() + 2;
    for (scenario, expect) in [
        (bad.to_str().unwrap(), format!("line {line}")),
        ("no-such-preset", "no-such-preset".to_owned()),
    ] {
        let o = simulator(&[
            "run",
            "--scenario",
            scenario,
            "--replicates",
            "2",
            "--out",
            out_s,
        ]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(stderr.contains(&expect), "{stderr}");
        assert!(!out.exists(), "{scenario}: something was written");
    }
    let o = simulator(&[
        "run",
        "--scenario",
        "pioneer-2012-2013",
        "--set",
        "exit.p_other=1.5",
        "--out",
        out_s,
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("exit.p_other"));
    assert!(!out.exists());
}

#[test]
fn compare_and_sweep_pair_the_replicates() {
    let tmp = tempfile::tempdir().unwrap();
    let preset = simulator::Scenario::preset_text("pioneer-2012-2013").unwrap();
    let alt = tmp.path().join("no-effect.toml");
    // effect.mean (the first `mean = [` line after [effect]) set to zero in both years.
    let (head, tail) = preset.split_once("\n[effect]").unwrap();
    let zeroed = tail.replacen("\nmean = [", "\nmean = [0.0, 0.0] # was [", 1);
    assert_ne!(zeroed, tail, "no effect.mean line in [effect]");
    let text = format!("{head}\n[effect]{zeroed}");
    std::fs::write(&alt, text).unwrap();
    let common = ["--replicates", "3", "--seed", "5", "--threads", "2"];
    let stdout = ok(&[
        &["compare", "pioneer-2012-2013", alt.to_str().unwrap()][..],
        &common,
    ]
    .concat());
    assert!(
        stdout.contains("MCSE (paired)") && stdout.contains("MCSE (independent)"),
        "{stdout}"
    );
    let row = stdout
        .lines()
        .find(|l| l.contains("savings_to_medicare"))
        .unwrap();
    let difference: f64 = row.split('┆').nth(3).unwrap().trim().parse().unwrap();
    assert!(difference < -1e6, "no effect should save less: {row}");

    let out = tmp.path().join("sweep");
    let stdout = ok(&[
        &[
            "sweep",
            "--scenario",
            "pioneer-2012-2013",
            "--set",
            "effect.mean=[0.0],[0.02]",
        ][..],
        &common,
        &["--out", out.to_str().unwrap()],
    ]
    .concat());
    assert!(stdout.contains("[0.02]"), "{stdout}");
    let svg = std::fs::read_to_string(out.join("sweep.svg")).unwrap();
    assert!(svg.contains("sweep over effect.mean"));
}
