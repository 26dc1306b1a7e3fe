//! The rules every text input follows, whatever field it fills: no NUL or other control
//! characters, except line breaks and tabs in the fields that hold several lines.

/// How much of the control range a field tolerates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// One line: no control character at all (names, titles, tokens, search, paths).
    Single,
    /// Several lines: line feeds, carriage returns and tabs allowed, nothing else.
    Multi,
}

impl Lines {
    /// The characters a multi-line field may contain although they are control
    /// characters.
    pub const MULTI_LINE_ALLOWED: [char; 3] = ['\n', '\r', '\t'];

    fn allows(self, c: char) -> bool {
        !c.is_control() || (self == Self::Multi && Self::MULTI_LINE_ALLOWED.contains(&c))
    }
}

/// A text holding a control character its field does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must not contain control characters")]
pub struct ControlCharacters;

impl ControlCharacters {
    /// The stable code clients see.
    pub const CODE: &'static str = "control_characters";

    pub const fn code(self) -> &'static str {
        Self::CODE
    }
}

/// Checks `raw` against the control-character rule of a field of kind `lines`.
///
/// # Errors
/// [`ControlCharacters`] when any character is outside what `lines` allows.
pub fn check(raw: &str, lines: Lines) -> Result<(), ControlCharacters> {
    if raw.chars().all(|c| lines.allows(c)) {
        Ok(())
    } else {
        Err(ControlCharacters)
    }
}

/// [`check`] for a one-line field.
///
/// # Errors
/// [`ControlCharacters`] on any control character.
pub fn check_single_line(raw: &str) -> Result<(), ControlCharacters> {
    check(raw, Lines::Single)
}

/// [`check`] for a multi-line field.
///
/// # Errors
/// [`ControlCharacters`] on a control character other than a line break or a tab.
pub fn check_multi_line(raw: &str) -> Result<(), ControlCharacters> {
    check(raw, Lines::Multi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_by_kind() {
        let cases: &[(&str, bool, bool)] = &[
            // (input, single line ok, multi line ok)
            ("plain text", true, true),
            ("ünïcödé ✓", true, true),
            ("", true, true),
            ("nul\0", false, false),
            ("\0", false, false),
            ("line\nbreak", false, true),
            ("crlf\r\n", false, true),
            ("tab\there", false, true),
            ("bell\u{7}", false, false),
            ("escape\u{1b}[0m", false, false),
            ("delete\u{7f}", false, false),
            ("c1 control\u{85}", false, false),
            ("vertical\u{b}tab", false, false),
            ("form\u{c}feed", false, false),
        ];
        for (input, single, multi) in cases {
            assert_eq!(
                check_single_line(input).is_ok(),
                *single,
                "single line: {input:?}"
            );
            assert_eq!(
                check_multi_line(input).is_ok(),
                *multi,
                "multi line: {input:?}"
            );
        }
        assert_eq!(ControlCharacters.code(), "control_characters");
    }
}
