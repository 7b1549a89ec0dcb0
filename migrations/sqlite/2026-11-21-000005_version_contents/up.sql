-- A version's frozen document lives beside its metadata, not in it: a power list is
-- megabytes, and in SQLite every column stored after it in the row (hash, dates, status)
-- could only be read by walking the document's overflow pages, which made "which version
-- is in force" and the publication log read megabytes per row.
CREATE TABLE version_contents (
  version_id BIGINT PRIMARY KEY REFERENCES list_versions (id),
  content    TEXT NOT NULL
);
INSERT INTO version_contents (version_id, content) SELECT id, content FROM list_versions;
ALTER TABLE list_versions DROP COLUMN content;
