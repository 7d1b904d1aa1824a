//! Rule sets: the parameters of each track, chosen by (agreement start, performance year, track).
//!
//! Every number here is a rule-set parameter with its source beside it. Values the regulation states
//! are cited to their 42 CFR 425 paragraph; values from CMMI model documents that the project could
//! not read in the original are marked `[R]` (see `mssp-rules.md`, section 4.4 and section 5).

use rust_decimal::Decimal;

use super::msr::MsrOption;

/// The track (or BASIC level) an ACO is reconciled under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Track {
    /// Track 1 (425.604), one-sided.
    Track1,
    /// Track 2 (425.606), two-sided.
    Track2,
    /// Track 3 (425.610), two-sided.
    Track3,
    /// Track 1+ Model (CMMI), two-sided, from PY2018 (to PY2021 for extended agreements).
    Track1Plus,
    /// BASIC Level A (425.605), one-sided.
    BasicA,
    /// BASIC Level B, one-sided.
    BasicB,
    /// BASIC Level C, two-sided.
    BasicC,
    /// BASIC Level D, two-sided.
    BasicD,
    /// BASIC Level E, two-sided.
    BasicE,
    /// ENHANCED (425.610), two-sided.
    Enhanced,
    /// Pioneer ACO Model core arrangement (CMMI).
    Pioneer,
}

impl Track {
    /// Every track.
    pub const ALL: [Track; 11] = [
        Track::Track1,
        Track::Track2,
        Track::Track3,
        Track::Track1Plus,
        Track::BasicA,
        Track::BasicB,
        Track::BasicC,
        Track::BasicD,
        Track::BasicE,
        Track::Enhanced,
        Track::Pioneer,
    ];

    /// The proto enum name (`TRACK_1`, `TRACK_BASIC_C`, ...), also used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Track::Track1 => "TRACK_1",
            Track::Track2 => "TRACK_2",
            Track::Track3 => "TRACK_3",
            Track::Track1Plus => "TRACK_1_PLUS",
            Track::BasicA => "TRACK_BASIC_A",
            Track::BasicB => "TRACK_BASIC_B",
            Track::BasicC => "TRACK_BASIC_C",
            Track::BasicD => "TRACK_BASIC_D",
            Track::BasicE => "TRACK_BASIC_E",
            Track::Enhanced => "TRACK_ENHANCED",
            Track::Pioneer => "TRACK_PIONEER",
        }
    }
}

pub use acorn_domain::Date;

const fn frac(value: i64, scale: u32) -> Decimal {
    Decimal::from_parts(value as u32, 0, 0, false, scale)
}

/// How the MSR/MLR is determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsrRule {
    /// Only the variable scale (one-sided tracks: 425.604(b), 425.605(b)(1)).
    VariableOnly,
    /// Only a fixed symmetric 2% (Track 2 agreements starting 2012-2015, 425.606(b)(1)(i)).
    FixedTwoPercent,
    /// The ACO chooses 0/0.5/1/1.5/2% or the variable scale (425.606(b)(1)(ii), 425.610(b)(1),
    /// 425.605(b)(2)); it must say which.
    Choice,
    /// Pioneer: a corridor that is not in 42 CFR 425; a fixed option or a supplied schedule.
    SuppliedCorridor,
}

/// How the shared loss rate is determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossRate {
    /// 1 - (max sharing rate x quality), bounded (425.606(f), 425.610(f)).
    OneMinusSharing {
        /// Lowest loss rate.
        floor: Decimal,
        /// Highest loss rate (also the rate when the quality standard is not met, PY2021+).
        ceiling: Decimal,
    },
    /// A fixed rate (BASIC C-E 425.605(d)(1)(iii)-(v); Track 1+).
    Fixed(Decimal),
}

/// How the loss limit is determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossLimit {
    /// A share of the updated benchmark, by the performance year's index in the agreement
    /// (the last entry applies to later years).
    BenchmarkByAgreementYear(&'static [Decimal]),
    /// min(revenue share x ACO participants' A+B FFS revenue, benchmark share x updated benchmark).
    /// Without revenue, only the benchmark-based limit applies (`revenue_required` says whether
    /// revenue must be supplied).
    RevenueCappedByBenchmark {
        /// Share of participant revenue.
        revenue: Decimal,
        /// Share of the updated benchmark.
        benchmark: Decimal,
        /// Whether the revenue must be supplied.
        revenue_required: bool,
    },
}

/// Two-sided parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LossRules {
    /// Shared loss rate.
    pub rate: LossRate,
    /// Loss limit.
    pub limit: LossLimit,
    /// Citation of the loss rate.
    pub rate_citation: &'static str,
    /// Citation of the loss limit.
    pub limit_citation: &'static str,
    /// Citation of the extreme and uncontrollable circumstances reduction.
    pub euc_citation: &'static str,
}

/// The parameters of one track in one era.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSet {
    /// Stable identifier, e.g. `mssp-track-2-2012`.
    pub id: &'static str,
    /// The track.
    pub track: Track,
    /// Maximum sharing rate (before quality).
    pub max_sharing_rate: Decimal,
    /// Payment limit, share of the updated benchmark.
    pub payment_limit: Decimal,
    /// MSR/MLR rule.
    pub msr: MsrRule,
    /// Two-sided parameters (`None` = one-sided).
    pub losses: Option<LossRules>,
    /// Citation of the savings test (MSR met, first-dollar sharing).
    pub savings_citation: &'static str,
    /// Citation of the MSR/MLR.
    pub msr_citation: &'static str,
    /// Citation of the sharing rate.
    pub sharing_citation: &'static str,
    /// Citation of the payment limit.
    pub payment_limit_citation: &'static str,
}

impl RuleSet {
    /// True for two-sided tracks.
    pub fn two_sided(&self) -> bool {
        self.losses.is_some()
    }
}

/// Track 2 loss limit by performance year of the agreement: 5%, 7.5%, then 10% (425.606(g)).
const TRACK_2_LOSS_LIMITS: [Decimal; 3] = [frac(5, 2), frac(75, 3), frac(10, 2)];
const TRACK_3_LOSS_LIMIT: [Decimal; 1] = [frac(15, 2)];
/// Pioneer core arrangement: PY1 10%, PY2 15% of the benchmark [S: mssp-rules.md section 5].
const PIONEER_LIMITS: [Decimal; 2] = [frac(10, 2), frac(15, 2)];

const TRACK_1: RuleSet = RuleSet {
    id: "mssp-track-1",
    track: Track::Track1,
    max_sharing_rate: frac(50, 2),
    payment_limit: frac(10, 2),
    msr: MsrRule::VariableOnly,
    losses: None,
    savings_citation: "42 CFR 425.604(a)(7), (c), (e)(1)",
    msr_citation: "42 CFR 425.604(b)",
    sharing_citation: "42 CFR 425.604(d)",
    payment_limit_citation: "42 CFR 425.604(e)(2)",
};

const TRACK_2_LOSSES: LossRules = LossRules {
    rate: LossRate::OneMinusSharing {
        floor: frac(40, 2),
        ceiling: frac(60, 2),
    },
    limit: LossLimit::BenchmarkByAgreementYear(&TRACK_2_LOSS_LIMITS),
    rate_citation: "42 CFR 425.606(f)",
    limit_citation: "42 CFR 425.606(g)",
    euc_citation: "42 CFR 425.606(i)",
};

const TRACK_2: RuleSet = RuleSet {
    id: "mssp-track-2",
    track: Track::Track2,
    max_sharing_rate: frac(60, 2),
    payment_limit: frac(15, 2),
    msr: MsrRule::Choice,
    losses: Some(TRACK_2_LOSSES),
    savings_citation: "42 CFR 425.606(b)(2), (d)",
    msr_citation: "42 CFR 425.606(b)(1)(ii)",
    sharing_citation: "42 CFR 425.606(d)",
    payment_limit_citation: "42 CFR 425.606(e)",
};

const TRACK_2_BEFORE_2016: RuleSet = RuleSet {
    id: "mssp-track-2-2012",
    msr: MsrRule::FixedTwoPercent,
    msr_citation: "42 CFR 425.606(b)(1)(i)",
    ..TRACK_2
};

const TRACK_3_LOSSES: LossRules = LossRules {
    rate: LossRate::OneMinusSharing {
        floor: frac(40, 2),
        ceiling: frac(75, 2),
    },
    limit: LossLimit::BenchmarkByAgreementYear(&TRACK_3_LOSS_LIMIT),
    rate_citation: "42 CFR 425.610(f)",
    limit_citation: "42 CFR 425.610(g)",
    euc_citation: "42 CFR 425.610(i)",
};

const TRACK_3: RuleSet = RuleSet {
    id: "mssp-track-3",
    track: Track::Track3,
    max_sharing_rate: frac(75, 2),
    payment_limit: frac(20, 2),
    msr: MsrRule::Choice,
    losses: Some(TRACK_3_LOSSES),
    savings_citation: "42 CFR 425.610(b)(2), (d)",
    msr_citation: "42 CFR 425.610(b)(1)",
    sharing_citation: "42 CFR 425.610(d)",
    payment_limit_citation: "42 CFR 425.610(e)",
};

const ENHANCED: RuleSet = RuleSet {
    id: "mssp-enhanced",
    track: Track::Enhanced,
    ..TRACK_3
};

/// Track 1+ Model: 50% sharing, 10% payment limit, fixed 30% loss rate; loss limit 8% of participant
/// revenue capped at 4% of the benchmark, or 4% of the benchmark for ACOs under the
/// benchmark-based limit [S S11 for 50%/30%; R for the limits].
const TRACK_1_PLUS: RuleSet = RuleSet {
    id: "cmmi-track-1-plus",
    track: Track::Track1Plus,
    max_sharing_rate: frac(50, 2),
    payment_limit: frac(10, 2),
    msr: MsrRule::Choice,
    losses: Some(LossRules {
        rate: LossRate::Fixed(frac(30, 2)),
        limit: LossLimit::RevenueCappedByBenchmark {
            revenue: frac(8, 2),
            benchmark: frac(4, 2),
            revenue_required: false,
        },
        rate_citation: "Track 1+ Model participation agreement (CMMI) [R]",
        limit_citation: "Track 1+ Model participation agreement (CMMI) [R]",
        euc_citation: "Track 1+ Model participation agreement, as 42 CFR 425.606(i) [R]",
    }),
    savings_citation: "Track 1+ Model participation agreement (CMMI), as 42 CFR 425.604(c)",
    msr_citation: "Track 1+ Model participation agreement (CMMI), as 42 CFR 425.606(b)(1)(ii)",
    sharing_citation: "Track 1+ Model participation agreement (CMMI) [S]",
    payment_limit_citation: "Track 1+ Model participation agreement (CMMI) [R]",
};

const BASIC_A: RuleSet = RuleSet {
    id: "mssp-basic-a",
    track: Track::BasicA,
    max_sharing_rate: frac(40, 2),
    payment_limit: frac(10, 2),
    msr: MsrRule::VariableOnly,
    losses: None,
    savings_citation: "42 CFR 425.605(b)(3), (d)(1)(i)(B)(1)",
    msr_citation: "42 CFR 425.605(b)(1)",
    sharing_citation: "42 CFR 425.605(d)(1)(i)(A)",
    payment_limit_citation: "42 CFR 425.605(d)(1)(i)(C)",
};

const BASIC_B: RuleSet = RuleSet {
    id: "mssp-basic-b",
    track: Track::BasicB,
    sharing_citation: "42 CFR 425.605(d)(1)(ii)(A)",
    payment_limit_citation: "42 CFR 425.605(d)(1)(ii)(C)",
    ..BASIC_A
};

const fn basic_two_sided(
    id: &'static str,
    track: Track,
    revenue: Decimal,
    benchmark: Decimal,
    paragraph: &'static str,
) -> RuleSet {
    RuleSet {
        id,
        track,
        max_sharing_rate: frac(50, 2),
        payment_limit: frac(10, 2),
        msr: MsrRule::Choice,
        losses: Some(LossRules {
            rate: LossRate::Fixed(frac(30, 2)),
            limit: LossLimit::RevenueCappedByBenchmark {
                revenue,
                benchmark,
                revenue_required: true,
            },
            rate_citation: paragraph,
            limit_citation: paragraph,
            euc_citation: "42 CFR 425.605(f)",
        }),
        savings_citation: "42 CFR 425.605(b)(3)-(4)",
        msr_citation: "42 CFR 425.605(b)(2)",
        sharing_citation: paragraph,
        payment_limit_citation: paragraph,
    }
}

/// Level C: loss limit 2% of revenue, at most 1% of the benchmark (425.605(d)(1)(iii)).
const BASIC_C: RuleSet = basic_two_sided(
    "mssp-basic-c",
    Track::BasicC,
    frac(2, 2),
    frac(1, 2),
    "42 CFR 425.605(d)(1)(iii)",
);
/// Level D: 4% of revenue, at most 2% of the benchmark (425.605(d)(1)(iv)).
const BASIC_D: RuleSet = basic_two_sided(
    "mssp-basic-d",
    Track::BasicD,
    frac(4, 2),
    frac(2, 2),
    "42 CFR 425.605(d)(1)(iv)",
);
/// Level E: the 42 CFR 414.1415(c)(3)(i)(A) revenue share (8% for QP performance periods 2017-2024),
/// at most the (c)(3)(i)(B) benchmark share + 1 point = 4% (425.605(d)(1)(v)).
const BASIC_E: RuleSet = basic_two_sided(
    "mssp-basic-e",
    Track::BasicE,
    frac(8, 2),
    frac(4, 2),
    "42 CFR 425.605(d)(1)(v)",
);

/// Pioneer core arrangement: PY1 up to 60% sharing of savings and losses with a 10% limit, PY2 70%
/// with 15% [S lexology; mssp-rules.md section 5]. The shared loss rate equals the maximum sharing
/// rate [R].
const fn pioneer(id: &'static str, rate: Decimal, limit: Decimal) -> RuleSet {
    const CITE: &str = "Pioneer ACO Model core arrangement (CMMI) [S]";
    RuleSet {
        id,
        track: Track::Pioneer,
        max_sharing_rate: rate,
        payment_limit: limit,
        msr: MsrRule::SuppliedCorridor,
        losses: Some(LossRules {
            rate: LossRate::Fixed(rate),
            limit: LossLimit::BenchmarkByAgreementYear(&PIONEER_LIMITS),
            rate_citation: CITE,
            limit_citation: CITE,
            euc_citation: CITE,
        }),
        savings_citation: CITE,
        msr_citation: "Pioneer ACO Model (CMMI): corridor by size, not in 42 CFR 425 [R]",
        sharing_citation: CITE,
        payment_limit_citation: CITE,
    }
}
const PIONEER_PY1: RuleSet = pioneer("cmmi-pioneer-py1", frac(60, 2), frac(10, 2));
const PIONEER_PY2: RuleSet = pioneer("cmmi-pioneer-py2", frac(70, 2), frac(15, 2));

/// Why no rule set applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No agreement period starts on that date (42 CFR 425.200(b); Pioneer: 2012-01-01).
    #[error(
        "no agreement period starts on {start}: MSSP agreements start 2012-04-01, 2012-07-01, 2019-07-01 or January 1 of 2013 onwards (42 CFR 425.200(b)); Pioneer agreements 2012-01-01"
    )]
    NotAnAgreementStart {
        /// Agreement start.
        start: Date,
    },
    /// The track was not offered for agreements starting on that date.
    #[error("{track} is not offered for agreement periods starting {start}")]
    TrackNotOffered {
        /// Track name.
        track: &'static str,
        /// Agreement start.
        start: Date,
    },
    /// The performance year is outside the track's or agreement's years.
    #[error(
        "{track} has no performance year {performance_year} for an agreement starting {start}: its performance years are {first}-{last} ({citation})"
    )]
    PerformanceYearOutOfRange {
        /// Track name.
        track: &'static str,
        /// Performance year.
        performance_year: i32,
        /// Agreement start.
        start: Date,
        /// First performance year the track has in that agreement.
        first: i32,
        /// Last performance year the track has in that agreement (with any extension).
        last: i32,
        /// Where the years come from.
        citation: &'static str,
    },
    /// The performance year is in the term, but its terms are not modelled.
    #[error(
        "{track} performance year {performance_year} (year {year} of the model) is not modelled: {why}"
    )]
    NotModelled {
        /// Track name.
        track: &'static str,
        /// Performance year.
        performance_year: i32,
        /// Index of the year in the agreement.
        year: u32,
        /// What is missing.
        why: &'static str,
    },
}

/// Which agreement start dates a row of the agreement-term table covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starts {
    /// Exactly this date.
    On(Date),
    /// January 1 of every year from `first` through `last`.
    JanuaryOf {
        /// First year.
        first: i32,
        /// Last year (`i32::MAX` = and later).
        last: i32,
    },
}

impl Starts {
    fn contains(self, start: Date) -> bool {
        match self {
            Starts::On(d) => d == start,
            Starts::JanuaryOf { first, last } => {
                start.month() == 1 && start.day() == 1 && (first..=last).contains(&start.year())
            }
        }
    }
}

/// An optional last performance year an ACO may elect at the end of its term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermExtension {
    /// The only track that may elect it (`None` = every track).
    pub only: Option<Track>,
    /// Months of the extra performance year.
    pub months: u32,
    /// Where it comes from.
    pub citation: &'static str,
}

/// The program an agreement belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// The Shared Savings Program (42 CFR 425), including the Track 1+ Model layered on it.
    Mssp,
    /// The Pioneer ACO Model (CMMI), outside 42 CFR 425.
    Pioneer,
}

/// One row of the agreement-term table: the performance years of an agreement period by its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgreementTerm {
    /// The program.
    pub program: Program,
    /// The agreement start dates the row covers.
    pub starts: Starts,
    /// Calendar year of the first performance year minus the start year (1 for the 2012 MSSP
    /// starters, whose first performance year ended 2013-12-31; else 0).
    pub first_year_offset: i32,
    /// Performance years in the term, before any extension.
    pub years: u32,
    /// Months of the first performance year (21 or 18 for the 2012 starters, 6 for 2019-07-01).
    pub first_year_months: u32,
    /// An optional extra performance year.
    pub extension: Option<TermExtension>,
    /// Where the term comes from.
    pub citation: &'static str,
}

const fn term(
    program: Program,
    starts: Starts,
    years: u32,
    citation: &'static str,
) -> AgreementTerm {
    AgreementTerm {
        program,
        starts,
        first_year_offset: 0,
        years,
        first_year_months: 12,
        extension: None,
        citation,
    }
}

const fn january(first: i32, last: i32) -> Starts {
    Starts::JanuaryOf { first, last }
}

/// The agreement-term table, 42 CFR 425.200 paragraph by paragraph (as amended through 85 FR 27625,
/// May 8, 2020, and 85 FR 85038, Dec. 28, 2020), and the Pioneer ACO Model's own term.
///
/// | start | performance years | paragraph |
/// |---|---|---|
/// | 2012-04-01 | 2013 (21 months from 2012-04-01), 2014, 2015 | 425.200(b)(1)(i), (c)(1) |
/// | 2012-07-01 | 2013 (18 months from 2012-07-01), 2014, 2015 | 425.200(b)(1)(ii), (c)(1) |
/// | 2013-01-01 | 2013-2015 | 425.200(b)(2) |
/// | 2014-01-01, 2015-01-01 | 3 years; Track 1 may add a 4th (2017, 2018) deferring renewal | 425.200(b)(2), (b)(3)(ii)(A), (e) |
/// | 2016-01-01 | 2016-2018, optional 6-month PY2019 (2019-01-01 to 06-30) | 425.200(b)(2)(ii), (c)(2) |
/// | 2017-01-01 | 2017-2019 | 425.200(b)(3) |
/// | 2018-01-01 | 2018-2020, optional PY2021 (COVID-19 extension) | 425.200(b)(3)(ii)(B) |
/// | 2019-01-01 | 2019-2021 | 425.200(b)(4)(i) |
/// | 2019-07-01 | 2019 (6 months from 2019-07-01), 2020-2024 | 425.200(b)(4)(ii), (c)(3) |
/// | January 1, 2020 and later | 5 years | 425.200(b)(5) |
/// | Pioneer 2012-01-01 | 2012-2016, January-December | Pioneer ACO Model (CMMI) [V innovation.cms.gov] |
///
/// Optional years are accepted when asked for: reconciling one implies the ACO elected it.
pub const AGREEMENT_TERMS: [AgreementTerm; 11] = [
    AgreementTerm {
        first_year_offset: 1,
        first_year_months: 21,
        ..term(
            Program::Mssp,
            Starts::On(Date::constant(2012, 4, 1)),
            3,
            "42 CFR 425.200(b)(1)(i), (c)(1)",
        )
    },
    AgreementTerm {
        first_year_offset: 1,
        first_year_months: 18,
        ..term(
            Program::Mssp,
            Starts::On(Date::constant(2012, 7, 1)),
            3,
            "42 CFR 425.200(b)(1)(ii), (c)(1)",
        )
    },
    term(
        Program::Mssp,
        january(2013, 2013),
        3,
        "42 CFR 425.200(b)(2)",
    ),
    AgreementTerm {
        extension: Some(TermExtension {
            only: Some(Track::Track1),
            months: 12,
            citation: "42 CFR 425.200(b)(3)(ii)(A), (e): optional fourth year of a first Track 1 agreement",
        }),
        ..term(
            Program::Mssp,
            january(2014, 2015),
            3,
            "42 CFR 425.200(b)(2)",
        )
    },
    AgreementTerm {
        extension: Some(TermExtension {
            only: None,
            months: 6,
            citation: "42 CFR 425.200(b)(2)(ii), (c)(2): optional 6-month performance year 2019-01-01 to 2019-06-30",
        }),
        ..term(
            Program::Mssp,
            january(2016, 2016),
            3,
            "42 CFR 425.200(b)(2)",
        )
    },
    term(
        Program::Mssp,
        january(2017, 2017),
        3,
        "42 CFR 425.200(b)(3)",
    ),
    AgreementTerm {
        extension: Some(TermExtension {
            only: None,
            months: 12,
            citation: "42 CFR 425.200(b)(3)(ii)(B): optional fourth performance year to 2021-12-31 (COVID-19 extension, 85 FR 27625)",
        }),
        ..term(
            Program::Mssp,
            january(2018, 2018),
            3,
            "42 CFR 425.200(b)(3)",
        )
    },
    term(
        Program::Mssp,
        Starts::On(Date::constant(2019, 1, 1)),
        3,
        "42 CFR 425.200(b)(4)(i)",
    ),
    AgreementTerm {
        first_year_months: 6,
        ..term(
            Program::Mssp,
            Starts::On(PATHWAYS_START),
            6,
            "42 CFR 425.200(b)(4)(ii), (c)(3)",
        )
    },
    term(
        Program::Mssp,
        january(2020, i32::MAX),
        5,
        "42 CFR 425.200(b)(5)",
    ),
    term(
        Program::Pioneer,
        Starts::On(PIONEER_START),
        5,
        "Pioneer ACO Model (CMMI): performance years 2012-2016, January-December [V innovation.cms.gov]",
    ),
];

/// Where a performance year falls in its agreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermYear {
    /// Index of the performance year in the agreement (1-based).
    pub index: u32,
    /// Months of the performance year (6 for the 2019 six-month years; 21 or 18 for the 2012
    /// starters' first year, which is reconciled whole).
    pub months: u32,
    /// First performance year of the agreement.
    pub first: i32,
    /// Last performance year of the agreement for this track (with any extension).
    pub last: i32,
    /// The row of [`AGREEMENT_TERMS`] (and extension) that places it.
    pub citation: &'static str,
}

fn program(track: Track) -> Program {
    match track {
        Track::Pioneer => Program::Pioneer,
        _ => Program::Mssp,
    }
}

/// Places performance year `py` in the agreement of `track` starting `start` ([`AGREEMENT_TERMS`]).
pub fn agreement_year(track: Track, start: Date, py: i32) -> Result<TermYear, SelectError> {
    let Some(row) = AGREEMENT_TERMS
        .iter()
        .find(|t| t.program == program(track) && t.starts.contains(start))
    else {
        return Err(
            if AGREEMENT_TERMS.iter().any(|t| t.starts.contains(start)) {
                SelectError::TrackNotOffered {
                    track: track.name(),
                    start,
                }
            } else {
                SelectError::NotAnAgreementStart { start }
            },
        );
    };
    let first = start.year().saturating_add(row.first_year_offset);
    let years = i32::try_from(row.years).unwrap_or(i32::MAX);
    let last = first.saturating_add(years - 1);
    let extension = row.extension.filter(|e| e.only.is_none_or(|t| t == track));
    let last_with_extension = last.saturating_add(i32::from(extension.is_some()));
    if py < first || py > last_with_extension {
        return Err(SelectError::PerformanceYearOutOfRange {
            track: track.name(),
            performance_year: py,
            start,
            first,
            last: last_with_extension,
            citation: row.citation,
        });
    }
    let index = u32::try_from(py - first + 1).unwrap_or(1);
    Ok(match extension {
        Some(e) if py > last => TermYear {
            index,
            months: e.months,
            first,
            last: last_with_extension,
            citation: e.citation,
        },
        _ => TermYear {
            index,
            months: if py == first {
                row.first_year_months
            } else {
                12
            },
            first,
            last: last_with_extension,
            citation: row.citation,
        },
    })
}

const PATHWAYS_START: Date = Date::constant(2019, 7, 1);
const LAST_PRE_PATHWAYS_START: Date = Date::constant(2019, 1, 1);
const PIONEER_START: Date = Date::constant(2012, 1, 1);
/// The Track 1+ Model's first performance year [S S11].
const TRACK_1_PLUS_FIRST_YEAR: i32 = 2018;

/// Selects the rule set of `track` for an agreement starting `start` and performance year `py`.
///
/// The performance year must lie in the agreement's term ([`AGREEMENT_TERMS`], 42 CFR 425.200) for
/// every track. Track windows by agreement start: Tracks 1-2 before 2019-07-01 (425.600(a)(1)-(2)),
/// Track 3 from 2016-01-01 to 2019-01-01 (425.610, added by the 2015 rule for 2016 starts); BASIC and
/// ENHANCED from 2019-07-01 (425.600(a)(3)-(4)); Track 1+ Model for agreements starting 2016-01-01 to
/// 2019-01-01, from PY2018 to the end of the agreement (so PY2021 for the extended 2018 starters and
/// the 2019-01-01 starters) [S]. Pioneer: the core arrangement's PY1 (2012) and PY2 (2013); its PY3-PY5
/// (2014-2016, with population-based payments for some ACOs) are in the model's term but not
/// modelled: [`SelectError::NotModelled`].
pub fn select(track: Track, start: Date, py: i32) -> Result<&'static RuleSet, SelectError> {
    let year = agreement_year(track, start, py)?;
    let not_offered = || SelectError::TrackNotOffered {
        track: track.name(),
        start,
    };
    let pre_pathways = start <= LAST_PRE_PATHWAYS_START;
    let rules = match track {
        Track::Track1 if pre_pathways => &TRACK_1,
        Track::Track2 if pre_pathways && start.year() < 2016 => &TRACK_2_BEFORE_2016,
        Track::Track2 if pre_pathways => &TRACK_2,
        Track::Track3 if pre_pathways && start.year() >= 2016 => &TRACK_3,
        Track::Track1Plus if pre_pathways && start.year() >= 2016 => {
            if py < TRACK_1_PLUS_FIRST_YEAR {
                return Err(SelectError::PerformanceYearOutOfRange {
                    track: track.name(),
                    performance_year: py,
                    start,
                    first: TRACK_1_PLUS_FIRST_YEAR,
                    last: year.last,
                    citation: "Track 1+ Model (CMMI): from performance year 2018 [S]",
                });
            }
            &TRACK_1_PLUS
        }
        Track::BasicA
        | Track::BasicB
        | Track::BasicC
        | Track::BasicD
        | Track::BasicE
        | Track::Enhanced
            if start >= PATHWAYS_START =>
        {
            match track {
                Track::BasicA => &BASIC_A,
                Track::BasicB => &BASIC_B,
                Track::BasicC => &BASIC_C,
                Track::BasicD => &BASIC_D,
                Track::BasicE => &BASIC_E,
                _ => &ENHANCED,
            }
        }
        Track::Pioneer => match year.index {
            1 => &PIONEER_PY1,
            2 => &PIONEER_PY2,
            index => {
                return Err(SelectError::NotModelled {
                    track: track.name(),
                    performance_year: py,
                    year: index,
                    why: "only the Pioneer core arrangement of PY1-PY2 (2012-2013) is modelled; its PY3-PY5 terms (population-based payments) were not available",
                });
            }
        },
        _ => return Err(not_offered()),
    };
    Ok(rules)
}

/// The payment-year sequestration rate for a performance year's shared savings: 2% under the Budget
/// Control Act, suspended for payments made 2020-05-01 to 2022-03-31 (the PY2019 and PY2020 payments).
/// Shared losses are never sequestered. [R; reproduces the PY2014 and PY2018 Public Use Files]
pub fn sequestration_rate(py: i32) -> Decimal {
    match py {
        2019 | 2020 => Decimal::ZERO,
        _ => frac(2, 2),
    }
}

/// The default MSR option of a rule set, or `None` when the ACO must choose.
pub fn default_msr_option(rules: &RuleSet) -> Option<MsrOption> {
    match rules.msr {
        MsrRule::VariableOnly => Some(MsrOption::Variable),
        MsrRule::FixedTwoPercent => Some(MsrOption::Fixed(frac(2, 2))),
        MsrRule::Choice | MsrRule::SuppliedCorridor => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn selects_by_agreement_start_and_year() {
        let d = Date::constant;
        assert_eq!(
            select(Track::Track1, d(2012, 7, 1), 2014).map(|r| r.id),
            Ok("mssp-track-1")
        );
        assert_eq!(
            select(Track::Track2, d(2013, 1, 1), 2014).map(|r| r.id),
            Ok("mssp-track-2-2012")
        );
        assert_eq!(
            select(Track::Track2, d(2016, 1, 1), 2018).map(|r| r.id),
            Ok("mssp-track-2")
        );
        assert_eq!(
            select(Track::Track3, d(2018, 1, 1), 2018).map(|r| r.id),
            Ok("mssp-track-3")
        );
        assert_eq!(
            select(Track::BasicE, d(2024, 1, 1), 2025).map(|r| r.id),
            Ok("mssp-basic-e")
        );
        assert_eq!(
            select(Track::Pioneer, d(2012, 1, 1), 2013).map(|r| r.id),
            Ok("cmmi-pioneer-py2")
        );
        assert!(matches!(
            select(Track::Track3, d(2015, 1, 1), 2015),
            Err(SelectError::TrackNotOffered { .. })
        ));
        assert!(matches!(
            select(Track::BasicA, d(2019, 1, 1), 2019),
            Err(SelectError::TrackNotOffered { .. })
        ));
        assert!(matches!(
            select(Track::Track1, d(2012, 1, 1), 2012),
            Err(SelectError::TrackNotOffered { .. })
        ));
        assert!(matches!(
            select(Track::Pioneer, d(2012, 7, 1), 2013),
            Err(SelectError::TrackNotOffered { .. })
        ));
        assert!(matches!(
            select(Track::Track1, d(2012, 7, 1), 2011),
            Err(SelectError::PerformanceYearOutOfRange { .. })
        ));
        assert!(matches!(
            select(Track::Track1Plus, d(2016, 1, 1), 2017),
            Err(SelectError::PerformanceYearOutOfRange { first: 2018, .. })
        ));
        // Pioneer PY3-PY5 are in the model's term but not modelled.
        assert!(matches!(
            select(Track::Pioneer, d(2012, 1, 1), 2014),
            Err(SelectError::NotModelled { year: 3, .. })
        ));
        assert!(matches!(
            select(Track::Pioneer, d(2012, 1, 1), 2017),
            Err(SelectError::PerformanceYearOutOfRange { last: 2016, .. })
        ));
        assert_eq!(
            select(Track::Track1, d(2016, 3, 1), 2016),
            Err(SelectError::NotAnAgreementStart {
                start: d(2016, 3, 1)
            })
        );
    }

    /// The agreement-term table, row by row: (track, start, performance year) -> (index, months), or
    /// the last performance year of the term when the year is outside it. 42 CFR 425.200.
    #[test]
    fn agreement_terms_by_paragraph() {
        let d = Date::constant;
        let ok = |index, months| Ok((index, months));
        let ends = |last| Err(last);
        // Ok((index, months)) inside the term, Err(last performance year) outside it.
        type Expected = Result<(u32, u32), i32>;
        let cases: [(Track, Date, i32, Expected); 30] = [
            // (b)(1)(i), (c)(1): 21-month first year, labelled 2013; three performance years.
            (Track::Track1, d(2012, 4, 1), 2012, ends(2015)),
            (Track::Track1, d(2012, 4, 1), 2013, ok(1, 21)),
            (Track::Track2, d(2012, 4, 1), 2015, ok(3, 12)),
            (Track::Track1, d(2012, 4, 1), 2016, ends(2015)),
            // (b)(1)(ii), (c)(1): 18 months.
            (Track::Track1, d(2012, 7, 1), 2013, ok(1, 18)),
            // (b)(2): 3 years.
            (Track::Track1, d(2013, 1, 1), 2015, ok(3, 12)),
            (Track::Track1, d(2013, 1, 1), 2016, ends(2015)),
            // (b)(3)(ii)(A), (e): a first Track 1 agreement from 2014 or 2015 may add a 4th year.
            (Track::Track1, d(2014, 1, 1), 2017, ok(4, 12)),
            (Track::Track1, d(2015, 1, 1), 2018, ok(4, 12)),
            (Track::Track1, d(2015, 1, 1), 2019, ends(2018)),
            (Track::Track2, d(2015, 1, 1), 2018, ends(2017)),
            // (b)(2)(ii), (c)(2): 2016 starters' optional 6-month PY2019, for every track.
            (Track::Track1, d(2016, 1, 1), 2018, ok(3, 12)),
            (Track::Track1, d(2016, 1, 1), 2019, ok(4, 6)),
            (Track::Track3, d(2016, 1, 1), 2019, ok(4, 6)),
            (Track::Track1Plus, d(2016, 1, 1), 2019, ok(4, 6)),
            (Track::Track1, d(2016, 1, 1), 2020, ends(2019)),
            // (b)(3): 2017 starters, 3 years.
            (Track::Track1, d(2017, 1, 1), 2019, ok(3, 12)),
            (Track::Track1, d(2017, 1, 1), 2020, ends(2019)),
            // (b)(3)(ii)(B): 2018 starters' COVID-19 extension through 2021.
            (Track::Track1Plus, d(2018, 1, 1), 2021, ok(4, 12)),
            (Track::Track1, d(2018, 1, 1), 2021, ok(4, 12)),
            (Track::Track1, d(2018, 1, 1), 2022, ends(2021)),
            // (b)(4)(i): 2019-01-01 starters, 3 years.
            (Track::Track1Plus, d(2019, 1, 1), 2021, ok(3, 12)),
            (Track::Track1Plus, d(2019, 1, 1), 2022, ends(2021)),
            // (b)(4)(ii), (c)(3): 5 years 6 months, the first 6 months long.
            (Track::BasicA, d(2019, 7, 1), 2019, ok(1, 6)),
            (Track::Enhanced, d(2019, 7, 1), 2024, ok(6, 12)),
            (Track::Enhanced, d(2019, 7, 1), 2025, ends(2024)),
            // (b)(5): 5 years.
            (Track::BasicE, d(2020, 1, 1), 2024, ok(5, 12)),
            (Track::BasicE, d(2020, 1, 1), 2025, ends(2024)),
            // Pioneer: calendar years 2012-2016; PY2013 is its second year.
            (Track::Pioneer, d(2012, 1, 1), 2013, ok(2, 12)),
            (Track::Pioneer, d(2012, 1, 1), 2016, ok(5, 12)),
        ];
        for (track, start, py, expected) in cases {
            let got = match agreement_year(track, start, py) {
                Ok(t) => Ok((t.index, t.months)),
                Err(SelectError::PerformanceYearOutOfRange { last, .. }) => Err(last),
                Err(e) => panic!("{track:?} {start} {py}: {e}"),
            };
            assert_eq!(got, expected, "{track:?} {start} PY{py}");
        }
        // Every row is cited to its paragraph.
        assert!(
            AGREEMENT_TERMS
                .iter()
                .all(|t| t.citation.contains("425.200") || t.program == Program::Pioneer)
        );
    }

    /// Track 1+ in PY2021: the extended 2018 starters and the 2019-01-01 starters (the PY2021 results
    /// list 17 Track 1+ ACOs); Track 1 with a 2016 start is refused in PY2020, whose term had ended.
    #[test]
    fn every_track_is_held_to_its_agreement_term() {
        let d = Date::constant;
        assert_eq!(
            select(Track::Track1Plus, d(2018, 1, 1), 2021).map(|r| r.id),
            Ok("cmmi-track-1-plus")
        );
        assert_eq!(
            select(Track::Track1Plus, d(2019, 1, 1), 2021).map(|r| r.id),
            Ok("cmmi-track-1-plus")
        );
        let err = select(Track::Track1, d(2016, 1, 1), 2020).expect_err("term ended");
        assert_eq!(
            err.to_string(),
            "TRACK_1 has no performance year 2020 for an agreement starting 2016-01-01: its performance years are 2016-2019 (42 CFR 425.200(b)(2))"
        );
        assert!(select(Track::BasicC, d(2020, 1, 1), 2025).is_err());
    }

    /// Track parameters of mssp-rules.md section 4.4, one row per track.
    #[test]
    fn track_parameters() {
        let d = Date::constant(2019, 7, 1);
        let cases = [
            (Track::BasicA, dec!(0.40), dec!(0.10)),
            (Track::BasicB, dec!(0.40), dec!(0.10)),
            (Track::BasicC, dec!(0.50), dec!(0.10)),
            (Track::BasicD, dec!(0.50), dec!(0.10)),
            (Track::BasicE, dec!(0.50), dec!(0.10)),
            (Track::Enhanced, dec!(0.75), dec!(0.20)),
        ];
        for (track, share, cap) in cases {
            let r = select(track, d, 2020).expect("offered");
            assert_eq!(
                (r.max_sharing_rate, r.payment_limit),
                (share, cap),
                "{track:?}"
            );
        }
        let t = Date::constant(2016, 1, 1);
        let one = select(Track::Track1, t, 2017).expect("offered");
        assert_eq!(
            (one.max_sharing_rate, one.payment_limit, one.two_sided()),
            (dec!(0.5), dec!(0.1), false)
        );
        let two = select(Track::Track2, t, 2017).expect("offered");
        assert_eq!(
            (two.max_sharing_rate, two.payment_limit),
            (dec!(0.6), dec!(0.15))
        );
        let three = select(Track::Track3, t, 2017).expect("offered");
        assert_eq!(
            (three.max_sharing_rate, three.payment_limit),
            (dec!(0.75), dec!(0.2))
        );
    }

    #[test]
    fn agreement_years() {
        let year = |t, start, py| agreement_year(t, start, py).map(|y| y.index);
        assert_eq!(year(Track::Track2, Date::constant(2012, 4, 1), 2013), Ok(1));
        assert_eq!(year(Track::Track2, Date::constant(2012, 4, 1), 2015), Ok(3));
        assert_eq!(year(Track::Track2, Date::constant(2016, 1, 1), 2018), Ok(3));
        assert_eq!(year(Track::BasicA, Date::constant(2019, 7, 1), 2019), Ok(1));
        assert_eq!(year(Track::BasicA, Date::constant(2019, 7, 1), 2020), Ok(2));
        // Pioneer's years ran January-December from 2012: PY2013 is its year 2 (not MSSP's
        // 425.200(c)(1) rule for the April/July 2012 starters).
        assert_eq!(
            year(Track::Pioneer, Date::constant(2012, 1, 1), 2012),
            Ok(1)
        );
        assert_eq!(
            year(Track::Pioneer, Date::constant(2012, 1, 1), 2013),
            Ok(2)
        );
    }

    #[test]
    fn sequestration_by_payment_year() {
        assert_eq!(sequestration_rate(2014), dec!(0.02));
        assert_eq!(sequestration_rate(2018), dec!(0.02));
        assert_eq!(sequestration_rate(2019), dec!(0));
        assert_eq!(sequestration_rate(2020), dec!(0));
        assert_eq!(sequestration_rate(2021), dec!(0.02));
    }
}
