//! Render benchmark: frames per second of the whole pipeline (drawing, encoding, muxing)
//! at 720p and 1080p, against the raw encoder on the same frames.
//!
//! `cargo bench -p vidgen-infrastructure --bench render` (or `just bench-render`).

use std::time::Instant;

use vidgen_infrastructure::render::{Canvas, Painter, Spec, encode_frames, render};

fn main() {
    let seconds: u32 = std::env::var("RENDER_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!(
        "{:<8} {:>6} {:>16} {:>16} {:>8}",
        "size", "frames", "pipeline fps", "raw encoder fps", "ratio"
    );
    for (width, height) in [(1280, 720), (1920, 1080)] {
        let spec = Spec {
            title: "Benchmark".into(),
            prompt: "A quiet lake at dawn, mist rising over the water while a heron waits for \
                     the first fish of the day, the light turning from grey to gold."
                .repeat(3),
            width,
            height,
            fps: 30,
            duration_seconds: seconds,
        };
        let dir = std::env::temp_dir().join(format!("vidgen-render-bench-{}", std::process::id()));
        if let Err(error) = std::fs::create_dir_all(&dir) {
            eprintln!("cannot create {}: {error}", dir.display());
            return;
        }
        let output = dir.join("bench.mp4");

        let started = Instant::now();
        let rendered = match render(&spec, &output, || false, |_| {}, |_, _| {}) {
            Ok(rendered) => rendered,
            Err(error) => {
                eprintln!("render failed: {error}");
                return;
            }
        };
        let pipeline_fps = f64::from(rendered.frame_count) / started.elapsed().as_secs_f64();

        let mut painter = match Painter::new(&spec) {
            Ok(painter) => painter,
            Err(error) => {
                eprintln!("cannot draw: {error}");
                return;
            }
        };
        let frames: Vec<Canvas> = (0..spec.frame_count())
            .map(|index| {
                let mut canvas = Canvas::new(width, height);
                painter.paint(&mut canvas, index);
                canvas
            })
            .collect();
        let started = Instant::now();
        if let Err(error) = encode_frames(&spec, &frames) {
            eprintln!("encode failed: {error}");
            return;
        }
        let raw_fps = frames.len() as f64 / started.elapsed().as_secs_f64();
        println!(
            "{:<8} {:>6} {:>16.1} {:>16.1} {:>7.0}%",
            format!("{height}p"),
            rendered.frame_count,
            pipeline_fps,
            raw_fps,
            100.0 * pipeline_fps / raw_fps
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("target: the pipeline at least 80% of the raw encoder's frames per second");
}
