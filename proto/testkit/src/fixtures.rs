//! CMS rows that the tests of several crates send.

use acorn_proto::{
    benchmark::v1::EnrollmentTypeAmount,
    common::v1::{Date, EnrollmentType},
    settlement::v1::{
        ExpenditureTotals, ExtremeUncontrollable, MinimumSavingsRateOption, Quality,
        ReconciliationInput, Track, extreme_uncontrollable::Reduction,
        reconciliation_input::Experience,
    },
};

/// CMS PUF PY2018 row A1215 (Track 3, losses reduced by the published DisAdj of 2,655).
pub fn a1215() -> ReconciliationInput {
    ReconciliationInput {
        aco_id: "A1215".into(),
        performance_year: 2018,
        agreement_start_date: Some(Date {
            year: 2016,
            month: 1,
            day: 1,
        }),
        track: Track::Track3.into(),
        assigned_beneficiaries: 72_033,
        experience: Some(Experience::Totals(ExpenditureTotals {
            updated_benchmark: "797237607".into(),
            expenditures: "812497275".into(),
        })),
        quality: Some(Quality {
            standard: 0,
            score: "0.8884".into(),
        }),
        msr_option: MinimumSavingsRateOption::Fixed05.into(),
        extreme_uncontrollable: Some(ExtremeUncontrollable {
            reduction: Some(Reduction::Amount("2655".into())),
        }),
        ..Default::default()
    }
}

/// One amount per enrollment type, `values` in [`EnrollmentType::ALL`] order (e.g. a trend
/// factor).
pub fn amounts(values: [&str; 4]) -> Vec<EnrollmentTypeAmount> {
    EnrollmentType::ALL
        .iter()
        .zip(values)
        .map(|(t, v)| EnrollmentTypeAmount {
            enrollment_type: (*t).into(),
            amount: v.into(),
        })
        .collect()
}
