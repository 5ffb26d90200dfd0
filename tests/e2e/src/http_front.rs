//! The webhook handler behind a real HTTP server on 127.0.0.1, as API Gateway's HTTP API puts it on
//! the internet: each request becomes the API Gateway event the deployed function receives, through
//! the handler's real `lambda_http` path. What a load tool is pointed at.
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use sellerbridge_cli::local::runner;
use shipment_webhook::WebhookDeps;

/// Serves `deps` until the returned task is aborted: the base URL (`http://127.0.0.1:port`).
pub async fn serve_webhook(deps: WebhookDeps) -> (String, tokio::task::JoinHandle<()>) {
    let app = Router::new().fallback(handle).with_state(Arc::new(deps));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the webhook front");
    let url = format!("http://{}", listener.local_addr().expect("a local address"));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    (url, server)
}

async fn handle(State(deps): State<Arc<WebhookDeps>>, uri: Uri, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let headers: Vec<(&str, String)> =
        headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?.to_owned()))).collect();
    match runner::post_webhook(&deps, uri.path(), &headers, &body).await {
        Ok((status, answer)) => {
            (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY), axum::Json(answer)).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
