//! Backtest of the settlement engine against CMS's published ACO results (the PY2014 and PY2018
//! Public Use Files) and against later-year PUF layouts.

use acorn_proto::cms::puf::PufFile;
use rust_decimal::Decimal;
use settlement_svc::backtest::{self, AcoComparison, BacktestError, Report, TrackSummary};
use settlement_svc::engine::Track;

fn fixture(name: &str) -> PufFile {
    let path = format!(
        "{}/../proto/testdata/puf/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    PufFile::from_path(path.as_ref()).expect("fixture loads")
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

fn summary(report: &Report, track: Track) -> TrackSummary {
    *report
        .tracks
        .iter()
        .find(|t| t.track == track)
        .unwrap_or_else(|| panic!("{track:?} in report"))
}

fn aco<'r>(report: &'r Report, id: &str) -> &'r AcoComparison {
    report
        .acos
        .iter()
        .find(|a| a.aco_id == id)
        .unwrap_or_else(|| panic!("{id} in report"))
}

fn parse(csv: &str) -> PufFile {
    PufFile::from_reader(csv.as_bytes()).expect("csv parses")
}

/// PY2014: every Track 1 (330) and Track 2 (3) ACO within $1 of EarnSaveLoss.
#[test]
fn py2014_every_aco_within_one_dollar() {
    let report = backtest::run(&fixture("mssp_puf_py2014.csv")).expect("runs");
    assert_eq!(report.performance_year, 2014);
    assert_eq!(
        report.tracks,
        [
            TrackSummary {
                track: Track::Track1,
                acos: 330,
                within_1_dollar: 330,
                within_0_1_percent: 330
            },
            TrackSummary {
                track: Track::Track2,
                acos: 3,
                within_1_dollar: 3,
                within_0_1_percent: 3
            },
        ]
    );
    assert_eq!(report.acos.len(), 333);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.mismatches().count(), 0);
    // File order, first row: A67373 = 32,173,449 x 0.5 x 0.916964286 x 0.98.
    let first = &report.acos[0];
    assert_eq!(
        (first.aco_id.as_str(), first.line, first.track),
        ("A67373", 2, Track::Track1)
    );
    assert_eq!(
        (first.published, first.computed),
        (dec("14455933"), Some(dec("14455932.81")))
    );
    // Track 2 (agreement before 2016: fixed 2% MSR, 60% x quality).
    assert_eq!(aco(&report, "A85439").computed, Some(dec("7528797.11")));
    // Pay-for-reporting ACOs that failed reporting (FinalShareRate 0) were paid nothing.
    for id in ["A80939", "A23913"] {
        let a = aco(&report, id);
        assert_eq!(
            (a.published, a.computed),
            (Decimal::ZERO, Some(Decimal::ZERO))
        );
    }
}

/// PY2018: every ACO within 0.1% (QualScore is published rounded to 4 decimals, so exact-dollar
/// matches are impossible for many rows); every mismatch beyond $1 has a checked cause.
#[test]
fn py2018_within_0_1_percent_and_every_mismatch_explained() {
    let report = backtest::run(&fixture("mssp_puf_py2018.csv")).expect("runs");
    assert_eq!(report.performance_year, 2018);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let expected = [
        // (track, ACOs, within $1, within 0.1%)
        (Track::Track1, 453, 327, 453),
        (Track::Track2, 7, 1, 7),
        (Track::Track3, 36, 16, 36),
        (Track::Track1Plus, 52, 28, 52),
    ];
    let got: Vec<_> = report
        .tracks
        .iter()
        .map(|t| (t.track, t.acos, t.within_1_dollar, t.within_0_1_percent))
        .collect();
    assert_eq!(got, expected);
    // The acceptance bar: Track 1 all, the two-sided tracks at least 95% each within 0.1%.
    let t1 = summary(&report, Track::Track1);
    assert_eq!(t1.within_0_1_percent, t1.acos);
    for track in [Track::Track1Plus, Track::Track2, Track::Track3] {
        let t = summary(&report, track);
        assert!(t.within_0_1_percent * 100 >= t.acos * 95, "{t:?}");
    }

    // A1409: capped at 10% of the benchmark after the sequestration cut (12,118,222.50).
    let capped = aco(&report, "A1409");
    assert_eq!(capped.published, dec("12118223"));
    assert_eq!(capped.computed, Some(dec("12118222.50")));
    assert!(capped.within_1_dollar());
    // A1215: Track 3 loss 15,259,668 x 40% (floor) - DisAdj 2,655.
    let loss = aco(&report, "A1215");
    assert_eq!(loss.track, Track::Track3);
    assert_eq!(loss.published, dec("-6101212"));
    assert_eq!(loss.computed, Some(dec("-6101212.20")));
    assert!(loss.within_1_dollar());
    // A3743: quality standard not met, Track 3 loss at the 75% ceiling.
    assert!(aco(&report, "A3743").within_1_dollar());

    let mismatches: Vec<_> = report.mismatches().collect();
    assert_eq!(mismatches.len(), 126 + 6 + 20 + 24);
    for m in &mismatches {
        let cause = m.cause.as_deref().unwrap_or("");
        assert!(
            cause.starts_with("published QualScore rounded to 4 dp: implied quality"),
            "{}: {cause}",
            m.aco_id
        );
        assert!(m.within_0_1_percent() && m.error.is_none(), "{m:?}");
    }
    // The one two-sided loss beyond $1: A3336 implies a loss rate of 0.412375 = 1 - 0.6 x 0.979375.
    let a3336 = aco(&report, "A3336");
    assert!(a3336.is_mismatch());
    assert_eq!(
        a3336.cause.as_deref(),
        Some(
            "published QualScore rounded to 4 dp: implied quality 0.979375 lies within +/-0.00005 of 0.9794"
        )
    );
    assert!(
        report
            .acos
            .iter()
            .all(|a| a.within_1_dollar() == a.cause.is_none())
    );
}

#[test]
fn json_shape() {
    let report = backtest::run(&fixture("mssp_puf_py2014.csv")).expect("runs");
    let text = serde_json::to_string(&report.to_json()).expect("serializes");
    let json: serde_json::Value = serde_json::from_str(&text).expect("parses");
    assert_eq!(json["performance_year"], 2014);
    let track = &json["tracks"][0];
    assert_eq!(track["track"], "TRACK_1");
    assert_eq!(track["acos"], 330);
    assert_eq!(track["within_1_dollar"], 330);
    assert_eq!(track["within_0_1_percent"], 330);
    assert_eq!(json["tracks"][1]["track"], "TRACK_2");
    assert_eq!(json["tracks"].as_array().map(Vec::len), Some(2));
    let acos = json["acos"].as_array().expect("acos array");
    assert_eq!(acos.len(), 333);
    let first = &acos[0];
    assert_eq!(first["aco_id"], "A67373");
    assert_eq!(first["track"], "TRACK_1");
    assert_eq!(first["published"], "14455933");
    assert_eq!(first["computed"], "14455932.81");
    assert_eq!(first["diff"], "-0.19");
    assert_eq!(first["within_1_dollar"], true);
    assert!(first["cause"].is_null());
    assert_eq!(json["skipped"].as_array().map(Vec::len), Some(0));
    // Amounts are strings that parse as decimals.
    for a in acos {
        for key in ["published", "computed"] {
            let s = a[key].as_str().expect("decimal string");
            s.parse::<Decimal>().expect("decimal");
        }
    }
}

#[test]
fn table_is_readable_and_deterministic() {
    let report = backtest::run(&fixture("mssp_puf_py2018.csv")).expect("runs");
    let table = report.to_table();
    assert_eq!(
        table,
        backtest::run(&fixture("mssp_puf_py2018.csv"))
            .expect("runs")
            .to_table()
    );
    assert!(table.starts_with(
        "MSSP PUF backtest, performance year 2018: 548 ACOs compared, 0 rows skipped\n"
    ));
    assert!(
        table.contains("\ntrack         ACOs  within $1  within 0.1%\n"),
        "{table}"
    );
    assert!(
        table.contains("\nTRACK_1        453        327          453\n"),
        "{table}"
    );
    assert!(
        table.contains("\nTRACK_1_PLUS    52         28           52\n"),
        "{table}"
    );
    assert!(table.contains("\nMismatches beyond $1: 176\n"));
    let a3336 = table
        .lines()
        .find(|l| l.contains("A3336"))
        .expect("A3336 listed");
    assert!(
        a3336.contains("TRACK_2") && a3336.contains("-1813633") && a3336.contains("-1813566.36"),
        "{a3336}"
    );
    assert!(a3336.contains("66.64") && a3336.contains("implied quality 0.979375"));
    assert!(table.ends_with("\nSkipped rows: 0\n"));
}

/// A later-year layout: one `Current_Track` text column, rates as "4.29%" strings, dollars with
/// `$`, thousands separators and parenthesised negatives, suppressed cells.
#[test]
fn later_year_layout_with_track_text_runs_end_to_end() {
    let puf = parse(
        "ACO_ID,Performance_Year,Current_Track,Current_Start_Date,N_AB,MinSavPerc,ABtotBnchmk,BnchmkMinExp,DisAdj,EarnSaveLoss,Met_QPS,QualScore,Rev_Exp_Cat\n\
         B1,2021,BASIC Level A,07/01/2019 12:00:00 AM,\"10,000\",3.00%,\"$100,000,000\",\"5,000,000\",-,\"$1,960,000\",1,95.50%,Low Revenue\n\
         B2,2021,ENHANCED,2019-07-01,\"20,000\",2.00%,\"200,000,000\",\"(6,000,000)\",\"(400,000)\",\"(2,000,000)\",1,90.00%,High Revenue\n\
         B3,2021,BASIC Level C,07/01/2019,\"8,000\",1.0%,\"50,000,000\",\"1,500,000\",,\"735,000\",1,88%,Low Revenue\n\
         B4,2021,Basic D,07/01/2019,\"8,000\",0.5%,\"40,000,000\",\"(2,000,000)\",,\"(600,000)\",1,88%,Low Revenue\n\
         B5,2021,Track 1,07/01/2019,\"8,000\",3.2%,\"40,000,000\",\"100\",,0,1,88%,Low Revenue\n\
         B6,2021,Mystery Track,07/01/2019,\"8,000\",3.2%,\"40,000,000\",\"100\",,0,1,88%,Low Revenue\n\
         B7,2021,BASIC_E,07/01/2019,\"20,000\",2%,\"100,000,000\",\"(1,000,000)\",-,0,1,91%,High Revenue\n\
         B8,2021,BASIC Level B,07/01/2019,\"6,000\",3.6%,\"80,000,000\",\"4,000,000\",,\"1,600,000\",1,91%,High Revenue\n\
         B9,2021,BASIC Level A,07/01/2019,\"6,000\",3.6%,\"80,000,000\",\"4,000,000\",,*,1,91%,High Revenue\n",
    );
    let report = backtest::run(&puf).expect("runs");
    assert_eq!(report.performance_year, 2021);
    let got: Vec<_> = report
        .tracks
        .iter()
        .map(|t| (t.track, t.acos, t.within_1_dollar, t.within_0_1_percent))
        .collect();
    assert_eq!(
        got,
        [
            (Track::Track1, 1, 0, 0),
            (Track::BasicA, 1, 1, 1),
            (Track::BasicB, 1, 0, 0),
            (Track::BasicC, 1, 1, 1),
            (Track::BasicE, 1, 1, 1),
            (Track::Enhanced, 1, 1, 1),
        ]
    );
    let ids: Vec<_> = report.acos.iter().map(|a| a.aco_id.as_str()).collect();
    assert_eq!(ids, ["B1", "B2", "B3", "B5", "B7", "B8"]);

    // BASIC A: 5,000,000 x 40% x 98% (2021: sequestration back).
    assert_eq!(aco(&report, "B1").computed, Some(dec("1960000.00")));
    // ENHANCED loss at the 40% floor, less the DisAdj amount.
    assert_eq!(aco(&report, "B2").computed, Some(dec("-2000000.00")));
    // BASIC C with savings: revenue not needed.
    let b3 = aco(&report, "B3");
    assert_eq!(b3.computed, Some(dec("735000.00")));
    assert!(b3.note.as_deref().is_some_and(|n| n.contains("revenue")));
    // BASIC E inside the corridor: revenue not needed either.
    assert_eq!(aco(&report, "B7").computed, Some(Decimal::ZERO));
    // Track 1 is not offered to a 2019-07-01 agreement: an engine error, reported as such.
    let b5 = aco(&report, "B5");
    assert_eq!(b5.computed, None);
    assert!(b5.is_mismatch());
    assert!(
        b5.cause
            .as_deref()
            .is_some_and(|c| c.starts_with("engine error: "))
    );
    // A mismatch no check explains is called so (2021 sharing does not scale with the score).
    assert_eq!(aco(&report, "B8").cause.as_deref(), Some("unexplained"));

    assert_eq!(report.skipped.len(), 3);
    let (line, reason) = &report.skipped[0];
    assert_eq!(*line, 5);
    assert!(
        reason.starts_with("not comparable: TRACK_BASIC_D owes losses"),
        "{reason}"
    );
    assert_eq!(
        report.skipped[1],
        (7, "unrecognised track \"Mystery Track\"".to_string())
    );
    assert_eq!(report.skipped[2], (10, "EarnSaveLoss missing".to_string()));

    let mismatches: Vec<_> = report.mismatches().map(|a| a.aco_id.as_str()).collect();
    assert_eq!(mismatches, ["B5", "B8"]);
    let table = report.to_table();
    assert!(table.contains("line 5: not comparable"), "{table}");
    let json = report.to_json();
    assert_eq!(json["acos"][3]["computed"], serde_json::Value::Null);
    assert_eq!(json["skipped"][1]["line"], 7);
}

/// BASIC/ENHANCED flag columns, expenditures instead of BnchmkMinExp, the year given by the caller.
#[test]
fn basic_flag_columns() {
    let puf = parse(
        "ACO_ID,Current_BASIC_A,Current_BASIC_B,Current_BASIC_C,Current_BASIC_D,Current_BASIC_E,Current_ENHANCED,Current_Start_Date,N_AB,MinSavPerc,ABtotBnchmk,ABtotExp,EarnSaveLoss,QualScore,Met_QPS\n\
         C1,0,1,0,0,0,0,07/01/2019,\"3,000\",5.00%,\"30,000,000\",\"28,200,000\",\"648,000\",0.9,1\n\
         C2,0,0,0,0,0,1,07/01/2019,\"15,000\",0%,\"100,000,000\",\"101,000,000\",\"(400,000)\",0.8,1\n\
         C3,1,0,0,0,0,1,07/01/2019,\"15,000\",0%,\"100,000,000\",\"101,000,000\",0,0.8,1\n\
         C4,0,0,0,0,0,0,07/01/2019,\"15,000\",0%,\"100,000,000\",\"101,000,000\",0,0.8,1\n",
    );
    assert_eq!(
        backtest::run(&puf),
        Err(BacktestError::PerformanceYearUnknown)
    );
    let report = backtest::run(&puf.with_performance_year(2020)).expect("runs");
    // 3,000 beneficiaries: the small-ACO scale (5.0%); 2020: no sequestration; 40% x 0.9 x 1.8M.
    assert_eq!(aco(&report, "C1").computed, Some(dec("648000.0")));
    assert_eq!(aco(&report, "C1").track, Track::BasicB);
    // ENHANCED, 0% MLR: 1,000,000 x (1 - 0.75 x 0.8 = 40%).
    assert_eq!(aco(&report, "C2").computed, Some(dec("-400000")));
    assert_eq!(report.mismatches().count(), 0);
    assert_eq!(
        report.skipped,
        [
            (
                4,
                "several track flags set (TRACK_BASIC_A, TRACK_ENHANCED)".to_string()
            ),
            (5, "no track flag set".to_string()),
        ]
    );
}

#[test]
fn files_that_cannot_be_backtested() {
    let no_track = parse(
        "ACO_ID,PY,N_AB,ABtotBnchmk,BnchmkMinExp,EarnSaveLoss,Start_Date\nA,2018,1,1,1,1,01/01/2018\n",
    );
    assert_eq!(backtest::run(&no_track), Err(BacktestError::NoTrackColumns));
    let no_published = parse(
        "ACO_ID,PY,Track1,N_AB,ABtotBnchmk,BnchmkMinExp,Start_Date\nA,2014,1,1,1,1,01/01/2014\n",
    );
    assert_eq!(
        backtest::run(&no_published),
        Err(BacktestError::MissingColumn("EarnSaveLoss"))
    );
    let no_year = parse("ACO_ID,Track1\nA,1\n");
    assert_eq!(
        backtest::run(&no_year),
        Err(BacktestError::PerformanceYearUnknown)
    );
}

#[test]
fn track_names_as_printed() {
    let cases = [
        ("Track 1", Some(Track::Track1)),
        ("Track 1+", Some(Track::Track1Plus)),
        ("Track 1 Plus", Some(Track::Track1Plus)),
        ("Track1Plus", Some(Track::Track1Plus)),
        ("TRACK 2", Some(Track::Track2)),
        ("Track 3", Some(Track::Track3)),
        ("BASIC Level C", Some(Track::BasicC)),
        ("Basic A", Some(Track::BasicA)),
        ("BASIC_E", Some(Track::BasicE)),
        ("Level D", Some(Track::BasicD)),
        ("ENHANCED", Some(Track::Enhanced)),
        ("Enhanced Track", Some(Track::Enhanced)),
        ("BASIC", None),
        ("Track 2+", None),
        ("Track 1 or 2", None),
        ("", None),
        ("Other", None),
    ];
    for (text, track) in cases {
        assert_eq!(backtest::track_from_text(text), track, "{text:?}");
    }
}

/// Hostile cells never panic: they skip the row or become engine errors.
#[test]
fn hostile_rows_never_panic() {
    const HOSTILE: &[&str] = &[
        "",
        "-",
        "*",
        "0",
        "P4R",
        "150%",
        "0.0000000000000000000000000001",
        "999999999999999",
        "1e15",
        "-1e15",
        "(5)",
        "abc",
        "02/30/2019",
    ];
    // (column, plausible cells)
    const COLUMNS: &[(&str, &[&str])] = &[
        ("ACO_ID", &["A1", "A2"]),
        (
            "Current_Track",
            &[
                "Track 1",
                "Track 1+",
                "Track 2",
                "Track 3",
                "BASIC Level C",
                "BASIC Level E",
                "ENHANCED",
                "Basic A",
            ],
        ),
        ("Current_Track_1", &["0", "1"]),
        ("Current_BASIC_C", &["0", "1"]),
        (
            "Current_Start_Date",
            &[
                "01/01/2012",
                "07/01/2012",
                "01/01/2016",
                "2018-01-01",
                "07/01/2019",
                "01/01/2024",
            ],
        ),
        ("N_AB", &["100", "4,999", "5,000", "20000", "60000", "1"]),
        ("MinSavPerc", &["0%", "0.5%", "2%", "3.3%", "2.0005%"]),
        (
            "ABtotBnchmk",
            &["1", "100,000,000", "$1", "999999999999999"],
        ),
        (
            "BnchmkMinExp",
            &[
                "0",
                "1",
                "(1)",
                "5,000,000",
                "(5,000,000)",
                "999999999999999",
                "-999999999999999",
            ],
        ),
        ("ABtotExp", &["0", "95,000,000"]),
        ("DisAdj", &["(2,655)", "-", "999999999999999"]),
        ("EarnSaveLoss", &["0", "1,000", "(1,000)"]),
        ("QualScore", &["P4R", "0.9794", "91.5%", "0", "1"]),
        ("Met_QPS", &["0", "1"]),
        ("FinalShareRate", &["0", "0.5"]),
        ("RevLossLimit", &["0", "1"]),
    ];
    let header: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0)
    };
    let (mut compared, mut errors, mut skipped) = (0, 0, 0);
    for case in 0..60_i32 {
        let mut csv = header.join(",");
        csv.push('\n');
        for _ in 0..40 {
            let row: Vec<String> = COLUMNS
                .iter()
                .map(|(_, plausible)| {
                    let cell = if next() % 12 == 0 {
                        HOSTILE[next() % HOSTILE.len()]
                    } else {
                        plausible[next() % plausible.len()]
                    };
                    format!("\"{cell}\"")
                })
                .collect();
            csv.push_str(&row.join(","));
            csv.push('\n');
        }
        let py = 2012 + case % 15;
        let puf = parse(&csv).with_performance_year(py);
        let report = backtest::run(&puf).expect("columns present");
        let _ = (report.to_table(), report.to_json());
        compared += report.acos.iter().filter(|a| a.computed.is_some()).count();
        errors += report.acos.iter().filter(|a| a.error.is_some()).count();
        skipped += report.skipped.len();
    }
    assert!(
        compared > 20 && errors > 20 && skipped > 20,
        "{compared} computed, {errors} engine errors, {skipped} skipped"
    );
}
