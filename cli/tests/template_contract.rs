//! The SAM template and the code agree on what the functions are given.
use std::collections::BTreeSet;

use sellerbridge_cli::local::provision::TEMPLATE;
use sellerbridge_core::runtime::Settings;
use sellerbridge_core::spapi::Endpoints;

#[test]
fn the_template_sets_exactly_the_environment_the_functions_read() {
    let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let variables = &template["Globals"]["Function"]["Environment"]["Variables"];
    let in_template: BTreeSet<String> =
        variables.as_mapping().unwrap().keys().map(|k| k.as_str().unwrap().to_owned()).collect();
    let settings = Settings {
        table: String::new(),
        updates_queue_url: String::new(),
        outbound_queue_url: String::new(),
        lwa_secret_id: String::new(),
        webhook_secret_id: String::new(),
        shopify_secret_id: None,
        endpoints: Endpoints::amazon(),
    };
    let read_by_code: BTreeSet<String> = settings.to_env().into_iter().map(|(name, _)| name.to_owned()).collect();
    assert_eq!(in_template, read_by_code);
}

#[test]
fn every_function_binary_named_in_the_template_exists_in_the_workspace() {
    let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let binaries: BTreeSet<String> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|resource| resource["Type"] == "AWS::Serverless::Function")
        .map(|resource| resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned())
        .collect();
    let crates: BTreeSet<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(binaries, crates);
}

/// Every queue is consumed by the function whose handler reads its messages.
#[test]
fn each_queue_triggers_the_function_that_understands_its_messages() {
    let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let mut consumers: BTreeSet<(String, String)> = BTreeSet::new();
    for resource in template["Resources"].as_mapping().unwrap().values() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned();
        for event in resource["Properties"]["Events"].as_mapping().into_iter().flat_map(|events| events.values()) {
            if event["Type"] == "SQS" {
                // `!GetAtt NotificationsQueue.Arn`, a tagged value.
                let reference = serde_yaml::to_string(&event["Properties"]["Queue"]).unwrap();
                let queue = reference.trim().trim_start_matches("!GetAtt ").trim_end_matches(".Arn").to_owned();
                consumers.insert((queue, binary.clone()));
            }
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("NotificationsQueue", "order-notifications"),
        ("OutboundQueue", "update-sender"),
        ("UpdatesQueue", "update-sender"),
    ]
    .into_iter()
    .map(|(queue, binary)| (queue.to_owned(), binary.to_owned()))
    .collect();
    assert_eq!(consumers, expected);
}

/// `!Ref DataKey`, however serde_yaml renders the tag.
fn is_the_data_key(value: &serde_yaml::Value) -> bool {
    serde_yaml::to_string(value).unwrap().trim() == "!Ref DataKey"
}

/// Everything that holds order data or secrets is encrypted with the stack's own key, and every
/// function may use it (SQS, Secrets Manager and DynamoDB need it on behalf of their callers).
#[test]
fn the_table_queues_and_secrets_are_encrypted_with_the_merchants_key() {
    let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let mut checked = BTreeSet::new();
    for (name, resource) in resources {
        let name = name.as_str().unwrap().to_owned();
        let properties = &resource["Properties"];
        let key = match resource["Type"].as_str().unwrap() {
            "AWS::DynamoDB::Table" => &properties["SSESpecification"]["KMSMasterKeyId"],
            "AWS::SQS::Queue" => &properties["KmsMasterKeyId"],
            "AWS::SecretsManager::Secret" => &properties["KmsKeyId"],
            "AWS::Serverless::Function" => {
                let policies = serde_yaml::to_string(&properties["Policies"]).unwrap();
                assert!(policies.contains("!GetAtt DataKey.Arn") && policies.contains("kms:Decrypt"), "{name}");
                continue;
            }
            _ => continue,
        };
        assert!(is_the_data_key(key), "{name} is not encrypted with DataKey: {key:?}");
        checked.insert(name);
    }
    assert!(checked.len() >= 11, "the table, six queues and four secrets: {checked:?}");
    let key = &resources.get("DataKey").unwrap()["Properties"];
    assert_eq!(key["EnableKeyRotation"], true);
    // The key's users are the stack's roles (by name), the named operators and Amazon's sender.
    let policy = serde_yaml::to_string(&key["KeyPolicy"]).unwrap();
    assert!(policy.contains("role/sellerbridge/${AWS::StackName}/*"), "{policy}");
    assert_eq!(resources.get("DataKey").unwrap()["DeletionPolicy"], "Retain", "the table's backups need it");
    for (name, resource) in resources {
        if resource["Type"] == "AWS::Serverless::Function" {
            let path = serde_yaml::to_string(&resource["Properties"]["RolePath"]).unwrap();
            assert_eq!(path.trim(), "!Sub /sellerbridge/${AWS::StackName}/", "{name:?}: the key's users by role path");
        }
    }
}
