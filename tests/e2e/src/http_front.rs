//! The webhook handler behind a real HTTP server on 127.0.0.1, as API Gateway's HTTP API puts it on
//! the internet: each request becomes the API Gateway event the deployed function receives, through
//! the handler's real `lambda_http` path (`sellerbridge local serve`'s router). What a load tool is
//! pointed at.
use std::sync::Arc;

use sellerbridge_cli::local::serve;
use shipment_webhook::WebhookDeps;

/// Serves `deps` until the returned task is aborted: the base URL (`http://127.0.0.1:port`).
pub async fn serve_webhook(deps: WebhookDeps) -> (String, tokio::task::JoinHandle<()>) {
    let app = serve::router(Arc::new(deps), None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the webhook front");
    let url = format!("http://{}", listener.local_addr().expect("a local address"));
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.ok();
    });
    (url, server)
}
