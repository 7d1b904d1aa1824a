//! The assignment rule engine: a pure library (no I/O, no async), integer cents in the hot path.
//!
//! CMS assigns a Medicare fee-for-service beneficiary to the ACO whose professionals furnished the
//! plurality of the beneficiary's primary care services, measured in allowed charges (42 CFR
//! 425.400-425.404; mssp-rules.md section 2). The engine works in three stages:
//!
//! 1. [`RuleSet::classify`]: one claim line -> is it a primary care service this performance year
//!    ([`codes`]), who furnished it (PCP, NP/PA/CNS, step-2 specialist), which competing entity billed
//!    it (an ACO = the union of its participant TINs and CCNs; each unaffiliated TIN; each
//!    unaffiliated FQHC/RHC/CAH CCN), and whether it falls in the window or the 12-month lookback
//!    ([`window`]). Services billed through a TIN or CCN that participates in more than one ACO are
//!    dropped everywhere (425.400(a)(2)(iii)).
//! 2. [`versions`]: a line with a claim id is one version of its claim line (claim id + line
//!    number): versions are resolved per claim line before anything is tallied, so a cancelled
//!    service counts nowhere and an adjustment replaces its own original ([`tally_lines`] for one
//!    beneficiary's lines, [`crate::run::Run`] for lines in any order).
//!    [`Tally`]: per beneficiary and entity, allowed cents for step-1 and step-2 services, the
//!    lookback total, signed service counts and the latest service dates. A line without a claim
//!    id is tallied as it comes, a cancellation subtracting (summation).
//! 3. [`plurality::assign`]: eligibility screens ([`eligibility`]), voluntary alignment, the
//!    pre-screen, step 1, step 2, step 3 (PY2025+), the tie-break, and newly vs continuously
//!    assigned. [`explain::explain`] turns the result into cited steps.
//!
//! Money: allowed charges are integer cents (`i64`), exact; the edges parse decimal dollars with at
//! most two decimal places and never round. Sums saturate at `i64::MAX` (about 92 quadrillion
//! dollars), so no input can overflow.

pub mod codes;
pub mod eligibility;
pub mod explain;
pub mod input;
pub mod plurality;
pub mod run;
pub mod synthetic;
pub mod versions;
pub mod window;

#[cfg(test)]
mod tests;

/// Hash maps with a fast, fixed (unkeyed) hasher: the keys are identifiers interned per line in
/// the hot path, and no iteration order reaches an output.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
/// The set of [`FastMap`].
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

pub use codes::{CodeSet, Who};
pub use eligibility::{Beneficiary, Designation, Enrollment, Ineligible};
pub use explain::{Step, explain};
pub use plurality::{Assignment, Competitor, Reason, StepKind, TieBreak, assign};
pub use versions::{ClaimKey, Resolved, Versions};
pub use window::{Date, Period, Window, WindowKind};

/// First performance year with rules (MSSP began 2012-04-01).
pub const FIRST_YEAR: i32 = 2012;
/// Last performance year with rules: the PY2025 rules carried forward one year [I]; later years are
/// rejected until their code lists are added.
pub const LAST_YEAR: i32 = 2026;
/// Fewer assigned beneficiaries than this flags the ACO (SSA 1899(b)(2)(D); 425.110) [V].
pub const MINIMUM_ASSIGNED: u64 = 5_000;

/// Which step-wise methodology of 425.402 applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Methodology {
    /// PY2012-2015 (425.402(a)): step 1 primary care physicians only; step 2 every other ACO
    /// professional (NP/PA/CNS, every physician specialty).
    Py2012,
    /// PY2016+ (425.402(b)): step 1 PCPs and NP/PA/CNS; step 2 the 425.402(c) specialties.
    Py2016,
}

/// Voluntary alignment rules (425.402(e)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voluntary {
    /// Before PY2018: designations are ignored.
    None,
    /// PY2018 (425.402(e)(2)(i)): the designee must be a PCP, step-2 specialist or NP/PA/CNS and the
    /// beneficiary must have had a primary care service from an ACO physician of that ACO.
    Py2018,
    /// PY2019+ (425.402(e)(2)(ii)): any ACO professional, no prior service needed.
    Py2019,
}

/// Why no rule set exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The performance year has no rules.
    #[error(
        "performance year {0} is not supported: assignment rules exist for {FIRST_YEAR}-{LAST_YEAR}"
    )]
    PerformanceYear(i32),
    /// The quarter is not 1-4.
    #[error("quarter {0} is not 1-4")]
    Quarter(u8),
}

/// The rules of one performance year and window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    /// Performance year.
    pub performance_year: i32,
    /// Window kind.
    pub window_kind: WindowKind,
    /// The window and lookback.
    pub window: Window,
    /// Primary care codes counted.
    pub codes: CodeSet,
    /// Step-wise methodology.
    pub methodology: Methodology,
    /// PY2019+: every FQHC/RHC service is a primary care service by a PCP (425.404(b); spec v7) [V].
    pub fqhc_rhc_all_services: bool,
    /// Voluntary alignment rules.
    pub voluntary: Voluntary,
    /// PY2025+: step 3 on the 24-month expanded window (CY2024 PFS) [S].
    pub step3: bool,
}

impl RuleSet {
    /// The rules for a performance year and window kind.
    pub fn new(performance_year: i32, window_kind: WindowKind) -> Result<RuleSet, RuleError> {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&performance_year) {
            return Err(RuleError::PerformanceYear(performance_year));
        }
        let window = Window::new(performance_year, window_kind).ok_or(match window_kind {
            WindowKind::Quarterly(q) => RuleError::Quarter(q),
            _ => RuleError::PerformanceYear(performance_year),
        })?;
        let ((y0, m0, d0), (y1, m1, d1)) = codes::PHE;
        let phe = match (Date::new(y0, m0, d0), Date::new(y1, m1, d1)) {
            (Some(a), Some(b)) => window.overlaps(a, b),
            _ => false,
        };
        Ok(RuleSet {
            performance_year,
            window_kind,
            window,
            codes: CodeSet::new(performance_year, phe),
            methodology: if performance_year >= 2016 {
                Methodology::Py2016
            } else {
                Methodology::Py2012
            },
            fqhc_rhc_all_services: performance_year >= 2019,
            voluntary: match performance_year {
                ..2018 => Voluntary::None,
                2018 => Voluntary::Py2018,
                _ => Voluntary::Py2019,
            },
            step3: performance_year >= 2025,
        })
    }

    /// A stable identifier, e.g. `assignment-py2016`.
    pub fn id(&self) -> String {
        format!("assignment-py{}", self.performance_year)
    }

    /// The plurality bucket of a practitioner role, `None` when the role does not count.
    #[inline]
    pub fn bucket(&self, who: Who) -> Option<Bucket> {
        match (self.methodology, who) {
            (_, Who::PrimaryCarePhysician) => Some(Bucket::Step1),
            (Methodology::Py2016, Who::NonPhysicianPractitioner) => Some(Bucket::Step1),
            (Methodology::Py2016, Who::Step2Specialist) => Some(Bucket::Step2),
            (Methodology::Py2016, Who::OtherPhysician) => None,
            (Methodology::Py2012, _) => Some(Bucket::Step2),
        }
    }

    /// Whether a service by `who` satisfies the pre-screen ("a primary care service with a physician
    /// who is an ACO professional", 425.402(a) and (b)(1)).
    #[inline]
    pub fn prescreen_physician(&self, who: Who) -> bool {
        match self.methodology {
            Methodology::Py2012 => who != Who::NonPhysicianPractitioner,
            Methodology::Py2016 => matches!(who, Who::PrimaryCarePhysician | Who::Step2Specialist),
        }
    }

    /// Classifies one claim line: counted (with its entity, bucket and signed amount) or why not.
    #[inline]
    pub fn classify(&self, line: &Line, reg: &Registry) -> Result<Counted, Skip> {
        let period = self.window.period(line.day).ok_or(Skip::OutsideWindow)?;
        let professional = match line.claim_type {
            ClaimType::Professional => true,
            ClaimType::Fqhc | ClaimType::Rhc | ClaimType::CahMethodII => false,
            ClaimType::OtherInstitutional => return Err(Skip::NotPrimaryCare),
        };
        let code_counts = line.hcpcs.is_some_and(|k| self.codes.counts(k, line.pos));
        let who = match line.claim_type {
            ClaimType::Professional => {
                if !code_counts {
                    return Err(Skip::NotPrimaryCare);
                }
                self.who(line.specialty)?
            }
            ClaimType::Fqhc | ClaimType::Rhc if self.fqhc_rhc_all_services => {
                // 425.404(b), spec v7: every FQHC/RHC service counts, as if by a PCP; the SNF
                // exclusion of nursing facility codes still applies (425.400(c)(1)(v)(A)(3)).
                if line.hcpcs.is_some_and(|k| self.codes.counts(k, None)) && !code_counts {
                    return Err(Skip::NotPrimaryCare);
                }
                Who::PrimaryCarePhysician
            }
            ClaimType::Fqhc | ClaimType::Rhc => {
                // Before PY2019 (425.404(a), 425.400(c)(1)(i)-(iii)): a primary care code, or for RHCs
                // one of the RHC revenue centers; the attending practitioner decides the role, any
                // physician counting as a primary care physician (attestation) [I].
                let rhc_rev = line.claim_type == ClaimType::Rhc
                    && line
                        .revenue_center
                        .is_some_and(|r| codes::RHC_REVENUE_CENTERS.contains(&r));
                if !code_counts && !rhc_rev {
                    return Err(Skip::NotPrimaryCare);
                }
                match self.who(line.specialty)? {
                    Who::NonPhysicianPractitioner => Who::NonPhysicianPractitioner,
                    _ => Who::PrimaryCarePhysician,
                }
            }
            ClaimType::CahMethodII => {
                // CAH Method II professional lines: revenue center 096x-098x with a primary care code,
                // attributed to the rendering practitioner [R].
                let rev_ok = line
                    .revenue_center
                    .is_some_and(|r| codes::CAH_METHOD_II_REVENUE_CENTERS.contains(&r));
                if !code_counts || !rev_ok {
                    return Err(Skip::NotPrimaryCare);
                }
                self.who(line.specialty)?
            }
            ClaimType::OtherInstitutional => return Err(Skip::NotPrimaryCare),
        };
        let bucket = self.bucket(who).ok_or(Skip::NotCountedPractitioner)?;
        let (id, owners) = if professional {
            (line.tin, &reg.tin_owner)
        } else {
            (line.ccn, &reg.ccn_owner)
        };
        let id = id.ok_or(Skip::NoBillingEntity)?;
        let entity = match owners.get(id as usize).copied().unwrap_or(Owner::None) {
            Owner::None if professional => Entity::tin(id),
            Owner::None => Entity::ccn(id),
            Owner::Aco(a) => Entity::aco(a),
            Owner::Shared => return Err(Skip::SharedParticipant),
        };
        let (sign, cents) = match line.version {
            Version::Cancellation => (-1, line.allowed_cents.saturating_abs().saturating_neg()),
            Version::Original | Version::Adjustment => (1, line.allowed_cents),
        };
        Ok(Counted {
            entity,
            period,
            bucket,
            physician: self.prescreen_physician(who),
            npp: who == Who::NonPhysicianPractitioner,
            sign,
            cents,
            day: line.day,
        })
    }

    #[inline]
    fn who(&self, specialty: Option<u16>) -> Result<Who, Skip> {
        specialty
            .and_then(|k| codes::who(k, self.performance_year))
            .ok_or(Skip::NotCountedPractitioner)
    }
}

/// What kind of claim a line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimType {
    /// A professional (Part B carrier) claim line, billed by a TIN.
    Professional,
    /// A federally qualified health center claim (type of bill 77x), by CCN.
    Fqhc,
    /// A rural health clinic claim (type of bill 71x), by CCN.
    Rhc,
    /// A critical access hospital Method II claim (type of bill 85x), by CCN.
    CahMethodII,
    /// Any other institutional claim: never primary care here.
    OtherInstitutional,
}

/// Claim version (CCLF `CLM_ADJSMT_TYPE_CD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// An original claim: adds its allowed amount.
    Original,
    /// An adjusted version: adds its allowed amount (the version it replaces is cancelled by its
    /// own cancellation line, as in CMS claim feeds).
    Adjustment,
    /// A cancellation: subtracts the absolute allowed amount and one service.
    Cancellation,
}

/// One claim line, encoded for the engine (codes as keys, billing entities interned).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// Date of service.
    pub day: Date,
    /// HCPCS key ([`codes::hcpcs_key`]); `None` when absent or not a 5-character code.
    pub hcpcs: Option<u32>,
    /// Revenue center code (0-9999).
    pub revenue_center: Option<u16>,
    /// Place of service (0-99).
    pub pos: Option<u8>,
    /// Claim type.
    pub claim_type: ClaimType,
    /// Billing TIN, interned in the [`Registry`].
    pub tin: Option<u32>,
    /// Facility CCN, interned in the [`Registry`].
    pub ccn: Option<u32>,
    /// Specialty key ([`codes::specialty_key`]).
    pub specialty: Option<u16>,
    /// Allowed charges, cents.
    pub allowed_cents: i64,
    /// Claim version.
    pub version: Version,
    /// The claim line this is a version of ([`ClaimKey::NONE`]: no claim id, summation rule).
    pub claim: ClaimKey,
}

/// Why a line does not count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Outside the window and its lookback.
    OutsideWindow,
    /// Not a primary care service this performance year (unknown codes included).
    NotPrimaryCare,
    /// The practitioner's specialty does not count for assignment.
    NotCountedPractitioner,
    /// Billed through a TIN or CCN in more than one ACO (425.400(a)(2)(iii)).
    SharedParticipant,
    /// No TIN (professional) or CCN (institutional).
    NoBillingEntity,
}

impl Skip {
    /// Every reason, in a fixed order (for counters).
    pub const ALL: [Skip; 5] = [
        Skip::OutsideWindow,
        Skip::NotPrimaryCare,
        Skip::NotCountedPractitioner,
        Skip::SharedParticipant,
        Skip::NoBillingEntity,
    ];

    /// A stable name.
    pub fn name(self) -> &'static str {
        match self {
            Skip::OutsideWindow => "outside_window",
            Skip::NotPrimaryCare => "not_primary_care",
            Skip::NotCountedPractitioner => "specialty_not_counted",
            Skip::SharedParticipant => "shared_participant",
            Skip::NoBillingEntity => "no_billing_entity",
        }
    }

    /// Index in [`Skip::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The plurality bucket a service counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bucket {
    /// Step 1 services.
    Step1,
    /// Step 2 services.
    Step2,
}

/// A counted service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// The competing entity that billed it.
    pub entity: Entity,
    /// Window or lookback.
    pub period: Period,
    /// Step bucket.
    pub bucket: Bucket,
    /// Furnished by a physician who satisfies the pre-screen.
    pub physician: bool,
    /// Furnished by an NP/PA/CNS.
    pub npp: bool,
    /// +1, or -1 for a cancellation.
    pub sign: i32,
    /// Signed allowed cents.
    pub cents: i64,
    /// Date of service.
    pub day: Date,
}

/// A competing entity: an ACO (by index), an unaffiliated TIN or an unaffiliated CCN (by interned
/// id). Packed in a `u32`: the top two bits are the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Entity(u32);

/// What an [`Entity`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    /// ACO index.
    Aco(u32),
    /// Unaffiliated TIN id.
    Tin(u32),
    /// Unaffiliated CCN id.
    Ccn(u32),
}

const KIND_MASK: u32 = 3 << 30;
const TIN_BIT: u32 = 1 << 30;
const CCN_BIT: u32 = 2 << 30;

impl Entity {
    /// An ACO.
    #[inline]
    pub fn aco(index: u32) -> Entity {
        Entity(index & !KIND_MASK)
    }
    /// An unaffiliated TIN.
    #[inline]
    pub fn tin(id: u32) -> Entity {
        Entity(TIN_BIT | (id & !KIND_MASK))
    }
    /// An unaffiliated CCN.
    #[inline]
    pub fn ccn(id: u32) -> Entity {
        Entity(CCN_BIT | (id & !KIND_MASK))
    }
    /// The kind.
    #[inline]
    pub fn kind(self) -> EntityKind {
        let id = self.0 & !KIND_MASK;
        match self.0 & KIND_MASK {
            0 => EntityKind::Aco(id),
            TIN_BIT => EntityKind::Tin(id),
            _ => EntityKind::Ccn(id),
        }
    }
    /// The ACO index, if an ACO.
    #[inline]
    pub fn as_aco(self) -> Option<u32> {
        match self.kind() {
            EntityKind::Aco(a) => Some(a),
            _ => None,
        }
    }
    /// The packed value (for storage).
    pub fn to_bits(self) -> u32 {
        self.0
    }
    /// From [`Entity::to_bits`].
    pub fn from_bits(bits: u32) -> Entity {
        Entity(bits)
    }
}

/// Who owns a TIN, CCN or NPI in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Not an ACO participant.
    None,
    /// A participant of exactly one ACO (by index).
    Aco(u32),
    /// A participant of more than one ACO: its services are excluded.
    Shared,
}

/// String interning for TINs and CCNs: identifiers become dense `u32` ids. An identifier of 1-12
/// characters `0-9A-Z` (every TIN and CCN) is keyed by its packed value
/// ([`run::bene_key`]'s packing) and every name is kept in one text arena: interning allocates
/// nothing per name.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    packed: FastMap<u64, u32>,
    other: FastMap<Box<str>, u32>,
    text: String,
    ends: Vec<usize>,
}

impl Interner {
    /// The id of `name`, interning it on first sight.
    pub fn intern(&mut self, name: &str) -> u32 {
        let next = self.ends.len() as u32;
        let id = match run::pack(name) {
            Some(k) => *self.packed.entry(k).or_insert(next),
            None => match self.other.get(name) {
                Some(&id) => id,
                None => {
                    self.other.insert(name.into(), next);
                    next
                }
            },
        };
        if id == next {
            self.text.push_str(name);
            self.ends.push(self.text.len());
        }
        id
    }
    /// The id of `name`, if interned.
    pub fn get(&self, name: &str) -> Option<u32> {
        match run::pack(name) {
            Some(k) => self.packed.get(&k).copied(),
            None => self.other.get(name).copied(),
        }
    }
    /// The name of an id.
    pub fn name(&self, id: u32) -> &str {
        let i = id as usize;
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end).unwrap_or("")
    }
    /// Number of names.
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// One ACO's participants, as given by the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcoSpec {
    /// ACO identifier.
    pub id: String,
    /// Participant billing TINs.
    pub tins: Vec<String>,
    /// Participant CCNs (FQHC, RHC, CAH).
    pub ccns: Vec<String>,
    /// ACO professionals' NPIs.
    pub npis: Vec<String>,
}

impl AcoSpec {
    /// An ACO with these participant TINs, CCNs and professionals' NPIs.
    pub fn new(id: &str, tins: &[&str], ccns: &[&str], npis: &[&str]) -> AcoSpec {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        AcoSpec {
            id: id.to_string(),
            tins: owned(tins),
            ccns: owned(ccns),
            npis: owned(npis),
        }
    }
}

/// The run's participants: ACOs, and who owns each TIN, CCN and NPI, with interning of every TIN and
/// CCN seen (participants or not).
#[derive(Debug, Clone, Default)]
pub struct Registry {
    acos: Vec<String>,
    tins: Interner,
    tin_owner: Vec<Owner>,
    ccns: Interner,
    ccn_owner: Vec<Owner>,
    npi_owner: FastMap<Box<str>, Owner>,
}

fn claim(owners: &mut Vec<Owner>, id: u32, aco: u32) {
    let i = id as usize;
    if owners.len() <= i {
        owners.resize(i + 1, Owner::None);
    }
    owners[i] = match owners[i] {
        Owner::None => Owner::Aco(aco),
        Owner::Aco(a) if a == aco => Owner::Aco(a),
        _ => Owner::Shared,
    };
}

impl Registry {
    /// The registry of a participant list (ACO indexes follow the list order).
    pub fn new(acos: &[AcoSpec]) -> Registry {
        let mut r = Registry::default();
        for (i, aco) in acos.iter().enumerate() {
            let i = i as u32;
            r.acos.push(aco.id.clone());
            for t in &aco.tins {
                let id = r.tins.intern(t);
                claim(&mut r.tin_owner, id, i);
            }
            for c in &aco.ccns {
                let id = r.ccns.intern(c);
                claim(&mut r.ccn_owner, id, i);
            }
            for n in &aco.npis {
                let owner = match r.npi_owner.get(n.as_str()) {
                    None => Owner::Aco(i),
                    Some(Owner::Aco(a)) if *a == i => Owner::Aco(i),
                    Some(_) => Owner::Shared,
                };
                r.npi_owner.insert(n.as_str().into(), owner);
            }
        }
        r
    }
    /// An empty registry with the same ACOs (indexes), for interning one batch's TINs and CCNs
    /// with [`Registry::tin_from`] and [`Registry::ccn_from`] without touching the shared one.
    pub fn local(&self) -> Registry {
        Registry {
            acos: self.acos.clone(),
            ..Registry::default()
        }
    }
    /// Interns a TIN here with its owner in `parent`.
    pub fn tin_from(&mut self, tin: &str, parent: &Registry) -> u32 {
        let id = self.tins.intern(tin);
        if self.tin_owner.len() <= id as usize {
            self.tin_owner.resize(id as usize + 1, Owner::None);
            self.tin_owner[id as usize] = parent.tin_owner(tin);
        }
        id
    }
    /// Interns a CCN here with its owner in `parent`.
    pub fn ccn_from(&mut self, ccn: &str, parent: &Registry) -> u32 {
        let id = self.ccns.intern(ccn);
        if self.ccn_owner.len() <= id as usize {
            self.ccn_owner.resize(id as usize + 1, Owner::None);
            self.ccn_owner[id as usize] = parent.ccn_owner(ccn);
        }
        id
    }
    /// The owner of a CCN.
    pub fn ccn_owner(&self, ccn: &str) -> Owner {
        self.ccns
            .get(ccn)
            .and_then(|id| self.ccn_owner.get(id as usize).copied())
            .unwrap_or(Owner::None)
    }
    /// ACO identifiers, by index.
    pub fn acos(&self) -> &[String] {
        &self.acos
    }
    /// The interned TINs (participants' first, then others in the order first seen).
    pub fn tins(&self) -> &Interner {
        &self.tins
    }
    /// The interned CCNs.
    pub fn ccns(&self) -> &Interner {
        &self.ccns
    }
    /// Interns a TIN.
    pub fn tin(&mut self, tin: &str) -> u32 {
        self.tins.intern(tin)
    }
    /// Interns a CCN.
    pub fn ccn(&mut self, ccn: &str) -> u32 {
        self.ccns.intern(ccn)
    }
    /// The owner of a TIN.
    pub fn tin_owner(&self, tin: &str) -> Owner {
        self.tins
            .get(tin)
            .and_then(|id| self.tin_owner.get(id as usize).copied())
            .unwrap_or(Owner::None)
    }
    /// The owner of an NPI (from the ACOs' professional lists).
    pub fn npi_owner(&self, npi: &str) -> Owner {
        self.npi_owner.get(npi).copied().unwrap_or(Owner::None)
    }
    /// Resolves a beneficiary's designated clinician: by TIN when given (the billing TIN decides ACO
    /// professional status), else by NPI (425.402(e)).
    pub fn designation(&self, npi: &str, tin: &str) -> Designation {
        let owner = if !tin.is_empty() {
            self.tin_owner(tin)
        } else if !npi.is_empty() {
            self.npi_owner(npi)
        } else {
            return Designation::None;
        };
        match owner {
            Owner::None => Designation::Outside,
            Owner::Aco(a) => Designation::Aco(a),
            Owner::Shared => Designation::Ambiguous,
        }
    }
    /// A printable name: `aco:<id>`, `tin:<tin>` or `ccn:<ccn>`.
    pub fn entity_name(&self, e: Entity) -> String {
        let mut s = String::new();
        self.write_entity_name(e, &mut s);
        s
    }
    /// Appends [`Registry::entity_name`] to `out`.
    pub fn write_entity_name(&self, e: Entity, out: &mut String) {
        let (prefix, name) = match e.kind() {
            EntityKind::Aco(a) => (
                "aco:",
                self.acos.get(a as usize).map_or("?", String::as_str),
            ),
            EntityKind::Tin(t) => ("tin:", self.tins.name(t)),
            EntityKind::Ccn(c) => ("ccn:", self.ccns.name(c)),
        };
        out.push_str(prefix);
        out.push_str(name);
    }
}

/// No date (the latest-service fields of an empty tally).
pub const NO_DAY: Date = Date::MIN;

/// One beneficiary's primary care services from one entity, aggregated.
///
/// Counts are signed (a cancellation without a claim id subtracts one): a bucket "has a service"
/// when its count is positive. Latest dates only move forward. Lines with a claim id are resolved
/// per claim line before they reach a tally ([`versions`]), so a cancelled service adds no count,
/// charge or date; for lines without a claim id a cancellation cannot retract its date [I].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// The entity.
    pub entity: Entity,
    /// Step-1 allowed cents in the window.
    pub step1: i64,
    /// Step-2 allowed cents in the window.
    pub step2: i64,
    /// Step-1 plus step-2 allowed cents in the 12-month lookback.
    pub lookback: i64,
    /// Step-1 services in the window (net).
    pub n_step1: i32,
    /// Pre-screen physician services in the window (net).
    pub n_physician: i32,
    /// NP/PA/CNS services in the window (net).
    pub n_npp: i32,
    /// Pre-screen physician services in the lookback (net).
    pub n_lookback_physician: i32,
    /// Counted services of any kind in the lookback (net).
    pub n_lookback: i32,
    /// Latest step-1 service date in the window.
    pub last_step1: Date,
    /// Latest step-2 service date in the window.
    pub last_step2: Date,
    /// Latest counted service date in the lookback.
    pub last_lookback: Date,
}

impl Tally {
    /// An empty tally.
    pub fn new(entity: Entity) -> Tally {
        Tally {
            entity,
            step1: 0,
            step2: 0,
            lookback: 0,
            n_step1: 0,
            n_physician: 0,
            n_npp: 0,
            n_lookback_physician: 0,
            n_lookback: 0,
            last_step1: NO_DAY,
            last_step2: NO_DAY,
            last_lookback: NO_DAY,
        }
    }

    /// Adds a counted service (whose entity is this tally's).
    #[inline]
    pub fn add(&mut self, c: &Counted) {
        let later = |last: &mut Date| {
            if c.sign > 0 && c.day > *last {
                *last = c.day;
            }
        };
        match c.period {
            Period::Window => {
                match c.bucket {
                    Bucket::Step1 => {
                        self.step1 = self.step1.saturating_add(c.cents);
                        self.n_step1 = self.n_step1.saturating_add(c.sign);
                        later(&mut self.last_step1);
                    }
                    Bucket::Step2 => {
                        self.step2 = self.step2.saturating_add(c.cents);
                        later(&mut self.last_step2);
                    }
                }
                if c.physician {
                    self.n_physician = self.n_physician.saturating_add(c.sign);
                }
                if c.npp {
                    self.n_npp = self.n_npp.saturating_add(c.sign);
                }
            }
            Period::Lookback => {
                self.lookback = self.lookback.saturating_add(c.cents);
                self.n_lookback = self.n_lookback.saturating_add(c.sign);
                if c.physician {
                    self.n_lookback_physician = self.n_lookback_physician.saturating_add(c.sign);
                }
                later(&mut self.last_lookback);
            }
        }
    }

    /// Adds another tally of the same entity (aggregation is associative and commutative).
    pub fn merge(&mut self, o: &Tally) {
        self.step1 = self.step1.saturating_add(o.step1);
        self.step2 = self.step2.saturating_add(o.step2);
        self.lookback = self.lookback.saturating_add(o.lookback);
        self.n_step1 = self.n_step1.saturating_add(o.n_step1);
        self.n_physician = self.n_physician.saturating_add(o.n_physician);
        self.n_npp = self.n_npp.saturating_add(o.n_npp);
        self.n_lookback_physician = self
            .n_lookback_physician
            .saturating_add(o.n_lookback_physician);
        self.n_lookback = self.n_lookback.saturating_add(o.n_lookback);
        self.last_step1 = self.last_step1.max(o.last_step1);
        self.last_step2 = self.last_step2.max(o.last_step2);
        self.last_lookback = self.last_lookback.max(o.last_lookback);
    }
}

/// Adds a counted service to a beneficiary's tallies (a short list: one entry per entity).
#[inline]
pub fn tally_into(tallies: &mut Vec<Tally>, c: &Counted) {
    match tallies.iter_mut().find(|t| t.entity == c.entity) {
        Some(t) => t.add(c),
        None => {
            let mut t = Tally::new(c.entity);
            t.add(c);
            tallies.push(t);
        }
    }
}

/// Claim-version counters of [`tally_lines`] and [`crate::run::Run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VersionStats {
    /// Versions that do not count (cancelled or replaced, and the cancellations).
    pub superseded: u64,
    /// Cancellations whose original was not received (ignored).
    pub unmatched_cancellations: u64,
}

/// Tallies one beneficiary's lines into `tallies` (cleared first), resolving claim versions per
/// claim line ([`versions`]): lines without a claim id, and originals of claim lines that have no
/// cancellation or adjustment among the lines (the common case, as after [`crate::run::Run::prescan`]),
/// are classified and tallied directly; the lines of the other claim lines are grouped by claim
/// line (`scratch` holds their keys, reused between calls: no allocation per line) and only each
/// one's current version is classified and tallied. Returns the version counters; `skipped`
/// receives the skip reason of every counted-for line that does not count.
pub fn tally_lines(
    rules: &RuleSet,
    reg: &Registry,
    lines: &[Line],
    scratch: &mut Vec<(ClaimKey, u32)>,
    tallies: &mut Vec<Tally>,
    mut skipped: impl FnMut(Skip),
) -> VersionStats {
    tallies.clear();
    scratch.clear();
    let mut tally = |l: &Line, tallies: &mut Vec<Tally>| match rules.classify(l, reg) {
        Ok(c) => tally_into(tallies, &c),
        Err(s) => skipped(s),
    };
    // The claim lines with a cancellation or adjustment here.
    for l in lines {
        if l.claim.is_some() && l.version != Version::Original {
            scratch.push((l.claim, u32::MAX));
        }
    }
    let mut stats = VersionStats::default();
    if scratch.is_empty() {
        for l in lines {
            tally(l, tallies);
        }
        return stats;
    }
    scratch.sort_unstable();
    scratch.dedup_by_key(|e| e.0);
    let touched = scratch.len();
    for (i, l) in lines.iter().enumerate() {
        let grouped = l.claim.is_some()
            && scratch[..touched]
                .binary_search_by(|e| e.0.cmp(&l.claim))
                .is_ok();
        if grouped {
            scratch.push((l.claim, i as u32));
        } else {
            tally(l, tallies);
        }
    }
    let group = &mut scratch[touched..];
    group.sort_unstable();
    let mut i = 0;
    while let Some(&(key, _)) = group.get(i) {
        let mut v = Versions::default();
        while let Some(&(k, idx)) = group.get(i) {
            if k != key {
                break;
            }
            if let Some(l) = lines.get(idx as usize) {
                v.push(l.version, idx);
            }
            i += 1;
        }
        let r = v.resolve();
        stats.superseded = stats.superseded.saturating_add(r.superseded);
        stats.unmatched_cancellations = stats
            .unmatched_cancellations
            .saturating_add(r.unmatched_cancellations);
        if let Some(l) = r.current.and_then(|idx| lines.get(idx as usize)) {
            tally(&l.as_current(), tallies);
        }
    }
    stats
}

impl Line {
    /// This line as the current version of its claim line: it adds its amount (an adjustment
    /// replaces, so it counts like an original).
    #[inline]
    pub fn as_current(&self) -> Line {
        Line {
            version: Version::Original,
            ..*self
        }
    }
}

/// Tallies of a whole population, lines arriving in any order: per beneficiary (dense index) a
/// linked list of entity tallies in one arena (about 64 bytes per beneficiary and entity).
#[derive(Debug, Clone, Default)]
pub struct Population {
    heads: Vec<u32>,
    nodes: Vec<(Tally, u32)>,
}

const END: u32 = u32::MAX;

impl Population {
    /// An empty population.
    pub fn new() -> Population {
        Population::default()
    }

    /// Number of beneficiary slots.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// True when no beneficiary has a tally.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Number of (beneficiary, entity) tallies.
    pub fn tally_count(&self) -> usize {
        self.nodes.len()
    }

    /// Bytes held by the arena and the index.
    pub fn heap_bytes(&self) -> usize {
        self.heads.capacity() * 4 + self.nodes.capacity() * std::mem::size_of::<(Tally, u32)>()
    }

    fn slot(&mut self, bene: u32, entity: Entity) -> &mut Tally {
        let b = bene as usize;
        if self.heads.len() <= b {
            self.heads.resize(b + 1, END);
        }
        let mut i = self.heads[b];
        while i != END {
            if self.nodes[i as usize].0.entity == entity {
                return &mut self.nodes[i as usize].0;
            }
            i = self.nodes[i as usize].1;
        }
        let n = self.nodes.len() as u32;
        self.nodes.push((Tally::new(entity), self.heads[b]));
        self.heads[b] = n;
        &mut self.nodes[n as usize].0
    }

    /// Releases spare capacity.
    pub fn shrink(&mut self) {
        self.heads.shrink_to_fit();
        self.nodes.shrink_to_fit();
    }

    /// Adds a counted service of beneficiary `bene`.
    #[inline]
    pub fn add(&mut self, bene: u32, c: &Counted) {
        self.slot(bene, c.entity).add(c);
    }

    /// Merges a partial tally of beneficiary `bene`.
    pub fn merge(&mut self, bene: u32, t: &Tally) {
        self.slot(bene, t.entity).merge(t);
    }

    /// Calls `f(beneficiary, tally)` for every tally.
    pub fn each(&self, mut f: impl FnMut(u32, &Tally)) {
        for (b, &head) in self.heads.iter().enumerate() {
            let mut i = head;
            while i != END {
                let (t, next) = &self.nodes[i as usize];
                f(b as u32, t);
                i = *next;
            }
        }
    }

    /// Copies the tallies of `bene` into `out` (cleared first).
    pub fn tallies(&self, bene: u32, out: &mut Vec<Tally>) {
        out.clear();
        let mut i = self.heads.get(bene as usize).copied().unwrap_or(END);
        while i != END {
            let (t, next) = &self.nodes[i as usize];
            out.push(*t);
            i = *next;
        }
    }
}
