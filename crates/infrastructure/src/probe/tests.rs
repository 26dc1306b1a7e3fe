//! Tests of the probe.
