-- Migration 98: schema step
SET lock_timeout = '5s';

CREATE TABLE tenant_0042.payments_98_1 (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_ref_98_2 timestamptz NOT NULL DEFAULT now(),
    display_label_98_3 numeric(14,4) NOT NULL DEFAULT 0,
    CONSTRAINT payments_98_1_chk CHECK (id > 0)
);
