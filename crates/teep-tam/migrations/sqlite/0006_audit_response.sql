-- The web UI shows an exchange as a session (QueryResponse, the Update sent for it, its
-- Success or Error): an audit entry keeps the TEEP message the TAM answered with, as sent
-- (NULL when it answered with none).
ALTER TABLE audit ADD COLUMN response BLOB;
