//! Claims-mode throughput (MODEL.md 3.5): claim lines per second generated and assigned by the
//! attribution engine, end to end for one replicate (market, claim lines, `tally_lines` and
//! `assign` per beneficiary-year, ACO layer, benchmark and settlement engines). The scenario is
//! the Pioneer preset in claims mode cut to 4 ACOs and 80,000 assigned beneficiaries (about
//! 190,000 market beneficiaries x 5 years), so that a sample takes a second or two.
//!
//! `cargo bench -p simulator --bench claims` prints the lines and beneficiary-years of one
//! replicate, then criterion's time per replicate and lines/s (beneficiary-years/s = lines/s x
//! beneficiary-years / lines).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use simulator::{Model, Scenario};

fn bench(c: &mut Criterion) {
    let mut scenario = Scenario::preset("pioneer-2012-2013").expect("preset");
    for (k, v) in [
        ("mode", "\"claims\""),
        ("population.acos", "4"),
        ("population.total_assigned", "80000"),
    ] {
        scenario = scenario.with_override(k, v).expect("override");
    }
    let model = Model::new(&scenario);
    let st = model.claims_stats(1, 0).expect("claims pass");
    println!(
        "claims replicate: {} claim lines ({} classified), {} beneficiary-years, {} market slots, \
         retention {:.2}%",
        st.lines,
        st.lines_classified,
        st.beneficiary_years,
        st.slots,
        100.0 * st.retention()
    );
    let mut g = c.benchmark_group("claims");
    g.throughput(Throughput::Elements(st.lines));
    g.sample_size(10);
    g.bench_function("pioneer_4_acos_replicate", |b| {
        b.iter(|| black_box(model.simulate(1, 0).expect("replicate")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
