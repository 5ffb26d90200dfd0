// Normalises a CloudFormation template (the SAM template once translated, or the CDK stack's) into a model
// that says what the stack declares and not how each tool spells it:
//
// - Intrinsics that build strings (Ref, Fn::GetAtt, Fn::Sub, Fn::Join) become strings with ${...}
//   placeholders, e.g. arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${UpdatesQueue.QueueName},
//   so SAM's Fn::Sub and CDK's Fn::Join of the same ARN are equal. Other intrinsics (Fn::If, ...) stay.
// - Functions are named by their binary (fn:order-sync) and their roles after them (role:order-sync); every
//   other resource by its logical id, which the CDK stack takes from the SAM template.
// - What belongs to a function is folded into it: its role (managed policies by name, and the sorted
//   (action, resource) pairs its inline and attached policies allow), its schedules, queue event sources and
//   invoke permissions. An HTTP API's routes, whether an OpenAPI body (SAM) or Route and Integration
//   resources (CDK), become `METHOD /path` -> function.
// - Defaults either tool may spell out are filled in (DeletionPolicy Delete, a rule's State ENABLED, a
//   route's AuthorizationType NONE, ...), lists whose order means nothing are sorted, a KMS key named by
//   id or by ARN is the same key, and the dashboard body is parsed. Each tool's own marks are dropped:
//   SAM's createdBy tags, CDK's bootstrap parameter and rule, the code's location, and resource metadata
//   other than each function's binary.

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export interface CfnResource {
  Type: string;
  Properties?: JsonObject;
  Metadata?: JsonObject;
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: Json;
}

export interface CfnTemplate {
  Parameters?: Record<string, JsonObject>;
  Conditions?: JsonObject;
  Mappings?: JsonObject;
  Rules?: JsonObject;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, JsonObject>;
}

/** The CDK bootstrap's parameter and rule (what `cdk bootstrap` must have deployed), not the stack's own. */
const CDK_BOOTSTRAP_PARAMETER = 'BootstrapVersion';
const CDK_BOOTSTRAP_RULE = 'CheckBootstrapVersion';
/** Tags SAM puts on what it generates. */
const SAM_TAGS = new Set(['lambda:createdBy', 'httpapi:createdBy']);
/** Properties naming a KMS key, which take its id or its ARN alike. */
const KEY_PROPERTIES = new Set(['KmsMasterKeyId', 'KMSMasterKeyId', 'KmsKeyId', 'TargetKeyId']);
/** Properties whose lists are sets. */
const UNORDERED = new Set([
  'AttributeDefinitions', 'GlobalSecondaryIndexes', 'Metrics', 'Dimensions', 'Queues', 'Subscription',
  'ManagedPolicyArns', 'FunctionResponseTypes', 'Architectures',
]);
/** Folded into the API model. */
const API_PARTS = new Set(['AWS::ApiGatewayV2::Route', 'AWS::ApiGatewayV2::Integration']);

const isObject = (v: Json | undefined): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const asList = (v: Json | undefined): Json[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const sorted = <T>(items: T[]): T[] => [...items].sort((a, b) => stable(a).localeCompare(stable(b)));
const without = (o: JsonObject | undefined, ...keys: string[]): JsonObject =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([k]) => !keys.includes(k)));

/** JSON with sorted keys: the form the models are compared in. */
export function stable(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (isObject(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
    : v), 2);
}

export class Normaliser {
  private readonly resources: Record<string, CfnResource>;
  /** Function logical id -> binary. */
  private readonly binaries = new Map<string, string>();
  /** Role logical id -> the binary of the function that runs as it. */
  private readonly roles = new Map<string, string>();

  constructor(private readonly template: CfnTemplate) {
    this.resources = template.Resources;
    for (const [id, resource] of this.ofType('AWS::Lambda::Function')) {
      const binary = (resource.Metadata?.BuildProperties as JsonObject | undefined)?.Binary;
      if (typeof binary !== 'string') {
        throw new Error(`function ${id} names no binary (Metadata.BuildProperties.Binary)`);
      }
      this.binaries.set(id, binary);
    }
    for (const [id, resource] of this.ofType('AWS::Lambda::Function')) {
      const role = resource.Properties?.Role;
      const roleId = isObject(role) && Array.isArray(role['Fn::GetAtt']) ? String(role['Fn::GetAtt'][0]) : undefined;
      if (roleId) this.roles.set(roleId, this.binaries.get(id)!);
    }
  }

  /** How the model names a resource (or a parameter, or a pseudo parameter). */
  name(id: string): string {
    const binary = this.binaries.get(id);
    if (binary) return `fn:${binary}`;
    const roleOf = this.roles.get(id);
    return roleOf ? `role:${roleOf}` : id;
  }

  /** A value with its references named as the model names them and its string intrinsics flattened. */
  flatten(v: Json | undefined): Json {
    return this.rewrite(v, false);
  }

  /** flatten(), and the model's equivalences: a key by id or ARN, sets sorted. */
  value(v: Json | undefined): Json {
    return this.rewrite(v, true);
  }

  private rewrite(v: Json | undefined, canonical: boolean): Json {
    if (v === undefined) return null;
    if (Array.isArray(v)) return v.map((item) => this.rewrite(item, canonical));
    if (!isObject(v)) return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [fn] = keys;
      const arg = v[fn];
      if (fn === 'Ref') return `\${${this.name(String(arg))}}`;
      if (fn === 'Fn::GetAtt') {
        const [id, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split(/\.(.*)/);
        return `\${${this.name(id)}.${attribute}}`;
      }
      if (fn === 'Fn::Sub') return this.sub(arg, canonical);
      if (fn === 'Fn::Join' && Array.isArray(arg) && Array.isArray(arg[1])) {
        const parts = arg[1].map((part) => this.rewrite(part, canonical));
        return parts.every((part) => typeof part === 'string') ? parts.join(String(arg[0])) : { [fn]: [arg[0], parts] };
      }
    }
    return Object.fromEntries(keys.map((key) => {
      let value = this.rewrite(v[key], canonical);
      if (canonical && KEY_PROPERTIES.has(key)) value = this.keyReference(value);
      if (canonical && UNORDERED.has(key) && Array.isArray(value)) value = sorted(value);
      return [key, value];
    }));
  }

  private sub(arg: Json, canonical: boolean): Json {
    const [text, variables] = Array.isArray(arg) ? [String(arg[0]), arg[1] as JsonObject] : [String(arg), {}];
    const parts: Json[] = [];
    let last = 0;
    for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
      parts.push(text.slice(last, match.index));
      const name = match[1];
      if (name.startsWith('!')) parts.push(`\${${name.slice(1)}}`);
      else if (name in variables) parts.push(this.rewrite(variables[name], canonical));
      else if (name.includes('.')) parts.push(this.rewrite({ 'Fn::GetAtt': name }, canonical));
      else parts.push(this.rewrite({ Ref: name }, canonical));
      last = match.index! + match[0].length;
    }
    parts.push(text.slice(last));
    return parts.every((part) => typeof part === 'string') ? parts.join('') : { 'Fn::Sub': parts };
  }

  /** `${Key.Arn}` -> `${Key}`, for a KMS key of this template. */
  private keyReference(value: Json): Json {
    const arn = typeof value === 'string' ? /^\$\{([^}.]+)\.Arn\}$/.exec(value) : null;
    return arn && this.resources[arn[1]]?.Type === 'AWS::KMS::Key' ? `\${${arn[1]}}` : value;
  }

  private ofType(type: string): [string, CfnResource][] {
    return Object.entries(this.resources).filter(([, resource]) => resource.Type === type);
  }

  /** The function a value names (by Ref, ARN or name), if it names one. */
  private functionIn(value: Json): string | undefined {
    const match = typeof value === 'string' ? /\$\{(fn:[^}.]+)(\.Arn)?\}/.exec(value) : null;
    return match?.[1];
  }

  /** Deletion and replacement policies (CloudFormation's default spelt out) and the resource's condition. */
  private lifecycle(resource: CfnResource): JsonObject {
    return {
      DeletionPolicy: resource.DeletionPolicy ?? 'Delete',
      UpdateReplacePolicy: resource.UpdateReplacePolicy ?? 'Delete',
      ...(resource.Condition ? { Condition: resource.Condition } : {}),
    };
  }

  /** Properties without SAM's own tags. */
  private properties(resource: CfnResource, ...drop: string[]): JsonObject {
    const properties = without(resource.Properties, ...drop);
    const tags = properties.Tags;
    if (Array.isArray(tags)) {
      const kept = tags.filter((tag) => !(isObject(tag) && SAM_TAGS.has(String(tag.Key))));
      if (kept.length) properties.Tags = kept; else delete properties.Tags;
    } else if (isObject(tags)) {
      const kept = without(tags, ...SAM_TAGS);
      if (Object.keys(kept).length) properties.Tags = kept; else delete properties.Tags;
    }
    return this.value(properties) as JsonObject;
  }

  /** A policy document with its statements' lists as sets and its statements in a stable order. */
  policyDocument(document: Json | undefined): Json {
    const doc = this.value(document);
    if (!isObject(doc)) return doc;
    return { ...doc, Statement: sorted(asList(doc.Statement).map((s) => this.statement(s))) };
  }

  private statement(statement: Json): Json {
    if (!isObject(statement)) return statement;
    if (Array.isArray(statement['Fn::If'])) {
      const [condition, then, otherwise] = statement['Fn::If'];
      return { 'Fn::If': [condition, this.statement(then), this.statement(otherwise)] };
    }
    const set = (v: Json) => sorted(asList(v));
    return Object.fromEntries(Object.entries(statement).map(([key, value]): [string, Json] => {
      if (/^(Not)?(Action|Resource)$/.test(key)) return [key, set(value)];
      if (/^(Not)?Principal$/.test(key) && isObject(value)) {
        return [key, Object.fromEntries(Object.entries(value).map(([k, v]) => [k, set(v)]))];
      }
      if (key === 'Condition' && isObject(value)) {
        return [key, Object.fromEntries(Object.entries(value).map(([operator, test]) => [operator,
          isObject(test) ? Object.fromEntries(Object.entries(test).map(([k, v]) => [k, set(v)])) : test]))];
      }
      return [key, value];
    }));
  }

  /** What an identity policy allows, one `Effect action on resource [if condition]` line a pair. */
  private permissions(document: Json | undefined): string[] {
    const doc = this.policyDocument(document);
    return asList(isObject(doc) ? doc.Statement : []).flatMap((statement) => {
      if (!isObject(statement) || !statement.Effect) return [`? ${stable(statement)}`];
      const condition = statement.Condition ? ` if ${JSON.stringify(statement.Condition)}` : '';
      return asList(statement.Action ?? statement.NotAction).flatMap((action) =>
        asList(statement.Resource ?? statement.NotResource).map((resource) =>
          `${statement.Effect} ${action} on ${resource}${condition}`));
    });
  }

  private managedPolicy(arn: Json): Json {
    return typeof arn === 'string' ? arn.replace(/^arn:(\$\{AWS::Partition\}|aws[\w-]*):iam::aws:policy\//, '') : arn;
  }

  model(): JsonObject {
    const resourceTypes: Record<string, number> = {};
    for (const resource of Object.values(this.resources)) {
      if (!API_PARTS.has(resource.Type)) resourceTypes[resource.Type] = (resourceTypes[resource.Type] ?? 0) + 1;
    }
    const folded = new Set<string>();
    const functions = this.functions(folded);
    const apis = this.apis(folded);
    return {
      parameters: this.value(without(this.template.Parameters as JsonObject, CDK_BOOTSTRAP_PARAMETER)),
      conditions: this.value(this.template.Conditions ?? {}),
      mappings: this.value(this.template.Mappings ?? {}),
      rules: this.value(without(this.template.Rules, CDK_BOOTSTRAP_RULE)),
      resourceTypes,
      functions,
      apis,
      resources: this.otherResources(folded),
      outputs: this.value(this.template.Outputs ?? {}),
    };
  }

  /** Each function, by binary, with its role, schedules, queue event sources and invoke permissions;
   *  adds the resources it folded in to `folded`. */
  private functions(folded: Set<string>): JsonObject {
    const functions = new Map<string, JsonObject>();
    for (const [id, resource] of this.ofType('AWS::Lambda::Function')) {
      folded.add(id);
      functions.set(`fn:${this.binaries.get(id)}`, {
        ...this.lifecycle(resource),
        ...this.properties(resource, 'Code', 'Role'),
        role: null,
        schedules: [],
        queues: [],
        invokedBy: [],
      });
    }
    const add = (fn: string | undefined, list: string, item: Json) => {
      const entry = fn ? functions.get(fn) : undefined;
      if (entry) entry[list] = sorted([...(entry[list] as Json[]), item]);
      return entry !== undefined;
    };

    // Roles, with the policies attached to them.
    const attached = new Map<string, string[]>();
    for (const [id, resource] of this.ofType('AWS::IAM::Policy')) {
      const roles = asList(resource.Properties?.Roles).map((role) => String(this.value(role)));
      if (!roles.every((role) => role.startsWith('${role:'))) continue;
      folded.add(id);
      for (const role of roles) {
        attached.set(role, [...(attached.get(role) ?? []), ...this.permissions(resource.Properties?.PolicyDocument)]);
      }
    }
    for (const [id, resource] of this.ofType('AWS::IAM::Role')) {
      const binary = this.roles.get(id);
      if (!binary) continue;
      folded.add(id);
      const inline = asList(resource.Properties?.Policies).flatMap((policy) =>
        this.permissions(isObject(policy) ? policy.PolicyDocument : undefined));
      functions.get(`fn:${binary}`)!.role = {
        ...this.lifecycle(resource),
        ...this.properties(resource, 'Policies', 'ManagedPolicyArns', 'AssumeRolePolicyDocument'),
        AssumeRolePolicyDocument: this.policyDocument(resource.Properties?.AssumeRolePolicyDocument),
        managedPolicies: sorted(asList(resource.Properties?.ManagedPolicyArns)
          .map((arn) => this.managedPolicy(this.value(arn)))),
        permissions: [...new Set([...inline, ...(attached.get(`\${role:${binary}}`) ?? [])])].sort(),
      };
    }

    // Event sources and invoke permissions.
    for (const [id, resource] of this.ofType('AWS::Events::Rule')) {
      const targets = asList(resource.Properties?.Targets).map((target) => this.value(target) as JsonObject);
      if (!targets.length || !targets.every((target) => this.functionIn(target.Arn))) continue;
      folded.add(id);
      for (const target of targets) {
        add(this.functionIn(target.Arn), 'schedules', {
          State: 'ENABLED', ...this.properties(resource, 'Targets'), target: without(target, 'Id', 'Arn'),
        });
      }
    }
    for (const [type, list, defaults] of [
      ['AWS::Lambda::EventSourceMapping', 'queues', { Enabled: true }],
      ['AWS::Lambda::Permission', 'invokedBy', {}],
    ] as const) {
      for (const [id, resource] of this.ofType(type)) {
        const fn = this.functionIn(this.value(resource.Properties?.FunctionName));
        if (add(fn, list, { ...defaults, ...this.properties(resource, 'FunctionName') })) folded.add(id);
      }
    }
    return Object.fromEntries([...functions].map(([fn, entry]) => [fn.slice('fn:'.length), entry]));
  }

  /** Each HTTP API with its stages and routes (`METHOD /path` -> integration); adds what it folded in to
   *  `folded`. */
  private apis(folded: Set<string>): JsonObject {
    const apis: JsonObject = {};
    for (const [id, resource] of this.ofType('AWS::ApiGatewayV2::Api')) {
      folded.add(id);
      const ofThisApi = ([, part]: [string, CfnResource]) => this.value(part.Properties?.ApiId) === `\${${id}}`;
      const body = resource.Properties?.Body as JsonObject | undefined;
      const routes: JsonObject = {};
      // SAM: an OpenAPI body. Anything in it besides the routes' integrations (authorizers, CORS, ...) stays,
      // so that a CDK stack without it differs.
      for (const [routePath, methods] of Object.entries((body?.paths ?? {}) as JsonObject)) {
        for (const [method, operation] of Object.entries(methods as JsonObject)) {
          const integration = (operation as JsonObject)['x-amazon-apigateway-integration'] as JsonObject;
          routes[`${method.toUpperCase()} ${routePath}`] = {
            AuthorizationType: 'NONE',
            ...this.value(without(operation as JsonObject,
              'x-amazon-apigateway-integration', 'responses', 'parameters')) as JsonObject,
            ...this.integration(Object.fromEntries(Object.entries(integration).map(([key, value]) => [
              { type: 'IntegrationType', httpMethod: 'IntegrationMethod', uri: 'IntegrationUri' }[key]
                ?? key[0].toUpperCase() + key.slice(1),
              key === 'type' ? String(value).toUpperCase() : value,
            ]))),
          };
        }
      }
      // CDK: Route and Integration resources.
      const integrations = new Map(this.ofType('AWS::ApiGatewayV2::Integration').filter(ofThisApi));
      for (const [routeId, route] of this.ofType('AWS::ApiGatewayV2::Route').filter(ofThisApi)) {
        folded.add(routeId);
        const target = /^integrations\/\$\{([^}]+)\}$/.exec(String(this.value(route.Properties?.Target)))?.[1];
        const integration = target ? integrations.get(target) : undefined;
        if (integration) folded.add(target!);
        routes[String(route.Properties?.RouteKey)] = {
          AuthorizationType: 'NONE',
          ...this.properties(route, 'ApiId', 'RouteKey', ...(integration ? ['Target'] : [])),
          ...(integration ? this.integration(without(integration.Properties, 'ApiId')) : {}),
        };
      }
      const stages = this.ofType('AWS::ApiGatewayV2::Stage').filter(ofThisApi).map(([stageId, stage]) => {
        folded.add(stageId);
        return { ...this.lifecycle(stage), ...this.properties(stage, 'ApiId') };
      });
      apis[id] = {
        ...this.lifecycle(resource),
        ...this.properties(resource, 'Body', 'Name', 'ProtocolType'),
        ...this.value(without(body, 'paths', 'info', 'openapi', 'tags')) as JsonObject,
        name: this.value(resource.Properties?.Name ?? (body?.info as JsonObject | undefined)?.title),
        protocol: resource.Properties?.ProtocolType ?? (body ? 'HTTP' : null),
        routes,
        stages: sorted(stages),
      };
    }
    return apis;
  }

  /** An integration's properties, its function named rather than its URI. */
  private integration(properties: JsonObject): JsonObject {
    const integration = this.value(properties) as JsonObject;
    const { IntegrationUri: uri, ...rest } = integration;
    // Lambda is invoked with POST whatever the route's method: SAM spells it out, CDK does not.
    if (rest.IntegrationType === 'AWS_PROXY' && rest.IntegrationMethod === 'POST') delete rest.IntegrationMethod;
    return { ...rest, function: this.functionIn(uri) ?? uri };
  }

  /** Every resource not folded into a function or an API, by logical id. */
  private otherResources(folded: Set<string>): JsonObject {
    const resources: JsonObject = {};
    for (const [id, resource] of Object.entries(this.resources)) {
      if (folded.has(id)) continue;
      const properties = this.properties(resource);
      for (const key of ['KeyPolicy', 'PolicyDocument']) {
        if (key in properties) properties[key] = this.policyDocument(resource.Properties?.[key]);
      }
      if (resource.Type === 'AWS::CloudWatch::Dashboard' && typeof properties.DashboardBody === 'string') {
        properties.DashboardBody = JSON.parse(properties.DashboardBody);
      }
      resources[id] = { Type: resource.Type, ...this.lifecycle(resource), Properties: properties };
    }
    return resources;
  }
}

/** The model of a template: see the top of this file. */
export function normalise(template: CfnTemplate): JsonObject {
  return new Normaliser(template).model();
}
