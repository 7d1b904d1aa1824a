-- Upload batches are stored LZ4-compressed by the service (attribution_svc::codec): keep them out of
-- line without PostgreSQL's own compression, which would spend CPU failing to shrink them again.
ALTER TABLE batches ALTER COLUMN body SET STORAGE EXTERNAL;
