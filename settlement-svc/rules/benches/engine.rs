//! Engine throughput: reconciliations per second on one core, without and with the explanation.
//!
//! `cargo bench -p settlement-rules --bench engine`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;
use settlement_rules::{Date, MsrOption, NoTrace, Quality, SettlementInput, Track, reconcile};

/// 1,024 varied inputs across one- and two-sided tracks, savings, losses and the corridor.
fn inputs() -> Vec<SettlementInput<'static>> {
    (0..1024u64)
        .map(|i| {
            let (track, start, py) = match i % 4 {
                0 => (Track::Track1, Date::constant(2016, 1, 1), 2018),
                1 => (Track::Track3, Date::constant(2016, 1, 1), 2018),
                2 => (Track::BasicA, Date::constant(2019, 7, 1), 2020),
                _ => (Track::Track2, Date::constant(2016, 1, 1), 2017),
            };
            let n = 5_000 + (i * 7_919) % 95_000;
            let benchmark = Decimal::from(10_000 * n);
            let swing = Decimal::from((i % 200) as i64 - 100) / Decimal::from(1_000);
            let expenditures = benchmark * (Decimal::ONE - swing);
            let mut input = SettlementInput::new(track, start, py, n, benchmark, expenditures);
            input.quality = Quality {
                standard: None,
                score: Some(Decimal::new(80 + (i % 20) as i64, 2)),
            };
            if matches!(track, Track::Track3 | Track::Track2) {
                input.msr_option = MsrOption::Fixed(Decimal::new(1, 2));
            }
            input
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let inputs = inputs();
    let mut group = c.benchmark_group("reconcile");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("numbers_only", |b| {
        b.iter(|| {
            for input in &inputs {
                black_box(reconcile(black_box(input), &mut NoTrace).ok());
            }
        })
    });
    group.bench_function("with_explanation", |b| {
        b.iter(|| {
            for input in &inputs {
                let mut steps = Vec::with_capacity(10);
                black_box(reconcile(black_box(input), &mut steps).ok());
                black_box(steps);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
