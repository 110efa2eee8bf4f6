//! Finding the device that signed a message whose kids name none (libteep signs without a kid).
//!
//! A missing kid is legal COSE (RFC 9052 §3.1: kid is optional), so this is no deviation; but
//! a TAM must then know the signer some other way (DIGEST §9.17: correlate by token and key).
//! In order, each sound because the signature must still verify with the stored key found:
//! 1. the token: a Success or Error answering an Update belongs to the device it was sent to;
//! 2. the evidence's `ueid` (RFC 9711 §4.2.1), as recorded at the device's last attestation;
//! 3. every registered device's key, if the fleet is at most
//!    [`CoreConfig::kidless_max_devices`](super::CoreConfig::kidless_max_devices).
//!
//! The adapter runs steps 2 and 3 against storage ([`TamCore::signer_search`],
//! [`TamCore::pick_signer`]) and reports what it did in [`Context::signer_search`]; the core
//! says how the signer was found in the audit entry, and when none was, what was tried.

use alloc::{
    format,
    string::{String, ToString},
    vec::Vec,
};

use crate::model::DeviceRecord;
use crate::wire::Incoming;

use super::{Context, Inspected, TamCore};

/// What the adapter may do to find the signer of a message whose kids name no device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerSearch {
    /// Look up devices whose recorded UEID is this (the evidence's, unverified).
    pub ueid: Option<Vec<u8>>,
    /// Try the key of every registered device if there are at most this many (0: never).
    pub try_keys_up_to: usize,
}

/// What the adapter did to find the signer (see [`SignerSearch`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignerSearched {
    /// The UEID looked up, and how many devices recorded it.
    pub ueid: Option<(Vec<u8>, usize)>,
    /// How many registered keys were tried; `None` if the fleet was too large to try (or
    /// trying was off).
    pub tried_keys: Option<usize>,
    /// How the device in [`Context::device`] was found, if it was.
    pub matched: Option<SignerMatch>,
}

/// How the device that signed a message was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignerMatch {
    /// A kid of the message names it: the usual case, not noted.
    Kid,
    /// The token names an Update sent to it.
    Token,
    /// The evidence's UEID is the one recorded for it.
    Ueid,
    /// Its key verified the signature when the registered keys were tried.
    TriedKeys,
}

impl TamCore {
    /// What the adapter may try when no kid of `msg` names a device: the UEID of the evidence
    /// a QueryResponse carries, and the registered keys of a small fleet.
    pub fn signer_search(&self, msg: &Inspected) -> SignerSearch {
        let ueid = match &msg.message {
            Incoming::QueryResponse(qr) => qr
                .attestation_payload
                .as_deref()
                .and_then(|p| self.parse_evidence(p).ok())
                .and_then(|e| e.ueid()),
            _ => None,
        };
        SignerSearch {
            ueid,
            try_keys_up_to: self.config.kidless_max_devices,
        }
    }

    /// The first of `candidates` whose stored key verifies `msg`'s signature. A stored key
    /// that does not parse is skipped here; the step that uses the device reports it.
    pub fn pick_signer(&self, msg: &Inspected, candidates: &[DeviceRecord]) -> Option<usize> {
        candidates.iter().position(|d| {
            self.stored_key(d)
                .is_ok_and(|k| msg.opened.verify(&k).is_ok())
        })
    }

    /// How the device in `ctx` was found for `msg`.
    pub(super) fn signer_match(&self, msg: &Inspected, ctx: &Context) -> SignerMatch {
        let Some(d) = &ctx.device else {
            return SignerMatch::Kid;
        };
        if msg.kids().any(|k| k == d.kid.as_slice()) {
            return SignerMatch::Kid;
        }
        if let Some(m) = ctx.signer_search.as_ref().and_then(|s| s.matched) {
            return m;
        }
        match &ctx.session {
            Some(s) if s.device_kid.as_deref() == Some(d.kid.as_slice()) => SignerMatch::Token,
            _ => SignerMatch::Kid,
        }
    }

    /// The audit note of how the signer was found, if not by its kid.
    pub(super) fn signer_note(&self, msg: &Inspected, ctx: &Context) -> Option<String> {
        let d = ctx.device.as_ref()?;
        let how = match self.signer_match(msg, ctx) {
            SignerMatch::Kid => return None,
            SignerMatch::Token => "the token of the Update sent to it".to_string(),
            SignerMatch::Ueid => match ctx.signer_search.as_ref().and_then(|s| s.ueid.as_ref()) {
                Some((u, _)) => format!("the evidence's ueid {}", hex::encode(u)),
                None => "the evidence's ueid".to_string(),
            },
            SignerMatch::TriedKeys => {
                let n = ctx
                    .signer_search
                    .as_ref()
                    .and_then(|s| s.tried_keys)
                    .unwrap_or(0);
                format!("trying the registered keys ({})", devices(n))
            }
        };
        Some(format!(
            "signer: {}; device {} (kid {}) found by {how}, its key verifies the signature",
            kids_text(msg),
            d.id,
            hex::encode(&d.kid)
        ))
    }

    /// Why no device was found for `msg`: the kids it names and what the adapter tried.
    pub(super) fn no_signer_found(&self, msg: &Inspected, ctx: &Context) -> String {
        let mut out = kids_text(msg);
        let searched = ctx.signer_search.clone().unwrap_or_default();
        match &searched.ueid {
            Some((u, 0)) => {
                out += &format!("; no device has the evidence's ueid {}", hex::encode(u))
            }
            Some((u, n)) => {
                out += &format!(
                "; the key of none of the {} with the evidence's ueid {} verifies the signature",
                devices(*n),
                hex::encode(u)
            )
            }
            None if matches!(msg.message, Incoming::QueryResponse(_)) => {
                out += "; no evidence ueid to look up"
            }
            None => {}
        }
        let max = self.config.kidless_max_devices;
        match searched.tried_keys {
            Some(0) => out += "; no device is registered",
            Some(n) => {
                out += &format!(
                    "; the registered keys were tried ({}) and none verifies the signature",
                    devices(n)
                )
            }
            None if max == 0 => out += "; trying registered keys is off (kidless_max_devices = 0)",
            None => out += &format!(
                "; more devices are registered than kidless_max_devices ({max}), so their keys were not tried"
            ),
        }
        out
    }
}

/// `1 device`, `2 devices`.
fn devices(n: usize) -> String {
    if n == 1 {
        "1 device".into()
    } else {
        format!("{n} devices")
    }
}

/// `kid X` / `kids X, Y` / `no kid`, for notes and explanations.
fn kids_text(msg: &Inspected) -> String {
    let kids: Vec<String> = msg.kids().map(hex::encode).collect();
    match kids.len() {
        0 => "the message names no kid".into(),
        1 => format!("kid {} names no registered device", kids[0]),
        _ => format!("kids {} name no registered device", kids.join(", ")),
    }
}
