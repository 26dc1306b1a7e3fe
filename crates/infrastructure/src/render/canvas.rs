//! A planar YUV 4:2:0 frame to draw on: solid fills, rectangles and bitmap text from the
//! `font8x8` crate (no system fonts), scaled to the frame.

use font8x8::UnicodeFonts;

/// A colour in BT.601 limited-range YUV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yuv {
    pub y: u8,
    pub u: u8,
    pub v: u8,
}

impl Yuv {
    /// Converts 8-bit sRGB to BT.601 limited-range YUV.
    pub fn from_rgb(r: u8, g: u8, b: u8) -> Self {
        let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
        let clamp = |v: i32| v.clamp(0, 255) as u8;
        Self {
            y: clamp(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16),
            u: clamp(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128),
            v: clamp(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128),
        }
    }
}

/// One frame's planes.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

/// The glyph for a character: ASCII, Latin-1, Greek, box drawing...; `?` otherwise.
fn glyph(c: char) -> [u8; 8] {
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::LATIN_FONTS.get(c))
        .or_else(|| font8x8::GREEK_FONTS.get(c))
        .or_else(|| font8x8::MISC_FONTS.get(c))
        .or_else(|| font8x8::BASIC_FONTS.get('?'))
        .unwrap_or([0; 8])
}

/// Width in pixels of one glyph cell at `scale`.
pub const fn cell_width(scale: usize) -> usize {
    8 * scale
}

impl Canvas {
    /// A frame of even dimensions.
    pub fn new(width: usize, height: usize) -> Self {
        let chroma = (width / 2) * (height / 2);
        Self {
            width,
            height,
            y: vec![16; width * height],
            u: vec![128; chroma],
            v: vec![128; chroma],
        }
    }

    /// A vertical gradient from `top` to `bottom` luma, with constant chroma.
    pub fn gradient(&mut self, top: Yuv, bottom: Yuv) {
        let rows = self.height.max(1);
        for row in 0..self.height {
            let t = row * 256 / rows;
            let mix = |a: u8, b: u8| ((usize::from(a) * (256 - t) + usize::from(b) * t) >> 8) as u8;
            let start = row * self.width;
            self.y[start..start + self.width].fill(mix(top.y, bottom.y));
            if row % 2 == 0 {
                let cw = self.width / 2;
                let c = (row / 2) * cw;
                self.u[c..c + cw].fill(mix(top.u, bottom.u));
                self.v[c..c + cw].fill(mix(top.v, bottom.v));
            }
        }
    }

    /// Fills a rectangle, clipped to the frame.
    pub fn fill_rect(&mut self, x: usize, y: usize, w: usize, h: usize, color: Yuv) {
        let x_end = (x + w).min(self.width);
        let y_end = (y + h).min(self.height);
        if x >= x_end || y >= y_end {
            return;
        }
        for row in y..y_end {
            self.y[row * self.width + x..row * self.width + x_end].fill(color.y);
        }
        let cw = self.width / 2;
        for row in (y / 2)..y_end.div_ceil(2).min(self.height / 2) {
            let start = row * cw + x / 2;
            let end = row * cw + x_end.div_ceil(2).min(cw);
            self.u[start..end].fill(color.u);
            self.v[start..end].fill(color.v);
        }
    }

    /// Draws one character with its top-left corner at (x, y).
    pub fn draw_char(&mut self, x: usize, y: usize, c: char, scale: usize, color: Yuv) {
        let bitmap = glyph(c);
        for (gy, bits) in bitmap.iter().enumerate() {
            if *bits == 0 {
                continue;
            }
            for gx in 0..8 {
                if bits & (1 << gx) != 0 {
                    self.fill_rect(x + gx * scale, y + gy * scale, scale, scale, color);
                }
            }
        }
    }

    /// Draws a string on one line; returns the x after the last character.
    pub fn draw_text(&mut self, x: usize, y: usize, text: &str, scale: usize, color: Yuv) -> usize {
        let mut cursor = x;
        for c in text.chars() {
            if c != ' ' {
                self.draw_char(cursor, y, c, scale, color);
            }
            cursor += cell_width(scale);
        }
        cursor
    }

    /// Mean luma, for tests and thumbnails.
    pub fn mean_luma(&self) -> f64 {
        self.y.iter().map(|&v| f64::from(v)).sum::<f64>() / self.y.len().max(1) as f64
    }
}

/// Breaks `text` into lines of at most `columns` characters, at spaces where possible.
/// Runs of white space (including newlines) count as one space, except that blank lines
/// (paragraph breaks) are kept.
pub fn wrap(text: &str, columns: usize) -> Vec<String> {
    let columns = columns.max(1);
    let mut lines = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let mut word: Vec<char> = word.chars().collect();
            while word.len() > columns {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                lines.push(word.drain(..columns).collect());
            }
            let word: String = word.into_iter().collect();
            let needed = if line.is_empty() {
                word.chars().count()
            } else {
                line.chars().count() + 1 + word.chars().count()
            };
            if needed > columns && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines.push(String::new());
    }
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}
