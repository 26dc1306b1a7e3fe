//! Avatar pictures: sniffing, the header's dimensions against the avatar rules, then
//! decoding under `image::Limits`, scaling and re-encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vidgen_infrastructure::avatars::normalize_now;

fuzz_target!(|picture: &[u8]| {
    let _ = normalize_now(picture);
});
