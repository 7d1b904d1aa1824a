//! A whole assignment run in memory: beneficiary records and claim lines in (any order, any
//! source), assignments out. Pure (no I/O): the CLI, the service's finalize and the benchmarks
//! drive it.
//!
//! Memory per beneficiary: the identifier (interned once), its facts (about 40 bytes) and one
//! 64-byte tally per entity that furnished primary care ([`crate::Population`]). Lines
//! without a claim id are tallied as they come. A line with a claim id is one version of its
//! claim line, and a cancellation may arrive after its original in any later file or batch: a
//! claim line with a cancellation or adjustment keeps its resolution state (about 80 bytes: the
//! key, the current version's classification and two counters) until [`Run::finish`] tallies its
//! current version once ([`crate::versions`]). Callers that can read their input twice
//! (files, stored batches) first [`Run::prescan`] every line, so that claim lines with an original
//! only (about 97% of them) are tallied at once and cost nothing more; without a prescan every
//! claim line with a claim id keeps its state until `finish` (correct, about 2 KB per beneficiary).

use crate::input::{RawBeneficiary, RawLine, small_code};
use crate::{
    AcoSpec, Assignment, Beneficiary, ClaimKey, ClaimType, Counted, Entity, EntityKind, FastMap,
    FastSet, Line, Population, Registry, RuleError, RuleSet, Skip, StepKind, Tally, TieBreak,
    Version, Versions, WindowKind, codes,
};

/// What a run is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// Performance year.
    pub performance_year: i32,
    /// Window.
    pub window: WindowKind,
    /// Tie-break policy.
    pub tie_break: TieBreak,
    /// ACOs and participants.
    pub acos: Vec<AcoSpec>,
}

impl RunConfig {
    /// A retrospective run of `acos` for `performance_year`, ties going to the most recent service
    /// (the default [`TieBreak`]).
    pub fn retrospective(performance_year: i32, acos: Vec<AcoSpec>) -> Self {
        Self {
            performance_year,
            window: WindowKind::Retrospective,
            tie_break: TieBreak::default(),
            acos,
        }
    }
}

/// Line counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineStats {
    /// Lines received.
    pub lines: u64,
    /// Lines counted as primary care services.
    pub counted: u64,
    /// Lines not counted, by [`Skip`] (index order of [`Skip::ALL`]).
    pub skipped: [u64; 5],
    /// Claim-line versions that do not count: cancelled or replaced versions and the
    /// cancellations that retired them.
    pub superseded: u64,
    /// Cancellations whose original was not received (ignored).
    pub unmatched_cancellations: u64,
}

impl LineStats {
    /// Counts one line's outcome: counted, or skipped for its reason.
    fn count<T>(&mut self, outcome: &Result<T, Skip>) {
        match outcome {
            Ok(_) => self.counted += 1,
            Err(s) => self.skipped[s.index()] += 1,
        }
    }

    /// Adds another set of counters.
    pub fn merge(&mut self, o: &LineStats) {
        self.lines = self.lines.saturating_add(o.lines);
        self.counted = self.counted.saturating_add(o.counted);
        for (a, b) in self.skipped.iter_mut().zip(o.skipped) {
            *a = a.saturating_add(b);
        }
        self.superseded = self.superseded.saturating_add(o.superseded);
        self.unmatched_cancellations = self
            .unmatched_cancellations
            .saturating_add(o.unmatched_cancellations);
    }
}

/// Per-ACO counts of a finished run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcoCounts {
    /// ACO id.
    pub aco_id: String,
    /// Assigned in total.
    pub assigned: u64,
    /// By voluntary alignment.
    pub voluntary_alignment: u64,
    /// By step 1.
    pub step_1: u64,
    /// By step 2.
    pub step_2: u64,
    /// By step 3.
    pub step_3: u64,
    /// Fewer than 5,000 assigned (425.110).
    pub below_minimum: bool,
}

impl AcoCounts {
    /// Adds the counts of another range of the same run ([`Run::assign_range`], ACOs in the same
    /// order).
    pub fn add(into: &mut [AcoCounts], o: &[AcoCounts]) {
        for (a, b) in into.iter_mut().zip(o) {
            a.assigned += b.assigned;
            a.voluntary_alignment += b.voluntary_alignment;
            a.step_1 += b.step_1;
            a.step_2 += b.step_2;
            a.step_3 += b.step_3;
        }
    }

    /// Sets [`AcoCounts::below_minimum`] once every range is added (425.110).
    pub fn finish(counts: &mut [AcoCounts]) {
        for c in counts {
            c.below_minimum = c.assigned < crate::MINIMUM_ASSIGNED;
        }
    }
}

/// Beneficiary identifiers interned to dense indexes. An identifier of 1-12 characters `0-9A-Z`
/// (every MBI) is packed into a `u64` (base 37), so a national run keeps 8 bytes per beneficiary
/// plus its map slot instead of two heap strings; anything else is kept as a string.
#[derive(Debug, Default)]
struct BeneIds {
    packed: FastMap<u64, u32>,
    other: FastMap<Box<str>, u32>,
    other_names: Vec<Box<str>>,
    /// Per index: the packed id, or `OTHER | index into other_names`.
    keys: Vec<u64>,
    /// The last packed id interned and its index (lines come grouped by beneficiary); key 0 is
    /// no id.
    last: (u64, u32),
}

const OTHER: u64 = 1 << 63;

fn digit(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c - b'0') + 1),
        b'A'..=b'Z' => Some(u64::from(c - b'A') + 11),
        _ => None,
    }
}

/// An identifier of 1-12 characters `0-9A-Z` packed into a `u64` (base 37, never 0).
pub(crate) fn pack(id: &str) -> Option<u64> {
    if id.is_empty() || id.len() > 12 {
        return None;
    }
    id.bytes()
        .try_fold(0u64, |acc, c| Some(acc * 37 + digit(c)?))
}

/// The key of a beneficiary id in a prescan's set of touched claim lines: the packed id (every
/// MBI), else `OTHER` and a 63-bit FNV-1a digest of the id.
pub fn bene_key(id: &str) -> u64 {
    pack(id).unwrap_or_else(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        OTHER | (h & !OTHER)
    })
}

/// One shard of a run split by beneficiary: shard `index` of `count` holds the beneficiaries whose
/// id's 64-bit FNV-1a digest is `index` modulo `count` (stable across releases and machines).
/// Assignment of a beneficiary depends only on its own records and claims and the participant
/// list, so the shards' assignments together are the whole run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, `0..count`.
    pub index: u32,
    /// Number of shards (at least 1).
    pub count: u32,
}

impl Shard {
    /// Whether beneficiary `id` is in this shard.
    pub fn contains(&self, id: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in id.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h % u64::from(self.count.max(1)) == u64::from(self.index)
    }
}

/// Claim lines that have a cancellation or adjustment, by ([`bene_key`], claim line): what a
/// prescan ([`Run::prescan`], [`Chunk::prescan`]) finds.
pub type Touched = FastSet<(u64, ClaimKey)>;

impl BeneIds {
    /// Interns the `i`th id of another table (same result as interning its name).
    fn intern_from(&mut self, o: &BeneIds, i: u32) -> u32 {
        let k = o.keys[i as usize];
        if k & OTHER != 0 {
            let name = &o.other_names[(k & !OTHER) as usize];
            return self.intern(name);
        }
        let next = self.keys.len() as u32;
        let j = *self.packed.entry(k).or_insert(next);
        if j == next {
            self.keys.push(k);
        }
        j
    }

    fn intern(&mut self, id: &str) -> u32 {
        let next = self.keys.len() as u32;
        match pack(id) {
            Some(k) => {
                if self.last.0 == k {
                    return self.last.1;
                }
                let i = *self.packed.entry(k).or_insert(next);
                if i == next {
                    self.keys.push(k);
                }
                self.last = (k, i);
                i
            }
            None => {
                if let Some(&i) = self.other.get(id) {
                    return i;
                }
                self.other.insert(id.into(), next);
                self.keys.push(OTHER | self.other_names.len() as u64);
                self.other_names.push(id.into());
                next
            }
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    /// The [`bene_key`] of the `i`th id.
    fn bene_key(&self, i: u32) -> u64 {
        match self.keys.get(i as usize) {
            Some(&k) if k & OTHER != 0 => self
                .other_names
                .get((k & !OTHER) as usize)
                .map_or(k, |n| bene_key(n)),
            Some(&k) => k,
            None => 0,
        }
    }

    fn name<'a>(&'a self, i: u32, buf: &'a mut [u8; 12]) -> &'a str {
        let Some(&k) = self.keys.get(i as usize) else {
            return "";
        };
        if k & OTHER != 0 {
            return self
                .other_names
                .get((k & !OTHER) as usize)
                .map_or("", |s| s);
        }
        let mut n = k;
        let mut len = 0;
        while n > 0 && len < 12 {
            let d = (n % 37) as u8;
            buf[len] = if d <= 10 { b'0' + d - 1 } else { b'A' + d - 11 };
            n /= 37;
            len += 1;
        }
        buf[..len].reverse();
        std::str::from_utf8(&buf[..len]).unwrap_or("")
    }
}

/// A run in progress.
#[derive(Debug)]
pub struct Run {
    /// The rules.
    pub rules: RuleSet,
    /// Tie-break policy.
    pub tie: TieBreak,
    /// Participants and interned TINs/CCNs.
    pub reg: Registry,
    aco_index: FastMap<String, u32>,
    benes: BeneIds,
    facts: Vec<Beneficiary>,
    pop: Population,
    /// Claim lines with a claim id, by (beneficiary, claim line), until [`Run::finish`].
    versions: FastMap<(u32, ClaimKey), Versions<Result<Counted, Skip>>>,
    /// After a [`Run::prescan`]: the claim lines that have a cancellation or adjustment.
    touched: Option<Touched>,
    /// Line counters.
    pub stats: LineStats,
    /// Beneficiary records received.
    pub beneficiary_records: u64,
    shard: Option<Shard>,
    /// Reading in one pass ([`Run::chunks_one_pass`]): what tells whether it was exact.
    one_pass: Option<OnePass>,
}

/// What [`Run::absorb`] keeps of chunks read in one pass: a chunk decides which of its claim
/// lines have a cancellation or adjustment from its own lines only, which is what a prescan of
/// the whole input decides for every beneficiary whose lines are all in one chunk. A beneficiary
/// a chunk defers ([`Chunk::defer`], one at an edge of the chunk) has its claim-id lines decided
/// at [`Run::finish`] from every chunk's prescan instead, so it may span chunks.
#[derive(Debug, Default)]
struct OnePass {
    /// Per beneficiary index, one bit: its lines were in an absorbed chunk.
    seen: Vec<u64>,
    /// Per beneficiary index, one bit: its lines were in an absorbed chunk that did not defer it.
    exposed: Vec<u64>,
    /// Beneficiaries (by [`bene_key`]) whose lines were in more than one chunk, one of which did
    /// not defer them.
    spanning: FastSet<u64>,
    /// The claim-id lines of deferred beneficiaries (run beneficiary index), in input order.
    deferred: Vec<(u32, ClaimKey, Version, Result<Counted, Skip>)>,
    /// The claim lines of deferred beneficiaries that have a cancellation or adjustment.
    deferred_touched: Touched,
    /// Beneficiaries (by [`bene_key`]) with a claim line that has a cancellation or adjustment.
    touched: FastSet<u64>,
    /// A beneficiary is both: the chunks may have decided differently from a prescan.
    inexact: bool,
}

/// A beneficiary record's facts: its designation resolved against the participants in `reg`
/// (425.402(e)) and its prior-year ACO by id.
fn facts(
    reg: &Registry,
    aco_index: &FastMap<String, u32>,
    raw: &RawBeneficiary<'_>,
) -> Beneficiary {
    Beneficiary {
        enrollment: Some(raw.enrollment),
        designation: reg.designation(raw.designated_npi, raw.designated_tin),
        designated_specialty: codes::specialty_key(raw.designated_specialty),
        prior_aco: aco_index.get(raw.prior_year_aco_id).copied(),
    }
}

/// Encodes a text claim line for the engine (interning its TIN and CCN).
pub fn encode(raw: &RawLine<'_>, reg: &mut Registry) -> Line {
    let professional = raw.claim_type == ClaimType::Professional;
    Line {
        day: raw.day,
        hcpcs: codes::hcpcs_key(raw.hcpcs),
        revenue_center: small_code(raw.revenue_center, 4),
        pos: small_code(raw.place_of_service, 2),
        claim_type: raw.claim_type,
        tin: (professional && !raw.tin.is_empty()).then(|| reg.tin(raw.tin)),
        ccn: (!professional && !raw.ccn.is_empty()).then(|| reg.ccn(raw.ccn)),
        specialty: codes::specialty_key(raw.specialty),
        allowed_cents: raw.allowed_cents,
        version: raw.version,
        claim: ClaimKey::new(raw.claim_id, raw.line_number),
    }
}

impl Run {
    /// A new run.
    pub fn new(cfg: &RunConfig) -> Result<Run, RuleError> {
        let rules = RuleSet::new(cfg.performance_year, cfg.window)?;
        let aco_index = cfg
            .acos
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i as u32))
            .collect();
        Ok(Run {
            rules,
            tie: cfg.tie_break,
            reg: Registry::new(&cfg.acos),
            aco_index,
            benes: BeneIds::default(),
            facts: Vec::new(),
            pop: Population::new(),
            versions: FastMap::default(),
            touched: None,
            stats: LineStats::default(),
            beneficiary_records: 0,
            shard: None,
            one_pass: None,
        })
    }

    fn bene(&mut self, id: &str) -> u32 {
        let b = self.benes.intern(id);
        if self.facts.len() <= b as usize {
            self.facts.resize(b as usize + 1, Beneficiary::default());
        }
        b
    }

    /// Adds (or replaces: the last record wins) a beneficiary record.
    pub fn add_beneficiary(&mut self, raw: &RawBeneficiary<'_>) {
        let b = self.bene(raw.id);
        if self.shard.is_some_and(|s| !s.contains(raw.id)) {
            return;
        }
        self.facts[b as usize] = facts(&self.reg, &self.aco_index, raw);
        self.beneficiary_records += 1;
    }

    /// Adds a claim line. A line without a claim id is classified and tallied now (returning why
    /// it does not count, if it does not); a line with one is kept as a version of its claim line
    /// until [`Run::finish`] (`Ok`).
    pub fn add_line(&mut self, raw: &RawLine<'_>) -> Result<(), Skip> {
        let line = encode(raw, &mut self.reg);
        if line.claim.is_some() {
            let b = self.bene(raw.beneficiary_id);
            let untouched = line.version == Version::Original
                && self
                    .touched
                    .as_ref()
                    .is_some_and(|t| !t.contains(&(bene_key(raw.beneficiary_id), line.claim)));
            if !untouched {
                self.stats.lines += 1;
                let outcome = self.rules.classify(&line.as_current(), &self.reg);
                self.add_version(b, line.claim, line.version, outcome);
                return Ok(());
            }
            // An original whose claim line has no other version (prescan): it counts as it is.
        }
        self.stats.lines += 1;
        let outcome = self.rules.classify(&line, &self.reg);
        self.stats.count(&outcome);
        let c = outcome?;
        let b = self.bene(raw.beneficiary_id);
        self.pop.add(b, &c);
        Ok(())
    }

    /// First pass over the input (call for every claim line before the first [`Run::add_line`] or
    /// [`Run::add_stored_version`]): notes the claim lines that have a cancellation or an
    /// adjustment, so the others are tallied as they come in the second pass.
    pub fn prescan(&mut self, beneficiary_id: &str, claim_id: &str, line_number: u32, v: Version) {
        self.prescan_key(beneficiary_id, ClaimKey::new(claim_id, line_number), v);
    }

    /// [`Run::prescan`] by claim key (stored batches).
    pub fn prescan_key(&mut self, beneficiary_id: &str, key: ClaimKey, v: Version) {
        self.bene(beneficiary_id);
        let touched = self.touched.get_or_insert_with(Default::default);
        if key.is_some() && v != Version::Original {
            touched.insert((bene_key(beneficiary_id), key));
        }
    }

    /// Adds one version of a claim line: `outcome` is the line classified as its claim line's
    /// current version (unused for a cancellation).
    fn add_version(
        &mut self,
        bene: u32,
        key: ClaimKey,
        version: Version,
        outcome: Result<Counted, Skip>,
    ) {
        self.versions
            .entry((bene, key))
            .or_default()
            .push(version, outcome);
    }

    /// Adds a stored version of a claim line (from an upload batch, whose counters already count
    /// the line) of a beneficiary.
    pub fn add_stored_version(
        &mut self,
        beneficiary_id: &str,
        key: ClaimKey,
        version: Version,
        outcome: Result<Counted, Skip>,
    ) {
        let b = self.bene(beneficiary_id);
        let untouched = version == Version::Original
            && self
                .touched
                .as_ref()
                .is_some_and(|t| !t.contains(&(bene_key(beneficiary_id), key)));
        match outcome {
            Ok(c) if untouched => {
                self.pop.add(b, &c);
                self.stats.counted += 1;
            }
            Err(s) if untouched => self.stats.skipped[s.index()] += 1,
            _ => self.add_version(b, key, version, outcome),
        }
    }

    /// Resolves every claim line's versions and tallies each line's current version (call once
    /// every line is in; more lines may follow and a later call resolves those).
    pub fn finish(&mut self) {
        self.touched = None;
        // The deferred beneficiaries' lines, as a prescan of the whole input decides them.
        if let Some(o) = &mut self.one_pass {
            let touched = std::mem::take(&mut o.deferred_touched);
            for (b, key, v, outcome) in std::mem::take(&mut o.deferred) {
                let k = self.benes.bene_key(b);
                if v == Version::Original && !touched.contains(&(k, key)) {
                    self.stats.count(&outcome);
                    if let Ok(c) = outcome {
                        self.pop.add(b, &c);
                    }
                } else {
                    self.add_version(b, key, v, outcome);
                }
            }
        }
        for ((b, _), v) in std::mem::take(&mut self.versions) {
            let r = v.resolve();
            self.stats.superseded = self.stats.superseded.saturating_add(r.superseded);
            self.stats.unmatched_cancellations = self
                .stats
                .unmatched_cancellations
                .saturating_add(r.unmatched_cancellations);
            match r.current {
                Some(Ok(c)) => {
                    self.pop.add(b, &c);
                    self.stats.counted += 1;
                }
                Some(Err(s)) => self.stats.skipped[s.index()] += 1,
                None => {}
            }
        }
    }

    /// Claim lines waiting for [`Run::finish`].
    pub fn pending_claim_lines(&self) -> usize {
        self.versions.len()
    }

    /// Merges a partial tally (from a stored batch) of a beneficiary.
    pub fn add_tally(&mut self, beneficiary_id: &str, t: &Tally) {
        let b = self.bene(beneficiary_id);
        self.pop.merge(b, t);
    }

    /// Resolves claim versions ([`Run::finish`]) and releases spare capacity (call before
    /// assigning a large population).
    pub fn shrink(&mut self) {
        self.finish();
        self.pop.shrink();
        self.facts.shrink_to_fit();
        self.benes.keys.shrink_to_fit();
    }

    /// Beneficiaries known (records or claims).
    pub fn beneficiaries(&self) -> usize {
        self.benes.len()
    }

    /// Heap bytes of the population tallies (for memory reports).
    pub fn tally_bytes(&self) -> usize {
        self.pop.heap_bytes()
    }

    /// Number of (beneficiary, entity) tallies.
    pub fn tally_count(&self) -> usize {
        self.pop.tally_count()
    }

    /// Restricts the run to one shard (call before adding anything): beneficiaries of other shards
    /// are still interned, so that each shard knows every beneficiary's place in the input order,
    /// but their records and lines are dropped and they are not assigned.
    pub fn set_shard(&mut self, shard: Shard) {
        self.shard = Some(shard);
    }

    /// Assigns every beneficiary, calling `each(beneficiary id, facts, assignment)`, and returns the
    /// per-ACO counts (every ACO of the run, in participant-list order). Claim lines with a claim
    /// id count only once resolved: call [`Run::finish`] (or [`Run::shrink`]) first.
    pub fn assign_all(
        &self,
        mut each: impl FnMut(&str, &Beneficiary, &Assignment),
    ) -> Vec<AcoCounts> {
        self.assign_each(|_, id, b, a| each(id, b, a))
    }

    /// [`Run::assign_all`], `each` also given the beneficiary's place in the input order (the
    /// order of first appearance; of a shard's beneficiaries, their place in the whole input).
    pub fn assign_each(
        &self,
        each: impl FnMut(u32, &str, &Beneficiary, &Assignment),
    ) -> Vec<AcoCounts> {
        let mut counts = self.assign_range(0..self.benes.len() as u32, each);
        AcoCounts::finish(&mut counts);
        counts
    }

    /// [`Run::assign_each`] for the beneficiaries at places `range` of the input order (ranges
    /// can be assigned on several threads, the output put together in range order): the per-ACO
    /// counts of the range, to be added up with [`AcoCounts::add`] and finished with
    /// [`AcoCounts::finish`].
    pub fn assign_range(
        &self,
        range: std::ops::Range<u32>,
        mut each: impl FnMut(u32, &str, &Beneficiary, &Assignment),
    ) -> Vec<AcoCounts> {
        let mut counts: Vec<AcoCounts> = self
            .reg
            .acos()
            .iter()
            .map(|id| AcoCounts {
                aco_id: id.clone(),
                ..AcoCounts::default()
            })
            .collect();
        let mut tallies = Vec::new();
        let mut buf = [0u8; 12];
        let end = range.end.min(self.benes.len() as u32);
        for b in range.start..end {
            if let Some(s) = self.shard
                && !s.contains(self.benes.name(b, &mut buf))
            {
                continue;
            }
            self.pop.tallies(b, &mut tallies);
            let facts = &self.facts[b as usize];
            let a = crate::assign(&self.rules, facts, &tallies, self.tie);
            if let (Some(aco), Some(step)) = (a.aco, a.step)
                && let Some(c) = counts.get_mut(aco as usize)
            {
                c.assigned += 1;
                match step {
                    StepKind::VoluntaryAlignment => c.voluntary_alignment += 1,
                    StepKind::Step1 => c.step_1 += 1,
                    StepKind::Step2 => c.step_2 += 1,
                    StepKind::Step3 => c.step_3 += 1,
                }
            }
            each(b, self.benes.name(b, &mut buf), facts, &a);
        }
        counts
    }

    /// The printable name of an entity.
    pub fn entity_name(&self, e: Entity) -> String {
        self.reg.entity_name(e)
    }

    /// Appends the printable name of an entity to `out`.
    pub fn write_entity_name(&self, e: Entity, out: &mut String) {
        self.reg.write_entity_name(e, out);
    }
}

/// What the chunks of a run share while they are read in parallel ([`Run::chunks`]): the rules,
/// the participants' registry and the prescan's touched claim lines.
#[derive(Debug)]
pub struct ChunkContext {
    rules: RuleSet,
    parent: Registry,
    aco_index: FastMap<String, u32>,
    touched: Option<Touched>,
    shard: Option<Shard>,
    /// Each chunk is prescanned on its own ([`Run::chunks_one_pass`]).
    one_pass: bool,
}

/// A share of a run's claim lines read on its own (one thread's piece of a file), merged into the
/// run in input order by [`Run::absorb`]: the run is then the one that reading every line in order
/// through [`Run::prescan`] and [`Run::add_line`] gives, whatever the number of chunks.
///
/// Identifiers are interned in the chunk (beneficiaries, TINs and CCNs, in the order first seen)
/// and once per chunk into the run, so the run's ids are the order of first appearance in the
/// input, as a single reader gives.
#[derive(Debug)]
pub struct Chunk<'a> {
    ctx: &'a ChunkContext,
    reg: Registry,
    benes: BeneIds,
    pop: Population,
    versions: Vec<(u32, ClaimKey, Version, Result<Counted, Skip>)>,
    touched: Vec<(u64, ClaimKey)>,
    /// One pass ([`Run::chunks_one_pass`]): the chunk's own prescan.
    local: Touched,
    /// One pass: the beneficiaries deferred ([`Chunk::defer`]) and their claim-id lines (by the
    /// chunk's beneficiary index).
    deferred: Vec<String>,
    deferred_lines: Vec<(u32, ClaimKey, Version, Result<Counted, Skip>)>,
    prescanned: bool,
    /// Beneficiary records, by the chunk's beneficiary index (the last record wins).
    facts: Vec<Option<Beneficiary>>,
    /// Beneficiary records received.
    pub beneficiary_records: u64,
    /// Line counters.
    pub stats: LineStats,
}

impl<'a> Chunk<'a> {
    /// An empty chunk.
    pub fn new(ctx: &'a ChunkContext) -> Chunk<'a> {
        Chunk {
            ctx,
            reg: ctx.parent.local(),
            benes: BeneIds::default(),
            pop: Population::new(),
            versions: Vec::new(),
            touched: Vec::new(),
            local: Touched::default(),
            deferred: Vec::new(),
            deferred_lines: Vec::new(),
            prescanned: false,
            facts: Vec::new(),
            beneficiary_records: 0,
            stats: LineStats::default(),
        }
    }

    /// Adds (or replaces: the last record wins) a beneficiary record, as [`Run::add_beneficiary`]
    /// (a beneficiaries file read in chunks).
    pub fn add_beneficiary(&mut self, raw: &RawBeneficiary<'_>) {
        let b = self.benes.intern(raw.id) as usize;
        if self.ctx.shard.is_some_and(|s| !s.contains(raw.id)) {
            return;
        }
        if self.facts.len() <= b {
            self.facts.resize(b + 1, None);
        }
        self.facts[b] = Some(facts(&self.ctx.parent, &self.ctx.aco_index, raw));
        self.beneficiary_records += 1;
    }

    /// The first pass, as [`Run::prescan`] but without interning the beneficiary: a run read in
    /// chunks interns every line's beneficiary in [`Chunk::add_line`], the same order. Read in one
    /// pass ([`Run::chunks_one_pass`]), call it for every line of the chunk before its first
    /// [`Chunk::add_line`].
    pub fn prescan(&mut self, beneficiary_id: &str, claim_id: &str, line_number: u32, v: Version) {
        self.prescanned = true;
        if !claim_id.is_empty()
            && v != Version::Original
            && self.ctx.shard.is_none_or(|s| s.contains(beneficiary_id))
        {
            let key = (
                bene_key(beneficiary_id),
                ClaimKey::new(claim_id, line_number),
            );
            if self.ctx.one_pass {
                self.local.insert(key);
            }
            self.touched.push(key);
        }
    }

    /// Read in one pass ([`Run::chunks_one_pass`]): the claim-id lines of beneficiary
    /// `beneficiary_id` are not decided from this chunk's own prescan but at [`Run::finish`],
    /// from the prescans of every chunk (call before the chunk's first [`Chunk::add_line`]). For
    /// the beneficiaries at a chunk's edges, whose lines may go on in the chunk before or after:
    /// a beneficiary that every chunk it is in defers keeps the run exact
    /// ([`Run::one_pass_exact`]).
    pub fn defer(&mut self, beneficiary_id: &str) {
        if self.ctx.one_pass && !self.deferred.iter().any(|d| d == beneficiary_id) {
            self.deferred.push(beneficiary_id.to_owned());
        }
    }

    /// Adds a claim line, as [`Run::add_line`] (TINs and CCNs interned in the chunk).
    pub fn add_line(&mut self, raw: &RawLine<'_>) -> Result<(), Skip> {
        let professional = raw.claim_type == ClaimType::Professional;
        let mut line = encode(
            &RawLine {
                tin: "",
                ccn: "",
                ..*raw
            },
            &mut self.reg,
        );
        let parent = &self.ctx.parent;
        line.tin =
            (professional && !raw.tin.is_empty()).then(|| self.reg.tin_from(raw.tin, parent));
        line.ccn =
            (!professional && !raw.ccn.is_empty()).then(|| self.reg.ccn_from(raw.ccn, parent));
        // Every line's beneficiary, in order: the order a prescan interns them in.
        let b = self.benes.intern(raw.beneficiary_id);
        if self
            .ctx
            .shard
            .is_some_and(|s| !s.contains(raw.beneficiary_id))
        {
            return Ok(());
        }
        self.stats.lines += 1;
        let rules = &self.ctx.rules;
        if line.claim.is_some() {
            if !self.deferred.is_empty() && self.deferred.iter().any(|d| d == raw.beneficiary_id) {
                let outcome = rules.classify(&line.as_current(), &self.reg);
                self.deferred_lines
                    .push((b, line.claim, line.version, outcome));
                return Ok(());
            }
            let touched = if self.ctx.one_pass {
                Some(&self.local)
            } else {
                self.ctx.touched.as_ref()
            };
            let untouched = line.version == Version::Original
                && touched.is_some_and(|t| !t.contains(&(self.benes.bene_key(b), line.claim)));
            if !untouched {
                let outcome = rules.classify(&line.as_current(), &self.reg);
                self.versions.push((b, line.claim, line.version, outcome));
                return Ok(());
            }
        }
        let outcome = rules.classify(&line, &self.reg);
        self.stats.count(&outcome);
        self.pop.add(b, &outcome?);
        Ok(())
    }
}

impl Run {
    /// Starts reading claim lines in [`Chunk`]s (after any prescan): the context they share. Call
    /// [`Run::end_chunks`] with it once every chunk is absorbed.
    pub fn chunks(&mut self) -> ChunkContext {
        ChunkContext {
            rules: self.rules.clone(),
            parent: self.reg.clone(),
            aco_index: self.aco_index.clone(),
            touched: self.touched.take(),
            shard: self.shard,
            one_pass: false,
        }
    }

    /// Starts reading claim lines in [`Chunk`]s in one pass, without a prescan of the whole
    /// input: each chunk is prescanned on its own ([`Chunk::prescan`] for each of its lines, then
    /// [`Chunk::add_line`]). Exact when no beneficiary with a cancelled or adjusted claim line has
    /// lines in more than one chunk (input grouped by beneficiary, cut between beneficiaries);
    /// [`Run::one_pass_exact`] says whether that held, and when it did not the run must be read
    /// again with a prescan.
    pub fn chunks_one_pass(&mut self) -> ChunkContext {
        self.one_pass.get_or_insert_with(OnePass::default);
        ChunkContext {
            one_pass: true,
            ..self.chunks()
        }
    }

    /// Whether every chunk read in one pass ([`Run::chunks_one_pass`]) decided as a prescan of
    /// the whole input would have (so far: `false` is final).
    pub fn one_pass_exact(&self) -> bool {
        self.one_pass.as_ref().is_none_or(|o| !o.inexact)
    }

    /// Whether the claim lines were read in one pass ([`Run::chunks_one_pass`]), exactly.
    pub fn read_in_one_pass(&self) -> bool {
        self.one_pass.as_ref().is_some_and(|o| !o.inexact)
    }

    /// Ends reading in chunks (the prescan's state comes back to the run).
    pub fn end_chunks(&mut self, ctx: ChunkContext) {
        if let Some(t) = ctx.touched {
            self.touched.get_or_insert_with(Default::default).extend(t);
        }
    }

    /// Merges a chunk (chunks in input order): its beneficiaries, TINs and CCNs are interned in
    /// the order the chunk first saw them, then its tallies, claim-line versions, touched claim
    /// lines and counters are added.
    pub fn absorb(&mut self, c: Chunk<'_>) {
        let tins = c.reg.tins();
        let tin_map: Vec<u32> = (0..tins.len() as u32)
            .map(|i| self.reg.tin(tins.name(i)))
            .collect();
        let ccns = c.reg.ccns();
        let ccn_map: Vec<u32> = (0..ccns.len() as u32)
            .map(|i| self.reg.ccn(ccns.name(i)))
            .collect();
        let remap = |e: Entity| match e.kind() {
            EntityKind::Aco(_) => e,
            EntityKind::Tin(t) => Entity::tin(tin_map[t as usize]),
            EntityKind::Ccn(x) => Entity::ccn(ccn_map[x as usize]),
        };
        let bene_map: Vec<u32> = (0..c.benes.len() as u32)
            .map(|i| self.benes.intern_from(&c.benes, i))
            .collect();
        if c.ctx.one_pass
            && let Some(o) = &mut self.one_pass
        {
            let deferred: Vec<u64> = c.deferred.iter().map(|d| bene_key(d)).collect();
            for (i, &g) in bene_map.iter().enumerate() {
                let (w, bit) = (g as usize / 64, 1u64 << (g % 64));
                if o.seen.len() <= w {
                    o.seen.resize(w + 1, 0);
                    o.exposed.resize(w + 1, 0);
                }
                let k = c.benes.bene_key(i as u32);
                let (seen, exposed) = (o.seen[w] & bit != 0, o.exposed[w] & bit != 0);
                o.seen[w] |= bit;
                let here = !deferred.contains(&k);
                if here {
                    o.exposed[w] |= bit;
                }
                // In more than one chunk, and in one of them decided by that chunk alone.
                if seen && (here || exposed) {
                    o.inexact |= o.touched.contains(&k);
                    o.spanning.insert(k);
                }
            }
            for &(k, key) in &c.touched {
                o.inexact |= o.spanning.contains(&k);
                o.touched.insert(k);
                if deferred.contains(&k) {
                    o.deferred_touched.insert((k, key));
                }
            }
            for (b, key, v, outcome) in c.deferred_lines {
                let outcome = outcome.map(|o| Counted {
                    entity: remap(o.entity),
                    ..o
                });
                o.deferred.push((bene_map[b as usize], key, v, outcome));
            }
        }
        if self.facts.len() < self.benes.len() {
            self.facts.resize(self.benes.len(), Beneficiary::default());
        }
        for (i, f) in c.facts.into_iter().enumerate() {
            if let Some(f) = f {
                self.facts[bene_map[i] as usize] = f;
            }
        }
        self.beneficiary_records += c.beneficiary_records;
        c.pop.each(|b, t| {
            self.pop.merge(
                bene_map[b as usize],
                &Tally {
                    entity: remap(t.entity),
                    ..*t
                },
            );
        });
        for (b, key, v, outcome) in c.versions {
            let outcome = outcome.map(|o| Counted {
                entity: remap(o.entity),
                ..o
            });
            self.add_version(bene_map[b as usize], key, v, outcome);
        }
        if c.prescanned && !c.ctx.one_pass {
            self.touched
                .get_or_insert_with(Default::default)
                .extend(c.touched);
        }
        self.stats.merge(&c.stats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{Config, Synthetic};

    /// With or without a prescan, and whatever the order of the lines, a run gives every
    /// beneficiary the same assignment and the same line counters (the synthetic population has
    /// cancelled and adjusted claim lines).
    #[test]
    fn prescan_and_line_order_do_not_change_results() {
        let s = Synthetic::new(Config {
            beneficiaries: 3_000,
            ..Config::default()
        });
        let cfg = RunConfig::retrospective(s.config().performance_year, s.acos().to_vec());
        let mut recs = Vec::new();
        for i in 0..3_000 {
            let _ = s.beneficiary(i, &mut recs);
        }
        assert!(recs.iter().any(|r| r.version == Version::Cancellation));
        let results = |prescan: bool, reverse: bool| {
            let mut run = Run::new(&cfg).expect("run");
            let order: Vec<&crate::synthetic::ClaimRecord> = if reverse {
                recs.iter().rev().collect()
            } else {
                recs.iter().collect()
            };
            if prescan {
                for r in &order {
                    run.prescan(&r.beneficiary_id, &r.claim_id, r.line_number, r.version);
                }
            }
            for r in &order {
                let _ = run.add_line(&r.raw());
            }
            run.finish();
            let mut out = Vec::new();
            run.assign_all(|id, _, a| {
                out.push((id.to_string(), a.aco, a.reason, a.competing.clone()))
            });
            out.sort_by(|a, b| a.0.cmp(&b.0));
            (out, run.stats)
        };
        let base = results(false, false);
        assert!(base.1.superseded > 0);
        assert_eq!(
            base.1.lines,
            base.1.counted
                + base.1.skipped.iter().sum::<u64>()
                + base.1.superseded
                + base.1.unmatched_cancellations
        );
        assert_eq!(results(true, false), base);
        assert_eq!(results(true, true), base);
    }

    #[test]
    fn beneficiary_ids_round_trip_packed_or_not() {
        let mut ids = BeneIds::default();
        let names = [
            "1EG4TE5MK73",
            "9ZZZZZZZZZZZ",
            "0",
            "1eg4te5mk73",
            "A-1",
            "",
            "1EG4TE5MK73",
            "1234567890123",
        ];
        let idx: Vec<u32> = names.iter().map(|n| ids.intern(n)).collect();
        assert_eq!(idx, [0, 1, 2, 3, 4, 5, 0, 6]);
        let mut buf = [0u8; 12];
        for (n, i) in names.iter().zip(idx) {
            assert_eq!(ids.name(i, &mut buf), *n);
        }
        assert_eq!(ids.len(), 7);
        assert!(ids.packed.len() == 3 && ids.other.len() == 4);
    }
}
