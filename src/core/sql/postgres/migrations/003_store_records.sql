-- 003_store_records: from version 2 to 3: the store's own records, apart from the sessions (the encryption layer's salt and sealed keys, docs/encryption.md).
-- One row per record name. Names are their UTF-8 bytes (bytea), as session names are. No
-- session function reads or lists this table, so a record is never a session, and deleting a
-- session of the same name leaves it alone. Version 2 code would not know a store is encrypted
-- and would write plain values beside sealed ones, so it must refuse a schema of version 3,
-- and does (ERR_STORE_VERSION).
CREATE TABLE __SCHEMA__.store_records (
    name   bytea PRIMARY KEY,
    value  bytea NOT NULL
);
