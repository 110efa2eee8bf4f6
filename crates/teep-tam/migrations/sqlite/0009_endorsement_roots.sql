-- Endorsement roots (RFC 9334 Endorser; docs/attestation/chain.md): the device-manufacturer CA
-- certificates an attestation key's x5chain (RFC 9360) must lead to for open enrollment.
-- Keyed by the SHA-256 of the DER certificate.
CREATE TABLE endorsement_roots (
    sha256 BLOB PRIMARY KEY,
    certificate BLOB NOT NULL,
    subject TEXT NOT NULL,
    added_at BIGINT NOT NULL
);
