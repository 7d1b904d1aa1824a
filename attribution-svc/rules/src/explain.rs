//! The explanation of an assignment: every step with its inputs, output and citation, rendered from
//! the compact [`Assignment`] on demand (results are stored compactly; text is produced only when a
//! caller reads one beneficiary).

use super::{
    Beneficiary, Designation, Enrollment, Entity, RuleSet, TieBreak,
    plurality::{Assignment, Reason, StepKind},
};

/// One step of an explanation: the type every acorn engine shares.
pub use acorn_domain::Step;

/// Cents as a decimal dollar string (`12345` -> `123.45`, `-5` -> `-0.05`); exact.
pub use acorn_domain::money::format_cents as dollars;

/// The citation of a step.
pub fn citation(step: StepKind, rules: &RuleSet) -> &'static str {
    use super::Methodology::{Py2012, Py2016};
    match (step, rules.methodology) {
        (StepKind::VoluntaryAlignment, _) => "42 CFR 425.402(e)",
        (StepKind::Step1, Py2016) => "42 CFR 425.402(b)(3)",
        (StepKind::Step1, Py2012) => "42 CFR 425.402(a)(1)",
        (StepKind::Step2, Py2016) => "42 CFR 425.402(b)(4), (c)",
        (StepKind::Step2, Py2012) => "42 CFR 425.402(a)(2)",
        (StepKind::Step3, _) => "42 CFR 425.402 step 3 (CY2024 PFS, PY2025+) [S]",
    }
}

fn step_name(step: StepKind) -> &'static str {
    match step {
        StepKind::VoluntaryAlignment => "voluntary alignment",
        StepKind::Step1 => "step 1",
        StepKind::Step2 => "step 2",
        StepKind::Step3 => "step 3",
    }
}

/// Renders the explanation of `a`, one step per rule in the order they apply (42 CFR 425.400-
/// 425.402): the rule set, eligibility, voluntary alignment, the plurality step that decided (or the
/// pre-screen that stopped it) with its tie-break, then continuity. `name` prints an entity
/// (`aco:..`, `tin:..`, `ccn:..`).
pub fn explain(
    rules: &RuleSet,
    tie: TieBreak,
    b: &Beneficiary,
    a: &Assignment,
    name: impl Fn(Entity) -> String,
) -> Vec<Step> {
    let mut out = vec![rule_set_step(rules, tie)];
    let Some(e) = b.enrollment else {
        out.push(no_record_step());
        return out;
    };
    out.push(eligibility_step(&e, a));
    if matches!(a.reason, Reason::Ineligible(_)) {
        return out;
    }
    out.extend(voluntary_alignment_step(b, a, &name));
    match a.step {
        Some(StepKind::VoluntaryAlignment) => {}
        Some(step) => {
            out.push(plurality_step(rules, step, a, &name));
            out.extend(tie_break_step(tie, a, &name));
        }
        None => out.extend(prescreen_step(a)),
    }
    out.extend(continuity_step(b, a, &name));
    out
}

/// The rule set of the performance year and the run's tie-break policy.
fn rule_set_step(rules: &RuleSet, tie: TieBreak) -> Step {
    let w = rules.window;
    Step {
        rule: "attribution.rule_set",
        citation: "42 CFR 425.400(a), (c); 425.402",
        description: format!(
            "Rules of performance year {}: assignment window {} to {}, lookback from {}",
            rules.performance_year, w.start, w.end, w.lookback_start
        ),
        inputs: vec![
            ("rule_set".into(), rules.id()),
            (
                "tie_break".into(),
                match tie {
                    TieBreak::MostRecentService => "most_recent_service",
                    TieBreak::Unassigned => "unassigned",
                }
                .into(),
            ),
        ],
        output: rules.id(),
    }
}

/// 425.401(a) without a beneficiary record: eligibility cannot be established.
fn no_record_step() -> Step {
    Step {
        rule: "attribution.eligibility",
        citation: "42 CFR 425.401(a)",
        description: "No beneficiary record was received, so eligibility cannot be established"
            .into(),
        inputs: Vec::new(),
        output: "not eligible".into(),
    }
}

/// The 425.401(a) eligibility screens.
fn eligibility_step(e: &Enrollment, a: &Assignment) -> Step {
    Step {
        rule: "attribution.eligibility",
        citation: "42 CFR 425.401(a)",
        description: "Eligibility screens: a month of Part A and B, no Part A-only or B-only month, no group health plan month, not in another shared savings initiative, U.S. resident".into(),
        inputs: e
            .named_months()
            .map(|(name, m)| (name.into(), m.to_string()))
            .chain([
                ("other_initiative".into(), e.other_initiative.to_string()),
                ("us_resident".into(), e.us_resident.to_string()),
            ])
            .collect(),
        output: match a.reason {
            Reason::Ineligible(why) => format!(
                "not eligible ({}, {}): {}",
                why.code(),
                why.citation(),
                why.describe()
            ),
            _ => "eligible".into(),
        },
    }
}

/// 425.402(e): a beneficiary-designated clinician, where there is one.
fn voluntary_alignment_step(
    b: &Beneficiary,
    a: &Assignment,
    name: &impl Fn(Entity) -> String,
) -> Option<Step> {
    let designee = match b.designation {
        Designation::None => return None,
        Designation::Aco(i) => name(Entity::aco(i)),
        Designation::Outside => "a clinician outside every ACO".into(),
        Designation::Ambiguous => "a clinician in more than one ACO".into(),
    };
    let output = match (a.reason, a.designation_not_in_effect) {
        (Reason::Designated, _) => format!("aligned to {designee}"),
        (Reason::DesignatedOutside, Some(why)) => format!(
            "not in effect: {}; the designee is outside every other ACO, so claims may assign only to {designee} (425.402(e)(2)(i)(D))",
            why.describe()
        ),
        (Reason::DesignatedOutside, _) => {
            "designated outside every ACO: no claims-based assignment".into()
        }
        (_, Some(why)) => format!("not in effect: {}", why.describe()),
        _ => "not in effect".into(),
    };
    Some(Step {
        rule: "attribution.voluntary_alignment",
        citation: "42 CFR 425.402(e)",
        description: "A beneficiary-designated clinician takes precedence over claims".into(),
        inputs: vec![("designated".into(), designee)],
        output,
    })
}

/// The claims-based step (1, 2 or 3) that decided: the competing allowed charges and the winner.
fn plurality_step(
    rules: &RuleSet,
    step: StepKind,
    a: &Assignment,
    name: &impl Fn(Entity) -> String,
) -> Step {
    let what = match step {
        StepKind::Step1 if rules.methodology == super::Methodology::Py2016 => {
            "allowed charges of primary care services by primary care physicians and NP/PA/CNS"
        }
        StepKind::Step1 => "allowed charges of primary care services by primary care physicians",
        StepKind::Step2 if rules.methodology == super::Methodology::Py2016 => {
            "no PCP or NP/PA/CNS service anywhere: allowed charges of primary care services by step-2 specialists"
        }
        StepKind::Step2 => {
            "no PCP service anywhere: allowed charges of primary care services by all other ACO professionals"
        }
        StepKind::Step3 => {
            "allowed charges of primary care services by PCPs, NP/PA/CNS and step-2 specialists over the 24-month expanded window"
        }
        StepKind::VoluntaryAlignment => "",
    };
    let output = match (a.reason, a.winner) {
        (Reason::Tie, _) => "tie: not assigned".to_string(),
        (Reason::DesignatedOutside, Some(w)) => format!(
            "{} has the plurality, but the beneficiary designated a practitioner outside it: not assigned by claims (425.402(e)(2)(i)(D))",
            name(w)
        ),
        (Reason::NotPlurality, Some(w)) => format!(
            "{} has the plurality and is not an ACO that passed the pre-screen: not assigned",
            name(w)
        ),
        (Reason::Assigned | Reason::AssignedByTieBreak, Some(w)) => {
            format!("assigned to {}", name(w))
        }
        _ => "not assigned".into(),
    };
    Step {
        rule: match step {
            StepKind::Step1 => "attribution.step_1",
            StepKind::Step2 => "attribution.step_2",
            _ => "attribution.step_3",
        },
        citation: citation(step, rules),
        description: format!(
            "{}: {what}; the ACO must exceed each other ACO and each unaffiliated TIN or CCN",
            step_name(step)
        ),
        inputs: a
            .competing
            .iter()
            .map(|c| (name(c.entity), dollars(c.cents)))
            .collect(),
        output,
    }
}

/// The tie-break, where more than one entity has the top total.
fn tie_break_step(tie: TieBreak, a: &Assignment, name: &impl Fn(Entity) -> String) -> Option<Step> {
    let top = a.competing.first().map(|c| c.cents);
    let tied = a.competing.iter().filter(|c| Some(c.cents) == top).count();
    (tied > 1).then(|| Step {
        rule: "attribution.tie_break",
        citation: "mssp-rules.md 2.4(6): CMS methodology specifications [R]",
        description: match tie {
            TieBreak::MostRecentService => "Equal totals: the entity with the most recent primary care service wins; equal dates leave the beneficiary unassigned".into(),
            TieBreak::Unassigned => "Equal totals: not assigned (the run's tie-break policy)".into(),
        },
        inputs: a
            .competing
            .iter()
            .take(tied)
            .map(|c| {
                (
                    name(c.entity),
                    c.last.map(|d| d.to_string()).unwrap_or_default(),
                )
            })
            .collect(),
        output: match (a.reason, a.winner) {
            (Reason::AssignedByTieBreak, Some(w)) => name(w),
            _ => "unresolved".into(),
        },
    })
}

/// The 425.402(a), (b)(1) pre-screen, where it (or the lack of any primary care) stopped assignment.
fn prescreen_step(a: &Assignment) -> Option<Step> {
    let why = match a.reason {
        Reason::NoPrimaryCare => "no counted primary care service in the window",
        Reason::NoAcoPhysicianService => {
            "no primary care service from a physician who is an ACO professional (pre-screen)"
        }
        _ => return None,
    };
    Some(Step {
        rule: "attribution.prescreen",
        citation: "42 CFR 425.402(a), (b)(1)",
        description:
            "At least one primary care service with a physician who is an ACO professional".into(),
        inputs: Vec::new(),
        output: format!("not assigned: {why}"),
    })
}

/// Continuity (425.20): whether an assigned beneficiary is continuously or newly assigned.
fn continuity_step(
    b: &Beneficiary,
    a: &Assignment,
    name: &impl Fn(Entity) -> String,
) -> Option<Step> {
    let aco = a.aco?;
    Some(Step {
        rule: "attribution.continuity",
        citation: "42 CFR 425.20 'continuously assigned beneficiary'",
        description: "Continuously assigned: assigned to the ACO in the prior year, or a primary care service from its participants in the prior 12 months".into(),
        inputs: vec![
            ("prior_year_aco".into(), b.prior_aco.map(|p| name(Entity::aco(p))).unwrap_or_default()),
            ("aco".into(), name(Entity::aco(aco))),
        ],
        output: if a.continuous { "continuously assigned" } else { "newly assigned" }.into(),
    })
}
