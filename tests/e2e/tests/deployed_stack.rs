//! The operator CLI against a deployed stack: infra/template.yaml deployed into moto's CloudFormation
//! (its table, queues, key and secrets created for real), the CLI binary finding everything through the
//! stack's outputs, and "sync now" invoking the real order-sync binary behind a Lambda Invoke API.
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use sellerbridge_cli::local::demo::SandboxInspector;
use sellerbridge_cli::local::stack::sdk_config;
use sellerbridge_cli::target::Target;
use sellerbridge_e2e::deployed::{LambdaService, create_stack, deploy_template};
use sellerbridge_e2e::runtime_api::{Profile, RuntimeApi, binary, spawn_function};
use sellerbridge_e2e::{REFRESH_TOKEN, SandboxThread, actionable, sandbox};
use spapi_sandbox::SandboxConfig;

struct Deployed {
    sandbox: SandboxThread,
    moto: String,
    name: String,
    outputs: BTreeMap<String, String>,
    cloudformation: aws_sdk_cloudformation::Client,
    /// An empty home: no AWS config files, so no profile but those a test writes.
    home: std::path::PathBuf,
}

async fn deployed(orders: usize) -> Deployed {
    let sandbox = SandboxThread::start(SandboxConfig { ..sandbox(orders, 7, 1.0) });
    let moto = std::env::var("SELLERBRIDGE_MOTO_ENDPOINT").expect("run the tests with `make test` (moto)");
    let sdk = sdk_config(&moto).await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let name = format!("sb-{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let spapi = sandbox.region_urls.iter().map(|(region, url)| format!("{region}={url}")).collect::<Vec<_>>();
    let lwa = format!("{}/auth/o2/token", sandbox.url);
    let outputs = deploy_template(
        &cloudformation,
        &aws_sdk_secretsmanager::Client::new(&sdk),
        &name,
        &[("SpApiEndpoint", &spapi.join(",")), ("LwaEndpoint", &lwa)],
    )
    .await
    .expect("the template deploys");
    let home = std::env::temp_dir().join(format!("sellerbridge-home-{name}"));
    std::fs::create_dir_all(&home).unwrap();
    Deployed { sandbox, moto, name, outputs, cloudformation, home }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Deployed {
    /// Runs `sellerbridge` as an operator would, with `args` after `--stack <name>` (unless they name
    /// their own stack) and `stdin` on standard input; the Lambda service at `lambda`.
    fn cli(&self, args: &[&str], stdin: &str, lambda: Option<&str>) -> Run {
        let mut command = Command::new(binary("sellerbridge", Profile::Debug));
        if !args.contains(&"--stack") {
            command.args(["--stack", &self.name]);
        }
        let mut child = command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "operator")
            .env("AWS_SECRET_ACCESS_KEY", "operator")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", &self.moto)
            .env("AWS_ENDPOINT_URL_LAMBDA", lambda.unwrap_or("http://127.0.0.1:9"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the CLI starts");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn ok(&self, args: &[&str], stdin: &str, lambda: Option<&str>) -> String {
        let run = self.cli(args, stdin, lambda);
        assert_eq!(run.code, 0, "sellerbridge {args:?} failed: {}", run.stderr);
        run.stdout
    }

    /// A plain-words failure: exit code 1, one line on standard error.
    fn fails(&self, args: &[&str], lambda: Option<&str>) -> String {
        let run = self.cli(args, "", lambda);
        assert_eq!(run.code, 1, "sellerbridge {args:?} should fail: {} {}", run.stdout, run.stderr);
        assert_eq!(run.stderr.trim().lines().count(), 1, "one line: {}", run.stderr);
        run.stderr
    }

    /// The sync function as the template deploys it: its environment is what the stack's outputs and
    /// parameters say (the Globals of infra/template.yaml), its AWS the stack's.
    async fn sync_function(&self) -> (BTreeMap<String, RuntimeApi>, tokio::process::Child) {
        self.sync_function_with(&[]).await
    }

    /// [`Self::sync_function`] with some of its variables changed.
    async fn sync_function_with(
        &self,
        changed: &[(&'static str, &str)],
    ) -> (BTreeMap<String, RuntimeApi>, tokio::process::Child) {
        let target = Target::at(sdk_config(&self.moto).await, Some(&self.name)).await.expect("the stack");
        let mut env: Vec<(&str, String)> = target.settings().unwrap().to_env();
        env.retain(|(name, _)| !changed.iter().any(|(changed, _)| changed == name));
        env.extend(changed.iter().map(|(name, value)| (*name, (*value).to_owned())));
        env.extend([
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "function-role".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "function-role".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("AWS_ENDPOINT_URL", self.moto.clone()),
        ]);
        let api = RuntimeApi::start().await;
        let process = spawn_function("order-sync", &api, &env);
        (BTreeMap::from([(self.outputs["OrderSyncFunctionName"].clone(), api)]), process)
    }
}

impl Drop for Deployed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

// The CLI runs as a blocking child process while this runtime serves its Lambda calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_deployed_from_the_template_is_operated_by_name_and_its_sync_invoked() {
    let d = deployed(12).await;
    let seller = SandboxConfig::default().seller_id;
    let import_from = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();

    d.ok(
        &["app", "set-credentials"],
        r#"{"client_id":"sandbox-client-id","client_secret":"sandbox-client-secret"}"#,
        None,
    );
    d.ok(
        &["connections", "add", "--id", "us-main", "--seller-id", &seller, "--import-from", &import_from],
        REFRESH_TOKEN,
        None,
    );

    // The refresh token lives under the stack's own prefix, the only secrets its functions may read.
    let connection: serde_json::Value =
        serde_json::from_str(&d.ok(&["connections", "show", "--id", "us-main"], "", None)).unwrap();
    let prefix = &d.outputs["ConnectionSecretPrefix"];
    assert_eq!(prefix, &format!("sellerbridge/{}/connections/", d.name));
    assert_eq!(connection["refresh_token_secret_id"], format!("{prefix}us-main"));

    // "sync now" invokes the deployed function (the real binary, with the stack's environment).
    let (functions, _process) = d.sync_function().await;
    let lambda = LambdaService::start(functions).await;
    let report: serde_json::Value =
        serde_json::from_str(&d.ok(&["sync-now", "--connection", "us-main"], "", Some(&lambda.url))).unwrap();
    let imported = &report["connections"][0];
    assert_eq!(imported["connection_id"], "us-main", "{report}");
    let orders = SandboxInspector::new(&d.sandbox.url).orders().await.unwrap();
    let to_ship = actionable(&orders);
    assert!(!to_ship.is_empty());
    assert!(imported["inserted"].as_u64().unwrap() >= to_ship.len() as u64, "{report}");

    // What it imported is in the stack's table, as `sellerbridge order` reads it.
    let order_id = to_ship.iter().next().unwrap();
    let order: serde_json::Value = serde_json::from_str(&d.ok(&["order", order_id], "", None)).unwrap();
    assert_eq!(order["order_id"], order_id.as_str(), "{order}");
    assert_eq!(order["connection_id"], "us-main", "{order}");

    // `--here` runs the same sync on this machine: the orders are there already, none is imported twice.
    let again: serde_json::Value =
        serde_json::from_str(&d.ok(&["sync-now", "--here", "--connection", "us-main"], "", None)).unwrap();
    assert_eq!(again["connections"][0]["inserted"], 0, "{again}");

    // The updates dead-letter queue is found through the outputs too.
    let redriven = d.ok(&["redrive"], "", None);
    assert!(redriven.starts_with("0 updates moved"), "{redriven}");
}

// The CLI runs as a blocking child process while this runtime serves its Lambda calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stack_profile_output_or_connection_is_one_plain_line_and_changes_nothing() {
    let d = deployed(0).await;
    let lambda = LambdaService::start(BTreeMap::new()).await;

    let stack = d.fails(&["--stack", "no-such-stack", "connections", "list"], None);
    assert!(stack.contains("no stack named no-such-stack in us-east-1"), "{stack}");

    let profile = d.fails(&["--profile", "nobody", "connections", "list"], None);
    assert!(profile.contains("AWS profile 'nobody' is not in ~/.aws/config"), "{profile}");

    let connection = d.fails(&["sync-now", "--connection", "ghost"], Some(&lambda.url));
    assert!(connection.contains("no connection ghost in this stack"), "{connection}");

    let region = d.fails(
        &[
            "connections",
            "add",
            "--id",
            "de-main",
            "--seller-id",
            "A1SELLER",
            "--marketplace-id",
            "A1PA6795UKMFR9",
            "--region",
            "NA",
        ],
        None,
    );
    assert!(region.contains("served from the EU region, not NA"), "{region}");

    // A stack from an older template lacks outputs; one changed by hand may hold anything.
    let older = format!("{}-older", d.name);
    let queue = "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n";
    create_stack(&d.cloudformation, &older, &format!("{queue}Outputs:\n  TableName:\n    Value: t\n"), &[])
        .await
        .unwrap();
    let missing = d.fails(&["--stack", &older, "connections", "list"], None);
    assert!(missing.contains(&format!("stack {older} has no output UpdatesQueueUrl")), "{missing}");
    let edited = format!("{}-edited", d.name);
    let outputs = "Outputs:\n  TableName:\n    Value: t\n  UpdatesQueueUrl:\n    Value: my-queue\n";
    create_stack(&d.cloudformation, &edited, &format!("{queue}{outputs}"), &[]).await.unwrap();
    let malformed = d.fails(&["--stack", &edited, "connections", "list"], None);
    assert!(malformed.contains("UpdatesQueueUrl is 'my-queue', which is not an http(s) URL"), "{malformed}");

    // A sync that fails in the deployed function: its own message, one line, exit 1.
    let (functions, _process) = d.sync_function_with(&[("SELLERBRIDGE_TABLE", "no-such-table")]).await;
    let broken = LambdaService::start(functions).await;
    let failed = d.fails(&["sync-now"], Some(&broken.url));
    assert!(failed.contains(&format!("the sync function {}-OrderSyncFunction failed", d.name)), "{failed}");
    assert!(failed.contains("ResourceNotFoundException"), "the function's own error: {failed}");

    // Nothing was added by the refused commands.
    let listed = d.ok(&["connections", "list"], "", None);
    assert!(listed.trim().is_empty(), "{listed}");
}
