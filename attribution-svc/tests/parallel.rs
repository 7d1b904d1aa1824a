//! The parallel file path gives the bytes a single reader gives: a synthetic population written by
//! `synth` (with cancellations, adjustments and some malformed lines added), assigned through the
//! one-thread reference path (`read_claims` into `Run::prescan` / `Run::add_line`, line by line)
//! and through `files::load_with` for several thread counts and block sizes: the assignment CSV,
//! the per-ACO counts, the line counters and the rejections (file and line) are identical.

use std::{io::Write, path::Path};

use attribution_rules::{
    run::{Run, RunConfig, Shard},
    synthetic::Synthetic,
};
use attribution_svc::{
    files::{self, Files, Options},
    input::csv::{self, Report},
    synth,
};

fn setup(dir: &Path) -> (RunConfig, Files) {
    let s = Synthetic::new(attribution_rules::synthetic::Config {
        beneficiaries: 2_500,
        lookback_share: 0.1,
        ..attribution_rules::synthetic::Config::default()
    });
    let n = synth::write_csv(&s, dir).expect("synth");
    assert!(n.lines > 25_000);
    // Malformed lines and a quoted field with a line break in the middle of the file.
    let claims = dir.join("claims.csv");
    let mut text = std::fs::read_to_string(&claims).expect("read");
    let at = text.len() / 2;
    let at = at + text[at..].find('\n').expect("newline") + 1;
    text.insert_str(
        at,
        "1AC0A00AA00,X1,1,2024-13-01,99213,,11,professional,200000001,,,01,10.00,original\n\
         1AC0A00AA00,\"X\n2\",1,2024-03-01,99213,,11,professional,200000001,,,01,10.00,original\n\
         1AC0A00AA00,X3,1,2024-03-01,99213,,11,professional,,,,01,10.00,original\n\
         too,few,fields\n",
    );
    std::fs::File::create(&claims)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("write");
    let (acos, r) = files::participants(&dir.join("participants.csv")).expect("participants");
    assert_eq!(r.rejected, 0);
    let cfg = RunConfig::retrospective(2024, acos);
    let f = Files {
        beneficiaries: vec![dir.join("beneficiaries.csv")],
        claims: vec![claims],
        ..Files::default()
    };
    (cfg, f)
}

fn output(run: &Run, report: &Report) -> (Vec<u8>, String) {
    let mut out = Vec::new();
    let counts = files::write_results(run, &mut out).expect("write");
    let summary = format!(
        "{counts:?}\n{:?}\n{} {} {:?}",
        run.stats,
        report.records,
        report.rejected,
        report
            .rejections
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    (out, summary)
}

/// The reference: one reader, line by line, as `assign` read files before the parallel path.
fn reference(cfg: &RunConfig, f: &Files) -> (Vec<u8>, String) {
    let mut run = Run::new(cfg).expect("run");
    let mut report = Report::default();
    let open = |p: &Path| std::io::BufReader::new(std::fs::File::open(p).expect("open"));
    for p in &f.beneficiaries {
        report.merge(csv::read_beneficiaries(open(p), "beneficiaries.csv", |b| {
            run.add_beneficiary(b)
        }));
    }
    for p in &f.claims {
        let _ = csv::read_claims(open(p), "claims.csv", |l| {
            run.prescan(l.beneficiary_id, l.claim_id, l.line_number, l.version)
        });
    }
    for p in &f.claims {
        report.merge(csv::read_claims(open(p), "claims.csv", |l| {
            let _ = run.add_line(l);
        }));
    }
    run.finish();
    output(&run, &report)
}

#[test]
fn any_thread_count_and_block_size_gives_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, f) = setup(dir.path());
    let want = reference(&cfg, &f);
    assert!(want.1.contains("claims.csv:"), "{}", want.1);
    assert!(want.0.len() > 100_000);
    for (threads, block_bytes) in [(1, 1 << 20), (2, 1 << 20), (2, 4096), (3, 777), (1, 64)] {
        let (run, report) = files::load_with(
            &cfg,
            &f,
            &Options {
                threads,
                block_bytes,
                ..Options::default()
            },
        )
        .expect("load");
        let got = output(&run, &report);
        assert_eq!(got.1, want.1, "threads {threads}, blocks of {block_bytes}");
        assert!(
            got.0 == want.0,
            "threads {threads}, blocks of {block_bytes}: output differs"
        );
    }
}

/// Claims grouped by beneficiary are read in one pass (each block prescanned on its own, blocks
/// cut between beneficiaries); the same lines in another order, where a beneficiary with a
/// cancelled or adjusted claim line has lines in several blocks, are read again with a prescan of
/// the whole file. Both give the reference's bytes.
#[test]
fn one_pass_when_grouped_else_a_prescan_and_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, f) = setup(dir.path());
    let opts = Options {
        threads: 2,
        block_bytes: 64 << 10,
        ..Options::default()
    };
    let want = reference(&cfg, &f);
    let (run, report) = files::load_with(&cfg, &f, &opts).expect("load");
    assert!(run.read_in_one_pass());
    assert!(output(&run, &report) == want);

    // Every 7th line moved to the end: beneficiaries' lines far apart, in other blocks.
    let claims = &f.claims[0];
    let text = std::fs::read_to_string(claims).expect("read");
    // (Without the record with a quoted line break: its halves would be moved apart.)
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.contains('"')).collect();
    let header = lines.remove(0);
    let kept = lines.iter().enumerate().filter(|(i, _)| i % 7 != 3);
    let moved = lines.iter().enumerate().filter(|(i, _)| i % 7 == 3);
    let order: Vec<&str> = kept.chain(moved).map(|(_, l)| *l).collect();
    let shuffled = dir.path().join("shuffled.csv");
    std::fs::write(&shuffled, format!("{header}\n{}\n", order.join("\n"))).expect("write");
    let g = Files {
        claims: vec![shuffled],
        ..f.clone()
    };
    let want = reference(&cfg, &g);
    let (run, report) = files::load_with(&cfg, &g, &opts).expect("load");
    assert!(!run.read_in_one_pass());
    let got = output(&run, &report);
    assert_eq!(
        got.1.replace("shuffled.csv", "claims.csv"),
        want.1.replace("shuffled.csv", "claims.csv")
    );
    assert!(got.0 == want.0);
}

/// Four shards, each assigned on its own and merged, give exactly the unsharded list (and so does
/// one shard); every beneficiary is in exactly one shard.
#[test]
fn shards_merged_give_the_unsharded_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cfg, f) = setup(dir.path());
    let (run, _) = files::load_with(&cfg, &f, &Options::default()).expect("load");
    let mut want = Vec::new();
    files::write_results(&run, &mut want).expect("write");
    for count in [1u32, 4] {
        let mut parts = Vec::new();
        let mut rows = 0;
        for index in 0..count {
            let opts = Options {
                shard: Some(Shard { index, count }),
                threads: 2,
                ..Options::default()
            };
            let (run, _) = files::load_with(&cfg, &f, &opts).expect("load shard");
            let p = dir.path().join(format!("part-{index}-of-{count}.csv"));
            files::write_results_atomically(&run, &p, true, 2).expect("write shard");
            let text = std::fs::read_to_string(&p).expect("read");
            rows += text.lines().count() - 1;
            parts.push(p);
        }
        parts.reverse();
        let mut got = Vec::new();
        let merged = files::merge_shards(&parts, &mut got).expect("merge");
        assert_eq!(merged as usize, rows);
        assert!(
            got == want,
            "{count} shard(s) merged differ from the unsharded list"
        );
    }
}

/// A clinician table gives lines without a specialty their NPI's: the professional line below
/// counts only with it (specialty 01, a PCP: step 1), and the report says one line was resolved.
#[test]
fn clinician_table_resolves_missing_specialties() {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    };
    let benes = w(
        "b.csv",
        "beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,months_group_health_plan,us_resident,other_initiative\n\
         1EG4TE5MK73,12,0,0,true,false\n",
    );
    let claims = w(
        "c.csv",
        "beneficiary_id,service_date,hcpcs,allowed,tin,npi,specialty\n\
         1EG4TE5MK73,2024-03-01,99213,120.00,111111111,1000000001,\n",
    );
    let roster = w("n.csv", "npi,specialty\n1000000001,01\n");
    let cfg = RunConfig::retrospective(
        2024,
        vec![attribution_rules::AcoSpec {
            id: "A1".into(),
            tins: vec!["111111111".into()],
            ..Default::default()
        }],
    );
    let mut f = Files {
        beneficiaries: vec![benes],
        claims: vec![claims],
        ..Files::default()
    };
    let assigned = |f: &Files| {
        let (run, report) = files::load(&cfg, f).expect("load");
        let mut aco = Vec::new();
        run.assign_all(|_, _, a| aco.push(a.aco));
        (aco, report.specialties_resolved, run.stats.counted)
    };
    assert_eq!(assigned(&f), (vec![None], 0, 0));
    f.clinicians = vec![roster];
    assert_eq!(assigned(&f), (vec![Some(0)], 1, 1));
}
