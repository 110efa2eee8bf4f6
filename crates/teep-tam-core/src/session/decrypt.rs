//! Encrypted Evidence and SUIT reports (draft-ietf-teep-protocol-26 §8.2): the agent encrypts
//! to one of the TAM's keys (a COSE_Encrypt whose recipient kid is that key's RFC 9679
//! thumbprint); the TAM opens it with that signer's key agreement before appraisal or the
//! nonce check. A payload that is not a COSE_Encrypt (tag 96) costs one two-byte compare.

use alloc::{format, string::String, vec::Vec};

use teep_cose::encrypt::{is_encrypted, open_encrypted, Purpose};

use crate::attest::{AttestError, Evidence};

use super::TamCore;

impl TamCore {
    /// Evidence from an attestation-payload, decrypted first when it is a COSE_Encrypt (the
    /// format stays `application/eat+cwt`: a CWT may be encrypted, RFC 8392 §7.1).
    pub(crate) fn parse_evidence(&self, payload: &[u8]) -> Result<Evidence, AttestError> {
        if !is_encrypted(payload) {
            return self.parse_plain_evidence(payload);
        }
        let plain = self
            .decrypt_to_tam(payload, Purpose::Eat)
            .map_err(AttestError::Decrypt)?;
        self.parse_plain_evidence(&plain)
    }

    /// Evidence from a signed EAT already out of any COSE_Encrypt, its `cnf` opened.
    pub(crate) fn parse_plain_evidence(&self, eat: &[u8]) -> Result<Evidence, AttestError> {
        let mut ev = Evidence::parse(eat)?;
        self.open_encrypted_cnf(&mut ev)?;
        Ok(ev)
    }

    /// RFC 8747 §3.3: a `cnf` holding an Encrypted_COSE_Key is opened like an encrypted EAT
    /// (a COSE_Encrypt to one of the TAM's keys, the KDF context labelled "EAT Encryption":
    /// the key travels inside an EAT and TEEP defines no label of its own for it), and the
    /// COSE_Key inside replaces it.
    fn open_encrypted_cnf(&self, ev: &mut Evidence) -> Result<(), AttestError> {
        let Some(sealed) = ev.encrypted_cnf()? else {
            return Ok(());
        };
        let plain = self
            .decrypt_to_tam(&sealed, Purpose::Eat)
            .map_err(|why| AttestError::Decrypt(format!("cnf: Encrypted_COSE_Key: {why}")))?;
        let key: ciborium::Value = ciborium::from_reader(plain.as_slice())
            .map_err(|_| AttestError::Cnf("Encrypted_COSE_Key: the plaintext is not CBOR"))?;
        if !matches!(key, ciborium::Value::Map(_)) {
            return Err(AttestError::Cnf(
                "Encrypted_COSE_Key: the plaintext is not a COSE_Key map (RFC 8747 §3.3)",
            ));
        }
        ev.set_cnf_key(key);
        Ok(())
    }

    /// Opens a COSE_Encrypt sent to one of the TAM's keys for display (dumps, the audit
    /// view, the inspector: `teep_proto::view::OpeningRender`). Nothing is verified.
    pub fn open_for_view(&self, bytes: &[u8], purpose: Purpose) -> Result<Vec<u8>, String> {
        self.decrypt_to_tam(bytes, purpose)
    }

    /// Decrypts a COSE_Encrypt sent to one of the TAM's keys: the recipient whose kid names a
    /// TAM key that agrees keys (a recipient without a kid is tried with each such key). The
    /// error says which rule failed: not for this TAM, unsupported profile, or tampered.
    pub(crate) fn decrypt_to_tam(&self, bytes: &[u8], purpose: Purpose) -> Result<Vec<u8>, String> {
        let mut enc = open_encrypted(bytes).map_err(|e| format!("{e}"))?;
        let kids: Vec<Option<Vec<u8>>> = enc
            .recipient_kids()
            .map(|k| k.map(<[u8]>::to_vec))
            .collect();
        let mut last = None;
        for (i, kid) in kids.iter().enumerate() {
            for signer in self.signers.keys() {
                if kid
                    .as_deref()
                    .is_some_and(|k| k != &signer.public_key().thumbprint()[..])
                {
                    continue;
                }
                let Some(agreement) = signer.key_agreement() else {
                    if kid.is_some() {
                        last = Some(
                            "COSE_Encrypt: encrypted to a TAM key that cannot agree keys (its \
                             key store offers neither P-256 ECDH nor X25519)"
                                .into(),
                        );
                    }
                    continue;
                };
                enc.select_recipient(i);
                match enc.decrypt(agreement, purpose) {
                    Ok(plain) => return Ok(plain),
                    Err(e) => last = Some(format!("COSE_Encrypt: cannot decrypt: {e}")),
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            let named: Vec<String> = kids
                .iter()
                .flatten()
                .map(|k| hex::encode(&k[..k.len().min(8)]))
                .collect();
            format!(
                "COSE_Encrypt: encrypted to a key this TAM does not hold (kid {})",
                if named.is_empty() {
                    "none".into()
                } else {
                    named.join(", ")
                }
            )
        }))
    }
}
