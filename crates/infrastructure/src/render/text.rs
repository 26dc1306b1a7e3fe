//! Vector text: DejaVu Sans (embedded by the `dejavu` crate, under the Bitstream Vera
//! licence) rasterised with anti-aliasing by `ab_glyph`. Text is wrapped by its measured
//! width and drawn once into a [`TextLayer`] (coverage and shadow masks) that frames then
//! composite at any opacity.

use ab_glyph::{Font, FontRef, GlyphId, InvalidFont, PxScale, ScaleFont, point};

/// Drawn in place of a character the font has no glyph for.
pub const FALLBACK: char = '\u{FFFD}';
/// Ends a line or caption that was cut short.
pub const ELLIPSIS: char = '\u{2026}';

/// The embedded faces: regular for captions, bold for titles.
#[derive(Debug, Clone)]
pub struct Fonts {
    /// DejaVu Sans.
    pub regular: FontRef<'static>,
    /// DejaVu Sans Bold.
    pub bold: FontRef<'static>,
}

impl Fonts {
    /// Parses the faces shipped inside the binary.
    ///
    /// # Errors
    /// A face does not parse (a broken build, never the input).
    pub fn embedded() -> Result<Self, InvalidFont> {
        Ok(Self {
            regular: FontRef::try_from_slice(dejavu::sans::regular())?,
            bold: FontRef::try_from_slice(dejavu::sans::bold())?,
        })
    }
}

/// One face at one pixel size: measures, wraps and draws text.
#[derive(Debug, Clone, Copy)]
pub struct Face<'a> {
    font: &'a FontRef<'static>,
    scale: PxScale,
}

impl<'a> Face<'a> {
    /// `font` at `em` pixels per em (the size CSS calls `font-size`).
    pub fn new(font: &'a FontRef<'static>, em: f32) -> Self {
        let units = font.units_per_em().unwrap_or(1000.0);
        let px = em.max(1.0) * font.height_unscaled() / units;
        Self {
            font,
            scale: PxScale::from(px.max(1.0)),
        }
    }

    /// The `ab_glyph` scale: pixels from the top of the ascenders to the bottom of the
    /// descenders.
    pub fn scale(&self) -> PxScale {
        self.scale
    }

    /// The size in pixels per em.
    pub fn em(&self) -> f32 {
        let units = self.font.units_per_em().unwrap_or(1000.0);
        self.scale.y * units / self.font.height_unscaled().max(1.0)
    }

    /// Distance between the baselines of two lines.
    pub fn line_height(&self) -> f32 {
        let scaled = self.font.as_scaled(self.scale);
        (scaled.height() + scaled.line_gap()).max(self.scale.y) * 1.05
    }

    /// The glyph drawn for `c`: its own, else [`FALLBACK`]'s, else `?`'s, so that a
    /// character missing from the font stays visible.
    pub fn glyph(&self, c: char) -> GlyphId {
        [c, FALLBACK, '?']
            .into_iter()
            .map(|c| self.font.glyph_id(c))
            .find(|id| id.0 != 0)
            .unwrap_or(GlyphId(0))
    }

    /// Whether the font draws `c` with a glyph of its own.
    pub fn covers(&self, c: char) -> bool {
        c.is_whitespace() || self.font.glyph_id(c).0 != 0
    }

    /// Glyphs of one line with their pen positions, and the line's advance width.
    pub fn shape(&self, line: &str) -> (Vec<(GlyphId, f32)>, f32) {
        let scaled = self.font.as_scaled(self.scale);
        let mut glyphs = Vec::with_capacity(line.len());
        let mut pen = 0.0f32;
        let mut previous: Option<GlyphId> = None;
        for c in line.chars().filter(|c| !c.is_control()) {
            let id = self.glyph(c);
            if let Some(previous) = previous {
                pen += scaled.kern(previous, id);
            }
            glyphs.push((id, pen));
            pen += scaled.h_advance(id);
            previous = Some(id);
        }
        (glyphs, pen)
    }

    /// Advance width of `text` on one line.
    pub fn width(&self, text: &str) -> f32 {
        self.shape(text).1
    }

    /// Breaks `text` into lines no wider than `max_width`, at white space where possible
    /// and inside a word only when the word alone is too wide.
    pub fn wrap(&self, text: &str, max_width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            for piece in self.break_word(word, max_width) {
                let candidate = if line.is_empty() {
                    piece.clone()
                } else {
                    format!("{line} {piece}")
                };
                if line.is_empty() || self.width(&candidate) <= max_width {
                    line = candidate;
                } else {
                    lines.push(std::mem::replace(&mut line, piece));
                }
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// `word` in pieces that each fit in `max_width` (one piece when it fits already).
    fn break_word(&self, word: &str, max_width: f32) -> Vec<String> {
        if self.width(word) <= max_width {
            return vec![word.to_owned()];
        }
        let mut pieces = Vec::new();
        let mut piece = String::new();
        for c in word.chars() {
            piece.push(c);
            if piece.chars().count() > 1 && self.width(&piece) > max_width {
                piece.pop();
                pieces.push(std::mem::take(&mut piece));
                piece.push(c);
            }
        }
        if !piece.is_empty() {
            pieces.push(piece);
        }
        pieces
    }

    /// `line` with an ellipsis at its end, shortened until it fits in `max_width`.
    pub fn with_ellipsis(&self, line: &str, max_width: f32) -> String {
        let mut kept: Vec<char> = line.trim_end_matches(ELLIPSIS).chars().collect();
        loop {
            let text: String = kept.iter().collect::<String>().trim_end().to_owned() + "\u{2026}";
            if kept.is_empty() || self.width(&text) <= max_width {
                return text;
            }
            kept.pop();
        }
    }

    /// Wraps `text` into at most `max_lines` lines, the last one ending with an ellipsis
    /// when text had to be left out. `None` when even the first line cannot be kept.
    pub fn layout(&self, text: &str, max_width: f32, max_lines: usize) -> Option<Vec<String>> {
        let mut lines = self.wrap(text, max_width);
        if lines.len() > max_lines {
            lines.truncate(max_lines);
            let last = lines.pop()?;
            lines.push(self.with_ellipsis(&last, max_width));
        }
        Some(lines)
    }
}

/// A block of text drawn once: coverage (`alpha`) and a soft dark halo (`shadow`) for
/// the luma plane, their union at half resolution for the chroma planes, placed at
/// (`x`, `y`) in the frame (both even).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLayer {
    /// Left edge in the frame (even).
    pub x: usize,
    /// Top edge in the frame (even).
    pub y: usize,
    /// Width of the masks (even).
    pub width: usize,
    /// Height of the masks (even).
    pub height: usize,
    /// Text coverage per pixel, 0..=255.
    pub alpha: Vec<u8>,
    /// Halo opacity per pixel, 0..=255.
    pub shadow: Vec<u8>,
    /// How much each chroma sample is pulled to grey (white text and black halo alike).
    pub chroma: Vec<u8>,
    /// Per row, the columns `[start, end)` where `shadow` (which covers `alpha`) is set.
    pub spans: Vec<(usize, usize)>,
}

/// How lines are placed.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    /// Centre of the block, horizontally, in frame pixels.
    pub centre_x: f32,
    /// Top of the first line's ascenders, in frame pixels.
    pub top: f32,
}

impl TextLayer {
    /// Rasterises `lines` with `face`, each line centred on `at.centre_x`.
    pub fn draw(face: &Face<'_>, lines: &[String], at: Placement) -> Self {
        let scaled = face.font.as_scaled(face.scale);
        let halo = (face.em() / 14.0).ceil().max(1.0) as usize;
        let pad = halo + 2;
        let shaped: Vec<_> = lines.iter().map(|line| face.shape(line)).collect();
        let widest = shaped.iter().map(|(_, w)| *w).fold(0.0f32, f32::max);
        let block_height = face.line_height() * lines.len().max(1) as f32;
        let left = (at.centre_x - widest / 2.0).floor() as isize - pad as isize;
        let top = at.top.floor() as isize - pad as isize;
        let x = (left.max(0) as usize) & !1;
        let y = (top.max(0) as usize) & !1;
        let width = ((at.centre_x + widest / 2.0).ceil() as usize + pad).saturating_sub(x) + 2;
        let height = ((at.top + block_height).ceil() as usize + pad).saturating_sub(y) + 2;
        let (width, height) = (width.next_multiple_of(2), height.next_multiple_of(2));
        let mut alpha = vec![0u8; width * height];
        for (row, (glyphs, line_width)) in shaped.iter().enumerate() {
            let origin_x = at.centre_x - line_width / 2.0 - x as f32;
            let baseline = at.top + scaled.ascent() + face.line_height() * row as f32 - y as f32;
            for &(id, pen) in glyphs {
                let glyph = id.with_scale_and_position(face.scale, point(origin_x + pen, baseline));
                let Some(outlined) = face.font.outline_glyph(glyph) else {
                    continue;
                };
                let bounds = outlined.px_bounds();
                outlined.draw(|gx, gy, coverage| {
                    let px = bounds.min.x as isize + gx as isize;
                    let py = bounds.min.y as isize + gy as isize;
                    if px < 0 || py < 0 || px as usize >= width || py as usize >= height {
                        return;
                    }
                    let cell = &mut alpha[py as usize * width + px as usize];
                    let value = (coverage.clamp(0.0, 1.0) * 255.0).round() as u8;
                    *cell = cell.saturating_add(value);
                });
            }
        }
        let shadow = halo_of(&alpha, width, height, halo);
        let chroma = chroma_of(&alpha, &shadow, width, height);
        let spans = (0..height)
            .map(|row| {
                let line = &shadow[row * width..(row + 1) * width];
                let start = line.iter().position(|&v| v != 0).unwrap_or(0);
                let end = line.iter().rposition(|&v| v != 0).map_or(0, |i| i + 1);
                (start, end.max(start))
            })
            .collect();
        Self {
            x,
            y,
            width,
            height,
            alpha,
            shadow,
            chroma,
            spans,
        }
    }

    /// The layer's rectangle in the frame: (x, y, width, height).
    pub fn bounds(&self) -> (usize, usize, usize, usize) {
        (self.x, self.y, self.width, self.height)
    }
}

/// The coverage spread by `radius` pixels (a separable maximum), then softened and
/// kept at about two thirds opacity.
fn halo_of(alpha: &[u8], width: usize, height: usize, radius: usize) -> Vec<u8> {
    let mut across = vec![0u8; alpha.len()];
    for row in 0..height {
        let line = &alpha[row * width..(row + 1) * width];
        for col in 0..width {
            let from = col.saturating_sub(radius);
            let to = (col + radius + 1).min(width);
            across[row * width + col] = line[from..to].iter().copied().max().unwrap_or(0);
        }
    }
    let mut spread = vec![0u8; alpha.len()];
    for row in 0..height {
        let from = row.saturating_sub(radius);
        let to = (row + radius + 1).min(height);
        for col in 0..width {
            let peak = (from..to)
                .map(|r| across[r * width + col])
                .max()
                .unwrap_or(0);
            spread[row * width + col] = ((u16::from(peak) * 170) / 255) as u8;
        }
    }
    spread
}

/// Per chroma sample (2x2 pixels), how much text and halo together cover it.
fn chroma_of(alpha: &[u8], shadow: &[u8], width: usize, height: usize) -> Vec<u8> {
    let (cw, ch) = (width / 2, height / 2);
    let mut chroma = vec![0u8; cw * ch];
    for row in 0..ch {
        for col in 0..cw {
            let mut sum = 0u32;
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let i = (row * 2 + dy) * width + col * 2 + dx;
                let (a, s) = (u32::from(alpha[i]), u32::from(shadow[i]));
                // 1 - (1 - a)(1 - s), in 0..=255.
                sum += a + s - a * s / 255;
            }
            chroma[row * cw + col] = (sum / 4).min(255) as u8;
        }
    }
    chroma
}
