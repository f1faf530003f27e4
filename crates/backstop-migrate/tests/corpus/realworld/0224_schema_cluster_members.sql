CREATE TYPE temporal.status_224_1 AS ENUM ('pending', 'running', 'done');

CREATE TYPE temporal.status_224_2 AS ENUM ('pending', 'running', 'done');

ALTER TYPE temporal.status_224_2 ADD VALUE IF NOT EXISTS 'failed' AFTER 'running';
