//! Notifications beyond ORDER_CHANGE: FULFILLMENT_ORDER_STATUS for Multi-Channel Fulfillment orders, one per status
//! change and one per shipment change, each at the time it happened, each to the destination of its own type's
//! subscription; validated against Amazon's `FulfillmentOrderStatusNotification.json` (`models/`).
mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use common::*;
use reqwest::Response;
use serde_json::{Value, json};
use spapi_sandbox::{Operation, SandboxConfig};

const OUTBOUND: &str = "/fba/outbound/2020-07-01/fulfillmentOrders";
const ORDERS_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:sellerbridge-orders";
const FULFILLMENT_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:sellerbridge-fulfillment";
const START: &str = "2026-03-10T12:34:56Z";

fn load_model(file: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn time(raw: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw.as_str().unwrap_or_else(|| panic!("{raw} is no time")))
        .unwrap()
        .with_timezone(&Utc)
}

/// Removes `names` from the `required` list at `pointer`, which must hold them all (a refreshed schema that no
/// longer does makes the test say so instead of relaxing something else).
fn lift_required(schema: &mut Value, pointer: &str, names: &[&str]) {
    let required = schema.pointer_mut(pointer).and_then(Value::as_array_mut).unwrap_or_else(|| panic!("{pointer}"));
    for name in names {
        assert!(required.iter().any(|r| r == name), "{pointer} no longer requires {name}");
    }
    required.retain(|r| !names.iter().any(|name| r == name));
}

/// Closes every object schema that lists its properties (`additionalProperties: false` where Amazon wrote `true`),
/// as `models_schema.rs` closes the API models: a field the sandbox invents fails.
fn close(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("type") == Some(&json!("object")) && object.contains_key("properties") {
                object.insert("additionalProperties".into(), Value::Bool(false));
            }
            object.values_mut().for_each(close);
        }
        Value::Array(items) => items.iter_mut().for_each(close),
        _ => {}
    }
}

/// Amazon's schema, with what its use case guide says (`src/notifications.rs` quotes it) and the generated schema
/// gets wrong: `FulfillmentShipment` only when EventType is Shipment, `FulfillmentReturnItem` only when it is Return,
/// no `EstimatedArrivalDateTime` for a cancelled shipment; `info` (in the schema's example and `required`, not in the
/// guide) only once there is a package for it to be. Those `required` entries become conditions; the guide's values
/// become enums; every object is closed.
fn fulfillment_order_status_schema() -> Value {
    let mut schema = load_model("FulfillmentOrderStatusNotification.json");
    let body = "/properties/Payload/properties/FulfillmentOrderStatusNotification";
    let shipment = format!("{body}/properties/FulfillmentShipment");
    lift_required(&mut schema, &format!("{body}/required"), &["FulfillmentShipment", "FulfillmentReturnItem"]);
    lift_required(&mut schema, &format!("{shipment}/required"), &["EstimatedArrivalDateTime", "info"]);
    let enums = [
        (format!("{body}/properties/EventType"), json!(["Order", "Shipment", "Return"])),
        (
            format!("{body}/properties/FulfillmentOrderStatus"),
            json!([
                "Received",
                "Invalid",
                "Planning",
                "Processing",
                "Cancelled",
                "Complete",
                "CompletePartialled",
                "Unfulfillable"
            ]),
        ),
        (
            format!("{shipment}/properties/FulfillmentShipmentStatus"),
            json!(["Pending", "Shipped", "CancelledByFulfiller", "CancelledBySeller"]),
        ),
        ("/properties/NotificationType".to_owned(), json!(["FULFILLMENT_ORDER_STATUS"])),
    ];
    for (pointer, values) in enums {
        schema.pointer_mut(&pointer).unwrap_or_else(|| panic!("{pointer}"))["enum"] = values;
    }
    // `info` is required without being declared; its item schema's ids say it is a package.
    let package = schema
        .pointer(&format!(
            "{shipment}/properties/FulfillmentShipmentPackages/properties/FulfillmentShipmentPackageItem"
        ))
        .unwrap()
        .clone();
    schema.pointer_mut(&format!("{shipment}/properties")).unwrap()["info"] = package;
    close(&mut schema);
    let conditions = json!([
        {"if": {"properties": {"EventType": {"const": "Shipment"}}},
         "then": {"required": ["FulfillmentShipment"]},
         "else": {"not": {"required": ["FulfillmentShipment"]}}},
        {"if": {"properties": {"EventType": {"const": "Return"}}},
         "then": {"required": ["FulfillmentReturnItem"]},
         "else": {"not": {"required": ["FulfillmentReturnItem"]}}},
    ]);
    schema.pointer_mut(body).unwrap()["allOf"] = conditions;
    schema.pointer_mut(&shipment).unwrap()["allOf"] = json!([
        {"if": {"properties": {"FulfillmentShipmentStatus": {"enum": ["Pending", "Shipped"]}}},
         "then": {"required": ["EstimatedArrivalDateTime"]},
         "else": {"not": {"required": ["EstimatedArrivalDateTime"]}}},
        {"if": {"properties": {"FulfillmentShipmentPackages": {"minItems": 1}}},
         "then": {"required": ["info"]},
         "else": {"not": {"required": ["info"]}}},
    ]);
    schema
}

/// A stand-in for SQS (moto): records each SendMessage as (queue URL, message body).
#[derive(Clone, Default)]
struct FakeSqs {
    sent: Arc<Mutex<Vec<(String, Value)>>>,
}

impl FakeSqs {
    async fn start(&self) -> String {
        let sent = self.sent.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let sent = sent.clone();
                async move {
                    assert_eq!(headers["x-amz-target"], "AmazonSQS.SendMessage");
                    let request: Value = serde_json::from_str(&body).unwrap();
                    let message = serde_json::from_str(request["MessageBody"].as_str().unwrap()).unwrap();
                    sent.lock().unwrap().push((request["QueueUrl"].as_str().unwrap().to_owned(), message));
                    axum::Json(json!({"MessageId": uuid::Uuid::new_v4().to_string()}))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    /// (queue name, notification type, NotificationId) of every message, in the order sent.
    fn messages(&self) -> Vec<(String, String, String)> {
        let sent = self.sent.lock().unwrap();
        sent.iter()
            .map(|(queue, message)| {
                (
                    queue.rsplit('/').next().unwrap().to_owned(),
                    message["NotificationType"].as_str().unwrap().to_owned(),
                    message["NotificationMetadata"]["NotificationId"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

struct Seller {
    sb: Sandbox,
    token: String,
    app_token: String,
}

impl Seller {
    async fn start(sqs_endpoint: String) -> Self {
        let mut config = SandboxConfig {
            start_time: Some(START.parse().unwrap()),
            access_token_lifetime: Duration::days(400),
            sqs_endpoint: Some(sqs_endpoint),
            ..SandboxConfig::default()
        };
        for op in [
            Operation::CreateFulfillmentOrder,
            Operation::GetFulfillmentOrder,
            Operation::CancelFulfillmentOrder,
            Operation::SubmitFulfillmentOrderStatusUpdate,
            Operation::CreateDestination,
            Operation::CreateSubscription,
            Operation::GetSubscription,
        ] {
            config.rate_overrides.insert(op, (1000.0, 1000.0));
        }
        let sb = Sandbox::start(config).await;
        let token = sb.token().await;
        let form = [
            ("grant_type", "client_credentials"),
            ("scope", "sellingpartnerapi::notifications"),
            ("client_id", "sandbox-client-id"),
            ("client_secret", "sandbox-client-secret"),
        ];
        let grantless: Value =
            sb.client.post(sb.url("/auth/o2/token")).form(&form).send().await.unwrap().json().await.unwrap();
        let app_token = grantless["access_token"].as_str().unwrap().to_owned();
        Self { sb, token, app_token }
    }

    async fn send(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> Response {
        let request = self.sb.client.request(method, self.sb.url(path)).header("x-amz-access-token", token);
        match body {
            Some(body) => request.json(&body),
            None => request,
        }
        .send()
        .await
        .unwrap()
    }

    async fn destination(&self, arn: &str) -> String {
        let body = json!({"name": arn.rsplit(':').next().unwrap(), "resourceSpecification": {"sqs": {"arn": arn}}});
        let r = self.send(reqwest::Method::POST, "/notifications/v1/destinations", &self.app_token, Some(body)).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["payload"]["destinationId"].as_str().unwrap().to_owned()
    }

    async fn subscribe(&self, notification_type: &str, body: Value) -> Response {
        let path = format!("/notifications/v1/subscriptions/{notification_type}");
        self.send(reqwest::Method::POST, &path, &self.token, Some(body)).await
    }

    /// createSubscription that must succeed; the subscription's id.
    async fn subscribed(&self, notification_type: &str, destination_id: &str) -> String {
        let r =
            self.subscribe(notification_type, json!({"payloadVersion": "1.0", "destinationId": destination_id})).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["payload"]["subscriptionId"].as_str().unwrap().to_owned()
    }

    async fn create(&self, id: &str, quantity: u32) {
        self.create_with(id, quantity, json!({})).await;
    }

    /// createFulfillmentOrder with `extra` fields (fulfillmentAction, fulfillmentPolicy…).
    async fn create_with(&self, id: &str, quantity: u32, extra: Value) {
        let mut body = json!({"sellerFulfillmentOrderId": id, "displayableOrderId": id,
            "displayableOrderDate": START, "displayableOrderComment": "Thank you",
            "shippingSpeedCategory": "Standard",
            "destinationAddress": {"name": "Jane Doe", "addressLine1": "1234 Amazon Way", "city": "Troy",
                "stateOrRegion": "MI", "postalCode": "48084", "countryCode": "US"},
            "items": [{"sellerSku": "NTF-A", "sellerFulfillmentOrderItemId": "1", "quantity": quantity}]});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let r = self.send(reqwest::Method::POST, OUTBOUND, &self.token, Some(body)).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn order(&self, id: &str) -> Value {
        let r = self.send(reqwest::Method::GET, &format!("{OUTBOUND}/{id}"), &self.token, None).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["payload"].clone()
    }

    async fn cancel(&self, id: &str) {
        let r = self.send(reqwest::Method::PUT, &format!("{OUTBOUND}/{id}/cancel"), &self.token, None).await;
        assert_eq!(r.status(), 200);
    }

    async fn move_to(&self, id: &str, status: &str) {
        let body = json!({"fulfillmentOrderStatus": status});
        let r = self.send(reqwest::Method::PUT, &format!("{OUTBOUND}/{id}/status"), &self.token, Some(body)).await;
        assert_eq!(r.status(), 200);
    }

    async fn advance(&self, seconds: i64) {
        let r = self.sb.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": seconds})).await;
        assert_eq!(r.status(), 200);
    }

    async fn notifications(&self) -> Vec<Value> {
        self.sb.sandbox_get("/_sandbox/notifications").await.as_array().unwrap().clone()
    }

    /// The FULFILLMENT_ORDER_STATUS notifications of one fulfillment order, in the order sent.
    async fn about(&self, id: &str) -> Vec<Value> {
        let all = self.notifications().await;
        all.into_iter()
            .filter(|n| n["NotificationType"] == "FULFILLMENT_ORDER_STATUS")
            .filter(|n| n["Payload"]["FulfillmentOrderStatusNotification"]["SellerFulfillmentOrderId"] == id)
            .collect()
    }
}

fn body(notification: &Value) -> &Value {
    &notification["Payload"]["FulfillmentOrderStatusNotification"]
}

/// (EventType, FulfillmentOrderStatus, FulfillmentShipmentStatus or "") of each notification.
fn events(notifications: &[Value]) -> Vec<(String, String, String)> {
    notifications
        .iter()
        .map(|n| {
            let body = body(n);
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                text(&body["EventType"]),
                text(&body["FulfillmentOrderStatus"]),
                text(&body["FulfillmentShipment"]["FulfillmentShipmentStatus"]),
            )
        })
        .collect()
}

fn expected(events: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
    events.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect()
}

/// Polls `GET /_sandbox/notifications` until `count` are recorded (delivery ends just after the answer is sent).
async fn wait_for(seller: &Seller, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let sent = seller.notifications().await;
        if sent.len() >= count {
            return sent;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    seller.notifications().await
}

#[tokio::test]
async fn fulfillment_orders_raise_fulfillment_order_status_to_its_own_destination() {
    let sqs = FakeSqs::default();
    let seller = Seller::start(sqs.start().await).await;
    let r = seller.sb.sandbox_post("/_sandbox/inventory", json!({"sellerSku": "NTF-A", "fulfillable": 20})).await;
    assert_eq!(r.status(), 200);
    let orders_destination = seller.destination(ORDERS_QUEUE).await;
    let fulfillment_destination = seller.destination(FULFILLMENT_QUEUE).await;
    let order_change = seller.subscribed("ORDER_CHANGE", &orders_destination).await;

    // Without a FULFILLMENT_ORDER_STATUS subscription (an ORDER_CHANGE one is not enough), nothing is sent.
    seller.create("SB-UNHEARD", 1).await;
    seller.cancel("SB-UNHEARD").await;
    assert!(seller.notifications().await.is_empty());

    // Amazon's eventFilter names no FULFILLMENT_ORDER_STATUS filter; unknown types are refused.
    let filtered = json!({"payloadVersion": "1.0", "destinationId": fulfillment_destination,
        "processingDirective": {"eventFilter": {"eventFilterType": "ORDER_CHANGE", "marketplaceIds": [MARKETPLACE]}}});
    let (status, code, _) = error_code(seller.subscribe("FULFILLMENT_ORDER_STATUS", filtered).await).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    let plain = json!({"payloadVersion": "1.0", "destinationId": fulfillment_destination});
    let (status, _, _) = error_code(seller.subscribe("ANY_OFFER_CHANGED", plain).await).await;
    assert_eq!(status, 400);
    let subscription = seller.subscribed("FULFILLMENT_ORDER_STATUS", &fulfillment_destination).await;
    let r = seller
        .send(reqwest::Method::GET, "/notifications/v1/subscriptions/FULFILLMENT_ORDER_STATUS", &seller.token, None)
        .await;
    let fetched: Value = r.json().await.unwrap();
    assert_eq!(fetched["payload"]["subscriptionId"], subscription.as_str());
    assert_eq!(fetched["payload"]["destinationId"], fulfillment_destination.as_str());

    // One order through its whole lifecycle in one move of the clock: each change dated when it happened.
    seller.create("SB-LIFECYCLE", 2).await;
    let received = time(&seller.order("SB-LIFECYCLE").await["fulfillmentOrder"]["receivedDate"]);
    seller.advance(3 * 3600).await;
    let lifecycle = seller.order("SB-LIFECYCLE").await;
    assert_eq!(lifecycle["fulfillmentOrder"]["fulfillmentOrderStatus"], "Complete");
    let sent = seller.about("SB-LIFECYCLE").await;
    assert_eq!(
        events(&sent),
        expected(&[
            ("Order", "Received", ""),
            ("Order", "Planning", ""),
            ("Order", "Processing", ""),
            ("Shipment", "Processing", "Pending"),
            ("Order", "Complete", ""),
            ("Shipment", "Complete", "Shipped"),
        ])
    );
    let offsets: Vec<i64> =
        sent.iter().map(|n| (time(&body(n)["StatusUpdatedDateTime"]) - received).num_seconds()).collect();
    assert_eq!(offsets, [0, 600, 1800, 1800, 7200, 7200], "the default fulfillment settings' steps");
    for n in &sent {
        assert_eq!(n["EventTime"], body(n)["StatusUpdatedDateTime"]);
        assert_eq!(n["NotificationMetadata"]["PublishTime"], n["EventTime"]);
    }
    assert_eq!(
        time(&body(&sent[4])["StatusUpdatedDateTime"]),
        time(&lifecycle["fulfillmentOrder"]["statusUpdatedDate"]),
        "the notification dates the change as getFulfillmentOrder does"
    );
    // The shipment as getFulfillmentOrder shows it: same id, arrival, carrier and tracking.
    let shipment = &lifecycle["fulfillmentShipments"][0];
    let shipped = &body(&sent[5])["FulfillmentShipment"];
    assert_eq!(shipped["AmazonShipmentId"], shipment["amazonShipmentId"]);
    assert_eq!(body(&sent[3])["FulfillmentShipment"]["AmazonShipmentId"], shipment["amazonShipmentId"]);
    assert_eq!(time(&shipped["EstimatedArrivalDateTime"]), time(&shipment["estimatedArrivalDate"]));
    let package = &shipment["fulfillmentShipmentPackage"][0];
    let expected_package = json!({"PackageNumber": 1, "CarrierCode": package["carrierCode"],
        "TrackingNumber": package["trackingNumber"]});
    assert_eq!(shipped["FulfillmentShipmentPackages"], json!([expected_package]));
    assert_eq!(shipped["info"], expected_package);
    assert_eq!(body(&sent[3])["FulfillmentShipment"]["FulfillmentShipmentPackages"], json!([]));

    // Cancelled by the seller while Received: two changes, no shipment.
    seller.create("SB-CANCELLED", 1).await;
    seller.cancel("SB-CANCELLED").await;
    seller.cancel("SB-CANCELLED").await; // Already cancelled: nothing changes, nothing is sent.
    assert_eq!(
        events(&seller.about("SB-CANCELLED").await),
        expected(&[("Order", "Received", ""), ("Order", "Cancelled", "")])
    );

    // Moved by submitFulfillmentOrderStatusUpdate: the shipment it opened is cancelled by the fulfiller.
    seller.create("SB-UNFULFILLABLE", 1).await;
    seller.move_to("SB-UNFULFILLABLE", "Processing").await;
    seller.move_to("SB-UNFULFILLABLE", "Unfulfillable").await;
    let unfulfillable = seller.about("SB-UNFULFILLABLE").await;
    assert_eq!(
        events(&unfulfillable),
        expected(&[
            ("Order", "Received", ""),
            ("Order", "Processing", ""),
            ("Shipment", "Processing", "Pending"),
            ("Order", "Unfulfillable", ""),
            ("Shipment", "Unfulfillable", "CancelledByFulfiller"),
        ])
    );
    assert!(body(&unfulfillable[4])["FulfillmentShipment"].get("EstimatedArrivalDateTime").is_none());

    // ORDER_CHANGE still goes to its own destination.
    let order_id = seller.sb.all_orders().await[0]["orderId"].as_str().unwrap().to_owned();
    let r = seller.sb.sandbox_post(&format!("/_sandbox/orders/{order_id}/touch"), json!({})).await;
    assert_eq!(r.status(), 200);

    let all = wait_for(&seller, 14).await;
    assert_eq!(all.len(), 14, "6 + 2 + 5 FULFILLMENT_ORDER_STATUS and 1 ORDER_CHANGE: {all:#?}");
    assert!(all.iter().all(|n| body(n)["SellerFulfillmentOrderId"] != "SB-UNHEARD"));
    let (fulfillment, changes): (Vec<&Value>, Vec<&Value>) =
        all.iter().partition(|n| n["NotificationType"] == "FULFILLMENT_ORDER_STATUS");
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["NotificationType"], "ORDER_CHANGE");
    assert_eq!(changes[0]["NotificationMetadata"]["SubscriptionId"], order_change.as_str());
    let ids: HashSet<&str> =
        all.iter().map(|n| n["NotificationMetadata"]["NotificationId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len(), "NotificationIds are unique");

    let schema = fulfillment_order_status_schema();
    let validator = jsonschema::draft7::options().build(&schema).unwrap();
    let mut divergences = Vec::new();
    for n in &fulfillment {
        assert_eq!(n["NotificationMetadata"]["SubscriptionId"], subscription.as_str());
        assert_eq!(body(n)["SellerId"], spapi_sandbox::config::DEFAULT_SELLER_ID);
        for error in validator.iter_errors(n) {
            divergences.push(format!("{}: {}: {error}", body(n)["SellerFulfillmentOrderId"], error.instance_path()));
        }
    }
    assert!(divergences.is_empty(), "divergences from FulfillmentOrderStatusNotification.json:\n{divergences:#?}");
    // The schema as tightened still holds Amazon's own example, once its made-up values are Amazon's words and its
    // return item goes (it is no Return event); and it refuses an Order event with a shipment.
    let mut example = load_model("FulfillmentOrderStatusNotification.json")["examples"][0].clone();
    let example_body = example.pointer_mut("/Payload/FulfillmentOrderStatusNotification").unwrap();
    example_body["EventType"] = json!("Shipment");
    example_body["FulfillmentOrderStatus"] = json!("Complete");
    example_body["FulfillmentShipment"]["FulfillmentShipmentStatus"] = json!("Shipped");
    example_body.as_object_mut().unwrap().remove("FulfillmentReturnItem");
    assert!(
        validator.is_valid(&example),
        "{:?}",
        validator.iter_errors(&example).map(|e| e.to_string()).collect::<Vec<_>>()
    );
    example.pointer_mut("/Payload/FulfillmentOrderStatusNotification").unwrap()["EventType"] = json!("Order");
    assert!(!validator.is_valid(&example));

    // Each went to the SQS queue of its own type's destination, in the order recorded.
    let delivered = sqs.messages();
    let recorded: Vec<(String, String, String)> = all
        .iter()
        .map(|n| {
            let notification_type = n["NotificationType"].as_str().unwrap().to_owned();
            let queue = if notification_type == "ORDER_CHANGE" { ORDERS_QUEUE } else { FULFILLMENT_QUEUE };
            let id = n["NotificationMetadata"]["NotificationId"].as_str().unwrap().to_owned();
            (queue.rsplit(':').next().unwrap().to_owned(), notification_type, id)
        })
        .collect();
    assert_eq!(delivered, recorded);
    seller.sb.handle.shutdown().await;
}

/// A subscription made while an order is under way hears of the changes after it, not of those before.
#[tokio::test]
async fn a_subscription_hears_only_what_happens_after_it() {
    let sqs = FakeSqs::default();
    let seller = Seller::start(sqs.start().await).await;
    let r = seller.sb.sandbox_post("/_sandbox/inventory", json!({"sellerSku": "NTF-A", "fulfillable": 5})).await;
    assert_eq!(r.status(), 200);
    seller.create("SB-UNDER-WAY", 1).await;
    seller.advance(900).await; // Planning, unheard.
    let destination = seller.destination(FULFILLMENT_QUEUE).await;
    seller.subscribed("FULFILLMENT_ORDER_STATUS", &destination).await;
    // The clock moves on in the subscription's own request's wake: Processing happens after it.
    seller.advance(3 * 3600).await;
    assert_eq!(
        events(&seller.about("SB-UNDER-WAY").await),
        expected(&[
            ("Order", "Processing", ""),
            ("Shipment", "Processing", "Pending"),
            ("Order", "Complete", ""),
            ("Shipment", "Complete", "Shipped"),
        ])
    );
    seller.sb.handle.shutdown().await;
}

/// The clock's other paths: a FillAll order ships what there is (a shipment change without a status change), then
/// turns CompletePartialled after its 24 hours; a Hold order is cancelled by Amazon after 14 days.
#[tokio::test]
async fn the_clock_reports_partial_shipments_and_expired_holds() {
    let sqs = FakeSqs::default();
    let seller = Seller::start(sqs.start().await).await;
    let r = seller.sb.sandbox_post("/_sandbox/inventory", json!({"sellerSku": "NTF-A", "fulfillable": 1})).await;
    assert_eq!(r.status(), 200);
    let destination = seller.destination(FULFILLMENT_QUEUE).await;
    seller.subscribed("FULFILLMENT_ORDER_STATUS", &destination).await;
    seller.create_with("SB-FILL-ALL", 3, json!({"fulfillmentPolicy": "FillAll"})).await;
    seller.create_with("SB-HOLD", 1, json!({"fulfillmentAction": "Hold"})).await;
    let received = time(&seller.order("SB-FILL-ALL").await["fulfillmentOrder"]["receivedDate"]);
    seller.advance(15 * 24 * 3600).await;
    let fill_all = seller.about("SB-FILL-ALL").await;
    assert_eq!(
        events(&fill_all),
        expected(&[
            ("Order", "Received", ""),
            ("Order", "Planning", ""),
            ("Order", "Processing", ""),
            ("Shipment", "Processing", "Pending"),
            ("Shipment", "Processing", "Shipped"),
            ("Order", "CompletePartialled", ""),
        ])
    );
    let offsets: Vec<i64> =
        fill_all.iter().map(|n| (time(&body(n)["StatusUpdatedDateTime"]) - received).num_seconds()).collect();
    assert_eq!(offsets, [0, 600, 1800, 1800, 7200, 24 * 3600]);
    let hold = seller.about("SB-HOLD").await;
    assert_eq!(events(&hold), expected(&[("Order", "Received", ""), ("Order", "Cancelled", "")]));
    let held_for = time(&body(&hold[1])["StatusUpdatedDateTime"]) - time(&body(&hold[0])["StatusUpdatedDateTime"]);
    assert_eq!(held_for, Duration::days(14));
    // Sent in the order they happened, across orders: the hold's cancellation (day 14) after the FillAll order's
    // last change (day 1).
    let all = seller.notifications().await;
    let times: Vec<DateTime<Utc>> = all.iter().map(|n| time(&n["EventTime"])).collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
    let validator = jsonschema::draft7::options().build(&fulfillment_order_status_schema()).unwrap();
    for n in &all {
        assert!(validator.is_valid(n), "{n:#}");
    }
    seller.sb.handle.shutdown().await;
}
