-- Interoperating with older agents (issue 17):
-- * an audit entry notes how the signer of a message without a kid was found and which
--   deviations from the drafts were accepted, one per line (NULL when there was nothing);
-- * an agent that signs without a kid is looked up by the UEID its device attested with.
ALTER TABLE audit ADD COLUMN notes TEXT;
CREATE INDEX devices_ueid ON devices (ueid) WHERE ueid IS NOT NULL;
