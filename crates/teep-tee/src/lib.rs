//! teep-tee
