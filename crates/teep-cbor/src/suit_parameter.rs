//! Names of SUIT parameter labels (draft-ietf-suit-manifest §8.4.8, the trust-domains and
//! update-management extensions), as the CDDL spells them. One list for the TEEP views
//! (tc-list entries are SUIT parameters, teep-proto) and the SUIT views and error paths
//! (teep-suit): this crate is the one both depend on.

/// The name of SUIT parameter `label`, if it is one we know.
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

/// The label of the SUIT parameter called `name` (the inverse of [`suit_parameter_name`]).
pub fn suit_parameter_from_name(name: &str) -> Option<i64> {
    (0..=64).find(|l| suit_parameter_name(*l) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_are_inverse() {
        for label in -1..=70 {
            if let Some(name) = suit_parameter_name(label) {
                assert_eq!(suit_parameter_from_name(name), Some(label), "{name}");
            }
        }
        assert_eq!(suit_parameter_name(3), Some("image-digest"));
        assert_eq!(suit_parameter_name(28), Some("version"));
        assert_eq!(suit_parameter_name(4), None);
        assert_eq!(suit_parameter_from_name("nonesuch"), None);
    }
}
