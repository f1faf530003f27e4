SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS ops.events_243_1 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ops.events_243_1_2023 (LIKE ops.events_243_1 INCLUDING ALL);

ALTER TABLE ops.events_243_1 ATTACH PARTITION ops.events_243_1_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS ops.events_243_1_2024 PARTITION OF ops.events_243_1
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS ops.events_243_1_2025 PARTITION OF ops.events_243_1
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');

CREATE TABLE IF NOT EXISTS ops.events_243_2 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ops.events_243_2_2023 (LIKE ops.events_243_2 INCLUDING ALL);

ALTER TABLE ops.events_243_2 ATTACH PARTITION ops.events_243_2_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS ops.events_243_2_default PARTITION OF ops.events_243_2 DEFAULT;

CREATE TABLE IF NOT EXISTS ops.events_243_3 (
    id bigint NOT NULL,
    created_at timestamptz NOT NULL,
    body jsonb
) PARTITION BY RANGE (created_at);

CREATE TABLE IF NOT EXISTS ops.events_243_3_2023 (LIKE ops.events_243_3 INCLUDING ALL);

ALTER TABLE ops.events_243_3 ATTACH PARTITION ops.events_243_3_2023
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');

CREATE TABLE IF NOT EXISTS ops.events_243_3_2024 PARTITION OF ops.events_243_3
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');

CREATE TABLE IF NOT EXISTS ops.events_243_3_2025 (LIKE ops.events_243_3 INCLUDING ALL);

ALTER TABLE ops.events_243_3 ATTACH PARTITION ops.events_243_3_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
