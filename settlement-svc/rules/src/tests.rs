//! Worked-number tests of the settlement rules, each citing the paragraph it pins.

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::*;

fn input(
    track: Track,
    start: Date,
    py: i32,
    n: u64,
    ub: Decimal,
    exp: Decimal,
) -> SettlementInput<'static> {
    SettlementInput::new(track, start, py, n, ub, exp)
}

fn score(q: Decimal) -> Quality {
    Quality {
        standard: None,
        score: Some(q),
    }
}

fn standard(s: QualityStandard, q: Option<Decimal>) -> Quality {
    Quality {
        standard: Some(s),
        score: q,
    }
}

fn run(i: &SettlementInput<'_>) -> Settlement {
    reconcile(i, &mut NoTrace).expect("reconciles")
}

const S2012: Date = Date::constant(2012, 7, 1);
const S2016: Date = Date::constant(2016, 1, 1);
const S2019: Date = Date::constant(2019, 7, 1);
const S2024: Date = Date::constant(2024, 1, 1);

/// PY2014 Track 1, CMS PUF row A67373: 32,173,449 gross savings x 0.5 x 0.916964286 x (1 - 2%)
/// = 14,455,932.81 (published EarnSaveLoss 14,455,933). 425.604(c)-(e).
#[test]
fn track_1_pays_quality_scaled_first_dollar_savings_less_sequestration() {
    let mut i = input(
        Track::Track1,
        S2012,
        2014,
        34_601,
        dec!(450902466),
        dec!(418729017),
    );
    i.quality = score(dec!(0.916964286));
    let s = run(&i);
    assert_eq!(s.outcome, Outcome::SharedSavings);
    assert_eq!(s.msr.round_dp(11), dec!(0.02353985133));
    assert_eq!(s.final_sharing_rate, dec!(0.458482143));
    assert_eq!(s.shared_savings, dec!(14455932.81));
    assert_eq!(s.mlr, None);
}

/// PY2018 Track 1, A1409: 37,681,081 x 0.45405 x 0.98 = 16,766,912.93 exceeds the 10% payment limit,
/// 12,118,222.50 (published 12,118,223). The limit applies after sequestration. 425.604(e)(2).
#[test]
fn track_1_payment_limit_applies_after_sequestration() {
    let mut i = input(
        Track::Track1,
        S2016,
        2018,
        5_451,
        dec!(121182225),
        dec!(83501144),
    );
    i.quality = score(dec!(0.9081));
    let s = run(&i);
    assert_eq!(s.payment_limit, dec!(12118222.5));
    assert_eq!(s.shared_savings, dec!(12118222.50));
}

/// The savings test is inclusive: a savings rate exactly equal to the MSR qualifies (425.604(c)
/// "meet or exceed"); one cent less does not.
#[test]
fn msr_threshold_is_inclusive() {
    let mut i = input(
        Track::Track1,
        S2016,
        2017,
        60_000,
        dec!(100000000),
        dec!(98000000),
    );
    i.quality = score(Decimal::ONE);
    let s = run(&i);
    assert_eq!((s.savings_rate, s.msr), (dec!(0.02), dec!(0.02)));
    assert_eq!(s.shared_savings, dec!(980000.00)); // 2,000,000 x 50% x 98%
    i.experience = Experience::Totals {
        benchmark: dec!(100000000),
        expenditures: dec!(98000000.01),
    };
    assert_eq!(run(&i).outcome, Outcome::WithinCorridor);
}

/// One-sided tracks never share losses.
#[test]
fn one_sided_losses_are_not_shared() {
    let mut i = input(
        Track::Track1,
        S2016,
        2017,
        20_000,
        dec!(100000000),
        dec!(130000000),
    );
    i.quality = score(Decimal::ONE);
    let s = run(&i);
    assert_eq!(
        (s.outcome, s.net_amount()),
        (Outcome::WithinCorridor, Decimal::ZERO)
    );
}

/// Track 2 (agreements 2012-2015): MSR = MLR = 2% fixed (425.606(b)(1)(i)); loss rate = 1 - final
/// sharing rate (0.6 x 0.9 = 0.54 -> 0.46, 425.606(f)); loss limit 5% / 7.5% / 10% of the updated
/// benchmark in agreement years 1 / 2 / 3 (425.606(g)). Losses 20,000,000 x 0.46 = 9,200,000.
#[test]
fn track_2_loss_rate_and_limits_by_agreement_year() {
    let mut i = input(
        Track::Track2,
        Date::constant(2013, 1, 1),
        2013,
        20_000,
        dec!(100000000),
        dec!(120000000),
    );
    i.quality = score(dec!(0.9));
    for (py, owed) in [
        (2013, dec!(5000000)),
        (2014, dec!(7500000)),
        (2015, dec!(9200000)),
    ] {
        i.performance_year = py;
        let s = run(&i);
        assert_eq!((s.msr, s.mlr), (dec!(0.02), Some(dec!(0.02))));
        assert_eq!(s.loss_rate, Some(dec!(0.46)));
        assert_eq!(
            (s.outcome, s.shared_losses),
            (Outcome::SharedLosses, owed),
            "PY{py}"
        );
        assert_eq!(s.net_amount(), -owed);
    }
    // The 2012 starters' first performance year ended in 2013 (425.200(c)): 2013 is agreement year 1.
    i.agreement_start = S2012;
    i.performance_year = 2013;
    assert_eq!(run(&i).loss_limit, Some(dec!(5000000)));
}

/// Track 2 loss rate bounds: quality 1.0 -> 1 - 0.6 = 40%; quality 0.3 -> 1 - 0.18 = 82%, capped at
/// 60% (425.606(f)). Savings: 60% x quality, 15% payment limit (425.606(d)-(e)).
#[test]
fn track_2_loss_rate_bounds_and_savings_cap() {
    let mut i = input(
        Track::Track2,
        S2016,
        2017,
        20_000,
        dec!(100000000),
        dec!(105000000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.01));
    i.quality = score(Decimal::ONE);
    assert_eq!(run(&i).loss_rate, Some(dec!(0.40)));
    assert_eq!(run(&i).shared_losses, dec!(2000000.00));
    i.quality = score(dec!(0.3));
    assert_eq!(run(&i).loss_rate, Some(dec!(0.60)));
    i.quality = score(Decimal::ONE);
    i.experience = Experience::Totals {
        benchmark: dec!(100000000),
        expenditures: dec!(70000000),
    };
    let s = run(&i);
    // 30,000,000 x 60% x 98% = 17,640,000 > 15% x 100,000,000.
    assert_eq!(
        (s.shared_savings, s.payment_limit),
        (dec!(15000000.00), dec!(15000000))
    );
}

/// Track 3, CMS PUF row A1215 (PY2018): losses 15,259,668; final sharing rate 0.75 x 0.8884 = 0.6663,
/// so 1 - 0.6663 = 0.3337 is raised to the 40% floor (425.610(f)); 6,103,867.20, less the published
/// extreme and uncontrollable reduction of 2,655 (425.610(i)) = 6,101,212.20 (published -6,101,212).
#[test]
fn track_3_loss_floor_and_extreme_uncontrollable_amount() {
    let mut i = input(
        Track::Track3,
        S2016,
        2018,
        72_033,
        dec!(797237607),
        dec!(812497275),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.005));
    i.quality = score(dec!(0.8884));
    i.extreme_uncontrollable = ExtremeUncontrollable::Amount(dec!(2655));
    let s = run(&i);
    assert_eq!(s.loss_rate, Some(dec!(0.40)));
    assert_eq!(s.loss_limit, Some(dec!(119585641.05)));
    assert_eq!(s.shared_losses, dec!(6101212.20));
    assert_eq!(s.net_amount(), dec!(-6101212.20));
}

/// Track 3 / ENHANCED: 75% x quality, 20% payment limit, 15% loss limit (425.610(d), (e), (g)).
#[test]
fn track_3_sharing_cap_and_loss_limit() {
    let mut i = input(
        Track::Track3,
        S2016,
        2017,
        30_000,
        dec!(100000000),
        dec!(80000000),
    );
    i.msr_option = MsrOption::Variable;
    i.quality = score(dec!(0.5));
    let s = run(&i);
    // 20,000,000 x 0.375 x 0.98 = 7,350,000 (limit 20,000,000).
    assert_eq!(
        (s.final_sharing_rate, s.shared_savings),
        (dec!(0.375), dec!(7350000.00))
    );
    i.experience = Experience::Totals {
        benchmark: dec!(100000000),
        expenditures: dec!(140000000),
    };
    let s = run(&i);
    // 1 - 0.375 = 0.625 x 40,000,000 = 25,000,000 > 15% limit.
    assert_eq!(
        (s.loss_rate, s.shared_losses),
        (Some(dec!(0.625)), dec!(15000000.00))
    );
}

/// ENHANCED PY2021: meeting the standard gives the full 75%; failing it gives no savings and the 75%
/// loss rate (425.512(a)(1), 425.610(d)(2), (f)(2)). Met: loss rate = 1 - 0.75 x 0.8 = 40%.
#[test]
fn enhanced_2021_standard_gates_sharing() {
    let mut i = input(
        Track::Enhanced,
        S2019,
        2021,
        30_000,
        dec!(100000000),
        dec!(90000000),
    );
    i.msr_option = MsrOption::Fixed(Decimal::ZERO);
    i.quality = standard(QualityStandard::Met, Some(dec!(0.8)));
    let s = run(&i);
    assert_eq!(
        (s.final_sharing_rate, s.shared_savings),
        (dec!(0.75), dec!(7350000.00))
    );
    assert_eq!(s.loss_rate, Some(dec!(0.40)));
    i.quality = standard(QualityStandard::NotMet, None);
    let s = run(&i);
    assert_eq!(
        (s.outcome, s.shared_savings),
        (Outcome::QualityNotMet, Decimal::ZERO)
    );
    assert_eq!(s.loss_rate, Some(dec!(0.75)));
}

/// BASIC Level A PY2023 sliding scale: alternative standard -> 40% x health-equity adjusted score 0.8
/// = 32% (425.605(d)(1)(i)(A)(3)); PY2019 payments are not sequestered: 10,000,000 x 32%, x 6/12.
#[test]
fn basic_a_sliding_scale_and_no_sequestration_in_2019() {
    let mut i = input(
        Track::BasicA,
        S2019,
        2023,
        30_000,
        dec!(100000000),
        dec!(90000000),
    );
    i.quality = standard(QualityStandard::AlternativeMet, Some(dec!(0.8)));
    let s = run(&i);
    assert_eq!(s.final_sharing_rate, dec!(0.32));
    assert_eq!(s.shared_savings, dec!(3136000.00)); // x 98%
    // PY2019, the 6-month first year of a 2019-07-01 agreement (425.200(c)(3)): 10,000,000 x 32%
    // = 3,200,000, pro-rated x 6/12 (425.609(c)).
    i.performance_year = 2019;
    i.quality = score(dec!(0.8));
    assert_eq!(run(&i).shared_savings, dec!(1600000.00));
}

/// BASIC C-E loss limits: min(revenue share x participant revenue, benchmark share x benchmark)
/// (425.605(d)(1)(iii)(D)-(v)(D)); fixed 30% loss rate. Losses 10,000,000 x 30% = 3,000,000.
#[test]
fn basic_two_sided_revenue_capped_loss_limits() {
    let cases = [
        (Track::BasicC, dec!(20000000), dec!(400000)), // 2% x 20M < 1% x 100M
        (Track::BasicC, dec!(500000000), dec!(1000000)), // 1% x 100M < 2% x 500M
        (Track::BasicD, dec!(20000000), dec!(800000)), // 4% x 20M
        (Track::BasicE, dec!(20000000), dec!(1600000)), // 8% x 20M
        (Track::BasicE, dec!(200000000), dec!(3000000)), // 8% x 200M = 16M, 4% x 100M = 4M; 3M owed
    ];
    for (track, revenue, owed) in cases {
        let mut i = input(track, S2019, 2021, 30_000, dec!(100000000), dec!(110000000));
        i.msr_option = MsrOption::Fixed(dec!(0.02));
        i.quality = standard(QualityStandard::Met, Some(Decimal::ONE));
        i.participant_revenue = Some(revenue);
        let s = run(&i);
        assert_eq!(
            (s.loss_rate, s.shared_losses),
            (Some(dec!(0.30)), owed),
            "{track:?} {revenue}"
        );
    }
    let mut i = input(
        Track::BasicC,
        S2019,
        2021,
        30_000,
        dec!(100000000),
        dec!(110000000),
    );
    i.msr_option = MsrOption::Variable;
    i.quality = standard(QualityStandard::Met, None);
    assert_eq!(
        reconcile(&i, &mut NoTrace),
        Err(SettlementError::RevenueRequired {
            track: "TRACK_BASIC_C"
        })
    );
}

/// Track 1+: 50% sharing, fixed 30% loss rate; loss limit 8% of revenue capped at 4% of the benchmark,
/// or 4% of the benchmark without revenue [R].
#[test]
fn track_1_plus_losses() {
    let mut i = input(
        Track::Track1Plus,
        S2016,
        2018,
        30_000,
        dec!(100000000),
        dec!(120000000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.01));
    i.quality = score(Decimal::ONE);
    assert_eq!(run(&i).shared_losses, dec!(4000000.00)); // 30% x 20M = 6M, limit 4M
    i.participant_revenue = Some(dec!(10000000));
    assert_eq!(run(&i).shared_losses, dec!(800000.00));
}

/// Extreme and uncontrollable circumstances: after the limit, losses x month share x beneficiary share
/// (425.606(i)): 2,000,000 x (1 - 0.5 x 0.4) = 1,600,000.
#[test]
fn extreme_uncontrollable_shares() {
    let mut i = input(
        Track::Track3,
        S2016,
        2018,
        30_000,
        dec!(100000000),
        dec!(105000000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.02));
    i.quality = score(Decimal::ONE);
    i.extreme_uncontrollable = ExtremeUncontrollable::Shares {
        months: dec!(0.5),
        beneficiaries: dec!(0.4),
    };
    assert_eq!(run(&i).shared_losses, dec!(1600000.00));
}

/// Pioneer core arrangement: PY1 60% / 10% limit, PY2 70% / 15% [S].
#[test]
fn pioneer_core_arrangement() {
    let mut i = input(
        Track::Pioneer,
        Date::constant(2012, 1, 1),
        2012,
        20_000,
        dec!(100000000),
        dec!(95000000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.01));
    i.quality = score(Decimal::ONE);
    assert_eq!(run(&i).shared_savings, dec!(2940000.00)); // 5M x 60% x 98%
    i.experience = Experience::Totals {
        benchmark: dec!(100000000),
        expenditures: dec!(80000000),
    };
    assert_eq!(run(&i).shared_savings, dec!(10000000.00)); // 11.76M capped at 10%
    i.performance_year = 2013;
    assert_eq!(run(&i).shared_savings, dec!(13720000.00)); // 20M x 70% x 98% < 15M
    i.experience = Experience::Totals {
        benchmark: dec!(100000000),
        expenditures: dec!(105000000),
    };
    assert_eq!(run(&i).shared_losses, dec!(3500000.00)); // 5M x 70%
    i.msr_option = MsrOption::Variable;
    assert_eq!(
        reconcile(&i, &mut NoTrace),
        Err(SettlementError::MsrOptionRequired {
            track: "TRACK_PIONEER"
        })
    );
}

/// Agreements starting 2024+: losses re-measured against the two-way blend benchmark when that
/// shrinks the overage (425.652(b)(5)); expenditures under it owe nothing.
#[test]
fn two_way_blend_recalculation() {
    let mut i = input(
        Track::Enhanced,
        S2024,
        2024,
        30_000,
        dec!(100000000),
        dec!(106000000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.02));
    i.quality = standard(QualityStandard::Met, Some(Decimal::ONE));
    assert_eq!(run(&i).shared_losses, dec!(2400000.00)); // 6M x 40%
    i.two_way_blend_benchmark = Some(dec!(102000000));
    let s = run(&i);
    // 4M over 102M = 3.92% still meets the 2% MLR: 4M x 40%.
    assert_eq!(
        (s.updated_benchmark, s.shared_losses),
        (dec!(102000000), dec!(1600000.00))
    );
    i.two_way_blend_benchmark = Some(dec!(104500000));
    // 1.5M over 104.5M = 1.44% is inside the corridor once re-measured.
    assert_eq!(run(&i).outcome, Outcome::WithinCorridor);
    i.two_way_blend_benchmark = Some(dec!(107000000));
    let s = run(&i);
    assert_eq!(
        (s.outcome, s.net_amount()),
        (Outcome::WithinCorridor, Decimal::ZERO)
    );
}

/// BASIC low revenue ACO below the MSR (agreements 2024+): half the sharing rate (425.605(h)).
#[test]
fn basic_low_revenue_below_msr() {
    let mut i = input(
        Track::BasicB,
        S2024,
        2025,
        6_000,
        dec!(100000000),
        dec!(99000000),
    );
    i.quality = standard(QualityStandard::Met, None);
    assert_eq!(run(&i).outcome, Outcome::WithinCorridor); // 1% < 3.6%
    i.low_revenue = true;
    // 1,000,000 x 20% x 98% = 196,000.
    assert_eq!(run(&i).shared_savings, dec!(196000.00));
}

/// 6-month 2019 performance years: reconciled on all of 2019, then pro-rated to the months of
/// participation (425.609(b)): 10,000,000 x 50% (no sequestration of PY2019 payments) = 5,000,000,
/// x 6/12 = 2,500,000; a Track 2 loss of 4,000,000 x 40% = 1,600,000, x 6/12 = 800,000. The 2016
/// starters' PY2019 is 6 months by the term (425.200(c)(2)), so 6 is the default; a stated
/// participation_months overrides it.
#[test]
fn six_month_2019_performance_year_is_pro_rated() {
    let mut i = input(
        Track::Track1,
        S2016,
        2019,
        60_000,
        dec!(100000000),
        dec!(90000000),
    );
    i.quality = score(Decimal::ONE);
    assert_eq!(run(&i).shared_savings, dec!(2500000.00));
    i.participation_months = Some(12);
    assert_eq!(run(&i).shared_savings, dec!(5000000.00));
    i.participation_months = Some(6);
    assert_eq!(run(&i).shared_savings, dec!(2500000.00));
    // The 2019-07-01 starters' first performance year is 6 months too (425.200(c)(3), 425.609(c)).
    let mut b = input(
        Track::BasicA,
        S2019,
        2019,
        60_000,
        dec!(100000000),
        dec!(90000000),
    );
    b.quality = score(Decimal::ONE);
    assert_eq!(run(&b).shared_savings, dec!(2000000.00)); // 10M x 40% x 6/12
    let mut t = input(
        Track::Track2,
        S2016,
        2019,
        60_000,
        dec!(100000000),
        dec!(104000000),
    );
    t.msr_option = MsrOption::Fixed(dec!(0.02));
    t.quality = score(Decimal::ONE);
    t.participation_months = Some(6);
    assert_eq!(run(&t).net_amount(), dec!(-800000.00));
}

#[test]
fn clear_errors() {
    let mut i = input(Track::Track1, S2016, 2017, 4_999, dec!(100), dec!(90));
    i.quality = score(Decimal::ONE);
    let regulation = MsrSchedule::regulation();
    i.msr_schedule = Some(&regulation);
    assert_eq!(
        reconcile(&i, &mut NoTrace),
        Err(SettlementError::MsrUndefined {
            n: 4_999,
            min: 5_000
        })
    );
    i.msr_schedule = None;
    assert!(reconcile(&i, &mut NoTrace).is_ok());
    i.msr_option = MsrOption::Fixed(dec!(0.01));
    assert_eq!(
        reconcile(&i, &mut NoTrace),
        Err(SettlementError::MsrOptionNotOffered { track: "TRACK_1" })
    );
    let mut t = input(Track::Track3, S2016, 2017, 10_000, dec!(100), dec!(90));
    t.quality = score(Decimal::ONE);
    assert_eq!(
        reconcile(&t, &mut NoTrace),
        Err(SettlementError::MsrOptionRequired { track: "TRACK_3" })
    );
    t.msr_option = MsrOption::Fixed(dec!(0.03));
    assert_eq!(
        reconcile(&t, &mut NoTrace),
        Err(SettlementError::MsrOptionNotOffered { track: "TRACK_3" })
    );
    let mut e = input(Track::Enhanced, S2019, 2021, 10_000, dec!(100), dec!(90));
    e.msr_option = MsrOption::Variable;
    assert_eq!(
        reconcile(&e, &mut NoTrace),
        Err(SettlementError::Quality(
            quality::QualityError::StandardRequired(2021)
        ))
    );
    let z = input(Track::Track1, S2016, 2017, 10_000, Decimal::ZERO, dec!(90));
    assert_eq!(
        reconcile(&z, &mut NoTrace),
        Err(SettlementError::ZeroBenchmark)
    );
}

/// Per enrollment type: totals are per capita x person-years (425.604(a)(6)).
#[test]
fn totals_from_enrollment_types() {
    let row = |py, b, e| {
        Some(EnrollmentExperience {
            person_years: py,
            benchmark_per_capita: b,
            expenditures_per_capita: e,
        })
    };
    let mut i = input(
        Track::Track1,
        S2016,
        2017,
        10_000,
        Decimal::ZERO,
        Decimal::ZERO,
    );
    i.experience = Experience::ByEnrollmentType([
        row(dec!(100), dec!(90000), dec!(85000)),
        row(dec!(900.5), dec!(12000), dec!(11000)),
        None,
        row(dec!(9000), dec!(10000), dec!(9500)),
    ]);
    i.quality = score(Decimal::ONE);
    let mut trace = Vec::new();
    let s = reconcile(&i, &mut trace).expect("reconciles");
    // 9,000,000 + 10,806,000 + 90,000,000 = 109,806,000; 8,500,000 + 9,905,500 + 85,500,000.
    assert_eq!(
        (s.updated_benchmark, s.expenditures),
        (dec!(109806000.0), dec!(103905500.0))
    );
    assert!(trace.iter().any(|st| st.rule == "settlement.totals"));
}

/// The explanation names every step with a citation, in order.
#[test]
fn explanation_cites_every_step() {
    let mut i = input(
        Track::Track1,
        S2012,
        2014,
        34_601,
        dec!(450902466),
        dec!(418729017),
    );
    i.quality = score(dec!(0.916964286));
    let mut trace = Vec::new();
    let s = reconcile(&i, &mut trace).expect("reconciles");
    let rules: Vec<&str> = trace.iter().map(|st| st.rule).collect();
    assert_eq!(
        rules,
        [
            "settlement.rule_set",
            "settlement.agreement_term",
            "settlement.minimum_savings_rate",
            "settlement.savings_rate",
            "settlement.final_sharing_rate",
            "settlement.shared_savings",
            "settlement.sequestration",
            "settlement.payment_limit",
            "settlement.rounding",
        ]
    );
    assert!(trace.iter().all(|st| !st.citation.is_empty()));
    assert_eq!(
        trace.last().map(|st| st.output.clone()),
        Some(s.net_amount().to_string())
    );
    assert_eq!(reconcile(&i, &mut NoTrace), Ok(s));
}

/// Pioneer PY2013 is the model's second year (its years ran January-December from 2012, not MSSP's
/// 425.200(c)(1) 21/18-month first year): a loss of 25% x 70% = 17,500,000 is limited to the PY2 15%
/// of the benchmark, 15,000,000 (the PY1 10% would give 10,000,000) [S mssp-rules.md section 5].
#[test]
fn pioneer_py2013_loss_beyond_10_percent_uses_the_py2_limit() {
    let mut i = input(
        Track::Pioneer,
        Date::constant(2012, 1, 1),
        2013,
        20_000,
        dec!(100000000),
        dec!(125000000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.01));
    i.quality = score(Decimal::ONE);
    let s = run(&i);
    assert_eq!(s.loss_limit, Some(dec!(15000000)));
    assert_eq!(
        (s.outcome, s.shared_losses),
        (Outcome::SharedLosses, dec!(15000000.00))
    );
    i.performance_year = 2012;
    assert_eq!(run(&i).shared_losses, dec!(10000000.00)); // 25M x 60% = 15M, PY1 limit 10%
}

/// A Pioneer ACO's own arrangement: Genesys PHO owed 50% of its 2012 loss, not the core 60%
/// [S AJMC, mssp-rules.md section 5]. Loss 5,100,000 on 175,000,000 (2.914%): x 50% = 2,550,000.
/// An MLR of 3% distinct from the 1% MSR puts the same loss inside the corridor; a 50% sharing rate
/// pays 5,000,000 x 50% x 98% = 2,450,000 of savings.
#[test]
fn pioneer_arrangement_rates() {
    let mut i = input(
        Track::Pioneer,
        Date::constant(2012, 1, 1),
        2012,
        15_000,
        dec!(175000000),
        dec!(180100000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.01));
    i.quality = score(Decimal::ONE);
    assert_eq!(run(&i).shared_losses, dec!(3060000.00)); // core: 60%
    i.pioneer.shared_loss_rate = Some(dec!(0.5));
    let s = run(&i);
    assert_eq!(
        (s.loss_rate, s.shared_losses),
        (Some(dec!(0.5)), dec!(2550000.00))
    );
    i.pioneer.minimum_loss_rate = Some(dec!(0.03));
    let s = run(&i);
    assert_eq!((s.msr, s.mlr), (dec!(0.01), Some(dec!(0.03))));
    assert_eq!(
        (s.outcome, s.shared_losses),
        (Outcome::WithinCorridor, Decimal::ZERO)
    );
    i.pioneer.sharing_rate = Some(dec!(0.5));
    i.experience = Experience::Totals {
        benchmark: dec!(175000000),
        expenditures: dec!(170000000),
    };
    let s = run(&i);
    assert_eq!(
        (s.final_sharing_rate, s.shared_savings),
        (dec!(0.5), dec!(2450000.00))
    );
    // Out of [0, 1], or on another track: refused, naming the field.
    i.pioneer.sharing_rate = Some(dec!(1.5));
    assert_eq!(
        reconcile(&i, &mut NoTrace),
        Err(SettlementError::OutOfRange(Input::PioneerSharingRate))
    );
    let mut t = input(Track::Track1, S2016, 2017, 10_000, dec!(100), dec!(90));
    t.quality = score(Decimal::ONE);
    t.pioneer.shared_loss_rate = Some(dec!(0.5));
    assert_eq!(
        reconcile(&t, &mut NoTrace),
        Err(SettlementError::PioneerTermsNotApplicable { track: "TRACK_1" })
    );
}

/// Track 1+ in PY2021 (2018-01-01 agreement extended through 2021, 425.200(b)(3)(ii)(B)): losses
/// 20,000,000 x 30% = 6,000,000, limited to 4% of the benchmark [R]. Track 1 from 2016 in PY2020 is
/// refused: its term (with the 6-month 2019 extension) ended 2019-06-30.
#[test]
fn track_1_plus_in_2021_and_ended_terms() {
    let mut i = input(
        Track::Track1Plus,
        Date::constant(2018, 1, 1),
        2021,
        30_000,
        dec!(100000000),
        dec!(120000000),
    );
    i.msr_option = MsrOption::Fixed(dec!(0.01));
    i.quality = standard(QualityStandard::Met, None);
    assert_eq!(run(&i).shared_losses, dec!(4000000.00));
    i.agreement_start = Date::constant(2019, 1, 1);
    assert_eq!(run(&i).shared_losses, dec!(4000000.00));
    let t = input(Track::Track1, S2016, 2020, 30_000, dec!(100), dec!(90));
    assert!(matches!(
        reconcile(&t, &mut NoTrace),
        Err(SettlementError::RuleSet(
            rules::SelectError::PerformanceYearOutOfRange { last: 2019, .. }
        ))
    ));
}

/// Below 5,000 assigned beneficiaries the variable MSR defaults to CMS's published scale [S Tuva
/// cms_mssp_connector seeds/mssp_msr_lookup.csv], for one-sided tracks (425.604(b) starts at 5,000;
/// 425.605(b)(1)) and two-sided variable options alike. CMS's published MinSavPerc: PY2018 Track 1
/// A2507, 605 -> 11.4635271%; Track 3 A2011, 4,324 -> 4.2714357%; PY2022 BASIC B A1737, 2,434 ->
/// 6.05%. A supplied schedule still overrides it.
#[test]
fn msr_below_5000_defaults_to_cms_published_scale() {
    let cases = [
        (
            Track::Track1,
            S2016,
            2018,
            MsrOption::Default,
            605,
            dec!(0.114635271),
        ),
        (
            Track::Track3,
            Date::constant(2017, 1, 1),
            2018,
            MsrOption::Variable,
            4_324,
            dec!(0.042714357),
        ),
        (
            Track::BasicB,
            S2019,
            2022,
            MsrOption::Default,
            2_434,
            dec!(0.0605),
        ),
        (
            Track::BasicA,
            S2019,
            2020,
            MsrOption::Default,
            4_999,
            dec!(0.039),
        ),
    ];
    for (track, start, py, option, n, published) in cases {
        let mut i = input(track, start, py, n, dec!(100000000), dec!(99000000));
        i.msr_option = option;
        i.quality = if py >= 2021 {
            standard(QualityStandard::Met, None)
        } else {
            score(Decimal::ONE)
        };
        let mut trace = Vec::new();
        let s = reconcile(&i, &mut trace).expect("reconciles");
        assert_eq!(
            s.msr.round_dp(published.scale()),
            published,
            "{track:?} {n}"
        );
        let msr_step = trace
            .iter()
            .find(|st| st.rule == "settlement.minimum_savings_rate")
            .expect("msr step");
        assert_eq!(msr_step.citation, msr::SMALL_ACO_SOURCE);
        let flat = MsrSchedule::new(vec![MsrBand {
            min: 0,
            max: u64::MAX,
            rate_at_min: dec!(0.05),
            rate_at_max: dec!(0.05),
        }])
        .expect("valid");
        i.msr_schedule = Some(&flat);
        assert_eq!(run(&i).msr, dec!(0.05));
    }
}

/// Section 5 of the conformance issue: a tiny benchmark made `gross / benchmark` panic ("Division
/// overflowed"). Now the step is checked and names the input.
#[test]
fn tiny_benchmarks_are_refused_not_panicked_on() {
    let tiny = Decimal::new(1, 28);
    for (ub, exp) in [
        (tiny, dec!(10)),
        (dec!(0.01), dec!(1000000000000000000000000000)),
        (tiny, Decimal::MAX),
    ] {
        let mut i = input(Track::Track1, S2016, 2017, 10_000, ub, exp);
        i.quality = score(Decimal::ONE);
        assert_eq!(
            reconcile(&i, &mut NoTrace),
            Err(SettlementError::Overflow {
                step: "the savings rate (updated benchmark - expenditures) / updated benchmark",
                input: Input::Benchmark,
            }),
            "{ub} {exp}"
        );
    }
    // The largest benchmark with no expenditures is representable: 10% of it is paid.
    let mut i = input(
        Track::Track1,
        S2016,
        2017,
        10_000,
        Decimal::MAX,
        Decimal::ZERO,
    );
    i.quality = score(Decimal::ONE);
    let s = run(&i);
    assert_eq!(s.shared_savings, round_money(Decimal::MAX * dec!(0.1)));
}

fn money() -> impl Strategy<Value = Decimal> {
    (0i64..200_000_000_000).prop_map(|cents| Decimal::new(cents, 2))
}

fn any_track() -> impl Strategy<Value = (Track, Date, i32)> {
    prop_oneof![
        Just((Track::Track1, S2016, 2017)),
        Just((Track::Track2, S2016, 2017)),
        Just((Track::Track3, S2016, 2018)),
        Just((Track::Track1Plus, S2016, 2018)),
        Just((Track::BasicA, S2019, 2020)),
        Just((Track::BasicC, S2019, 2020)),
        Just((Track::BasicE, S2019, 2022)),
        Just((Track::Enhanced, S2019, 2023)),
        Just((Track::Pioneer, Date::constant(2012, 1, 1), 2013)),
    ]
}

fn prop_input(
    (track, start, py): (Track, Date, i32),
    n: u64,
    ub: Decimal,
    exp: Decimal,
    q: Decimal,
) -> SettlementInput<'static> {
    let mut i = input(track, start, py, n, ub, exp);
    i.quality = if py >= 2021 {
        standard(QualityStandard::Met, Some(q))
    } else {
        score(q)
    };
    i.msr_option = match track {
        Track::Track1 | Track::BasicA => MsrOption::Default,
        _ => MsrOption::Fixed(dec!(0.01)),
    };
    i.participant_revenue = Some(ub / dec!(3));
    i
}

proptest! {
    /// Payments never exceed the payment limit; losses never exceed the loss limit.
    #[test]
    fn payments_and_losses_stay_within_their_limits(
        t in any_track(), n in 5_000u64..200_000, ub in money(), exp in money(), q in 0u32..=100,
    ) {
        prop_assume!(ub > Decimal::ZERO);
        let i = prop_input(t, n, ub, exp, Decimal::new(q.into(), 2));
        let s = reconcile(&i, &mut NoTrace).expect("reconciles");
        prop_assert!(s.shared_savings <= round_money(s.payment_limit));
        if let Some(limit) = s.loss_limit {
            prop_assert!(s.shared_losses <= round_money(limit));
        }
        prop_assert!(s.shared_savings >= Decimal::ZERO && s.shared_losses >= Decimal::ZERO);
        prop_assert!(s.shared_savings.is_zero() || s.shared_losses.is_zero());
    }

    /// Shared savings never increase, and shared losses never decrease, when expenditures increase.
    #[test]
    fn savings_are_monotone_in_expenditures(
        t in any_track(), n in 5_000u64..200_000, ub in money(), a in money(), b in money(), q in 0u32..=100,
    ) {
        prop_assume!(ub > Decimal::ZERO);
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        let q = Decimal::new(q.into(), 2);
        let s_lo = reconcile(&prop_input(t, n, ub, lo, q), &mut NoTrace).expect("reconciles");
        let s_hi = reconcile(&prop_input(t, n, ub, hi, q), &mut NoTrace).expect("reconciles");
        prop_assert!(s_hi.shared_savings <= s_lo.shared_savings);
        prop_assert!(s_hi.shared_losses >= s_lo.shared_losses);
        prop_assert!(s_hi.net_amount() <= s_lo.net_amount());
    }

    /// The MSR is non-increasing in n and continuous: adjacent populations differ by at most one
    /// band's slope (0.3 points over 999 beneficiaries), including across band boundaries.
    #[test]
    fn msr_is_continuous_and_non_increasing(n in 0u64..200_000) {
        let scale = MsrSchedule::with_small_aco_extension();
        let (a, b) = (scale.rate(n).expect("defined"), scale.rate(n + 1).expect("defined"));
        // The slopes are compared within 1e-26: both sides are quotients rounded at Decimal's 28
        // digits, so an exact step can exceed the rounded bound in its last digit (seen at n = 5,616).
        let ulp = dec!(0.00000000000000000000000001);
        prop_assert!(b <= a);
        prop_assert!(a - b <= dec!(0.035) / dec!(499) + ulp); // steepest band: 500-999, 12.2% -> 8.7%
        if n >= 5_000 {
            prop_assert!(a - b <= dec!(0.003) / dec!(999) + ulp);
        }
    }

    /// No input in the whole representable range makes the engine panic (section 5 of the
    /// conformance issue: a tiny benchmark overflowed the savings rate): every amount from 1e-28 to
    /// 7.9e28 at every scale, any population, any fraction, every track and a year of its term; the
    /// result is a settlement within its limits or an error.
    #[test]
    fn no_representable_input_panics(
        t in term_case(), n in any::<u64>(), ub in any_decimal(), exp in any_decimal(),
        q in fraction(), seq in proptest::option::of(fraction()), revenue in proptest::option::of(any_decimal()),
        euc in prop_oneof![Just(None), any_decimal().prop_map(Some)],
        two_way in proptest::option::of(any_decimal()), months in proptest::option::of(0u32..=12),
        option in 0usize..7, year in proptest::option::of(any::<u32>()),
        pioneer in (proptest::option::of(fraction()), proptest::option::of(fraction()), proptest::option::of(fraction())),
    ) {
        let mut i = prop_input(t, n, ub, exp, q);
        i.msr_option = match option {
            0 => MsrOption::Default,
            1 => MsrOption::Variable,
            k => MsrOption::Fixed(MsrOption::FIXED_CHOICES[k - 2]),
        };
        i.sequestration_rate = seq;
        i.participant_revenue = revenue;
        i.extreme_uncontrollable = euc.map_or(ExtremeUncontrollable::None, ExtremeUncontrollable::Amount);
        i.two_way_blend_benchmark = two_way;
        i.participation_months = months;
        i.agreement_year = year;
        if t.0 == Track::Pioneer {
            i.pioneer = PioneerTerms { minimum_loss_rate: pioneer.0, shared_loss_rate: pioneer.1, sharing_rate: pioneer.2 };
        }
        if let Ok(s) = reconcile(&i, &mut NoTrace) {
            prop_assert!(s.shared_savings <= round_money(s.payment_limit));
            prop_assert!(s.shared_savings >= Decimal::ZERO && s.shared_losses >= Decimal::ZERO);
            if let Some(limit) = s.loss_limit {
                prop_assert!(s.shared_losses <= round_money(limit));
            }
        }
    }

    /// The same by enrollment type: per capita x person-years over the whole representable range.
    #[test]
    fn no_representable_enrollment_breakdown_panics(
        t in term_case(), rows in proptest::array::uniform4(proptest::option::of((any_decimal(), any_decimal(), any_decimal()))),
    ) {
        let mut i = prop_input(t, 10_000, Decimal::ONE, Decimal::ZERO, Decimal::ONE);
        i.experience = Experience::ByEnrollmentType(rows.map(|r| r.map(|(p, b, e)| EnrollmentExperience {
            person_years: p,
            benchmark_per_capita: b,
            expenditures_per_capita: e,
        })));
        let _ = reconcile(&i, &mut NoTrace);
    }
}

/// Any non-negative decimal: any 96-bit mantissa at any scale (0 to 7.9e28, down to 1e-28).
fn any_decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), any::<u32>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, scale)| Decimal::from_parts(lo, mid, hi, false, scale)),
        Just(Decimal::MAX),
        Just(Decimal::new(1, 28)),
        Just(Decimal::ZERO),
        money(),
    ]
}

/// Any fraction in [0, 1], at any scale.
fn fraction() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (0u64..=10_000_000_000, 0u32..=10).prop_map(|(m, scale)| (Decimal::from(m)
            / Decimal::from(10_000_000_000u64))
        .round_dp(scale)),
        Just(Decimal::ZERO),
        Just(Decimal::ONE),
        Just(Decimal::new(1, 28)),
    ]
}

/// Every track with an agreement start and a performance year of its term.
fn term_case() -> impl Strategy<Value = (Track, Date, i32)> {
    let mut cases = Vec::new();
    for row in rules::AGREEMENT_TERMS {
        let start = match row.starts {
            rules::Starts::On(d) => d,
            rules::Starts::JanuaryOf { first, .. } => Date::new(first, 1, 1).expect("date"),
        };
        for track in Track::ALL {
            for py in start.year()..start.year() + 7 {
                if rules::select(track, start, py).is_ok() {
                    cases.push((track, start, py));
                }
            }
        }
    }
    proptest::sample::select(cases)
}
