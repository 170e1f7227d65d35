-- 006_store_records: from version 5 to 6: the store's own records, apart from the sessions (the encryption layer's salt and sealed keys, docs/encryption.md).
-- One row per record name. Version 5 code would not know a store is encrypted and would write
-- plain values beside sealed ones, so it must refuse a database of version 6, and does.
CREATE TABLE store_records (
    name   TEXT PRIMARY KEY,
    value  BLOB NOT NULL
) WITHOUT ROWID;
