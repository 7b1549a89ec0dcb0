DROP TABLE claim_events;
DROP TABLE claims;
DROP TABLE claim_rounds;
