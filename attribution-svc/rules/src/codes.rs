//! What counts as a primary care service, and who furnished it: the code and specialty tables, as
//! data. Each row carries the performance years it applies to and its source; a reader finds every
//! code in [`CODE_ROWS`] and every specialty in [`SPECIALTY_ROWS`].
//!
//! Evidence tags follow `mssp-rules.md`: [V] verified against the regulation text, [S] secondary,
//! [R] recalled (a parameter to confirm), [I] inference.
//!
//! Lookups are precomputed: a HCPCS/CPT code is turned into a dense key ([`hcpcs_key`]: 5 digits, or
//! a letter and 4 digits) and a 360,000-entry table maps the key to its row, so classifying a claim
//! line costs one array read and a bit test against the performance year's row mask.

use std::sync::OnceLock;

/// One group of HCPCS/CPT codes that counts as primary care for a span of performance years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRow {
    /// First code of the (inclusive) range.
    pub first: &'static str,
    /// Last code of the range.
    pub last: &'static str,
    /// First performance year the codes count (`NEVER` = only under `phe`).
    pub from: i32,
    /// Also counted, whatever the year, when the assignment window includes a month of the COVID-19
    /// public health emergency (425.400(c)(2)).
    pub phe: bool,
    /// Not counted when furnished in a skilled nursing facility (place of service 31) from this
    /// performance year.
    pub snf_excluded_from: Option<i32>,
    /// Not counted when furnished in an inpatient hospital (place of service 21) from this year.
    pub inpatient_excluded_from: Option<i32>,
    /// What the codes are.
    pub what: &'static str,
    /// Where the row comes from.
    pub source: &'static str,
}

/// `from` of rows that only count under the public health emergency.
pub const NEVER: i32 = 9999;

const fn row(
    first: &'static str,
    last: &'static str,
    from: i32,
    what: &'static str,
    source: &'static str,
) -> CodeRow {
    CodeRow {
        first,
        last,
        from,
        phe: false,
        snf_excluded_from: None,
        inpatient_excluded_from: None,
        what,
        source,
    }
}

const C_I: &str = "42 CFR 425.400(c)(1)(i)-(v) [V]";
const C_II: &str = "42 CFR 425.400(c)(1)(ii)-(v) [V]";
const C_IV: &str = "42 CFR 425.400(c)(1)(iv)-(v) [V]";
const C_V: &str = "42 CFR 425.400(c)(1)(v) [V]";
const C_PHE: &str = "42 CFR 425.400(c)(2) [V]";
const LATER: &str =
    "mssp-rules.md 2.2, later PFS rules [R]: confirm the first year against the CMS code table";

/// The primary care service codes (425.20 definition, 425.400(c)). Rows never overlap: a code that
/// is both a regular code from some year and a public-health-emergency code is one row.
pub const CODE_ROWS: &[CodeRow] = &[
    row(
        "99201",
        "99215",
        2012,
        "office or other outpatient E/M",
        C_I,
    ),
    CodeRow {
        snf_excluded_from: Some(2017),
        ..row(
            "99304",
            "99318",
            2012,
            "nursing facility visits (not counted in a SNF, POS 31, from PY2017)",
            "42 CFR 425.400(c)(1)(i)-(v); SNF exclusion (c)(1)(iii)-(v) [V]",
        )
    },
    row(
        "99319",
        "99340",
        2012,
        "domiciliary, rest home or custodial care visits; care plan oversight",
        C_I,
    ),
    row("99341", "99350", 2012, "home visits", C_I),
    row("G0402", "G0402", 2012, "Welcome to Medicare visit", C_I),
    row("G0438", "G0439", 2012, "annual wellness visits", C_I),
    row("99490", "99490", 2016, "chronic care management", C_II),
    row("99495", "99496", 2016, "transitional care management", C_II),
    row(
        "99487",
        "99487",
        2019,
        "complex chronic care management",
        C_IV,
    ),
    row(
        "99489",
        "99489",
        2019,
        "complex chronic care management add-on",
        C_IV,
    ),
    CodeRow {
        inpatient_excluded_from: Some(2021),
        ..row(
            "99497",
            "99498",
            2019,
            "advance care planning (not counted inpatient, POS 21, from PY2021)",
            C_IV,
        )
    },
    row("96160", "96161", 2019, "health risk assessment", C_IV),
    // The regulation counts these add-ons only with a primary care base code on the claim; claim
    // lines arrive one at a time here, so the base-code condition is not checked [I].
    row("99354", "99355", 2019, "prolonged service add-ons", C_IV),
    row(
        "99484",
        "99484",
        2019,
        "behavioral health integration",
        C_IV,
    ),
    row(
        "99492",
        "99494",
        2019,
        "psychiatric collaborative care",
        C_IV,
    ),
    row(
        "G0506",
        "G0506",
        2019,
        "chronic care management planning add-on",
        C_IV,
    ),
    row(
        "G0442",
        "G0444",
        2019,
        "alcohol misuse screening and counseling; depression screening",
        C_IV,
    ),
    CodeRow {
        phe: true,
        ..row(
            "99421",
            "99423",
            2021,
            "online digital E/M (and in any window with a PHE month)",
            "42 CFR 425.400(c)(1)(v), (c)(2) [V]",
        )
    },
    row(
        "99439",
        "99439",
        2021,
        "non-complex chronic care management add-on",
        C_V,
    ),
    row(
        "99483",
        "99483",
        2021,
        "cognitive impairment assessment and care planning",
        C_V,
    ),
    row(
        "99491",
        "99491",
        2021,
        "chronic care management by a physician",
        C_V,
    ),
    CodeRow {
        phe: true,
        ..row(
            "G2010",
            "G2010",
            2021,
            "remote evaluation of images (and in any window with a PHE month)",
            "42 CFR 425.400(c)(1)(v), (c)(2) [V]",
        )
    },
    CodeRow {
        phe: true,
        ..row(
            "G2012",
            "G2012",
            2021,
            "virtual check-in (and in any window with a PHE month)",
            "42 CFR 425.400(c)(1)(v), (c)(2) [V]",
        )
    },
    row(
        "G2058",
        "G2058",
        2021,
        "non-complex chronic care management add-on",
        C_V,
    ),
    row("G2064", "G2065", 2021, "principal care management", C_V),
    row(
        "G2214",
        "G2214",
        2021,
        "psychiatric collaborative care",
        C_V,
    ),
    CodeRow {
        phe: true,
        ..row(
            "99441",
            "99443",
            NEVER,
            "telephone E/M (only in a window with a PHE month)",
            C_PHE,
        )
    },
    row(
        "99424",
        "99427",
        2022,
        "principal care management (replacing G2064/G2065)",
        LATER,
    ),
    row("G2211", "G2211", 2024, "visit complexity add-on", LATER),
    row(
        "G0136",
        "G0136",
        2025,
        "social determinants of health risk assessment",
        LATER,
    ),
    row(
        "G0019",
        "G0019",
        2025,
        "community health integration",
        LATER,
    ),
    row(
        "G0022",
        "G0024",
        2025,
        "community health integration; principal illness navigation",
        LATER,
    ),
];

/// The COVID-19 public health emergency, first and last day (42 CFR 400.200; [R] dates:
/// 2020-01-27 to 2023-05-11).
pub const PHE: ((i32, u32, u32), (i32, u32, u32)) = ((2020, 1, 27), (2023, 5, 11));

/// RHC revenue center codes counted as primary care before PY2019 (425.400(c)(1)(i)(C)-(iii)(C) [V]).
pub const RHC_REVENUE_CENTERS: &[u16] = &[521, 522, 524, 525];

/// CAH Method II professional revenue centers (096x, 097x, 098x) whose lines count when the HCPCS
/// code is a primary care code; attributed to the rendering practitioner [R].
pub const CAH_METHOD_II_REVENUE_CENTERS: std::ops::RangeInclusive<u16> = 960..=989;

/// Place of service: skilled nursing facility.
pub const POS_SNF: u8 = 31;
/// Place of service: inpatient hospital.
pub const POS_INPATIENT: u8 = 21;

/// Number of distinct HCPCS keys: `00000`-`99999` then `A0000`-`Z9999`.
pub const HCPCS_KEYS: usize = 360_000;

/// The dense key of a 5-character HCPCS/CPT code made of 5 digits or a letter and 4 digits (case
/// insensitive); `None` for anything else, which is never a primary care code.
pub fn hcpcs_key(code: &str) -> Option<u32> {
    let b = code.as_bytes();
    if b.len() != 5 {
        return None;
    }
    let mut tail = 0u32;
    for &c in &b[1..] {
        if !c.is_ascii_digit() {
            return None;
        }
        tail = tail * 10 + u32::from(c - b'0');
    }
    match b[0].to_ascii_uppercase() {
        c @ b'0'..=b'9' => Some(u32::from(c - b'0') * 10_000 + tail),
        c @ b'A'..=b'Z' => Some(100_000 + u32::from(c - b'A') * 10_000 + tail),
        _ => None,
    }
}

/// Row index + 1 for every HCPCS key (0 = not a primary care code in any year).
fn code_table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; HCPCS_KEYS].into_boxed_slice();
        for (i, r) in CODE_ROWS.iter().enumerate() {
            let (Some(a), Some(b)) = (hcpcs_key(r.first), hcpcs_key(r.last)) else {
                continue; // every row is checked by a test
            };
            for k in a..=b {
                t[k as usize] = (i + 1) as u8;
            }
        }
        t
    })
}

/// The row of a HCPCS key, if the code is primary care in some year.
#[inline]
pub fn code_row(key: u32) -> Option<usize> {
    match code_table().get(key as usize) {
        Some(&r) if r > 0 => Some(usize::from(r) - 1),
        _ => None,
    }
}

/// Who furnished a service, as assignment sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    /// A primary care physician (425.20).
    PrimaryCarePhysician,
    /// A nurse practitioner, physician assistant or clinical nurse specialist.
    NonPhysicianPractitioner,
    /// A physician with a 425.402(c) step-2 specialty.
    Step2Specialist,
    /// Any other physician (counted in step 2 for PY2012-2015 only, 425.402(a)(2)).
    OtherPhysician,
}

impl Who {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Who::PrimaryCarePhysician => "primary care physician",
            Who::NonPhysicianPractitioner => "NP/PA/CNS",
            Who::Step2Specialist => "step-2 specialist",
            Who::OtherPhysician => "other physician",
        }
    }
}

/// One CMS provider specialty code and what it means for assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialtyRow {
    /// The two-character CMS specialty code.
    pub code: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its role from `from` on.
    pub who: Who,
    /// First performance year of that role; before it the code plays `before`.
    pub from: i32,
    /// The role before `from` (`None`: not counted).
    pub before: Option<Who>,
    /// Source.
    pub source: &'static str,
}

const fn spec(
    code: &'static str,
    name: &'static str,
    who: Who,
    source: &'static str,
) -> SpecialtyRow {
    SpecialtyRow {
        code,
        name,
        who,
        from: 2012,
        before: None,
        source,
    }
}

const PCP: &str = "42 CFR 425.20 'primary care physician'; codes mssp-rules.md 2.3 [V]";
const NPP_V: &str = "42 CFR 425.402(b)(3); code 50 [V]";
const NPP_R: &str = "42 CFR 425.402(b)(3); code [R]";
const S2_V: &str = "42 CFR 425.402(c); code [V]";
const S2_R: &str = "42 CFR 425.402(c); code [R]";
const PHYS: &str = "42 CFR 425.402(a)(2) 'other physicians'; physician specialty codes [R]";

/// CMS provider specialty codes that matter for assignment.
pub const SPECIALTY_ROWS: &[SpecialtyRow] = &[
    spec("01", "general practice", Who::PrimaryCarePhysician, PCP),
    spec("08", "family practice", Who::PrimaryCarePhysician, PCP),
    spec("11", "internal medicine", Who::PrimaryCarePhysician, PCP),
    spec("38", "geriatric medicine", Who::PrimaryCarePhysician, PCP),
    SpecialtyRow {
        from: 2016,
        before: Some(Who::OtherPhysician),
        ..spec(
            "37",
            "pediatric medicine (primary care from PY2016)",
            Who::PrimaryCarePhysician,
            PCP,
        )
    },
    spec(
        "50",
        "nurse practitioner",
        Who::NonPhysicianPractitioner,
        NPP_V,
    ),
    spec(
        "89",
        "clinical nurse specialist",
        Who::NonPhysicianPractitioner,
        NPP_R,
    ),
    spec(
        "97",
        "physician assistant",
        Who::NonPhysicianPractitioner,
        NPP_R,
    ),
    spec("06", "cardiology", Who::Step2Specialist, S2_V),
    spec(
        "12",
        "osteopathic manipulative medicine",
        Who::Step2Specialist,
        S2_V,
    ),
    spec("13", "neurology", Who::Step2Specialist, S2_V),
    spec("16", "obstetrics/gynecology", Who::Step2Specialist, S2_V),
    spec("23", "sports medicine", Who::Step2Specialist, S2_R),
    spec(
        "25",
        "physical medicine and rehabilitation",
        Who::Step2Specialist,
        S2_V,
    ),
    spec("26", "psychiatry", Who::Step2Specialist, S2_V),
    spec("27", "geriatric psychiatry", Who::Step2Specialist, S2_V),
    spec("29", "pulmonary disease", Who::Step2Specialist, S2_V),
    spec("39", "nephrology", Who::Step2Specialist, S2_V),
    spec("46", "endocrinology", Who::Step2Specialist, S2_V),
    spec(
        "70",
        "multispecialty clinic or group practice",
        Who::Step2Specialist,
        S2_R,
    ),
    spec("79", "addiction medicine", Who::Step2Specialist, S2_R),
    spec("82", "hematology", Who::Step2Specialist, S2_R),
    spec("83", "hematology/oncology", Who::Step2Specialist, S2_R),
    spec("84", "preventive medicine", Who::Step2Specialist, S2_R),
    spec("86", "neuropsychiatry", Who::Step2Specialist, S2_R),
    spec("90", "medical oncology", Who::Step2Specialist, S2_R),
    spec("98", "gynecology/oncology", Who::Step2Specialist, S2_R),
    spec("02", "general surgery", Who::OtherPhysician, PHYS),
    spec("03", "allergy/immunology", Who::OtherPhysician, PHYS),
    spec("04", "otolaryngology", Who::OtherPhysician, PHYS),
    spec("05", "anesthesiology", Who::OtherPhysician, PHYS),
    spec("07", "dermatology", Who::OtherPhysician, PHYS),
    spec(
        "09",
        "interventional pain management",
        Who::OtherPhysician,
        PHYS,
    ),
    spec("10", "gastroenterology", Who::OtherPhysician, PHYS),
    spec("14", "neurosurgery", Who::OtherPhysician, PHYS),
    spec(
        "17",
        "hospice and palliative care",
        Who::OtherPhysician,
        PHYS,
    ),
    spec("18", "ophthalmology", Who::OtherPhysician, PHYS),
    spec("20", "orthopedic surgery", Who::OtherPhysician, PHYS),
    spec("21", "cardiac electrophysiology", Who::OtherPhysician, PHYS),
    spec("22", "pathology", Who::OtherPhysician, PHYS),
    spec(
        "24",
        "plastic and reconstructive surgery",
        Who::OtherPhysician,
        PHYS,
    ),
    spec("28", "colorectal surgery", Who::OtherPhysician, PHYS),
    spec("30", "diagnostic radiology", Who::OtherPhysician, PHYS),
    spec("33", "thoracic surgery", Who::OtherPhysician, PHYS),
    spec("34", "urology", Who::OtherPhysician, PHYS),
    spec("36", "nuclear medicine", Who::OtherPhysician, PHYS),
    spec("40", "hand surgery", Who::OtherPhysician, PHYS),
    spec("44", "infectious disease", Who::OtherPhysician, PHYS),
    spec("66", "rheumatology", Who::OtherPhysician, PHYS),
    spec("72", "pain management", Who::OtherPhysician, PHYS),
    spec(
        "76",
        "peripheral vascular disease",
        Who::OtherPhysician,
        PHYS,
    ),
    spec("77", "vascular surgery", Who::OtherPhysician, PHYS),
    spec("78", "cardiac surgery", Who::OtherPhysician, PHYS),
    spec(
        "81",
        "critical care (intensivists)",
        Who::OtherPhysician,
        PHYS,
    ),
    spec("85", "maxillofacial surgery", Who::OtherPhysician, PHYS),
    spec("91", "surgical oncology", Who::OtherPhysician, PHYS),
    spec("92", "radiation oncology", Who::OtherPhysician, PHYS),
    spec("93", "emergency medicine", Who::OtherPhysician, PHYS),
    spec("94", "interventional radiology", Who::OtherPhysician, PHYS),
];

/// Number of two-character specialty keys (`0-9A-Z` squared).
pub const SPECIALTY_KEYS: usize = 36 * 36;

/// The dense key of a two-character specialty code (digits and letters, case insensitive).
pub fn specialty_key(code: &str) -> Option<u16> {
    let b = code.as_bytes();
    if b.len() != 2 {
        return None;
    }
    let d = |c: u8| match c.to_ascii_uppercase() {
        c @ b'0'..=b'9' => Some(u16::from(c - b'0')),
        c @ b'A'..=b'Z' => Some(u16::from(c - b'A') + 10),
        _ => None,
    };
    Some(d(b[0])? * 36 + d(b[1])?)
}

fn specialty_table() -> &'static [u8] {
    static TABLE: OnceLock<Box<[u8]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u8; SPECIALTY_KEYS].into_boxed_slice();
        for (i, r) in SPECIALTY_ROWS.iter().enumerate() {
            if let Some(k) = specialty_key(r.code) {
                t[usize::from(k)] = (i + 1) as u8;
            }
        }
        t
    })
}

/// The role of a specialty key in a performance year (`None`: not counted for assignment).
#[inline]
pub fn who(key: u16, performance_year: i32) -> Option<Who> {
    let r = *specialty_table().get(usize::from(key))?;
    let row = SPECIALTY_ROWS.get(usize::from(r).checked_sub(1)?)?;
    if performance_year >= row.from {
        Some(row.who)
    } else {
        row.before
    }
}

/// The specialty row of a key, if any.
pub fn specialty_row(key: u16) -> Option<&'static SpecialtyRow> {
    let r = *specialty_table().get(usize::from(key))?;
    SPECIALTY_ROWS.get(usize::from(r).checked_sub(1)?)
}

/// Which code rows count in one performance year and window, as bit masks over [`CODE_ROWS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSet {
    counted: u64,
    snf_excluded: u64,
    inpatient_excluded: u64,
}

const _: () = assert!(CODE_ROWS.len() <= 64);

impl CodeSet {
    /// The codes of `performance_year`; `phe_window` when the window includes a PHE month.
    pub fn new(performance_year: i32, phe_window: bool) -> Self {
        let mut s = Self {
            counted: 0,
            snf_excluded: 0,
            inpatient_excluded: 0,
        };
        for (i, r) in CODE_ROWS.iter().enumerate() {
            let bit = 1u64 << i;
            if performance_year >= r.from || (r.phe && phe_window) {
                s.counted |= bit;
            }
            if r.snf_excluded_from.is_some_and(|y| performance_year >= y) {
                s.snf_excluded |= bit;
            }
            if r.inpatient_excluded_from
                .is_some_and(|y| performance_year >= y)
            {
                s.inpatient_excluded |= bit;
            }
        }
        s
    }

    /// Whether a code (by key) at a place of service (`None`: not given) counts.
    #[inline]
    pub fn counts(&self, key: u32, pos: Option<u8>) -> bool {
        let Some(r) = code_row(key) else {
            return false;
        };
        let bit = 1u64 << r;
        if self.counted & bit == 0 {
            return false;
        }
        match pos {
            Some(POS_SNF) => self.snf_excluded & bit == 0,
            Some(POS_INPATIENT) => self.inpatient_excluded & bit == 0,
            _ => true,
        }
    }

    /// Whether a code row is counted (ignoring place of service).
    pub fn row_counted(&self, row: usize) -> bool {
        row < 64 && self.counted & (1u64 << row) != 0
    }
}
