//! The `MediaProbe` port: recognises an uploaded file's container from its first bytes,
//! and reads the real facts (duration, frame size, codec) of a stored upload, with a
//! thumbnail when its codec can be decoded.

use std::path::Path;

use async_trait::async_trait;

/// The containers uploads may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    /// ISO base media (`ftyp` box) with an MP4 brand.
    Mp4,
    /// ISO base media with the QuickTime brand (`qt  `).
    QuickTime,
    /// Matroska with the DocType `webm`.
    WebM,
}

impl UploadFormat {
    pub const ALL: [Self; 3] = [Self::Mp4, Self::QuickTime, Self::WebM];

    /// The media type the file is served with.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Mp4 => "video/mp4",
            Self::QuickTime => "video/quicktime",
            Self::WebM => "video/webm",
        }
    }

    /// The extension of its stored file.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Mp4 => "mp4",
            Self::QuickTime => "mov",
            Self::WebM => "webm",
        }
    }

    /// Its name in a job payload.
    pub const fn as_str(self) -> &'static str {
        self.extension()
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }
}

/// What the first bytes of a file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// A container uploads accept.
    Format(UploadFormat),
    /// Not enough bytes yet to tell (only while fewer than [`SNIFF_BYTES`] arrived).
    NeedMore,
    /// Anything else.
    Unsupported,
}

/// How many leading bytes are always enough to decide.
pub const SNIFF_BYTES: usize = 4096;

/// What probing a stored upload found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbedMedia {
    /// Playing time in seconds.
    pub duration: f64,
    /// Frame width and height of the video track, in pixels.
    pub width: u32,
    pub height: u32,
    /// The video codec, such as `h264`, `hevc`, `vp8`, `vp9` or `av1`.
    pub codec: String,
    /// Size of the file in bytes.
    pub file_size: u64,
    /// Whether a thumbnail (PNG) was written to the path the caller gave.
    pub thumbnail: bool,
}

/// Why a stored upload could not be probed: a readable reason shown on the failed video.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeError(pub String);

/// Reads uploaded media.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MediaProbe: Send + Sync {
    /// Decides the container from the first bytes of a file (`head` holds all of them
    /// when the file is shorter than [`SNIFF_BYTES`]; `complete` says so).
    fn sniff(&self, head: &[u8], complete: bool) -> Sniffed;

    /// Reads the facts of the file at `file`, which sniffed as `format`, and writes a PNG
    /// thumbnail of its first key frame to `thumbnail` when the codec is H.264.
    ///
    /// # Errors
    /// A readable reason when the file is not a valid, playable video of that format
    /// (no video track, truncated, zero duration, unreadable).
    async fn probe(
        &self,
        file: &Path,
        format: UploadFormat,
        thumbnail: &Path,
    ) -> Result<ProbedMedia, ProbeError>;
}
