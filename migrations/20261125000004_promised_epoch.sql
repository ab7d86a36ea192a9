-- The highest epoch this node has promised to a leader catching up (see
-- cluster::replication::recovery). It refuses writes of earlier epochs, and
-- must remember that across restarts.
CREATE TABLE replication_fence (
    only_row       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    promised_epoch BIGINT NOT NULL
);
INSERT INTO replication_fence (promised_epoch) VALUES (0);
