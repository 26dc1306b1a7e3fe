//! Videos and the jobs that produce them: the checked fields of a video request, the
//! status machines of a video and of a job, retry backoff, and who may touch a video.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::text::{self, ControlCharacters, Lines};
use crate::users::policy::{Access, Actor};
use crate::users::{Role, UnknownValue, UserId};

/// A video's id: a positive 64-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct VideoId(i64);

impl VideoId {
    /// `None` unless `raw` is positive.
    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A text field with a length range in characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("{}", ControlCharacters)]
    ControlCharacters,
}

impl TextError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "too_short",
            Self::TooLong(_) => "too_long",
            Self::ControlCharacters => ControlCharacters::CODE,
        }
    }
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident, min = $min:expr, max = $max:expr, trim = $trim:expr, lines = $lines:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            pub const MIN_LEN: usize = $min;
            pub const MAX_LEN: usize = $max;

            /// Which control characters the text may hold.
            pub const LINES: Lines = $lines;

            /// # Errors
            /// Shorter than `MIN_LEN` (after trimming, where trimmed), longer than
            /// `MAX_LEN`, or holding a control character `LINES` does not allow.
            pub fn parse(raw: &str) -> Result<Self, TextError> {
                let value = if $trim { raw.trim() } else { raw };
                if text::check(raw, Self::LINES).is_err() {
                    return Err(TextError::ControlCharacters);
                }
                let length = value.chars().count();
                if length < Self::MIN_LEN || (Self::MIN_LEN > 0 && value.trim().is_empty()) {
                    return Err(TextError::Empty);
                }
                if length > Self::MAX_LEN {
                    return Err(TextError::TooLong(Self::MAX_LEN));
                }
                Ok(Self(value.to_owned()))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// The text itself, without a copy.
        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

text_newtype!(
    /// A video's title: 1..=200 characters, trimmed.
    Title, min = 1, max = 200, trim = true, lines = Lines::Single
);
text_newtype!(
    /// A video's description: at most 5000 characters.
    Description, min = 0, max = 5000, trim = true, lines = Lines::Multi
);
text_newtype!(
    /// The text a video is generated from: 1..=10000 characters.
    Prompt, min = 1, max = 10_000, trim = false, lines = Lines::Multi
);

/// The frame size of a generated video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    P720,
    P1080,
}

impl Default for Resolution {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Resolution {
    pub const ALL: [Self; 2] = [Self::P720, Self::P1080];
    /// The frame size when the client does not choose.
    pub const DEFAULT: Self = Self::P720;

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::P720 => "720p",
            Self::P1080 => "1080p",
        }
    }

    /// (width, height) in pixels.
    pub const fn dimensions(self) -> (u32, u32) {
        match self {
            Self::P720 => (1280, 720),
            Self::P1080 => (1920, 1080),
        }
    }
}

impl FromStr for Resolution {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(UnknownValue::new("resolution"))
    }
}

/// A generated video's length in whole seconds, 1..=60 (default 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DurationSeconds(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be between {} and {} seconds",
    DurationSeconds::MIN,
    DurationSeconds::MAX
)]
pub struct DurationError;

impl DurationSeconds {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 60;
    pub const DEFAULT: u32 = 5;

    /// # Errors
    /// Outside `MIN..=MAX`.
    pub fn new(raw: i64) -> Result<Self, DurationError> {
        if (Self::MIN..=Self::MAX).contains(&raw) {
            u32::try_from(raw).map(Self).map_err(|_| DurationError)
        } else {
            Err(DurationError)
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl Default for DurationSeconds {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

/// Where a video came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoSource {
    Generated,
    Upload,
}

impl VideoSource {
    pub const ALL: [Self; 2] = [Self::Generated, Self::Upload];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Generated => "generated",
            Self::Upload => "upload",
        }
    }
}

/// Where a video stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

/// A status change the machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot go from {from} to {to}")]
pub struct InvalidTransition {
    pub from: &'static str,
    pub to: &'static str,
}

impl VideoStatus {
    pub const ALL: [Self; 4] = [
        Self::Pending,
        Self::Processing,
        Self::Completed,
        Self::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// The allowed moves: a worker starts a pending video, or takes over a processing one
    /// whose worker died; a render completes or fails; a failed run that will be retried
    /// goes back to pending; a failed video is retried by hand.
    pub fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Pending, Self::Processing)
                | (Self::Processing, Self::Processing)
                | (Self::Processing, Self::Completed)
                | (Self::Processing, Self::Failed)
                | (Self::Processing, Self::Pending)
                | (Self::Pending, Self::Failed)
                | (Self::Failed, Self::Pending)
        )
    }

    /// Every status from which `target` may be reached.
    pub fn sources_of(target: Self) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|from| from.can_become(target))
            .collect()
    }

    /// # Errors
    /// `InvalidTransition` for a move [`VideoStatus::can_become`] refuses.
    pub fn become_(self, next: Self) -> Result<Self, InvalidTransition> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(InvalidTransition {
                from: self.as_str(),
                to: next.as_str(),
            })
        }
    }
}

impl FromStr for VideoStatus {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownValue::new("status"))
    }
}

/// Where a background job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting for a worker (possibly until its `run_after`).
    Queued,
    /// Leased by a worker.
    Running,
    Succeeded,
    /// Out of attempts; only a manual retry brings it back.
    Dead,
    Cancelled,
}

impl JobState {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Dead,
        Self::Cancelled,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Dead => "dead",
            Self::Cancelled => "cancelled",
        }
    }

    /// The allowed moves: claim; finish; fail back to the queue (a retry, or a lease
    /// released on shutdown or expired); give up; cancel while not finished; retry a dead
    /// job by hand.
    pub fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Queued, Self::Running)
                | (Self::Running, Self::Succeeded)
                | (Self::Running, Self::Queued)
                | (Self::Running, Self::Dead)
                | (Self::Queued, Self::Cancelled)
                | (Self::Running, Self::Cancelled)
                | (Self::Dead, Self::Queued)
        )
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Dead | Self::Cancelled)
    }
}

impl FromStr for JobState {
    type Err = UnknownValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or(UnknownValue::new("job state"))
    }
}

/// How many times a job runs before it is given up.
pub const MAX_JOB_ATTEMPTS: u32 = 3;

/// The first retry's delay by default (`JOB_RETRY_BASE_MS`).
pub const RETRY_BASE: Duration = Duration::from_secs(2);

/// The longest delay between two attempts.
pub const RETRY_CAP: Duration = Duration::from_secs(300);

/// Delay before retry number `attempt` (1-based): 2 s, 4 s, 8 s, ... capped at 5 minutes.
pub fn retry_backoff(attempt: u32) -> Duration {
    scaled_backoff(RETRY_BASE, attempt)
}

/// Delay before retry number `attempt` when the first one waits `base`: doubling each
/// time, capped at [`RETRY_CAP`].
pub fn scaled_backoff(base: Duration, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    base.saturating_mul(1 << exponent).min(RETRY_CAP)
}

/// A video's `progress` when its render is done (percent).
pub const PROGRESS_MAX: u8 = 100;

/// A video as the rest of the system sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Video {
    pub id: VideoId,
    pub owner_id: UserId,
    pub title: Title,
    pub description: Option<Description>,
    /// The text a generated video is made from (`None` for uploads).
    pub prompt: Option<Prompt>,
    pub source: VideoSource,
    pub status: VideoStatus,
    pub progress: u8,
    pub resolution: Option<Resolution>,
    pub fps: Option<u32>,
    pub requested_duration: Option<DurationSeconds>,
    /// Real duration in seconds, once known.
    pub duration: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub file_size: Option<u64>,
    pub content_type: Option<String>,
    /// The video codec (`h264`, `vp9`, ...), once known.
    pub codec: Option<String>,
    /// Generated names of the stored files (never user input).
    pub media_key: Option<String>,
    pub thumbnail_key: Option<String>,
    /// A human-readable reason when failed.
    pub error: Option<String>,
    pub webhook_url: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Frames per second of generated videos.
pub const GENERATED_FPS: u32 = 24;

/// Reading or changing a video: its owner and admins. Anyone else does not see it.
pub fn can_access_video(actor: Actor, owner: UserId) -> Access {
    if actor.id == owner || actor.role == Role::Admin {
        Access::Allowed
    } else {
        Access::Hidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_check_their_lengths() {
        let long_title = "t".repeat(Title::MAX_LEN);
        let too_long_title = "t".repeat(Title::MAX_LEN + 1);
        let cases: Vec<(&str, Result<(), TextError>)> = vec![
            ("A", Ok(())),
            ("  padded  ", Ok(())),
            ("", Err(TextError::Empty)),
            ("   ", Err(TextError::Empty)),
            (&long_title, Ok(())),
            (&too_long_title, Err(TextError::TooLong(200))),
            ("🎬 Film", Ok(())),
        ];
        for (input, expected) in cases {
            assert_eq!(Title::parse(input).map(|_| ()), expected, "{input:?}");
        }
        assert_eq!(
            Title::parse("  padded  ").map(|t| t.to_string()),
            Ok("padded".into())
        );
        assert!(Description::parse("").is_ok());
        assert!(Description::parse(&"d".repeat(5000)).is_ok());
        assert!(Description::parse(&"d".repeat(5001)).is_err());
        assert!(Prompt::parse(&"p".repeat(10_000)).is_ok());
        assert!(Prompt::parse(&"p".repeat(10_001)).is_err());
        assert!(Prompt::parse("").is_err());
    }

    #[test]
    fn text_fields_follow_the_control_character_rule() {
        type Parse = fn(&str) -> Result<(), TextError>;
        let title: Parse = |raw| Title::parse(raw).map(|_| ());
        let description: Parse = |raw| Description::parse(raw).map(|_| ());
        let prompt: Parse = |raw| Prompt::parse(raw).map(|_| ());
        let cc = Err(TextError::ControlCharacters);
        let cases: Vec<(&str, Parse, &str, Result<(), TextError>)> = vec![
            ("title", title, "bad\0title", cc.clone()),
            ("title", title, "two\nlines", cc.clone()),
            ("title", title, "tab\tbed", cc.clone()),
            ("title", title, "trailing newline\n", cc.clone()),
            ("description", description, "nul\0", cc.clone()),
            ("description", description, "bell\u{7}", cc.clone()),
            (
                "description",
                description,
                "one\ntwo\r\nthree\tfour",
                Ok(()),
            ),
            ("prompt", prompt, "\0", cc.clone()),
            ("prompt", prompt, "escape\u{1b}[0m", cc.clone()),
            ("prompt", prompt, "first\r\nsecond\tthird", Ok(())),
        ];
        for (field, parse, input, expected) in cases {
            assert_eq!(parse(input), expected, "{field}: {input:?}");
        }
        assert_eq!(TextError::ControlCharacters.code(), "control_characters");
    }

    #[test]
    fn resolutions_and_durations() {
        assert_eq!("720p".parse(), Ok(Resolution::P720));
        assert_eq!(Resolution::P1080.dimensions(), (1920, 1080));
        assert!("4k".parse::<Resolution>().is_err());
        assert_eq!(Resolution::default(), Resolution::P720);
        for (raw, ok) in [(0, false), (1, true), (60, true), (61, false), (-5, false)] {
            assert_eq!(DurationSeconds::new(raw).is_ok(), ok, "{raw}");
        }
        assert_eq!(DurationSeconds::default().get(), 5);
    }

    #[test]
    fn every_video_transition_is_decided() {
        use VideoStatus::*;
        let allowed = [
            (Pending, Processing),
            (Processing, Processing),
            (Processing, Completed),
            (Processing, Failed),
            (Processing, Pending),
            (Pending, Failed),
            (Failed, Pending),
        ];
        for from in VideoStatus::ALL {
            for to in VideoStatus::ALL {
                let expected = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), expected, "{from:?} -> {to:?}");
                assert_eq!(from.become_(to).is_ok(), expected, "{from:?} -> {to:?}");
            }
        }
        assert_eq!(VideoStatus::sources_of(Failed), vec![Pending, Processing]);
        assert_eq!(VideoStatus::sources_of(Completed), vec![Processing]);
        assert_eq!(
            Completed.become_(Pending),
            Err(InvalidTransition {
                from: "completed",
                to: "pending"
            })
        );
    }

    #[test]
    fn every_job_transition_is_decided() {
        use JobState::*;
        let allowed = [
            (Queued, Running),
            (Running, Succeeded),
            (Running, Queued),
            (Running, Dead),
            (Queued, Cancelled),
            (Running, Cancelled),
            (Dead, Queued),
        ];
        for from in JobState::ALL {
            for to in JobState::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
            assert_eq!(from.as_str().parse::<JobState>(), Ok(from));
        }
        assert!(Succeeded.is_finished() && Dead.is_finished() && Cancelled.is_finished());
        assert!(!Queued.is_finished() && !Running.is_finished());
    }

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        let delays: Vec<u64> = (1..=10).map(|a| retry_backoff(a).as_secs()).collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_backoff(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn only_owners_and_admins_reach_a_video() {
        let owner = UserId::new(1).expect("id");
        let cases = [
            (Role::User, 1, Access::Allowed),
            (Role::User, 2, Access::Hidden),
            (Role::Moderator, 2, Access::Hidden),
            (Role::Admin, 3, Access::Allowed),
        ];
        for (role, id, expected) in cases {
            let actor = Actor {
                id: UserId::new(id).expect("id"),
                role,
            };
            assert_eq!(can_access_video(actor, owner), expected, "{role:?} {id}");
        }
    }
}
