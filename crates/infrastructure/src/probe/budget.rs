//! A reader with a budget: it fails once a parser has read more bytes, or seeked more
//! often, than parsing a file of that size can need. It sits under the `BufReader`, so
//! the buffer's refills after each seek count too: that is what a looping parser costs. A parser bug that loops on crafted input
//! then costs bounded time instead of a blocking thread forever: the `mp4` crate, for
//! one, seeks back to the same box again and again when a box nested in a container
//! (such as `stbl`) declares a size of 0.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A buffered file read through a budget.
pub(super) type Reader = BufReader<Budgeted<File>>;

/// Opens `path` to be read for at most `bytes` bytes and `seeks` seeks in all.
///
/// # Errors
/// The file cannot be opened.
pub(super) fn open(path: &Path, bytes: u64, seeks: u64) -> io::Result<(Reader, Exhausted)> {
    let (budgeted, exhausted) = Budgeted::new(File::open(path)?, bytes, seeks);
    Ok((BufReader::new(budgeted), exhausted))
}

/// See the module docs.
#[derive(Debug)]
pub(super) struct Budgeted<R> {
    inner: R,
    bytes_left: u64,
    seeks_left: u64,
    exhausted: Arc<AtomicBool>,
}

/// Set once the budget ran out (a parser may take the error for the end of the file,
/// as `matroska-demuxer` does, so the caller checks this afterwards).
#[derive(Debug, Clone)]
pub(super) struct Exhausted(Arc<AtomicBool>);

impl Exhausted {
    pub(super) fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl<R> Budgeted<R> {
    /// `inner`, which may be read for `bytes` bytes and seeked `seeks` times in all.
    pub(super) fn new(inner: R, bytes: u64, seeks: u64) -> (Self, Exhausted) {
        let exhausted = Arc::new(AtomicBool::new(false));
        (
            Self {
                inner,
                bytes_left: bytes,
                seeks_left: seeks,
                exhausted: exhausted.clone(),
            },
            Exhausted(exhausted),
        )
    }

    fn exhaust(&self) -> io::Error {
        if !self.exhausted.swap(true, Ordering::Relaxed) {
            tracing::warn!("a media parser went over its reading budget on an upload");
        }
        io::Error::other("the reading budget is exhausted")
    }
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.bytes_left == 0 {
            return Err(self.exhaust());
        }
        let allowed = usize::try_from(self.bytes_left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let read = self.inner.read(&mut buf[..allowed])?;
        self.bytes_left -= read as u64;
        Ok(read)
    }
}

impl<R: Seek> Seek for Budgeted<R> {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        if self.seeks_left == 0 {
            return Err(self.exhaust());
        }
        self.seeks_left -= 1;
        self.inner.seek(position)
    }

    // Asking where one is moves nothing.
    fn stream_position(&mut self) -> io::Result<u64> {
        self.inner.stream_position()
    }
}
