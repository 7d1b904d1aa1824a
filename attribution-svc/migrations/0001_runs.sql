-- Assignment runs. `body` is the encoded acorn.attribution.v1.AssignmentRun (configuration, state and,
-- once finalized, the per-ACO counts); the other columns serve lookups, idempotency and counters.
CREATE TABLE runs (
    seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
    id                  TEXT    NOT NULL UNIQUE,
    request_id          TEXT    NOT NULL UNIQUE,
    fingerprint         BLOB    NOT NULL,
    performance_year    INTEGER NOT NULL,
    finalized           INTEGER NOT NULL DEFAULT 0,
    finalize_request_id TEXT,
    claim_lines         INTEGER NOT NULL DEFAULT 0,
    beneficiaries       INTEGER NOT NULL DEFAULT 0,
    batches             INTEGER NOT NULL DEFAULT 0,
    body                BLOB    NOT NULL
);

CREATE INDEX runs_by_year ON runs (performance_year, seq);

-- Acknowledged upload batches of an open run: each is the batch's beneficiary records and partial
-- tallies (attribution_svc::codec::Batch), committed before the upload is acknowledged.
CREATE TABLE batches (
    run_seq       INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    request_id    TEXT    NOT NULL,
    fingerprint   BLOB    NOT NULL,
    beneficiaries INTEGER NOT NULL,
    claim_lines   INTEGER NOT NULL,
    body          BLOB    NOT NULL,
    PRIMARY KEY (run_seq, request_id)
);

-- Results of a finalized run, one row per beneficiary (attribution_svc::codec result encoding).
-- `aco` is the ACO's index in the run's participant list, -1 when not assigned.
CREATE TABLE assignments (
    run_seq        INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    beneficiary_id TEXT    NOT NULL,
    aco            INTEGER NOT NULL,
    body           BLOB    NOT NULL,
    PRIMARY KEY (run_seq, beneficiary_id)
) WITHOUT ROWID;

CREATE INDEX assignments_by_aco ON assignments (run_seq, aco, beneficiary_id);
