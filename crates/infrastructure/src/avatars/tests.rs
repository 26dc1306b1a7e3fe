use image::{DynamicImage, GenericImageView, Rgb, RgbImage, Rgba, RgbaImage};

use super::*;

fn encoded(picture: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, format).expect("encode fixture");
    out.into_inner()
}

fn gradient(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    }))
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header declares `width` x `height` 8-bit RGB pixels and whose IDAT holds
/// an empty zlib stream: a few dozen bytes, whatever the dimensions.
fn header_only_png(width: u32, height: u32) -> Vec<u8> {
    header_only_png_with(width, height, 8, 2)
}

/// [`header_only_png`] with the given bit depth and colour type (2 RGB, 6 RGBA).
fn header_only_png_with(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).expect("short").to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0, 0, 0, 1],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The JPEG with an APP1 Exif segment (a GPS latitude) inserted after its SOI marker.
fn with_exif_gps(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II*\0");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    // IFD0: one entry, the GPS IFD pointer.
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x8825u16.to_le_bytes());
    tiff.extend_from_slice(&4u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&26u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    // GPS IFD at 26: latitude reference and latitude.
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&2u32.to_le_bytes());
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&5u16.to_le_bytes());
    tiff.extend_from_slice(&3u32.to_le_bytes());
    tiff.extend_from_slice(&56u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    for (numerator, denominator) in [(48u32, 1u32), (51, 1), (2980, 100)] {
        tiff.extend_from_slice(&numerator.to_le_bytes());
        tiff.extend_from_slice(&denominator.to_le_bytes());
    }
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let length = u16::try_from(payload.len() + 2).expect("short segment");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(&payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// Whether a JPEG has an APP1 segment starting with `Exif\0\0` before its image data.
fn has_exif(jpeg: &[u8]) -> bool {
    let mut at = 2;
    while at + 4 <= jpeg.len() && jpeg[at] == 0xFF {
        let marker = jpeg[at + 1];
        if marker == 0xDA {
            return false;
        }
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        if marker == 0xE1 && jpeg[at + 4..].starts_with(b"Exif\0\0") {
            return true;
        }
        at += 2 + length;
    }
    false
}

#[test]
fn pictures_are_recognised_by_their_bytes_only() {
    let picture = gradient(8, 8);
    let cases: &[(&str, Vec<u8>, Option<ImageFormat>)] = &[
        (
            "png",
            encoded(&picture, image::ImageFormat::Png),
            Some(ImageFormat::Png),
        ),
        (
            "jpeg",
            encoded(&picture, image::ImageFormat::Jpeg),
            Some(ImageFormat::Jpeg),
        ),
        (
            "webp",
            encoded(&picture, image::ImageFormat::WebP),
            Some(ImageFormat::WebP),
        ),
        ("gif", b"GIF89a\x01\x00\x01\x00\x80\x00\x00;".to_vec(), None),
        ("text", b"just some text, not a picture".to_vec(), None),
        ("empty", Vec::new(), None),
    ];
    for (name, bytes, expected) in cases {
        assert_eq!(sniff(bytes), *expected, "{name}");
    }
}

#[test]
fn each_format_comes_back_in_its_own_format_within_the_square() {
    /// (fixture format, stored format, fixture size, stored size)
    type Case = (image::ImageFormat, ImageFormat, (u32, u32), (u32, u32));
    let cases: &[Case] = &[
        (
            image::ImageFormat::Png,
            ImageFormat::Png,
            (1024, 768),
            (512, 384),
        ),
        (
            image::ImageFormat::Jpeg,
            ImageFormat::Jpeg,
            (600, 1200),
            (256, 512),
        ),
        (
            image::ImageFormat::WebP,
            ImageFormat::WebP,
            (700, 700),
            (512, 512),
        ),
        (
            image::ImageFormat::Png,
            ImageFormat::Png,
            (40, 30),
            (40, 30),
        ),
    ];
    for (source, format, size, stored) in cases {
        let bytes = encoded(&gradient(size.0, size.1), *source);
        let out = normalize_now(&bytes).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(out.format, *format);
        assert_eq!((out.width, out.height), *stored, "{format:?} {size:?}");
        let decoded = image::load_from_memory_with_format(&out.bytes, *source)
            .unwrap_or_else(|e| panic!("{format:?}: the output decodes: {e}"));
        assert_eq!(decoded.dimensions(), *stored, "{format:?}");
        assert_eq!(sniff(&out.bytes), Some(*format), "{format:?}");
    }
}

#[test]
fn transparency_survives_in_png_and_webp() {
    let picture = DynamicImage::ImageRgba8(RgbaImage::from_pixel(20, 20, Rgba([10, 20, 30, 40])));
    for format in [image::ImageFormat::Png, image::ImageFormat::WebP] {
        let out = normalize_now(&encoded(&picture, format)).expect("normalized");
        let decoded = image::load_from_memory_with_format(&out.bytes, format).expect("decodes");
        assert_eq!(decoded.to_rgba8().get_pixel(3, 3).0[3], 40, "{format:?}");
    }
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    let bomb = header_only_png(100_000, 100_000);
    assert!(bomb.len() < 100, "the bomb is a few bytes: {}", bomb.len());
    match normalize_now(&bomb) {
        Err(ImageError::TooManyPixels { width, height }) => {
            assert_eq!((width, height), (100_000, 100_000));
        }
        other => panic!("expected TooManyPixels, got {other:?}"),
    }
    let tall = header_only_png(10, Avatar::MAX_SOURCE_SIDE + 1);
    assert!(matches!(
        normalize_now(&tall),
        Err(ImageError::TooManyPixels { .. })
    ));
}

#[test]
fn a_40_megapixel_png_is_refused_from_its_header_fast() {
    let bomb = header_only_png(8000, 5000);
    assert!(
        bomb.len() < 100,
        "the picture is a few bytes: {}",
        bomb.len()
    );
    let started = std::time::Instant::now();
    let outcome = normalize_now(&bomb);
    assert!(
        matches!(
            outcome,
            Err(ImageError::TooManyPixels {
                width: 8000,
                height: 5000
            })
        ),
        "expected TooManyPixels for 8000x5000, got {:?}",
        outcome.map(|i| (i.width, i.height))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_millis(200),
        "refused from the header, without decoding: {:?}",
        started.elapsed()
    );
}

#[test]
fn the_decode_budget_follows_the_pixel_budget() {
    // Within the side and pixel limits, but 8 bytes a pixel (16-bit RGBA): past what one
    // decode may allocate, refused before any pixel is decoded.
    let deep = header_only_png_with(4000, 4000, 16, 6);
    assert!(
        matches!(normalize_now(&deep), Err(ImageError::TooManyPixels { .. })),
        "a 4000x4000 16-bit RGBA picture is past the decode budget"
    );
    const {
        assert!(
            MAX_DECODE_BYTES < 2 * Avatar::MAX_SOURCE_PIXELS * 4,
            "the budget is the pixels at 4 bytes plus a margin"
        );
    }
    // A 12-megapixel 8-bit header passes both checks: its (empty) pixel data is what fails.
    for (width, height, depth, colour, what) in [
        (4000, 3000, 8, 2, "12 MP RGB"),
        (3000, 4000, 8, 6, "12 MP RGBA, portrait"),
        (4000, 4000, 8, 6, "16 MP RGBA, the whole budget"),
    ] {
        let header = header_only_png_with(width, height, depth, colour);
        assert!(
            matches!(normalize_now(&header), Err(ImageError::Unsupported)),
            "{what}: got {:?}",
            normalize_now(&header).map(|i| (i.width, i.height))
        );
    }
}

#[test]
fn a_12_megapixel_photo_is_accepted() {
    let photo = encoded(&gradient(4000, 3000), image::ImageFormat::Jpeg);
    let out = normalize_now(&photo).expect("a 4000x3000 photo is accepted");
    assert_eq!(out.format, ImageFormat::Jpeg);
    assert_eq!((out.width, out.height), (512, 384));
}

#[test]
fn unreadable_pictures_are_unsupported() {
    let png = encoded(&gradient(64, 64), image::ImageFormat::Png);
    let jpeg = encoded(&gradient(64, 64), image::ImageFormat::Jpeg);
    let cases: &[(&str, Vec<u8>)] = &[
        ("truncated png", png[..png.len() / 2].to_vec()),
        ("header only png", header_only_png(16, 16)),
        ("truncated jpeg", jpeg[..40].to_vec()),
        ("text", b"hello".to_vec()),
    ];
    for (name, bytes) in cases {
        assert!(
            matches!(normalize_now(bytes), Err(ImageError::Unsupported)),
            "{name}: {:?}",
            normalize_now(bytes).map(|i| i.format)
        );
    }
}

#[test]
fn exif_and_its_gps_position_are_dropped() {
    let jpeg = with_exif_gps(&encoded(&gradient(300, 200), image::ImageFormat::Jpeg));
    assert!(has_exif(&jpeg), "the fixture carries EXIF");
    let out = normalize_now(&jpeg).expect("normalized");
    assert_eq!(out.format, ImageFormat::Jpeg);
    assert!(!has_exif(&out.bytes), "the stored picture has no EXIF");
    assert!(
        !out.bytes.windows(6).any(|w| w == b"Exif\0\0"),
        "no EXIF block anywhere"
    );
}

#[tokio::test]
async fn the_port_normalizes_on_the_blocking_pool() {
    let images = ImageRsAvatarImages::new(1);
    let bytes = encoded(&gradient(900, 900), image::ImageFormat::Png);
    let out = images.normalize(bytes).await.expect("normalized");
    assert_eq!((out.width, out.height), (512, 512));
}
