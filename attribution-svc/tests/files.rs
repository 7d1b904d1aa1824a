//! The golden population through the file path: written as CSV, and as CMS CCLF files (CCLF8
//! demographics, CCLF5 Part B lines, CCLF1/CCLF2 FQHC and RHC claims) with
//! `acorn_proto::cms::cclf::format_line`, then read and assigned; malformed lines are reported with
//! file and line and the rest is read.

mod common;

use std::{collections::HashMap, fmt::Write as _, path::Path};

use acorn_proto::cms::cclf::{CclfKind, format_line};
use attribution_rules::{
    ClaimType, StepKind, Version,
    run::{Run, RunConfig},
    synthetic::ClaimRecord,
};
use attribution_svc::{
    files::{self, Files},
    input::csv::Report,
};

fn cfg() -> RunConfig {
    RunConfig::retrospective(2024, common::acos())
}

use acorn_domain::money::format_cents as dollars;

/// (ACO, step, reason, top totals).
type Outcome = (String, &'static str, &'static str, Vec<(String, String)>);

/// The outcome of every beneficiary.
fn results(run: &Run) -> HashMap<String, Outcome> {
    let mut out = HashMap::new();
    run.assign_all(|id, _, a| {
        let step = match a.step {
            None => "",
            Some(StepKind::VoluntaryAlignment) => "voluntary_alignment",
            Some(StepKind::Step1) => "step_1",
            Some(StepKind::Step2) => "step_2",
            Some(StepKind::Step3) => "step_3",
        };
        out.insert(
            id.to_string(),
            (
                a.aco
                    .map(|i| run.reg.acos()[i as usize].clone())
                    .unwrap_or_default(),
                step,
                a.reason.code(),
                a.competing
                    .iter()
                    .map(|c| (run.entity_name(c.entity), dollars(c.cents)))
                    .collect(),
            ),
        );
    });
    out
}

fn check(run: &Run, expected: &[common::Expect]) {
    let got = results(run);
    for x in expected {
        let want = (
            x.aco.to_string(),
            x.step,
            x.reason,
            x.top
                .iter()
                .map(|(e, d)| (e.to_string(), d.to_string()))
                .collect::<Vec<_>>(),
        );
        assert_eq!(
            got.get(&common::id(x.k)),
            Some(&want),
            "beneficiary {}",
            x.k
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn golden_population_through_csv() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = common::golden();
    let mut parts = String::from("aco_id,kind,id\n");
    for a in common::acos() {
        for (kind, list) in [("tin", &a.tins), ("ccn", &a.ccns), ("npi", &a.npis)] {
            for id in list {
                writeln!(parts, "{},{kind},{id}", a.id).expect("fmt");
            }
        }
    }
    let mut benes = String::from(
        "beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,months_group_health_plan,us_resident,other_initiative,designated_npi,designated_tin\n",
    );
    for b in &g.benes {
        writeln!(
            benes,
            "{},{},{},{},{},{},{},{}",
            b.id,
            b.months_a_and_b,
            b.months_a_or_b_only,
            b.months_group_health_plan,
            b.us_resident,
            b.other_initiative,
            b.designated_npi,
            b.designated_tin
        )
        .expect("fmt");
    }
    let mut claims = String::from(
        "claim_id,beneficiary_id,service_date,hcpcs,revenue_center,place_of_service,claim_type,tin,ccn,specialty,allowed,adjustment\n",
    );
    for l in &g.lines {
        let ct = match l.claim_type {
            ClaimType::Professional => "professional",
            ClaimType::Fqhc => "fqhc",
            ClaimType::Rhc => "rhc",
            ClaimType::CahMethodII => "cah_method_ii",
            ClaimType::OtherInstitutional => "other_institutional",
        };
        let adj = match l.version {
            Version::Original => "original",
            Version::Adjustment => "adjustment",
            Version::Cancellation => "cancellation",
        };
        writeln!(
            claims,
            "{},{},{},{},{},{},{ct},{},{},{},{},{adj}",
            l.claim_id,
            l.beneficiary_id,
            l.service_date,
            l.hcpcs,
            l.revenue_center,
            l.place_of_service,
            l.tin,
            l.ccn,
            l.specialty,
            dollars(l.allowed_cents)
        )
        .expect("fmt");
    }
    // Two malformed rows (lines 2 and 4 of the extra file) among good ones.
    let extra = format!(
        "beneficiary_id,service_date,hcpcs,allowed,tin,specialty\n{},2024-13-01,99213,10,700000001,11\n{},2024-03-01,99213,0.00,700000001,11\n{},2024-03-01,99213,ten,700000001,11\n",
        common::id(1),
        common::id(1),
        common::id(1)
    );
    let (acos, parts_report) =
        files::participants(&write(dir.path(), "participants.csv", &parts)).expect("participants");
    assert_eq!((acos, parts_report.rejected), (common::acos(), 0));
    let f = Files {
        beneficiaries: vec![write(dir.path(), "beneficiaries.csv", &benes)],
        claims: vec![
            write(dir.path(), "claims.csv", &claims),
            write(dir.path(), "extra.csv", &extra),
        ],
        ..Files::default()
    };
    let (run, report) = files::load(&cfg(), &f).expect("load");
    assert_eq!(report.rejected, 2);
    let where_: Vec<String> = report
        .rejections
        .iter()
        .map(|r| format!("{}:{}", r.file, r.line))
        .collect();
    assert_eq!(where_, ["extra.csv:2", "extra.csv:4"]);
    assert_eq!(report.records, (g.benes.len() + g.lines.len() + 1) as u64);
    check(&run, &g.expected);
    let mut out = Vec::new();
    let counts = files::write_results(&run, &mut out).expect("write");
    assert_eq!(
        counts.iter().map(|c| c.assigned).collect::<Vec<_>>(),
        common::counts(&g.expected).to_vec()
    );
    let text = String::from_utf8(out).expect("utf8");
    assert!(
        text.contains(&format!(
            "{},A,step_1,assigned,aco:A,200.00,false,",
            common::id(1)
        )),
        "{text}"
    );
    // The failed screen is a column of its own (425.401(a)(1): 3 months of Part A or B only).
    assert!(
        text.contains(&format!(
            "{},,,ineligible,,,false,part_a_or_b_only",
            common::id(16)
        )),
        "{text}"
    );
}

/// The fields every CCLF claim file carries for claim line `l` dated `date`: the claim, its
/// beneficiary, its type and its dates.
fn claim_fields<'l>(l: &'l ClaimRecord, date: &'l str) -> Vec<(&'static str, &'l str)> {
    vec![
        ("CUR_CLM_UNIQ_ID", l.claim_id.as_str()),
        ("BENE_MBI_ID", l.beneficiary_id.as_str()),
        ("CLM_TYPE_CD", "71"),
        ("CLM_FROM_DT", date),
        ("CLM_THRU_DT", date),
    ]
}

fn cclf5_line(l: &ClaimRecord) -> String {
    let date = l.service_date.to_string();
    let adj = match l.version {
        Version::Original => "0",
        Version::Cancellation => "1",
        Version::Adjustment => "2",
    };
    let allowed = dollars(l.allowed_cents);
    let mut fields = claim_fields(l, &date);
    fields.extend([
        ("CLM_LINE_NUM", "1"),
        ("CLM_PRVDR_SPCLTY_CD", l.specialty),
        ("CLM_POS_CD", l.place_of_service),
        ("CLM_LINE_FROM_DT", date.as_str()),
        ("CLM_LINE_THRU_DT", date.as_str()),
        ("CLM_LINE_HCPCS_CD", l.hcpcs),
        ("CLM_LINE_CVRD_PD_AMT", allowed.as_str()),
        ("CLM_RNDRG_PRVDR_TAX_NUM", l.tin.as_str()),
        ("RNDRG_PRVDR_NPI_NUM", l.npi.as_str()),
        ("CLM_ADJSMT_TYPE_CD", adj),
        ("CLM_LINE_ALOWD_CHRG_AMT", allowed.as_str()),
    ]);
    format_line(CclfKind::Cclf5, &fields)
}

#[test]
fn golden_population_through_cclf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let g = common::golden();
    let mut c8 = String::new();
    for b in &g.benes {
        // Beneficiary 16 has Part A from 2010 and Part B from April 2024: 9 months A+B, 3 A only.
        let part_b = if b.months_a_or_b_only > 0 {
            "2024-04-01"
        } else {
            "2010-01-01"
        };
        c8 += &format_line(
            CclfKind::Cclf8,
            &[
                ("BENE_MBI_ID", b.id.as_str()),
                ("BENE_FIPS_STATE_CD", "06"),
                ("BENE_DOB", "1950-01-01"),
                ("BENE_PART_A_ENRLMT_BGN_DT", "2010-01-01"),
                ("BENE_PART_B_ENRLMT_BGN_DT", part_b),
            ],
        );
        c8.push('\n');
    }
    let (mut c5, mut c1, mut c2) = (String::new(), String::new(), String::new());
    let mut c5_lines = 0;
    for l in &g.lines {
        let date = l.service_date.to_string();
        let amount = dollars(l.allowed_cents);
        match l.claim_type {
            ClaimType::Professional => {
                c5 += &cclf5_line(l);
                c5.push('\n');
                c5_lines += 1;
                if c5_lines == 3 {
                    c5 += "this line is not a CCLF5 record\n";
                }
            }
            ct => {
                let class = if ct == ClaimType::Fqhc { "7" } else { "1" };
                let mut header = claim_fields(l, &date);
                header.extend([
                    ("PRVDR_OSCAR_NUM", l.ccn.as_str()),
                    ("CLM_BILL_FAC_TYPE_CD", "7"),
                    ("CLM_BILL_CLSFCTN_CD", class),
                    ("CLM_PMT_AMT", amount.as_str()),
                    ("CLM_ADJSMT_TYPE_CD", "0"),
                ]);
                c1 += &format_line(CclfKind::Cclf1, &header);
                c1.push('\n');
                let mut revenue = claim_fields(l, &date);
                revenue.extend([
                    ("CLM_LINE_NUM", "1"),
                    ("CLM_LINE_FROM_DT", date.as_str()),
                    ("CLM_LINE_PROD_REV_CTR_CD", l.revenue_center),
                    ("CLM_LINE_HCPCS_CD", l.hcpcs),
                    ("PRVDR_OSCAR_NUM", l.ccn.as_str()),
                    ("CLM_LINE_CVRD_PD_AMT", amount.as_str()),
                ]);
                c2 += &format_line(CclfKind::Cclf2, &revenue);
                c2.push('\n');
            }
        }
    }
    let f = Files {
        cclf8: vec![write(dir.path(), "ZC8Y24.txt", &c8)],
        cclf5: vec![write(dir.path(), "ZC5Y24.txt", &c5)],
        cclf1: vec![write(dir.path(), "ZC1Y24.txt", &c1)],
        cclf2: vec![write(dir.path(), "ZC2Y24.txt", &c2)],
        ..Files::default()
    };
    let (run, report): (Run, Report) = files::load(&cfg(), &f).expect("load");
    let where_: Vec<String> = report
        .rejections
        .iter()
        .map(|r| format!("{}:{}", r.file, r.line))
        .collect();
    assert_eq!(where_, ["ZC5Y24.txt:4"]);
    // CCLF carries no voluntary alignment designations: beneficiaries 9 and 10 are assigned on
    // claims (A's 400 is the only primary care).
    let mut expected = g.expected.clone();
    for x in &mut expected {
        if x.k == 9 || x.k == 10 {
            *x = common::Expect {
                k: x.k,
                aco: "A",
                step: "step_1",
                reason: "assigned",
                top: vec![("aco:A", "400.00")],
            };
        }
    }
    check(&run, &expected);
}

/// The output is written by a CSV writer: an identifier with a comma, a quote or a line break is
/// quoted and every row keeps its seven columns.
#[test]
fn output_csv_quotes_awkward_identifiers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let parts = write(
        dir.path(),
        "participants.csv",
        "aco_id,kind,id\n\"A,1\",tin,100000001\n",
    );
    let benes = write(
        dir.path(),
        "benes.csv",
        "beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,months_group_health_plan,us_resident,other_initiative\n\"X,1\",12,0,0,true,false\n\"Y\"\"2\",12,0,0,true,false\n",
    );
    let claims = write(
        dir.path(),
        "claims.csv",
        "beneficiary_id,service_date,hcpcs,tin,specialty,allowed\n\"X,1\",2024-03-01,99213,100000001,08,100.00\n\"Y\"\"2\",2024-03-01,99213,\"7,1\",08,50.00\n",
    );
    let (acos, _) = files::participants(&parts).expect("participants");
    let cfg = RunConfig { acos, ..cfg() };
    let (run, report) = files::load(
        &cfg,
        &Files {
            beneficiaries: vec![benes],
            claims: vec![claims],
            ..Files::default()
        },
    )
    .expect("load");
    assert_eq!(report.rejected, 0, "{:?}", report.rejections);
    let mut out = Vec::new();
    files::write_results(&run, &mut out).expect("write");
    let mut rdr = csv::Reader::from_reader(out.as_slice());
    let rows: Vec<Vec<String>> = rdr
        .records()
        .map(|r| r.expect("row").iter().map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.len() == 8), "{rows:?}");
    assert_eq!(
        rows[0][..5],
        ["X,1", "A,1", "step_1", "assigned", "aco:A,1"]
    );
    assert_eq!(rows[1][0], "Y\"2");
    assert_eq!(rows[1][3], "no_aco_physician_service");
}
