-- A fleet larger than the page cache pays a random page write for every row an exchange
-- touches, so the rows an exchange touches should be narrow and live in one B-tree:
-- * last_seen, the one device field nearly every exchange writes, lived in the wide device row
--   (keys, claims: about ten rows to a page), so each exchange dirtied a page of the largest
--   table. It now has a table of its own, a few hundred rows to a page.
-- * device_tcs was a rowid table with its primary key as a second B-tree, so replacing a
--   device's holdings wrote a page of each. Without a rowid the key is the table.
CREATE TABLE device_seen (
    device_id INTEGER PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    last_seen BIGINT NOT NULL
);
INSERT INTO device_seen (device_id, last_seen)
    SELECT id, last_seen FROM devices WHERE last_seen IS NOT NULL;
ALTER TABLE devices DROP COLUMN last_seen;

CREATE TABLE device_tcs_keyed (
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    component_id BLOB NOT NULL,
    sequence BIGINT,
    digest BLOB,
    origin TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, component_id)
) WITHOUT ROWID;
INSERT INTO device_tcs_keyed (device_id, component_id, sequence, digest, origin, updated_at)
    SELECT device_id, component_id, sequence, digest, origin, updated_at FROM device_tcs;
DROP TABLE device_tcs;
ALTER TABLE device_tcs_keyed RENAME TO device_tcs;
