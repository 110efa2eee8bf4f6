//! Registries of the TEEP protocol: message types, option labels, error codes, cipher suites,
//! SUIT COSE profiles, freshness mechanisms and data-item bits.
//!
//! Every registry keeps values it does not know as data (`Unknown(n)`), so a newer peer is
//! answered with a precise error instead of a crash. Values that changed at draft -26 are
//! mapped through [`Numbering`].

mod cipher_suite;
mod data_items;
mod error_code;
mod freshness;
mod label;
mod message_type;
mod numbering;
mod suit_cose_profile;
mod suit_parameter;

pub use cipher_suite::{CipherOperation, CipherSuite, COSE_SIGN1};
pub use data_items::DataItems;
pub use error_code::ErrorCode;
pub use freshness::FreshnessMechanism;
pub use label::Label;
pub use message_type::MessageType;
pub use numbering::Numbering;
pub use suit_cose_profile::SuitCoseProfile;
pub use suit_parameter::{suit_parameter_from_name, suit_parameter_name};
