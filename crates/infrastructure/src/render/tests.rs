//! The renderer's output read back: the MP4 structure with the `mp4` crate, the pictures
//! with OpenH264's decoder.

use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicU8;

use openh264::decoder::Decoder;
use openh264::formats::YUVSource;

use super::*;

mod quality;

struct Recorder(Mutex<Vec<u8>>);

impl RenderProgress for Recorder {
    fn report(&self, percent: u8) {
        if let Ok(mut seen) = self.0.lock() {
            seen.push(percent);
        }
    }
}

fn request(width: u32, height: u32, fps: u32, seconds: u32) -> RenderRequest {
    RenderRequest {
        title: "A Quiet Lake".into(),
        prompt: "A quiet lake at dawn, mist rising over the water while a heron waits for \
                 the first fish of the day. Zoë watches from the shore."
            .into(),
        width,
        height,
        fps,
        duration_seconds: seconds,
    }
}

fn target(dir: &Path) -> RenderTarget {
    RenderTarget {
        video: dir.join("video.mp4.part"),
        thumbnail: dir.join("thumb.png.part"),
    }
}

/// The names of the files in `dir`, sorted.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Top-level box types in file order.
fn top_level_boxes(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).expect("read mp4");
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        if size < 8 {
            break;
        }
        at += size;
    }
    boxes
}

/// Decodes every sample and returns the luma plane of each picture.
fn decode_luma(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).expect("open");
    let size = file.metadata().expect("metadata").len();
    let mut reader = mp4::Mp4Reader::read_header(BufReader::new(file), size).expect("mp4 header");
    let track_id = *reader.tracks().keys().next().expect("a track");
    let (sps, pps, samples) = {
        let track = &reader.tracks()[&track_id];
        (
            track.sequence_parameter_set().expect("sps").to_vec(),
            track.picture_parameter_set().expect("pps").to_vec(),
            track.sample_count(),
        )
    };
    let mut decoder = Decoder::new().expect("decoder");
    let mut pictures = Vec::new();
    let mut annex_b = Vec::new();
    for nal in [&sps, &pps] {
        annex_b.extend_from_slice(&[0, 0, 0, 1]);
        annex_b.extend_from_slice(nal);
    }
    for sample_id in 1..=samples {
        let sample = reader
            .read_sample(track_id, sample_id)
            .expect("read sample")
            .expect("sample exists");
        let mut data: &[u8] = &sample.bytes;
        while data.len() >= 4 {
            let mut length = [0u8; 4];
            data.read_exact(&mut length).expect("length");
            let length = u32::from_be_bytes(length) as usize;
            annex_b.extend_from_slice(&[0, 0, 0, 1]);
            annex_b.extend_from_slice(&data[..length]);
            data = &data[length..];
        }
        if let Some(picture) = decoder.decode(&annex_b).expect("decode") {
            let (width, height) = picture.dimensions();
            let (stride, _, _) = picture.strides();
            let mut luma = Vec::with_capacity(width * height);
            for row in 0..height {
                luma.extend_from_slice(&picture.y()[row * stride..row * stride + width]);
            }
            pictures.push(luma);
        }
        annex_b.clear();
    }
    pictures
}

fn variance(luma: &[u8]) -> f64 {
    let mean = luma.iter().map(|&v| f64::from(v)).sum::<f64>() / luma.len() as f64;
    luma.iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / luma.len() as f64
}

async fn render_ok(request: RenderRequest, dir: &Path) -> (RenderedVideo, Vec<u8>) {
    let renderer = Openh264Renderer::new(1).expect("renderer");
    let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
    let rendered = renderer
        .render(request, target(dir), recorder.clone(), CancelFlag::new())
        .await
        .expect("render");
    let seen = recorder.0.lock().expect("lock").clone();
    (rendered, seen)
}

#[tokio::test]
async fn renders_a_playable_fast_start_720p_h264_mp4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rendered, progress) = render_ok(request(1280, 720, 24, 2), dir.path()).await;
    let video = dir.path().join("video.mp4.part");
    assert_eq!(rendered.frame_count, 48);
    assert_eq!((rendered.width, rendered.height), (1280, 720));
    assert_eq!(
        rendered.file_size,
        std::fs::metadata(&video).expect("video").len()
    );

    let boxes = top_level_boxes(&video);
    assert_eq!(
        boxes,
        ["ftyp", "moov", "mdat"],
        "moov must come before mdat"
    );

    let file = std::fs::File::open(&video).expect("open");
    let size = file.metadata().expect("metadata").len();
    let reader = mp4::Mp4Reader::read_header(BufReader::new(file), size).expect("mp4");
    let track = reader.tracks().values().next().expect("track");
    assert_eq!(
        track.media_type().expect("media type"),
        mp4::MediaType::H264
    );
    assert_eq!((track.width(), track.height()), (1280, 720));
    assert_eq!(track.sample_count(), 48);
    let frame = 1.0 / 24.0;
    let duration = track.duration().as_secs_f64();
    assert!((duration - 2.0).abs() <= frame, "duration {duration}");
    assert_eq!(
        reader.duration(),
        std::time::Duration::from_secs(2),
        "the movie header's duration is exact"
    );
    assert_eq!(
        files_in(dir.path()),
        ["thumb.png.part", "video.mp4.part"],
        "no staging file is left"
    );

    assert_eq!(progress.first(), Some(&0));
    assert_eq!(progress.last(), Some(&100));
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");

    let pictures = decode_luma(&video);
    assert_eq!(pictures.len(), 48, "every frame decodes");
    assert!(
        variance(&pictures[0]) > 20.0,
        "the first frame is not blank"
    );
    let distinct = pictures.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        distinct > 40,
        "frames change: {distinct} of 47 pairs differ"
    );

    let thumbnail = std::fs::File::open(dir.path().join("thumb.png.part")).expect("thumbnail");
    let png = png::Decoder::new(BufReader::new(thumbnail))
        .read_info()
        .expect("a PNG");
    let info = png.info();
    assert_eq!((info.width, info.height), (1280, 720));
    assert_eq!(info.color_type, png::ColorType::Rgb);
}

#[tokio::test]
async fn renders_1080p_at_30_fps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rendered, _) = render_ok(request(1920, 1080, 30, 1), dir.path()).await;
    assert_eq!(
        (rendered.width, rendered.height, rendered.frame_count),
        (1920, 1080, 30)
    );
    let file = std::fs::File::open(dir.path().join("video.mp4.part")).expect("open");
    let size = file.metadata().expect("metadata").len();
    let reader = mp4::Mp4Reader::read_header(BufReader::new(file), size).expect("mp4");
    let track = reader.tracks().values().next().expect("track");
    assert_eq!((track.width(), track.height()), (1920, 1080));
    assert!((track.duration().as_secs_f64() - 1.0).abs() <= 1.0 / 30.0);
}

#[tokio::test]
async fn cancelling_stops_and_leaves_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let renderer = Openh264Renderer::new(1).expect("renderer");
    let cancel = CancelFlag::new();
    cancel.cancel();
    let outcome = renderer
        .render(
            request(1280, 720, 24, 60),
            target(dir.path()),
            Arc::new(vidgen_application::videos::render::NoProgress),
            cancel,
        )
        .await;
    assert!(
        matches!(outcome, Err(RenderError::Cancelled)),
        "{outcome:?}"
    );
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "nothing is left"
    );
}

/// Raises the cancel flag once the render reports `at` percent.
struct CancelAt {
    at: u8,
    flag: CancelFlag,
    highest: AtomicU8,
}

impl RenderProgress for CancelAt {
    fn report(&self, percent: u8) {
        self.highest.fetch_max(percent, Ordering::SeqCst);
        if percent >= self.at {
            self.flag.cancel();
        }
    }
}

#[tokio::test]
async fn cancelling_a_running_render_stops_it_early_and_leaves_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let renderer = Openh264Renderer::new(1).expect("renderer");
    let cancel = CancelFlag::new();
    let progress = Arc::new(CancelAt {
        at: 2,
        flag: cancel.clone(),
        highest: AtomicU8::new(0),
    });
    let outcome = renderer
        .render(
            request(1280, 720, 24, 60),
            target(dir.path()),
            progress.clone(),
            cancel,
        )
        .await;
    assert!(
        matches!(outcome, Err(RenderError::Cancelled)),
        "{outcome:?}"
    );
    let highest = progress.highest.load(Ordering::SeqCst);
    assert!(highest < 5, "stopped at the next frame, not at {highest}%");
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "nothing is left"
    );
}

/// Sends one message when the render reports `at` percent, and keeps the highest report.
struct SignalAt {
    at: u8,
    signal: Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    highest: AtomicU8,
}

impl RenderProgress for SignalAt {
    fn report(&self, percent: u8) {
        self.highest.fetch_max(percent, Ordering::SeqCst);
        if percent >= self.at
            && let Some(sender) = self.signal.lock().ok().and_then(|mut s| s.take())
        {
            let _ = sender.send(());
        }
    }
}

#[tokio::test]
async fn dropping_the_render_future_stops_the_render_and_removes_its_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let renderer = Openh264Renderer::new(1).expect("renderer");
    let (sender, started) = tokio::sync::oneshot::channel();
    let progress = Arc::new(SignalAt {
        at: 1,
        signal: Mutex::new(Some(sender)),
        highest: AtomicU8::new(0),
    });
    {
        let render = renderer.render(
            request(1280, 720, 24, 60),
            target(dir.path()),
            progress.clone(),
            CancelFlag::new(),
        );
        tokio::select! {
            outcome = render => panic!("the render finished first: {outcome:?}"),
            _ = started => {}
        }
    }
    // The pool has one thread: a second request runs only once the first has stopped.
    let after = renderer
        .render(
            request(1280, 720, 25, 1),
            RenderTarget {
                video: dir.path().join("other.mp4"),
                thumbnail: dir.path().join("other.png"),
            },
            Arc::new(vidgen_application::videos::render::NoProgress),
            CancelFlag::new(),
        )
        .await;
    assert!(
        matches!(after, Err(RenderError::InvalidRequest(_))),
        "{after:?}"
    );
    let highest = progress.highest.load(Ordering::SeqCst);
    assert!(
        highest < 50,
        "the abandoned render stopped early, not at {highest}%"
    );
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "nothing is left"
    );
}

/// The nice value in a `/proc/<pid>/task/<tid>/stat` line.
#[cfg(target_os = "linux")]
fn nice_in(stat: &str) -> i32 {
    // Fields after the command's closing parenthesis start at field 3; nice is field 19.
    let after_command = stat.rsplit_once(')').expect("stat format").1;
    after_command
        .split_whitespace()
        .nth(16)
        .expect("nice field")
        .parse()
        .expect("a number")
}

/// The nice value of a thread of `renderer`'s pool.
#[cfg(target_os = "linux")]
async fn pool_thread_nice(renderer: &Openh264Renderer) -> i32 {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    renderer.pool.spawn(move || {
        let _ = sender.send(std::fs::read_to_string("/proc/thread-self/stat"));
    });
    nice_in(&receiver.await.expect("the pool ran").expect("/proc stat"))
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn render_threads_run_at_the_lowest_priority_unless_told_otherwise() {
    let renderer = Openh264Renderer::new(1).expect("renderer");
    assert_eq!(
        pool_thread_nice(&renderer).await,
        19,
        "render threads are niced"
    );
    let inherited =
        Openh264Renderer::with_priority(1, RenderPriority::Inherited).expect("renderer");
    let own = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc stat");
    assert_eq!(pool_thread_nice(&inherited).await, nice_in(&own));
}

#[tokio::test]
async fn impossible_requests_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let renderer = Openh264Renderer::new(1).expect("renderer");
    for (name, bad) in [
        ("no duration", request(1280, 720, 24, 0)),
        ("odd size", request(1279, 720, 24, 1)),
        ("25 fps", request(1280, 720, 25, 1)),
        ("zero size", request(0, 0, 24, 1)),
    ] {
        let outcome = renderer
            .render(
                bad,
                target(dir.path()),
                Arc::new(vidgen_application::videos::render::NoProgress),
                CancelFlag::new(),
            )
            .await;
        assert!(
            matches!(outcome, Err(RenderError::InvalidRequest(_))),
            "{name}: {outcome:?}"
        );
        assert!(!dir.path().join("video.mp4.part").exists(), "{name}");
    }
}
