//! Endorsed attestation keys end to end: a device whose attestation key is certified by a
//! manufacturer CA (RFC 9360 x5chain on its Evidence; the CA is an Endorser, RFC 9334 §3)
//! enrolls under open enrollment; every way the endorsement can fail is answered with an
//! Update carrying ERR_ATTESTATION_REQUIRED (draft-ietf-teep-protocol-26 §7.1.1: the TAM
//! appraises the Evidence before it installs anything) and recorded; nothing is stored for
//! an unknown device.

mod common;

use common::{add_assigned_ta, config, error_update, start_with, ADMIN_TOKEN};
use teep_bench::sim::{ExchangeResult, SimDevice, SimEndorsement};
use teep_cose::{KeyType, PrivateKey, Signer as _, SoftwareSigner};
use teep_tam::model::DeviceStatus;
use teep_tam::Enroll;
use teep_tee::endorsement::{cert_to_pem, CertOptions, CertificateAuthority};

fn now_s() -> i64 {
    teep_tam::server::now_ms() / 1000
}

/// A manufacturer: a root and an intermediate under it.
struct Maker {
    root: CertificateAuthority,
    line: CertificateAuthority,
}

impl Maker {
    fn new(name: &str) -> Maker {
        let root = CertificateAuthority::create_root(
            KeyType::P256,
            &CertOptions::valid_for(&format!("{name} Root"), now_s(), 3650),
        )
        .unwrap();
        let line = root
            .create_intermediate(
                KeyType::Ed25519,
                &CertOptions::valid_for(&format!("{name} Line"), now_s(), 3650),
            )
            .unwrap();
        Maker { root, line }
    }

    /// A simulated device with an attestation key this maker's line endorsed.
    fn device(&self, opts: &CertOptions) -> SimDevice {
        let mut dev = SimDevice::new(KeyType::P256);
        let key = PrivateKey::generate(KeyType::P256);
        let x5chain = self.line.issue_device(&key.public_key(), opts).unwrap();
        dev.endorsement = Some(SimEndorsement {
            signer: SoftwareSigner::new(key),
            x5chain,
            cnf: None,
        });
        dev
    }
}

fn valid() -> CertOptions {
    CertOptions::valid_for("device", now_s(), 365)
}

/// A TAM under open enrollment that trusts `maker`'s root.
async fn open_tam(maker: &Maker) -> common::Tam {
    let dir = tempfile::tempdir().unwrap();
    let store = teep_tam::Store::open(
        &config(dir.path(), Enroll::Open).database_url(),
        &Default::default(),
    )
    .await
    .unwrap();
    let pem = cert_to_pem(maker.root.cert_der());
    teep_tam::endorsers::add(&store, pem.as_bytes(), 0)
        .await
        .unwrap();
    drop(store);
    start_with(dir, |c| c, Enroll::Open).await
}

#[tokio::test]
async fn rfc9360_device_with_a_chained_attestation_key_enrolls_under_open_enrollment() {
    let maker = Maker::new("Acme");
    let tam = open_tam(&maker).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = maker.device(&valid());
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    let d = tam.device(&dev).await;
    assert_eq!(d.status, DeviceStatus::Attested);
    assert_eq!(
        d.teep_key,
        dev.public_key().to_cose_key(),
        "the cnf key is recorded"
    );
    let leaf = dev.endorsement.as_ref().unwrap().signer.public_key();
    assert_eq!(
        d.attest_key,
        Some(leaf.to_cose_key()),
        "and its attestation key"
    );
    // The next session re-validates the chain from memory: no new signature to check.
    let memo = tam.handle.state.core.signature_memo().len();
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    assert_eq!(tam.handle.state.core.signature_memo().len(), memo);
    // A second device of the same line costs one new signature check: its leaf's.
    let mut second = maker.device(&valid());
    assert_eq!(tam.exchange(&mut second).await, ExchangeResult::Updated);
    assert_eq!(tam.handle.state.core.signature_memo().len(), memo + 1);
    // Enrolled through its endorsement, a device cannot fall back to self-signed Evidence.
    let endorsement = dev.endorsement.take();
    let (code, msg) = error_update(&tam.answer_query(&dev, None).await);
    assert_eq!(code, teep_proto::ErrorCode::AttestationRequired);
    assert!(
        msg.contains("does not verify with the device attestation key"),
        "{msg}"
    );
    assert_eq!(
        tam.device(&dev).await.status,
        DeviceStatus::AttestationFailed
    );
    dev.endorsement = endorsement;
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::UpToDate);
    assert_eq!(tam.device(&dev).await.status, DeviceStatus::Attested);
    tam.handle.shutdown().await;
}

/// Each way an endorsement fails, for a device the TAM does not know: the error Update, the
/// reason in its err-msg, an audit entry, and no device row.
#[tokio::test]
async fn rfc9360_bad_endorsements_get_attestation_required_and_store_nothing() {
    let maker = Maker::new("Acme");
    let other = Maker::new("Other");
    let tam = open_tam(&maker).await;
    add_assigned_ta(&tam, "hello", b"hi").await;

    let self_signed = {
        let mut dev = SimDevice::new(KeyType::P256);
        let key = PrivateKey::generate(KeyType::P256);
        let cert = teep_tee::endorsement::self_signed_device(&key, &valid()).unwrap();
        dev.endorsement = Some(SimEndorsement {
            signer: SoftwareSigner::new(key),
            x5chain: vec![cert],
            cnf: None,
        });
        dev
    };
    let expired = maker.device(&CertOptions {
        not_before: now_s() - 10 * 86_400,
        not_after: now_s() - 86_400,
        ..valid()
    });
    let wrong_leaf = {
        let mut dev = maker.device(&valid());
        let e = dev.endorsement.as_mut().unwrap();
        e.signer = SoftwareSigner::new(PrivateKey::generate(KeyType::P256));
        dev
    };
    let no_chain = SimDevice::new(KeyType::P256);
    let cases = [
        (
            "self-signed",
            self_signed,
            "does not chain to a trusted endorsement root",
        ),
        (
            "wrongly chained",
            other.device(&valid()),
            "does not chain to a trusted endorsement root",
        ),
        ("expired", expired, "a certificate has expired"),
        (
            "wrong leaf",
            wrong_leaf,
            "does not verify with the device attestation key",
        ),
        ("no x5chain", no_chain, "no x5chain"),
    ];
    for (case, dev, why) in cases {
        let (code, msg) = error_update(&tam.answer_query(&dev, None).await);
        assert_eq!(code, teep_proto::ErrorCode::AttestationRequired, "{case}");
        assert!(msg.contains(why), "{case}: {msg}");
        assert!(
            tam.store()
                .device_by_kid(&dev.kid())
                .await
                .unwrap()
                .is_none(),
            "{case}: nothing stored for an unknown device"
        );
        let audit = tam.store().recent_audit(1, None).await.unwrap();
        assert_eq!(audit[0].entry.result, "attestation-failed", "{case}");
        assert!(
            audit[0]
                .entry
                .notes
                .iter()
                .any(|n| n.contains("nothing stored")),
            "{case}: {:?}",
            audit[0].entry.notes
        );
    }
    tam.handle.shutdown().await;
}

/// A registered device is appraised against the roots too: its chain must hold and `cnf`
/// must name its TEEP key (RFC 9334 §3 binding), else it is marked attestation-failed.
#[tokio::test]
async fn rfc9334_registered_device_with_a_bad_endorsement_or_cnf_is_marked_failed() {
    let maker = Maker::new("Acme");
    let tam = open_tam(&maker).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mismatch = {
        let mut dev = maker.device(&valid());
        dev.endorsement.as_mut().unwrap().cnf =
            Some(PrivateKey::generate(KeyType::P256).public_key());
        dev
    };
    let expired = maker.device(&CertOptions {
        not_before: now_s() - 10 * 86_400,
        not_after: now_s() - 86_400,
        ..valid()
    });
    for (case, dev, why) in [
        (
            "cnf mismatch",
            mismatch,
            "cnf: does not name the key that signed",
        ),
        ("expired", expired, "a certificate has expired"),
    ] {
        teep_tam::ops::add_device(
            tam.store(),
            dev.public_key().to_spki_pem().as_bytes(),
            None,
            None,
            &[],
            0,
        )
        .await
        .unwrap();
        let (code, msg) = error_update(&tam.answer_query(&dev, None).await);
        assert_eq!(code, teep_proto::ErrorCode::AttestationRequired, "{case}");
        assert!(msg.contains(why), "{case}: {msg}");
        let d = tam.device(&dev).await;
        assert_eq!(d.status, DeviceStatus::AttestationFailed, "{case}");
        let detail = d.status_detail.unwrap_or_default();
        assert!(detail.contains(why), "{case}: {detail}");
    }
    tam.handle.shutdown().await;
}

/// An unknown device whose `cnf` does not name the key that signed its QueryResponse has
/// no key the TAM could verify that message with: it is refused (400) and not stored.
#[tokio::test]
async fn unknown_device_whose_cnf_does_not_sign_the_message_is_refused() {
    let maker = Maker::new("Acme");
    let tam = open_tam(&maker).await;
    let mut dev = maker.device(&valid());
    dev.endorsement.as_mut().unwrap().cnf = Some(PrivateKey::generate(KeyType::P256).public_key());
    let r = tam.answer_query(&dev, None).await;
    assert_eq!(r.status, 400);
    assert!(String::from_utf8_lossy(&r.body).contains("cnf"));
    assert!(tam
        .store()
        .device_by_kid(&dev.kid())
        .await
        .unwrap()
        .is_none());
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn tofu_still_enrolls_any_device_on_first_use() {
    let tam = start_with(tempfile::tempdir().unwrap(), |c| c, Enroll::Tofu).await;
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = SimDevice::new(KeyType::Ed25519);
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);
    assert_eq!(tam.device(&dev).await.status, DeviceStatus::Attested);
    tam.handle.shutdown().await;
}

#[tokio::test]
async fn open_enrollment_without_an_endorsement_root_does_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = teep_tam::server::AppState::open(config(dir.path(), Enroll::Open))
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("teep tam endorser add"), "{err}");
    assert!(err.contains("tofu"), "{err}");
}

#[tokio::test]
async fn endorsers_are_added_listed_and_removed_through_the_admin_api() {
    let maker = Maker::new("Acme");
    let tam = open_tam(&maker).await;
    let http = reqwest_like::Client::new(&tam.url("/admin/endorsers"));
    let (status, body) = http.get().await;
    assert_eq!(status, 200);
    let roots: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(roots.as_array().unwrap().len(), 1);
    assert_eq!(roots[0]["subject"], "Acme Root");

    let other = Maker::new("Other");
    let (status, body) = http.post(cert_to_pem(other.root.cert_der())).await;
    assert_eq!(status, 201, "{body}");
    let added: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sha = added[0]["sha256"].as_str().unwrap().to_string();
    // An intermediate is no root.
    let (status, body) = http.post(cert_to_pem(other.line.cert_der())).await;
    assert_eq!(status, 400);
    assert!(body.contains("self-issued"), "{body}");
    // Trusted now: Other's devices enroll.
    add_assigned_ta(&tam, "hello", b"hi").await;
    let mut dev = other.device(&valid());
    assert_eq!(tam.exchange(&mut dev).await, ExchangeResult::Updated);

    let (status, _) = http.delete(&sha[..12]).await;
    assert_eq!(status, 200);
    let (status, _) = http.delete(&sha[..12]).await;
    assert_eq!(status, 404);
    let (_, body) = http.get().await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Removed: a new device of Other's no longer enrolls.
    let dev = other.device(&valid());
    let (code, _) = error_update(&tam.answer_query(&dev, None).await);
    assert_eq!(code, teep_proto::ErrorCode::AttestationRequired);
    tam.handle.shutdown().await;
}

/// A minimal admin client over ureq (blocking, so run off the async threads).
mod reqwest_like {
    pub struct Client {
        url: String,
    }

    impl Client {
        pub fn new(url: &str) -> Client {
            Client { url: url.into() }
        }

        async fn run(
            &self,
            method: &'static str,
            suffix: String,
            body: Option<String>,
        ) -> (u16, String) {
            let url = format!("{}{suffix}", self.url);
            tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let auth = format!("Bearer {}", super::ADMIN_TOKEN);
                let r = match (method, body) {
                    ("POST", Some(b)) => agent.post(&url).header("authorization", &auth).send(b),
                    ("DELETE", _) => agent.delete(&url).header("authorization", &auth).call(),
                    _ => agent.get(&url).header("authorization", &auth).call(),
                };
                let mut r = r.unwrap();
                let status = r.status().as_u16();
                (status, r.body_mut().read_to_string().unwrap_or_default())
            })
            .await
            .unwrap()
        }

        pub async fn get(&self) -> (u16, String) {
            self.run("GET", String::new(), None).await
        }
        pub async fn post(&self, body: String) -> (u16, String) {
            self.run("POST", String::new(), Some(body)).await
        }
        pub async fn delete(&self, sha: &str) -> (u16, String) {
            self.run("DELETE", format!("/{sha}"), None).await
        }
    }
}
