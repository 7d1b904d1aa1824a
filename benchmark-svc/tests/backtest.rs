//! The CMS backtest on the two Public Use Files shipped as fixtures (proto/testdata/puf): the
//! historical benchmark rebuilt from each file's own columns against the published `HistBnchmk`.

use acorn_proto::cms::puf::PufFile;
use benchmark_svc::backtest::{self, Model};

fn report(name: &str) -> backtest::Report {
    let path = format!(
        "{}/../proto/testdata/puf/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let file = PufFile::from_path(path.as_ref()).expect("fixture");
    backtest::run(&file).expect("backtest")
}

/// PY2014 (every ACO in its first agreement, starts 2012-04-01 to 2014-01-01): with the national
/// trend factors inferred per start year, every one of the 333 ACOs is within 0.05% of the
/// published benchmark; with no trend at all the errors reach 1.2%.
#[test]
fn py2014_every_aco_within_0_05_percent_with_inferred_factors() {
    let r = report("mssp_puf_py2014.csv");
    assert_eq!(r.performance_year, Some(2014));
    assert_eq!((r.acos.len(), r.skipped.len()), (333, 0));
    assert_eq!(
        r.fits
            .iter()
            .map(|f| (f.start_year, f.acos))
            .collect::<Vec<_>>(),
        [(2012, 111), (2013, 103), (2014, 119)]
    );
    for a in &r.acos {
        let e = a.error_percent().expect("fitted");
        assert!(
            e.abs() <= 0.05,
            "{} {} vs {}: {e}%",
            a.aco_id,
            a.computed.unwrap_or_default(),
            a.published
        );
    }
    let worst_no_trend = r
        .acos
        .iter()
        .map(|a| a.no_trend_error_percent().abs())
        .fold(0.0, f64::max);
    assert!(worst_no_trend > 1.0, "the trend matters: {worst_no_trend}");
    let a67373 = r
        .acos
        .iter()
        .find(|a| a.aco_id == "A67373")
        .expect("A67373");
    assert_eq!(a67373.published.to_string(), "13375");

    let json = r.to_json();
    assert_eq!(json["performance_year"], 2014);
    let first = &json["acos"][0];
    assert_eq!(
        (
            first["aco_id"].as_str(),
            first["agreement_period"].as_u64(),
            first["published"].as_str()
        ),
        (Some("A67373"), Some(1), Some("13375"))
    );
    assert!(
        first["computed"]
            .as_str()
            .is_some_and(|c| c.starts_with("1337"))
    );
}

/// PY2018: first agreements (2016-2018 starts) and 425.603(b) second agreements starting 2016 (with
/// their published prior-savings add-on) fit the national-trend model; 425.603(c) rebased
/// agreements (2017, 2018) are off by their unpublished regional trend and adjustment, whose sign
/// the residual mostly follows.
#[test]
fn py2018_by_agreement_period() {
    let r = report("mssp_puf_py2018.csv");
    assert_eq!((r.acos.len(), r.skipped.len()), (548, 0));
    for g in &r.groups {
        match (g.model, g.fitted.acos) {
            (_, 0) => assert_eq!(
                g.start_year, 2015,
                "only the 2 ACOs of 2015 have too few to fit"
            ),
            (Model::NationalTrend, n) => {
                assert!(
                    g.fitted.p95 < 0.06 && g.fitted.max < 0.07,
                    "{} {}: {:?}",
                    g.start_year,
                    g.rule_set,
                    g.fitted
                );
                assert!(
                    g.fitted.within * 10 >= n * 9,
                    "{} {}: {:?}",
                    g.start_year,
                    g.rule_set,
                    g.fitted
                );
                assert!(g.no_trend.p50 > 10.0 * g.fitted.p50);
            }
            (Model::RegionalNotPublished, n) => {
                assert!(
                    g.fitted.p50 > 0.5,
                    "the regional adjustment is not in the file: {:?}",
                    g.fitted
                );
                let agree: usize = g.regional_sign.iter().map(|s| s.2).sum();
                assert!(
                    agree * 10 >= n * 7,
                    "{} of {n} residuals follow PosRegAdj",
                    agree
                );
            }
        }
    }
    let rebased_2016 = r
        .groups
        .iter()
        .find(|g| g.rule_set == "mssp-2016-rebased")
        .expect("2016 rebased");
    assert_eq!(rebased_2016.fitted.acos, 107);
}
