WITH moved AS (DELETE FROM billing.ledgers WHERE closed_at < now() - interval '90 days' RETURNING *)
    INSERT INTO billing.webhooks SELECT * FROM moved;
