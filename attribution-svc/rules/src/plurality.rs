//! The step-wise plurality assignment of one beneficiary (425.402).
//!
//! Order (mssp-rules.md 2.5: eligibility -> voluntary alignment -> step 1 -> step 2 -> step 3):
//! 1. no beneficiary record, or a failed eligibility screen (425.401(a)): not assigned;
//! 2. voluntary alignment (425.402(e)): an effective designation assigns; a designation outside
//!    every ACO blocks claims-based assignment; in PY2018 a designation of a professional of ACO k
//!    that is not in effect still bars claims-based assignment to every other ACO
//!    (425.402(e)(2)(i)(D));
//! 3. pre-screen (425.402(a), (b)(1)): the ACOs for which the beneficiary had a primary care service
//!    from a physician who is an ACO professional (PY2016+: a PCP or step-2 specialist);
//! 4. step 1 (425.402(b)(3); PY2012-15 (a)(1)): plurality of step-1 allowed charges, when any step-1
//!    service exists anywhere;
//! 5. step 2 (425.402(b)(4); (a)(2)): otherwise, plurality of step-2 allowed charges;
//! 6. step 3 (PY2025+, CY2024 PFS [S]; conditions as quoted from the methodology specifications by
//!    the Tuva Project [S]): for ACOs that failed the pre-screen, when the beneficiary had a service
//!    from an NP/PA/CNS of the ACO in the window and from a PCP or step-2 specialist of the ACO in the
//!    24-month expanded window: plurality of PCP + NP/PA/CNS + specialist charges over the 24 months.
//!
//! Plurality is entity by entity: the ACO's total must be greater than that of each other ACO and
//! each unaffiliated TIN or CCN, not their sum (425.402(b)(3)(i)-(ii): "greater than ... any other
//! ACO; or not affiliated with any ACO") [V]. An entity with zero or negative net charges cannot win
//! [I]. Equal top totals are a tie: the regulation's "greater than" is not met, and the run's
//! [`TieBreak`] decides (default: the most recent primary care service, else not assigned) [R].

use super::{
    Beneficiary, Entity, NO_DAY, RuleSet, Tally,
    eligibility::{self, Alignment, Ineligible, NotInEffect},
    window::Date,
};

/// What to do when the top totals are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TieBreak {
    /// The tied entity with the most recent primary care service wins; if that is tied too, not
    /// assigned (the methodology specifications as recalled [R], mssp-rules.md 2.4 item 6).
    #[default]
    MostRecentService,
    /// A tie is never assigned (the literal "greater than" of 425.402).
    Unassigned,
}

/// The step that decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// Voluntary alignment.
    VoluntaryAlignment,
    /// Step 1.
    Step1,
    /// Step 2.
    Step2,
    /// Step 3.
    Step3,
}

/// An entity's allowed charges at the deciding step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Competitor {
    /// The entity.
    pub entity: Entity,
    /// Allowed cents.
    pub cents: i64,
    /// Most recent service date counted at that step.
    pub last: Option<Date>,
}

/// Why the beneficiary is (not) assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Assigned: the winner's total is greater than every other entity's.
    Assigned,
    /// Assigned after equal totals, by the most recent service.
    AssignedByTieBreak,
    /// Assigned by voluntary alignment.
    Designated,
    /// No beneficiary record was received.
    NoEnrollmentRecord,
    /// A failed eligibility screen.
    Ineligible(Ineligible),
    /// Designated a clinician outside every ACO, or (PY2018) outside the ACO that has the plurality
    /// (425.402(e)(2)(i)(D), (ii)).
    DesignatedOutside,
    /// No counted primary care service at all.
    NoPrimaryCare,
    /// No primary care service from a physician of any ACO (the pre-screen) and no step 3.
    NoAcoPhysicianService,
    /// Another entity (outside TIN/CCN, another ACO, or an ACO that failed the pre-screen) has the
    /// plurality.
    NotPlurality,
    /// Equal top totals that the tie-break did not resolve.
    Tie,
}

impl Reason {
    /// A stable code: `assigned`, `assigned_by_tie_break`, `voluntary_alignment`,
    /// `no_beneficiary_record`, `ineligible`, `designated_outside_aco`, `no_primary_care`,
    /// `no_aco_physician_service`, `not_plurality` or `tie`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Assigned => "assigned",
            Reason::AssignedByTieBreak => "assigned_by_tie_break",
            Reason::Designated => "voluntary_alignment",
            Reason::NoEnrollmentRecord => "no_beneficiary_record",
            Reason::Ineligible(_) => "ineligible",
            Reason::DesignatedOutside => "designated_outside_aco",
            Reason::NoPrimaryCare => "no_primary_care",
            Reason::NoAcoPhysicianService => "no_aco_physician_service",
            Reason::NotPlurality => "not_plurality",
            Reason::Tie => "tie",
        }
    }
}

/// One beneficiary's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The ACO (index), if assigned.
    pub aco: Option<u32>,
    /// The deciding step (or the last step evaluated when not assigned).
    pub step: Option<StepKind>,
    /// Why.
    pub reason: Reason,
    /// The entity with the plurality at the deciding step.
    pub winner: Option<Entity>,
    /// Allowed charges of every entity with positive charges at the deciding step, highest first.
    pub competing: Vec<Competitor>,
    /// Continuously (true) or newly (false) assigned (425.20); false when not assigned.
    pub continuous: bool,
    /// A designation that was not in effect.
    pub designation_not_in_effect: Option<NotInEffect>,
}

impl Assignment {
    fn not_assigned(reason: Reason) -> Assignment {
        Assignment {
            aco: None,
            step: None,
            reason,
            winner: None,
            competing: Vec::new(),
            continuous: false,
            designation_not_in_effect: None,
        }
    }
}

struct Decision {
    winner: Option<Entity>,
    tie_broken: bool,
    competing: Vec<Competitor>,
}

fn plurality(tallies: &[Tally], amount: impl Fn(&Tally) -> (i64, Date), tie: TieBreak) -> Decision {
    let mut competing: Vec<Competitor> = tallies
        .iter()
        .filter_map(|t| {
            let (cents, last) = amount(t);
            (cents > 0).then_some(Competitor {
                entity: t.entity,
                cents,
                last: (last != NO_DAY).then_some(last),
            })
        })
        .collect();
    competing.sort_by(|a, b| {
        b.cents
            .cmp(&a.cents)
            .then(b.last.cmp(&a.last))
            .then(a.entity.cmp(&b.entity))
    });
    let Some(top) = competing.first().copied() else {
        return Decision {
            winner: None,
            tie_broken: false,
            competing,
        };
    };
    let tied = competing
        .iter()
        .take_while(|c| c.cents == top.cents)
        .count();
    let (winner, tie_broken) = if tied == 1 {
        (Some(top.entity), false)
    } else {
        match tie {
            TieBreak::Unassigned => (None, false),
            // Sorted by date within equal totals: unique only if the next one is older.
            TieBreak::MostRecentService => {
                let unique = competing[1].last < top.last;
                (unique.then_some(top.entity), unique)
            }
        }
    };
    Decision {
        winner,
        tie_broken,
        competing,
    }
}

fn aco_tally(tallies: &[Tally], aco: u32) -> Option<&Tally> {
    tallies.iter().find(|t| t.entity.as_aco() == Some(aco))
}

fn continuous(b: &Beneficiary, tallies: &[Tally], aco: u32) -> bool {
    // 425.20: assigned this year and, in the prior year's window, assigned to the ACO or had a
    // primary care service from one of its participants [V]. The lookback holds the prior 12 months.
    b.prior_aco == Some(aco) || aco_tally(tallies, aco).is_some_and(|t| t.n_lookback > 0)
}

fn conclude(
    step: StepKind,
    d: Decision,
    eligible: impl Fn(u32) -> bool,
    barred: impl Fn(u32) -> bool,
    b: &Beneficiary,
    tallies: &[Tally],
) -> Assignment {
    let (aco, reason) = match d.winner {
        None => (None, Reason::Tie),
        Some(w) => match w.as_aco() {
            Some(a) if eligible(a) && barred(a) => (None, Reason::DesignatedOutside),
            Some(a) if eligible(a) => (
                Some(a),
                if d.tie_broken {
                    Reason::AssignedByTieBreak
                } else {
                    Reason::Assigned
                },
            ),
            _ => (None, Reason::NotPlurality),
        },
    };
    Assignment {
        aco,
        step: Some(step),
        reason,
        winner: d.winner,
        competing: d.competing,
        continuous: aco.is_some_and(|a| continuous(b, tallies, a)),
        designation_not_in_effect: None,
    }
}

/// Assigns one beneficiary from the tallies of every entity that furnished them primary care.
pub fn assign(rules: &RuleSet, b: &Beneficiary, tallies: &[Tally], tie: TieBreak) -> Assignment {
    let Some(enrollment) = b.enrollment else {
        return Assignment::not_assigned(Reason::NoEnrollmentRecord);
    };
    if let Err(why) = eligibility::screen(&enrollment) {
        return Assignment::not_assigned(Reason::Ineligible(why));
    }
    let mut not_in_effect = None;
    // PY2018 (425.402(e)(2)(i)(D)): claims may assign only to the designee's ACO.
    let mut only_to = None;
    match eligibility::voluntary(rules, b, tallies) {
        Alignment::Aligned(a) => {
            return Assignment {
                aco: Some(a),
                step: Some(StepKind::VoluntaryAlignment),
                reason: Reason::Designated,
                winner: Some(Entity::aco(a)),
                competing: Vec::new(),
                continuous: continuous(b, tallies, a),
                designation_not_in_effect: None,
            };
        }
        Alignment::BlocksClaims => {
            let mut r = Assignment::not_assigned(Reason::DesignatedOutside);
            r.step = Some(StepKind::VoluntaryAlignment);
            return r;
        }
        Alignment::NotInEffect(why) => not_in_effect = Some(why),
        Alignment::OnlyTo(a, why) => {
            not_in_effect = Some(why);
            only_to = Some(a);
        }
        Alignment::NotDesignated => {}
    }
    let barred = |a: u32| only_to.is_some_and(|k| k != a);
    let prescreen = |a: u32| aco_tally(tallies, a).is_some_and(|t| t.n_physician > 0);
    let any_prescreen = tallies
        .iter()
        .any(|t| t.entity.as_aco().is_some() && t.n_physician > 0);
    let mut result = None;
    if any_prescreen {
        let any_step1 = tallies.iter().any(|t| t.n_step1 > 0);
        let r = if any_step1 {
            let d = plurality(tallies, |t| (t.step1, t.last_step1), tie);
            conclude(StepKind::Step1, d, prescreen, barred, b, tallies)
        } else {
            let d = plurality(tallies, |t| (t.step2, t.last_step2), tie);
            conclude(StepKind::Step2, d, prescreen, barred, b, tallies)
        };
        if r.aco.is_some() {
            return Assignment {
                designation_not_in_effect: not_in_effect,
                ..r
            };
        }
        result = Some(r);
    }
    if rules.step3 {
        let step3 = |a: u32| {
            aco_tally(tallies, a).is_some_and(|t| {
                t.n_physician <= 0
                    && t.n_npp > 0
                    && t.n_physician.saturating_add(t.n_lookback_physician) > 0
            })
        };
        let any = tallies.iter().any(|t| t.entity.as_aco().is_some_and(step3));
        if any {
            let d = plurality(
                tallies,
                |t| {
                    let cents = t.step1.saturating_add(t.step2).saturating_add(t.lookback);
                    (cents, t.last_step1.max(t.last_step2).max(t.last_lookback))
                },
                tie,
            );
            let r = conclude(StepKind::Step3, d, step3, barred, b, tallies);
            if r.aco.is_some() || result.is_none() {
                result = Some(r);
            }
        }
    }
    let mut r = result.unwrap_or_else(|| {
        Assignment::not_assigned(if tallies.is_empty() {
            Reason::NoPrimaryCare
        } else {
            Reason::NoAcoPhysicianService
        })
    });
    r.designation_not_in_effect = not_in_effect;
    r
}
