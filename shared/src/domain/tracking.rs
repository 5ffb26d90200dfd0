//! Which carrier services report tracking. A package sent with a service that does not (a letter, most
//! "1st/2nd class" post) is kept on the PII schedule's untracked rule: 30 days after the shipment.
//!
//! The built-in table names services by carrier and a phrase of the shipping method; a connection's own
//! rules ([`TrackingRule`], in its options) are checked first, so a merchant can correct the table for a
//! service we classify wrongly or name a service of its own.
use serde::{Deserialize, Serialize};

/// One entry of the built-in table: `carrier`'s services whose method contains one of `phrases` do not
/// report tracking, unless the method also contains one of `unless`.
struct UntrackedServices {
    carrier: &'static str,
    phrases: &'static [&'static str],
    unless: &'static [&'static str],
}

/// Services that do not report tracking. Phrases are compared after [`normalize`] (lower case, `-` and `_`
/// as spaces, single spaces).
const UNTRACKED: &[UntrackedServices] = &[
    // USPS First-Class Mail letters and flats and Marketing Mail ("Standard Mail") carry no tracking;
    // First-Class *Package* Service and Ground Advantage do.
    UntrackedServices {
        carrier: "usps",
        phrases: &[
            "first class mail",
            "first class letter",
            "first class flat",
            "letter",
            "standard mail",
            "marketing mail",
        ],
        unless: &["package", "parcel", "tracked", "tracking", "certified", "registered"],
    },
    // Royal Mail 1st/2nd Class and (Large) Letter; "Tracked 24/48", "Signed For" and "Special Delivery"
    // report tracking.
    UntrackedServices {
        carrier: "royal mail",
        phrases: &["1st class", "2nd class", "first class", "second class", "letter"],
        unless: &["tracked", "signed", "special delivery"],
    },
    // Deutsche Post letters (Standard-, Kompakt-, Groß-, Maxibrief), Büchersendung, Warensendung;
    // "Einschreiben" and "Warenpost" report tracking.
    UntrackedServices {
        carrier: "deutsche post",
        phrases: &["brief", "büchersendung", "buechersendung", "warensendung", "postkarte"],
        unless: &["einschreiben", "tracked", "warenpost"],
    },
    // La Poste letters (Lettre verte, Lettre prioritaire, Ecopli); "Lettre suivie" reports tracking.
    UntrackedServices {
        carrier: "la poste",
        phrases: &["lettre", "ecopli"],
        unless: &["suivi", "recommand", "colissimo"],
    },
    // Canada Post Lettermail and (untracked) Light/Small Packet.
    UntrackedServices {
        carrier: "canada post",
        phrases: &["lettermail", "light packet", "small packet"],
        unless: &["tracked", "tracking"],
    },
    UntrackedServices {
        carrier: "poste italiane",
        phrases: &["posta ordinaria", "posta1", "lettera"],
        unless: &["raccomandata", "tracciat"],
    },
    UntrackedServices { carrier: "correos", phrases: &["carta ordinaria"], unless: &["certificad"] },
];

/// A connection's own rule: packages of `carrier` whose shipping method contains `shipping_method`
/// (compared like the table: case-, space- and dash-insensitively; empty means every method) do or do
/// not report tracking. Checked before the built-in table, first match wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingRule {
    /// An Amazon carrier code (`USPS`, `Royal Mail`) or, for `Other`, the carrier's name.
    pub carrier: String,
    #[serde(default)]
    pub shipping_method: String,
    pub tracked: bool,
}

/// Whether a package sent by `carrier` with `shipping_method` reports tracking: the connection's `rules`
/// first, then the built-in table; a service in neither is taken to report tracking.
pub fn reports_tracking(rules: &[TrackingRule], carrier: &str, shipping_method: Option<&str>) -> bool {
    let carrier = normalize(carrier);
    let method = normalize(shipping_method.unwrap_or_default());
    if let Some(rule) = rules
        .iter()
        .find(|rule| normalize(&rule.carrier) == carrier && method.contains(normalize(&rule.shipping_method).as_str()))
    {
        return rule.tracked;
    }
    !UNTRACKED.iter().any(|entry| {
        entry.carrier == carrier
            && entry.phrases.iter().any(|phrase| method.contains(phrase))
            && !entry.unless.iter().any(|phrase| method.contains(phrase))
    })
}

fn normalize(text: &str) -> String {
    text.to_lowercase().replace(['-', '_'], " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(carrier: &str, method: &str) -> bool {
        reports_tracking(&[], carrier, Some(method))
    }

    #[test]
    fn letter_services_do_not_report_tracking() {
        assert!(!tracked("USPS", "First-Class Mail"));
        assert!(!tracked("USPS", "First Class Letter"));
        assert!(!tracked("usps", "Standard Mail"));
        assert!(!tracked("Royal Mail", "Royal Mail 2nd Class"));
        assert!(!tracked("Royal Mail", "1st Class Large Letter"));
        assert!(!tracked("Deutsche Post", "Großbrief"));
        assert!(!tracked("Deutsche Post", "Brief International"));
        assert!(!tracked("La Poste", "Lettre verte"));
        assert!(!tracked("Canada Post", "Lettermail"));
    }

    #[test]
    fn parcel_and_tracked_services_do() {
        assert!(tracked("USPS", "First-Class Package Service"));
        assert!(tracked("USPS", "Ground Advantage"));
        assert!(tracked("USPS", "Priority Mail"));
        assert!(tracked("Royal Mail", "Tracked 48"));
        assert!(tracked("Royal Mail", "1st Class Signed For"));
        assert!(tracked("Deutsche Post", "Einschreiben Brief"));
        assert!(tracked("Deutsche Post", "Warenpost"));
        assert!(tracked("La Poste", "Lettre suivie"));
        assert!(tracked("UPS", "Ground"));
        assert!(reports_tracking(&[], "FedEx", None));
    }

    #[test]
    fn the_connection_rules_come_first() {
        let rules = vec![
            TrackingRule { carrier: "USPS".into(), shipping_method: "first-class mail".into(), tracked: true },
            TrackingRule { carrier: "Bob's Courier".into(), shipping_method: String::new(), tracked: false },
        ];
        assert!(reports_tracking(&rules, "USPS", Some("First Class Mail")));
        assert!(!reports_tracking(&rules, "bob's  courier", Some("Next day")));
        assert!(!reports_tracking(&rules, "Bob's Courier", None));
        assert!(!reports_tracking(&rules, "USPS", Some("Standard Mail")), "the table still applies to the rest");
    }
}
