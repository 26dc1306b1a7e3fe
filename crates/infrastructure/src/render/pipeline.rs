//! The synchronous render pipeline: draw each frame (see [`Painter`]), encode it with OpenH264, write
//! the stream into a fast-start MP4 (see [`Mp4Out`]).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use openh264::OpenH264API;
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType,
};
use openh264::formats::YUVSlices;

use super::canvas::Canvas;
use super::container::Mp4Out;
use super::painter::Painter;
use super::scenes::Plan;

/// What to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub title: String,
    pub prompt: String,
    pub width: usize,
    pub height: usize,
    pub fps: u32,
    pub duration_seconds: u32,
}

/// Why a render stopped.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("cancelled")]
    Cancelled,
    #[error("encoder: {0}")]
    Encoder(String),
    #[error("muxer: {0}")]
    Muxer(String),
    #[error("font: {0}")]
    Font(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What was rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub frame_count: u32,
    pub duration_seconds: f64,
    pub bytes: u64,
}

impl Spec {
    /// # Errors
    /// `Invalid` for odd or zero sizes, an fps other than 24 or 30, or no duration.
    pub fn check(&self) -> Result<(), PipelineError> {
        if self.width == 0
            || self.height == 0
            || !self.width.is_multiple_of(16)
            || !self.height.is_multiple_of(8)
        {
            return Err(PipelineError::Invalid(format!(
                "{}x{} is not a supported frame size",
                self.width, self.height
            )));
        }
        if !matches!(self.fps, 24 | 30) {
            return Err(PipelineError::Invalid(format!(
                "{} fps is not 24 or 30",
                self.fps
            )));
        }
        if self.duration_seconds == 0 {
            return Err(PipelineError::Invalid(
                "the duration must be at least 1 second".into(),
            ));
        }
        Ok(())
    }

    /// Frames in the video.
    pub fn frame_count(&self) -> u32 {
        self.fps * self.duration_seconds
    }

    /// The frame to keep as the thumbnail: the title and the first caption fully shown.
    pub fn thumbnail_frame(&self) -> u32 {
        Plan::new(&self.prompt, self.fps, self.frame_count()).thumbnail()
    }
}

fn encoder_for(spec: &Spec) -> Result<Encoder, PipelineError> {
    let pixels = (spec.width * spec.height) as u32;
    let config = EncoderConfig::new()
        .bitrate(BitRate::from_bps(pixels.saturating_mul(3)))
        .max_frame_rate(FrameRate::from_hz(spec.fps as f32))
        .rate_control_mode(RateControlMode::Off)
        // The camera tuning: measured on a 720p render, the same size and luma PSNR as the
        // screen-content one (48.2 against 48.3 dB) at twice the speed, and a 1080p encoder
        // holds 28 MiB instead of 50 (screen content keeps more reference pictures and
        // its motion search's feature tables).
        .usage_type(UsageType::CameraVideoRealTime)
        // One thread: renders already run side by side on the render pool, at its low
        // priority; the encoder's own threads would not be.
        .num_threads(1)
        .adaptive_quantization(false)
        .background_detection(false)
        .skip_frames(false)
        .intra_frame_period(IntraFramePeriod::from_num_frames(spec.fps * 2));
    Encoder::with_api_config(OpenH264API::from_source(), config)
        .map_err(|e| PipelineError::Encoder(e.to_string()))
}

fn slices(canvas: &Canvas) -> YUVSlices<'_> {
    YUVSlices::new(
        (&canvas.y, &canvas.u, &canvas.v),
        (canvas.width, canvas.height),
        (canvas.width, canvas.width / 2, canvas.width / 2),
    )
}

/// Encodes already drawn frames and returns the bitstream's size: the raw encoder's
/// share of a render, for the benchmark's comparison.
///
/// # Errors
/// The encoder fails.
pub fn encode_frames(spec: &Spec, frames: &[Canvas]) -> Result<u64, PipelineError> {
    let mut encoder = encoder_for(spec)?;
    let mut bytes = 0u64;
    for canvas in frames {
        let stream = encoder
            .encode(&slices(canvas))
            .map_err(|e| PipelineError::Encoder(e.to_string()))?;
        bytes += stream.to_vec().len() as u64;
    }
    Ok(bytes)
}

/// Renders `spec` into `output`, calling `progress` with 0..=100 (strictly increasing)
/// and `cancelled` before the file is created and between frames. On any error (or
/// cancellation) the partial file is removed.
///
/// # Errors
/// See [`PipelineError`].
pub fn render(
    spec: &Spec,
    output: &Path,
    cancelled: impl Fn() -> bool,
    mut progress: impl FnMut(u8),
    mut on_frame: impl FnMut(u32, &Canvas),
) -> Result<Output, PipelineError> {
    spec.check()?;
    if cancelled() {
        return Err(PipelineError::Cancelled);
    }
    let mut out = Mp4Out::create(output, spec.width, spec.height, spec.fps)?;
    let written = (|| {
        let mut encoder = encoder_for(spec)?;
        let mut painter = Painter::new(spec)?;
        let mut canvas = Canvas::new(spec.width, spec.height);
        let frames = spec.frame_count();
        let mut reported = 0u8;
        progress(0);
        for index in 0..frames {
            if cancelled() {
                return Err(PipelineError::Cancelled);
            }
            painter.paint(&mut canvas, index);
            on_frame(index, &canvas);
            let stream = encoder
                .encode(&slices(&canvas))
                .map_err(|e| PipelineError::Encoder(e.to_string()))?;
            let keyframe = matches!(stream.frame_type(), FrameType::IDR | FrameType::I);
            out.write_frame(&stream, keyframe)?;
            let percent = ((u64::from(index) + 1) * 100 / u64::from(frames)) as u8;
            if percent != reported {
                reported = percent;
                progress(percent);
            }
        }
        Ok(())
    })();
    let result = match written {
        Ok(()) => out.finish(),
        Err(error) => {
            out.discard();
            Err(error)
        }
    };
    match result {
        Ok(()) => {
            let bytes = std::fs::metadata(output)?.len();
            Ok(Output {
                frame_count: spec.frame_count(),
                duration_seconds: f64::from(spec.duration_seconds),
                bytes,
            })
        }
        Err(error) => {
            let _ = std::fs::remove_file(output);
            Err(error)
        }
    }
}

/// Writes the canvas's luma and chroma as an RGB PNG.
///
/// # Errors
/// The file cannot be written or encoded.
pub fn write_png(canvas: &Canvas, path: &Path) -> Result<(), PipelineError> {
    let mut rgb = vec![0u8; canvas.width * canvas.height * 3];
    for row in 0..canvas.height {
        for col in 0..canvas.width {
            let y = i32::from(canvas.y[row * canvas.width + col]) - 16;
            let c = (row / 2) * (canvas.width / 2) + col / 2;
            let u = i32::from(canvas.u[c]) - 128;
            let v = i32::from(canvas.v[c]) - 128;
            let clamp = |x: i32| (x >> 8).clamp(0, 255) as u8;
            let i = (row * canvas.width + col) * 3;
            rgb[i] = clamp(298 * y + 409 * v + 128);
            rgb[i + 1] = clamp(298 * y - 100 * u - 208 * v + 128);
            rgb[i + 2] = clamp(298 * y + 516 * u + 128);
        }
    }
    let file = BufWriter::new(File::create(path)?);
    let mut encoder = png::Encoder::new(file, canvas.width as u32, canvas.height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|e| PipelineError::Io(std::io::Error::other(e)))?;
    writer
        .write_image_data(&rgb)
        .map_err(|e| PipelineError::Io(std::io::Error::other(e)))?;
    writer
        .finish()
        .map_err(|e| PipelineError::Io(std::io::Error::other(e)))
}
