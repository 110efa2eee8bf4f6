//! Appraisal of a QueryResponse's attestation-payload (draft-ietf-teep-protocol-26 §4.3,
//! §5, §7.1.1): its label says Attestation Result or Evidence; an Attestation Result must be
//! signed by a trusted Verifier, Evidence is appraised by the built-in Verifier or by the
//! external one whose verdict the adapter brought in the [`Context`]. Then, whoever
//! appraised: freshness, `cnf` naming the TEEP key, the profile's claims, the operator's
//! policy.

use alloc::{format, string::ToString, vec::Vec};

use teep_cbor::deviation::{catalog, Deviations};
use teep_cose::encrypt::{is_encrypted, Purpose};
use teep_cose::PublicKey;

use crate::attest::{
    self, AttestError, AttestedClaims, ClaimsFault, Evidence, EvidenceForVerifier, Expectation,
    PayloadKind, VerifierVerdict,
};
use crate::model::SessionRecord;
use crate::wire::{self, Incoming};

use super::rejection::{InternalError, Rejection};
use super::{Context, Inspected, TamCore};

/// The appraisal's result: the TAM's own failure (outer), why the device does not attest
/// (inner).
pub(super) type Appraised = Result<Result<AttestedClaims, AttestError>, Rejection>;

impl TamCore {
    /// The Evidence in `msg` an external Verifier should appraise, with the nonce it must
    /// carry (the session's challenge): `None` when there is none, or the payload is labelled
    /// an Attestation Result (the TAM checks those itself). The adapter asks its Verifier and
    /// puts the verdict in [`Context::verifier`].
    ///
    /// Only a message its signer signed is worth a Verifier call: the TEEP signature is
    /// checked first (the device's stored key, or for an unknown device the `cnf` key of its
    /// Evidence), so a forged or tampered QueryResponse costs one signature check, not a
    /// round trip (the core checks it again when it answers; a remote appraisal is rare and
    /// slow next to that). Evidence encrypted to the TAM (-26 §8.2) is opened: the Verifier
    /// gets the signed EAT inside.
    pub fn evidence_for_verifier(
        &self,
        msg: &Inspected,
        ctx: &Context,
    ) -> Option<EvidenceForVerifier> {
        let Incoming::QueryResponse(qr) = &msg.message else {
            return None;
        };
        let session = ctx.session.as_ref()?;
        let payload = qr.attestation_payload.as_ref()?;
        let format = qr.attestation_payload_format.as_deref();
        if attest::classify(format).ok()? != PayloadKind::Evidence {
            return None;
        }
        let plain = || match is_encrypted(payload) {
            true => self.decrypt_to_tam(payload, Purpose::Eat).ok(),
            false => Some(payload.clone()),
        };
        // Opened once: an unknown device's signer is the `cnf` key inside.
        let evidence = match &ctx.device {
            Some(d) => {
                self.verify_known(msg, d).ok()?;
                plain()?
            }
            None => {
                let eat = plain()?;
                let key = self.parse_plain_evidence(&eat).and_then(|ev| ev.cnf_key());
                msg.opened.verify(&key.ok()?).ok()?;
                eat
            }
        };
        Some(EvidenceForVerifier {
            media_type: format.unwrap_or(attest::EVIDENCE_MEDIA_TYPE).to_string(),
            evidence,
            nonce: session.challenge.clone()?,
        })
    }

    /// The appraisal of the evidence (or Attestation Result) against the session's
    /// challenge (or token) and the device's keys.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn appraise_payload(
        &self,
        msg: &Inspected,
        qr: &wire::QueryResponseIn,
        evidence: Option<&Result<Evidence, AttestError>>,
        session: &SessionRecord,
        ctx: &Context,
        token: &[u8],
        teep_key: &PublicKey,
        deviations: &mut Deviations,
        now: i64,
    ) -> Appraised {
        let t = msg.type_name;
        let stored = match ctx.device.as_ref().and_then(|d| d.attest_key.as_ref()) {
            Some(k) => Some(
                PublicKey::from_cose_key(k)
                    .map_err(InternalError::StoredAttestationKey)
                    .map_err(Rejection::from)?,
            ),
            None => None,
        };
        let kind = match attest::classify(qr.attestation_payload_format.as_deref()) {
            Ok(k) => k,
            Err(why) => return Ok(Err(AttestError::Label(why))),
        };
        let ev = match evidence {
            None => return Ok(Err(AttestError::Missing)),
            Some(Err(e)) => return Ok(Err(e.clone())),
            Some(Ok(ev)) => ev,
        };
        // The keys that may sign Evidence as the device (registered, endorsed by an x5chain,
        // or its TEEP key); an endorsement that does not hold counts only where the device's
        // own signature is what is appraised.
        let device_keys = self.attestation_keys(ev, stored, ctx, teep_key, now);
        let attestation_keys: Vec<PublicKey> = device_keys.clone().unwrap_or_default();
        let exp = Expectation {
            challenge: session.challenge.as_deref(),
            token: Some(token),
            teep_key,
            attestation_keys: &attestation_keys,
            verifier_keys: &self.verifier_keys,
            require_profile_claims: false,
        };
        let at = format!("{t}.attestation-payload");
        let appraised = match kind {
            PayloadKind::TeepResult => {
                if ev.signed_by(&self.verifier_keys) {
                    // Signed by a trusted Verifier: an Attestation Result (-26 §4.3).
                    let r = attest::appraise(
                        ev,
                        &Expectation {
                            attestation_keys: &[],
                            ..exp
                        },
                    );
                    r.and_then(|c| attest::check_result_profile(ev).map(|()| c))
                } else if let Err(e) = &device_keys {
                    Err(AttestError::Endorsement(e.clone()))
                } else if ev.signed_by(&attestation_keys) {
                    // Signed by the device: Evidence under the Attestation Result's label.
                    deviations
                        .note(&catalog::TEEP_EVIDENCE_LABELLED_AS_RESULT, at.clone())
                        .map_err(|d| Rejection::strict(Some(t), d))?;
                    attest::appraise(
                        ev,
                        &Expectation {
                            verifier_keys: &[],
                            ..exp
                        },
                    )
                } else if self.verifier_keys.is_empty() {
                    Err(AttestError::Verifier(
                        "labelled an Attestation Result, but no Verifier key is configured and the device attestation key did not sign it".into(),
                    ))
                } else {
                    Err(AttestError::UntrustedVerifier)
                }
            }
            PayloadKind::Evidence => match (&ctx.verifier, &device_keys) {
                (None, Err(e)) => Err(AttestError::Endorsement(e.clone())),
                (None, Ok(_)) => attest::appraise(
                    ev,
                    &Expectation {
                        verifier_keys: &[],
                        ..exp
                    },
                ),
                (Some(VerifierVerdict::Failed(why)), _) => Err(AttestError::Verifier(why.clone())),
                (Some(VerifierVerdict::Affirmed { by }), _) => vouched(ev, &exp, by.as_str()),
            },
        };
        let mut claims = match appraised {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        match attest::check_required_claims(ev, deviations, &at) {
            Ok(()) => {}
            Err(ClaimsFault::Attest(e)) => return Ok(Err(e)),
            Err(ClaimsFault::Strict(d)) => return Err(Rejection::strict(Some(t), d)),
        }
        // The manifests the device attested by digest (TEEP-26 §5 SUIT_References).
        let mut references = match attest::manifest_references(ev, deviations, &at) {
            Ok(r) => r,
            Err(ClaimsFault::Attest(e)) => return Ok(Err(e)),
            Err(ClaimsFault::Strict(d)) => return Err(Rejection::strict(Some(t), d)),
        };
        if !references.is_empty() {
            attest::resolve_references(&mut references, &ctx.catalog);
        }
        // Holdings by catalog name (what the operator's policy names TCs by).
        let held: Vec<(&str, Option<u64>)> = ctx
            .installed
            .iter()
            .filter_map(|h| {
                let tc = ctx
                    .catalog
                    .iter()
                    .find(|t| t.component_id == h.component_id)?;
                Some((tc.name.as_str(), h.sequence))
            })
            .collect();
        // Attested versions take precedence over the recorded ones.
        let held = attest::attested_holdings(held, &references);
        if let Err(e) = attest::check_policy(ev, &self.config.appraisal_policy, &held) {
            return Ok(Err(e));
        }
        claims.manifest_references = references;
        Ok(Ok(claims))
    }
}

/// Evidence an external Verifier affirmed: its signature was the Verifier's to check; the
/// TAM still checks that it answers this session's challenge and that `cnf` names the key
/// that signed the TEEP message.
fn vouched(ev: &Evidence, exp: &Expectation<'_>, by: &str) -> Result<AttestedClaims, AttestError> {
    let nonce = ev
        .nonce()
        .ok_or(AttestError::Nonce("missing or not a bstr"))?;
    if exp.challenge != Some(nonce) {
        return Err(AttestError::Nonce(
            "does not match the challenge of this session",
        ));
    }
    if !ev.cnf_names(exp.teep_key)? {
        return Err(AttestError::Cnf(
            "does not name the key that signed the TEEP message",
        ));
    }
    Ok(ev.vouched_claims(by))
}
