//! Rebasing inside one scenario (`rules.rebase_start`, MODEL.md 5.5): the second agreement's
//! benchmark is built from the scenario's own simulated years (the first agreement's performance
//! years, at their settled spending), so an ACO's savings in its first agreement lower its next
//! benchmark (the ratchet).

use rust_decimal::Decimal;
use simulator::{Scenario, run};

mod common;

use common::REBASED;

fn scenario(text: &str) -> Result<Scenario, simulator::ScenarioError> {
    Scenario::from_toml(text, "rebased.toml")
}

#[test]
fn the_rebased_benchmark_carries_the_first_agreements_savings() {
    let s = scenario(REBASED).unwrap();
    let reps = run(&s, 11, 0..4, 2).unwrap();
    assert_eq!(
        reps,
        run(&s, 11, 0..4, 1).unwrap(),
        "thread count changes nothing"
    );
    let sum = |years: std::ops::Range<usize>,
               f: &dyn Fn(&simulator::results::YearTotals) -> Decimal| {
        reps.iter()
            .flat_map(|r| r.years[years.clone()].iter())
            .map(f)
            .sum::<Decimal>()
    };
    let (bench_1, bench_2) = (
        sum(0..3, &|t| t.benchmark_savings),
        sum(3..6, &|t| t.benchmark_savings),
    );
    let (true_1, true_2) = (
        sum(0..3, &|t| t.savings_to_medicare),
        sum(3..6, &|t| t.savings_to_medicare),
    );
    // A 5% effect every year: first agreement, the benchmark (from pre-ACO years) shows it;
    // rebased on 2013-2015, which already had the effect, it shows almost none.
    assert!(true_2 > true_1 * Decimal::new(8, 1), "{true_1} {true_2}");
    assert!(
        bench_1 > true_1 * Decimal::new(6, 1),
        "{bench_1} vs {true_1}"
    );
    assert!(
        bench_2.abs() < bench_1 * Decimal::new(3, 1),
        "{bench_2} vs {bench_1}"
    );
    // Every ACO is reconciled every year under its agreement's rules (Track 1, both agreements).
    for r in &reps {
        assert!(r.years.iter().all(|t| t.acos_active == 12));
    }
}

#[test]
fn a_bad_rebase_names_the_key() {
    for (from, to, says) in [
        (
            "rebase_start = \"2016-01-01\"",
            "rebase_start = \"2016-07-01\"",
            "January 1",
        ),
        (
            "rebase_start = \"2016-01-01\"",
            "rebase_start = \"2012-01-01\"",
            "after",
        ),
        (
            "rebase_start = \"2016-01-01\"",
            "rebase_start = \"2019-01-01\"",
            "no performance year",
        ),
    ] {
        let text = REBASED.replace(from, to);
        let e = scenario(&text).unwrap_err();
        assert_eq!(e.key, "rules.rebase_start", "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
    // Benchmark years of the rebased agreement that the scenario does not simulate.
    let text = REBASED.replace(
        "[2013, 2014, 2015, 2016, 2017, 2018]",
        "[2013, 2014, 2016, 2017]",
    );
    let e = scenario(&text).unwrap_err();
    assert_eq!(e.key, "rules.rebase_start", "{e}");
    assert!(e.to_string().contains("2015"), "{e}");
}
