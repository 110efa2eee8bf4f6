//! teep-suit
