-- A published version's bytes, made once when it is published: each township's slice of a
-- power list with its gzip copy and signature, and the gzip copy of every published
-- document. A read that misses memory reads them; it never renders. A version published
-- before these existed is rendered once at start-up (its content_gzip is NULL until then).
CREATE TABLE version_slices (
  version_id   BIGINT NOT NULL REFERENCES list_versions (id),
  township     TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  body         BLOB NOT NULL,
  body_gzip    BLOB NOT NULL,
  signature    TEXT NOT NULL,
  PRIMARY KEY (version_id, township)
);
ALTER TABLE version_contents ADD COLUMN content_gzip BLOB;
