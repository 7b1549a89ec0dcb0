-- Answers to writes sent with an Idempotency-Key, kept a day so a retry replays them.
CREATE TABLE idempotency_keys (
  owner       TEXT NOT NULL,
  idem_key    TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  target      TEXT NOT NULL,
  status      INTEGER,           -- NULL while the first request runs
  headers     TEXT,
  body        BLOB,
  created_at  TIMESTAMP NOT NULL,
  PRIMARY KEY (owner, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
