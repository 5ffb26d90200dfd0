//! A stack "deployed" from infra/template.yaml into moto's CloudFormation, and a Lambda service in front
//! of the real function binaries, so the operator CLI can be run against a stack as it is in AWS: named,
//! found through its outputs, its sync invoked.
//!
//! moto cannot run SAM's transform or Lambda functions, so the template is deployed without them: every
//! `AWS::Serverless::*` resource stands as an SSM parameter named `<stack>-<logical id>`, which keeps
//! each `!Ref` to it (outputs, alarms) resolving to a name; [`LambdaService`] then answers invocations
//! of those names with the real binaries. Nor does moto's CloudFormation create secrets: those are made
//! through Secrets Manager first, and the template refers to them by ARN.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use aws_sdk_cloudformation::types::{Parameter, StackStatus};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use serde_yaml::{Mapping, Value};

use crate::runtime_api::RuntimeApi;

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The template as moto's CloudFormation can create it: no transform, no globals, a stand-in for each
/// serverless resource, and each secret (which moto's CloudFormation does not create) made beforehand
/// through Secrets Manager by `create_secret`, every `!Ref` to it replaced by its ARN.
pub async fn moto_deployable<F, Fut>(template: &str, create_secret: F) -> Result<String>
where
    F: Fn(String, Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    let mut template: Value = serde_yaml::from_str(template).context("parsing the template")?;
    let root = template.as_mapping_mut().context("the template is a mapping")?;
    root.remove("Transform");
    root.remove("Globals");
    let resources = root.get_mut("Resources").and_then(Value::as_mapping_mut).context("no Resources")?;
    let mut secret_arns = BTreeMap::new();
    let mut secrets = Vec::new();
    for (logical_id, resource) in resources.iter_mut() {
        let logical_id = logical_id.as_str().context("a logical id")?.to_owned();
        match resource.get("Type").and_then(Value::as_str) {
            Some(kind) if kind.starts_with("AWS::Serverless::") => *resource = stand_in(&logical_id),
            Some("AWS::SecretsManager::Secret") => {
                let initial = resource["Properties"].get("SecretString").and_then(Value::as_str).map(str::to_owned);
                secrets.push(logical_id.clone());
                secret_arns.insert(logical_id.clone(), create_secret(logical_id, initial).await?);
            }
            _ => {}
        }
    }
    for logical_id in secrets {
        resources.remove(logical_id.as_str());
    }
    replace_refs(&mut template, &secret_arns);
    Ok(serde_yaml::to_string(&template)?)
}

/// Replaces `!Ref ID` (and `{Ref: ID}`) by the value `values` gives ID.
fn replace_refs(value: &mut Value, values: &BTreeMap<String, String>) {
    let replacement = match &*value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().and_then(|id| values.get(id)),
        Value::Mapping(mapping) if mapping.len() == 1 => {
            mapping.get("Ref").and_then(Value::as_str).and_then(|id| values.get(id))
        }
        _ => None,
    };
    if let Some(replacement) = replacement {
        *value = Value::String(replacement.clone());
        return;
    }
    match value {
        Value::Mapping(mapping) => mapping.values_mut().for_each(|v| replace_refs(v, values)),
        Value::Sequence(sequence) => sequence.iter_mut().for_each(|v| replace_refs(v, values)),
        Value::Tagged(tagged) => replace_refs(&mut tagged.value, values),
        _ => {}
    }
}

fn stand_in(logical_id: &str) -> Value {
    let mut sub = Mapping::new();
    sub.insert("Fn::Sub".into(), format!("${{AWS::StackName}}-{logical_id}").into());
    let mut properties = Mapping::new();
    properties.insert("Name".into(), Value::Mapping(sub));
    properties.insert("Type".into(), "String".into());
    properties.insert("Value".into(), format!("stands in for {logical_id}").into());
    let mut resource = Mapping::new();
    resource.insert("Type".into(), "AWS::SSM::Parameter".into());
    resource.insert("Properties".into(), Value::Mapping(properties));
    Value::Mapping(resource)
}

/// Creates stack `name` from infra/template.yaml (made [`moto_deployable`], its secrets created in
/// `secrets` as `<name>/<logical id>`, with the template's value or a generated one) and waits until it
/// is created; its outputs by key.
pub async fn deploy_template(
    cloudformation: &aws_sdk_cloudformation::Client,
    secrets: &aws_sdk_secretsmanager::Client,
    name: &str,
    parameters: &[(&str, &str)],
) -> Result<BTreeMap<String, String>> {
    let body = moto_deployable(TEMPLATE, |logical_id, initial| async move {
        let value = initial.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let created = secrets.create_secret().name(format!("{name}/{logical_id}")).secret_string(value).send().await?;
        created.arn().map(str::to_owned).context("the created secret's ARN")
    })
    .await?;
    create_stack(cloudformation, name, &body, parameters).await
}

/// Creates stack `name` from `body` and waits until it is created; its outputs by key.
pub async fn create_stack(
    cloudformation: &aws_sdk_cloudformation::Client,
    name: &str,
    body: &str,
    parameters: &[(&str, &str)],
) -> Result<BTreeMap<String, String>> {
    cloudformation
        .create_stack()
        .stack_name(name)
        .template_body(body)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(key, value)| Parameter::builder().parameter_key(*key).parameter_value(*value).build())
                .collect(),
        ))
        .send()
        .await
        .with_context(|| format!("creating stack {name}"))?;
    for _ in 0..600 {
        let described = cloudformation.describe_stacks().stack_name(name).send().await?;
        let stack = described.stacks().first().context("the stack just created")?;
        match stack.stack_status() {
            Some(StackStatus::CreateComplete) => {
                return Ok(stack
                    .outputs()
                    .iter()
                    .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
                    .collect());
            }
            Some(StackStatus::CreateInProgress) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => bail!("stack {name} is {other:?}: {}", stack.stack_status_reason().unwrap_or_default()),
        }
    }
    bail!("stack {name} was not created within a minute")
}

/// The Lambda service's Invoke API on 127.0.0.1, running each named function's real binary through
/// its own [`RuntimeApi`]: what `AWS_ENDPOINT_URL_LAMBDA` points the CLI at.
pub struct LambdaService {
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

type Functions = Arc<BTreeMap<String, RuntimeApi>>;

impl LambdaService {
    pub async fn start(functions: BTreeMap<String, RuntimeApi>) -> Self {
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(Arc::new(functions));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the Lambda service");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Self { url, server }
    }
}

impl Drop for LambdaService {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// As Lambda answers a synchronous invocation: 200 with the function's result, or with its error and
/// `X-Amz-Function-Error`; 404 `ResourceNotFoundException` for a function that does not exist.
async fn invoke(
    State(functions): State<Functions>,
    Path(name): Path<String>,
    body: String,
) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    let Some(function) = functions.get(&name) else {
        headers.insert("x-amzn-errortype", HeaderValue::from_static("ResourceNotFoundException"));
        let message = format!("Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}");
        return (StatusCode::NOT_FOUND, headers, serde_json::json!({"Type": "User", "Message": message}).to_string());
    };
    let event = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    match function.invoke(event).await {
        Ok(result) => (StatusCode::OK, headers, result.to_string()),
        Err(error) => {
            headers.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            (StatusCode::OK, headers, error.to_string())
        }
    }
}
