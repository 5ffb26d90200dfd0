//! Creates the local DynamoDB table and SQS queues from `infra/template.yaml` itself, so the
//! local stack (DynamoDB Local + moto) can never drift from what SAM deploys.
//!
//! The template is read with `serde_yaml::Value`; CloudFormation short tags (`!Ref`, `!GetAtt`,
//! `!Sub`, `!If`, ...) arrive as `Value::Tagged`. Only what the local stack needs is resolved:
//! `!Ref Parameter` (to the parameter's default) in queue attributes, and `!GetAtt X.Arn` in a
//! `RedrivePolicy` (to the logical id `X` of the dead-letter queue). The long forms
//! (`{"Ref": ..}`, `{"Fn::GetAtt": ..}`) are accepted too.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_dynamodb::types::{
    AttributeDefinition as DdbAttributeDefinition, BillingMode, GlobalSecondaryIndex as DdbGsi, IndexStatus,
    KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
    TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_yaml::Value;

/// The SAM template, bundled into the binary.
pub const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Logical id of the queue of store updates in the template.
pub const UPDATES_QUEUE_ID: &str = "UpdatesQueue";
/// Logical id of its dead-letter queue in the template.
pub const UPDATES_DLQ_ID: &str = "UpdatesDeadLetterQueue";

const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
const QUEUE_TYPE: &str = "AWS::SQS::Queue";
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// One attribute of the table's `AttributeDefinitions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDef {
    pub name: String,
    /// `S`, `N` or `B`.
    pub attribute_type: String,
}

/// One element of a key schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyElement {
    pub attribute_name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GsiDef {
    pub name: String,
    pub key_schema: Vec<KeyElement>,
    /// `KEYS_ONLY`, `INCLUDE` or `ALL`.
    pub projection_type: String,
    pub non_key_attributes: Vec<String>,
}

/// The table as the template describes it (only what matters locally).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDef {
    pub logical_id: String,
    pub attribute_definitions: Vec<AttributeDef>,
    pub key_schema: Vec<KeyElement>,
    pub global_secondary_indexes: Vec<GsiDef>,
    /// The TTL attribute, when TTL is enabled.
    pub ttl_attribute: Option<String>,
}

impl TableDef {
    /// The attribute of the key schema with the given key type (`HASH` / `RANGE`).
    pub fn key(&self, key_type: &str) -> Option<&str> {
        self.key_schema.iter().find(|k| k.key_type == key_type).map(|k| k.attribute_name.as_str())
    }

    pub fn gsi(&self, name: &str) -> Option<&GsiDef> {
        self.global_secondary_indexes.iter().find(|g| g.name == name)
    }
}

/// A queue's redrive policy: its dead-letter queue (by logical id) and max receive count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedriveDef {
    pub dead_letter_logical_id: String,
    pub max_receive_count: u32,
}

/// A queue as the template describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDef {
    pub logical_id: String,
    /// SQS attributes by their API name (`VisibilityTimeout`, `MessageRetentionPeriod`, ...),
    /// values as SQS wants them (strings). `RedrivePolicy` is not in here: see `redrive`.
    pub attributes: BTreeMap<String, String>,
    pub redrive: Option<RedriveDef>,
}

impl QueueDef {
    pub fn is_fifo(&self) -> bool {
        self.attributes.get("FifoQueue").is_some_and(|v| v == "true")
    }
}

/// What the local stack needs from the template: the table and the queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDefinition {
    pub table: TableDef,
    /// Queues in template order.
    pub queues: Vec<QueueDef>,
}

/// URLs of the queues created locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalQueues {
    pub updates_url: String,
    pub updates_dlq_url: String,
    /// Every queue of the template: logical id -> URL.
    pub urls: BTreeMap<String, String>,
}

impl StackDefinition {
    /// Parses a SAM/CloudFormation template.
    pub fn from_template(yaml: &str) -> Result<Self> {
        let root: Value = serde_yaml::from_str(yaml).context("template is not valid YAML")?;
        let params = parameter_defaults(&root);
        let resources = root
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| anyhow!("template has no Resources mapping"))?;

        let mut tables = Vec::new();
        let mut queues = Vec::new();
        for (id, resource) in resources {
            let id = id.as_str().ok_or_else(|| anyhow!("resource logical id is not a string: {id:?}"))?;
            match resource.get("Type").and_then(Value::as_str) {
                Some(TABLE_TYPE) => tables.push(
                    parse_table(id, properties(resource)).with_context(|| format!("resource {id} ({TABLE_TYPE})"))?,
                ),
                Some(QUEUE_TYPE) => queues.push(
                    parse_queue(id, properties(resource), &params)
                        .with_context(|| format!("resource {id} ({QUEUE_TYPE})"))?,
                ),
                _ => {}
            }
        }

        let table = match tables.len() {
            0 => bail!("template has no {TABLE_TYPE}"),
            1 => tables.remove(0),
            n => bail!("template has {n} {TABLE_TYPE} resources; the local stack expects one"),
        };

        let ids: BTreeSet<&str> = queues.iter().map(|q| q.logical_id.as_str()).collect();
        for q in &queues {
            if let Some(r) = &q.redrive
                && !ids.contains(r.dead_letter_logical_id.as_str())
            {
                bail!(
                    "queue {} redrives to {}, which is not an {QUEUE_TYPE} of the template",
                    q.logical_id,
                    r.dead_letter_logical_id
                );
            }
        }
        // Fails on a redrive cycle.
        creation_order(&queues)?;

        Ok(Self { table, queues })
    }

    /// Parses the template bundled into this binary ([`TEMPLATE`]).
    pub fn bundled() -> Result<Self> {
        Self::from_template(TEMPLATE).context("parsing the bundled infra/template.yaml")
    }

    pub fn queue(&self, logical_id: &str) -> Option<&QueueDef> {
        self.queues.iter().find(|q| q.logical_id == logical_id)
    }
}

// ------------------------------------------------------------------ template parsing

/// `{}` when a resource has no Properties.
fn properties(resource: &Value) -> &Value {
    static EMPTY: Value = Value::Null;
    resource.get("Properties").unwrap_or(&EMPTY)
}

fn parameter_defaults(root: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    if let Some(params) = root.get("Parameters").and_then(Value::as_mapping) {
        for (name, p) in params {
            if let (Some(name), Some(default)) = (name.as_str(), p.get("Default")) {
                out.insert(name.to_owned(), default.clone());
            }
        }
    }
    out
}

/// The name of an intrinsic function, short (`!GetAtt`, as `Value::Tagged`) or long
/// (`{"Fn::GetAtt": ..}` / `{"Ref": ..}`), and its argument.
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = if name == "Ref" { "Ref".to_owned() } else { format!("Fn::{name}") };
            Some((name, &t.value))
        }
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k.starts_with("Fn::")).then(|| (k.to_owned(), arg))
        }
        _ => None,
    }
}

/// A scalar value as a string, resolving `!Ref Parameter` to the parameter's default.
fn scalar(v: &Value, params: &BTreeMap<String, Value>) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => match intrinsic(v) {
            Some((name, arg)) if name == "Ref" => {
                let p = arg.as_str().ok_or_else(|| anyhow!("!Ref argument is not a string"))?;
                let default = params.get(p).ok_or_else(|| anyhow!("!Ref {p}: not a parameter with a Default"))?;
                scalar(default, params)
            }
            Some((name, _)) => bail!("{name} is not supported here by the local stack"),
            None => bail!("expected a scalar, got {v:?}"),
        },
    }
}

fn req_str<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key).and_then(Value::as_str).ok_or_else(|| anyhow!("missing or non-string {key}"))
}

fn seq<'a>(v: &'a Value, key: &str) -> Result<&'a [Value]> {
    match v.get(key) {
        None => Ok(&[]),
        Some(Value::Sequence(s)) => Ok(s),
        Some(other) => bail!("{key} is not a list: {other:?}"),
    }
}

fn parse_key_schema(v: &Value) -> Result<Vec<KeyElement>> {
    let elements = seq(v, "KeySchema")?;
    if elements.is_empty() {
        bail!("missing KeySchema");
    }
    elements
        .iter()
        .map(|k| {
            Ok(KeyElement {
                attribute_name: req_str(k, "AttributeName")?.to_owned(),
                key_type: req_str(k, "KeyType")?.to_owned(),
            })
        })
        .collect()
}

fn parse_table(id: &str, props: &Value) -> Result<TableDef> {
    let attribute_definitions = seq(props, "AttributeDefinitions")?
        .iter()
        .map(|a| {
            Ok(AttributeDef {
                name: req_str(a, "AttributeName")?.to_owned(),
                attribute_type: req_str(a, "AttributeType")?.to_owned(),
            })
        })
        .collect::<Result<Vec<_>>>()
        .context("AttributeDefinitions")?;
    let key_schema = parse_key_schema(props)?;
    let global_secondary_indexes = seq(props, "GlobalSecondaryIndexes")?
        .iter()
        .map(|g| {
            let name = req_str(g, "IndexName")?.to_owned();
            let projection = g.get("Projection").ok_or_else(|| anyhow!("index {name}: missing Projection"))?;
            Ok(GsiDef {
                key_schema: parse_key_schema(g).with_context(|| format!("index {name}"))?,
                projection_type: projection.get("ProjectionType").and_then(Value::as_str).unwrap_or("ALL").to_owned(),
                non_key_attributes: seq(projection, "NonKeyAttributes")?
                    .iter()
                    .map(|a| a.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| anyhow!("index {name}: NonKeyAttributes must be strings"))?,
                name,
            })
        })
        .collect::<Result<Vec<_>>>()
        .context("GlobalSecondaryIndexes")?;
    let ttl_attribute = match props.get("TimeToLiveSpecification") {
        Some(ttl) if ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(false) => {
            Some(req_str(ttl, "AttributeName").context("TimeToLiveSpecification")?.to_owned())
        }
        _ => None,
    };

    let defined: BTreeSet<&str> = attribute_definitions.iter().map(|a| a.name.as_str()).collect();
    let keys = key_schema.iter().chain(global_secondary_indexes.iter().flat_map(|g| &g.key_schema));
    for k in keys {
        if !defined.contains(k.attribute_name.as_str()) {
            bail!("key attribute {} has no AttributeDefinition", k.attribute_name);
        }
    }

    Ok(TableDef {
        logical_id: id.to_owned(),
        attribute_definitions,
        key_schema,
        global_secondary_indexes,
        ttl_attribute,
    })
}

/// CloudFormation `AWS::SQS::Queue` properties that are SQS queue attributes of the same name. The KMS
/// ones are left out: the local stack has no KMS, and its queues hold test data only.
const QUEUE_ATTRIBUTE_PROPERTIES: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
];

fn parse_queue(id: &str, props: &Value, params: &BTreeMap<String, Value>) -> Result<QueueDef> {
    let mut attributes = BTreeMap::new();
    for &name in QUEUE_ATTRIBUTE_PROPERTIES {
        if let Some(v) = props.get(name) {
            attributes.insert(name.to_owned(), scalar(v, params).with_context(|| name.to_owned())?);
        }
    }
    let redrive = match props.get("RedrivePolicy") {
        None => None,
        Some(p) => Some(parse_redrive(p).context("RedrivePolicy")?),
    };
    Ok(QueueDef { logical_id: id.to_owned(), attributes, redrive })
}

fn parse_redrive(policy: &Value) -> Result<RedriveDef> {
    if policy.is_string() {
        bail!(
            "a JSON-string RedrivePolicy holds a literal ARN the local stack cannot map; \
             write it as a mapping with deadLetterTargetArn: !GetAtt <Queue>.Arn"
        );
    }
    let target = policy.get("deadLetterTargetArn").ok_or_else(|| anyhow!("missing deadLetterTargetArn"))?;
    let dead_letter_logical_id = get_att_arn(target).context("deadLetterTargetArn")?;
    let max = policy.get("maxReceiveCount").ok_or_else(|| anyhow!("missing maxReceiveCount"))?;
    let max_receive_count = match max {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| *n >= 1)
    .ok_or_else(|| anyhow!("maxReceiveCount must be a positive integer, got {max:?}"))?;
    Ok(RedriveDef { dead_letter_logical_id, max_receive_count })
}

/// `!GetAtt X.Arn`, `!GetAtt [X, Arn]`, `{"Fn::GetAtt": ..}` -> `X`.
fn get_att_arn(v: &Value) -> Result<String> {
    let Some((name, arg)) = intrinsic(v) else {
        bail!("expected !GetAtt <Queue>.Arn, got {v:?}");
    };
    if name != "Fn::GetAtt" {
        bail!("expected !GetAtt <Queue>.Arn, got {name}");
    }
    let (resource, attribute) = match arg {
        Value::String(s) => s.split_once('.').ok_or_else(|| anyhow!("!GetAtt {s}: expected <LogicalId>.Arn"))?,
        Value::Sequence(parts) if parts.len() == 2 => (
            parts[0].as_str().ok_or_else(|| anyhow!("!GetAtt: logical id is not a string"))?,
            parts[1].as_str().ok_or_else(|| anyhow!("!GetAtt: attribute is not a string"))?,
        ),
        other => bail!("!GetAtt: unexpected argument {other:?}"),
    };
    if attribute != "Arn" {
        bail!("!GetAtt {resource}.{attribute}: expected the Arn attribute");
    }
    Ok(resource.to_owned())
}

/// Queues ordered so that every dead-letter queue comes before the queues redriving to it.
fn creation_order(queues: &[QueueDef]) -> Result<Vec<&QueueDef>> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::with_capacity(queues.len());
    while order.len() < queues.len() {
        let before = order.len();
        for q in queues {
            if done.contains(q.logical_id.as_str()) {
                continue;
            }
            let ready = q.redrive.as_ref().is_none_or(|r| done.contains(r.dead_letter_logical_id.as_str()));
            if ready {
                done.insert(&q.logical_id);
                order.push(q);
            }
        }
        if order.len() == before {
            bail!("the queues' RedrivePolicy references form a cycle");
        }
    }
    Ok(order)
}

/// `UpdatesDeadLetterQueue` -> `updates-dead-letter-queue`.
fn kebab(logical_id: &str) -> String {
    let mut out = String::with_capacity(logical_id.len() + 4);
    let chars: Vec<char> = logical_id.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if prev_lower || (prev_upper && next_lower) {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The local queue name of a template queue: `<name_prefix><kebab-case logical id>[.fifo]`.
pub fn local_queue_name(name_prefix: &str, queue: &QueueDef) -> String {
    let mut name = format!("{name_prefix}{}", kebab(&queue.logical_id));
    if queue.is_fifo() {
        name.push_str(".fifo");
    }
    name
}

// ------------------------------------------------------------------ DynamoDB

fn key_type(k: &KeyElement) -> Result<KeyType> {
    match k.key_type.as_str() {
        "HASH" => Ok(KeyType::Hash),
        "RANGE" => Ok(KeyType::Range),
        other => bail!("unknown KeyType {other}"),
    }
}

fn key_schema(keys: &[KeyElement]) -> Result<Vec<KeySchemaElement>> {
    keys.iter()
        .map(|k| Ok(KeySchemaElement::builder().attribute_name(&k.attribute_name).key_type(key_type(k)?).build()?))
        .collect()
}

/// Creates the table `table_name` as the template describes it (keys, GSIs, on-demand
/// billing) and enables its TTL. Idempotent: an existing table with the same primary key is
/// accepted. Waits until the table and its indexes are ACTIVE.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, def: &StackDefinition, table_name: &str) -> Result<()> {
    let t = &def.table;
    let mut req = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(&t.key_schema)?));
    for a in &t.attribute_definitions {
        let ty = match a.attribute_type.as_str() {
            "S" => ScalarAttributeType::S,
            "N" => ScalarAttributeType::N,
            "B" => ScalarAttributeType::B,
            other => bail!("attribute {}: unknown AttributeType {other}", a.name),
        };
        req = req.attribute_definitions(
            DdbAttributeDefinition::builder().attribute_name(&a.name).attribute_type(ty).build()?,
        );
    }
    for g in &t.global_secondary_indexes {
        let projection_type = match g.projection_type.as_str() {
            "KEYS_ONLY" => ProjectionType::KeysOnly,
            "INCLUDE" => ProjectionType::Include,
            "ALL" => ProjectionType::All,
            other => bail!("index {}: unknown ProjectionType {other}", g.name),
        };
        let mut projection = Projection::builder().projection_type(projection_type);
        for a in &g.non_key_attributes {
            projection = projection.non_key_attributes(a);
        }
        req = req.global_secondary_indexes(
            DdbGsi::builder()
                .index_name(&g.name)
                .set_key_schema(Some(key_schema(&g.key_schema)?))
                .projection(projection.build())
                .build()?,
        );
    }

    match req.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {
            // Exists already: make sure it is the same table, not a stale one of another shape.
            let existing = client
                .describe_table()
                .table_name(table_name)
                .send()
                .await
                .with_context(|| format!("describing existing table {table_name}"))?;
            let existing_keys: Vec<(String, String)> = existing
                .table()
                .map(|t| t.key_schema())
                .unwrap_or_default()
                .iter()
                .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
                .collect();
            let wanted: Vec<(String, String)> =
                t.key_schema.iter().map(|k| (k.attribute_name.clone(), k.key_type.clone())).collect();
            if existing_keys != wanted {
                bail!(
                    "table {table_name} exists with key schema {existing_keys:?}, \
                     the template wants {wanted:?}"
                );
            }
        }
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("creating table {table_name}")));
        }
    }

    wait_table_active(client, table_name).await?;

    if let Some(attr) = &t.ttl_attribute {
        let current = client
            .describe_time_to_live()
            .table_name(table_name)
            .send()
            .await
            .with_context(|| format!("describing TTL of {table_name}"))?;
        let desc = current.time_to_live_description();
        let status = desc.and_then(|d| d.time_to_live_status());
        let current_attr = desc.and_then(|d| d.attribute_name());
        let enabled = matches!(status, Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
        if !(enabled && current_attr == Some(attr.as_str())) {
            client
                .update_time_to_live()
                .table_name(table_name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder().attribute_name(attr).enabled(true).build()?,
                )
                .send()
                .await
                .with_context(|| format!("enabling TTL on {table_name}.{attr}"))?;
        }
    }
    Ok(())
}

async fn wait_table_active(client: &aws_sdk_dynamodb::Client, table_name: &str) -> Result<()> {
    let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .with_context(|| format!("describing table {table_name}"))?;
        let table = out.table();
        let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        let indexes_active = table.is_some_and(|t| {
            t.global_secondary_indexes().iter().all(|g| g.index_status().is_none_or(|s| *s == IndexStatus::Active))
        });
        if table_active && indexes_active {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("table {table_name} not ACTIVE after {TABLE_ACTIVE_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------------ SQS

/// Creates every queue of the template, named `<name_prefix><kebab-case logical id>`
/// (e.g. `sellerbridge-updates-queue`), dead-letter queues first, then the queues redriving to
/// them with a `RedrivePolicy` naming the dead-letter queue's ARN. Idempotent: existing queues
/// are reused and their attributes set to the template's.
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    def: &StackDefinition,
    name_prefix: &str,
) -> Result<LocalQueues> {
    let mut urls: BTreeMap<String, String> = BTreeMap::new();
    let mut arns: BTreeMap<String, String> = BTreeMap::new();

    for q in creation_order(&def.queues)? {
        let name = local_queue_name(name_prefix, q);
        let mut attributes: Vec<(QueueAttributeName, String)> =
            q.attributes.iter().map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone())).collect();
        if let Some(r) = &q.redrive {
            let dlq_arn = arns
                .get(&r.dead_letter_logical_id)
                .ok_or_else(|| anyhow!("dead-letter queue {} not created", r.dead_letter_logical_id))?;
            let policy = serde_json::json!({
                "deadLetterTargetArn": dlq_arn,
                "maxReceiveCount": r.max_receive_count,
            });
            attributes.push((QueueAttributeName::RedrivePolicy, policy.to_string()));
        }

        let created = client
            .create_queue()
            .queue_name(&name)
            .set_attributes(Some(attributes.iter().cloned().collect()))
            .send()
            .await;
        let url = match created {
            Ok(out) => out.queue_url().ok_or_else(|| anyhow!("CreateQueue {name} returned no QueueUrl"))?.to_owned(),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_queue_name_exists()) => {
                // Exists with other attributes: reuse it and bring its attributes in line.
                let url = client
                    .get_queue_url()
                    .queue_name(&name)
                    .send()
                    .await
                    .with_context(|| format!("getting the URL of existing queue {name}"))?
                    .queue_url()
                    .ok_or_else(|| anyhow!("GetQueueUrl {name} returned no QueueUrl"))?
                    .to_owned();
                let settable: std::collections::HashMap<_, _> =
                    attributes.into_iter().filter(|(k, _)| *k != QueueAttributeName::FifoQueue).collect();
                client
                    .set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(settable))
                    .send()
                    .await
                    .with_context(|| format!("updating attributes of existing queue {name}"))?;
                url
            }
            Err(e) => {
                return Err(anyhow::Error::new(e).context(format!("creating queue {name}")));
            }
        };

        let arn = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .with_context(|| format!("getting the ARN of queue {name}"))?
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
            .ok_or_else(|| anyhow!("GetQueueAttributes {name} returned no QueueArn"))?;
        arns.insert(q.logical_id.clone(), arn);
        urls.insert(q.logical_id.clone(), url);
    }

    let get = |id: &str| urls.get(id).cloned().ok_or_else(|| anyhow!("the template has no queue {id}"));
    Ok(LocalQueues { updates_url: get(UPDATES_QUEUE_ID)?, updates_dlq_url: get(UPDATES_DLQ_ID)?, urls })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_table_keys_gsi_and_ttl() {
        let def = StackDefinition::bundled().unwrap();
        let t = &def.table;
        assert_eq!(t.logical_id, "Table");
        assert_eq!(t.key("HASH"), Some("pk"));
        assert_eq!(t.key("RANGE"), Some("sk"));
        assert_eq!(t.key_schema.len(), 2);
        for name in ["pk", "sk", "redaction_pk", "redaction_due_at", "awaiting_pk", "awaiting_sk"] {
            let a = t.attribute_definitions.iter().find(|a| a.name == name).unwrap();
            assert_eq!(a.attribute_type, "S", "{name}");
        }
        let gsi = t.gsi("by-redaction-due").expect("GSI by-redaction-due");
        assert_eq!(
            gsi.key_schema,
            vec![
                KeyElement { attribute_name: "redaction_pk".into(), key_type: "HASH".into() },
                KeyElement { attribute_name: "redaction_due_at".into(), key_type: "RANGE".into() },
            ]
        );
        // Buyer PII must never be copied into an index.
        for gsi in &t.global_secondary_indexes {
            assert_eq!(gsi.projection_type, "KEYS_ONLY", "{}", gsi.name);
            assert!(gsi.non_key_attributes.is_empty());
        }
        let awaiting = t.gsi("by-awaiting-shipment").expect("GSI by-awaiting-shipment");
        assert_eq!(awaiting.key_schema[0].attribute_name, "awaiting_pk");
        assert_eq!(t.global_secondary_indexes.len(), 2);
        assert_eq!(t.ttl_attribute.as_deref(), Some("expires_at"));
    }

    #[test]
    fn bundled_queue_and_dead_letter_queue() {
        let def = StackDefinition::bundled().unwrap();
        let q = def.queue(UPDATES_QUEUE_ID).expect("UpdatesQueue");
        assert_eq!(q.redrive, Some(RedriveDef { dead_letter_logical_id: UPDATES_DLQ_ID.into(), max_receive_count: 5 }));
        assert_eq!(q.attributes.get("VisibilityTimeout").map(String::as_str), Some("360"));
        assert!(!q.is_fifo());
        let dlq = def.queue(UPDATES_DLQ_ID).expect("UpdatesDeadLetterQueue");
        assert_eq!(dlq.redrive, None);
        assert_eq!(dlq.attributes.get("MessageRetentionPeriod").map(String::as_str), Some("1209600"));

        let order: Vec<&str> = creation_order(&def.queues).unwrap().iter().map(|q| q.logical_id.as_str()).collect();
        let dlq_pos = order.iter().position(|id| *id == UPDATES_DLQ_ID).unwrap();
        let q_pos = order.iter().position(|id| *id == UPDATES_QUEUE_ID).unwrap();
        assert!(dlq_pos < q_pos, "{order:?}");

        assert_eq!(local_queue_name("sb-", q), "sb-updates-queue");
        assert_eq!(local_queue_name("sb-", dlq), "sb-updates-dead-letter-queue");
    }

    const MINI: &str = r#"
Parameters:
  Vis:
    Type: Number
    Default: 45
Resources:
  T:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: S}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
  Main:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Vis
      FifoQueue: true
      RedrivePolicy:
        deadLetterTargetArn: {"Fn::GetAtt": [Dead, Arn]}
        maxReceiveCount: "3"
  Dead:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      QueueName: !Sub "${AWS::StackName}-dead.fifo"
"#;

    #[test]
    fn long_form_intrinsics_parameters_and_fifo() {
        let def = StackDefinition::from_template(MINI).unwrap();
        assert_eq!(def.table.ttl_attribute, None);
        assert!(def.table.global_secondary_indexes.is_empty());
        let main = def.queue("Main").unwrap();
        assert_eq!(main.attributes["VisibilityTimeout"], "45");
        assert_eq!(main.redrive, Some(RedriveDef { dead_letter_logical_id: "Dead".into(), max_receive_count: 3 }));
        assert_eq!(local_queue_name("x-", main), "x-main.fifo");
        let order: Vec<&str> = creation_order(&def.queues).unwrap().iter().map(|q| q.logical_id.as_str()).collect();
        assert_eq!(order, ["Dead", "Main"]);
    }

    #[test]
    fn rejects_unknown_dead_letter_queue_and_cycles() {
        let missing = MINI.replace("[Dead, Arn]", "[Nope, Arn]");
        let err = StackDefinition::from_template(&missing).unwrap_err();
        assert!(format!("{err:#}").contains("Nope"), "{err:#}");

        let cycle = MINI.replace(
            "      QueueName: !Sub \"${AWS::StackName}-dead.fifo\"",
            "      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt Main.Arn\n        maxReceiveCount: 2",
        );
        let err = StackDefinition::from_template(&cycle).unwrap_err();
        assert!(format!("{err:#}").contains("cycle"), "{err:#}");
    }

    #[test]
    fn rejects_key_without_attribute_definition() {
        let bad = MINI.replace("{AttributeName: id, KeyType: HASH}", "{AttributeName: other, KeyType: HASH}");
        let err = StackDefinition::from_template(&bad).unwrap_err();
        assert!(format!("{err:#}").contains("other"), "{err:#}");
    }

    #[test]
    fn kebab_case_names() {
        assert_eq!(kebab("UpdatesQueue"), "updates-queue");
        assert_eq!(kebab("SQSQueue2"), "sqs-queue2");
        assert_eq!(kebab("Dead"), "dead");
    }
}
