//! Scenario files: presets load, overrides apply, and every bad file is refused with an error
//! that names the key and its line.

mod common;

use common::SMALL;
use simulator::{Scenario, ScenarioError};

fn err(text: &str) -> ScenarioError {
    match Scenario::from_toml(text, "bad.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// Line (1-based) of the first line of `text` containing `needle`.
fn line(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap()
}

#[test]
fn every_preset_loads() {
    let names: Vec<_> = Scenario::preset_names().collect();
    assert!(names.contains(&"pioneer-2012-2013"));
    assert!(names.contains(&"mssp-2012-cohort"));
    for n in names {
        let s = Scenario::preset(n).unwrap();
        assert_eq!(s.name, n);
        assert_eq!(Scenario::load(n).unwrap(), s);
    }
    Scenario::from_toml(SMALL, "small.toml").unwrap();
}

#[test]
fn unknown_preset_names_the_key() {
    let e = Scenario::preset("pioneer-2099").unwrap_err();
    assert_eq!(e.key, "scenario");
    assert!(e.message.contains("pioneer-2099"), "{e}");
    assert!(e.message.contains("pioneer-2012-2013"), "{e}");
    let e = Scenario::load("no-such-preset").unwrap_err();
    assert_eq!(e.key, "scenario");
}

#[test]
fn unknown_key_names_key_and_line() {
    let text = SMALL.replace("size_sigma = 0.3", "size_sigma = 0.3\nsize_sigmaa = 0.4");
    let e = err(&text);
    assert_eq!(e.line, Some(line(&text, "size_sigmaa")), "{e}");
    assert!(e.to_string().contains("size_sigmaa"), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("line {}", line(&text, "size_sigmaa"))),
        "{e}"
    );
}

#[test]
fn negative_size_names_key_and_line() {
    let text = SMALL.replace("acos = 8", "acos = -8");
    let e = err(&text);
    assert_eq!(e.line, Some(line(&text, "acos = -8")), "{e}");
    assert!(e.key.contains("acos"), "{e}");
    let text = SMALL.replace("size_median = 6000", "size_median = -6000");
    let e = err(&text);
    assert_eq!(e.key, "population.size_median");
    assert_eq!(e.line, Some(line(&text, "size_median")), "{e}");
}

/// Found by acorn-fuzz: a benchmark year of i32::MAX overflowed `b1 + 1` (a panic in debug builds).
#[test]
fn a_benchmark_year_at_the_integer_limit_is_refused_not_overflowed() {
    for years in [
        "[2147483647, 2011, 2012]",
        "[2147483646, 2147483647, 2147483647]",
        "[-2147483648, 2011, 2012]",
    ] {
        let text = SMALL.replace(
            "benchmark_years = [2010, 2011, 2012]",
            &format!("benchmark_years = {years}"),
        );
        let e = err(&text);
        assert!(
            e.message.contains("consecutive") || e.key.contains("benchmark_years"),
            "{years}: {e}"
        );
    }
}

#[test]
fn probability_outside_unit_interval() {
    let text = SMALL.replace("p_above_benchmark = 0.5", "p_above_benchmark = 1.5");
    let e = err(&text);
    assert_eq!(e.key, "exit.p_above_benchmark");
    assert_eq!(e.line, Some(line(&text, "p_above_benchmark")), "{e}");
    let text = SMALL.replace("[effect]", "[effect]\npi_hi = -0.1");
    let e = err(&text);
    assert_eq!(e.key, "effect.pi_hi");
    assert_eq!(e.line, Some(line(&text, "pi_hi")));
    // A distribution reaching outside [0, 1] is refused too.
    let text = SMALL.replace(
        "[effect]",
        "[effect]\npi_hi = { dist = \"uniform\", min = 0.5, max = 1.2 }",
    );
    assert_eq!(err(&text).key, "effect.pi_hi");
}

#[test]
fn unknown_track_and_rule_set() {
    let text = SMALL.replace("\"TRACK_1\"", "\"TRACK_9\"");
    let e = err(&text);
    assert_eq!(e.key, "rules.tracks[0]");
    assert_eq!(e.line, Some(line(&text, "TRACK_9")));
    assert!(e.message.contains("TRACK_BASIC_E"), "{e}");
    let text = SMALL.replace(
        "msr = \"variable\"",
        "msr = \"variable\"\nbenchmark_rule_set = \"mssp-1999\"",
    );
    let e = err(&text);
    assert_eq!(e.key, "rules.benchmark_rule_set");
    assert_eq!(e.line, Some(line(&text, "mssp-1999")));
    assert!(e.message.contains("mssp-2012-first"), "{e}");
    // A track the engine has no rule set for in that year.
    let text = SMALL.replace("\"TRACK_1\"", "\"TRACK_PIONEER\"");
    assert_eq!(err(&text).key, "rules.tracks[0]");
}

#[test]
fn overrides() {
    let s = Scenario::from_toml(SMALL, "small.toml").unwrap();
    let t = s.with_override("effect.mean", "0.04").unwrap();
    assert_ne!(s, t);
    assert_eq!(t.effect.mean.get(1), simulator::scenario::Num::Fixed(0.04));
    let t = s.with_override("effect.mean", "[0.01, 0.03]").unwrap();
    assert_eq!(t.effect.mean.get(1), simulator::scenario::Num::Fixed(0.03));
    let t = t.with_override("effect.mean.0", "0.0").unwrap();
    assert_eq!(t.effect.mean.get(0), simulator::scenario::Num::Fixed(0.0));
    let t = s.with_override("gap.dist", "exponential").unwrap();
    assert_eq!(t.gap.dist, simulator::scenario::GapDist::Exponential);
    let t = s
        .with_override(
            "effect.sigma",
            "{ dist = \"uniform\", min = 0.0, max = 0.02 }",
        )
        .unwrap();
    assert!(matches!(t.effect.sigma, simulator::scenario::Num::Dist(_)));
    let e = s.with_override("effect.meen", "0.02").unwrap_err();
    assert_eq!(e.origin, "--set");
    assert!(e.message.contains("meen"), "{e}");
    let e = s.with_override("exit.p_other", "2").unwrap_err();
    assert_eq!(e.key, "exit.p_other");
}

#[test]
fn every_key_in_the_model_reference_is_accepted() {
    // The key table of MODEL.md section 10 is tested against the code: setting any key it lists
    // to a value of the wrong type must fail on the value, never as an unknown key.
    let doc = include_str!("../MODEL.md");
    let start = doc.find("## 10.").unwrap();
    let end = doc[start..].find("## 11.").unwrap() + start;
    let s = Scenario::from_toml(SMALL, "small.toml").unwrap();
    // The probe does tell an unknown key.
    let e = s
        .with_override("effect.bogus", "\"__probe__\"")
        .unwrap_err();
    assert!(e.message.contains("unknown field `bogus`"), "{e}");
    let mut checked = 0;
    for line in doc[start..end].lines().filter(|l| l.starts_with("| `")) {
        let cell = line.split('|').nth(1).unwrap();
        let keys: Vec<&str> = cell.split('`').skip(1).step_by(2).collect();
        let prefix = keys[0].rsplit_once('.').map(|(p, _)| p);
        for k in keys {
            // Later keys of a cell may omit the section: `beneficiary.rho`, `death_rate`.
            let full = match (k.contains('.'), prefix) {
                (false, Some(p)) => format!("{p}.{k}"),
                _ => k.to_string(),
            };
            let last = full.rsplit('.').next().unwrap();
            if let Err(e) = s.with_override(&full, "\"__probe__\"") {
                assert!(
                    !e.message.contains(&format!("unknown field `{last}`")),
                    "{full}: {e}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");
}

#[test]
fn a_scenario_changed_after_loading_is_checked_again() {
    let mut s = Scenario::from_toml(SMALL, "small.toml").unwrap();
    s.performance_years.clear();
    let e = simulator::simulate(&s, 1, 0).unwrap_err();
    assert!(e.to_string().contains("performance_years"), "{e}");
    let mut s = Scenario::from_toml(SMALL, "small.toml").unwrap();
    s.population.acos = 0;
    assert!(simulator::simulate(&s, 1, 0).is_err());
    assert!(simulator::run(&s, 1, 0..3, 2).is_err());
}
