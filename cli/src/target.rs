//! What the operator's commands work on. `--stack NAME` (with `--profile` and `--aws-region`) finds a
//! stack deployed with SAM or CDK and reads its CloudFormation outputs and parameters; without it, the
//! SELLERBRIDGE_* variables describe the stack (the local one, or a deployed one whose outputs were
//! exported). Both end in the same values, keyed by the variable that names each, so every command reads
//! them one way, and a value the stack lacks is an error that says which output and what to do.
use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_cloudformation::types::StackStatus;
use sellerbridge_core::runtime::Settings;

use crate::ops::ConnectionSecrets;

/// Which stack, as the operator named it.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub stack: Option<String>,
    pub profile: Option<String>,
    pub region: Option<String>,
}

/// Where a value of a deployed stack is found.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Output(&'static str),
    Parameter(&'static str),
}

/// What a value must look like; a stack changed by hand can hold anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Name,
    Url,
    Arn,
    /// A parameter that may be empty (the functions then use Amazon's hosts).
    Optional,
}

struct Entry {
    variable: &'static str,
    origin: Origin,
    shape: Shape,
}

pub const CONNECTION_SECRET_PREFIX: &str = "SELLERBRIDGE_CONNECTION_SECRET_PREFIX";
pub const DATA_KEY: &str = "SELLERBRIDGE_DATA_KEY_ID";
pub const UPDATES_DLQ_URL: &str = "SELLERBRIDGE_UPDATES_DLQ_URL";
pub const OUTBOUND_DLQ_URL: &str = "SELLERBRIDGE_OUTBOUND_DLQ_URL";
pub const NOTIFICATIONS_QUEUE_ARN: &str = "SELLERBRIDGE_NOTIFICATIONS_QUEUE_ARN";
pub const SYNC_FUNCTION: &str = "SELLERBRIDGE_SYNC_FUNCTION";

/// Every value the CLI reads, the variable that carries it without `--stack`, and where the template
/// (infra/template.yaml, and the CDK app, which the equivalence test keeps identical) puts it.
const ENTRIES: &[Entry] = &[
    Entry { variable: Settings::TABLE, origin: Origin::Output("TableName"), shape: Shape::Name },
    Entry { variable: Settings::UPDATES_QUEUE_URL, origin: Origin::Output("UpdatesQueueUrl"), shape: Shape::Url },
    Entry { variable: Settings::OUTBOUND_QUEUE_URL, origin: Origin::Output("OutboundQueueUrl"), shape: Shape::Url },
    Entry { variable: Settings::LWA_SECRET_ID, origin: Origin::Output("LwaAppSecretArn"), shape: Shape::Arn },
    Entry {
        variable: Settings::WEBHOOK_SECRET_ID,
        origin: Origin::Output("WebhookSigningSecretArn"),
        shape: Shape::Arn,
    },
    Entry {
        variable: Settings::SHOPIFY_SECRET_ID,
        origin: Origin::Output("ShopifyWebhookSecretArn"),
        shape: Shape::Arn,
    },
    Entry { variable: Settings::SPAPI_ENDPOINT, origin: Origin::Parameter("SpApiEndpoint"), shape: Shape::Optional },
    Entry { variable: Settings::LWA_ENDPOINT, origin: Origin::Parameter("LwaEndpoint"), shape: Shape::Url },
    Entry { variable: CONNECTION_SECRET_PREFIX, origin: Origin::Output("ConnectionSecretPrefix"), shape: Shape::Name },
    Entry { variable: DATA_KEY, origin: Origin::Output("DataKeyArn"), shape: Shape::Arn },
    Entry { variable: UPDATES_DLQ_URL, origin: Origin::Output("UpdatesDeadLetterQueueUrl"), shape: Shape::Url },
    Entry { variable: OUTBOUND_DLQ_URL, origin: Origin::Output("OutboundDeadLetterQueueUrl"), shape: Shape::Url },
    Entry { variable: NOTIFICATIONS_QUEUE_ARN, origin: Origin::Output("NotificationsQueueArn"), shape: Shape::Arn },
    Entry { variable: SYNC_FUNCTION, origin: Origin::Output("OrderSyncFunctionName"), shape: Shape::Name },
];

/// The stack outputs the CLI reads, each with the variable it stands for.
pub fn outputs_read() -> impl Iterator<Item = (&'static str, &'static str)> {
    ENTRIES.iter().filter_map(|entry| match entry.origin {
        Origin::Output(output) => Some((entry.variable, output)),
        Origin::Parameter(_) => None,
    })
}

/// The stack's names, as the functions' environment would carry them.
#[derive(Debug, Clone)]
enum Source {
    Stack { name: String, region: String },
    Environment,
}

/// A stack the commands work on, with the AWS configuration to reach it.
pub struct Target {
    source: Source,
    values: BTreeMap<&'static str, String>,
    pub sdk: SdkConfig,
}

impl Target {
    /// The stack `selection` names (its outputs read from CloudFormation), or the one the environment
    /// describes. Fails with the fix when the profile, region or stack cannot be found or an output is
    /// malformed; nothing is changed.
    pub async fn resolve(selection: &Selection) -> Result<Self> {
        Self::at(sdk_config(selection).await?, selection.stack.as_deref()).await
    }

    /// The stack named `stack` as `sdk` reaches it, or without a name the one the environment describes.
    pub async fn at(sdk: SdkConfig, stack: Option<&str>) -> Result<Self> {
        let Some(name) = stack else {
            let values = ENTRIES
                .iter()
                .filter_map(|entry| Some((entry.variable, std::env::var(entry.variable).ok()?)))
                .collect();
            return Ok(Self { source: Source::Environment, values, sdk });
        };
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        let source = Source::Stack { name: name.to_owned(), region };
        let values = describe(&aws_sdk_cloudformation::Client::new(&sdk), &source).await?;
        let target = Self { source, values, sdk };
        for entry in ENTRIES {
            if let Some(value) = target.values.get(entry.variable) {
                target.check_shape(entry, value)?;
            }
        }
        Ok(target)
    }

    /// "stack X in REGION", or "the stack the SELLERBRIDGE_* variables describe".
    pub fn describe(&self) -> String {
        match &self.source {
            Source::Stack { name, region } => format!("stack {name} in {region}"),
            Source::Environment => "the stack the SELLERBRIDGE_* variables describe".to_owned(),
        }
    }

    /// One value, or what to do because the stack does not have it.
    pub fn value(&self, variable: &str) -> Result<&str> {
        self.values.get(variable).map(String::as_str).ok_or_else(|| anyhow!(self.missing(variable)))
    }

    pub fn optional(&self, variable: &str) -> Option<&str> {
        self.values.get(variable).map(String::as_str).filter(|value| !value.trim().is_empty())
    }

    pub fn settings(&self) -> Result<Settings> {
        Settings::from_lookup(|variable| self.values.get(variable).cloned(), |variable| self.missing(variable))
            .map_err(|e| anyhow!("{e}"))
    }

    /// Where the connections keep their refresh tokens: the stack's own prefix, which is all its
    /// functions may read.
    pub fn connection_secrets(&self) -> Result<ConnectionSecrets> {
        let prefix = self.value(CONNECTION_SECRET_PREFIX)?;
        let secrets = ConnectionSecrets::new(prefix).with_context(|| self.describe())?;
        Ok(secrets.encrypted_with(self.optional(DATA_KEY)))
    }

    fn missing(&self, variable: &str) -> String {
        let entry = ENTRIES.iter().find(|entry| entry.variable == variable);
        match (&self.source, entry.map(|entry| entry.origin)) {
            (Source::Stack { name, .. }, Some(Origin::Output(output))) => format!(
                "stack {name} has no output {output}: it was deployed from an older template; deploy the current \
                 infra/template.yaml (sam deploy) or CDK app to it, then try again"
            ),
            (Source::Stack { name, .. }, Some(Origin::Parameter(parameter))) => format!(
                "stack {name} has no parameter {parameter}: deploy the current infra/template.yaml (sam deploy) \
                 or CDK app to it, then try again"
            ),
            (Source::Environment, Some(Origin::Output(output))) => format!(
                "{variable} is not set: name a deployed stack with --stack (and --profile), or set {variable} to \
                 the stack's {output} output"
            ),
            _ => format!("{variable} is not set: name a deployed stack with --stack (and --profile)"),
        }
    }

    fn check_shape(&self, entry: &Entry, value: &str) -> Result<()> {
        let well_formed = match entry.shape {
            Shape::Optional => true,
            Shape::Name => !value.trim().is_empty() && !value.contains(char::is_whitespace),
            Shape::Url => url::Url::parse(value).is_ok_and(|url| matches!(url.scheme(), "http" | "https")),
            Shape::Arn => value.starts_with("arn:") && value.split(':').count() >= 6,
        };
        if well_formed {
            return Ok(());
        }
        let (Origin::Output(what) | Origin::Parameter(what)) = entry.origin;
        bail!(
            "{}: {what} is '{value}', which is not {}: the stack was changed outside its template; deploy \
             infra/template.yaml (sam deploy) or the CDK app to it again",
            self.describe(),
            entry.shape.expected()
        )
    }
}

impl Shape {
    fn expected(self) -> &'static str {
        match self {
            Shape::Name => "a name",
            Shape::Url => "an http(s) URL",
            Shape::Arn => "an ARN",
            Shape::Optional => "a value",
        }
    }
}

/// The AWS configuration for `selection`: its profile (which must exist) and region (which must be
/// known: from `--aws-region`, the environment or the profile).
async fn sdk_config(selection: &Selection) -> Result<SdkConfig> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = selection.profile.as_deref() {
        ensure_profile_exists(profile).await?;
        loader = loader.profile_name(profile);
    }
    if let Some(region) = selection.region.as_deref() {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let sdk = loader.load().await;
    if selection.stack.is_some() && sdk.region().is_none() {
        bail!(
            "no AWS region: pass --aws-region (the region the stack was deployed to), or set AWS_REGION or the \
             profile's region"
        );
    }
    Ok(sdk)
}

async fn ensure_profile_exists(profile: &str) -> Result<()> {
    use aws_runtime::env_config::file::EnvConfigFiles;
    use aws_types::os_shim_internal::{Env, Fs};
    let profiles = aws_config::profile::load(&Fs::real(), &Env::real(), &EnvConfigFiles::default(), None)
        .await
        .with_context(|| format!("reading the AWS config files for profile {profile}"))?;
    if profiles.get_profile(profile).is_none() {
        bail!(
            "AWS profile '{profile}' is not in ~/.aws/config or ~/.aws/credentials: create it (aws configure \
             --profile {profile}, or aws configure sso) or name another with --profile"
        );
    }
    Ok(())
}

/// The stack's outputs and parameters, keyed by the variables they stand for.
async fn describe(
    cloudformation: &aws_sdk_cloudformation::Client,
    source: &Source,
) -> Result<BTreeMap<&'static str, String>> {
    let Source::Stack { name, region } = source else { unreachable!("only a named stack is described") };
    let described = cloudformation.describe_stacks().stack_name(name).send().await.map_err(|e| {
        let message = e.message().unwrap_or_default().to_owned();
        match e.code() {
            Some("ValidationError") if message.contains("does not exist") => anyhow!(
                "no stack named {name} in {region}: check --stack, and --aws-region or --profile (the region it \
                 was deployed to); `aws cloudformation list-stacks` lists them"
            ),
            Some(code) if code.contains("AccessDenied") || code.contains("NotAuthorized") => anyhow!(
                "this AWS identity may not read stack {name} ({code}: {message}): use a profile allowed the \
                 operator's actions (docs/security.md#operators)"
            ),
            Some("ExpiredToken" | "ExpiredTokenException") => {
                anyhow!("the AWS credentials have expired: sign in again (aws sso login, or new keys)")
            }
            _ => anyhow!("reading stack {name} in {region}: {}", DisplayErrorContext(&e)),
        }
    })?;
    let stack = described.stacks().first().with_context(|| format!("no stack named {name} in {region}"))?;
    if let Some(status) = stack.stack_status().filter(|status| !usable(status)) {
        bail!("stack {name} is {status}: wait until its deployment ends (or fix and deploy it again), then try again");
    }
    let outputs: BTreeMap<&str, &str> = stack
        .outputs()
        .iter()
        .filter_map(|output| Some((output.output_key()?, output.output_value().unwrap_or_default())))
        .collect();
    let parameters: BTreeMap<&str, &str> = stack
        .parameters()
        .iter()
        .filter_map(|parameter| Some((parameter.parameter_key()?, parameter.parameter_value().unwrap_or_default())))
        .collect();
    Ok(ENTRIES
        .iter()
        .filter_map(|entry| {
            let value = match entry.origin {
                Origin::Output(output) => outputs.get(output),
                Origin::Parameter(parameter) => parameters.get(parameter),
            }?;
            Some((entry.variable, (*value).to_owned()))
        })
        .collect())
}

/// A stack whose resources exist and whose outputs can be trusted: any but one being created, rolled
/// back from its creation or deleted. An update in progress keeps the outputs the functions use now, so
/// an urgent command (a redaction, a removal) need not wait for a long deployment.
fn usable(status: &StackStatus) -> bool {
    !matches!(
        status,
        StackStatus::CreateInProgress
            | StackStatus::CreateFailed
            | StackStatus::RollbackInProgress
            | StackStatus::RollbackFailed
            | StackStatus::RollbackComplete
            | StackStatus::DeleteInProgress
            | StackStatus::DeleteFailed
            | StackStatus::DeleteComplete
            | StackStatus::ReviewInProgress
    )
}

/// An error as one line with its causes, and the fix when it is one an operator meets often.
pub fn one_line(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    let hint = if text.contains("docs/security.md") {
        None
    } else if text.contains("AccessDenied") || text.contains("not authorized") {
        Some(
            "this AWS identity lacks a permission the command needs: use a profile allowed the operator's actions (docs/security.md#operators)",
        )
    } else if text.contains("dispatch failure") || text.contains("error trying to connect") {
        Some("AWS could not be reached: check the network, the region and any AWS_ENDPOINT_URL setting")
    } else if text.contains("no credentials") || text.contains("credentials provider") {
        Some("no AWS credentials: pass --profile, or sign in (aws sso login, aws configure)")
    } else {
        None
    };
    let text = text.replace('\n', " ");
    match hint {
        Some(hint) => format!("{text} ({hint})"),
        None => text,
    }
}
