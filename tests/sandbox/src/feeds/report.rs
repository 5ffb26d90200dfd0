//! The XML processing report a feed's result document holds, shaped as Amazon's (`ProcessingReport.xsd`;
//! a real one in amzn/selling-partner-api-models#1709): a summary, then one `Result` per message with an error
//! or a warning (successful messages have none), and a `Result` with MessageID 0 for a feed that failed as a whole.

use std::fmt::Write;

use super::process::{Finding, Outcome, Severity};
use super::xml::is_xml_char;

/// The ResultMessageCodes the sandbox writes. Amazon publishes no list: 5000 and 5001 are the codes its reports
/// carry for schema errors and for documents that are not well-formed (e.g. amzn/selling-partner-api-models#1473),
/// 18028 its generic "the data you submitted is incomplete or invalid". The sandbox keeps to these three and lets
/// `ResultDescription` say what exactly was wrong, rather than invent codes a client could come to rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ResultMessageCode {
    /// Well-formed XML that breaks the schema: a missing required element, a value outside an enumeration, a bad
    /// number or date. In a message it fails that message; in the envelope (root, Header, MerchantIdentifier,
    /// MessageType, no Message at all) the whole feed.
    SchemaInvalid = 5000,
    /// Not well-formed XML, or no document at all: the whole feed fails.
    NotWellFormed = 5001,
    /// A valid message the orders refuse: unknown order or item, a quantity beyond what is unshipped, a cancelled
    /// or FBA order, an unknown carrier, a refund beyond what was paid...
    Rejected = 18028,
}

impl ResultMessageCode {
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// Renders the report; `merchant_id` is the seller's, as Amazon puts the submitter's merchant id in it.
pub(crate) fn render(merchant_id: &str, feed_id: &str, outcome: &Outcome) -> String {
    let with_error = outcome.count(Severity::Error) + usize::from(outcome.fatal.is_some());
    let with_warning = outcome.count(Severity::Warning);
    let processed = outcome.messages.len();
    let successful = processed.saturating_sub(outcome.count(Severity::Error));
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <AmazonEnvelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"amzn-envelope.xsd\">\n\
         \t<Header>\n\t\t<DocumentVersion>1.02</DocumentVersion>\n",
    );
    // Writing to a String cannot fail.
    let _ = write!(xml, "\t\t<MerchantIdentifier>{}</MerchantIdentifier>\n\t</Header>\n", escape(merchant_id));
    xml.push_str("\t<MessageType>ProcessingReport</MessageType>\n\t<Message>\n\t\t<MessageID>1</MessageID>\n\t\t<ProcessingReport>\n");
    let _ = write!(
        xml,
        "\t\t\t<DocumentTransactionID>{}</DocumentTransactionID>\n\t\t\t<StatusCode>Complete</StatusCode>\n\
         \t\t\t<ProcessingSummary>\n\t\t\t\t<MessagesProcessed>{processed}</MessagesProcessed>\n\
         \t\t\t\t<MessagesSuccessful>{successful}</MessagesSuccessful>\n\
         \t\t\t\t<MessagesWithError>{with_error}</MessagesWithError>\n\
         \t\t\t\t<MessagesWithWarning>{with_warning}</MessagesWithWarning>\n\t\t\t</ProcessingSummary>\n",
        escape(feed_id)
    );
    if let Some(fatal) = &outcome.fatal {
        result(&mut xml, 0, fatal, None, None);
    }
    for message in &outcome.messages {
        if let Some(finding) = &message.finding {
            result(&mut xml, message.message_id, finding, message.order_id.as_deref(), message.item_id.as_deref());
        }
    }
    xml.push_str("\t\t</ProcessingReport>\n\t</Message>\n</AmazonEnvelope>\n");
    xml
}

fn result(xml: &mut String, message_id: u64, finding: &Finding, order_id: Option<&str>, item_id: Option<&str>) {
    let result_code = match finding.severity {
        Severity::Error => "Error",
        Severity::Warning => "Warning",
    };
    let _ = write!(
        xml,
        "\t\t\t<Result>\n\t\t\t\t<MessageID>{message_id}</MessageID>\n\t\t\t\t<ResultCode>{result_code}</ResultCode>\n\
         \t\t\t\t<ResultMessageCode>{}</ResultMessageCode>\n\t\t\t\t<ResultDescription>{}</ResultDescription>\n",
        finding.code.code(),
        escape(&finding.description)
    );
    if order_id.is_some() || item_id.is_some() {
        xml.push_str("\t\t\t\t<AdditionalInfo>\n");
        if let Some(order_id) = order_id {
            let _ = writeln!(xml, "\t\t\t\t\t<AmazonOrderID>{}</AmazonOrderID>", escape(order_id));
        }
        if let Some(item_id) = item_id {
            let _ = writeln!(xml, "\t\t\t\t\t<AmazonOrderItemCode>{}</AmazonOrderItemCode>", escape(item_id));
        }
        xml.push_str("\t\t\t\t</AdditionalInfo>\n");
    }
    xml.push_str("\t\t\t</Result>\n");
}

/// Escapes markup and replaces characters XML 1.0 cannot carry at all (descriptions quote client input).
fn escape(text: &str) -> String {
    let clean: String = text.chars().map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' }).collect();
    quick_xml::escape::partial_escape(clean.as_str()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::process::MessageOutcome;
    use crate::feeds::xml::parse;

    fn finding(code: ResultMessageCode, description: &str) -> Option<Finding> {
        Some(Finding { severity: Severity::Error, code, description: description.into() })
    }

    #[test]
    fn one_result_per_failed_message_with_escaped_text() {
        let outcome = Outcome {
            fatal: None,
            messages: vec![
                MessageOutcome { message_id: 1, order_id: Some("111-1".into()), item_id: None, finding: None },
                MessageOutcome {
                    message_id: 2,
                    order_id: Some("111-<2>".into()),
                    item_id: Some("77".into()),
                    finding: finding(ResultMessageCode::Rejected, "Quantity 3 & more\u{1}"),
                },
            ],
        };
        let xml = render("A1SELLER", "50012019123", &outcome);
        let root = parse(xml.as_bytes()).expect("the report is well-formed");
        let report = root.child("Message").unwrap().child("ProcessingReport").unwrap();
        assert_eq!(report.text_of("DocumentTransactionID").as_deref(), Some("50012019123"));
        let summary = report.child("ProcessingSummary").unwrap();
        let count = |name: &str| summary.text_of(name).unwrap();
        assert_eq!(
            [count("MessagesProcessed"), count("MessagesSuccessful"), count("MessagesWithError")],
            ["2", "1", "1"]
        );
        let results: Vec<_> = report.children_named("Result").collect();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].text_of("ResultMessageCode").as_deref(), Some("18028"));
        assert_eq!(results[0].text_of("ResultDescription").as_deref(), Some("Quantity 3 & more\u{FFFD}"));
        let info = results[0].child("AdditionalInfo").unwrap();
        assert_eq!(info.text_of("AmazonOrderID").as_deref(), Some("111-<2>"));
        assert_eq!(info.text_of("AmazonOrderItemCode").as_deref(), Some("77"));
        assert_eq!(root.child("Header").unwrap().text_of("DocumentVersion").as_deref(), Some("1.02"));
    }

    #[test]
    fn a_fatal_feed_reports_message_zero() {
        let outcome =
            Outcome { fatal: finding(ResultMessageCode::NotWellFormed, "XML Parsing Fatal Error"), messages: vec![] };
        let xml = render("A1SELLER", "1", &outcome);
        assert!(xml.contains("<MessagesProcessed>0</MessagesProcessed>"));
        assert!(xml.contains("<MessagesWithError>1</MessagesWithError>"));
        assert!(xml.contains("<MessageID>0</MessageID>\n\t\t\t\t<ResultCode>Error</ResultCode>\n\t\t\t\t<ResultMessageCode>5001</ResultMessageCode>"));
    }
}
