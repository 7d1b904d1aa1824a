//! Synthetic, domain-valid assignment data: ACOs with participant TINs, CCNs and NPIs; unaffiliated
//! TINs and health centers; beneficiaries (MBI-format identifiers, enrollment, designations) and
//! their claim lines (specialty mix, primary care and other codes, places of service, allowed
//! amounts, cancellations and adjustments). For tests, benchmarks and the simulator.
//!
//! Determinism: one seedable, portable generator (`Xoshiro256PlusPlus`) per beneficiary, seeded from
//! (seed, beneficiary index), so beneficiary `i` is the same whatever the order, sharding or thread
//! count that generates it. Same seed, same data.
//!
//! Calibration [I]: about 12 primary care lines per beneficiary-year (400 million lines for 33
//! million FFS beneficiaries, mssp-rules.md and the issue), 10% other lines, 2% of claims cancelled
//! and 1% adjusted; allowed amounts near the 2024 physician fee schedule national amounts [R].

use rand_xoshiro::{
    Xoshiro256PlusPlus,
    rand_core::{Rng, SeedableRng},
};

use crate::{AcoSpec, ClaimType, Date, Enrollment, Version, Window, WindowKind, input::RawLine};

/// Generator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Seed.
    pub seed: u64,
    /// Performance year (retrospective window).
    pub performance_year: i32,
    /// Number of beneficiaries.
    pub beneficiaries: u32,
    /// Number of ACOs.
    pub acos: u32,
    /// Participant TINs per ACO.
    pub tins_per_aco: u32,
    /// Unaffiliated TINs.
    pub outside_tins: u32,
    /// FQHC/RHC CCNs (a third of them ACO participants).
    pub health_centers: u32,
    /// Mean primary care lines per beneficiary in the window.
    pub lines_per_beneficiary: u32,
    /// Share of lines dated in the 12-month lookback instead of the window.
    pub lookback_share: f64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            performance_year: 2024,
            beneficiaries: 10_000,
            acos: 10,
            tins_per_aco: 20,
            outside_tins: 2_000,
            health_centers: 60,
            lines_per_beneficiary: 12,
            lookback_share: 0.0,
        }
    }
}

/// A beneficiary record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeneficiaryRecord {
    /// MBI-format identifier (synthetic).
    pub id: String,
    /// Months with Part A and B.
    pub months_a_and_b: u32,
    /// Months with A only or B only.
    pub months_a_or_b_only: u32,
    /// Months in a group health plan.
    pub months_group_health_plan: u32,
    /// U.S. resident.
    pub us_resident: bool,
    /// In another shared savings initiative.
    pub other_initiative: bool,
    /// Designated clinician NPI (empty: none).
    pub designated_npi: String,
    /// Designated clinician TIN.
    pub designated_tin: String,
}

impl BeneficiaryRecord {
    /// A U.S. resident with Part A and B in every month, no group health plan month, in no other
    /// shared savings initiative and with no designated clinician.
    pub fn eligible(id: String) -> BeneficiaryRecord {
        BeneficiaryRecord {
            id,
            months_a_and_b: 12,
            months_a_or_b_only: 0,
            months_group_health_plan: 0,
            us_resident: true,
            other_initiative: false,
            designated_npi: String::new(),
            designated_tin: String::new(),
        }
    }

    /// The record's enrollment facts, as the engine screens them (no A-only or B-only months: the
    /// generator draws A-or-B-only months as one count).
    pub fn enrollment(&self) -> Enrollment {
        Enrollment {
            months_a_and_b: self.months_a_and_b,
            months_a_or_b_only: self.months_a_or_b_only,
            months_a_only: 0,
            months_b_only: 0,
            months_group_health_plan: self.months_group_health_plan,
            us_resident: self.us_resident,
            other_initiative: self.other_initiative,
        }
    }
}

/// A claim line with string identifiers, as a CMS feed or an API client carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRecord {
    /// Claim id (all versions share it).
    pub claim_id: String,
    /// Line number.
    pub line_number: u32,
    /// Beneficiary id.
    pub beneficiary_id: String,
    /// Date of service.
    pub service_date: Date,
    /// HCPCS/CPT code.
    pub hcpcs: &'static str,
    /// Revenue center (institutional).
    pub revenue_center: &'static str,
    /// Place of service (professional).
    pub place_of_service: &'static str,
    /// Claim type.
    pub claim_type: ClaimType,
    /// Billing TIN (professional).
    pub tin: String,
    /// CCN (institutional).
    pub ccn: String,
    /// Rendering NPI.
    pub npi: String,
    /// Specialty code.
    pub specialty: &'static str,
    /// Allowed cents (negative on cancellations).
    pub allowed_cents: i64,
    /// Version.
    pub version: Version,
}

impl ClaimRecord {
    /// The line as text fields, as every input source hands it to [`crate::run::encode`].
    pub fn raw(&self) -> RawLine<'_> {
        RawLine {
            beneficiary_id: &self.beneficiary_id,
            day: self.service_date,
            hcpcs: self.hcpcs,
            revenue_center: self.revenue_center,
            place_of_service: self.place_of_service,
            claim_type: self.claim_type,
            tin: &self.tin,
            ccn: &self.ccn,
            specialty: self.specialty,
            allowed_cents: self.allowed_cents,
            version: self.version,
            claim_id: &self.claim_id,
            line_number: self.line_number,
        }
    }
}

/// A synthetic population: participants plus per-beneficiary generation.
#[derive(Debug, Clone)]
pub struct Synthetic {
    cfg: Config,
    window: Window,
    acos: Vec<AcoSpec>,
    /// Every provider: TIN or CCN and claim type (ACO TINs first, then outside TINs, then centers).
    providers: Vec<Provider>,
}

#[derive(Debug, Clone)]
struct Provider {
    id: String,
    claim_type: ClaimType,
}

struct Rand(Xoshiro256PlusPlus);

impl Rand {
    fn new(seed: u64, stream: u64) -> Rand {
        Rand(Xoshiro256PlusPlus::seed_from_u64(
            seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        ))
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
        }
    }
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Professional primary care codes with 2024-like national allowed amounts in cents [R] and weights
/// (also the visit menu of the simulator's claims mode).
pub const PC_CODES: &[(&str, i64, u32)] = &[
    ("99213", 9_147, 30),
    ("99214", 12_892, 25),
    ("99212", 5_716, 6),
    ("99215", 18_190, 5),
    ("99203", 10_834, 3),
    ("99204", 16_682, 3),
    ("G0439", 13_050, 6),
    ("G0438", 17_610, 1),
    ("99490", 6_234, 4),
    ("99495", 20_145, 1),
    ("99497", 8_614, 1),
    ("99308", 9_321, 3),
    ("99349", 16_237, 2),
    ("G2211", 1_627, 5),
    ("99484", 4_312, 1),
    ("G0444", 1_872, 2),
];

/// Codes that are never primary care (imaging, lab, procedures).
const OTHER_CODES: &[(&str, i64)] = &[
    ("71046", 3_502),
    ("80053", 1_053),
    ("93000", 1_612),
    ("20610", 6_214),
    ("99223", 20_765),
];

const PCP_SPECS: &[&str] = &["01", "08", "11", "38"];
const NPP_SPECS: &[&str] = &["50", "97", "89"];
const STEP2_SPECS: &[&str] = &["06", "13", "29", "39", "46", "16"];
const OTHER_SPECS: &[&str] = &["02", "30", "20", "93"];

/// An MBI-format identifier for index `i` (unique for `i` below 10^8; synthetic, never a real one):
/// C A AN N A AN N A A N N with letters excluding S, L, O, I, B, Z.
pub fn mbi(i: u64) -> String {
    const L: &[u8] = b"ACDEFGHJKMNPQRTUVWXY";
    const AN: &[u8] = b"0123456789ACDEFGHJKMNPQRTUVWXY";
    let mut n = i;
    let mut take = |alphabet: &[u8]| {
        let c = alphabet[(n % alphabet.len() as u64) as usize];
        n /= alphabet.len() as u64;
        c as char
    };
    let d = |c: char| c;
    let p11 = take(b"0123456789");
    let p10 = take(b"0123456789");
    let p9 = take(L);
    let p8 = take(L);
    let p7 = take(b"0123456789");
    let p6 = take(AN);
    let p5 = take(L);
    let p4 = take(b"0123456789");
    let p3 = take(AN);
    let p2 = take(L);
    let p1 = take(b"123456789");
    [p1, p2, p3, p4, p5, p6, p7, p8, p9, p10, p11]
        .into_iter()
        .map(d)
        .collect()
}

fn tin(i: u64) -> String {
    format!("{:09}", 200_000_000 + i)
}

fn npi(provider: u64, k: u64) -> String {
    format!("1{:09}", provider * 16 + k)
}

impl Synthetic {
    /// Builds the participants of a configuration.
    pub fn new(cfg: Config) -> Synthetic {
        let window =
            Window::new(cfg.performance_year, WindowKind::Retrospective).unwrap_or_else(|| {
                let day = |n| Date::from_day_number(n).unwrap_or(Date::MIN);
                Window {
                    lookback_start: day(0),
                    start: day(365),
                    end: day(729),
                }
            });
        let mut acos: Vec<AcoSpec> = (0..cfg.acos)
            .map(|a| AcoSpec {
                id: format!("A{:04}", 1000 + a),
                ..AcoSpec::default()
            })
            .collect();
        let mut providers = Vec::new();
        let mut n = 0u64;
        for a in 0..cfg.acos {
            for _ in 0..cfg.tins_per_aco {
                let id = tin(n);
                let aco = &mut acos[a as usize];
                aco.tins.push(id.clone());
                aco.npis.extend((0..4).map(|k| npi(n, k)));
                providers.push(Provider {
                    id,
                    claim_type: ClaimType::Professional,
                });
                n += 1;
            }
        }
        for _ in 0..cfg.outside_tins {
            providers.push(Provider {
                id: tin(n),
                claim_type: ClaimType::Professional,
            });
            n += 1;
        }
        for h in 0..cfg.health_centers {
            let (claim_type, ccn) = if h % 2 == 0 {
                (
                    ClaimType::Fqhc,
                    format!("{:02}{:04}", 10 + h % 40, 1800 + h % 180),
                )
            } else {
                (
                    ClaimType::Rhc,
                    format!("{:02}{:04}", 10 + h % 40, 3400 + h % 90),
                )
            };
            let aco = (h % 3 == 0 && cfg.acos > 0).then_some(h % cfg.acos.max(1));
            if let Some(a) = aco {
                acos[a as usize].ccns.push(ccn.clone());
            }
            providers.push(Provider {
                id: ccn,
                claim_type,
            });
        }
        Synthetic {
            cfg,
            window,
            acos,
            providers,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The participant list.
    pub fn acos(&self) -> &[AcoSpec] {
        &self.acos
    }

    /// Beneficiary `i` and its claim lines (appended to `lines`, which is not cleared).
    pub fn beneficiary(&self, i: u32, lines: &mut Vec<ClaimRecord>) -> BeneficiaryRecord {
        let mut r = Rand::new(self.cfg.seed, u64::from(i));
        let id = mbi(u64::from(i));
        let mut b = BeneficiaryRecord::eligible(id.clone());
        let u = r.unit();
        if u < 0.03 {
            b.months_group_health_plan = 1 + r.below(11) as u32;
            b.months_a_and_b = 12 - b.months_group_health_plan;
        } else if u < 0.04 {
            b.months_a_or_b_only = 1 + r.below(11) as u32;
            b.months_a_and_b = 12 - b.months_a_or_b_only;
        } else if u < 0.045 {
            b.us_resident = false;
        } else if u < 0.05 {
            b.other_initiative = true;
        }
        if self.providers.is_empty() {
            return b;
        }
        // A home provider and occasional others.
        let home = self.home(&mut r);
        if r.chance(0.02) {
            let p = &self.providers[home];
            if p.claim_type == ClaimType::Professional {
                b.designated_tin = p.id.clone();
                b.designated_npi = npi(home as u64, 0);
            }
        }
        let span = (self.window.end.day_number() - self.window.start.day_number() + 1) as u64;
        let lookback =
            (self.window.start.day_number() - self.window.lookback_start.day_number()) as u64;
        let n = if r.chance(0.05) {
            0
        } else {
            1 + r.below(u64::from(self.cfg.lines_per_beneficiary) * 2 - 1)
        };
        let mut claim = 0u32;
        for _ in 0..n {
            let provider = if r.chance(0.7) {
                home
            } else {
                self.home(&mut r)
            };
            let day = if r.chance(self.cfg.lookback_share) {
                let start = self.window.lookback_start;
                start.add_days(r.below(lookback) as i32).unwrap_or(start)
            } else {
                let start = self.window.start;
                start.add_days(r.below(span) as i32).unwrap_or(start)
            };
            claim += 1;
            self.line(&mut r, &id, claim, provider, day, lines);
        }
        b
    }

    fn home(&self, r: &mut Rand) -> usize {
        let aco_tins = (self.cfg.acos * self.cfg.tins_per_aco) as u64;
        let outside = u64::from(self.cfg.outside_tins);
        let centers = u64::from(self.cfg.health_centers);
        let u = r.unit();
        let pick = if u < 0.45 && aco_tins > 0 {
            r.below(aco_tins)
        } else if u < 0.9 && outside > 0 {
            aco_tins + r.below(outside)
        } else if centers > 0 {
            aco_tins + outside + r.below(centers)
        } else {
            r.below(self.providers.len() as u64)
        };
        pick as usize
    }

    fn line(
        &self,
        r: &mut Rand,
        bene: &str,
        claim: u32,
        provider: usize,
        day: Date,
        out: &mut Vec<ClaimRecord>,
    ) {
        let p = &self.providers[provider];
        let claim_id = format!(
            "{}{:08}{:04}",
            &p.id[p.id.len().saturating_sub(4)..],
            provider,
            claim
        ) + &bene[bene.len().saturating_sub(4)..];
        let mut rec = ClaimRecord {
            claim_id,
            line_number: 1,
            beneficiary_id: bene.to_string(),
            service_date: day,
            hcpcs: "99213",
            revenue_center: "",
            place_of_service: "11",
            claim_type: p.claim_type,
            tin: String::new(),
            ccn: String::new(),
            npi: npi(provider as u64, r.below(4)),
            specialty: "",
            allowed_cents: 0,
            version: Version::Original,
        };
        match p.claim_type {
            ClaimType::Professional => {
                rec.tin = p.id.clone();
                let s = r.unit();
                rec.specialty = if s < 0.55 {
                    r.pick(PCP_SPECS)
                } else if s < 0.75 {
                    r.pick(NPP_SPECS)
                } else if s < 0.9 {
                    r.pick(STEP2_SPECS)
                } else {
                    r.pick(OTHER_SPECS)
                };
                let (code, cents) = if r.chance(0.1) {
                    r.pick(OTHER_CODES)
                } else {
                    let total: u32 = PC_CODES.iter().map(|c| c.2).sum();
                    let mut k = r.below(u64::from(total)) as u32;
                    let mut chosen = (PC_CODES[0].0, PC_CODES[0].1);
                    for &(c, a, w) in PC_CODES {
                        if k < w {
                            chosen = (c, a);
                            break;
                        }
                        k -= w;
                    }
                    chosen
                };
                rec.hcpcs = code;
                rec.place_of_service = match code {
                    "99308" if r.chance(0.5) => "31",
                    "99308" => "32",
                    "99349" => "12",
                    _ => "11",
                };
                // +-10% around the fee schedule amount, in whole cents.
                rec.allowed_cents = cents * (90 + r.below(21) as i64) / 100;
            }
            _ => {
                rec.ccn = p.id.clone();
                rec.place_of_service = "";
                rec.revenue_center = "0521";
                rec.hcpcs = r.pick(&["G0467", "G0466", "99213", "99214"]);
                rec.specialty = if r.chance(0.7) {
                    r.pick(PCP_SPECS)
                } else {
                    r.pick(NPP_SPECS)
                };
                rec.allowed_cents = 17_000 + r.below(6_000) as i64;
            }
        }
        let u = r.unit();
        out.push(rec.clone());
        if u < 0.02 {
            // Cancelled.
            out.push(ClaimRecord {
                allowed_cents: -rec.allowed_cents,
                version: Version::Cancellation,
                ..rec
            });
        } else if u < 0.03 {
            // Adjusted: the original is cancelled and a new version carries the corrected amount.
            let corrected = rec.allowed_cents * 9 / 10;
            out.push(ClaimRecord {
                allowed_cents: -rec.allowed_cents,
                version: Version::Cancellation,
                ..rec.clone()
            });
            out.push(ClaimRecord {
                allowed_cents: corrected,
                version: Version::Adjustment,
                ..rec
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_and_mbi_format() {
        let s = Synthetic::new(Config {
            beneficiaries: 50,
            ..Config::default()
        });
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..50 {
            assert_eq!(s.beneficiary(i, &mut a), s.beneficiary(i, &mut b));
        }
        assert_eq!(a, b);
        assert!(a.len() > 200, "about 12 lines per beneficiary: {}", a.len());
        let other = Synthetic::new(Config {
            seed: 2,
            ..Config::default()
        });
        let mut c = Vec::new();
        for i in 0..50 {
            other.beneficiary(i, &mut c);
        }
        assert_ne!(a, c);
        let ids: std::collections::HashSet<String> = (0..100_000).map(mbi).collect();
        assert_eq!(ids.len(), 100_000);
        for id in ids.iter().take(100) {
            let b = id.as_bytes();
            assert_eq!(b.len(), 11);
            assert!(b[0].is_ascii_digit() && b[0] != b'0');
            assert!(b[1].is_ascii_uppercase() && !b"SLOIBZ".contains(&b[1]));
            assert!(b[3].is_ascii_digit() && b[6].is_ascii_digit() && b[9].is_ascii_digit());
        }
    }
}
