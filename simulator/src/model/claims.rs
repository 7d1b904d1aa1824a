//! Claims mode (MODEL.md 3.5): the beneficiary layer as a market of beneficiaries and practices.
//! Each calendar year every beneficiary's primary care claim lines are generated and handed to
//! the attribution engine (attribution-rules: `tally_lines`, then `assign`, the per-beneficiary
//! path of its population run), and the engine's assignment decides which ACO's benchmark or
//! performance year the beneficiary-year belongs to. Churn is what the rules make of deaths,
//! moves to Medicare Advantage, changes of practice and where the visits happen; nothing of
//! 42 CFR 425.400-404 is re-implemented here.
//!
//! A beneficiary's assignment depends only on its own claims, its enrollment, last year's
//! assignment and the participant list, so each market slot has its own random stream
//! (seed, replicate, slot): results do not depend on the order the slots are run in.

use attribution_rules::synthetic::PC_CODES;
use attribution_rules::{
    AcoSpec, Beneficiary, ClaimKey, ClaimType, Designation, Enrollment, Line, Registry, RuleSet,
    TieBreak, Version, Window, WindowKind, assign, codes, tally_lines,
};
use rand::RngExt;
use rand_distr::{Distribution, Poisson, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::beneficiary::Cell;
use super::population::{AcoPop, split};
use super::{Model, Purpose, SimError, stream};
use crate::scenario::{Claims, ScenarioError};

/// What a replicate's claims pass did: its size (for the performance figures) and the
/// year-to-year churn the rules produced (MODEL.md 3.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimsStats {
    /// Market slots (beneficiaries alive at any one time).
    pub slots: u64,
    /// Beneficiary-years simulated (every slot, every calendar year from BY1 to the last PY).
    pub beneficiary_years: u64,
    /// Claim lines generated.
    pub lines: u64,
    /// Claim lines classified by the attribution engine (each year's lines are read again as
    /// the next year's 12-month lookback).
    pub lines_classified: u64,
    /// Beneficiaries assigned to an ACO, by calendar year (every year but none of the ACOs).
    pub assigned_by_year: Vec<(i32, u64)>,
    /// Beneficiary-years assigned to an ACO in a year that has a next simulated year.
    pub assigned_with_next: u64,
    /// Of those, the same person assigned to the same ACO the next year.
    pub stayed: u64,
}

impl ClaimsStats {
    /// Adds another replicate's counters (the years' assigned counts year by year).
    pub fn add(&mut self, o: &ClaimsStats) {
        self.slots += o.slots;
        self.beneficiary_years += o.beneficiary_years;
        self.lines += o.lines;
        self.lines_classified += o.lines_classified;
        self.assigned_with_next += o.assigned_with_next;
        self.stayed += o.stayed;
        if self.assigned_by_year.is_empty() {
            self.assigned_by_year.clone_from(&o.assigned_by_year);
        } else {
            for (a, b) in self.assigned_by_year.iter_mut().zip(&o.assigned_by_year) {
                a.1 += b.1;
            }
        }
    }

    /// Share of assigned beneficiaries assigned to the same ACO the next year (deaths and moves
    /// to Medicare Advantage count as leaving).
    pub fn retention(&self) -> f64 {
        self.stayed as f64 / self.assigned_with_next.max(1) as f64
    }
}

/// One ACO x step x type: the cost multipliers of its assigned beneficiary-years in slot order
/// (truncation points are applied by the ACO layer), and the risk sums.
#[derive(Debug, Clone, Default)]
struct Group {
    x: Vec<f64>,
    r: f64,
    ncont: u64,
    rcont: f64,
}

/// The claims pass of one replicate: per ACO, step and type, what the ACO layer needs.
#[derive(Debug)]
pub(crate) struct Pass {
    groups: Vec<Vec<[Group; 4]>>,
    pub(crate) stats: ClaimsStats,
}

impl Pass {
    /// The sums of ACO `aco` for each step and type with truncation points `trunc[s][e]` (X
    /// units), as [`super::beneficiary::run_aco`] writes them; `n` is the number assigned.
    pub(crate) fn cells(&self, aco: usize, trunc: &[[f64; 4]], out: &mut [[Cell; 4]]) {
        let Some(steps) = self.groups.get(aco) else {
            return;
        };
        for ((cells, t), groups) in out.iter_mut().zip(trunc).zip(steps) {
            for ((cell, g), c) in cells.iter_mut().zip(groups).zip(t) {
                let (mut x, mut xtr) = (0.0, 0.0);
                for &v in &g.x {
                    x += v;
                    xtr += v.min(*c);
                }
                *cell = Cell {
                    n: g.x.len() as u64,
                    x,
                    xtr,
                    r: g.r,
                    ncont: g.ncont as f64,
                    rcont: g.rcont,
                };
            }
        }
    }
}

/// The practices of a replicate: each ACO's participant TINs, then the TINs outside every ACO.
struct Market {
    registry: Registry,
    /// Practice TIN ids, group by group (ACO 0, 1, ..., then outside); `start[g]..start[g + 1]`.
    tins: Vec<u32>,
    start: Vec<usize>,
    /// Home panels by group and type (beneficiaries whose home practice is in the group).
    panels: Vec<[u64; 4]>,
    /// Cumulative shares of the groups in the panels of each type (a new home, 3.5).
    home_cum: [Vec<f64>; 4],
    /// Cumulative shares of the groups in all panels (a visit away from home).
    visit_cum: Vec<f64>,
}

fn cumulative(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let w: Vec<f64> = weights.collect();
    let total: f64 = w.iter().sum();
    let mut acc = 0.0;
    w.iter()
        .map(|v| {
            acc += v;
            if total > 0.0 { acc / total } else { 1.0 }
        })
        .collect()
}

impl Market {
    fn new(c: &Claims, pops: &[AcoPop], mix: [f64; 4]) -> Market {
        let mut panels: Vec<[u64; 4]> = pops
            .iter()
            .map(|p| {
                p.ntype
                    .map(|k| (k as f64 / c.assigned_share).round() as u64)
            })
            .collect();
        let inside: u64 = panels.iter().flatten().sum();
        let outside = (inside as f64 * c.outside_share / (1.0 - c.outside_share)).round() as u64;
        panels.push(split(outside, &mix));
        let mut names: Vec<Vec<String>> = Vec::with_capacity(panels.len());
        let mut next = 0u64;
        for p in &panels {
            let n: u64 = p.iter().sum();
            let count = n.div_ceil(u64::from(c.practice_size)).max(1);
            names.push(
                (0..count)
                    .map(|_| {
                        next += 1;
                        format!("{:09}", 100_000_000 + next)
                    })
                    .collect(),
            );
        }
        let specs: Vec<AcoSpec> = names[..pops.len()]
            .iter()
            .enumerate()
            .map(|(i, tins)| AcoSpec {
                id: format!("ACO{i:05}"),
                tins: tins.clone(),
                ..AcoSpec::default()
            })
            .collect();
        let mut registry = Registry::new(&specs);
        let mut tins = Vec::new();
        let mut start = vec![0];
        for group in &names {
            tins.extend(group.iter().map(|t| registry.tin(t)));
            start.push(tins.len());
        }
        let home_cum = std::array::from_fn(|e| cumulative(panels.iter().map(|p| p[e] as f64)));
        let visit_cum = cumulative(panels.iter().map(|p| p.iter().sum::<u64>() as f64));
        Market {
            registry,
            tins,
            start,
            panels,
            home_cum,
            visit_cum,
        }
    }

    /// A practice of group `g`, uniformly.
    fn practice(&self, g: usize, rng: &mut Xoshiro256PlusPlus) -> u32 {
        let (a, b) = (self.start[g], self.start[g + 1]);
        self.tins[a + rng.random_range(0..(b - a).max(1))]
    }

    /// A practice drawn by panel share from the cumulative shares `cum`.
    fn draw(&self, cum: &[f64], rng: &mut Xoshiro256PlusPlus) -> u32 {
        let u: f64 = rng.random();
        let g = cum.partition_point(|c| *c <= u).min(cum.len() - 1);
        self.practice(g, rng)
    }
}

/// One simulated calendar year: the engine's rules for it and the codes billed.
struct Year {
    year: i32,
    rules: RuleSet,
    /// The step (benchmark or performance year index) it is, if any.
    step: Option<usize>,
    /// Primary care codes billed this year (key, allowed cents) with cumulative weights.
    menu: Vec<(u32, i64, u32)>,
    days: i32,
}

fn scenario_error(model: &Model, key: &str, message: String) -> SimError {
    SimError::Scenario(ScenarioError {
        origin: model.scenario.origin().to_string(),
        key: key.into(),
        line: None,
        message,
    })
}

/// The calendar from BY1 to the last performance year. A performance year is assigned with its
/// own rules (the retrospective window, 425.400(a)(2)); a year before the first performance year
/// with the rules of the first performance year on that year's window (the benchmark years'
/// beneficiaries are those who would have been assigned under the agreement's methodology,
/// 425.602(a), mssp-rules 3.2).
fn calendar(model: &Model, steps: &[i32]) -> Result<Vec<Year>, SimError> {
    let sc = &model.scenario;
    let first_py = sc.performance_years.first().copied().unwrap_or(2012);
    let (y0, y1) = (steps[0], steps[steps.len() - 1]);
    let key = codes::hcpcs_key;
    (y0..=y1)
        .map(|year| {
            let bad = |m: String| scenario_error(model, "performance_years", m);
            let rules = if year >= first_py {
                RuleSet::new(year, WindowKind::Retrospective).map_err(|e| bad(e.to_string()))?
            } else {
                let mut r = RuleSet::new(first_py, WindowKind::Retrospective)
                    .map_err(|e| bad(e.to_string()))?;
                r.window = Window::new(year, WindowKind::Retrospective)
                    .ok_or_else(|| bad(format!("{year}: no assignment window")))?;
                r
            };
            let mut acc = 0;
            let menu: Vec<(u32, i64, u32)> = PC_CODES
                .iter()
                .filter_map(|&(code, cents, w)| {
                    let k = key(code)?;
                    rules.codes.counts(k, Some(11)).then(|| {
                        acc += w;
                        (k, cents, acc)
                    })
                })
                .collect();
            if menu.is_empty() {
                return Err(bad(format!("{year}: no primary care code to bill")));
            }
            let days = rules.window.end.day_number() - rules.window.start.day_number() + 1;
            Ok(Year {
                year,
                step: steps.iter().position(|s| *s == year),
                rules,
                menu,
                days,
            })
        })
        .collect()
}

/// The claims pass of replicate `replicate` over the replicate's ACOs `pops` (MODEL.md 3.5).
pub(crate) fn pass(
    model: &Model,
    seed: u64,
    replicate: u32,
    pops: &[AcoPop],
) -> Result<Pass, SimError> {
    let sc = &model.scenario;
    let c = &sc.claims;
    let b = &sc.beneficiary;
    let cm = &model.cost;
    let by = sc
        .benchmark_years
        .ok_or_else(|| scenario_error(model, "benchmark_years", "claims mode needs them".into()))?;
    let steps: Vec<i32> = by.iter().chain(&sc.performance_years).copied().collect();
    let years = calendar(model, &steps)?;
    let market = Market::new(c, pops, sc.population.type_mix);
    let spec = |s: &str| codes::specialty_key(s);
    let (pcp, npp, specialist) = (spec("08"), spec("50"), spec("06"));
    let rho = b.rho;
    let s1 = (1.0 - rho * rho).sqrt();
    let slope = c.lines_z_slope;
    let max_lines = (10.0 * c.lines_mean + 50.0) as u64;
    let mut groups = vec![vec![<[Group; 4]>::default(); steps.len()]; pops.len()];
    let mut stats = ClaimsStats {
        assigned_by_year: years.iter().map(|y| (y.year, 0)).collect(),
        ..ClaimsStats::default()
    };
    let (mut lines, mut scratch, mut tallies) = (Vec::<Line>::new(), Vec::new(), Vec::new());
    let mut slot = 0u64;
    for (g, panel) in market.panels.iter().enumerate() {
        for (e, &count) in panel.iter().enumerate() {
            let q = cm.table(e);
            for _ in 0..count {
                let mut rng = stream(seed, replicate, slot, Purpose::Claims);
                slot += 1;
                let mut home = market.practice(g, &mut rng);
                let (mut z, mut rc) = (0.0f64, 0.0f64);
                let (mut new_person, mut prev) = (true, None);
                lines.clear();
                for (t, yr) in years.iter().enumerate() {
                    if new_person {
                        if t > 0 {
                            home = market.draw(&market.home_cum[e], &mut rng);
                        }
                        z = rng.sample(StandardNormal);
                        let xi: f64 = rng.sample(StandardNormal);
                        rc = cm.rc.at(xi);
                        prev = None;
                        lines.clear();
                    } else if rng.random::<f64>() < c.practice_switch {
                        home = market.draw(&market.home_cum[e], &mut rng);
                    }
                    // The cost year (3.2): risk from last year's state, cost from this year's.
                    let r = cm.risk.at(z) * rc;
                    z = rho * z + s1 * rng.sample::<f64, _>(StandardNormal);
                    let x = q.at(z);
                    let gh_months = if rng.random::<f64>() < c.ffs_exit {
                        rng.random_range(1..12u32)
                    } else {
                        0
                    };
                    let died = rng.random::<f64>() < b.death_rate;
                    let care = rng.random::<f64>() >= c.no_care;
                    let lambda = c.lines_mean * (slope * z - slope * slope / 2.0).exp();
                    let n = match Poisson::new(lambda) {
                        Ok(p) if care => (p.sample(&mut rng) as u64).min(max_lines),
                        _ => 0,
                    };
                    // Last year's lines stay as this year's lookback.
                    let lookback = lines.len();
                    for _ in 0..n {
                        let at_home = rng.random::<f64>() < c.home_share;
                        let tin = if at_home {
                            home
                        } else {
                            market.draw(&market.visit_cum, &mut rng)
                        };
                        let who = if !at_home && rng.random::<f64>() < c.specialist_share {
                            specialist
                        } else if rng.random::<f64>() < c.npp_share {
                            npp
                        } else {
                            pcp
                        };
                        let w = rng.random_range(0..yr.menu[yr.menu.len() - 1].2);
                        let (hcpcs, cents, _) = yr.menu[yr.menu.partition_point(|m| m.2 <= w)];
                        let start = yr.rules.window.start;
                        lines.push(Line {
                            day: start
                                .add_days(rng.random_range(0..yr.days))
                                .unwrap_or(start),
                            hcpcs: Some(hcpcs),
                            revenue_center: None,
                            pos: Some(11),
                            claim_type: ClaimType::Professional,
                            tin: Some(tin),
                            ccn: None,
                            specialty: who,
                            // +-10% around the fee schedule amount, whole cents.
                            allowed_cents: cents * rng.random_range(90..=110i64) / 100,
                            version: Version::Original,
                            claim: ClaimKey::NONE,
                        });
                    }
                    stats.lines += n;
                    stats.lines_classified += lines.len() as u64;
                    tally_lines(
                        &yr.rules,
                        &market.registry,
                        &lines,
                        &mut scratch,
                        &mut tallies,
                        |_| {},
                    );
                    let facts = Beneficiary {
                        enrollment: Some(Enrollment {
                            months_a_and_b: 12 - gh_months,
                            months_a_or_b_only: 0,
                            months_a_only: 0,
                            months_b_only: 0,
                            months_group_health_plan: gh_months,
                            us_resident: true,
                            other_initiative: false,
                        }),
                        designation: Designation::None,
                        designated_specialty: None,
                        prior_aco: prev,
                    };
                    let a = assign(&yr.rules, &facts, &tallies, TieBreak::default());
                    if let Some(i) = a.aco {
                        stats.assigned_by_year[t].1 += 1;
                        if t + 1 < years.len() {
                            stats.assigned_with_next += 1;
                        }
                        if prev == Some(i) {
                            stats.stayed += 1;
                        }
                        if let (Some(s), Some(aco)) = (yr.step, groups.get_mut(i as usize)) {
                            let grp = &mut aco[s][e];
                            grp.x.push(x);
                            grp.r += r;
                            if a.continuous {
                                grp.ncont += 1;
                                grp.rcont += r;
                            }
                        }
                    }
                    stats.beneficiary_years += 1;
                    prev = a.aco;
                    // Deaths are year-end events; a move to Medicare Advantage ends the
                    // person's fee-for-service years. The slot's next person is new.
                    new_person = died || gh_months > 0;
                    lines.drain(..lookback);
                }
            }
        }
    }
    stats.slots = slot;
    Ok(Pass { groups, stats })
}
