//! Route modules, one per resource. Each exposes `configure` for the app and the
//! documentation facts the OpenAPI post-processor needs about its operations.

pub mod auth;
pub mod health;
pub mod users;
pub mod videos;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;

use crate::middleware::envelope::catch_panic;

/// A documented resource whose handlers are guarded against panics (an opaque 500
/// instead of a dropped connection). Every route module registers its paths with this.
pub fn resource(
    path: &str,
) -> paperclip::actix::web::Resource<
    actix_web::Resource<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<BoxBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    >,
> {
    paperclip::actix::web::resource(path).wrap(from_fn(catch_panic))
}
