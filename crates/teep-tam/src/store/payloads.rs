//! Payloads served to devices at `/tam/payloads/{sha256-hex}`: the TCs of catalog manifests
//! that fetch by URI (draft-ietf-teep-protocol-26 Appendix E Example 1), keyed by their
//! SHA-256, which the manifest also carries as its image digest.

use super::{Result, Store};

impl Store {
    /// Stores `content` under its SHA-256 `sha256`; storing the same bytes again changes
    /// nothing (the key is the content's digest, so it is the same payload).
    pub async fn put_payload(&self, sha256: &[u8; 32], content: &[u8], now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO payloads (sha256, content, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256.to_vec())
        .bind(content.to_vec())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The payload whose SHA-256 is `sha256`, if the TAM holds it.
    pub async fn payload(&self, sha256: &[u8; 32]) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT content FROM payloads WHERE sha256 = $1")
                .bind(sha256.to_vec())
                .fetch_optional(&self.read)
                .await?,
        )
    }
}
