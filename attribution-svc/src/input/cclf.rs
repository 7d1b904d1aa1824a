//! CMS Claim and Claim Line Feed files (read by `acorn_proto::cms::cclf`) mapped to assignment
//! records.
//!
//! - CCLF5 (Part B physicians): one professional line each: billing TIN `CLM_RNDRG_PRVDR_TAX_NUM`,
//!   specialty `CLM_PRVDR_SPCLTY_CD`, place of service, HCPCS, allowed `CLM_LINE_ALOWD_CHRG_AMT`,
//!   version `CLM_ADJSMT_TYPE_CD` of claim line `CUR_CLM_UNIQ_ID` + `CLM_LINE_NUM` (a cancellation
//!   or adjustment applies to its own claim line, [`attribution_rules::versions`]), date the line's
//!   from date (else the claim's). A 10-character TIN
//!   with a leading zero is read as its last 9 digits [I].
//! - CCLF1 + CCLF2 (Part A header + revenue center lines): the header's type of bill decides the
//!   claim type (77x FQHC, 71x RHC, 85x CAH, anything else not primary care) and its adjustment
//!   code the version; each revenue line brings its revenue center, HCPCS and date. The v36 CCLF2
//!   has no allowed amount: the line's paid amount `CLM_LINE_CVRD_PD_AMT` stands in for it [I], and
//!   no rendering specialty: so CAH Method II lines and pre-PY2019 FQHC/RHC lines (which need the
//!   practitioner's role) do not count from CCLF; PY2019+ FQHC/RHC lines do (every service counts).
//! - CCLF8 (demographics): enrollment over the window from the Part A and Part B start dates and the
//!   date of death (a month counts when both parts started by its last day and the beneficiary was
//!   alive on its first day); U.S. residence from the state code (FIPS 01-78) [I]. CCLF8 carries no
//!   Medicare Advantage or other-initiative months: they read as none [I].
//!
//! Malformed lines are rejected with file, line and reason (quoted values redacted), counted, and
//! reading goes on.

use std::{collections::HashMap, io::BufRead};

use acorn_proto::cms::cclf::{self, Adjustment, CclfRecord};
use rust_decimal::Decimal;

use super::csv::{Clinicians, Report};
use attribution_rules::input::{MAX_LINE_CENTS, RawBeneficiary, RawLine};
use attribution_rules::{ClaimType, Date, Enrollment, Version, Window};

/// A CCLF date as the engine takes it: in 1900-9999 ([`Date::YEARS`]).
fn day(d: Date) -> Option<Date> {
    Some(d).filter(|d| Date::YEARS.contains(&d.year()))
}

/// An exact CCLF amount as cents, at most $10 billion ([`MAX_LINE_CENTS`]).
fn cents(d: Decimal) -> Option<i64> {
    acorn_domain::money::to_cents(d, MAX_LINE_CENTS.unsigned_abs())
}

fn version(a: Adjustment) -> Version {
    match a {
        Adjustment::Original => Version::Original,
        Adjustment::Cancellation => Version::Cancellation,
        Adjustment::Adjustment => Version::Adjustment,
    }
}

fn tin(t: &str) -> &str {
    if t.len() == 10 && t.starts_with('0') {
        &t[1..]
    } else {
        t
    }
}

fn each_record<R: BufRead, T: CclfRecord>(
    r: R,
    file: &str,
    report: &mut Report,
    mut f: impl FnMut(T) -> Result<(), String>,
) {
    let mut reader = cclf::read::<R, T>(r, file);
    while let Some(rec) = reader.next() {
        match rec {
            Ok(rec) => {
                let line = reader.lines_read() as u64;
                match f(rec) {
                    Ok(()) => report.records += 1,
                    Err(why) => report.reject(file, line, why),
                }
            }
            Err(e) => report.reject(&e.file, e.line as u64, e.reason),
        }
    }
}

/// [`each_record`] over a file of claim lines: `line` maps each record and counts in its second
/// argument the lines whose specialty came from the clinician table.
fn claim_lines<R: BufRead, T: CclfRecord>(
    r: R,
    file: &str,
    mut line: impl FnMut(T, &mut u64) -> Result<(), String>,
) -> Report {
    let mut report = Report::default();
    let mut resolved = 0;
    each_record(r, file, &mut report, |rec| line(rec, &mut resolved));
    report.specialties_resolved += resolved;
    report
}

/// A claim line's date of service: `CLM_LINE_FROM_DT`, else the claim's `CLM_FROM_DT`.
fn line_day(line_from: Option<Date>, from: Date) -> Result<Date, String> {
    day(line_from.unwrap_or(from)).ok_or_else(|| "CLM_LINE_FROM_DT: not a date".into())
}

/// A claim line's `CLM_LINE_NUM`.
fn line_number(num: u64) -> Result<u32, String> {
    u32::try_from(num).map_err(|_| "CLM_LINE_NUM: out of range".to_string())
}

/// Reads CCLF5, calling `each` with every line.
pub fn read_cclf5<R: BufRead>(r: R, file: &str, each: impl FnMut(&RawLine<'_>)) -> Report {
    read_cclf5_with(r, file, None, each)
}

/// [`read_cclf5`], a line without `CLM_PRVDR_SPCLTY_CD` taking its rendering NPI's specialty from
/// `clinicians`.
pub fn read_cclf5_with<R: BufRead>(
    r: R,
    file: &str,
    clinicians: Option<&Clinicians>,
    mut each: impl FnMut(&RawLine<'_>),
) -> Report {
    claim_lines(r, file, |l: cclf::Cclf5Line, resolved| {
        let day = line_day(l.line_from, l.from)?;
        let allowed =
            cents(l.allowed).ok_or("CLM_LINE_ALOWD_CHRG_AMT: not a whole number of cents")?;
        let t = l.tin.as_deref().unwrap_or("");
        if t.is_empty() {
            return Err("CLM_RNDRG_PRVDR_TAX_NUM: is required".into());
        }
        let line_number = line_number(l.line_num)?;
        each(&RawLine {
            beneficiary_id: l.bene.id(),
            day,
            hcpcs: l.hcpcs.as_deref().unwrap_or(""),
            revenue_center: "",
            place_of_service: l.place_of_service.as_deref().unwrap_or(""),
            claim_type: ClaimType::Professional,
            tin: tin(t),
            ccn: "",
            specialty: match clinicians {
                Some(c) => c.specialty(
                    l.specialty.as_deref().unwrap_or(""),
                    l.rendering_npi.as_deref().unwrap_or(""),
                    resolved,
                ),
                None => l.specialty.as_deref().unwrap_or(""),
            },
            allowed_cents: allowed,
            version: version(l.adjustment),
            claim_id: &l.claim_id,
            line_number,
        });
        Ok(())
    })
}

/// What a CCLF2 line needs from its CCLF1 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Claim type from the type of bill.
    pub claim_type: ClaimType,
    /// Version.
    pub version: Version,
    /// CCN.
    pub ccn: String,
    /// The claim's clinician: `ATNDG_PRVDR_NPI_NUM`, else `OPRTG_PRVDR_NPI_NUM` (CCLF2 lines carry
    /// none) [I].
    pub npi: String,
}

/// Reads CCLF1 headers of FQHC, RHC and CAH claims (others are not primary care), by claim id.
pub fn read_cclf1<R: BufRead>(r: R, file: &str) -> (HashMap<String, Header>, Report) {
    let mut headers = HashMap::new();
    let mut report = Report::default();
    each_record(r, file, &mut report, |h: cclf::Cclf1Header| {
        let claim_type = match h.bill_type().as_deref() {
            Some("77") => ClaimType::Fqhc,
            Some("71") => ClaimType::Rhc,
            Some("85") => ClaimType::CahMethodII,
            _ => return Ok(()),
        };
        let ccn = h
            .ccn
            .clone()
            .ok_or("PRVDR_OSCAR_NUM: is required on an FQHC, RHC or CAH claim")?;
        headers.insert(
            h.claim_id.clone(),
            Header {
                claim_type,
                version: version(h.adjustment),
                ccn,
                npi: h
                    .attending_npi
                    .clone()
                    .or_else(|| h.operating_npi.clone())
                    .unwrap_or_default(),
            },
        );
        Ok(())
    });
    (headers, report)
}

/// Reads CCLF2, calling `each` with every revenue line of a claim in `headers`; lines of other
/// claims (hospital, SNF, ...) are skipped, not rejected.
pub fn read_cclf2<R: BufRead>(
    r: R,
    file: &str,
    headers: &HashMap<String, Header>,
    each: impl FnMut(&RawLine<'_>),
) -> Report {
    read_cclf2_with(r, file, headers, None, each)
}

/// [`read_cclf2`], each line taking its claim clinician's specialty ([`Header::npi`]) from
/// `clinicians`: with it CAH Method II and pre-PY2019 FQHC/RHC lines can count from CCLF.
pub fn read_cclf2_with<R: BufRead>(
    r: R,
    file: &str,
    headers: &HashMap<String, Header>,
    clinicians: Option<&Clinicians>,
    mut each: impl FnMut(&RawLine<'_>),
) -> Report {
    claim_lines(r, file, |l: cclf::Cclf2RevenueLine, resolved| {
        let Some(h) = headers.get(&l.claim_id) else {
            return Ok(());
        };
        let day = line_day(l.line_from, l.from)?;
        let amount = cents(l.paid).ok_or("CLM_LINE_CVRD_PD_AMT: not a whole number of cents")?;
        let line_number = line_number(l.line_num)?;
        each(&RawLine {
            beneficiary_id: l.bene.id(),
            day,
            hcpcs: l.hcpcs.as_deref().unwrap_or(""),
            revenue_center: &l.revenue_center,
            place_of_service: "",
            claim_type: h.claim_type,
            tin: "",
            ccn: l.ccn.as_deref().unwrap_or(&h.ccn),
            specialty: match clinicians {
                Some(c) => c.specialty("", &h.npi, resolved),
                None => "",
            },
            allowed_cents: amount,
            version: h.version,
            claim_id: &l.claim_id,
            line_number,
        });
        Ok(())
    })
}

/// Months of the window covered by both parts, by one part only (see the module notes).
pub fn enrollment_months(
    window: &Window,
    part_a: Option<Date>,
    part_b: Option<Date>,
    death: Option<Date>,
) -> (u32, u32) {
    let (both, a_only, b_only) = enrollment_by_part(window, part_a, part_b, death);
    (both, a_only + b_only)
}

/// Months of the window covered by both parts, by Part A only, by Part B only.
pub fn enrollment_by_part(
    window: &Window,
    part_a: Option<Date>,
    part_b: Option<Date>,
    death: Option<Date>,
) -> (u32, u32, u32) {
    let (mut both, mut a_only, mut b_only) = (0, 0, 0);
    let (y0, m0, _) = window.start.ymd();
    for k in 0..12u32 {
        let m = (m0 - 1 + k) % 12 + 1;
        let y = y0 + ((m0 - 1 + k) / 12) as i32;
        let (Some(first), Some(last)) = (
            Date::new(y, m, 1),
            Date::new(if m == 12 { y + 1 } else { y }, m % 12 + 1, 1).and_then(|d| d.add_days(-1)),
        ) else {
            continue;
        };
        if death.is_some_and(|d| d < first) {
            continue;
        }
        let a = part_a.is_some_and(|s| s <= last);
        let b = part_b.is_some_and(|s| s <= last);
        match (a, b) {
            (true, true) => both += 1,
            (true, false) => a_only += 1,
            (false, true) => b_only += 1,
            _ => {}
        }
    }
    (both, a_only, b_only)
}

/// Reads CCLF8, calling `each` with every beneficiary's enrollment over `window`.
pub fn read_cclf8<R: BufRead>(
    r: R,
    file: &str,
    window: &Window,
    mut each: impl FnMut(&RawBeneficiary<'_>),
) -> Report {
    let mut report = Report::default();
    each_record(r, file, &mut report, |b: cclf::Cclf8Beneficiary| {
        let (both, a_only, b_only) = enrollment_by_part(
            window,
            b.part_a_start.and_then(day),
            b.part_b_start.and_then(day),
            b.death.and_then(day),
        );
        let us_resident = match b.fips_state.as_deref().map(str::parse::<u32>) {
            Some(Ok(code)) => (1..=78).contains(&code),
            Some(Err(_)) => false,
            None => true,
        };
        each(&RawBeneficiary {
            id: b.bene.id(),
            enrollment: Enrollment {
                months_a_and_b: both,
                months_a_or_b_only: 0,
                months_a_only: a_only,
                months_b_only: b_only,
                months_group_health_plan: 0,
                us_resident,
                other_initiative: false,
            },
            ..RawBeneficiary::default()
        });
        Ok(())
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use attribution_rules::WindowKind;

    /// Part B from 2024-04-15 and death 2024-10-03: Jan-Mar Part A only (3), Apr-Oct both (7).
    #[test]
    fn enrollment_months_over_the_window() {
        let w = Window::new(2024, WindowKind::Retrospective).expect("window");
        let d = |y, m, dd| Date::new(y, m, dd);
        assert_eq!(
            enrollment_months(&w, d(2010, 1, 1), d(2010, 1, 1), None),
            (12, 0)
        );
        assert_eq!(
            enrollment_months(&w, d(2010, 1, 1), d(2024, 4, 15), d(2024, 10, 3)),
            (7, 3)
        );
        // The same months by part: January to March had Part A only.
        assert_eq!(
            enrollment_by_part(&w, d(2010, 1, 1), d(2024, 4, 15), d(2024, 10, 3)),
            (7, 3, 0)
        );
        assert_eq!(
            enrollment_by_part(&w, d(2024, 6, 1), d(2010, 1, 1), None),
            (7, 0, 5)
        );
        assert_eq!(enrollment_months(&w, None, None, None), (0, 0));
        assert_eq!(
            enrollment_months(&w, d(2010, 1, 1), d(2010, 1, 1), d(2023, 5, 1)),
            (0, 0)
        );
    }

    #[test]
    fn amounts_become_exact_cents() {
        assert_eq!(cents(Decimal::new(12_345, 2)), Some(12_345));
        assert_eq!(cents(Decimal::new(-5, 0)), Some(-500));
        assert_eq!(cents(Decimal::new(1_234, 3)), None);
        assert_eq!(tin("0123456789"), "123456789");
        assert_eq!(tin("123456789"), "123456789");
    }

    #[test]
    fn random_bytes_never_panic() {
        let w = Window::new(2024, WindowKind::Retrospective).expect("window");
        let alphabet = b" 0123456789-.AZ\n~\xff\r";
        for bytes in crate::input::random_inputs(0xDEAD_BEEF_CAFE_F00D, 300, 2_000, b"", alphabet) {
            let _ = read_cclf5(bytes.as_slice(), "f5", |_| {});
            let (h, _) = read_cclf1(bytes.as_slice(), "f1");
            let _ = read_cclf2(bytes.as_slice(), "f2", &h, |_| {});
            let _ = read_cclf8(bytes.as_slice(), "f8", &w, |_| {});
        }
    }
}
