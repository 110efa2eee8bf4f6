-- What a catalog TC's manifest depends on (draft-ietf-suit-trust-domains suit-dependencies),
-- each dependency resolved to the catalog TC that carries it when the manifest was added: a
-- JSON array of {component_id, manifest_component_id, digest, uri}. NULL: none (and every
-- entry added before this migration, whose manifests the TAM read without dependencies).
ALTER TABLE tcs ADD COLUMN dependencies TEXT;
