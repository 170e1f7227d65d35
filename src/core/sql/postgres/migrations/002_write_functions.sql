-- 002_write_functions: from version 1 to 2: the functions that make each write, lease grant and renewal one statement (one round trip, one implicit transaction).
-- Each write function locks the session's lease row, checks the fence, writes, and returns a
-- status with the lease's fields rather than raising for a refused write: o_status 'ok',
-- 'locked' (ERR_SESSION_LOCKED) or 'fenced' (ERR_SESSION_FENCED). The lease rules are those of
-- src/core/redis/scripts/*.lua, with the server's clock (clock_timestamp(), not now(), which is
-- the transaction's start). Every statement of these VOLATILE functions takes a new snapshot
-- (READ COMMITTED, set on every connection), so what follows a row lock sees the row as the
-- transaction that held the lock committed it. CREATE OR REPLACE: a later step may redefine them.

-- The server's clock, ms since the Unix epoch.
CREATE OR REPLACE FUNCTION __SCHEMA__.now_ms() RETURNS bigint
LANGUAGE sql VOLATILE AS $$ SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

-- The fence check of every write, before its first change. Locks the lease row (FOR UPDATE
-- reads its latest committed version, and holds it to the end of the transaction, so that no
-- acquisition can slip between this check and the write's commit).
-- A session never leased has no row to lock, yet an unfenced write and a first acquisition
-- racing must serialize: the write inserts a placeholder row (epoch 0, holder '') and locks
-- it; an acquisition inserting the same row waits for the write's transaction, then takes
-- the row. A fenced write does not insert one: its lease was granted, so its row exists, and
-- without a row it is fenced.
-- With a fence (p_fence_holder not NULL): 'ok' iff the stored holder and epoch are the fence's
-- (even if expired), else 'fenced'. Without: 'locked' while a live lease (held and not
-- expired) exists; else 'ok', and a lapsed lease (expired, never released) is ended by
-- clearing its holder, so that its holder, should it wake, cannot write on.
CREATE OR REPLACE FUNCTION __SCHEMA__.write_check(p_session bytea, p_fence_holder text, p_fence_epoch bigint,
    OUT o_status text, OUT o_holder text, OUT o_epoch bigint, OUT o_host text, OUT o_pid bigint,
    OUT o_acquired_at bigint, OUT o_expires_at bigint, OUT o_live boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    l __SCHEMA__.leases%ROWTYPE;
    t_now bigint;
BEGIN
    SELECT * INTO l FROM __SCHEMA__.leases WHERE session = p_session FOR UPDATE;
    IF NOT FOUND AND p_fence_holder IS NULL THEN
        INSERT INTO __SCHEMA__.leases (session, epoch, holder, process, host, pid, acquired_at, expires_at)
            VALUES (p_session, 0, '', '', '', 0, 0, 0) ON CONFLICT (session) DO NOTHING;
        SELECT * INTO l FROM __SCHEMA__.leases WHERE session = p_session FOR UPDATE;
    END IF;
    t_now := __SCHEMA__.now_ms();
    o_holder := coalesce(l.holder, '');
    o_epoch := coalesce(l.epoch, 0);
    o_host := coalesce(l.host, '');
    o_pid := coalesce(l.pid, 0);
    o_acquired_at := coalesce(l.acquired_at, 0);
    o_expires_at := coalesce(l.expires_at, 0);
    o_live := o_holder <> '' AND t_now < o_expires_at;
    IF p_fence_holder IS NOT NULL THEN
        IF o_holder = p_fence_holder AND o_epoch = p_fence_epoch THEN
            o_status := 'ok';
        ELSE
            o_status := 'fenced';
        END IF;
        RETURN;
    END IF;
    IF o_live THEN
        o_status := 'locked';
        RETURN;
    END IF;
    IF o_holder <> '' THEN
        UPDATE __SCHEMA__.leases SET holder = '' WHERE session = p_session;
        o_holder := '';
    END IF;
    o_status := 'ok';
END $$;

-- A key batch, deduplicated by the caller (the last write of a (type, id) wins): the deletes,
-- then the sets as one multi-row upsert. Sets create the session row and stamp it; a batch
-- of deletes only stamps an existing row and never creates one, and deletes a row left with
-- neither creds nor keys.
CREATE OR REPLACE FUNCTION __SCHEMA__.apply_keys(p_session bytea, p_fence_holder text, p_fence_epoch bigint, p_now_ms bigint,
    p_del_types bytea[], p_del_ids bytea[], p_set_types bytea[], p_set_ids bytea[], p_set_values bytea[],
    OUT o_status text, OUT o_holder text, OUT o_epoch bigint, OUT o_host text, OUT o_pid bigint,
    OUT o_acquired_at bigint, OUT o_expires_at bigint, OUT o_live boolean)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    SELECT c.* INTO o_status, o_holder, o_epoch, o_host, o_pid, o_acquired_at, o_expires_at, o_live
        FROM __SCHEMA__.write_check(p_session, p_fence_holder, p_fence_epoch) c;
    IF o_status <> 'ok' THEN
        RETURN;
    END IF;
    IF cardinality(p_del_ids) > 0 THEN
        DELETE FROM __SCHEMA__.keys k USING unnest(p_del_types, p_del_ids) AS d(type, id)
            WHERE k.session = p_session AND k.type = d.type AND k.id = d.id;
    END IF;
    IF cardinality(p_set_ids) > 0 THEN
        INSERT INTO __SCHEMA__.sessions (session, creds, updated_at) VALUES (p_session, NULL, p_now_ms)
            ON CONFLICT (session) DO UPDATE SET updated_at = EXCLUDED.updated_at;
        INSERT INTO __SCHEMA__.keys (session, type, id, value)
            SELECT p_session, u.type, u.id, u.value FROM unnest(p_set_types, p_set_ids, p_set_values) AS u(type, id, value)
            ON CONFLICT (session, type, id) DO UPDATE SET value = EXCLUDED.value;
    ELSE
        UPDATE __SCHEMA__.sessions SET updated_at = p_now_ms WHERE session = p_session;
        DELETE FROM __SCHEMA__.sessions s WHERE s.session = p_session AND s.creds IS NULL
            AND NOT EXISTS (SELECT 1 FROM __SCHEMA__.keys k WHERE k.session = p_session);
    END IF;
END $$;

-- Replaces the creds, creating the session if needed.
CREATE OR REPLACE FUNCTION __SCHEMA__.set_creds(p_session bytea, p_fence_holder text, p_fence_epoch bigint, p_now_ms bigint,
    p_creds bytea,
    OUT o_status text, OUT o_holder text, OUT o_epoch bigint, OUT o_host text, OUT o_pid bigint,
    OUT o_acquired_at bigint, OUT o_expires_at bigint, OUT o_live boolean)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    SELECT c.* INTO o_status, o_holder, o_epoch, o_host, o_pid, o_acquired_at, o_expires_at, o_live
        FROM __SCHEMA__.write_check(p_session, p_fence_holder, p_fence_epoch) c;
    IF o_status <> 'ok' THEN
        RETURN;
    END IF;
    INSERT INTO __SCHEMA__.sessions (session, creds, updated_at) VALUES (p_session, p_creds, p_now_ms)
        ON CONFLICT (session) DO UPDATE SET creds = EXCLUDED.creds, updated_at = EXCLUDED.updated_at;
END $$;

-- Removes every key of the session; with p_whole, its creds too (the whole session). The lease
-- row stays either way (epochs never go back). A session left with creds is stamped; one left
-- with nothing has no row.
CREATE OR REPLACE FUNCTION __SCHEMA__.clear_session(p_session bytea, p_fence_holder text, p_fence_epoch bigint, p_now_ms bigint,
    p_whole boolean,
    OUT o_status text, OUT o_holder text, OUT o_epoch bigint, OUT o_host text, OUT o_pid bigint,
    OUT o_acquired_at bigint, OUT o_expires_at bigint, OUT o_live boolean)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    SELECT c.* INTO o_status, o_holder, o_epoch, o_host, o_pid, o_acquired_at, o_expires_at, o_live
        FROM __SCHEMA__.write_check(p_session, p_fence_holder, p_fence_epoch) c;
    IF o_status <> 'ok' THEN
        RETURN;
    END IF;
    DELETE FROM __SCHEMA__.keys WHERE session = p_session;
    IF p_whole THEN
        DELETE FROM __SCHEMA__.sessions WHERE session = p_session;
    ELSE
        UPDATE __SCHEMA__.sessions SET updated_at = p_now_ms WHERE session = p_session;
        DELETE FROM __SCHEMA__.sessions WHERE session = p_session AND creds IS NULL;
    END IF;
END $$;

-- Grants leases, one row per request (o_index: its 1-based position), in one statement. The
-- rule of acquire.lua: a lease that is not live (never taken, released, expired) is free; a
-- live one is refused ('locked') unless the claim is 'takeover', or 'process' and its holder's
-- process is the requester's. Every grant is one epoch up. Sessions are locked in byte order,
-- so that two processes granting overlapping sets cannot deadlock.
CREATE OR REPLACE FUNCTION __SCHEMA__.acquire_leases(p_sessions bytea[], p_holders text[], p_processes text[], p_hosts text[],
    p_pids bigint[], p_lease_ms bigint[], p_claims text[])
RETURNS TABLE (o_index integer, o_status text, o_holder text, o_epoch bigint, o_host text, o_pid bigint,
    o_acquired_at bigint, o_expires_at bigint, o_live boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i integer;
    l __SCHEMA__.leases%ROWTYPE;
    t_now bigint;
BEGIN
    FOR i IN SELECT u.ord::integer FROM unnest(p_sessions) WITH ORDINALITY AS u(session, ord) ORDER BY u.session, u.ord LOOP
        INSERT INTO __SCHEMA__.leases (session, epoch, holder, process, host, pid, acquired_at, expires_at)
            VALUES (p_sessions[i], 0, '', '', '', 0, 0, 0) ON CONFLICT (session) DO NOTHING;
        SELECT * INTO l FROM __SCHEMA__.leases WHERE session = p_sessions[i] FOR UPDATE;
        t_now := __SCHEMA__.now_ms();
        o_live := l.holder <> '' AND t_now < l.expires_at;
        IF o_live AND NOT (p_claims[i] = 'takeover' OR (p_claims[i] = 'process' AND l.process = p_processes[i])) THEN
            o_status := 'locked';
        ELSE
            UPDATE __SCHEMA__.leases SET epoch = l.epoch + 1, holder = p_holders[i], process = p_processes[i],
                host = p_hosts[i], pid = p_pids[i], acquired_at = t_now, expires_at = t_now + p_lease_ms[i]
                WHERE session = p_sessions[i]
                RETURNING * INTO l;
            o_live := true;
            o_status := 'ok';
        END IF;
        o_index := i;
        o_holder := l.holder;
        o_epoch := l.epoch;
        o_host := l.host;
        o_pid := l.pid;
        o_acquired_at := l.acquired_at;
        o_expires_at := l.expires_at;
        RETURN NEXT;
    END LOOP;
END $$;

-- Extends leases by p_lease_ms from now (server clock), one row per lease (o_index: its 1-based
-- position), in one statement. The rule of renew.lua: only under a matching fence (holder
-- and epoch; a released lease matches none), else 'fenced' and nothing changes.
CREATE OR REPLACE FUNCTION __SCHEMA__.renew_leases(p_sessions bytea[], p_holders text[], p_epochs bigint[], p_lease_ms bigint)
RETURNS TABLE (o_index integer, o_status text, o_holder text, o_epoch bigint, o_host text, o_pid bigint,
    o_acquired_at bigint, o_expires_at bigint, o_live boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    i integer;
    l __SCHEMA__.leases%ROWTYPE;
    t_now bigint;
    held boolean;
BEGIN
    FOR i IN SELECT u.ord::integer FROM unnest(p_sessions) WITH ORDINALITY AS u(session, ord) ORDER BY u.session, u.ord LOOP
        SELECT * INTO l FROM __SCHEMA__.leases WHERE session = p_sessions[i] FOR UPDATE;
        held := FOUND AND l.holder <> '' AND l.holder = p_holders[i] AND l.epoch = p_epochs[i];
        t_now := __SCHEMA__.now_ms();
        IF held THEN
            UPDATE __SCHEMA__.leases SET expires_at = t_now + p_lease_ms WHERE session = p_sessions[i]
                RETURNING * INTO l;
            o_status := 'ok';
        ELSE
            o_status := 'fenced';
        END IF;
        o_index := i;
        o_holder := coalesce(l.holder, '');
        o_epoch := coalesce(l.epoch, 0);
        o_host := coalesce(l.host, '');
        o_pid := coalesce(l.pid, 0);
        o_acquired_at := coalesce(l.acquired_at, 0);
        o_expires_at := coalesce(l.expires_at, 0);
        o_live := o_holder <> '' AND t_now < o_expires_at;
        RETURN NEXT;
    END LOOP;
END $$;
