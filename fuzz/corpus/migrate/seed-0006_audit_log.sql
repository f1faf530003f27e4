SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS audit_log (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY
    user_id bigint NOT NULL,
    action  text NOT NULL
);
