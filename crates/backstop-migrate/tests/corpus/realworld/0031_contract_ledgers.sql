SET lock_timeout = '5s';

ALTER TYPE status RENAME TO run_status;
