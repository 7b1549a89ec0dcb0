-- A published version's bytes, made once when it is published: each township's slice of a
-- power list with its gzip copy and signature, and the gzip copy of every published
-- document. A read that misses memory reads them; it never renders. A version published
-- before these existed is rendered once at start-up (its content_gzip is NULL until then).
CREATE TABLE version_slices (
  version_id   BIGINT NOT NULL REFERENCES list_versions (id),
  township     TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  body         BYTEA NOT NULL,
  body_gzip    BYTEA NOT NULL,
  signature    TEXT NOT NULL,
  PRIMARY KEY (version_id, township)
);
ALTER TABLE version_contents ADD COLUMN content_gzip BYTEA;
-- Kept as written: the gzip copy is compressed already, and an uncompressed body is read
-- by copying its chunks rather than by decompressing them on every miss.
ALTER TABLE version_slices ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE version_slices ALTER COLUMN body_gzip SET STORAGE EXTERNAL;
ALTER TABLE version_contents ALTER COLUMN content_gzip SET STORAGE EXTERNAL;
