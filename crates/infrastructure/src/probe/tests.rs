//! The probe against real files: MP4s rendered by the project's renderer, the WebM
//! fixture (see `tests/fixtures/README.md`), and damaged or made-up bytes.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vidgen_application::videos::probe::SNIFF_BYTES;
use vidgen_application::videos::render::{
    CancelFlag, NoProgress, RenderRequest, RenderTarget, RenderedVideo, VideoRenderer,
};

use super::*;
use crate::render::Openh264Renderer;

/// A fixture made by the project (see `tests/fixtures/README.md` for how and what it
/// holds).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

fn webm_fixture() -> PathBuf {
    fixture("sample.webm")
}

/// Renders a `seconds`-long 1280x720 video at 24 fps into `dir`.
async fn render_720p(dir: &Path, seconds: u32) -> (PathBuf, RenderedVideo) {
    let renderer = Openh264Renderer::new(1).expect("renderer");
    let target = RenderTarget {
        video: dir.join("rendered.mp4"),
        thumbnail: dir.join("rendered.png"),
    };
    let rendered = renderer
        .render(
            RenderRequest {
                title: "Probe me".into(),
                prompt: "A lighthouse on a cliff, waves breaking below, gulls circling.".into(),
                width: 1280,
                height: 720,
                fps: 24,
                duration_seconds: seconds,
            },
            target.clone(),
            Arc::new(NoProgress),
            CancelFlag::new(),
        )
        .await
        .expect("render");
    (target.video, rendered)
}

async fn probe(
    file: &Path,
    format: UploadFormat,
    thumbnail: &Path,
) -> Result<ProbedMedia, ProbeError> {
    FileMediaProbe::new().probe(file, format, thumbnail).await
}

/// A user-facing reason: a sentence without paths or parser internals.
fn assert_readable(error: &ProbeError, dir: &Path) {
    let text = error.to_string();
    assert!(!text.is_empty());
    assert!(
        !text.contains('/') && !text.contains(&*dir.to_string_lossy()),
        "no paths in {text:?}"
    );
    for internal in ["Error", "box", "Box", "{", "0x", "panick"] {
        assert!(
            !text.contains(internal),
            "no internals ({internal}) in {text:?}"
        );
    }
}

/// A small deterministic generator for garbage (xorshift64).
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
    let size = 16 + 4 * compatible.len();
    let mut bytes = (size as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(b"ftyp");
    bytes.extend_from_slice(major);
    bytes.extend_from_slice(&[0, 0, 2, 0]);
    for brand in compatible {
        bytes.extend_from_slice(*brand);
    }
    bytes
}

/// An EBML header with this DocType (and the usual other children), then the start of a
/// Segment.
fn ebml(doc_type: &[u8]) -> Vec<u8> {
    let mut children = vec![0x42, 0x86, 0x81, 0x01, 0x42, 0xF7, 0x81, 0x01];
    children.extend_from_slice(&[0x42, 0x82, 0x80 | doc_type.len() as u8]);
    children.extend_from_slice(doc_type);
    children.extend_from_slice(&[0x42, 0x87, 0x81, 0x04, 0x42, 0x85, 0x81, 0x02]);
    let mut bytes = vec![0x1A, 0x45, 0xDF, 0xA3, 0x80 | children.len() as u8];
    bytes.extend_from_slice(&children);
    bytes.extend_from_slice(&[
        0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    ]);
    bytes
}

#[test]
fn sniffing_decides_from_the_bytes() {
    let probe = FileMediaProbe::new();
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0".to_vec();
    let random = Garbage(0x5eed).bytes(SNIFF_BYTES);
    let webm = ebml(b"webm");
    let mut webm_padded_doc_type = ebml(b"webm\0\0");
    webm_padded_doc_type.truncate(webm_padded_doc_type.len() - 12);
    let mut long_size_doc_type = ebml(b"webm");
    // The same DocType element with a two-byte size field (0x40 0x04).
    let at = long_size_doc_type
        .windows(3)
        .position(|w| w == [0x42, 0x82, 0x84])
        .expect("doc type");
    long_size_doc_type.splice(at + 2..at + 3, [0x40, 0x04]);
    long_size_doc_type[4] += 1;

    let mp4 = Sniffed::Format(UploadFormat::Mp4);
    let cases: Vec<(&str, Vec<u8>, bool, Sniffed)> = vec![
        (
            "isom",
            ftyp(b"isom", &[b"isom", b"iso2", b"avc1", b"mp41"]),
            true,
            mp4,
        ),
        ("iso2", ftyp(b"iso2", &[]), true, mp4),
        ("iso3", ftyp(b"iso3", &[]), true, mp4),
        ("iso4", ftyp(b"iso4", &[]), true, mp4),
        ("iso5", ftyp(b"iso5", &[b"iso5", b"dash"]), true, mp4),
        ("iso6", ftyp(b"iso6", &[]), true, mp4),
        ("mp41", ftyp(b"mp41", &[b"mp41"]), true, mp4),
        ("mp42", ftyp(b"mp42", &[b"mp42", b"isom"]), true, mp4),
        ("avc1", ftyp(b"avc1", &[]), true, mp4),
        ("dash", ftyp(b"dash", &[b"iso6"]), true, mp4),
        (
            "M4V",
            ftyp(b"M4V ", &[b"M4V ", b"M4A ", b"mp42"]),
            true,
            mp4,
        ),
        (
            "3gp with an isom compatible brand",
            ftyp(b"3gp4", &[b"isom", b"3gp4"]),
            true,
            mp4,
        ),
        (
            "incomplete head, whole ftyp",
            ftyp(b"isom", &[b"isom"]),
            false,
            mp4,
        ),
        (
            "qt",
            ftyp(b"qt  ", &[b"qt  "]),
            true,
            Sniffed::Format(UploadFormat::QuickTime),
        ),
        (
            "webm",
            webm.clone(),
            true,
            Sniffed::Format(UploadFormat::WebM),
        ),
        (
            "webm with a padded DocType",
            webm_padded_doc_type,
            true,
            Sniffed::Format(UploadFormat::WebM),
        ),
        (
            "webm with a two-byte DocType size",
            long_size_doc_type,
            true,
            Sniffed::Format(UploadFormat::WebM),
        ),
        (
            "matroska DocType",
            ebml(b"matroska"),
            true,
            Sniffed::Unsupported,
        ),
        (
            "HEIC brand",
            ftyp(b"heic", &[b"mif1", b"heic"]),
            true,
            Sniffed::Unsupported,
        ),
        (
            "AVIF brand",
            ftyp(b"avif", &[b"avif", b"mif1", b"miaf"]),
            true,
            Sniffed::Unsupported,
        ),
        (
            "moov without ftyp",
            b"\0\0\0\x10moov\0\0\0\x08mvhd".to_vec(),
            true,
            Sniffed::Unsupported,
        ),
        (
            "ftyp too small",
            b"\0\0\0\x08ftypisom".to_vec(),
            true,
            Sniffed::Unsupported,
        ),
        ("PNG", png.clone(), true, Sniffed::Unsupported),
        (
            "PNG, incomplete",
            png[..8].to_vec(),
            false,
            Sniffed::Unsupported,
        ),
        ("random bytes", random.clone(), true, Sniffed::Unsupported),
        (
            "random bytes, incomplete",
            random.clone(),
            false,
            Sniffed::Unsupported,
        ),
        ("empty, complete", Vec::new(), true, Sniffed::Unsupported),
        ("empty, incomplete", Vec::new(), false, Sniffed::NeedMore),
        (
            "3 bytes, incomplete",
            vec![0, 0, 0],
            false,
            Sniffed::NeedMore,
        ),
        (
            "3 bytes, complete",
            vec![0, 0, 0],
            true,
            Sniffed::Unsupported,
        ),
        (
            "half an ftyp, incomplete",
            b"\0\0\0\x18ftypis".to_vec(),
            false,
            Sniffed::NeedMore,
        ),
        (
            "half an ftyp, complete",
            b"\0\0\0\x18ftypis".to_vec(),
            true,
            Sniffed::Unsupported,
        ),
        (
            "ftyp cut inside its brands, incomplete",
            ftyp(b"isom", &[b"isom", b"avc1"])[..20].to_vec(),
            false,
            Sniffed::NeedMore,
        ),
        (
            "EBML magic only, incomplete",
            webm[..4].to_vec(),
            false,
            Sniffed::NeedMore,
        ),
        (
            "EBML header cut before DocType",
            webm[..10].to_vec(),
            false,
            Sniffed::NeedMore,
        ),
        (
            "EBML header cut before DocType, complete",
            webm[..10].to_vec(),
            true,
            Sniffed::Unsupported,
        ),
        (
            "two EBML bytes, incomplete",
            vec![0x1A, 0x45],
            false,
            Sniffed::NeedMore,
        ),
        (
            "MP3",
            b"ID3\x04\0\0\0\0\0\0".to_vec(),
            false,
            Sniffed::Unsupported,
        ),
    ];
    for (name, head, complete, expected) in cases {
        assert_eq!(probe.sniff(&head, complete), expected, "{name}");
    }
    // SNIFF_BYTES always decide: an ftyp box larger than that is no real one, even while
    // more bytes could come.
    let mut long = vec![0u8; SNIFF_BYTES];
    long[4..8].copy_from_slice(b"ftyp");
    long[..4].copy_from_slice(&(SNIFF_BYTES as u32 * 2).to_be_bytes());
    assert_eq!(
        probe.sniff(&long, false),
        Sniffed::Unsupported,
        "oversized ftyp"
    );
}

#[test]
fn sniffing_never_panics_on_garbage() {
    let probe = FileMediaProbe::new();
    let mut garbage = Garbage(7);
    for round in 0..2000 {
        let length = (garbage.next() % 64) as usize;
        let mut head = garbage.bytes(length);
        // Give many of them a plausible start.
        match round % 3 {
            0 if head.len() >= 8 => head[4..8].copy_from_slice(b"ftyp"),
            1 if head.len() >= 4 => head[..4].copy_from_slice(&[0x1A, 0x45, 0xDF, 0xA3]),
            _ => {}
        }
        let _ = probe.sniff(&head, round % 2 == 0);
    }
}

#[tokio::test]
async fn probes_a_rendered_720p_mp4_with_a_thumbnail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, rendered) = render_720p(dir.path(), 2).await;
    let head = std::fs::read(&video).expect("video");
    assert_eq!(
        FileMediaProbe::new().sniff(&head[..SNIFF_BYTES], false),
        Sniffed::Format(UploadFormat::Mp4)
    );

    let thumbnail = dir.path().join("probe.png");
    let probed = probe(&video, UploadFormat::Mp4, &thumbnail)
        .await
        .expect("probe");
    assert_eq!(
        probed,
        ProbedMedia {
            duration: rendered.duration_seconds,
            width: 1280,
            height: 720,
            codec: "h264".into(),
            file_size: head.len() as u64,
            thumbnail: true,
        }
    );
    assert_eq!(probed.duration, 2.0, "exact from the container");

    let png = png::Decoder::new(BufReader::new(
        std::fs::File::open(&thumbnail).expect("thumbnail"),
    ));
    let mut reader = png.read_info().expect("a PNG");
    let info = reader.info();
    assert_eq!((info.width, info.height), (1280, 720));
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let mut pixels = vec![0; reader.output_buffer_size()];
    reader.next_frame(&mut pixels).expect("pixels");
    let first = &pixels[..3];
    assert!(
        pixels.chunks(3).any(|p| p != first),
        "the thumbnail shows a picture, not one flat colour"
    );
}

#[tokio::test]
async fn the_same_mp4_probed_as_quicktime_reads_the_same_facts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, _) = render_720p(dir.path(), 1).await;
    let probed = probe(&video, UploadFormat::QuickTime, &dir.path().join("t.png"))
        .await
        .expect("probe");
    assert_eq!(
        (probed.width, probed.height, probed.duration),
        (1280, 720, 1.0)
    );
}

#[tokio::test]
async fn probes_the_webm_fixture() {
    let fixture = webm_fixture();
    let head = std::fs::read(&fixture).expect("the fixture");
    assert_eq!(
        FileMediaProbe::new().sniff(&head[..SNIFF_BYTES.min(head.len())], true),
        Sniffed::Format(UploadFormat::WebM)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let thumbnail = dir.path().join("none.png");
    let probed = probe(&fixture, UploadFormat::WebM, &thumbnail)
        .await
        .expect("probe");
    assert_eq!(
        probed,
        ProbedMedia {
            duration: 2.0,
            width: 640,
            height: 360,
            codec: "vp9".into(),
            file_size: head.len() as u64,
            thumbnail: false,
        }
    );
    assert!(!thumbnail.exists(), "no thumbnail for VP9");
}

/// Sniffs a fixture and probes it as what it sniffed as.
async fn probe_fixture(name: &str, dir: &Path) -> (UploadFormat, ProbedMedia, PathBuf) {
    let path = fixture(name);
    let bytes = std::fs::read(&path).expect("the fixture");
    let Sniffed::Format(format) = FileMediaProbe::new().sniff(&bytes[..SNIFF_BYTES], false) else {
        panic!("{name} did not sniff as a video");
    };
    let thumbnail = dir.join(format!("{name}.png"));
    let probed = probe(&path, format, &thumbnail).await.expect(name);
    assert_eq!(probed.file_size, bytes.len() as u64, "{name}");
    assert_eq!(probed.thumbnail, thumbnail.exists(), "{name}");
    (format, probed, thumbnail)
}

#[tokio::test]
async fn probes_other_real_world_shapes() {
    let dir = tempfile::tempdir().expect("tempdir");

    let (format, mov, thumbnail) = probe_fixture("sample.mov", dir.path()).await;
    assert_eq!(format, UploadFormat::QuickTime);
    assert_eq!(
        (
            mov.duration,
            mov.width,
            mov.height,
            mov.codec.as_str(),
            mov.thumbnail
        ),
        (2.0, 640, 360, "h264", true),
        "QuickTime"
    );
    let png = png::Decoder::new(BufReader::new(
        std::fs::File::open(&thumbnail).expect("thumbnail"),
    ))
    .read_info()
    .expect("a PNG");
    assert_eq!((png.info().width, png.info().height), (640, 360));

    // The sample entry is `hvc1`, which the mp4 crate does not parse.
    let (format, hevc, _) = probe_fixture("hevc.mp4", dir.path()).await;
    assert_eq!(format, UploadFormat::Mp4);
    assert_eq!(
        (
            hevc.duration,
            hevc.width,
            hevc.height,
            hevc.codec.as_str(),
            hevc.thumbnail
        ),
        (2.0, 640, 360, "hevc", false),
        "HEVC"
    );

    // Fragmented: no sample tables in the moov, the duration comes from the fragments.
    let (format, fragmented, _) = probe_fixture("fragmented.mp4", dir.path()).await;
    assert_eq!(format, UploadFormat::Mp4);
    assert_eq!(
        (
            fragmented.duration,
            fragmented.width,
            fragmented.height,
            fragmented.codec.as_str()
        ),
        (2.0, 640, 360, "h264"),
        "fragmented"
    );
}

#[tokio::test]
async fn every_fixture_cut_short_anywhere_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["sample.webm", "sample.mov", "fragmented.mp4", "hevc.mp4"] {
        let bytes = std::fs::read(fixture(name)).expect("the fixture");
        let Sniffed::Format(format) = FileMediaProbe::new().sniff(&bytes[..SNIFF_BYTES], false)
        else {
            panic!("{name} did not sniff as a video");
        };
        for percent in [1, 5, 10, 25, 50, 75, 90, 99] {
            let cut = dir.path().join(format!("{name}-{percent}"));
            std::fs::write(&cut, &bytes[..bytes.len() * percent / 100]).expect("write");
            let outcome = probe(&cut, format, &dir.path().join("t.png")).await;
            let error = outcome.expect_err(&format!("{name} cut at {percent}%"));
            assert_readable(&error, dir.path());
        }
    }
}

#[tokio::test]
async fn a_webm_without_a_declared_duration_is_timed_by_its_frames() {
    let mut bytes = std::fs::read(webm_fixture()).expect("the fixture");
    // Turn the segment's Duration element (ID 0x4489, 8-byte float) into a Void
    // element of the same length, as muxers that cannot seek back leave it.
    let at = find(&bytes, &[0x44, 0x89, 0x88], 0);
    bytes.splice(at..at + 11, [0xEC, 0x89].into_iter().chain([0; 9]));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("live.webm");
    std::fs::write(&file, &bytes).expect("write");
    let probed = probe(&file, UploadFormat::WebM, &dir.path().join("t.png"))
        .await
        .expect("probe");
    assert!(
        (probed.duration - 2.0).abs() < 1.0 / 24.0,
        "48 frames at 24 fps: {}",
        probed.duration
    );
    assert_ne!(
        probed.duration, 2.0,
        "not the declared duration: {}",
        probed.duration
    );
    assert_eq!((probed.width, probed.height), (640, 360));
}

#[tokio::test]
async fn a_webm_without_a_video_track_is_refused() {
    let mut bytes = std::fs::read(webm_fixture()).expect("the fixture");
    // TrackType (ID 0x83) 1, video, becomes 2, audio.
    let at = find(
        &bytes,
        &[0x83, 0x81, 0x01],
        find(&bytes, &[0x16, 0x54, 0xAE, 0x6B], 0),
    );
    bytes[at + 2] = 0x02;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audio.webm");
    std::fs::write(&file, &bytes).expect("write");
    let error = probe(&file, UploadFormat::WebM, &dir.path().join("t.png"))
        .await
        .expect_err("no video");
    assert_eq!(error.0, "the file has no video track");
}

#[tokio::test]
async fn a_truncated_webm_is_refused() {
    let bytes = std::fs::read(webm_fixture()).expect("the fixture");
    let dir = tempfile::tempdir().expect("tempdir");
    let half = dir.path().join("half.webm");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).expect("write");
    let error = probe(&half, UploadFormat::WebM, &dir.path().join("t.png"))
        .await
        .expect_err("half a WebM");
    assert_readable(&error, dir.path());
    assert!(error.0.contains("truncated"), "{error}");
}

#[tokio::test]
async fn a_truncated_mp4_is_refused_with_a_readable_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, _) = render_720p(dir.path(), 1).await;
    let bytes = std::fs::read(&video).expect("video");
    // Half: the mdat claims more than the whole file; 99%: only the end is missing.
    for (name, length) in [("half", bytes.len() / 2), ("99%", bytes.len() * 99 / 100)] {
        let cut = dir.path().join(format!("{name}.mp4"));
        std::fs::write(&cut, &bytes[..length]).expect("write");
        let thumbnail = dir.path().join(format!("{name}.png"));
        let error = probe(&cut, UploadFormat::Mp4, &thumbnail)
            .await
            .expect_err(name);
        assert_eq!(
            error.0, "the file is not a valid MP4 video: it is truncated or damaged",
            "{name}"
        );
        assert_readable(&error, dir.path());
        assert!(!thumbnail.exists(), "{name}");
    }
}

#[tokio::test]
async fn random_bytes_behind_an_ftyp_header_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut garbage = Garbage(42);
    for (round, length) in [0usize, 7, 64, 5000, 300_000].into_iter().enumerate() {
        let mut bytes = ftyp(b"isom", &[b"isom", b"avc1"]);
        bytes.extend(garbage.bytes(length));
        let file = dir.path().join(format!("garbage{round}.mp4"));
        std::fs::write(&file, &bytes).expect("write");
        let error = probe(&file, UploadFormat::Mp4, &dir.path().join("t.png"))
            .await
            .expect_err("garbage");
        assert_readable(&error, dir.path());
    }
}

#[tokio::test]
async fn garbage_of_any_format_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut garbage = Garbage(99);
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").expect("write");
    let missing = dir.path().join("missing");
    for format in UploadFormat::ALL {
        for (name, file) in [("empty", &empty), ("missing", &missing)] {
            let error = probe(file, format, &dir.path().join("t.png"))
                .await
                .expect_err(name);
            assert_readable(&error, dir.path());
        }
        for round in 0..20 {
            let mut bytes = match format {
                UploadFormat::WebM => ebml(b"webm"),
                UploadFormat::Mp4 | UploadFormat::QuickTime => ftyp(b"isom", &[]),
            };
            let length = (garbage.next() % 20_000) as usize;
            bytes.extend(garbage.bytes(length));
            let file = dir.path().join(format!("g{round}"));
            std::fs::write(&file, &bytes).expect("write");
            let error = probe(&file, format, &dir.path().join("t.png"))
                .await
                .expect_err("garbage");
            assert_readable(&error, dir.path());
        }
    }
}

#[tokio::test]
async fn damaged_copies_of_real_files_never_crash_the_probe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, _) = render_720p(dir.path(), 1).await;
    let mp4 = std::fs::read(&video).expect("video");
    let webm = std::fs::read(webm_fixture()).expect("fixture");
    let mut garbage = Garbage(2024);
    for (format, original) in [(UploadFormat::Mp4, &mp4), (UploadFormat::WebM, &webm)] {
        for round in 0..40 {
            let mut bytes = original.clone();
            // Damage the structure at the front (boxes, EBML elements).
            for _ in 0..1 + garbage.next() % 8 {
                let at = (garbage.next() % 2048) as usize % bytes.len();
                bytes[at] = garbage.next() as u8;
            }
            let file = dir.path().join(format!("damaged-{format:?}-{round}"));
            std::fs::write(&file, &bytes).expect("write");
            let thumbnail = dir.path().join(format!("damaged-{format:?}-{round}.png"));
            let started = std::time::Instant::now();
            let outcome = probe(&file, format, &thumbnail).await;
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{format:?} round {round} took {:?}",
                started.elapsed()
            );
            match outcome {
                Ok(probed) => assert_eq!(probed.thumbnail, thumbnail.exists()),
                Err(error) => {
                    assert_readable(&error, dir.path());
                    assert!(!thumbnail.exists());
                }
            }
        }
    }
}

/// Offset of the first `pattern` in `bytes` after `from`.
fn find(bytes: &[u8], pattern: &[u8], from: usize) -> usize {
    from + bytes[from..]
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("pattern")
}

#[tokio::test]
async fn absurd_frame_sizes_and_missing_video_tracks_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, _) = render_720p(dir.path(), 1).await;
    let bytes = std::fs::read(&video).expect("video");

    // The avc1 sample entry: 8 header bytes, 6 reserved, 2 for the data reference index,
    // 16 pre-defined/reserved, then width and height (16 bits each).
    let mut huge = bytes.clone();
    let avc1 = find(&huge, b"avc1", find(&huge, b"stsd", 0)) - 4;
    huge[avc1 + 32..avc1 + 34].copy_from_slice(&9000u16.to_be_bytes());
    let file = dir.path().join("huge.mp4");
    std::fs::write(&file, &huge).expect("write");
    let thumbnail = dir.path().join("huge.png");
    let error = probe(&file, UploadFormat::Mp4, &thumbnail)
        .await
        .expect_err("9000 pixels wide");
    assert!(
        error.0.contains("9000 pixels wide") && error.0.contains("8192"),
        "{error}"
    );
    assert_readable(&error, dir.path());
    assert!(!thumbnail.exists(), "nothing decoded");

    let mut sound = bytes.clone();
    let handler = find(&sound, b"vide", find(&sound, b"hdlr", 0));
    sound[handler..handler + 4].copy_from_slice(b"soun");
    let file = dir.path().join("sound.mp4");
    std::fs::write(&file, &sound).expect("write");
    let error = probe(&file, UploadFormat::Mp4, &dir.path().join("s.png"))
        .await
        .expect_err("no video track");
    assert_eq!(error.0, "the file has no video track");
}

/// The `mp4` crate seeks back to a nested box of size 0 forever; the reading budget
/// turns that into an error.
#[tokio::test]
async fn a_nested_box_of_size_zero_does_not_hang_the_probe() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, _) = render_720p(dir.path(), 1).await;
    let mut bytes = std::fs::read(&video).expect("video");
    let stss = find(&bytes, b"stss", find(&bytes, b"stbl", 0)) - 4;
    bytes[stss..stss + 8].copy_from_slice(b"\0\0\0\0zzzz");
    let file = dir.path().join("zero.mp4");
    std::fs::write(&file, &bytes).expect("write");
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        probe(&file, UploadFormat::Mp4, &dir.path().join("z.png")),
    )
    .await
    .expect("the probe finished");
    let error = outcome.expect_err("a looping box");
    assert_readable(&error, dir.path());
}

#[tokio::test]
async fn a_key_frame_that_cannot_be_decoded_costs_only_the_thumbnail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (video, _) = render_720p(dir.path(), 1).await;
    let mut bytes = std::fs::read(&video).expect("video");
    // The first sample starts right after the mdat header: make its first NAL unit's
    // length run past the sample.
    let mdat = find(&bytes, b"mdat", 0) + 4;
    bytes[mdat..mdat + 4].copy_from_slice(&[0x7F, 0xFF, 0xFF, 0xFF]);
    let file = dir.path().join("bad-key-frame.mp4");
    std::fs::write(&file, &bytes).expect("write");
    let thumbnail = dir.path().join("bad.png");
    let probed = probe(&file, UploadFormat::Mp4, &thumbnail)
        .await
        .expect("the facts are still there");
    assert_eq!((probed.width, probed.codec.as_str()), (1280, "h264"));
    assert!(!probed.thumbnail);
    assert!(!thumbnail.exists());
}

#[test]
fn a_panicking_parser_becomes_a_readable_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let thumbnail = dir.path().join("half-written.png");
    let outcome: Result<(), ProbeError> = unpanicked(UploadFormat::QuickTime, &thumbnail, || {
        std::fs::write(&thumbnail, b"partial").expect("write");
        panic!("a parser bug");
    });
    let error = outcome.expect_err("the panic");
    assert_eq!(error.0, "the file could not be read as a QuickTime video");
    assert!(!thumbnail.exists(), "the half-written thumbnail is removed");
}

#[test]
fn codec_names() {
    for (fourcc, name) in [
        (b"avc1", "h264"),
        (b"avc3", "h264"),
        (b"hvc1", "hevc"),
        (b"hev1", "hevc"),
        (b"vp08", "vp8"),
        (b"vp09", "vp9"),
        (b"av01", "av1"),
        (b"apcn", "apcn"),
        (b"MP4V", "mp4v"),
        (b"\0\0\0\0", "unknown"),
    ] {
        assert_eq!(named(fourcc), name, "{fourcc:?}");
    }
}
