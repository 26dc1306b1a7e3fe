//! Deciding an upload's container from its first bytes.
//!
//! How the work is split between crates, and why:
//! - ISO base media (MP4, QuickTime): the `ftyp` box is read with the `mp4` crate's own
//!   box parser (`BoxHeader`, `FtypBox`), which checks its size and alignment. Whether a
//!   brand belongs to the MP4 family is `infer`'s table (`infer::video::is_mp4`, plus
//!   `is_m4v` for Apple's `M4V `): isom, iso2 to iso6, mp41, mp42, avc1, dash, mmp4, F4V
//!   and the other ISO-based brands. infer only looks at the major brand, so the
//!   compatible brands are put through the same table: a file whose major brand is
//!   unknown but which declares an MP4 brand as compatible is, by the standard, readable
//!   as MP4. infer's `is_mov` is not used: it also accepts any file with a `moov` or
//!   `mdat` box type at offset 4 (or `mdat` at 12), without an `ftyp` at all; QuickTime
//!   here means the major brand `qt  `.
//! - Matroska/WebM: infer's `is_webm` needs more than 256 bytes and then searches the
//!   first 256 bytes for the bytes of a DocType element with a one-byte size field,
//!   anywhere, so it both refuses short complete files (and a DocType written with a
//!   longer size field) and can be fooled by those bytes inside another element. `matroska-demuxer` reads the EBML header properly but keeps that
//!   parser private and opens only whole files (it needs the Segment, its tracks and a
//!   cluster). So the EBML header, a flat list of a few elements, is walked here: the
//!   EBML element, then its children until `DocType`, whose value must be `webm`.
//!   [`ebml_header_end`] is also used by the WebM probe to find the Segment's size.

use std::io::Cursor;

use mp4::{BoxHeader, BoxType, FourCC, FtypBox, ReadBox};
use vidgen_application::videos::probe::{SNIFF_BYTES, Sniffed, UploadFormat};

/// The EBML element's ID: the first four bytes of every Matroska/WebM file.
const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];
/// The ID of the `DocType` element inside the EBML header.
const DOC_TYPE_ID: u64 = 0x4282;
/// The brand of QuickTime movies.
const QUICKTIME_BRAND: &[u8; 4] = b"qt  ";

/// What one of the two recognisers found.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Format(UploadFormat),
    /// The bytes so far fit, but more are needed to decide.
    Short,
    No,
}

/// See the module docs.
pub(super) fn sniff(head: &[u8], complete: bool) -> Sniffed {
    let verdict = match iso_base_media(head) {
        Verdict::No => ebml(head),
        other => other,
    };
    match verdict {
        Verdict::Format(format) => Sniffed::Format(format),
        Verdict::Short if !complete && head.len() < SNIFF_BYTES => Sniffed::NeedMore,
        Verdict::Short | Verdict::No => Sniffed::Unsupported,
    }
}

fn iso_base_media(head: &[u8]) -> Verdict {
    const HEADER: usize = 8;
    if head.len() < HEADER {
        // The first four bytes are the box size (anything); then the type.
        let typed = head.get(4..).unwrap_or_default();
        return if b"ftyp".starts_with(typed) {
            Verdict::Short
        } else {
            Verdict::No
        };
    }
    if &head[4..HEADER] != b"ftyp" {
        return Verdict::No;
    }
    let mut reader = Cursor::new(head);
    let header = match BoxHeader::read(&mut reader) {
        Ok(header) => header,
        // Only a 64-bit size can be cut short here.
        Err(_) => return Verdict::Short,
    };
    // An ftyp box holds a few brands; a 64-bit size, or one larger than the bytes
    // that always decide, is not a real one.
    let declared = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
    if header.name != BoxType::FtypBox
        || declared != header.size
        || header.size > SNIFF_BYTES as u64
    {
        return Verdict::No;
    }
    if (head.len() as u64) < header.size {
        return Verdict::Short;
    }
    let Ok(ftyp) = FtypBox::read_box(&mut reader, header.size) else {
        return Verdict::No;
    };
    if &ftyp.major_brand.value == QUICKTIME_BRAND {
        return Verdict::Format(UploadFormat::QuickTime);
    }
    if is_mp4_brand(&ftyp.major_brand) || ftyp.compatible_brands.iter().any(is_mp4_brand) {
        Verdict::Format(UploadFormat::Mp4)
    } else {
        Verdict::No
    }
}

/// Whether infer counts `brand` as an MP4 brand (its matchers take a whole file head,
/// so the brand is put in a minimal `ftyp` box header of its own).
fn is_mp4_brand(brand: &FourCC) -> bool {
    let mut probe = [0u8; 12];
    probe[4..8].copy_from_slice(b"ftyp");
    probe[8..12].copy_from_slice(&brand.value);
    infer::video::is_mp4(&probe) || infer::video::is_m4v(&probe)
}

fn ebml(head: &[u8]) -> Verdict {
    if head.len() < EBML_MAGIC.len() {
        return if EBML_MAGIC.starts_with(head) {
            Verdict::Short
        } else {
            Verdict::No
        };
    }
    if head[..EBML_MAGIC.len()] != EBML_MAGIC {
        return Verdict::No;
    }
    match doc_type(head) {
        Ok(doc_type) if doc_type == b"webm" => Verdict::Format(UploadFormat::WebM),
        Ok(_) => Verdict::No,
        Err(Malformed::Short) => Verdict::Short,
        Err(Malformed::Invalid) => Verdict::No,
    }
}

/// Why an EBML header could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Malformed {
    /// The bytes end inside it.
    Short,
    /// It is not a valid EBML header.
    Invalid,
}

/// A variable-length EBML integer at the start of `bytes`: its value (with the length
/// marker removed when `strip_marker`), its length, and whether all its value bits are
/// set (the "unknown size" of a size field).
fn vint(bytes: &[u8], strip_marker: bool) -> Result<(u64, usize, bool), Malformed> {
    let first = *bytes.first().ok_or(Malformed::Short)?;
    if first == 0 {
        return Err(Malformed::Invalid);
    }
    let length = first.leading_zeros() as usize + 1;
    let raw = bytes.get(..length).ok_or(Malformed::Short)?;
    let mut value = 0u64;
    for &byte in raw {
        value = (value << 8) | u64::from(byte);
    }
    let value_bits = 7 * length as u32;
    let mask = (1u64 << value_bits) - 1;
    let all_ones = value & mask == mask;
    Ok((
        if strip_marker { value & mask } else { value },
        length,
        all_ones,
    ))
}

/// One element's header: ID, data size, and the header's own length.
pub(super) fn element_header(bytes: &[u8]) -> Result<(u64, Option<u64>, usize), Malformed> {
    let (id, id_length, _) = vint(bytes, false)?;
    if id_length > 4 {
        return Err(Malformed::Invalid);
    }
    let (size, size_length, unknown) = vint(&bytes[id_length..], true)?;
    Ok((id, (!unknown).then_some(size), id_length + size_length))
}

/// Where the EBML header ends (the offset of the element after it).
pub(super) fn ebml_header_end(head: &[u8]) -> Result<usize, Malformed> {
    if head.len() < EBML_MAGIC.len() {
        return Err(Malformed::Short);
    }
    if head[..EBML_MAGIC.len()] != EBML_MAGIC {
        return Err(Malformed::Invalid);
    }
    let (_, size, header_length) = element_header(head)?;
    let size = size.ok_or(Malformed::Invalid)?;
    usize::try_from(size)
        .ok()
        .and_then(|size| size.checked_add(header_length))
        .ok_or(Malformed::Invalid)
}

/// The DocType of the EBML header that `head` starts with, without trailing NULs.
fn doc_type(head: &[u8]) -> Result<&[u8], Malformed> {
    let (_, size, header_length) = element_header(head)?;
    let size = size.ok_or(Malformed::Invalid)?;
    let end = u64::try_from(header_length)
        .ok()
        .and_then(|h| h.checked_add(size))
        .ok_or(Malformed::Invalid)?;
    let mut at = header_length;
    while (at as u64) < end {
        let (id, size, length) = element_header(&head[at..])?;
        let size = size.ok_or(Malformed::Invalid)?;
        let data_start = at + length;
        let data_end = u64::try_from(data_start)
            .ok()
            .and_then(|s| s.checked_add(size))
            .filter(|&e| e <= end)
            .ok_or(Malformed::Invalid)?;
        if id == DOC_TYPE_ID {
            let data_end = usize::try_from(data_end).map_err(|_| Malformed::Invalid)?;
            let value = head.get(data_start..data_end).ok_or(Malformed::Short)?;
            let trimmed = value.len() - value.iter().rev().take_while(|&&b| b == 0).count();
            return Ok(&value[..trimmed]);
        }
        at = usize::try_from(data_end).map_err(|_| Malformed::Invalid)?;
        if at > head.len() {
            return Err(Malformed::Short);
        }
    }
    // A header without a DocType is not one of ours.
    Err(Malformed::Invalid)
}
