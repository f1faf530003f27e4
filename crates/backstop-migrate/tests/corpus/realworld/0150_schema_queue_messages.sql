SET lock_timeout = '5s';

SELECT pg_catalog.set_config('search_path', '', false);
