-- last_seen, the one device field nearly every exchange writes, gets a narrow table of its own
-- (see migrations/sqlite/0004): updating it no longer writes a new version of the wide device
-- row (keys, claims). device_tcs keeps its layout: PostgreSQL tables have no clustered key.
CREATE TABLE device_seen (
    device_id BIGINT PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    last_seen BIGINT NOT NULL
);
INSERT INTO device_seen (device_id, last_seen)
    SELECT id, last_seen FROM devices WHERE last_seen IS NOT NULL;
ALTER TABLE devices DROP COLUMN last_seen;
