//! SUIT reports in TEEP messages (draft-ietf-teep-protocol-26 §4.2, §4.3, §4.5, §4.6).
//!
//! Out: a QueryRequest with the suit-reports bit gets the reports of this TAM's installs not
//! yet delivered (none: suit-reports is left out, as its CDDL `[+ ...]` has no empty form and
//! the field is optional). §4.3 binds every report in a QueryResponse to the QueryRequest's token
//! (suit-report-nonce MUST equal it), so a kept report is reissued with that nonce: the Agent
//! vouches now, in answer to this request, for processing it did before. Reports are kept per
//! TAM (one TAM does not learn what another installed) and delivered once.
//!
//! In: a QueryRequest carrying the TAM's own reports, or asking for reports in COSE profiles
//! none of which this Agent implements, is answered with ERR_UNSUPPORTED_SUIT_REPORT and the
//! profiles it does (§4.6: supported-suit-cose-profiles MUST be present with that code).

use alloc::{format, string::String, vec, vec::Vec};
use teep_cose::{Algorithm, KeyType};
use teep_proto::{ErrorCode, ErrorMessage, QueryRequest, SuitCoseProfile};

use super::Agent;

impl Agent<'_> {
    /// The SUIT COSE profiles this Agent signs and verifies reports with: those of its key's
    /// signature algorithm.
    pub(super) fn our_suit_cose_profiles(&self) -> Vec<SuitCoseProfile> {
        match self.device.teep_signer().public_key().key_type() {
            KeyType::P256 => vec![
                SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR,
                SuitCoseProfile::SHA256_ESP256_ECDH_A128GCM,
            ],
            KeyType::Ed25519 => vec![
                SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR,
                SuitCoseProfile::SHA256_ED25519_ECDH_CHACHA_POLY,
            ],
        }
    }

    /// ERR_UNSUPPORTED_SUIT_REPORT for `qr`, if it is due: a report of the TAM's that is
    /// neither an unprotected SUIT_Report nor a COSE_Sign1 under an algorithm of ours, or the
    /// suit-reports bit with a profile list that shares none with ours.
    pub(super) fn unsupported_suit_report(&self, qr: &QueryRequest) -> Option<ErrorMessage> {
        let ours = self.our_suit_cose_profiles();
        let why: Option<String> = qr
            .suit_reports
            .iter()
            .enumerate()
            .find_map(|(i, r)| {
                self.unreadable_tam_report(r)
                    .map(|why| format!("suit-reports[{i}]: {why}"))
            })
            .or_else(|| {
                let listed = &qr.supported_suit_cose_profiles;
                (qr.data_item_requested.suit_reports()
                    && !listed.is_empty()
                    && !listed.iter().any(|p| ours.contains(p)))
                .then(|| "supported-suit-cose-profiles: none that this Agent implements".into())
            });
        let why = why?;
        let mut err = ErrorMessage::new(ErrorCode::UnsupportedSuitReport);
        err.supported_suit_cose_profiles = ours;
        err.token = qr.token.clone();
        err.err_msg = Some(super::reply::truncate_text(&why, 128));
        Some(err)
    }

    /// The reports kept for the TAM of `tam_kid`, bound to `token` when there is one, and
    /// forgotten: each is delivered once.
    pub(super) fn take_suit_reports(
        &mut self,
        tam_kid: &str,
        token: Option<&[u8]>,
    ) -> Vec<Vec<u8>> {
        let kept = self
            .state
            .unreported_suit_reports
            .remove(tam_kid)
            .unwrap_or_default();
        kept.iter()
            .filter_map(|h| hex::decode(h).ok())
            .filter_map(|r| match token {
                Some(t) => with_nonce(&r, t),
                None => Some(r),
            })
            .collect()
    }
}

impl Agent<'_> {
    /// [`unreadable_report`] after opening a report the TAM encrypted to this Agent's TEEP key
    /// (-26 §8.2, a COSE_Encrypt).
    fn unreadable_tam_report(&self, report: &[u8]) -> Option<String> {
        if !teep_cose::encrypt::is_encrypted(report) {
            return unreadable_report(report);
        }
        use super::encryption::{open_to_agent, TamPayloadError};
        let opened = open_to_agent(
            self.device.teep_signer(),
            report,
            teep_cose::encrypt::Purpose::SuitReport,
        );
        match opened {
            Ok(plain) => unreadable_report(&plain),
            Err(TamPayloadError::NoKeyAgreement) => {
                Some("encrypted, but this Agent's TEEP key cannot agree keys".into())
            }
            Err(TamPayloadError::NotForUs) => Some(
                "encrypted, and this Agent cannot decrypt it: encrypted to another key than this Agent's TEEP key".into(),
            ),
            Err(TamPayloadError::Cose(e)) => {
                Some(format!("encrypted, and this Agent cannot decrypt it: {e}"))
            }
        }
    }
}

/// Why a report the TAM sent cannot be read, if it cannot.
fn unreadable_report(report: &[u8]) -> Option<String> {
    // SUIT_Report_Unprotected: the report map itself.
    if report.first().is_some_and(|b| b >> 5 == 5) {
        return None;
    }
    match teep_cose::open(report) {
        Ok(opened) => {
            let usable = opened.signatures.iter().any(|s| {
                matches!(
                    s.alg,
                    Algorithm::Esp256 | Algorithm::Es256 | Algorithm::Ed25519 | Algorithm::EdDsa
                )
            });
            (!usable).then(|| "signed under a COSE algorithm this Agent does not implement".into())
        }
        // COSE_Mac0, COSE_Encrypt0 or anything else: no profile of ours reads it.
        Err(_) => Some("not a SUIT_Report nor a COSE_Sign1 this Agent can verify".into()),
    }
}

/// An unprotected SUIT_Report (`{? 2: nonce, 3: records, 4: result, 99: reference, ...}`)
/// with its nonce set to `nonce`, in deterministic key order; `None` when it is not one.
fn with_nonce(report: &[u8], nonce: &[u8]) -> Option<Vec<u8>> {
    let mut r = teep_cbor::Reader::new(report);
    let entries = r.map().ok()?;
    let mut kept: Vec<(u64, &[u8])> = Vec::new();
    for _ in 0..entries {
        let key = r.uint().ok()?;
        let start = r.position();
        r.skip().ok()?;
        if key != 2 {
            kept.push((key, &report[start..r.position()]));
        }
    }
    if !r.at_end() {
        return None;
    }
    let mut out = Vec::with_capacity(report.len() + nonce.len() + 4);
    head(&mut out, 5, kept.len() as u64 + 1);
    head(&mut out, 0, 2);
    head(&mut out, 2, nonce.len() as u64);
    out.extend_from_slice(nonce);
    for (key, value) in kept {
        head(&mut out, 0, key);
        out.extend_from_slice(value);
    }
    Some(out)
}

/// A CBOR head of major type `major` and argument `n`, shortest form.
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
        _ => {
            out.push(m | 27);
            out.extend(n.to_be_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_is_rebound_to_the_token_in_key_order() {
        // {2: h'0101', 3: [], 4: true, 99: ["", [-16, h'']]}
        let report = [
            0xa4, 0x02, 0x42, 1, 1, 0x03, 0x80, 0x04, 0xf5, 0x18, 0x63, 0x82, 0x60, 0x82, 0x2f,
            0x40,
        ];
        let rebound = with_nonce(&report, &[9; 8]).unwrap();
        let mut want = vec![0xa4, 0x02, 0x48];
        want.extend([9; 8]);
        want.extend([
            0x03, 0x80, 0x04, 0xf5, 0x18, 0x63, 0x82, 0x60, 0x82, 0x2f, 0x40,
        ]);
        assert_eq!(rebound, want);
        // Without a nonce before: one entry more.
        let bare = [0xa2, 0x03, 0x80, 0x04, 0xf5];
        assert_eq!(with_nonce(&bare, &[7; 8]).unwrap()[..3], [0xa3, 0x02, 0x48]);
        assert_eq!(with_nonce(&[0x80], &[7; 8]), None);
        assert_eq!(with_nonce(&[0xa1, 0x03], &[7; 8]), None);
    }

    use super::super::multi_tam_tests::{
        error, open_for_tam, query_response, success, Bench, NUMBERINGS, SIGNER_1, TAM_A, TAM_B,
    };
    use teep_cose::encrypt::Purpose;
    use teep_proto::{DataItems, TeepMessage};

    const TC: u64 = DataItems::TRUSTED_COMPONENTS;
    const REPORTS: u64 = DataItems::TRUSTED_COMPONENTS | DataItems::SUIT_REPORTS;

    /// -26 §4.5 (Success): with the suit-reports bit in the TAM's last QueryRequest, the
    /// Success carries the report of each install, bound to the Update's token.
    #[test]
    fn success_message_carries_suit_reports_when_query_request_asked() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            query_response(b.query(TAM_A, n, Some(vec![4; 16]), REPORTS));
            let s = success(b.update(TAM_A, n, &[[1, SIGNER_1], [2, SIGNER_1]], &[]));
            assert_eq!(s.suit_reports.len(), 2, "{n:?}");
            // -26 §8.2: encrypted to the TAM, which offered an ESP256 ECDH profile.
            let report = open_for_tam(TAM_A, &s.suit_reports[0], Purpose::SuitReport);
            assert!(report.windows(16).any(|w| w == [8; 16]), "{n:?}");
            assert!(b.state.unreported_suit_reports.is_empty(), "{n:?}");
        }
    }

    /// -26 §4.3 (QueryResponse): without the bit the Success carries none; the reports wait
    /// for the next QueryRequest of that TAM with the bit, go there bound to its token
    /// (suit-report-nonce MUST equal it), once, and never to another TAM.
    #[test]
    fn query_response_message_suit_reports_kept_until_asked_bound_to_token() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            query_response(b.query(TAM_A, n, Some(vec![4; 16]), TC));
            let s = success(b.update(TAM_A, n, &[[1, SIGNER_1]], &[]));
            assert!(s.suit_reports.is_empty(), "{n:?}");
            let other = query_response(b.query(TAM_B, n, Some(vec![6; 16]), REPORTS));
            assert!(other.suit_reports.is_empty(), "{n:?}: not B's install");
            let q = query_response(b.query(TAM_A, n, Some(vec![7; 16]), REPORTS));
            assert_eq!(q.suit_reports.len(), 1, "{n:?}");
            let mut want = vec![0xa3, 0x02, 0x50];
            want.extend([7; 16]);
            let report = open_for_tam(TAM_A, &q.suit_reports[0], Purpose::SuitReport);
            assert_eq!(report[..want.len()], want[..], "{n:?}");
            let again = query_response(b.query(TAM_A, n, Some(vec![9; 16]), REPORTS));
            assert!(again.suit_reports.is_empty(), "{n:?}: delivered once");
        }
    }

    /// -26 §4.6 (ERR_UNSUPPORTED_SUIT_REPORT): asked for reports in COSE profiles none of
    /// which this Agent implements, it answers with that code (8 in both numberings) and
    /// supported-suit-cose-profiles, which MUST be present with it.
    #[test]
    fn err_unsupported_suit_report_when_no_profile_in_common() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            let qr = QueryRequest {
                token: Some(vec![4; 16]),
                supported_cipher_suites: vec![teep_proto::CipherSuite::SIGN1_ESP256],
                supported_suit_cose_profiles: vec![
                    SuitCoseProfile::SHA256_ED25519_ECDH_A128CTR,
                    SuitCoseProfile::SHA256_ED25519_ECDH_CHACHA_POLY,
                ],
                data_item_requested: DataItems(REPORTS),
                ..Default::default()
            };
            let out = b.receive(TAM_A, n, TeepMessage::QueryRequest(qr.clone()));
            let err = error(super::super::multi_tam_tests::reply(&out, n));
            assert_eq!(
                err.err_code,
                ErrorCode::UnsupportedSuitReport,
                "{n:?}: {err:?}"
            );
            assert_eq!(err.err_code.value(n), 8, "{n:?}");
            assert!(err
                .supported_suit_cose_profiles
                .contains(&SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR));
            assert_eq!(err.token, Some(vec![4; 16]), "{n:?}");
            // Without the bit the profiles do not matter.
            let mut qr = qr;
            qr.data_item_requested = DataItems(TC);
            let out = b.receive(TAM_A, n, TeepMessage::QueryRequest(qr));
            query_response(super::super::multi_tam_tests::reply(&out, n));
        }
    }

    /// -26 §4.2 (QueryRequest suit-reports): a report of the TAM's this Agent cannot read
    /// (here a COSE_Mac0) is answered with ERR_UNSUPPORTED_SUIT_REPORT naming it.
    #[test]
    fn err_unsupported_suit_report_for_unreadable_report_in_query_request() {
        for n in NUMBERINGS {
            let mut b = Bench::new();
            let qr = QueryRequest {
                token: Some(vec![4; 16]),
                supported_cipher_suites: vec![teep_proto::CipherSuite::SIGN1_ESP256],
                supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
                data_item_requested: DataItems(TC),
                suit_reports: vec![vec![0x84, 0x40, 0xa0, 0x40, 0x40]],
                ..Default::default()
            };
            let out = b.receive(TAM_A, n, TeepMessage::QueryRequest(qr));
            let err = error(super::super::multi_tam_tests::reply(&out, n));
            assert_eq!(
                err.err_code,
                ErrorCode::UnsupportedSuitReport,
                "{n:?}: {err:?}"
            );
            assert!(
                err.err_msg.unwrap().starts_with("suit-reports[0]: "),
                "{n:?}"
            );
        }
    }

    /// -26 §8.2: a report the TAM encrypted to this Agent's TEEP key is read; one encrypted to
    /// another key is answered with ERR_UNSUPPORTED_SUIT_REPORT saying why.
    #[test]
    fn teep_8_2_tam_report_encrypted_to_the_agent_is_read() {
        use teep_cose::encrypt::{encrypt, ContentAlgorithm};
        for n in NUMBERINGS {
            let mut b = Bench::new();
            let ours = super::super::AgentDevice::teep_signer(&b.device).public_key();
            let other = teep_cose::PrivateKey::from_p256_scalar(&[0x66; 32])
                .unwrap()
                .public_key();
            let seal = |to: &teep_cose::PublicKey| {
                let report = [0xa1, 0x04, 0xf5];
                encrypt(
                    &report,
                    to,
                    ContentAlgorithm::A128Gcm,
                    Purpose::SuitReport,
                    &[0x21; teep_cose::encrypt::RANDOM_LEN],
                )
                .unwrap()
            };
            let (mine, theirs) = (seal(&ours), seal(&other));
            for (report, readable) in [(mine, true), (theirs, false)] {
                let qr = QueryRequest {
                    token: Some(vec![4; 16]),
                    supported_cipher_suites: vec![teep_proto::CipherSuite::SIGN1_ESP256],
                    supported_suit_cose_profiles: vec![SuitCoseProfile::SHA256_ESP256_ECDH_A128CTR],
                    data_item_requested: DataItems(TC),
                    suit_reports: vec![report],
                    ..Default::default()
                };
                let out = b.receive(TAM_A, n, TeepMessage::QueryRequest(qr));
                let m = super::super::multi_tam_tests::reply(&out, n);
                if readable {
                    query_response(m);
                } else {
                    let err = error(m);
                    assert_eq!(err.err_code, ErrorCode::UnsupportedSuitReport, "{n:?}");
                    assert!(
                        err.err_msg.unwrap().starts_with(
                            "suit-reports[0]: encrypted, and this Agent cannot decrypt it"
                        ),
                        "{n:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn reports_the_agent_cannot_read_are_named() {
        assert_eq!(unreadable_report(&[0xa1, 0x03, 0x80]), None);
        assert!(unreadable_report(&[0x84, 0x40, 0xa0, 0x40, 0x40]).is_some());
        assert!(unreadable_report(b"").is_some());
    }
}
