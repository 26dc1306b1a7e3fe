//! Use-case tests of the profile service with mocked ports.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use mockall::predicate::eq;
use vidgen_domain::users::policy::Actor;
use vidgen_domain::users::profile::{Address, AddressInput, ImageFormat, Preferences};
use vidgen_domain::users::{Email, PersonName, Role, User, UserId, UserStatus, Username};

use super::avatar::{DeleteAvatarError, GetAvatarError, SetAvatarError};
use super::ports::{
    ImageError, MockAvatarImages, MockProfileRepository, NormalizedImage, ProfileWriteError,
    StoredProfile,
};
use super::read::GetProfileError;
use super::replace::{ReplaceProfile, ReplaceProfileError};
use super::{ProfilePorts, ProfileService};
use crate::clock::MockClock;
use crate::users::ports::{MockUserRepository, OwnedContent, UserWriteError};
use crate::videos::ports::MockMediaStore;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn id(n: i64) -> UserId {
    UserId::new(n).expect("positive id")
}

fn actor(n: i64, role: Role) -> Actor {
    Actor { id: id(n), role }
}

fn user(n: i64, avatar: Option<&str>) -> User {
    User {
        id: id(n),
        username: Username::parse(&format!("user{n}")).expect("username"),
        name: PersonName::parse("Some One").expect("name"),
        email: Email::parse(&format!("user{n}@example.com")).expect("email"),
        role: Role::User,
        status: UserStatus::Active,
        age: None,
        birth_date: None,
        avatar_key: avatar.map(str::to_owned),
        token_version: 0,
        created_at: now(),
        updated_at: now(),
    }
}

fn address() -> Address {
    Address::parse(&AddressInput {
        street: "1 Main St".into(),
        city: "Springfield".into(),
        state: "IL".into(),
        zip_code: "62701".into(),
        country: "US".into(),
    })
    .expect("valid address")
}

struct Ports {
    users: MockUserRepository,
    profiles: MockProfileRepository,
    images: MockAvatarImages,
    media: MockMediaStore,
    staging: tempfile::TempDir,
}

impl Ports {
    fn new() -> Self {
        Self {
            users: MockUserRepository::new(),
            profiles: MockProfileRepository::new(),
            images: MockAvatarImages::new(),
            media: MockMediaStore::new(),
            staging: tempfile::tempdir().expect("temporary folder"),
        }
    }

    fn service(self, max_avatar_bytes: u64) -> (ProfileService, tempfile::TempDir) {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let service = ProfileService::new(
            ProfilePorts {
                users: Arc::new(self.users),
                profiles: Arc::new(self.profiles),
                images: Arc::new(self.images),
                media: Arc::new(self.media),
                clock: Arc::new(clock),
            },
            max_avatar_bytes,
        );
        (service, self.staging)
    }
}

#[tokio::test]
async fn profiles_are_read_by_self_and_staff_and_hidden_from_others() {
    let cases: &[(&str, Actor, bool)] = &[
        ("self", actor(7, Role::User), true),
        ("moderator", actor(1, Role::Moderator), true),
        ("admin", actor(1, Role::Admin), true),
        ("another user", actor(8, Role::User), false),
    ];
    for (name, who, allowed) in cases {
        let mut ports = Ports::new();
        if *allowed {
            ports
                .users
                .expect_get()
                .with(eq(id(7)))
                .returning(|_| Ok(Some(user(7, None))));
            ports.profiles.expect_get().returning(|_| Ok(None));
        }
        let (service, _dir) = ports.service(1024);
        let result = service.profile(*who, id(7)).await;
        match (allowed, result) {
            (true, Ok(profile)) => {
                assert_eq!(profile.user.id, id(7), "{name}");
                assert_eq!(profile.address, None, "{name}: no address yet");
                assert!(profile.preferences.as_map().is_empty(), "{name}");
            }
            (false, Err(GetProfileError::NotFound)) => {}
            (_, other) => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn profiles_are_replaced_by_self_and_admins_only() {
    let cases: &[(&str, Actor, &str)] = &[
        ("self", actor(7, Role::User), "ok"),
        ("admin", actor(1, Role::Admin), "ok"),
        ("moderator", actor(1, Role::Moderator), "forbidden"),
        ("another user", actor(8, Role::User), "not found"),
    ];
    for (name, who, outcome) in cases {
        let mut ports = Ports::new();
        if *outcome == "ok" {
            ports
                .users
                .expect_get()
                .returning(|_| Ok(Some(user(7, None))));
            ports
                .profiles
                .expect_put()
                .withf(|user, profile, at| {
                    *user == id(7) && profile.address == Some(address()) && *at == now()
                })
                .returning(|_, profile, _| Ok(profile));
        }
        let (service, _dir) = ports.service(1024);
        let request = ReplaceProfile {
            address: Some(address()),
            preferences: Preferences::default(),
        };
        let result = service.replace_profile(*who, id(7), request).await;
        match (*outcome, result) {
            ("ok", Ok(profile)) => assert_eq!(profile.address, Some(address()), "{name}"),
            ("forbidden", Err(ReplaceProfileError::Forbidden))
            | ("not found", Err(ReplaceProfileError::NotFound)) => {}
            (_, other) => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_profile_of_a_user_deleted_meanwhile_is_not_found() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(7, None))));
    ports
        .profiles
        .expect_put()
        .returning(|_, _, _| Err(ProfileWriteError::UserNotFound));
    let (service, _dir) = ports.service(1024);
    let result = service
        .replace_profile(
            actor(7, Role::User),
            id(7),
            ReplaceProfile {
                address: None,
                preferences: Preferences::default(),
            },
        )
        .await;
    assert!(
        matches!(result, Err(ReplaceProfileError::NotFound)),
        "{result:?}"
    );
}

fn png(bytes: &[u8]) -> NormalizedImage {
    NormalizedImage {
        format: ImageFormat::Png,
        width: 10,
        height: 10,
        bytes: bytes.to_vec(),
    }
}

#[tokio::test]
async fn a_new_avatar_is_stored_and_the_old_file_removed() {
    let mut ports = Ports::new();
    let staged = ports.staging.path().join("new.part");
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(7, Some("old.png")))));
    ports
        .images
        .expect_normalize()
        .withf(|bytes| bytes == b"raw picture")
        .returning(|_| Ok(png(b"clean picture")));
    ports
        .media
        .expect_new_key()
        .with(eq("png"))
        .returning(|_| "new.png".into());
    let at = staged.clone();
    ports
        .media
        .expect_staging_path()
        .returning(move |_| at.clone());
    ports
        .media
        .expect_commit()
        .with(eq("new.png"))
        .returning(|_| Ok(()));
    ports
        .users
        .expect_update()
        .withf(|who, changes, _| {
            *who == id(7) && changes.avatar_key == Some(Some("new.png".to_owned()))
        })
        .returning(|_, _, _| Ok(user(7, Some("new.png"))));
    ports
        .media
        .expect_remove()
        .with(eq("old.png"))
        .times(1)
        .returning(|_| Ok(()));
    let (service, _dir) = ports.service(1024);
    let stored = service
        .set_avatar(actor(7, Role::User), id(7), b"raw picture".to_vec())
        .await
        .expect("avatar set");
    assert_eq!(stored.avatar_key.as_deref(), Some("new.png"));
    assert_eq!(
        std::fs::read(&staged).expect("written file"),
        b"clean picture",
        "the re-encoded bytes are what is stored"
    );
}

#[tokio::test]
async fn refused_avatars_store_nothing() {
    let cases: Vec<(&str, Actor, usize, Option<ImageError>, &str)> = vec![
        ("too large", actor(7, Role::User), 2048, None, "too large"),
        (
            "moderator",
            actor(1, Role::Moderator),
            10,
            None,
            "forbidden",
        ),
        ("another user", actor(8, Role::User), 10, None, "not found"),
        (
            "not a picture",
            actor(7, Role::User),
            10,
            Some(ImageError::Unsupported),
            "unsupported",
        ),
        (
            "a bomb",
            actor(1, Role::Admin),
            10,
            Some(ImageError::TooManyPixels {
                width: 100_000,
                height: 100_000,
            }),
            "pixels",
        ),
    ];
    for (name, who, size, image_error, outcome) in cases {
        let mut ports = Ports::new();
        if let Some(error) = image_error {
            ports
                .users
                .expect_get()
                .returning(|_| Ok(Some(user(7, Some("old.png")))));
            let slot = std::sync::Mutex::new(Some(error));
            ports
                .images
                .expect_normalize()
                .returning(move |_| Err(slot.lock().expect("lock").take().expect("called once")));
        }
        let (service, _dir) = ports.service(1024);
        let result = service.set_avatar(who, id(7), vec![0; size]).await;
        match (outcome, result) {
            ("too large", Err(SetAvatarError::TooLarge { limit: 1024 }))
            | ("forbidden", Err(SetAvatarError::Forbidden))
            | ("not found", Err(SetAvatarError::NotFound))
            | ("unsupported", Err(SetAvatarError::Unsupported))
            | ("pixels", Err(SetAvatarError::TooManyPixels { .. })) => {}
            (_, other) => panic!("{name}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_failed_update_removes_the_new_file_and_keeps_the_old() {
    let mut ports = Ports::new();
    let staged = ports.staging.path().join("new.part");
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(7, Some("old.png")))));
    ports
        .images
        .expect_normalize()
        .returning(|_| Ok(png(b"clean")));
    ports.media.expect_new_key().returning(|_| "new.png".into());
    ports
        .media
        .expect_staging_path()
        .returning(move |_| staged.clone());
    ports.media.expect_commit().returning(|_| Ok(()));
    ports
        .users
        .expect_update()
        .returning(|_, _, _| Err(UserWriteError::NotFound));
    ports
        .media
        .expect_remove()
        .with(eq("new.png"))
        .times(1)
        .returning(|_| Ok(()));
    let (service, _dir) = ports.service(1024);
    let result = service
        .set_avatar(actor(7, Role::User), id(7), b"x".to_vec())
        .await;
    assert!(
        matches!(result, Err(SetAvatarError::NotFound)),
        "{result:?}"
    );
}

#[tokio::test]
async fn removing_an_avatar_clears_the_row_then_the_file() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(7, Some("old.webp")))));
    ports
        .users
        .expect_update()
        .withf(|_, changes, _| changes.avatar_key == Some(None))
        .times(1)
        .returning(|_, _, _| Ok(user(7, None)));
    ports
        .media
        .expect_remove()
        .with(eq("old.webp"))
        .times(1)
        .returning(|_| Ok(()));
    let (service, _dir) = ports.service(1024);
    service
        .remove_avatar(actor(1, Role::Admin), id(7))
        .await
        .expect("removed");

    let mut ports = Ports::new();
    let (service, _dir) = {
        ports.users.expect_get().never();
        ports.service(1024)
    };
    let refused = service
        .remove_avatar(actor(1, Role::Moderator), id(7))
        .await;
    assert!(
        matches!(refused, Err(DeleteAvatarError::Forbidden)),
        "{refused:?}"
    );
}

#[tokio::test]
async fn avatars_are_served_with_their_format_or_not_found() {
    let mut ports = Ports::new();
    ports.users.expect_get().returning(|who| {
        Ok(match who.get() {
            7 => Some(user(7, Some("0123.jpg"))),
            8 => Some(user(8, None)),
            _ => None,
        })
    });
    ports
        .media
        .expect_open()
        .withf(|key| key == "0123.jpg")
        .returning(|_| {
            Ok(crate::videos::ports::MediaObject {
                size: 321,
                modified: Utc::now(),
                etag: "tag".into(),
            })
        });
    let (service, _dir) = ports.service(1024);
    let file = service.avatar(id(7)).await.expect("avatar");
    assert_eq!(file.content_type, "image/jpeg");
    assert_eq!(file.key, "0123.jpg");
    assert_eq!(file.object.size, 321);
    assert!(matches!(
        service.avatar(id(8)).await,
        Err(GetAvatarError::NoAvatar)
    ));
    assert!(matches!(
        service.avatar(id(9)).await,
        Err(GetAvatarError::NotFound)
    ));
}

#[tokio::test]
async fn deleting_a_user_purges_their_avatar() {
    let mut ports = Ports::new();
    ports
        .users
        .expect_get()
        .returning(|_| Ok(Some(user(7, Some("old.png")))));
    ports
        .users
        .expect_update()
        .withf(|_, changes, _| changes.avatar_key == Some(None))
        .times(1)
        .returning(|_, _, _| Ok(user(7, None)));
    ports
        .media
        .expect_remove()
        .with(eq("old.png"))
        .times(1)
        .returning(|_| Ok(()));
    let (service, _dir) = ports.service(1024);
    service.purge(id(7)).await.expect("purged");
}

#[test]
fn stored_profiles_default_to_nothing() {
    let empty = StoredProfile::default();
    assert_eq!(empty.address, None);
    assert!(empty.preferences.as_map().is_empty());
}
