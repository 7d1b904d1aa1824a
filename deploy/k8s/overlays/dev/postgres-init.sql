-- One database per service: settlement-svc and benchmark-svc each keep a `records` table, and each
-- service's sqlx migration history is its own. Run once by the postgres image on an empty volume.
CREATE DATABASE settlement OWNER acorn;
CREATE DATABASE benchmark OWNER acorn;
CREATE DATABASE attribution OWNER acorn;
