-- 001_initial: from version 0 (no tables) to 1: sessions, their keys, their leases, and the schema version.
-- MySQL commits every DDL statement on its own, so a crash can stop this step between two of
-- them: each statement is idempotent (IF NOT EXISTS), and the version row is written after the
-- last one, so the next open runs the step again and completes it. `{p}` is the table prefix.
-- Names are VARBINARY (their UTF-8 bytes: byte order, NUL allowed), lengths chosen so that the
-- keys' primary key (255 + 255 + 1024 bytes) fits InnoDB's 3,072-byte index limit.
CREATE TABLE IF NOT EXISTS `{p}sessions` (
    session     VARBINARY(255) NOT NULL,
    creds       LONGBLOB       NULL,
    updated_at  BIGINT         NOT NULL,
    PRIMARY KEY (session)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `{p}keys` (
    session     VARBINARY(255)  NOT NULL,
    type        VARBINARY(255)  NOT NULL,
    id          VARBINARY(1024) NOT NULL,
    value       LONGBLOB        NOT NULL,
    PRIMARY KEY (session, type, id)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;

-- One row per session ever written or leased; it outlives the session (epochs never go back).
-- Epoch 0 with holder '' is the placeholder an unfenced write inserts to have a row to lock:
-- it means "never leased" and is never reported as a lease. Times are ms by the server's clock.
CREATE TABLE IF NOT EXISTS `{p}leases` (
    session     VARBINARY(255) NOT NULL,
    epoch       BIGINT         NOT NULL,
    holder      VARBINARY(255) NOT NULL,
    process     VARBINARY(255) NOT NULL,
    host        VARBINARY(255) NOT NULL,
    pid         BIGINT         NOT NULL,
    acquired_at BIGINT         NOT NULL,
    expires_at  BIGINT         NOT NULL,
    PRIMARY KEY (session)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;

CREATE TABLE IF NOT EXISTS `{p}schema_version` (
    id          TINYINT NOT NULL,
    version     BIGINT  NOT NULL,
    PRIMARY KEY (id)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;
