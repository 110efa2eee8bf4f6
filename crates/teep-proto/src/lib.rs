//! teep-proto
