#!/usr/bin/env node
// The CDK app: one sellerbridge stack, named by `-c stackName=<name>` (default `sellerbridge`).
// Environment-agnostic like the SAM template: it deploys to the CLI's account and region.
import { App } from 'aws-cdk-lib';
import { SellerbridgeStack } from '../lib/sellerbridge-stack';

const app = new App();
new SellerbridgeStack(app, app.node.tryGetContext('stackName') ?? 'sellerbridge', {
  // `-c bundling=false` synthesises without cargo-lambda (the CLI refuses the framework's own
  // aws:cdk:bundling-stacks from its command line).
  skipBundling: String(app.node.tryGetContext('bundling')) === 'false',
  // `-c architecture=x86_64` builds the functions for x86_64 and makes that the Architecture parameter's
  // default (arm64 otherwise, as in the SAM template).
  architecture: app.node.tryGetContext('architecture') ?? 'arm64',
});
