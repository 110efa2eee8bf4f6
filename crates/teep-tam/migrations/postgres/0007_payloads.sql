-- Payloads of catalog manifests that fetch their TC by URI (draft-ietf-teep-protocol-26
-- Appendix E Example 1): served at {public_url}/tam/payloads/{sha256-hex}, keyed by the
-- SHA-256 of their bytes, which is also the manifest's image digest.
CREATE TABLE payloads (
    sha256 BYTEA PRIMARY KEY,
    content BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
