//! Values every TAM process on one database shares through the `meta` table (besides the
//! change counter, which `mod.rs` polls).

use super::{Result, Store, StoreError};

impl Store {
    /// The MAC key of QueryRequest tokens, created by the first process that asks; every
    /// process on this database gets the same key.
    pub async fn token_secret(&self) -> Result<Vec<u8>> {
        let mut fresh = [0u8; 32];
        teep_cose::default_provider()
            .fill_random(&mut fresh)
            .map_err(|e| StoreError::Query(format!("token key: {e}")))?;
        sqlx::query(
            "INSERT INTO meta (name, bytes) VALUES ('token_key', $1) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&fresh[..])
        .execute(&self.pool)
        .await?;
        let key: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT bytes FROM meta WHERE name = 'token_key'")
                .fetch_one(&self.pool)
                .await?;
        key.filter(|k| k.len() >= 32)
            .ok_or_else(|| StoreError::Query("meta.token_key: expected at least 32 bytes".into()))
    }
}
