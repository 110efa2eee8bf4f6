//! Endorsement roots as the CLI, the admin API and the web UI manage them: a PEM (or DER)
//! certificate is checked as a root (teep-tam-core's `endorsement::check_root`) before it
//! is stored, so what the appraisal meets is always a usable trust anchor.

use crate::ops::OpsError;
use crate::store::{EndorsementRoot, RemoveOutcome, Store};

/// The DER certificates in `data`: PEM `CERTIFICATE` blocks, or one DER certificate.
pub fn certificates(data: &[u8]) -> Result<Vec<Vec<u8>>, OpsError> {
    use base64::Engine as _;
    if data.first() == Some(&0x30) {
        return Ok(vec![data.to_vec()]);
    }
    let text = std::str::from_utf8(data)
        .map_err(|_| OpsError::Invalid("certificate: neither PEM text nor DER".into()))?;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match line {
            "-----BEGIN CERTIFICATE-----" => body = Some(String::new()),
            "-----END CERTIFICATE-----" => {
                let b = body.take().ok_or_else(|| {
                    OpsError::Invalid("certificate PEM: END without BEGIN".into())
                })?;
                out.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(b)
                        .map_err(|e| OpsError::Invalid(format!("certificate PEM: {e}")))?,
                );
            }
            l => {
                if let Some(b) = &mut body {
                    b.push_str(l);
                }
            }
        }
    }
    if out.is_empty() {
        return Err(OpsError::Invalid(
            "certificate: no PEM CERTIFICATE block".into(),
        ));
    }
    Ok(out)
}

/// Adds each root certificate in `data`; returns them with whether each was new.
pub async fn add(
    store: &Store,
    data: &[u8],
    now: i64,
) -> Result<Vec<(EndorsementRoot, bool)>, OpsError> {
    let certs = certificates(data)?;
    for (i, der) in certs.iter().enumerate() {
        teep_tam_core::endorsement::check_root(der)
            .map_err(|e| OpsError::Invalid(format!("certificate {}: {e}", i + 1)))?;
    }
    let mut out = Vec::new();
    for der in certs {
        let subject = teep_cose::x509::subject_common_name(&der).unwrap_or_default();
        let added = store.add_endorsement_root(&der, &subject, now).await?;
        out.push((
            EndorsementRoot {
                sha256: hex::encode(teep_cose::sha256(&der)),
                subject,
                added_at: now,
                certificate: der,
            },
            added,
        ));
    }
    Ok(out)
}

/// Removes the root named by (a unique prefix of) its SHA-256.
pub async fn remove(store: &Store, prefix: &str) -> Result<EndorsementRoot, OpsError> {
    match store.remove_endorsement_root(prefix).await? {
        RemoveOutcome::Removed(r) => Ok(r),
        RemoveOutcome::NotFound => Err(OpsError::Store(crate::store::StoreError::NotFound(
            format!("endorsement root {prefix}"),
        ))),
        RemoveOutcome::Ambiguous(n) => Err(OpsError::Invalid(format!(
            "endorsement root {prefix}: the prefix names {n} roots; give more of the SHA-256"
        ))),
    }
}

/// Why `enroll = "open"` cannot start: without a root no device can ever enroll.
pub fn open_without_roots_message() -> String {
    "enroll = \"open\" admits only devices whose attestation key chains to an endorsement \
     root, and none is configured: add one with `teep tam endorser add ROOT.pem` (or the \
     admin API), or run the testbed mode `--enroll tofu` (trust on first use)"
        .into()
}
