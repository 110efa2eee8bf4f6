//! What the annotated notation knows of each structure: the contexts an item can be in, the
//! names of map keys in each, and the names of values (algorithms, curves, cipher suites).

use alloc::format;
use alloc::string::String;

use crate::cbor::Value;
use crate::registry::{
    CipherOperation, CipherSuite, Label, MessageType, Numbering, SuitCoseProfile,
};
use teep_cose::Algorithm;
use teep_suit::model::DigestAlgorithm;

/// What an item is, as far as the walk knows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Ctx {
    Any,
    Message,
    Options(MessageType),
    CipherSuites,
    SuitCoseProfiles,
    ComponentIds,
    ComponentId,
    TcList,
    RequestedTcList,
    ManifestList,
    Envelope,
    AuthWrapper,
    Manifest,
    Common,
    CommandSequence,
    TryEach,
    Parameters,
    Digest,
    Reports,
    Report,
    Eat,
    /// COSE_Sign1 or COSE_Sign; the context of the payload.
    Cose(&'static Ctx),
    HeaderMap,
    Cnf,
    CoseKey,
}

/// Names an item of a list (a cipher suite, a SUIT COSE profile).
pub(super) type ValueNamer = fn(&Value) -> Option<String>;

pub(super) fn comment(name: &str) -> String {
    // A `/` inside would end the comment early.
    format!("/ {} / ", name.replace('/', "∕"))
}

/// A byte string diagnostic notation can write as `'text'`: printable ASCII, no quote or backslash.
pub(super) fn printable(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|c| (0x20..0x7f).contains(c) && *c != b'\'' && *c != b'\\')
}

pub(super) fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(n) => i64::try_from(*n).ok(),
        _ => None,
    }
}

/// The name of a value where the context gives one (message type, algorithm, command …).
pub(super) fn value_name(v: &Value, ctx: Ctx, key: Option<i64>) -> Option<String> {
    let n = as_i64(v)?;
    match (ctx, key) {
        (Ctx::HeaderMap, Some(1)) => {
            let a = Algorithm::from_cose(n);
            (a.name() != "unknown").then(|| a.name().into())
        }
        (Ctx::CoseKey, Some(1)) => Some(
            match n {
                1 => "OKP",
                2 => "EC2",
                4 => "Symmetric",
                _ => return None,
            }
            .into(),
        ),
        (Ctx::CoseKey, Some(-1)) => Some(
            match n {
                1 => "P-256",
                2 => "P-384",
                3 => "P-521",
                4 => "X25519",
                6 => "Ed25519",
                _ => return None,
            }
            .into(),
        ),
        (Ctx::CoseKey, Some(3)) => {
            let a = Algorithm::from_cose(n);
            (a.name() != "unknown").then(|| a.name().into())
        }
        (Ctx::Digest, None) => {
            let d = DigestAlgorithm::from_cose(n);
            (d.name() != "unknown").then(|| d.name().into())
        }
        _ => None,
    }
}

/// RFC 9052 §7.1 and RFC 9053 §7: the COSE_Key labels of EC2 and OKP keys.
pub(super) fn cose_key_label(k: i64) -> Option<&'static str> {
    Some(match k {
        1 => "kty",
        2 => "kid",
        3 => "alg",
        4 => "key_ops",
        -1 => "crv",
        -2 => "x",
        -3 => "y",
        -4 => "d",
        _ => return None,
    })
}

pub(super) fn report_key(k: i64) -> Option<&'static str> {
    Some(match k {
        2 => "suit-report-nonce",
        3 => "suit-report-records",
        4 => "suit-report-result",
        5 => "suit-report-result-code",
        6 => "suit-report-result-record",
        7 => "suit-report-result-reason",
        99 => "suit-reference",
        _ => return None,
    })
}

pub(super) fn envelope_key(k: i64) -> Option<&'static str> {
    match k {
        1 => Some("delegation"),
        2 => Some("authentication-wrapper"),
        3 => Some("manifest"),
        _ => match teep_suit::codec::manifest_member_name(k) {
            "unknown-member" => None,
            n => Some(n),
        },
    }
}

pub(super) fn common_key(k: i64) -> Option<&'static str> {
    Some(match k {
        1 => "dependencies",
        2 => "components",
        4 => "shared-sequence",
        _ => return None,
    })
}

/// The name of a map key and the context of its value.
pub(super) fn key(map: Ctx, k: &Value, numbering: Numbering) -> (Option<String>, Ctx) {
    let Some(n) = as_i64(k) else {
        return (None, Ctx::Any);
    };
    let label = |n: i64| {
        u64::try_from(n)
            .ok()
            .and_then(|u| Label::from_value(u, numbering))
    };
    match map {
        Ctx::Options(_) | Ctx::RequestedTcList => match label(n) {
            Some(l) => (Some(l.name().into()), label_ctx(l)),
            None => (None, Ctx::Any),
        },
        // A tc-list entry: component-id is a TEEP label, the rest SUIT parameters.
        Ctx::TcList => match label(n) {
            Some(Label::ComponentId) => (Some("component-id".into()), Ctx::ComponentId),
            _ => parameter(n),
        },
        Ctx::Envelope => {
            let ctx = match n {
                2 => Ctx::AuthWrapper,
                3 => Ctx::Manifest,
                15 | 16 | 18 | 20 => Ctx::CommandSequence,
                _ => Ctx::Any,
            };
            (envelope_key(n).map(Into::into), ctx)
        }
        Ctx::Manifest => {
            let ctx = match n {
                3 => Ctx::Common,
                5 => Ctx::ComponentId,
                7 | 8 | 9 | 15 | 16 | 18 | 20 | 24 => Ctx::CommandSequence,
                _ => Ctx::Any,
            };
            let name = match teep_suit::codec::manifest_member_name(n) {
                "unknown-member" => None,
                s => Some(s.into()),
            };
            (name, ctx)
        }
        Ctx::Common => {
            let ctx = match n {
                2 => Ctx::ComponentIds,
                4 => Ctx::CommandSequence,
                _ => Ctx::Any,
            };
            (common_key(n).map(Into::into), ctx)
        }
        Ctx::Parameters => parameter(n),
        Ctx::Report => (report_key(n).map(Into::into), Ctx::Any),
        Ctx::Eat => {
            let ctx = if n == 8 { Ctx::Cnf } else { Ctx::Any };
            (teep_cose::eat::claim_name(n).map(Into::into), ctx)
        }
        // RFC 8747 §3.1: 1 COSE_Key, 2 Encrypted_COSE_Key, 3 kid.
        Ctx::Cnf => match n {
            1 => (Some("COSE_Key".into()), Ctx::CoseKey),
            2 => (Some("Encrypted_COSE_Key".into()), Ctx::Any),
            3 => (Some("kid".into()), Ctx::Any),
            _ => (None, Ctx::Any),
        },
        Ctx::CoseKey => (cose_key_label(n).map(Into::into), Ctx::Any),
        Ctx::HeaderMap => (teep_cose::parameter_name(n).map(Into::into), Ctx::Any),
        _ => (None, Ctx::Any),
    }
}

/// A SUIT parameter's name and the context of its value.
pub(super) fn parameter(n: i64) -> (Option<String>, Ctx) {
    let ctx = match n {
        3 => Ctx::Digest,
        _ => Ctx::Any,
    };
    (teep_cbor::suit_parameter_name(n).map(Into::into), ctx)
}

/// The context of an option's value.
pub(super) fn label_ctx(l: Label) -> Ctx {
    match l {
        Label::ManifestList => Ctx::ManifestList,
        Label::SuitReports => Ctx::Reports,
        Label::AttestationPayload => Ctx::Eat,
        Label::TcList => Ctx::TcList,
        Label::RequestedTcList => Ctx::RequestedTcList,
        Label::UnneededManifestList => Ctx::ComponentIds,
        Label::ComponentId => Ctx::ComponentId,
        Label::SupportedCipherSuites => Ctx::CipherSuites,
        Label::SupportedSuitCoseProfiles => Ctx::SuitCoseProfiles,
        _ => Ctx::Any,
    }
}

/// `[[18, -9]]` is `sign1-esp256`.
pub(super) fn cipher_suite_name(v: &Value) -> Option<String> {
    let Value::Array(ops) = v else { return None };
    let ops = ops
        .iter()
        .map(|op| match op {
            Value::Array(p) if p.len() == 2 => Some(CipherOperation {
                cose_type: as_i64(&p[0])?,
                alg: as_i64(&p[1])?,
            }),
            _ => None,
        })
        .collect::<Option<alloc::vec::Vec<_>>>()?;
    CipherSuite::new(ops).name().map(Into::into)
}

/// `[-16, -9, -29, -65534]` is `suit-sha256-esp256-ecdh-a128ctr`.
pub(super) fn profile_name(v: &Value) -> Option<String> {
    let Value::Array(a) = v else { return None };
    let a: alloc::vec::Vec<i64> = a.iter().map(as_i64).collect::<Option<_>>()?;
    let a: [i64; 4] = a.try_into().ok()?;
    SuitCoseProfile(a).name().map(Into::into)
}
