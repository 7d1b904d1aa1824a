//! The presets against their published calibration targets (MODEL.md 9, 11; the simulator
//! issue's acceptance), with a fixed seed. Targets live here only, never in any output.
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

use rust_decimal::prelude::ToPrimitive;
use simulator::results::Replicate;
use simulator::{Model, Scenario, run};

/// Seed of the report (MODEL.md 11); calibration used 20240602.
const SEED: u64 = 20240601;

/// Mean and standard error of the mean.
fn mean_se(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, (var / n).sqrt())
}

struct Check {
    failures: Vec<String>,
}

impl Check {
    fn new() -> Self {
        Self {
            failures: Vec::new(),
        }
    }

    /// `tol` absolute, widened by `k` standard errors.
    fn abs(&mut self, name: &str, x: &[f64], target: f64, tol: f64, k: f64) {
        let (m, se) = mean_se(x);
        let ok = (m - target).abs() <= tol + k * se;
        eprintln!(
            "{name:<28} simulated {m:>14.4} (s.e. {se:.4})  target {target:>14.4} +/- {tol} {}",
            if ok { "PASS" } else { "FAIL" }
        );
        if !ok {
            self.failures.push(format!(
                "{name}: {m:.2} (s.e. {se:.2}) vs {target} +/- {tol}"
            ));
        }
    }

    /// `rel` relative tolerance, widened by `k` standard errors.
    fn rel(&mut self, name: &str, x: &[f64], target: f64, rel: f64, k: f64) {
        let (m, se) = mean_se(x);
        let ok = (m - target).abs() <= rel * target.abs() + k * se;
        let (unit, scale) = if target.abs() < 1.0 {
            ("%", 100.0)
        } else {
            ("M", 1e-6)
        };
        eprintln!(
            "{name:<28} simulated {:>10.3}{unit} (s.e. {:.3}{unit})  target {:>8.3}{unit} +/- {:.0}% {}",
            m * scale,
            se * scale,
            target * scale,
            rel * 100.0,
            if ok { "PASS" } else { "FAIL" }
        );
        if !ok {
            self.failures.push(format!(
                "{name}: {:.1}M (s.e. {:.1}M) vs {:.1}M +/- {}%",
                m / 1e6,
                se / 1e6,
                target / 1e6,
                rel * 100.0
            ));
        }
    }

    fn finish(self) {
        assert!(self.failures.is_empty(), "{:#?}", self.failures);
    }
}

fn per_rep(reps: &[Replicate], f: impl Fn(&Replicate) -> f64) -> Vec<f64> {
    reps.iter().map(f).collect()
}

fn dollars(d: rust_decimal::Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

fn pioneer(replicates: u32, k: f64) {
    let s = Scenario::preset("pioneer-2012-2013").unwrap();
    let t = std::time::Instant::now();
    let reps = run(&s, SEED, 0..replicates, 2).unwrap();
    eprintln!(
        "pioneer-2012-2013: {replicates} replicates in {:?}",
        t.elapsed()
    );
    let mut c = Check::new();
    let y = |r: &Replicate, j: usize| r.years[j].clone();
    let sav = |r: &Replicate| dollars(y(r, 0).savings_to_medicare + y(r, 1).savings_to_medicare);
    let net = |r: &Replicate| dollars(y(r, 0).net_to_medicare() + y(r, 1).net_to_medicare());
    c.rel(
        "savings_to_medicare total",
        &per_rep(&reps, sav),
        384.2e6,
        0.05,
        k,
    );
    c.rel(
        "savings_to_medicare PY1",
        &per_rep(&reps, |r| dollars(y(r, 0).savings_to_medicare)),
        279.7e6,
        0.05,
        k,
    );
    c.rel(
        "savings_to_medicare PY2",
        &per_rep(&reps, |r| dollars(y(r, 1).savings_to_medicare)),
        104.5e6,
        0.05,
        k,
    );
    c.rel(
        "net_to_medicare total",
        &per_rep(&reps, net),
        249.0e6,
        0.05,
        k,
    );
    c.abs(
        "acos_paid PY1",
        &per_rep(&reps, |r| f64::from(y(r, 0).acos_paid)),
        13.0,
        2.0,
        k,
    );
    c.abs(
        "acos_paid PY2",
        &per_rep(&reps, |r| f64::from(y(r, 1).acos_paid)),
        11.0,
        2.0,
        k,
    );
    c.rel(
        "benchmark_savings PY1",
        &per_rep(&reps, |r| dollars(y(r, 0).benchmark_savings)),
        147.0e6,
        0.15,
        k,
    );
    c.rel(
        "benchmark_savings PY2",
        &per_rep(&reps, |r| dollars(y(r, 1).benchmark_savings)),
        96.0e6,
        0.15,
        k,
    );
    c.abs(
        "acos_exited PY1",
        &per_rep(&reps, |r| f64::from(y(r, 0).acos_exited)),
        9.0,
        2.0,
        k,
    );
    // Published but not acceptance targets (MODEL.md 12.1): reported only.
    for (name, f) in [
        (
            "(info) below benchmark PY1 (18)",
            Box::new(|r: &Replicate| f64::from(y(r, 0).acos_below_benchmark))
                as Box<dyn Fn(&Replicate) -> f64>,
        ),
        (
            "(info) owing PY1 (1-2)",
            Box::new(|r: &Replicate| f64::from(y(r, 0).acos_owing)),
        ),
        (
            "(info) owing PY2 (3)",
            Box::new(|r: &Replicate| f64::from(y(r, 1).acos_owing)),
        ),
        (
            "(info) paid PY1 ($76M)",
            Box::new(|r: &Replicate| dollars(y(r, 0).shared_savings_paid) / 1e6),
        ),
        (
            "(info) paid PY2 ($68M)",
            Box::new(|r: &Replicate| dollars(y(r, 1).shared_savings_paid) / 1e6),
        ),
        (
            "(info) active PY2 (23)",
            Box::new(|r: &Replicate| f64::from(y(r, 1).acos_active)),
        ),
    ] {
        let (m, se) = mean_se(&per_rep(&reps, f));
        eprintln!("{name:<28} simulated {m:>14.2} (s.e. {se:.2})");
    }
    c.finish();
}

fn mssp_2012(replicates: u32, k: f64) {
    let s = Scenario::preset("mssp-2012-cohort").unwrap();
    let t = std::time::Instant::now();
    let reps = run(&s, SEED, 0..replicates, 2).unwrap();
    eprintln!(
        "mssp-2012-cohort: {replicates} replicates in {:?}",
        t.elapsed()
    );
    let mut c = Check::new();
    c.abs(
        "acos_below_benchmark",
        &per_rep(&reps, |r| f64::from(r.years[0].acos_below_benchmark)),
        54.0,
        3.0,
        k,
    );
    c.abs(
        "acos_paid",
        &per_rep(&reps, |r| f64::from(r.years[0].acos_paid)),
        29.0,
        3.0,
        k,
    );
    let (m, se) = mean_se(&per_rep(&reps, |r| {
        dollars(r.years[0].shared_savings_paid) / 1e6
    }));
    eprintln!("(info) paid ($126M)            simulated {m:>14.2}M (s.e. {se:.2})");
    c.finish();
}

#[test]
#[ignore = "minutes in a debug build: cargo test -p simulator --release --test calibration -- --ignored"]
fn pioneer_2012_2013_meets_its_targets() {
    pioneer(200, 0.0);
}

#[test]
#[ignore = "minutes in a debug build: cargo test -p simulator --release --test calibration -- --ignored"]
fn mssp_2012_cohort_meets_its_targets() {
    mssp_2012(200, 0.0);
}

#[test]
fn pioneer_2012_2013_quick() {
    pioneer(6, 2.5);
}

#[test]
fn mssp_2012_cohort_quick() {
    mssp_2012(3, 2.5);
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

fn mssp_2018(replicates: u32, k: f64) {
    let s = Scenario::preset("mssp-2018").unwrap();
    let t = std::time::Instant::now();
    let reps = run(&s, SEED, 0..replicates, 2).unwrap();
    eprintln!("mssp-2018: {replicates} replicates in {:?}", t.elapsed());
    let rates = |r: &Replicate, lo: u64, hi: u64| -> Vec<f64> {
        r.acos
            .iter()
            .filter(|a| a.assigned >= lo && a.assigned < hi)
            .map(|a| a.savings_rate.to_f64().unwrap_or(f64::NAN))
            .collect()
    };
    let sd = |x: Vec<f64>| {
        let (m, _) = mean_se(&x);
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)).sqrt()
    };
    let all = |r: &Replicate| rates(r, 0, u64::MAX);
    let mut c = Check::new();
    c.rel(
        "savings rate mean",
        &per_rep(&reps, |r| mean_se(&all(r)).0),
        0.01566,
        0.10,
        k,
    );
    c.rel(
        "savings rate sd",
        &per_rep(&reps, |r| sd(all(r))),
        0.04360,
        0.10,
        k,
    );
    c.rel(
        "sd < 10k",
        &per_rep(&reps, |r| sd(rates(r, 0, 10_000))),
        0.05268,
        0.10,
        k,
    );
    c.rel(
        "sd 10-20k",
        &per_rep(&reps, |r| sd(rates(r, 10_000, 20_000))),
        0.03981,
        0.10,
        k,
    );
    c.rel(
        "sd > 20k",
        &per_rep(&reps, |r| sd(rates(r, 20_000, u64::MAX))),
        0.03171,
        0.10,
        k,
    );
    let n = |r: &Replicate| f64::from(r.years[0].acos_active);
    c.abs(
        "share below benchmark",
        &per_rep(&reps, |r| f64::from(r.years[0].acos_below_benchmark) / n(r)),
        0.6642,
        0.03,
        k,
    );
    let at_msr = |r: &Replicate| {
        r.acos
            .iter()
            .filter(|a| a.savings_rate > rust_decimal::Decimal::ZERO && a.savings_rate >= a.msr)
            .count() as f64
            / n(r)
    };
    c.abs(
        "share at or above MSR",
        &per_rep(&reps, at_msr),
        0.3741,
        0.03,
        k,
    );
    c.rel(
        "benchmark savings",
        &per_rep(&reps, |r| dollars(r.years[0].benchmark_savings)),
        1.7058e9,
        0.10,
        k,
    );
    c.rel(
        "shared savings paid",
        &per_rep(&reps, |r| dollars(r.years[0].shared_savings_paid)),
        0.98398e9,
        0.10,
        k,
    );
    c.rel(
        "shared losses owed",
        &per_rep(&reps, |r| dollars(r.years[0].shared_losses_collected)),
        17.585e6,
        0.10,
        k,
    );
    c.rel(
        "net, benchmark basis",
        &per_rep(&reps, |r| dollars(r.years[0].net_benchmark_basis())),
        0.73938e9,
        0.10,
        k,
    );
    c.finish();
}

#[test]
#[ignore = "minutes in a debug build: cargo test -p simulator --release --test calibration -- --ignored"]
fn mssp_2018_meets_its_targets() {
    mssp_2018(64, 0.0);
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
