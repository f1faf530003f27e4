SET LOCAL statement_timeout = '30s';

CREATE STATISTICS IF NOT EXISTS public.stx_198_3  ON visibility_ts, run_id FROM webhooks;

CREATE TABLE IF NOT EXISTS regional_198_4 (id bigint, region text NOT NULL) PARTITION BY LIST (region);

CREATE TABLE IF NOT EXISTS regional_198_4_eu PARTITION OF regional_198_4 FOR VALUES IN ('eu-west', 'eu-central');

CREATE TABLE IF NOT EXISTS regional_198_4_us PARTITION OF public.regional_198_4 FOR VALUES IN ('us-east');

CREATE TYPE public.money_pair_198_5 AS (amount numeric, currency char(3));

CREATE TABLE public.timers_198_6 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    priority_198_7 text[] NOT NULL DEFAULT '{}'::text[],
    notes_198_8 timestamptz,
    attempt_198_9 jsonb,
    region_198_10 uuid,
    amount_minor_198_11 inet NOT NULL DEFAULT '0.0.0.0'::inet,
    owner_ref_198_12 uuid,
    CONSTRAINT timers_198_6_ref_fk FOREIGN KEY (id) REFERENCES public.reservations (id) DEFERRABLE INITIALLY DEFERRED
);
