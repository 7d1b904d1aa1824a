-- The record ledger, on PostgreSQL (proto/migrations/0001_records.sql is the SQLite form: the same
-- tables, columns and indexes; BYTEA for BLOB, an identity column for AUTOINCREMENT, BIGINT where
-- the code reads 64-bit integers).
CREATE TABLE records (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT    NOT NULL UNIQUE,
    request_id  TEXT    NOT NULL UNIQUE,
    fingerprint BYTEA   NOT NULL,
    aco_id      TEXT    NOT NULL,
    period      INTEGER NOT NULL,
    body        BYTEA   NOT NULL
);

CREATE INDEX records_by_aco ON records (aco_id, period, seq);
CREATE INDEX records_by_period ON records (period, seq);
