//! Multi-Channel Fulfillment (Fulfillment Outbound 2020-07-01) and FBA inventory (getInventorySummaries), over
//! HTTP against a started sandbox.
mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use reqwest::Response;
use serde_json::{Value, json};
use spapi_sandbox::{Operation, SandboxConfig};

const OUTBOUND: &str = "/fba/outbound/2020-07-01/fulfillmentOrders";
const SUMMARIES: &str = "/fba/inventory/v1/summaries";
const OPERATIONS: [Operation; 7] = [
    Operation::GetFulfillmentPreview,
    Operation::CreateFulfillmentOrder,
    Operation::ListAllFulfillmentOrders,
    Operation::GetFulfillmentOrder,
    Operation::CancelFulfillmentOrder,
    Operation::SubmitFulfillmentOrderStatusUpdate,
    Operation::GetInventorySummaries,
];

/// A pinned sandbox whose fulfillment and inventory operations are not rate limited (the quota test uses Amazon's
/// plans), and whose access tokens outlive the weeks these tests move the clock by.
fn config() -> SandboxConfig {
    let mut config = SandboxConfig {
        start_time: Some("2026-03-10T12:34:56Z".parse().unwrap()),
        access_token_lifetime: Duration::days(400),
        ..SandboxConfig::default()
    };
    for op in OPERATIONS {
        config.rate_overrides.insert(op, (1000.0, 1000.0));
    }
    config
}

/// A sandbox and a seller's access token.
struct Mcf {
    sb: Sandbox,
    token: String,
}

impl Mcf {
    async fn start(config: SandboxConfig) -> Self {
        let sb = Sandbox::start(config).await;
        let token = sb.token().await;
        Self { sb, token }
    }

    async fn post(&self, path: &str, body: &Value) -> Response {
        let request = self.sb.client.post(self.sb.url(path)).header("x-amz-access-token", &self.token);
        request.json(body).send().await.unwrap()
    }

    async fn put(&self, path: &str, body: Option<&Value>) -> Response {
        let request = self.sb.client.put(self.sb.url(path)).header("x-amz-access-token", &self.token);
        match body {
            Some(body) => request.json(body).send().await.unwrap(),
            None => request.send().await.unwrap(),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Response {
        self.sb.get(path, &self.token, query).await
    }

    async fn create(&self, body: &Value) -> Response {
        self.post(OUTBOUND, body).await
    }

    /// createFulfillmentOrder that must succeed.
    async fn created(&self, body: &Value) {
        let r = self.create(body).await;
        let status = r.status();
        let answer: Value = r.json().await.unwrap();
        assert_eq!((status.as_u16(), &answer), (200, &json!({})), "{body}");
    }

    /// getFulfillmentOrder's payload.
    async fn order(&self, id: &str) -> Value {
        let r = self.get(&format!("{OUTBOUND}/{id}"), &[]).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["payload"].clone()
    }

    async fn cancel(&self, id: &str) -> Response {
        self.put(&format!("{OUTBOUND}/{id}/cancel"), None).await
    }

    async fn advance(&self, seconds: i64) {
        let r = self.sb.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": seconds})).await;
        assert_eq!(r.status(), 200);
    }

    async fn now(&self) -> DateTime<Utc> {
        time(&self.sb.sandbox_get("/_sandbox/clock").await["now"])
    }

    /// Sets a SKU's fulfillable units (creating it if new).
    async fn stock(&self, sku: &str, fulfillable: u32) -> Value {
        let r =
            self.sb.sandbox_post("/_sandbox/inventory", json!({"sellerSku": sku, "fulfillable": fulfillable})).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// A SKU through getInventorySummaries with details.
    async fn summary(&self, sku: &str) -> Value {
        let mut query = marketplace_query();
        query.extend([("details", "true".to_string()), ("sellerSku", sku.to_string())]);
        let r = self.get(SUMMARIES, &query).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["payload"]["inventorySummaries"].as_array().unwrap().len(), 1, "{body}");
        body["payload"]["inventorySummaries"][0].clone()
    }

    async fn summaries(&self, query: &[(&str, String)]) -> (u16, Value) {
        let r = self.get(SUMMARIES, query).await;
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn status(&self, id: &str) -> String {
        self.order(id).await["fulfillmentOrder"]["fulfillmentOrderStatus"].as_str().unwrap().to_owned()
    }
}

fn time(raw: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn marketplace_query() -> Vec<(&'static str, String)> {
    vec![
        ("granularityType", "Marketplace".to_string()),
        ("granularityId", MARKETPLACE.to_string()),
        ("marketplaceIds", MARKETPLACE.to_string()),
    ]
}

fn us_address() -> Value {
    json!({"name": "Jane Doe", "addressLine1": "1234 Amazon Way", "city": "Troy", "stateOrRegion": "MI",
        "postalCode": "48084", "countryCode": "US", "phone": "+1-555-0100"})
}

/// A createFulfillmentOrder body shipping `items` ((sellerSku, quantity), item ids 1, 2, …) to a US address.
fn order_body(id: &str, items: &[(&str, u32)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(n, (sku, quantity))| {
            json!({"sellerSku": sku, "sellerFulfillmentOrderItemId": (n + 1).to_string(), "quantity": quantity})
        })
        .collect();
    json!({"sellerFulfillmentOrderId": id, "displayableOrderId": id, "displayableOrderDate": "2026-03-10T12:00:00Z",
        "displayableOrderComment": "Thank you for your order", "shippingSpeedCategory": "Standard",
        "destinationAddress": us_address(), "items": items})
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

fn item<'a>(order: &'a Value, item_id: &str) -> &'a Value {
    order["fulfillmentOrderItems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sellerFulfillmentOrderItemId"] == item_id)
        .unwrap()
}

fn quantities(summary: &Value) -> (u64, u64) {
    let details = &summary["inventoryDetails"];
    (
        details["fulfillableQuantity"].as_u64().unwrap(),
        details["reservedQuantity"]["pendingCustomerOrderQuantity"].as_u64().unwrap(),
    )
}

async fn error_of(response: Response) -> (u16, String, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let error = &body["errors"][0];
    let text = |field: &str| error[field].as_str().unwrap_or_default().to_string();
    (status, text("code"), text("message"), text("details"))
}

#[tokio::test]
async fn an_order_moves_on_the_clock_and_ships_with_tracking() {
    let mcf = Mcf::start(config()).await;
    let stock = mcf.stock("MCF-A", 10).await;
    mcf.created(&order_body("SB-SHIP-1", &[("MCF-A", 3)])).await;

    let order = mcf.order("SB-SHIP-1").await;
    let head = &order["fulfillmentOrder"];
    assert_eq!(head["fulfillmentOrderStatus"], "Received");
    assert_eq!(
        (head["fulfillmentPolicy"].as_str(), head["fulfillmentAction"].as_str()),
        (Some("FillOrKill"), Some("Ship"))
    );
    assert_eq!(head["marketplaceId"], MARKETPLACE);
    assert_eq!(head["destinationAddress"], us_address());
    let received = time(&head["receivedDate"]);
    assert_eq!(time(&head["statusUpdatedDate"]), received);
    assert!((mcf.now().await - received).num_seconds().abs() < 5);
    let line = item(&order, "1");
    assert_eq!(
        (line["quantity"].as_u64(), line["cancelledQuantity"].as_u64(), line["unfulfillableQuantity"].as_u64()),
        (Some(3), Some(0), Some(0))
    );
    assert_eq!(line["fulfillmentNetworkSku"], stock["fnSku"]);
    assert!(order.get("fulfillmentShipments").is_none());
    assert_eq!((order["returnItems"].clone(), order["returnAuthorizations"].clone()), (json!([]), json!([])));
    // The order holds its units.
    let summary = mcf.summary("MCF-A").await;
    assert_eq!(quantities(&summary), (7, 3));
    assert_eq!(time(&summary["lastUpdatedTime"]), received);

    // Planning at +600 s, Processing (a PENDING shipment) at +1800 s, Complete at +7200 s, each dated then.
    mcf.advance(600).await;
    let head = mcf.order("SB-SHIP-1").await["fulfillmentOrder"].clone();
    assert_eq!(head["fulfillmentOrderStatus"], "Planning");
    assert_eq!(time(&head["statusUpdatedDate"]), received + Duration::seconds(600));
    mcf.advance(1200).await;
    let order = mcf.order("SB-SHIP-1").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Processing");
    assert_eq!(time(&order["fulfillmentOrder"]["statusUpdatedDate"]), received + Duration::seconds(1800));
    let shipment = &order["fulfillmentShipments"][0];
    assert_eq!(shipment["fulfillmentShipmentStatus"], "PENDING");
    assert_eq!(time(&shipment["shippingDate"]), received + Duration::seconds(7200));
    assert!(shipment.get("fulfillmentShipmentPackage").is_none());
    assert_eq!(shipment["fulfillmentShipmentItem"][0]["quantity"], 3);
    assert_eq!(mcf.cancel("SB-SHIP-1").await.status(), 400, "Processing cannot be cancelled");

    mcf.advance(5400).await;
    let order = mcf.order("SB-SHIP-1").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Complete");
    let completed = received + Duration::seconds(7200);
    assert_eq!(time(&order["fulfillmentOrder"]["statusUpdatedDate"]), completed);
    let shipment = &order["fulfillmentShipments"][0];
    assert_eq!(shipment["fulfillmentShipmentStatus"], "SHIPPED");
    assert_eq!(time(&shipment["shippingDate"]), completed);
    assert!(!shipment["amazonShipmentId"].as_str().unwrap().is_empty());
    assert!(!shipment["fulfillmentCenterId"].as_str().unwrap().is_empty());
    let package = &shipment["fulfillmentShipmentPackage"][0];
    assert_eq!(package["packageNumber"], 1);
    assert_eq!(shipment["fulfillmentShipmentItem"][0]["packageNumber"], 1);
    let carrier = package["carrierCode"].as_str().unwrap();
    assert!(["UPS", "USPS", "AMZL_US"].contains(&carrier), "{carrier}");
    let tracking = package["trackingNumber"].as_str().unwrap();
    assert!(tracking.len() >= 15, "{tracking}");
    assert!(time(&package["estimatedArrivalDate"]) > completed);
    assert_eq!(time(&item(&order, "1")["estimatedShipDate"]), completed);
    // Units left: nothing reserved any more, stamped when they shipped.
    let summary = mcf.summary("MCF-A").await;
    assert_eq!(quantities(&summary), (7, 0));
    assert_eq!(time(&summary["lastUpdatedTime"]), completed);

    // The same order id always gets the same tracking (another sandbox, same clock path).
    let again = Mcf::start(config()).await;
    again.stock("MCF-A", 10).await;
    again.created(&order_body("SB-SHIP-1", &[("MCF-A", 3)])).await;
    again.advance(7200).await;
    let package_again = &again.order("SB-SHIP-1").await["fulfillmentShipments"][0]["fulfillmentShipmentPackage"][0];
    assert_eq!(
        (&package_again["carrierCode"], &package_again["trackingNumber"]),
        (&package["carrierCode"], &package["trackingNumber"])
    );

    let stats = mcf.sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["fulfillmentOrders"], json!({"Complete": 1}));
    assert_eq!(stats["calls"]["createFulfillmentOrder"]["200"], 1);
    let all = mcf.sb.sandbox_get("/_sandbox/fulfillment-orders").await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["fulfillmentOrder"]["sellerFulfillmentOrderId"], "SB-SHIP-1");
    mcf.sb.handle.shutdown().await;
    again.sb.handle.shutdown().await;
}

#[tokio::test]
async fn fill_or_kill_orders_short_of_inventory_are_unfulfillable() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-FEW", 2).await;
    mcf.stock("MCF-MANY", 50).await;
    mcf.created(&order_body("SB-KILL", &[("MCF-MANY", 4), ("MCF-FEW", 5)])).await;
    // Created with what there is: 2 of 5 held.
    assert_eq!(quantities(&mcf.summary("MCF-FEW").await), (0, 2));
    mcf.advance(600).await;
    let order = mcf.order("SB-KILL").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Unfulfillable");
    assert_eq!(item(&order, "1")["unfulfillableQuantity"], 4);
    assert_eq!(item(&order, "2")["unfulfillableQuantity"], 5);
    assert!(item(&order, "2").get("estimatedShipDate").is_none());
    // Everything held went back.
    assert_eq!(quantities(&mcf.summary("MCF-FEW").await), (2, 0));
    assert_eq!(quantities(&mcf.summary("MCF-MANY").await), (50, 0));
    mcf.advance(7 * 24 * 3600).await;
    assert_eq!(mcf.status("SB-KILL").await, "Unfulfillable");
    assert!(mcf.order("SB-KILL").await.get("fulfillmentShipments").is_none());
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn fill_all_available_ships_what_there_is_and_fill_all_waits_a_day() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 10).await;
    mcf.stock("MCF-B", 1).await;
    let partial =
        with(order_body("SB-AVAILABLE", &[("MCF-A", 4), ("MCF-B", 3)]), "fulfillmentPolicy", json!("FillAllAvailable"));
    mcf.created(&partial).await;
    mcf.advance(600).await;
    let order = mcf.order("SB-AVAILABLE").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Planning");
    assert_eq!(item(&order, "2")["cancelledQuantity"], 2, "the short units are cancelled");
    assert_eq!(item(&order, "1")["cancelledQuantity"], 0);
    mcf.advance(1200).await;
    let shipment = mcf.order("SB-AVAILABLE").await["fulfillmentShipments"][0].clone();
    let shipped: Vec<(String, u64)> = shipment["fulfillmentShipmentItem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["sellerSku"].as_str().unwrap().to_owned(), i["quantity"].as_u64().unwrap()))
        .collect();
    assert_eq!(shipped, [("MCF-A".to_string(), 4), ("MCF-B".to_string(), 1)]);
    mcf.advance(5400).await;
    let order = mcf.order("SB-AVAILABLE").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "CompletePartialled");
    assert_eq!(order["fulfillmentShipments"][0]["fulfillmentShipmentStatus"], "SHIPPED");
    assert_eq!(quantities(&mcf.summary("MCF-B").await), (0, 0));
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (6, 0));

    // FillAll: the covered unit ships at +2 h, the order stays Processing until its 24 hours are up.
    mcf.stock("MCF-C", 1).await;
    mcf.created(&with(order_body("SB-ALL", &[("MCF-C", 3)]), "fulfillmentPolicy", json!("FillAll"))).await;
    let received = time(&mcf.order("SB-ALL").await["fulfillmentOrder"]["receivedDate"]);
    mcf.advance(7200).await;
    let order = mcf.order("SB-ALL").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Processing");
    assert_eq!(order["fulfillmentShipments"][0]["fulfillmentShipmentStatus"], "SHIPPED");
    assert_eq!(item(&order, "1")["unfulfillableQuantity"], 0);
    mcf.advance(22 * 3600).await;
    let order = mcf.order("SB-ALL").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "CompletePartialled");
    assert_eq!(time(&order["fulfillmentOrder"]["statusUpdatedDate"]), received + Duration::hours(24));
    assert_eq!(item(&order, "1")["unfulfillableQuantity"], 2);
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn orders_can_be_cancelled_until_processing() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 10).await;
    mcf.created(&order_body("SB-CANCEL", &[("MCF-A", 4)])).await;
    mcf.created(&order_body("SB-LATE", &[("MCF-A", 2)])).await;
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (4, 6));
    mcf.advance(600).await;
    let r = mcf.cancel("SB-CANCEL").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    let order = mcf.order("SB-CANCEL").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Cancelled");
    let cancelled_at = time(&order["fulfillmentOrder"]["statusUpdatedDate"]);
    assert!((mcf.now().await - cancelled_at).num_seconds().abs() < 5);
    assert_eq!(item(&order, "1")["cancelledQuantity"], 4);
    assert!(item(&order, "1").get("estimatedShipDate").is_none());
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (8, 2));
    // Cancelling again changes nothing and answers 200.
    assert_eq!(mcf.cancel("SB-CANCEL").await.status(), 200);
    mcf.advance(3600).await;
    assert_eq!(mcf.status("SB-CANCEL").await, "Cancelled");

    // Too late: SB-LATE is Processing.
    assert_eq!(mcf.status("SB-LATE").await, "Processing");
    let (status, code, message, _) = error_of(mcf.cancel("SB-LATE").await).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    assert!(message.contains("cannot be cancelled") && message.contains("Processing"), "{message}");
    assert_eq!(mcf.status("SB-LATE").await, "Processing");
    let (status, code, _, _) = error_of(mcf.cancel("SB-NOPE").await).await;
    assert_eq!((status, code.as_str()), (404, "NotFound"));
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn a_repeated_create_is_one_order_and_a_clash_is_refused() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 10).await;
    let body = order_body("SB-TWICE", &[("MCF-A", 2)]);
    mcf.created(&body).await;
    mcf.created(&body).await;
    assert_eq!(mcf.sb.sandbox_get("/_sandbox/fulfillment-orders").await.as_array().unwrap().len(), 1);
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (8, 2), "reserved once");
    let other = order_body("SB-TWICE", &[("MCF-A", 3)]);
    let (status, code, message, _) = error_of(mcf.create(&other).await).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    assert!(message.contains("SB-TWICE") && message.contains("already exists"), "{message}");
    assert_eq!(item(&mcf.order("SB-TWICE").await, "1")["quantity"], 2);
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn create_validates_like_the_model() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 300).await;
    let ok = order_body("SB-VALID", &[("MCF-A", 1)]);
    let mut no_postal = ok.clone();
    no_postal["destinationAddress"].as_object_mut().unwrap().remove("postalCode");
    let mut no_city = ok.clone();
    no_city["destinationAddress"].as_object_mut().unwrap().remove("city");
    let mut foreign = ok.clone();
    foreign["destinationAddress"]["countryCode"] = json!("FR");
    let mut no_comment = ok.clone();
    no_comment.as_object_mut().unwrap().remove("displayableOrderComment");
    let two_lines = json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1},
        {"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1}]);
    let cases: Vec<(&str, Value, &str)> = vec![
        ("unknown SKU", order_body("SB-V", &[("NO-SUCH-SKU", 1)]), "the SellerSKU for Item Id: 1 is invalid."),
        ("quantity 0", order_body("SB-V", &[("MCF-A", 0)]), "quantity"),
        ("missing postalCode", no_postal, "destinationAddress.postalCode"),
        ("missing city", no_city, "destinationAddress.city"),
        ("foreign country", foreign, "destination address"),
        ("missing comment", no_comment, "displayableOrderComment"),
        ("speed", with(ok.clone(), "shippingSpeedCategory", json!("Overnight")), "shippingSpeedCategory"),
        ("policy", with(ok.clone(), "fulfillmentPolicy", json!("FillSome")), "fulfillmentPolicy"),
        ("action", with(ok.clone(), "fulfillmentAction", json!("Wait")), "fulfillmentAction"),
        ("long id", with(ok.clone(), "sellerFulfillmentOrderId", json!("X".repeat(41))), "sellerFulfillmentOrderId"),
        ("two spaces", with(ok.clone(), "displayableOrderId", json!("A  B")), "two spaces"),
        (
            "long comment",
            with(ok.clone(), "displayableOrderComment", json!("c".repeat(751))),
            "displayableOrderComment",
        ),
        ("bad date", with(ok.clone(), "displayableOrderDate", json!("yesterday")), "displayableOrderDate"),
        ("duplicate item ids", with(ok.clone(), "items", two_lines), "Duplicate sellerFulfillmentOrderItemId"),
        ("no items", with(ok.clone(), "items", json!([])), "items"),
        ("251 units", order_body("SB-V", &[("MCF-A", 200), ("MCF-A", 51)]), "250 units"),
        ("foreign marketplace", with(ok.clone(), "marketplaceId", json!("A1PA6795UKMFR9")), "marketplaceId"),
        ("scheduled outside JP", with(ok.clone(), "shippingSpeedCategory", json!("ScheduledDelivery")), "JP"),
    ];
    for (what, body, expected) in cases {
        let (status, code, message, details) = error_of(mcf.create(&body).await).await;
        assert_eq!((status, code.as_str()), (400, "InvalidInput"), "{what}: {message}");
        assert!(message.contains(expected), "{what}: {message}");
        if what == "unknown SKU" {
            assert!(details.contains("NO-SUCH-SKU"), "{details}");
        }
    }
    let r = mcf
        .sb
        .client
        .post(mcf.sb.url(OUTBOUND))
        .header("x-amz-access-token", &mcf.token)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.0, 400);
    assert!(mcf.sb.sandbox_get("/_sandbox/fulfillment-orders").await.as_array().unwrap().is_empty());
    // The lower limits hold: 100 lines of 2 units, and a JP-less city for the US is required above.
    let lines: Vec<(&str, u32)> = (0..100).map(|_| ("MCF-A", 2)).collect();
    mcf.created(&order_body("SB-100-LINES", &lines)).await;
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn previews_estimate_fees_and_name_what_cannot_ship() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 10).await;
    let preview = |items: Value, extra: Value| {
        let mut body = json!({"address": us_address(), "items": items});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let items = json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 2}]);
    let r = mcf.post(&format!("{OUTBOUND}/preview"), &preview(items.clone(), json!({}))).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let previews = body["payload"]["fulfillmentPreviews"].as_array().unwrap();
    let speeds: Vec<&str> = previews.iter().map(|p| p["shippingSpeedCategory"].as_str().unwrap()).collect();
    assert_eq!(speeds, ["Standard", "Expedited", "Priority"]);
    let now = mcf.now().await;
    let mut previous_arrival = None;
    for p in previews {
        assert_eq!((p["isFulfillable"].as_bool(), p["isCODCapable"].as_bool()), (Some(true), Some(false)));
        assert_eq!(p["marketplaceId"], MARKETPLACE);
        assert_eq!(p["unfulfillablePreviewItems"], json!([]));
        assert_eq!(p["estimatedShippingWeight"]["unit"], "POUNDS");
        let fees = p["estimatedFees"].as_array().unwrap();
        let names: Vec<&str> = fees.iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["FBAPerUnitFulfillmentFee", "FBAPerOrderFulfillmentFee"]);
        assert!(fees.iter().all(|f| f["amount"]["currencyCode"] == "USD" && f["amount"]["value"].is_string()));
        let shipment = &p["fulfillmentPreviewShipments"][0];
        let (earliest, latest) = (time(&shipment["earliestArrivalDate"]), time(&shipment["latestArrivalDate"]));
        assert!(time(&shipment["earliestShipDate"]) > now - Duration::seconds(5) && earliest <= latest);
        assert!(time(&shipment["latestShipDate"]) >= time(&shipment["earliestShipDate"]));
        assert_eq!(shipment["fulfillmentPreviewItems"][0]["quantity"], 2);
        // Faster speeds arrive sooner.
        if let Some(previous) = previous_arrival {
            assert!(latest <= previous);
        }
        previous_arrival = Some(latest);
    }
    // Standard: 4.75 per unit, 1.50 per order.
    assert_eq!(previews[0]["estimatedFees"][0]["amount"]["value"], "9.50");
    assert_eq!(previews[0]["estimatedFees"][1]["amount"]["value"], "1.50");

    // An unknown SKU and too many units: unfulfillable items, with reasons.
    let items = json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 11},
        {"sellerSku": "NO-SUCH-SKU", "sellerFulfillmentOrderItemId": "2", "quantity": 1}]);
    let body: Value = mcf
        .post(&format!("{OUTBOUND}/preview"), &preview(items, json!({"shippingSpeedCategories": ["Priority"]})))
        .await
        .json()
        .await
        .unwrap();
    let previews = body["payload"]["fulfillmentPreviews"].as_array().unwrap();
    assert_eq!(previews.len(), 1);
    assert_eq!(previews[0]["isFulfillable"], false);
    let reasons: Vec<(String, Value)> = previews[0]["unfulfillablePreviewItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["sellerSku"].as_str().unwrap().to_owned(), i["itemUnfulfillableReasons"].clone()))
        .collect();
    assert_eq!(
        reasons,
        [("MCF-A".into(), json!(["InventoryUnavailable"])), ("NO-SUCH-SKU".into(), json!(["InvalidSKU"]))]
    );

    // A destination the marketplace cannot serve, and Scheduled Delivery outside Japan.
    let mut abroad = preview(
        json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1}]),
        json!({"shippingSpeedCategories": ["Standard", "ScheduledDelivery"]}),
    );
    abroad["address"]["countryCode"] = json!("DE");
    let body: Value = mcf.post(&format!("{OUTBOUND}/preview"), &abroad).await.json().await.unwrap();
    let previews = body["payload"]["fulfillmentPreviews"].as_array().unwrap();
    assert_eq!(previews[0]["orderUnfulfillableReasons"], json!(["InvalidDestinationAddress"]));
    assert_eq!(
        previews[1]["orderUnfulfillableReasons"],
        json!(["InvalidDestinationAddress", "DeliverySLAUnavailable"])
    );
    assert!(previews.iter().all(|p| p["isFulfillable"] == false && p.get("estimatedFees").is_none()));

    // Validation is createFulfillmentOrder's.
    let no_address = json!({"items": [{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1}]});
    let (status, _, message, _) = error_of(mcf.post(&format!("{OUTBOUND}/preview"), &no_address).await).await;
    assert_eq!(status, 400);
    assert!(message.contains("address"), "{message}");
    let zero = preview(json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 0}]), json!({}));
    assert_eq!(error_of(mcf.post(&format!("{OUTBOUND}/preview"), &zero).await).await.0, 400);
    let bad_speed = preview(items_one(), json!({"shippingSpeedCategories": ["Warp"]}));
    assert_eq!(error_of(mcf.post(&format!("{OUTBOUND}/preview"), &bad_speed).await).await.0, 400);
    // A preview reserves nothing.
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (10, 0));
    mcf.sb.handle.shutdown().await;
}

fn items_one() -> Value {
    json!([{"sellerSku": "MCF-A", "sellerFulfillmentOrderItemId": "1", "quantity": 1}])
}

#[tokio::test]
async fn hold_orders_wait_and_are_cancelled_after_14_days() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 10).await;
    mcf.created(&with(order_body("SB-HOLD", &[("MCF-A", 3)]), "fulfillmentAction", json!("Hold"))).await;
    let received = time(&mcf.order("SB-HOLD").await["fulfillmentOrder"]["receivedDate"]);
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (7, 3), "a held order keeps its units");
    mcf.advance(13 * 24 * 3600).await;
    let order = mcf.order("SB-HOLD").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Received");
    assert_eq!(order["fulfillmentOrder"]["fulfillmentAction"], "Hold");
    assert!(item(&order, "1").get("estimatedShipDate").is_none());
    mcf.advance(24 * 3600).await;
    let order = mcf.order("SB-HOLD").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Cancelled");
    assert_eq!(time(&order["fulfillmentOrder"]["statusUpdatedDate"]), received + Duration::days(14));
    assert_eq!(item(&order, "1")["cancelledQuantity"], 3);
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (10, 0));
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn the_status_update_moves_an_order_now() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 10).await;
    mcf.created(&order_body("SB-MOVE", &[("MCF-A", 2)])).await;
    let path = format!("{OUTBOUND}/SB-MOVE/status");
    let r = mcf.put(&path, Some(&json!({"fulfillmentOrderStatus": "Processing"}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({}));
    let order = mcf.order("SB-MOVE").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Processing");
    assert_eq!(order["fulfillmentShipments"][0]["fulfillmentShipmentStatus"], "PENDING");
    let r = mcf.put(&path, Some(&json!({"fulfillmentOrderStatus": "Complete"}))).await;
    assert_eq!(r.status(), 200);
    let order = mcf.order("SB-MOVE").await;
    assert_eq!(order["fulfillmentOrder"]["fulfillmentOrderStatus"], "Complete");
    assert_eq!(order["fulfillmentShipments"][0]["fulfillmentShipmentStatus"], "SHIPPED");
    assert_eq!(quantities(&mcf.summary("MCF-A").await), (8, 0));
    mcf.advance(3 * 24 * 3600).await;
    assert_eq!(mcf.status("SB-MOVE").await, "Complete");
    for (body, expected) in [
        (json!({"fulfillmentOrderStatus": "Received"}), "cannot move"),
        (json!({"fulfillmentOrderStatus": "Shipped"}), "fulfillmentOrderStatus"),
        (json!({}), "fulfillmentOrderStatus"),
    ] {
        let (status, _, message, _) = error_of(mcf.put(&path, Some(&body)).await).await;
        assert_eq!(status, 400);
        assert!(message.contains(expected), "{message}");
    }
    let r = mcf.put(&format!("{OUTBOUND}/SB-NOPE/status"), Some(&json!({"fulfillmentOrderStatus": "Complete"}))).await;
    assert_eq!(r.status(), 404);
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn list_returns_orders_updated_since_a_date_in_pages() {
    let mcf = Mcf::start(config()).await;
    mcf.stock("MCF-A", 200).await;
    // Hold orders keep their statusUpdatedDate for 14 days.
    let hold = |id: String| with(order_body(&id, &[("MCF-A", 1)]), "fulfillmentAction", json!("Hold"));
    for n in 0..55 {
        mcf.created(&hold(format!("SB-EARLY-{n:02}"))).await;
    }
    let early = mcf.now().await;
    mcf.advance(3600).await;
    for n in 0..3 {
        mcf.created(&hold(format!("SB-LATE-{n}"))).await;
    }
    let late = mcf.now().await;

    let shared = &mcf;
    let list = |query: Vec<(&'static str, String)>| async move {
        let r = shared.get(OUTBOUND, &query).await;
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    };
    let ids = |body: &Value| -> Vec<String> {
        body["payload"]["fulfillmentOrders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["sellerFulfillmentOrderId"].as_str().unwrap().to_owned())
            .collect()
    };
    // Since just before the late ones: those three.
    let (status, body) = list(vec![("queryStartDate", iso(late - Duration::seconds(30)))]).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), ["SB-LATE-0", "SB-LATE-1", "SB-LATE-2"]);
    assert!(body["payload"].get("nextToken").is_none());
    // By default the last 36 hours: all 58, 50 then 8, oldest update first.
    let (_, first) = list(vec![]).await;
    let page = ids(&first);
    assert_eq!(page.len(), 50);
    assert_eq!(page[0], "SB-EARLY-00");
    let next = first["payload"]["nextToken"].as_str().unwrap().to_owned();
    let (status, second) = list(vec![("nextToken", next.clone())]).await;
    assert_eq!(status, 200);
    let rest = ids(&second);
    assert_eq!(rest.len(), 8);
    assert_eq!(&rest[5..], ["SB-LATE-0", "SB-LATE-1", "SB-LATE-2"]);
    assert!(second["payload"].get("nextToken").is_none());
    let dates: Vec<DateTime<Utc>> = [&first, &second]
        .iter()
        .flat_map(|b| b["payload"]["fulfillmentOrders"].as_array().unwrap().clone())
        .map(|o| time(&o["statusUpdatedDate"]))
        .collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    assert!(dates[0] <= early);

    // Tokens die with the expire endpoint.
    let r = mcf.sb.sandbox_post("/_sandbox/pagination-tokens/expire", json!({})).await;
    assert_eq!(r.status(), 200);
    let (status, body) = list(vec![("nextToken", next)]).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["message"], "The nextToken is invalid or has expired.");
    let (status, _) = list(vec![("queryStartDate", "last week".into())]).await;
    assert_eq!(status, 400);

    // 40 hours on, the default window holds none of them; an explicit start finds them all.
    mcf.advance(40 * 3600).await;
    let (_, body) = list(vec![]).await;
    assert!(ids(&body).is_empty());
    let (_, body) = list(vec![("queryStartDate", iso(early - Duration::hours(1)))]).await;
    assert_eq!(ids(&body).len(), 50);
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn inventory_pages_filters_and_details() {
    let mcf = Mcf::start(config()).await;
    let seeded = mcf.sb.sandbox_get("/_sandbox/inventory").await;
    assert_eq!(seeded.as_array().unwrap().len(), 120);
    assert_eq!(seeded[0]["sellerSku"], "FBA-SKU-0001");
    assert_eq!(seeded[0]["condition"], "NewItem");

    // Three pages: 50, 50, 20, in SKU order; details only when asked for.
    let mut query = marketplace_query();
    let mut skus = Vec::new();
    let mut pages = 0;
    loop {
        let (status, body) = mcf.summaries(&query).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        assert_eq!(
            body["payload"]["granularity"],
            json!({"granularityType": "Marketplace", "granularityId": MARKETPLACE})
        );
        for summary in body["payload"]["inventorySummaries"].as_array().unwrap() {
            assert!(summary.get("inventoryDetails").is_none());
            assert!(summary["totalQuantity"].is_u64());
            skus.push(summary["sellerSku"].as_str().unwrap().to_owned());
        }
        let Some(next) = body["pagination"]["nextToken"].as_str() else {
            assert!(body.get("pagination").is_none());
            break;
        };
        query = marketplace_query();
        query.push(("nextToken", next.to_owned()));
    }
    assert_eq!((pages, skus.len()), (3, 120));
    let expected: Vec<String> = (1..=120).map(|n| format!("FBA-SKU-{n:04}")).collect();
    assert_eq!(skus, expected);

    let mut detailed = marketplace_query();
    detailed.push(("details", "true".into()));
    let (_, body) = mcf.summaries(&detailed).await;
    let first = &body["payload"]["inventorySummaries"][0];
    let details = &first["inventoryDetails"];
    for field in ["fulfillableQuantity", "inboundWorkingQuantity", "inboundShippedQuantity", "inboundReceivingQuantity"]
    {
        assert!(details[field].is_u64(), "{field}: {details}");
    }
    for field in [
        "totalReservedQuantity",
        "pendingCustomerOrderQuantity",
        "pendingTransshipmentQuantity",
        "fcProcessingQuantity",
    ] {
        assert!(details["reservedQuantity"][field].is_u64(), "{field}");
    }
    assert!(details["researchingQuantity"]["researchingQuantityBreakdown"].is_array());
    assert!(details["unfulfillableQuantity"]["totalUnfulfillableQuantity"].is_u64());
    assert_eq!(first, &seeded[0]);

    // startDateTime: the SKUs changed since, sellerSkus ignored; the inbound-only change is not detected.
    mcf.advance(60).await;
    let since = mcf.now().await - Duration::seconds(1);
    mcf.stock("FBA-SKU-0007", 3).await;
    mcf.stock("NEW-SKU-1", 12).await;
    let r =
        mcf.sb.sandbox_post("/_sandbox/inventory", json!({"sellerSku": "FBA-SKU-0009", "inboundShipped": 40})).await;
    let inbound: Value = r.json().await.unwrap();
    assert_eq!(inbound["inventoryDetails"]["inboundShippedQuantity"], 40);
    assert!(time(&inbound["lastUpdatedTime"]) >= since);
    let mut changed = marketplace_query();
    changed.extend([("startDateTime", iso(since)), ("sellerSkus", "FBA-SKU-0001,FBA-SKU-0002".into())]);
    let (status, body) = mcf.summaries(&changed).await;
    assert_eq!(status, 200, "{body}");
    let found: Vec<&str> = body["payload"]["inventorySummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sellerSku"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["FBA-SKU-0007", "NEW-SKU-1"]);
    let created = &body["payload"]["inventorySummaries"][1];
    assert!(
        created["fnSku"].as_str().unwrap().starts_with("X00") && created["asin"].as_str().unwrap().starts_with("B0")
    );

    // sellerSkus, else sellerSku.
    let mut listed = marketplace_query();
    listed.extend([("sellerSkus", "FBA-SKU-0003,FBA-SKU-0100,NOT-THERE".into()), ("sellerSku", "FBA-SKU-0001".into())]);
    let (_, body) = mcf.summaries(&listed).await;
    let found: Vec<&str> = body["payload"]["inventorySummaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sellerSku"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["FBA-SKU-0003", "FBA-SKU-0100"]);
    let too_many: Vec<String> = (1..=51).map(|n| format!("FBA-SKU-{n:04}")).collect();
    let mut query = marketplace_query();
    query.push(("sellerSkus", too_many.join(",")));
    let (status, body) = mcf.summaries(&query).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("sellerSkus"));

    // A nextToken lives 30 sandbox seconds, dies with the expire endpoint, and needs the same filter.
    let first_token = |body: &Value| body["pagination"]["nextToken"].as_str().unwrap().to_owned();
    let (_, body) = mcf.summaries(&marketplace_query()).await;
    let token = first_token(&body);
    let resume = |token: &str| {
        let mut query = marketplace_query();
        query.push(("nextToken", token.to_owned()));
        query
    };
    mcf.advance(31).await;
    let (status, body) = mcf.summaries(&resume(&token)).await;
    assert_eq!((status, body["errors"][0]["message"].as_str()), (400, Some("Next token is invalid or expired")));
    assert_eq!(body["errors"][0]["code"], "InvalidInput");
    let (_, body) = mcf.summaries(&marketplace_query()).await;
    let token = first_token(&body);
    mcf.advance(20).await;
    assert_eq!(mcf.summaries(&resume(&token)).await.0, 200, "20 s is within the 30");
    let (_, body) = mcf.summaries(&marketplace_query()).await;
    let token = first_token(&body);
    let r = mcf.sb.sandbox_post("/_sandbox/pagination-tokens/expire", json!({})).await;
    assert!(r.json::<Value>().await.unwrap()["expired"].as_u64().unwrap() >= 1);
    assert_eq!(mcf.summaries(&resume(&token)).await.0, 400);
    let (_, body) = mcf.summaries(&marketplace_query()).await;
    let mut other_filter = resume(&first_token(&body));
    other_filter.push(("sellerSku", "FBA-SKU-0001".into()));
    assert_eq!(mcf.summaries(&other_filter).await.0, 400);

    // Validation.
    let without = |name: &str| -> Vec<(&'static str, String)> {
        marketplace_query().into_iter().filter(|(k, _)| *k != name).collect()
    };
    let replaced = |name: &'static str, value: &str| -> Vec<(&'static str, String)> {
        marketplace_query().into_iter().map(|(k, v)| if k == name { (k, value.to_owned()) } else { (k, v) }).collect()
    };
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (without("granularityType"), "granularityType"),
        (without("granularityId"), "granularityId"),
        (without("marketplaceIds"), "marketplaceIds"),
        (replaced("granularityType", "Country"), "granularityType"),
        (replaced("marketplaceIds", "ATVPDKIKX0DER,A2EUQ1WTGCTBG2"), "marketplaceIds"),
        (replaced("granularityId", "A1PA6795UKMFR9"), "granularityId"),
        (replaced("marketplaceIds", "A2EUQ1WTGCTBG2"), "marketplaceIds"),
        ([marketplace_query(), vec![("startDateTime", "soon".to_string())]].concat(), "startDateTime"),
        ([marketplace_query(), vec![("details", "maybe".to_string())]].concat(), "details"),
    ];
    for (query, expected) in cases {
        let (status, body) = mcf.summaries(&query).await;
        assert_eq!((status, body["errors"][0]["code"].as_str()), (400, Some("InvalidInput")), "{expected}: {body}");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(expected), "{expected}: {body}");
    }
    mcf.sb.handle.shutdown().await;
}

#[tokio::test]
async fn inventory_summaries_have_amazons_quota() {
    let config =
        SandboxConfig { start_time: Some("2026-03-10T12:34:56Z".parse().unwrap()), ..SandboxConfig::default() };
    let mcf = Mcf::start(config).await;
    let query = marketplace_query();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = mcf.get(SUMMARIES, &query).await;
        if r.status() == 200 {
            assert_eq!(r.headers()["x-amzn-RateLimit-Limit"], "2");
        }
        statuses.push((r.status().as_u16(), r));
    }
    assert_eq!(statuses.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [200, 200, 429], "burst 2");
    let (_, throttled) = statuses.pop().unwrap();
    let (status, code, message, _) = error_of(throttled).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (429, "QuotaExceeded", "You exceeded your quota for the requested resource.")
    );
    // Fulfillment Outbound's plan is burst 30.
    let mut listed = 0;
    for _ in 0..30 {
        if mcf.get(OUTBOUND, &[]).await.status() == 200 {
            listed += 1;
        }
    }
    assert_eq!(listed, 30);
    let stats = mcf.sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["calls"]["getInventorySummaries"]["429"], 1);
    mcf.sb.handle.shutdown().await;
}
