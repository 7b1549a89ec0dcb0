-- Trust in the gate: the audit chain keyed and append-only, anchors of its head signed
-- into publications, signed publications, and who reviewed as part of the record.

-- Events before this one were chained with plain SHA-256; from it on, with HMAC-SHA256
-- under a key that is not in the database.
ALTER TABLE audit_head ADD COLUMN keyed_from BIGINT NOT NULL DEFAULT 1;
UPDATE audit_head SET keyed_from = seq + 1;

-- Signed statements of the chain's head (sequence number and MAC) at a moment, made with
-- the publication key: whoever holds one can tell that the chain was cut behind it.
CREATE TABLE audit_anchors (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  seq        BIGINT NOT NULL CHECK (seq > 0),
  mac        TEXT NOT NULL,
  subject    TEXT NOT NULL,
  jws        TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_anchors_seq ON audit_anchors (seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;
CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
BEGIN SELECT RAISE(ABORT, 'audit_anchors is append-only'); END;

-- The detached JWS of the published document, and the anchor signed at publication.
ALTER TABLE list_versions ADD COLUMN signature TEXT;
ALTER TABLE list_versions ADD COLUMN anchor_seq BIGINT;
ALTER TABLE list_versions ADD COLUMN anchor_mac TEXT;
ALTER TABLE list_versions ADD COLUMN anchor_jws TEXT;

-- The reviewing organisation's name as it was when it reviewed.
ALTER TABLE version_reviews ADD COLUMN reviewer_org_name TEXT NOT NULL DEFAULT '';
