//! The settlement rule engine: a pure library (no I/O, no async), exact money in `rust_decimal`.
//!
//! [`reconcile`] computes one ACO's shared savings or losses for one performance year in the order
//! CMS applies the rules (mssp-rules.md section 4.5):
//!
//! 0. the rule set, and where the performance year falls in the agreement's term
//!    ([`rules::AGREEMENT_TERMS`], 42 CFR 425.200),
//! 1. totals: updated benchmark and expenditures (per capita x person-years by enrollment type),
//! 2. gross savings and the savings rate,
//! 3. MSR/MLR ([`msr`]),
//! 4. the savings test (inclusive, first-dollar) and the final sharing rate ([`quality`]),
//! 5. shared savings = final sharing rate x savings, less sequestration, then the payment limit,
//! 6. or the loss test, shared loss rate, loss limit, then the extreme and uncontrollable reduction,
//! 7. rounding to cents.
//!
//! Each step can be recorded with its inputs, output and citation through a [`Trace`]; pass
//! [`NoTrace`] when only the numbers are wanted (the simulator's hot loop): it compiles away.
//!
//! Rounding: everything is exact until the last step; shared savings and shared losses are then
//! rounded to cents, half away from zero ([`round_money`]). Rates are never rounded.
//!
//! Range: every input is checked first (rates and shares in [0, 1], amounts non-negative, the
//! benchmark positive), so each product below is of a fraction and an amount and cannot overflow;
//! the sums and the divisions that can (per-capita totals, the savings rate of a tiny benchmark) are
//! `checked_*` and fail with [`SettlementError::Overflow`] naming the input to change.

pub mod msr;
pub mod quality;
pub mod rules;

use rust_decimal::Decimal;

pub use msr::{MsrBand, MsrOption, MsrSchedule};
pub use quality::{Quality, QualityStandard};
pub use rules::{AgreementTerm, TermYear};
pub use rules::{Date, RuleSet, Track};

use rules::{LossLimit, LossRules, MsrRule};

pub use acorn_domain::{NoTrace, Step, Trace, round_money};

pub use acorn_domain::EnrollmentType;

/// Performance-year experience of one enrollment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnrollmentExperience {
    /// Person-years.
    pub person_years: Decimal,
    /// Updated benchmark per capita, dollars.
    pub benchmark_per_capita: Decimal,
    /// Expenditures per capita, dollars.
    pub expenditures_per_capita: Decimal,
}

/// The performance-year financials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Experience {
    /// Totals, dollars.
    Totals {
        /// Updated benchmark.
        benchmark: Decimal,
        /// Expenditures.
        expenditures: Decimal,
    },
    /// Per enrollment type (ESRD, disabled, aged/dual, aged/non-dual order), `None` where absent.
    ByEnrollmentType([Option<EnrollmentExperience>; 4]),
}

/// Extreme and uncontrollable circumstances affecting the performance year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtremeUncontrollable {
    /// None.
    #[default]
    None,
    /// Reduce shared losses by losses x `months` x `beneficiaries` (shares in [0, 1]).
    Shares {
        /// Share of the year's months affected.
        months: Decimal,
        /// Share of assigned beneficiaries in affected areas.
        beneficiaries: Decimal,
    },
    /// Reduce shared losses by this published amount (PUF `DisAdj`), at most the losses.
    Amount(Decimal),
}

/// The Pioneer ACO Model arrangement of one ACO, where it differs from the core arrangement's
/// parameters (`None` = the core arrangement: MLR = MSR, loss rate = sharing rate = 60% in PY1 and
/// 70% in PY2). Pioneer ACOs' corridors and the "alternative" arrangement's rates differ from the core
/// terms (mssp-rules.md section 5: Genesys owed 50% of its 2012 loss, not 60%).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PioneerTerms {
    /// Minimum loss rate, when it differs from the minimum savings rate (fraction in [0, 1]).
    pub minimum_loss_rate: Option<Decimal>,
    /// Shared loss rate (fraction in [0, 1]).
    pub shared_loss_rate: Option<Decimal>,
    /// Maximum sharing rate of savings, before quality (fraction in [0, 1]).
    pub sharing_rate: Option<Decimal>,
}

impl PioneerTerms {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Everything [`reconcile`] needs. [`reconcile`] checks the ranges itself (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementInput<'a> {
    /// Track or BASIC level.
    pub track: Track,
    /// Start of the agreement period.
    pub agreement_start: Date,
    /// Performance year.
    pub performance_year: i32,
    /// Index of the performance year in the agreement; `None` = derived ([`rules::agreement_year`]).
    pub agreement_year: Option<u32>,
    /// Assigned beneficiaries.
    pub assigned_beneficiaries: u64,
    /// Financials.
    pub experience: Experience,
    /// Quality result.
    pub quality: Quality,
    /// MSR/MLR option.
    pub msr_option: MsrOption,
    /// Replacement scale for the variable option.
    pub msr_schedule: Option<&'a MsrSchedule>,
    /// ACO participants' total A+B FFS revenue (revenue-based loss limits).
    pub participant_revenue: Option<Decimal>,
    /// Overrides the payment year's sequestration rate.
    pub sequestration_rate: Option<Decimal>,
    /// Extreme and uncontrollable circumstances.
    pub extreme_uncontrollable: ExtremeUncontrollable,
    /// Low revenue ACO (425.605(h)).
    pub low_revenue: bool,
    /// Agreements starting 2024+: updated benchmark recomputed with the two-way blend (425.652(b)(5)).
    pub two_way_blend_benchmark: Option<Decimal>,
    /// Months of participation in a performance year shorter than 12 (the 6-month 2019 performance
    /// years): shared savings and losses are pro-rated by months / 12 (425.609). `None` = the
    /// performance year's length in the agreement term (6 for the 2019 six-month years).
    pub participation_months: Option<u32>,
    /// Pioneer only: the ACO's arrangement where it differs from the core one.
    pub pioneer: PioneerTerms,
}

impl<'a> SettlementInput<'a> {
    /// An input with totals and defaults for everything optional.
    pub fn new(
        track: Track,
        agreement_start: Date,
        performance_year: i32,
        assigned_beneficiaries: u64,
        benchmark: Decimal,
        expenditures: Decimal,
    ) -> Self {
        Self {
            track,
            agreement_start,
            performance_year,
            agreement_year: None,
            assigned_beneficiaries,
            experience: Experience::Totals {
                benchmark,
                expenditures,
            },
            quality: Quality::default(),
            msr_option: MsrOption::Default,
            msr_schedule: None,
            participant_revenue: None,
            sequestration_rate: None,
            extreme_uncontrollable: ExtremeUncontrollable::None,
            low_revenue: false,
            two_way_blend_benchmark: None,
            participation_months: None,
            pioneer: PioneerTerms::default(),
        }
    }
}

/// The outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Shared savings are paid.
    SharedSavings,
    /// Shared losses are owed.
    SharedLosses,
    /// Inside the corridor (or losses on a one-sided track).
    WithinCorridor,
    /// Savings met the MSR but quality failed.
    QualityNotMet,
}

/// The result of [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// Rule set id.
    pub rule_set: &'static str,
    /// Outcome.
    pub outcome: Outcome,
    /// Updated benchmark, total dollars (the one that decided, after any 425.652(b)(5) recalculation).
    pub updated_benchmark: Decimal,
    /// Expenditures, total dollars.
    pub expenditures: Decimal,
    /// Benchmark minus expenditures.
    pub gross_savings: Decimal,
    /// Gross savings / benchmark.
    pub savings_rate: Decimal,
    /// Minimum savings rate.
    pub msr: Decimal,
    /// Minimum loss rate (two-sided only).
    pub mlr: Option<Decimal>,
    /// Final sharing rate.
    pub final_sharing_rate: Decimal,
    /// Shared loss rate (two-sided only).
    pub loss_rate: Option<Decimal>,
    /// Payment limit, dollars.
    pub payment_limit: Decimal,
    /// Loss limit, dollars (two-sided only).
    pub loss_limit: Option<Decimal>,
    /// Sequestration rate applied to payments.
    pub sequestration_rate: Decimal,
    /// Shared savings paid, cents.
    pub shared_savings: Decimal,
    /// Shared losses owed, cents.
    pub shared_losses: Decimal,
}

impl Settlement {
    /// Shared savings minus shared losses (the PUF's `EarnSaveLoss`), cents.
    pub fn net_amount(&self) -> Decimal {
        self.shared_savings - self.shared_losses
    }
}

/// An input of [`reconcile`] that an error is about, in domain terms (a service maps it to its
/// contract's field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The updated benchmark total ([`Experience::Totals`]).
    Benchmark,
    /// The expenditures total ([`Experience::Totals`]).
    Expenditures,
    /// The per-enrollment-type experience ([`Experience::ByEnrollmentType`]).
    EnrollmentTypes,
    /// The quality score.
    QualityScore,
    /// The sequestration rate.
    SequestrationRate,
    /// ACO participants' A+B FFS revenue.
    ParticipantRevenue,
    /// The updated benchmark recomputed with the two-way blend.
    TwoWayBlendBenchmark,
    /// The minimum loss rate of a Pioneer arrangement.
    PioneerMinimumLossRate,
    /// The shared loss rate of a Pioneer arrangement.
    PioneerSharedLossRate,
    /// The sharing rate of a Pioneer arrangement.
    PioneerSharingRate,
    /// The share of months affected by extreme and uncontrollable circumstances.
    AffectedMonthShare,
    /// The share of beneficiaries affected by extreme and uncontrollable circumstances.
    AffectedBeneficiaryShare,
    /// The extreme and uncontrollable circumstances reduction amount.
    ExtremeUncontrollableAmount,
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Input::Benchmark => "the updated benchmark",
            Input::Expenditures => "the expenditures",
            Input::EnrollmentTypes => "the enrollment-type experience",
            Input::QualityScore => "the quality score",
            Input::SequestrationRate => "the sequestration rate",
            Input::ParticipantRevenue => "the participant revenue",
            Input::TwoWayBlendBenchmark => "the two-way blend updated benchmark",
            Input::PioneerMinimumLossRate => "the Pioneer minimum loss rate",
            Input::PioneerSharedLossRate => "the Pioneer shared loss rate",
            Input::PioneerSharingRate => "the Pioneer sharing rate",
            Input::AffectedMonthShare => "the affected month share",
            Input::AffectedBeneficiaryShare => "the affected beneficiary share",
            Input::ExtremeUncontrollableAmount => "the extreme and uncontrollable reduction amount",
        })
    }
}

/// Why a settlement cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementError {
    /// No rule set for the track, agreement and year.
    #[error(transparent)]
    RuleSet(#[from] rules::SelectError),
    /// The quality result lacks what the era needs.
    #[error(transparent)]
    Quality(#[from] quality::QualityError),
    /// The supplied MSR scale does not reach the ACO's population.
    #[error(
        "the supplied MSR schedule does not cover {n} assigned beneficiaries (it starts at {min})"
    )]
    MsrUndefined {
        /// Assigned beneficiaries.
        n: u64,
        /// Where the scale starts.
        min: u64,
    },
    /// A two-sided ACO with a choice did not state it.
    #[error("{track} requires the ACO's MSR/MLR choice (fixed 0, 0.5, 1, 1.5, 2% or variable)")]
    MsrOptionRequired {
        /// Track name.
        track: &'static str,
    },
    /// The option is not one the track offers.
    #[error("{track} does not offer this MSR/MLR option")]
    MsrOptionNotOffered {
        /// Track name.
        track: &'static str,
    },
    /// The revenue-based loss limit needs participant revenue.
    #[error("{track} needs the ACO participants' A+B FFS revenue for its loss limit")]
    RevenueRequired {
        /// Track name.
        track: &'static str,
    },
    /// The benchmark must be positive.
    #[error("the updated benchmark must be greater than zero")]
    ZeroBenchmark,
    /// An input is out of range: a negative amount, or a rate or share outside [0, 1].
    #[error("{0} is out of range")]
    OutOfRange(Input),
    /// A step's result is not representable in exact decimal arithmetic (about 7.9e28); names the
    /// input that makes it so.
    #[error(
        "{step} is not representable in exact decimal arithmetic (magnitude above 7.9e28): {input} is out of range for these amounts"
    )]
    Overflow {
        /// The step.
        step: &'static str,
        /// The input to change.
        input: Input,
    },
    /// Pioneer arrangement terms sent for another track.
    #[error(
        "{track} has no Pioneer arrangement: pioneer_arrangement applies to TRACK_PIONEER only"
    )]
    PioneerTermsNotApplicable {
        /// Track name.
        track: &'static str,
    },
}

/// Citation of the terms of a Pioneer ACO's own arrangement (`PioneerTerms`).
const PIONEER_ARRANGEMENT: &str =
    "Pioneer ACO Model participation agreement (CMMI): the ACO's arrangement, supplied [R]";

fn step(
    rule: &'static str,
    citation: &'static str,
    description: impl Into<String>,
    inputs: &[(&'static str, &dyn std::fmt::Display)],
    output: impl std::fmt::Display,
) -> Step {
    // Decimals lose trailing zeros beyond the cents (0.6663, not 0.666300; 6101212.20 stays);
    // other text is shown as is.
    let tidy = |text: String| match text.parse::<Decimal>() {
        Ok(d) if d.scale() > 2 => {
            let mut n = d.normalize();
            if n.scale() < 2 {
                n.rescale(2);
            }
            n.to_string()
        }
        _ => text,
    };
    Step {
        rule,
        citation,
        description: description.into(),
        inputs: inputs
            .iter()
            .map(|(k, v)| ((*k).to_string(), tidy(v.to_string())))
            .collect(),
        output: tidy(output.to_string()),
    }
}

/// Totals of the updated benchmark and expenditures: per capita x person-years summed over enrollment
/// types (425.604(a)(6); the PUF's ABtotBnchmk and ABtotExp).
fn totals(
    experience: &Experience,
    trace: &mut impl Trace,
) -> Result<(Decimal, Decimal), SettlementError> {
    match *experience {
        Experience::Totals {
            benchmark,
            expenditures,
        } => Ok((benchmark, expenditures)),
        Experience::ByEnrollmentType(rows) => {
            let (mut b, mut e) = (Decimal::ZERO, Decimal::ZERO);
            for r in rows.iter().flatten() {
                let pb = r.person_years.checked_mul(r.benchmark_per_capita);
                let pe = r.person_years.checked_mul(r.expenditures_per_capita);
                match (
                    pb.and_then(|x| b.checked_add(x)),
                    pe.and_then(|x| e.checked_add(x)),
                ) {
                    (Some(nb), Some(ne)) => (b, e) = (nb, ne),
                    _ => {
                        return Err(SettlementError::Overflow {
                            step: "per capita amounts x person-years, summed",
                            input: Input::EnrollmentTypes,
                        });
                    }
                }
            }
            trace.step(|| {
                step(
                    "settlement.totals",
                    "42 CFR 425.604(a)(6), 425.605(a), 425.606(a), 425.610(a)",
                    "Updated benchmark and expenditures: per capita amounts x performance-year person-years, summed over enrollment types",
                    &[],
                    format_args!("benchmark {b}, expenditures {e}"),
                )
            });
            Ok((b, e))
        }
    }
}

/// The MSR and MLR (MLR `None` for one-sided tracks), as [`reconcile`] applies them: a Pioneer
/// ACO's own minimum loss rate (`pioneer`) in place of the mirrored one.
pub fn minimum_rates(
    rules: &RuleSet,
    n: u64,
    option: MsrOption,
    schedule: Option<&MsrSchedule>,
    pioneer: &PioneerTerms,
    trace: &mut impl Trace,
) -> Result<(Decimal, Option<Decimal>), SettlementError> {
    let track = rules.track.name();
    if rules.track != Track::Pioneer && !pioneer.is_empty() {
        return Err(SettlementError::PioneerTermsNotApplicable { track });
    }
    let option = match option {
        MsrOption::Default => {
            rules::default_msr_option(rules).ok_or(SettlementError::MsrOptionRequired { track })?
        }
        o => o,
    };
    let offered = match (rules.msr, option) {
        (MsrRule::VariableOnly, MsrOption::Variable) => true,
        (MsrRule::FixedTwoPercent, MsrOption::Fixed(r)) => r == MsrOption::FIXED_CHOICES[4],
        (MsrRule::Choice | MsrRule::SuppliedCorridor, MsrOption::Fixed(r)) => {
            MsrOption::FIXED_CHOICES.contains(&r)
        }
        (MsrRule::Choice, MsrOption::Variable) => true,
        (MsrRule::SuppliedCorridor, MsrOption::Variable) => schedule.is_some(),
        _ => false,
    };
    if !offered {
        return Err(if rules.msr == MsrRule::SuppliedCorridor {
            SettlementError::MsrOptionRequired { track }
        } else {
            SettlementError::MsrOptionNotOffered { track }
        });
    }
    let msr = match option {
        MsrOption::Fixed(r) => r,
        _ => {
            let default;
            let scale = match schedule {
                Some(s) => s,
                None => {
                    default = MsrSchedule::with_small_aco_extension();
                    &default
                }
            };
            scale.rate(n).ok_or(SettlementError::MsrUndefined {
                n,
                min: scale.min_beneficiaries(),
            })?
        }
    };
    let mlr = rules.two_sided().then_some(msr);
    // Below the 425.604(b) table, the default scale is CMS's published one (msr::SMALL_ACO_SOURCE).
    let small =
        option == MsrOption::Variable && schedule.is_none() && n < msr::REGULATION_BANDS[0].min;
    trace.step(|| {
        let how = match option {
            MsrOption::Fixed(_) => "the fixed rate the ACO chose",
            _ if schedule.is_some() => "the supplied scale, interpolated linearly on the assigned beneficiaries",
            _ if small => "CMS's one-sided scale below 5,000 assigned beneficiaries (425.605(b)(1); 425.604(b) starts at 5,000), interpolated linearly between the printed endpoints of the band",
            _ => "the 425.604(b) scale, interpolated linearly between the printed endpoints of the band",
        };
        let mlr_text = if mlr.is_some() { "; the minimum loss rate mirrors it" } else { "" };
        step(
            "settlement.minimum_savings_rate",
            if small { msr::SMALL_ACO_SOURCE } else { rules.msr_citation },
            format!("Minimum savings rate from {how}{mlr_text}"),
            &[("assigned_beneficiaries", &n)],
            msr,
        )
    });
    if let (Some(own), Some(mirrored)) = (pioneer.minimum_loss_rate, mlr) {
        trace.step(|| {
            step(
                "settlement.minimum_loss_rate",
                PIONEER_ARRANGEMENT,
                "Minimum loss rate of the ACO's Pioneer arrangement, in place of the minimum savings rate",
                &[("minimum_savings_rate", &mirrored)],
                own,
            )
        });
        return Ok((msr, Some(own)));
    }
    Ok((msr, mlr))
}

fn loss_limit(
    rules: &RuleSet,
    input: &SettlementInput<'_>,
    year: u32,
    benchmark: Decimal,
) -> Result<Option<Decimal>, SettlementError> {
    let Some(losses) = rules.losses else {
        return Ok(None);
    };
    Ok(Some(match losses.limit {
        LossLimit::BenchmarkByAgreementYear(shares) => {
            let i = usize::try_from(year)
                .unwrap_or(usize::MAX)
                .clamp(1, shares.len())
                - 1;
            shares[i] * benchmark
        }
        LossLimit::RevenueCappedByBenchmark {
            revenue,
            benchmark: share,
            revenue_required,
        } => {
            let by_benchmark = share * benchmark;
            match input.participant_revenue {
                Some(r) => (revenue * r).min(by_benchmark),
                None if revenue_required => {
                    return Err(SettlementError::RevenueRequired {
                        track: rules.track.name(),
                    });
                }
                None => by_benchmark,
            }
        }
    }))
}

/// Checks the ranges [`reconcile`] relies on (module docs): fractions in [0, 1], amounts >= 0.
fn check_ranges(input: &SettlementInput<'_>) -> Result<(), SettlementError> {
    let fraction = |d: Option<Decimal>, field| match d {
        Some(d) if d < Decimal::ZERO || d > Decimal::ONE => Err(SettlementError::OutOfRange(field)),
        _ => Ok(()),
    };
    let amount = |d: Option<Decimal>, field| match d {
        Some(d) if d < Decimal::ZERO => Err(SettlementError::OutOfRange(field)),
        _ => Ok(()),
    };
    fraction(input.quality.score, Input::QualityScore)?;
    fraction(input.sequestration_rate, Input::SequestrationRate)?;
    fraction(
        input.pioneer.minimum_loss_rate,
        Input::PioneerMinimumLossRate,
    )?;
    fraction(input.pioneer.shared_loss_rate, Input::PioneerSharedLossRate)?;
    fraction(input.pioneer.sharing_rate, Input::PioneerSharingRate)?;
    amount(input.participant_revenue, Input::ParticipantRevenue)?;
    amount(input.two_way_blend_benchmark, Input::TwoWayBlendBenchmark)?;
    match input.extreme_uncontrollable {
        ExtremeUncontrollable::None => {}
        ExtremeUncontrollable::Shares {
            months,
            beneficiaries,
        } => {
            fraction(Some(months), Input::AffectedMonthShare)?;
            fraction(Some(beneficiaries), Input::AffectedBeneficiaryShare)?;
        }
        ExtremeUncontrollable::Amount(a) => amount(Some(a), Input::ExtremeUncontrollableAmount)?,
    }
    if let Experience::ByEnrollmentType(rows) = &input.experience {
        for r in rows.iter().flatten() {
            for d in [
                r.person_years,
                r.benchmark_per_capita,
                r.expenditures_per_capita,
            ] {
                amount(Some(d), Input::EnrollmentTypes)?;
            }
        }
    }
    Ok(())
}

/// The savings rate, gross / benchmark, checked (a tiny benchmark against large expenditures
/// overflows).
fn savings_rate(
    gross: Decimal,
    benchmark: Decimal,
    input: Input,
) -> Result<Decimal, SettlementError> {
    gross
        .checked_div(benchmark)
        .ok_or(SettlementError::Overflow {
            step: "the savings rate (updated benchmark - expenditures) / updated benchmark",
            input,
        })
}

/// Reconciles one ACO for one performance year, in the order of the module docs.
pub fn reconcile(
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) -> Result<Settlement, SettlementError> {
    let agreement = agreement(input, trace)?;
    let rules = agreement.rules;
    let mut m = measure(rules, input, trace)?;
    let s = if owes_nothing_against_two_way_blend(&mut m, input, trace)? {
        let mut s = settled(
            rules,
            &m,
            loss_limit(rules, input, agreement.year, m.benchmark)?,
        );
        s.loss_rate = Some(shared_loss_rate(rules, input, trace)?);
        s
    } else {
        let mut s = sharing_terms(&agreement, &m, input, trace)?;
        if savings_test(rules, &m, input) {
            share_savings(rules, &mut s, &m, input, trace);
        } else if let Some(terms) = loss_test(rules, &s) {
            share_losses(terms, &mut s, input, trace);
        } else {
            corridor(&s, trace);
        }
        s
    };
    Ok(finish(s, agreement.months, trace))
}

/// Step 0: the rule set, and the year of the agreement the performance year is (with its length).
struct Agreement {
    rules: &'static RuleSet,
    /// The year of the agreement (1 = first), as given or derived.
    year: u32,
    /// Months of participation (425.609).
    months: u32,
}

fn agreement(
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) -> Result<Agreement, SettlementError> {
    let py = input.performance_year;
    let rules = rules::select(input.track, input.agreement_start, py)?;
    let term = rules::agreement_year(input.track, input.agreement_start, py)?;
    check_ranges(input)?;
    if input.track != Track::Pioneer && !input.pioneer.is_empty() {
        return Err(SettlementError::PioneerTermsNotApplicable {
            track: input.track.name(),
        });
    }
    trace.step(|| {
        step(
            "settlement.rule_set",
            "42 CFR 425.600; 425.604-425.610",
            format!(
                "Rule set {} for {} in performance year {py}, agreement starting {}",
                rules.id,
                rules.track.name(),
                input.agreement_start
            ),
            &[],
            rules.id,
        )
    });
    trace.step(|| {
        step(
            "settlement.agreement_term",
            term.citation,
            format!(
                "Performance year {py} is year {} of the agreement starting {} (performance years {}-{}), {} months long",
                term.index, input.agreement_start, term.first, term.last, term.months
            ),
            &[],
            term.index,
        )
    });
    Ok(Agreement {
        rules,
        year: input.agreement_year.unwrap_or(term.index),
        months: input.participation_months.unwrap_or(term.months),
    })
}

/// What steps 1-3 measure: the totals, the savings and the corridor around them.
struct Measured {
    /// The updated benchmark that decides (the two-way blend's after 425.652(b)(5)).
    benchmark: Decimal,
    expenditures: Decimal,
    /// Benchmark - expenditures.
    gross: Decimal,
    /// Gross savings / benchmark.
    rate: Decimal,
    msr: Decimal,
    mlr: Option<Decimal>,
}

/// Steps 1-3: the totals, the MSR and MLR, gross savings and the savings rate.
fn measure(
    rules: &RuleSet,
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) -> Result<Measured, SettlementError> {
    let benchmark_field = match input.experience {
        Experience::Totals { .. } => Input::Benchmark,
        Experience::ByEnrollmentType(_) => Input::EnrollmentTypes,
    };
    let (benchmark, expenditures) = totals(&input.experience, trace)?;
    if benchmark <= Decimal::ZERO {
        return Err(SettlementError::ZeroBenchmark);
    }
    if expenditures.is_sign_negative() {
        return Err(SettlementError::OutOfRange(match input.experience {
            Experience::Totals { .. } => Input::Expenditures,
            Experience::ByEnrollmentType(_) => Input::EnrollmentTypes,
        }));
    }
    let (msr, mlr) = minimum_rates(
        rules,
        input.assigned_beneficiaries,
        input.msr_option,
        input.msr_schedule,
        &input.pioneer,
        trace,
    )?;
    // Both are in [0, 7.9e28], so the difference is representable.
    let gross = benchmark - expenditures;
    let rate = savings_rate(gross, benchmark, benchmark_field)?;
    trace.step(|| {
        step(
            "settlement.savings_rate",
            rules.savings_citation,
            "Gross savings = updated benchmark - expenditures; savings rate = gross savings / updated benchmark",
            &[("updated_benchmark", &benchmark), ("expenditures", &expenditures)],
            format_args!("gross savings {gross}, savings rate {rate}"),
        )
    });
    Ok(Measured {
        benchmark,
        expenditures,
        gross,
        rate,
        msr,
        mlr,
    })
}

/// Agreements starting 2024+: a loss beyond the MLR against the three-way blend is re-measured
/// against the two-way blend benchmark (425.652(b)(5)); the smaller overage decides. True when
/// the expenditures are at or below the two-way blend benchmark: nothing is owed.
fn owes_nothing_against_two_way_blend(
    m: &mut Measured,
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) -> Result<bool, SettlementError> {
    let (Some(mlr), Some(two_way)) = (m.mlr, input.two_way_blend_benchmark) else {
        return Ok(false);
    };
    if input.agreement_start.year() < 2024 || -m.rate < mlr || two_way <= Decimal::ZERO {
        return Ok(false);
    }
    let before = m.benchmark;
    let expenditures = m.expenditures;
    if expenditures <= two_way || expenditures - two_way < expenditures - m.benchmark {
        m.benchmark = two_way;
        m.gross = m.benchmark - expenditures;
        m.rate = savings_rate(m.gross, m.benchmark, Input::TwoWayBlendBenchmark)?;
    }
    let benchmark = m.benchmark;
    trace.step(|| {
        step(
            "settlement.two_way_blend_recalculation",
            "42 CFR 425.652(b)(5)",
            "Losses re-measured against the updated benchmark recomputed with the two-way blend; the smaller overage decides, and expenditures below it owe nothing",
            &[("three_way_benchmark", &before), ("two_way_benchmark", &two_way)],
            format_args!("benchmark used {benchmark}"),
        )
    });
    Ok(expenditures <= two_way)
}

/// The shared loss rate: the Pioneer arrangement's, or the track's after quality.
fn shared_loss_rate(
    rules: &RuleSet,
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) -> Result<Decimal, SettlementError> {
    Ok(match input.pioneer.shared_loss_rate {
        Some(r) => {
            trace.step(|| {
                step(
                    "settlement.shared_loss_rate",
                    PIONEER_ARRANGEMENT,
                    "Shared loss rate of the ACO's Pioneer arrangement, in place of the core arrangement's",
                    &[],
                    r,
                )
            });
            r
        }
        None => quality::loss_rate(rules, input.performance_year, &input.quality)?,
    })
}

/// Step 4 and the terms of steps 5-6: the sequestration rate, payment and loss limits, the final
/// sharing rate (maximum sharing rate x quality factor) and the shared loss rate.
fn sharing_terms(
    agreement: &Agreement,
    m: &Measured,
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) -> Result<Settlement, SettlementError> {
    let (rules, py) = (agreement.rules, input.performance_year);
    let loss_limit = loss_limit(rules, input, agreement.year, m.benchmark)?;
    let mut s = settled(rules, m, loss_limit);
    s.sequestration_rate = input
        .sequestration_rate
        .unwrap_or_else(|| rules::sequestration_rate(py));
    let factor = quality::sharing_factor(py, &input.quality)?;
    let max_sharing_rate = input.pioneer.sharing_rate.unwrap_or(rules.max_sharing_rate);
    s.final_sharing_rate = max_sharing_rate * factor;
    if rules.two_sided() {
        s.loss_rate = Some(shared_loss_rate(rules, input, trace)?);
    }
    let quality_era = quality::Era::of(py);
    trace.step(|| {
        step(
            "settlement.final_sharing_rate",
            if input.pioneer.sharing_rate.is_some() {
                PIONEER_ARRANGEMENT
            } else {
                rules.sharing_citation
            },
            format!(
                "Final sharing rate = maximum sharing rate x quality factor ({})",
                quality_era.citation()
            ),
            &[
                ("max_sharing_rate", &max_sharing_rate),
                ("quality_factor", &factor),
            ],
            s.final_sharing_rate,
        )
    });
    Ok(s)
}

/// The savings test: gross savings at or above the MSR (inclusive), or a 2024+ low revenue BASIC
/// ACO of 5,000 or more beneficiaries with any savings (425.605(h)).
fn savings_test(rules: &RuleSet, m: &Measured, input: &SettlementInput<'_>) -> bool {
    let low_revenue_rule = matches!(
        rules.track,
        Track::BasicA | Track::BasicB | Track::BasicC | Track::BasicD | Track::BasicE
    ) && input.agreement_start.year() >= 2024
        && input.low_revenue
        && input.assigned_beneficiaries >= 5_000;
    m.gross > Decimal::ZERO && (m.rate >= m.msr || low_revenue_rule)
}

/// Step 5: shared savings = final sharing rate x all gross savings (first dollar; half the rate
/// below the MSR under 425.605(h)), less sequestration, then the payment limit; none when quality
/// was not met.
fn share_savings(
    rules: &RuleSet,
    s: &mut Settlement,
    m: &Measured,
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) {
    // Inclusive test, first-dollar sharing (425.604(c), (e)(1); 425.605(b)(3), (h); 425.610(b)(2)).
    let (gross, rate, msr, seq) = (m.gross, m.rate, m.msr, s.sequestration_rate);
    let below_msr = rate < msr;
    let sharing = if below_msr {
        s.final_sharing_rate / Decimal::TWO
    } else {
        s.final_sharing_rate
    };
    if sharing.is_zero() {
        s.outcome = Outcome::QualityNotMet;
        trace.step(|| {
            step(
                "settlement.quality_gate",
                quality::Era::of(input.performance_year).citation(),
                "Savings met the minimum savings rate but the quality standard was not met: no shared savings",
                &[("savings_rate", &rate), ("minimum_savings_rate", &msr)],
                "0",
            )
        });
        return;
    }
    let before_seq = sharing * gross;
    let after_seq = before_seq * (Decimal::ONE - seq);
    s.shared_savings = after_seq.min(s.payment_limit);
    s.outcome = Outcome::SharedSavings;
    trace.step(|| {
        let (rule, cite, what) = if below_msr {
            (
                "settlement.low_revenue_below_msr",
                "42 CFR 425.605(h)",
                "Low revenue BASIC ACO below the MSR: half the final sharing rate x all gross savings",
            )
        } else {
            (
                "settlement.shared_savings",
                rules.savings_citation,
                "Savings rate meets the minimum savings rate (inclusive): sharing applies to all gross savings (first dollar)",
            )
        };
        step(rule, cite, what, &[("sharing_rate", &sharing), ("gross_savings", &gross)], before_seq)
    });
    trace.step(|| {
        step(
            "settlement.sequestration",
            "Balanced Budget and Emergency Deficit Control Act sec. 251A (Medicare sequestration) [R]",
            "Payment reduced by the payment year's sequestration rate (before the payment limit)",
            &[("amount", &before_seq), ("sequestration_rate", &seq)],
            after_seq,
        )
    });
    trace.step(|| {
        step(
            "settlement.payment_limit",
            rules.payment_limit_citation,
            format!(
                "Payment limited to {} of the updated benchmark",
                rules.payment_limit
            ),
            &[("amount", &after_seq), ("payment_limit", &s.payment_limit)],
            s.shared_savings,
        )
    });
}

/// What the loss test found: the loss rules, the MLR met, the shared loss rate and the loss limit.
struct LossTerms {
    rules: LossRules,
    mlr: Decimal,
    loss_rate: Decimal,
    limit: Decimal,
}

/// The loss test: on a two-sided track, losses at or beyond the MLR (inclusive).
fn loss_test(rules: &RuleSet, s: &Settlement) -> Option<LossTerms> {
    let (Some(mlr), Some(loss_rate), Some(limit), Some(losses)) =
        (s.mlr, s.loss_rate, s.loss_limit, rules.losses)
    else {
        return None;
    };
    (s.gross_savings < Decimal::ZERO && -s.savings_rate >= mlr).then_some(LossTerms {
        rules: losses,
        mlr,
        loss_rate,
        limit,
    })
}

/// Step 6: shared losses = shared loss rate x all losses, then the loss limit, then the extreme and
/// uncontrollable reduction (never below zero).
fn share_losses(
    terms: LossTerms,
    s: &mut Settlement,
    input: &SettlementInput<'_>,
    trace: &mut impl Trace,
) {
    let LossTerms {
        rules: losses,
        mlr,
        loss_rate,
        limit,
    } = terms;
    let loss = -s.gross_savings;
    let shared = loss_rate * loss;
    let limited = shared.min(limit);
    let reduction = match input.extreme_uncontrollable {
        ExtremeUncontrollable::None => Decimal::ZERO,
        ExtremeUncontrollable::Shares {
            months,
            beneficiaries,
        } => limited * months * beneficiaries,
        ExtremeUncontrollable::Amount(a) => a.min(limited),
    };
    s.shared_losses = limited - reduction;
    s.outcome = Outcome::SharedLosses;
    trace.step(|| {
        step(
            "settlement.shared_losses",
            losses.rate_citation,
            "Losses meet the minimum loss rate (inclusive): shared loss rate x all losses",
            &[
                ("losses", &loss),
                ("shared_loss_rate", &loss_rate),
                ("minimum_loss_rate", &mlr),
            ],
            shared,
        )
    });
    trace.step(|| {
        step(
            "settlement.loss_limit",
            losses.limit_citation,
            "Shared losses limited by the loss limit",
            &[("amount", &shared), ("loss_limit", &limit)],
            limited,
        )
    });
    if !reduction.is_zero() {
        trace.step(|| {
            step(
                "settlement.extreme_uncontrollable",
                losses.euc_citation,
                "Shared losses reduced for extreme and uncontrollable circumstances (after the loss limit; never below zero)",
                &[("amount", &limited), ("reduction", &reduction)],
                s.shared_losses,
            )
        });
    }
}

/// The settlement before any sharing: inside the corridor, nothing paid or owed.
fn settled(rules: &RuleSet, m: &Measured, loss_limit: Option<Decimal>) -> Settlement {
    Settlement {
        rule_set: rules.id,
        outcome: Outcome::WithinCorridor,
        updated_benchmark: m.benchmark,
        expenditures: m.expenditures,
        gross_savings: m.gross,
        savings_rate: m.rate,
        msr: m.msr,
        mlr: m.mlr,
        final_sharing_rate: Decimal::ZERO,
        loss_rate: None,
        payment_limit: rules.payment_limit * m.benchmark,
        loss_limit,
        sequestration_rate: Decimal::ZERO,
        shared_savings: Decimal::ZERO,
        shared_losses: Decimal::ZERO,
    }
}

fn corridor(s: &Settlement, trace: &mut impl Trace) {
    trace.step(|| {
        step(
            "settlement.corridor",
            "42 CFR 425.604(c), 425.606(b)-(c), 425.610(b)-(c)",
            if s.mlr.is_some() {
                "Savings rate inside the MSR/MLR corridor: no shared savings or losses"
            } else {
                "Savings rate below the minimum savings rate (one-sided track: losses are not shared)"
            },
            &[("savings_rate", &s.savings_rate), ("minimum_savings_rate", &s.msr)],
            "0",
        )
    });
}

/// Pro-rates a performance year shorter than 12 months (425.609), then rounds.
fn finish(mut s: Settlement, months: u32, trace: &mut impl Trace) -> Settlement {
    if (1..12).contains(&months) {
        let share = Decimal::from(months) / Decimal::from(12);
        let (savings, losses) = (s.shared_savings, s.shared_losses);
        s.shared_savings *= share;
        s.shared_losses *= share;
        trace.step(|| {
            step(
                "settlement.pro_ration",
                "42 CFR 425.609(b)-(c)",
                format!(
                    "Reconciled on the full calendar year; shared savings and losses pro-rated to {months} months of participation"
                ),
                &[("shared_savings", &savings), ("shared_losses", &losses), ("months", &months)],
                format_args!("savings {}, losses {}", s.shared_savings, s.shared_losses),
            )
        });
    }
    let (savings, losses) = (s.shared_savings, s.shared_losses);
    s.shared_savings = round_money(savings);
    s.shared_losses = round_money(losses);
    trace.step(|| {
        step(
            "settlement.rounding",
            "acorn rounding convention (no CMS convention published): cents, half away from zero",
            "Shared savings and shared losses rounded to cents; net amount = savings - losses",
            &[("shared_savings", &savings), ("shared_losses", &losses)],
            s.net_amount(),
        )
    });
    s
}

#[cfg(test)]
mod tests;
