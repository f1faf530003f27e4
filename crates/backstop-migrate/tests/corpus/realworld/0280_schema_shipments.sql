CREATE TYPE temporal.money_pair_280_1 AS (amount numeric, currency char(3));
