CREATE TABLE t (id int PRIMARY KEY, v int CHECK (v > (((1)))));
SELECT ((((((((((((((((1))))))))))))))));
UPDATE t SET v = 1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1 WHERE id IN (SELECT id FROM (SELECT id FROM t) s);
