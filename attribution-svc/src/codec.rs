//! What the store keeps: an upload batch (the upload message itself, [`encode_upload`]; batches
//! written before were kept aggregated, [`Batch`], and are still read) and one beneficiary's result
//! (a compact binary encoding). Little-endian, length prefixed, versioned by a leading tag;
//! decoding checks every length and returns an error (never panics) on damaged bytes.

use acorn_proto::attribution::v1 as pb;
use attribution_rules::input::RawBeneficiary;
use attribution_rules::run::LineStats;
use attribution_rules::{
    Assignment, Beneficiary, Bucket, ClaimKey, Competitor, Counted, Date, Designation, Enrollment,
    Entity, EntityKind, Ineligible, NO_DAY, Period, Reason, Skip, StepKind, Tally, Version,
    eligibility::NotInEffect,
};
use prost::Message as _;
use sha2::{Digest, Sha256};

/// Damaged bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stored data is damaged ({0})")]
pub struct Damaged(pub &'static str);

#[derive(Default)]
struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    /// A date as its day number; "no date" ([`NO_DAY`]) as `i32::MIN`, as it was stored when
    /// dates were bare day numbers.
    fn date(&mut self, d: Date) {
        self.i32(if d == NO_DAY {
            i32::MIN
        } else {
            d.day_number()
        });
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct R<'a>(&'a [u8]);

impl<'a> R<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Damaged> {
        if self.0.len() < n {
            return Err(Damaged("truncated"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Damaged> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Damaged> {
        Ok(self.arr::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, Damaged> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32, Damaged> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn i32(&mut self) -> Result<i32, Damaged> {
        Ok(i32::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64, Damaged> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    fn date(&mut self) -> Result<Date, Damaged> {
        match self.i32()? {
            i32::MIN => Ok(NO_DAY),
            n => Date::from_day_number(n).ok_or(Damaged("date")),
        }
    }
    fn u64(&mut self) -> Result<u64, Damaged> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn str(&mut self) -> Result<&'a str, Damaged> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).map_err(|_| Damaged("text"))
    }
    /// A count of items each at least `min` bytes long (bounds allocations by the input size).
    fn count(&mut self, min: usize) -> Result<usize, Damaged> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.0.len() {
            return Err(Damaged("count"));
        }
        Ok(n)
    }
}

/// An entity as stored: ACOs by index, others by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Named {
    /// ACO index.
    Aco(u32),
    /// Unaffiliated TIN.
    Tin(String),
    /// Unaffiliated CCN.
    Ccn(String),
}

fn put_named(w: &mut W, n: &Named) {
    match n {
        Named::Aco(i) => {
            w.u8(0);
            w.u32(*i);
        }
        Named::Tin(s) => {
            w.u8(1);
            w.str(s);
        }
        Named::Ccn(s) => {
            w.u8(2);
            w.str(s);
        }
    }
}

fn get_named(r: &mut R<'_>) -> Result<Named, Damaged> {
    Ok(match r.u8()? {
        0 => Named::Aco(r.u32()?),
        1 => Named::Tin(r.str()?.to_string()),
        2 => Named::Ccn(r.str()?.to_string()),
        _ => return Err(Damaged("entity")),
    })
}

/// A beneficiary record as stored in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoredBeneficiary {
    /// Id.
    pub id: String,
    /// Enrollment.
    pub enrollment: Enrollment,
    /// Designated NPI.
    pub designated_npi: String,
    /// Designated TIN.
    pub designated_tin: String,
    /// Designated specialty.
    pub designated_specialty: String,
    /// Prior-year ACO id.
    pub prior_year_aco_id: String,
}

impl StoredBeneficiary {
    /// As a borrowed record.
    pub fn raw(&self) -> RawBeneficiary<'_> {
        RawBeneficiary {
            id: &self.id,
            enrollment: self.enrollment,
            designated_npi: &self.designated_npi,
            designated_tin: &self.designated_tin,
            designated_specialty: &self.designated_specialty,
            prior_year_aco_id: &self.prior_year_aco_id,
        }
    }
}

/// One version of a claim line with a claim id, as stored in a batch: it cannot be aggregated
/// before every batch is in, since its cancellation or adjustment may come later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    /// Beneficiary id.
    pub beneficiary_id: String,
    /// The claim line.
    pub key: ClaimKey,
    /// The version.
    pub version: Version,
    /// The line classified as its claim line's current version (entity by name).
    pub outcome: Result<(Named, Counted), Skip>,
}

/// One upload batch, aggregated: records, partial tallies of lines without a claim id keyed by
/// beneficiary, the versions of lines with a claim id, and counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    /// Beneficiary records.
    pub beneficiaries: Vec<StoredBeneficiary>,
    /// (beneficiary id, entity, tally) with the tally's own entity ignored.
    pub tallies: Vec<(String, Named, Tally)>,
    /// Claim-line versions (lines with a claim id).
    pub versions: Vec<StoredVersion>,
    /// Line counters.
    pub stats: LineStats,
}

fn version_code(v: Version) -> u8 {
    match v {
        Version::Original => 0,
        Version::Cancellation => 1,
        Version::Adjustment => 2,
    }
}

fn put_version(w: &mut W, v: &StoredVersion) {
    w.str(&v.beneficiary_id);
    w.u64(v.key.claim);
    w.u32(v.key.line);
    w.u8(version_code(v.version));
    match &v.outcome {
        Err(s) => {
            w.u8(0);
            w.u8(s.index() as u8);
        }
        Ok((named, c)) => {
            w.u8(1);
            put_named(w, named);
            w.u8(u8::from(c.period == Period::Window)
                | u8::from(c.bucket == Bucket::Step2) << 1
                | u8::from(c.physician) << 2
                | u8::from(c.npp) << 3);
            w.i32(c.sign);
            w.i64(c.cents);
            w.date(c.day);
        }
    }
}

fn get_version(r: &mut R<'_>) -> Result<StoredVersion, Damaged> {
    let beneficiary_id = r.str()?.to_string();
    let key = ClaimKey {
        claim: r.u64()?,
        line: r.u32()?,
    };
    let version = match r.u8()? {
        0 => Version::Original,
        1 => Version::Cancellation,
        2 => Version::Adjustment,
        _ => return Err(Damaged("version")),
    };
    let outcome = match r.u8()? {
        0 => Err(*Skip::ALL.get(usize::from(r.u8()?)).ok_or(Damaged("skip"))?),
        1 => {
            let named = get_named(r)?;
            let f = r.u8()?;
            let c = Counted {
                entity: Entity::default(),
                period: if f & 1 != 0 {
                    Period::Window
                } else {
                    Period::Lookback
                },
                bucket: if f & 2 != 0 {
                    Bucket::Step2
                } else {
                    Bucket::Step1
                },
                physician: f & 4 != 0,
                npp: f & 8 != 0,
                sign: r.i32()?,
                cents: r.i64()?,
                day: r.date()?,
            };
            Ok((named, c))
        }
        _ => return Err(Damaged("outcome")),
    };
    Ok(StoredVersion {
        beneficiary_id,
        key,
        version,
        outcome,
    })
}

/// Batch layouts: `0xB1` (enrollment without the Part A-only / Part B-only split), `0xB2` (no
/// claim-line versions), both still read, and `0xB3` (the current one).
const BATCH_TAG_V1: u8 = 0xB1;
const BATCH_TAG_V2: u8 = 0xB2;
const BATCH_TAG: u8 = 0xB3;
/// Batch layouts of a validated upload message: `0xC1`, its protobuf encoding after the tag;
/// `0xC2`, that encoding's length (u32) and the encoding compressed as one LZ4 block (about a
/// third of the size on claim lines: the disk writes it twice, WAL and database file).
const UPLOAD_TAG: u8 = 0xC1;
const UPLOAD_LZ4_TAG: u8 = 0xC2;

/// A stored upload batch.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredBatch {
    /// The upload message, as validated when it was received (layouts `0xC1`, `0xC2`): finalize
    /// classifies its lines.
    Upload(Box<pb::UploadAssignmentDataRequest>),
    /// The message aggregated at upload (layouts `0xB1`-`0xB3`, written by earlier releases).
    Aggregated(Batch),
}

/// The stored form of a validated upload message (one blob: no per-line work) and its
/// idempotency fingerprint: SHA-256 of its whole protobuf encoding (every field of every record
/// in either form, in field-number order with defaults omitted: deterministic, and the same on
/// every Rust and prost release). The fingerprint is compared only with batches of the same run
/// and `request_id`, so including those two changes nothing.
pub fn encode_upload(msg: &pb::UploadAssignmentDataRequest) -> (Vec<u8>, Vec<u8>) {
    let encoded = msg.encode_to_vec();
    let fingerprint = Sha256::digest(&encoded).to_vec();
    let body = match u32::try_from(encoded.len()) {
        Ok(len) => {
            let mut body = vec![0u8; 5 + lz4_flex::block::get_maximum_output_size(encoded.len())];
            body[0] = UPLOAD_LZ4_TAG;
            body[1..5].copy_from_slice(&len.to_le_bytes());
            match lz4_flex::block::compress_into(&encoded, &mut body[5..]) {
                Ok(n) => {
                    body.truncate(5 + n);
                    Some(body)
                }
                Err(_) => None,
            }
        }
        Err(_) => None,
    };
    let body = body.unwrap_or_else(|| {
        let mut plain = Vec::with_capacity(1 + encoded.len());
        plain.push(UPLOAD_TAG);
        plain.extend_from_slice(&encoded);
        plain
    });
    (body, fingerprint)
}

/// Decodes a stored batch of any layout.
pub fn decode_batch(bytes: &[u8]) -> Result<StoredBatch, Damaged> {
    let message = |encoded: &[u8]| {
        pb::UploadAssignmentDataRequest::decode(encoded)
            .map(|m| StoredBatch::Upload(Box::new(m)))
            .map_err(|_| Damaged("upload message"))
    };
    match bytes.split_first() {
        Some((&UPLOAD_TAG, encoded)) => message(encoded),
        Some((&UPLOAD_LZ4_TAG, rest)) => {
            let mut r = R(rest);
            let len = r.u32()? as usize;
            // An LZ4 block expands at most 255 times: a damaged length allocates no more.
            if len > r.0.len().saturating_mul(255) {
                return Err(Damaged("compressed length"));
            }
            let mut encoded = vec![0u8; len];
            match lz4_flex::block::decompress_into(r.0, &mut encoded) {
                Ok(n) if n == len => message(&encoded),
                _ => Err(Damaged("compressed batch")),
            }
        }
        _ => Batch::decode(bytes).map(StoredBatch::Aggregated),
    }
}

/// Result layouts: `0xA1` (no split, ACO indexes as i32; still read) and `0xA2` (ACO indexes as
/// i64).
const RESULT_TAG_V1: u8 = 0xA1;
const RESULT_TAG: u8 = 0xA2;

fn put_enrollment(w: &mut W, e: &Enrollment) {
    w.u32(e.months_a_and_b);
    w.u32(e.months_a_or_b_only);
    w.u32(e.months_group_health_plan);
    w.u8(u8::from(e.us_resident) | u8::from(e.other_initiative) << 1);
    w.u32(e.months_a_only);
    w.u32(e.months_b_only);
}

/// `split`: the layout carries the Part A-only and Part B-only months (tags `0xB2`, `0xA2`).
fn get_enrollment(r: &mut R<'_>, split: bool) -> Result<Enrollment, Damaged> {
    let (a, b, c) = (r.u32()?, r.u32()?, r.u32()?);
    let f = r.u8()?;
    let (a_only, b_only) = if split { (r.u32()?, r.u32()?) } else { (0, 0) };
    Ok(Enrollment {
        months_a_and_b: a,
        months_a_or_b_only: b,
        months_a_only: a_only,
        months_b_only: b_only,
        months_group_health_plan: c,
        us_resident: f & 1 != 0,
        other_initiative: f & 2 != 0,
    })
}

fn put_tally(w: &mut W, t: &Tally) {
    for v in [t.step1, t.step2, t.lookback] {
        w.i64(v);
    }
    for v in [
        t.n_step1,
        t.n_physician,
        t.n_npp,
        t.n_lookback_physician,
        t.n_lookback,
    ] {
        w.i32(v);
    }
    for d in [t.last_step1, t.last_step2, t.last_lookback] {
        w.date(d);
    }
}

fn get_tally(r: &mut R<'_>) -> Result<Tally, Damaged> {
    let mut t = Tally::new(Entity::default());
    t.step1 = r.i64()?;
    t.step2 = r.i64()?;
    t.lookback = r.i64()?;
    t.n_step1 = r.i32()?;
    t.n_physician = r.i32()?;
    t.n_npp = r.i32()?;
    t.n_lookback_physician = r.i32()?;
    t.n_lookback = r.i32()?;
    t.last_step1 = r.date()?;
    t.last_step2 = r.date()?;
    t.last_lookback = r.date()?;
    Ok(t)
}

impl Batch {
    /// Encodes the batch.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = W::default();
        w.u8(BATCH_TAG);
        w.u32(self.beneficiaries.len() as u32);
        for b in &self.beneficiaries {
            w.str(&b.id);
            put_enrollment(&mut w, &b.enrollment);
            w.str(&b.designated_npi);
            w.str(&b.designated_tin);
            w.str(&b.designated_specialty);
            w.str(&b.prior_year_aco_id);
        }
        w.u32(self.tallies.len() as u32);
        for (bene, named, t) in &self.tallies {
            w.str(bene);
            put_named(&mut w, named);
            put_tally(&mut w, t);
        }
        w.u64(self.stats.lines);
        w.u64(self.stats.counted);
        for s in self.stats.skipped {
            w.u64(s);
        }
        w.u32(self.versions.len() as u32);
        for v in &self.versions {
            put_version(&mut w, v);
        }
        w.0
    }

    /// Decodes a batch.
    pub fn decode(bytes: &[u8]) -> Result<Batch, Damaged> {
        let mut r = R(bytes);
        let (split, versions) = match r.u8()? {
            BATCH_TAG => (true, true),
            BATCH_TAG_V2 => (true, false),
            BATCH_TAG_V1 => (false, false),
            _ => return Err(Damaged("batch tag")),
        };
        let mut b = Batch::default();
        for _ in 0..r.count(33)? {
            let id = r.str()?.to_string();
            let enrollment = get_enrollment(&mut r, split)?;
            b.beneficiaries.push(StoredBeneficiary {
                id,
                enrollment,
                designated_npi: r.str()?.to_string(),
                designated_tin: r.str()?.to_string(),
                designated_specialty: r.str()?.to_string(),
                prior_year_aco_id: r.str()?.to_string(),
            });
        }
        for _ in 0..r.count(65)? {
            let bene = r.str()?.to_string();
            let named = get_named(&mut r)?;
            let t = get_tally(&mut r)?;
            b.tallies.push((bene, named, t));
        }
        b.stats.lines = r.u64()?;
        b.stats.counted = r.u64()?;
        for s in &mut b.stats.skipped {
            *s = r.u64()?;
        }
        if versions {
            for _ in 0..r.count(23)? {
                b.versions.push(get_version(&mut r)?);
            }
        }
        if !r.0.is_empty() {
            return Err(Damaged("trailing bytes"));
        }
        Ok(b)
    }
}

/// A stored result: the assignment and the facts its explanation needs, entities by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    /// The assignment, with TIN/CCN entities numbered by their index in `names`.
    pub assignment: Assignment,
    /// The beneficiary facts.
    pub beneficiary: Beneficiary,
    /// Entity names for `Entity::tin(k)` / `Entity::ccn(k)`: `k` indexes this list.
    pub names: Vec<Named>,
}

fn step_code(s: Option<StepKind>) -> u8 {
    match s {
        None => 0,
        Some(StepKind::VoluntaryAlignment) => 1,
        Some(StepKind::Step1) => 2,
        Some(StepKind::Step2) => 3,
        Some(StepKind::Step3) => 4,
    }
}

/// Stored screen codes: the first five are those of the `0xA1` layout.
const INELIGIBLE: [Ineligible; 7] = [
    Ineligible::NoPartAAndB,
    Ineligible::PartAOrBOnly,
    Ineligible::GroupHealthPlan,
    Ineligible::OtherInitiative,
    Ineligible::NotUsResident,
    Ineligible::PartAOnly,
    Ineligible::PartBOnly,
];

fn ineligible_code(i: Ineligible) -> u8 {
    INELIGIBLE.iter().position(|x| *x == i).unwrap_or(0) as u8
}

fn reason_code(r: Reason) -> (u8, u8) {
    match r {
        Reason::Assigned => (0, 0),
        Reason::AssignedByTieBreak => (1, 0),
        Reason::Designated => (2, 0),
        Reason::NoEnrollmentRecord => (3, 0),
        Reason::Ineligible(i) => (4, ineligible_code(i)),
        Reason::DesignatedOutside => (5, 0),
        Reason::NoPrimaryCare => (6, 0),
        Reason::NoAcoPhysicianService => (7, 0),
        Reason::NotPlurality => (8, 0),
        Reason::Tie => (9, 0),
    }
}

fn reason_from(code: u8, detail: u8) -> Result<Reason, Damaged> {
    Ok(match code {
        0 => Reason::Assigned,
        1 => Reason::AssignedByTieBreak,
        2 => Reason::Designated,
        3 => Reason::NoEnrollmentRecord,
        4 => Reason::Ineligible(
            *INELIGIBLE
                .get(usize::from(detail))
                .ok_or(Damaged("ineligible"))?,
        ),
        5 => Reason::DesignatedOutside,
        6 => Reason::NoPrimaryCare,
        7 => Reason::NoAcoPhysicianService,
        8 => Reason::NotPlurality,
        9 => Reason::Tie,
        _ => return Err(Damaged("reason")),
    })
}

const NOT_IN_EFFECT: [NotInEffect; 4] = [
    NotInEffect::BeforePy2018,
    NotInEffect::Ambiguous,
    NotInEffect::Py2018Designee,
    NotInEffect::Py2018NoService,
];

/// Encodes one result; `named` turns an engine entity into its stored form.
pub fn encode_result(a: &Assignment, b: &Beneficiary, named: impl Fn(Entity) -> Named) -> Vec<u8> {
    let mut w = W::default();
    w.u8(RESULT_TAG);
    // ACO indexes as i64 (-1 = none): every u32 index round-trips.
    w.i64(a.aco.map_or(-1, i64::from));
    w.u8(step_code(a.step));
    let (rc, rd) = reason_code(a.reason);
    w.u8(rc);
    w.u8(rd);
    w.u8(u8::from(a.continuous));
    w.u8(a
        .designation_not_in_effect
        .and_then(|n| NOT_IN_EFFECT.iter().position(|x| *x == n))
        .map_or(0, |i| i as u8 + 1));
    match a.winner {
        Some(e) => {
            w.u8(1);
            put_named(&mut w, &named(e));
        }
        None => w.u8(0),
    }
    w.u32(a.competing.len() as u32);
    for c in &a.competing {
        put_named(&mut w, &named(c.entity));
        w.i64(c.cents);
        w.date(c.last.unwrap_or(NO_DAY));
    }
    match b.enrollment {
        Some(e) => {
            w.u8(1);
            put_enrollment(&mut w, &e);
        }
        None => w.u8(0),
    }
    match b.designation {
        Designation::None => w.u8(0),
        Designation::Aco(i) => {
            w.u8(1);
            w.u32(i);
        }
        Designation::Outside => w.u8(2),
        Designation::Ambiguous => w.u8(3),
    }
    w.u16(b.designated_specialty.unwrap_or(u16::MAX));
    w.i64(b.prior_aco.map_or(-1, i64::from));
    w.0
}

/// Decodes one result.
pub fn decode_result(bytes: &[u8]) -> Result<StoredResult, Damaged> {
    let mut r = R(bytes);
    let split = match r.u8()? {
        RESULT_TAG => true,
        RESULT_TAG_V1 => false,
        _ => return Err(Damaged("result tag")),
    };
    let mut names = Vec::new();
    let mut entity = |n: Named| -> Entity {
        match n {
            Named::Aco(i) => Entity::aco(i),
            other => {
                let k = names.len() as u32;
                let e = if matches!(other, Named::Tin(_)) {
                    Entity::tin(k)
                } else {
                    Entity::ccn(k)
                };
                names.push(other);
                e
            }
        }
    };
    // The 0xA1 layout kept ACO indexes as i32.
    let index = |r: &mut R<'_>| -> Result<i64, Damaged> {
        if split {
            r.i64()
        } else {
            r.i32().map(i64::from)
        }
    };
    let aco = index(&mut r)?;
    let step = match r.u8()? {
        0 => None,
        1 => Some(StepKind::VoluntaryAlignment),
        2 => Some(StepKind::Step1),
        3 => Some(StepKind::Step2),
        4 => Some(StepKind::Step3),
        _ => return Err(Damaged("step")),
    };
    let (rc, rd) = (r.u8()?, r.u8()?);
    let reason = reason_from(rc, rd)?;
    let continuous = r.u8()? != 0;
    let designation_not_in_effect = match r.u8()? {
        0 => None,
        n => Some(
            *NOT_IN_EFFECT
                .get(usize::from(n - 1))
                .ok_or(Damaged("designation"))?,
        ),
    };
    let winner = match r.u8()? {
        0 => None,
        _ => Some(entity(get_named(&mut r)?)),
    };
    let mut competing = Vec::new();
    for _ in 0..r.count(17)? {
        let e = entity(get_named(&mut r)?);
        let cents = r.i64()?;
        let last = r.date()?;
        competing.push(Competitor {
            entity: e,
            cents,
            last: (last != NO_DAY).then_some(last),
        });
    }
    let enrollment = match r.u8()? {
        0 => None,
        _ => Some(get_enrollment(&mut r, split)?),
    };
    let designation = match r.u8()? {
        0 => Designation::None,
        1 => Designation::Aco(r.u32()?),
        2 => Designation::Outside,
        3 => Designation::Ambiguous,
        _ => return Err(Damaged("designation")),
    };
    let spec = r.u16()?;
    let prior = index(&mut r)?;
    if !r.0.is_empty() {
        return Err(Damaged("trailing bytes"));
    }
    Ok(StoredResult {
        assignment: Assignment {
            aco: u32::try_from(aco).ok(),
            step,
            reason,
            winner,
            competing,
            continuous,
            designation_not_in_effect,
        },
        beneficiary: Beneficiary {
            enrollment,
            designation,
            designated_specialty: (spec != u16::MAX).then_some(spec),
            prior_aco: u32::try_from(prior).ok(),
        },
        names,
    })
}

/// The stored form of an entity, given the registry that interned it.
pub fn named(reg: &attribution_rules::Registry, e: Entity) -> Named {
    let full = reg.entity_name(e);
    match e.kind() {
        EntityKind::Aco(i) => Named::Aco(i),
        EntityKind::Tin(_) => Named::Tin(full.trim_start_matches("tin:").to_string()),
        EntityKind::Ccn(_) => Named::Ccn(full.trim_start_matches("ccn:").to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_batches_round_trip_compressed_and_damage_is_an_error() {
        let lines: Vec<pb::ClaimLine> = (0..500)
            .map(|i| pb::ClaimLine {
                claim_id: format!("{}", 1_000_000_000_000u64 + i / 3),
                line_number: (i % 3) as u32 + 1,
                beneficiary_id: format!("1EG4TE5MK{:02}", i / 13),
                service_date: Some(acorn_proto::common::v1::Date {
                    year: 2024,
                    month: 3,
                    day: 1 + (i % 28) as i32,
                }),
                hcpcs: "99213".into(),
                tin: "123456789".into(),
                allowed: format!("{}.{:02}", 50 + i % 90, i % 100),
                ..Default::default()
            })
            .collect();
        let msg = pb::UploadAssignmentDataRequest {
            request_id: "r-1".into(),
            run_id: "run".into(),
            beneficiaries: vec![],
            claim_lines: vec![],
            claim_columns: Some(crate::upload::to_columns(&lines)),
        };
        let (body, fingerprint) = encode_upload(&msg);
        assert_eq!(body[0], UPLOAD_LZ4_TAG);
        let plain = msg.encode_to_vec();
        assert!(
            body.len() * 2 < plain.len(),
            "{} of {}",
            body.len(),
            plain.len()
        );
        assert_eq!(fingerprint, Sha256::digest(&plain).to_vec());
        assert_eq!(
            decode_batch(&body),
            Ok(StoredBatch::Upload(Box::new(msg.clone())))
        );
        // The uncompressed layout is read too.
        let mut c1 = vec![UPLOAD_TAG];
        c1.extend_from_slice(&plain);
        assert_eq!(
            decode_batch(&c1),
            Ok(StoredBatch::Upload(Box::new(msg.clone())))
        );
        // Every truncation, and every byte damaged in turn, is an error or a value, never a
        // panic (nor a huge allocation from a damaged length).
        for cut in 0..body.len() {
            assert_ne!(
                decode_batch(&body[..cut]),
                Ok(StoredBatch::Upload(Box::new(msg.clone())))
            );
            let mut d = body.clone();
            d[cut] ^= 0xA5;
            let _ = decode_batch(&d);
        }
    }

    #[test]
    fn batches_and_results_round_trip_and_damage_is_an_error() {
        let mut t = Tally::new(Entity::default());
        t.step1 = 12_345;
        t.n_step1 = 2;
        t.last_step1 = Date::from_day_number(19_800).expect("date");
        let batch = Batch {
            beneficiaries: vec![StoredBeneficiary {
                id: "1EG4TE5MK73".into(),
                enrollment: Enrollment {
                    months_a_and_b: 12,
                    us_resident: true,
                    ..Enrollment::default()
                },
                designated_tin: "123456789".into(),
                ..StoredBeneficiary::default()
            }],
            tallies: vec![
                ("1EG4TE5MK73".into(), Named::Aco(3), t),
                ("1EG4TE5MK73".into(), Named::Tin("987654321".into()), t),
            ],
            versions: vec![
                StoredVersion {
                    beneficiary_id: "1EG4TE5MK73".into(),
                    key: ClaimKey::new("1000000000001", 2),
                    version: Version::Adjustment,
                    outcome: Ok((
                        Named::Tin("987654321".into()),
                        Counted {
                            entity: Entity::default(),
                            period: Period::Window,
                            bucket: Bucket::Step2,
                            physician: true,
                            npp: false,
                            sign: 1,
                            cents: -12_345,
                            day: Date::from_day_number(19_801).expect("date"),
                        },
                    )),
                },
                StoredVersion {
                    beneficiary_id: "1EG4TE5MK73".into(),
                    key: ClaimKey::new("1000000000001", 3),
                    version: Version::Cancellation,
                    outcome: Err(Skip::SharedParticipant),
                },
            ],
            stats: LineStats {
                lines: 11,
                counted: 7,
                skipped: [1, 1, 0, 0, 0],
                ..LineStats::default()
            },
        };
        let bytes = batch.encode();
        assert_eq!(Batch::decode(&bytes), Ok(batch));
        let a = Assignment {
            aco: Some(3),
            step: Some(StepKind::Step1),
            reason: Reason::AssignedByTieBreak,
            winner: Some(Entity::aco(3)),
            competing: vec![
                Competitor {
                    entity: Entity::aco(3),
                    cents: 500,
                    last: Date::from_day_number(5),
                },
                Competitor {
                    entity: Entity::tin(77),
                    cents: 500,
                    last: None,
                },
            ],
            continuous: true,
            designation_not_in_effect: Some(NotInEffect::Ambiguous),
        };
        let b = Beneficiary {
            enrollment: Some(Enrollment::default()),
            designation: Designation::Aco(1),
            designated_specialty: Some(7),
            prior_aco: Some(2),
        };
        let enc = encode_result(&a, &b, |e| match e.kind() {
            EntityKind::Aco(i) => Named::Aco(i),
            _ => Named::Tin("987654321".into()),
        });
        let got = decode_result(&enc).expect("decodes");
        assert_eq!(got.names, vec![Named::Tin("987654321".into())]);
        assert_eq!(got.assignment.competing[1].entity, Entity::tin(0));
        assert_eq!(
            (got.assignment.aco, got.assignment.reason, got.beneficiary),
            (a.aco, a.reason, b)
        );
        // Every truncation and pseudo-random damage is an error or a value, never a panic.
        for cut in 0..bytes.len() {
            assert!(Batch::decode(&bytes[..cut]).is_err());
        }
        for cut in 0..enc.len() {
            assert!(decode_result(&enc[..cut]).is_err());
        }
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..5_000 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let mut d = bytes.clone();
            let i = (s as usize) % d.len();
            d[i] ^= (s >> 32) as u8 | 1;
            let _ = Batch::decode(&d);
            let mut e = enc.clone();
            let j = (s as usize) % e.len();
            e[j] ^= (s >> 40) as u8 | 1;
            let _ = decode_result(&e);
        }
    }
}
