//! A documented route: its method and path, what it takes and answers (schema names in
//! `/openapi.json`), and its handler. The REST API and the Messenger list their routes this
//! way, so the router and the document are built from the same list.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter, on};

use crate::AppState;

/// One API operation: its documentation and its handler.
pub struct ApiRoute {
    pub method: Method,
    pub path: &'static str,
    pub summary: &'static str,
    /// A schema name in the OpenAPI components, for the request body.
    pub request: Option<&'static str>,
    /// A schema name in the OpenAPI components, for the 200 response.
    pub response: &'static str,
    pub handler: MethodRouter<AppState>,
}

pub(crate) fn route<H, T>(
    method: Method,
    path: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: &'static str,
    handler: H,
) -> ApiRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a standard HTTP method");
    ApiRoute { method, path, summary, request, response, handler: on(filter, handler) }
}

/// A documented route whose handler is already a method router (the Messenger's routes).
pub(crate) fn route_for(
    method: Method,
    path: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: &'static str,
    handler: MethodRouter<AppState>,
) -> ApiRoute {
    ApiRoute { method, path, summary, request, response, handler }
}
