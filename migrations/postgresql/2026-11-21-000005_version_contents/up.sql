-- A version's frozen document lives beside its metadata, not in it (see the SQLite
-- migration: there the megabytes of content slowed every metadata read). PostgreSQL
-- would TOAST it anyway; the schema is the same on both backends.
CREATE TABLE version_contents (
  version_id BIGINT PRIMARY KEY REFERENCES list_versions (id),
  content    TEXT NOT NULL
);
INSERT INTO version_contents (version_id, content) SELECT id, content FROM list_versions;
ALTER TABLE list_versions DROP COLUMN content;
