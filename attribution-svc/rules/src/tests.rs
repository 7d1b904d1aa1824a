//! Worked-number tests of the assignment rules, each citing the paragraph it pins.
//!
//! Every scenario is a small table: claim lines (date, code, specialty, billing TIN or CCN, allowed
//! dollars), then who wins, at which step, with which totals.

use proptest::prelude::*;

use super::*;

const A: u32 = 0;
const B: u32 = 1;

/// ACO A: TINs 111111111, 111111112 (and 999999999, also in B), CCN 011800, NPI 1000000001.
/// ACO B: TINs 222222221, 999999999, NPI 2000000001.
fn acos() -> Vec<AcoSpec> {
    let a_tins = ["111111111", "111111112", "999999999"];
    vec![
        AcoSpec::new("A", &a_tins, &["011800"], &["1000000001"]),
        AcoSpec::new("B", &["222222221", "999999999"], &[], &["2000000001"]),
    ]
}

struct Case {
    rules: RuleSet,
    reg: Registry,
    lines: Vec<Line>,
    bene: Beneficiary,
    tie: TieBreak,
}

fn day(s: &str) -> Date {
    Date::parse_iso_in_years(s).expect("valid date")
}

fn eligible() -> Enrollment {
    Enrollment {
        months_a_and_b: 12,
        us_resident: true,
        ..Enrollment::default()
    }
}

impl Case {
    fn new(py: i32) -> Case {
        Case {
            rules: RuleSet::new(py, WindowKind::Retrospective).expect("rules"),
            reg: Registry::new(&acos()),
            lines: Vec::new(),
            bene: Beneficiary {
                enrollment: Some(eligible()),
                ..Beneficiary::default()
            },
            tie: TieBreak::MostRecentService,
        }
    }

    /// A professional line: date, HCPCS, place of service, specialty, billing TIN, allowed dollars.
    fn pro(
        mut self,
        date: &str,
        code: &str,
        pos: &str,
        spec: &str,
        tin: &str,
        dollars: f64,
    ) -> Case {
        let tin = self.reg.tin(tin);
        self.lines.push(Line {
            day: day(date),
            hcpcs: codes::hcpcs_key(code),
            revenue_center: None,
            pos: pos.parse().ok(),
            claim_type: ClaimType::Professional,
            tin: Some(tin),
            ccn: None,
            specialty: codes::specialty_key(spec),
            allowed_cents: (dollars * 100.0).round() as i64,
            version: Version::Original,
            claim: ClaimKey::NONE,
        });
        self
    }

    /// A primary care office visit (99213, POS 11).
    fn visit(self, date: &str, spec: &str, tin: &str, dollars: f64) -> Case {
        self.pro(date, "99213", "11", spec, tin, dollars)
    }

    /// An institutional line: claim type, CCN, HCPCS, revenue center, specialty, dollars.
    #[allow(clippy::too_many_arguments)]
    fn inst(
        mut self,
        date: &str,
        ct: ClaimType,
        ccn: &str,
        code: &str,
        rev: u16,
        spec: &str,
        dollars: f64,
    ) -> Case {
        let ccn = self.reg.ccn(ccn);
        self.lines.push(Line {
            day: day(date),
            hcpcs: codes::hcpcs_key(code),
            revenue_center: Some(rev),
            pos: None,
            claim_type: ct,
            tin: None,
            ccn: Some(ccn),
            specialty: codes::specialty_key(spec),
            allowed_cents: (dollars * 100.0).round() as i64,
            version: Version::Original,
            claim: ClaimKey::NONE,
        });
        self
    }

    /// Marks the last line as a cancellation.
    fn cancelled(mut self) -> Case {
        if let Some(l) = self.lines.last_mut() {
            l.version = Version::Cancellation;
            l.allowed_cents = -l.allowed_cents;
        }
        self
    }

    /// Gives the last line a claim id and line number.
    fn claim(mut self, id: &str, line: u32) -> Case {
        if let Some(l) = self.lines.last_mut() {
            l.claim = ClaimKey::new(id, line);
        }
        self
    }

    /// Adds another version of the last line's claim line: `version` with `dollars`.
    fn version(mut self, version: Version, dollars: f64) -> Case {
        if let Some(&l) = self.lines.last() {
            self.lines.push(Line {
                version,
                allowed_cents: (dollars * 100.0).round() as i64,
                ..l
            });
        }
        self
    }

    /// Tallies (claim versions resolved per claim line) and the version counters.
    fn tallies_and_stats(&self) -> (Vec<Tally>, VersionStats) {
        let mut t = Vec::new();
        let mut scratch = Vec::new();
        let stats = tally_lines(
            &self.rules,
            &self.reg,
            &self.lines,
            &mut scratch,
            &mut t,
            |_| {},
        );
        (t, stats)
    }

    fn tallies(&self) -> Vec<Tally> {
        self.tallies_and_stats().0
    }

    fn run(&self) -> Assignment {
        assign(&self.rules, &self.bene, &self.tallies(), self.tie)
    }

    fn name(&self, e: Entity) -> String {
        self.reg.entity_name(e)
    }

    /// (ACO id or "", step, [(entity, dollars)]).
    fn outcome(&self) -> (String, Option<StepKind>, Vec<(String, String)>) {
        let a = self.run();
        // Every result must also explain itself without panicking.
        let steps = explain(&self.rules, self.tie, &self.bene, &a, |e| self.name(e));
        assert!(!steps.is_empty());
        (
            a.aco
                .map(|i| self.reg.acos()[i as usize].clone())
                .unwrap_or_default(),
            a.step,
            a.competing
                .iter()
                .map(|c| (self.name(c.entity), explain::dollars(c.cents)))
                .collect(),
        )
    }
}

fn totals(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// 425.402(b)(3): plurality is entity by entity. An outside TIN with more step-1 charges than the ACO
/// wins (not assigned); an ACO with more than each outside TIN wins even when the outside TINs
/// together have more.
#[test]
fn step_1_plurality_is_entity_by_entity() {
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 150.0)
        .visit("2024-05-01", "08", "111111112", 150.0)
        .visit("2024-03-01", "08", "333333333", 400.0);
    assert_eq!(
        c.outcome(),
        (
            String::new(),
            Some(StepKind::Step1),
            totals(&[("tin:333333333", "400.00"), ("aco:A", "300.00")])
        )
    );
    assert_eq!(c.run().reason, Reason::NotPlurality);

    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 500.0)
        .visit("2024-03-01", "08", "333333333", 400.0)
        .visit("2024-04-01", "50", "444444444", 300.0);
    assert_eq!(
        c.outcome(),
        (
            "A".into(),
            Some(StepKind::Step1),
            totals(&[
                ("aco:A", "500.00"),
                ("tin:333333333", "400.00"),
                ("tin:444444444", "300.00")
            ])
        )
    );
}

/// 425.402(b)(3)(i): another ACO is one entity (the union of its TINs): B's 2 x 200 beats A's 350.
#[test]
fn another_aco_competes_as_one_entity() {
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 350.0)
        .visit("2024-03-01", "11", "222222221", 200.0)
        .visit("2024-04-01", "50", "222222221", 200.0);
    assert_eq!(
        c.outcome(),
        (
            "B".into(),
            Some(StepKind::Step1),
            totals(&[("aco:B", "400.00"), ("aco:A", "350.00")])
        )
    );
}

/// 425.402(b)(4): step 2 (specialists) only when there is no PCP/NP/PA/CNS primary care service
/// anywhere, inside or outside the ACO.
#[test]
fn step_2_only_without_any_step_1_service() {
    let specialists = Case::new(2024)
        .visit("2024-02-01", "06", "111111111", 200.0) // cardiology in ACO A
        .visit("2024-03-01", "13", "333333333", 150.0); // neurology outside
    assert_eq!(
        specialists.outcome(),
        (
            "A".into(),
            Some(StepKind::Step2),
            totals(&[("aco:A", "200.00"), ("tin:333333333", "150.00")])
        )
    );
    // One $50 NP visit outside: step 1 applies, where ACO A has no charges: not assigned.
    let c = specialists.visit("2024-06-01", "50", "555555555", 50.0);
    assert_eq!(
        c.outcome(),
        (
            String::new(),
            Some(StepKind::Step1),
            totals(&[("tin:555555555", "50.00")])
        )
    );
    // Specialties outside 425.402(c) (radiology 30) never count from PY2016.
    let c = Case::new(2024).visit("2024-02-01", "30", "111111111", 900.0);
    assert_eq!(c.outcome(), (String::new(), None, vec![]));
    assert_eq!(c.run().reason, Reason::NoPrimaryCare);
}

/// 425.402(b)(1): the pre-screen needs a service from an ACO *physician* (PCP or step-2 specialist):
/// an ACO with only NP visits cannot be assigned before PY2025, whatever its charges.
#[test]
fn pre_screen_needs_an_aco_physician() {
    let c = Case::new(2024)
        .visit("2024-02-01", "50", "111111111", 500.0)
        .visit("2024-03-01", "11", "333333333", 100.0);
    assert_eq!(c.outcome(), (String::new(), None, vec![]));
    assert_eq!(c.run().reason, Reason::NoAcoPhysicianService);
}

/// 425.400(c)(1)(iii)-(v): 99304-99318 furnished in a SNF (POS 31) do not count from PY2017; they
/// did in PY2016; the same code at POS 32 (nursing facility) counts.
#[test]
fn snf_place_of_service_exclusion() {
    let snf = |py: i32, pos: &str| {
        Case::new(py)
            .pro(
                &format!("{py}-03-01"),
                "99308",
                pos,
                "11",
                "111111111",
                90.0,
            )
            .visit(&format!("{py}-04-01"), "11", "333333333", 60.0)
    };
    assert_eq!(
        snf(2016, "31").outcome(),
        (
            "A".into(),
            Some(StepKind::Step1),
            totals(&[("aco:A", "90.00"), ("tin:333333333", "60.00")])
        )
    );
    assert_eq!(
        snf(2017, "31").outcome(),
        (String::new(), None, vec![]) // A's only service is gone: no ACO physician service
    );
    assert_eq!(snf(2017, "32").outcome().0, "A");
    // 99497 (advance care planning) inpatient (POS 21) excluded from PY2021.
    let acp = |py: i32| {
        Case::new(py)
            .pro(
                &format!("{py}-03-01"),
                "99497",
                "21",
                "11",
                "111111111",
                80.0,
            )
            .outcome()
            .0
    };
    assert_eq!((acp(2020), acp(2021)), ("A".to_string(), String::new()));
}

/// Each year's code set (425.400(c)(1)(i)-(v), (c)(2)): 99490 counts from PY2016; 99421 from PY2021
/// and in PY2020 (window overlaps the public health emergency); 99441 only in PHE windows; G2211
/// from PY2024 [R].
#[test]
fn code_set_changes_by_year() {
    let one = |py: i32, code: &str| {
        Case::new(py)
            .pro(&format!("{py}-06-01"), code, "11", "11", "111111111", 62.34)
            .outcome()
            .0
    };
    let yes = "A".to_string();
    let no = String::new();
    assert_eq!(
        (one(2015, "99490"), one(2016, "99490")),
        (no.clone(), yes.clone())
    );
    assert_eq!(
        (
            one(2019, "99421"),
            one(2020, "99421"),
            one(2021, "99421"),
            one(2024, "99421")
        ),
        (no.clone(), yes.clone(), yes.clone(), yes.clone())
    );
    assert_eq!(
        (
            one(2019, "99441"),
            one(2022, "99441"),
            one(2023, "99441"),
            one(2024, "99441")
        ),
        (no.clone(), yes.clone(), yes.clone(), no.clone())
    );
    assert_eq!(
        (one(2023, "G2211"), one(2024, "G2211")),
        (no.clone(), yes.clone())
    );
    assert_eq!(
        (one(2018, "99487"), one(2019, "99487")),
        (no.clone(), yes.clone())
    );
    // Unknown or malformed codes are simply not primary care.
    for code in ["ABCDE", "9921", "992133", "", "G04O2", "\u{e9}9213"] {
        assert_eq!(one(2024, code), no, "{code:?}");
    }
}

/// 425.402(a) vs (b): PY2015 step 1 is PCPs only (NP counted in step 2); PY2016 NP is step 1.
/// Pediatrics (37) is a primary care specialty from PY2016 (425.20).
#[test]
fn methodology_2012_2015_vs_2016() {
    let c = |py: i32| {
        Case::new(py)
            .visit(&format!("{py}-02-01"), "50", "111111111", 300.0) // NP in A
            .visit(&format!("{py}-03-01"), "11", "111111112", 10.0) // PCP in A (pre-screen)
            .visit(&format!("{py}-04-01"), "08", "333333333", 100.0) // PCP outside
    };
    // PY2015: step 1 compares PCP charges only: outside 100 > A 10.
    assert_eq!(
        c(2015).outcome(),
        (
            String::new(),
            Some(StepKind::Step1),
            totals(&[("tin:333333333", "100.00"), ("aco:A", "10.00")])
        )
    );
    // PY2016: NP counts in step 1: A 310 > 100.
    assert_eq!(
        c(2016).outcome(),
        (
            "A".into(),
            Some(StepKind::Step1),
            totals(&[("aco:A", "310.00"), ("tin:333333333", "100.00")])
        )
    );
    let peds = |py: i32| {
        Case::new(py)
            .visit(&format!("{py}-02-01"), "37", "111111111", 120.0)
            .visit(&format!("{py}-03-01"), "06", "333333333", 100.0)
            .outcome()
    };
    // PY2015: pediatrics is an "other physician": no PCP anywhere, step 2 over all professionals.
    assert_eq!(
        peds(2015),
        (
            "A".into(),
            Some(StepKind::Step2),
            totals(&[("aco:A", "120.00"), ("tin:333333333", "100.00")])
        )
    );
    // PY2016: pediatrics is primary care: step 1, where only A has charges.
    assert_eq!(
        peds(2016),
        (
            "A".into(),
            Some(StepKind::Step1),
            totals(&[("aco:A", "120.00")])
        )
    );
}

/// 425.402(e): voluntary alignment overrides claims (PY2019+: any ACO professional, no service
/// needed); a designation outside every ACO blocks claims-based assignment; before PY2018
/// designations are ignored; PY2018 needs a service from a physician of that ACO.
#[test]
fn voluntary_alignment_overrides_claims() {
    let claims = |py: i32| {
        Case::new(py)
            .visit(&format!("{py}-02-01"), "11", "111111111", 500.0)
            .visit(&format!("{py}-03-01"), "11", "222222221", 100.0)
    };
    let mut c = claims(2024);
    c.bene.designation = c.reg.designation("2000000001", ""); // B's professional, by NPI
    assert_eq!(
        c.outcome(),
        ("B".into(), Some(StepKind::VoluntaryAlignment), vec![])
    );
    c.bene.designation = c.reg.designation("", "222222221"); // by TIN
    assert_eq!(c.outcome().0, "B");
    // Designated outside every ACO: no claims-based assignment (A would win on claims).
    c.bene.designation = c.reg.designation("1999999999", "777777777");
    assert_eq!(c.run().reason, Reason::DesignatedOutside);
    assert_eq!(c.outcome().0, "");
    // Designated a clinician of a TIN shared by A and B: not in effect, claims decide.
    c.bene.designation = c.reg.designation("", "999999999");
    assert_eq!(c.outcome().0, "A");
    assert_eq!(
        c.run().designation_not_in_effect,
        Some(eligibility::NotInEffect::Ambiguous)
    );
    // PY2017: ignored.
    let mut c = claims(2017);
    c.bene.designation = c.reg.designation("2000000001", "");
    assert_eq!(c.outcome().0, "A");
    // PY2018: B has a physician service, so the designation holds; a designee who is a radiologist
    // (30) is not eligible, and without a B physician service it does not hold: either way the
    // beneficiary designated a practitioner outside A, so A (which has the plurality) cannot have
    // them by claims (425.402(e)(2)(i)(D); see py2018_designation_bars_other_acos).
    let mut c = claims(2018);
    c.bene.designation = c.reg.designation("2000000001", "");
    assert_eq!(c.outcome().0, "B");
    c.bene.designated_specialty = codes::specialty_key("30");
    assert_eq!(c.outcome().0, "");
    assert_eq!(c.run().reason, Reason::DesignatedOutside);
    let mut c = Case::new(2018).visit("2018-02-01", "11", "111111111", 500.0);
    c.bene.designation = c.reg.designation("2000000001", "");
    assert_eq!(c.outcome().0, "");
    assert_eq!(
        c.run().designation_not_in_effect,
        Some(eligibility::NotInEffect::Py2018NoService)
    );
    // Designation never overrides the eligibility screens.
    let mut c = claims(2024);
    c.bene.designation = c.reg.designation("2000000001", "");
    c.bene.enrollment = Some(Enrollment {
        months_group_health_plan: 1,
        ..eligible()
    });
    assert_eq!(
        c.run().reason,
        Reason::Ineligible(Ineligible::GroupHealthPlan)
    );
}

/// 425.400(a)(2)(iii): services billed through a TIN in more than one ACO are excluded everywhere,
/// including from "any PCP service anywhere" [I]: the PCP visit at the shared TIN is dropped, so the
/// beneficiary goes to step 2 and A's cardiologist wins.
#[test]
fn shared_tin_services_are_excluded() {
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "999999999", 500.0)
        .visit("2024-03-01", "06", "111111111", 100.0)
        .visit("2024-04-01", "06", "333333333", 80.0);
    assert_eq!(
        c.outcome(),
        (
            "A".into(),
            Some(StepKind::Step2),
            totals(&[("aco:A", "100.00"), ("tin:333333333", "80.00")])
        )
    );
    assert_eq!(
        c.rules.classify(&c.lines[0], &c.reg),
        Err(Skip::SharedParticipant)
    );
}

/// Ties (mssp-rules.md 2.4(6) [R]): equal totals go to the most recent service by default; equal
/// dates, or the Unassigned policy, leave the beneficiary unassigned.
#[test]
fn tie_break() {
    let tie = |aco_date: &str, out_date: &str| {
        Case::new(2024)
            .visit(aco_date, "11", "111111111", 200.0)
            .visit(out_date, "11", "333333333", 200.0)
    };
    let c = tie("2024-05-01", "2024-06-01");
    assert_eq!(c.outcome().0, "");
    assert_eq!(c.run().reason, Reason::NotPlurality);
    assert_eq!(
        c.run().winner.map(|e| c.name(e)),
        Some("tin:333333333".into())
    );
    let c = tie("2024-07-01", "2024-06-01");
    assert_eq!(
        c.outcome(),
        (
            "A".into(),
            Some(StepKind::Step1),
            totals(&[("aco:A", "200.00"), ("tin:333333333", "200.00")])
        )
    );
    assert_eq!(c.run().reason, Reason::AssignedByTieBreak);
    let c = tie("2024-06-01", "2024-06-01");
    assert_eq!(
        (c.outcome().0, c.run().reason),
        (String::new(), Reason::Tie)
    );
    let mut c = tie("2024-07-01", "2024-06-01");
    c.tie = TieBreak::Unassigned;
    assert_eq!(
        (c.outcome().0, c.run().reason),
        (String::new(), Reason::Tie)
    );
}

/// Claim versions net out by summation: A's $300 original with a cancelled $200 claim leaves $100,
/// below the outside $150; an adjustment (cancel + new version) replaces the amount.
#[test]
fn cancelled_and_adjusted_claims_net_out() {
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .visit("2024-03-01", "11", "111111111", 200.0)
        .visit("2024-03-01", "11", "111111111", 200.0)
        .cancelled()
        .visit("2024-04-01", "11", "333333333", 150.0);
    assert_eq!(
        c.outcome(),
        (
            String::new(),
            Some(StepKind::Step1),
            totals(&[("tin:333333333", "150.00"), ("aco:A", "100.00")])
        )
    );
    // Adjusted up: the $100 claim is cancelled and re-issued at $180: A 180 > 150.
    let c = c
        .visit("2024-02-01", "11", "111111111", 100.0)
        .cancelled()
        .visit("2024-02-01", "11", "111111111", 180.0);
    assert_eq!(c.outcome().0, "A");
    assert_eq!(
        c.outcome().2[0],
        ("aco:A".to_string(), "180.00".to_string())
    );
    // A cancellation given with a positive amount still subtracts.
    let mut c = Case::new(2024).visit("2024-02-01", "11", "111111111", 100.0);
    let mut l = c.lines[0];
    l.version = Version::Cancellation;
    c.lines.push(l);
    assert_eq!(c.run().reason, Reason::NoAcoPhysicianService);
}

/// 425.402(e)(2)(i)(D), PY2018: "a beneficiary who has designated a provider or supplier outside the
/// ACO ... will not be added to the ACO's list of assigned beneficiaries" by claims.
///
/// | PY | designee | claims (step 1) | result |
/// |---|---|---|---|
/// | 2018 | NPI 2000000001 of B, no service at B | A $500, outside $100 | not assigned (A barred, B fails (A)) |
/// | 2018 | same, B $150 by its PCP, A $500 | A $500 > B $150 | aligned to B (designation in effect) |
/// | 2018 | B radiologist (30), B $300 PCP, A $200 | B $300 > A $200 | B by claims (not barred) |
/// | 2018 | B radiologist (30), A $500, B $300 | A $500 > B $300 | not assigned (A barred) |
/// | 2018 | outside every ACO (radiologist) | A $500 | not assigned |
/// | 2019 | NPI 2000000001 of B, no service at B | A $500 | aligned to B (425.402(e)(2)(ii)) |
/// | 2019 | outside every ACO | A $500 | not assigned |
#[test]
fn py2018_designation_bars_other_acos() {
    // The worked case: designated B's professional, only A (and an outside TIN) furnished care.
    let mut c = Case::new(2018)
        .visit("2018-02-01", "11", "111111111", 500.0)
        .visit("2018-03-01", "08", "333333333", 100.0);
    c.bene.designation = c.reg.designation("2000000001", "");
    let a = c.run();
    assert_eq!(
        (a.aco, a.reason, a.step),
        (None, Reason::DesignatedOutside, Some(StepKind::Step1))
    );
    assert_eq!(a.winner, Some(Entity::aco(A)));
    assert_eq!(
        a.designation_not_in_effect,
        Some(eligibility::NotInEffect::Py2018NoService)
    );
    let steps = explain(&c.rules, c.tie, &c.bene, &a, |e| c.name(e));
    assert!(
        steps
            .iter()
            .any(|s| s.output.contains("425.402(e)(2)(i)(D)")),
        "{steps:?}"
    );
    // A service from B's PCP puts the designation in effect: aligned to B.
    let c2 = {
        let mut c2 = Case::new(2018)
            .visit("2018-02-01", "11", "111111111", 500.0)
            .visit("2018-03-01", "11", "222222221", 150.0);
        c2.bene.designation = c2.reg.designation("2000000001", "");
        c2
    };
    assert_eq!(
        c2.outcome(),
        ("B".into(), Some(StepKind::VoluntaryAlignment), vec![])
    );
    // Designee B's radiologist: not in effect ((C)), yet only B may have the beneficiary by claims.
    let radiologist = |a_dollars: f64| {
        let mut c = Case::new(2018)
            .visit("2018-02-01", "11", "111111111", a_dollars)
            .visit("2018-03-01", "11", "222222221", 300.0);
        c.bene.designation = c.reg.designation("2000000001", "");
        c.bene.designated_specialty = codes::specialty_key("30");
        c
    };
    assert_eq!(
        radiologist(200.0).outcome(),
        (
            "B".into(),
            Some(StepKind::Step1),
            totals(&[("aco:B", "300.00"), ("aco:A", "200.00")])
        )
    );
    assert_eq!(
        radiologist(200.0).run().designation_not_in_effect,
        Some(eligibility::NotInEffect::Py2018Designee)
    );
    assert_eq!(radiologist(500.0).outcome().0, "");
    assert_eq!(radiologist(500.0).run().reason, Reason::DesignatedOutside);
    // Outside every ACO: no claims-based assignment, whatever the designee's specialty.
    let mut c = Case::new(2018).visit("2018-02-01", "11", "111111111", 500.0);
    c.bene.designation = c.reg.designation("1999999999", "777777777");
    c.bene.designated_specialty = codes::specialty_key("30");
    assert_eq!(c.run().reason, Reason::DesignatedOutside);
    assert_eq!(c.run().aco, None);
    // PY2019+ (425.402(e)(2)(ii)): any ACO professional aligns, no service needed; outside every
    // ACO still bars claims.
    for py in [2019, 2024, 2026] {
        let mut c = Case::new(py).visit(&format!("{py}-02-01"), "11", "111111111", 500.0);
        c.bene.designation = c.reg.designation("2000000001", "");
        assert_eq!(
            c.outcome(),
            ("B".into(), Some(StepKind::VoluntaryAlignment), vec![])
        );
        c.bene.designation = c.reg.designation("1999999999", "777777777");
        assert_eq!(c.run().reason, Reason::DesignatedOutside, "PY{py}");
        assert_eq!(c.run().aco, None);
    }
}

/// Claim versions by claim and line (CCLF `CUR_CLM_UNIQ_ID` + `CLM_LINE_NUM`): a cancellation or
/// adjustment applies to its own claim line; a cancelled service counts nowhere (425.402(b)(3):
/// only "primary care services furnished" count, and a cancelled claim was not furnished).
///
/// | case | lines (step 1, PY2024) | summation (before) | by claim line |
/// |---|---|---|---|
/// | adjustment without cancel | A C1/1 $100, adjustment C1/1 $180; outside $150 | A $280 | A $180 > $150: A |
/// | unmatched cancel | A C1/1 $150, cancel C9/1 $100; outside $100 | A $50: not assigned | A $150: A, 1 unmatched |
/// | cancel of another amount | A C1/1 $100 + C2/1 $90, cancel C1/1 -$120; outside $95 | A $70 | A $90 < $95: not assigned |
/// | cancel with other codes | A's only PCP service C1/1 $100, cancel with HCPCS 71046; A NP $300 | pre-screen passes | pre-screen fails |
/// | cancelled latest date | A C1 Feb $100 + C3 Jun $100 cancelled, B C2 Mar $100 | tie to A (Jun) | tie to B (Mar > Feb) |
/// | cancel, then reissue | A C1/1 $100, cancel, adjustment $180; outside $150 | A $180 | A $180: A |
/// | cancel before original | cancel C1/1 first, then A C1/1 $100; outside $50 | same | cancelled: outside |
#[test]
fn claim_versions_by_claim_and_line() {
    // An adjustment replaces its own original.
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C1", 1)
        .version(Version::Adjustment, 180.0)
        .visit("2024-03-01", "08", "333333333", 150.0)
        .claim("C2", 1);
    assert_eq!(
        c.outcome(),
        (
            "A".into(),
            Some(StepKind::Step1),
            totals(&[("aco:A", "180.00"), ("tin:333333333", "150.00")])
        )
    );
    assert_eq!(c.tallies_and_stats().1.superseded, 1);
    // A cancellation whose original never arrived is ignored and reported.
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 150.0)
        .claim("C1", 1)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C9", 1)
        .cancelled()
        .visit("2024-03-01", "08", "333333333", 100.0)
        .claim("C2", 1);
    assert_eq!(c.outcome().0, "A");
    assert_eq!(c.outcome().2[0], ("aco:A".into(), "150.00".into()));
    assert_eq!(
        c.tallies_and_stats().1,
        VersionStats {
            superseded: 0,
            unmatched_cancellations: 1
        }
    );
    // A cancellation removes its own line, whatever amount it carries; the other claim of A stays.
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C1", 1)
        .version(Version::Cancellation, -120.0)
        .visit("2024-02-02", "11", "111111111", 90.0)
        .claim("C2", 1)
        .visit("2024-03-01", "08", "333333333", 95.0)
        .claim("C3", 1);
    assert_eq!(
        c.outcome(),
        (
            String::new(),
            Some(StepKind::Step1),
            totals(&[("tin:333333333", "95.00"), ("aco:A", "90.00")])
        )
    );
    // Line numbers matter: cancelling line 2 leaves line 1 of the same claim.
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C1", 1)
        .visit("2024-02-01", "11", "111111111", 60.0)
        .claim("C1", 2)
        .cancelled();
    assert_eq!(c.outcome().2, totals(&[("aco:A", "100.00")]));
    // A cancelled service is not in the pre-screen's count, even when the cancellation carries
    // other codes: A's only physician service is cancelled, its NP service cannot pass it
    // (425.402(b)(1)).
    let mut c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C1", 1)
        .version(Version::Cancellation, -100.0)
        .visit("2024-03-01", "50", "111111112", 300.0)
        .claim("C2", 1);
    if let Some(l) = c.lines.get_mut(1) {
        l.hcpcs = codes::hcpcs_key("71046");
    }
    assert_eq!(c.run().reason, Reason::NoAcoPhysicianService);
    assert!(c.tallies().iter().all(|t| t.n_physician == 0));
    // A cancelled service is not the latest service date of the tie-break: A $100 (Feb) + $100
    // (Jun, cancelled) ties B $100 (Mar); B's March service is the most recent.
    let mut c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C1", 1)
        .visit("2024-06-01", "11", "111111111", 100.0)
        .claim("C3", 1)
        .cancelled()
        .visit("2024-03-01", "11", "222222221", 100.0)
        .claim("C2", 1);
    assert_eq!(c.outcome().0, "B");
    assert_eq!(c.run().reason, Reason::AssignedByTieBreak);
    let a = aco_last(&c.tallies(), A);
    assert_eq!(a, Some(day("2024-02-01")));
    // Cancelled then re-issued as an adjustment (CMS order): the adjustment counts once.
    c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C1", 1)
        .version(Version::Cancellation, -100.0)
        .version(Version::Adjustment, 180.0)
        .visit("2024-03-01", "08", "333333333", 150.0)
        .claim("C2", 1);
    assert_eq!(c.outcome().2[0], ("aco:A".into(), "180.00".into()));
    assert_eq!(c.tallies_and_stats().1.superseded, 2);
    // Order does not matter: the cancellation first, then its original.
    let c = Case::new(2024)
        .visit("2024-02-01", "11", "111111111", 100.0)
        .claim("C1", 1)
        .cancelled()
        .version(Version::Original, 100.0)
        .visit("2024-03-01", "08", "333333333", 50.0)
        .claim("C2", 1);
    assert_eq!(c.run().reason, Reason::NoAcoPhysicianService);
    assert!(c.tallies().iter().all(|t| t.entity.as_aco().is_none()));
}

fn aco_last(tallies: &[Tally], aco: u32) -> Option<Date> {
    tallies
        .iter()
        .find(|t| t.entity == Entity::aco(aco))
        .map(|t| t.last_step1)
}

/// 425.401(a): each screen on its own fails an otherwise-assigned beneficiary.
#[test]
fn eligibility_screens() {
    let base = || Case::new(2024).visit("2024-02-01", "11", "111111111", 100.0);
    assert_eq!(base().outcome().0, "A");
    let cases = [
        (
            Enrollment {
                months_a_and_b: 0,
                ..eligible()
            },
            Ineligible::NoPartAAndB,
        ),
        (
            Enrollment {
                months_a_or_b_only: 1,
                ..eligible()
            },
            Ineligible::PartAOrBOnly,
        ),
        (
            Enrollment {
                months_a_only: 1,
                ..eligible()
            },
            Ineligible::PartAOnly,
        ),
        (
            Enrollment {
                months_b_only: 3,
                ..eligible()
            },
            Ineligible::PartBOnly,
        ),
        (
            Enrollment {
                months_group_health_plan: 2,
                ..eligible()
            },
            Ineligible::GroupHealthPlan,
        ),
        (
            Enrollment {
                other_initiative: true,
                ..eligible()
            },
            Ineligible::OtherInitiative,
        ),
        (
            Enrollment {
                us_resident: false,
                ..eligible()
            },
            Ineligible::NotUsResident,
        ),
    ];
    let mut codes_seen = Vec::new();
    for (e, why) in cases {
        let mut c = base();
        c.bene.enrollment = Some(e);
        assert_eq!(c.run().reason, Reason::Ineligible(why));
        assert_eq!(c.run().aco, None);
        // The explanation names the screen by its code and paragraph.
        let a = c.run();
        let steps = explain(&c.rules, c.tie, &c.bene, &a, |x| c.name(x));
        let elig = steps
            .iter()
            .find(|s| s.rule == "attribution.eligibility")
            .expect("eligibility step");
        assert!(elig.output.contains(why.code()), "{}", elig.output);
        assert!(elig.output.contains(why.citation()), "{}", elig.output);
        codes_seen.push(why.code());
    }
    assert_eq!(
        codes_seen,
        [
            "no_part_a_and_b",
            "part_a_or_b_only",
            "part_a_only",
            "part_b_only",
            "medicare_advantage",
            "other_initiative",
            "outside_us"
        ]
    );
    // Screens apply in order: Part A only before Part B only before Medicare Advantage.
    let mut c = base();
    c.bene.enrollment = Some(Enrollment {
        months_a_only: 1,
        months_b_only: 1,
        months_group_health_plan: 1,
        ..eligible()
    });
    assert_eq!(c.run().reason, Reason::Ineligible(Ineligible::PartAOnly));
    let mut c = base();
    c.bene.enrollment = None;
    assert_eq!(c.run().reason, Reason::NoEnrollmentRecord);
}

/// PY2025+ step 3 [S]: A failed the pre-screen (only an NP in the window) but had a PCP service in
/// the lookback: over 24 months A has 300 + 100 = 400 > outside 250. In PY2024 the same data is not
/// assigned (no step 3).
#[test]
fn step_3_expanded_window() {
    let c = |py: i32| {
        Case::new(py)
            .visit(&format!("{py}-03-01"), "50", "111111111", 300.0)
            .visit(&format!("{}-09-01", py - 1), "11", "111111112", 100.0)
            .visit(&format!("{py}-04-01"), "08", "333333333", 250.0)
    };
    assert_eq!(
        c(2025).outcome(),
        (
            "A".into(),
            Some(StepKind::Step3),
            totals(&[("aco:A", "400.00"), ("tin:333333333", "250.00")])
        )
    );
    assert_eq!(c(2024).run().reason, Reason::NoAcoPhysicianService);
    // Without the NP service in the window, step 3 does not apply.
    let c = Case::new(2025)
        .visit("2024-09-01", "11", "111111112", 100.0)
        .visit("2025-04-01", "08", "333333333", 250.0);
    assert_eq!(c.run().reason, Reason::NoAcoPhysicianService);
}

/// 425.404(b) (spec v7): from PY2019 every FQHC/RHC service is primary care by a PCP (an FQHC visit
/// G0467 counts); before, only primary care codes, or RHC revenue centers 0521-0525 (425.400(c)(1)).
/// CAH Method II lines need revenue center 096x-098x and a primary care code [R].
#[test]
fn fqhc_rhc_and_cah_lines() {
    let fqhc = |py: i32| {
        Case::new(py)
            .inst(
                &format!("{py}-03-01"),
                ClaimType::Fqhc,
                "011800",
                "G0467",
                521,
                "50",
                180.0,
            )
            .visit(&format!("{py}-04-01"), "11", "333333333", 100.0)
    };
    assert_eq!(
        fqhc(2019).outcome(),
        (
            "A".into(),
            Some(StepKind::Step1),
            totals(&[("aco:A", "180.00"), ("tin:333333333", "100.00")])
        )
    );
    assert_eq!(fqhc(2018).outcome().0, ""); // G0467 not a primary care code before 2019
    let rhc = Case::new(2018)
        .inst("2018-03-01", ClaimType::Rhc, "011800", "", 521, "11", 180.0)
        .visit("2018-04-01", "11", "333333333", 100.0);
    assert_eq!(rhc.outcome().0, "A");
    let unaffiliated = Case::new(2024)
        .visit("2024-03-01", "11", "111111111", 100.0)
        .inst(
            "2024-04-01",
            ClaimType::Rhc,
            "453400",
            "G0466",
            521,
            "50",
            170.0,
        );
    assert_eq!(
        unaffiliated.outcome(),
        (
            String::new(),
            Some(StepKind::Step1),
            totals(&[("ccn:453400", "170.00"), ("aco:A", "100.00")])
        )
    );
    let cah = |rev: u16| {
        Case::new(2024)
            .inst(
                "2024-03-01",
                ClaimType::CahMethodII,
                "011800",
                "99214",
                rev,
                "08",
                120.0,
            )
            .outcome()
            .0
    };
    assert_eq!(
        (cah(960), cah(983), cah(510)),
        ("A".into(), "A".into(), String::new())
    );
}

/// 425.20: continuously assigned if the ACO's participants furnished a primary care service in the
/// prior 12 months (or it was assigned there last year); otherwise newly assigned.
#[test]
fn newly_vs_continuously_assigned() {
    let c = Case::new(2024).visit("2024-02-01", "11", "111111111", 100.0);
    assert!(!c.run().continuous);
    let c = c.visit("2023-06-01", "06", "111111112", 40.0);
    assert!(c.run().continuous);
    let mut c = Case::new(2024).visit("2024-02-01", "11", "111111111", 100.0);
    c.bene.prior_aco = Some(A);
    assert!(c.run().continuous);
    c.bene.prior_aco = Some(B);
    assert!(!c.run().continuous);
}

/// Lines outside the window and its lookback are ignored; bad years and quarters are errors.
#[test]
fn window_bounds_and_rule_set_errors() {
    let c = Case::new(2024)
        .visit("2022-12-31", "11", "111111111", 100.0)
        .visit("2025-01-01", "11", "111111111", 100.0);
    for l in &c.lines {
        assert_eq!(c.rules.classify(l, &c.reg), Err(Skip::OutsideWindow));
    }
    assert_eq!(
        RuleSet::new(2011, WindowKind::Retrospective),
        Err(RuleError::PerformanceYear(2011))
    );
    assert_eq!(
        RuleSet::new(2027, WindowKind::Retrospective),
        Err(RuleError::PerformanceYear(2027))
    );
    assert_eq!(
        RuleSet::new(2024, WindowKind::Quarterly(0)),
        Err(RuleError::Quarter(0))
    );
    // Every code row is well formed and rows never overlap.
    let mut seen = std::collections::HashSet::new();
    for r in codes::code_rows() {
        let (a, b) = (
            codes::hcpcs_key(r.first).expect("first"),
            codes::hcpcs_key(r.last).expect("last"),
        );
        assert!(a <= b, "{}-{}", r.first, r.last);
        for k in a..=b {
            assert!(seen.insert(k), "{} overlaps", r.first);
        }
    }
}

fn arb_line() -> impl Strategy<Value = Line> {
    (
        0..800i32,
        prop::sample::select(vec![
            "99213", "99308", "99490", "G0439", "71046", "G0467", "zzzzz",
        ]),
        prop::sample::select(vec!["11", "08", "50", "06", "30", "37", "XX"]),
        0..6u32,
        -50_000i64..50_000,
        0..3u8,
        0..3u8,
    )
        .prop_map(|(d, code, spec, tin, cents, v, ct)| Line {
            day: Date::new(2023, 1, 1)
                .and_then(|x| x.add_days(d))
                .expect("date"),
            hcpcs: codes::hcpcs_key(code),
            revenue_center: Some(521),
            pos: Some(if d % 7 == 0 { 31 } else { 11 }),
            claim_type: [ClaimType::Professional, ClaimType::Fqhc, ClaimType::Rhc][ct as usize],
            tin: Some(tin),
            ccn: Some(tin % 2),
            specialty: codes::specialty_key(spec),
            allowed_cents: cents,
            version: [
                Version::Original,
                Version::Adjustment,
                Version::Cancellation,
            ][v as usize],
            claim: ClaimKey::NONE,
        })
}

fn prop_registry() -> Registry {
    let mut reg = Registry::new(&acos());
    for t in [
        "111111111",
        "111111112",
        "999999999",
        "222222221",
        "333333333",
        "444444444",
    ] {
        reg.tin(t);
    }
    reg.ccn("011800");
    reg.ccn("453400");
    reg
}

proptest! {
    /// Invariants on arbitrary lines: an assigned beneficiary's ACO holds the top total, strictly
    /// above the runner-up unless the tie-break decided; competing totals are positive and sorted.
    #[test]
    fn assignment_invariants(lines in prop::collection::vec(arb_line(), 0..40), py in 2012..=2026i32) {
        let rules = RuleSet::new(py, WindowKind::Retrospective).expect("rules");
        let reg = prop_registry();
        let mut t = Vec::new();
        for l in &lines {
            if let Ok(c) = rules.classify(l, &reg) {
                tally_into(&mut t, &c);
            }
        }
        let b = Beneficiary { enrollment: Some(eligible()), ..Beneficiary::default() };
        let a = assign(&rules, &b, &t, TieBreak::MostRecentService);
        prop_assert!(a.competing.windows(2).all(|w| w[0].cents >= w[1].cents));
        prop_assert!(a.competing.iter().all(|c| c.cents > 0));
        if let Some(aco) = a.aco {
            prop_assert_eq!(a.competing[0].entity, Entity::aco(aco));
            if let Some(second) = a.competing.get(1) {
                prop_assert!(second.cents < a.competing[0].cents || a.reason == Reason::AssignedByTieBreak);
            }
        }
        let _ = explain(&rules, TieBreak::MostRecentService, &b, &a, |e| reg.entity_name(e));
    }

    /// Aggregation is order-free: a whole population tallied line by line in any order gives every
    /// beneficiary the same tallies as tallying each beneficiary alone.
    #[test]
    fn population_tallies_do_not_depend_on_order(
        lines in prop::collection::vec((0..5u32, arb_line()), 0..80),
        seed in any::<u64>(),
    ) {
        let rules = RuleSet::new(2024, WindowKind::Retrospective).expect("rules");
        let reg = prop_registry();
        let mut per = vec![Vec::new(); 5];
        for (b, l) in &lines {
            if let Ok(c) = rules.classify(l, &reg) {
                tally_into(&mut per[*b as usize], &c);
            }
        }
        let mut shuffled = lines.clone();
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut pop = Population::new();
        for (b, l) in &shuffled {
            if let Ok(c) = rules.classify(l, &reg) {
                pop.add(*b, &c);
            }
        }
        let mut got = Vec::new();
        for (b, want) in per.iter_mut().enumerate() {
            pop.tallies(b as u32, &mut got);
            want.sort_by_key(|t| t.entity);
            got.sort_by_key(|t| t.entity);
            prop_assert_eq!(&got, want);
        }
    }

    /// Claim versions resolve the same whatever the order of the lines (each claim line's
    /// versions share their content, as CMS versions of one line do, except the version).
    #[test]
    fn claim_versions_do_not_depend_on_order(
        lines in prop::collection::vec((0..6u32, arb_line()), 0..60),
        seed in any::<u64>(),
    ) {
        let rules = RuleSet::new(2024, WindowKind::Retrospective).expect("rules");
        let reg = prop_registry();
        let mut first: Vec<Option<Line>> = vec![None; 6];
        let lines: Vec<Line> = lines
            .iter()
            .map(|(k, l)| {
                let base = *first[*k as usize].get_or_insert(*l);
                Line { version: l.version, claim: ClaimKey::new(&format!("C{k}"), k % 2), ..base }
            })
            .collect();
        let mut shuffled = lines.clone();
        let mut s = seed | 1;
        for i in (1..shuffled.len()).rev() {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            shuffled.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let (mut a, mut b, mut scratch) = (Vec::new(), Vec::new(), Vec::new());
        let sa = tally_lines(&rules, &reg, &lines, &mut scratch, &mut a, |_| {});
        let sb = tally_lines(&rules, &reg, &shuffled, &mut scratch, &mut b, |_| {});
        a.sort_by_key(|t| t.entity);
        b.sort_by_key(|t| t.entity);
        prop_assert_eq!(a, b);
        prop_assert_eq!(sa, sb);
        // Every line is accounted for: counted or skipped once per live claim line, or superseded,
        // or an unmatched cancellation.
        let mut live = 0u64;
        let mut skipped = 0u64;
        let mut t = Vec::new();
        let st = tally_lines(&rules, &reg, &lines, &mut scratch, &mut t, |_| skipped += 1);
        for k in 0..6u32 {
            let key = ClaimKey::new(&format!("C{k}"), k % 2);
            let n = lines.iter().filter(|l| l.claim == key).count() as u64;
            let c = lines.iter().filter(|l| l.claim == key && l.version == Version::Cancellation).count() as u64;
            let adjusted = lines.iter().any(|l| l.claim == key && l.version == Version::Adjustment);
            if c == 0 && !adjusted {
                live += n; // originals only: each counts, as after a prescan
            } else if n > 0 && c < n - c {
                live += 1;
            }
        }
        prop_assert_eq!(live + st.superseded + st.unmatched_cancellations, lines.len() as u64);
        prop_assert!(skipped <= live);
    }

    /// No panic on any value of any field, far beyond what validation lets in: days over the whole
    /// `i32` range, amounts over the whole `i64` range, any code key, interned id, specialty,
    /// version and claim key, any enrollment month count, designation and prior ACO index; the
    /// result explains itself and its stored encoding round-trips.
    #[test]
    fn engine_never_panics_on_any_field_value(
        lines in prop::collection::vec(
            (
                any::<i32>(), any::<Option<u32>>(), any::<Option<u16>>(), any::<Option<u8>>(),
                0..5u8, any::<Option<u32>>(), any::<Option<u32>>(), any::<Option<u16>>(),
                prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>()],
                0..3u8, any::<(u64, u32)>(),
            ),
            0..24,
        ),
        months in any::<(u32, u32, u32, u32, u32)>(),
        flags in any::<(bool, bool)>(),
        designation in (0..4u8, any::<u32>()),
        prior in any::<Option<u32>>(),
        spec in any::<Option<u16>>(),
        py in 2012..=2026i32,
        extreme_days in any::<bool>(),
    ) {
        let rules = RuleSet::new(py, WindowKind::Retrospective).expect("rules");
        let reg = prop_registry();
        let w = rules.window;
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|(d, hcpcs, rev, pos, ct, tin, ccn, sp, cents, v, (claim, line))| Line {
                // Half the cases land in the window, so extreme amounts reach the tallies.
                day: if extreme_days {
                    // Any day number, clamped to the dates there are (their extremes included).
                    Date::from_day_number(d.clamp(Date::MIN.day_number(), Date::MAX.day_number())).expect("date")
                } else {
                    w.lookback_start.add_days(d.rem_euclid(730)).expect("date")
                },
                hcpcs: hcpcs.map(|k| if k % 2 == 0 { codes::hcpcs_key("99213").unwrap_or(k) } else { k }),
                revenue_center: rev,
                pos,
                claim_type: [
                    ClaimType::Professional,
                    ClaimType::Fqhc,
                    ClaimType::Rhc,
                    ClaimType::CahMethodII,
                    ClaimType::OtherInstitutional,
                ][ct as usize],
                tin: tin.map(|t| t % 8),
                ccn: ccn.map(|c| c % 3),
                specialty: sp.map(|k| if k % 2 == 0 { codes::specialty_key("08").unwrap_or(k) } else { k }),
                allowed_cents: cents,
                version: [Version::Original, Version::Adjustment, Version::Cancellation][v as usize],
                claim: if claim % 3 == 0 { ClaimKey::NONE } else { ClaimKey { claim: claim % 4 + 1, line: line % 3 } },
            })
            .collect();
        let (mut t, mut scratch) = (Vec::new(), Vec::new());
        let _ = tally_lines(&rules, &reg, &lines, &mut scratch, &mut t, |_| {});
        // Merging extreme tallies saturates.
        let mut doubled = t.clone();
        for (x, y) in doubled.iter_mut().zip(&t) {
            x.merge(y);
            x.merge(y);
        }
        let b = Beneficiary {
            enrollment: Some(Enrollment {
                months_a_and_b: months.0,
                months_a_or_b_only: months.1,
                months_a_only: months.2,
                months_b_only: months.3,
                months_group_health_plan: months.4,
                us_resident: flags.0,
                other_initiative: flags.1,
            }),
            designation: match designation.0 {
                0 => Designation::None,
                1 => Designation::Aco(designation.1),
                2 => Designation::Outside,
                _ => Designation::Ambiguous,
            },
            designated_specialty: spec,
            prior_aco: prior,
        };
        for tallies in [&t, &doubled] {
            for tie in [TieBreak::MostRecentService, TieBreak::Unassigned] {
                let a = assign(&rules, &b, tallies, tie);
                let steps = explain(&rules, tie, &b, &a, |e| reg.entity_name(e));
                prop_assert!(!steps.is_empty());
            }
        }
        // Any day prints.
        for l in &lines {
            let _ = l.day.to_string();
        }
    }

    /// Cancelling every line leaves nothing to assign.
    #[test]
    fn cancelling_everything_assigns_nobody(lines in prop::collection::vec(arb_line(), 1..30)) {
        let rules = RuleSet::new(2024, WindowKind::Retrospective).expect("rules");
        let reg = prop_registry();
        let mut t = Vec::new();
        for l in &lines {
            let original = Line { version: Version::Original, allowed_cents: l.allowed_cents.abs(), ..*l };
            let cancel = Line { version: Version::Cancellation, ..original };
            for x in [original, cancel] {
                if let Ok(c) = rules.classify(&x, &reg) {
                    tally_into(&mut t, &c);
                }
            }
        }
        let b = Beneficiary { enrollment: Some(eligible()), ..Beneficiary::default() };
        let a = assign(&rules, &b, &t, TieBreak::MostRecentService);
        prop_assert_eq!(a.aco, None);
        prop_assert!(t.iter().all(|x| x.step1 == 0 && x.step2 == 0 && x.n_step1 == 0));
    }
}
