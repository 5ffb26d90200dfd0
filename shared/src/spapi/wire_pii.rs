//! Amazon's order JSON with every buyer PII value replaced, for keeping an order we could not read
//! where an operator can look at it.
use serde_json::Value;

use crate::domain::pii::REDACTED;

/// Fields that hold PII wherever they appear in an order.
const PII_KEYS: &[&str] = &[
    "buyerName",
    "buyerEmail",
    "buyerCompanyName",
    "buyerPurchaseOrderNumber",
    "name",
    "companyName",
    "addressLine1",
    "addressLine2",
    "addressLine3",
    "phone",
    "email",
    "giftMessage",
    // Amazon Custom: the buyer's personalisation.
    "customizedUrl",
];

/// Subtrees about the buyer: every value in them is PII except the locality, which may be kept. The gift
/// option and the Amazon Custom customization are the buyer's own words whatever shape they come in.
const BUYER_SUBTREES: &[&str] =
    &["buyer", "recipient", "billingAddress", "buyerTaxInformation", "taxRegistrations", "giftOption", "customization"];
const KEPT_LOCALITY: &[&str] = &["city", "stateOrRegion", "postalCode", "countryCode", "addressType"];

/// Replaces every PII value of `order` (any JSON shape, even one we cannot map) with `REDACTED (Amazon)`.
pub fn without_pii(mut order: Value) -> Value {
    redact(&mut order, false);
    order
}

/// `pii`: every scalar below is PII (a buyer subtree, or a PII key whatever shape its value has),
/// except under the locality keys.
fn redact(value: &mut Value, pii: bool) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                let key = key.as_str();
                let child_pii =
                    (pii || BUYER_SUBTREES.contains(&key) || PII_KEYS.contains(&key)) && !KEPT_LOCALITY.contains(&key);
                redact(child, child_pii);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, pii)),
        Value::Null => {}
        scalar if pii => *scalar = Value::String(REDACTED.to_owned()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_pii_value_is_replaced_and_the_locality_kept_whatever_the_shape() {
        let order = json!({
            "orderId": "113-0000001-0000001",
            "createdTime": 1995,
            "buyer": {"buyerName": "Grace Hopper", "buyerEmail": "g@marketplace.amazon.com", "unexpected": "Hopper"},
            "recipient": {"deliveryAddress": {"name": "Grace Hopper", "addressLine1": "2 Cobol Ct", "city": "Arlington",
                "postalCode": "22201", "countryCode": "US", "phone": "+1-555-0101", "extendedFields": {"streetName": "Cobol"}}},
            "orderItems": [{"orderItemId": "1", "fulfillment": {"packing": {"giftOption": {"giftMessage": ["For Grace"]}}}}],
            "shippingAddress": {"name": {"first": "Grace", "last": "Hopper"}}
        });
        let text = without_pii(order).to_string();
        for pii in ["Grace", "Hopper", "Cobol", "555-0101", "g@marketplace"] {
            assert!(!text.contains(pii), "{pii} in {text}");
        }
        for kept in ["113-0000001-0000001", "Arlington", "22201", "\"US\"", "1995"] {
            assert!(text.contains(kept), "{kept} missing from {text}");
        }
    }

    /// Found by `tests/fuzz.rs`: a gift option or customization that is not the object Amazon documents
    /// (here a bare string) kept the buyer's words.
    #[test]
    fn gift_options_and_customizations_of_any_shape_are_pii() {
        let order = json!({"orderItems": [{
            "product": {"asin": "B0AAAA0001", "customization": "Grace Hopper"},
            "fulfillment": {"packing": {"giftOption": "For Grace"}, "quantityFulfilled": 0}}]});
        let text = without_pii(order).to_string();
        assert!(!text.contains("Grace"), "{text}");
        assert!(text.contains("B0AAAA0001"), "{text}");
    }
}
