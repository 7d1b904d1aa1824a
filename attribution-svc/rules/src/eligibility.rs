//! Who may be assigned at all (425.401(a)) and voluntary alignment (425.402(e)).
//!
//! Eligibility screens, in the regulation's order, over the assignment window [V 425.401(a), 2015
//! text; mssp-rules.md 2.1]:
//! 1. at least one month of Part A and Part B, and no month of Part A only or Part B only (Part A
//!    only is tested before Part B only, then months whose part the source did not say);
//! 2. no month in a Medicare group health plan (MA, cost, PACE: not "Medicare fee-for-service");
//! 3. not assigned to another Medicare shared savings initiative;
//! 4. resides in the United States or its territories.
//!
//! For prospective assignment the same facts measured over the performance year are the 425.401(b)
//! exclusions: the caller supplies the enrollment facts of the period that applies. Date of death is
//! not a screen (a beneficiary who died during the year stays assignable) [I: none listed].

use super::{RuleSet, Tally, Voluntary, Who, codes};

/// A beneficiary's enrollment facts over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Enrollment {
    /// Months with both Part A and Part B.
    pub months_a_and_b: u32,
    /// Months with Part A only or Part B only, when the source does not say which part.
    pub months_a_or_b_only: u32,
    /// Months with Part A only.
    pub months_a_only: u32,
    /// Months with Part B only.
    pub months_b_only: u32,
    /// Months in a Medicare group health plan (MA, cost, PACE).
    pub months_group_health_plan: u32,
    /// Lives in the U.S. or its territories at the end of the window.
    pub us_resident: bool,
    /// Aligned to another Medicare shared savings initiative.
    pub other_initiative: bool,
}

impl Enrollment {
    /// The names of the [`Enrollment::months`] counts in the contract and the input files.
    pub const MONTHS: [&'static str; 5] = [
        "months_part_a_and_b",
        "months_part_a_or_b_only",
        "months_part_a_only",
        "months_part_b_only",
        "months_group_health_plan",
    ];

    /// The month counts, in the order of [`Enrollment::MONTHS`].
    pub fn months(&self) -> [u32; 5] {
        [
            self.months_a_and_b,
            self.months_a_or_b_only,
            self.months_a_only,
            self.months_b_only,
            self.months_group_health_plan,
        ]
    }

    /// The month counts by name.
    pub fn named_months(&self) -> impl Iterator<Item = (&'static str, u32)> {
        Self::MONTHS.into_iter().zip(self.months())
    }
}

/// The first eligibility screen a beneficiary fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ineligible {
    /// No month of Part A and Part B (425.401(a)(1)).
    NoPartAAndB,
    /// A month of Part A only or Part B only, the part not given (425.401(a)(1)).
    PartAOrBOnly,
    /// A month of Part A only (425.401(a)(1)).
    PartAOnly,
    /// A month of Part B only (425.401(a)(1)).
    PartBOnly,
    /// A month in a Medicare group health plan (425.401(a)(2)).
    GroupHealthPlan,
    /// Assigned to another shared savings initiative (425.401(a)(3)).
    OtherInitiative,
    /// Does not live in the U.S. (425.401(a)(4)).
    NotUsResident,
}

impl Ineligible {
    /// Every screen, in the order they are applied.
    pub const ALL: [Ineligible; 7] = [
        Ineligible::NoPartAAndB,
        Ineligible::PartAOnly,
        Ineligible::PartBOnly,
        Ineligible::PartAOrBOnly,
        Ineligible::GroupHealthPlan,
        Ineligible::OtherInitiative,
        Ineligible::NotUsResident,
    ];

    /// A stable code (the CSV `ineligibility` column): `no_part_a_and_b`, `part_a_only`,
    /// `part_b_only`, `part_a_or_b_only`, `medicare_advantage` (any Medicare group health plan: MA,
    /// cost, PACE), `other_initiative` or `outside_us`.
    pub fn code(self) -> &'static str {
        match self {
            Ineligible::NoPartAAndB => "no_part_a_and_b",
            Ineligible::PartAOnly => "part_a_only",
            Ineligible::PartBOnly => "part_b_only",
            Ineligible::PartAOrBOnly => "part_a_or_b_only",
            Ineligible::GroupHealthPlan => "medicare_advantage",
            Ineligible::OtherInitiative => "other_initiative",
            Ineligible::NotUsResident => "outside_us",
        }
    }

    /// The paragraph of the screen.
    pub fn citation(self) -> &'static str {
        match self {
            Ineligible::NoPartAAndB
            | Ineligible::PartAOnly
            | Ineligible::PartBOnly
            | Ineligible::PartAOrBOnly => "42 CFR 425.401(a)(1)",
            Ineligible::GroupHealthPlan => "42 CFR 425.401(a)(2); 425.20",
            Ineligible::OtherInitiative => "42 CFR 425.401(a)(3)",
            Ineligible::NotUsResident => "42 CFR 425.401(a)(4)",
        }
    }

    /// What failed, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Ineligible::NoPartAAndB => "no month with both Part A and Part B",
            Ineligible::PartAOnly => "a month with Part A only",
            Ineligible::PartBOnly => "a month with Part B only",
            Ineligible::PartAOrBOnly => "a month with Part A only or Part B only",
            Ineligible::GroupHealthPlan => {
                "a month in a Medicare group health plan (MA, cost, PACE)"
            }
            Ineligible::OtherInitiative => "aligned to another Medicare shared savings initiative",
            Ineligible::NotUsResident => "does not live in the United States or its territories",
        }
    }
}

/// Applies the eligibility screens (425.401(a)).
pub fn screen(e: &Enrollment) -> Result<(), Ineligible> {
    if e.months_a_and_b == 0 {
        Err(Ineligible::NoPartAAndB)
    } else if e.months_a_only > 0 {
        Err(Ineligible::PartAOnly)
    } else if e.months_b_only > 0 {
        Err(Ineligible::PartBOnly)
    } else if e.months_a_or_b_only > 0 {
        Err(Ineligible::PartAOrBOnly)
    } else if e.months_group_health_plan > 0 {
        Err(Ineligible::GroupHealthPlan)
    } else if e.other_initiative {
        Err(Ineligible::OtherInitiative)
    } else if !e.us_resident {
        Err(Ineligible::NotUsResident)
    } else {
        Ok(())
    }
}

/// A beneficiary's designation of a primary clinician, resolved against the run's participants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Designation {
    /// No designation.
    #[default]
    None,
    /// A professional of this ACO (index).
    Aco(u32),
    /// A clinician outside every ACO of the run.
    Outside,
    /// A clinician whose TIN (or NPI) is in more than one ACO: not effective [I].
    Ambiguous,
}

/// What is known of one beneficiary besides claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Beneficiary {
    /// Enrollment facts; `None` when no beneficiary record was received (then never assigned).
    pub enrollment: Option<Enrollment>,
    /// Voluntary alignment designation.
    pub designation: Designation,
    /// The designee's specialty key, when given (checked in PY2018 only).
    pub designated_specialty: Option<u16>,
    /// The ACO (index) the beneficiary was assigned to in the prior year, when known (continuity).
    pub prior_aco: Option<u32>,
}

/// The effect of a designation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    /// No designation.
    NotDesignated,
    /// Aligned to this ACO (425.402(e)(1)).
    Aligned(u32),
    /// Designated a clinician outside every ACO: no claims-based assignment (425.402(e)(2)(i)(D),
    /// (ii)(C)).
    BlocksClaims,
    /// Designated but not in effect, with the reason; claims-based assignment proceeds.
    NotInEffect(NotInEffect),
    /// PY2018: designated a professional of this ACO (index) but not in effect, with the reason;
    /// claims-based assignment may go to this ACO only, since the designee is outside every other
    /// ACO (425.402(e)(2)(i)(D)).
    OnlyTo(u32, NotInEffect),
}

/// Why a designation is not in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotInEffect {
    /// Performance years before 2018.
    BeforePy2018,
    /// The designee's TIN or NPI is in more than one ACO [I].
    Ambiguous,
    /// PY2018: the designee is not a PCP, step-2 specialist or NP/PA/CNS (425.402(e)(2)(i)(C)).
    Py2018Designee,
    /// PY2018: no primary care service from an ACO physician of that ACO (425.402(e)(2)(i)(A)).
    Py2018NoService,
}

impl NotInEffect {
    /// Why, in words.
    pub fn describe(self) -> &'static str {
        match self {
            NotInEffect::BeforePy2018 => "designations apply from performance year 2018",
            NotInEffect::Ambiguous => {
                "the designated clinician's TIN or NPI participates in more than one ACO"
            }
            NotInEffect::Py2018Designee => {
                "in PY2018 the designee must be a primary care physician, a step-2 specialist or an NP/PA/CNS"
            }
            NotInEffect::Py2018NoService => {
                "in PY2018 the beneficiary needs a primary care service from a PCP or step-2 specialist of that ACO"
            }
        }
    }
}

/// Applies voluntary alignment for an eligible beneficiary (425.402(e)).
pub fn voluntary(rules: &RuleSet, b: &Beneficiary, tallies: &[Tally]) -> Alignment {
    if b.designation == Designation::None {
        return Alignment::NotDesignated;
    }
    match rules.voluntary {
        Voluntary::None => Alignment::NotInEffect(NotInEffect::BeforePy2018),
        Voluntary::Py2018 => {
            // 425.402(e)(2)(i): aligned when the designee is a PCP, step-2 specialist or NP/PA/CNS
            // ((C)) and the beneficiary had a primary care service from a PCP or step-2 specialist
            // of that ACO ((A)). (D): a beneficiary who designated a practitioner outside an ACO is
            // not added to that ACO's list by claims, whether or not the designation is in effect:
            // outside every ACO bars them all; a professional of ACO k bars every ACO but k.
            let designee_ok = match b.designated_specialty {
                None => true, // not supplied: assumed a qualifying designee [I]
                Some(k) => matches!(
                    codes::who(k, rules.performance_year),
                    Some(
                        Who::PrimaryCarePhysician
                            | Who::Step2Specialist
                            | Who::NonPhysicianPractitioner
                    )
                ),
            };
            match b.designation {
                Designation::None => Alignment::NotDesignated,
                Designation::Ambiguous => Alignment::NotInEffect(NotInEffect::Ambiguous),
                Designation::Outside => Alignment::BlocksClaims,
                Designation::Aco(a) if !designee_ok => {
                    Alignment::OnlyTo(a, NotInEffect::Py2018Designee)
                }
                Designation::Aco(a) => {
                    let served = tallies
                        .iter()
                        .any(|t| t.entity.as_aco() == Some(a) && t.n_physician > 0);
                    if served {
                        Alignment::Aligned(a)
                    } else {
                        Alignment::OnlyTo(a, NotInEffect::Py2018NoService)
                    }
                }
            }
        }
        Voluntary::Py2019 => match b.designation {
            Designation::None => Alignment::NotDesignated,
            Designation::Ambiguous => Alignment::NotInEffect(NotInEffect::Ambiguous),
            Designation::Outside => Alignment::BlocksClaims,
            Designation::Aco(a) => Alignment::Aligned(a),
        },
    }
}
