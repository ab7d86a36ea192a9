-- When a booking was first written, at its origin, on the real clock (not
-- the node's simulated one): a replica measures replication lag from it.
-- A copy keeps its origin's; a row written before this column came gets
-- the time of the migration.
ALTER TABLE bookings ADD COLUMN written_at TIMESTAMPTZ NOT NULL DEFAULT now();
