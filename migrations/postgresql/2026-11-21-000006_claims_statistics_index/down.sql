DROP INDEX claims_round_statistics;
