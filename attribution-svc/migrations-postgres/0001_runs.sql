-- Assignment runs, upload batches and results on PostgreSQL (migrations/0001_runs.sql is the SQLite
-- form: the same tables, columns and indexes; BYTEA for BLOB, identity columns for AUTOINCREMENT
-- and SQLite's rowid, BIGINT where the code reads 64-bit integers, and byte-order ("C") collation
-- for beneficiary ids so that results list in the same order as on SQLite).
CREATE TABLE runs (
    seq                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  TEXT    NOT NULL UNIQUE,
    request_id          TEXT    NOT NULL UNIQUE,
    fingerprint         BYTEA   NOT NULL,
    performance_year    INTEGER NOT NULL,
    finalized           BIGINT  NOT NULL DEFAULT 0,
    finalize_request_id TEXT,
    claim_lines         BIGINT  NOT NULL DEFAULT 0,
    beneficiaries       BIGINT  NOT NULL DEFAULT 0,
    batches             BIGINT  NOT NULL DEFAULT 0,
    body                BYTEA   NOT NULL
);

CREATE INDEX runs_by_year ON runs (performance_year, seq);

-- `rowid` stands for SQLite's implicit rowid: the upload order the finalize reads batches in.
CREATE TABLE batches (
    rowid         BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
    run_seq       BIGINT  NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    request_id    TEXT    NOT NULL,
    fingerprint   BYTEA   NOT NULL,
    beneficiaries BIGINT  NOT NULL,
    claim_lines   BIGINT  NOT NULL,
    body          BYTEA   NOT NULL,
    PRIMARY KEY (run_seq, request_id)
);

CREATE INDEX batches_in_upload_order ON batches (run_seq, rowid);

CREATE TABLE assignments (
    run_seq        BIGINT  NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    beneficiary_id TEXT    COLLATE "C" NOT NULL,
    aco            INTEGER NOT NULL,
    body           BYTEA   NOT NULL,
    PRIMARY KEY (run_seq, beneficiary_id)
);

CREATE INDEX assignments_by_aco ON assignments (run_seq, aco, beneficiary_id);
