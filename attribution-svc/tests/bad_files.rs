//! `attribution-svc assign` on bad input files, run as a user runs it: each bad line is named by
//! file, line and column (never by its values); with `--reject-file` the bad lines go there and
//! the run goes on; without it the run fails and `--out` is left as it was (nothing half-written).

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

const PARTICIPANTS: &str = "aco_id,kind,id\nA1,tin,111111111\n";
const BENEFICIARIES: &str = "beneficiary_id,months_part_a_and_b,months_part_a_or_b_only,\
                             months_group_health_plan,us_resident,other_initiative\n\
                             1EG4TE5MK73,12,0,0,true,false\n\
                             2EG4TE5MK74,12,0,0,true,false\n";
const CLAIMS_HEADER: &str = "beneficiary_id,service_date,hcpcs,allowed,tin,specialty,claim_type\n";
/// A good line: 1EG4TE5MK73 at A1's TIN, a PCP, primary care (step 1, 425.402(b)(3)).
const GOOD: &str = "1EG4TE5MK73,2024-03-01,99213,120.00,111111111,08,professional\n";

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn assign(dir: &Path, claims: &str, extra: &[&str]) -> Output {
    let participants = write(dir, "participants.csv", PARTICIPANTS);
    let beneficiaries = write(dir, "beneficiaries.csv", BENEFICIARIES);
    let claims = write(dir, "claims.csv", claims);
    Command::new(env!("CARGO_BIN_EXE_attribution-svc"))
        .arg("assign")
        .args(["--performance-year", "2024", "--participants"])
        .arg(&participants)
        .arg("--beneficiaries")
        .arg(&beneficiaries)
        .arg("--claims")
        .arg(&claims)
        .args(extra)
        .output()
        .expect("run attribution-svc assign")
}

/// The files in `dir` whose name starts with `prefix` (temporary files left behind).
fn leftovers(dir: &Path, prefix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// A wrong type (`allowed` not an amount), an unknown code (`claim_type`) and a row of the wrong
/// width: with `--reject-file` each goes there with its file, line and column, the good line is
/// assigned, and the list is written.
#[test]
fn bad_lines_go_to_the_reject_file_and_the_run_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let claims = format!(
        "{CLAIMS_HEADER}{GOOD}\
         1EG4TE5MK73,2024-03-02,99213,twelve,111111111,08,professional\n\
         1EG4TE5MK73,2024-03-03,99213,10.00,111111111,08,dentist\n\
         1EG4TE5MK73,2024-03-04,99213\n"
    );
    let out = dir.path().join("list.csv");
    let rejects = dir.path().join("rejects.csv");
    let o = assign(
        dir.path(),
        &claims,
        &[
            "--out",
            out.to_str().expect("utf-8"),
            "--reject-file",
            rejects.to_str().expect("utf-8"),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("3 rejected"), "{stderr}");
    let rejected = std::fs::read_to_string(&rejects).expect("reject file");
    assert_eq!(
        rejected.lines().collect::<Vec<_>>(),
        [
            "file,line,reason",
            "claims.csv,3,\"allowed: must be a decimal number of dollars such as \"\"...\"\"\"",
            "claims.csv,4,\"claim_type: must be professional, fqhc, rhc, cah_method_ii or \
             other_institutional\"",
            "claims.csv,5,malformed row: 3 fields where the header has 7",
        ]
    );
    assert!(
        !rejected.contains("1EG4TE5MK73"),
        "no identifier: {rejected}"
    );
    let list = std::fs::read_to_string(&out).expect("list");
    assert!(
        list.lines()
            .any(|l| l.starts_with("1EG4TE5MK73,A1,step_1,")),
        "{list}"
    );
    assert!(leftovers(dir.path(), ".assign-").is_empty());
}

/// Without `--reject-file` a bad line fails the run, naming file, line and column: an existing
/// `--out` keeps its bytes and no temporary file is left beside it.
#[test]
fn a_failed_run_leaves_out_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = write(dir.path(), "list.csv", "the previous list\n");
    let claims = format!(
        "{CLAIMS_HEADER}{GOOD}1EG4TE5MK73,2024-02-30,99213,10.00,111111111,08,professional\n"
    );
    let o = assign(
        dir.path(),
        &claims,
        &["--out", out.to_str().expect("utf-8")],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("rejected claims.csv:3: service_date: must be a valid date"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing written"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("out"),
        "the previous list\n"
    );
    assert!(leftovers(dir.path(), ".assign-").is_empty());

    // A list that cannot be written (its directory does not exist) fails the run and leaves
    // nothing.
    let missing = dir.path().join("no-such-dir").join("list.csv");
    let o = assign(
        dir.path(),
        &format!("{CLAIMS_HEADER}{GOOD}"),
        &["--out", missing.to_str().expect("utf-8")],
    );
    assert!(!o.status.success());
    assert!(!missing.exists());
}

/// A file missing a required column is rejected at line 1 naming the column(s); with
/// `--reject-file` the run goes on without it.
#[test]
fn a_missing_column_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let claims = "beneficiary_id,service_date,hcpcs,tin\n1EG4TE5MK73,2024-03-01,99213,111111111\n";
    let o = assign(dir.path(), claims, &[]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("rejected claims.csv:1: missing column(s): allowed"),
        "{stderr}"
    );
    let rejects = dir.path().join("rejects.csv");
    let o = assign(
        dir.path(),
        claims,
        &["--reject-file", rejects.to_str().expect("utf-8")],
    );
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_to_string(&rejects).expect("rejects"),
        "file,line,reason\nclaims.csv,1,missing column(s): allowed\n"
    );
}
