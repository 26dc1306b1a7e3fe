//! What the video shows: legible captions per scene, the thumbnail, determinism, text in
//! scripts beyond ASCII, layout proportions and the cut of an over-long prompt.

use super::*;

/// (x, y, width, height) in pixels.
type Rect = (usize, usize, usize, usize);

fn spec_of_request(request: &RenderRequest) -> Spec {
    spec_of(request)
}

/// Whether `region` of a luma plane holds text: enough near-white pixels and enough
/// dark (halo) pixels, as white type on its shadow gives.
fn has_legible_text(luma: &[u8], width: usize, region: Rect) -> bool {
    let (x, y, w, h) = region;
    let (mut bright, mut dark, mut all) = (0usize, 0usize, 0usize);
    for row in y..y + h {
        for &value in &luma[row * width + x..row * width + x + w] {
            all += 1;
            bright += usize::from(value >= 200);
            dark += usize::from(value <= 60);
        }
    }
    bright * 100 >= all * 2 && dark * 100 >= all * 5
}

/// The share of `layer`'s solid ink (coverage of at least seven eighths) that shows as
/// near-white in a luma plane: 1.0 when the whole text is on screen at full strength,
/// far less for a partial (letter-by-letter) or faded one.
fn shown_share(luma: &[u8], width: usize, layer: &text::TextLayer) -> f64 {
    let (mut solid, mut shown) = (0usize, 0usize);
    for row in 0..layer.height {
        for col in 0..layer.width {
            if layer.alpha[row * layer.width + col] >= 224 {
                solid += 1;
                let value = luma[(layer.y + row) * width + layer.x + col];
                shown += usize::from(value >= 180);
            }
        }
    }
    assert!(solid > 100, "the layer has ink");
    shown as f64 / solid as f64
}

fn mean_difference(a: &[u8], b: &[u8], width: usize, region: Rect) -> f64 {
    let (x, y, w, h) = region;
    let mut sum = 0u64;
    for row in y..y + h {
        for col in x..x + w {
            let i = row * width + col;
            sum += u64::from(a[i].abs_diff(b[i]));
        }
    }
    sum as f64 / (w * h).max(1) as f64
}

fn captions_of(plan: &Plan) -> Vec<(usize, String)> {
    plan.cues
        .iter()
        .enumerate()
        .filter_map(|(index, cue)| match &cue.shot {
            Shot::Caption(text) => Some((index, text.clone())),
            Shot::Title => None,
        })
        .collect()
}

#[tokio::test]
async fn every_scene_shows_its_whole_caption_legibly_and_scenes_differ() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = RenderRequest {
        title: "Three Scenes".into(),
        prompt: "The sun sets over the hills. Birds fly home. Night falls and stars come out."
            .into(),
        ..request(1280, 720, 24, 7)
    };
    let spec = spec_of_request(&request);
    let painter = Painter::new(&spec).expect("painter");
    let plan = painter.plan().clone();
    render_ok(request, dir.path()).await;
    let pictures = decode_luma(&dir.path().join("video.mp4.part"));
    assert!(
        has_legible_text(&pictures[0], 1280, painter.title_card().bounds()),
        "the title card"
    );
    let captions = captions_of(&plan);
    assert_eq!(captions.len(), 3, "{captions:?}");
    let mut previous: Option<(Vec<u8>, Rect)> = None;
    for (cue, text) in captions {
        let (from, to) = plan.held(cue);
        assert!(to > from, "{text}: held for {from}..{to}");
        let layer = painter.caption_layer(&text);
        let region = layer.bounds();
        for frame in [from, (from + to) / 2, to - 1] {
            assert!(
                has_legible_text(&pictures[frame as usize], 1280, region),
                "{text}: no legible caption at frame {frame}"
            );
            let shown = shown_share(&pictures[frame as usize], 1280, &layer);
            assert!(
                shown > 0.95,
                "{text}: only {shown} of the caption is shown at frame {frame}"
            );
        }
        // Before its hold the caption is fading in: whole, but not at full strength.
        let fading = (plan.cues[cue].start.saturating_sub(24)..from)
            .rev()
            .find(|&frame| plan.text_opacity(cue, frame) <= 0.5)
            .expect("a frame of the fade-in");
        assert!(
            plan.text_opacity(cue, fading) > 0.0,
            "{text}: frame {fading}"
        );
        let shown = shown_share(&pictures[fading as usize], 1280, &layer);
        assert!(
            shown < 0.5,
            "{text}: {shown} shown at frame {fading}, in its fade-in"
        );
        let middle = pictures[((from + to) / 2) as usize].clone();
        if let Some((before, before_region)) = previous {
            let (x, y) = (region.0.min(before_region.0), region.1.min(before_region.1));
            let union = (
                x,
                y,
                (region.0 + region.2).max(before_region.0 + before_region.2) - x,
                (region.1 + region.3).max(before_region.1 + before_region.3) - y,
            );
            let difference = mean_difference(&before, &middle, 1280, union);
            assert!(
                difference > 8.0,
                "{text}: differs by only {difference} from the scene before"
            );
        }
        previous = Some((middle, region));
    }
}

/// RGB back to BT.601 limited-range luma.
fn luma_of_rgb(rgb: &[u8]) -> Vec<u8> {
    rgb.chunks_exact(3)
        .map(|p| Yuv::from_rgb(p[0], p[1], p[2]).y)
        .collect()
}

#[tokio::test]
async fn the_thumbnail_shows_the_title_and_the_first_caption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = request(1280, 720, 24, 4);
    let spec = spec_of_request(&request);
    let painter = Painter::new(&spec).expect("painter");
    let (cue, first) = captions_of(painter.plan())
        .into_iter()
        .next()
        .expect("a caption");
    let held = painter.plan().held(cue);
    let thumbnail = spec.thumbnail_frame();
    assert!(
        (held.0..held.1).contains(&thumbnail),
        "{thumbnail} outside {held:?}"
    );
    render_ok(request, dir.path()).await;
    let file = std::fs::File::open(dir.path().join("thumb.png.part")).expect("thumbnail");
    let mut png = png::Decoder::new(BufReader::new(file))
        .read_info()
        .expect("png");
    let mut rgb = vec![0; png.output_buffer_size()];
    png.next_frame(&mut rgb).expect("pixels");
    let luma = luma_of_rgb(&rgb);
    let caption = painter.caption_layer(&first);
    assert!(has_legible_text(&luma, 1280, caption.bounds()), "caption");
    let header = painter.header().expect("a title");
    assert!(has_legible_text(&luma, 1280, header.bounds()), "title");
    for (name, layer) in [("caption", &caption), ("title", header)] {
        let shown = shown_share(&luma, 1280, layer);
        assert!(
            shown > 0.95,
            "only {shown} of the {name} is in the thumbnail"
        );
    }
}

#[tokio::test]
async fn the_same_request_gives_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&first).expect("dir");
    std::fs::create_dir_all(&second).expect("dir");
    render_ok(request(1280, 720, 24, 2), &first).await;
    render_ok(request(1280, 720, 24, 2), &second).await;
    for name in ["video.mp4.part", "thumb.png.part"] {
        let a = std::fs::read(first.join(name)).expect("first");
        let b = std::fs::read(second.join(name)).expect("second");
        assert!(a == b, "{name} differs between two renders of one request");
    }
}

/// The font's own rasterisation of `text` on one line, straight from `ab_glyph`, into a
/// mask the size of `layer` with the pen where the layer put it.
fn reference_mask(
    face_px: ab_glyph::PxScale,
    text: &str,
    layer: &text::TextLayer,
    origin: (f32, f32),
) -> Vec<u8> {
    font_rasterisation(face_px, text, (layer.width, layer.height), origin)
}

/// The font's own rasterisation of `text` on one line into a `size` mask, the pen
/// starting at `origin` (left end of the baseline).
fn font_rasterisation(
    face_px: ab_glyph::PxScale,
    text: &str,
    size: (usize, usize),
    origin: (f32, f32),
) -> Vec<u8> {
    let (mask_width, mask_height) = size;
    use ab_glyph::{Font, ScaleFont};
    let fonts = text::Fonts::embedded().expect("font");
    let font = fonts.regular.as_scaled(face_px);
    let mut mask = vec![0u8; mask_width * mask_height];
    let mut pen = origin.0;
    let mut previous = None;
    for c in text.chars() {
        let id = fonts.regular.glyph_id(c);
        assert_ne!(id.0, 0, "{c:?} is in the font");
        if let Some(previous) = previous {
            pen += font.kern(previous, id);
        }
        let glyph = id.with_scale_and_position(face_px, ab_glyph::point(pen, origin.1));
        if let Some(outlined) = fonts.regular.outline_glyph(glyph) {
            let bounds = outlined.px_bounds();
            outlined.draw(|x, y, coverage| {
                let (px, py) = (
                    bounds.min.x as i64 + i64::from(x),
                    bounds.min.y as i64 + i64::from(y),
                );
                if px >= 0 && py >= 0 && (px as usize) < mask_width && (py as usize) < mask_height {
                    let cell = &mut mask[py as usize * mask_width + px as usize];
                    *cell = cell.saturating_add((coverage.clamp(0.0, 1.0) * 255.0).round() as u8);
                }
            });
        }
        pen += font.h_advance(id);
        previous = Some(id);
    }
    mask
}

#[test]
fn accented_greek_and_cyrillic_text_is_drawn_with_the_fonts_own_glyphs() {
    let fonts = text::Fonts::embedded().expect("font");
    for sample in ["Crème brûlée", "Αθήνα", "Москва"] {
        let face = text::Face::new(&fonts.regular, 40.0);
        assert!(sample.chars().all(|c| face.covers(c)), "{sample}");
        let at = text::Placement {
            centre_x: 400.0,
            top: 100.0,
        };
        let layer = text::TextLayer::draw(&face, &[sample.to_owned()], at);
        let width = face.width(sample);
        let ascent = {
            use ab_glyph::{Font, ScaleFont};
            fonts.regular.as_scaled(face.scale()).ascent()
        };
        let origin = (
            400.0 - width / 2.0 - layer.x as f32,
            100.0 + ascent - layer.y as f32,
        );
        let reference = reference_mask(face.scale(), sample, &layer, origin);
        let ink: u64 = reference.iter().map(|&v| u64::from(v)).sum();
        assert!(ink > 255 * 200, "{sample}: the reference has ink");
        let off: u64 = layer
            .alpha
            .iter()
            .zip(&reference)
            .map(|(&a, &b)| u64::from(a.abs_diff(b)))
            .sum();
        assert!(
            off * 50 < ink,
            "{sample}: {off} of {ink} differs from the font's rendering"
        );
        let boxes: String = sample
            .chars()
            .map(|c| if c == ' ' { ' ' } else { text::FALLBACK })
            .collect();
        let boxed = text::TextLayer::draw(&face, &[boxes], at);
        assert_ne!(
            boxed.alpha, layer.alpha,
            "{sample}: not drawn as replacement marks"
        );
    }
    let face = text::Face::new(&fonts.regular, 40.0);
    assert!(!face.covers('\u{10FFFD}'));
    let missing = text::TextLayer::draw(
        &face,
        &["\u{10FFFD}".to_owned()],
        text::Placement {
            centre_x: 100.0,
            top: 10.0,
        },
    );
    assert!(
        missing.alpha.iter().any(|&v| v > 200),
        "a missing glyph stays visible"
    );
}

#[tokio::test]
async fn non_latin_captions_reach_the_video() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = RenderRequest {
        prompt: "Crème brûlée. Αθήνα. Москва.".into(),
        ..request(1280, 720, 24, 3)
    };
    let spec = spec_of_request(&request);
    let mut painter = Painter::new(&spec).expect("painter");
    render_ok(request, dir.path()).await;
    let pictures = decode_luma(&dir.path().join("video.mp4.part"));
    let plan = painter.plan().clone();
    for (cue, text) in captions_of(&plan) {
        let (from, to) = plan.held(cue);
        let frame = (from + to) / 2;
        let mut expected = Canvas::new(1280, 720);
        painter.paint(&mut expected, frame);
        let region = painter.caption_layer(&text).bounds();
        let difference = mean_difference(&expected.y, &pictures[frame as usize], 1280, region);
        assert!(
            difference < 3.0,
            "{text}: the video is {difference} off the drawn frame"
        );
        assert!(
            has_legible_text(&pictures[frame as usize], 1280, region),
            "{text}"
        );

        // The decoded picture against the font's own drawing of the caption, not
        // against replacement marks.
        let (face, lines, at) = painter.caption_layout(&text);
        assert_eq!(lines, vec![text.clone()], "one line");
        let ascent = {
            use ab_glyph::{Font, ScaleFont};
            text::Fonts::embedded()
                .expect("font")
                .regular
                .as_scaled(face.scale())
                .ascent()
        };
        let origin = (at.centre_x - face.width(&text) / 2.0, at.top + ascent);
        let reference = font_rasterisation(face.scale(), &text, (1280, 720), origin);
        let boxes: String = text
            .chars()
            .map(|c| if c.is_alphabetic() { text::FALLBACK } else { c })
            .collect();
        let boxed = font_rasterisation(face.scale(), &boxes, (1280, 720), origin);
        let picture = &pictures[frame as usize];
        let ink = |mask: &[u8]| -> Vec<bool> {
            let mut inked = vec![false; 1280 * 720];
            for row in region.1..region.1 + region.3 {
                for col in region.0..region.0 + region.2 {
                    inked[row * 1280 + col] = mask[row * 1280 + col] >= 128;
                }
            }
            inked
        };
        let seen = ink(&picture
            .iter()
            .map(|&v| if v >= 160 { 255 } else { 0 })
            .collect::<Vec<_>>());
        let overlap = |expected: &[bool]| {
            let both = seen
                .iter()
                .zip(expected)
                .filter(|(a, b)| **a && **b)
                .count();
            let either = seen
                .iter()
                .zip(expected)
                .filter(|(a, b)| **a || **b)
                .count();
            both as f64 / either.max(1) as f64
        };
        let glyphs = overlap(&ink(&reference));
        let marks = overlap(&ink(&boxed));
        assert!(
            glyphs > 0.75 && marks < 0.5,
            "{text}: the video matches the font's glyphs by {glyphs} and replacement marks by {marks}"
        );
    }
}

#[tokio::test]
async fn a_huge_prompt_in_a_short_video_is_shortened_not_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let words = ["lorem", "ipsum", "dolor", "sit", "amet."];
    let prompt: String = (0..2000)
        .map(|i| words[i % 5])
        .collect::<Vec<_>>()
        .join(" ");
    let prompt = prompt[..10_000].to_owned();
    let request = RenderRequest {
        prompt,
        ..request(1280, 720, 24, 5)
    };
    let plan = Painter::new(&spec_of_request(&request))
        .expect("painter")
        .plan()
        .clone();
    let (rendered, _) = render_ok(request, dir.path()).await;
    assert_eq!(rendered.frame_count, 120);
    let cut = plan.shortened.expect("the prompt was shortened");
    assert!(cut.kept_words <= 15 && cut.total_words > 1000, "{cut:?}");
    let captions = captions_of(&plan);
    let last = &captions.last().expect("captions").1;
    assert!(last.ends_with(text::ELLIPSIS), "{last}");
}

/// Rows from the top of the first line's ink to its bottom (ascenders to descenders).
fn first_line_ink(layer: &text::TextLayer) -> usize {
    let inked: Vec<bool> = layer
        .alpha
        .chunks_exact(layer.width)
        .map(|row| row.iter().any(|&v| v >= 128))
        .collect();
    inked
        .iter()
        .skip_while(|&&inked| !inked)
        .take_while(|&&inked| inked)
        .count()
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn cutting_the_prompt_is_logged_in_the_jobs_span() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let spec = Spec {
        // A character the font lacks: drawn as a replacement mark, and said so.
        title: "T\u{10FFFD}".into(),
        prompt: "word ".repeat(3000),
        width: 1280,
        height: 720,
        fps: 24,
        duration_seconds: 5,
    };
    tracing::subscriber::with_default(subscriber, || {
        // The render job's span (see `RenderJob::render`).
        let _span = tracing::info_span!("render", job_id = 42, video_id = 7).entered();
        Painter::new(&spec).expect("painter");
    });
    let log = String::from_utf8(captured.0.lock().expect("log").clone()).expect("utf-8");
    assert!(log.contains("captions shortened"), "{log}");
    assert!(log.contains("job_id=42"), "{log}");
    assert!(log.contains("video_id=7"), "{log}");
    assert!(log.contains("total_words=3000"), "{log}");
    assert!(
        log.contains("replacement mark") && log.contains("missing=1"),
        "{log}"
    );
}

#[test]
fn layout_keeps_text_inside_the_safe_area_at_the_same_proportions() {
    let long_word = "Pneumonoultramicroscopicsilicovolcanoconiosis".repeat(3);
    let mut seen = Vec::new();
    for (width, height) in [(1280usize, 720usize), (1920, 1080)] {
        let spec = Spec {
            title: "A title long enough to need wrapping onto a second line on its card".into(),
            prompt: format!("{long_word} and a few more words to wrap. Short."),
            width,
            height,
            fps: 24,
            duration_seconds: 10,
        };
        let painter = Painter::new(&spec).expect("painter");
        let (w, h) = (width as f64, height as f64);
        let mut layers = vec![
            painter.title_card().bounds(),
            painter.header().expect("title").bounds(),
        ];
        let header = first_line_ink(painter.header().expect("title")) as f64 / h;
        assert!(
            header >= 0.06,
            "{height}p: the title is {header} of the height"
        );
        for (_, text) in captions_of(painter.plan()) {
            let layer = painter.caption_layer(&text);
            let ink = first_line_ink(&layer) as f64 / h;
            assert!(ink >= 0.04, "{height}p: {text} is {ink} of the height");
            layers.push(layer.bounds());
        }
        for (x, y, lw, lh) in &layers {
            // The halo may reach a few pixels into the margin; the ink may not.
            let slack = 0.01;
            assert!(*x as f64 >= w * (0.05 - slack), "{width}: left {x}");
            assert!(*y as f64 >= h * (0.05 - slack), "{width}: top {y}");
            assert!(
                ((x + lw) as f64) <= w * (0.95 + slack),
                "{width}: right {}",
                x + lw
            );
            assert!(
                ((y + lh) as f64) <= h * (0.95 + slack),
                "{width}: bottom {}",
                y + lh
            );
        }
        seen.push(
            layers
                .iter()
                .map(|(x, y, lw, lh)| {
                    [*x as f64 / w, *y as f64 / h, *lw as f64 / w, *lh as f64 / h]
                })
                .collect::<Vec<_>>(),
        );
    }
    for (small, large) in seen[0].iter().zip(&seen[1]) {
        for (a, b) in small.iter().zip(large) {
            assert!(
                (a - b).abs() < 0.01,
                "720p {small:?} against 1080p {large:?}"
            );
        }
    }
}

#[test]
fn wrapping_follows_the_measured_width() {
    let fonts = text::Fonts::embedded().expect("font");
    let face = text::Face::new(&fonts.regular, 30.0);
    let text = "one two three four five six seven eight nine ten";
    let lines = face.wrap(text, 200.0);
    assert!(lines.len() > 1, "{lines:?}");
    assert!(lines.iter().all(|l| face.width(l) <= 200.0), "{lines:?}");
    assert_eq!(lines.join(" "), text);
    let broken = face.wrap(&"m".repeat(100), 200.0);
    assert!(broken.len() > 1 && broken.iter().all(|l| face.width(l) <= 200.0));
    assert_eq!(broken.concat(), "m".repeat(100));
    let cut = face.layout(text, 200.0, 1).expect("a line");
    assert!(
        cut[0].ends_with(text::ELLIPSIS) && face.width(&cut[0]) <= 200.0,
        "{cut:?}"
    );
}

/// The ink's bounding box in the frame: (left, top, right, bottom), exclusive.
fn ink_bounds(layer: &text::TextLayer) -> (usize, usize, usize, usize) {
    let (mut left, mut top, mut right, mut bottom) = (usize::MAX, usize::MAX, 0, 0);
    for row in 0..layer.height {
        for col in 0..layer.width {
            if layer.alpha[row * layer.width + col] > 0 {
                left = left.min(layer.x + col);
                right = right.max(layer.x + col + 1);
                top = top.min(layer.y + row);
                bottom = bottom.max(layer.y + row + 1);
            }
        }
    }
    (left, top, right, bottom)
}

#[test]
fn the_longest_caption_and_title_fit_whole_inside_the_margins_at_720p_and_1080p() {
    let fonts = text::Fonts::embedded().expect("font");
    let face = text::Face::new(&fonts.regular, 100.0);
    let widest = "WMmwШЩЖЮΩΨΦ@%"
        .chars()
        .max_by(|a, b| {
            face.width(&a.to_string())
                .total_cmp(&face.width(&b.to_string()))
        })
        .expect("letters");
    // The most a scene can hold: as many of the widest letter as a caption may have, in
    // words of every length up to the longest.
    let worst: Vec<String> = (1..=scenes::LONGEST_WORD)
        .map(|letters| {
            let word: String = std::iter::repeat_n(widest, letters).collect();
            // `CHUNK_CHARS` counts a space before every word.
            let count = scenes::CHUNK_CHARS / (letters + 1);
            let most = scenes::CHUNK_WORDS + scenes::CHUNK_WORDS / 4;
            vec![word; count.clamp(1, most)].join(" ")
        })
        .collect();
    let title: String = std::iter::repeat_n(widest, 200).collect();
    let mut proportions = Vec::new();
    for (width, height) in [(1280usize, 720usize), (1920, 1080)] {
        let (w, h) = (width as f64, height as f64);
        let mut sizes = Vec::new();
        for caption in &worst {
            let spec = Spec {
                title: title.clone(),
                prompt: caption.clone(),
                width,
                height,
                fps: 24,
                duration_seconds: 20,
            };
            let painter = Painter::new(&spec).expect("painter");
            let shown = captions_of(painter.plan());
            assert_eq!(
                shown.iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>(),
                vec![caption.as_str()],
                "one scene with the whole caption"
            );
            let (face, lines, _) = painter.caption_layout(caption);
            assert_eq!(
                lines.concat().replace(' ', ""),
                caption.replace(' ', ""),
                "{height}p: the whole caption, no ellipsis"
            );
            let em = face.em() / height as f32;
            assert!(em >= 0.04, "{height}p: captions at {em} of the height");
            sizes.push(em);

            let layers = [
                ("caption", painter.caption_layer(caption)),
                ("title card", painter.title_card().clone()),
                ("title", painter.header().expect("a title").clone()),
            ];
            for (name, layer) in &layers {
                let (left, top, right, bottom) = ink_bounds(layer);
                // One pixel of anti-aliasing may fall on the margin's edge.
                assert!(
                    left as f64 >= w * 0.05 - 1.0,
                    "{height}p {name}: left {left}"
                );
                assert!(top as f64 >= h * 0.05 - 1.0, "{height}p {name}: top {top}");
                assert!(
                    right as f64 <= w * 0.95 + 1.0,
                    "{height}p {name}: right {right}"
                );
                assert!(
                    bottom as f64 <= h * 0.95 + 1.0,
                    "{height}p {name}: bottom {bottom}"
                );
            }
        }
        proportions.push(sizes);
    }
    for (small, large) in proportions[0].iter().zip(&proportions[1]) {
        assert!(
            (small - large).abs() < 0.003,
            "caption sizes at 720p and 1080p: {small} and {large}"
        );
    }
}

/// Mean absolute luma difference over the bottom margin, where no text ever goes.
fn margin_difference(a: &Canvas, b: &Canvas) -> f64 {
    let from = a.height * 96 / 100;
    mean_difference(&a.y, &b.y, a.width, (0, from, a.width, a.height - from))
}

#[test]
fn the_background_drifts_slowly_and_scenes_crossfade() {
    let spec = Spec {
        title: "Drift".into(),
        prompt: "A first scene of a few words. A second scene of a few words.".into(),
        width: 1280,
        height: 720,
        fps: 24,
        duration_seconds: 8,
    };
    let mut painter = Painter::new(&spec).expect("painter");
    let frames: Vec<Canvas> = (0..spec.frame_count())
        .map(|index| {
            let mut canvas = Canvas::new(1280, 720);
            painter.paint(&mut canvas, index);
            canvas
        })
        .collect();
    let steps: Vec<f64> = frames
        .windows(2)
        .map(|pair| margin_difference(&pair[0], &pair[1]))
        .collect();
    let largest = steps.iter().copied().fold(0.0, f64::max);
    assert!(
        largest < 2.0,
        "no frame jumps: the largest step is {largest}"
    );
    assert!(
        steps.iter().filter(|&&step| step > 0.0).count() > steps.len() / 2,
        "the background moves: {steps:?}"
    );
    let plan = painter.plan().clone();
    let (a, b) = (plan.held(1), plan.held(2));
    let across = margin_difference(&frames[(a.1 - 1) as usize], &frames[b.0 as usize]);
    assert!(
        across > 3.0 * largest,
        "scenes have their own colours ({across}), reached through a crossfade, not a cut"
    );
    assert_eq!(
        painter.captions_rasterised(),
        captions_of(&plan).len(),
        "each caption rasterised once, however many frames it shows"
    );
}
