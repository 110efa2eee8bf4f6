-- Hot path: stateless QueryRequest tokens (their MAC key lives here so that every TAM process
-- sharing the database mints and checks the same tokens), a change counter that tells caches
-- when the catalog, policy or device registry changed, and the audit log keeps the raw message
-- (decoded when viewed) instead of JSON built on every exchange.
CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    bytes BYTEA,
    number BIGINT
);
INSERT INTO meta (name, number) VALUES ('generation', 0);
ALTER TABLE audit ADD COLUMN message BYTEA;
ALTER TABLE audit ADD COLUMN numbering TEXT;
