//! Response types that carry their OpenAPI description: `201 Created` with `Location`,
//! lists with paging headers, `204 No Content`, and stored files.

mod file;

use std::collections::BTreeMap;

use actix_web::body::BoxBody;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, Responder};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, Either, Header, Response};
use paperclip::v2::schema::Apiv2Schema;
use serde::Serialize;
use vidgen_application::videos::ports::MediaFile;
use vidgen_domain::listing::{Page, Paged};

/// The base URL `Location` headers are made absolute under (`PUBLIC_BASE_URL`), if set.
#[derive(Debug, Clone)]
pub struct PublicBaseUrl(pub String);

/// `path` as the client should see it: under `PUBLIC_BASE_URL` when one is configured.
pub fn location(request: &HttpRequest, path: &str) -> String {
    match request.app_data::<PublicBaseUrl>() {
        Some(base) if path.starts_with('/') => format!("{}{path}", base.0.trim_end_matches('/')),
        _ => path.to_owned(),
    }
}

/// Starts from 512 bytes, which a user or a video fits (from 128, `/users/me` grew its
/// buffer twice).
fn json_response(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    sized_json_response(status, body, 512)
}

/// [`json_response`] written into a buffer of `capacity` bytes to start with (a list
/// page grows one by doubling and copying several times otherwise).
fn sized_json_response(status: StatusCode, body: &impl Serialize, capacity: usize) -> HttpResponse {
    let mut json = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut json, body) {
        Ok(()) => HttpResponse::build(status)
            .content_type("application/json")
            .body(json),
        Err(error) => crate::error::ApiError::internal(error).error_response_owned(),
    }
}

fn schema_of<T: Apiv2Schema>() -> DefaultSchemaRaw {
    let mut schema = T::schema_with_ref();
    schema.retain_ref();
    schema
}

fn header(description: &str, type_: &str) -> Header {
    Header {
        description: Some(description.to_owned()),
        data_type: Some(match type_ {
            "integer" => paperclip::v2::models::DataType::Integer,
            _ => paperclip::v2::models::DataType::String,
        }),
        ..Header::default()
    }
}

/// `201 Created` with a `Location` header and the new resource as JSON.
#[derive(Debug)]
pub struct Created<T> {
    pub body: T,
    pub location: String,
}

impl<T: Serialize> Responder for Created<T> {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let mut response = json_response(StatusCode::CREATED, &self.body);
        if let Ok(value) = header::HeaderValue::from_str(&location(request, &self.location)) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Created<T> {}

impl<T: Apiv2Schema> OperationModifier for Created<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        let mut headers = BTreeMap::new();
        headers.insert(
            "Location".to_owned(),
            header("URL of the created resource.", "string"),
        );
        op.responses.insert(
            "201".into(),
            Either::Right(Response {
                description: Some("Created".into()),
                schema: Some(schema_of::<T>()),
                headers,
            }),
        );
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <paperclip::actix::web::Json<T> as OperationModifier>::update_definitions(map);
    }
}

/// `202 Accepted` with a `Location` header and the resource as JSON (work continues in
/// the background).
#[derive(Debug)]
pub struct Accepted<T> {
    pub body: T,
    pub location: String,
}

impl<T: Serialize> Responder for Accepted<T> {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let mut response = json_response(StatusCode::ACCEPTED, &self.body);
        if let Ok(value) = header::HeaderValue::from_str(&location(request, &self.location)) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Accepted<T> {}

impl<T: Apiv2Schema> OperationModifier for Accepted<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        let mut headers = BTreeMap::new();
        headers.insert(
            "Location".to_owned(),
            header("URL of the resource to poll.", "string"),
        );
        op.responses.insert(
            "202".into(),
            Either::Right(Response {
                description: Some("Accepted".into()),
                schema: Some(schema_of::<T>()),
                headers,
            }),
        );
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <paperclip::actix::web::Json<T> as OperationModifier>::update_definitions(map);
    }
}

/// `202 Accepted` with a JSON body and no `Location` (work continues in the background and
/// there is nothing to poll, such as a queued e-mail).
#[derive(Debug)]
pub struct AcceptedJson<T>(pub T);

impl<T: Serialize> Responder for AcceptedJson<T> {
    type Body = BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        json_response(StatusCode::ACCEPTED, &self.0)
    }
}

impl<T: Apiv2Schema> Apiv2Schema for AcceptedJson<T> {}

impl<T: Apiv2Schema> OperationModifier for AcceptedJson<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        op.responses.insert(
            "202".into(),
            Either::Right(Response {
                description: Some("Accepted".into()),
                schema: Some(schema_of::<T>()),
                headers: BTreeMap::new(),
            }),
        );
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <paperclip::actix::web::Json<T> as OperationModifier>::update_definitions(map);
    }
}

/// A page of a collection: a JSON array plus `X-Total-Count`, `X-Page-Count` and `Link`.
#[derive(Debug)]
pub struct ListJson<T> {
    body: ListBody<T>,
    total: u64,
    page: Page,
}

#[derive(Debug)]
enum ListBody<T> {
    Items(Vec<T>),
    /// The items already written as a JSON array.
    Json(actix_web::web::Bytes),
}

impl<T> ListJson<T> {
    pub fn new<U>(paged: Paged<U>, convert: impl FnMut(U) -> T) -> Self {
        Self {
            body: ListBody::Items(paged.items.into_iter().map(convert).collect()),
            total: paged.total,
            page: paged.page,
        }
    }

    /// A page whose items are already `json`, the array of `T`s they would serialize to.
    pub fn written(json: actix_web::web::Bytes, total: u64, page: Page) -> Self {
        Self {
            body: ListBody::Json(json),
            total,
            page,
        }
    }
}

/// The `Link` header (RFC 8288) for this page of `request`'s collection.
pub fn link_header(request: &HttpRequest, page: Page, total: u64) -> Option<String> {
    let link = |target: Page, rel: &str| {
        let mut pairs: Vec<(String, String)> =
            serde_urlencoded::from_str::<Vec<(String, String)>>(request.query_string())
                .unwrap_or_default()
                .into_iter()
                .filter(|(key, _)| key != "skip" && key != "limit")
                .collect();
        pairs.push(("skip".into(), target.skip().to_string()));
        pairs.push(("limit".into(), target.limit().to_string()));
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        format!("<{}?{query}>; rel=\"{rel}\"", request.path())
    };
    let mut links = Vec::new();
    if let Some(next) = page.next(total) {
        links.push(link(next, "next"));
    }
    if let Some(prev) = page.prev() {
        links.push(link(prev, "prev"));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

impl<T: Serialize> Responder for ListJson<T> {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        let mut response = match self.body {
            ListBody::Items(items) => {
                // Most items of this API's lists take 300 to 700 bytes of JSON.
                let capacity = items.len().saturating_mul(768).saturating_add(2);
                sized_json_response(StatusCode::OK, &items, capacity)
            }
            ListBody::Json(json) => HttpResponse::Ok()
                .content_type("application/json")
                .body(json),
        };
        let headers = response.headers_mut();
        headers.insert(
            header::HeaderName::from_static("x-total-count"),
            header::HeaderValue::from(self.total),
        );
        headers.insert(
            header::HeaderName::from_static("x-page-count"),
            header::HeaderValue::from(self.page.page_count(self.total)),
        );
        if let Some(link) = link_header(request, self.page, self.total)
            && let Ok(value) = header::HeaderValue::from_str(&link)
        {
            headers.insert(header::LINK, value);
        }
        response
    }
}

impl<T: Apiv2Schema> Apiv2Schema for ListJson<T> {}

impl<T: Apiv2Schema> OperationModifier for ListJson<T> {
    fn update_response(op: &mut DefaultOperationRaw) {
        let mut headers = BTreeMap::new();
        headers.insert(
            "X-Total-Count".to_owned(),
            header("Number of items matching the query.", "integer"),
        );
        headers.insert(
            "X-Page-Count".to_owned(),
            header("ceil(X-Total-Count / limit).", "integer"),
        );
        headers.insert(
            "Link".to_owned(),
            header("RFC 8288 links to the next and previous pages.", "string"),
        );
        let schema = DefaultSchemaRaw {
            data_type: Some(paperclip::v2::models::DataType::Array),
            items: Some(Box::new(schema_of::<T>())),
            ..DefaultSchemaRaw::default()
        };
        op.responses.insert(
            "200".into(),
            Either::Right(Response {
                description: Some("OK".into()),
                schema: Some(schema),
                headers,
            }),
        );
    }

    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        <paperclip::actix::web::Json<T> as OperationModifier>::update_definitions(map);
    }
}

/// A stored file streamed with `Range`, `ETag` and `Last-Modified` support, and
/// `Cache-Control: private, no-cache` (a user's file: browsers may keep it but must
/// revalidate it, shared caches must not keep it).
#[derive(Debug)]
pub struct FileResponse {
    file: MediaFile,
}

impl FileResponse {
    pub fn new(file: MediaFile) -> Self {
        Self { file }
    }
}

impl Responder for FileResponse {
    type Body = BoxBody;

    fn respond_to(self, request: &HttpRequest) -> HttpResponse {
        file::respond(self.file, request)
    }
}

impl Apiv2Schema for FileResponse {}

impl OperationModifier for FileResponse {
    fn update_response(op: &mut DefaultOperationRaw) {
        op.responses.insert(
            "200".into(),
            Either::Right(Response {
                description: Some("The file.".into()),
                schema: Some(DefaultSchemaRaw {
                    data_type: Some(paperclip::v2::models::DataType::File),
                    ..DefaultSchemaRaw::default()
                }),
                headers: BTreeMap::new(),
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn links_keep_the_filters_and_move_the_window() {
        let request = TestRequest::get()
            .uri("/api/v1/users?search=ann&skip=20&limit=10&role=admin")
            .to_http_request();
        let page = Page::new(20, 10).expect("page");
        let link = link_header(&request, page, 45).expect("links");
        assert_eq!(
            link,
            "</api/v1/users?search=ann&role=admin&skip=30&limit=10>; rel=\"next\", \
             </api/v1/users?search=ann&role=admin&skip=10&limit=10>; rel=\"prev\""
        );
        let only = Page::new(0, 10).expect("page");
        assert_eq!(link_header(&request, only, 5), None);
    }
}
