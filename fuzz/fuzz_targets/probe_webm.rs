//! WebM uploads: the sniffer's EBML header walk, then the probe (the Segment size
//! check and `matroska-demuxer` streaming every block).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vidgen_fuzz::{Family, sniff_and_probe};

fuzz_target!(|upload: &[u8]| sniff_and_probe(upload, Family::WebM));
