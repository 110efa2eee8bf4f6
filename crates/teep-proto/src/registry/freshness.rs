//! Freshness mechanisms (`supported-freshness-mechanisms`).

/// Freshness mechanisms (DIGEST 3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FreshnessMechanism {
    Nonce,
    Timestamp,
    Unknown(u64),
}

impl FreshnessMechanism {
    pub fn value(self) -> u64 {
        match self {
            FreshnessMechanism::Nonce => 0,
            FreshnessMechanism::Timestamp => 1,
            FreshnessMechanism::Unknown(n) => n,
        }
    }

    pub fn from_value(v: u64) -> Self {
        match v {
            0 => FreshnessMechanism::Nonce,
            1 => FreshnessMechanism::Timestamp,
            n => FreshnessMechanism::Unknown(n),
        }
    }

    pub fn name(self) -> Option<&'static str> {
        match self {
            FreshnessMechanism::Nonce => Some("nonce"),
            FreshnessMechanism::Timestamp => Some("timestamp"),
            FreshnessMechanism::Unknown(_) => None,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "nonce" => Some(FreshnessMechanism::Nonce),
            "timestamp" => Some(FreshnessMechanism::Timestamp),
            _ => None,
        }
    }
}
