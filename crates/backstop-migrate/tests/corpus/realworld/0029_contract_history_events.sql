DROP SCHEMA IF EXISTS legacy CASCADE;

ALTER TYPE ops.status RENAME VALUE 'done' TO 'completed';
