//! The route table: each resource module declares its routes once, in one [`Registry`],
//! and both the actix configuration ([`configure`]) and the OpenAPI document
//! ([`crate::openapi`]) are built from the registries the app assembles.
//!
//! This module is a leaf of the adapter: it knows routes, their documentation facts and
//! the error tables of [`crate::error_map`], never a particular resource.

use std::fmt;
use std::sync::Arc;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use paperclip::actix::web;

use crate::error_map::MappedErrors;
use crate::middleware::panic::catch_panic;

/// A JSON-schema keyword to add to a field or parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Constraint {
    MinLength(u64),
    MaxLength(u64),
    Pattern(&'static str),
    /// The most keys an object may have.
    MaxProperties(u64),
    /// An object whose values may be any JSON (`additionalProperties: {}`).
    AnyValues,
    Minimum(i64),
    Maximum(i64),
    Format(&'static str),
    Nullable,
    /// A numeric default.
    DefaultInt(i64),
    /// A string default.
    DefaultText(&'static str),
    /// An example, written as JSON.
    Example(&'static str),
}

/// Constraints of one field of a component schema.
#[derive(Debug, Clone, Copy)]
pub struct FieldDoc {
    pub schema: &'static str,
    pub field: &'static str,
    pub constraints: &'static [Constraint],
}

/// Constraints of every parameter with this name (query or path) on the operations of
/// the registry that lists it.
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    pub name: &'static str,
    pub constraints: &'static [Constraint],
}

/// Builds the paperclip route (method guard plus handler) of one entry.
type RouteFactory = Arc<dyn Fn() -> web::Route + Send + Sync>;

/// One operation: where it is served, the handler, and what the document says about it
/// beyond what paperclip sees in the handler's signature.
#[derive(Clone)]
pub struct RouteEntry {
    pub method: Method,
    /// The actix path template (`/api/v1/users/{user_id}`), also the document's path.
    pub path: &'static str,
    pub operation_id: &'static str,
    /// Requires `Authorization: Bearer <token>`.
    pub secured: bool,
    /// Error statuses of the use-case errors this operation maps (see [`Self::maps`]).
    /// The ones every operation can give (400 for an untrusted host, 500) and the ones
    /// implied by its shape (401 when secured; 422 with parameters or a body; 413/415
    /// with a body; 416 for ranged files) are added by the document builder.
    pub errors: Vec<u16>,
    /// The JSON body may also be sent as `application/x-www-form-urlencoded`.
    pub form_body: bool,
    /// The success answer is a file of this media type, or of one of several listed with
    /// commas (`image/png, image/jpeg`); with ranges when `video/*`.
    pub binary: Option<&'static str>,
    /// The success answer is text of this media type, with this description.
    pub text: Option<(&'static str, &'static str)>,
    /// Takes an optional `Idempotency-Key` header.
    pub idempotency_key: bool,
    /// A request this operation makes back to the client later (an OpenAPI callback).
    pub callback: Option<CallbackDoc>,
    /// The body is `multipart/form-data`: the schema of its parts (an object schema,
    /// built from the same constants the handler checks).
    pub multipart: Option<fn() -> serde_json::Value>,
    /// Also opens with a signed link's `expires` and `signature` instead of the bearer
    /// token (see [`crate::media_links`]).
    pub signed_link: bool,
    route: RouteFactory,
}

/// An outgoing request an operation leads to, documented as an OpenAPI callback.
#[derive(Debug, Clone, Copy)]
pub struct CallbackDoc {
    /// The callback's name (`videoSettled`).
    pub name: &'static str,
    /// The runtime expression of the URL (`{$request.body#/webhook_url}`).
    pub url: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    /// The request body's component schema: its name and its JSON schema builder.
    pub schema_name: &'static str,
    pub schema: fn() -> serde_json::Value,
    /// Headers the request carries: name and description.
    pub headers: &'static [(&'static str, &'static str)],
}

impl fmt::Debug for RouteEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteEntry")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("operation_id", &self.operation_id)
            .field("secured", &self.secured)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl RouteEntry {
    /// An operation anyone may call.
    pub fn public<F, Args>(
        method: Method,
        path: &'static str,
        operation_id: &'static str,
        handler: F,
    ) -> Self
    where
        F: actix_web::Handler<Args> + Send + Sync,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
        F::Future: paperclip::v2::schema::Apiv2Operation,
    {
        let route_method = method.clone();
        Self {
            method,
            path,
            operation_id,
            secured: false,
            errors: Vec::new(),
            form_body: false,
            binary: None,
            text: None,
            idempotency_key: false,
            callback: None,
            multipart: None,
            signed_link: false,
            route: Arc::new(move || web::method(route_method.clone()).to(handler.clone())),
        }
    }

    /// An operation that needs a bearer token.
    pub fn secured<F, Args>(
        method: Method,
        path: &'static str,
        operation_id: &'static str,
        handler: F,
    ) -> Self
    where
        F: actix_web::Handler<Args> + Send + Sync,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
        F::Future: paperclip::v2::schema::Apiv2Operation,
    {
        Self {
            secured: true,
            ..Self::public(method, path, operation_id, handler)
        }
    }

    /// The handler converts `E` into an `ApiError`: the statuses of that conversion are
    /// documented for this operation.
    #[must_use]
    pub fn maps<E: MappedErrors>(mut self) -> Self {
        for status in E::STATUSES {
            if !self.errors.contains(status) {
                self.errors.push(*status);
            }
        }
        self.errors.sort_unstable();
        self
    }

    #[must_use]
    pub fn with_form_body(mut self) -> Self {
        self.form_body = true;
        self
    }

    #[must_use]
    pub fn with_binary(mut self, media_type: &'static str) -> Self {
        self.binary = Some(media_type);
        self
    }

    #[must_use]
    pub fn with_text(mut self, media_type: &'static str, description: &'static str) -> Self {
        self.text = Some((media_type, description));
        self
    }

    #[must_use]
    pub fn with_idempotency_key(mut self) -> Self {
        self.idempotency_key = true;
        self
    }

    #[must_use]
    pub fn with_multipart(mut self, schema: fn() -> serde_json::Value) -> Self {
        self.multipart = Some(schema);
        self
    }

    #[must_use]
    pub fn with_signed_link(mut self) -> Self {
        self.signed_link = true;
        self
    }

    #[must_use]
    pub fn with_callback(mut self, callback: CallbackDoc) -> Self {
        self.callback = Some(callback);
        self
    }

    /// The document's name of the method (`get`, `post`, ...).
    pub fn method_name(&self) -> String {
        self.method.as_str().to_ascii_lowercase()
    }
}

/// A nested object type shown as a component schema of its own, referred to from the
/// fields that hold it (paperclip writes nested types inline).
#[derive(Debug, Clone, Copy)]
pub struct ComponentDoc {
    /// The component's name (`Address`).
    pub name: &'static str,
    pub description: &'static str,
    /// The `(schema, field)` pairs holding it inline.
    pub at: &'static [(&'static str, &'static str)],
}

/// The routes of one resource module, with its tag and the documentation of its types.
#[derive(Debug, Clone)]
pub struct Registry {
    pub tag: &'static str,
    pub tag_description: &'static str,
    pub routes: Vec<RouteEntry>,
    /// Constraints of the fields of this module's component schemas.
    pub fields: Vec<FieldDoc>,
    /// Constraints of the parameters of this module's operations.
    pub params: Vec<ParamDoc>,
    /// Nested types to show as components of their own.
    pub components: Vec<ComponentDoc>,
}

impl Registry {
    pub fn new(tag: &'static str, tag_description: &'static str) -> Self {
        Self {
            tag,
            tag_description,
            routes: Vec::new(),
            fields: Vec::new(),
            params: Vec::new(),
            components: Vec::new(),
        }
    }

    #[must_use]
    pub fn route(mut self, entry: RouteEntry) -> Self {
        self.routes.push(entry);
        self
    }

    #[must_use]
    pub fn fields(mut self, fields: &[FieldDoc]) -> Self {
        self.fields.extend_from_slice(fields);
        self
    }

    #[must_use]
    pub fn components(mut self, components: &[ComponentDoc]) -> Self {
        self.components.extend_from_slice(components);
        self
    }

    #[must_use]
    pub fn params(mut self, params: &[ParamDoc]) -> Self {
        self.params.extend_from_slice(params);
        self
    }
}

/// A documented resource whose handlers are guarded against panics (an opaque 500
/// instead of a dropped connection). Every route is registered through this.
pub fn resource(
    path: &str,
) -> web::Resource<
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
    web::resource(path).wrap(from_fn(catch_panic))
}

/// How specific a path is, segment by segment: a literal segment sorts before a
/// `{template}` at the same position, so `/users/me` is matched before `/users/{id}`.
fn specificity(path: &str) -> Vec<bool> {
    path.split('/')
        .map(|segment| segment.starts_with('{'))
        .collect()
}

/// The distinct paths of these registries in the order actix must try them: literal
/// paths before the templates that would swallow them, otherwise as declared.
pub fn paths_in_match_order(registries: &[Registry]) -> Vec<&'static str> {
    let mut paths: Vec<&'static str> = Vec::new();
    for entry in registries.iter().flat_map(|r| &r.routes) {
        if !paths.contains(&entry.path) {
            paths.push(entry.path);
        }
    }
    paths.sort_by_key(|path| specificity(path));
    paths
}

/// The path template of the resource that answered a request, kept in the resource's
/// app data so the metrics middleware labels the request without matching its path
/// against the route table a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteTemplate(pub &'static str);

/// Registers every route of these registries, one actix resource per path.
pub fn configure(cfg: &mut web::ServiceConfig, registries: &[Registry]) {
    for path in paths_in_match_order(registries) {
        let mut resource = resource(path).app_data(RouteTemplate(path));
        for entry in registries
            .iter()
            .flat_map(|r| &r.routes)
            .filter(|e| e.path == path)
        {
            resource = resource.route((entry.route)());
        }
        cfg.service(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_paths_come_before_templates() {
        let paths = [
            "/api/v1/users/{user_id}",
            "/api/v1/users/{user_id}/videos",
            "/api/v1/users/me",
            "/api/v1/users/by-username/{username}",
            "/api/v1/users",
        ];
        let mut sorted = paths.to_vec();
        sorted.sort_by_key(|p| specificity(p));
        assert_eq!(
            sorted,
            vec![
                "/api/v1/users",
                "/api/v1/users/me",
                "/api/v1/users/by-username/{username}",
                "/api/v1/users/{user_id}",
                "/api/v1/users/{user_id}/videos",
            ]
        );
    }
}
