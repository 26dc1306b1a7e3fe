//! What the fuzz targets share: an upload put through the media probe the way the
//! upload route does it (sniffed from its first bytes, then probed as a stored file).

use std::io::Write;

use vidgen_application::videos::probe::{MediaProbe, SNIFF_BYTES, Sniffed, UploadFormat};
use vidgen_infrastructure::probe::FileMediaProbe;

/// The container families, one fuzz target each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// MP4 and QuickTime (ISO base media).
    IsoBaseMedia,
    /// Matroska/WebM.
    WebM,
}

impl Family {
    fn holds(self, format: UploadFormat) -> bool {
        match self {
            Self::IsoBaseMedia => matches!(format, UploadFormat::Mp4 | UploadFormat::QuickTime),
            Self::WebM => format == UploadFormat::WebM,
        }
    }
}

/// Sniffs `upload` as the upload route does (its first [`SNIFF_BYTES`], complete when
/// that is all of it) and, when it is of `family`, writes it to a temporary file and
/// probes it there, thumbnail included.
pub fn sniff_and_probe(upload: &[u8], family: Family) {
    let probe = FileMediaProbe::new();
    let head = &upload[..upload.len().min(SNIFF_BYTES)];
    let Sniffed::Format(format) = probe.sniff(head, upload.len() <= SNIFF_BYTES) else {
        return;
    };
    if !family.holds(format) {
        return;
    }
    let dir = tempfile::tempdir().expect("no temporary directory for the upload");
    let file = dir.path().join("upload");
    std::fs::File::create(&file)
        .and_then(|mut f| f.write_all(upload))
        .expect("the upload could not be written to the temporary directory");
    let thumbnail = dir.path().join("thumbnail.png");
    let _ = FileMediaProbe::probe_now(&file, format, &thumbnail);
}
