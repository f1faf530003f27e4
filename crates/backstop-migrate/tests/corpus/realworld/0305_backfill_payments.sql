DO 'BEGIN RAISE NOTICE ''migrating history_events; please wait''; END';

WITH moved AS (DELETE FROM public.webhooks WHERE closed_at < now() - interval '90 days' RETURNING *)
    INSERT INTO webhooks SELECT * FROM moved;

UPDATE payments SET external_ref = 0 WHERE id BETWEEN 1 AND 10000 AND display_label IS NULL;

DO LANGUAGE 'plpgsql' $$
BEGIN
    EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS x int', 'history_events');
END
$$;

INSERT INTO public.history_events (id, owner_ref) VALUES (1, 'a'), (2, 'b') ON CONFLICT (id) DO NOTHING;
