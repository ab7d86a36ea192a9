-- Every change to a booking is an op, numbered 1, 2, 3, ... by the node that
-- made it (see cluster::replication::ops). What a node has applied is the
-- set of these ids: the digest anti-entropy and gossip exchange, and, in
-- causal mode, the vector clock sessions and dependencies are checked
-- against. Bookings written before this migration have no ops and are not
-- exchanged any more: every node keeps what it held.
CREATE TABLE booking_ops (
    origin     INTEGER NOT NULL,
    number     BIGINT NOT NULL,
    booking_id UUID NOT NULL REFERENCES bookings (id),
    PRIMARY KEY (origin, number)
);
CREATE INDEX booking_ops_by_booking ON booking_ops (booking_id);

-- The last number this node gave one of its own ops. The row is locked by
-- the transaction that takes a number until it commits, so numbers are
-- given in commit order and a rolled-back op leaves no gap.
CREATE TABLE op_counter (
    origin INTEGER PRIMARY KEY,
    last   BIGINT NOT NULL
);

ALTER TABLE bookings
    -- What the latest op depended on: the frontier of the node that made it.
    ADD COLUMN deps JSONB NOT NULL DEFAULT '[]',
    -- The replication mode the booking was made under, "strategy/consistency".
    ADD COLUMN mode TEXT NOT NULL DEFAULT 'master-slave/strong',
    -- For a booking that lost its seats to a concurrent one: that one.
    ADD COLUMN lost_to UUID;
