BEGIN;

CREATE TYPE ops.money_pair_46_1 AS (amount numeric, currency char(3));

COMMIT;
