-- A turn at a host that first gives back the turns this node's ended requests held, so that
-- giving a turn back costs no round trip of its own: a node queues them and sends them with its
-- next request for a turn, or after a short while when it asks for none. Same rules as
-- take_host_turn in 0002 (kept for nodes of the version before, during an upgrade), in fewer
-- statements: the host's row is locked first, and the free slot taken in the statement that
-- looks for it.
CREATE FUNCTION take_host_turn(
    p_host TEXT,
    p_per_host BIGINT,
    p_spacing_ms BIGINT,
    p_slow_spacing_ms BIGINT,
    p_hold_ms BIGINT,
    p_node TEXT,
    p_released_hosts TEXT[],
    p_released_slots BIGINT[]
) RETURNS TABLE (turn_slot BIGINT, wait_ms BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    now_ms   BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
    next_ms  BIGINT;
    slow_ms  BIGINT;
    free     BIGINT;
    start_ms BIGINT;
BEGIN
    IF cardinality(p_released_hosts) > 0 THEN
        PERFORM give_back_host_turns(p_released_hosts, p_released_slots, p_node);
    END IF;
    SELECT t.next_at_ms, t.slow_until_ms INTO next_ms, slow_ms
        FROM host_turns t WHERE t.host = p_host FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO host_turns (host) VALUES (p_host) ON CONFLICT (host) DO NOTHING;
        SELECT t.next_at_ms, t.slow_until_ms INTO next_ms, slow_ms
            FROM host_turns t WHERE t.host = p_host FOR UPDATE;
    END IF;
    start_ms := GREATEST(next_ms, now_ms);
    INSERT INTO host_slots AS h (host, slot, leased_by, leased_until_ms)
        SELECT p_host, s.n, p_node, start_ms + p_hold_ms
        FROM generate_series(0, p_per_host - 1) AS s(n)
        WHERE NOT EXISTS (SELECT 1 FROM host_slots o
                          WHERE o.host = p_host AND o.slot = s.n AND o.leased_until_ms > now_ms)
        ORDER BY s.n LIMIT 1
        ON CONFLICT (host, slot) DO UPDATE
        SET leased_by = EXCLUDED.leased_by, leased_until_ms = EXCLUDED.leased_until_ms
        RETURNING h.slot INTO free;
    IF free IS NULL THEN
        RETURN;
    END IF;
    UPDATE host_turns t
        SET next_at_ms = start_ms
            + CASE WHEN slow_ms > now_ms THEN p_slow_spacing_ms ELSE p_spacing_ms END
        WHERE t.host = p_host;
    turn_slot := free;
    wait_ms := start_ms - now_ms;
    RETURN NEXT;
END
$$;

-- Gives back the turns (host, slot) this node (p_node) holds; a slot another node has taken
-- since (this node's lease ran out) stays theirs.
CREATE FUNCTION give_back_host_turns(p_hosts TEXT[], p_slots BIGINT[], p_node TEXT)
RETURNS VOID
LANGUAGE sql AS $$
    UPDATE host_slots h SET leased_by = NULL, leased_until_ms = NULL
        FROM unnest(p_hosts, p_slots) AS r(host, slot)
        WHERE h.host = r.host AND h.slot = r.slot AND h.leased_by = p_node;
$$;

-- Turns last milliseconds to minutes and mean nothing after the database restarts: not worth
-- the write-ahead log every request's turn would cost. (A restarted database starts them afresh,
-- as if no request were in flight; a standby has none.)
ALTER TABLE host_turns SET UNLOGGED;
ALTER TABLE host_slots SET UNLOGGED;
