-- TAM schema (PostgreSQL). Keep in step with migrations/sqlite: same tables, same columns.
CREATE TABLE tcs (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    component_id BYTEA NOT NULL,
    manifest_component_id BYTEA,
    sequence BIGINT NOT NULL,
    envelope BYTEA NOT NULL,
    payload_digest BYTEA,
    signer_kid BYTEA,
    created_at BIGINT NOT NULL,
    UNIQUE (component_id, sequence)
);
CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    name TEXT,
    kid BYTEA NOT NULL UNIQUE,
    teep_key BYTEA NOT NULL,
    attest_key BYTEA,
    suite_alg BIGINT,
    status TEXT NOT NULL,
    status_detail TEXT,
    ueid BYTEA,
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
    component_id BYTEA NOT NULL,
    sequence BIGINT,
    digest BYTEA,
    origin TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, component_id)
);
CREATE TABLE assignments (
    id BIGSERIAL PRIMARY KEY,
    component_id BYTEA NOT NULL,
    target_kind TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (component_id, target_kind, target)
);
CREATE TABLE sessions (
    token BYTEA PRIMARY KEY,
    kind TEXT NOT NULL,
    device_kid BYTEA,
    challenge BYTEA,
    numbering TEXT NOT NULL,
    pending TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_challenge ON sessions (challenge);
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    device_kid BYTEA,
    token BYTEA,
    message_type TEXT NOT NULL,
    summary TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX audit_device ON audit (device_kid);
