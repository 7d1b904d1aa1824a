//! The repository README's `assign` example, run as written on the files it names
//! (`attribution-svc/testdata/readme/`, described in their README): the example must keep working.

use std::process::{Command, Stdio};

/// The README's `assign` command on the files it names, from the repository root; callers add
/// where the list goes.
fn readme_assign() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_attribution-svc"));
    cmd.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "assign",
            "--performance-year",
            "2024",
            "--participants",
            "attribution-svc/testdata/readme/participants.csv",
            "--beneficiaries",
            "attribution-svc/testdata/readme/beneficiaries.csv",
            "--claims",
            "attribution-svc/testdata/readme/claims.csv",
        ]);
    cmd
}

/// `attribution-svc assign --performance-year 2024 --participants ... --beneficiaries ...
/// --claims ... --out list.csv` from the repository root: 1EG4TE5MK73 is assigned to A1 at step 1
/// (A1's TIN has the plurality of allowed primary care charges, $120.00 against $100.00,
/// 42 CFR 425.402(b)(3)); 2EG4TE5MK74, seen only outside any ACO, is not.
#[test]
fn the_readme_assign_example_runs_on_the_files_it_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("list.csv");
    let status = readme_assign()
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run attribution-svc assign");
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(status.status.success(), "assign failed: {stderr}");
    assert!(
        !stderr.contains("rejected "),
        "no row is rejected: {stderr}"
    );

    let list = std::fs::read_to_string(&out).expect("list.csv");
    let mut lines = list.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("column {name} in {header:?}"))
    };
    let (id, aco, step) = (col("beneficiary_id"), col("aco_id"), col("step"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let row = |beneficiary: &str| {
        rows.iter()
            .find(|r| r[id] == beneficiary)
            .map(|r| (r[aco], r[step]))
    };
    assert_eq!(row("1EG4TE5MK73"), Some(("A1", "step_1")));
    assert!(
        matches!(row("2EG4TE5MK74"), None | Some(("", ""))),
        "not assigned: {:?}",
        row("2EG4TE5MK74")
    );
}

/// `attribution-svc assign ... | head`: the same example with the list on standard output, a pipe
/// whose read end is already closed (every write fails with EPIPE, as after `head` has exited), ends
/// quietly.
#[test]
fn assign_into_a_closed_pipe_exits_quietly() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = readme_assign()
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run attribution-svc assign");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.to_lowercase().contains("broken pipe"), "{stderr}");
}
