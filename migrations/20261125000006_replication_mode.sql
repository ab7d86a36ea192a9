-- The replication mode this node last switched to at run time, and that
-- switch's number (0: none yet, the node's flags decide). Switches are
-- numbered by the cluster, so a node that missed one takes the higher
-- number from any peer it syncs with.
CREATE TABLE replication_mode (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    mode     TEXT NOT NULL,
    version  BIGINT NOT NULL
);
