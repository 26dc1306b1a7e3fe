//! The encoded H.264 stream written into a fast-start MP4 without holding it in memory.
//!
//! The `mp4` crate's writer puts each chunk (a second of samples) on disk as soon as it is
//! complete and keeps only the sample tables, so a render's memory does not grow with its
//! length. It writes `ftyp`, `mdat`, then `moov`; [`Mp4Out::finish`] then copies the file
//! into its place with the `moov` in front of the media data (and the chunk offsets moved
//! by as much), so a browser can start playing before the whole file has arrived.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use mp4::{
    AvcConfig, BoxHeader, BoxType, FourCC, MediaConfig, MoovBox, Mp4Box, Mp4Config, Mp4Reader,
    Mp4Sample, Mp4Writer, TrackConfig, TrackType, WriteBox,
};
use openh264::encoder::EncodedBitStream;

use super::pipeline::PipelineError;

/// Ticks per second of the movie and of the track: a whole number of ticks per frame at
/// 24 and at 30 fps, so the durations add up exactly.
const TIMESCALE: u32 = 90_000;

/// NAL unit types (ITU-T H.264 table 7-1) that do not go into the samples.
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
const NAL_ACCESS_UNIT_DELIMITER: u8 = 9;

/// An MP4 being written: the media data goes to `staging`, the finished file to `output`.
pub(super) struct Mp4Out {
    writer: Mp4Writer<BufWriter<File>>,
    staging: PathBuf,
    output: PathBuf,
    width: u16,
    height: u16,
    frame_ticks: u32,
    frames: u64,
    /// Whether the track (described by the first frame's parameter sets) exists yet.
    track_added: bool,
    /// One sample's NAL units, length-prefixed; reused from frame to frame.
    sample: Vec<u8>,
}

impl Mp4Out {
    /// Starts `output` (staged next to it until [`finish`](Self::finish)).
    ///
    /// # Errors
    /// The staging file cannot be created, or the size does not fit an MP4 track header.
    pub(super) fn create(
        output: &Path,
        width: usize,
        height: usize,
        fps: u32,
    ) -> Result<Self, PipelineError> {
        let (Ok(width), Ok(height)) = (u16::try_from(width), u16::try_from(height)) else {
            return Err(PipelineError::Invalid(format!(
                "{width}x{height} is too large for an MP4 track"
            )));
        };
        let staging = staging_path(output);
        let file = BufWriter::new(File::create(&staging)?);
        let config = Mp4Config {
            major_brand: FourCC::from(*b"isom"),
            minor_version: 512,
            compatible_brands: [b"isom", b"iso2", b"avc1", b"mp41"]
                .into_iter()
                .map(|brand| FourCC::from(*brand))
                .collect(),
            timescale: TIMESCALE,
        };
        let writer = Mp4Writer::write_start(file, &config).map_err(muxer)?;
        Ok(Self {
            writer,
            staging,
            output: output.to_path_buf(),
            width,
            height,
            frame_ticks: TIMESCALE / fps.max(1),
            frames: 0,
            track_added: false,
            sample: Vec::new(),
        })
    }

    /// Appends one encoded frame. The first must be a key frame carrying the sequence and
    /// picture parameter sets, as OpenH264's first frame always is.
    ///
    /// # Errors
    /// The frame is empty, the first one has no parameter sets, or writing fails.
    pub(super) fn write_frame(
        &mut self,
        stream: &EncodedBitStream<'_>,
        keyframe: bool,
    ) -> Result<(), PipelineError> {
        self.sample.clear();
        let (mut sps, mut pps) = (None, None);
        for layer in (0..stream.num_layers()).filter_map(|index| stream.layer(index)) {
            for nal in (0..layer.nal_count()).filter_map(|index| layer.nal_unit(index)) {
                let nal = without_start_code(nal);
                let Some(&header) = nal.first() else { continue };
                match header & 0x1f {
                    NAL_SPS if !self.track_added => sps = Some(nal.to_vec()),
                    NAL_PPS if !self.track_added => pps = Some(nal.to_vec()),
                    NAL_SPS | NAL_PPS => {}
                    NAL_ACCESS_UNIT_DELIMITER => {}
                    _ => {
                        let length = u32::try_from(nal.len())
                            .map_err(|_| PipelineError::Encoder("a NAL unit over 4 GiB".into()))?;
                        self.sample.extend_from_slice(&length.to_be_bytes());
                        self.sample.extend_from_slice(nal);
                    }
                }
            }
        }
        if self.sample.is_empty() {
            return Err(PipelineError::Encoder(format!(
                "frame {} was skipped",
                self.frames
            )));
        }
        if !self.track_added {
            let (Some(sps), Some(pps)) = (sps, pps) else {
                return Err(PipelineError::Encoder(
                    "the first frame has no parameter sets".into(),
                ));
            };
            // The avcC record copies the profile and level from the SPS's first bytes.
            if sps.len() < 4 {
                return Err(PipelineError::Encoder("a truncated SPS".into()));
            }
            let track = TrackConfig {
                track_type: TrackType::Video,
                timescale: TIMESCALE,
                language: "und".into(),
                media_conf: MediaConfig::AvcConfig(AvcConfig {
                    width: self.width,
                    height: self.height,
                    seq_param_set: sps,
                    pic_param_set: pps,
                }),
            };
            self.writer.add_track(&track).map_err(muxer)?;
            self.track_added = true;
        }
        let sample = Mp4Sample {
            start_time: self.frames * u64::from(self.frame_ticks),
            duration: self.frame_ticks,
            rendering_offset: 0,
            is_sync: keyframe,
            bytes: bytes::Bytes::copy_from_slice(&self.sample),
        };
        self.writer.write_sample(1, &sample).map_err(muxer)?;
        self.frames += 1;
        Ok(())
    }

    /// Writes the sample tables and puts the finished, fast-start file at `output`.
    ///
    /// # Errors
    /// Writing or rereading the staged file fails.
    pub(super) fn finish(mut self) -> Result<(), PipelineError> {
        self.writer.write_end().map_err(muxer)?;
        let mut file = self.writer.into_writer();
        file.flush()?;
        drop(file);
        let moved = move_index_to_front(&self.staging, &self.output);
        let _ = std::fs::remove_file(&self.staging);
        moved
    }

    /// Removes what was written.
    pub(super) fn discard(self) {
        drop(self.writer);
        let _ = std::fs::remove_file(&self.staging);
    }
}

/// Where the media data is written before the index moves in front of it.
fn staging_path(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".mdat");
    PathBuf::from(name)
}

fn muxer(error: mp4::Error) -> PipelineError {
    PipelineError::Muxer(error.to_string())
}

/// A NAL unit as OpenH264 gives it, without its Annex B start code (`00 00 01` after
/// any number of zero bytes).
fn without_start_code(nal: &[u8]) -> &[u8] {
    let zeros = nal.iter().take_while(|&&byte| byte == 0).count();
    match nal.get(zeros) {
        Some(1) if zeros >= 2 => &nal[zeros + 1..],
        _ => nal,
    }
}

/// Copies `staged` (`ftyp`, `mdat`, `moov`) to `output` as `ftyp`, `moov`, `mdat`, with
/// every chunk offset moved by the distance the media data moved.
fn move_index_to_front(staged: &Path, output: &Path) -> Result<(), PipelineError> {
    let file = File::open(staged)?;
    let size = file.metadata()?.len();
    let mut reader = BufReader::new(file);
    let (ftyp, mut moov) = {
        let parsed = Mp4Reader::read_header(&mut reader, size).map_err(muxer)?;
        (parsed.ftyp, parsed.moov)
    };
    let (data_start, data_end) = media_data(&mut reader, size)?;
    // The writer leaves an 8-byte `wide` box at the start of the media data (room for a
    // 64-bit size it did not need): no sample is in it, so it is not copied.
    let mut head = [0u8; 8];
    reader.seek(SeekFrom::Start(data_start))?;
    let data_start = match reader.read_exact(&mut head) {
        Ok(()) if head == *b"\0\0\0\x08wide" => data_start + 8,
        _ => data_start,
    };
    let data_len = data_end.saturating_sub(data_start);

    // The new media data starts after the ftyp, the moov and its own header; moving the
    // offsets can make a 32-bit table overflow, which makes the moov larger, so settle
    // the table widths first.
    let mdat_header = BoxHeader::new(BoxType::MdatBox, 8 + data_len);
    let header_len = if mdat_header.size > u64::from(u32::MAX) {
        16
    } else {
        8
    };
    let new_start = loop {
        let new_start = ftyp.box_size() + moov.box_size() + header_len;
        if !widen_offset_tables(&mut moov, new_start, data_start, data_end) {
            break new_start;
        }
    };
    let moved = |offset: u64| {
        offset
            .checked_sub(data_start)
            .filter(|&within| within < data_len.max(1))
            .and_then(|within| within.checked_add(new_start))
            .ok_or_else(|| PipelineError::Muxer("a chunk lies outside the media data".into()))
    };
    for trak in &mut moov.traks {
        let stbl = &mut trak.mdia.minf.stbl;
        if let Some(stco) = stbl.stco.as_mut() {
            for offset in &mut stco.entries {
                *offset = u32::try_from(moved(u64::from(*offset))?).map_err(|_| {
                    PipelineError::Muxer("a chunk offset does not fit 32 bits".into())
                })?;
            }
        }
        if let Some(co64) = stbl.co64.as_mut() {
            for offset in &mut co64.entries {
                *offset = moved(*offset)?;
            }
        }
    }

    let mut out = BufWriter::new(File::create(output)?);
    ftyp.write_box(&mut out).map_err(muxer)?;
    moov.write_box(&mut out).map_err(muxer)?;
    mdat_header.write(&mut out).map_err(muxer)?;
    reader.seek(SeekFrom::Start(data_start))?;
    let copied = std::io::copy(&mut reader.by_ref().take(data_len), &mut out)?;
    if copied != data_len {
        return Err(PipelineError::Muxer(
            "the staged media data is shorter than its box".into(),
        ));
    }
    out.flush()?;
    Ok(())
}

/// Turns each 32-bit chunk offset table whose moved offsets would overflow into a 64-bit
/// one. Returns whether any changed (the moov grew, so the offsets must be recomputed).
/// Offsets outside the media data are refused later, when they are moved.
fn widen_offset_tables(moov: &mut MoovBox, new_start: u64, data_start: u64, data_end: u64) -> bool {
    let mut widened = false;
    for trak in &mut moov.traks {
        let stbl = &mut trak.mdia.minf.stbl;
        let overflows = stbl.stco.as_ref().is_some_and(|stco| {
            stco.entries.iter().any(|&offset| {
                let offset = u64::from(offset);
                (data_start..data_end).contains(&offset)
                    && offset - data_start + new_start > u64::from(u32::MAX)
            })
        });
        if overflows && let Some(stco) = stbl.stco.take() {
            // The crate does not export the box types by name; the fields are public.
            let co64 = stbl.co64.insert(Default::default());
            co64.entries = stco.entries.into_iter().map(u64::from).collect();
            widened = true;
        }
    }
    widened
}

/// The data range of the file's `mdat` box.
fn media_data<R: Read + Seek>(reader: &mut R, size: u64) -> Result<(u64, u64), PipelineError> {
    let mut at = 0u64;
    while at + 8 <= size {
        reader.seek(SeekFrom::Start(at))?;
        let header = BoxHeader::read(reader).map_err(muxer)?;
        let data_start = reader.stream_position()?;
        // The crate's size counts an 8-byte header (a 64-bit size is 8 bytes more).
        let end = data_start + header.size.saturating_sub(8);
        if header.name == BoxType::MdatBox {
            return Ok((data_start, end.min(size)));
        }
        if end <= at {
            break;
        }
        at = end;
    }
    Err(PipelineError::Muxer(
        "the staged file has no media data".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_codes_of_either_length_are_removed() {
        assert_eq!(without_start_code(&[0, 0, 0, 1, 0x67, 1]), &[0x67, 1]);
        assert_eq!(without_start_code(&[0, 0, 1, 0x68]), &[0x68]);
        assert_eq!(without_start_code(&[0x65, 0, 0, 1]), &[0x65, 0, 0, 1]);
        assert_eq!(without_start_code(&[0, 1, 0x65]), &[0, 1, 0x65]);
        assert_eq!(without_start_code(&[]), &[] as &[u8]);
    }

    #[test]
    fn offsets_that_would_pass_4_gib_widen_the_table() {
        let mut moov = MoovBox::default();
        moov.traks.push(Default::default());
        moov.traks[0]
            .mdia
            .minf
            .stbl
            .stco
            .insert(Default::default())
            .entries = vec![100, u32::MAX - 10];
        assert!(!widen_offset_tables(
            &mut moov,
            50,
            100,
            u64::from(u32::MAX)
        ));
        assert!(moov.traks[0].mdia.minf.stbl.stco.is_some());
        assert!(widen_offset_tables(
            &mut moov,
            500,
            100,
            u64::from(u32::MAX)
        ));
        let stbl = &moov.traks[0].mdia.minf.stbl;
        assert!(stbl.stco.is_none());
        assert_eq!(
            stbl.co64.as_ref().map(|co64| co64.entries.clone()),
            Some(vec![100, u64::from(u32::MAX) - 10])
        );
    }
}
