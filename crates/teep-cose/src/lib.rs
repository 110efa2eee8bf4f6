//! teep-cose
