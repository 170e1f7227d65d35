-- 002_store_records: from version 1 to 2: the store's own records, apart from the sessions (the encryption layer's salt and sealed keys, docs/encryption.md).
-- One row per record name; names are VARBINARY (their UTF-8 bytes) as wide as a session id. No
-- session statement reads or lists this table, so a record is never a session. Version 1 code
-- would not know a store is encrypted and would write plain values beside sealed ones, so it
-- must refuse a database of version 2, and does. Idempotent, as every step (see 001).
CREATE TABLE IF NOT EXISTS `{p}store_records` (
    name        VARBINARY(255) NOT NULL,
    value       LONGBLOB       NOT NULL,
    PRIMARY KEY (name)
) ENGINE=InnoDB ROW_FORMAT=DYNAMIC;
