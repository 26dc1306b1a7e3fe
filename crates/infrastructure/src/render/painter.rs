//! Draws frame after frame of a [`Spec`]: the scene plan's cues over a drifting diagonal
//! background, text laid out relative to the frame (sizes as fractions of its height,
//! inside safe margins), each caption rasterised once when its scene comes up and
//! composited at the cue's opacity on every frame it shows.

use super::canvas::{Band, Canvas};
use super::palette::Palette;
use super::pipeline::{PipelineError, Spec};
use super::scenes::{Plan, Shot};
use super::text::{Face, Fonts, Placement, TextLayer};

/// Text sizes (pixels per em, as CSS's `font-size`) and margins, as fractions of the
/// frame height.
pub mod size {
    /// The title on its card, at most.
    pub const TITLE_CARD: f32 = 0.10;
    /// The title on its card, at least (when it needs several lines).
    pub const TITLE_CARD_MIN: f32 = 0.065;
    /// The title above the captions.
    pub const HEADER: f32 = 0.065;
    /// Captions, at most.
    pub const CAPTION: f32 = 0.055;
    /// Captions, at least (when a caption needs many lines).
    pub const CAPTION_MIN: f32 = 0.045;
    /// Margin kept clear on every side (of the height vertically, of the width across).
    pub const SAFE: f32 = 0.05;
    /// Lines of title on its card.
    pub const TITLE_LINES: usize = 3;
}

/// See the module docs.
#[derive(Debug)]
pub struct Painter {
    width: usize,
    height: usize,
    fps: u32,
    plan: Plan,
    palette: Palette,
    period: usize,
    bands: Vec<Band>,
    window: Band,
    fonts: Fonts,
    title_card: TextLayer,
    header: Option<TextLayer>,
    caption_area: (f32, f32),
    layers: Vec<Option<TextLayer>>,
    captions_rasterised: usize,
}

/// The frame's safe area: (left, top, width, height) in pixels.
fn safe_area(width: usize, height: usize) -> (f32, f32, f32, f32) {
    let (w, h) = (width as f32, height as f32);
    let (mx, my) = (w * size::SAFE, h * size::SAFE);
    (mx, my, w - 2.0 * mx, h - 2.0 * my)
}

/// Sizes from `largest` down to `smallest` in steps of half a percent of `height`.
fn sizes(largest: f32, smallest: f32, height: f32) -> impl Iterator<Item = f32> {
    let steps = ((largest - smallest) / 0.005).round() as usize;
    (0..=steps).map(move |i| (largest - i as f32 * 0.005).max(smallest) * height)
}

/// The largest size from `candidates` at which `text` fits in `max_lines` lines of
/// `max_width` and in `max_height`; at the smallest, whatever fits, with an ellipsis.
fn fit<'a>(
    font: &'a ab_glyph::FontRef<'static>,
    text: &str,
    candidates: impl Iterator<Item = f32>,
    max_width: f32,
    max_height: f32,
    max_lines: usize,
) -> (Face<'a>, Vec<String>) {
    let mut last = None;
    for px in candidates {
        let face = Face::new(font, px);
        let room = ((max_height / face.line_height()) as usize).clamp(1, max_lines);
        let lines = face.wrap(text, max_width);
        if lines.len() <= room {
            return (face, lines);
        }
        last = Some((face, room));
    }
    let (face, room) = last.unwrap_or((Face::new(font, max_height), 1));
    let lines = face.layout(text, max_width, room).unwrap_or_default();
    (face, lines)
}

/// The title's two layers, and the band below the header left for captions.
struct Titles {
    card: TextLayer,
    header: Option<TextLayer>,
    caption_area: (f32, f32),
}

impl Titles {
    fn draw(fonts: &Fonts, title: &str, width: usize, height: usize) -> Self {
        let (left, top, safe_width, safe_height) = safe_area(width, height);
        let centre_x = left + safe_width / 2.0;
        let h = height as f32;
        let (face, lines) = fit(
            &fonts.bold,
            title,
            sizes(size::TITLE_CARD, size::TITLE_CARD_MIN, h),
            safe_width,
            safe_height,
            size::TITLE_LINES,
        );
        let block = face.line_height() * lines.len() as f32;
        let card = TextLayer::draw(
            &face,
            &lines,
            Placement {
                centre_x,
                top: top + (safe_height - block).max(0.0) / 2.0,
            },
        );
        let mut caption_top = top;
        let header = (!title.is_empty()).then(|| {
            let face = Face::new(&fonts.bold, size::HEADER * h);
            let lines = face.layout(title, safe_width, 1).unwrap_or_default();
            caption_top += face.line_height() + size::SAFE * h / 2.0;
            TextLayer::draw(&face, &lines, Placement { centre_x, top })
        });
        Self {
            card,
            header,
            caption_area: (caption_top, top + safe_height),
        }
    }
}

/// Logs (without failing) when the title or captions use characters the font lacks.
fn warn_of_missing_glyphs(fonts: &Fonts, title: &str, plan: &Plan) {
    let face = Face::new(&fonts.regular, 10.0);
    let missing = std::iter::once(title)
        .chain(plan.cues.iter().filter_map(|cue| match &cue.shot {
            Shot::Caption(text) => Some(text.as_str()),
            Shot::Title => None,
        }))
        .flat_map(str::chars)
        .filter(|&c| !face.covers(c))
        .count();
    if missing > 0 {
        tracing::warn!(
            missing,
            "characters missing from the font are drawn as a replacement mark"
        );
    }
}

impl Painter {
    /// Plans the scenes and draws the title layers; logs when the prompt had to be cut
    /// (in the caller's span, which names the job) and when the font lacks characters.
    ///
    /// # Errors
    /// `Font` when the embedded font does not parse.
    pub fn new(spec: &Spec) -> Result<Self, PipelineError> {
        let fonts = Fonts::embedded().map_err(|e| PipelineError::Font(e.to_string()))?;
        let (width, height) = (spec.width, spec.height);
        let plan = Plan::new(&spec.prompt, spec.fps, spec.frame_count());
        if let Some(cut) = plan.shortened {
            tracing::info!(
                kept_words = cut.kept_words,
                total_words = cut.total_words,
                seconds = spec.duration_seconds,
                "the prompt is longer than the video can show legibly; captions shortened with an ellipsis"
            );
        }
        let palette = Palette::from_prompt(&spec.prompt);
        let title = spec.title.trim();
        let titles = Titles::draw(&fonts, title, width, height);
        warn_of_missing_glyphs(&fonts, title, &plan);
        let period = 2 * (width + height);
        let bands = (0..plan.cues.len())
            .map(|index| palette.band(index, period, width + height))
            .collect();
        let layers = vec![None; plan.cues.len()];
        Ok(Self {
            width,
            height,
            fps: spec.fps.max(1),
            caption_area: titles.caption_area,
            plan,
            palette,
            period,
            bands,
            window: Band {
                y: vec![0; width + height],
                u: vec![0; (width + height) / 2],
                v: vec![0; (width + height) / 2],
            },
            fonts,
            title_card: titles.card,
            header: titles.header,
            layers,
            captions_rasterised: 0,
        })
    }

    /// The scene plan being drawn.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The title card's text.
    pub fn title_card(&self) -> &TextLayer {
        &self.title_card
    }

    /// The title above the captions, when there is a title.
    pub fn header(&self) -> Option<&TextLayer> {
        self.header.as_ref()
    }

    /// How `text` is set as a caption: the face, the lines and where they go.
    pub fn caption_layout(&self, text: &str) -> (Face<'_>, Vec<String>, Placement) {
        let (left, _, safe_width, _) = safe_area(self.width, self.height);
        let (area_top, area_bottom) = self.caption_area;
        let area = (area_bottom - area_top).max(1.0);
        let (face, lines) = fit(
            &self.fonts.regular,
            text,
            sizes(size::CAPTION, size::CAPTION_MIN, self.height as f32),
            safe_width,
            area,
            usize::MAX,
        );
        let block = face.line_height() * lines.len() as f32;
        let placement = Placement {
            centre_x: left + safe_width / 2.0,
            top: area_top + (area - block).max(0.0) / 2.0,
        };
        (face, lines, placement)
    }

    /// `text` laid out and rasterised as a caption.
    pub fn caption_layer(&self, text: &str) -> TextLayer {
        let (face, lines, placement) = self.caption_layout(text);
        TextLayer::draw(&face, &lines, placement)
    }

    /// How many captions have been rasterised so far: one per scene that came up, however
    /// many frames it lasts.
    pub fn captions_rasterised(&self) -> usize {
        self.captions_rasterised
    }

    /// Draws frame `index` into `canvas`.
    pub fn paint(&mut self, canvas: &mut Canvas, index: u32) {
        let visible: Vec<(usize, f32)> = (0..self.plan.cues.len())
            .map(|cue| (cue, self.plan.opacity(cue, index)))
            .filter(|(_, opacity)| *opacity > 0.0)
            .collect();
        // Scenes that are over will not come back: free their text.
        if let Some(&(first, _)) = visible.first() {
            for layer in &mut self.layers[..first] {
                *layer = None;
            }
        }
        self.background(canvas, index, &visible);
        let to_byte = |opacity: f32| (opacity.clamp(0.0, 1.0) * 255.0).round() as u8;
        let mut captions = 0.0;
        for &(cue, weight) in &visible {
            if let Shot::Caption(text) = &self.plan.cues[cue].shot {
                captions += weight;
                if self.layers[cue].is_none() {
                    self.layers[cue] = Some(self.caption_layer(text));
                    self.captions_rasterised += 1;
                }
            }
        }
        // The title above the captions comes in with the first and stays.
        if let Some(header) = &self.header {
            canvas.composite(header, to_byte(2.0 * captions - 1.0));
        }
        for &(cue, _) in &visible {
            let layer = match self.plan.cues[cue].shot {
                Shot::Title => Some(&self.title_card),
                Shot::Caption(_) => self.layers[cue].as_ref(),
            };
            if let Some(layer) = layer {
                canvas.composite(layer, to_byte(self.plan.text_opacity(cue, index)));
            }
        }
    }

    /// The diagonal band, blended between crossfading scenes, moved along with time.
    fn background(&mut self, canvas: &mut Canvas, index: u32, visible: &[(usize, f32)]) {
        let travel = f64::from(index) / f64::from(self.fps)
            * f64::from(self.palette.speed)
            * self.height as f64;
        let offset = travel as usize % self.period;
        let span = self.width + self.height;
        let weights: Vec<(usize, u32)> = visible
            .iter()
            .map(|&(cue, opacity)| (cue, (opacity * 256.0).round() as u32))
            .collect();
        let total: u32 = weights.iter().map(|(_, w)| w).sum::<u32>().max(1);
        let (window, bands) = (&mut self.window, &self.bands);
        for (plane, from, len, pick) in [
            (&mut window.y, offset, span, 0),
            (&mut window.u, offset / 2, span / 2, 1),
            (&mut window.v, offset / 2, span / 2, 2),
        ] {
            for (i, sample) in plane.iter_mut().enumerate().take(len) {
                let mut sum = 0u32;
                for &(cue, weight) in &weights {
                    let band = &bands[cue];
                    let source = match pick {
                        0 => &band.y,
                        1 => &band.u,
                        _ => &band.v,
                    };
                    sum += u32::from(source[from + i]) * weight;
                }
                *sample = (sum / total) as u8;
            }
        }
        canvas.fill_diagonal(&self.window, self.palette.lean);
    }
}
