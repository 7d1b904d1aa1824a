//! Aggregate-mode throughput in beneficiary-years per second, against a pure sampling loop that
//! draws the same variates from the same generator (the yardstick: the model should run at
//! 75% or more of it). One replicate of the Pioneer preset (about 669,000 beneficiaries x 5 years)
//! end to end: population, ACO layer, hot loop, benchmark and settlement engines.
//!
//! `cargo bench -p simulator --bench hot_loop`: one thread, then two (one replicate per thread, as
//! `simulator run --threads 2`, against the sampling loop on two threads).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use simulator::{Model, Scenario};

fn bench(c: &mut Criterion) {
    let scenario = Scenario::preset("pioneer-2012-2013").expect("preset");
    let model = Model::new(&scenario);
    let r = model.simulate(1, 0).expect("replicate");
    let steps = 3 + scenario.performance_years.len() as u64;
    let beneficiary_years = r.years[0].beneficiaries * steps;
    let stay = (1.0 - scenario.beneficiary.death_rate) * (1.0 - scenario.beneficiary.leave_rate);

    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(beneficiary_years));
    g.sample_size(10);
    g.bench_function("pioneer_replicate", |b| {
        let mut rep = 0;
        b.iter(|| {
            rep += 1;
            black_box(model.simulate(1, rep).expect("replicate"))
        })
    });
    // The same variates per beneficiary-year (MODEL.md 3.4): one uniform (stay) and one normal
    // (innovation), two more normals for an entrant; first year three normals.
    let sampling = |seed: u64| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut acc = 0.0f64;
        let slots = r.years[0].beneficiaries;
        for s in 0..steps {
            for _ in 0..slots {
                // The first year draws no uniform; later years one (stay or enter).
                if s == 0 || rng.random::<f64>() >= stay {
                    acc += rng.sample::<f64, _>(StandardNormal);
                    acc += rng.sample::<f64, _>(StandardNormal);
                }
                acc += rng.sample::<f64, _>(StandardNormal);
            }
        }
        acc
    };
    let mut seed = 7;
    g.bench_function("sampling_only", |b| {
        b.iter(|| {
            seed += 1;
            black_box(sampling(seed))
        })
    });
    // Both cores: two replicates at once, one per thread on the one model (what `simulator run
    // --threads 2` does after building the model once), against the sampling loop on two threads.
    g.throughput(Throughput::Elements(2 * beneficiary_years));
    g.bench_function("pioneer_2_replicates_2_threads", |b| {
        let mut rep = 1000;
        b.iter(|| {
            rep += 2;
            std::thread::scope(|t| {
                let one = t.spawn(|| model.simulate(1, rep).expect("replicate"));
                let two = model.simulate(1, rep + 1).expect("replicate");
                black_box((one.join().expect("thread"), two))
            })
        })
    });
    g.bench_function("sampling_only_2_threads", |b| {
        b.iter(|| {
            seed += 2;
            std::thread::scope(|t| {
                let one = t.spawn(|| sampling(seed));
                let two = sampling(seed + 1);
                black_box((one.join().expect("thread"), two))
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
