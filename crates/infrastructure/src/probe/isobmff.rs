//! MP4 and QuickTime uploads, read with the `mp4` crate: only the boxes are parsed (the
//! media data is seeked over), and the sample tables are checked against the file's size
//! before anything trusts them.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use mp4::{BoxHeader, FourCC, Mp4Reader, Mp4Track, TrackType};
use vidgen_application::videos::probe::{ProbeError, UploadFormat};

use super::budget;
use super::{Facts, KeyFrame, MAX_KEY_FRAME_BYTES, check_size, damaged, named, unreadable};

/// What reading may cost beyond twice the file's size (the boxes, then one key frame): a
/// buffer refill after each of some thousands of seeks.
const EXTRA_BYTES: u64 = 64 * 1024 * 1024;
/// Seeks allowed, beyond one per 16 bytes of file.
const SEEKS: u64 = 200_000;

/// An opened MP4 or QuickTime file and its video track.
pub(super) struct Opened {
    reader: Mp4Reader<budget::Reader>,
    track_id: u32,
    file_size: u64,
    /// What was read.
    pub(super) facts: Facts,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("track_id", &self.track_id)
            .field("facts", &self.facts)
            .finish_non_exhaustive()
    }
}

/// Reads the structure of `path` (`file_size` bytes long) and the facts of its first
/// video track.
///
/// # Errors
/// A readable reason when the file is not a whole, playable video.
pub(super) fn open(
    path: &Path,
    file_size: u64,
    format: UploadFormat,
) -> Result<Opened, ProbeError> {
    if !top_level_boxes_fit(path, file_size) {
        return Err(damaged(format));
    }
    let (file, _) = budget::open(
        path,
        file_size.saturating_mul(2).saturating_add(EXTRA_BYTES),
        SEEKS.saturating_add(file_size / 16),
    )
    .map_err(|e| unreadable(&e))?;
    let reader = Mp4Reader::read_header(file, file_size).map_err(|error| {
        tracing::info!(%error, "the mp4 parser refused the upload");
        damaged(format)
    })?;

    let (index, trak) = reader
        .moov
        .traks
        .iter()
        .enumerate()
        .find(|(_, trak)| {
            matches!(
                TrackType::try_from(&trak.mdia.hdlr.handler_type),
                Ok(TrackType::Video)
            )
        })
        .ok_or_else(|| ProbeError("the file has no video track".into()))?;
    let track_id = trak.tkhd.track_id;
    let track = reader
        .tracks()
        .get(&track_id)
        .ok_or_else(|| damaged(format))?;

    let stsd = &track.trak.mdia.minf.stbl.stsd;
    // The frame size is the sample entry's (the track header's is the display size).
    let raw_entry = (known_codec(track).is_none())
        .then(|| raw_sample_entry(path, index))
        .flatten();
    let (width, height) = match (&stsd.hev1, &stsd.vp09, &raw_entry) {
        (Some(hev1), _, _) => (hev1.width, hev1.height),
        (None, Some(vp09), _) => (vp09.width, vp09.height),
        (None, None, Some(entry)) if entry.width > 0 && entry.height > 0 => {
            (entry.width, entry.height)
        }
        // avc1's size, else the track header's.
        _ => (track.width(), track.height()),
    };
    let (width, height) = (u32::from(width), u32::from(height));
    check_size(width, height)?;

    if track.sample_count() == 0 {
        return Err(ProbeError("the video track has no frames".into()));
    }
    if !reader.is_fragmented() {
        check_sample_tables(track, file_size, format)?;
    }

    let duration = duration(&reader, track)
        .ok_or_else(|| ProbeError("the video has no playing time".into()))?;

    let codec = match (known_codec(track), raw_entry) {
        (Some(codec), _) => codec.to_owned(),
        (None, Some(entry)) => named(&entry.fourcc),
        (None, None) => "unknown".to_owned(),
    };

    let facts = Facts {
        duration,
        width,
        height,
        codec,
    };
    Ok(Opened {
        reader,
        track_id,
        file_size,
        facts,
    })
}

impl Opened {
    /// The first sync sample of the video track with its decoder configuration, for an
    /// H.264 track.
    ///
    /// # Errors
    /// Why it could not be read (for the log).
    pub(super) fn key_frame(&mut self) -> Result<KeyFrame, String> {
        let track = self
            .reader
            .tracks()
            .get(&self.track_id)
            .ok_or("the video track went away")?;
        let stbl = &track.trak.mdia.minf.stbl;
        let avc1 = stbl.stsd.avc1.as_ref().ok_or("no avc1 sample entry")?;
        let sample_id = match &stbl.stss {
            // Without a sync sample table, every sample is a sync sample.
            None => 1,
            Some(stss) => *stss.entries.first().ok_or("no sync sample")?,
        };
        let declared_size = if stbl.stsz.sample_size != 0 {
            Some(u64::from(stbl.stsz.sample_size))
        } else {
            sample_id
                .checked_sub(1)
                .and_then(|i| stbl.stsz.sample_sizes.get(i as usize))
                .map(|&size| u64::from(size))
        };
        if let Some(size) = declared_size
            && (size > self.file_size || size > MAX_KEY_FRAME_BYTES)
        {
            return Err(format!("the key frame claims {size} bytes"));
        }
        let parameter_sets = avc1
            .avcc
            .sequence_parameter_sets
            .iter()
            .chain(&avc1.avcc.picture_parameter_sets)
            .map(|nal| nal.bytes.clone())
            .collect();
        let nal_length_size = usize::from(avc1.avcc.length_size_minus_one & 0b11) + 1;
        let sample = self
            .reader
            .read_sample(self.track_id, sample_id)
            .map_err(|e| format!("reading the key frame: {e}"))?
            .ok_or("the key frame is not in the file")?;
        Ok(KeyFrame {
            parameter_sets,
            nal_length_size,
            sample: sample.bytes.to_vec(),
        })
    }
}

/// Whether the top-level boxes tile the file exactly. The `mp4` crate only checks that
/// no box is larger than the whole file, so a file cut inside its last box (the `mdat`
/// of a fast-start MP4, the last fragment of a fragmented one) would pass.
fn top_level_boxes_fit(path: &Path, file_size: u64) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut reader = BufReader::new(file);
    let mut at = 0u64;
    while at < file_size {
        let Ok(header) = BoxHeader::read(&mut reader) else {
            return false;
        };
        let Some(header_length) = reader
            .stream_position()
            .ok()
            .and_then(|p| p.checked_sub(at))
        else {
            return false;
        };
        let box_end = match header.size {
            // "To the end of the file".
            0 => return true,
            size if size < 8 => return false,
            // The crate's size counts an 8-byte header (a 64-bit size is 8 bytes more).
            size => at.saturating_add(size).saturating_add(header_length - 8),
        };
        if box_end > file_size {
            return false;
        }
        let Ok(skip) = i64::try_from(box_end - at - header_length) else {
            return false;
        };
        // Within the buffer when the box is small: no reading, no system call.
        if reader.seek_relative(skip).is_err() {
            return false;
        }
        at = box_end;
    }
    true
}

/// The sample tables must describe data inside the file: a truncated or damaged file
/// points past its end.
fn check_sample_tables(
    track: &Mp4Track,
    file_size: u64,
    format: UploadFormat,
) -> Result<(), ProbeError> {
    let stbl = &track.trak.mdia.minf.stbl;
    let stsz = &stbl.stsz;
    let data = if stsz.sample_size != 0 {
        u64::from(stsz.sample_size).saturating_mul(u64::from(stsz.sample_count))
    } else {
        stsz.sample_sizes.iter().map(|&s| u64::from(s)).sum()
    };
    let last_chunk = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.iter().map(|&o| u64::from(o)).max(),
        (None, Some(co64)) => co64.entries.iter().copied().max(),
        (None, None) => None,
    };
    match last_chunk {
        Some(offset) if offset < file_size && data <= file_size => Ok(()),
        _ => Err(damaged(format)),
    }
}

/// Seconds of `units` at `timescale` units per second, when both are positive.
fn seconds(units: u64, timescale: u32) -> Option<f64> {
    (units > 0 && timescale > 0).then(|| units as f64 / f64::from(timescale))
}

/// The playing time: the movie's duration (`mvhd`, which counts edit lists), else that
/// of a fragmented movie (`mehd`), else the video track's media duration (`mdhd`), else
/// the sum of its fragments' sample durations.
fn duration<R>(reader: &Mp4Reader<R>, track: &Mp4Track) -> Option<f64> {
    let mvhd = &reader.moov.mvhd;
    let mdhd = &track.trak.mdia.mdhd;
    let fragmented = reader
        .moov
        .mvex
        .as_ref()
        .and_then(|mvex| mvex.mehd.as_ref())
        .map_or(0, |mehd| mehd.fragment_duration);
    seconds(mvhd.duration, mvhd.timescale)
        .or_else(|| seconds(fragmented, mvhd.timescale))
        .or_else(|| seconds(mdhd.duration, mdhd.timescale))
        .or_else(|| seconds(fragment_units(track), mdhd.timescale))
        .filter(|d| d.is_finite())
}

/// The media time the track's fragments cover, in its timescale's units.
fn fragment_units(track: &Mp4Track) -> u64 {
    track
        .trafs
        .iter()
        .filter_map(|traf| {
            let trun = traf.trun.as_ref()?;
            Some(if trun.sample_durations.is_empty() {
                let each = traf
                    .tfhd
                    .default_sample_duration
                    .unwrap_or(track.default_sample_duration);
                u64::from(trun.sample_count).saturating_mul(u64::from(each))
            } else {
                trun.sample_durations.iter().map(|&d| u64::from(d)).sum()
            })
        })
        .fold(0u64, u64::saturating_add)
}

/// The codec of the sample entries the `mp4` crate parses.
fn known_codec(track: &Mp4Track) -> Option<&'static str> {
    let stsd = &track.trak.mdia.minf.stbl.stsd;
    if stsd.avc1.is_some() {
        Some("h264")
    } else if stsd.hev1.is_some() {
        Some("hevc")
    } else if stsd.vp09.is_some() {
        Some("vp9")
    } else {
        None
    }
}

/// The first sample entry of a track, as far as the codec and frame size go.
#[derive(Debug, Clone, Copy)]
struct SampleEntry {
    fourcc: [u8; 4],
    width: u16,
    height: u16,
}

/// The first sample entry of the `index`th track, for the codecs the `mp4` crate does
/// not parse (`hvc1`, `av01`, `vp08`, ProRes...). Walks the boxes with the crate's
/// `BoxHeader`.
fn raw_sample_entry(path: &Path, index: usize) -> Option<SampleEntry> {
    let mut file = BufReader::new(File::open(path).ok()?);
    let end = file.seek(SeekFrom::End(0)).ok()?;
    let (start, end) = child(&mut file, 0, end, b"moov", 0)?;
    let (start, end) = child(&mut file, start, end, b"trak", index)?;
    let (start, end) = child(&mut file, start, end, b"mdia", 0)?;
    let (start, end) = child(&mut file, start, end, b"minf", 0)?;
    let (start, end) = child(&mut file, start, end, b"stbl", 0)?;
    let (start, end) = child(&mut file, start, end, b"stsd", 0)?;
    // Version, flags and entry count come before the first entry.
    let entry = start.checked_add(8).filter(|&e| e < end)?;
    file.seek(SeekFrom::Start(entry)).ok()?;
    let header = BoxHeader::read(&mut file).ok()?;
    // A visual sample entry: 6 reserved bytes, the data reference index, 16 bytes
    // pre-defined or reserved, then the width and the height.
    let mut fields = [0u8; 28];
    file.read_exact(&mut fields).ok()?;
    Some(SampleEntry {
        fourcc: FourCC::from(header.name).value,
        width: u16::from_be_bytes([fields[24], fields[25]]),
        height: u16::from_be_bytes([fields[26], fields[27]]),
    })
}

/// The data range of the `nth` box named `name` among the boxes between `start` and
/// `end`.
fn child<R: Read + Seek>(
    reader: &mut R,
    start: u64,
    end: u64,
    name: &[u8; 4],
    nth: usize,
) -> Option<(u64, u64)> {
    let mut at = start;
    let mut seen = 0;
    while at.checked_add(8)? <= end {
        reader.seek(SeekFrom::Start(at)).ok()?;
        let header = BoxHeader::read(reader).ok()?;
        let data_start = reader.stream_position().ok()?;
        // The crate's size counts an 8-byte header (a 64-bit size is 8 bytes more); 0
        // means "to the end".
        let box_end = if header.size == 0 {
            end
        } else {
            data_start.checked_add(header.size.checked_sub(8)?)?
        };
        if box_end > end || box_end <= at {
            return None;
        }
        if &FourCC::from(header.name).value == name {
            if seen == nth {
                return Some((data_start, box_end));
            }
            seen += 1;
        }
        at = box_end;
    }
    None
}
