//! sea-orm entities, private to the infrastructure crate.

pub(crate) mod account_token;
pub(crate) mod idempotency_key;
pub(crate) mod instance;
pub(crate) mod job;
pub(crate) mod refresh_token;
pub(crate) mod user;
pub(crate) mod user_profile;
pub(crate) mod video;
