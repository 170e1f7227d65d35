-- 001_initial: from version 0 (no schema) to 1: the schema, the schema-version table, sessions, their keys and their leases.
-- __SCHEMA__ stands for the store's schema, double-quoted (src/core/sql/postgres/schema.rs).
-- Names (session, type, id) are their UTF-8 bytes (bytea): ids of app-state pieces hold NUL,
-- which text cannot, and bytea compares byte by byte, the order the contract lists in.
CREATE SCHEMA IF NOT EXISTS __SCHEMA__;

-- One row per migration applied; the schema's version is the highest.
CREATE TABLE __SCHEMA__.schema_version (
    version     integer PRIMARY KEY,
    name        text    NOT NULL,
    applied_at  bigint  NOT NULL
);

-- A session with creds or keys. `updated_at`: its last write, ms since the epoch, by the
-- writer's clock. A row left with neither creds nor keys is deleted by the write that empties it.
CREATE TABLE __SCHEMA__.sessions (
    session     bytea  PRIMARY KEY,
    creds       bytea,
    updated_at  bigint NOT NULL
);

-- A session's keys. No foreign key: the writes delete a session's keys with it (in the same
-- transaction), and a foreign key would cost a lookup and a row lock per key written;
-- `check()` reports keys whose session row is missing.
CREATE TABLE __SCHEMA__.keys (
    session  bytea NOT NULL,
    type     bytea NOT NULL,
    id       bytea NOT NULL,
    value    bytea NOT NULL,
    PRIMARY KEY (session, type, id)
);

-- A session's lease (docs/ownership.md), kept when the session is deleted, so that its epoch
-- never goes back. `holder` is '' once released. Times are ms by the SERVER's clock, so that
-- every process of a fleet measures one lease by one clock. A row with epoch 0 is a
-- placeholder that a write inserted to have a row to lock (see write_check in 002): the
-- session was never leased, and `lease()`/`leases()` do not report it.
CREATE TABLE __SCHEMA__.leases (
    session      bytea  PRIMARY KEY,
    epoch        bigint NOT NULL,
    holder       text   NOT NULL,
    process      text   NOT NULL,
    host         text   NOT NULL,
    pid          bigint NOT NULL,
    acquired_at  bigint NOT NULL,
    expires_at   bigint NOT NULL
);
