//! Where the variables come from, and the reader every section uses to type and check
//! them while collecting problems instead of stopping at the first.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::SettingsError;

/// The variables settings are read from: the process environment, or a test's map.
#[derive(Clone, Default)]
pub struct Source {
    vars: HashMap<String, String>,
}

impl fmt::Debug for Source {
    /// Names only: values may be secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("Source").field("names", &names).finish()
    }
}

impl Source {
    /// The process environment, after loading `.env` from the working directory if it
    /// exists (variables already set win over the file).
    ///
    /// # Errors
    /// A `.env` file that exists but cannot be parsed.
    pub fn from_env() -> Result<Self, SettingsError> {
        match dotenvy::dotenv() {
            Ok(_) => {}
            Err(error) if error.not_found() => {}
            Err(error) => {
                return Err(SettingsError {
                    problems: vec![format!(".env: cannot be read: {error}")],
                });
            }
        }
        Ok(Self {
            vars: std::env::vars().collect(),
        })
    }

    /// The given variables and nothing else.
    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Self { vars }
    }

    /// A reader that records the problems of one section.
    pub(super) fn reader(&self) -> Reader<'_> {
        Reader {
            vars: &self.vars,
            problems: Vec::new(),
        }
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Source {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        }
    }
}

/// Reads variables and records problems instead of failing at the first.
pub(super) struct Reader<'a> {
    vars: &'a HashMap<String, String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// Records a problem with `name`, reported as `NAME: message`.
    pub(super) fn problem(&mut self, name: &str, message: &str) {
        self.problems.push(format!("{name}: {message}"));
    }

    /// Whether a problem naming `name` has been recorded.
    pub(super) fn reported(&self, name: &str) -> bool {
        let prefix = format!("{name}: ");
        self.problems.iter().any(|p| p.starts_with(&prefix))
    }

    /// `value` when no problem was recorded, otherwise every problem.
    pub(super) fn finish<T>(self, value: T) -> Result<T, SettingsError> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(SettingsError {
                problems: self.problems,
            })
        }
    }

    /// The value, or `None` when unset or empty.
    pub(super) fn string(&self, name: &str) -> Option<String> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    /// A whole number in `min..=max`, `default` when unset.
    pub(super) fn number<T>(&mut self, name: &str, default: T, min: T, max: T) -> T
    where
        T: FromStr + PartialOrd + Copy + fmt::Display,
    {
        let Some(raw) = self.string(name) else {
            return default;
        };
        match raw.parse::<T>() {
            Ok(value) if value >= min && value <= max => value,
            _ => {
                self.problem(
                    name,
                    &format!("expected a whole number from {min} to {max}, got `{raw}`"),
                );
                default
            }
        }
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`), `default` when unset.
    pub(super) fn boolean(&mut self, name: &str, default: bool) -> bool {
        let Some(raw) = self.string(name) else {
            return default;
        };
        match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                self.problem(name, &format!("expected true or false, got `{raw}`"));
                default
            }
        }
    }

    /// One of `choices` (any case), `default` when unset.
    pub(super) fn parse_enum<T: Copy>(
        &mut self,
        name: &str,
        default: T,
        choices: &[(&str, T)],
    ) -> T {
        let Some(raw) = self.string(name) else {
            return default;
        };
        let wanted = raw.to_ascii_lowercase();
        if let Some((_, value)) = choices.iter().find(|(key, _)| *key == wanted) {
            return *value;
        }
        let names: Vec<&str> = choices.iter().map(|(key, _)| *key).collect();
        self.problem(
            name,
            &format!("expected one of {}, got `{raw}`", names.join(", ")),
        );
        default
    }

    /// A comma-separated list of domain names (a leading `@` is dropped), lower-cased.
    pub(super) fn domain_list(&mut self, name: &str) -> Vec<String> {
        let Some(raw) = self.string(name) else {
            return Vec::new();
        };
        let mut domains = Vec::new();
        for entry in split_list(&raw) {
            let domain = entry.trim_start_matches('@').to_ascii_lowercase();
            if is_host_name(&domain) && domain.contains('.') {
                domains.push(domain);
            } else {
                self.problem(name, &format!("`{entry}` is not a domain name"));
            }
        }
        domains
    }
}

/// The non-empty, trimmed entries of a comma-separated list.
pub(super) fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `host` is a DNS name: dot-separated labels of letters, digits, `-` and `_`.
pub(super) fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> Source {
        pairs.iter().copied().collect()
    }

    #[test]
    fn blank_values_count_as_unset() {
        let source = source(&[("A", "  "), ("B", " x ")]);
        let r = source.reader();
        assert_eq!(r.string("A"), None);
        assert_eq!(r.string("B").as_deref(), Some("x"));
        assert_eq!(r.string("C"), None);
    }

    #[test]
    fn every_problem_is_kept_and_named() {
        let source = source(&[("N", "7"), ("B", "maybe"), ("E", "c")]);
        let mut r = source.reader();
        assert_eq!(r.number("N", 1u32, 1, 5), 1);
        assert!(r.boolean("B", true));
        assert_eq!(r.parse_enum("E", 0, &[("a", 1), ("b", 2)]), 0);
        assert!(r.reported("N") && r.reported("B") && r.reported("E"));
        assert!(!r.reported("X"));
        let problems = r.finish(()).err().map(|e| e.problems).unwrap_or_default();
        assert_eq!(
            problems,
            vec![
                "N: expected a whole number from 1 to 5, got `7`",
                "B: expected true or false, got `maybe`",
                "E: expected one of a, b, got `c`",
            ]
        );
    }

    #[test]
    fn debug_shows_names_not_values() {
        let shown = format!("{:?}", source(&[("SECRET_KEY", "hunter2-hunter2")]));
        assert!(shown.contains("SECRET_KEY"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn lists_drop_blank_entries() {
        assert_eq!(split_list(" a, ,b ,"), vec!["a", "b"]);
        assert!(is_host_name("a-b.example_1.com"));
        for bad in ["", "-a.com", "a-.com", "a..com", "a b.com"] {
            assert!(!is_host_name(bad), "{bad:?} accepted as a host name");
        }
    }
}
