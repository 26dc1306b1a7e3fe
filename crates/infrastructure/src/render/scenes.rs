//! The prompt cut into scenes on the video's timeline: a title card, then one caption
//! per sentence (long sentences in chunks of about a dozen words and of no more
//! characters than a caption can show whole), each on screen for a
//! time proportional to its length, with crossfades between them and the last one held
//! to the end. A prompt longer than the duration can show at a readable pace is cut
//! with an ellipsis.

use super::text::ELLIPSIS;

/// The most words a viewer is asked to read per second.
pub const WORDS_PER_SECOND: u32 = 3;
/// Words per caption when a sentence has to be split.
pub const CHUNK_WORDS: usize = 12;
/// Characters (spaces included) per caption at most: a caption of this many of the
/// widest letters still fits the caption area at the smallest caption size, so that
/// every scene shows its whole caption.
pub const CHUNK_CHARS: usize = 160;
/// A word longer than this counts (and may be cut) as several, in characters.
pub const LONGEST_WORD: usize = 24;
/// Length of a crossfade, in tenths of a second (shorter for short scenes).
const FADE_TENTHS: u32 = 6;
/// The title card's share of the video: at most this many seconds, at most a quarter.
const TITLE_SECONDS: u32 = 2;

/// What a scene shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shot {
    /// The title, large, alone.
    Title,
    /// A caption under the title.
    Caption(String),
}

/// A scene and the frames `[start, end)` it owns; it fades in before `start` and out
/// after `end` (see [`Plan::opacity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    /// What the scene shows.
    pub shot: Shot,
    /// Its first frame.
    pub start: u32,
    /// The frame after its last.
    pub end: u32,
}

/// How much of the prompt was kept when it had to be cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortened {
    /// Words (or pieces of very long words) shown.
    pub kept_words: usize,
    /// Words in the prompt.
    pub total_words: usize,
}

/// The timeline of one video.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The title card, then the captions, back to back from frame 0 to the last.
    pub cues: Vec<Cue>,
    /// Set when the prompt was cut to fit the duration.
    pub shortened: Option<Shortened>,
    fades: Vec<u32>,
}

/// Closing quotes and brackets that may follow the full stop of a sentence.
const CLOSING: &[char] = &['"', '\'', ')', ']', '\u{bb}', '\u{201d}', '\u{2019}'];

/// A word (or a piece of a very long one), the sentence it belongs to, and whether a
/// space comes before it.
#[derive(Debug, Clone)]
struct Unit {
    text: String,
    sentence: usize,
    spaced: bool,
}

fn units_of(prompt: &str) -> Vec<Unit> {
    let mut units = Vec::new();
    let mut sentence = 0;
    for line in prompt.lines() {
        let mut ended = true;
        for word in line.split_whitespace() {
            if ended && !units.is_empty() {
                sentence += 1;
            }
            let chars: Vec<char> = word.chars().collect();
            for (index, piece) in chars.chunks(LONGEST_WORD).enumerate() {
                units.push(Unit {
                    text: piece.iter().collect(),
                    sentence,
                    spaced: index == 0,
                });
            }
            ended = word
                .trim_end_matches(CLOSING)
                .ends_with(['.', '!', '?', ELLIPSIS]);
        }
    }
    units
}

fn join(units: &[Unit]) -> String {
    let mut text = String::new();
    for unit in units {
        if unit.spaced && !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&unit.text);
    }
    text
}

/// Characters of `units` joined.
fn length(units: &[Unit]) -> usize {
    units
        .iter()
        .map(|unit| unit.text.chars().count() + usize::from(unit.spaced))
        .sum()
}

/// `units` split by sentence, sentences much longer than [`CHUNK_WORDS`] into chunks of
/// about that many, and chunks longer than [`CHUNK_CHARS`] further, before the word that
/// would take them over.
fn chunks(units: &[Unit]) -> Vec<&[Unit]> {
    let mut chunks = Vec::new();
    for chunk in word_chunks(units) {
        let mut from = 0;
        for to in 1..=chunk.len() {
            if to - from > 1 && length(&chunk[from..to]) > CHUNK_CHARS {
                chunks.push(&chunk[from..to - 1]);
                from = to - 1;
            }
        }
        chunks.push(&chunk[from..]);
    }
    chunks
}

fn word_chunks(units: &[Unit]) -> Vec<&[Unit]> {
    let mut chunks = Vec::new();
    for sentence in units.chunk_by(|a, b| a.sentence == b.sentence) {
        let count = sentence.len().div_ceil(CHUNK_WORDS);
        let count = if sentence.len() <= CHUNK_WORDS + CHUNK_WORDS / 4 {
            1
        } else {
            count
        };
        let mut from = 0;
        for index in 1..=count {
            let to = sentence.len() * index / count;
            chunks.push(&sentence[from..to]);
            from = to;
        }
    }
    chunks
}

impl Plan {
    /// The timeline of a video of `frames` frames at `fps` showing `prompt`.
    pub fn new(prompt: &str, fps: u32, frames: u32) -> Self {
        let fps = fps.max(1);
        let mut units = units_of(prompt);
        let title_frames = if units.is_empty() {
            frames
        } else {
            (TITLE_SECONDS * fps).min(frames / 4).max(1)
        };
        let caption_frames = frames.saturating_sub(title_frames);
        let budget = ((caption_frames * WORDS_PER_SECOND / fps) as usize).max(1);
        let mut shortened = None;
        if units.len() > budget {
            shortened = Some(Shortened {
                kept_words: budget,
                total_words: units.len(),
            });
            units.truncate(budget);
            if let Some(last) = units.last_mut() {
                let kept = last.text.trim_end_matches([',', ';', ':', '.', '-']);
                last.text = format!("{kept}{ELLIPSIS}");
            }
        }
        let mut cues = vec![Cue {
            shot: Shot::Title,
            start: 0,
            end: title_frames,
        }];
        if caption_frames > 0 && !units.is_empty() {
            let total = units.len() as u64;
            let mut done = 0u64;
            let mut start = title_frames;
            for chunk in chunks(&units) {
                done += chunk.len() as u64;
                let end = title_frames + (u64::from(caption_frames) * done / total) as u32;
                cues.push(Cue {
                    shot: Shot::Caption(join(chunk)),
                    start,
                    end,
                });
                start = end;
            }
        }
        if let Some(last) = cues.last_mut() {
            last.end = frames;
        }
        let fade = (fps * FADE_TENTHS / 10).max(2);
        let fades = cues
            .windows(2)
            .map(|pair| {
                let shortest = (pair[0].end - pair[0].start).min(pair[1].end - pair[1].start);
                fade.min(shortest / 3)
            })
            .collect();
        Self {
            cues,
            shortened,
            fades,
        }
    }

    /// Frames of the crossfade into cue `index` (0 for the first).
    fn fade_in(&self, index: usize) -> u32 {
        index.checked_sub(1).map_or(0, |i| self.fades[i])
    }

    /// Frames of the crossfade out of cue `index` (0 for the last, held to the end).
    fn fade_out(&self, index: usize) -> u32 {
        self.fades.get(index).copied().unwrap_or(0)
    }

    /// How far cue `index` has come in (0.0 to 1.0) and gone out (0.0 to 1.0) at `frame`.
    fn ramps(&self, index: usize, frame: u32) -> (f32, f32) {
        let Some(cue) = self.cues.get(index) else {
            return (0.0, 1.0);
        };
        let ramp = |from: u32, length: u32| {
            if length == 0 {
                if frame >= from { 1.0 } else { 0.0 }
            } else {
                ((frame as f32 - from as f32 + 0.5) / length as f32).clamp(0.0, 1.0)
            }
        };
        let fade_in = self.fade_in(index);
        let fade_out = self.fade_out(index);
        let shown = if index == 0 {
            1.0
        } else {
            ramp(cue.start - fade_in / 2, fade_in)
        };
        let hidden = if index + 1 == self.cues.len() {
            0.0
        } else {
            ramp(cue.end - fade_out / 2, fade_out)
        };
        (shown, hidden)
    }

    /// The weight of cue `index`'s background at `frame`, 0.0..=1.0: crossfading cues
    /// add up to 1.
    pub fn opacity(&self, index: usize, frame: u32) -> f32 {
        let (shown, hidden) = self.ramps(index, frame);
        (shown - hidden).max(0.0)
    }

    /// The opacity of cue `index`'s text at `frame`: the outgoing text fades out in the
    /// first half of a crossfade and the incoming one fades in during the second, so
    /// two captions never overlap at full strength.
    pub fn text_opacity(&self, index: usize, frame: u32) -> f32 {
        let (shown, hidden) = self.ramps(index, frame);
        (2.0 * shown - 1.0).min(1.0 - 2.0 * hidden).clamp(0.0, 1.0)
    }

    /// The frames `[from, to)` where cue `index` is fully visible.
    pub fn held(&self, index: usize) -> (u32, u32) {
        let Some(cue) = self.cues.get(index) else {
            return (0, 0);
        };
        let fade_in = self.fade_in(index);
        let from = cue.start - fade_in / 2 + fade_in;
        let to = cue.end - self.fade_out(index) / 2;
        (from, to.max(from))
    }

    /// The frame for the thumbnail: the middle of the first caption's hold, where the
    /// title (above it) and the caption are both fully visible; the title card's middle
    /// when there is no caption.
    pub fn thumbnail(&self) -> u32 {
        let index = usize::from(self.cues.len() > 1);
        let (from, to) = self.held(index);
        from + (to - from) / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captions(plan: &Plan) -> Vec<&str> {
        plan.cues
            .iter()
            .filter_map(|cue| match &cue.shot {
                Shot::Caption(text) => Some(text.as_str()),
                Shot::Title => None,
            })
            .collect()
    }

    #[test]
    fn sentences_become_scenes_with_time_in_proportion_to_their_length() {
        let plan = Plan::new(
            "One two three four. Five six seven eight nine ten eleven twelve! Short?",
            24,
            24 * 10,
        );
        assert_eq!(
            captions(&plan),
            vec![
                "One two three four.",
                "Five six seven eight nine ten eleven twelve!",
                "Short?"
            ]
        );
        assert_eq!(plan.cues[0].shot, Shot::Title);
        assert_eq!(plan.cues[0].start, 0);
        assert_eq!(plan.cues.last().map(|c| c.end), Some(240));
        assert!(plan.cues.windows(2).all(|w| w[0].end == w[1].start));
        let lengths: Vec<u32> = plan.cues[1..].iter().map(|c| c.end - c.start).collect();
        // 4, 8 and 1 words share 240 - 48 frames.
        assert_eq!(lengths, vec![59, 118, 15]);
        assert_eq!(plan.shortened, None);
    }

    #[test]
    fn a_sentence_ends_before_closing_quotes_and_at_line_breaks() {
        let plan = Plan::new(
            "He said \"go.\" She went (quickly.) Then\nanother line",
            24,
            24 * 20,
        );
        assert_eq!(
            captions(&plan),
            vec![
                "He said \"go.\"",
                "She went (quickly.)",
                "Then",
                "another line"
            ]
        );
    }

    #[test]
    fn each_caption_fades_in_is_held_whole_then_fades_out() {
        let plan = Plan::new("First scene here. Second scene there. Third.", 24, 24 * 6);
        let last = plan.cues.len() - 1;
        for index in 0..plan.cues.len() {
            let cue = &plan.cues[index];
            let (from, to) = plan.held(index);
            let before = cue.start.saturating_sub(plan.fade_in(index));
            let after = (cue.end + plan.fade_out(index)).min(144);
            let opacities: Vec<f32> = (before..after)
                .map(|frame| plan.text_opacity(index, frame))
                .collect();
            let (rising, rest) = opacities.split_at((from - before) as usize);
            let (hold, falling) = rest.split_at((to - from) as usize);
            assert!(
                hold.len() >= 12,
                "cue {index}: held only {} frames",
                hold.len()
            );
            assert!(hold.iter().all(|&o| o == 1.0), "cue {index}: {hold:?}");
            assert!(rising.windows(2).all(|w| w[0] <= w[1]), "{rising:?}");
            assert!(falling.windows(2).all(|w| w[0] >= w[1]), "{falling:?}");
            if index > 0 {
                assert!(
                    rising.first() == Some(&0.0),
                    "cue {index} fades in: {rising:?}"
                );
                assert!(rising.iter().any(|&o| o > 0.0 && o < 1.0), "{rising:?}");
            }
            if index < last {
                assert!(
                    falling.last() == Some(&0.0),
                    "cue {index} fades out: {falling:?}"
                );
                assert!(falling.iter().any(|&o| o > 0.0 && o < 1.0), "{falling:?}");
            } else {
                assert_eq!(to, 144, "the last scene is held to the end");
            }
        }
    }

    #[test]
    fn long_sentences_are_chunked_and_long_prompts_cut_with_an_ellipsis() {
        let sentence = (1..=30)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let plan = Plan::new(&sentence, 30, 30 * 20);
        let chunks = captions(&plan);
        assert_eq!(chunks.len(), 3, "{chunks:?}");
        assert!(
            chunks.iter().all(|c| c.split(' ').count() == 10),
            "{chunks:?}"
        );

        let plan = Plan::new(&"word ".repeat(2000), 24, 24 * 5);
        let shortened = plan.shortened.expect("cut");
        assert_eq!(shortened.total_words, 2000);
        // 3.75 s of captions after the title card's quarter, three words a second.
        assert_eq!(shortened.kept_words, 11);
        let shown = captions(&plan).join(" ");
        assert!(shown.ends_with("word\u{2026}"), "{shown}");
        assert_eq!(shown.split(' ').count(), 11);
    }

    #[test]
    fn a_caption_never_holds_more_than_its_share_of_characters() {
        let long = "x".repeat(LONGEST_WORD);
        let prompt = vec![long.as_str(); 40].join(" ");
        let plan = Plan::new(&prompt, 24, 24 * 60);
        let shown = captions(&plan);
        assert!(shown.len() > 40 / CHUNK_WORDS, "{shown:?}");
        assert!(
            shown.iter().all(|c| c.chars().count() <= CHUNK_CHARS),
            "{shown:?}"
        );
        assert_eq!(shown.join(" "), prompt, "nothing lost");
    }

    #[test]
    fn a_huge_word_is_cut_into_pieces_that_fit_the_budget() {
        let plan = Plan::new(&"x".repeat(10_000), 24, 24 * 5);
        let shown = captions(&plan).concat();
        assert_eq!(shown.chars().count(), 11 * LONGEST_WORD + 1);
    }

    #[test]
    fn crossfades_sum_to_one_and_the_thumbnail_shows_title_and_first_caption() {
        let plan = Plan::new("First scene here. Second scene there.", 24, 24 * 4);
        for frame in 0..96 {
            let total: f32 = (0..plan.cues.len()).map(|i| plan.opacity(i, frame)).sum();
            assert!((total - 1.0).abs() < 1e-4, "frame {frame}: {total}");
        }
        for frame in 0..96 {
            let texts: Vec<f32> = (0..plan.cues.len())
                .map(|i| plan.text_opacity(i, frame))
                .filter(|&o| o > 0.0)
                .collect();
            assert!(texts.len() <= 1, "frame {frame}: texts overlap {texts:?}");
        }
        assert_eq!(plan.opacity(0, 0), 1.0);
        assert_eq!(plan.text_opacity(0, 0), 1.0);
        assert_eq!(plan.opacity(2, 95), 1.0);
        assert_eq!(plan.text_opacity(2, 95), 1.0);
        let thumbnail = plan.thumbnail();
        assert_eq!(plan.text_opacity(1, thumbnail), 1.0);
        let (from, to) = plan.held(1);
        assert!(from > plan.cues[1].start && to < plan.cues[1].end);
    }

    #[test]
    fn an_empty_prompt_is_all_title_card() {
        let plan = Plan::new("  \n ", 30, 30);
        assert_eq!(plan.cues.len(), 1);
        assert_eq!((plan.cues[0].start, plan.cues[0].end), (0, 30));
        assert_eq!(plan.thumbnail(), 15);
    }
}
