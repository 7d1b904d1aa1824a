//! Engine throughput on one core, in claim lines per second (synthetic national-like mix: about 90%
//! primary care lines, 2% cancelled and 1% adjusted claims).
//!
//! `cargo bench -p attribution-rules --bench engine`
//!
//! - `assign/grouped`: lines arrive grouped by beneficiary (the simulator's case): classify every
//!   line, tally it into the beneficiary's entity list, assign (numbers only).
//! - `assign/streamed_any_order`: the same lines shuffled, tallied into a whole-population arena,
//!   then every beneficiary assigned (the service's finalize, lines in any order).

use std::hint::black_box;

use attribution_rules::{
    Beneficiary, Line, Population, Registry, RuleSet, TieBreak, WindowKind, assign,
    run::encode,
    synthetic::{Config, Synthetic},
    tally_into, tally_lines,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

struct Data {
    rules: RuleSet,
    reg: Registry,
    benes: Vec<(Beneficiary, Vec<Line>)>,
    lines: usize,
}

fn data(n: u32) -> Data {
    let s = Synthetic::new(Config {
        beneficiaries: n,
        lookback_share: 0.1,
        ..Config::default()
    });
    let rules =
        RuleSet::new(s.config().performance_year, WindowKind::Retrospective).expect("rules");
    let mut reg = Registry::new(s.acos());
    let mut recs = Vec::new();
    let mut benes = Vec::new();
    let mut lines = 0;
    for i in 0..n {
        recs.clear();
        let b = s.beneficiary(i, &mut recs);
        let encoded: Vec<Line> = recs.iter().map(|r| encode(&r.raw(), &mut reg)).collect();
        lines += encoded.len();
        let facts = Beneficiary {
            enrollment: Some(b.enrollment()),
            ..Beneficiary::default()
        };
        benes.push((facts, encoded));
    }
    Data {
        rules,
        reg,
        benes,
        lines,
    }
}

fn bench(c: &mut Criterion) {
    let d = data(20_000);
    let mut group = c.benchmark_group("assign");
    group.throughput(Throughput::Elements(d.lines as u64));
    group.bench_function("grouped", |b| {
        let mut tallies = Vec::with_capacity(8);
        let mut scratch = Vec::with_capacity(32);
        b.iter(|| {
            let mut assigned = 0u32;
            for (facts, lines) in &d.benes {
                // Claim versions resolved per claim line (the synthetic lines carry claim ids).
                tally_lines(&d.rules, &d.reg, lines, &mut scratch, &mut tallies, |_| {});
                let a = assign(&d.rules, facts, &tallies, TieBreak::MostRecentService);
                assigned += u32::from(a.aco.is_some());
            }
            black_box(assigned)
        })
    });
    // Shuffle (bene, line) pairs deterministically.
    // The same without claim-version resolution (every line classified and summed as it is):
    // the cost of resolving versions by claim line is the difference.
    group.bench_function("grouped_summation", |b| {
        let mut tallies = Vec::with_capacity(8);
        b.iter(|| {
            let mut assigned = 0u32;
            for (facts, lines) in &d.benes {
                tallies.clear();
                for l in lines {
                    if let Ok(c) = d.rules.classify(l, &d.reg) {
                        tally_into(&mut tallies, &c);
                    }
                }
                let a = assign(&d.rules, facts, &tallies, TieBreak::MostRecentService);
                assigned += u32::from(a.aco.is_some());
            }
            black_box(assigned)
        })
    });
    let mut flat: Vec<(u32, Line)> = d
        .benes
        .iter()
        .enumerate()
        .flat_map(|(i, (_, ls))| ls.iter().map(move |l| (i as u32, *l)))
        .collect();
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..flat.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        flat.swap(i, (s % (i as u64 + 1)) as usize);
    }
    group.bench_function("streamed_any_order", |b| {
        let mut tallies = Vec::with_capacity(8);
        b.iter(|| {
            let mut pop = Population::new();
            for (bene, l) in &flat {
                if let Ok(c) = d.rules.classify(l, &d.reg) {
                    pop.add(*bene, &c);
                }
            }
            let mut assigned = 0u32;
            for (i, (facts, _)) in d.benes.iter().enumerate() {
                pop.tallies(i as u32, &mut tallies);
                assigned += u32::from(
                    assign(&d.rules, facts, &tallies, TieBreak::MostRecentService)
                        .aco
                        .is_some(),
                );
            }
            black_box(assigned)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
