//! Shared helpers of the end-to-end tests: an in-process TAM on a free port.
#![allow(dead_code)]

use std::net::SocketAddr;

use teep_tam::sim::TeepClient;
use teep_tam::{Config, Enroll, ServerHandle};

pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct Tam {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
    pub dir: tempfile::TempDir,
}

impl Tam {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
    pub fn client(&self) -> TeepClient {
        TeepClient::new(&self.url("/tam")).unwrap()
    }
    pub fn tam_keys(&self) -> Vec<teep_cose::PublicKey> {
        self.handle
            .state
            .core
            .signers()
            .iter()
            .map(|s| s.public_key())
            .collect()
    }
    pub fn store(&self) -> &teep_tam::Store {
        &self.handle.state.store
    }
    /// One full draft-26 exchange of `dev` with this TAM, its signatures checked; panics on
    /// any error.
    pub async fn exchange(
        &self,
        dev: &mut teep_tam::sim::SimDevice,
    ) -> teep_tam::sim::ExchangeResult {
        teep_tam::sim::exchange(
            &self.client(),
            dev,
            teep_proto::Numbering::Draft26,
            &self.tam_keys(),
        )
        .await
        .unwrap()
    }
}

pub fn config(dir: &std::path::Path, enroll: Enroll) -> Config {
    Config {
        data: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        enroll,
        admin_token: Some(ADMIN_TOKEN.into()),
        ..Default::default()
    }
}

pub async fn start(enroll: Enroll) -> Tam {
    let dir = tempfile::tempdir().unwrap();
    start_with(dir, |c| c, enroll).await
}

pub async fn start_with(
    dir: tempfile::TempDir,
    f: impl FnOnce(Config) -> Config,
    enroll: Enroll,
) -> Tam {
    let cfg = f(config(dir.path(), enroll));
    let (addr, handle) = teep_tam::server::spawn(cfg).await.unwrap();
    Tam { addr, handle, dir }
}

/// Adds a TA wrapped by the TAM and assigns it to every device; returns its component id.
pub async fn add_assigned_ta(tam: &Tam, name: &str, body: &[u8]) -> Vec<Vec<u8>> {
    let st = &tam.handle.state;
    let tc = teep_tam::ops::add_ta(
        &st.store,
        &st.tc_signer,
        name,
        body,
        teep_tam::server::now_ms(),
    )
    .await
    .unwrap();
    st.store
        .assign(&tc.component_id, &teep_tam::model::Target::All, 0)
        .await
        .unwrap();
    teep_tam::model::decode_component_id(&tc.component_id).unwrap()
}
