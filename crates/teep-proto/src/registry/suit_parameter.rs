//! Names of the SUIT parameters that appear in `tc-list` entries: teep-cbor's one list, which
//! teep-suit's views use too.

pub use teep_cbor::{suit_parameter_from_name, suit_parameter_name};
