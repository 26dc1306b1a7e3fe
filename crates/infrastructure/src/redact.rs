//! Redaction of secrets in connection strings, so a database URL can be logged or shown
//! in `Debug` output without its password.
//!
//! A password can sit in three places: the user-info of a URL
//! (`postgres://user:secret@host/db`), a query parameter (`?password=secret`, also
//! `sslpassword` and similar), or a keyword/value connection string
//! (`host=db password=secret`). Each is replaced by [`MASK`]; everything else is kept as
//! written (the string is not re-encoded), so the result still tells which database is
//! meant.

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Whether a parameter name (compared without case) names a secret.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "pass", "pwd", "secret", "token", "apikey", "api_key", "api-key",
    ]
    .iter()
    .any(|marker| key.contains(marker))
}

/// The key of one `key=value` pair, percent- and plus-decoded.
fn decoded_key(pair: &str) -> String {
    let raw_key = pair.split_once('=').map_or(pair, |(key, _)| key);
    url::form_urlencoded::parse(raw_key.as_bytes())
        .next()
        .map_or_else(|| raw_key.to_owned(), |(key, _)| key.into_owned())
}

/// `key=value` with the value masked when the key names a secret.
fn redact_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((key, value)) if !value.is_empty() && is_secret_key(&decoded_key(pair)) => {
            format!("{key}={MASK}")
        }
        _ => pair.to_owned(),
    }
}

/// The query string (without `?`) with every secret parameter masked.
fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(redact_pair)
        .collect::<Vec<_>>()
        .join("&")
}

/// The authority (`user:password@host:port`) with the password masked.
fn redact_authority(authority: &str) -> String {
    let Some(at) = authority.rfind('@') else {
        return authority.to_owned();
    };
    let (user_info, host) = authority.split_at(at);
    match user_info.split_once(':') {
        Some((user, password)) if !password.is_empty() => format!("{user}:{MASK}{host}"),
        _ => authority.to_owned(),
    }
}

/// A keyword/value connection string (`host=db password=secret`) with secrets masked.
fn redact_keyword_value(raw: &str) -> String {
    raw.split(' ')
        .map(redact_pair)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The connection string with every password (user-info, query parameter, or keyword)
/// replaced by [`MASK`], safe to log.
pub fn redact_url(raw: &str) -> String {
    let Some(scheme_end) = raw.find("://") else {
        return redact_keyword_value(raw);
    };
    let authority_start = scheme_end + 3;
    let rest = &raw[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_len);
    let (before_fragment, fragment) = match after.find('#') {
        Some(hash) => after.split_at(hash),
        None => (after, ""),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };
    let mut redacted = String::with_capacity(raw.len());
    redacted.push_str(&raw[..authority_start]);
    redacted.push_str(&redact_authority(authority));
    redacted.push_str(path);
    if let Some(query) = query {
        redacted.push('?');
        redacted.push_str(&redact_query(query));
    }
    redacted.push_str(fragment);
    redacted
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_masked_wherever_they_sit() {
        // (case, input, expected)
        let cases = [
            (
                "user-info password",
                "postgres://app:s3cret@db:5432/vidgen",
                "postgres://app:***@db:5432/vidgen",
            ),
            (
                "query password",
                "postgres://db/vidgen?user=app&password=s3cret",
                "postgres://db/vidgen?user=app&password=***",
            ),
            (
                "both, and ssl key password",
                "postgresql://app:one@db/vidgen?sslmode=require&sslpassword=two&password=three",
                "postgresql://app:***@db/vidgen?sslmode=require&sslpassword=***&password=***",
            ),
            (
                "parameter name in capitals",
                "postgres://db/vidgen?PASSWORD=s3cret",
                "postgres://db/vidgen?PASSWORD=***",
            ),
            (
                "percent-encoded parameter name",
                "postgres://db/vidgen?pass%77ord=s3cret",
                "postgres://db/vidgen?pass%77ord=***",
            ),
            (
                "password containing @ and :",
                "postgres://app:p@ss:w0rd@db/vidgen",
                "postgres://app:***@db/vidgen",
            ),
            (
                "query without a path",
                "postgres://db?password=s3cret",
                "postgres://db?password=***",
            ),
            (
                "fragment kept",
                "postgres://db/x?password=s3cret#part",
                "postgres://db/x?password=***#part",
            ),
            (
                "keyword/value string",
                "host=db user=app password=s3cret dbname=vidgen",
                "host=db user=app password=*** dbname=vidgen",
            ),
            (
                "no password: unchanged",
                "postgres://app@db:5432/vidgen?sslmode=require",
                "postgres://app@db:5432/vidgen?sslmode=require",
            ),
            (
                "empty password: unchanged",
                "postgres://app:@db/vidgen?password=",
                "postgres://app:@db/vidgen?password=",
            ),
            (
                "SQLite: unchanged",
                "sqlite://./data/vidgen.db?mode=rwc",
                "sqlite://./data/vidgen.db?mode=rwc",
            ),
        ];
        for (name, input, expected) in cases {
            assert_eq!(redact_url(input), expected, "{name}: {input}");
        }
    }
}
