//! A PNG of an H.264 key frame: its AVCC (length-prefixed) NAL units become an Annex B
//! stream behind the track's SPS and PPS, OpenH264 decodes it, and the picture is
//! written at its own size, as the renderer's thumbnails are.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use openh264::decoder::{DecodedYUV, Decoder};
use openh264::formats::YUVSource;

use super::{KeyFrame, MAX_SIDE};

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Decodes `key_frame`, writes it to `path` as an RGB PNG and answers the picture's
/// width and height.
///
/// # Errors
/// Why no thumbnail was written (for the log).
pub(super) fn write(key_frame: &KeyFrame, path: &Path) -> Result<(u32, u32), String> {
    let stream = annex_b(key_frame)?;
    let mut decoder = Decoder::new().map_err(|e| format!("starting the decoder: {e}"))?;
    let decoded = decoder
        .decode(&stream)
        .map_err(|e| format!("decoding: {e}"))?
        .map(|picture| rgb(&picture));
    let (width, height, pixels) = match decoded {
        Some(picture) => picture?,
        // A stream with frame reordering holds its first picture back until flushed.
        None => {
            let flushed = decoder
                .flush_remaining()
                .map_err(|e| format!("flushing the decoder: {e}"))?;
            rgb(flushed.first().ok_or("the key frame gave no picture")?)?
        }
    };
    write_png(path, width, height, &pixels)?;
    Ok((width, height))
}

/// The parameter sets, then the sample's NAL units, each behind a start code.
fn annex_b(key_frame: &KeyFrame) -> Result<Vec<u8>, String> {
    let n = key_frame.nal_length_size;
    let mut stream = Vec::with_capacity(
        key_frame.sample.len() + key_frame.parameter_sets.iter().map(Vec::len).sum::<usize>() + 64,
    );
    for set in &key_frame.parameter_sets {
        stream.extend_from_slice(&START_CODE);
        stream.extend_from_slice(set);
    }
    let mut rest = key_frame.sample.as_slice();
    while !rest.is_empty() {
        let (length, tail) = rest
            .split_at_checked(n)
            .ok_or("a NAL unit length is cut short")?;
        let length = length
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        let (nal, tail) = tail
            .split_at_checked(length)
            .ok_or("a NAL unit runs past its sample")?;
        stream.extend_from_slice(&START_CODE);
        stream.extend_from_slice(nal);
        rest = tail;
    }
    Ok(stream)
}

fn rgb(picture: &DecodedYUV<'_>) -> Result<(u32, u32, Vec<u8>), String> {
    let (width, height) = picture.dimensions();
    let side = |pixels: usize| {
        u32::try_from(pixels)
            .ok()
            .filter(|&p| p > 0 && p <= MAX_SIDE)
    };
    let (Some(w), Some(h)) = (side(width), side(height)) else {
        return Err(format!("the picture is {width}x{height}"));
    };
    let mut pixels = vec![0u8; width * height * 3];
    picture.write_rgb8(&mut pixels);
    Ok((w, h, pixels))
}

fn write_png(path: &Path, width: u32, height: u32, pixels: &[u8]) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("creating the thumbnail: {e}"))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| format!("writing the thumbnail: {e}"))?;
    writer
        .write_image_data(pixels)
        .map_err(|e| format!("writing the thumbnail: {e}"))?;
    writer
        .finish()
        .map_err(|e| format!("writing the thumbnail: {e}"))
}
