-- The seat sweep, under the write lock, looks for floating seats whose heartbeat is overdue
-- (last_heartbeat + heartbeat_s < now) and for borrows that ended. With only an index on
-- (status, last_heartbeat) it read every live seat to find them (measured: 30,000 seats,
-- ~40 ms every sweep, every seat request waiting behind it). Each now has a partial index
-- that holds exactly its candidates; the old index served nothing else.
DROP INDEX seats_by_status;
CREATE INDEX seats_floating_due ON seats ((last_heartbeat + heartbeat_s))
    WHERE status = 'alive' AND mode = 'floating';
CREATE INDEX seats_borrowed ON seats (borrowed_until) WHERE status = 'borrowed';
