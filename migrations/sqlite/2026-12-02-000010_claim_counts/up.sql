-- A round's statistics kept as counts: one row for every township, item type, domain and
-- state the round offers (zero included, so that a transition only ever updates two rows
-- and concurrent transitions never race to insert one), moved in the same transaction as
-- the claims. Statistics then read O(townships × types × domains) rows, not the claims.
CREATE TABLE claim_counts (
  round_id      BIGINT NOT NULL REFERENCES claim_rounds (id),
  township_code TEXT NOT NULL,
  category      TEXT NOT NULL,
  domain        TEXT NOT NULL,
  state         TEXT NOT NULL,
  claims        BIGINT NOT NULL CHECK (claims >= 0),
  PRIMARY KEY (round_id, township_code, category, domain, state)
);
-- Distinct items a round offers, counted once when it opens; and a count of the changes
-- to its statistics, so that an answer made from them is kept until they change.
ALTER TABLE claim_rounds ADD COLUMN items_offered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE claim_rounds ADD COLUMN counts_revision BIGINT NOT NULL DEFAULT 0;

INSERT INTO claim_counts (round_id, township_code, category, domain, state, claims)
SELECT g.round_id, g.township_code, g.category, g.domain, s.state, COALESCE(n.claims, 0)
FROM (SELECT DISTINCT round_id, township_code, category, domain FROM claims) g
CROSS JOIN (
  SELECT 'offered' AS state UNION ALL SELECT 'claimed' UNION ALL SELECT 'deferred'
  UNION ALL SELECT 'declined' UNION ALL SELECT 'confirmed' UNION ALL SELECT 'returned'
) s
LEFT JOIN (
  SELECT round_id, township_code, category, domain, state, count(*) AS claims
  FROM claims GROUP BY round_id, township_code, category, domain, state
) n ON n.round_id = g.round_id AND n.township_code = g.township_code
   AND n.category = g.category AND n.domain = g.domain AND n.state = s.state;

UPDATE claim_rounds SET items_offered =
  (SELECT count(DISTINCT item_code) FROM claims WHERE claims.round_id = claim_rounds.id);
