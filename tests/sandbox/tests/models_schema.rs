//! Every kind of response the sandbox sends, validated against Amazon's models (`models/`, copied from
//! `amzn/selling-partner-api-models`): the sandbox must answer in Amazon's shapes and values, not in the client's.
//!
//! The Swagger 2.0 definitions are made stricter than Amazon wrote them, so that a divergence cannot hide:
//! every object is closed (`additionalProperties: false`, an invented field fails) and the enums the model gives
//! only in prose ("**Possible values**: `NEW`, `USED`") become real enums.
mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::Duration;
use common::*;
use jsonschema::Validator;
use reqwest::Response;
use serde_json::{Value, json};
use spapi_sandbox::{Operation, SandboxConfig};

fn load_model(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Backticked SCREAMING_CASE values after "**Possible value(s)**" in a description.
fn prose_enum(description: &str) -> Option<Vec<String>> {
    let (_, listed) = description.split_once("**Possible value")?;
    let values: Vec<String> = listed
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
        .map(str::to_owned)
        .collect();
    (!values.is_empty()).then_some(values)
}

/// Closes every object schema and turns prose enums into `enum`; returns the property paths it enumerated.
fn tighten(schema: &mut Value, path: &str, enumerated: &mut BTreeSet<String>) {
    let Value::Object(object) = schema else {
        if let Value::Array(items) = schema {
            items.iter_mut().for_each(|item| tighten(item, path, enumerated));
        }
        return;
    };
    if let Some(Value::Object(properties)) = object.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            add_prose_enum(property, &format!("{path}.{name}"), enumerated);
        }
        object.entry("additionalProperties").or_insert(Value::Bool(false));
    }
    for (key, value) in object.iter_mut() {
        tighten(value, &format!("{path}/{key}"), enumerated);
    }
}

fn add_prose_enum(property: &mut Value, path: &str, enumerated: &mut BTreeSet<String>) {
    let Some(values) = property["description"].as_str().and_then(prose_enum) else {
        return;
    };
    // A `$ref` ignores its siblings in draft 4, so only plain string (or string array) fields take the enum.
    let target = match property["type"].as_str() {
        Some("string") => property,
        Some("array") if property["items"]["type"] == "string" => &mut property["items"],
        _ => return,
    };
    if let Value::Object(target) = target {
        target.insert("enum".into(), json!(values));
        enumerated.insert(path.replace("/definitions/", "").replace("/properties", ""));
    }
}

/// Validators for one model: a document per definition, with all (tightened) definitions attached.
struct Model {
    definitions: Value,
    enumerated: BTreeSet<String>,
}

impl Model {
    fn load(file: &str) -> Self {
        let mut definitions = load_model(file)["definitions"].clone();
        let mut enumerated = BTreeSet::new();
        tighten(&mut definitions, "", &mut enumerated);
        Self { definitions, enumerated }
    }

    fn validator(&self, definition: &str) -> Validator {
        assert!(self.definitions.get(definition).is_some(), "no definition {definition}");
        let schema = json!({"$ref": format!("#/definitions/{definition}"), "definitions": self.definitions});
        jsonschema::draft4::options().should_validate_formats(true).build(&schema).unwrap()
    }
}

/// Collects every divergence so one run lists them all.
#[derive(Default)]
struct Divergences(Vec<String>);

impl Divergences {
    fn check(&mut self, validator: &Validator, what: &str, body: &Value) {
        for error in validator.iter_errors(body) {
            // Array indices are dropped so one divergence repeated over many orders is listed once.
            let at = error.instance_path().to_string();
            let field: Vec<&str> = at.split('/').filter(|s| !s.bytes().all(|b| b.is_ascii_digit())).collect();
            self.0.push(format!("{what}: {}: {error:.200}", field.join("/")));
        }
    }

    fn expect_error(&mut self, what: &str, status: u16) {
        if status < 400 {
            self.0.push(format!("{what}: answered {status}, expected an error"));
        }
    }

    fn assert_none(self) {
        let unique: BTreeSet<String> = self.0.into_iter().collect();
        assert!(unique.is_empty(), "{} divergences from Amazon's models:\n{}", unique.len(), {
            let lines: Vec<String> = unique.into_iter().take(60).collect();
            lines.join("\n")
        });
    }
}

struct Validators {
    search: Validator,
    get_order: Validator,
    errors: Validator,
    confirm_errors: Validator,
    lwa_token: Validator,
    lwa_error: Validator,
}

impl Validators {
    fn new() -> Self {
        let orders = Model::load("orders_2026-01-01.json");
        let v0 = Model::load("ordersV0.json");
        let lwa = Model::load("lwa_token.json");
        Self {
            search: orders.validator("SearchOrdersResponse"),
            get_order: orders.validator("GetOrderResponse"),
            errors: orders.validator("ErrorList"),
            confirm_errors: v0.validator("ConfirmShipmentErrorResponse"),
            lwa_token: lwa.validator("TokenResponse"),
            lwa_error: lwa.validator("ErrorResponse"),
        }
    }
}

#[test]
fn prose_enums_cover_the_fields_that_matter() {
    let orders = Model::load("orders_2026-01-01.json");
    for field in [
        "Order.programs",
        "SalesChannel.channelName",
        "OrderFulfillment.fulfilledBy",
        "OrderFulfillment.fulfillmentServiceLevel",
        "ItemCondition.conditionType",
        "ItemCondition.conditionSubtype",
        "CustomerAddress.addressType",
    ] {
        assert!(orders.enumerated.iter().any(|p| p.trim_start_matches('/') == field), "{field} has no enum");
    }
    // fulfillmentStatus and packageStatus.status carry a real enum in the model.
    assert!(orders.definitions["FulfillmentStatus"]["enum"].is_array());
    assert!(orders.definitions["PackageStatus"]["properties"]["status"]["enum"].is_array());
    assert_eq!(
        prose_enum("x\n\n**Possible values**: `AMAZON`, `NON_AMAZON`"),
        Some(vec!["AMAZON".to_string(), "NON_AMAZON".to_string()])
    );
}

async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

const ALL_DATA: &str = "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PACKAGES";

#[tokio::test]
async fn every_response_matches_amazons_models() {
    let v = Validators::new();
    let mut found = Divergences::default();
    let mut config = SandboxConfig {
        seed: 42,
        order_count: 300,
        start_time: Some("2026-03-10T12:34:56Z".parse().unwrap()),
        ..SandboxConfig::default()
    };
    for op in [Operation::SearchOrders, Operation::GetOrder, Operation::ConfirmShipment] {
        config.rate_overrides.insert(op, (1000.0, 1000.0));
    }
    let sb = Sandbox::start(config).await;
    let lwa = sb.token_response().await;
    let (status, body) = json_of(lwa).await;
    assert_eq!(status, 200);
    found.check(&v.lwa_token, "lwa token", &body);
    let token = body["access_token"].as_str().unwrap().to_string();
    let now = sb.handle.state().now();
    let after = iso(now - Duration::days(30));

    // Every page of several searches, with every dataset and with none.
    let mut next_tokens = Vec::new();
    for (included, size) in [(ALL_DATA, "37"), ("", "100"), ("FULFILLMENT,PACKAGES", "7")] {
        let mut first = vec![("marketplaceIds", MARKETPLACE.to_string()), ("lastUpdatedAfter", after.clone())];
        if !included.is_empty() {
            first.push(("includedData", included.to_string()));
        }
        let mut query = first.clone();
        query.push(("maxResultsPerPage", size.into()));
        loop {
            let (status, body) = json_of(sb.search(&token, &query).await).await;
            assert_eq!(status, 200, "{body}");
            found.check(&v.search, &format!("searchOrders [{included}]"), &body);
            let Some(next) = body["pagination"]["nextToken"].as_str() else { break };
            next_tokens.push(next.to_string());
            query = first.clone();
            query.push(("paginationToken", next.to_string()));
        }
    }
    assert!(next_tokens.len() > 5);
    let created = vec![
        ("marketplaceIds", MARKETPLACE.to_string()),
        ("createdAfter", iso(now - Duration::days(2))),
        ("includedData", ALL_DATA.to_string()),
    ];
    let (_, body) = json_of(sb.search(&token, &created).await).await;
    found.check(&v.search, "searchOrders createdAfter", &body);

    // getOrder of every order, with every dataset.
    let all = sb.all_orders().await;
    for order in &all {
        let id = order["orderId"].as_str().unwrap();
        let r = sb.get(&format!("/orders/2026-01-01/orders/{id}"), &token, &[("includedData", ALL_DATA.into())]).await;
        let (status, body) = json_of(r).await;
        assert_eq!(status, 200);
        found.check(&v.get_order, "getOrder", &body);
    }

    // A confirmed package as Amazon then shows it (carrier "Other" too).
    let open = all.iter().find(|o| is_actionable_mfn(o) && status_of(o) == "UNSHIPPED").unwrap();
    let id = open["orderId"].as_str().unwrap();
    let item = &open["orderItems"][0];
    let confirm = json!({"marketplaceId": MARKETPLACE, "packageDetail": {
        "packageReferenceId": "1", "carrierCode": "Other", "carrierName": "Pony Express Local",
        "trackingNumber": "PX1", "shipDate": iso(now), "shippingMethod": "Ground",
        "orderItems": [{"orderItemId": item["orderItemId"], "quantity": 1}]}});
    assert_eq!(sb.confirm(&token, id, &confirm).await.status(), 204);
    let r = sb.get(&format!("/orders/2026-01-01/orders/{id}"), &token, &[("includedData", ALL_DATA.into())]).await;
    found.check(&v.get_order, "getOrder after confirmShipment", &json_of(r).await.1);

    // Error bodies of the v2026 operations.
    let mut errors: Vec<(&str, Response)> = vec![
        ("403 no token", sb.client.get(sb.url("/orders/2026-01-01/orders")).send().await.unwrap()),
        ("403 unknown token", sb.search("Atza|forged", &created).await),
        ("400 validation", sb.search(&token, &[("marketplaceIds", MARKETPLACE.into())]).await),
        ("400 garbled paginationToken", {
            let mut q = created.clone();
            q.push(("paginationToken", "not a token".into()));
            sb.search(&token, &q).await
        }),
        ("404 getOrder", sb.get("/orders/2026-01-01/orders/999-0000000-0000000", &token, &[]).await),
        ("404 route", sb.get("/orders/2026-01-01/nothing", &token, &[]).await),
    ];
    for status in [429, 500, 503] {
        sb.sandbox_post("/_sandbox/faults", json!({"operation": "getOrder", "status": status})).await;
        errors.push(("fault", sb.get(&format!("/orders/2026-01-01/orders/{id}"), &token, &[]).await));
    }
    for (what, response) in errors {
        let (status, body) = json_of(response).await;
        found.expect_error(what, status);
        found.check(&v.errors, what, &body);
    }

    // Error bodies of confirmShipment (v0: `errors` is the list itself).
    let shipped = all.iter().find(|o| fulfilled_by(o) == "MERCHANT" && status_of(o) == "SHIPPED").unwrap();
    let shipped_item = &shipped["orderItems"][0];
    let mut late = confirm.clone();
    late["packageDetail"]["orderItems"] = json!([{"orderItemId": shipped_item["orderItemId"], "quantity": 1}]);
    late["packageDetail"]["packageReferenceId"] = json!("77");
    let confirm_errors = vec![
        ("400 validation", sb.confirm(&token, id, &json!({"marketplaceId": MARKETPLACE})).await),
        ("400 PackageToUpdateNotFound", sb.confirm(&token, shipped["orderId"].as_str().unwrap(), &late).await),
        ("404", sb.confirm(&token, "999-0000000-0000000", &confirm).await),
        ("403", sb.confirm("Atza|forged", id, &confirm).await),
    ];
    for (what, response) in confirm_errors {
        let (status, body) = json_of(response).await;
        found.expect_error(what, status);
        found.check(&v.confirm_errors, &format!("confirmShipment {what}"), &body);
    }

    // LWA errors, and an expired access token.
    for (grant, secret) in [("refresh_token", "wrong"), ("client_credentials", "sandbox-client-secret")] {
        let form = [
            ("grant_type", grant),
            ("refresh_token", REFRESH_TOKEN),
            ("client_id", "sandbox-client-id"),
            ("client_secret", secret),
        ];
        let r = sb.client.post(sb.url("/auth/o2/token")).form(&form).send().await.unwrap();
        found.check(&v.lwa_error, "lwa error", &json_of(r).await.1);
    }
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "lwaToken", "status": 503})).await;
    let r = sb.client.post(sb.url("/auth/o2/token")).form(&[("grant_type", "refresh_token")]).send().await.unwrap();
    found.check(&v.lwa_error, "lwa fault", &json_of(r).await.1);
    let state = sb.handle.state();
    state.set_now(state.now() + Duration::hours(25));
    let mut resumed = created.clone();
    resumed.push(("paginationToken", next_tokens[0].clone()));
    for (what, response) in [
        ("403 expired token", sb.search(&token, &created).await),
        ("400 expired paginationToken", sb.search(&sb.token().await, &resumed).await),
    ] {
        let (status, body) = json_of(response).await;
        found.expect_error(what, status);
        found.check(&v.errors, what, &body);
    }
    found.assert_none();
    sb.handle.shutdown().await;
}

fn iso(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The Notifications API's answers, and the ORDER_CHANGE notifications the sandbox delivers, against
/// Amazon's notifications model and its ORDER_CHANGE schema.
#[tokio::test]
async fn notifications_match_amazons_models() {
    let model = Model::load("notifications.json");
    let mut found = Divergences::default();
    let sb = Sandbox::default().await;
    let grantless = sb
        .client
        .post(sb.url("/auth/o2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "sellingpartnerapi::notifications"),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
        ])
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(grantless).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "sellingpartnerapi::notifications");
    let app_token = body["access_token"].as_str().unwrap().to_owned();
    let seller_token = sb.token().await;
    let post = |path: &str, token: &str, body: Value| {
        sb.client.post(sb.url(path)).header("x-amz-access-token", token).json(&body).send()
    };

    let arn = "arn:aws:sqs:us-east-1:123456789012:sellerbridge-notifications";
    let destination = json!({"name": "sellerbridge", "resourceSpecification": {"sqs": {"arn": arn}}});
    let (status, created) =
        json_of(post("/notifications/v1/destinations", &app_token, destination.clone()).await.unwrap()).await;
    assert_eq!(status, 200, "{created}");
    found.check(&model.validator("CreateDestinationResponse"), "createDestination", &created);
    let (status, listed) = json_of(sb.get("/notifications/v1/destinations", &app_token, &[]).await).await;
    assert_eq!(status, 200);
    found.check(&model.validator("GetDestinationsResponse"), "getDestinations", &listed);
    let (status, again) = json_of(post("/notifications/v1/destinations", &app_token, destination).await.unwrap()).await;
    found.expect_error("createDestination twice", status);
    found.check(&model.validator("CreateDestinationResponse"), "createDestination conflict", &again);
    let (status, _) = json_of(sb.get("/notifications/v1/destinations", &seller_token, &[]).await).await;
    assert_eq!(status, 403, "destinations take a grantless token");

    let destination_id = created["payload"]["destinationId"].as_str().unwrap();
    let subscription = json!({"payloadVersion": "1.0", "destinationId": destination_id,
        "processingDirective": {"eventFilter": {"eventFilterType": "ORDER_CHANGE", "marketplaceIds": [MARKETPLACE]}}});
    let path = "/notifications/v1/subscriptions/ORDER_CHANGE";
    let (status, _) = json_of(post(path, &app_token, subscription.clone()).await.unwrap()).await;
    assert_eq!(status, 403, "a subscription takes the seller's authorization");
    let (status, subscribed) = json_of(post(path, &seller_token, subscription).await.unwrap()).await;
    assert_eq!(status, 200, "{subscribed}");
    found.check(&model.validator("CreateSubscriptionResponse"), "createSubscription", &subscribed);
    let (status, fetched) = json_of(sb.get(path, &seller_token, &[]).await).await;
    assert_eq!(status, 200);
    found.check(&model.validator("GetSubscriptionResponse"), "getSubscription", &fetched);

    // A change at Amazon raises an ORDER_CHANGE notification shaped as Amazon's schema says.
    let order_id = sb.all_orders().await[0]["orderId"].as_str().unwrap().to_owned();
    let r =
        sb.sandbox_post(&format!("/_sandbox/orders/{order_id}/touch"), json!({"fulfillmentStatus": "CANCELLED"})).await;
    assert_eq!(r.status(), 200);
    let sent: Vec<Value> = sb.client.get(sb.url("/_sandbox/notifications")).send().await.unwrap().json().await.unwrap();
    assert_eq!(sent.len(), 1);
    let schema = load_model("OrderChangeNotification.json");
    let validator = jsonschema::draft7::options().build(&schema).unwrap();
    found.check(&validator, "ORDER_CHANGE notification", &sent[0]);
    assert_eq!(sent[0]["Payload"]["OrderChangeNotification"]["AmazonOrderId"], order_id.as_str());
    assert_eq!(sent[0]["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"], "Canceled");
    found.assert_none();
    sb.handle.shutdown().await;
}

/// The Feeds API's answers in every state a feed goes through, and its errors, against `feeds_2021-06-30.json`;
/// and an order a feed cancelled items of, with the CANCELLATION dataset, against the orders model.
#[tokio::test]
async fn feeds_match_amazons_model() {
    let model = Model::load("feeds_2021-06-30.json");
    let orders_model = Model::load("orders_2026-01-01.json");
    let (feed_v, feeds_v, errors_v) =
        (model.validator("Feed"), model.validator("GetFeedsResponse"), model.validator("ErrorList"));
    let document_v = model.validator("FeedDocument");
    let mut found = Divergences::default();
    let mut config =
        SandboxConfig { start_time: Some("2026-03-10T12:34:56Z".parse().unwrap()), ..SandboxConfig::default() };
    for op in [
        Operation::CreateFeedDocument,
        Operation::CreateFeed,
        Operation::GetFeed,
        Operation::GetFeeds,
        Operation::GetFeedDocument,
    ] {
        config.rate_overrides.insert(op, (1000.0, 1000.0));
    }
    let sb = Sandbox::start(config).await;
    let token = sb.token().await;
    let post =
        |path: &str, body: Value| sb.client.post(sb.url(path)).header("x-amz-access-token", &token).json(&body).send();
    let advance = |seconds: i64| sb.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": seconds}));

    let order = sb
        .all_orders()
        .await
        .into_iter()
        .find(|o| is_actionable_mfn(o) && o["orderItems"].as_array().unwrap().len() >= 2)
        .unwrap();
    let order_id = order["orderId"].as_str().unwrap().to_owned();
    let item = order["orderItems"][0]["orderItemId"].as_str().unwrap().to_owned();
    let xml = format!(
        "<?xml version=\"1.0\"?><AmazonEnvelope><Header><DocumentVersion>1.01</DocumentVersion><MerchantIdentifier>A1SANDBOXSELLER</MerchantIdentifier></Header>\
         <MessageType>OrderAcknowledgement</MessageType><Message><MessageID>1</MessageID><OrderAcknowledgement><AmazonOrderID>{order_id}</AmazonOrderID>\
         <StatusCode>Success</StatusCode><Item><AmazonOrderItemCode>{item}</AmazonOrderItemCode><CancelReason>NoInventory</CancelReason></Item></OrderAcknowledgement></Message></AmazonEnvelope>"
    );
    let mut feed_ids = Vec::new();
    for (content, compress) in [(xml.as_str(), false), ("not xml", true), (xml.as_str(), false)] {
        sb.sandbox_post("/_sandbox/feeds/settings", json!({"compressReports": compress})).await;
        let (status, document) = json_of(
            post("/feeds/2021-06-30/documents", json!({"contentType": "text/xml; charset=UTF-8"})).await.unwrap(),
        )
        .await;
        assert_eq!(status, 201);
        found.check(&model.validator("CreateFeedDocumentResponse"), "createFeedDocument", &document);
        let url = document["url"].as_str().unwrap();
        let r = sb
            .client
            .put(url)
            .header("content-type", "text/xml; charset=UTF-8")
            .body(content.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let spec = json!({"feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA", "marketplaceIds": [MARKETPLACE],
            "inputFeedDocumentId": document["feedDocumentId"], "feedOptions": {"note": "sandbox"}});
        let (status, created) = json_of(post("/feeds/2021-06-30/feeds", spec).await.unwrap()).await;
        assert_eq!(status, 202);
        found.check(&model.validator("CreateFeedResponse"), "createFeed", &created);
        feed_ids.push(created["feedId"].as_str().unwrap().to_owned());
    }
    let cancel = sb.client.delete(sb.url(&format!("/feeds/2021-06-30/feeds/{}", feed_ids[2])));
    assert_eq!(cancel.header("x-amz-access-token", &token).send().await.unwrap().status(), 200);

    // Every state: IN_QUEUE, IN_PROGRESS, DONE, FATAL, CANCELLED.
    let mut statuses = BTreeSet::new();
    for step in [0, 60, 120] {
        advance(step).await;
        for feed_id in &feed_ids {
            let (status, feed) =
                json_of(sb.get(&format!("/feeds/2021-06-30/feeds/{feed_id}"), &token, &[]).await).await;
            assert_eq!(status, 200);
            found.check(&feed_v, "getFeed", &feed);
            statuses.insert(feed["processingStatus"].as_str().unwrap().to_owned());
            if let Some(result) = feed["resultFeedDocumentId"].as_str() {
                let (status, document) =
                    json_of(sb.get(&format!("/feeds/2021-06-30/documents/{result}"), &token, &[]).await).await;
                assert_eq!(status, 200);
                found.check(&document_v, "getFeedDocument", &document);
                statuses.insert(format!("document {}", document["compressionAlgorithm"].as_str().unwrap_or("plain")));
            }
        }
    }
    assert_eq!(statuses.len(), 7, "{statuses:?}");
    let query = [("feedTypes", "POST_ORDER_ACKNOWLEDGEMENT_DATA".to_string()), ("pageSize", "2".to_string())];
    let (status, page) = json_of(sb.get("/feeds/2021-06-30/feeds", &token, &query).await).await;
    assert_eq!(status, 200);
    found.check(&feeds_v, "getFeeds", &page);
    let next = [("nextToken", page["nextToken"].as_str().unwrap().to_string())];
    found.check(
        &feeds_v,
        "getFeeds nextToken",
        &json_of(sb.get("/feeds/2021-06-30/feeds", &token, &next).await).await.1,
    );

    // The order the feed cancelled an item of, with every dataset.
    let included = [("includedData", format!("{ALL_DATA},CANCELLATION"))];
    let r = sb.get(&format!("/orders/2026-01-01/orders/{order_id}"), &token, &included).await;
    let (status, served) = json_of(r).await;
    assert_eq!(status, 200);
    assert!(served["order"]["orderItems"][0]["cancellation"].is_object());
    found.check(&orders_model.validator("GetOrderResponse"), "getOrder with CANCELLATION", &served);

    // Error bodies.
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "getFeeds", "status": 503})).await;
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "createFeed", "status": 429})).await;
    let errors: Vec<(&str, Response)> = vec![
        ("400 createFeed", post("/feeds/2021-06-30/feeds", json!({"feedType": "POST_PRODUCT_DATA"})).await.unwrap()),
        ("429 createFeed", post("/feeds/2021-06-30/feeds", json!({})).await.unwrap()),
        ("400 createFeedDocument", post("/feeds/2021-06-30/documents", json!({})).await.unwrap()),
        ("503 getFeeds", sb.get("/feeds/2021-06-30/feeds", &token, &query).await),
        ("400 getFeeds", sb.get("/feeds/2021-06-30/feeds", &token, &[]).await),
        ("404 getFeed", sb.get("/feeds/2021-06-30/feeds/1", &token, &[]).await),
        ("400 getFeedDocument", sb.get("/feeds/2021-06-30/documents/nope", &token, &[]).await),
        ("403 getFeed", sb.get(&format!("/feeds/2021-06-30/feeds/{}", feed_ids[0]), "Atza|forged", &[]).await),
    ];
    for (what, response) in errors {
        let (status, body) = json_of(response).await;
        found.expect_error(what, status);
        found.check(&errors_v, what, &body);
    }
    found.assert_none();
    sb.handle.shutdown().await;
}

/// Fulfillment Outbound 2020-07-01 in every status an order reaches (previews, creates, gets, list pages, cancels,
/// status updates) and getInventorySummaries with and without details, against `fulfillmentOutbound_2020-07-01.json`
/// and `fbaInventory.json`; and every kind of error they answer, against each operation's response.
#[tokio::test]
async fn fulfillment_and_inventory_match_amazons_models() {
    let outbound = Model::load("fulfillmentOutbound_2020-07-01.json");
    let inventory = Model::load("fbaInventory.json");
    let preview_v = outbound.validator("GetFulfillmentPreviewResponse");
    let create_v = outbound.validator("CreateFulfillmentOrderResponse");
    let get_v = outbound.validator("GetFulfillmentOrderResponse");
    let list_v = outbound.validator("ListAllFulfillmentOrdersResponse");
    let cancel_v = outbound.validator("CancelFulfillmentOrderResponse");
    let status_v = outbound.validator("SubmitFulfillmentOrderStatusUpdateResponse");
    let summaries_v = inventory.validator("GetInventorySummariesResponse");
    let mut found = Divergences::default();
    let mut config = SandboxConfig {
        start_time: Some("2026-03-10T12:34:56Z".parse().unwrap()),
        access_token_lifetime: Duration::days(400),
        ..SandboxConfig::default()
    };
    for op in [
        Operation::GetFulfillmentPreview,
        Operation::CreateFulfillmentOrder,
        Operation::ListAllFulfillmentOrders,
        Operation::GetFulfillmentOrder,
        Operation::CancelFulfillmentOrder,
        Operation::SubmitFulfillmentOrderStatusUpdate,
        Operation::GetInventorySummaries,
    ] {
        config.rate_overrides.insert(op, (1000.0, 1000.0));
    }
    let sb = Sandbox::start(config).await;
    let token = sb.token().await;
    let base = "/fba/outbound/2020-07-01/fulfillmentOrders";
    let send = |method: reqwest::Method, path: String, body: Option<Value>| {
        let request = sb.client.request(method, sb.url(&path)).header("x-amz-access-token", &token);
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
        .send()
    };
    let advance = |seconds: i64| sb.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": seconds}));
    for (sku, fulfillable) in [("MCF-A", 50), ("MCF-B", 1), ("MCF-C", 1), ("MCF-D", 1)] {
        let r = sb.sandbox_post("/_sandbox/inventory", json!({"sellerSku": sku, "fulfillable": fulfillable})).await;
        assert_eq!(r.status(), 200);
    }
    let address = json!({"name": "Jane Doe", "addressLine1": "1234 Amazon Way", "addressLine2": "Suite 5",
        "city": "Troy", "districtOrCounty": "Oakland", "stateOrRegion": "MI", "postalCode": "48084", "countryCode": "US",
        "phone": "+1-555-0100"});
    let money = json!({"currencyCode": "USD", "value": "12.99"});
    let order = |id: &str, items: Value, extra: Value| {
        let mut body = json!({"sellerFulfillmentOrderId": id, "displayableOrderId": id,
            "displayableOrderDate": "2026-03-10T12:00:00Z", "displayableOrderComment": "Thanks",
            "shippingSpeedCategory": "Expedited", "destinationAddress": address, "items": items});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let line = |sku: &str, quantity: u32| json!([{"sellerSku": sku, "sellerFulfillmentOrderItemId": "1", "quantity": quantity}]);

    // Previews: fulfillable at every speed, unfulfillable items, a destination abroad.
    let previews = [
        json!({"address": address, "items": [{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 2,
            "perUnitDeclaredValue": money}], "featureConstraints": [{"featureName": "BLANK_BOX", "featureFulfillmentPolicy": "Required"}]}),
        json!({"address": address, "items": [{"sellerSku": "MCF-B", "sellerFulfillmentOrderItemId": "1", "quantity": 9},
            {"sellerSku": "NOPE", "sellerFulfillmentOrderItemId": "2", "quantity": 1}], "shippingSpeedCategories": ["Priority", "ScheduledDelivery"]}),
        json!({"address": {"name": "Max", "addressLine1": "Hauptstr. 1", "city": "Berlin", "postalCode": "10115", "countryCode": "DE"},
            "items": [{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1}]}),
    ];
    for body in previews {
        let (status, answer) =
            json_of(send(reqwest::Method::POST, format!("{base}/preview"), Some(body)).await.unwrap()).await;
        assert_eq!(status, 200, "{answer}");
        found.check(&preview_v, "getFulfillmentPreview", &answer);
    }

    // One order per path through the lifecycle.
    let full = json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 2, "giftMessage": "Enjoy",
        "displayableComment": "Blue", "perUnitDeclaredValue": money, "perUnitPrice": money, "perUnitTax": money}]);
    let orders = [
        order(
            "SB-COMPLETE",
            full,
            json!({"notificationEmails": ["a@example.com"], "fulfillmentPolicy": "FillOrKill",
            "featureConstraints": [{"featureName": "SIGNATURE_CONFIRMATION", "featureFulfillmentPolicy": "NotRequired"}]}),
        ),
        order("SB-UNFULFILLABLE", line("MCF-B", 3), json!({})),
        order(
            "SB-PARTIAL",
            json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1},
            {"sellerSku": "MCF-C", "sellerFulfillmentOrderItemId": "2", "quantity": 2}]),
            json!({"fulfillmentPolicy": "FillAllAvailable"}),
        ),
        order(
            "SB-FILL-ALL",
            line("MCF-D", 3),
            json!({"fulfillmentPolicy": "FillAll", "shippingSpeedCategory": "Priority"}),
        ),
        order("SB-HOLD", line("MCF-A", 1), json!({"fulfillmentAction": "Hold", "shippingSpeedCategory": "Standard"})),
        order("SB-CANCELLED", line("MCF-A", 1), json!({})),
        order("SB-INVALID", line("MCF-A", 1), json!({})),
    ];
    for body in &orders {
        for attempt in ["createFulfillmentOrder", "createFulfillmentOrder repeated"] {
            let (status, answer) =
                json_of(send(reqwest::Method::POST, base.to_owned(), Some(body.clone())).await.unwrap()).await;
            assert_eq!(status, 200, "{answer}");
            found.check(&create_v, attempt, &answer);
        }
    }
    let (status, answer) =
        json_of(send(reqwest::Method::PUT, format!("{base}/SB-CANCELLED/cancel"), None).await.unwrap()).await;
    assert_eq!(status, 200);
    found.check(&cancel_v, "cancelFulfillmentOrder", &answer);
    let (status, answer) = json_of(
        send(
            reqwest::Method::PUT,
            format!("{base}/SB-INVALID/status"),
            Some(json!({"fulfillmentOrderStatus": "Invalid"})),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    found.check(&status_v, "submitFulfillmentOrderStatusUpdate", &answer);

    let mut statuses = BTreeSet::new();
    let start = iso(sb.handle.state().now() - Duration::days(1));
    for step in [0, 600, 1200, 5400, 22 * 3600, 14 * 24 * 3600] {
        advance(step).await;
        for body in &orders {
            let id = body["sellerFulfillmentOrderId"].as_str().unwrap();
            let (status, answer) =
                json_of(send(reqwest::Method::GET, format!("{base}/{id}"), None).await.unwrap()).await;
            assert_eq!(status, 200);
            found.check(&get_v, "getFulfillmentOrder", &answer);
            statuses
                .insert(answer["payload"]["fulfillmentOrder"]["fulfillmentOrderStatus"].as_str().unwrap().to_owned());
            for shipment in answer["payload"]["fulfillmentShipments"].as_array().into_iter().flatten() {
                statuses.insert(format!("shipment {}", shipment["fulfillmentShipmentStatus"].as_str().unwrap()));
            }
        }
        let mut path = format!("{base}?queryStartDate={}", url_encode(&start));
        loop {
            let (status, answer) = json_of(send(reqwest::Method::GET, path.clone(), None).await.unwrap()).await;
            assert_eq!(status, 200, "{answer}");
            found.check(&list_v, "listAllFulfillmentOrders", &answer);
            let Some(next) = answer["payload"]["nextToken"].as_str() else { break };
            path = format!("{base}?nextToken={}", url_encode(next));
        }
    }
    for expected in [
        "Received",
        "Planning",
        "Processing",
        "Complete",
        "CompletePartialled",
        "Unfulfillable",
        "Cancelled",
        "Invalid",
        "shipment PENDING",
        "shipment SHIPPED",
    ] {
        assert!(statuses.contains(expected), "{expected} never seen: {statuses:?}");
    }

    // Inventory: every page, with details and without, and what changed since a time.
    let marketplace = format!("granularityType=Marketplace&granularityId={MARKETPLACE}&marketplaceIds={MARKETPLACE}");
    let since = iso(sb.handle.state().now() - Duration::days(20));
    let mut expired_token = None;
    for extra in
        ["", "&details=true", &format!("&details=true&startDateTime={}", url_encode(&since)), "&sellerSkus=MCF-A,MCF-B"]
    {
        let mut path = format!("/fba/inventory/v1/summaries?{marketplace}{extra}");
        loop {
            let (status, answer) = json_of(send(reqwest::Method::GET, path.clone(), None).await.unwrap()).await;
            assert_eq!(status, 200, "{answer}");
            found.check(&summaries_v, "getInventorySummaries", &answer);
            let Some(next) = answer["pagination"]["nextToken"].as_str() else { break };
            expired_token.get_or_insert_with(|| next.to_owned());
            path = format!("/fba/inventory/v1/summaries?{marketplace}{extra}&nextToken={}", url_encode(next));
        }
    }

    // Errors, each against its operation's response.
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "listAllFulfillmentOrders", "status": 503})).await;
    sb.sandbox_post("/_sandbox/faults", json!({"operation": "getInventorySummaries", "error": "QuotaExceeded"})).await;
    advance(31).await;
    let get = |path: String| send(reqwest::Method::GET, path, None);
    let errors: Vec<(&str, &Validator, Response)> = vec![
        (
            "400 createFulfillmentOrder",
            &create_v,
            send(reqwest::Method::POST, base.into(), Some(json!({}))).await.unwrap(),
        ),
        (
            "400 unknown SKU",
            &create_v,
            send(reqwest::Method::POST, base.into(), Some(order("SB-X", line("NOPE", 1), json!({})))).await.unwrap(),
        ),
        (
            "400 duplicate",
            &create_v,
            send(reqwest::Method::POST, base.into(), Some(order("SB-HOLD", line("MCF-A", 2), json!({}))))
                .await
                .unwrap(),
        ),
        (
            "400 preview",
            &preview_v,
            send(reqwest::Method::POST, format!("{base}/preview"), Some(json!({"items": []}))).await.unwrap(),
        ),
        ("404 getFulfillmentOrder", &get_v, get(format!("{base}/SB-NOPE")).await.unwrap()),
        ("403 getFulfillmentOrder", &get_v, sb.get(&format!("{base}/SB-HOLD"), "Atza|forged", &[]).await),
        (
            "400 cancel too late",
            &cancel_v,
            send(reqwest::Method::PUT, format!("{base}/SB-COMPLETE/cancel"), None).await.unwrap(),
        ),
        ("404 cancel", &cancel_v, send(reqwest::Method::PUT, format!("{base}/SB-NOPE/cancel"), None).await.unwrap()),
        (
            "400 status update",
            &status_v,
            send(
                reqwest::Method::PUT,
                format!("{base}/SB-COMPLETE/status"),
                Some(json!({"fulfillmentOrderStatus": "Done"})),
            )
            .await
            .unwrap(),
        ),
        ("503 listAllFulfillmentOrders", &list_v, get(base.into()).await.unwrap()),
        ("400 list nextToken", &list_v, get(format!("{base}?nextToken=nope")).await.unwrap()),
        (
            "429 getInventorySummaries",
            &summaries_v,
            get(format!("/fba/inventory/v1/summaries?{marketplace}")).await.unwrap(),
        ),
        (
            "400 getInventorySummaries",
            &summaries_v,
            get("/fba/inventory/v1/summaries?granularityType=Marketplace".into()).await.unwrap(),
        ),
        (
            "400 expired inventory nextToken",
            &summaries_v,
            get(format!("/fba/inventory/v1/summaries?{marketplace}&nextToken={}", url_encode(&expired_token.unwrap())))
                .await
                .unwrap(),
        ),
        ("403 getInventorySummaries", &summaries_v, sb.get("/fba/inventory/v1/summaries", "Atza|forged", &[]).await),
    ];
    for (what, validator, response) in errors {
        let (status, body) = json_of(response).await;
        found.expect_error(what, status);
        found.check(validator, what, &body);
    }
    found.assert_none();
    sb.handle.shutdown().await;
}

fn url_encode(raw: &str) -> String {
    url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}
