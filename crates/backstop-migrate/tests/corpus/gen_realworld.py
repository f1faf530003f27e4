#!/usr/bin/env python3
"""Writes the real-world-shaped PostgreSQL corpus in tests/corpus/realworld (stdlib only, deterministic).

Usage: gen_realworld.py [OUT_DIR] [FILES] [SEED]   (defaults: the realworld folder next to this script, 320, 9)

Every file is written by this script: migrations in the habits of long-lived projects (several
schemas, plpgsql functions and DO blocks in every quoting style, sequences, partitions, domains,
comments, extended statistics, deferrable constraints, per-tenant schema names, expand/contract
pairs), and every construct PostgreSQL accepts that an earlier linter grammar refused. The corpus
test lints the folder as one and checks that every file parses and that every destructive
statement is contract or flagged.
"""
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "realworld")
FILES = int(sys.argv[2]) if len(sys.argv) > 2 else 320
SEED = int(sys.argv[3]) if len(sys.argv) > 3 else 9

TABLES = ["accounts", "invoices", "payments", "shipments", "workflow_runs", "activity_tasks", "timers",
          "tenants", "api_tokens", "webhooks", "audit_trail", "line_items", "price_books", "ledgers",
          "reservations", "queue_messages", "namespaces", "history_events", "signals", "cluster_members"]
COLUMNS = ["state", "region", "owner_ref", "amount_minor", "currency_code", "closed_at", "retry_count",
           "payload", "labels", "priority", "shard_id", "run_id", "visibility_ts", "checksum", "notes",
           "display_label", "external_ref", "expires_at", "attempt", "version_stamp"]
TYPES = ["text", "varchar(120)", "integer", "bigint", "timestamptz", "boolean", "jsonb", "numeric(14,4)",
         "uuid", "smallint", "bytea", "date", "inet", "text[]"]
DEFAULTS = {"text": "''", "varchar(120)": "'n/a'", "integer": "0", "bigint": "0", "timestamptz": "now()",
            "boolean": "false", "jsonb": "'{}'::jsonb", "numeric(14,4)": "0", "uuid": None, "smallint": "1",
            "bytea": "'\\x'::bytea", "date": "CURRENT_DATE", "inet": "'0.0.0.0'::inet", "text[]": "'{}'::text[]"}
EXTENSIONS = ["pgcrypto", "btree_gin", "pg_trgm", '"uuid-ossp"']
SCHEMAS = ["public", "billing", "ops", "temporal", "tenant_0042", "\"Tenant-Acme\"", "\"analytics.v2\""]


class Gen:
    def __init__(self, rnd, index):
        self.r = rnd
        self.i = index
        self.schema = rnd.choice(SCHEMAS)
        self.n = 0

    def q(self, table):
        return table if self.schema == "public" and self.r.random() < 0.6 else f"{self.schema}.{table}"

    def t(self):
        return self.q(self.r.choice(TABLES))

    def c(self):
        return self.r.choice(COLUMNS)

    def uniq(self, stem):
        self.n += 1
        return f"{stem}_{self.i}_{self.n}"

    # ------------------------------------------------------------------ expand

    def create_table(self):
        name = self.uniq(self.r.choice(TABLES))
        cols = [f"    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"]
        for _ in range(self.r.randint(2, 6)):
            ty = self.r.choice(TYPES)
            d = DEFAULTS[ty]
            extra = f" NOT NULL DEFAULT {d}" if d and self.r.random() < 0.4 else ""
            cols.append(f"    {self.uniq(self.c())} {ty}{extra}")
        if self.r.random() < 0.3:
            cols.append(f"    CONSTRAINT {name}_ref_fk FOREIGN KEY (id) REFERENCES {self.t()} (id) DEFERRABLE INITIALLY DEFERRED")
        if self.r.random() < 0.3:
            cols.append(f"    CONSTRAINT {name}_chk CHECK (id > 0)")
        ine = "IF NOT EXISTS " if self.r.random() < 0.7 else ""
        return [f"CREATE TABLE {ine}{self.q(name)} (\n" + ",\n".join(cols) + "\n)"]

    def partitioned(self):
        base = self.uniq("events")
        out = [f"CREATE TABLE IF NOT EXISTS {self.q(base)} (\n    id bigint NOT NULL,\n    created_at timestamptz NOT NULL,\n"
               f"    body jsonb\n) PARTITION BY RANGE (created_at)"]
        for year in range(2023, 2023 + self.r.randint(1, 3)):
            part = f"{base}_{year}"
            if self.r.random() < 0.5:
                out.append(f"CREATE TABLE IF NOT EXISTS {self.q(part)} PARTITION OF {self.q(base)}\n"
                           f"    FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')")
            else:
                out.append(f"CREATE TABLE IF NOT EXISTS {self.q(part)} (LIKE {self.q(base)} INCLUDING ALL)")
                out.append(f"ALTER TABLE {self.q(base)} ATTACH PARTITION {self.q(part)}\n"
                           f"    FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')")
        if self.r.random() < 0.3:
            out.append(f"CREATE TABLE IF NOT EXISTS {self.q(base)}_default PARTITION OF {self.q(base)} DEFAULT")
        return out

    def list_partition(self):
        base = self.uniq("regional")
        return [f"CREATE TABLE IF NOT EXISTS {self.q(base)} (id bigint, region text NOT NULL) PARTITION BY LIST (region)",
                f"CREATE TABLE IF NOT EXISTS {self.q(base)}_eu PARTITION OF {self.q(base)} FOR VALUES IN ('eu-west', 'eu-central')",
                f"CREATE TABLE IF NOT EXISTS {self.q(base)}_us PARTITION OF {self.q(base)} FOR VALUES IN ('us-east')"]

    def add_column(self):
        ty = self.r.choice(TYPES)
        d = DEFAULTS[ty]
        tail = f" DEFAULT {d}" if d and self.r.random() < 0.5 else ""
        return [f"ALTER TABLE {self.t()} ADD COLUMN IF NOT EXISTS {self.uniq(self.c())} {ty}{tail}"]

    def index(self):
        uniq = "UNIQUE " if self.r.random() < 0.3 else ""
        where = f" WHERE {self.c()} IS NOT NULL" if self.r.random() < 0.3 else ""
        using = self.r.choice(["", " USING btree", " USING gin"]) if not uniq else ""
        col = "labels" if using == " USING gin" else self.c()
        return [f"CREATE {uniq}INDEX CONCURRENTLY IF NOT EXISTS {self.uniq('idx')} ON {self.t()}{using} ({col}){where}"]

    def sequence(self):
        name = self.uniq("seq")
        out = [f"CREATE SEQUENCE IF NOT EXISTS {self.q(name)} AS {self.r.choice(['integer', 'bigint', 'smallint'])}"
               f" START WITH {self.r.randint(1, 1000)} INCREMENT BY 1 NO MINVALUE NO MAXVALUE CACHE {self.r.choice([1, 20])}"]
        if self.r.random() < 0.5:
            out.append(f"ALTER SEQUENCE {self.q(name)} OWNED BY {self.t()}.id")
        if self.r.random() < 0.4:
            out.append(f"ALTER SEQUENCE {self.q(name)} RESTART WITH {self.r.randint(1000, 9000)}")
        if self.r.random() < 0.3:
            out.append(f"SELECT setval('{name}', (SELECT coalesce(max(id), 1) FROM {self.t()}))")
        return out

    def domain(self):
        name = self.uniq("dom")
        out = [f"CREATE DOMAIN {self.q(name)} AS text CHECK (VALUE ~ '^[a-z0-9_\\-]+$')"]
        if self.r.random() < 0.5:
            out.append(f"ALTER DOMAIN {self.q(name)} ADD CONSTRAINT {name}_len CHECK (length(VALUE) < 200) NOT VALID")
            out.append(f"ALTER DOMAIN {self.q(name)} VALIDATE CONSTRAINT {name}_len")
        if self.r.random() < 0.3:
            out.append(f"ALTER DOMAIN {self.q(name)} SET DEFAULT 'none'")
        return out

    def enum(self):
        name = self.uniq("status")
        out = [f"CREATE TYPE {self.q(name)} AS ENUM ('pending', 'running', 'done')"]
        if self.r.random() < 0.6:
            out.append(f"ALTER TYPE {self.q(name)} ADD VALUE IF NOT EXISTS 'failed' AFTER 'running'")
        return out

    def composite(self):
        return [f"CREATE TYPE {self.q(self.uniq('money_pair'))} AS (amount numeric, currency char(3))"]

    def statistics(self):
        a, b = self.c(), self.c()
        kinds = self.r.choice(["(dependencies)", "(ndistinct, dependencies)", "(mcv)", ""])
        return [f"CREATE STATISTICS IF NOT EXISTS {self.q(self.uniq('stx'))} {kinds} ON {a}, {b} FROM {self.t()}"]

    def comments(self):
        choices = [
            f"COMMENT ON TABLE {self.t()} IS 'Owned by the {self.r.choice(['billing', 'ops'])} team; see runbook §4'",
            f"COMMENT ON COLUMN {self.t()}.{self.c()} IS E'Stored in minor units.\\nNever negative.'",
            f"COMMENT ON FUNCTION {self.q(self.uniq('touch'))}() IS 'Sets updated_at; called by triggers only'",
            f"COMMENT ON INDEX {self.uniq('idx')} IS NULL",
            f"COMMENT ON SCHEMA {self.schema} IS 'tenant data'",
            f"COMMENT ON CONSTRAINT {self.uniq('fk')} ON {self.t()} IS 'it''s deferrable on purpose'",
        ]
        return [self.r.choice(choices)]

    def function(self):
        name = self.q(self.uniq("touch_updated_at"))
        style = self.r.randrange(6)
        if style == 0:
            body = ("$$\nBEGIN\n    NEW.updated_at := now();\n    RETURN NEW;\nEND;\n$$")
            return [f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS {body}"]
        if style == 1:
            body = ("$function$\nDECLARE\n    n integer;\nBEGIN\n    SELECT count(*) INTO n FROM pg_class WHERE relname = 'x;y';\n"
                    "    RAISE NOTICE 'count: %', n;\n    RETURN NEW;\nEND\n$function$")
            return [f"CREATE OR REPLACE FUNCTION {name}()\n RETURNS trigger\n LANGUAGE plpgsql\n COST 100\nAS {body}"]
        if style == 2:
            body = "'\nBEGIN\n    NEW.note := ''it''''s done; really'';\n    RETURN NEW;\nEND;\n'"
            return [f"CREATE FUNCTION {name}() RETURNS trigger AS {body} LANGUAGE 'plpgsql' VOLATILE"]
        if style == 3:
            return [f"CREATE OR REPLACE FUNCTION {name}(a integer, b integer DEFAULT 1) RETURNS integer\n"
                    f"    LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 10\n    RETURN a + b"]
        if style == 4:
            return [f"CREATE OR REPLACE FUNCTION {name}(p_id bigint) RETURNS TABLE (id bigint, label text)\n"
                    f"    LANGUAGE sql STABLE\nBEGIN ATOMIC\n    SELECT p_id, 'x;y';\nEND"]
        return [f"CREATE OR REPLACE PROCEDURE {name}(batch integer)\nLANGUAGE plpgsql\nSECURITY DEFINER\n"
                f"SET search_path = pg_catalog, pg_temp\nAS $proc$\nBEGIN\n    COMMIT;\nEND;\n$proc$"]

    def trigger(self):
        table = self.t()
        fn = self.q(self.uniq("trg_fn"))
        return [f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $t$ BEGIN RETURN NEW; END $t$",
                f"CREATE OR REPLACE TRIGGER {self.uniq('trg')} BEFORE UPDATE ON {table}\n"
                f"    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION {fn}()"]

    def do_block(self):
        style = self.r.randrange(5)
        table = self.r.choice(TABLES)
        if style == 0:
            return [f"DO $$\nBEGIN\n    IF NOT EXISTS (SELECT 1 FROM pg_type WHERE typname = 'mood') THEN\n"
                    f"        CREATE TYPE mood AS ENUM ('a', 'b');\n    END IF;\nEND\n$$"]
        if style == 1:
            return [f"DO LANGUAGE 'plpgsql' $$\nBEGIN\n    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', '{table}');\nEND\n$$"]
        if style == 2:
            return [f"DO LANGUAGE plpgsql $do$\nDECLARE r record;\nBEGIN\n    FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'ops' LOOP\n"
                    f"        EXECUTE 'ANALYZE ops.' || quote_ident(r.tablename);\n    END LOOP;\nEND $do$"]
        if style == 3:
            return [f"DO 'BEGIN RAISE NOTICE ''migrating {table}; please wait''; END'"]
        return [f"DO $body$ BEGIN PERFORM pg_advisory_xact_lock(42); END $body$ LANGUAGE plpgsql"]

    def constraint_two_step(self):
        table, name = self.t(), self.uniq("fk")
        out = [f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({self.c()}) REFERENCES {self.t()} (id) NOT VALID",
               f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}"]
        if self.r.random() < 0.6:
            out.append(f"ALTER TABLE {table} ALTER CONSTRAINT {name} DEFERRABLE INITIALLY DEFERRED")
        return out

    def grants(self):
        return [f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA {self.schema} TO app_rw",
                f"ALTER DEFAULT PRIVILEGES IN SCHEMA {self.schema} GRANT SELECT ON TABLES TO app_ro"]

    def views(self):
        name = self.q(self.uniq("v_open"))
        mat = self.r.random() < 0.3
        kw = "MATERIALIZED VIEW IF NOT EXISTS" if mat else "OR REPLACE VIEW"
        out = [f"CREATE {kw} {name} AS\n    SELECT id, {self.c()} FROM {self.t()} WHERE {self.c()} IS NULL"]
        if mat:
            out.append(f"CREATE UNIQUE INDEX IF NOT EXISTS {self.uniq('mv_idx')} ON {name} (id)")
        return out

    def misc_expand(self):
        return [self.r.choice([
            f"CREATE EXTENSION IF NOT EXISTS {self.r.choice(EXTENSIONS)}",
            f"CREATE SCHEMA IF NOT EXISTS {self.schema}",
            f"SET search_path TO {self.schema}, public",
            f"SET LOCAL statement_timeout = '30s'",
            f"ALTER TABLE {self.t()} SET (autovacuum_vacuum_scale_factor = 0.02, fillfactor = 90)",
            f"ALTER TABLE {self.t()} ALTER COLUMN {self.c()} SET STATISTICS 500",
            f"ALTER TABLE {self.t()} REPLICA IDENTITY FULL",
            f"ALTER FUNCTION {self.q(self.uniq('f'))}(bigint) SET search_path = pg_catalog",
            f"ALTER TABLE {self.t()} OWNER TO migrator",
            f"ANALYZE {self.t()}",
            f"CREATE POLICY {self.uniq('pol')} ON {self.t()} USING (tenant_id = current_setting('app.tenant')::bigint)",
            f"ALTER TABLE {self.t()} ENABLE ROW LEVEL SECURITY",
            f"SELECT pg_catalog.set_config('search_path', '', false)",
            f"ALTER TABLE {self.t()} ALTER COLUMN {self.c()} SET DEFAULT 'x'",
        ])]

    def backfill(self):
        return [self.r.choice([
            f"UPDATE {self.t()} SET {self.c()} = 0 WHERE id BETWEEN 1 AND 10000 AND {self.c()} IS NULL",
            f"INSERT INTO {self.t()} (id, {self.c()}) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING",
            f"WITH moved AS (DELETE FROM {self.t()} WHERE closed_at < now() - interval '90 days' RETURNING *)\n"
            f"    INSERT INTO {self.t()} SELECT * FROM moved",
            f"DELETE FROM {self.t()} WHERE expires_at < now()",
            f"REFRESH MATERIALIZED VIEW CONCURRENTLY {self.q('v_open_stats')}",
        ])]

    # ---------------------------------------------------------------- contract

    def destructive(self):
        t, c = self.t(), self.c()
        return [self.r.choice([
            f"ALTER TABLE {t} DROP COLUMN IF EXISTS {c}",
            f"ALTER TABLE {t} RENAME COLUMN {c} TO {c}_old",
            f"ALTER TABLE {t} RENAME TO {self.r.choice(TABLES)}_archive",
            f"ALTER TABLE {t} ALTER COLUMN {c} TYPE bigint USING {c}::bigint",
            f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL",
            f"ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT",
            f"ALTER TABLE {t} SET SCHEMA archive",
            f"ALTER TABLE {t} DETACH PARTITION {t}_2023",
            f"ALTER TABLE {t} ADD COLUMN {self.uniq(c)} bigint NOT NULL",
            f"ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {self.uniq(c)} bigint REFERENCES {self.t()} (id)",
            f"DROP TABLE IF EXISTS {t} CASCADE",
            f"DROP VIEW IF EXISTS {self.q('v_legacy')}",
            f"DROP MATERIALIZED VIEW IF EXISTS {self.q('mv_legacy')}",
            f"DROP TYPE IF EXISTS {self.q('legacy_status')}",
            f"DROP FUNCTION IF EXISTS {self.q('legacy_fn')}(bigint, text)",
            f"DROP PROCEDURE IF EXISTS {self.q('legacy_proc')}",
            f"DROP SEQUENCE IF EXISTS {self.q('legacy_seq')}",
            f"DROP DOMAIN IF EXISTS {self.q('legacy_dom')}",
            f"DROP TRIGGER IF EXISTS legacy_trg ON {t}",
            f"DROP POLICY IF EXISTS legacy_pol ON {t}",
            f"DROP SCHEMA IF EXISTS legacy CASCADE",
            f"DROP INDEX IF EXISTS {self.q('legacy_idx')}",
            f"ALTER TYPE {self.q('status')} RENAME VALUE 'done' TO 'completed'",
            f"ALTER TYPE {self.q('status')} RENAME TO run_status",
            f"ALTER INDEX {self.q('legacy_idx')} RENAME TO legacy_idx_old",
            f"ALTER SEQUENCE {self.q('legacy_seq')} AS integer",
            f"ALTER SEQUENCE {self.q('legacy_seq')} MAXVALUE 100000",
            f"ALTER SEQUENCE {self.q('legacy_seq')} RENAME TO legacy_seq2",
            f"ALTER DOMAIN {self.q('legacy_dom')} SET NOT NULL",
            f"ALTER DOMAIN {self.q('legacy_dom')} DROP DEFAULT",
            f"ALTER VIEW {self.q('v_open')} RENAME TO v_open_old",
            f"REVOKE INSERT ON {t} FROM app_rw",
            f"ALTER TABLE {t} RENAME CONSTRAINT {t.split('.')[-1]}_pkey TO {t.split('.')[-1]}_pk",
        ])]


def file_text(g, rnd, kind):
    pools = {
        "schema": [g.create_table, g.partitioned, g.list_partition, g.sequence, g.domain, g.enum, g.composite,
                   g.statistics, g.comments, g.function, g.trigger, g.views, g.grants, g.misc_expand],
        "expand": [g.add_column, g.index, g.sequence, g.statistics, g.comments, g.constraint_two_step, g.domain,
                   g.enum, g.function, g.do_block, g.misc_expand, g.views, g.partitioned],
        "backfill": [g.backfill, g.do_block],
        "contract": [g.destructive, g.destructive, g.comments, g.misc_expand],
    }[kind]
    header = rnd.choice([
        "", f"-- Migration {g.i}: {kind} step\n", f"/* {kind}: generated by the schema tool\n * keep in sync; do not edit */\n",
        "-- +goose Up\n", "-- migrate:up\n", "\ufeff",
    ])
    wrap = rnd.random() < 0.35 and kind != "expand"
    statements = []
    if rnd.random() < 0.5:
        statements.append("SET lock_timeout = '5s'")
    for _ in range(rnd.randint(1, 5)):
        statements.extend(rnd.choice(pools)())
    body = ";\n\n".join(statements) + ";\n"
    if wrap:
        body = "BEGIN;\n\n" + body + "\nCOMMIT;\n"
    footer = ""
    if header.startswith("-- +goose"):
        footer = "\n-- +goose Down\nDROP TABLE IF EXISTS whatever;\n"
    elif header.startswith("-- migrate:up"):
        footer = "\n-- migrate:down\nSELECT 1;\n"
    return header + body + footer


def main():
    rnd = random.Random(SEED)
    os.makedirs(OUT, exist_ok=True)
    for old in os.listdir(OUT):
        if old.endswith(".sql"):
            os.remove(os.path.join(OUT, old))
    kinds = ["schema"] * 3 + ["expand"] * 5 + ["backfill"] + ["contract"] * 3
    for i in range(1, FILES + 1):
        kind = rnd.choice(kinds)
        g = Gen(rnd, i)
        name = f"{i:04d}_{kind}_{g.r.choice(TABLES)}.sql"
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            f.write(file_text(g, rnd, kind))


if __name__ == "__main__":
    main()
