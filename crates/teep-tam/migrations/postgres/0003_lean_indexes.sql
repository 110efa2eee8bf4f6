-- Two indexes cost more than they served. Every exchange wrote two audit rows into a random
-- page of audit_device (device kids are random), about a tenth of the TAM's throughput; the
-- per-device audit view now scans the most recent entries instead. Nothing looks sessions up
-- by challenge since query tokens became stateless.
DROP INDEX IF EXISTS audit_device;
DROP INDEX IF EXISTS sessions_challenge;
