//! Feeds API 2021-06-30 and the XML order feeds, over HTTP against a started sandbox.
mod common;

use std::io::Read;
use std::time::Duration;

use chrono::{DateTime, Utc};
use common::*;
use reqwest::Response;
use serde_json::{Value, json};
use spapi_sandbox::{Operation, SandboxConfig};

const XML: &str = "text/xml; charset=UTF-8";
const SELLER: &str = "A1SANDBOXSELLER";
const FULFILLMENT: &str = "POST_ORDER_FULFILLMENT_DATA";
const ACKNOWLEDGEMENT: &str = "POST_ORDER_ACKNOWLEDGEMENT_DATA";
const ADJUSTMENT: &str = "POST_PAYMENT_ADJUSTMENT_DATA";
const FEED_OPERATIONS: [Operation; 6] = [
    Operation::CreateFeedDocument,
    Operation::CreateFeed,
    Operation::GetFeed,
    Operation::GetFeeds,
    Operation::CancelFeed,
    Operation::GetFeedDocument,
];

/// A pinned sandbox whose feed operations are not rate limited (the quota test uses Amazon's plans).
fn config() -> SandboxConfig {
    let mut config =
        SandboxConfig { start_time: Some("2026-03-10T12:34:56Z".parse().unwrap()), ..SandboxConfig::default() };
    for op in FEED_OPERATIONS {
        config.rate_overrides.insert(op, (1000.0, 1000.0));
    }
    config
}

/// A sandbox and a seller's access token.
struct Feeds {
    sb: Sandbox,
    token: String,
}

impl Feeds {
    async fn start(config: SandboxConfig) -> Self {
        let sb = Sandbox::start(config).await;
        let token = sb.token().await;
        Self { sb, token }
    }

    /// A merchant-fulfilled order with everything still to ship.
    async fn unshipped_order(&self) -> Value {
        self.sb.all_orders().await.into_iter().find(|o| merchant("UNSHIPPED")(&o)).expect("an unshipped order")
    }

    async fn post(&self, path: &str, body: &Value) -> Response {
        self.sb
            .client
            .post(self.sb.url(path))
            .header("x-amz-access-token", &self.token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Response {
        self.sb.get(path, &self.token, query).await
    }

    /// createFeedDocument → (feedDocumentId, url).
    async fn document(&self, content_type: &str) -> (String, String) {
        let r = self.post("/feeds/2021-06-30/documents", &json!({"contentType": content_type})).await;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        (body["feedDocumentId"].as_str().unwrap().to_owned(), body["url"].as_str().unwrap().to_owned())
    }

    async fn upload(&self, url: &str, content_type: &str, body: &str) -> Response {
        self.sb.client.put(url).header("content-type", content_type).body(body.to_owned()).send().await.unwrap()
    }

    async fn create_feed(&self, feed_type: &str, document_id: &str) -> Response {
        let spec = json!({"feedType": feed_type, "marketplaceIds": [MARKETPLACE], "inputFeedDocumentId": document_id});
        self.post("/feeds/2021-06-30/feeds", &spec).await
    }

    /// Document, upload, createFeed: the feedId.
    async fn submit(&self, feed_type: &str, xml: &str) -> String {
        let (document_id, url) = self.document(XML).await;
        assert_eq!(self.upload(&url, XML, xml).await.status(), 200);
        let r = self.create_feed(feed_type, &document_id).await;
        assert_eq!(r.status(), 202);
        r.json::<Value>().await.unwrap()["feedId"].as_str().unwrap().to_owned()
    }

    async fn feed(&self, feed_id: &str) -> Value {
        let r = self.get(&format!("/feeds/2021-06-30/feeds/{feed_id}"), &[]).await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// Moves the sandbox clock.
    async fn advance(&self, seconds: i64) {
        let r = self.sb.sandbox_post("/_sandbox/clock", json!({"advanceSeconds": seconds})).await;
        assert_eq!(r.status(), 200);
    }

    /// Feeds created from now on finish at the next request.
    async fn instant_feeds(&self) {
        let r =
            self.sb.sandbox_post("/_sandbox/feeds/settings", json!({"queueSeconds": 0, "processingSeconds": 0})).await;
        assert_eq!(r.status(), 200);
    }

    /// The feed's processing report, through getFeedDocument and its URL (gunzipped if it says GZIP).
    async fn report(&self, feed: &Value) -> Report {
        let id = feed["resultFeedDocumentId"].as_str().expect("a result document");
        let document: Value = self.get(&format!("/feeds/2021-06-30/documents/{id}"), &[]).await.json().await.unwrap();
        let r = self.sb.client.get(document["url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.unwrap();
        let xml = match document["compressionAlgorithm"].as_str() {
            Some("GZIP") => gunzip(&bytes),
            _ => String::from_utf8(bytes.to_vec()).unwrap(),
        };
        Report::parse(&xml)
    }

    async fn order(&self, id: &str) -> Value {
        self.sb.sandbox_get(&format!("/_sandbox/orders/{id}")).await
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut xml = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut xml).unwrap();
    xml
}

fn envelope(message_type: &str, messages: &[String]) -> String {
    envelope_of(SELLER, message_type, messages)
}

fn envelope_of(merchant: &str, message_type: &str, messages: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AmazonEnvelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"amzn-envelope.xsd\">\n\
         <Header><DocumentVersion>1.01</DocumentVersion><MerchantIdentifier>{merchant}</MerchantIdentifier></Header>\n\
         <MessageType>{message_type}</MessageType>\n{}\n</AmazonEnvelope>\n",
        messages.join("\n")
    )
}

fn message(id: u32, payload: &str) -> String {
    format!("<Message><MessageID>{id}</MessageID>{payload}</Message>")
}

/// An OrderFulfillment message; `carrier` is the whole `CarrierCode`/`CarrierName` element.
fn fulfillment(id: u32, order: &str, reference: Option<&str>, carrier: &str, items: &[(&str, u64)]) -> String {
    let reference =
        reference.map(|r| format!("<MerchantFulfillmentID>{r}</MerchantFulfillmentID>")).unwrap_or_default();
    let items: String = items
        .iter()
        .map(|(item, q)| {
            format!("<Item><AmazonOrderItemCode>{item}</AmazonOrderItemCode><Quantity>{q}</Quantity></Item>")
        })
        .collect();
    message(
        id,
        &format!(
            "<OrderFulfillment><AmazonOrderID>{order}</AmazonOrderID>{reference}<FulfillmentDate>2026-03-10T11:00:00Z</FulfillmentDate>\
             <FulfillmentData>{carrier}<ShippingMethod>Ground</ShippingMethod><ShipperTrackingNumber>1ZFEED{id}</ShipperTrackingNumber></FulfillmentData>\
             {items}</OrderFulfillment>"
        ),
    )
}

fn acknowledgement(id: u32, order: &str, status: &str, items: &[(&str, &str)]) -> String {
    let items: String = items
        .iter()
        .map(|(item, reason)| {
            format!(
                "<Item><AmazonOrderItemCode>{item}</AmazonOrderItemCode><CancelReason>{reason}</CancelReason></Item>"
            )
        })
        .collect();
    message(
        id,
        &format!(
            "<OrderAcknowledgement><AmazonOrderID>{order}</AmazonOrderID><StatusCode>{status}</StatusCode>{items}</OrderAcknowledgement>"
        ),
    )
}

fn adjustment(id: u32, order: &str, item: &str, components: &[(&str, &str)]) -> String {
    let components: String = components
        .iter()
        .map(|(kind, amount)| {
            format!("<Component><Type>{kind}</Type><Amount currency=\"USD\">{amount}</Amount></Component>")
        })
        .collect();
    message(
        id,
        &format!(
            "<OrderAdjustment><AmazonOrderID>{order}</AmazonOrderID><AdjustedItem><AmazonOrderItemCode>{item}</AmazonOrderItemCode>\
             <AdjustmentReason>CustomerReturn</AdjustmentReason><ItemPriceAdjustments>{components}</ItemPriceAdjustments></AdjustedItem></OrderAdjustment>"
        ),
    )
}

/// The parts of a processing report the tests look at.
#[derive(Debug)]
struct Report {
    xml: String,
    counts: [u64; 4],
    results: Vec<ReportResult>,
}

#[derive(Debug)]
struct ReportResult {
    message_id: u64,
    result_code: String,
    message_code: u32,
    description: String,
    order_id: Option<String>,
    item_id: Option<String>,
}

fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(&xml[start..end])
}

impl Report {
    fn parse(xml: &str) -> Self {
        let number =
            |name: &str| tag(xml, name).unwrap_or_else(|| panic!("no {name} in {xml}")).parse::<u64>().unwrap();
        let unescape = |s: &str| quick_xml::escape::unescape(s).unwrap().into_owned();
        let results = xml
            .split("<Result>")
            .skip(1)
            .map(|chunk| ReportResult {
                message_id: tag(chunk, "MessageID").unwrap().parse().unwrap(),
                result_code: tag(chunk, "ResultCode").unwrap().to_owned(),
                message_code: tag(chunk, "ResultMessageCode").unwrap().parse().unwrap(),
                description: unescape(tag(chunk, "ResultDescription").unwrap()),
                order_id: tag(chunk, "AmazonOrderID").map(unescape),
                item_id: tag(chunk, "AmazonOrderItemCode").map(unescape),
            })
            .collect();
        Self {
            xml: xml.to_owned(),
            counts: [
                number("MessagesProcessed"),
                number("MessagesSuccessful"),
                number("MessagesWithError"),
                number("MessagesWithWarning"),
            ],
            results,
        }
    }

    fn result(&self, message_id: u64) -> &ReportResult {
        self.results
            .iter()
            .find(|r| r.message_id == message_id)
            .unwrap_or_else(|| panic!("no Result {message_id}: {}", self.xml))
    }

    /// Each `(message, code, text the description holds)` is in the report.
    fn assert_results(&self, expected: &[(u64, u32, &str)]) {
        for (message_id, code, text) in expected {
            let result = self.result(*message_id);
            assert_eq!(result.message_code, *code, "{result:?}");
            assert!(result.description.contains(text), "{message_id}: {}", result.description);
        }
    }
}

/// Merchant-fulfilled orders in `status` (for `filter` and `find` over `&Value`s).
fn merchant(status: &'static str) -> impl Fn(&&Value) -> bool + Copy {
    move |o| fulfilled_by(o) == "MERCHANT" && status_of(o) == status
}

fn items_of(order: &Value) -> Vec<(String, u64)> {
    order["orderItems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["orderItemId"].as_str().unwrap().to_owned(), i["quantityOrdered"].as_u64().unwrap()))
        .collect()
}

fn id_of(order: &Value) -> &str {
    order["orderId"].as_str().unwrap()
}

fn time(raw: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

/// ORDER_CHANGE subscription, so that the notifications the feeds raise are recorded.
async fn subscribe(sb: &Sandbox, seller_token: &str) {
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "sellingpartnerapi::notifications"),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "sandbox-client-secret"),
    ];
    let grantless: Value =
        sb.client.post(sb.url("/auth/o2/token")).form(&form).send().await.unwrap().json().await.unwrap();
    let app_token = grantless["access_token"].as_str().unwrap();
    let destination =
        json!({"name": "feeds", "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:123456789012:feeds"}}});
    let r = sb
        .client
        .post(sb.url("/notifications/v1/destinations"))
        .header("x-amz-access-token", app_token)
        .json(&destination);
    let created: Value = r.send().await.unwrap().json().await.unwrap();
    let subscription = json!({"payloadVersion": "1.0", "destinationId": created["payload"]["destinationId"]});
    let r = sb
        .client
        .post(sb.url("/notifications/v1/subscriptions/ORDER_CHANGE"))
        .header("x-amz-access-token", seller_token)
        .json(&subscription)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn notified_orders(sb: &Sandbox) -> Vec<(String, String)> {
    let sent: Vec<Value> = sb.sandbox_get("/_sandbox/notifications").await.as_array().unwrap().clone();
    sent.iter()
        .map(|n| {
            let change = &n["Payload"]["OrderChangeNotification"];
            (
                change["AmazonOrderId"].as_str().unwrap().to_owned(),
                change["Summary"]["OrderStatus"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_fulfillment_feed_ships_orders_when_it_is_done() {
    let feeds = Feeds::start(config()).await;
    subscribe(&feeds.sb, &feeds.token).await;
    let all = feeds.sb.all_orders().await;
    let unshipped = merchant("UNSHIPPED");
    let multi = all.iter().filter(unshipped).find(|o| items_of(o).len() >= 2).unwrap();
    let single = all.iter().filter(unshipped).find(|o| items_of(o).len() == 1 && id_of(o) != id_of(multi)).unwrap();
    let other = all.iter().filter(unshipped).find(|o| ![id_of(multi), id_of(single)].contains(&id_of(o))).unwrap();
    let fba = all.iter().find(|o| fulfilled_by(o) == "AMAZON" && status_of(o) == "UNSHIPPED").unwrap();
    let (multi_id, single_id) = (id_of(multi), id_of(single));
    let multi_items = items_of(multi);
    let (single_item, single_quantity) = items_of(single)[0].clone();
    let all_of_multi: Vec<(&str, u64)> = multi_items.iter().map(|(i, q)| (i.as_str(), *q)).collect();

    let xml = envelope(
        "OrderFulfillment",
        &[
            fulfillment(1, multi_id, Some("1"), "<CarrierCode>UPS</CarrierCode>", &all_of_multi),
            fulfillment(2, "999-0000000-0000000", None, "<CarrierCode>UPS</CarrierCode>", &[("1", 1)]),
            fulfillment(3, single_id, None, "<CarrierCode>UPS</CarrierCode>", &[(&single_item, single_quantity + 1)]),
            // No items: everything unshipped; a CarrierName alone is carrier "Other".
            fulfillment(4, single_id, None, "<CarrierName>Pony Express Local</CarrierName>", &[]),
            fulfillment(5, id_of(fba), None, "<CarrierCode>UPS</CarrierCode>", &[]),
            fulfillment(6, id_of(other), Some("2"), "<CarrierCode>Pony</CarrierCode>", &[]),
            message(7, "<OrderFulfillment><AmazonOrderID>1</AmazonOrderID></OrderFulfillment>"),
        ],
    );
    let feed_id = feeds.submit(FULFILLMENT, &xml).await;
    assert!(feed_id.len() >= 11 && feed_id.bytes().all(|b| b.is_ascii_digit()), "{feed_id}");

    let queued = feeds.feed(&feed_id).await;
    assert_eq!(queued["processingStatus"], "IN_QUEUE");
    assert_eq!(queued["feedType"], FULFILLMENT);
    assert_eq!(queued["marketplaceIds"], json!([MARKETPLACE]));
    assert!(queued["createdTime"].as_str().unwrap().ends_with("+00:00"), "{queued}");
    assert!(queued.get("processingStartTime").is_none() && queued.get("resultFeedDocumentId").is_none());
    let created = time(&queued["createdTime"]);

    feeds.advance(60).await;
    let running = feeds.feed(&feed_id).await;
    assert_eq!(running["processingStatus"], "IN_PROGRESS");
    assert_eq!(time(&running["processingStartTime"]), created + chrono::Duration::seconds(60));
    assert_eq!(status_of(&feeds.order(multi_id).await), "UNSHIPPED", "effects wait for DONE");

    // Nobody polls getFeed: the clock alone finishes the feed.
    feeds.advance(120).await;
    let shipped = feeds.order(multi_id).await;
    assert_eq!(status_of(&shipped), "SHIPPED");
    let done = feeds.feed(&feed_id).await;
    assert_eq!(done["processingStatus"], "DONE");
    let ended = time(&done["processingEndTime"]);
    assert_eq!(ended, created + chrono::Duration::seconds(180));
    assert_eq!(time(&shipped["lastUpdatedTime"]), ended, "changed when the feed finished");
    let package = &shipped["packages"][0];
    assert_eq!((package["packageReferenceId"].as_str(), package["carrier"].as_str()), (Some("1"), Some("UPS")));
    assert_eq!(package["trackingNumber"], "1ZFEED1");
    assert_eq!(package["shipTime"], "2026-03-10T11:00:00Z");
    let single_after = feeds.order(single_id).await;
    assert_eq!(status_of(&single_after), "SHIPPED");
    assert_eq!(single_after["packages"][0]["carrier"], "Pony Express Local");
    assert_eq!(single_after["packages"][0]["packageReferenceId"], "1", "the order's first free reference");
    assert_eq!(status_of(&feeds.order(id_of(fba)).await), "UNSHIPPED");
    assert_eq!(status_of(&feeds.order(id_of(other)).await), "UNSHIPPED");

    let report = feeds.report(&done).await;
    assert_eq!(report.counts, [7, 2, 5, 0], "{}", report.xml);
    assert!(report.xml.contains(&format!("<DocumentTransactionID>{feed_id}</DocumentTransactionID>")));
    assert!(report.xml.contains(&format!("<MerchantIdentifier>{SELLER}</MerchantIdentifier>")));
    let ids: Vec<u64> = report.results.iter().map(|r| r.message_id).collect();
    assert_eq!(ids, [2, 3, 5, 6, 7], "successful messages have no Result");
    for (message_id, code, expected) in [
        (2, 18028, "Order 999-0000000-0000000 not found"),
        (3, 18028, "exceeds the unshipped quantity"),
        (5, 18028, "fulfilled by Amazon"),
        (6, 18028, "Invalid carrierCode 'Pony'"),
        (7, 5000, "'{FulfillmentDate}' is expected"),
    ] {
        let result = report.result(message_id);
        assert_eq!((result.result_code.as_str(), result.message_code), ("Error", code), "{result:?}");
        assert!(result.description.contains(expected), "{message_id}: {}", result.description);
    }
    assert_eq!(report.result(3).order_id.as_deref(), Some(single_id));
    assert!(report.xml.contains("XML Parsing Error at Line"), "schema errors say where");

    // ORDER_CHANGE for both shipped orders, and nothing for the refused ones.
    let notified = notified_orders(&feeds.sb).await;
    assert_eq!(notified.len(), 2, "{notified:?}");
    assert!(notified.contains(&(multi_id.to_owned(), "Shipped".to_owned())));
    assert!(notified.contains(&(single_id.to_owned(), "Shipped".to_owned())));

    // Resending message 1 updates package 1 instead of adding one (and changes nothing, so no notification).
    let resend = feeds
        .submit(
            FULFILLMENT,
            &envelope(
                "OrderFulfillment",
                &[fulfillment(1, multi_id, Some("1"), "<CarrierCode>UPS</CarrierCode>", &[])],
            ),
        )
        .await;
    feeds.advance(180).await;
    let report = feeds.report(&feeds.feed(&resend).await).await;
    assert_eq!(report.counts, [1, 1, 0, 0], "{}", report.xml);
    assert_eq!(feeds.order(multi_id).await["packages"].as_array().unwrap().len(), 1);
    assert_eq!(notified_orders(&feeds.sb).await.len(), 2);

    // Inspection: per-message outcomes, counts, and transfers in the call log without a token.
    let listed = feeds.sb.sandbox_get("/_sandbox/feeds").await;
    let first = &listed[0];
    assert_eq!((first["feedId"].as_str(), first["messageCount"].as_u64()), (Some(feed_id.as_str()), Some(7)));
    assert_eq!(first["messages"][0]["result"], "Success");
    assert_eq!(first["messages"][1]["result"], "Error");
    assert_eq!(first["messages"][1]["resultMessageCode"], 18028);
    let detail = feeds.sb.sandbox_get(&format!("/_sandbox/feeds/{feed_id}")).await;
    assert_eq!(detail["inputDocument"], xml.as_str());
    assert!(detail["report"].as_str().unwrap().contains("<ProcessingReport>"));
    let stats = feeds.sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["feeds"], json!({"DONE": 2}));
    assert_eq!(stats["calls"]["createFeed"]["202"], 2);
    let calls = feeds.sb.sandbox_get("/_sandbox/calls").await;
    let transfer = calls.as_array().unwrap().iter().find(|c| c["operation"] == "documentTransfer").unwrap();
    assert_eq!((transfer["method"].as_str(), transfer["status"].as_u64()), (Some("PUT"), Some(200)));
    assert!(transfer.get("accessTokenId").is_none());
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn feeds_finish_on_the_clock_without_any_request() {
    let config = SandboxConfig {
        feeds: spapi_sandbox::feeds::FeedSettings { queue_seconds: 0, processing_seconds: 1, compress_reports: false },
        ..config()
    };
    let feeds = Feeds::start(config).await;
    subscribe(&feeds.sb, &feeds.token).await;
    let order = feeds.unshipped_order().await;
    let xml =
        envelope("OrderFulfillment", &[fulfillment(1, id_of(&order), None, "<CarrierCode>USPS</CarrierCode>", &[])]);
    feeds.submit(FULFILLMENT, &xml).await;
    // Real time moves the sandbox clock too; the sandbox's own tick finishes the feed and sends ORDER_CHANGE.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let state = feeds.sb.handle.state();
    assert_eq!(state.notifications().len(), 1);
    assert_eq!(state.order(id_of(&order)).unwrap().status(), Some(spapi_sandbox::orders::FulfillmentStatus::Shipped));
    feeds.sb.handle.shutdown().await;
}

fn s3_code(xml: &str) -> &str {
    tag(xml, "Code").unwrap_or_default()
}

#[tokio::test]
async fn upload_urls_are_signed_for_a_method_a_content_type_and_five_minutes() {
    let feeds = Feeds::start(config()).await;
    let (document_id, url) = feeds.document(XML).await;
    assert!(document_id.starts_with("amzn1.tortuga.3."), "{document_id}");
    assert!(url.starts_with(&format!("{}/_documents/{document_id}?", feeds.sb.base)), "{url}");
    for part in [
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Expires=300",
        "X-Amz-SignedHeaders=content-type%3Bhost",
        "X-Amz-Signature=",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }

    // S3 compares the Content-Type with the signed one.
    let r = feeds.upload(&url, "text/plain", "<x/>").await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/xml");
    let body = r.text().await.unwrap();
    assert_eq!(s3_code(&body), "SignatureDoesNotMatch", "{body}");
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>"));
    let unsigned = url.split('?').next().unwrap();
    assert_eq!(s3_code(&feeds.upload(unsigned, XML, "<x/>").await.text().await.unwrap()), "SignatureDoesNotMatch");
    let forged = format!("{}{}", &url[..url.len() - 4], "0000");
    assert_eq!(s3_code(&feeds.upload(&forged, XML, "<x/>").await.text().await.unwrap()), "SignatureDoesNotMatch");
    let r = feeds.sb.client.get(&url).send().await.unwrap();
    assert_eq!(s3_code(&r.text().await.unwrap()), "SignatureDoesNotMatch", "an upload URL does not download");

    // No access token needed; uploads may be repeated until a feed uses the document.
    let r = feeds.upload(&url, XML, "<first/>").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("etag") && r.headers().contains_key("x-amz-request-id"));
    assert!(!r.headers().contains_key("x-amzn-RequestId"), "S3 is not the SP-API");
    assert_eq!(feeds.upload(&url, XML, "<second/>").await.status(), 200);
    // The document reads back through getFeedDocument's URL.
    let document: Value =
        feeds.get(&format!("/feeds/2021-06-30/documents/{document_id}"), &[]).await.json().await.unwrap();
    assert_eq!(document["feedDocumentId"], document_id.as_str());
    assert!(document.get("compressionAlgorithm").is_none());
    assert_eq!(
        feeds.sb.client.get(document["url"].as_str().unwrap()).send().await.unwrap().text().await.unwrap(),
        "<second/>"
    );
    assert_eq!(feeds.create_feed(FULFILLMENT, &document_id).await.status(), 202);
    let r = feeds.upload(&url, XML, "<third/>").await;
    assert_eq!((r.status().as_u16(), s3_code(&r.text().await.unwrap()).to_owned()), (403, "AccessDenied".to_owned()));

    // Five minutes of sandbox time.
    let (_, fresh) = feeds.document(XML).await;
    feeds.advance(299).await;
    assert_eq!(feeds.upload(&fresh, XML, "<ok/>").await.status(), 200);
    feeds.advance(2).await;
    let r = feeds.upload(&fresh, XML, "<late/>").await;
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert_eq!((s3_code(&body), tag(&body, "Message")), ("AccessDenied", Some("Request has expired")), "{body}");
    assert_eq!(tag(&body, "X-Amz-Expires"), Some("300"));

    let calls = feeds.sb.sandbox_get("/_sandbox/calls").await;
    let transfers: Vec<&Value> =
        calls.as_array().unwrap().iter().filter(|c| c["operation"] == "documentTransfer").collect();
    assert_eq!(transfers.len(), 10);
    assert_eq!(transfers[4]["requestBody"], "<first/>");
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn broken_documents_make_the_feed_fatal() {
    let feeds = Feeds::start(config()).await;
    feeds.instant_feeds().await;
    let order = feeds.unshipped_order().await;
    let good = fulfillment(1, id_of(&order), None, "<CarrierCode>UPS</CarrierCode>", &[]);
    let cases = [
        ("<AmazonEnvelope><Header>".to_owned(), 5001, "XML Parsing Fatal Error at Line"),
        (
            format!("{}trailing", envelope("OrderFulfillment", std::slice::from_ref(&good))),
            5001,
            "Content is not allowed in trailing section.",
        ),
        (
            envelope_of("A2SOMEONEELSE", "OrderFulfillment", std::slice::from_ref(&good)),
            5000,
            "MerchantIdentifier 'A2SOMEONEELSE' is not the selling partner",
        ),
        (
            envelope("OrderAcknowledgement", std::slice::from_ref(&good)),
            5000,
            "MessageType 'OrderAcknowledgement' does not match the feed type POST_ORDER_FULFILLMENT_DATA",
        ),
        (envelope("OrderFulfillment", &[]), 5000, "'{Message}' is expected"),
        ("<Envelope/>".to_owned(), 5000, "Cannot find the declaration of element 'Envelope'"),
    ];
    for (xml, code, expected) in cases {
        let feed_id = feeds.submit(FULFILLMENT, &xml).await;
        let feed = feeds.feed(&feed_id).await;
        assert_eq!(feed["processingStatus"], "FATAL", "{xml}");
        assert!(feed["processingEndTime"].is_string());
        let report = feeds.report(&feed).await;
        assert_eq!(report.counts, [0, 0, 1, 0]);
        let result = report.result(0);
        assert_eq!((result.result_code.as_str(), result.message_code), ("Error", code), "{xml}");
        assert!(result.description.contains(expected), "{}", result.description);
    }
    // A document never uploaded.
    let (document_id, _) = feeds.document(XML).await;
    let feed_id = feeds.create_feed(FULFILLMENT, &document_id).await.json::<Value>().await.unwrap()["feedId"]
        .as_str()
        .unwrap()
        .to_owned();
    let feed = feeds.feed(&feed_id).await;
    assert_eq!(feed["processingStatus"], "FATAL");
    let report = feeds.report(&feed).await;
    assert_eq!(report.result(0).description, "XML Parsing Fatal Error at Line 1, Column 1: Premature end of file.");
    assert_eq!(status_of(&feeds.order(id_of(&order)).await), "UNSHIPPED", "a fatal feed changes nothing");
    assert_eq!(feeds.sb.sandbox_get("/_sandbox/stats").await["feeds"], json!({"FATAL": 7}));
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn only_queued_feeds_can_be_cancelled() {
    let feeds = Feeds::start(config()).await;
    let order = feeds.unshipped_order().await;
    let xml =
        envelope("OrderFulfillment", &[fulfillment(1, id_of(&order), None, "<CarrierCode>UPS</CarrierCode>", &[])]);
    let cancelled = feeds.submit(FULFILLMENT, &xml).await;
    let cancel = |id: String| {
        let url = feeds.sb.url(&format!("/feeds/2021-06-30/feeds/{id}"));
        feeds.sb.client.delete(url).header("x-amz-access-token", &feeds.token).send()
    };
    let r = cancel(cancelled.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().is_empty(), "cancelFeed answers without a body");
    let feed = feeds.feed(&cancelled).await;
    assert_eq!(feed["processingStatus"], "CANCELLED");
    assert!(feed.get("processingStartTime").is_none() && feed.get("resultFeedDocumentId").is_none());
    let (status, code, message) = error_code(cancel(cancelled.clone()).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInput"));
    assert!(message.starts_with("Only feeds with processingStatus=IN_QUEUE can be cancelled."), "{message}");
    assert!(message.contains("CANCELLED"));

    let running = feeds.submit(FULFILLMENT, &xml).await;
    feeds.advance(90).await;
    assert_eq!(feeds.feed(&running).await["processingStatus"], "IN_PROGRESS");
    let (status, _, message) = error_code(cancel(running.clone()).await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(message.contains("IN_PROGRESS"), "{message}");
    let (status, code, message) = error_code(cancel("50000000000".into()).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (404, "NotFound"));
    assert_eq!(message, "One or more of the provided FeedSubmissionIds could not be found.");

    // Only the feed that ran shipped the order; the cancelled one never ends.
    feeds.advance(600).await;
    assert_eq!(feeds.feed(&running).await["processingStatus"], "DONE");
    assert_eq!(feeds.feed(&cancelled).await["processingStatus"], "CANCELLED");
    assert_eq!(feeds.order(id_of(&order)).await["packages"].as_array().unwrap().len(), 1);
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn get_feeds_filters_pages_newest_first_and_validates() {
    let feeds = Feeds::start(config()).await;
    let (document_id, url) = feeds.document(XML).await;
    feeds.upload(&url, XML, "<not-a-feed/>").await;
    let mut created = Vec::new();
    for _ in 0..5 {
        let r = feeds.create_feed(FULFILLMENT, &document_id).await;
        created.push(r.json::<Value>().await.unwrap()["feedId"].as_str().unwrap().to_owned());
        feeds.advance(1).await;
    }
    let acknowledgement_feed = feeds.create_feed(ACKNOWLEDGEMENT, &document_id).await;
    assert_eq!(acknowledgement_feed.status(), 202);
    let feeds_ref = &feeds;
    let list = |query: Vec<(&'static str, String)>| async move {
        let r = feeds_ref.get("/feeds/2021-06-30/feeds", &query).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };

    let mut seen = Vec::new();
    let mut page = list(vec![("feedTypes", FULFILLMENT.into()), ("pageSize", "2".into())]).await;
    loop {
        let ids: Vec<String> =
            page["feeds"].as_array().unwrap().iter().map(|f| f["feedId"].as_str().unwrap().to_owned()).collect();
        assert!(ids.len() <= 2);
        seen.extend(ids);
        let Some(next) = page["nextToken"].as_str() else { break };
        page = list(vec![("nextToken", next.to_owned())]).await;
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);

    let default_page = list(vec![("feedTypes", format!("{FULFILLMENT},{ACKNOWLEDGEMENT}"))]).await;
    assert_eq!(default_page["feeds"].as_array().unwrap().len(), 6);
    assert!(default_page.get("nextToken").is_none());
    assert_eq!(default_page["feeds"][0]["feedType"], ACKNOWLEDGEMENT);

    let url = feeds.sb.url(&format!("/feeds/2021-06-30/feeds/{}", created[0]));
    feeds.sb.client.delete(url).header("x-amz-access-token", &feeds.token).send().await.unwrap();
    let cancelled = list(vec![("feedTypes", FULFILLMENT.into()), ("processingStatuses", "CANCELLED".into())]).await;
    assert_eq!(cancelled["feeds"].as_array().unwrap().len(), 1);
    assert_eq!(cancelled["feeds"][0]["feedId"], created[0].as_str());
    let elsewhere = list(vec![("feedTypes", FULFILLMENT.into()), ("marketplaceIds", "A2EUQ1WTGCTBG2".into())]).await;
    assert_eq!(elsewhere["feeds"], json!([]));
    let future = list(vec![("feedTypes", FULFILLMENT.into()), ("createdSince", "2030-01-01T00:00:00Z".into())]).await;
    assert_eq!(future["feeds"], json!([]));

    for (query, expected) in [
        (vec![], "Either feedTypes or nextToken is required"),
        (vec![("nextToken", "x".to_owned()), ("pageSize", "5".to_owned())], "only parameter"),
        (vec![("nextToken", "forged".to_owned())], "Invalid nextToken"),
        (vec![("feedTypes", FULFILLMENT.to_owned()), ("pageSize", "101".to_owned())], "pageSize"),
        (vec![("feedTypes", FULFILLMENT.to_owned()), ("processingStatuses", "BAD_VALUE,DONE".to_owned())], "BAD_VALUE"),
    ] {
        let (status, code, message) = error_code(feeds.get("/feeds/2021-06-30/feeds", &query).await).await;
        assert_eq!((status, code.as_str()), (400, "InvalidInput"), "{query:?}");
        assert!(message.contains(expected), "{message}");
    }
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn create_feed_and_documents_validate_like_amazon() {
    let feeds = Feeds::start(config()).await;
    let (document_id, _) = feeds.document(XML).await;
    let spec = |feed_type: &str, marketplaces: Value, document: &str| json!({"feedType": feed_type, "marketplaceIds": marketplaces, "inputFeedDocumentId": document});
    for (body, expected) in [
        (spec(FULFILLMENT, json!([MARKETPLACE]), "amzn1.tortuga.3.unknown"), "Invalid inputFeedDocumentId"),
        (spec(FULFILLMENT, json!([]), &document_id), "between 1 and 25"),
        (spec(FULFILLMENT, json!(vec![MARKETPLACE; 26]), &document_id), "between 1 and 25"),
        (spec(FULFILLMENT, json!(["A2EUQ1WTGCTBG2"]), &document_id), "not a marketplace of the selling partner"),
        (spec(FULFILLMENT, json!(["A1PA6795UKMFR9"]), &document_id), "not served by this endpoint"),
        (spec("POST_PRODUCT_DATA", json!([MARKETPLACE]), &document_id), "Invalid feed type POST_PRODUCT_DATA"),
        (
            json!({"feedType": FULFILLMENT, "marketplaceIds": [MARKETPLACE]}),
            "Missing required field: inputFeedDocumentId",
        ),
        (
            json!({"feedType": FULFILLMENT, "marketplaceIds": MARKETPLACE, "inputFeedDocumentId": document_id}),
            "Malformed request body",
        ),
    ] {
        let (status, code, message) = error_code(feeds.post("/feeds/2021-06-30/feeds", &body).await).await;
        assert_eq!((status, code.as_str()), (400, "InvalidInput"), "{body}");
        assert!(message.contains(expected), "{message}");
    }
    let (status, code, message) = error_code(feeds.post("/feeds/2021-06-30/documents", &json!({})).await).await;
    assert_eq!((status, code.as_str(), message.as_str()), (400, "InvalidInput", "Missing required field: contentType"));
    let (status, _, message) =
        error_code(feeds.get("/feeds/2021-06-30/documents/amzn1.tortuga.3.nope", &[]).await).await;
    assert_eq!((status, message.as_str()), (400, "Invalid feedDocumentId"));
    let (status, code, _) = error_code(feeds.get("/feeds/2021-06-30/feeds/123", &[]).await).await;
    assert_eq!((status, code.as_str()), (404, "NotFound"));
    // The SP-API operations want an access token, like every other.
    let r = feeds
        .sb
        .client
        .post(feeds.sb.url("/feeds/2021-06-30/documents"))
        .json(&json!({"contentType": XML}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn create_feed_has_amazons_quota_and_faults() {
    // Amazon's usage plans (createFeed: 0.0083/s, burst 15).
    let feeds = Feeds::start(SandboxConfig::default()).await;
    let (document_id, url) = feeds.document(XML).await;
    feeds.upload(&url, XML, "<x/>").await;
    for n in 0..15 {
        let r = feeds.create_feed(FULFILLMENT, &document_id).await;
        assert_eq!(r.status(), 202, "call {n} is within the burst");
        assert_eq!(r.headers()["x-amzn-RateLimit-Limit"], "0.0083");
    }
    let (status, code, _) = error_code(feeds.create_feed(FULFILLMENT, &document_id).await).await;
    assert_eq!((status, code.as_str()), (429, "QuotaExceeded"));

    let r = feeds.sb.sandbox_post("/_sandbox/faults", json!({"operation": "getFeed", "status": 503})).await;
    assert_eq!(r.status(), 200);
    let (status, code, _) = error_code(feeds.get("/feeds/2021-06-30/feeds/1", &[]).await).await;
    assert_eq!((status, code.as_str()), (503, "InternalFailure"));
    feeds.sb.sandbox_post("/_sandbox/faults", json!({"operation": "createFeedDocument", "status": 429})).await;
    let r = feeds.post("/feeds/2021-06-30/documents", &json!({"contentType": XML})).await;
    assert_eq!(r.status(), 429);

    // Transfers have no usage plan, but they can fail the way S3 does.
    feeds.sb.sandbox_post("/_sandbox/faults", json!({"operation": "documentTransfer", "status": 503})).await;
    let (_, url) = feeds.document(XML).await;
    let r = feeds.upload(&url, XML, "<x/>").await;
    assert_eq!(r.status(), 503);
    assert_eq!(s3_code(&r.text().await.unwrap()), "SlowDown");
    assert_eq!(feeds.upload(&url, XML, "<x/>").await.status(), 200);
    let stats = feeds.sb.sandbox_get("/_sandbox/stats").await;
    assert_eq!(stats["calls"]["createFeed"]["429"], 1);
    assert_eq!(stats["calls"]["documentTransfer"]["503"], 1);
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn processing_reports_can_be_gzipped() {
    let feeds = Feeds::start(config()).await;
    let r = feeds
        .sb
        .sandbox_post(
            "/_sandbox/feeds/settings",
            json!({"queueSeconds": 0, "processingSeconds": 0, "compressReports": true}),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"queueSeconds": 0, "processingSeconds": 0, "compressReports": true})
    );
    let feed_id = feeds
        .submit(
            FULFILLMENT,
            &envelope(
                "OrderFulfillment",
                &[fulfillment(1, "999-0000000-0000000", None, "<CarrierCode>UPS</CarrierCode>", &[])],
            ),
        )
        .await;
    let feed = feeds.feed(&feed_id).await;
    let document_path = format!("/feeds/2021-06-30/documents/{}", feed["resultFeedDocumentId"].as_str().unwrap());
    let document: Value = feeds.get(&document_path, &[]).await.json().await.unwrap();
    assert_eq!(document["compressionAlgorithm"], "GZIP");
    let r = feeds.sb.client.get(document["url"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "identity");
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    assert!(gunzip(&bytes).contains("<MessagesWithError>1</MessagesWithError>"));
    assert_eq!(feeds.report(&feed).await.result(1).message_code, 18028);

    // enableContentEncodingUrlHeader: the URL serves `Content-Encoding: gzip`.
    let document: Value =
        feeds.get(&document_path, &[("enableContentEncodingUrlHeader", "true".into())]).await.json().await.unwrap();
    let url = document["url"].as_str().unwrap();
    assert!(url.contains("response-content-encoding=gzip"), "{url}");
    let r = feeds.sb.client.get(url).send().await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    feeds.sb.handle.shutdown().await;
}

#[tokio::test]
async fn acknowledgements_cancel_orders_and_items() {
    let feeds = Feeds::start(config()).await;
    subscribe(&feeds.sb, &feeds.token).await;
    feeds.instant_feeds().await;
    let all = feeds.sb.all_orders().await;
    let mut unshipped = all.iter().filter(merchant("UNSHIPPED"));
    let whole = unshipped.next().unwrap();
    let partial =
        all.iter().filter(merchant("UNSHIPPED")).find(|o| items_of(o).len() >= 2 && id_of(o) != id_of(whole)).unwrap();
    let single = all
        .iter()
        .filter(merchant("UNSHIPPED"))
        .find(|o| items_of(o).len() == 1 && ![id_of(whole), id_of(partial)].contains(&id_of(o)))
        .unwrap();
    let shipped = all.iter().find(merchant("SHIPPED")).unwrap();
    let cancelled = all.iter().find(merchant("CANCELLED")).unwrap();
    let fba = all.iter().find(|o| fulfilled_by(o) == "AMAZON" && status_of(o) == "UNSHIPPED").unwrap();
    let partial_items = items_of(partial);
    let (single_item, _) = items_of(single)[0].clone();

    let xml = envelope(
        "OrderAcknowledgement",
        &[
            acknowledgement(1, id_of(whole), "Failure", &[]),
            acknowledgement(2, id_of(partial), "Success", &[(&partial_items[0].0, "NoInventory")]),
            acknowledgement(3, id_of(shipped), "Failure", &[]),
            acknowledgement(4, id_of(single), "Success", &[(&single_item, "Bored")]),
            acknowledgement(5, id_of(single), "Success", &[(&single_item, "BuyerCanceled")]),
            acknowledgement(6, id_of(cancelled), "Failure", &[]),
            acknowledgement(7, id_of(fba), "Failure", &[]),
            acknowledgement(8, id_of(partial), "Success", &[("00000000000000", "NoInventory")]),
            // A plain acknowledgement changes nothing.
            acknowledgement(9, id_of(shipped), "Success", &[]),
        ],
    );
    let feed_id = feeds.submit(ACKNOWLEDGEMENT, &xml).await;
    let feed = feeds.feed(&feed_id).await;
    assert_eq!(feed["processingStatus"], "DONE");
    let report = feeds.report(&feed).await;
    assert_eq!(report.counts, [9, 4, 5, 0], "{}", report.xml);
    report.assert_results(&[
        (3, 18028, "cannot be cancelled"),
        (4, 5000, "Value 'Bored' is not facet-valid"),
        (6, 18028, "is already cancelled"),
        (7, 18028, "fulfilled by Amazon"),
        (8, 18028, "AmazonOrderItemCode 00000000000000 is not an item of order"),
    ]);
    assert!(report.result(3).description.contains("have shipped"));
    assert_eq!(report.result(8).item_id.as_deref(), Some("00000000000000"));

    let whole_after = feeds.order(id_of(whole)).await;
    assert_eq!(status_of(&whole_after), "CANCELLED");
    assert!(whole_after.get("recipient").is_none(), "no shipping address once cancelled");
    assert_eq!(whole_after["orderItems"][0]["cancellation"]["cancellationExecution"]["cancelledBy"], "MERCHANT");

    let partial_after = feeds.order(id_of(partial)).await;
    assert_eq!(status_of(&partial_after), "UNSHIPPED", "the other items are still to ship");
    let cancelled_item = &partial_after["orderItems"][0];
    assert_eq!(cancelled_item["cancellation"]["cancellationExecution"]["cancelReason"], "NoInventory");
    assert_eq!(cancelled_item["fulfillment"]["quantityUnfulfilled"], 0);
    assert!(partial_after["orderItems"][1].get("cancellation").is_none());
    // confirmShipment then has nothing of that item to ship.
    let confirm = json!({"marketplaceId": MARKETPLACE, "packageDetail": {"packageReferenceId": "1", "carrierCode": "UPS",
        "trackingNumber": "1Z1", "shipDate": "2026-03-10T11:00:00Z", "orderItems": [{"orderItemId": partial_items[0].0, "quantity": 1}]}});
    let (status, _, message) = error_code(feeds.sb.confirm(&feeds.token, id_of(partial), &confirm).await).await;
    assert_eq!(status, 400);
    assert!(message.contains("exceeds the unshipped quantity 0"), "{message}");
    // The CANCELLATION dataset carries it.
    let served: Value = feeds
        .get(&format!("/orders/2026-01-01/orders/{}", id_of(partial)), &[("includedData", "CANCELLATION".into())])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(served["order"]["orderItems"][0]["cancellation"]["cancellationExecution"]["cancelledBy"], "MERCHANT");

    assert_eq!(status_of(&feeds.order(id_of(single)).await), "CANCELLED", "its only item was cancelled");
    assert_eq!(status_of(&feeds.order(id_of(shipped)).await), "SHIPPED");

    let notified = notified_orders(&feeds.sb).await;
    let expected = [(id_of(whole), "Canceled"), (id_of(partial), "Unshipped"), (id_of(single), "Canceled")];
    assert_eq!(notified.len(), 3, "{notified:?}");
    for (order_id, status) in expected {
        assert!(notified.contains(&(order_id.to_owned(), status.to_owned())), "{order_id} {status}: {notified:?}");
    }
    feeds.sb.handle.shutdown().await;
}

/// `12.34` → 1234.
fn cents(amount: &Value) -> u64 {
    let (whole, fraction) = amount.as_str().unwrap().split_once('.').unwrap();
    whole.parse::<u64>().unwrap() * 100 + fraction.parse::<u64>().unwrap()
}

fn dollars(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[tokio::test]
async fn payment_adjustments_refund_at_most_what_was_paid() {
    let feeds = Feeds::start(config()).await;
    feeds.instant_feeds().await;
    let all = feeds.sb.all_orders().await;
    let shipped = all.iter().filter(merchant("SHIPPED")).find(|o| items_of(o).len() >= 2).unwrap();
    let unshipped = all.iter().find(merchant("UNSHIPPED")).unwrap();
    let order_id = id_of(shipped);
    let items = &shipped["orderItems"];
    let principal = |i: usize| {
        cents(&items[i]["product"]["price"]["unitPrice"]["amount"]) * items[i]["quantityOrdered"].as_u64().unwrap()
    };
    let items_total: u64 = (0..items.as_array().unwrap().len()).map(principal).sum();
    let shipping = cents(&shipped["proceeds"]["grandTotal"]["amount"]) - items_total;
    // The order's shipping is refundable with its first item.
    let paid_first = principal(0) + shipping;
    let (first, second) = (items[0]["orderItemId"].as_str().unwrap(), items[1]["orderItemId"].as_str().unwrap());
    let (unshipped_id, unshipped_item) =
        (id_of(unshipped), unshipped["orderItems"][0]["orderItemId"].as_str().unwrap());

    let xml = envelope(
        "OrderAdjustment",
        &[
            adjustment(1, order_id, first, &[("Principal", "1.00")]),
            adjustment(2, order_id, second, &[("Principal", &dollars(principal(1) + 1))]),
            adjustment(3, order_id, "00000000000000", &[("Principal", "1.00")]),
            adjustment(4, order_id, first, &[("Principal", "0.00")]),
            adjustment(5, unshipped_id, unshipped_item, &[("Principal", "1.00")]),
            adjustment(6, order_id, first, &[("Refund", "1.00")]),
        ],
    );
    let feed_id = feeds.submit(ADJUSTMENT, &xml).await;
    let report = feeds.report(&feeds.feed(&feed_id).await).await;
    assert_eq!(report.counts, [6, 1, 5, 0], "{}", report.xml);
    report.assert_results(&[
        (2, 18028, "exceeds the"),
        (3, 18028, "is not an item of order"),
        (4, 18028, "must be positive"),
        (5, 18028, "has not shipped"),
        (6, 5000, "Value 'Refund' is not facet-valid"),
    ]);
    assert!(report.result(2).description.contains(&format!("{} USD that remains refundable", dollars(principal(1)))));
    assert_eq!(report.result(2).item_id.as_deref(), Some(second));

    // The rest of what was paid for the first item (its price and the order's shipping), split over two components.
    let rest = paid_first - 100;
    let components = [("Principal", dollars(rest - shipping)), ("Shipping", dollars(shipping))];
    let components: Vec<(&str, &str)> =
        components.iter().filter(|(_, a)| a != "0.00").map(|(k, a)| (*k, a.as_str())).collect();
    let feed_id =
        feeds.submit(ADJUSTMENT, &envelope("OrderAdjustment", &[adjustment(1, order_id, first, &components)])).await;
    assert_eq!(feeds.report(&feeds.feed(&feed_id).await).await.counts, [1, 1, 0, 0]);
    let feed_id = feeds
        .submit(ADJUSTMENT, &envelope("OrderAdjustment", &[adjustment(1, order_id, first, &[("Goodwill", "0.01")])]))
        .await;
    let report = feeds.report(&feeds.feed(&feed_id).await).await;
    assert!(report.result(1).description.contains("is already fully refunded"), "{}", report.xml);

    let refunds = feeds.sb.sandbox_get("/_sandbox/refunds").await;
    assert_eq!(
        refunds,
        json!([{"orderId": order_id, "orderItemId": first, "refunded": {"amount": dollars(paid_first), "currencyCode": "USD"}}])
    );
    feeds.sb.handle.shutdown().await;
}
