//! The engine's inputs named in domain terms, and the range each is accepted in.
//!
//! An error names the [`Input`] it is about (which benchmark year, which enrollment type, which
//! quantity); a service maps it to the field path of its own contract. Each range is defined once,
//! here: the engine refuses a value outside it whoever calls it (a service, the simulator), and a
//! service validating a request at its edge uses the same [`Range`] so that it reports every
//! problem of a request at once, under its own field names.

use rust_decimal::Decimal;

use super::EnrollmentType;

/// The range a value is accepted in, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Smallest accepted value.
    pub min: Decimal,
    /// Largest accepted value.
    pub max: Decimal,
    /// Why a value outside is refused (e.g. `must be between 0.01 and 100`).
    pub reason: &'static str,
}

impl Range {
    /// Whether `value` is accepted.
    pub fn contains(&self, value: Decimal) -> bool {
        value >= self.min && value <= self.max
    }
}

/// Largest amount accepted (dollars per capita, dollars of adjustment). With the bounds below, the
/// largest possible total (per capita x risk ratios x factors x person-years, about 10^28, the
/// 425.655 cap factor included) stays inside `Decimal`'s range, so no accepted input can make the
/// exact arithmetic overflow: every other step is bounded by these checks, and the update's totals
/// are computed with checked arithmetic besides ([`super::BenchmarkError::Unrepresentable`]). The
/// property tests draw every field from its accepted ends and from the whole range of `Decimal`.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 0);
/// Largest person-years of one enrollment type.
pub const MAX_PERSON_YEARS: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 0);
/// Smallest risk score or growth factor.
pub const MIN_FACTOR: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// Largest risk score or growth factor.
pub const MAX_FACTOR: Decimal = Decimal::from_parts(100, 0, 0, false, 0);

/// Person-years of one enrollment type.
pub const PERSON_YEARS: Range = Range {
    min: Decimal::ZERO,
    max: MAX_PERSON_YEARS,
    reason: "must be between 0 and 100,000,000",
};
/// A non-negative amount, dollars.
pub const AMOUNT: Range = Range {
    min: Decimal::ZERO,
    max: MAX_AMOUNT,
    reason: "must be between 0 and 100,000,000",
};
/// A positive amount, dollars: the national per capita expenditures, of which the caps of the
/// regional adjustment (425.601(a)(8), 425.656) and of the prior savings adjustment (425.658(c))
/// are shares, so that a zero would cap every adjustment at nothing. The server checks the
/// contract's field against this same range.
pub const POSITIVE_AMOUNT: Range = Range {
    min: Decimal::from_parts(1, 0, 0, false, 2),
    max: MAX_AMOUNT,
    reason: "must be between 0.01 and 100,000,000",
};
/// An amount that may be negative (savings, a flat-dollar update), dollars.
pub const SIGNED_AMOUNT: Range = Range {
    min: Decimal::from_parts(100_000_000, 0, 0, true, 0),
    max: MAX_AMOUNT,
    reason: "must be between -100,000,000 and 100,000,000",
};
/// A risk score or a growth factor.
pub const FACTOR: Range = Range {
    min: MIN_FACTOR,
    max: MAX_FACTOR,
    reason: "must be between 0.01 and 100",
};
/// A share or a weight.
pub const FRACTION: Range = Range {
    min: Decimal::ZERO,
    max: Decimal::ONE,
    reason: "must be a fraction between 0 and 1",
};

/// A quantity measured of an enrollment type (in a benchmark year or the performance year).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Person-years.
    PersonYears,
    /// Per capita expenditures after truncation.
    PerCapitaExpenditures,
    /// Mean prospective CMS-HCC risk score.
    RiskScore,
    /// Mean demographic risk score.
    DemographicRiskScore,
    /// BY3 mean demographic risk score (performance-year input).
    By3DemographicRiskScore,
}

impl Quantity {
    /// The accepted range.
    pub fn range(self) -> Range {
        match self {
            Quantity::PersonYears => PERSON_YEARS,
            Quantity::PerCapitaExpenditures => AMOUNT,
            Quantity::RiskScore
            | Quantity::DemographicRiskScore
            | Quantity::By3DemographicRiskScore => FACTOR,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Quantity::PersonYears => "person-years",
            Quantity::PerCapitaExpenditures => "per capita expenditures",
            Quantity::RiskScore => "CMS-HCC risk score",
            Quantity::DemographicRiskScore => "demographic risk score",
            Quantity::By3DemographicRiskScore => "BY3 demographic risk score",
        }
    }
}

/// A value given once per enrollment type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// National trend factor to BY3 from benchmark year `from` (0 = BY1, 1 = BY2).
    NationalTrend {
        /// The benchmark year trended.
        from: usize,
    },
    /// Regional trend factor to BY3 from benchmark year `from` (0 = BY1, 1 = BY2).
    RegionalTrend {
        /// The benchmark year trended.
        from: usize,
    },
    /// Regional per capita FFS expenditures in BY3.
    RegionalPerCapita,
    /// National per capita FFS expenditures of assignable beneficiaries in BY3.
    NationalPerCapita,
    /// National growth factor BY3 -> performance year.
    NationalGrowth,
    /// Regional growth factor BY3 -> performance year.
    RegionalGrowth,
    /// National flat-dollar growth BY3 -> performance year.
    NationalFlatUpdate,
    /// ACPT update, dollars.
    Acpt,
    /// Growth in the ACO's regional CMS-HCC risk score (425.655).
    RegionalHccGrowth,
    /// Growth in the ACO's regional demographic risk score (425.655).
    RegionalDemographicGrowth,
    /// The ACO's share of assignable beneficiaries in its regional service area.
    MarketShare,
}

impl Series {
    /// The accepted range of each value.
    pub fn range(self) -> Range {
        match self {
            Series::NationalTrend { .. }
            | Series::RegionalTrend { .. }
            | Series::NationalGrowth
            | Series::RegionalGrowth
            | Series::RegionalHccGrowth
            | Series::RegionalDemographicGrowth => FACTOR,
            Series::RegionalPerCapita => AMOUNT,
            Series::NationalPerCapita => POSITIVE_AMOUNT,
            Series::NationalFlatUpdate | Series::Acpt => SIGNED_AMOUNT,
            Series::MarketShare => FRACTION,
        }
    }
}

impl std::fmt::Display for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Series::NationalTrend { from } => write!(f, "national trend BY{} -> BY3", from + 1),
            Series::RegionalTrend { from } => write!(f, "regional trend BY{} -> BY3", from + 1),
            Series::RegionalPerCapita => f.write_str("regional per capita expenditures"),
            Series::NationalPerCapita => f.write_str("national per capita expenditures"),
            Series::NationalGrowth => f.write_str("national growth"),
            Series::RegionalGrowth => f.write_str("regional growth"),
            Series::NationalFlatUpdate => f.write_str("national flat-dollar update"),
            Series::Acpt => f.write_str("ACPT update"),
            Series::RegionalHccGrowth => f.write_str("regional CMS-HCC risk score growth"),
            Series::RegionalDemographicGrowth => {
                f.write_str("regional demographic risk score growth")
            }
            Series::MarketShare => f.write_str("market share"),
        }
    }
}

/// A group of performance-year beneficiaries scored apart (agreements before 2019-07-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Newly assigned beneficiaries.
    NewlyAssigned,
    /// Continuously assigned beneficiaries.
    ContinuouslyAssigned,
}

/// An input of the engine, in domain terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The calendar years of BY1, BY2, BY3.
    BenchmarkYears,
    /// A quantity of one enrollment type in benchmark year `year` (0 = BY1).
    Experience {
        /// The benchmark year.
        year: usize,
        /// The enrollment type.
        enrollment_type: EnrollmentType,
        /// The quantity.
        quantity: Quantity,
    },
    /// One enrollment type's value of a series, or (`None`) the whole series.
    Series {
        /// The series.
        series: Series,
        /// The enrollment type.
        enrollment_type: Option<EnrollmentType>,
    },
    /// The regional inputs as a whole.
    Regional,
    /// National weight of the blended trend (the ACO's share of assignable beneficiaries).
    NationalWeight,
    /// Share of BY3 assigned beneficiaries who are dual eligible.
    DualEligibleShare,
    /// Per capita savings of year `year` (0-2) before the agreement.
    PriorSavings {
        /// The year counted.
        year: usize,
    },
    /// Pro-ration of the prior savings for growth of the assigned population.
    ProrationFactor,
    /// The performance year.
    PerformanceYear,
    /// The performance-year experience of every enrollment type together.
    PerformanceYearTypes,
    /// A quantity of one enrollment type in the performance year: of all its beneficiaries
    /// (`group: None`) or of one group.
    PerformanceYearType {
        /// The enrollment type.
        enrollment_type: EnrollmentType,
        /// The group.
        group: Option<Group>,
        /// The quantity.
        quantity: Quantity,
    },
    /// One group of one enrollment type in the performance year, as a whole.
    AssignmentGroup {
        /// The enrollment type.
        enrollment_type: EnrollmentType,
        /// The group.
        group: Group,
    },
    /// The regional risk score growth and market share inputs as a whole (425.655).
    RegionalRisk,
    /// The performance year's ACPT weight (overriding the rule set's).
    AcptWeight,
    /// The performance year's national weight (overriding the historical input's).
    PerformanceYearNationalWeight,
    /// A parameter of a caller's rule set, by its name in [`super::RuleSet`] (e.g. `risk.cap`).
    RuleSet(&'static str),
}

impl Input {
    /// The accepted range of a value of this input (`None` where it is not a single number).
    pub fn range(self) -> Option<Range> {
        match self {
            Input::Experience { quantity, .. } | Input::PerformanceYearType { quantity, .. } => {
                Some(quantity.range())
            }
            Input::Series { series, .. } => Some(series.range()),
            Input::NationalWeight
            | Input::DualEligibleShare
            | Input::AcptWeight
            | Input::PerformanceYearNationalWeight => Some(FRACTION),
            Input::PriorSavings { .. } => Some(SIGNED_AMOUNT),
            Input::ProrationFactor => Some(FACTOR),
            Input::BenchmarkYears
            | Input::Regional
            | Input::PerformanceYear
            | Input::PerformanceYearTypes
            | Input::AssignmentGroup { .. }
            | Input::RegionalRisk
            | Input::RuleSet(_) => None,
        }
    }
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group_name = |g: &Group| match g {
            Group::NewlyAssigned => "newly assigned",
            Group::ContinuouslyAssigned => "continuously assigned",
        };
        match self {
            Input::BenchmarkYears => f.write_str("the benchmark years"),
            Input::Experience {
                year,
                enrollment_type,
                quantity,
            } => write!(
                f,
                "BY{} {} {}",
                year + 1,
                enrollment_type.name(),
                quantity.name()
            ),
            Input::Series {
                series,
                enrollment_type: Some(t),
            } => write!(f, "{series} of {}", t.name()),
            Input::Series {
                series,
                enrollment_type: None,
            } => write!(f, "the {series}"),
            Input::Regional => f.write_str("the regional inputs"),
            Input::NationalWeight => f.write_str("the national weight"),
            Input::DualEligibleShare => f.write_str("the dual eligible share"),
            Input::PriorSavings { year } => write!(f, "prior savings of year {}", year + 1),
            Input::ProrationFactor => f.write_str("the prior savings proration factor"),
            Input::PerformanceYear => f.write_str("the performance year"),
            Input::PerformanceYearTypes => f.write_str("the performance-year enrollment types"),
            Input::PerformanceYearType {
                enrollment_type,
                group,
                quantity,
            } => {
                write!(f, "performance-year {}", enrollment_type.name())?;
                if let Some(g) = group {
                    write!(f, " {}", group_name(g))?;
                }
                write!(f, " {}", quantity.name())
            }
            Input::AssignmentGroup {
                enrollment_type,
                group: g,
            } => write!(
                f,
                "performance-year {} {} beneficiaries",
                enrollment_type.name(),
                group_name(g)
            ),
            Input::RegionalRisk => f.write_str("the regional risk score growth inputs"),
            Input::AcptWeight => f.write_str("the ACPT weight"),
            Input::PerformanceYearNationalWeight => {
                f.write_str("the performance-year national weight")
            }
            Input::RuleSet(name) => write!(f, "rule set parameter {name}"),
        }
    }
}
