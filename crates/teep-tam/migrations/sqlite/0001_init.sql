-- TAM schema (SQLite). Keep in step with migrations/postgres: same tables, same columns.
CREATE TABLE tcs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    component_id BLOB NOT NULL,
    manifest_component_id BLOB,
    sequence BIGINT NOT NULL,
    envelope BLOB NOT NULL,
    payload_digest BLOB,
    signer_kid BLOB,
    created_at BIGINT NOT NULL,
    UNIQUE (component_id, sequence)
);
CREATE TABLE devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT,
    kid BLOB NOT NULL UNIQUE,
    teep_key BLOB NOT NULL,
    attest_key BLOB,
    suite_alg BIGINT,
    status TEXT NOT NULL,
    status_detail TEXT,
    ueid BLOB,
    claims TEXT,
    created_at BIGINT NOT NULL,
    last_seen BIGINT
);
CREATE TABLE device_tags (
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (device_id, tag)
);
CREATE INDEX device_tags_tag ON device_tags (tag);
CREATE TABLE device_tcs (
    device_id BIGINT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    component_id BLOB NOT NULL,
    sequence BIGINT,
    digest BLOB,
    origin TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, component_id)
);
CREATE TABLE assignments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    component_id BLOB NOT NULL,
    target_kind TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (component_id, target_kind, target)
);
CREATE TABLE sessions (
    token BLOB PRIMARY KEY,
    kind TEXT NOT NULL,
    device_kid BLOB,
    challenge BLOB,
    numbering TEXT NOT NULL,
    pending TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_challenge ON sessions (challenge);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    device_kid BLOB,
    token BLOB,
    message_type TEXT NOT NULL,
    summary TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX audit_device ON audit (device_kid);
