-- Nothing to undo: name stays filled.
SELECT 1;
