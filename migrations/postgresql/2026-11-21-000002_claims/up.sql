-- Two-way claiming (雙向認領): rounds, one claim per (township, offered item), and each
-- claim's history of transitions.

CREATE TABLE claim_rounds (
  id           BIGSERIAL PRIMARY KEY,
  county_code  TEXT NOT NULL REFERENCES regions (code),
  edition_code TEXT NOT NULL REFERENCES catalogue_editions (code),
  title        TEXT NOT NULL CHECK (length(title) > 0),
  deadline     DATE NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  revision     BIGINT NOT NULL DEFAULT 1,
  created_at   TIMESTAMP NOT NULL,
  updated_at   TIMESTAMP NOT NULL,
  closed_at    TIMESTAMP,
  CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX claim_rounds_county ON claim_rounds (county_code, id);

-- The item's category, domain and sector are copied from the (immutable, published)
-- edition so that statistics and the department's scope need no join.
CREATE TABLE claims (
  id            BIGSERIAL PRIMARY KEY,
  round_id      BIGINT NOT NULL REFERENCES claim_rounds (id) ON DELETE CASCADE,
  township_code TEXT NOT NULL REFERENCES regions (code),
  item_id       BIGINT NOT NULL REFERENCES catalogue_items (id),
  item_code     TEXT NOT NULL,
  category      TEXT NOT NULL,
  domain        TEXT NOT NULL,
  sector        TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('offered', 'claimed', 'deferred', 'declined', 'confirmed', 'returned')),
  unit_code     TEXT REFERENCES organisations (code),
  reason        TEXT,
  note          TEXT,
  revision      BIGINT NOT NULL DEFAULT 1,
  updated_at    TIMESTAMP NOT NULL,
  updated_by    TEXT NOT NULL,
  UNIQUE (round_id, township_code, item_code),
  CHECK (state NOT IN ('claimed', 'confirmed') OR unit_code IS NOT NULL),
  CHECK (state NOT IN ('deferred', 'declined') OR reason IS NOT NULL),
  CHECK (state <> 'returned' OR note IS NOT NULL)
);
CREATE INDEX claims_round_state ON claims (round_id, state);
CREATE INDEX claims_round_sector ON claims (round_id, sector, state);
CREATE INDEX claims_township ON claims (township_code, state);

CREATE TABLE claim_events (
  id          BIGSERIAL PRIMARY KEY,
  claim_id    BIGINT NOT NULL REFERENCES claims (id) ON DELETE CASCADE,
  from_state  TEXT NOT NULL,
  to_state    TEXT NOT NULL,
  actor_sub   TEXT NOT NULL,
  actor_org   TEXT NOT NULL,
  unit_code   TEXT,
  comment     TEXT,
  occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX claim_events_claim ON claim_events (claim_id, id);
