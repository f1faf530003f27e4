UPDATE audit_trail SET region = 0 WHERE id BETWEEN 1 AND 10000 AND region IS NULL;
