-- Multi-master strong: the bookings this node coordinates whose claim on
-- their seats is not decided yet (won at a majority, or withdrawn). A node
-- that stops in the middle of a claim finds it here when it starts again,
-- and settles it (server/src/replication/claims.rs).
CREATE TABLE undecided_claims (
    booking_id UUID PRIMARY KEY REFERENCES bookings (id)
);
