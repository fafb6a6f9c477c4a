-- A turn at a host for the whole cluster in one call, so that a request costs the node one round
-- trip to take its turn (and one to give it back) rather than five statements in a transaction.
-- Same rules as before: the host's row is locked until the call ends, so nodes asking for one
-- host take turns one after the other and never get the same slot or the same start. Returns no
-- row when every slot of the host is leased; else the slot taken and how long to wait before the
-- request, by the database's clock.
CREATE FUNCTION take_host_turn(
    p_host TEXT,
    p_per_host BIGINT,
    p_spacing_ms BIGINT,
    p_slow_spacing_ms BIGINT,
    p_hold_ms BIGINT,
    p_node TEXT
) RETURNS TABLE (turn_slot BIGINT, wait_ms BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    now_ms   BIGINT := (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT;
    next_ms  BIGINT;
    slow_ms  BIGINT;
    free     BIGINT;
    start_ms BIGINT;
BEGIN
    INSERT INTO host_turns (host) VALUES (p_host) ON CONFLICT (host) DO NOTHING;
    SELECT t.next_at_ms, t.slow_until_ms INTO next_ms, slow_ms
        FROM host_turns t WHERE t.host = p_host FOR UPDATE;
    SELECT s.n INTO free FROM generate_series(0, p_per_host - 1) AS s(n)
        LEFT JOIN host_slots h ON h.host = p_host AND h.slot = s.n
        WHERE h.leased_until_ms IS NULL OR h.leased_until_ms <= now_ms
        ORDER BY s.n LIMIT 1;
    IF free IS NULL THEN
        RETURN;
    END IF;
    start_ms := GREATEST(next_ms, now_ms);
    UPDATE host_turns t
        SET next_at_ms = start_ms
            + CASE WHEN slow_ms > now_ms THEN p_slow_spacing_ms ELSE p_spacing_ms END
        WHERE t.host = p_host;
    INSERT INTO host_slots AS h (host, slot, leased_by, leased_until_ms)
        VALUES (p_host, free, p_node, start_ms + p_hold_ms)
        ON CONFLICT (host, slot) DO UPDATE
        SET leased_by = EXCLUDED.leased_by, leased_until_ms = EXCLUDED.leased_until_ms;
    turn_slot := free;
    wait_ms := start_ms - now_ms;
    RETURN NEXT;
END
$$;
