//! teep-agent
