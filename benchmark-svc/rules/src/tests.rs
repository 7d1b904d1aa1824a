//! Worked-number tests of the benchmark rules, each citing the paragraph it pins, and property
//! tests of the invariants.

use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use super::truncation::{Aggregator, BeneficiaryYear};
use super::*;

const BY3_PERSON_YEARS: ByType<Decimal> = [dec!(100), dec!(1000), dec!(900), dec!(8000)];
/// Per capita expenditures used where the years do not matter: 90,000 / 13,000 / 20,000 / 11,000;
/// weighted by the BY3 person-years above they average 12,800.
const FLAT: ByType<Decimal> = [dec!(90000), dec!(13000), dec!(20000), dec!(11000)];

fn year(per_capita: ByType<Decimal>, risk: ByType<Decimal>) -> ByType<YearExperience> {
    std::array::from_fn(|i| YearExperience {
        person_years: BY3_PERSON_YEARS[i],
        per_capita: per_capita[i],
        risk_score: risk[i],
    })
}

const ONES: ByType<Decimal> = [Decimal::ONE; 4];

/// An input whose three years all have the FLAT per capita amounts, risk 1, trends 1.
fn flat(start: Date, period: u32) -> HistoricalInput {
    let y = year(FLAT, ONES);
    HistoricalInput {
        agreement_start: start,
        agreement_period: period,
        years: [start.year() - 3, start.year() - 2, start.year() - 1],
        experience: [y, y, y],
        national_trend: Some([ONES, ONES]),
        regional: None,
        prior_savings: None,
    }
}

fn regional(regional_per_capita: ByType<Decimal>, national: ByType<Decimal>) -> RegionalInput {
    RegionalInput {
        regional_per_capita,
        national_per_capita: Some(national),
        prior_regional_adjustments: 0,
        national_weight: Some(dec!(0.2)),
        regional_trend: Some([ONES, ONES]),
        dual_eligible_share: Some(dec!(0.2)),
    }
}

const NATIONAL: ByType<Decimal> = [dec!(95000), dec!(14000), dec!(20000), dec!(12000)];

fn run(input: &HistoricalInput) -> Historical {
    let mut steps = Vec::new();
    let h = historical(input, &mut steps).expect("computes");
    assert!(
        steps.iter().all(|s| !s.citation.is_empty()),
        "every step cites its rule"
    );
    h
}

fn per_type(h: &Historical) -> ByType<Decimal> {
    h.types.map(|t| t.per_capita)
}

/// The flat benchmark of an agreement from `start` (period 1) with regional inputs, and its
/// historical benchmark.
fn flat_regional(start: Date) -> (HistoricalInput, Historical) {
    let mut input = flat(start, 1);
    input.regional = Some(regional(FLAT, NATIONAL));
    let h = run(&input);
    (input, h)
}

/// First agreement, 10/30/60 (425.602(a)(3)-(7)). By enrollment type:
/// ESRD   .1 x 80,000 x 1.05 + .3 x 85,000 x 1.02 + .6 x 90,000 = 8,400 + 26,010 + 54,000 = 88,410
/// DIS    .1 x 12,000 x (1/0.8) x 1.04 + .3 x 12,500 x 1.02 + .6 x 13,000 = 1,560 + 3,825 + 7,800 = 13,185
/// AGDU   .1 x 18,000 x (1.1/1) x 1.03 + .3 x 19,000 x 1.1 x 1.01 + .6 x 20,000 = 2,039.4 + 6,332.7 + 12,000 = 20,372.1
/// AGND   .1 x 10,000 x (1/1.25) x 1.06 + .3 x 10,500 x 1.03 + .6 x 11,000 = 848 + 3,244.5 + 6,600 = 10,692.5
/// BY3 mix (100 / 1,000 / 900 / 8,000 person-years): 125,900,890 / 10,000 = 12,590.089.
fn first_agreement() -> HistoricalInput {
    HistoricalInput {
        agreement_start: Date::constant(2014, 1, 1),
        agreement_period: 1,
        years: [2011, 2012, 2013],
        experience: [
            year(
                [dec!(80000), dec!(12000), dec!(18000), dec!(10000)],
                [dec!(1), dec!(0.8), dec!(1), dec!(1.25)],
            ),
            year(
                [dec!(85000), dec!(12500), dec!(19000), dec!(10500)],
                [dec!(1), dec!(1), dec!(1), dec!(1)],
            ),
            year(
                [dec!(90000), dec!(13000), dec!(20000), dec!(11000)],
                [dec!(1), dec!(1), dec!(1.1), dec!(1)],
            ),
        ],
        national_trend: Some([
            [dec!(1.05), dec!(1.04), dec!(1.03), dec!(1.06)],
            [dec!(1.02), dec!(1.02), dec!(1.01), dec!(1.03)],
        ]),
        regional: None,
        prior_savings: None,
    }
}

#[test]
fn first_agreement_weights_years_10_30_60_in_the_by3_mix() {
    let h = run(&first_agreement());
    assert_eq!(h.rule_set, "mssp-2012-first");
    assert_eq!(
        per_type(&h),
        [dec!(88410), dec!(13185), dec!(20372.1), dec!(10692.5)]
    );
    assert_eq!(h.per_capita, dec!(12590.089));
    assert_eq!(h.unadjusted_per_capita, h.per_capita);
}

/// Update of the first agreement to PY2015 (425.602(b), 425.604(a)(1)-(2)):
/// ESRD risk ratio = (20 newly x 1.1 + 80 continuously x min(1.02 demographic, 1.05 HCC)) / 100
/// = 1.036; AGND continuously assigned HCC fell (0.95 < demographic 1.01): the lower HCC ratio.
/// UB: ESRD 88,410 x 1.036 + 3,000 = 94,592.76; DIS 13,185 + 500 = 13,685;
/// AGDU 20,372.1 + 600 = 20,972.1; AGND 10,692.5 x 0.95 + 400 = 10,557.875.
/// Total with PY person-years 110 / 1,100 / 950 / 8,400 = 134,068,348.6; per capita / 10,560.
#[test]
fn first_agreement_update_flat_dollars_with_newly_and_continuously_assigned() {
    let input = first_agreement();
    let h = run(&input);
    let group = |py, hcc, demo| RiskGroup {
        person_years: py,
        risk_score: hcc,
        demographic_risk_score: demo,
    };
    let person_years = [dec!(110), dec!(1100), dec!(950), dec!(8400)];
    let mut py = PerformanceYearInput {
        performance_year: 2015,
        national_flat_update: Some([dec!(3000), dec!(500), dec!(600), dec!(400)]),
        ..Default::default()
    };
    for (i, people) in person_years.into_iter().enumerate() {
        py.types[i] = PerformanceYearType {
            person_years: people,
            by3_demographic_risk_score: Some(dec!(1)),
            newly_assigned: Some(group(dec!(0), dec!(1), dec!(1))),
            continuously_assigned: Some(group(
                dec!(100),
                input.experience[2][i].risk_score,
                dec!(1),
            )),
            ..Default::default()
        };
    }
    py.types[0].newly_assigned = Some(group(dec!(20), dec!(1.1), dec!(1.3)));
    py.types[0].continuously_assigned = Some(group(dec!(80), dec!(1.05), dec!(1.02)));
    py.types[3].continuously_assigned = Some(group(dec!(500), dec!(0.95), dec!(1.01)));
    let mut steps = Vec::new();
    let u = update(&input, &h, &py, &mut steps).expect("updates");
    assert_eq!(
        u.types.map(|t| t.risk_ratio),
        [dec!(1.036), dec!(1), dec!(1), dec!(0.95)]
    );
    assert_eq!(
        u.types.map(|t| t.per_capita),
        [dec!(94592.76), dec!(13685), dec!(20972.1), dec!(10557.875)]
    );
    assert_eq!(u.total, dec!(134068348.6));
    assert_eq!(u.person_years, dec!(10560));
    assert_eq!(round_money(u.per_capita), dec!(12695.87));
    assert_eq!(u.two_way_total, None);
}

/// Second agreement starting 2020 (425.601(e)(2)(i): equal weights; 425.601(a)(8), (f): regional
/// adjustment). The ACO spends less than its region (differences 10,000 / 3,000 / 1,000 / 3,000),
/// so the first-time weight is 35%: 3,500 / 1,050 / 350 / 1,050. The 5% cap of national per capita
/// (4,750 / 700 / 1,000 / 600) binds for DIS and AGND. Benchmarks 93,500 / 13,700 / 20,350 /
/// 11,600; BY3 mix 134,165,000 / 10,000 = 13,416.5.
#[test]
fn rebased_equal_weights_regional_adjustment_hits_its_cap() {
    let mut input = flat(Date::constant(2020, 1, 1), 2);
    input.regional = Some(regional(
        [dec!(100000), dec!(16000), dec!(21000), dec!(14000)],
        NATIONAL,
    ));
    let h = run(&input);
    assert_eq!(h.rule_set, "mssp-2019-rebased");
    assert_eq!(h.types.map(|t| t.unadjusted), FLAT);
    assert_eq!(
        h.types.map(|t| t.regional_adjustment),
        [dec!(3500), dec!(700), dec!(350), dec!(600)]
    );
    assert_eq!(
        per_type(&h),
        [dec!(93500), dec!(13700), dec!(20350), dec!(11600)]
    );
    assert_eq!(h.per_capita, dec!(13416.5));
    // The second regional adjustment uses 50%: 5,000 (capped 4,750) / 1,500 (700) / 500 / 1,500 (600).
    input
        .regional
        .as_mut()
        .expect("regional")
        .prior_regional_adjustments = 1;
    assert_eq!(
        run(&input).types.map(|t| t.regional_adjustment),
        [dec!(4750), dec!(700), dec!(500), dec!(600)]
    );
}

/// Rebased agreement starting 2017 (425.603(c)(8)-(9)): equal weights, regional trend, and a regional
/// adjustment with no cap; an ACO spending more than its region (every type 1,000 above) gets the
/// 25% weight: -250 per type, 12,800 - 250 = 12,550.
#[test]
fn rebased_2017_regional_adjustment_for_an_aco_spending_more_than_its_region() {
    let mut input = flat(Date::constant(2017, 1, 1), 2);
    input.national_trend = None;
    input.regional = Some(RegionalInput {
        national_per_capita: None,
        national_weight: None,
        ..regional(FLAT.map(|x| x - dec!(1000)), NATIONAL)
    });
    let h = run(&input);
    assert_eq!(h.rule_set, "mssp-2017-rebased");
    assert_eq!(h.types.map(|t| t.regional_adjustment), [dec!(-250); 4]);
    assert_eq!(h.per_capita, dec!(12550));
}

/// Second agreement starting 2016 (425.603(b)): equal weights and the add-on of the prior agreement's
/// average per capita savings: (300 + 0 - 60) / 3 = 80, pro-ration 1.5 taken as 1 [R]: 12,880.
#[test]
fn rebased_2016_adds_the_average_prior_savings() {
    let mut input = flat(Date::constant(2016, 1, 1), 2);
    input.prior_savings = Some(PriorSavingsInput {
        per_capita_savings: [dec!(300), dec!(0), dec!(-60)],
        proration_factor: dec!(1.5),
    });
    let h = run(&input);
    assert_eq!(h.rule_set, "mssp-2016-rebased");
    assert_eq!(h.types.map(|t| t.prior_savings_adjustment), [dec!(80); 4]);
    assert_eq!(h.per_capita, dec!(12880));
}

/// 2024 rebased agreement (425.652(a)(8)(iv), 425.658): a regional adjustment of 35% x 400 = 140
/// per type (single value 140) against a prior savings adjustment of min(50% x average(300, 500,
/// 400) = 200, 5% x 13,750 = 687.5) = 200: prior savings win, 200 for every type: 12,800 + 200 =
/// 13,000. With savings averaging 200 the adjustment is 100 < 140 and the regional adjustment
/// applies: 12,940.
#[test]
fn from_2024_prior_savings_beat_the_regional_adjustment() {
    let mut input = flat(Date::constant(2024, 1, 1), 2);
    input.regional = Some(regional(FLAT.map(|x| x + dec!(400)), NATIONAL));
    input.prior_savings = Some(PriorSavingsInput {
        per_capita_savings: [dec!(300), dec!(500), dec!(400)],
        proration_factor: dec!(1),
    });
    let h = run(&input);
    assert_eq!(h.rule_set, "mssp-2024-rebased");
    assert_eq!(h.types.map(|t| t.regional_adjustment), [Decimal::ZERO; 4]);
    assert_eq!(h.types.map(|t| t.prior_savings_adjustment), [dec!(200); 4]);
    assert_eq!(h.per_capita, dec!(13000));

    input.prior_savings = Some(PriorSavingsInput {
        per_capita_savings: [dec!(100), dec!(300), dec!(200)],
        proration_factor: dec!(1),
    });
    let h = run(&input);
    assert_eq!(h.types.map(|t| t.regional_adjustment), [dec!(140); 4]);
    assert_eq!(
        h.types.map(|t| t.prior_savings_adjustment),
        [Decimal::ZERO; 4]
    );
    assert_eq!(h.per_capita, dec!(12940));
}

/// 2024 caps, offset and "no overall negative" (425.656(c)(3)-(5), 425.652(a)(8)(ii)-(v)).
/// Differences 20,000 / -1,000 / 0 / -100 weigh to +20 per capita: the ACO spends less, 35%:
/// 7,000 / -350 / 0 / -35; caps +5% (4,750) and -1.5% (-210): 4,750 / -210 / 0 / -35; negatives x
/// (1 - offset), offset = 0.2 dual + (1.0 HCC - 1) = 0.2: -168 and -28. Single value = (475,000 -
/// 168,000 - 224,000) / 10,000 = 8.3 > 0, so the per-type amounts apply: 12,808.3.
/// With the ESRD difference at 2,000 the ACO spends more (15%): 300 / -150 / 0 / -15, offset:
/// -120 / -12; single value -18.6 <= 0: no regional adjustment at all, 12,800.
#[test]
fn from_2024_negative_caps_offset_and_no_overall_negative_adjustment() {
    let mut input = flat(Date::constant(2024, 1, 1), 1);
    let diffs = [dec!(20000), dec!(-1000), dec!(0), dec!(-100)];
    input.regional = Some(regional(
        std::array::from_fn(|i| FLAT[i] + diffs[i]),
        NATIONAL,
    ));
    let h = run(&input);
    assert_eq!(
        h.types.map(|t| t.regional_adjustment),
        [dec!(4750), dec!(-168), dec!(0), dec!(-28)]
    );
    assert_eq!(h.per_capita, dec!(12808.3));

    let diffs = [dec!(2000), dec!(-1000), dec!(0), dec!(-100)];
    input.regional = Some(regional(
        std::array::from_fn(|i| FLAT[i] + diffs[i]),
        NATIONAL,
    ));
    let h = run(&input);
    assert_eq!(h.types.map(|t| t.regional_adjustment), [Decimal::ZERO; 4]);
    assert_eq!(h.per_capita, dec!(12800));
}

fn pathways_update(risk: ByType<Decimal>) -> Updated {
    let (input, h) = flat_regional(Date::constant(2019, 7, 1));
    let person_years = [dec!(100), dec!(1000), dec!(1000), dec!(7900)];
    let py = PerformanceYearInput {
        performance_year: 2020,
        types: std::array::from_fn(|i| PerformanceYearType {
            person_years: person_years[i],
            risk_score: Some(risk[i]),
            ..Default::default()
        }),
        national_growth: Some([dec!(1.04); 4]),
        regional_growth: Some([dec!(1.06), dec!(1.02), dec!(1.03), dec!(1.05)]),
        national_weight: Some(dec!(0.25)),
        ..Default::default()
    };
    update(&input, &h, &py, &mut Vec::new()).expect("updates")
}

/// Pathways first agreement updated to PY2020 (425.601(b), 425.605(a)(1)(i)). Risk growth 5% (ESRD)
/// and 3.1% (AGND) is capped at 3%; 2% and -3% pass. Blended growth 0.25 x 1.04 + 0.75 x regional:
/// 1.055 / 1.025 / 1.0325 / 1.0475. UB: 90,000 x 1.03 x 1.055 = 97,798.5; 13,000 x 1.02 x 1.025 =
/// 13,591.5; 20,000 x 0.97 x 1.0325 = 20,030.5; 11,000 x 1.03 x 1.0475 = 11,868.175.
/// Total with 100 / 1,000 / 1,000 / 7,900 PY person-years: 137,160,432.5; per capita 13,716.04325.
#[test]
fn pathways_three_percent_risk_cap_binds() {
    let u = pathways_update([dec!(1.05), dec!(1.02), dec!(0.97), dec!(1.031)]);
    assert_eq!(
        u.types.map(|t| t.risk_ratio),
        [dec!(1.03), dec!(1.02), dec!(0.97), dec!(1.03)]
    );
    assert_eq!(
        u.types.map(|t| t.per_capita),
        [dec!(97798.5), dec!(13591.5), dec!(20030.5), dec!(11868.175)]
    );
    assert_eq!(u.total, dec!(137160432.5));
    assert_eq!(u.per_capita, dec!(13716.04325));
    // Uncapped, ESRD would have been 90,000 x 1.05 x 1.055 = 99,697.5.
    let cap_not_binding = pathways_update([dec!(1.03), dec!(1.02), dec!(0.97), dec!(1.03)]);
    assert_eq!(cap_not_binding.total, u.total);
}

/// A PY2024 update of the flat benchmark: BY3 person-years, the same PY HCC score `hcc` and
/// demographic score `demographic` in every type (BY3 demographic score 1), national and regional
/// growth 1.06 and an ACPT of $300 everywhere.
fn py2024(
    hcc: Decimal,
    demographic: Decimal,
    regional_risk: Option<RegionalRiskInput>,
) -> PerformanceYearInput {
    PerformanceYearInput {
        performance_year: 2024,
        types: std::array::from_fn(|i| PerformanceYearType {
            person_years: BY3_PERSON_YEARS[i],
            risk_score: Some(hcc),
            demographic_risk_score: Some(demographic),
            by3_demographic_risk_score: Some(Decimal::ONE),
            ..Default::default()
        }),
        national_growth: Some([dec!(1.06); 4]),
        regional_growth: Some([dec!(1.06); 4]),
        acpt: Some([dec!(300); 4]),
        regional_risk,
        ..Default::default()
    }
}

/// 2024 three-way blend and demographic cap (425.652(b)(4), 425.605(a)(1)(ii)). Flat 12,800 benchmark,
/// ACPT weight 1/3, blended growth 1.06 everywhere, ACPT 300 dollars everywhere:
/// UB_e = RA x (HB + 2/3 x HB x 0.06 + 1/3 x 300) = RA x (HB x 1.04 + 100).
/// HCC growth 10% in every type, demographic growth 2%: cap = 2% + 3 points = 5%, aggregate HCC growth
/// 10% exceeds it, so every ratio is 1.05. ESRD: 1.05 x (93,600 + 100) = 98,385.
/// Two-way blend: 90,000 x 1.05 x 1.06 = 100,170.
#[test]
fn from_2024_three_way_blend_and_demographic_cap() {
    let (input, h) = flat_regional(Date::constant(2024, 1, 1));
    // Regional risk scores flat: the 425.655 factor is 1.
    let flat_regional_risk = RegionalRiskInput {
        hcc_growth: ONES,
        demographic_growth: ONES,
        market_share: [dec!(0.1); 4],
    };
    let py = py2024(dec!(1.1), dec!(1.02), Some(flat_regional_risk));
    let u = update(&input, &h, &py, &mut Vec::new()).expect("updates");
    assert_eq!(u.types.map(|t| t.regional_risk_cap_factor), ONES);
    assert_eq!(u.types.map(|t| t.risk_ratio), [dec!(1.05); 4]);
    assert_eq!(round_money(u.types[0].per_capita), dec!(98385.00));
    // Per capita: 1.05 x (12,800 x 1.04 + 100) = 1.05 x 13,412 = 14,082.6.
    assert_eq!(round_money(u.per_capita), dec!(14082.60));
    assert_eq!(
        u.two_way_total.map(round_money),
        Some(dec!(142464000.00)) // 12,800 x 1.05 x 1.06 x 10,000
    );
    // Demographic growth 8%: cap 11% is above the 10% HCC growth; the ratio stays 1.10.
    let mut py2 = py;
    for t in py2.types.iter_mut() {
        t.demographic_risk_score = Some(dec!(1.08));
    }
    let u = update(&input, &h, &py2, &mut Vec::new()).expect("updates");
    assert_eq!(u.types.map(|t| t.risk_ratio), [dec!(1.1); 4]);
}

fn regional_risk_update(
    regional_risk: Option<RegionalRiskInput>,
) -> Result<Updated, BenchmarkError> {
    let (input, h) = flat_regional(Date::constant(2024, 1, 1));
    let py = py2024(Decimal::ONE, Decimal::ONE, regional_risk);
    update(&input, &h, &py, &mut Vec::new())
}

/// The regional risk score growth cap (425.655(d)-(f)) on the regional growth rate of the 2024
/// update (425.652(b)(2)(ii)(C)). Historical benchmark 90,000 / 13,000 / 20,000 / 11,000 with PY
/// person-years 100 / 1,000 / 900 / 8,000: weights HB x PY = 9, 13, 18, 88 million (sum 128 million).
/// Regional HCC growth 1.20 / 1.04 / 1.06 / 1.08: aggregate 138.44 / 128 = 1.0815625 ((d)(2)).
/// Demographic growth 1.01 everywhere: 1.01 + 0.03 = 1.04 ((e)(1)). Market share 0.5 / 0.2 / 0.1 /
/// 0.1 weighted by PY person-years: 1,140 / 10,000 = 0.114 ((e)(2)). Cap = 1.04 + 0.114 x
/// (1.0815625 - 1.04) = 1.044738125 ((e)(3)). The aggregate exceeds it, so ((f)(2)): ESRD 1.20 /
/// 1.044738125 = 1.148613, DISABLED (1.04, under the cap) 1, AGED_DUAL 1.014608, AGED_NON_DUAL
/// 1.033752. With regional growth 1.06 and national weight 0.2, ESRD's blend is 0.2 x 1.06 + 0.8 x
/// 1.06 x 1.148613 = 1.186024 and its updated benchmark 90,000 + 2/3 x 90,000 x 0.186024 + 1/3 x 300
/// = 101,261.44; DISABLED 13,000 + 2/3 x 13,000 x 0.06 + 100 = 13,620. Total 136,703,931.77, per
/// capita 13,670.39; two-way total 139,555,897.66.
#[test]
fn from_2024_regional_risk_score_growth_cap() {
    let growth = RegionalRiskInput {
        hcc_growth: [dec!(1.20), dec!(1.04), dec!(1.06), dec!(1.08)],
        demographic_growth: [dec!(1.01); 4],
        market_share: [dec!(0.5), dec!(0.2), dec!(0.1), dec!(0.1)],
    };
    let u = regional_risk_update(Some(growth)).expect("updates");
    assert_eq!(
        u.types.map(|t| t.regional_risk_cap_factor.round_dp(6)),
        [dec!(1.148613), dec!(1), dec!(1.014608), dec!(1.033752)]
    );
    assert_eq!(
        u.types[0].regional_risk_cap_factor,
        dec!(1.20) / dec!(1.044738125)
    );
    assert_eq!(
        u.types.map(|t| round_money(t.per_capita)),
        [
            dec!(101261.44),
            dec!(13620.00),
            dec!(21065.17),
            dec!(11749.89)
        ]
    );
    assert_eq!(round_money(u.total), dec!(136703931.77));
    assert_eq!(round_money(u.per_capita), dec!(13670.39));
    assert_eq!(u.two_way_total.map(round_money), Some(dec!(139555897.66)));

    // (f)(1): with a market share of 1 the cap is the aggregate growth itself, which does not
    // exceed it: every factor is 1 and the update is the uncapped 13,000 + 2/3 x 13,000 x 0.06 + 100
    // in every type's formula (DISABLED 13,620, ESRD 90,000 x 1.04 + 100 = 93,700).
    let whole_market = regional_risk_update(Some(RegionalRiskInput {
        market_share: [Decimal::ONE; 4],
        ..growth
    }))
    .expect("updates");
    assert_eq!(whole_market.types.map(|t| t.regional_risk_cap_factor), ONES);
    assert_eq!(
        round_money(whole_market.types[0].per_capita),
        dec!(93700.00)
    );
    // Aggregate HCC growth 1.0815625 under demographic 1.06 + 0.03: no cap either.
    let demographic_growth = regional_risk_update(Some(RegionalRiskInput {
        demographic_growth: [dec!(1.06); 4],
        ..growth
    }))
    .expect("updates");
    assert_eq!(
        demographic_growth.types.map(|t| t.regional_risk_cap_factor),
        ONES
    );
    // The inputs are required for agreements from 2024 and validated.
    assert_eq!(
        regional_risk_update(None),
        Err(BenchmarkError::Missing {
            input: Input::RegionalRisk,
            rule_set: "mssp-2024-first"
        })
    );
    // A caller's rule set with a negative margin could make the cap zero: rejected, named.
    let input = flat(Date::constant(2024, 1, 1), 1);
    let mut rules = rules::select(input.agreement_start, 1).expect("rule set");
    rules.regional_risk_cap = Some(rules::RegionalRiskCapRule {
        margin: dec!(-1.01),
        citation: "",
    });
    let mut with_region = input;
    with_region.regional = Some(regional(FLAT, NATIONAL));
    assert!(matches!(
        historical_with(&rules, &with_region, &mut NoTrace),
        Err(BenchmarkError::Invalid {
            input: Input::RuleSet("regional_risk_cap.margin"),
            ..
        })
    ));
    let bad = regional_risk_update(Some(RegionalRiskInput {
        market_share: [dec!(1.5); 4],
        ..growth
    }));
    assert!(
        matches!(
            &bad,
            Err(BenchmarkError::Invalid {
                input: Input::Series {
                    series: Series::MarketShare,
                    enrollment_type: Some(EnrollmentType::Esrd)
                },
                ..
            })
        ),
        "{bad:?}"
    );
}

/// Truncation changes the result (425.602(a)(4)): one aged/non-dual beneficiary in BY3 spent
/// $190,000 against a $100,000 threshold. BY3 AGND per capita = (10,000 + 100,000) / 2 = 55,000
/// instead of 100,000; AGND benchmark .1 x 10,000 + .3 x 10,000 + .6 x 55,000 = 37,000 (64,000
/// untruncated); BY3 mix (80,000 + 12,000 + 18,000 + 2 x 37,000) / 5 = 36,800 (47,600 untruncated).
#[test]
fn truncation_changes_the_benchmark() {
    let by_threshold = |threshold_dollars: u64| {
        let mut a = Aggregator::new([[threshold_dollars * 100; 4]; 3]);
        let costs = [80_000u64, 12_000, 18_000, 10_000];
        for year in 0..3u8 {
            for t in TYPES {
                a.add(&BeneficiaryYear {
                    year,
                    enrollment_type: t,
                    eligible_months: 12,
                    expenditures_cents: costs[t.index()] * 100,
                    risk_millionths: 1_000_000,
                })
                .expect("valid");
            }
        }
        a.add(&BeneficiaryYear {
            year: 2,
            enrollment_type: EnrollmentType::AgedNonDual,
            eligible_months: 12,
            expenditures_cents: 190_000 * 100,
            risk_millionths: 1_000_000,
        })
        .expect("valid");
        let mut input = flat(Date::constant(2014, 1, 1), 1);
        input.experience = a.finish().expect("complete");
        run(&input)
    };
    let truncated = by_threshold(100_000);
    assert_eq!(truncated.types[3].per_capita, dec!(37000));
    assert_eq!(truncated.per_capita, dec!(36800));
    let untruncated = by_threshold(1_000_000);
    assert_eq!(untruncated.types[3].per_capita, dec!(64000));
    assert_eq!(untruncated.per_capita, dec!(47600));
}

/// Bad input is an error naming the field, never a panic.
#[test]
fn bad_input_names_the_field() {
    let field = |input: &HistoricalInput| match historical(input, &mut NoTrace) {
        Err(BenchmarkError::Invalid { input, .. }) => input,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let mut i = first_agreement();
    i.years = [2011, 2013, 2012];
    assert_eq!(field(&i), Input::BenchmarkYears);
    let mut i = first_agreement();
    i.experience[1][2].person_years = dec!(-1);
    assert_eq!(
        field(&i),
        Input::Experience {
            year: 1,
            enrollment_type: EnrollmentType::AgedDual,
            quantity: Quantity::PersonYears
        }
    );
    let mut i = first_agreement();
    i.experience[0][0].per_capita = dec!(-0.01);
    assert_eq!(
        field(&i),
        Input::Experience {
            year: 0,
            enrollment_type: EnrollmentType::Esrd,
            quantity: Quantity::PerCapitaExpenditures
        }
    );
    let mut i = first_agreement();
    i.experience[2][3].risk_score = Decimal::ZERO;
    assert_eq!(
        field(&i),
        Input::Experience {
            year: 2,
            enrollment_type: EnrollmentType::AgedNonDual,
            quantity: Quantity::RiskScore
        }
    );
    let mut i = first_agreement();
    i.national_trend.as_mut().expect("trend")[0][1] = Decimal::MAX;
    assert_eq!(
        field(&i),
        Input::Series {
            series: Series::NationalTrend { from: 0 },
            enrollment_type: Some(EnrollmentType::Disabled)
        }
    );

    let mut i = flat(Date::constant(2020, 1, 1), 1);
    assert_eq!(
        historical(&i, &mut NoTrace),
        Err(BenchmarkError::Missing {
            input: Input::Series {
                series: Series::RegionalTrend { from: 0 },
                enrollment_type: None
            },
            rule_set: "mssp-2019-first"
        })
    );
    i.regional = Some(RegionalInput {
        national_per_capita: None,
        ..regional(FLAT, NATIONAL)
    });
    assert_eq!(
        historical(&i, &mut NoTrace),
        Err(BenchmarkError::Missing {
            input: Input::Series {
                series: Series::NationalPerCapita,
                enrollment_type: None
            },
            rule_set: "mssp-2019-first"
        })
    );
    // The national per capita expenditures must be positive (the caps are shares of them), one
    // range for the engine and the server: 0 is refused, a cent is accepted.
    let mut national = NATIONAL;
    national[1] = Decimal::ZERO;
    let mut i = first_agreement();
    i.regional = Some(regional(FLAT, national));
    assert_eq!(
        historical(&i, &mut NoTrace),
        Err(BenchmarkError::Invalid {
            input: Input::Series {
                series: Series::NationalPerCapita,
                enrollment_type: Some(EnrollmentType::Disabled)
            },
            reason: "must be between 0.01 and 100,000,000"
        })
    );
    national[1] = dec!(0.01);
    i.regional = Some(regional(FLAT, national));
    assert!(historical(&i, &mut NoTrace).is_ok());
    let mut i = first_agreement();
    i.experience[2] = i.experience[2].map(|e| YearExperience {
        person_years: Decimal::ZERO,
        ..e
    });
    assert_eq!(
        historical(&i, &mut NoTrace),
        Err(BenchmarkError::NoBy3PersonYears)
    );
    let mut i = first_agreement();
    i.agreement_start = Date::constant(2011, 1, 1);
    assert!(matches!(
        historical(&i, &mut NoTrace),
        Err(BenchmarkError::RuleSet(SelectError::BeforeProgram(_)))
    ));
}

#[test]
fn update_rejects_a_performance_year_not_after_by3() {
    let input = first_agreement();
    let h = run(&input);
    let py = PerformanceYearInput {
        performance_year: 2013,
        ..Default::default()
    };
    assert_eq!(
        update(&input, &h, &py, &mut NoTrace),
        Err(BenchmarkError::PerformanceYearNotAfterBy3 {
            performance_year: 2013,
            by3: 2013
        })
    );
}

// ---- properties ----

fn amount() -> impl Strategy<Value = Decimal> + Clone {
    (0u32..=20_000_000).prop_map(|c| Decimal::new(i64::from(c), 2))
}
fn positive_amount() -> impl Strategy<Value = Decimal> + Clone {
    (100u32..=20_000_000).prop_map(|c| Decimal::new(i64::from(c), 2))
}
fn score() -> impl Strategy<Value = Decimal> + Clone {
    (2_000u32..=40_000).prop_map(|c| Decimal::new(i64::from(c), 4))
}
fn factor() -> impl Strategy<Value = Decimal> + Clone {
    (8_000u32..=12_000).prop_map(|c| Decimal::new(i64::from(c), 4))
}
fn person_years() -> impl Strategy<Value = Decimal> + Clone {
    (0u32..=1_000_000).prop_map(|c| Decimal::new(i64::from(c), 2))
}
fn by_type<S: Strategy<Value = Decimal> + Clone>(s: S) -> impl Strategy<Value = ByType<Decimal>> {
    [s.clone(), s.clone(), s.clone(), s]
}

prop_compose! {
    fn experience_year()(pc in by_type(amount()), risk in by_type(score()), py in by_type(person_years()))
        -> ByType<YearExperience> {
        std::array::from_fn(|i| YearExperience { person_years: py[i] + Decimal::ONE, per_capita: pc[i], risk_score: risk[i] })
    }
}

prop_compose! {
    fn any_input()(
        era in 0usize..5,
        period in 1u32..4,
        y1 in experience_year(), y2 in experience_year(), y3 in experience_year(),
        t1 in by_type(factor()), t2 in by_type(factor()), r1 in by_type(factor()), r2 in by_type(factor()),
        reg in by_type(amount()), nat in by_type(positive_amount()),
        prior in 0u32..5, w in 0u32..=100, dual in 0u32..=100,
        savings in [-100_000i64..100_000, -100_000i64..100_000, -100_000i64..100_000],
    ) -> HistoricalInput {
        let start = [Date::constant(2014, 1, 1), Date::constant(2016, 1, 1), Date::constant(2018, 1, 1), Date::constant(2021, 1, 1), Date::constant(2025, 1, 1)][era];
        let period = match era { 0 => 1, 1 | 2 => period.max(2), _ => period };
        HistoricalInput {
            agreement_start: start,
            agreement_period: period,
            years: [start.year() - 3, start.year() - 2, start.year() - 1],
            experience: [y1, y2, y3],
            national_trend: Some([t1, t2]),
            regional: Some(RegionalInput {
                regional_per_capita: reg,
                national_per_capita: Some(nat),
                prior_regional_adjustments: prior,
                national_weight: Some(Decimal::new(i64::from(w), 2)),
                regional_trend: Some([r1, r2]),
                dual_eligible_share: Some(Decimal::new(i64::from(dual), 2)),
            }),
            prior_savings: Some(PriorSavingsInput {
                per_capita_savings: savings.map(|s| Decimal::new(s, 2)),
                proration_factor: Decimal::ONE,
            }),
        }
    }
}

fn scaled(input: &HistoricalInput, k: Decimal) -> HistoricalInput {
    let mut s = *input;
    for y in s.experience.iter_mut() {
        for e in y.iter_mut() {
            e.per_capita *= k;
        }
    }
    if let Some(r) = s.regional.as_mut() {
        r.regional_per_capita = r.regional_per_capita.map(|x| x * k);
        r.national_per_capita = r.national_per_capita.map(|n| n.map(|x| x * k));
    }
    if let Some(p) = s.prior_savings.as_mut() {
        p.per_capita_savings = p.per_capita_savings.map(|x| x * k);
    }
    s
}

fn close(a: Decimal, b: Decimal) -> bool {
    (a - b).abs() <= Decimal::new(1, 12) * (Decimal::ONE + b.abs())
}

proptest! {
    /// Every era: scaling every cost (benchmark years, regional and national amounts, prior savings)
    /// by k scales the benchmark by k: caps are shares of national amounts, weights and ratios do
    /// not depend on dollars.
    #[test]
    fn benchmark_is_linear_in_uniform_cost_scaling(input in any_input(), k in 1u32..=400) {
        let k = Decimal::new(i64::from(k), 2);
        let base = historical(&input, &mut NoTrace).expect("computes");
        let s = historical(&scaled(&input, k), &mut NoTrace).expect("computes");
        prop_assert!(close(s.per_capita, base.per_capita * k), "{} vs {}", s.per_capita, base.per_capita * k);
        for i in 0..4 {
            prop_assert!(close(s.types[i].per_capita, base.types[i].per_capita * k));
        }
    }

    /// Weights sum to one: a benchmark whose every year has the same per capita amounts, no risk
    /// change and no trend equals those amounts, in every era (regional adjustment zero).
    #[test]
    fn weights_sum_to_one(input in any_input()) {
        let mut i = input;
        i.experience = [i.experience[2]; 3];
        i.national_trend = Some([ONES, ONES]);
        let unadjusted: ByType<Decimal> = i.experience[2].map(|e| e.per_capita);
        if let Some(r) = i.regional.as_mut() {
            r.regional_trend = Some([ONES, ONES]);
            r.regional_per_capita = unadjusted;
        }
        i.prior_savings = None;
        let h = historical(&i, &mut NoTrace).expect("computes");
        prop_assert_eq!(h.types.map(|t| t.unadjusted), unadjusted);
        prop_assert_eq!(h.types.map(|t| t.per_capita), unadjusted);
    }

    /// Caps hold: 425.601 adjustments within +/-5%, 2024+ within +5% / -1.5% of national per
    /// capita; the prior savings adjustment at most 5% of the national mean.
    #[test]
    fn regional_caps_hold(input in any_input()) {
        let rules = rules::select(input.agreement_start, input.agreement_period).expect("rule set");
        let h = historical(&input, &mut NoTrace).expect("computes");
        let nat = input.regional.and_then(|r| r.national_per_capita).expect("national");
        if let Some(rule) = rules.regional {
            for (t, n) in h.types.iter().zip(nat) {
                let a = t.regional_adjustment;
                if let Some(cap) = rule.positive_cap { prop_assert!(a <= cap * n); }
                if let Some(cap) = rule.negative_cap { prop_assert!(a >= -cap * n); }
            }
            if rule.no_overall_negative {
                let adj = h.types.map(|t| t.regional_adjustment);
                let w = input.experience[2].map(|e| e.person_years);
                prop_assert!(weighted_mean(&adj, &w).expect("weights") >= Decimal::ZERO);
            }
        }
        if let rules::PriorSavingsRule::Adjustment { cap, .. } = rules.prior_savings {
            let w = input.experience[2].map(|e| e.person_years);
            let limit = cap * weighted_mean(&nat, &w).expect("weights");
            for t in h.types { prop_assert!(t.prior_savings_adjustment <= limit && t.prior_savings_adjustment >= Decimal::ZERO); }
        }
    }

    /// Truncation never raises the benchmark: a lower threshold gives a benchmark no higher.
    #[test]
    fn truncation_never_raises_the_benchmark(
        costs in proptest::collection::vec((0u8..3, 0usize..4, 1u8..=12, 0u64..50_000_000, 100_000u32..3_000_000), 12..200),
        low in 1_000_000u64..20_000_000,
        extra in 0u64..20_000_000,
    ) {
        let aggregate = |threshold: u64| {
            let mut a = Aggregator::new([[threshold; 4]; 3]);
            for year in 0..3u8 {
                for t in TYPES {
                    a.add(&BeneficiaryYear { year, enrollment_type: t, eligible_months: 12, expenditures_cents: 1_000_000, risk_millionths: 1_000_000 }).expect("valid");
                }
            }
            for &(year, t, months, cents, risk) in &costs {
                a.add(&BeneficiaryYear { year, enrollment_type: TYPES[t], eligible_months: months, expenditures_cents: cents, risk_millionths: risk }).expect("valid");
            }
            let mut input = flat(Date::constant(2014, 1, 1), 1);
            input.experience = a.finish().expect("complete");
            historical(&input, &mut NoTrace).expect("computes").per_capita
        };
        prop_assert!(aggregate(low) <= aggregate(low + extra));
    }

    /// The 425.605(a)(1)(i) cap: no performance-year risk ratio above 1.03 (agreements 2019-2023).
    #[test]
    fn pathways_risk_ratio_never_exceeds_the_cap(risk in by_type(score())) {
        let u = pathways_update(risk);
        for t in u.types { prop_assert!(t.risk_ratio <= dec!(1.03)); }
    }

    /// The engine never panics: arbitrary (also absurd) inputs give a result or an error.
    #[test]
    fn never_panics(input in any_input(), mangle in 0usize..6, v in any::<i64>(), scale in 0u32..28) {
        let mut i = input;
        let d = Decimal::new(v, scale);
        match mangle {
            0 => i.experience[0][0].per_capita = d,
            1 => i.experience[2][1].risk_score = d,
            2 => i.experience[1][3].person_years = d,
            3 => if let Some(t) = i.national_trend.as_mut() { t[0][2] = d },
            4 => if let Some(r) = i.regional.as_mut() { r.regional_per_capita[0] = d },
            _ => i.years[1] = v as i32,
        }
        let _ = historical(&i, &mut NoTrace);
    }
}

proptest! {
    /// Updating never panics, in every era, also with extreme (but accepted or rejected) values;
    /// with in-range values it succeeds.
    #[test]
    fn update_never_panics(
        input in any_input(),
        hcc in by_type(score()), demo in by_type(score()), growth in by_type(factor()),
        people in by_type(person_years()), flat in by_type(amount()), extreme in any::<i64>(), scale in 0u32..28, which in 0usize..4,
    ) {
        let h = historical(&input, &mut NoTrace).expect("computes");
        let group = RiskGroup { person_years: Decimal::ONE, risk_score: Decimal::ONE, demographic_risk_score: Decimal::ONE };
        let mut py = PerformanceYearInput {
            performance_year: input.years[2] + 1,
            types: std::array::from_fn(|i| PerformanceYearType {
                person_years: people[i] + Decimal::ONE,
                risk_score: Some(hcc[i]),
                demographic_risk_score: Some(demo[i]),
                by3_demographic_risk_score: Some(Decimal::ONE),
                newly_assigned: Some(group),
                continuously_assigned: Some(RiskGroup { risk_score: hcc[i], ..group }),
            }),
            national_flat_update: Some(flat),
            national_growth: Some(growth),
            regional_growth: Some(growth),
            acpt: Some(flat),
            regional_risk: Some(RegionalRiskInput { hcc_growth: hcc, demographic_growth: demo, market_share: [Decimal::new(1, 1); 4] }),
            ..Default::default()
        };
        prop_assert!(update(&input, &h, &py, &mut NoTrace).is_ok());
        let d = Decimal::new(extreme, scale);
        match which {
            0 => py.types[0].risk_score = Some(d),
            1 => py.types[1].person_years = d,
            2 => py.national_growth = Some([d; 4]),
            _ => py.acpt = Some([d; 4]),
        }
        let _ = update(&input, &h, &py, &mut NoTrace);
    }
}

// ---- the whole representable range ----

/// Any `Decimal` at all: every 96-bit mantissa, either sign, every scale 0-28.
fn any_decimal() -> impl Strategy<Value = Decimal> + Clone {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
        0u32..=28,
    )
        .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale))
}

/// A field accepted on `[lo, hi]`: its two ends, a point inside, or (when `anything`) any `Decimal`
/// at all; without `anything`, an arbitrary `Decimal` is clamped to the range (so the ends come up
/// often, which is where the arithmetic is largest).
fn field(lo: Decimal, hi: Decimal, anything: bool) -> BoxedStrategy<Decimal> {
    prop_oneof![
        Just(lo),
        Just(hi),
        (0i64..=1_000_000).prop_map(move |k| lo + (hi - lo) * Decimal::new(k, 6)),
        any_decimal().prop_map(move |d| if anything { d } else { d.clamp(lo, hi) }),
    ]
    .boxed()
}

fn fields(lo: Decimal, hi: Decimal, anything: bool) -> BoxedStrategy<ByType<Decimal>> {
    by_type(field(lo, hi, anything)).boxed()
}

const AMOUNT_MAX: Decimal = MAX_AMOUNT;

prop_compose! {
    fn wide_year(anything: bool)(
        pc in fields(Decimal::ZERO, AMOUNT_MAX, anything),
        risk in fields(MIN_FACTOR, MAX_FACTOR, anything),
        py in fields(Decimal::ZERO, MAX_PERSON_YEARS, anything),
    ) -> ByType<YearExperience> {
        std::array::from_fn(|i| YearExperience { person_years: py[i], per_capita: pc[i], risk_score: risk[i] })
    }
}

prop_compose! {
    /// A historical input with every field drawn from [`field`]; with `anything`, the dates, years
    /// and agreement period too are any value.
    fn wide_input(anything: bool)(
        era in 0usize..5, period in 1u32..5, raw_start in (any::<i32>(), any::<u32>(), any::<u32>(), any::<u32>()),
        years in [wide_year(anything), wide_year(anything), wide_year(anything)],
        trend in [fields(MIN_FACTOR, MAX_FACTOR, anything), fields(MIN_FACTOR, MAX_FACTOR, anything)],
        regional_trend in [fields(MIN_FACTOR, MAX_FACTOR, anything), fields(MIN_FACTOR, MAX_FACTOR, anything)],
        reg in fields(Decimal::ZERO, AMOUNT_MAX, anything), nat in fields(POSITIVE_AMOUNT.min, AMOUNT_MAX, anything),
        prior in any::<u32>(), w in field(Decimal::ZERO, Decimal::ONE, anything), dual in field(Decimal::ZERO, Decimal::ONE, anything),
        savings in [field(-AMOUNT_MAX, AMOUNT_MAX, anything), field(-AMOUNT_MAX, AMOUNT_MAX, anything), field(-AMOUNT_MAX, AMOUNT_MAX, anything)],
        proration in field(MIN_FACTOR, MAX_FACTOR, anything),
    ) -> HistoricalInput {
        let (start, period) = if anything && raw_start.3 % 2 == 0 {
            // Any calendar date of any year, or the earliest date there is for one that does not exist.
            (Date::from_calendar(raw_start.0, raw_start.1, raw_start.2).unwrap_or(Date::MIN), raw_start.3)
        } else {
            let start = [Date::constant(2014, 1, 1), Date::constant(2016, 1, 1), Date::constant(2018, 1, 1), Date::constant(2021, 1, 1), Date::constant(2025, 1, 1)][era];
            (start, match era { 0 => 1, 1 | 2 => period.max(2), _ => period })
        };
        let y = start.year();
        HistoricalInput {
            agreement_start: start,
            agreement_period: period,
            years: if anything && raw_start.1 % 3 == 0 { [y, raw_start.2 as i32, y.wrapping_sub(1)] } else { [y.wrapping_sub(3), y.wrapping_sub(2), y.wrapping_sub(1)] },
            experience: years,
            national_trend: Some(trend),
            regional: Some(RegionalInput {
                regional_per_capita: reg,
                national_per_capita: Some(nat),
                prior_regional_adjustments: prior,
                national_weight: Some(w),
                regional_trend: Some(regional_trend),
                dual_eligible_share: Some(dual),
            }),
            prior_savings: Some(PriorSavingsInput { per_capita_savings: savings, proration_factor: proration }),
        }
    }
}

prop_compose! {
    fn wide_group(anything: bool)(
        py in field(Decimal::ZERO, MAX_PERSON_YEARS, anything),
        hcc in field(MIN_FACTOR, MAX_FACTOR, anything),
        demo in field(MIN_FACTOR, MAX_FACTOR, anything),
    ) -> RiskGroup {
        RiskGroup { person_years: py, risk_score: hcc, demographic_risk_score: demo }
    }
}

prop_compose! {
    fn wide_py_type(anything: bool)(
        py in field(Decimal::ZERO, MAX_PERSON_YEARS, anything),
        scores in [field(MIN_FACTOR, MAX_FACTOR, anything), field(MIN_FACTOR, MAX_FACTOR, anything), field(MIN_FACTOR, MAX_FACTOR, anything)],
        newly in wide_group(anything), continuing in wide_group(anything),
    ) -> PerformanceYearType {
        PerformanceYearType {
            person_years: py,
            risk_score: Some(scores[0]),
            demographic_risk_score: Some(scores[1]),
            by3_demographic_risk_score: Some(scores[2]),
            newly_assigned: Some(newly),
            continuously_assigned: Some(continuing),
        }
    }
}

prop_compose! {
    /// A performance-year input with every field drawn from [`field`].
    fn wide_py(anything: bool)(
        year_offset in prop_oneof![1i32..10, any::<i32>()],
        types in [wide_py_type(anything), wide_py_type(anything), wide_py_type(anything), wide_py_type(anything)],
        flat in fields(-AMOUNT_MAX, AMOUNT_MAX, anything), acpt in fields(-AMOUNT_MAX, AMOUNT_MAX, anything),
        national in fields(MIN_FACTOR, MAX_FACTOR, anything), regional in fields(MIN_FACTOR, MAX_FACTOR, anything),
        weights in [field(Decimal::ZERO, Decimal::ONE, anything), field(Decimal::ZERO, Decimal::ONE, anything)],
        hcc in fields(MIN_FACTOR, MAX_FACTOR, anything), demo in fields(MIN_FACTOR, MAX_FACTOR, anything),
        share in fields(Decimal::ZERO, Decimal::ONE, anything),
    ) -> (i32, PerformanceYearInput) {
        (year_offset, PerformanceYearInput {
            performance_year: 0,
            types,
            national_flat_update: Some(flat),
            national_growth: Some(national),
            regional_growth: Some(regional),
            acpt: Some(acpt),
            acpt_weight: Some(weights[0]),
            national_weight: Some(weights[1]),
            regional_risk: Some(RegionalRiskInput { hcc_growth: hcc, demographic_growth: demo, market_share: share }),
        })
    }
}

proptest! {
    /// Every field of both inputs over the whole representable range of `Decimal` (and any date,
    /// year and period): validation or the engine answers, never a panic.
    #[test]
    fn any_value_of_any_field_never_panics(input in wide_input(true), (offset, mut py) in wide_py(true)) {
        py.performance_year = if (1..10).contains(&offset) { input.years[2].wrapping_add(offset) } else { offset };
        match historical(&input, &mut NoTrace) {
            Ok(h) => {
                let _ = update(&input, &h, &py, &mut NoTrace);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    /// With every field inside its accepted range, at its ends as often as inside (where the
    /// arithmetic is largest), the historical benchmark always computes unless no BY3 person-years
    /// are left, and the update unless no performance-year person-years are left: the ranges bound
    /// every step (see [`MAX_AMOUNT`]), so the checked total never reports `Unrepresentable`.
    #[test]
    fn accepted_values_compute(input in wide_input(false), (offset, mut py) in wide_py(false)) {
        py.performance_year = input.years[2] + 1 + offset.rem_euclid(9);
        match historical(&input, &mut NoTrace) {
            Ok(h) => match update(&input, &h, &py, &mut NoTrace) {
                Ok(u) => prop_assert!(u.total >= Decimal::ZERO || u.types.iter().any(|t| t.per_capita < Decimal::ZERO)),
                Err(BenchmarkError::NoPerformanceYearPersonYears) => {}
                Err(e) => prop_assert!(false, "{e}"),
            },
            Err(BenchmarkError::NoBy3PersonYears) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }
    }
}

proptest! {
    /// A caller's rule set (the simulator may change any parameter) with one parameter at any
    /// `Decimal` at all: checked by [`check_rules`] before any arithmetic, never a panic; the
    /// default rule sets always pass.
    #[test]
    fn any_rule_set_parameter_never_panics(
        input in wide_input(false), (offset, mut py) in wide_py(false),
        which in 0usize..12, d in any_decimal(), empty_regional_weights in any::<bool>(),
    ) {
        py.performance_year = input.years[2] + 1 + offset.rem_euclid(9);
        let defaults = rules::select(input.agreement_start, input.agreement_period).expect("rule set");
        prop_assert_eq!(check_rules(&defaults), Ok(()));
        let mut r = defaults;
        let pairs = [(d, d)];
        match which {
            0 => r.weights[0] = d,
            1 => r.weights = [d; 3],
            2..=4 => if let Some(reg) = r.regional.as_mut() {
                match which {
                    2 => reg.weights = if empty_regional_weights { &[] } else { Box::leak(Box::new(pairs)) },
                    3 => reg.positive_cap = Some(d),
                    _ => reg.negative_cap = Some(d),
                }
            },
            5 => r.prior_savings = rules::PriorSavingsRule::Adjustment { share: d, cap: Decimal::ONE },
            6 => r.prior_savings = rules::PriorSavingsRule::Adjustment { share: Decimal::ONE, cap: d },
            7 => r.update = rules::UpdateRule::ThreeWay { acpt_weight: d },
            8 => r.risk = rules::PyRiskRule::Capped { cap: d },
            9 => r.risk = rules::PyRiskRule::DemographicCap { margin: d },
            10 => r.regional_risk_cap = Some(rules::RegionalRiskCapRule { margin: d, citation: "" }),
            _ => r.weights[2] = d,
        }
        if let Ok(h) = historical_with(&r, &input, &mut NoTrace) {
            let _ = update::update_with(&r, &input, &h, &py, &mut NoTrace);
        }
    }
}

/// The 2024 risk-cap weights are historical benchmark x PY person-years (425.655(d)(2)); a type
/// with a negative historical benchmark weighs zero [R]. Here ESRD (-500 per capita, growth 3.0)
/// is left out: the aggregate is the DISABLED growth 1.10 alone, the cap 1.01 + 0.03 = 1.04
/// (market share 0), so DISABLED gets 1.10 / 1.04 and ESRD, above the cap too, 3.0 / 1.04.
#[test]
fn negative_historical_benchmark_weighs_zero_in_the_regional_risk_cap() {
    let mut types = [TypeBenchmark::default(); 4];
    types[0].per_capita = dec!(-500);
    types[1].per_capita = dec!(1000);
    let historical = Historical {
        rule_set: "mssp-2024-first",
        types,
        unadjusted_per_capita: Decimal::ZERO,
        per_capita: Decimal::ZERO,
    };
    let py = PerformanceYearInput {
        types: std::array::from_fn(|i| PerformanceYearType {
            person_years: if i < 2 { dec!(10) } else { Decimal::ZERO },
            ..Default::default()
        }),
        ..Default::default()
    };
    let rule = rules::select(Date::constant(2024, 1, 1), 1)
        .expect("rule set")
        .regional_risk_cap
        .expect("2024 cap");
    let factors = risk::regional_risk_cap_factors(
        &rule,
        &historical,
        &py,
        &RegionalRiskInput {
            hcc_growth: [dec!(3.0), dec!(1.10), Decimal::ONE, Decimal::ONE],
            demographic_growth: [dec!(1.01); 4],
            market_share: [Decimal::ZERO; 4],
        },
        &mut NoTrace,
    );
    assert_eq!(
        factors,
        [
            dec!(3.0) / dec!(1.04),
            dec!(1.10) / dec!(1.04),
            Decimal::ONE,
            Decimal::ONE
        ]
    );
}
