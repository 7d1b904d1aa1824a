//! `simulator diagnose --puf FILE` end to end on the real CMS Public Use Files of the fixtures
//! (proto/testdata/puf: PY2014, PY2018, PY2022 and the PY2013 sample): every section printed, the
//! file's figures as CMS published them (the simulator issue's PY2018 acceptance figures), and
//! the preset chosen by the file's year.

mod common;

use common::{ok, simulator};

fn fixture(name: &str) -> String {
    format!(
        "{}/../proto/testdata/puf/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The table row whose first cell starts with `label`, split into its cells.
fn row<'a>(out: &'a str, label: &str) -> Vec<&'a str> {
    let line = out
        .lines()
        .find(|l| l.trim_start_matches(['│', ' ']).starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in\n{out}"));
    line.split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// `simulator diagnose` on the fixture `puf` (with `extra` flags): every section printed, and the
/// heading comparing the file with `versus` (e.g. "(PY2018, 548 ACOs) vs mssp-2018 PY2018").
fn diagnose(puf: &str, extra: &[&str], versus: &str) -> String {
    let path = fixture(puf);
    let out = ok(&[
        &[
            "diagnose",
            "--puf",
            &path,
            "--replicates",
            "1",
            "--seed",
            "7",
        ],
        extra,
    ]
    .concat());
    for section in [
        "1. Concentration",
        "2. Year-to-year persistence",
        "3. Normal variation",
        "4. Cross-ACO comparison",
    ] {
        assert!(out.contains(section), "{section} missing:\n{out}");
    }
    assert!(out.contains(versus), "{out}");
    out
}

#[test]
fn py2018_prints_the_published_figures_beside_mssp_2018() {
    let out = diagnose(
        "mssp_puf_py2018.csv",
        &[],
        "(PY2018, 548 ACOs) vs mssp-2018 PY2018 (1 replicates)",
    );
    assert!(!out.contains("note:"), "{out}");
    // The PY2018 file as CMS published it (the acceptance figures: 1.57% mean, 4.36% SD,
    // 66% below benchmark, 37% at or above the MSR, $1.71B benchmark savings, $0.98B paid,
    // $18M owed, $0.74B net).
    let published = [
        ("savings rate mean", "1.57%"),
        ("savings rate SD", "4.36%"),
        ("share below benchmark", "66.42%"),
        ("share at or above MSR", "37.41%"),
        ("benchmark savings", "$1705.8M"),
        ("shared savings paid", "$984.0M"),
        ("shared losses owed", "$17.6M"),
        ("net, benchmark basis", "$739.4M"),
        ("ACOs", "548.00"),
    ];
    for (label, value) in published {
        let cells = row(&out, label);
        assert_eq!(cells[1], value, "{label}: {cells:?}");
        assert_eq!(cells.len(), 5, "{cells:?}");
    }
    // By size band: 5.3% / 4.0% / 3.2% SD (the figures).
    for (band, sd) in [
        ("< 10,000", "5.27%"),
        ("10,000-20,000", "3.98%"),
        ("> 20,000", "3.17%"),
    ] {
        let label = format!("{band} (");
        let line = out
            .lines()
            .find(|l| l.contains(&label) && l.contains(": SD"))
            .unwrap_or_else(|| panic!("no SD row for {band}:\n{out}"));
        assert!(line.contains(sd), "{line}");
    }
    // The simulated column is the scenario's: one replicate of mssp-2018 reconciles 548 ACOs.
    assert_eq!(row(&out, "ACOs")[2], "548.00");
    // Section 1: the published concentration curve.
    assert_eq!(row(&out, "top 1%")[2], "14.9%");
    assert_eq!(row(&out, "top 50%")[2], "95.7%");
}

#[test]
fn py2014_py2022_and_the_2013_sample_pick_the_nearest_preset() {
    // PY2014 -> mssp-2012-cohort (PY2013), the 2013 sample -> mssp-2012-cohort; with the note
    // where the years differ. PY2022 is run against the small cohort preset (--scenario) to keep
    // the test short (its default, mssp-2024, is not run here).
    let out = diagnose(
        "mssp_puf_py2014.csv",
        &[],
        "(PY2014, 333 ACOs) vs mssp-2012-cohort PY2013",
    );
    assert!(out.contains("note: the file's year is not"), "{out}");
    assert_eq!(row(&out, "ACOs")[1], "333.00");
    let out = diagnose(
        "mssp_puf_py2013_sample.csv",
        &[],
        "(PY2013, 18 ACOs) vs mssp-2012-cohort PY2013",
    );
    assert!(!out.contains("note:"), "{out}");
    let out = diagnose(
        "mssp_puf_py2022.csv",
        &["--scenario", "mssp-2012-cohort"],
        "(PY2022, 482 ACOs) vs mssp-2012-cohort PY2013",
    );
    let cells = row(&out, "share below benchmark");
    assert!(cells[1].ends_with('%') && cells[1] != "NaN%", "{cells:?}");
}

#[test]
fn a_missing_or_unreadable_file_is_a_clear_error() {
    let r = simulator(&["diagnose", "--puf", "/nonexistent/puf.csv"]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--puf"), "{err}");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "ACO_ID,Something\nA1,2\n").unwrap();
    let r = simulator(&[
        "diagnose",
        "--puf",
        bad.to_str().unwrap(),
        "--replicates",
        "1",
    ]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--puf"), "{err}");
}
