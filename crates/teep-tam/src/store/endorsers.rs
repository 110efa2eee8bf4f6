//! Endorsement roots: the manufacturer CA certificates the TAM trusts to endorse device
//! attestation keys (RFC 9334 Endorser, RFC 9360 x5chain; docs/attestation/chain.md). They
//! change the policy snapshot's epoch like the catalog does, so every process of a shared
//! database picks a change up at its next poll.

use super::{Result, Store};

/// A stored endorsement root.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct EndorsementRoot {
    /// SHA-256 of the DER certificate, hex: how the root is named in `list` and `remove`.
    pub sha256: String,
    /// Subject common name.
    pub subject: String,
    pub added_at: i64,
    #[serde(skip)]
    pub certificate: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct RootRow {
    sha256: Vec<u8>,
    certificate: Vec<u8>,
    subject: String,
    added_at: i64,
}

impl From<RootRow> for EndorsementRoot {
    fn from(r: RootRow) -> Self {
        EndorsementRoot {
            sha256: hex::encode(r.sha256),
            subject: r.subject,
            added_at: r.added_at,
            certificate: r.certificate,
        }
    }
}

impl Store {
    /// Adds a root (already checked by the caller); returns false if it was present.
    pub async fn add_endorsement_root(
        &self,
        certificate: &[u8],
        subject: &str,
        now: i64,
    ) -> Result<bool> {
        let sha256 = teep_cose::sha256(certificate).to_vec();
        let done = sqlx::query(
            "INSERT INTO endorsement_roots (sha256, certificate, subject, added_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(certificate.to_vec())
        .bind(subject.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        let added = done.rows_affected() > 0;
        if added {
            self.changed().await?;
        }
        Ok(added)
    }

    /// Every endorsement root, oldest first.
    pub async fn list_endorsement_roots(&self) -> Result<Vec<EndorsementRoot>> {
        let rows: Vec<RootRow> = sqlx::query_as(
            "SELECT sha256, certificate, subject, added_at FROM endorsement_roots \
             ORDER BY added_at, sha256",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Removes the root whose SHA-256 (hex) starts with `prefix`; returns what was removed.
    /// A prefix that names more than one root removes none and says so.
    pub async fn remove_endorsement_root(&self, prefix: &str) -> Result<RemoveOutcome> {
        let prefix = prefix.trim().to_ascii_lowercase();
        let matching: Vec<EndorsementRoot> = self
            .list_endorsement_roots()
            .await?
            .into_iter()
            .filter(|r| !prefix.is_empty() && r.sha256.starts_with(&prefix))
            .collect();
        match matching.as_slice() {
            [] => Ok(RemoveOutcome::NotFound),
            [one] => {
                let key = hex::decode(&one.sha256).unwrap_or_default();
                sqlx::query("DELETE FROM endorsement_roots WHERE sha256 = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                self.changed().await?;
                Ok(RemoveOutcome::Removed(one.clone()))
            }
            more => Ok(RemoveOutcome::Ambiguous(more.len())),
        }
    }
}

/// What [`Store::remove_endorsement_root`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum RemoveOutcome {
    Removed(EndorsementRoot),
    NotFound,
    Ambiguous(usize),
}
