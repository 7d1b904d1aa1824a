//! Engine throughput on one core: beneficiary-level aggregation (beneficiary-years/s) and the
//! historical benchmark (benchmarks/s, with and without the explanation).
//!
//! `cargo bench -p benchmark-rules --bench engine`

use std::hint::black_box;

use benchmark_rules::{
    Date, HistoricalInput, NoTrace, TYPES, YearExperience, historical,
    truncation::{Aggregator, BeneficiaryYear},
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rust_decimal::Decimal;

/// 1,000,000 deterministic beneficiary-years (a 64-bit LCG): every year and enrollment type,
/// 1-12 months, costs up to $200,000, risk scores 0.2-3.2.
fn records() -> Vec<BeneficiaryYear> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    (0..1_000_000)
        .map(|_| BeneficiaryYear {
            year: (next() % 3) as u8,
            enrollment_type: TYPES[(next() % 4) as usize],
            eligible_months: (1 + next() % 12) as u8,
            expenditures_cents: next() % 20_000_000,
            risk_millionths: (200_000 + next() % 3_000_000) as u32,
        })
        .collect()
}

fn inputs() -> Vec<HistoricalInput> {
    (0..1024u32)
        .map(|i| {
            let year = |k: u32| -> [YearExperience; 4] {
                std::array::from_fn(|e| YearExperience {
                    person_years: Decimal::from(100 + (i * 7 + e as u32 * 13) % 9_000),
                    per_capita: Decimal::new(
                        i64::from(1_000_000 + (i * 31 + k * 977 + e as u32 * 7_919) % 9_000_000),
                        2,
                    ),
                    risk_score: Decimal::new(i64::from(8_000 + (i + k * 17 + e as u32) % 4_000), 4),
                })
            };
            HistoricalInput {
                agreement_start: Date::constant(2014, 1, 1),
                agreement_period: 1,
                years: [2011, 2012, 2013],
                experience: [year(0), year(1), year(2)],
                national_trend: Some([[Decimal::new(105, 2); 4], [Decimal::new(102, 2); 4]]),
                regional: None,
                prior_savings: None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("aggregate");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("beneficiary_years", |b| {
        b.iter(|| {
            let mut a = Aggregator::new([[15_000_000; 4]; 3]);
            for r in &records {
                let _ = a.add(black_box(r));
            }
            black_box(a.finish().ok())
        })
    });
    group.finish();

    let inputs = inputs();
    let mut group = c.benchmark_group("historical");
    group.throughput(Throughput::Elements(inputs.len() as u64));
    group.bench_function("numbers_only", |b| {
        b.iter(|| {
            for input in &inputs {
                black_box(historical(black_box(input), &mut NoTrace).ok());
            }
        })
    });
    group.bench_function("with_explanation", |b| {
        b.iter(|| {
            for input in &inputs {
                let mut steps = Vec::with_capacity(8);
                black_box(historical(black_box(input), &mut steps).ok());
                black_box(steps);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
