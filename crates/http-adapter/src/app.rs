//! Assembly of the actix application: state, extractor configuration, routes, docs and
//! middleware, in one place.

use std::sync::Arc;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, Error, http::header, web};
use paperclip::actix::OpenApiExt;

use crate::docs::{self, OPENAPI_PATH, OpenApiDocument};
use crate::extract;
use crate::metrics::{self, MetricsAccess};
use crate::middleware::metrics::record_request;
use crate::middleware::{
    TrustedHosts, TrustedProxies, envelope, problem, rate_limit, request_context, trusted_host,
};
use crate::openapi::{self, DocsInfo};
use crate::registry::{self, Registry};
use crate::routes;

/// Every resource's routes, in the order the document lists their tags. (The order in
/// which actix tries the paths is derived from the paths, see
/// [`registry::paths_in_match_order`].)
pub fn registries() -> Vec<Registry> {
    vec![
        routes::auth::registry(),
        routes::users::registry(),
        routes::account::registry(),
        routes::profiles::registry(),
        routes::videos::registry(),
        routes::analytics::registry(),
        routes::health::registry(),
    ]
}

/// The OpenAPI document of every registered route.
///
/// A registry naming a field, parameter or operation the document does not have is a
/// bug caught by this module's tests; should one slip through, it is logged here.
pub fn openapi_document(info: &DocsInfo) -> serde_json::Value {
    let built = openapi::document(info, &registries());
    for problem in &built.problems {
        tracing::warn!(%problem, "the OpenAPI document disagrees with the route registries");
    }
    built.spec
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    List(Vec<String>),
}

/// HTTP-level configuration, built by the composition root from the settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub docs_enabled: bool,
    pub redoc_script_url: String,
    pub max_json_bytes: usize,
    pub cors_origins: CorsOrigins,
    pub cors_allow_credentials: bool,
    pub trusted_hosts: TrustedHosts,
    /// `TRUSTED_PROXIES`: peers whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// `PUBLIC_BASE_URL` when configured: `Location` headers become absolute under it.
    pub public_base_url: Option<String>,
    /// Who may scrape `/metrics` (`METRICS_TOKEN`).
    pub metrics: MetricsAccess,
}

/// Puts one service into a worker's app data.
type Provide = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// The services the handlers call (each reaches them as `web::Data<Service>`), shared by
/// every worker, and the OpenAPI document. A new capability's service is one
/// [`AppState::with`] in the composition root.
#[derive(Clone)]
pub struct AppState {
    provided: Vec<(&'static str, Provide)>,
    /// The document served at `/openapi.json` (built once, see [`openapi_document`]).
    pub openapi: OpenApiDocument,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field(
                "services",
                &self
                    .provided
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(openapi: OpenApiDocument) -> Self {
        Self {
            provided: Vec::new(),
            openapi,
        }
    }

    /// Makes `service` available to every handler as `web::Data<T>` (one instance shared
    /// by all workers).
    #[must_use]
    pub fn with<T: Send + Sync + 'static>(self, service: T) -> Self {
        self.with_shared(Arc::new(service))
    }

    /// Like [`Self::with`], for a service the caller keeps a handle on too.
    pub fn with_shared<T: Send + Sync + 'static>(mut self, service: Arc<T>) -> Self {
        let data = web::Data::from(service);
        self.provided.push((
            std::any::type_name::<T>(),
            Arc::new(move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(data.clone());
            }),
        ));
        self
    }
}

/// Response headers a browser client may read.
pub const EXPOSED_HEADERS: &[&str] = &[
    "X-Total-Count",
    "X-Page-Count",
    "Link",
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
    "Retry-After",
    "ETag",
    "Location",
];

fn cors(config: &HttpConfig) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_NONE_MATCH,
            header::RANGE,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers(EXPOSED_HEADERS.iter().copied())
        .max_age(3600);
    match &config.cors_origins {
        CorsOrigins::Any => cors = cors.send_wildcard().allow_any_origin(),
        CorsOrigins::List(origins) => {
            for origin in origins {
                cors = cors.allowed_origin(origin);
            }
        }
    }
    if config.cors_allow_credentials {
        cors = cors.supports_credentials();
    }
    cors
}

/// Builds the application for one worker.
pub fn build(
    state: AppState,
    config: HttpConfig,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let max_json_bytes = config.max_json_bytes;
    let mut app = App::new()
        .configure(|cfg| extract::configure(cfg, max_json_bytes))
        .configure(|cfg| {
            for (_, provide) in &state.provided {
                provide(cfg);
            }
        })
        .app_data(crate::validation::JsonLimit(max_json_bytes))
        .app_data(web::Data::new(config.trusted_hosts.clone()))
        .app_data(web::Data::new(config.trusted_proxies.clone()))
        // Metrics: the process-wide exporter (installed on first use) and the scrape token.
        .app_data(web::Data::new(metrics::exporter().clone()))
        .app_data(web::Data::new(config.metrics.clone()));
    if let Some(base) = config.public_base_url.clone() {
        app = app.app_data(crate::responses::PublicBaseUrl(base));
    }
    if config.docs_enabled {
        let document = state.openapi;
        let redoc = config.redoc_script_url.clone();
        app = app.configure(|cfg| docs::configure(cfg, document, redoc));
    }
    let registries = registries();
    let mut api = app
        .wrap_api()
        .configure(|cfg| registry::configure(cfg, &registries));
    if config.docs_enabled {
        // Paperclip's own spec route is shadowed by ours (registered first); it is needed
        // only to tell its Swagger UI where the document lives.
        api = api
            .with_json_spec_v3_at(OPENAPI_PATH)
            .with_swagger_ui_at("/docs");
    }
    api.build()
        .default_service(web::to(problem::not_found))
        .wrap(from_fn(rate_limit))
        .wrap(cors(&config))
        .wrap(from_fn(trusted_host))
        .wrap(from_fn(envelope))
        .wrap(Compress::default())
        .wrap(from_fn(request_context))
        // Outermost, so that it sees the final status and the whole latency.
        .wrap(from_fn(record_request))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn doc() -> Value {
        openapi_document(&DocsInfo {
            version: "1.2.3".into(),
        })
    }

    #[test]
    fn document_has_info_tags_and_bearer_scheme() {
        let spec = doc();
        assert_eq!(spec["openapi"], "3.0.3");
        assert_eq!(spec["info"]["title"], "vidgen API");
        assert_eq!(spec["info"]["version"], "1.2.3");
        assert!(spec["info"]["contact"]["email"].is_string());
        assert!(spec["info"]["license"]["name"].is_string());
        let tags: Vec<&str> = spec["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(
            tags,
            vec![
                "Authentication",
                "Users",
                "Account",
                "Profiles",
                "Videos",
                "Analytics",
                "Operations"
            ]
        );
        assert_eq!(
            spec["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        assert!(
            spec["components"]["schemas"]["ErrorResponse"]["properties"]["request_id"].is_object()
        );
    }

    #[test]
    fn every_operation_is_registered_and_documents_its_errors() {
        let spec = doc();
        let known: Vec<&str> = registries()
            .iter()
            .flat_map(|r| r.routes.iter().map(|e| e.operation_id))
            .collect();
        let paths = spec["paths"].as_object().expect("paths");
        assert!(paths.contains_key("/health"));
        assert!(paths.contains_key("/health/ready"));
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("path item") {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    known.contains(&id),
                    "{method} {path} ({id}) has no registry entry"
                );
                assert!(
                    operation["summary"].is_string(),
                    "{method} {path} has no summary"
                );
                assert!(operation["tags"].is_array(), "{method} {path} has no tags");
                let responses = operation["responses"].as_object().expect("responses");
                assert!(responses.contains_key("500"), "{method} {path}");
            }
        }
        let ready = &spec["paths"]["/health/ready"]["get"]["responses"];
        assert_eq!(
            ready["503"]["$ref"],
            "#/components/responses/ServiceUnavailable"
        );
        // Public operations say so with an empty requirement.
        assert_eq!(
            spec["paths"]["/health"]["get"]["security"],
            serde_json::json!([])
        );
    }

    #[test]
    fn every_documented_name_exists_and_every_route_is_documented() {
        let built = openapi::document(
            &DocsInfo {
                version: "0".into(),
            },
            &registries(),
        );
        assert_eq!(built.problems, Vec::<String>::new());
        let documented: usize = built.spec["paths"]
            .as_object()
            .expect("paths")
            .values()
            .map(|item| item.as_object().map_or(0, serde_json::Map::len))
            .sum();
        let registered: usize = registries().iter().map(|r| r.routes.len()).sum();
        assert_eq!(documented, registered);
    }

    #[test]
    fn no_template_shadows_a_literal_path() {
        let registries = registries();
        let order = registry::paths_in_match_order(&registries);
        let matches = |template: &str, path: &str| {
            let (t, p): (Vec<&str>, Vec<&str>) =
                (template.split('/').collect(), path.split('/').collect());
            t.len() == p.len() && t.iter().zip(&p).all(|(a, b)| a.starts_with('{') || a == b)
        };
        for (index, path) in order.iter().enumerate() {
            for earlier in &order[..index] {
                assert!(
                    !matches(earlier, path),
                    "{earlier} is tried before {path} and would swallow it"
                );
            }
        }
    }
}
