//! MP4 and QuickTime uploads: the sniffer, then the probe (the `mp4` crate's box
//! parser, the sample-table checks, the key frame and its OpenH264 thumbnail).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vidgen_fuzz::{Family, sniff_and_probe};

fuzz_target!(|upload: &[u8]| sniff_and_probe(upload, Family::IsoBaseMedia));
