use chrono::NaiveDate;

use super::policy::*;
use super::*;

#[test]
fn usernames_follow_length_and_character_rules() {
    let max = "a".repeat(Username::MAX_LEN);
    let too_long = "a".repeat(Username::MAX_LEN + 1);
    let cases: Vec<(&str, Result<(), Vec<UsernameError>>)> = vec![
        ("abc", Ok(())),
        ("ab", Err(vec![UsernameError::TooShort])),
        (&max, Ok(())),
        (&too_long, Err(vec![UsernameError::TooLong])),
        ("john_doe-42", Ok(())),
        ("jöhn", Err(vec![UsernameError::InvalidCharacters])),
        ("john doe", Err(vec![UsernameError::InvalidCharacters])),
        (" abc", Err(vec![UsernameError::InvalidCharacters])),
        (
            "a!",
            Err(vec![
                UsernameError::TooShort,
                UsernameError::InvalidCharacters,
            ]),
        ),
        ("", Err(vec![UsernameError::TooShort])),
        ("ab\0cd", Err(vec![UsernameError::ControlCharacters])),
        (
            "\0",
            Err(vec![
                UsernameError::TooShort,
                UsernameError::ControlCharacters,
            ]),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(Username::parse(input).map(|_| ()), expected, "{input:?}");
    }
}

#[test]
fn reserved_usernames_are_recognised_in_any_case() {
    for name in ["admin", "ADMIN", "Root", "sYsTeM", "api"] {
        let username = Username::parse(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(username.is_reserved(), "{name}");
    }
    for name in ["admins", "apis", "rooty", "administrator"] {
        let username = Username::parse(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!username.is_reserved(), "{name}");
    }
    assert_eq!(
        Username::parse("MiXeD").map(|u| u.normalized()),
        Ok("mixed".to_owned())
    );
}

#[test]
fn names_count_characters_and_are_trimmed() {
    let max = "é".repeat(PersonName::MAX_LEN);
    let too_long = "é".repeat(PersonName::MAX_LEN + 1);
    let cases: Vec<(&str, Result<&str, PersonNameError>)> = vec![
        ("Zoë 🙂", Ok("Zoë 🙂")),
        ("  Ada Lovelace ", Ok("Ada Lovelace")),
        ("A", Ok("A")),
        ("", Err(PersonNameError::Empty)),
        ("   ", Err(PersonNameError::Empty)),
        (&max, Ok(max.as_str())),
        (&too_long, Err(PersonNameError::TooLong)),
        ("Bad\u{0007}Name", Err(PersonNameError::ControlCharacters)),
        ("Jane\0Doe", Err(PersonNameError::ControlCharacters)),
        ("Jane\tDoe", Err(PersonNameError::ControlCharacters)),
        ("Jane Doe\n", Err(PersonNameError::ControlCharacters)),
    ];
    for (input, expected) in cases {
        assert_eq!(
            PersonName::parse(input).as_ref().map(AsRef::as_ref),
            expected.as_ref().map(|s| *s),
            "{input:?}"
        );
    }
}

#[test]
fn emails_are_checked_and_lower_cased() {
    let local_64 = "a".repeat(64);
    let at_limit = format!("{}@{}.com", "a".repeat(64), "b".repeat(254 - 64 - 1 - 4));
    let over_limit = format!("{}@{}.com", "a".repeat(64), "b".repeat(254 - 64 - 4));
    let valid_long_local = format!("{local_64}@example.com");
    let too_long_local = format!("{}@example.com", "a".repeat(65));
    let cases: Vec<(String, Result<&str, EmailError>)> = vec![
        ("Jane.Doe@Example.COM".into(), Ok("jane.doe@example.com")),
        (
            "user+tag@mail.example.co".into(),
            Ok("user+tag@mail.example.co"),
        ),
        ("no-at-sign.example.com".into(), Err(EmailError::Invalid)),
        ("two@@example.com".into(), Err(EmailError::Invalid)),
        ("a@b@example.com".into(), Err(EmailError::Invalid)),
        ("trailing@example.com.".into(), Err(EmailError::Invalid)),
        ("nodot@localhost".into(), Err(EmailError::Invalid)),
        ("space in@example.com".into(), Err(EmailError::Invalid)),
        ("@example.com".into(), Err(EmailError::Invalid)),
        ("dots..twice@example.com".into(), Err(EmailError::Invalid)),
        ("user@-bad.com".into(), Err(EmailError::Invalid)),
        (
            format!("user@{}.com", "l".repeat(64)),
            Err(EmailError::Invalid),
        ),
        ("ünï@example.com".into(), Err(EmailError::Invalid)),
        (valid_long_local.clone(), Ok(valid_long_local.as_str())),
        (too_long_local, Err(EmailError::Invalid)),
        (over_limit, Err(EmailError::TooLong)),
        (
            "nul\0@example.com".into(),
            Err(EmailError::ControlCharacters),
        ),
        ("a@example.com\n".into(), Err(EmailError::ControlCharacters)),
    ];
    for (input, expected) in cases {
        assert_eq!(
            Email::parse(&input).as_ref().map(AsRef::as_ref),
            expected.as_ref().map(|s| *s),
            "{input:?}"
        );
    }
    // 254 characters exactly is not refused for its length.
    assert_ne!(
        Email::parse(&at_limit),
        Err(EmailError::TooLong),
        "{}",
        at_limit.len()
    );
}

#[test]
fn email_domain_policy_allows_blocks_and_matches_subdomains() {
    let email = |raw: &str| Email::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
    let open = EmailDomainPolicy::default();
    assert_eq!(open.check(&email("a@anything.org")), Ok(()));

    let policy = EmailDomainPolicy {
        allowed: vec!["example.com".into()],
        blocked: vec!["spam.example.com".into()],
    };
    assert_eq!(policy.check(&email("a@example.com")), Ok(()));
    assert_eq!(policy.check(&email("a@mail.example.com")), Ok(()));
    assert!(matches!(
        policy.check(&email("a@badexample.com")),
        Err(EmailDomainError::NotAllowed(_))
    ));
    assert!(matches!(
        policy.check(&email("a@spam.example.com")),
        Err(EmailDomainError::Blocked(_))
    ));
    assert!(matches!(
        policy.check(&email("a@x.spam.example.com")),
        Err(EmailDomainError::Blocked(_))
    ));
}

#[test]
fn password_policy_reports_every_broken_rule() {
    let max = format!("Aa1{}", "x".repeat(PasswordPolicy::MAX_LEN - 3));
    let too_long = format!("Aa1{}", "x".repeat(PasswordPolicy::MAX_LEN - 2));
    let cases: Vec<(&str, Vec<PasswordRule>)> = vec![
        ("Passw0rd", vec![]),
        ("Passw0r", vec![PasswordRule::MinLength]),
        (&max, vec![]),
        (&too_long, vec![PasswordRule::MaxLength]),
        ("password1", vec![PasswordRule::Uppercase]),
        ("PASSWORD1", vec![PasswordRule::Lowercase]),
        ("Password", vec![PasswordRule::Digit]),
        ("Passw0rd\0", vec![PasswordRule::ControlCharacters]),
        ("Pass\tw0rd", vec![PasswordRule::ControlCharacters]),
        (
            "abc",
            vec![
                PasswordRule::MinLength,
                PasswordRule::Uppercase,
                PasswordRule::Digit,
            ],
        ),
        (
            "",
            vec![
                PasswordRule::MinLength,
                PasswordRule::Uppercase,
                PasswordRule::Lowercase,
                PasswordRule::Digit,
            ],
        ),
        ("Ünïcödé1", vec![]),
    ];
    for (input, expected) in cases {
        let got = PasswordPolicy::check(input).err().unwrap_or_default();
        assert_eq!(got, expected, "{input:?}");
    }
    assert_eq!(
        PasswordRule::Uppercase.message(),
        "must contain at least one uppercase letter"
    );
    assert_eq!(PasswordRule::Uppercase.code(), "password_strength");
}

#[test]
fn plain_passwords_never_show_in_debug() {
    let password = PlainPassword::new("Hunter2hunter".into());
    assert_eq!(format!("{password:?}"), "PlainPassword([redacted])");
    assert_eq!(password.expose(), "Hunter2hunter");
}

#[test]
fn ages_and_birth_dates() {
    for (raw, ok) in [
        (-1, false),
        (0, true),
        (150, true),
        (151, false),
        (300, false),
    ] {
        assert_eq!(Age::new(raw).is_ok(), ok, "{raw}");
    }
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("{y}-{m}-{d}"));
    let today = date(2026, 6, 15);
    assert_eq!(years_between(date(2000, 6, 15), today), 26);
    assert_eq!(years_between(date(2000, 6, 16), today), 25);
    let age = |n| Age::new(n).unwrap_or_else(|_| panic!("{n}"));
    let cases = [
        (age(26), date(2000, 6, 15), true),
        (age(25), date(2000, 6, 15), true),
        (age(27), date(2000, 6, 15), true),
        (age(24), date(2000, 6, 15), false),
        (age(28), date(2000, 6, 15), false),
        (age(0), date(2026, 6, 15), true),
    ];
    for (a, birth, expected) in cases {
        assert_eq!(
            age_matches_birth_date(a, birth, today),
            expected,
            "{a:?} {birth}"
        );
    }
}

#[test]
fn enums_parse_their_wire_names_only() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
    }
    for status in UserStatus::ALL {
        assert_eq!(status.as_str().parse::<UserStatus>(), Ok(*status));
    }
    assert!("Admin".parse::<Role>().is_err());
    assert!("superuser".parse::<Role>().is_err());
    assert!("banned".parse::<UserStatus>().is_err());
    let can_log_in: Vec<bool> = UserStatus::ALL.iter().map(|s| s.can_log_in()).collect();
    assert_eq!(can_log_in, vec![true, false, false, true]);
    assert_eq!(UserId::new(0), None);
    assert_eq!(UserId::new(-5), None);
    assert_eq!(UserId::new(7).map(UserId::get), Some(7));
}

fn id(n: i64) -> UserId {
    UserId::new(n).unwrap_or_else(|| panic!("{n}"))
}

fn actor(n: i64, role: Role) -> Actor {
    Actor { id: id(n), role }
}

#[test]
fn authorisation_table() {
    use Access::{Allowed as A, Forbidden as F, Hidden as H};
    let user = actor(1, Role::User);
    let moderator = actor(2, Role::Moderator);
    let admin = actor(3, Role::Admin);
    let other = id(9);

    // (actor, target) -> view, update, delete, password
    let cases = [
        ("user on self", user, user.id, [A, A, A, A]),
        ("user on other", user, other, [H, H, H, H]),
        ("moderator on self", moderator, moderator.id, [A, A, A, A]),
        ("moderator on other", moderator, other, [A, F, F, F]),
        ("admin on self", admin, admin.id, [A, A, A, A]),
        ("admin on other", admin, other, [A, A, A, F]),
    ];
    for (name, who, target, [view, update, delete, password]) in cases {
        assert_eq!(can_view_user(who, target), view, "{name}: view");
        assert_eq!(can_update_user(who, target), update, "{name}: update");
        assert_eq!(can_delete_user(who, target), delete, "{name}: delete");
        assert_eq!(
            can_change_password(who, target),
            password,
            "{name}: password"
        );
    }
    assert_eq!(can_list_users(user), F);
    assert_eq!(can_list_users(moderator), A);
    assert_eq!(can_list_users(admin), A);
    assert_eq!(can_view_analytics_overview(user), F);
    assert_eq!(can_view_analytics_overview(moderator), F);
    assert_eq!(can_view_analytics_overview(admin), A);
}

#[test]
fn status_and_role_changes_table() {
    use Access::{Allowed as A, Forbidden as F, Hidden as H};
    let user = actor(1, Role::User);
    let moderator = actor(2, Role::Moderator);
    let admin = actor(3, Role::Admin);
    let s = UserStatus::Suspended;
    let targets = [
        ("plain user", (id(10), Role::User)),
        ("moderator", (id(11), Role::Moderator)),
        ("admin", (id(12), Role::Admin)),
    ];
    // actor -> status change on [plain user, moderator, admin]
    let status_cases = [
        ("user", user, [H, H, H]),
        ("moderator", moderator, [A, F, F]),
        ("admin", admin, [A, A, A]),
    ];
    for (name, who, expected) in status_cases {
        for ((target_name, target), want) in targets.iter().zip(expected) {
            assert_eq!(
                can_change_status(who, *target, s),
                want,
                "{name} -> {target_name}"
            );
        }
    }
    let role_cases = [
        ("user", user, [H, H, H]),
        ("moderator", moderator, [F, F, F]),
        ("admin", admin, [A, A, A]),
    ];
    for (name, who, expected) in role_cases {
        for ((target_name, target), want) in targets.iter().zip(expected) {
            assert_eq!(
                can_change_role(who, *target, Role::Admin),
                want,
                "{name} -> {target_name}"
            );
        }
    }
    // Nobody changes their own status or role.
    for who in [user, moderator, admin] {
        assert_eq!(
            can_change_status(who, (who.id, who.role), s),
            F,
            "{:?}",
            who.role
        );
        assert_eq!(
            can_change_role(who, (who.id, who.role), Role::User),
            F,
            "{:?}",
            who.role
        );
    }
}

#[test]
fn birth_dates_lie_between_1900_and_today() {
    let today = NaiveDate::from_ymd_opt(2026, 6, 15).expect("date");
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
    for (input, expected) in [
        (today, Ok(())),
        (date(1900, 1, 1), Ok(())),
        (date(1995, 4, 12), Ok(())),
        (date(2026, 6, 16), Err(BirthDateError::InFuture)),
        (date(2999, 1, 1), Err(BirthDateError::InFuture)),
        (date(1899, 12, 31), Err(BirthDateError::TooEarly)),
        (date(-5000, 1, 1), Err(BirthDateError::TooEarly)),
    ] {
        assert_eq!(BirthDate::check(input, today), expected, "{input}");
    }
    assert_eq!(BirthDate::EARLIEST, "1900-01-01");
    assert_eq!(
        BirthDateError::TooEarly.to_string(),
        "must not be before 1900-01-01"
    );
}
