//! The gRPC adapter: `acorn.attribution.v1.AttributionService` over the rule engine and the store.
//!
//! Protobuf types stay here. Every request is validated at the edge (every problem reported at once
//! as `INVALID_ARGUMENT` with field violations); an upload message is validated and committed as
//! one blob, the message itself (acknowledged = committed, all or nothing per message); finalize
//! replays the stored batches through [`attribution_rules::run::Run`] in two passes, as `assign`
//! reads a file (claim versions first, then records and lines, resolving claim versions across
//! batches), assigns everyone and commits the results and the frozen run in one transaction.
//!
//! Beneficiary identifiers never appear in logs or in error messages; spans carry run and request
//! ids only.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use acorn_proto::{
    attribution::v1::{self as pb, attribution_service_server::AttributionService},
    common::v1 as common,
    fields::{Violations, invalid_argument},
    page::PageQuery,
};
use prost::Message;
use sha2::{Digest, Sha256};
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use attribution_rules::{
    self as engine, AcoSpec, Counted, Entity, EntityKind, RuleError, RuleSet, StepKind, Tally,
    TieBreak, WindowKind,
    run::{AcoCounts, LineStats, Run, RunConfig},
};

use crate::{
    codec::{self, Batch, Named},
    store::{
        Added, Created, Finalization, Finalized, NewBatch, NewRun, ResultRow, Store, StoredRun,
    },
    upload::{self, has_control},
};

const DEFAULT_RUN_PAGE: u32 = 100;
const MAX_RUN_PAGE: u32 = 1000;
const DEFAULT_BENE_PAGE: u32 = 1000;
const MAX_BENE_PAGE: u32 = 10_000;
/// At most this many field violations are reported for one upload message.
const MAX_VIOLATIONS: usize = 100;
/// Batches read from the store at a time during finalize.
const FINALIZE_PAGE: u32 = 64;
/// Results written to the store per transaction during finalize.
const RESULT_CHUNK: usize = 20_000;

/// What the service keeps of an open or finalized run (immutable configuration).
#[derive(Debug)]
struct Context {
    cfg: RunConfig,
    rules: RuleSet,
}

/// The attribution service.
#[derive(Debug, Clone)]
pub struct AttributionApi {
    store: Store,
    contexts: Arc<Mutex<HashMap<String, Arc<Context>>>>,
    finalizing: Arc<Mutex<std::collections::HashSet<String>>>,
}

/// The one mapping from engine rule-set errors to statuses (field paths are the request's).
fn rule_status(err: RuleError) -> Status {
    match err {
        RuleError::PerformanceYear(_) => invalid_argument("performance_year", err.to_string()),
        RuleError::Quarter(_) => invalid_argument("quarter", err.to_string()),
    }
}

fn damaged(e: codec::Damaged) -> Status {
    tracing::error!(error = %e, "stored data could not be decoded");
    Status::internal("stored data could not be decoded")
}

fn decode_run(body: &[u8]) -> Result<pb::AssignmentRun, Status> {
    pb::AssignmentRun::decode(body)
        .map_err(|_| Status::internal("a stored run could not be decoded"))
}

fn window_kind(window: pb::AssignmentWindow, quarter: i32) -> Option<WindowKind> {
    Some(match window {
        pb::AssignmentWindow::Retrospective => WindowKind::Retrospective,
        pb::AssignmentWindow::Prospective => WindowKind::Prospective,
        pb::AssignmentWindow::Quarterly => WindowKind::Quarterly(u8::try_from(quarter).ok()?),
        pb::AssignmentWindow::Unspecified => return None,
    })
}

fn tie_break(t: pb::TieBreak) -> TieBreak {
    match t {
        pb::TieBreak::Unassigned => TieBreak::Unassigned,
        pb::TieBreak::MostRecentService | pb::TieBreak::Unspecified => TieBreak::MostRecentService,
    }
}

fn config(run: &pb::AssignmentRun) -> Result<RunConfig, Status> {
    let window =
        pb::AssignmentWindow::try_from(run.window).unwrap_or(pb::AssignmentWindow::Unspecified);
    let window = window_kind(window, run.quarter)
        .ok_or_else(|| Status::internal("a stored run has no window"))?;
    Ok(RunConfig {
        performance_year: run.performance_year,
        window,
        tie_break: tie_break(pb::TieBreak::try_from(run.tie_break).unwrap_or_default()),
        acos: run
            .acos
            .iter()
            .map(|a| AcoSpec {
                id: a.aco_id.clone(),
                tins: a.tins.clone(),
                ccns: a.ccns.clone(),
                npis: a.npis.clone(),
            })
            .collect(),
    })
}

fn step(s: Option<StepKind>) -> pb::AssignmentStep {
    match s {
        None => pb::AssignmentStep::Unspecified,
        Some(StepKind::VoluntaryAlignment) => pb::AssignmentStep::VoluntaryAlignment,
        Some(StepKind::Step1) => pb::AssignmentStep::AssignmentStep1,
        Some(StepKind::Step2) => pb::AssignmentStep::AssignmentStep2,
        Some(StepKind::Step3) => pb::AssignmentStep::AssignmentStep3,
    }
}

fn ineligibility(r: engine::Reason) -> pb::IneligibilityReason {
    use engine::Ineligible as I;
    match r {
        engine::Reason::Ineligible(why) => match why {
            I::NoPartAAndB => pb::IneligibilityReason::NoPartAAndB,
            I::PartAOnly => pb::IneligibilityReason::PartAOnly,
            I::PartBOnly => pb::IneligibilityReason::PartBOnly,
            I::PartAOrBOnly => pb::IneligibilityReason::PartAOrBOnly,
            I::GroupHealthPlan => pb::IneligibilityReason::MedicareAdvantage,
            I::OtherInitiative => pb::IneligibilityReason::OtherInitiative,
            I::NotUsResident => pb::IneligibilityReason::OutsideUs,
        },
        _ => pb::IneligibilityReason::Unspecified,
    }
}

fn counts_pb(c: &AcoCounts) -> pb::AcoAssignmentCounts {
    pb::AcoAssignmentCounts {
        aco_id: c.aco_id.clone(),
        assigned: c.assigned,
        voluntary_alignment: c.voluntary_alignment,
        step_1: c.step_1,
        step_2: c.step_2,
        step_3: c.step_3,
        below_minimum: c.below_minimum,
    }
}

fn line_counts(s: &LineStats) -> pb::LineCounts {
    use engine::Skip;
    pb::LineCounts {
        counted: s.counted,
        outside_window: s.skipped[Skip::OutsideWindow.index()],
        not_primary_care: s.skipped[Skip::NotPrimaryCare.index()]
            + s.skipped[Skip::NoBillingEntity.index()],
        specialty_not_counted: s.skipped[Skip::NotCountedPractitioner.index()],
        shared_participant: s.skipped[Skip::SharedParticipant.index()],
        cancelled: s.superseded,
        unmatched_cancellations: s.unmatched_cancellations,
    }
}

/// The run as returned: the stored body with the live counters.
fn run_pb(s: &StoredRun) -> Result<pb::AssignmentRun, Status> {
    let mut run = decode_run(&s.body)?;
    run.claim_lines_received = s.claim_lines;
    run.beneficiaries_received = s.beneficiaries;
    run.state = if s.finalized {
        pb::RunState::Finalized
    } else {
        pb::RunState::Open
    } as i32;
    Ok(run)
}

/// Claim lines in an upload message, both forms.
fn claim_line_count(msg: &pb::UploadAssignmentDataRequest) -> u64 {
    msg.claim_lines.len() as u64 + msg.claim_columns.as_ref().map_or(0, |c| u64::from(c.count))
}

/// A required identifier: 1 to `max` characters, no control character (the value is never echoed).
fn ident<'a>(v: &mut Violations, field: &str, value: &'a str, max: usize) -> Option<&'a str> {
    let ok = v.text(field, value, max)?;
    if has_control(ok) {
        v.add(field, "must not contain control characters");
        return None;
    }
    Some(ok)
}

/// An optional identifier: at most `max` characters, no control character.
fn optional_ident(v: &mut Violations, field: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        v.add(field, format!("must be at most {max} characters"));
    } else if has_control(value) {
        v.add(field, "must not contain control characters");
    }
}

/// Validates a CreateAssignmentRun request into the run's configuration (public for the fuzz
/// targets, as the other services' `validate`).
pub fn validate_create(r: &pb::CreateAssignmentRunRequest) -> Result<RunConfig, Status> {
    let mut v = Violations::default();
    ident(&mut v, "request_id", &r.request_id, 128);
    let window: Option<pb::AssignmentWindow> = v.enum_value("window", r.window);
    let _: Option<pb::AssignmentMode> = v.enum_value("mode", r.mode);
    let tie: Option<pb::TieBreak> = v.optional_enum("tie_break", r.tie_break);
    let kind = match window {
        Some(pb::AssignmentWindow::Quarterly) => {
            if !(1..=4).contains(&r.quarter) {
                v.add("quarter", "must be 1-4 for a quarterly window");
            }
            window_kind(pb::AssignmentWindow::Quarterly, r.quarter)
        }
        Some(w) => {
            if r.quarter != 0 {
                v.add("quarter", "must be 0 unless the window is quarterly");
            }
            window_kind(w, 0)
        }
        None => None,
    };
    if r.acos.is_empty() {
        v.add("acos", "at least one ACO is required");
    }
    let mut seen = std::collections::HashSet::new();
    for (i, a) in r.acos.iter().enumerate() {
        let f = |n: &str| format!("acos[{i}].{n}");
        if ident(&mut v, &f("aco_id"), &a.aco_id, 64).is_some() && !seen.insert(a.aco_id.as_str()) {
            v.add(f("aco_id"), "each ACO may appear once");
        }
        if a.tins.is_empty() && a.ccns.is_empty() {
            v.add(
                f("tins"),
                "an ACO needs at least one participant TIN or CCN",
            );
        }
        for (name, list) in [("tins", &a.tins), ("ccns", &a.ccns), ("npis", &a.npis)] {
            for (k, id) in list.iter().enumerate() {
                ident(&mut v, &format!("acos[{i}].{name}[{k}]"), id, 32);
            }
        }
    }
    if !(engine::FIRST_YEAR..=engine::LAST_YEAR).contains(&r.performance_year) {
        v.add(
            "performance_year",
            RuleError::PerformanceYear(r.performance_year).to_string(),
        );
    }
    v.into_result()?;
    let window = kind.ok_or_else(|| invalid_argument("window", "is required"))?;
    Ok(RunConfig {
        performance_year: r.performance_year,
        window,
        tie_break: tie_break(tie.unwrap_or_default()),
        acos: r
            .acos
            .iter()
            .map(|a| AcoSpec {
                id: a.aco_id.clone(),
                tins: a.tins.clone(),
                ccns: a.ccns.clone(),
                npis: a.npis.clone(),
            })
            .collect(),
    })
}

/// Records one claim line's problems under `field(name)`, if it has any; whether to go on (fewer
/// than [`MAX_VIOLATIONS`] bad records so far).
fn note_line(
    v: &mut Violations,
    problems: &mut usize,
    l: &upload::LineIn<'_>,
    field: &dyn Fn(&str) -> String,
) -> bool {
    if *problems >= MAX_VIOLATIONS {
        return false;
    }
    if let Err(bad) = upload::check(l) {
        for (name, why) in bad {
            v.add(field(name), why);
        }
        *problems += 1;
    }
    *problems < MAX_VIOLATIONS
}

/// Validates one upload message: every problem at once (up to [`MAX_VIOLATIONS`] bad records),
/// field paths only. Columns are checked whole ([`upload::Columns::all_valid`]) and line by line
/// only to name what is wrong.
pub fn validate_upload(msg: &pb::UploadAssignmentDataRequest) -> Result<(), Status> {
    let mut v = Violations::default();
    let mut problems = 0usize;
    for (i, b) in msg.beneficiaries.iter().enumerate() {
        if problems >= MAX_VIOLATIONS {
            break;
        }
        let f = |n: &str| format!("beneficiaries[{i}].{n}");
        let before = v.is_empty();
        ident(&mut v, &f("beneficiary_id"), &b.beneficiary_id, 64);
        for (name, m) in upload::raw_beneficiary(b).enrollment.named_months() {
            if m > 12 {
                v.add(f(name), "must be 0-12 months");
            }
        }
        if b.date_of_death.is_some() {
            v.date(&f("date_of_death"), b.date_of_death.as_ref());
        }
        optional_ident(&mut v, &f("designated_npi"), &b.designated_npi, 32);
        optional_ident(&mut v, &f("designated_tin"), &b.designated_tin, 32);
        optional_ident(
            &mut v,
            &f("designated_specialty"),
            &b.designated_specialty,
            4,
        );
        optional_ident(&mut v, &f("prior_year_aco_id"), &b.prior_year_aco_id, 64);
        if before && !v.is_empty() {
            problems += 1;
        }
    }
    for (i, l) in msg.claim_lines.iter().enumerate() {
        let l = upload::LineIn::row(l);
        if !note_line(&mut v, &mut problems, &l, &|n| {
            format!("claim_lines[{i}].{n}")
        }) {
            break;
        }
    }
    if let Some(c) = &msg.claim_columns
        && let Some(cols) = upload::columns(c, &mut v)
        && !cols.all_valid()
    {
        for i in 0..cols.len() {
            if !note_line(&mut v, &mut problems, &cols.line(i), &|n| {
                format!("claim_columns.{n}[{i}]")
            }) {
                break;
            }
        }
    }
    if problems >= MAX_VIOLATIONS {
        v.add(
            "claim_lines",
            format!("stopped after {MAX_VIOLATIONS} invalid records"),
        );
    }
    v.into_result()
}

/// Replays one stored batch into `run`: its records and lines (`prescan`: only the lines' claim
/// versions, the first pass). A batch the store gave back that does not decode, or holds a line
/// that no longer validates, is [`codec::Damaged`].
pub fn replay(run: &mut Run, body: &[u8], prescan: bool) -> Result<(), codec::Damaged> {
    let msg = match codec::decode_batch(body)? {
        codec::StoredBatch::Upload(msg) => msg,
        codec::StoredBatch::Aggregated(b) => {
            replay_aggregated(run, &b, prescan);
            return Ok(());
        }
    };
    if !prescan {
        for b in &msg.beneficiaries {
            run.add_beneficiary(&upload::raw_beneficiary(b));
        }
    }
    upload::each_line(
        &msg,
        |l| {
            let raw = upload::check(&l).map_err(|_| codec::Damaged("claim line"))?;
            if prescan {
                run.prescan(
                    raw.beneficiary_id,
                    raw.claim_id,
                    raw.line_number,
                    raw.version,
                );
            } else {
                // A line that does not count is counted in the run's line counters.
                let _ = run.add_line(&raw);
            }
            Ok(())
        },
        || codec::Damaged("claim columns"),
    )
}

/// A batch stored aggregated at upload (the layouts before the upload message itself was kept).
fn replay_aggregated(run: &mut Run, b: &Batch, prescan: bool) {
    if prescan {
        for v in &b.versions {
            run.prescan_key(&v.beneficiary_id, v.key, v.version);
        }
        return;
    }
    for bene in &b.beneficiaries {
        run.add_beneficiary(&bene.raw());
    }
    for (bene, named, t) in &b.tallies {
        let entity = match named {
            Named::Aco(i) => Entity::aco(*i),
            Named::Tin(s) => Entity::tin(run.reg.tin(s)),
            Named::Ccn(s) => Entity::ccn(run.reg.ccn(s)),
        };
        run.add_tally(bene, &Tally { entity, ..*t });
    }
    for v in &b.versions {
        let outcome = match &v.outcome {
            Ok((named, c)) => {
                let entity = match named {
                    Named::Aco(i) => Entity::aco(*i),
                    Named::Tin(s) => Entity::tin(run.reg.tin(s)),
                    Named::Ccn(s) => Entity::ccn(run.reg.ccn(s)),
                };
                Ok(Counted { entity, ..*c })
            }
            Err(s) => Err(*s),
        };
        run.add_stored_version(&v.beneficiary_id, v.key, v.version, outcome);
    }
    run.stats.merge(&b.stats);
}

impl AttributionApi {
    /// A service over `store`.
    pub fn new(store: Store) -> Self {
        Self {
            store,
            contexts: Arc::default(),
            finalizing: Arc::default(),
        }
    }

    /// The stored run and its context; NOT_FOUND when missing.
    async fn context(&self, run_id: &str) -> Result<(StoredRun, Arc<Context>), Status> {
        let stored = self
            .store
            .run(run_id)
            .await?
            .ok_or_else(|| Status::not_found(format!("assignment run {run_id} not found")))?;
        if let Some(c) = self
            .contexts
            .lock()
            .ok()
            .and_then(|m| m.get(run_id).cloned())
        {
            return Ok((stored, c));
        }
        let cfg = config(&decode_run(&stored.body)?)?;
        let rules = RuleSet::new(cfg.performance_year, cfg.window).map_err(rule_status)?;
        let ctx = Arc::new(Context { cfg, rules });
        if let Ok(mut m) = self.contexts.lock() {
            m.insert(run_id.to_string(), ctx.clone());
        }
        Ok((stored, ctx))
    }

    /// [`AttributionApi::context`] of a finalized run (`FAILED_PRECONDITION` while it is open).
    async fn finalized_context(&self, run_id: &str) -> Result<(StoredRun, Arc<Context>), Status> {
        let (stored, ctx) = self.context(run_id).await?;
        if !stored.finalized {
            return Err(Status::failed_precondition(format!(
                "assignment run {run_id} is not finalized yet"
            )));
        }
        Ok((stored, ctx))
    }

    fn forget(&self, run_id: &str) {
        if let Ok(mut m) = self.contexts.lock() {
            m.remove(run_id);
        }
    }

    /// Replays a run's stored batches, assigns everyone and builds the finalization.
    async fn compute(
        &self,
        stored: &StoredRun,
        ctx: &Arc<Context>,
        request_id: &str,
    ) -> Result<Finalization, Status> {
        let mut run = Run::new(&ctx.cfg).map_err(rule_status)?;
        // First pass: the claim lines with a cancellation or adjustment (the rest are tallied as
        // they are replayed in the second, not kept until every batch is in).
        let mut batches = 0u64;
        for prescan in [true, false] {
            let mut after = 0i64;
            loop {
                let page = self.store.batches(stored.seq, after, FINALIZE_PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.0;
                if !prescan {
                    batches += page.len() as u64;
                }
                run = tokio::task::spawn_blocking(move || {
                    for (_, body) in &page {
                        replay(&mut run, body, prescan)?;
                    }
                    Ok::<_, codec::Damaged>(run)
                })
                .await
                .map_err(|_| Status::internal("finalize worker failed"))?
                .map_err(damaged)?;
            }
        }
        let mut body = decode_run(&stored.body)?;
        // Assign on a blocking thread and write the results in chunks as they come, so a national
        // run never holds every result in memory at once.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ResultRow>>(2);
        let worker = tokio::task::spawn_blocking(move || {
            run.shrink();
            let mut chunk = Vec::with_capacity(RESULT_CHUNK);
            let counts = run.assign_all(|id, facts, a| {
                let blob = codec::encode_result(a, facts, |e| codec::named(&run.reg, e));
                chunk.push((id.to_string(), a.aco.map_or(-1, |x| x as i32), blob));
                if chunk.len() == RESULT_CHUNK {
                    let full = std::mem::replace(&mut chunk, Vec::with_capacity(RESULT_CHUNK));
                    let _ = tx.blocking_send(full);
                }
            });
            if !chunk.is_empty() {
                let _ = tx.blocking_send(chunk);
            }
            (counts, run.stats)
        });
        while let Some(rows) = rx.recv().await {
            if !self.store.put_results(&stored.id, rows).await? {
                return Err(Status::failed_precondition(format!(
                    "assignment run {} was finalized or deleted meanwhile",
                    stored.id
                )));
            }
        }
        let (counts, stats) = worker
            .await
            .map_err(|_| Status::internal("finalize worker failed"))?;
        body.state = pb::RunState::Finalized as i32;
        body.counts = counts.iter().map(counts_pb).collect();
        body.line_counts = Some(line_counts(&stats));
        Ok(Finalization {
            run_id: stored.id.clone(),
            request_id: request_id.to_string(),
            batches,
            body: body.encode_to_vec(),
        })
    }

    /// Checks one upload message (its run open, every field valid) into the batch to store, with
    /// its beneficiary and claim-line counts. `last`: the run of the previous message, checked then.
    async fn stored_batch(
        &self,
        msg: pb::UploadAssignmentDataRequest,
        last: &mut Option<String>,
    ) -> Result<(NewBatch, u64, u64), Status> {
        let mut v = Violations::default();
        ident(&mut v, "request_id", &msg.request_id, 128);
        ident(&mut v, "run_id", &msg.run_id, 64);
        v.into_result()?;
        if last.as_deref() != Some(msg.run_id.as_str()) {
            let (stored, _) = self.context(&msg.run_id).await?;
            if stored.finalized {
                return Err(Status::failed_precondition(format!(
                    "assignment run {} is finalized: it accepts no more data",
                    msg.run_id
                )));
            }
            *last = Some(msg.run_id.clone());
        }
        validate_upload(&msg)?;
        let (body, fingerprint) = codec::encode_upload(&msg);
        let (benes, lines) = (msg.beneficiaries.len() as u64, claim_line_count(&msg));
        let batch = NewBatch {
            run_id: msg.run_id,
            request_id: msg.request_id,
            fingerprint,
            beneficiaries: benes,
            claim_lines: lines,
            body,
        };
        Ok((batch, benes, lines))
    }

    fn assignment_pb(
        &self,
        ctx: &Context,
        beneficiary_id: &str,
        body: &[u8],
    ) -> Result<pb::BeneficiaryAssignment, Status> {
        let r = codec::decode_result(body).map_err(damaged)?;
        let acos = &ctx.cfg.acos;
        let name = |e: Entity| match e.kind() {
            EntityKind::Aco(i) => {
                format!("aco:{}", acos.get(i as usize).map_or("", |a| a.id.as_str()))
            }
            EntityKind::Tin(k) | EntityKind::Ccn(k) => match r.names.get(k as usize) {
                Some(Named::Tin(s)) => format!("tin:{s}"),
                Some(Named::Ccn(s)) => format!("ccn:{s}"),
                _ => String::new(),
            },
        };
        let a = &r.assignment;
        let explanation = engine::explain(&ctx.rules, ctx.cfg.tie_break, &r.beneficiary, a, name)
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(pb::BeneficiaryAssignment {
            beneficiary_id: beneficiary_id.to_string(),
            aco_id: a
                .aco
                .and_then(|i| acos.get(i as usize))
                .map(|x| x.id.clone())
                .unwrap_or_default(),
            step: step(a.step) as i32,
            winning_entity: a.winner.map(name).unwrap_or_default(),
            competing: a
                .competing
                .iter()
                .map(|c| pb::EntityCharges {
                    entity: name(c.entity),
                    allowed: engine::explain::dollars(c.cents),
                    last_service_date: c.last.map(common::Date::from),
                })
                .collect(),
            continuously_assigned: a.continuous,
            explanation,
            reason: a.reason.code().to_string(),
            ineligibility: ineligibility(a.reason) as i32,
        })
    }
}

/// An upload message being committed (in a task of its own, so the stream reads on meanwhile).
struct InFlight {
    request_id: String,
    run_id: String,
    beneficiaries: u64,
    claim_lines: u64,
    commit: tokio::task::JoinHandle<Result<Added, acorn_proto::store::StoreError>>,
}

impl InFlight {
    /// Waits for the commit and counts the batch as accepted, or says why it was not.
    async fn settle(self, out: &mut pb::UploadAssignmentDataResponse) -> Result<(), Status> {
        let added = self
            .commit
            .await
            .map_err(|_| Status::internal("the upload commit failed"))??;
        match added {
            Added::Added | Added::Duplicate => {
                out.beneficiaries_accepted += self.beneficiaries;
                out.claim_lines_accepted += self.claim_lines;
                Ok(())
            }
            Added::Conflict => Err(Status::already_exists(format!(
                "request_id {} was already used for a different batch of this run",
                self.request_id
            ))),
            Added::NotFound => Err(Status::not_found(format!(
                "assignment run {} not found",
                self.run_id
            ))),
            Added::Finalized => Err(Status::failed_precondition(format!(
                "assignment run {} is finalized: it accepts no more data",
                self.run_id
            ))),
        }
    }
}

/// Marks a run as being finalized by this process (one finalize per run at a time).
struct FinalizeGuard {
    set: Arc<Mutex<std::collections::HashSet<String>>>,
    id: String,
}

impl FinalizeGuard {
    fn claim(
        set: &Arc<Mutex<std::collections::HashSet<String>>>,
        id: &str,
    ) -> Option<FinalizeGuard> {
        let mut s = set.lock().ok()?;
        s.insert(id.to_string()).then(|| FinalizeGuard {
            set: set.clone(),
            id: id.to_string(),
        })
    }
}

impl Drop for FinalizeGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.id);
        }
    }
}

fn required_text(field: &str, value: &str, max: usize) -> Result<(), Status> {
    let mut v = Violations::default();
    ident(&mut v, field, value, max);
    v.into_result()
}

#[tonic::async_trait]
impl AttributionService for AttributionApi {
    #[tracing::instrument(name = "CreateAssignmentRun", skip_all, fields(request_id = %req.get_ref().request_id))]
    async fn create_assignment_run(
        &self,
        req: Request<pb::CreateAssignmentRunRequest>,
    ) -> Result<Response<pb::CreateAssignmentRunResponse>, Status> {
        let r = req.into_inner();
        let cfg = validate_create(&r)?;
        let rules = RuleSet::new(cfg.performance_year, cfg.window).map_err(rule_status)?;
        let fingerprint = Sha256::digest(
            pb::CreateAssignmentRunRequest {
                request_id: String::new(),
                ..r.clone()
            }
            .encode_to_vec(),
        )
        .to_vec();
        let run = pb::AssignmentRun {
            id: uuid::Uuid::now_v7().to_string(),
            performance_year: r.performance_year,
            window: r.window,
            mode: r.mode,
            quarter: r.quarter,
            acos: r.acos.clone(),
            state: pb::RunState::Open as i32,
            counts: Vec::new(),
            claim_lines_received: 0,
            beneficiaries_received: 0,
            create_time: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            tie_break: match cfg.tie_break {
                TieBreak::MostRecentService => pb::TieBreak::MostRecentService,
                TieBreak::Unassigned => pb::TieBreak::Unassigned,
            } as i32,
            line_counts: None,
            rule_set: rules.id(),
        };
        let created = self
            .store
            .create_run(NewRun {
                id: run.id.clone(),
                request_id: r.request_id.clone(),
                fingerprint,
                performance_year: r.performance_year,
                body: run.encode_to_vec(),
            })
            .await?;
        let stored = match created {
            Created::Created(s) => {
                tracing::info!(run_id = %s.id, acos = r.acos.len(), "assignment run created");
                s
            }
            Created::Existing(s) => s,
            Created::Conflict => {
                return Err(Status::already_exists(
                    "request_id was already used for a different CreateAssignmentRun request",
                ));
            }
        };
        Ok(Response::new(pb::CreateAssignmentRunResponse {
            run: Some(run_pb(&stored)?),
        }))
    }

    #[tracing::instrument(name = "UploadAssignmentData", skip_all)]
    async fn upload_assignment_data(
        &self,
        req: Request<Streaming<pb::UploadAssignmentDataRequest>>,
    ) -> Result<Response<pb::UploadAssignmentDataResponse>, Status> {
        let mut stream = req.into_inner();
        let mut out = pb::UploadAssignmentDataResponse::default();
        // The run the previous message went to (known to exist and be open then; the store
        // checks again as it commits).
        let mut last: Option<String> = None;
        // The previous message's commit, running while this one is received and checked.
        let mut in_flight: Option<InFlight> = None;
        while let Some(msg) = stream.next().await {
            let ready = match msg {
                Ok(msg) => self.stored_batch(msg, &mut last).await,
                Err(e) => Err(e),
            };
            // Batches of a stream commit in order, and an error is answered only once what
            // came before it has settled.
            if let Some(f) = in_flight.take() {
                f.settle(&mut out).await?;
            }
            let (batch, beneficiaries, claim_lines) = ready?;
            let store = self.store.clone();
            in_flight = Some(InFlight {
                request_id: batch.request_id.clone(),
                run_id: batch.run_id.clone(),
                beneficiaries,
                claim_lines,
                commit: tokio::spawn(async move { store.add_batch(batch).await }),
            });
        }
        if let Some(f) = in_flight.take() {
            f.settle(&mut out).await?;
        }
        tracing::debug!(
            lines = out.claim_lines_accepted,
            beneficiaries = out.beneficiaries_accepted,
            "upload committed"
        );
        Ok(Response::new(out))
    }

    #[tracing::instrument(name = "FinalizeAssignmentRun", skip_all, fields(run_id = %req.get_ref().run_id))]
    async fn finalize_assignment_run(
        &self,
        req: Request<pb::FinalizeAssignmentRunRequest>,
    ) -> Result<Response<pb::FinalizeAssignmentRunResponse>, Status> {
        let r = req.into_inner();
        let mut v = Violations::default();
        ident(&mut v, "request_id", &r.request_id, 128);
        ident(&mut v, "run_id", &r.run_id, 64);
        v.into_result()?;
        let already =
            |s: &StoredRun| -> Result<Response<pb::FinalizeAssignmentRunResponse>, Status> {
                if s.finalize_request_id.as_deref() == Some(r.request_id.as_str()) {
                    Ok(Response::new(pb::FinalizeAssignmentRunResponse {
                        run: Some(run_pb(s)?),
                    }))
                } else {
                    Err(Status::failed_precondition(format!(
                        "assignment run {} is already finalized",
                        r.run_id
                    )))
                }
            };
        let (stored, _) = self.context(&r.run_id).await?;
        if stored.finalized {
            return already(&stored);
        }
        let _guard = FinalizeGuard::claim(&self.finalizing, &r.run_id).ok_or_else(|| {
            Status::aborted("a finalize of this run is in progress; retry when it has finished")
        })?;
        for _ in 0..3 {
            let (stored, ctx) = self.context(&r.run_id).await?;
            if stored.finalized {
                return already(&stored);
            }
            let f = self.compute(&stored, &ctx, &r.request_id).await?;
            match self.store.finalize(f).await? {
                Finalized::Done(s) => {
                    tracing::info!("assignment run finalized");
                    return Ok(Response::new(pb::FinalizeAssignmentRunResponse {
                        run: Some(run_pb(&s)?),
                    }));
                }
                Finalized::Already(s) => return already(&s),
                Finalized::NotFound => {
                    return Err(Status::not_found(format!(
                        "assignment run {} not found",
                        r.run_id
                    )));
                }
                Finalized::Changed => continue,
            }
        }
        Err(Status::aborted(
            "data kept arriving while the run was being finalized; finish uploading and retry",
        ))
    }

    #[tracing::instrument(name = "GetAssignmentRun", skip_all)]
    async fn get_assignment_run(
        &self,
        req: Request<pb::GetAssignmentRunRequest>,
    ) -> Result<Response<pb::GetAssignmentRunResponse>, Status> {
        let id = &req.get_ref().run_id;
        required_text("run_id", id, 64)?;
        let stored = self
            .store
            .run(id)
            .await?
            .ok_or_else(|| Status::not_found(format!("assignment run {id} not found")))?;
        Ok(Response::new(pb::GetAssignmentRunResponse {
            run: Some(run_pb(&stored)?),
        }))
    }

    #[tracing::instrument(name = "ListAssignmentRuns", skip_all)]
    async fn list_assignment_runs(
        &self,
        req: Request<pb::ListAssignmentRunsRequest>,
    ) -> Result<Response<pb::ListAssignmentRunsResponse>, Status> {
        let r = req.into_inner();
        let mut v = Violations::default();
        let limit = v.page_size("page_size", r.page_size, DEFAULT_RUN_PAGE, MAX_RUN_PAGE);
        if r.performance_year != 0
            && !(engine::FIRST_YEAR..=engine::LAST_YEAR).contains(&r.performance_year)
        {
            v.add(
                "performance_year",
                format!(
                    "must be 0 (all) or {}-{}",
                    engine::FIRST_YEAR,
                    engine::LAST_YEAR
                ),
            );
        }
        // Opaque and bound to the filter (acorn_proto::page): another query's token is refused.
        let query = PageQuery::new("acorn.attribution.v1.AttributionService/ListAssignmentRuns")
            .int(i64::from(r.performance_year));
        let tokens = self.store.page_tokens();
        let before = v.page_token("page_token", &r.page_token, tokens, &query);
        let (limit, before) = v.finish("page_size", limit.zip(before))?;
        let (runs, next) = self
            .store
            .runs(
                (r.performance_year != 0).then_some(r.performance_year),
                before,
                limit,
            )
            .await?;
        Ok(Response::new(pb::ListAssignmentRunsResponse {
            runs: runs.iter().map(run_pb).collect::<Result<_, _>>()?,
            next_page_token: tokens.issue_seq(&query, next),
        }))
    }

    #[tracing::instrument(name = "GetBeneficiaryAssignment", skip_all, fields(run_id = %req.get_ref().run_id))]
    async fn get_beneficiary_assignment(
        &self,
        req: Request<pb::GetBeneficiaryAssignmentRequest>,
    ) -> Result<Response<pb::GetBeneficiaryAssignmentResponse>, Status> {
        let r = req.into_inner();
        let mut v = Violations::default();
        ident(&mut v, "run_id", &r.run_id, 64);
        ident(&mut v, "beneficiary_id", &r.beneficiary_id, 64);
        v.into_result()?;
        let (stored, ctx) = self.finalized_context(&r.run_id).await?;
        let body = self
            .store
            .assignment(stored.seq, &r.beneficiary_id)
            .await?
            .ok_or_else(|| {
                Status::not_found("the beneficiary has no record or claim line in this run")
            })?;
        Ok(Response::new(pb::GetBeneficiaryAssignmentResponse {
            assignment: Some(self.assignment_pb(&ctx, &r.beneficiary_id, &body)?),
        }))
    }

    #[tracing::instrument(name = "ListAssignedBeneficiaries", skip_all, fields(run_id = %req.get_ref().run_id))]
    async fn list_assigned_beneficiaries(
        &self,
        req: Request<pb::ListAssignedBeneficiariesRequest>,
    ) -> Result<Response<pb::ListAssignedBeneficiariesResponse>, Status> {
        let r = req.into_inner();
        let mut v = Violations::default();
        ident(&mut v, "run_id", &r.run_id, 64);
        ident(&mut v, "aco_id", &r.aco_id, 64);
        let limit = v.page_size("page_size", r.page_size, DEFAULT_BENE_PAGE, MAX_BENE_PAGE);
        // Opaque and bound to the run and ACO (acorn_proto::page): the cursor is the ordinal of the
        // next result in the finalized run's id-ordered list, which never changes.
        let query = PageQuery::new("ListAssignedBeneficiaries")
            .text(&r.run_id)
            .text(&r.aco_id);
        let tokens = self.store.page_tokens();
        let offset = v.page_token("page_token", &r.page_token, tokens, &query);
        let (limit, offset) = v.finish("page_size", limit.zip(offset))?;
        let offset = offset.map_or(0, |o| o.unsigned_abs());
        let (stored, ctx) = self.finalized_context(&r.run_id).await?;
        let aco = ctx
            .cfg
            .acos
            .iter()
            .position(|a| a.id == r.aco_id)
            .ok_or_else(|| {
                Status::not_found(format!(
                    "ACO {} is not in assignment run {}",
                    r.aco_id, r.run_id
                ))
            })?;
        let rows = self
            .store
            .assigned(stored.seq, aco as i32, offset, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        let assignments = rows
            .iter()
            .take(limit as usize)
            .map(|(id, body)| self.assignment_pb(&ctx, id, body))
            .collect::<Result<Vec<_>, _>>()?;
        let next = offset.saturating_add(u64::from(limit));
        let next_page_token = tokens.issue_seq(
            &query,
            more.then(|| i64::try_from(next).unwrap_or(i64::MAX)),
        );
        Ok(Response::new(pb::ListAssignedBeneficiariesResponse {
            assignments,
            next_page_token,
        }))
    }

    #[tracing::instrument(name = "DeleteAssignmentRun", skip_all, fields(run_id = %req.get_ref().run_id))]
    async fn delete_assignment_run(
        &self,
        req: Request<pb::DeleteAssignmentRunRequest>,
    ) -> Result<Response<pb::DeleteAssignmentRunResponse>, Status> {
        let id = req.into_inner().run_id;
        required_text("run_id", &id, 64)?;
        self.forget(&id);
        if !self.store.delete_run(&id).await? {
            return Err(Status::not_found(format!("assignment run {id} not found")));
        }
        self.forget(&id);
        tracing::info!("assignment run deleted");
        Ok(Response::new(pb::DeleteAssignmentRunResponse {}))
    }
}

/// Largest request of the small unary RPCs (finalize, get, list, delete): they carry a few ids.
pub const SMALL_REQUEST_BYTES: usize = 64 * 1024;
/// Default largest `CreateAssignmentRun` request: the participant lists of every ACO of a national
/// run (500 ACOs of 60 TINs and 1,000 NPIs are about 8 MB).
pub const DEFAULT_CREATE_BYTES: usize = 16 * 1024 * 1024;
/// Default largest `UploadAssignmentData` stream message: a 10,000-line batch is about 1.5 MB.
pub const DEFAULT_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Per-RPC request size limits, bytes: a message above its limit is refused with
/// OUT_OF_RANGE (tonic's status for an oversized message) before it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `FinalizeAssignmentRun`, `Get*`, `List*`, `DeleteAssignmentRun`.
    pub small: usize,
    /// `CreateAssignmentRun`.
    pub create: usize,
    /// Each `UploadAssignmentData` stream message.
    pub upload: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            small: SMALL_REQUEST_BYTES,
            create: DEFAULT_CREATE_BYTES,
            upload: DEFAULT_UPLOAD_BYTES,
        }
    }
}

type Server = acorn_proto::attribution::v1::attribution_service_server::AttributionServiceServer<
    AttributionApi,
>;

/// The service with a request size limit per RPC (tonic sets one limit per service, so three
/// instances of the same [`AttributionApi`] serve the three size classes, routed by method path).
#[derive(Debug, Clone)]
pub struct SizedService {
    small: Server,
    create: Server,
    upload: Server,
}

/// The attribution service with per-RPC request size limits, ready for `tonic` routes.
pub fn service(api: AttributionApi, limits: Limits) -> SizedService {
    let with = |n: usize| Server::new(api.clone()).max_decoding_message_size(n);
    SizedService {
        small: with(limits.small),
        create: with(limits.create),
        upload: with(limits.upload),
    }
}

impl tonic::server::NamedService for SizedService {
    const NAME: &'static str = <Server as tonic::server::NamedService>::NAME;
}

impl<B> tonic::codegen::Service<tonic::codegen::http::Request<B>> for SizedService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = <Server as tonic::codegen::Service<tonic::codegen::http::Request<B>>>::Response;
    type Error = std::convert::Infallible;
    type Future = <Server as tonic::codegen::Service<tonic::codegen::http::Request<B>>>::Future;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::codegen::http::Request<B>) -> Self::Future {
        let method = req.uri().path().rsplit('/').next().unwrap_or("");
        match method {
            "UploadAssignmentData" => self.upload.call(req),
            "CreateAssignmentRun" => self.create.call(req),
            _ => self.small.call(req),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ctx() -> Context {
        let cfg = RunConfig {
            performance_year: 2024,
            window: WindowKind::Retrospective,
            tie_break: TieBreak::MostRecentService,
            acos: vec![AcoSpec {
                id: "A".into(),
                tins: vec!["111111111".into()],
                ccns: vec!["011800".into()],
                npis: vec![],
            }],
        };
        let rules = RuleSet::new(2024, WindowKind::Retrospective).expect("rules");
        Context { cfg, rules }
    }

    /// Validates a message, stores it and replays it as finalize does: the run's line counters
    /// and every beneficiary's assignment.
    fn replayed(
        msg: &pb::UploadAssignmentDataRequest,
    ) -> Result<(LineStats, Vec<(String, engine::Assignment)>), Status> {
        validate_upload(msg)?;
        let (body, _) = codec::encode_upload(msg);
        let mut run = Run::new(&ctx().cfg).expect("run");
        for prescan in [true, false] {
            replay(&mut run, &body, prescan).expect("a validated message replays");
        }
        run.shrink();
        let mut out = Vec::new();
        run.assign_all(|id, _, a| out.push((id.to_string(), a.clone())));
        Ok((run.stats, out))
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            Just("99213".to_string()),
            Just("111111111".to_string()),
            Just("-10000000000.00".to_string()),
            Just("10000000000.01".to_string()),
            "[0-9.\\-]{0,16}",
            "\\PC{0,70}",
            any::<String>(),
        ]
    }

    fn date() -> impl Strategy<Value = Option<common::Date>> {
        prop::option::of(
            (any::<i32>(), any::<i32>(), any::<i32>()).prop_map(|(y, m, d)| common::Date {
                year: y,
                month: m,
                day: d,
            }),
        )
    }

    fn line() -> impl Strategy<Value = pb::ClaimLine> {
        (
            (text(), any::<u32>(), text(), date(), text(), text()),
            (text(), text(), text(), text(), text(), text()),
            (any::<i32>(), any::<i32>()),
        )
            .prop_map(
                |(
                    (claim_id, line_number, beneficiary_id, service_date, hcpcs, revenue_center),
                    (place_of_service, tin, ccn, npi, specialty, allowed),
                    (adjustment, claim_type),
                )| pb::ClaimLine {
                    claim_id,
                    line_number,
                    beneficiary_id,
                    service_date,
                    hcpcs,
                    revenue_center,
                    place_of_service,
                    tin,
                    ccn,
                    npi,
                    specialty,
                    allowed,
                    adjustment: adjustment % 4,
                    claim_type: claim_type % 7,
                },
            )
    }

    fn beneficiary() -> impl Strategy<Value = pb::Beneficiary> {
        (
            (text(), any::<[u32; 5]>(), any::<(bool, bool)>(), date()),
            (text(), text(), text(), text()),
        )
            .prop_map(|((id, m, (us, other), death), (npi, tin, spec, prior))| {
                pb::Beneficiary {
                    beneficiary_id: id,
                    months_part_a_and_b: m[0],
                    months_part_a_or_b_only: m[1],
                    months_group_health_plan: m[2],
                    us_resident: us,
                    other_initiative: other,
                    date_of_death: death,
                    designated_npi: npi,
                    designated_tin: tin,
                    designated_specialty: spec,
                    prior_year_aco_id: prior,
                    months_part_a_only: m[3],
                    months_part_b_only: m[4],
                }
            })
    }

    proptest! {
        /// Any upload message, every field over its whole representable range (dates of any i32
        /// parts, any u32 month counts and line numbers, any enum number, any text), is a batch
        /// or INVALID_ARGUMENT, never a panic; a rejected field is named and a violation never
        /// holds the beneficiary id.
        #[test]
        fn any_upload_message_is_a_batch_or_invalid_argument(
            beneficiaries in prop::collection::vec(beneficiary(), 0..4),
            claim_lines in prop::collection::vec(line(), 0..8),
        ) {
            let msg = pb::UploadAssignmentDataRequest {
                request_id: "r".into(),
                run_id: "x".into(),
                beneficiaries,
                claim_lines,
                claim_columns: None,
            };
            match replayed(&msg) {
                Ok((stats, _)) => {
                    prop_assert_eq!(stats.lines, msg.claim_lines.len() as u64);
                    let (body, _) = codec::encode_upload(&msg);
                    prop_assert_eq!(codec::decode_batch(&body), Ok(codec::StoredBatch::Upload(Box::new(msg))));
                }
                Err(s) => {
                    prop_assert_eq!(s.code(), tonic::Code::InvalidArgument);
                    let text = format!("{:?}", s);
                    for l in &msg.claim_lines {
                        if l.beneficiary_id.len() > 3 {
                            prop_assert!(!s.message().contains(&l.beneficiary_id));
                        }
                    }
                    prop_assert!(!text.is_empty());
                }
            }
        }

        /// The columnar form of any message's claim lines gives the same batch as the rows, or
        /// both are INVALID_ARGUMENT (lines whose date has no YYYYMMDD form aside: dates of years
        /// before 1 or after 9999 cannot be sent as columns).
        #[test]
        fn columns_give_the_batch_rows_give(
            claim_lines in prop::collection::vec(line(), 0..8),
        ) {
            let rows = pb::UploadAssignmentDataRequest {
                request_id: "r".into(),
                run_id: "x".into(),
                beneficiaries: vec![],
                claim_lines,
                claim_columns: None,
            };
            let columns = pb::UploadAssignmentDataRequest {
                claim_lines: vec![],
                claim_columns: Some(upload::to_columns(&rows.claim_lines)),
                ..rows.clone()
            };
            let a = replayed(&rows);
            let b = replayed(&columns);
            let representable = rows.claim_lines.iter().all(|l| {
                l.service_date.as_ref().is_none_or(|d| (1..=9999).contains(&d.year))
            });
            if representable {
                match (a, b) {
                    (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
                    (Err(a), Err(b)) => {
                        prop_assert_eq!(a.code(), tonic::Code::InvalidArgument);
                        prop_assert_eq!(b.code(), tonic::Code::InvalidArgument);
                    }
                    (a, b) => prop_assert!(false, "rows {:?}, columns {:?}", a.map(|_| ()), b.map(|_| ())),
                }
            } else if let Err(s) = b {
                prop_assert_eq!(s.code(), tonic::Code::InvalidArgument);
            }
        }

        /// The whole-column check never accepts a line that the line-by-line check rejects, and
        /// accepts every column of valid lines whose texts are ASCII (the fast path is taken).
        #[test]
        fn the_column_check_agrees_with_the_line_check(
            claim_lines in prop::collection::vec(line(), 0..8),
        ) {
            let representable = claim_lines.iter().all(|l| {
                l.service_date.as_ref().is_none_or(|d| (1..=9999).contains(&d.year))
            });
            prop_assume!(representable);
            let c = upload::to_columns(&claim_lines);
            let mut v = Violations::default();
            let cols = upload::columns(&c, &mut v).expect("columns built from rows are well formed");
            let each = (0..cols.len()).all(|i| upload::check(&cols.line(i)).is_ok());
            if cols.all_valid() {
                prop_assert!(each);
            }
            let ascii = claim_lines.iter().all(|l| {
                [&l.claim_id, &l.beneficiary_id, &l.hcpcs, &l.revenue_center, &l.place_of_service,
                 &l.tin, &l.ccn, &l.npi, &l.specialty].iter().all(|t| t.is_ascii())
            });
            if each && ascii {
                prop_assert!(cols.all_valid());
            }
        }

        /// Any columns (any count, any offsets, any bytes, any numbers) are a batch or
        /// INVALID_ARGUMENT naming a claim_columns field, never a panic.
        #[test]
        fn any_columns_are_a_batch_or_invalid_argument(
            count in 0u32..6,
            ends in prop::collection::vec(prop::collection::vec(any::<u32>().prop_map(|e| e % 24), 0..7), 9),
            data in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 9),
            dates in prop::collection::vec(any::<u32>(), 0..7),
            cents in prop::collection::vec(any::<i64>(), 0..7),
            enums in prop::collection::vec(any::<i32>(), 0..7),
            numbers in prop::collection::vec(any::<u32>(), 0..7),
        ) {
            let t = |k: usize| Some(pb::TextColumn { data: data[k].clone().into(), ends: ends[k].clone() });
            let c = pb::ClaimLineColumns {
                count,
                claim_id: t(0),
                line_number: numbers.clone(),
                beneficiary_id: t(1),
                service_date: dates,
                hcpcs: t(2),
                revenue_center: t(3),
                place_of_service: t(4),
                tin: t(5),
                ccn: t(6),
                npi: t(7),
                specialty: t(8),
                allowed_cents: cents,
                adjustment: enums.clone(),
                claim_type: enums,
            };
            let msg = pb::UploadAssignmentDataRequest {
                request_id: "r".into(),
                run_id: "x".into(),
                claim_columns: Some(c),
                ..Default::default()
            };
            match replayed(&msg) {
                Ok((stats, _)) => prop_assert_eq!(stats.lines, u64::from(count)),
                Err(s) => {
                    prop_assert_eq!(s.code(), tonic::Code::InvalidArgument);
                    let m = s.message().to_string();
                    prop_assert!(m.contains("claim_columns"), "{}", m);
                }
            }
        }

        /// Any CreateAssignmentRun request validates or is INVALID_ARGUMENT, never a panic.
        #[test]
        fn any_create_request_validates_or_is_invalid_argument(
            year in any::<i32>(),
            window in any::<i32>(),
            mode in any::<i32>(),
            quarter in any::<i32>(),
            tie in any::<i32>(),
            ids in prop::collection::vec(text(), 0..4),
        ) {
            let r = pb::CreateAssignmentRunRequest {
                request_id: "r".into(),
                performance_year: year,
                window,
                mode,
                quarter,
                acos: ids
                    .iter()
                    .map(|id| pb::AcoParticipants {
                        aco_id: id.clone(),
                        tins: vec![id.clone()],
                        ccns: vec![],
                        npis: vec![id.clone()],
                    })
                    .collect(),
                tie_break: tie,
            };
            match validate_create(&r) {
                Ok(cfg) => prop_assert!(RuleSet::new(cfg.performance_year, cfg.window).is_ok()),
                Err(s) => prop_assert_eq!(s.code(), tonic::Code::InvalidArgument),
            }
        }
    }
}
