//! teep-tam
