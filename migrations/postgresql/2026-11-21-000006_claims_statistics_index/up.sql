-- A round's statistics group its claims by township, category, domain and state and
-- count the distinct items: with every column in one index, both queries read the
-- index alone, in group order, never the wide claim rows.
CREATE INDEX claims_round_statistics ON claims (round_id, township_code, category, domain, state, item_code);
