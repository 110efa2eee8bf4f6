//! The Verifier settings (`verifier`, `[veraison]`, `[appraisal]`): which Verifier appraises
//! Evidence, how to reach a remote one, and what an appraisal must also show.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Config, ConfigError, MAX_TIMEOUT_MS};

/// Which Verifier appraises Evidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum VerifierChoice {
    /// The TAM's own appraisal: the Evidence's signature by the device attestation key.
    #[default]
    Builtin,
    /// A remote Verifier speaking Veraison's challenge-response API.
    Veraison,
}

/// How a device proves its state (RFC 9334 §5; -26 §4.2, §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum AttestationModel {
    /// The TAM sends a challenge; the device answers with Evidence, which a Verifier appraises.
    #[default]
    BackgroundCheck,
    /// The TAM sends a token and no challenge; the device presents an Attestation Result of a
    /// trusted Verifier (`verifier_keys`) whose `eat_nonce` is that token.
    Passport,
}

/// `[veraison]`: the remote Verifier.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VeraisonConfig {
    /// Base URL, e.g. `https://veraison.example:8443`.
    pub url: Option<String>,
    /// Public key (JWK, PEM or COSE_Key) that signs its EARs.
    pub ear_key: Option<PathBuf>,
    /// Milliseconds for a whole appraisal; past it, attestation fails.
    pub timeout_ms: u64,
    /// CA certificates (PEM) for an https URL; unset: the Mozilla roots.
    pub ca: Option<PathBuf>,
    /// Largest response body read.
    pub max_response: u64,
}

impl Default for VeraisonConfig {
    fn default() -> Self {
        VeraisonConfig {
            url: None,
            ear_key: None,
            timeout_ms: 5000,
            ca: None,
            max_response: 64 * 1024,
        }
    }
}

/// `[appraisal]`: what every appraisal must also show, whichever Verifier made it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppraisalConfig {
    /// Accepted `hwmodel` values: text, or `hex:` and the bytes in hex. Empty: any.
    pub hwmodels: Vec<String>,
    /// Accepted `hwversion` version strings. Empty: any.
    pub hwversions: Vec<String>,
    /// Lowest sequence number each named TC may be held at.
    pub min_tc_versions: BTreeMap<String, u64>,
}

impl AppraisalConfig {
    /// The core's policy.
    pub fn policy(&self) -> Result<teep_tam_core::attest::AppraisalPolicy, ConfigError> {
        let mut hwmodels = Vec::new();
        for m in &self.hwmodels {
            hwmodels.push(match m.strip_prefix("hex:") {
                Some(h) => hex::decode(h).map_err(|e| {
                    ConfigError::Invalid(format!("appraisal.hwmodels {m:?}: not hex ({e})"))
                })?,
                None => m.as_bytes().to_vec(),
            });
        }
        Ok(teep_tam_core::attest::AppraisalPolicy {
            hwmodels,
            hwversions: self.hwversions.clone(),
            min_tc_versions: self
                .min_tc_versions
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
        })
    }
}

impl VeraisonConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Checks the Verifier settings of `c`.
pub(super) fn validate(c: &Config) -> Result<(), ConfigError> {
    c.appraisal.policy()?;
    if c.attestation_model == AttestationModel::Passport && c.verifier_keys.is_empty() {
        return Err(ConfigError::Invalid(
            "attestation_model = \"passport\": needs verifier_keys (the Verifiers whose Attestation Results are accepted)".into(),
        ));
    }
    if c.verifier != VerifierChoice::Veraison {
        return Ok(());
    }
    let v = &c.veraison;
    let url = v.url.as_deref().ok_or_else(|| {
        ConfigError::Invalid("veraison.url: required with verifier = \"veraison\"".into())
    })?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ConfigError::Invalid(format!(
            "veraison.url {url:?}: must be an http(s) URL"
        )));
    }
    if v.ear_key.is_none() {
        return Err(ConfigError::Invalid(
            "veraison.ear_key: required with verifier = \"veraison\" (the key that signs its EARs)"
                .into(),
        ));
    }
    if !(100..=MAX_TIMEOUT_MS).contains(&v.timeout_ms) {
        return Err(ConfigError::Invalid(format!(
            "veraison.timeout_ms {}: must be 100..={MAX_TIMEOUT_MS} (one hour)",
            v.timeout_ms
        )));
    }
    if v.max_response < 1024 {
        return Err(ConfigError::Invalid(format!(
            "veraison.max_response {}: must be at least 1024 bytes",
            v.max_response
        )));
    }
    Ok(())
}

/// The Verifier flags of `teep tam serve` (flattened into its flags).
#[cfg(feature = "clap")]
#[derive(Clone, Debug, Default, clap::Args)]
pub struct VerifierFlags {
    /// Which Verifier appraises Evidence (default builtin).
    #[arg(long, value_enum)]
    pub verifier: Option<VerifierChoice>,
    /// background-check (a challenge, Evidence) or passport (a token, an Attestation Result).
    #[arg(long, value_enum)]
    pub attestation_model: Option<AttestationModel>,
    /// Base URL of the Veraison Verifier (https://veraison.example:8443).
    #[arg(long)]
    pub veraison_url: Option<String>,
    /// Public key (JWK, PEM or COSE_Key) that signs the Veraison Verifier's EARs.
    #[arg(long)]
    pub veraison_ear_key: Option<PathBuf>,
    /// Milliseconds for a whole remote appraisal (default 5000).
    #[arg(long, value_name = "MS")]
    pub veraison_timeout_ms: Option<u64>,
    /// CA certificates (PEM) for an https Veraison URL.
    #[arg(long)]
    pub veraison_ca: Option<PathBuf>,
    /// Accepted hwmodel (text, or hex:BYTES); repeat for several. Default: any.
    #[arg(long = "accept-hwmodel")]
    pub hwmodels: Vec<String>,
    /// Accepted hwversion; repeat for several. Default: any.
    #[arg(long = "accept-hwversion")]
    pub hwversions: Vec<String>,
    /// Lowest sequence number a TC may be held at, NAME=SEQ; repeat for several.
    #[arg(long = "min-tc-version", value_name = "NAME=SEQ", value_parser = parse_min_tc)]
    pub min_tc_versions: Vec<(String, u64)>,
}

#[cfg(feature = "clap")]
fn parse_min_tc(s: &str) -> Result<(String, u64), String> {
    let (name, seq) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=SEQ"))?;
    let seq = seq
        .parse()
        .map_err(|_| format!("{s:?}: SEQ must be a sequence number"))?;
    Ok((name.to_string(), seq))
}

#[cfg(feature = "clap")]
impl VerifierFlags {
    /// Overrides the keys of `config` whose flags were given.
    pub fn apply_to(self, config: &mut Config) {
        let VerifierFlags {
            verifier,
            attestation_model,
            veraison_url,
            veraison_ear_key,
            veraison_timeout_ms,
            veraison_ca,
            hwmodels,
            hwversions,
            min_tc_versions,
        } = self;
        if let Some(v) = verifier {
            config.verifier = v;
        }
        if let Some(m) = attestation_model {
            config.attestation_model = m;
        }
        let v = &mut config.veraison;
        v.url = veraison_url.or(v.url.take());
        v.ear_key = veraison_ear_key.or(v.ear_key.take());
        v.timeout_ms = veraison_timeout_ms.unwrap_or(v.timeout_ms);
        v.ca = veraison_ca.or(v.ca.take());
        let a = &mut config.appraisal;
        if !hwmodels.is_empty() {
            a.hwmodels = hwmodels;
        }
        if !hwversions.is_empty() {
            a.hwversions = hwversions;
        }
        if !min_tc_versions.is_empty() {
            a.min_tc_versions = min_tc_versions.into_iter().collect();
        }
    }
}
