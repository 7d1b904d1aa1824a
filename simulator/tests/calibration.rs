//! The presets against their published calibration targets (MODEL.md 9, 11; the simulator
//! issue's acceptance), with a fixed seed. The targets are each preset's own `[calibration]`
//! table (`simulator/presets/*.toml`), the ones `simulator calibrate` fits; they never appear in
//! any output.
//!
//! The full checks use as many replicates as MODEL.md 11 advises (the intervals across
//! replicates are wide: a single replicate would fail by chance) and take minutes in a debug
//! build, so they are `#[ignore]`d; run them in release:
//!
//! ```text
//! cargo test -p simulator --release --test calibration -- --ignored --nocapture
//! ```
//!
//! The quick versions (run by `cargo test`) use a few replicates and widen each tolerance by
//! 2.5 Monte Carlo standard errors of the mean over those replicates.

use simulator::calibrate::{self, Settings, target_table};
use simulator::{Model, Scenario, run};

/// Seed of the report (MODEL.md 11); calibration uses the presets' own seed (20240602).
const SEED: u64 = 20240601;

/// Every acceptance target (weight 1) of preset `name` within its tolerance widened by `k`
/// Monte Carlo standard errors, over `replicates` replicates of the report seed.
fn check_preset(name: &str, replicates: u32, k: f64) {
    check_targets(name, replicates, k, &|t| t.weight >= 1.0);
}

/// The targets of preset `name` that `checked` selects, as [`check_preset`].
fn check_targets(
    name: &str,
    replicates: u32,
    k: f64,
    checked: &dyn Fn(&simulator::scenario::Target) -> bool,
) {
    let s = Scenario::preset(name).unwrap();
    let t = std::time::Instant::now();
    let fits = calibrate::evaluate(
        &s,
        Settings {
            seed: SEED,
            replicates,
            threads: 2,
            max_evaluations: 1,
        },
    )
    .unwrap();
    eprintln!("{name}: {replicates} replicates in {:?}", t.elapsed());
    eprintln!("{}", target_table(&fits));
    let failed: Vec<String> = fits
        .iter()
        .filter(|f| checked(&f.target) && !f.pass_within(k))
        .map(|f| {
            format!(
                "{} (year {:?}): {} (s.e. {}) vs {} +/- {}",
                f.target.name,
                f.target.year,
                f.mean,
                f.mcse,
                f.target.value,
                f.tolerance()
            )
        })
        .collect();
    assert!(
        fits.iter().any(|f| checked(&f.target)),
        "{name}: no target checked"
    );
    assert!(failed.is_empty(), "{name}: {failed:#?}");
}

#[test]
fn every_preset_has_a_valid_calibration_table() {
    for name in Scenario::preset_names() {
        let s = Scenario::preset(name).unwrap();
        s.check_calibration().unwrap();
        let cal = s.calibration.as_ref().unwrap();
        assert!(
            !cal.targets.is_empty() && !cal.parameters.is_empty(),
            "{name}"
        );
    }
}

#[test]
#[ignore = "minutes in a debug build: cargo test -p simulator --release --test calibration -- --ignored"]
fn pioneer_2012_2013_meets_its_targets() {
    check_preset("pioneer-2012-2013", 200, 0.0);
}

#[test]
#[ignore = "minutes in a debug build: cargo test -p simulator --release --test calibration -- --ignored"]
fn mssp_2012_cohort_meets_its_targets() {
    check_preset("mssp-2012-cohort", 200, 0.0);
}

#[test]
fn pioneer_2012_2013_quick() {
    check_preset("pioneer-2012-2013", 6, 2.5);
}

#[test]
fn mssp_2012_cohort_quick() {
    check_preset("mssp-2012-cohort", 3, 2.5);
}

#[test]
fn concentration_matches_the_published_shares() {
    // Top 1/5/10/20/50% of beneficiaries hold 14.9/41.5/60.0/79.1/95.7% of spending
    // (mssp-rules 7.2, Wallis et al.); within 2 percentage points each.
    let published = [0.149, 0.415, 0.600, 0.791, 0.957];
    for name in Scenario::preset_names() {
        let model = Model::new(&Scenario::preset(name).unwrap());
        let shares = model.concentration(SEED, 400_000);
        eprintln!("{name}: {shares:?}");
        for (s, p) in shares.iter().zip(published) {
            assert!((s - p).abs() <= 0.02, "{name}: {shares:?} vs {published:?}");
        }
    }
}

#[test]
#[ignore = "minutes in a debug build: cargo test -p simulator --release --test calibration -- --ignored"]
fn mssp_2018_meets_its_targets() {
    check_preset("mssp-2018", 64, 0.0);
}

/// mssp-2024 against the published PY2024 program figures (mssp-rules 6, secondary sources [S];
/// the preset's `[calibration]` table holds them with weight 0.1: MODEL.md 12.6). Benchmark
/// savings (gross, $6.55B within 10%) is met and checked here. Not met by the preset as shipped
/// (README, presets/mssp-2024.calibration.txt): ACOs paid 381 vs 357 (75%), paid $3.52B vs
/// $4.1B, ACOs owing 7.4 vs 16, losses $8.7M vs $20.3M, net on the benchmark basis $2.81B vs
/// $2.4B.
#[test]
#[ignore = "minutes in a debug build: cargo test -p simulator --release --test calibration -- --ignored"]
fn mssp_2024_benchmark_savings_match_py2024() {
    check_targets("mssp-2024", 8, 0.0, &|t| {
        t.metric == simulator::calibrate::Metric::BenchmarkSavings
    });
}

#[test]
fn mssp_2018_quick() {
    check_preset("mssp-2018", 2, 2.5);
}

/// Every 12th ACO of the mssp-2018 preset and every Track 2 one (about 50 of 548):
/// the replay runs through the engines for every kind of agreement.
fn mssp_2018_sample() -> Scenario {
    let text = Scenario::preset_text("mssp-2018").unwrap();
    let mut kept = 0;
    let mut out = String::new();
    let mut row = 0;
    for line in text.lines() {
        if line.trim_start().starts_with("{ n =") {
            row += 1;
            if row % 12 != 1 && !line.contains("TRACK_2") {
                continue;
            }
            kept += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    let out = out.replace("acos = 548", &format!("acos = {kept}"));
    Scenario::from_toml(&out, "mssp-2018 sample").unwrap()
}

#[test]
fn mssp_2018_replay_runs_every_agreement_kind() {
    let s = mssp_2018_sample();
    let tracks: std::collections::BTreeSet<_> =
        s.population.aco.iter().map(|a| a.track.clone()).collect();
    assert_eq!(tracks.len(), 4, "{tracks:?}");
    let r = &run(&s, SEED, 0..1, 2).unwrap()[0];
    let y = &r.years[0];
    assert_eq!(y.acos_active as usize, s.population.aco.len());
    assert_eq!(
        y.beneficiaries,
        s.population.aco.iter().map(|a| a.n).sum::<u64>()
    );
    // Two-sided ACOs can owe; one-sided ones never do.
    for a in &r.acos {
        let listed = &s.population.aco[a.aco as usize];
        if listed.track == "TRACK_1" {
            assert_eq!(a.shared_losses, rust_decimal::Decimal::ZERO);
        }
    }
    eprintln!("{y:?}");
}

#[test]
fn mssp_2024_template_runs() {
    // Every 10th ACO of the template: BASIC A-E and ENHANCED, 2019-2022 starts, PY2024 quality.
    let text = Scenario::preset_text("mssp-2024").unwrap();
    let mut out = String::new();
    let (mut row, mut kept) = (0, 0);
    for line in text.lines() {
        if line.trim_start().starts_with("{ n =") {
            row += 1;
            if row % 10 != 1 {
                continue;
            }
            kept += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    let s = Scenario::from_toml(
        &out.replace("acos = 476", &format!("acos = {kept}")),
        "sample",
    )
    .unwrap();
    let tracks: std::collections::BTreeSet<_> =
        s.population.aco.iter().map(|a| a.track.clone()).collect();
    assert!(tracks.len() >= 5, "{tracks:?}");
    let r = &run(&s, SEED, 0..1, 2).unwrap()[0];
    assert_eq!(r.years[0].acos_active as usize, kept);
    eprintln!("{:?}", r.years[0]);
}

#[test]
fn persistence_matches_the_published_figures() {
    // mssp-rules 7.3: 28% of the top decile stay there in years 2 and 3; 2.8% of beneficiaries
    // are persistently high and hold about 20% of three-year spending (MODEL.md 3.2: 0.279,
    // 2.8%, 21.9%).
    let model = Model::new(&Scenario::preset("pioneer-2012-2013").unwrap());
    let p = model.persistence(SEED, 300_000);
    eprintln!("{p:?}");
    assert!((p.top_decile_stays - 0.28).abs() < 0.02, "{p:?}");
    assert!((p.persistently_high - 0.028).abs() < 0.003, "{p:?}");
    assert!((p.persistently_high_spending - 0.20).abs() < 0.03, "{p:?}");
    // mssp-rules 7.3: the AR(1) fit implies a Pearson correlation of annual dollars of about 0.62.
    assert!((p.correlation - 0.62).abs() < 0.05, "{p:?}");
}
