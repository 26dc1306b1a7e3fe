//! A planar YUV 4:2:0 frame to draw on: a background copied row by row from a diagonal
//! colour band, and text layers composited at an opacity.

use super::text::TextLayer;

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

/// Luma of text and of its halo.
const TEXT_LUMA: u32 = 235;
const HALO_LUMA: u32 = 16;

/// A diagonal band of colour, one sample per luma column (`y`) and per chroma column
/// (`u`, `v`): row `r` of a frame shows the band from `r` on (or from `height - 1 - r`
/// when the band leans the other way), so the background is a 45-degree gradient that
/// moves when the band is taken from a later offset.
#[derive(Debug, Clone, Default)]
pub struct Band {
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
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

impl Canvas {
    /// A black frame of even dimensions.
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

    /// Fills the frame from `band`, which holds at least `width + height` luma samples
    /// and half as many chroma samples; `lean` mirrors the diagonal.
    pub fn fill_diagonal(&mut self, band: &Band, lean: bool) {
        let (w, h) = (self.width, self.height);
        if band.y.len() < w + h || band.u.len() < (w + h) / 2 || band.v.len() < (w + h) / 2 {
            return;
        }
        for row in 0..h {
            let from = if lean { h - 1 - row } else { row };
            self.y[row * w..(row + 1) * w].copy_from_slice(&band.y[from..from + w]);
        }
        let (cw, ch) = (w / 2, h / 2);
        for row in 0..ch {
            let from = if lean { ch - 1 - row } else { row };
            self.u[row * cw..(row + 1) * cw].copy_from_slice(&band.u[from..from + cw]);
            self.v[row * cw..(row + 1) * cw].copy_from_slice(&band.v[from..from + cw]);
        }
    }

    /// Draws `layer` (white text over its dark halo) at `opacity` (0..=255), clipped to
    /// the frame.
    pub fn composite(&mut self, layer: &TextLayer, opacity: u8) {
        if opacity == 0 || layer.x >= self.width || layer.y >= self.height {
            return;
        }
        let opacity = u32::from(opacity);
        let columns = layer.width.min(self.width - layer.x);
        let rows = layer.height.min(self.height - layer.y);
        for row in 0..rows {
            let (start, end) = layer.spans[row];
            let end = end.min(columns);
            if start >= end {
                continue;
            }
            let from = row * layer.width;
            let to = (layer.y + row) * self.width + layer.x;
            let target = &mut self.y[to + start..to + end];
            let alpha = &layer.alpha[from + start..from + end];
            let shadow = &layer.shadow[from + start..from + end];
            for ((pixel, &a), &s) in target.iter_mut().zip(alpha).zip(shadow) {
                let s = u32::from(s) * opacity / 255;
                let a = u32::from(a) * opacity / 255;
                let mut value = u32::from(*pixel);
                value = (value * (255 - s) + HALO_LUMA * s) / 255;
                value = (value * (255 - a) + TEXT_LUMA * a) / 255;
                *pixel = value as u8;
            }
        }
        let (cw, lw) = (self.width / 2, layer.width / 2);
        let (cx, cy) = (layer.x / 2, layer.y / 2);
        for row in 0..rows / 2 {
            let (start, _) = layer.spans[row * 2];
            let (start2, _) = layer.spans[row * 2 + 1];
            let first = start.min(start2) / 2;
            let to = (cy + row) * cw + cx;
            let from = row * lw;
            for col in first..columns / 2 {
                let weight = u32::from(layer.chroma[from + col]) * opacity / 255;
                if weight == 0 {
                    continue;
                }
                for plane in [&mut self.u, &mut self.v] {
                    let value = u32::from(plane[to + col]);
                    plane[to + col] = ((value * (255 - weight) + 128 * weight) / 255) as u8;
                }
            }
        }
    }

    /// Mean luma, for tests and thumbnails.
    pub fn mean_luma(&self) -> f64 {
        self.y.iter().map(|&v| f64::from(v)).sum::<f64>() / self.y.len().max(1) as f64
    }
}
