-- 005_app_state_pieces: from version 4 to 5: an app-state-sync-version value may be stored as a header and pieces (docs/format.md, "App-state versions").
-- No table changes: the header is the value's own `keys` row, piece k is the row of the same
-- type whose id is `<id>` NUL `<k>`. The version is what changes: code of version 4 would read a
-- header as a whole (broken) value and leave a whole value's pieces behind on a write, so it must
-- refuse a database of version 5, and does (a newer schema is refused untouched). Rows of
-- version 4 keep their meaning: a whole value is read as it is and split on its next write.
SELECT 1;
