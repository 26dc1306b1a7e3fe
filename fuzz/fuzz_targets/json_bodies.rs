//! JSON request bodies as the `ValidJson` and `JsonBody` extractors read them: the
//! first byte picks the body type, the rest is the body. Parsed to JSON, checked
//! against the type's schema and rules, then converted to the application's request
//! where that needs no service.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vidgen_http_adapter::routes::account::{
    EmailVerificationRequest, PasswordRecoveryRequest, PasswordResetRequest,
};
use vidgen_http_adapter::routes::auth::{LoginRequest, RefreshRequest};
use vidgen_http_adapter::routes::profiles::dto::ProfileReplace;
use vidgen_http_adapter::routes::users::dto::{
    PasswordChange, RoleUpdate, StatusUpdate, UserCreate, UserReplace, UserUpdate,
};
use vidgen_http_adapter::routes::videos::dto::{VideoCreate, VideoUpdate};
use vidgen_http_adapter::validation::{json_value, valid_json};

fuzz_target!(|input: &[u8]| {
    let Some((&kind, body)) = input.split_first() else {
        return;
    };
    let Ok(value) = json_value(body) else {
        return;
    };
    match kind % 13 {
        0 => drop(valid_json::<UserCreate>(value)),
        1 => {
            if let Ok(update) = valid_json::<UserUpdate>(value) {
                let _ = update.try_into_domain();
            }
        }
        2 => {
            if let Ok(replace) = valid_json::<UserReplace>(value) {
                let _ = replace.try_into_domain();
            }
        }
        3 => drop(valid_json::<PasswordChange>(value)),
        4 => drop(valid_json::<StatusUpdate>(value)),
        5 => drop(valid_json::<RoleUpdate>(value)),
        6 => drop(valid_json::<VideoCreate>(value)),
        7 => {
            if let Ok(update) = valid_json::<VideoUpdate>(value) {
                let _ = update.try_into_domain();
            }
        }
        8 => {
            if let Ok(profile) = valid_json::<ProfileReplace>(value) {
                let _ = profile.try_into_domain();
            }
        }
        9 => drop(valid_json::<LoginRequest>(value)),
        10 => drop(valid_json::<RefreshRequest>(value)),
        11 => drop(valid_json::<PasswordRecoveryRequest>(value)),
        _ => {
            drop(valid_json::<PasswordResetRequest>(value.clone()));
            drop(valid_json::<EmailVerificationRequest>(value));
        }
    }
});
