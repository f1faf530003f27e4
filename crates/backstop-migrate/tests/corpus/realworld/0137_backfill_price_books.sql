DO 'BEGIN RAISE NOTICE ''migrating activity_tasks; please wait''; END';
