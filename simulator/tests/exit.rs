//! The exit rule (MODEL.md 6.1): after each performance year an ACO whose spending was above its
//! benchmark leaves with probability `exit.p_above_benchmark`, any other with `exit.p_other`; an
//! ACO that left is not reconciled again.

use std::collections::BTreeSet;

use simulator::{Scenario, run};

fn pioneer(p_above: &str, p_other: &str) -> Scenario {
    Scenario::load("pioneer-2012-2013")
        .unwrap()
        .with_override("exit.p_above_benchmark", p_above)
        .unwrap()
        .with_override("exit.p_other", p_other)
        .unwrap()
}

/// (ACOs of PY1, ACOs above benchmark in PY1, ACOs that exited after PY1, ACOs of PY2), per replicate.
type Sets = (BTreeSet<u32>, BTreeSet<u32>, BTreeSet<u32>, BTreeSet<u32>);

fn sets(s: &Scenario) -> Vec<Sets> {
    run(s, 2012, 0..3, 2)
        .unwrap()
        .iter()
        .map(|r| {
            let of = |py: i32, keep: &dyn Fn(&simulator::results::AcoYear) -> bool| {
                r.acos
                    .iter()
                    .filter(|a| a.performance_year == py && keep(a))
                    .map(|a| a.aco)
                    .collect::<BTreeSet<u32>>()
            };
            let py1 = of(2012, &|_| true);
            let above = of(2012, &|a| a.spending > a.benchmark);
            let exited = of(2012, &|a| a.exited_after);
            let py2 = of(2013, &|_| true);
            assert_eq!(
                r.years[0].acos_exited as usize,
                exited.len(),
                "acos_exited counts the ACO rows that exited"
            );
            assert_eq!(r.years[1].acos_active as usize, py2.len());
            (py1, above, exited, py2)
        })
        .collect()
}

#[test]
fn acos_above_benchmark_leave_when_the_rule_says_so() {
    for (py1, above, exited, py2) in sets(&pioneer("1", "0")) {
        assert_eq!(py1.len(), 32);
        assert!(!above.is_empty(), "some ACOs spend above benchmark in PY1");
        assert_eq!(exited, above, "exactly the ACOs above benchmark leave");
        let stayed: BTreeSet<u32> = py1.difference(&exited).copied().collect();
        assert_eq!(py2, stayed, "PY2 reconciles exactly the ACOs that stayed");
    }
}

#[test]
fn the_other_acos_leave_with_p_other() {
    for (py1, above, exited, py2) in sets(&pioneer("0", "1")) {
        let below: BTreeSet<u32> = py1.difference(&above).copied().collect();
        assert_eq!(exited, below);
        assert_eq!(py2, above);
    }
}

#[test]
fn no_exit_keeps_every_aco_and_certain_exit_empties_the_second_year() {
    for (py1, _, exited, py2) in sets(&pioneer("0", "0")) {
        assert!(exited.is_empty());
        assert_eq!(py2, py1);
    }
    for (py1, _, exited, py2) in sets(&pioneer("1", "1")) {
        assert_eq!(exited, py1);
        assert!(py2.is_empty());
    }
}

/// Per replicate and year: (savings to Medicare, intent-to-treat savings).
fn itt(s: &Scenario) -> Vec<[(rust_decimal::Decimal, rust_decimal::Decimal); 2]> {
    run(s, 7, 0..4, 2)
        .unwrap()
        .iter()
        .map(|r| {
            std::array::from_fn(|j| {
                let t = &r.years[j];
                assert_eq!(
                    t.net_to_medicare_itt(),
                    t.savings_to_medicare_itt - t.shared_savings_paid + t.shared_losses_collected
                );
                (t.savings_to_medicare, t.savings_to_medicare_itt)
            })
        })
        .collect()
}

#[test]
fn intent_to_treat_counts_the_acos_that_left() {
    let with = |keep: &str| {
        pioneer("1", "0")
            .with_override("effect.mean", "0.05")
            .unwrap()
            .with_override("exit.itt_effect", keep)
            .unwrap()
    };
    let (full, half, none) = (itt(&with("1")), itt(&with("0.5")), itt(&with("0")));
    for ((f, h), n) in full.iter().zip(&half).zip(&none) {
        // PY1: nobody has left yet; the per-protocol figures do not depend on the ITT share.
        assert_eq!(f[0].0, f[0].1);
        assert_eq!((f[0], f[1].0), (n[0], n[1].0));
        assert_eq!(f[1].0, h[1].0);
        // PY2: with the effect gone at exit, ITT is the active ACOs' savings; kept, it adds the
        // exited ACOs' (positive: a 5% mean effect), and half of it adds half (to the cent per ACO).
        assert_eq!(n[1].1, n[1].0);
        let (added, half_added) = (f[1].1 - f[1].0, h[1].1 - h[1].0);
        assert!(added > rust_decimal::Decimal::ZERO, "{added}");
        assert!(
            (added / rust_decimal::Decimal::TWO - half_added).abs()
                <= rust_decimal::Decimal::new(32, 2)
        );
    }
    // No exits: ITT = per protocol.
    for y in itt(&pioneer("0", "0")) {
        assert_eq!(y[1].0, y[1].1);
    }
}
