//! The `--out` files from a fake replicate generator (a deterministic function of seed and replicate
//! index, as the model is): byte-identical for any thread count and for sharded runs merged, the
//! summary's numbers against a hand computation, and failures that leave nothing behind.

mod common;

use common::files;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use indicatif::ProgressBar;
use rust_decimal::Decimal;
use simulator::merge::merge;
use simulator::report::{Failure, OutputSet, RunInfo, Shard, drive};
use simulator::results::{AcoYear, Outcome, Replicate, YearTotals};

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A replicate with two performance years of `acos` ACOs whose numbers depend on (seed, index).
fn fake(seed: u64, index: u32, acos: u32) -> Replicate {
    let mut years = Vec::new();
    let mut rows = Vec::new();
    for (y, year) in [2012, 2013].into_iter().enumerate() {
        let mut t = YearTotals {
            replicate: index,
            performance_year: year,
            ..YearTotals::default()
        };
        for aco in 0..acos {
            let h = splitmix(seed ^ (u64::from(index) << 20) ^ ((y as u64) << 16) ^ u64::from(aco));
            let assigned = 5_000 + h % 40_000;
            let benchmark = Decimal::new((assigned * 1_000_000 + h % 997) as i64, 2);
            let rate = Decimal::new((h >> 20) as i64 % 1_500 - 500, 4); // -5% .. +10%
            let spending = benchmark - (benchmark * rate).round_dp(2);
            let counterfactual = spending + Decimal::new((h >> 40) as i64 % 5_000_000, 1);
            let msr = Decimal::new(20 + (h % 20) as i64, 3);
            let savings = benchmark - spending;
            let savings_rate = savings / benchmark;
            let outcome = if savings_rate >= msr {
                Outcome::Paid
            } else if -savings_rate >= msr {
                Outcome::Owes
            } else {
                Outcome::Corridor
            };
            let shared_savings = if outcome == Outcome::Paid {
                (savings / Decimal::TWO).round_dp(2)
            } else {
                Decimal::ZERO
            };
            let shared_losses = if outcome == Outcome::Owes {
                (-savings * Decimal::new(6, 1)).round_dp(2)
            } else {
                Decimal::ZERO
            };
            let exited_after = y == 0 && h.is_multiple_of(7);
            t.savings_to_medicare += counterfactual - spending;
            t.benchmark_savings += savings;
            t.shared_savings_paid += shared_savings;
            t.shared_losses_collected += shared_losses;
            t.acos_active += 1;
            t.acos_below_benchmark += u32::from(savings > Decimal::ZERO);
            t.acos_paid += u32::from(shared_savings > Decimal::ZERO);
            t.acos_owing += u32::from(shared_losses > Decimal::ZERO);
            t.acos_exited += u32::from(exited_after);
            t.beneficiaries += assigned;
            rows.push(AcoYear {
                replicate: index,
                aco,
                performance_year: year,
                assigned,
                benchmark,
                spending,
                counterfactual,
                savings_to_medicare: counterfactual - spending,
                msr,
                savings_rate,
                outcome,
                shared_savings,
                shared_losses,
                exited_after,
            });
        }
        years.push(t);
    }
    Replicate {
        index,
        years,
        acos: rows,
        claims: None,
    }
}

fn info(replicates: u32) -> RunInfo {
    RunInfo {
        scenario: "fake".to_owned(),
        seed: 7,
        replicates,
        model_version: "test-1".to_owned(),
    }
}

fn run(dir: &Path, replicates: u32, threads: usize, shard: Option<Shard>) {
    let mut out = OutputSet::create(dir, info(replicates), shard).unwrap();
    let range = out.range();
    drive::<String, _, _>(
        range,
        threads,
        &ProgressBar::hidden(),
        |i| Ok(fake(7, i, 6)),
        |r| out.push(&r),
    )
    .unwrap();
    out.finish().unwrap();
}

fn expected_names() -> Vec<String> {
    let mut names = vec![
        "acos.csv",
        "benchmark_gap.svg",
        "net_savings.svg",
        "replicates.csv",
        "savings_rate_vs_msr.svg",
        "summary.json",
    ];
    if cfg!(feature = "parquet") {
        names.extend(["acos.parquet", "replicates.parquet"]);
    }
    names.sort_unstable();
    names.into_iter().map(str::to_owned).collect()
}

#[test]
fn same_bytes_for_one_two_and_eight_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = [1, 2, 8]
        .into_iter()
        .map(|t| {
            let d = tmp.path().join(format!("t{t}"));
            run(&d, 40, t, None);
            d
        })
        .collect();
    let one = files(&dirs[0]);
    assert_eq!(one.keys().cloned().collect::<Vec<_>>(), expected_names());
    for d in &dirs[1..] {
        assert!(files(d) == one, "{} differs from 1 thread", d.display());
    }
    // The run really has the rows: 40 replicates x 2 years, x 6 ACOs.
    let lines = |name: &str| one[name].iter().filter(|b| **b == b'\n').count();
    assert_eq!(lines("replicates.csv"), 1 + 80);
    assert_eq!(lines("acos.csv"), 1 + 480);
}

#[test]
fn four_shards_merged_equal_one_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    // 10 replicates over 4 shards (2, 3, 2, 3) and 3 over 4 (one shard empty).
    for n in [10u32, 3] {
        let whole = tmp.path().join(format!("whole{n}"));
        run(&whole, n, 2, None);
        let shards: Vec<PathBuf> = (0..4)
            .rev()
            .map(|i| {
                let d = tmp.path().join(format!("shard{n}-{i}"));
                run(&d, n, 1, Some(Shard { index: i, count: 4 }));
                assert!(d.join("shard.json").exists() && !d.join("summary.json").exists());
                d
            })
            .collect();
        let merged = tmp.path().join(format!("merged{n}"));
        merge(&shards, &merged).unwrap();
        assert!(
            files(&merged) == files(&whole),
            "merge of {n} replicates differs"
        );
    }
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn summary_json_has_the_issue_shape_and_hand_computed_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let reps: Vec<Replicate> = (0..3).map(|i| fake(11, i, 4)).collect();
    let mut out = OutputSet::create(tmp.path(), info(3), None).unwrap();
    for r in &reps {
        out.push(r).unwrap();
    }
    out.finish().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("summary.json")).unwrap()).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let mut top = vec![
        "by_performance_year",
        "model_version",
        "replicates",
        "scenario",
        "seed",
        "totals",
    ];
    top.sort_unstable();
    assert_eq!(keys(&v), top);
    assert_eq!(
        (
            v["scenario"].as_str(),
            v["seed"].as_u64(),
            v["replicates"].as_u64()
        ),
        (Some("fake"), Some(7), Some(3))
    );
    let mut totals = simulator::report::summary::TOTAL_NAMES.to_vec();
    totals.sort_unstable();
    assert_eq!(keys(&v["totals"]), totals);
    let years = v["by_performance_year"].as_array().unwrap();
    assert_eq!(years.len(), 2);
    assert_eq!(years[1]["performance_year"], 2013);
    assert_eq!(keys(&years[1]["totals"]), totals);

    // net to Medicare over both years, per replicate, by hand.
    let mut net: Vec<Decimal> = reps
        .iter()
        .map(|r| r.years.iter().map(|t| t.net_to_medicare()).sum())
        .collect();
    let mean = net.iter().sum::<Decimal>() / Decimal::from(3);
    net.sort();
    // type 7: h = 2 * 0.025 = 0.05 and 2 * 0.975 = 1.95
    let lo = net[0] + (net[1] - net[0]) * dec("0.05");
    let hi = net[1] + (net[2] - net[1]) * dec("0.95");
    let sd =
        ((net.iter().map(|x| (x - mean) * (x - mean)).sum::<Decimal>()) / Decimal::TWO).sqrt_f();
    let fig = &v["totals"]["net_to_medicare"];
    let cents = |d: Decimal| acorn_domain::round_money(d).to_string();
    assert_eq!(fig["mean"].as_str().unwrap(), cents(mean));
    assert_eq!(fig["ci95"][0].as_str().unwrap(), cents(lo));
    assert_eq!(fig["ci95"][1].as_str().unwrap(), cents(hi));
    let mcse = dec(fig["mcse"].as_str().unwrap());
    assert!(
        (mcse - sd / dec("1.7320508075688772935274463415")).abs() <= dec("0.01"),
        "{mcse} vs {sd}"
    );
    // Counts: PY2012 ACOs paid, mean of three replicates.
    let paid: u32 = reps.iter().map(|r| r.years[0].acos_paid).sum();
    assert_eq!(
        years[0]["totals"]["acos_paid"]["mean"].as_str().unwrap(),
        cents(Decimal::from(paid) / Decimal::from(3))
    );
}

trait SqrtF {
    fn sqrt_f(self) -> Decimal;
}
impl SqrtF for Decimal {
    fn sqrt_f(self) -> Decimal {
        use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
        Decimal::from_f64(self.to_f64().unwrap().sqrt()).unwrap()
    }
}

#[test]
fn a_failed_run_writes_nothing_and_keeps_an_earlier_summary() {
    let tmp = tempfile::tempdir().unwrap();
    // A new directory: removed again.
    let fresh = tmp.path().join("fresh");
    let mut out = OutputSet::create(&fresh, info(20), None).unwrap();
    let range = out.range();
    let r = drive(
        range,
        3,
        &ProgressBar::hidden(),
        |i| {
            if i == 13 {
                Err("bad draw")
            } else {
                Ok(fake(7, i, 3))
            }
        },
        |r| out.push(&r),
    );
    assert!(
        matches!(
            r,
            Err(Failure::Model {
                replicate: 13,
                error: "bad draw"
            })
        ),
        "{r:?}"
    );
    drop(out);
    assert!(!fresh.exists());
    // An existing output: left exactly as it was (no temporary files either).
    let kept = tmp.path().join("kept");
    run(&kept, 5, 1, None);
    let before = files(&kept);
    let mut out = OutputSet::create(&kept, info(20), None).unwrap();
    let range = out.range();
    assert!(
        drive(
            range,
            2,
            &ProgressBar::hidden(),
            |i| if i == 4 { Err("x") } else { Ok(fake(8, i, 3)) },
            |r| out.push(&r)
        )
        .is_err()
    );
    drop(out);
    assert!(files(&kept) == before);
}

#[test]
fn out_of_order_or_missing_replicates_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut out = OutputSet::create(tmp.path(), info(3), None).unwrap();
    assert!(out.push(&fake(1, 1, 2)).is_err());
    out.push(&fake(1, 0, 2)).unwrap();
    assert!(out.finish().is_err());
    assert!(!tmp.path().join("summary.json").exists());
}

#[test]
fn merge_refuses_missing_duplicate_foreign_and_tampered_shards() {
    let tmp = tempfile::tempdir().unwrap();
    let shard = |name: &str, i: u32, replicates: u32| {
        let d = tmp.path().join(name);
        run(&d, replicates, 1, Some(Shard { index: i, count: 3 }));
        d
    };
    let (a, b, c) = (shard("a", 0, 9), shard("b", 1, 9), shard("c", 2, 9));
    let other = shard("other", 2, 12);
    let out = tmp.path().join("out");
    let err = |dirs: &[&PathBuf]| {
        let dirs: Vec<PathBuf> = dirs.iter().map(|d| (*d).clone()).collect();
        let e = merge(&dirs, &out).unwrap_err().to_string();
        assert!(!out.exists(), "merge failed but wrote {}", out.display());
        e
    };
    assert!(err(&[&a, &b]).contains("missing [2]"));
    assert!(err(&[&a, &b, &b, &c]).contains("once each"));
    assert!(err(&[&a, &b, &other]).contains("another run"));
    assert!(err(&[&tmp.path().join("nowhere")]).contains("shard.json"));
    let csv = c.join("acos.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(
        &csv,
        text.replacen(",corridor,", ",maybe,", 1)
            .replacen(",paid,", ",maybe,", 1),
    )
    .unwrap();
    let e = err(&[&a, &b, &c]);
    assert!(e.contains("acos.csv line") && e.contains("outcome"), "{e}");
    merge(&[a, b, shard("c2", 2, 9)], &out).unwrap();
}

#[test]
fn shard_ranges_partition_the_replicates() {
    for (n, count) in [(10u32, 4u32), (3, 4), (100, 7), (1, 1)] {
        let mut next = 0;
        for index in 0..count {
            let r = Shard { index, count }.range(n);
            assert_eq!(r.start, next);
            next = r.end;
        }
        assert_eq!(next, n);
    }
    assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
    for bad in ["4/4", "0/0", "1", "a/2", "-1/2", "1/2/3"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
}
