//! The claim lines of an `UploadAssignmentData` message in either form, rows (`claim_lines`) or
//! columns (`claim_columns`), read as one borrowed view ([`LineIn`]) and validated by one function
//! ([`check`]): the two forms accept and reject exactly the same lines. Columns are read in place
//! (a text column's values are slices of the one `data` buffer received): no copy per line.
//! [`ColumnsBuilder`] is the client side (`simulator load --columnar`, tests).

use acorn_proto::{attribution::v1 as pb, common::v1 as common, fields::Violations};
use attribution_rules::{
    ClaimType, Date, Enrollment, Version,
    input::{MAX_LINE_CENTS, RawBeneficiary, RawLine, parse_cents},
};

/// One claim line's fields as an upload message gives them (either form); the date and amount
/// already read, or why they cannot be.
#[derive(Debug, Clone, Copy)]
pub struct LineIn<'a> {
    /// Claim identifier.
    pub claim_id: &'a str,
    /// Line number within the claim.
    pub line_number: u32,
    /// Beneficiary identifier.
    pub beneficiary_id: &'a str,
    /// Date of service, or why there is none.
    pub service_date: Result<Date, &'static str>,
    /// HCPCS/CPT code.
    pub hcpcs: &'a str,
    /// Revenue center code.
    pub revenue_center: &'a str,
    /// Place of service code.
    pub place_of_service: &'a str,
    /// Billing TIN.
    pub tin: &'a str,
    /// Facility CCN.
    pub ccn: &'a str,
    /// Rendering NPI.
    pub npi: &'a str,
    /// CMS specialty code.
    pub specialty: &'a str,
    /// Allowed charges in cents, or why there are none.
    pub allowed_cents: Result<i64, &'static str>,
    /// `ClaimAdjustment` number.
    pub adjustment: i32,
    /// `ClaimType` number.
    pub claim_type: i32,
}

impl<'a> LineIn<'a> {
    /// A line of the row form.
    pub fn row(l: &'a pb::ClaimLine) -> LineIn<'a> {
        LineIn {
            claim_id: &l.claim_id,
            line_number: l.line_number,
            beneficiary_id: &l.beneficiary_id,
            service_date: match &l.service_date {
                None => Err("is required"),
                Some(d) => d.to_domain().ok_or("must be a valid calendar date"),
            },
            hcpcs: &l.hcpcs,
            revenue_center: &l.revenue_center,
            place_of_service: &l.place_of_service,
            tin: &l.tin,
            ccn: &l.ccn,
            npi: &l.npi,
            specialty: &l.specialty,
            allowed_cents: if l.allowed.is_empty() {
                Err("is required")
            } else {
                parse_cents(&l.allowed)
            },
            adjustment: l.adjustment,
            claim_type: l.claim_type,
        }
    }
}

fn claim_type(t: pb::ClaimType) -> ClaimType {
    match t {
        pb::ClaimType::Unspecified | pb::ClaimType::Professional => ClaimType::Professional,
        pb::ClaimType::Fqhc => ClaimType::Fqhc,
        pb::ClaimType::Rhc => ClaimType::Rhc,
        pb::ClaimType::CahMethodIi => ClaimType::CahMethodII,
        pb::ClaimType::OtherInstitutional => ClaimType::OtherInstitutional,
    }
}

/// Whether a value holds a control character (NUL, newline, tab, DEL, C1 ...).
pub fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Validates one claim line without allocating unless something is wrong: the engine's line, or
/// (field, problem) pairs (field names, never values).
pub fn check<'a>(l: &LineIn<'a>) -> Result<RawLine<'a>, Vec<(&'static str, String)>> {
    let mut bad: Vec<(&'static str, String)> = Vec::new();
    let too_long = |value: &str, max: usize| value.len() > max && value.chars().count() > max;
    if l.beneficiary_id.is_empty() {
        bad.push(("beneficiary_id", "is required".into()));
    } else if too_long(l.beneficiary_id, 64) {
        bad.push(("beneficiary_id", "must be at most 64 characters".into()));
    } else if has_control(l.beneficiary_id) {
        bad.push((
            "beneficiary_id",
            "must not contain control characters".into(),
        ));
    }
    if let Err(why) = l.service_date {
        bad.push(("service_date", why.into()));
    }
    if let Err(why) = l.allowed_cents {
        bad.push(("allowed", why.into()));
    }
    let ct = pb::ClaimType::try_from(l.claim_type).ok().map(claim_type);
    if ct.is_none() {
        bad.push(("claim_type", format!("unknown enum value {}", l.claim_type)));
    }
    let version = match pb::ClaimAdjustment::try_from(l.adjustment) {
        Ok(pb::ClaimAdjustment::Unspecified) => Some(Version::Original),
        Ok(pb::ClaimAdjustment::Adjustment) => Some(Version::Adjustment),
        Ok(pb::ClaimAdjustment::Cancellation) => Some(Version::Cancellation),
        Err(_) => {
            bad.push(("adjustment", format!("unknown enum value {}", l.adjustment)));
            None
        }
    };
    for (name, value, max) in [
        ("claim_id", l.claim_id, 64),
        ("hcpcs", l.hcpcs, 16),
        ("revenue_center", l.revenue_center, 8),
        ("place_of_service", l.place_of_service, 4),
        ("tin", l.tin, 32),
        ("ccn", l.ccn, 32),
        ("npi", l.npi, 16),
        ("specialty", l.specialty, 4),
    ] {
        if too_long(value, max) {
            bad.push((name, format!("must be at most {max} characters")));
        } else if has_control(value) {
            bad.push((name, "must not contain control characters".into()));
        }
    }
    match ct {
        Some(ClaimType::Professional) if l.tin.is_empty() => {
            bad.push(("tin", "is required on a professional line".into()))
        }
        Some(ClaimType::Fqhc | ClaimType::Rhc | ClaimType::CahMethodII) if l.ccn.is_empty() => {
            bad.push(("ccn", "is required on an FQHC, RHC or CAH line".into()))
        }
        _ => {}
    }
    match (l.service_date, l.allowed_cents, ct, version) {
        (Ok(day), Ok(allowed_cents), Some(claim_type), Some(version)) if bad.is_empty() => {
            debug_assert!(allowed_cents.abs() <= MAX_LINE_CENTS);
            Ok(RawLine {
                beneficiary_id: l.beneficiary_id,
                day,
                hcpcs: l.hcpcs,
                revenue_center: l.revenue_center,
                place_of_service: l.place_of_service,
                claim_type,
                tin: l.tin,
                ccn: l.ccn,
                specialty: l.specialty,
                allowed_cents,
                version,
                claim_id: l.claim_id,
                line_number: l.line_number,
            })
        }
        _ => Err(bad),
    }
}

/// A text column checked once: UTF-8, `ends` non-decreasing and within `data`.
#[derive(Debug, Clone, Copy)]
struct Texts<'a> {
    data: &'a str,
    ends: &'a [u32],
}

impl<'a> Texts<'a> {
    /// Whether every value is printable ASCII (so none holds a control character and each one's
    /// length in bytes is its length in characters), at most `max` long and, when `required`, not
    /// empty. `false` may also mean "not ASCII": [`check`] then decides line by line.
    fn ascii_within(&self, max: u32, required: bool) -> bool {
        // No early exit: the compiler vectorises both folds.
        let printable = self
            .data
            .bytes()
            .fold(true, |ok, b| ok & (b.wrapping_sub(0x20) < 0x5f));
        let mut prev = 0u32;
        let lengths = self.ends.iter().fold(true, |ok, &e| {
            let len = e - prev;
            prev = e;
            ok & (len <= max) & (!required | (len > 0))
        });
        printable && lengths
    }

    /// Whether value `i` is empty.
    fn is_empty_at(&self, i: usize) -> bool {
        self.ends.is_empty() || self.ends[i] == if i == 0 { 0 } else { self.ends[i - 1] }
    }

    fn get(&self, i: usize) -> &'a str {
        if self.ends.is_empty() {
            return "";
        }
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        // Checked in `columns`: every end is a char boundary within data, in order.
        &self.data[start..self.ends[i] as usize]
    }
}

/// The columns of a `ClaimLineColumns`, their shapes checked ([`columns`]).
#[derive(Debug, Clone, Copy)]
pub struct Columns<'a> {
    c: &'a pb::ClaimLineColumns,
    claim_id: Texts<'a>,
    beneficiary_id: Texts<'a>,
    hcpcs: Texts<'a>,
    revenue_center: Texts<'a>,
    place_of_service: Texts<'a>,
    tin: Texts<'a>,
    ccn: Texts<'a>,
    npi: Texts<'a>,
    specialty: Texts<'a>,
}

const FIELD: &str = "claim_columns";

/// Whether a column of `got` values fits `count` lines (a violation if not).
fn sized(v: &mut Violations, name: &str, got: usize, count: usize, required: bool) -> bool {
    if got == count || (!required && got == 0) {
        return true;
    }
    v.add(
        format!("{FIELD}.{name}"),
        if required {
            format!("must hold count ({count}) values, not {got}")
        } else {
            format!("must hold count ({count}) values or none, not {got}")
        },
    );
    false
}

/// A text column's shape checked: its values, or `None` with a violation.
fn texts<'a>(
    v: &mut Violations,
    name: &str,
    col: &'a Option<pb::TextColumn>,
    count: usize,
    required: bool,
) -> Option<Texts<'a>> {
    let (data, ends): (&[u8], &[u32]) = col.as_ref().map_or((&[], &[]), |t| (&t.data, &t.ends));
    if !sized(v, &format!("{name}.ends"), ends.len(), count, required) {
        return None;
    }
    let Ok(data) = std::str::from_utf8(data) else {
        v.add(format!("{FIELD}.{name}.data"), "must be UTF-8");
        return None;
    };
    let mut prev = 0u32;
    let ordered = ends.iter().all(|&e| {
        let fine = e >= prev && data.is_char_boundary(e as usize);
        prev = e;
        fine
    });
    if !ordered
        || ends
            .last()
            .map_or(!data.is_empty(), |&e| e as usize != data.len())
    {
        v.add(
            format!("{FIELD}.{name}.ends"),
            "must be non-decreasing character boundaries ending at the length of data",
        );
        return None;
    }
    Some(Texts { data, ends })
}

/// Checks the shape of every column (each holds `count` values, or none where that is allowed;
/// text offsets in order and on character boundaries), adding a violation per bad column.
pub fn columns<'a>(c: &'a pb::ClaimLineColumns, v: &mut Violations) -> Option<Columns<'a>> {
    let n = c.count as usize;
    let sizes = [
        sized(v, "line_number", c.line_number.len(), n, false),
        sized(v, "service_date", c.service_date.len(), n, true),
        sized(v, "allowed_cents", c.allowed_cents.len(), n, true),
        sized(v, "adjustment", c.adjustment.len(), n, false),
        sized(v, "claim_type", c.claim_type.len(), n, false),
    ];
    let t = [
        texts(v, "claim_id", &c.claim_id, n, false),
        texts(v, "beneficiary_id", &c.beneficiary_id, n, true),
        texts(v, "hcpcs", &c.hcpcs, n, false),
        texts(v, "revenue_center", &c.revenue_center, n, false),
        texts(v, "place_of_service", &c.place_of_service, n, false),
        texts(v, "tin", &c.tin, n, false),
        texts(v, "ccn", &c.ccn, n, false),
        texts(v, "npi", &c.npi, n, false),
        texts(v, "specialty", &c.specialty, n, false),
    ];
    if !sizes.iter().all(|&ok| ok) {
        return None;
    }
    let [
        Some(claim_id),
        Some(beneficiary_id),
        Some(hcpcs),
        Some(revenue_center),
        Some(place_of_service),
        Some(tin),
        Some(ccn),
        Some(npi),
        Some(specialty),
    ] = t
    else {
        return None;
    };
    Some(Columns {
        c,
        claim_id,
        beneficiary_id,
        hcpcs,
        revenue_center,
        place_of_service,
        tin,
        ccn,
        npi,
        specialty,
    })
}

/// A date as the integer YYYYMMDD.
fn yyyymmdd(v: u32) -> Result<Date, &'static str> {
    if v == 0 {
        return Err("is required");
    }
    Date::new((v / 10_000) as i32, v / 100 % 100, v % 100)
        .ok_or("must be a valid calendar date as YYYYMMDD")
}

impl<'a> Columns<'a> {
    /// Number of lines.
    pub fn len(&self) -> usize {
        self.c.count as usize
    }

    /// Whether there are no lines.
    pub fn is_empty(&self) -> bool {
        self.c.count == 0
    }

    /// Whether every line passes [`check`], decided column by column without a per-line
    /// allocation or text decoding. `false` when a line does not, and also when this cannot tell
    /// (text that is not ASCII): the caller then runs [`check`] on each line for the violations.
    pub fn all_valid(&self) -> bool {
        let c = self.c;
        let texts = [
            (&self.claim_id, 64, false),
            (&self.beneficiary_id, 64, true),
            (&self.hcpcs, 16, false),
            (&self.revenue_center, 8, false),
            (&self.place_of_service, 4, false),
            (&self.tin, 32, false),
            (&self.ccn, 32, false),
            (&self.npi, 16, false),
            (&self.specialty, 4, false),
        ];
        if !texts
            .iter()
            .all(|(t, max, required)| t.ascii_within(*max, *required))
        {
            return false;
        }
        let cents = MAX_LINE_CENTS.unsigned_abs();
        let numbers = c.service_date.iter().all(|&d| yyyymmdd(d).is_ok())
            && c.allowed_cents.iter().all(|x| x.unsigned_abs() <= cents)
            && c.adjustment
                .iter()
                .all(|&a| pb::ClaimAdjustment::try_from(a).is_ok());
        if !numbers {
            return false;
        }
        // A professional line names its TIN; an FQHC, RHC or CAH line its CCN.
        let or0 = |v: &[i32], i: usize| v.get(i).copied().unwrap_or(0);
        (0..self.len()).all(|i| match pb::ClaimType::try_from(or0(&c.claim_type, i)) {
            Ok(pb::ClaimType::Unspecified | pb::ClaimType::Professional) => {
                !self.tin.is_empty_at(i)
            }
            Ok(pb::ClaimType::Fqhc | pb::ClaimType::Rhc | pb::ClaimType::CahMethodIi) => {
                !self.ccn.is_empty_at(i)
            }
            Ok(pb::ClaimType::OtherInstitutional) => true,
            Err(_) => false,
        })
    }

    /// Line `i` (< [`Columns::len`]).
    pub fn line(&self, i: usize) -> LineIn<'a> {
        let c = self.c;
        let or0 = |v: &[i32]| v.get(i).copied().unwrap_or(0);
        LineIn {
            claim_id: self.claim_id.get(i),
            line_number: c.line_number.get(i).copied().unwrap_or(0),
            beneficiary_id: self.beneficiary_id.get(i),
            service_date: yyyymmdd(c.service_date[i]),
            hcpcs: self.hcpcs.get(i),
            revenue_center: self.revenue_center.get(i),
            place_of_service: self.place_of_service.get(i),
            tin: self.tin.get(i),
            ccn: self.ccn.get(i),
            npi: self.npi.get(i),
            specialty: self.specialty.get(i),
            allowed_cents: match c.allowed_cents[i] {
                x if x.unsigned_abs() <= MAX_LINE_CENTS.unsigned_abs() => Ok(x),
                _ => Err("is out of range (at most 10000000000 dollars)"),
            },
            adjustment: or0(&c.adjustment),
            claim_type: or0(&c.claim_type),
        }
    }
}

/// Builds a `ClaimLineColumns` from row-form lines (the client side).
#[derive(Debug, Default)]
pub struct ColumnsBuilder {
    c: pb::ClaimLineColumns,
    texts: [(Vec<u8>, Vec<u32>); 9],
}

impl ColumnsBuilder {
    /// Appends a line. An amount that is not whole cents within range, or a missing date, is sent
    /// as its nearest columnar form (0 cents, date 0) and so rejected by the server as invalid.
    pub fn push(&mut self, l: &pb::ClaimLine) {
        let c = &mut self.c;
        c.count += 1;
        c.line_number.push(l.line_number);
        c.service_date
            .push(l.service_date.as_ref().map_or(0, date_number));
        c.allowed_cents
            .push(parse_cents(&l.allowed).unwrap_or(i64::MAX));
        c.adjustment.push(l.adjustment);
        c.claim_type.push(l.claim_type);
        for (t, v) in self.texts.iter_mut().zip([
            &l.claim_id,
            &l.beneficiary_id,
            &l.hcpcs,
            &l.revenue_center,
            &l.place_of_service,
            &l.tin,
            &l.ccn,
            &l.npi,
            &l.specialty,
        ]) {
            t.0.extend_from_slice(v.as_bytes());
            t.1.push(t.0.len() as u32);
        }
    }

    /// The columns.
    pub fn finish(self) -> pb::ClaimLineColumns {
        let mut c = self.c;
        let [a, b, h, r, p, t, n, i, s] = self.texts.map(|(data, ends)| {
            Some(pb::TextColumn {
                data: data.into(),
                ends,
            })
        });
        (
            c.claim_id,
            c.beneficiary_id,
            c.hcpcs,
            c.revenue_center,
            c.place_of_service,
            c.tin,
            c.ccn,
            c.npi,
            c.specialty,
        ) = (a, b, h, r, p, t, n, i, s);
        c
    }
}

/// The columnar date of a contract date: YYYYMMDD, or 0 (rejected) when it does not fit.
fn date_number(d: &common::Date) -> u32 {
    match (
        u32::try_from(d.year),
        u32::try_from(d.month),
        u32::try_from(d.day),
    ) {
        (Ok(y), Ok(m), Ok(day)) if y <= 9999 && m <= 99 && day <= 99 => y * 10_000 + m * 100 + day,
        _ => 0,
    }
}

/// The row-form lines as columns.
pub fn to_columns<'a>(lines: impl IntoIterator<Item = &'a pb::ClaimLine>) -> pb::ClaimLineColumns {
    let mut b = ColumnsBuilder::default();
    for l in lines {
        b.push(l);
    }
    b.finish()
}

/// A beneficiary record of an upload message, borrowed.
pub fn raw_beneficiary(b: &pb::Beneficiary) -> RawBeneficiary<'_> {
    RawBeneficiary {
        id: &b.beneficiary_id,
        enrollment: Enrollment {
            months_a_and_b: b.months_part_a_and_b,
            months_a_or_b_only: b.months_part_a_or_b_only,
            months_a_only: b.months_part_a_only,
            months_b_only: b.months_part_b_only,
            months_group_health_plan: b.months_group_health_plan,
            us_resident: b.us_resident,
            other_initiative: b.other_initiative,
        },
        designated_npi: &b.designated_npi,
        designated_tin: &b.designated_tin,
        designated_specialty: &b.designated_specialty,
        prior_year_aco_id: &b.prior_year_aco_id,
    }
}

/// Calls `each` with every claim line of a message (rows first, then columns), stopping at its
/// first error. Columns whose shape is wrong are an error (a stored message was validated).
pub fn each_line<'a, E>(
    msg: &'a pb::UploadAssignmentDataRequest,
    mut each: impl FnMut(LineIn<'a>) -> Result<(), E>,
    shape: impl FnOnce() -> E,
) -> Result<(), E> {
    for l in &msg.claim_lines {
        each(LineIn::row(l))?;
    }
    if let Some(c) = &msg.claim_columns {
        let mut v = Violations::default();
        let Some(cols) = columns(c, &mut v) else {
            return Err(shape());
        };
        for i in 0..cols.len() {
            each(cols.line(i))?;
        }
    }
    Ok(())
}
