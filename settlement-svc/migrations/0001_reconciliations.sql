-- Recorded reconciliations. `body` is the encoded acorn.settlement.v1.Reconciliation; the other
-- columns are what lookups and idempotency need. `seq` orders the ledger (newest = highest).
CREATE TABLE reconciliations (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT    NOT NULL UNIQUE,
    request_id       TEXT    NOT NULL UNIQUE,
    fingerprint      BLOB    NOT NULL,
    aco_id           TEXT    NOT NULL,
    performance_year INTEGER NOT NULL,
    body             BLOB    NOT NULL
);

CREATE INDEX reconciliations_by_aco ON reconciliations (aco_id, performance_year, seq);
CREATE INDEX reconciliations_by_year ON reconciliations (performance_year, seq);
