//! The fuzz targets: every decoder of outside input, each fed mutated copies of the repository's
//! fixtures (see the crate docs for ACORN_FUZZ_CASES / ACORN_FUZZ_SECONDS / ACORN_FUZZ_SEED). A
//! target passes when no input panics; errors are the expected answer to most inputs.

use std::path::Path;

use acorn_fuzz::{NUMBERS, fuzz};
use acorn_proto::{
    attribution::v1 as apb,
    benchmark::v1 as bpb,
    cms::{
        cclf::{self, Cclf1Header, Cclf2RevenueLine, Cclf5Line, Cclf8Beneficiary, CclfRecord},
        puf::PufFile,
    },
    common::v1::{Date, EnrollmentType},
    settlement::v1 as spb,
};
use acorn_testkit::fixtures::amounts;
use prost::Message as _;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn files(paths: &[&str]) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| std::fs::read(root().join(p)).unwrap_or_else(|e| panic!("seed {p}: {e}")))
        .collect()
}

/// CMS ACO PUFs (four layouts): the reader, then both backtests and their reports.
#[test]
fn puf_reader_and_backtests() {
    let seeds = files(&[
        "proto/testdata/puf/mssp_puf_py2013_sample.csv",
        "proto/testdata/puf/mssp_puf_py2014.csv",
        "proto/testdata/puf/mssp_puf_py2018.csv",
        "proto/testdata/puf/mssp_puf_py2022.csv",
    ]);
    fuzz("puf", &seeds, |input| {
        let Ok(file) = PufFile::from_reader(input) else {
            return;
        };
        if let Ok(report) = settlement_svc::backtest::run(&file) {
            let _ = (report.to_table(), report.to_json());
        }
        if let Ok(report) = benchmark_svc::backtest::run(&file) {
            let _ = (report.to_table(), report.to_json());
        }
    });
}

fn read_all<T: CclfRecord>(input: &[u8]) {
    for record in cclf::read::<_, T>(input, "fuzz") {
        let _ = record.is_ok();
    }
}

/// CCLF1, 2, 5 and 8 fixed-width files: each seed read as every kind (a file of the wrong kind
/// is bad input too), through acorn-proto's reader and attribution-svc's.
#[test]
fn cclf_readers() {
    let seeds = files(&[
        "proto/testdata/cclf/cclf1.txt",
        "proto/testdata/cclf/cclf2.txt",
        "proto/testdata/cclf/cclf5.txt",
        "proto/testdata/cclf/cclf8.txt",
    ]);
    fuzz("cclf", &seeds, |input| {
        read_all::<Cclf1Header>(input);
        read_all::<Cclf2RevenueLine>(input);
        read_all::<Cclf5Line>(input);
        read_all::<Cclf8Beneficiary>(input);
        use attribution_svc::input::cclf as a;
        let _ = a::read_cclf1(input, "cclf1");
        let _ = a::read_cclf5(input, "cclf5", |_| {});
    });
}

/// attribution-svc's CSV inputs (participants, beneficiaries, claims): each seed read as every
/// kind.
#[test]
fn claims_csv_readers() {
    let seeds = files(&[
        "attribution-svc/testdata/readme/participants.csv",
        "attribution-svc/testdata/readme/beneficiaries.csv",
        "attribution-svc/testdata/readme/claims.csv",
    ]);
    fuzz("claims-csv", &seeds, |input| {
        use attribution_svc::input::csv as c;
        let _ = c::read_participants(input, "participants.csv");
        let _ = c::read_beneficiaries(input, "beneficiaries.csv", |_| {});
        let _ = c::read_claims(input, "claims.csv", |_| {});
    });
}

/// Simulator scenarios (the four presets): parse and validate.
#[test]
fn scenario_toml() {
    let seeds = files(&[
        "simulator/presets/mssp-2012-cohort.toml",
        "simulator/presets/mssp-2018.toml",
        "simulator/presets/mssp-2024.toml",
        "simulator/presets/pioneer-2012-2013.toml",
    ]);
    fuzz("scenario-toml", &seeds, |input| {
        let text = String::from_utf8_lossy(input);
        if let Ok(s) = simulator::Scenario::from_toml(&text, "fuzz.toml") {
            let _ = s.with_override("seed", "1");
        }
    });
}

/// CMS PUF PY2018 row A1215 (Track 3), and a Track 1 variant.
fn reconcile_seeds() -> Vec<spb::ReconcileRequest> {
    use spb::*;
    let a1215 = acorn_testkit::fixtures::a1215();
    let track1 = ReconciliationInput {
        track: Track::Track1.into(),
        msr_option: MinimumSavingsRateOption::Unspecified.into(),
        extreme_uncontrollable: None,
        ..a1215.clone()
    };
    [a1215, track1]
        .into_iter()
        .enumerate()
        .map(|(i, input)| ReconcileRequest {
            request_id: format!("fuzz-{i}"),
            input: Some(input),
        })
        .collect()
}

/// settlement-svc's request validation and computation, on mutated encodings of valid requests.
#[test]
fn settlement_request_validator() {
    let seeds: Vec<Vec<u8>> = reconcile_seeds()
        .iter()
        .map(|r| r.encode_to_vec())
        .collect();
    fuzz("settlement-request", &seeds, |input| {
        let Ok(request) = spb::ReconcileRequest::decode(input) else {
            return;
        };
        if let Ok(v) = settlement_svc::server::validate(request.input.as_ref()) {
            let _ = settlement_svc::server::compute(&v);
        }
    });
}

/// settlement-svc's validation with each amount, count and year replaced by extreme values
/// (what byte edits of an encoding cannot reach without breaking its length prefixes).
#[test]
fn settlement_request_validator_extreme_values() {
    use spb::reconciliation_input::Experience;
    // One byte per field: below NUMBERS.len() it picks the replacement, else keeps the value.
    let seeds: Vec<Vec<u8>> = (0..4u8).map(|i| vec![200 + i; 6]).collect();
    fuzz("settlement-request-values", &seeds, |picks| {
        let pick = |k: usize| {
            picks
                .get(k)
                .map(|b| usize::from(*b))
                .filter(|p| *p < NUMBERS.len())
                .map(|p| NUMBERS[p])
        };
        let mut request = reconcile_seeds().swap_remove(0);
        let Some(input) = request.input.as_mut() else {
            return;
        };
        if let Some(Experience::Totals(t)) = input.experience.as_mut() {
            if let Some(v) = pick(1) {
                t.updated_benchmark = v.into();
            }
            if let Some(v) = pick(2) {
                t.expenditures = v.into();
            }
        }
        if let (Some(q), Some(v)) = (input.quality.as_mut(), pick(3)) {
            q.score = v.into();
        }
        if let Some(v) = pick(4).and_then(|v| v.parse().ok()) {
            input.assigned_beneficiaries = v;
        }
        if let Some(v) = pick(5).and_then(|v| v.parse().ok()) {
            input.performance_year = v;
        }
        if let Ok(v) = settlement_svc::server::validate(request.input.as_ref()) {
            let _ = settlement_svc::server::compute(&v);
        }
    });
}

/// A first-agreement (2014 start) benchmark input with three benchmark years.
fn benchmark_seed() -> bpb::BenchmarkInput {
    let base = [80_000u64, 12_000, 18_000, 10_000];
    let people = [100u64, 1_000, 900, 8_000];
    bpb::BenchmarkInput {
        aco_id: "A1000".into(),
        agreement_start_date: Some(Date {
            year: 2014,
            month: 1,
            day: 1,
        }),
        agreement_period: 1,
        benchmark_years: (0..3u64)
            .map(|k| bpb::BenchmarkYear {
                year: 2011 + k as i32,
                enrollment_types: EnrollmentType::ALL
                    .iter()
                    .enumerate()
                    .map(|(e, t)| bpb::EnrollmentTypeAggregate {
                        enrollment_type: (*t).into(),
                        person_years: people[e].to_string(),
                        per_capita_expenditures: (base[e] + 250 * k).to_string(),
                        risk_score: format!("1.{:03}", 37 * k + 11 * e as u64),
                    })
                    .collect(),
            })
            .collect(),
        trend_by1_to_by3: amounts(["1.05", "1.06", "1.04", "1.05"]),
        trend_by2_to_by3: amounts(["1.02", "1.03", "1.02", "1.025"]),
        ..Default::default()
    }
}

fn preview(request: &bpb::PreviewBenchmarkRequest) {
    use benchmark_svc::server::{compute, validate, validate_performance_year};
    let Ok(input) = validate(request.input.as_ref(), "input", true) else {
        return;
    };
    let py = match &request.performance_year {
        None => None,
        Some(py) => match validate_performance_year(Some(py), "performance_year") {
            Ok(py) => Some(py),
            Err(_) => return,
        },
    };
    let _ = compute(&input, py.as_ref());
}

/// benchmark-svc's request validation and computation, on mutated encodings of a valid request.
#[test]
fn benchmark_request_validator() {
    let seeds = vec![
        bpb::PreviewBenchmarkRequest {
            input: Some(benchmark_seed()),
            performance_year: None,
        }
        .encode_to_vec(),
    ];
    fuzz("benchmark-request", &seeds, |input| {
        if let Ok(request) = bpb::PreviewBenchmarkRequest::decode(input) {
            preview(&request);
        }
    });
}

/// benchmark-svc's validation with amounts, person-years, risk scores and trends replaced by
/// extreme values.
#[test]
fn benchmark_request_validator_extreme_values() {
    // One byte per field, as above (36 amounts and 8 trends).
    let seeds: Vec<Vec<u8>> = (0..4u8).map(|i| vec![200 + i; 44]).collect();
    fuzz("benchmark-request-values", &seeds, |picks| {
        let mut picks = picks.iter().map(|b| *b as usize);
        let mut input = benchmark_seed();
        for year in &mut input.benchmark_years {
            for e in &mut year.enrollment_types {
                for field in [
                    &mut e.person_years,
                    &mut e.per_capita_expenditures,
                    &mut e.risk_score,
                ] {
                    match picks.next() {
                        Some(p) if p < NUMBERS.len() => *field = NUMBERS[p].into(),
                        Some(_) => {}
                        None => break,
                    }
                }
            }
        }
        for t in input
            .trend_by1_to_by3
            .iter_mut()
            .chain(&mut input.trend_by2_to_by3)
        {
            if let Some(p) = picks.next().filter(|p| *p < NUMBERS.len()) {
                t.amount = NUMBERS[p].into();
            }
        }
        preview(&bpb::PreviewBenchmarkRequest {
            input: Some(input),
            performance_year: None,
        });
    });
}

/// A small synthetic population (3 ACOs, 60 beneficiaries: about 600 claim lines).
fn population() -> attribution_rules::synthetic::Synthetic {
    use attribution_rules::synthetic::{Config, Synthetic};
    Synthetic::new(Config {
        beneficiaries: 60,
        acos: 3,
        tins_per_aco: 3,
        outside_tins: 20,
        health_centers: 6,
        lookback_share: 0.1,
        ..Config::default()
    })
}

/// attribution-svc's request validation (CreateAssignmentRun, UploadAssignmentData in both the
/// row and the column form) and what finalize does with an accepted upload: every accepted
/// message must replay from its stored form (validation and replay agree), and any stored blob,
/// however damaged, replays or is `Damaged`, never a panic.
#[test]
fn attribution_request_validator() {
    use attribution_rules::run::{Run, RunConfig};
    use attribution_svc::{codec, server, synthetic};
    let s = population();
    let create = apb::CreateAssignmentRunRequest {
        request_id: "fuzz-create".into(),
        performance_year: 2024,
        window: apb::AssignmentWindow::Retrospective.into(),
        mode: apb::AssignmentMode::Unspecified.into(),
        quarter: 0,
        acos: synthetic::participants(s.acos()),
        tie_break: apb::TieBreak::Unspecified.into(),
    };
    let (mut uploads, _) = synthetic::messages(&s, "run-1", "fuzz", 200);
    let mut columnar = uploads[0].clone();
    columnar.claim_columns = Some(attribution_svc::upload::to_columns(&columnar.claim_lines));
    columnar.claim_lines.clear();
    uploads.truncate(2);
    uploads.push(columnar);
    let mut seeds = vec![create.encode_to_vec()];
    seeds.extend(uploads.iter().map(|u| u.encode_to_vec()));
    seeds.extend(uploads.iter().map(|u| codec::encode_upload(u).0));
    let fixed = RunConfig::retrospective(2024, s.acos().to_vec());
    fuzz("attribution-request", &seeds, |input| {
        let cfg = match apb::CreateAssignmentRunRequest::decode(input) {
            Ok(r) => server::validate_create(&r).ok(),
            Err(_) => None,
        };
        let Ok(mut run) = Run::new(cfg.as_ref().unwrap_or(&fixed)) else {
            return;
        };
        if let Ok(msg) = apb::UploadAssignmentDataRequest::decode(input)
            && server::validate_upload(&msg).is_ok()
        {
            let (body, _) = codec::encode_upload(&msg);
            for prescan in [true, false] {
                assert_eq!(
                    server::replay(&mut run, &body, prescan),
                    Ok(()),
                    "an accepted upload message does not replay"
                );
            }
        }
        // The input as a stored blob (the store's bytes damaged).
        for prescan in [true, false] {
            let _ = server::replay(&mut run, input, prescan);
        }
        run.shrink();
        run.assign_all(|_, _, _| {});
    });
}

/// Rewrites the Parquet file `from` to `to` with uncompressed pages (byte edits then reach the
/// page decoders, not only the codecs').
#[cfg(feature = "parquet")]
fn uncompressed(from: &Path, to: &Path) {
    use parquet::arrow::{ArrowWriter, arrow_reader::ParquetRecordBatchReaderBuilder};
    use parquet::{basic::Compression, file::properties::WriterProperties};
    let file = std::fs::File::open(from).expect("open");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
    let schema = builder.schema().clone();
    let reader = builder.with_batch_size(100).build().expect("reader");
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .set_compression(Compression::UNCOMPRESSED)
        .build();
    let out = std::fs::File::create(to).expect("create");
    let mut w = ArrowWriter::try_new(out, schema, Some(props)).expect("writer");
    for batch in reader {
        w.write(&batch.expect("batch")).expect("write");
    }
    w.close().expect("close");
}

/// attribution-svc's Parquet readers (cargo feature `parquet`: `cargo test -p acorn-fuzz
/// --features parquet`): the synthetic population's three files, Snappy as `synth` writes them
/// and uncompressed, each input read as a participant list, a beneficiary file, a claims file and
/// a clinician table through `assign`'s loader.
#[cfg(feature = "parquet")]
#[test]
fn parquet_readers() {
    use attribution_rules::run::RunConfig;
    use attribution_svc::files::{self, Files};
    let dir = tempfile::tempdir().expect("tempdir");
    let s = population();
    attribution_svc::synth::write_parquet(&s, dir.path(), 100).expect("synth");
    let mut seeds = Vec::new();
    for name in ["participants", "beneficiaries", "claims"] {
        let snappy = dir.path().join(format!("{name}.parquet"));
        let plain = dir.path().join(format!("{name}-plain.parquet"));
        uncompressed(&snappy, &plain);
        seeds.extend([&snappy, &plain].map(|p| std::fs::read(p).expect("seed")));
    }
    let cfg = RunConfig::retrospective(2024, s.acos().to_vec());
    let file = dir.path().join("input.parquet");
    fuzz("parquet", &seeds, |input| {
        std::fs::write(&file, input).expect("write");
        let _ = files::participants(&file);
        let one = || vec![file.clone()];
        for f in [
            Files {
                beneficiaries: one(),
                ..Files::default()
            },
            Files {
                claims: one(),
                ..Files::default()
            },
            Files {
                clinicians: one(),
                ..Files::default()
            },
        ] {
            let _ = files::load(&cfg, &f);
        }
    });
}
