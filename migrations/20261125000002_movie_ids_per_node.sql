-- Movies added through the API take ids that no two nodes can both make up:
-- a number from this database's own sequence, times 1000, plus the id of
-- the node that added it (1001, 1003, 2001, ...). Seeded movies keep their
-- ids below 1000. The sequence starts past any movie added before.
CREATE SEQUENCE movie_number;
SELECT setval('movie_number', max(id) / 1000) FROM movies HAVING max(id) >= 1000;
