-- The record ledger every acorn service keeps (one SQLite file per service). `body` is the encoded
-- resource (e.g. acorn.settlement.v1.Reconciliation); the other columns serve lookups and
-- idempotency. `seq` orders the ledger (newest = highest).
CREATE TABLE records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    request_id  TEXT    NOT NULL UNIQUE,
    fingerprint BLOB    NOT NULL,
    aco_id      TEXT    NOT NULL,
    period      INTEGER NOT NULL,
    body        BLOB    NOT NULL
);

CREATE INDEX records_by_aco ON records (aco_id, period, seq);
CREATE INDEX records_by_period ON records (period, seq);
