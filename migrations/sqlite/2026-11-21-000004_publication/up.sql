-- Publication: versions of a county's power list and responsibility list, their
-- reviews with per-item findings, and the publication log.

CREATE TABLE list_versions (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  county_code       TEXT NOT NULL REFERENCES regions (code),
  kind              TEXT NOT NULL CHECK (kind IN ('power', 'duty')),
  number            INTEGER NOT NULL CHECK (number > 0),
  status            TEXT NOT NULL CHECK (status IN ('in_review', 'approved', 'returned', 'withdrawn', 'published', 'superseded')),
  title             TEXT NOT NULL CHECK (length(title) > 0),
  change_summary    TEXT NOT NULL,
  content           TEXT NOT NULL,
  content_hash      TEXT NOT NULL CHECK (length(content_hash) = 64),
  item_count        INTEGER NOT NULL,
  answered_findings TEXT NOT NULL,
  submitted_by      TEXT NOT NULL,
  submitted_at      TIMESTAMP NOT NULL,
  ended_at          TIMESTAMP,
  published_by      TEXT,
  published_at      TIMESTAMP,
  effective_from    DATE,
  effective_to      DATE,
  revision          BIGINT NOT NULL DEFAULT 1,
  UNIQUE (county_code, kind, number),
  CHECK ((status IN ('published', 'superseded')) = (published_at IS NOT NULL AND effective_from IS NOT NULL)),
  CHECK (effective_to IS NULL OR effective_to >= effective_from)
);
-- At most one version per county and kind is being reviewed or approved at a time.
CREATE UNIQUE INDEX list_versions_one_open ON list_versions (county_code, kind) WHERE status IN ('in_review', 'approved');
-- And at most one is the latest publication.
CREATE UNIQUE INDEX list_versions_one_latest ON list_versions (county_code, kind) WHERE status = 'published';
CREATE INDEX list_versions_in_force ON list_versions (county_code, kind, effective_from);
CREATE INDEX list_versions_published_at ON list_versions (published_at, id);

CREATE TABLE version_reviews (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  version_id    BIGINT NOT NULL REFERENCES list_versions (id),
  stage         TEXT NOT NULL,
  decision      TEXT NOT NULL CHECK (decision IN ('approve', 'return')),
  reviewer_sub  TEXT NOT NULL,
  reviewer_org  TEXT NOT NULL,
  comments      TEXT NOT NULL,
  reviewed_hash TEXT NOT NULL,
  created_at    TIMESTAMP NOT NULL
);
CREATE INDEX version_reviews_version ON version_reviews (version_id, id);

CREATE TABLE review_findings (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  review_id       BIGINT NOT NULL REFERENCES version_reviews (id),
  item_code       TEXT NOT NULL,
  problem         TEXT NOT NULL,
  law             TEXT,
  severity        TEXT NOT NULL CHECK (severity IN ('blocking', 'advisory')),
  change_required TEXT NOT NULL
);
CREATE INDEX review_findings_review ON review_findings (review_id, id);
