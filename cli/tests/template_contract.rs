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

/// The `sellerbridge` metrics the alarms and the dashboard read: (metric, function) pairs.
fn metrics_read(value: &serde_yaml::Value, found: &mut BTreeSet<(String, String)>) {
    match value {
        serde_yaml::Value::Mapping(map) => {
            if map.get("Namespace").and_then(|n| n.as_str()) == Some(sellerbridge_core::metrics::NAMESPACE) {
                let metric = map["MetricName"].as_str().unwrap().to_owned();
                let function = map["Dimensions"][0]["Value"].as_str().unwrap().to_owned();
                found.insert((metric, function));
            }
            map.values().for_each(|v| metrics_read(v, found));
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| metrics_read(v, found)),
        serde_yaml::Value::Tagged(tagged) => metrics_read(&tagged.value, found),
        _ => {}
    }
}

#[test]
fn alarms_and_the_dashboard_read_metrics_the_functions_emit_and_every_dead_letter_queue_alarms() {
    use sellerbridge_core::metrics::Metric;
    let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let emitted: BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
    // The names each handler gives its MetricSet.
    let functions = ["order-sync", "order-notifications", "update-sender", "pii-redactor"];
    let mut read = BTreeSet::new();
    metrics_read(&template["Resources"], &mut read);
    // The dashboard's body is a JSON string: its ["sellerbridge", metric, "Function", function] rows.
    let dashboard = resources.values().find(|r| r["Type"] == "AWS::CloudWatch::Dashboard").expect("a dashboard");
    let body = match &dashboard["Properties"]["DashboardBody"] {
        serde_yaml::Value::Tagged(tagged) => tagged.value.as_str().unwrap().to_owned(),
        other => other.as_str().unwrap().to_owned(),
    };
    let body: serde_json::Value = serde_json::from_str(&body.replace("${AWS::Region}", "us-east-1")).unwrap();
    for widget in body["widgets"].as_array().unwrap() {
        for row in widget["properties"]["metrics"].as_array().unwrap() {
            assert_eq!(row[0], sellerbridge_core::metrics::NAMESPACE);
            read.insert((row[1].as_str().unwrap().to_owned(), row[3].as_str().unwrap().to_owned()));
        }
    }
    assert!(read.len() > 10, "{read:?}");
    for (metric, function) in &read {
        assert!(emitted.contains(metric.as_str()), "{metric} is read but never emitted");
        assert!(functions.contains(&function.as_str()), "{function} emits no metrics");
    }
    let charted: BTreeSet<&str> = read.iter().map(|(metric, _)| metric.as_str()).collect();
    assert_eq!(charted, emitted, "every metric emitted is charted or alarmed on");

    let alarmed_queues: BTreeSet<String> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::CloudWatch::Alarm" && r["Properties"]["Namespace"] == "AWS/SQS")
        .map(|r| format!("{:?}", r["Properties"]["Dimensions"][0]["Value"]))
        .collect();
    let dead_letter_queues: Vec<&str> = resources
        .iter()
        .filter(|(name, r)| r["Type"] == "AWS::SQS::Queue" && name.as_str().unwrap().contains("DeadLetter"))
        .map(|(name, _)| name.as_str().unwrap())
        .collect();
    // Quiet hours send no metric data at all (zeros are not emitted, to keep metrics free when nothing
    // happens): no alarm may read that as trouble.
    for (name, alarm) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm") {
        assert_eq!(alarm["Properties"]["TreatMissingData"], "notBreaching", "{name:?}");
    }
    assert_eq!(dead_letter_queues.len(), 3);
    for queue in dead_letter_queues {
        assert!(
            alarmed_queues.iter().any(|alarmed| alarmed.contains(queue)),
            "no alarm on {queue}: {alarmed_queues:?}"
        );
    }
}

/// Least privilege: every function's statements name their actions one by one (no `*` in an action,
/// no policy template that expands to one), and secrets are read only under the stack's own names.
#[test]
fn function_roles_name_each_action_and_read_only_their_stacks_secrets() {
    let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let functions =
        template["Resources"].as_mapping().unwrap().iter().filter(|(_, r)| r["Type"] == "AWS::Serverless::Function");
    let mut checked = 0;
    for (name, function) in functions {
        for policy in function["Properties"]["Policies"].as_sequence().unwrap() {
            let policy = policy.as_mapping().unwrap();
            let (kind, body) = policy.iter().next().unwrap();
            match kind.as_str().unwrap() {
                "Statement" => {
                    for statement in body.as_sequence().unwrap() {
                        let actions: Vec<&str> =
                            statement["Action"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
                        for action in &actions {
                            assert!(!action.contains('*'), "{name:?}: wildcard action {action}");
                            checked += 1;
                        }
                        // Every statement names its resources; a secret read by pattern only under the
                        // stack's own prefix.
                        let resource = format!("{:?}", statement["Resource"]);
                        assert!(
                            !statement["Resource"].is_null() && !resource.contains("\"*\""),
                            "{name:?}: {resource}"
                        );
                        if actions.iter().any(|a| a.starts_with("secretsmanager:")) && resource.contains('*') {
                            assert!(resource.contains("sellerbridge/${AWS::StackName}/"), "{name:?}: {resource}");
                        }
                    }
                }
                // Expands to secretsmanager:GetSecretValue on the one secret named.
                "AWSSecretsManagerGetSecretValuePolicy" => {
                    assert!(matches!(body["SecretArn"], serde_yaml::Value::Tagged(_)), "{name:?}")
                }
                other => panic!("{name:?}: policy template {other} (spell its actions out)"),
            }
        }
    }
    assert!(checked > 30, "{checked}");
}

/// The outputs the CLI reads by name exist, and those standing for a function's variable name what the
/// template gives the functions: the CLI and the functions see the same stack.
#[test]
fn the_outputs_the_cli_reads_exist_and_match_the_functions_environment() {
    let template: serde_yaml::Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    let mut compared = 0;
    for (variable, output) in sellerbridge_cli::target::outputs_read() {
        let value = &template["Outputs"][output]["Value"];
        assert!(!value.is_null(), "the CLI reads output {output}, which the template does not declare");
        if !globals[variable].is_null() {
            assert_eq!(&globals[variable], value, "{variable} and output {output} name different things");
            compared += 1;
        }
    }
    assert!(compared >= 6, "{compared}");
}
