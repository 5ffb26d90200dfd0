//! Property-based fuzz targets for everything that reads bytes from outside: both webhook signature
//! schemes (ours and Shopify's) and their parsers (our events, Shopify's fulfillments and orders), and the
//! SP-API response decoders (`map_order`, the response structs, `without_pii`), and the order
//! fulfillment feed's document writer and processing report reader.
//!
//! Each `proptest!` function is one target. `cargo test` runs [`DEFAULT_CASES`] cases of each (seconds);
//! `make fuzz` runs a million of each in the optimised `fuzz` profile
//! (`PROPTEST_CASES=1000000 cargo test --profile fuzz -p sellerbridge-core --test fuzz`). A failing case
//! is shrunk, printed and saved in `shared/proptest-regressions/fuzz.txt` (replayed first by later runs);
//! once fixed, keep it as a plain unit test next to the code and delete the file.
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::FileFailurePersistence;
use sellerbridge_core::domain::carrier::Carrier;
use sellerbridge_core::domain::feed::{MessageOutcome, ProcessingReport, is_xml_char, order_fulfillment_document};
use sellerbridge_core::domain::ids::{
    AmazonOrderId, OrderItemId, PackageId, PackageReference, SellerId, TrackingNumber,
};
use sellerbridge_core::domain::shipment::{Package, PackageLine, PackageState};
use sellerbridge_core::spapi::models::{ErrorList, GetOrderResponse, SearchOrdersResponse, map_order};
use sellerbridge_core::spapi::wire_pii::without_pii;
use sellerbridge_core::webhook::events::{EventError, StoreEvent, parse_event, parse_shipment_created};
use sellerbridge_core::webhook::shopify::{self, ShopifySignatureError};
use sellerbridge_core::webhook::signature::{MAX_SIGNATURES, SignatureError, SigningKey, SigningKeys, TOLERANCE};
use serde_json::{Value, json};

/// Cases per target when `PROPTEST_CASES` is not set: 14 targets, about 3,600 cases, a few seconds.
const DEFAULT_CASES: u32 = 256;

/// `ProptestConfig::default()` reads `PROPTEST_CASES` (and the other `PROPTEST_*` variables); only
/// when it is unset is our own default used, so the environment always wins (`with_cases` would not
/// let it).
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = DEFAULT_CASES;
    }
    // The default (next to `src/`) cannot place files for an integration test; failures are saved here,
    // relative to the package (`shared/`), and replayed first by later runs.
    config.failure_persistence = Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/fuzz.txt")));
    config
}

// ---------------------------------------------------------------------------------------------------
// Planted PII: values a buyer could have typed. Each carries marker words that appear nowhere else,
// so a leak of any part of it (even a fragment left by a quote or escape) is found.

const CANARIES: &[&str] = &[
    "Grace Hopper",
    "Ada \"Countess\" Lovelace",
    "1 Infinite \\ Loopway",
    "+1-555-0101",
    "For Zoë, with love 💌",
    "Ünïcödé Straße 7\n2nd floor",
    "grace@hopper-mail.example",
    "\"Quotedname\"",
    "Hopper`s \"Backtick\" Lane",
];

/// Six characters or more, so that random strings (keys and values generated elsewhere) practically
/// never contain one: a random printable-ASCII string holds "Hopper" with odds below 10⁻¹⁰.
const MARKERS: &[&str] = &[
    "Hopper",
    "Countess",
    "Lovelace",
    "Infinite",
    "Loopway",
    "555-0101",
    "with love",
    "Straße",
    "2nd floor",
    "hopper-mail",
    "Quotedname",
    "Backtick",
];

fn leaked_marker(text: &str) -> Option<&'static str> {
    MARKERS.iter().copied().find(|m| text.contains(m))
}

/// The first string (value or key) anywhere in `value` holding a marker.
fn leak_in(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => leaked_marker(s).map(|_| s.clone()),
        Value::Array(items) => items.iter().find_map(leak_in),
        Value::Object(object) => {
            object.iter().find_map(|(key, child)| leaked_marker(key).map(|_| key.clone()).or_else(|| leak_in(child)))
        }
        _ => None,
    }
}

fn canary() -> impl Strategy<Value = String> {
    prop::sample::select(CANARIES).prop_map(str::to_owned)
}

/// A canary in any shape: the string itself, in arrays, in objects (never under a locality key such as
/// `city`, which `without_pii` keeps on purpose), nested.
fn canary_value() -> impl Strategy<Value = Value> {
    canary().prop_map(Value::String).prop_recursive(4, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Value::Array),
            (prop::sample::select(&["first", "last", "line", "value", "text", "name", ""][..]), inner)
                .prop_map(|(key, value)| json!({ key: value })),
        ]
    })
}

// ---------------------------------------------------------------------------------------------------
// Arbitrary JSON.

/// Field names of our event and of Amazon's order, so generated objects hit real fields.
const KEYS: &[&str] = &[
    "id",
    "type",
    "created_at",
    "data",
    "order_id",
    "package_id",
    "carrier",
    "shipping_method",
    "tracking_number",
    "ship_date",
    "items",
    "sku",
    "asin",
    "order_item_id",
    "quantity",
    "orders",
    "order",
    "pagination",
    "nextToken",
    "errors",
    "code",
    "message",
    "orderId",
    "createdTime",
    "lastUpdatedTime",
    "programs",
    "salesChannel",
    "marketplaceId",
    "buyer",
    "recipient",
    "deliveryAddress",
    "proceeds",
    "grandTotal",
    "amount",
    "currencyCode",
    "fulfillment",
    "fulfillmentStatus",
    "fulfilledBy",
    "shipByWindow",
    "latestDateTime",
    "orderItems",
    "orderItemId",
    "quantityOrdered",
    "product",
    "sellerSku",
    "customization",
    "packing",
    "giftOption",
    "packages",
    "packageReferenceId",
    "packageStatus",
    "status",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => any::<String>(),
        8 => "[ -~]{0,24}",
        4 => prop::sample::select(&[
            "",
            " ",
            "\t\n",
            "\u{0}",
            "\u{feff}",
            "\u{202e}rtl",
            "👩‍👩‍👧‍👦",
            "shipment.created",
            "2026-03-01T12:00:00Z",
            "2026-03-01T13:00:00+01:00",
            "2026-02-30T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "0000-01-01T00:00:00Z",
            "2026-03-01T12:00:00+23:59",
            "2026-03-01T12:00:60Z",
            "902-1106328-1059050",
            "12345678901234",
            "123456789012345678901234567890123",
            "B0C1XYZ123",
            "UNSHIPPED",
            "PARTIALLY_SHIPPED",
            "MERCHANT",
            "AMAZON",
            "ATVPDKIKX0DER",
            "TRANSPARENCY",
            "AMAZON_EASY_SHIP",
            "REDACTED (Amazon)",
        ][..])
        .prop_map(str::to_owned),
        1 => (1usize..20_000).prop_map(|n| "x".repeat(n)),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => any::<String>()]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        prop::sample::select(&[0i64, -1, 1, 2, 10_000, 10_001, 4_294_967_295, 4_294_967_296, i64::MIN, i64::MAX][..])
            .prop_map(Value::from),
        prop::sample::select(&[u64::MAX, 1 << 53, (1 << 53) + 1][..]).prop_map(Value::from),
        prop::sample::select(&[1e308, -1e308, f64::MIN_POSITIVE, -0.0, 0.5, 1.5, 1e-320, 10_000.0][..])
            .prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => number(),
        4 => text().prop_map(Value::String),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8).prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------------------
// Structural mutations of a valid document.

#[derive(Debug, Clone)]
enum Edit {
    /// Drops the field or element (the root becomes `null`).
    Remove(Index),
    /// Another value, usually of another type.
    Replace(Index, Value),
    /// A new field (objects) or element (arrays).
    Insert(Index, String, Value),
    /// Nested `depth` levels deep in arrays and objects.
    Wrap(Index, usize),
    /// An array's first element repeated `n` more times.
    Repeat(Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => any::<Index>().prop_map(Edit::Remove),
        4 => (any::<Index>(), any_json()).prop_map(|(at, value)| Edit::Replace(at, value)),
        2 => (any::<Index>(), key(), any_json()).prop_map(|(at, key, value)| Edit::Insert(at, key, value)),
        1 => (any::<Index>(), 1usize..140).prop_map(|(at, depth)| Edit::Wrap(at, depth)),
        1 => (any::<Index>(), 1usize..60).prop_map(|(at, n)| Edit::Repeat(at, n)),
    ]
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// JSON pointers of every node, the root (`""`) first.
fn pointers(value: &Value) -> Vec<String> {
    fn walk(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Array(items) => {
                out.push(at.clone());
                items.iter().enumerate().for_each(|(i, item)| walk(item, format!("{at}/{i}"), out));
            }
            Value::Object(object) => {
                out.push(at.clone());
                object.iter().for_each(|(key, child)| walk(child, format!("{at}/{}", escape(key)), out));
            }
            _ => out.push(at),
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

fn apply(root: &mut Value, edit: &Edit) {
    let all = pointers(root);
    let (Edit::Remove(at) | Edit::Replace(at, _) | Edit::Insert(at, ..) | Edit::Wrap(at, _) | Edit::Repeat(at, _)) =
        edit;
    let pointer = at.get(&all).clone();
    let Some(target) = root.pointer_mut(&pointer) else { return };
    match edit {
        Edit::Remove(_) => match pointer.rsplit_once('/') {
            None => *root = Value::Null,
            Some((parent, leaf)) => match root.pointer_mut(parent) {
                Some(Value::Object(object)) => {
                    object.remove(&leaf.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(items)) => {
                    if let Ok(i) = leaf.parse::<usize>()
                        && i < items.len()
                    {
                        items.remove(i);
                    }
                }
                _ => {}
            },
        },
        Edit::Replace(_, value) => *target = value.clone(),
        Edit::Insert(_, key, value) => match target {
            Value::Object(object) => {
                object.insert(key.clone(), value.clone());
            }
            Value::Array(items) => items.push(value.clone()),
            _ => {}
        },
        Edit::Wrap(_, depth) => {
            for level in 0..*depth {
                let inner = target.take();
                *target = if level % 2 == 0 { Value::Array(vec![inner]) } else { json!({ "nest": inner }) };
            }
        }
        Edit::Repeat(_, n) => {
            if let Value::Array(items) = target
                && let Some(first) = items.first().cloned()
            {
                items.extend(std::iter::repeat_n(first, *n));
            }
        }
    }
}

/// Sets `pointer` to `value` if its parent is (still) an object, or an array holding that index.
fn plant(root: &mut Value, pointer: &str, value: Value) {
    let (parent, leaf) = pointer.rsplit_once('/').expect("a pointer below the root");
    match root.pointer_mut(parent) {
        Some(Value::Object(object)) => {
            object.insert(leaf.to_owned(), value);
        }
        Some(Value::Array(items)) => {
            if let Some(item) = leaf.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                *item = value;
            }
        }
        _ => {}
    }
}

// Byte-level mutations of a valid document: broken syntax, odd escapes, huge numbers.

#[derive(Debug, Clone)]
enum ByteEdit {
    Delete(Index, usize),
    Insert(Index, Vec<u8>),
    Set(Index, u8),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let token = prop_oneof![
        prop::sample::select(
            &[
                "\"",
                "{",
                "}",
                "[",
                "]",
                ",",
                ":",
                "\\",
                "null",
                "true",
                "-",
                "-0",
                "1e400",
                "-1e400",
                "1e-400",
                "123456789012345678901234567890",
                "18446744073709551616",
                "\\u0000",
                "\\ud800",
                "\\udc00\\ud800",
                "\\uZZZZ",
                "\u{feff}",
                "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
                "{\"a\":{\"a\":{\"a\":",
                "\"orderId\":",
                "\"buyer\":\"x\",",
                "\"items\":[],",
            ][..]
        )
        .prop_map(|t| t.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        (any::<Index>(), 1usize..16).prop_map(|(at, n)| ByteEdit::Delete(at, n)),
        (any::<Index>(), token).prop_map(|(at, bytes)| ByteEdit::Insert(at, bytes)),
        (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| ByteEdit::Set(at, byte)),
    ]
}

fn apply_bytes(bytes: &mut Vec<u8>, edit: &ByteEdit) {
    let position = |at: &Index, len: usize| if len == 0 { 0 } else { at.index(len + 1) };
    match edit {
        ByteEdit::Delete(at, n) => {
            let start = position(at, bytes.len()).min(bytes.len());
            let end = (start + n).min(bytes.len());
            bytes.drain(start..end);
        }
        ByteEdit::Insert(at, token) => {
            let at = position(at, bytes.len());
            bytes.splice(at..at, token.iter().copied());
        }
        ByteEdit::Set(at, byte) => {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = *byte;
            }
        }
    }
}

/// Arbitrary bytes, or a valid document with byte-level damage.
fn damaged(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        4 => prop::collection::vec(byte_edit(), 1..8).prop_map(move |edits| {
            let mut bytes = valid.clone();
            edits.iter().for_each(|edit| apply_bytes(&mut bytes, edit));
            bytes
        }),
    ]
}

// ---------------------------------------------------------------------------------------------------
// Signatures.

fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_366_400, 0).unwrap() // 2026-03-01T12:00:00Z
}

/// Any instant chrono can represent (staying 1,000,000 s inside its range so `± skew` never overflows).
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) =
        (DateTime::<Utc>::MIN_UTC.timestamp() + 1_000_000, DateTime::<Utc>::MAX_UTC.timestamp() - 1_000_000);
    prop_oneof![
        3 => (-100_000i64..100_000).prop_map(|s| now() + Duration::seconds(s)),
        1 => (min..=max, 0u32..1_000_000_000).prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).unwrap()),
        1 => prop::sample::select(&[0i64, -1, 1, i32::MAX as i64, i32::MIN as i64][..])
            .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
    ]
}

fn header_part() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|t| format!("t={t}")),
        "[+-]?[0-9]{0,25}".prop_map(|t| format!("t={t}")),
        text().prop_map(|t| format!("t={t}")),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|sig| format!("v1={}", hex::encode(sig))),
        "[0-9a-fA-F]{0,70}".prop_map(|sig| format!("v1={sig}")),
        text().prop_map(|sig| format!("v1={sig}")),
        text(),
        prop::sample::select(&["", "=", "t", "v1", "t=", "v1=", " t = 1 ", "v0=00", "T=1", "v1==", ",,"][..])
            .prop_map(str::to_owned),
    ]
}

fn header() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        2 => any::<String>().prop_map(Some),
        6 => (prop::collection::vec(header_part(), 0..12), prop::sample::select(&[",", ", ", " ,", ";"][..]))
            .prop_map(|(parts, separator)| Some(parts.join(separator))),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// No header, body or clock makes verification panic, and no header we did not sign verifies.
    #[test]
    fn signature_verify_never_panics_and_never_accepts_a_forgery(
        key in prop::collection::vec(any::<u8>(), 0..80),
        header in header(),
        body in prop::collection::vec(any::<u8>(), 0..512),
        now in instant(),
    ) {
        let result = SigningKey::new(key).verify(header.as_deref(), &body, now);
        match result {
            Ok(()) => return Err(TestCaseError::fail(format!("a forged header verified: {header:?}"))),
            Err(SignatureError::Missing) => prop_assert!(header.is_none()),
            Err(SignatureError::TooManySignatures { count }) => prop_assert!(count > MAX_SIGNATURES),
            Err(_) => {}
        }
    }

    /// What `sign` writes verifies within the tolerance, also among up to three other `v1` values
    /// (a key rotation); any single-byte change of the body, any other key of the same length, another
    /// timestamp or a fifth `v1` value fails; outside the tolerance it is stale.
    #[test]
    fn signature_sign_then_verify_and_every_tampering_fails(
        key in prop::collection::vec(any::<u8>(), 1..100),
        body in prop::collection::vec(any::<u8>(), 0..2048),
        at in instant(),
        skew in -299i64..=299,
        flip in (any::<Index>(), 1u8..=255),
        key_flip in (any::<Index>(), 1u8..=255),
        others in prop::collection::vec(prop::collection::vec(any::<u8>(), 32), 0..=3),
        position in any::<Index>(),
        stale in 301i64..1_000_000,
        t_delta in prop_oneof![-1_000_000i64..0, 1i64..1_000_000],
    ) {
        let signer = SigningKey::new(key.clone());
        let header = signer.sign(at, &body);
        let verify_at = at + Duration::seconds(skew);
        prop_assert_eq!(signer.verify(Some(&header), &body, verify_at), Ok(()));

        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.0.index(body.len())] ^= flip.1;
            prop_assert_eq!(signer.verify(Some(&header), &changed, verify_at), Err(SignatureError::Mismatch));
        }

        let mut other_key = key.clone();
        other_key[key_flip.0.index(key.len())] ^= key_flip.1;
        prop_assert_eq!(SigningKey::new(other_key).verify(Some(&header), &body, verify_at), Err(SignatureError::Mismatch));

        let (timestamp, good) = header.split_once(',').unwrap();
        let mut values: Vec<String> = others.iter().map(|sig| format!("v1={}", hex::encode(sig))).collect();
        values.insert(position.index(values.len() + 1), good.to_owned());
        let rotation = format!("{timestamp},{}", values.join(","));
        prop_assert_eq!(signer.verify(Some(&rotation), &body, verify_at), Ok(()));
        let five = format!("{rotation},{}", vec!["v1=00"; MAX_SIGNATURES + 1 - values.len()].join(","));
        prop_assert_eq!(
            signer.verify(Some(&five), &body, verify_at),
            Err(SignatureError::TooManySignatures { count: MAX_SIGNATURES + 1 })
        );

        let moved = format!("t={},{good}", at.timestamp() + t_delta);
        prop_assert_eq!(signer.verify(Some(&moved), &body, verify_at), Err(SignatureError::Mismatch));

        let late = at + Duration::seconds(stale);
        prop_assert!(late - at > TOLERANCE);
        let stale_result = signer.verify(Some(&header), &body, late);
        prop_assert!(matches!(stale_result, Err(SignatureError::Stale { .. })), "{:?}", stale_result);
        let early = at - Duration::seconds(stale);
        let stale_result = signer.verify(Some(&header), &body, early);
        prop_assert!(matches!(stale_result, Err(SignatureError::Stale { .. })), "{:?}", stale_result);
    }
}

// ---------------------------------------------------------------------------------------------------
// The shipment.created parser.

fn valid_event() -> Value {
    json!({"id": "evt_1", "type": "shipment.created", "created_at": "2026-03-01T12:00:00Z",
        "data": {"order_id": "902-1106328-1059050", "package_id": "PKG-1", "carrier": "UPS",
            "shipping_method": "Ground", "tracking_number": "1Z999AA10123456784",
            "ship_date": "2026-03-01T13:00:00+01:00",
            "items": [{"sku": "SKU-A", "quantity": 1}, {"order_item_id": "12345678901234", "quantity": 2},
                {"asin": "B0C1XYZ123", "quantity": 10000}]}})
}

/// Where the merchant's free text goes (identifiers such as `order_id` are quoted in errors by design).
const EVENT_TEXT_FIELDS: &[&str] = &[
    "/id",
    "/created_at",
    "/data",
    "/data/package_id",
    "/data/carrier",
    "/data/shipping_method",
    "/data/tracking_number",
    "/data/ship_date",
    "/data/items",
    "/data/items/0",
    "/data/items/0/sku",
    "/data/items/0/quantity",
    "/data/items/1/quantity",
    "/data/note",
    "/data/recipient",
];

/// A field path as the parser reports it: `id`, `data.carrier`, `data.items[3].quantity`, …
fn is_event_field(field: &str) -> bool {
    const TOP: &[&str] = &["id", "type", "created_at", "data"];
    const DATA: &[&str] = &[
        "order_id",
        "package_id",
        "carrier",
        "shipping_method",
        "tracking_number",
        "ship_date",
        "items",
        "delivered_at",
        "reason",
    ];
    const ITEM: &[&str] =
        &["order_item_id", "asin", "sku", "quantity", "amount", "amount.principal", "amount.shipping", "amount.tax"];
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if TOP.contains(&field) {
        return true;
    }
    let Some(rest) = field.strip_prefix("data.") else { return false };
    if DATA.contains(&rest) {
        return true;
    }
    let Some(rest) = rest.strip_prefix("items[") else { return false };
    match rest.split_once("].") {
        Some((index, name)) => digits(index) && ITEM.contains(&name),
        None => rest.strip_suffix(']').is_some_and(digits),
    }
}

/// Every error names a field (or says the JSON is malformed, with a position only).
fn check_event_error(error: &EventError) -> Result<(), TestCaseError> {
    match error {
        EventError::MalformedJson(message) => prop_assert!(
            message == "expected a JSON object"
                || (message.starts_with("line ") && message.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')),
            "{message}"
        ),
        EventError::Missing(field) | EventError::Invalid { field, .. } => {
            prop_assert!(is_event_field(field), "{error}")
        }
        EventError::UnsupportedType(event_type) => prop_assert!(event_type.chars().count() <= 60),
    }
    Ok(())
}

fn check_parsed(body: &[u8]) -> Result<(), TestCaseError> {
    match parse_shipment_created(body) {
        Ok(event) => {
            let shipment = &event.shipment;
            prop_assert!(!shipment.lines.is_empty());
            prop_assert!(shipment.lines.iter().all(|line| (1..=10_000).contains(&line.quantity)));
            prop_assert!(!shipment.carrier.trim().is_empty());
        }
        Err(error) => check_event_error(&error)?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes and damaged events never panic the parser; errors name a field or a position.
    #[test]
    fn event_parser_never_panics_on_bytes(body in damaged(valid_event().to_string().into_bytes())) {
        check_parsed(&body)?;
    }

    /// Structurally plausible events (fields dropped, of another type, huge numbers, unicode, deep
    /// nesting, repeated items) never panic the parser; every error names a field and no error quotes the
    /// free text planted in the event.
    #[test]
    fn event_parser_on_mutated_events_names_fields_without_echoing_text(
        edits in prop::collection::vec(edit(), 0..6),
        plants in prop::collection::vec((prop::sample::select(EVENT_TEXT_FIELDS), canary_value()), 0..4),
        late_edits in prop::collection::vec(edit(), 0..3),
    ) {
        let mut event = valid_event();
        edits.iter().for_each(|edit| apply(&mut event, edit));
        for (pointer, value) in plants {
            plant(&mut event, pointer, value);
        }
        late_edits.iter().for_each(|edit| apply(&mut event, edit));
        let body = event.to_string();
        check_parsed(body.as_bytes())?;
        if let Err(error) = parse_shipment_created(body.as_bytes()) {
            let message = error.to_string();
            prop_assert!(leaked_marker(&message).is_none(), "PII in the error: {message}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// SP-API decoders.

fn valid_order() -> Value {
    json!({
        "orderId": "113-0000001-0000001",
        "createdTime": "2026-03-01T10:00:00Z",
        "lastUpdatedTime": "2026-03-01T11:00:00Z",
        "programs": ["PRIME", "AMAZON_BUSINESS"],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER", "marketplaceName": "Amazon.com"},
        "buyer": {"buyerName": "Grace Hopper", "buyerEmail": "grace@hopper-mail.example", "buyerCompanyName": "Hopper Ltd"},
        "recipient": {"deliveryAddress": {"name": "Grace Hopper", "addressLine1": "1 Infinite \\ Loopway",
            "addressLine2": "2nd floor", "city": "Arlington", "stateOrRegion": "VA", "postalCode": "22201",
            "countryCode": "US", "phone": "+1-555-0101", "addressType": "RESIDENTIAL"}},
        "proceeds": {"grandTotal": {"amount": "25.00", "currencyCode": "USD"}},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "Standard",
            "shipByWindow": {"latestDateTime": "2026-03-03T07:00:00Z"},
            "deliverByWindow": {"latestDateTime": "2026-03-06T07:00:00Z"}},
        "orderItems": [{"orderItemId": "12345678901234", "quantityOrdered": 2, "programs": ["TRANSPARENCY"],
            "product": {"asin": "B0AAAA0001", "title": "Widget", "sellerSku": "SKU-1",
                "condition": {"conditionType": "NEW", "conditionSubtype": "NEW", "conditionNote": "Sealed"},
                "price": {"unitPrice": {"amount": "12.50", "currencyCode": "USD"}},
                "customization": {"customizedUrl": "https://zme-caps.example/Quotedname"}},
            "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 2,
                "packing": {"giftOption": {"giftMessage": "For Zoë, with love 💌", "giftWrapLevel": "PREMIUM"}}}}],
        "packages": [{"packageReferenceId": "1", "createdTime": "2026-03-01T12:00:00Z",
            "packageStatus": {"status": "IN_TRANSIT"}, "carrier": "UPS", "shipTime": "2026-03-01T15:30:00Z",
            "shippingService": "Ground", "trackingNumber": "1Z999AA10123456784"}]
    })
}

/// Where Amazon puts buyer PII, and the subtrees that are all PII.
const ORDER_PII_FIELDS: &[&str] = &[
    "/buyer",
    "/buyer/buyerName",
    "/buyer/buyerEmail",
    "/buyer/buyerCompanyName",
    "/recipient",
    "/recipient/deliveryAddress",
    "/recipient/deliveryAddress/name",
    "/recipient/deliveryAddress/addressLine1",
    "/recipient/deliveryAddress/addressLine2",
    "/recipient/deliveryAddress/phone",
    "/orderItems/0/fulfillment/packing/giftOption",
    "/orderItems/0/fulfillment/packing/giftOption/giftMessage",
    "/orderItems/0/product/customization",
    "/orderItems/0/product/customization/customizedUrl",
];

/// What `SpApiClient` does with each order: map it, and on failure keep the error and the order with its
/// PII replaced. Neither may hold a planted PII value; the error names the order as Amazon sent it.
fn check_order(raw: Value) -> Result<(), TestCaseError> {
    let order_id = raw.get("orderId").and_then(Value::as_str).unwrap_or("<no orderId>").to_owned();
    if let Err(error) = map_order(raw.clone()) {
        prop_assert_eq!(error.order_id(), order_id.as_str());
        let payload = without_pii(raw);
        prop_assert_eq!(leak_in(&payload), None);
        let message = error.to_string();
        prop_assert!(leaked_marker(&message).is_none(), "PII in the error: {message}");
    }
    Ok(())
}

/// Values of other types than the model's and PII in any shape, in the places Amazon puts PII.
fn mutated_order() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec(edit(), 0..6),
        prop::collection::vec((prop::sample::select(ORDER_PII_FIELDS), canary_value()), 0..5),
        prop::collection::vec(edit(), 0..3),
    )
        .prop_map(|(edits, plants, late_edits)| {
            let mut order = valid_order();
            edits.iter().for_each(|edit| apply(&mut order, edit));
            for (pointer, value) in plants {
                plant(&mut order, pointer, value);
            }
            late_edits.iter().for_each(|edit| apply(&mut order, edit));
            order
        })
}

proptest! {
    #![proptest_config(config())]

    /// Any JSON value, and objects of Amazon's order fields with arbitrary values, never panic `map_order`.
    #[test]
    fn map_order_never_panics_on_arbitrary_json(
        raw in prop_oneof![
            any_json(),
            prop::collection::vec((key(), any_json()), 0..12)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    ) {
        let order_id = raw.get("orderId").and_then(Value::as_str).unwrap_or("<no orderId>").to_owned();
        if let Err(error) = map_order(raw) {
            prop_assert_eq!(error.order_id(), order_id.as_str());
        }
    }

    /// Mutated valid orders with PII planted in every shape never panic `map_order`; an unreadable one
    /// is reported without any PII value, in its error and in the payload kept for the operator.
    #[test]
    fn map_order_on_mutated_orders_never_leaks_pii(raw in mutated_order()) {
        check_order(raw)?;
    }

    /// `searchOrders`, `getOrder` and error bodies (arbitrary and damaged bytes) never panic their
    /// decoders, nor the mapping of whatever orders they hold.
    #[test]
    fn spapi_response_decoders_never_panic(
        body in prop_oneof![
            damaged(json!({"orders": [valid_order(), valid_order()], "pagination": {"nextToken": "abc=="},
                "lastUpdatedBefore": "2026-03-01T11:57:00Z"}).to_string().into_bytes()),
            damaged(json!({"order": valid_order()}).to_string().into_bytes()),
            damaged(json!({"errors": [{"code": "InvalidInput", "message": "Invalid input", "details": "x"}]})
                .to_string().into_bytes()),
        ]
    ) {
        if let Ok(response) = serde_json::from_slice::<SearchOrdersResponse>(&body) {
            for raw in response.orders {
                let _ = map_order(raw.clone()).map_err(|_| without_pii(raw));
            }
            let _ = response.pagination.and_then(|p| p.next_token);
        }
        if let Ok(response) = serde_json::from_slice::<GetOrderResponse>(&body) {
            let _ = map_order(response.order.clone()).map_err(|_| without_pii(response.order));
        }
        let errors: ErrorList = serde_json::from_slice(&body).unwrap_or_default();
        let _ = errors.errors.first().map(|e| (e.code.len(), e.message.len()));
        let _ = serde_json::from_slice::<Value>(&body).map(without_pii);
    }

    /// `without_pii` on any JSON shape with PII planted under the PII keys at any depth, as strings,
    /// arrays or objects: nothing planted is left, the order id and the locality are kept.
    #[test]
    fn without_pii_leaves_no_planted_pii_whatever_the_shape(
        tree in any_json(),
        plants in prop::collection::vec((
            any::<Index>(),
            prop::sample::select(&[
                "buyerName", "addressLine1", "phone", "giftMessage", "buyerEmail", "name", "addressLine2",
                "buyerCompanyName", "customizedUrl", "buyer", "recipient", "billingAddress",
            ][..]),
            canary_value(),
        ), 1..6),
        wraps in prop::collection::vec((any::<Index>(), 1usize..120), 0..2),
    ) {
        // PII goes anywhere in `tree` (an object, so there is always somewhere to plant it); the id and
        // the locality beside it are checked below.
        let mut tree = json!({ "order": tree });
        for (at, key, value) in plants {
            let objects: Vec<String> =
                pointers(&tree).into_iter().filter(|p| tree.pointer(p).is_some_and(Value::is_object)).collect();
            let pointer = at.get(&objects);
            tree.pointer_mut(pointer).and_then(Value::as_object_mut).unwrap().insert(key.to_owned(), value);
        }
        for (at, depth) in wraps {
            apply(&mut tree, &Edit::Wrap(at, depth));
        }
        let order = json!({"orderId": "113-0000001-0000001", "tree": tree,
            "recipient": {"deliveryAddress": {"city": "Arlington", "postalCode": "22201", "name": "Grace Hopper"}}});
        let redacted = without_pii(order);
        prop_assert_eq!(leak_in(&redacted), None);
        prop_assert_eq!(redacted["orderId"].as_str(), Some("113-0000001-0000001"));
        prop_assert_eq!(redacted["recipient"]["deliveryAddress"]["city"].as_str(), Some("Arlington"));
        prop_assert_eq!(redacted["recipient"]["deliveryAddress"]["postalCode"].as_str(), Some("22201"));
    }
}

// ---------------------------------------------------------------------------------------------------
// shipment.delivered, and Shopify's format.

fn valid_delivery() -> Value {
    json!({"id": "evt_2", "type": "shipment.delivered", "created_at": "2026-03-03T09:00:00Z",
        "data": {"order_id": "902-1106328-1059050", "package_id": "PKG-1", "delivered_at": "2026-03-03T08:12:00Z"}})
}

fn valid_cancellation() -> Value {
    json!({"id": "evt_3", "type": "order.cancelled", "created_at": "2026-03-03T09:00:00Z",
        "data": {"order_id": "902-1106328-1059050", "reason": "no_inventory", "items": [{"sku": "SKU-A"}]}})
}

fn valid_refund() -> Value {
    json!({"id": "evt_4", "type": "order.refunded", "created_at": "2026-03-03T09:00:00Z",
        "data": {"order_id": "902-1106328-1059050", "reason": "customer_return",
            "items": [{"sku": "SKU-A", "quantity": 1, "amount": {"principal": "12.50", "shipping": 4.99, "tax": "1.03"}}]}})
}

/// Shopify's documented `fulfillments/create` example, with its buyer data as canaries.
fn valid_fulfillment() -> Value {
    json!({"id": 123456, "order_id": 820982911946154508u64, "status": "pending",
        "created_at": "2021-12-31T19:00:00-05:00", "tracking_company": "UPS", "email": "jon@canary-mail.example",
        "destination": {"first_name": "Grace", "address1": "1 Infinite \\ Loopway", "phone": "+1-555-0101",
            "city": "Shippington", "zip": "40003", "name": "Grace Hopper"},
        "line_items": [{"id": 487817672276298554u64, "title": "Aviator sunglasses", "quantity": 1,
            "sku": "SKU2006-001", "price": "89.99"}],
        "tracking_number": "1z827wk74630", "tracking_numbers": ["1z827wk74630"], "name": "#9999.1"})
}

/// Where buyer data and free text sit in Shopify's payloads.
const SHOPIFY_TEXT_FIELDS: &[&str] = &[
    "/email",
    "/destination",
    "/destination/name",
    "/destination/address1",
    "/tracking_company",
    "/tracking_number",
    "/line_items/0/title",
    "/line_items/0/sku",
    "/name",
    "/note",
];

/// A field path as the Shopify parsers report it.
fn is_shopify_field(field: &str) -> bool {
    const TOP: &[&str] = &[
        "id",
        "order_id",
        "status",
        "created_at",
        "tracking_company",
        "tracking_number",
        "line_items",
        "source_identifier",
    ];
    if TOP.contains(&field) {
        return true;
    }
    let Some(rest) = field.strip_prefix("line_items[") else { return false };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once("].") {
        Some((index, name)) => digits(index) && ["sku", "quantity"].contains(&name),
        None => rest.strip_suffix(']').is_some_and(digits),
    }
}

fn check_shopify_error(error: &EventError) -> Result<(), TestCaseError> {
    match error {
        EventError::MalformedJson(_) | EventError::UnsupportedType(_) => {}
        EventError::Missing(field) | EventError::Invalid { field, .. } => {
            prop_assert!(is_shopify_field(field), "{error}")
        }
    }
    prop_assert!(leaked_marker(&error.to_string()).is_none(), "PII in the error: {error}");
    Ok(())
}

/// Both Shopify parsers on `body`, and the shipment built from a fulfillment: no panic, errors naming
/// fields without quoting buyer data, and every shipment one Amazon can take.
fn check_shopify(body: &[u8]) -> Result<(), TestCaseError> {
    match shopify::parse_fulfillment(body) {
        Ok(fulfillment) => {
            let order = AmazonOrderId::parse("902-1106328-1059050").unwrap();
            match fulfillment.shipment(order) {
                Ok(shipment) => {
                    prop_assert!(!shipment.carrier.trim().is_empty());
                    prop_assert!(!shipment.lines.is_empty());
                    prop_assert!(shipment.lines.iter().all(|line| (1..=10_000).contains(&line.quantity)));
                }
                Err(error) => check_shopify_error(&error)?,
            }
        }
        Err(error) => check_shopify_error(&error)?,
    }
    if let Err(error) = shopify::parse_order_link(body) {
        check_shopify_error(&error)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Damaged delivery events never panic the parser; errors name a field or a position.
    #[test]
    fn delivery_events_never_panic_the_parser(body in damaged(valid_delivery().to_string().into_bytes())) {
        match parse_event(&body) {
            Ok(StoreEvent::ShipmentDelivered(event)) => prop_assert!(!event.package_id.as_str().is_empty()),
            Ok(_) => {}
            Err(error) => check_event_error(&error)?,
        }
    }

    /// Damaged cancellations and refunds never panic the parser; errors name a field or a position, and
    /// every refund read has a quantity and amounts Amazon can take.
    #[test]
    fn adjustment_events_never_panic_the_parser(
        body in prop_oneof![
            damaged(valid_cancellation().to_string().into_bytes()),
            damaged(valid_refund().to_string().into_bytes()),
        ],
    ) {
        match parse_event(&body) {
            Ok(StoreEvent::OrderRefunded(event)) => {
                prop_assert!(!event.request.lines.is_empty());
                prop_assert!(event.request.lines.iter().all(|line| (1..=10_000).contains(&line.quantity)));
            }
            Ok(_) => {}
            Err(error) => check_event_error(&error)?,
        }
    }

    /// No Shopify header, body or key makes verification panic, and no header we did not sign verifies,
    /// with one key or two.
    #[test]
    fn shopify_verify_never_panics_and_never_accepts_a_forgery(
        keys in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 1..=2),
        header in prop::option::of(prop_oneof![any::<String>(), "[A-Za-z0-9+/]{43}="]),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let keys = SigningKeys {
            current: SigningKey::new(keys[0].clone()),
            previous: keys.get(1).cloned().map(SigningKey::new),
        };
        match shopify::verify(&keys, header.as_deref(), &body) {
            Ok(()) => return Err(TestCaseError::fail(format!("a forged header verified: {header:?}"))),
            Err(ShopifySignatureError::Missing) => prop_assert!(header.is_none()),
            Err(_) => {}
        }
    }

    /// What either key signs verifies; any single-byte change of the body, or a third key, fails.
    #[test]
    fn shopify_sign_then_verify_with_either_key_and_tampering_fails(
        current in prop::collection::vec(any::<u8>(), 1..64),
        previous in prop::collection::vec(any::<u8>(), 1..64),
        body in prop::collection::vec(any::<u8>(), 1..2048),
        flip in (any::<Index>(), 1u8..=255),
        signer_is_previous in any::<bool>(),
    ) {
        let keys = SigningKeys { current: SigningKey::new(current.clone()), previous: Some(SigningKey::new(previous.clone())) };
        let signer = SigningKey::new(if signer_is_previous { previous } else { current.clone() });
        let header = signer.sign_base64(&body);
        prop_assert_eq!(shopify::verify(&keys, Some(&header), &body), Ok(()));
        let mut changed = body.clone();
        changed[flip.0.index(body.len())] ^= flip.1;
        prop_assert_eq!(shopify::verify(&keys, Some(&header), &changed), Err(ShopifySignatureError::Mismatch));
        let mut third = current;
        third.push(1);
        let settled = SigningKeys::single(SigningKey::new(third));
        prop_assert_eq!(shopify::verify(&settled, Some(&header), &body), Err(ShopifySignatureError::Mismatch));
    }

    /// Damaged and mutated Shopify payloads never panic the parsers; errors name fields and never quote
    /// the buyer data planted in them.
    #[test]
    fn shopify_parsers_never_panic_nor_echo_buyer_data(
        damaged_body in damaged(valid_fulfillment().to_string().into_bytes()),
        edits in prop::collection::vec(edit(), 0..6),
        plants in prop::collection::vec((prop::sample::select(SHOPIFY_TEXT_FIELDS), canary_value()), 0..4),
    ) {
        check_shopify(&damaged_body)?;
        let mut payload = valid_fulfillment();
        edits.iter().for_each(|edit| apply(&mut payload, edit));
        for (pointer, value) in plants {
            plant(&mut payload, pointer, value);
        }
        check_shopify(payload.to_string().as_bytes())?;
    }
}

#[test]
fn the_valid_documents_are_valid() {
    assert!(parse_shipment_created(valid_event().to_string().as_bytes()).is_ok());
    assert!(matches!(parse_event(valid_delivery().to_string().as_bytes()), Ok(StoreEvent::ShipmentDelivered(_))));
    let fulfillment = shopify::parse_fulfillment(valid_fulfillment().to_string().as_bytes()).unwrap();
    assert!(fulfillment.shipment(AmazonOrderId::parse("902-1106328-1059050").unwrap()).is_ok());
    assert!(map_order(valid_order()).is_ok());
}

// ---------------------------------------------------------------------------------------------------
// Order fulfillment feeds: the document we write, the processing report Amazon writes back.

const VALID_REPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?><AmazonEnvelope><Header><DocumentVersion>1.02</DocumentVersion>
<MerchantIdentifier>A1SELLER</MerchantIdentifier></Header><MessageType>ProcessingReport</MessageType><Message><MessageID>1</MessageID>
<ProcessingReport><DocumentTransactionID>50012019123</DocumentTransactionID><StatusCode>Complete</StatusCode><ProcessingSummary>
<MessagesProcessed>2</MessagesProcessed><MessagesSuccessful>1</MessagesSuccessful><MessagesWithError>1</MessagesWithError>
<MessagesWithWarning>0</MessagesWithWarning></ProcessingSummary><Result><MessageID>2</MessageID><ResultCode>Error</ResultCode>
<ResultMessageCode>18028</ResultMessageCode><ResultDescription>Order 902-1106328-1059050 is cancelled</ResultDescription>
</Result></ProcessingReport></Message></AmazonEnvelope>"#;

fn package_with(carrier_name: String, shipping_method: Option<String>) -> Package {
    let at = now();
    Package {
        order_id: AmazonOrderId::parse("902-1106328-1059050").unwrap(),
        package_id: PackageId::parse("pkg-1").unwrap(),
        reference: PackageReference::first(),
        carrier: Carrier::Other { name: carrier_name },
        shipping_method,
        tracking_number: TrackingNumber::parse("1Z999AA10123456784").unwrap(),
        ship_date: at,
        label_created_at: at,
        lines: vec![PackageLine { order_item_id: OrderItemId::parse("12345678901234").unwrap(), quantity: 1 }],
        state: PackageState::Queued,
        throttle_deferrals: 0,
        claimed_at: None,
        send_attempts: 0,
        fingerprint: None,
        units_released: false,
        tracked: None,
        warnings: Vec::new(),
        delivered_at: None,
        by_call_only: false,
        created_at: at,
    }
}

/// The text of every element named `name` in a well-formed document (an error if it is not well formed).
fn element_texts(xml: &str, name: &[u8]) -> Result<(Vec<String>, usize), quick_xml::Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut texts, mut messages, mut inside) = (Vec::new(), 0, false);
    loop {
        match reader.read_event()? {
            Event::Eof => return Ok((texts, messages)),
            Event::Start(start) if start.name().as_ref() == name => {
                inside = true;
                texts.push(String::new());
            }
            Event::Start(start) if start.name().as_ref() == b"Message" => messages += 1,
            Event::End(end) if end.name().as_ref() == name => inside = false,
            Event::Text(text) if inside => {
                // As written: the reader's own end-of-line handling (XML 1.1's, which counts U+2028)
                // is not what Amazon's XML 1.0 parser does.
                let text = text.decode().map_err(quick_xml::Error::from)?;
                texts.last_mut().expect("inside an element").push_str(&text);
            }
            // `&amp;` and the like arrive as references of their own.
            Event::GeneralRef(reference) if inside => {
                let name = reference.decode().map_err(quick_xml::Error::from)?;
                let resolved = match reference.resolve_char_ref()? {
                    Some(c) => c.to_string(),
                    None => {
                        quick_xml::escape::resolve_predefined_entity(&name).expect("a predefined entity").to_owned()
                    }
                };
                texts.last_mut().expect("inside an element").push_str(&resolved);
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Whatever a merchant's carrier and method names hold, the document is well formed XML with one
    /// message per package, and reads back as the names without the characters XML cannot carry.
    #[test]
    fn the_fulfillment_document_is_well_formed_for_any_names(
        names in prop::collection::vec((text(), prop::option::of(text())), 1..4),
    ) {
        let packages: Vec<Package> = names.iter().map(|(n, m)| package_with(n.clone(), m.clone())).collect();
        let messages: Vec<(u32, &Package)> = packages.iter().zip(1..).map(|(p, id)| (id, p)).collect();
        let xml = order_fulfillment_document(&SellerId::parse("A1SELLER").unwrap(), &messages);
        let (carriers, count) = element_texts(&xml, b"CarrierName").map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
        prop_assert_eq!(count, packages.len());
        let expected: Vec<String> = names.iter().map(|(n, _)| n.chars().filter(|c| is_xml_char(*c)).collect()).collect();
        prop_assert_eq!(carriers, expected);
    }

    /// A damaged processing report never panics the parser, and every outcome it gives names a reason.
    #[test]
    fn the_processing_report_parser_never_panics(bytes in damaged(VALID_REPORT.as_bytes().to_vec()), id in 0u32..5) {
        if let Ok(report) = ProcessingReport::parse(&bytes) {
            match report.outcome(id) {
                MessageOutcome::Accepted { .. } => {}
                MessageOutcome::Rejected { reason } => prop_assert!(reason.len() < bytes.len() + 64),
            }
        }
    }
}

#[test]
fn the_valid_report_reads() {
    let report = ProcessingReport::parse(VALID_REPORT.as_bytes()).unwrap();
    assert_eq!(report.outcome(1), MessageOutcome::Accepted { warnings: vec![] });
    assert!(matches!(report.outcome(2), MessageOutcome::Rejected { reason } if reason.contains("cancelled")));
}
