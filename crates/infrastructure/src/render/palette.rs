//! Colours and motion taken from the prompt, deterministically: a palette picked by the
//! colour and mood words it uses ("sunset", "ocean", "night", "forest", ...), else built
//! from a hash of the prompt, and the drift of the background (direction and speed) from
//! the same hash.

use super::canvas::{Band, Yuv};

/// Three dark-to-mid tones, chosen so that white text with a dark halo stays legible.
type Stops = [(u8, u8, u8); 3];

/// Moods and the word stems that call for them, in order of precedence on a tie.
const MOODS: &[(&str, &[&str], Stops)] = &[
    (
        "sunset",
        &[
            "sunset", "sunrise", "dusk", "dawn", "golden", "amber", "orange", "evening",
        ],
        [(120, 40, 60), (165, 72, 32), (62, 30, 92)],
    ),
    (
        "ocean",
        &[
            "ocean",
            "sea",
            "wave",
            "beach",
            "lake",
            "river",
            "water",
            "blue",
            "underwater",
        ],
        [(10, 52, 104), (22, 92, 122), (10, 30, 72)],
    ),
    (
        "night",
        &[
            "night", "midnight", "star", "moon", "space", "galaxy", "dark",
        ],
        [(12, 14, 44), (38, 22, 74), (6, 28, 58)],
    ),
    (
        "forest",
        &[
            "forest", "tree", "wood", "jungle", "green", "leaf", "leaves", "garden", "meadow",
            "moss",
        ],
        [(22, 62, 32), (52, 84, 30), (12, 42, 38)],
    ),
    (
        "desert",
        &["desert", "sand", "dune", "canyon"],
        [(136, 88, 40), (108, 60, 32), (146, 104, 58)],
    ),
    (
        "snow",
        &["snow", "winter", "ice", "frost", "glacier", "cold"],
        [(58, 80, 112), (88, 98, 122), (40, 56, 86)],
    ),
    (
        "fire",
        &["fire", "flame", "lava", "volcano", "red", "ember"],
        [(130, 30, 22), (92, 20, 30), (150, 62, 20)],
    ),
    (
        "storm",
        &["storm", "rain", "fog", "mist", "grey", "gray", "cloud"],
        [(50, 56, 66), (72, 76, 92), (34, 40, 50)],
    ),
];

/// 64-bit FNV-1a: small, fixed forever, the same on every machine.
pub fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The look of one video.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    /// Which mood's words won, or `None` when the colours come from the hash.
    pub mood: Option<&'static str>,
    stops: Stops,
    /// Whether the diagonal leans the other way.
    pub lean: bool,
    /// Background drift in band samples per second, as a fraction of the frame height.
    pub speed: f32,
}

impl Palette {
    /// The palette for `prompt`.
    pub fn from_prompt(prompt: &str) -> Self {
        let hash = fnv1a(prompt);
        let lower = prompt.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut best: Option<(usize, usize)> = None;
        for (index, (_, stems, _)) in MOODS.iter().enumerate() {
            let score = words
                .iter()
                .filter(|w| stems.iter().any(|stem| is_form_of(w, stem)))
                .count();
            if score > 0 && best.is_none_or(|(_, top)| score > top) {
                best = Some((index, score));
            }
        }
        let (mood, stops) = match best {
            Some((index, _)) => (Some(MOODS[index].0), MOODS[index].2),
            None => (None, hashed_stops(hash)),
        };
        Self {
            mood,
            stops,
            lean: (hash >> 9) & 1 == 1,
            speed: 0.05 + ((hash >> 10) % 5) as f32 * 0.01,
        }
    }

    /// Colour at `t` in `0.0..1.0` around the cycle of stops, smoothly blended.
    fn colour(&self, t: f32) -> (u8, u8, u8) {
        let scaled = t.rem_euclid(1.0) * 3.0;
        let segment = (scaled.floor() as usize).min(2);
        let local = scaled - segment as f32;
        let eased = local * local * (3.0 - 2.0 * local);
        let (a, b) = (self.stops[segment], self.stops[(segment + 1) % 3]);
        let mix =
            |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * eased).round() as u8;
        (mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }

    /// The band of scene `variant` (each scene starts elsewhere in the cycle), one
    /// `period` long plus `extra` samples so that any window of `extra` samples from an
    /// offset below `period` can be read without wrapping.
    pub fn band(&self, variant: usize, period: usize, extra: usize) -> Band {
        let shift = (variant as f32 * 0.29).fract();
        let luma: Vec<Yuv> = (0..period + extra)
            .map(|i| {
                let (r, g, b) = self.colour(i as f32 / period as f32 + shift);
                Yuv::from_rgb(r, g, b)
            })
            .collect();
        Band {
            y: luma.iter().map(|c| c.y).collect(),
            u: luma.iter().step_by(2).map(|c| c.u).collect(),
            v: luma.iter().step_by(2).map(|c| c.v).collect(),
        }
    }
}

/// `word` is `stem` or a plural or adjective of it ("stars", "beaches", "sandy").
fn is_form_of(word: &str, stem: &str) -> bool {
    word.strip_prefix(stem)
        .is_some_and(|rest| matches!(rest, "" | "s" | "es" | "y"))
}

/// Three tones around a hue taken from the hash, for prompts without mood words.
fn hashed_stops(hash: u64) -> Stops {
    let hue = (hash % 360) as f32;
    [
        hsl(hue, 0.55, 0.28),
        hsl(hue + 35.0, 0.6, 0.34),
        hsl(hue - 30.0, 0.5, 0.22),
    ]
}

fn hsl(hue: f32, saturation: f32, lightness: f32) -> (u8, u8, u8) {
    let h = hue.rem_euclid(360.0) / 60.0;
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let x = chroma * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = lightness - chroma / 2.0;
    let byte = |v: f32| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    (byte(r), byte(g), byte(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mood_words_pick_the_palette_and_other_prompts_get_a_stable_hashed_one() {
        for (prompt, mood) in [
            ("A sunset over the hills", Some("sunset")),
            ("Waves on the ocean at noon", Some("ocean")),
            ("The city at night, under the stars", Some("night")),
            ("A walk in the forest", Some("forest")),
            ("A quiet lake at dawn, mist over the water", Some("ocean")),
            ("A cat and a violin", None),
        ] {
            assert_eq!(Palette::from_prompt(prompt).mood, mood, "{prompt}");
        }
        let first = Palette::from_prompt("A cat and a violin");
        assert_eq!(first, Palette::from_prompt("A cat and a violin"));
        assert_ne!(first.stops, Palette::from_prompt("A dog and a cello").stops);
    }

    #[test]
    fn backgrounds_stay_dark_enough_for_white_text() {
        for prompt in ["sunset", "desert", "snow", "x", "y", "z", "a longer prompt"] {
            let band = Palette::from_prompt(prompt).band(1, 400, 100);
            let brightest = band.y.iter().copied().max().unwrap_or(0);
            assert!(brightest <= 130, "{prompt}: luma {brightest}");
        }
    }
}
