//! Names of the SUIT parameters that appear in `tc-list` entries.

/// Names of SUIT parameter labels that appear in `tc-list` entries (system-property-claims).
pub fn suit_parameter_name(label: i64) -> Option<&'static str> {
    Some(match label {
        1 => "vendor-identifier",
        2 => "class-identifier",
        3 => "image-digest",
        5 => "component-slot",
        12 => "strict-order",
        13 => "soft-failure",
        14 => "image-size",
        18 => "content",
        19 => "encryption-info",
        21 => "uri",
        22 => "source-component",
        23 => "invoke-args",
        24 => "device-identifier",
        25 => "fetch-arguments",
        28 => "version",
        _ => return None,
    })
}

pub fn suit_parameter_from_name(name: &str) -> Option<i64> {
    (0..=64).find(|l| suit_parameter_name(*l) == Some(name))
}
