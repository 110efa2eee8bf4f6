//! The TAM on a QueryResponse (DIGEST §4.1): who signed (a known device, or under open
//! enrollment the key its evidence names in `cnf`), whether it attests, then what policy says
//! it lacks and should drop. Attestation failure answers with an Update carrying
//! ERR_ATTESTATION_REQUIRED (DIGEST §9.15); nothing to do ends the session.

use alloc::{format, string::String, string::ToString, vec, vec::Vec};

use teep_cose::{Algorithm, PublicKey};
use teep_proto::Numbering;

use crate::attest::{self, AttestedClaims, Evidence};
use crate::model::{
    ComponentId, CorruptRecord, DeviceStatus, InstalledTc, NewDevice, SessionRecord,
};
use crate::policy;
use crate::wire;
use crate::Enroll;

use super::data_items;
use super::effects::Consume;
use super::rejection::{InternalError, RefusalKind, Rejection};
use super::update::UpdateToSend;
use super::{
    session_end, truncate, Context, DeviceUpdate, ExchangeResult, Inspected, Outcome,
    PendingUpdate, Random, TamCore,
};

impl TamCore {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_query_response(
        &self,
        msg: &Inspected,
        qr: &wire::QueryResponseIn,
        session: &SessionRecord,
        numbering: Numbering,
        ctx: &Context,
        token: Vec<u8>,
        deviations: &mut teep_cbor::deviation::Deviations,
        now: i64,
        rng: &mut dyn Random,
    ) -> Result<Outcome, Rejection> {
        let evidence = qr
            .attestation_payload
            .as_deref()
            .map(|p| self.parse_evidence(p));
        let (teep_key, alg, mut new_device) = self.signer(msg, ctx, evidence.as_ref())?;
        let kid = teep_key.thumbprint().to_vec();
        let consume = Consume::of(session, numbering);
        let mut update = DeviceUpdate {
            device_id: ctx.device.as_ref().map(|d| d.id),
            suite_alg: Some(alg.to_cose()),
            touch: true,
            ..Default::default()
        };

        // Attestation (background check, or passport with a Verifier's result).
        let mut claims: Option<AttestedClaims> = None;
        let passport_due = self.config.passport && self.config.require_attestation;
        if session.challenge.is_some() || qr.attestation_payload.is_some() || passport_due {
            match self.appraise_payload(
                msg,
                qr,
                evidence.as_ref(),
                session,
                ctx,
                &token,
                &teep_key,
                deviations,
                now,
            )? {
                Ok(c) => claims = Some(c),
                Err(e) => {
                    // A new device (open enrollment) is recorded too, marked: its key signed
                    // the message, so the operator sees who failed and why, and its next
                    // session, with fresh evidence, is appraised against that key.
                    update.status = Some(DeviceStatus::AttestationFailed);
                    update.status_detail = Some(e.to_string());
                    if let Some(d) = &ctx.device {
                        update.elide_unchanged(d, now);
                    }
                    let err_msg = error_message(&e.to_string(), deviations);
                    let update_token = Self::new_token(now, rng);
                    let upd = wire::error_update(
                        &update_token,
                        teep_proto::ErrorCode::AttestationRequired,
                        &err_msg,
                    );
                    // Open enrollment stores nothing of a device it does not admit: the
                    // audit entry alone says who was refused and why.
                    let refused_unknown =
                        new_device.is_some() && self.config.enroll == Enroll::Open;
                    let sent = self.send_update(UpdateToSend {
                        msg,
                        upd,
                        update_token,
                        kid,
                        token,
                        consume,
                        update,
                        new_device,
                        pending: PendingUpdate::default(),
                        alg,
                        now,
                        result: ExchangeResult::AttestationFailed,
                    });
                    return sent.map(|mut o| {
                        if refused_unknown {
                            o.effects.new_device = None;
                            o.effects.device = None;
                            o.effects.new_session = None;
                            if let Some(a) = &mut o.effects.audit {
                                a.notes.push(format!(
                                    "open enrollment refused the device, nothing stored: {e}"
                                ));
                            }
                        }
                        o
                    });
                }
            }
        }
        // A device admitted through its endorsement keeps that attestation key: its later
        // Evidence must come from it (RFC 9334 §3), not from its TEEP key.
        if let (Some(d), Some(Ok(ev)), true) = (
            new_device.as_mut(),
            evidence.as_ref(),
            claims.is_some() && self.config.enroll == Enroll::Open,
        ) {
            d.attest_key = ev
                .x5chain()
                .ok()
                .flatten()
                .and_then(|c| c.first().cloned())
                .and_then(|leaf| teep_cose::x509::certificate_public_key(&leaf).ok())
                .map(|k| k.to_cose_key());
        }
        if let Some(c) = &claims {
            update.status = Some(DeviceStatus::Attested);
            update.status_detail = Some(String::new());
            update.ueid = c.ueid.clone();
            update.claims =
                Some(
                    serde_json::to_string(c).map_err(|source| InternalError::Encoding {
                        what: "attestation claims",
                        source,
                    })?,
                );
        }
        if let Some(d) = &ctx.device {
            update.elide_unchanged(d, now);
        }

        // What the QueryRequest asked for must be there, and SUIT reports bound to its token;
        // otherwise nothing of the content counts (the holdings stand) and the agent is told.
        let asked = self
            .token_key
            .data_items(&token)
            .unwrap_or_else(|| wire::query_data_items(self.config.require_attestation));
        // Reports are bound to the token when the QueryRequest carried one: echoed, or left
        // out by an agent that dropped it (deviation `teep.token-not-echoed`).
        let token_sent = msg.token().is_some()
            || deviations
                .iter()
                .any(|d| d.kind == &teep_cbor::deviation::catalog::TEEP_TOKEN_NOT_ECHOED);
        let incomplete = data_items::missing_data_item(qr, asked).or_else(|| {
            token_sent
                .then(|| {
                    data_items::report_nonce_mismatch(
                        "QueryResponse",
                        &qr.suit_reports,
                        &token,
                        &|b| self.decrypt_to_tam(b, teep_cose::encrypt::Purpose::SuitReport),
                    )
                })
                .flatten()
        });
        if let Some(why) = incomplete {
            let update_token = Self::new_token(now, rng);
            let upd = wire::error_update(
                &update_token,
                teep_proto::ErrorCode::PermanentError,
                &error_message(&why, deviations),
            );
            return self.send_update(UpdateToSend {
                msg,
                upd,
                update_token,
                kid,
                token,
                consume,
                update,
                new_device,
                pending: PendingUpdate::default(),
                alg,
                now,
                result: ExchangeResult::BadQueryResponse,
            });
        }

        // Policy: what the device lacks, and what it should drop.
        let decision = policy::decide(&policy::Input {
            catalog: &ctx.catalog,
            assigned: &ctx.assigned,
            stored: &ctx.installed,
            tc_list: qr.tc_list.as_deref(),
            requested: &qr.requested,
            unneeded: &qr.unneeded,
            allow_requests: self.config.allow_requests,
        })?;
        // Rewrite the stored holdings only when the tc-list says something new.
        update.replace_installed = decision
            .installed_now
            .as_ref()
            .filter(|now| !same_holdings(now, &ctx.installed))
            .cloned();
        // The manifests the device attested by SUIT_Reference (-26 §5), then any TC left out
        // for its dependencies, are named in the audit entry, for the operator.
        let mut notes: Vec<String> = claims
            .iter()
            .flat_map(|c| &c.manifest_references)
            .map(attest::ManifestReference::audit_note)
            .collect();
        notes.extend(decision.refused.iter().map(|e| e.to_string()));
        let noted = move |mut o: Outcome| {
            if let Some(a) = &mut o.effects.audit {
                a.notes.extend(notes);
            }
            o
        };
        if decision.install.is_empty() && decision.remove.is_empty() {
            return Ok(noted(session_end(
                now,
                token,
                consume,
                kid,
                new_device,
                update,
                msg,
                ExchangeResult::NoUpdate,
            )));
        }
        let update_token = Self::new_token(now, rng);
        // A device that already holds the binary (have-binary) gets the manifest without it.
        let envelopes: Vec<Vec<u8>> = decision
            .install
            .iter()
            .map(|tc| {
                let has_binary = qr
                    .requested
                    .iter()
                    .any(|r| r.have_binary && r.component_id == tc.component_id);
                has_binary
                    .then(|| crate::envelope::without_integrated_payloads(tc.envelope))
                    .flatten()
                    .unwrap_or_else(|| tc.envelope.to_vec())
            })
            .collect();
        let unneeded: Vec<ComponentId> = decision
            .remove
            .iter()
            .map(|r| {
                ComponentId::decode(&r.manifest_component_id).map_err(|source| {
                    CorruptRecord::ManifestComponentId {
                        encoded: hex::encode(&r.manifest_component_id),
                        source,
                    }
                })
            })
            .collect::<Result<_, _>>()?;
        let pending = PendingUpdate {
            install: decision
                .install
                .iter()
                .map(|tc| (tc.component_id.clone(), tc.sequence, tc.origin))
                .collect(),
            remove: decision
                .remove
                .iter()
                .map(|r| r.component_id.clone())
                .collect(),
        };
        let upd = wire::update(&update_token, envelopes, unneeded);
        self.send_update(UpdateToSend {
            msg,
            upd,
            update_token,
            kid,
            token,
            consume,
            update,
            new_device,
            pending,
            alg,
            now,
            result: ExchangeResult::Update,
        })
        .map(noted)
    }

    /// Who signed: a known device (its stored key), or, under open enrollment, a new one
    /// whose evidence names the signing key in `cnf` (then also returned as the row to add).
    fn signer(
        &self,
        msg: &Inspected,
        ctx: &Context,
        evidence: Option<&Result<Evidence, attest::AttestError>>,
    ) -> Result<(PublicKey, Algorithm, Option<NewDevice>), Rejection> {
        let t = msg.type_name;
        if let Some(d) = &ctx.device {
            let (k, a) = self.verify_known(msg, d)?;
            return Ok((k, a, None));
        }
        let refuse = |kind, explanation: String| Rejection::refuse(kind, Some(t), explanation);
        if self.config.enroll == Enroll::Registered {
            return Err(refuse(
                RefusalKind::UnregisteredDevice,
                format!(
                    "{t}: the signer is not a registered device (enrollment is registered-only): {}",
                    self.no_signer_found(msg, ctx)
                ),
            ));
        }
        let ev = match evidence {
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                return Err(refuse(
                    RefusalKind::BadEnrollmentEvidence,
                    format!("{t}.{e} (open enrollment needs evidence with cnf)"),
                ))
            }
            None => {
                return Err(refuse(
                    RefusalKind::NoEnrollmentEvidence,
                    format!(
                        "{t}.attestation-payload: missing; an unknown device enrolls with evidence carrying cnf"
                    ),
                ))
            }
        };
        let cnf = ev.cnf_key().map_err(|e| {
            refuse(
                RefusalKind::BadEnrollmentEvidence,
                format!("{t}.attestation-payload.{e}"),
            )
        })?;
        let info = msg.opened.verify(&cnf).map_err(|_| {
            refuse(
                RefusalKind::NotSignedByCnfKey,
                format!("{t}: signature does not verify with the cnf key of the evidence"),
            )
        })?;
        let alg = info.alg;
        let new_device = NewDevice {
            name: None,
            kid: cnf.thumbprint().to_vec(),
            teep_key: cnf.to_cose_key(),
            attest_key: None,
            tags: Vec::new(),
        };
        Ok((cnf, alg, Some(new_device)))
    }

    /// The keys that may have signed the Evidence (RFC 9334 §3: the Attester's attestation
    /// key, known to the Verifier through an Endorsement):
    /// 1. the attestation key registered for the device;
    /// 2. else the leaf of the Evidence's `x5chain` (RFC 9360), validated to an endorsement
    ///    root at `now` whenever roots are configured, and always for a device enrolling
    ///    under [`Enroll::Open`]; with no roots, a registered device's or a `tofu` device's
    ///    chain is taken as the device asserts it, which is no weaker than before: its
    ///    Evidence is then bound to the TEEP key through `cnf` all the same;
    /// 3. else the TEEP key itself (self-signed Evidence), which open enrollment refuses.
    pub(super) fn attestation_keys(
        &self,
        ev: &Evidence,
        stored: Option<PublicKey>,
        ctx: &Context,
        teep_key: &PublicKey,
        now: i64,
    ) -> Result<Vec<PublicKey>, crate::endorsement::ChainError> {
        use crate::endorsement::{verify_chain, ChainError};
        let chain = ev
            .x5chain()
            .map_err(|e| ChainError::Header(e.to_string()))?;
        if let Some(k) = stored {
            // A registered (or endorsed-enrolled) attestation key: a chain sent along must
            // still hold, and certify that key.
            if let Some(chain) = chain.filter(|_| !ctx.endorsement_roots.is_empty()) {
                let leaf = verify_chain(&chain, &ctx.endorsement_roots, now, &self.signature_memo)?;
                if leaf != k {
                    return Err(ChainError::Path(
                        "the leaf is not the device's registered attestation key",
                    ));
                }
            }
            return Ok(vec![k]);
        }
        let enrolling_open = ctx.device.is_none() && self.config.enroll == Enroll::Open;
        match chain {
            Some(chain) if enrolling_open || !ctx.endorsement_roots.is_empty() => {
                Ok(vec![verify_chain(
                    &chain,
                    &ctx.endorsement_roots,
                    now,
                    &self.signature_memo,
                )?])
            }
            Some(chain) => {
                let leaf = chain.first().ok_or(ChainError::Missing)?;
                let key = teep_cose::x509::certificate_public_key(leaf)
                    .map_err(|e| ChainError::Other(format!("leaf key: {e}")))?;
                Ok(vec![key, teep_key.clone()])
            }
            None if enrolling_open => Err(ChainError::Missing),
            None => Ok(vec![teep_key.clone()]),
        }
    }
}

/// Most bytes of an Update's err-msg (-26 §4.4: `tstr .size (1..128)`).
const ERR_MSG_MAX: usize = 128;

/// The err-msg of an error Update: why, then the codes of the deviations accepted in the
/// QueryResponse, as far as 128 bytes allow (the reason comes first and is never cut for them).
fn error_message(why: &str, deviations: &teep_cbor::deviation::Deviations) -> String {
    let mut out = truncate(why, ERR_MSG_MAX);
    if deviations.is_empty() {
        return out;
    }
    let codes = format!(" (accepted: {})", deviations.codes().join(", "));
    if out.len() + codes.len() <= ERR_MSG_MAX {
        out.push_str(&codes);
    }
    out
}

/// Whether two holdings lists say the same (order and timestamps aside).
fn same_holdings(a: &[InstalledTc], b: &[InstalledTc]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let key = |t: &InstalledTc| {
        (
            t.component_id.clone(),
            t.sequence,
            t.digest.clone(),
            t.origin.clone(),
        )
    };
    let mut x: Vec<_> = a.iter().map(key).collect();
    let mut y: Vec<_> = b.iter().map(key).collect();
    x.sort();
    y.sort();
    x == y
}
