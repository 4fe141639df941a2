//! Checks of infra/template.yaml that cfn-lint does not make (it does not look inside
//! `AWS::Serverless::Function` for a wrong runtime or architecture), and a cfn-lint run.
//!
//! The template is read with serde_yaml, where CloudFormation's short tags (`!Ref`, `!GetAtt`,
//! `!Sub`, `!If`, …) become tagged values; the helpers below also accept the long forms
//! (`Fn::GetAtt`, `Ref`).

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use ledgerpost_aws::AwsSettings;
use ledgerpost_aws_tests::{venv_bin, workspace_root};
use serde_yaml::Value;

/// The functions and the folder cargo-lambda builds each into (`target/lambda/<binary>/`).
const FUNCTIONS: &[(&str, &str)] = &[
    ("IngestFunction", "ingest"),
    ("MatchLinesFunction", "match-lines"),
    ("JournalFunction", "journal"),
    ("SendBatchFunction", "send-batch"),
    ("ActionsFunction", "actions"),
];

/// Every action a role may be granted: what the adapters call, and nothing else.
const ALLOWED_ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "ses:SendEmail",
    "ses:SendRawEmail",
];

/// Actions that AWS authorises only on `Resource: "*"` (for instance `xray:PutTraceSegments`
/// or `cloudwatch:PutMetricData`), which an Allow statement may therefore grant on "*". None
/// is used today; add one here, with the reason, if a function ever needs it. Deny statements
/// may use wildcards freely: they only take permissions away (the bucket policy denies plain
/// HTTP for `s3:*` on the bucket).
const ONLY_ON_ANY_RESOURCE: &[&str] = &[];

fn template() -> Value {
    let path = workspace_root().join("infra").join("template.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_yaml::from_str(&text).expect("infra/template.yaml is YAML")
}

fn resources(template: &Value) -> &serde_yaml::Mapping {
    template["Resources"].as_mapping().expect("a Resources mapping")
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(template)
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .map(|(id, resource)| (id.as_str().unwrap().to_owned(), resource))
        .collect()
}

/// The name of a short tag, `Ref` for `!Ref`.
fn tag(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            Some((tagged.tag.to_string().trim_start_matches('!').to_owned(), &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, inner) = map.iter().next()?;
            let key = key.as_str()?;
            let name = key.strip_prefix("Fn::").or((key == "Ref").then_some("Ref"))?;
            Some((name.to_owned(), inner))
        }
        _ => None,
    }
}

/// The logical id an `!GetAtt X.Arn` / `!GetAtt [X, Arn]` points at.
fn get_att_target(value: &Value) -> Option<String> {
    let (name, inner) = tag(value)?;
    if name != "GetAtt" {
        return None;
    }
    match inner {
        Value::String(text) => text.split('.').next().map(str::to_owned),
        Value::Sequence(parts) => parts.first()?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// A function's properties with the template's `Globals.Function` underneath.
fn function_properties(template: &Value, function: &Value) -> serde_yaml::Mapping {
    let mut merged = template["Globals"]["Function"].as_mapping().cloned().unwrap_or_default();
    for (key, value) in function["Properties"].as_mapping().expect("function properties") {
        merged.insert(key.clone(), value.clone());
    }
    merged
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Sequence(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_function_is_an_arm64_custom_runtime_built_by_cargo_lambda() {
    let template = template();
    let functions = resources_of_type(&template, "AWS::Serverless::Function");
    let ids: BTreeSet<&str> = functions.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, FUNCTIONS.iter().map(|(id, _)| *id).collect());
    for (id, function) in &functions {
        let props = function_properties(&template, function);
        assert_eq!(props.get("Runtime").and_then(Value::as_str), Some("provided.al2023"), "{id}");
        assert_eq!(props.get("Architectures").map(strings), Some(vec!["arm64"]), "{id}");
        assert_eq!(props.get("Handler").and_then(Value::as_str), Some("bootstrap"), "{id}");
        let binary = FUNCTIONS.iter().find(|(name, _)| name == id).unwrap().1;
        assert_eq!(
            props.get("CodeUri").and_then(Value::as_str),
            Some(format!("../target/lambda/{binary}/").as_str()),
            "{id}"
        );
    }
}

#[test]
fn every_sqs_event_source_reports_batch_item_failures_and_outlives_its_function() {
    let template = template();
    let mut sources = 0;
    for (id, function) in resources_of_type(&template, "AWS::Serverless::Function") {
        let props = function_properties(&template, function);
        let timeout = props.get("Timeout").and_then(Value::as_u64).expect("a timeout");
        let Some(events) = props.get("Events").and_then(Value::as_mapping) else { continue };
        for (name, event) in events {
            if event["Type"] != "SQS" {
                continue;
            }
            sources += 1;
            let types = strings(&event["Properties"]["FunctionResponseTypes"]);
            assert_eq!(types, ["ReportBatchItemFailures"], "{id}.{name:?}: failed messages would be dropped");
            let queue = get_att_target(&event["Properties"]["Queue"]).expect("the queue as !GetAtt X.Arn");
            let visibility = resources(&template)[queue.as_str()]["Properties"]["VisibilityTimeout"]
                .as_u64()
                .expect("a visibility timeout");
            // Lambda refuses a visibility timeout under the function timeout, and advises six times.
            assert!(visibility >= 6 * timeout, "{queue}: visibility {visibility}s for a {timeout}s function");
        }
    }
    assert_eq!(sources, 3, "ingest, match-lines and journal consume queues");
}

#[test]
fn every_queue_has_a_dead_letter_queue() {
    let template = template();
    let queues: BTreeMap<String, &Value> =
        resources_of_type(&template, "AWS::SQS::Queue").into_iter().collect();
    let mut dead_letter_queues = BTreeSet::new();
    for (id, queue) in &queues {
        let policy = &queue["Properties"]["RedrivePolicy"];
        if policy.is_null() {
            continue;
        }
        let target =
            get_att_target(&policy["deadLetterTargetArn"]).expect("deadLetterTargetArn as !GetAtt X.Arn");
        assert!(queues.contains_key(&target), "{id}: {target} is not a queue of this template");
        assert!(!policy["maxReceiveCount"].is_null(), "{id}: no maxReceiveCount");
        assert!(queues[&target]["Properties"]["RedrivePolicy"].is_null(), "{target} is a DLQ with a DLQ");
        assert!(dead_letter_queues.insert(target.clone()), "{target} serves two queues");
    }
    for id in queues.keys() {
        let source = !queues[id]["Properties"]["RedrivePolicy"].is_null();
        assert!(source || dead_letter_queues.contains(id), "{id} has no dead-letter queue and is none");
    }
    assert_eq!(dead_letter_queues.len(), 3);
}

/// Every policy statement in the template (function policies, queue and bucket policies, any
/// IAM resource), with where it was found.
fn statements(value: &Value, path: &str, found: &mut Vec<(String, Value)>) {
    match value {
        Value::Mapping(map) => {
            for (key, inner) in map {
                let key = key.as_str().unwrap_or("?");
                if key == "Statement" {
                    match inner {
                        Value::Sequence(items) => {
                            found.extend(items.iter().map(|s| (path.to_owned(), s.clone())));
                        }
                        other => found.push((path.to_owned(), other.clone())),
                    }
                } else {
                    statements(inner, &format!("{path}.{key}"), found);
                }
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| statements(item, path, found)),
        Value::Tagged(tagged) => statements(&tagged.value, path, found),
        _ => {}
    }
}

/// The resource texts of a statement: plain strings and `!Sub` templates, both branches of an
/// `!If`; `!GetAtt`/`!Ref` name a single resource and are fine as they are.
fn resource_texts(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Sequence(items) => items.iter().for_each(|item| resource_texts(item, out)),
        other => match tag(other) {
            Some((name, inner)) if name == "Sub" => match inner {
                Value::Sequence(parts) => resource_texts(&parts[0], out),
                inner => resource_texts(inner, out),
            },
            Some((name, Value::Sequence(parts))) if name == "If" => {
                parts.iter().skip(1).for_each(|branch| resource_texts(branch, out));
            }
            Some((name, _)) if name == "GetAtt" || name == "Ref" => {}
            _ => panic!("unexpected resource value {other:?}"),
        },
    }
}

/// Whether a resource text is narrower than "everything": no `*` except as the last segment
/// of a path under a named prefix (`…/inbox/*`, `…/index/*`).
fn is_narrow(resource: &str) -> bool {
    match resource.find('*') {
        None => true,
        Some(position) => {
            position + 1 == resource.len() && resource[..position].ends_with('/') && position > 1 && {
                let prefix = &resource[..position - 1];
                !prefix.ends_with(':') && !prefix.contains('*')
            }
        }
    }
}

#[test]
fn no_policy_grants_every_action_or_every_resource() {
    let template = template();
    let mut found = Vec::new();
    statements(&template, "", &mut found);
    assert!(found.len() >= 20, "found only {} statements", found.len());
    for (path, statement) in &found {
        assert!(
            statement["NotAction"].is_null() && statement["NotResource"].is_null(),
            "{path}: Not* grants too much"
        );
        if statement["Effect"] == "Deny" {
            continue;
        }
        assert_eq!(statement["Effect"], "Allow", "{path}");
        let actions = strings(&statement["Action"]);
        assert!(!actions.is_empty(), "{path}: {statement:?}");
        for action in &actions {
            assert!(!action.contains('*'), "{path}: wildcard action {action}");
        }
        // Statements with a Principal are resource policies (queue policy): the resource is the
        // policy's own resource, checked like any other.
        let mut resources = Vec::new();
        resource_texts(&statement["Resource"], &mut resources);
        for resource in &resources {
            if resource == "*" {
                for action in &actions {
                    assert!(ONLY_ON_ANY_RESOURCE.contains(action), "{path}: {action} on Resource \"*\"");
                }
            } else {
                assert!(is_narrow(resource), "{path}: resource {resource:?} is too broad");
            }
        }
        if statement["Principal"].is_null() {
            for action in &actions {
                assert!(
                    ALLOWED_ACTIONS.contains(action),
                    "{path}: {action} is not an action the adapters use"
                );
            }
        }
    }
}

#[test]
fn resource_narrowness_rule() {
    assert!(is_narrow("arn:${AWS::Partition}:s3:::${BucketName}/inbox/*"));
    assert!(is_narrow("${Table.Arn}/index/*"));
    assert!(!is_narrow("*"));
    assert!(!is_narrow("arn:aws:s3:::*"));
    assert!(!is_narrow("arn:aws:s3:::bucket/*/x"));
    assert!(!is_narrow("arn:aws:sqs:eu-west-1:1:*"));
}

#[test]
fn functions_read_exactly_the_settings_the_adapters_need() {
    let template = template();
    let variables = template["Globals"]["Function"]["Environment"]["Variables"].as_mapping().unwrap();
    let names: BTreeSet<&str> = variables.keys().filter_map(Value::as_str).collect();
    let expected = [
        AwsSettings::BUCKET,
        AwsSettings::TABLE,
        AwsSettings::INGEST_QUEUE,
        AwsSettings::MATCH_QUEUE,
        AwsSettings::JOURNAL_QUEUE,
        AwsSettings::SENDER,
        AwsSettings::SES_CONFIGURATION_SET,
    ];
    assert_eq!(names, expected.into_iter().collect());
}

#[test]
fn the_table_matches_the_store_adapter() {
    let template = template();
    let [(_, table)] = resources_of_type(&template, "AWS::DynamoDB::Table").try_into().unwrap();
    let props = &table["Properties"];
    assert_eq!(props["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    let key = |schema: &Value| -> Vec<(String, String)> {
        schema
            .as_sequence()
            .unwrap()
            .iter()
            .map(|k| (k["AttributeName"].as_str().unwrap().into(), k["KeyType"].as_str().unwrap().into()))
            .collect()
    };
    assert_eq!(key(&props["KeySchema"]), [("pk".into(), "HASH".into()), ("sk".into(), "RANGE".into())]);
    let indexes = props["GlobalSecondaryIndexes"].as_sequence().unwrap();
    assert_eq!(indexes.len(), 3);
    for (n, index) in (1..=3).zip(indexes) {
        assert_eq!(index["IndexName"], format!("gsi{n}").as_str());
        assert_eq!(
            key(&index["KeySchema"]),
            [(format!("gsi{n}pk"), "HASH".into()), (format!("gsi{n}sk"), "RANGE".into())]
        );
        assert_eq!(index["Projection"]["ProjectionType"], "ALL");
    }
    for definition in props["AttributeDefinitions"].as_sequence().unwrap() {
        assert_eq!(definition["AttributeType"], "S");
    }
}

#[test]
fn the_inbox_notifies_the_ingest_queue_which_lets_s3_send() {
    let template = template();
    let [(_, bucket)] = resources_of_type(&template, "AWS::S3::Bucket").try_into().unwrap();
    let configurations =
        bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"].as_sequence().unwrap();
    let [configuration] = configurations.as_slice() else { panic!("one queue notification") };
    assert_eq!(configuration["Event"], "s3:ObjectCreated:*");
    assert_eq!(configuration["Filter"]["S3Key"]["Rules"][0]["Name"], "prefix");
    assert_eq!(configuration["Filter"]["S3Key"]["Rules"][0]["Value"], "inbox/");
    assert_eq!(get_att_target(&configuration["Queue"]).as_deref(), Some("IngestQueue"));
    assert!(strings(&bucket["DependsOn"]).contains(&"IngestQueuePolicy"), "S3 validates the destination");

    let policy = &resources(&template)["IngestQueuePolicy"]["Properties"];
    let statement = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(statement["Principal"]["Service"], "s3.amazonaws.com");
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(get_att_target(&statement["Resource"]).as_deref(), Some("IngestQueue"));
    assert!(!statement["Condition"]["ArnLike"]["aws:SourceArn"].is_null(), "only our bucket may send");
}

#[test]
fn send_batch_runs_daily_and_sends_only_as_the_sender_identity() {
    let template = template();
    let props = function_properties(&template, &resources(&template)["SendBatchFunction"]);
    let events = props.get("Events").and_then(Value::as_mapping).unwrap();
    let [(_, event)] = events.iter().collect::<Vec<_>>().try_into().unwrap();
    assert_eq!(event["Type"], "Schedule");
    let mut found = Vec::new();
    statements(&Value::Mapping(props.clone()), "SendBatchFunction", &mut found);
    let ses: Vec<_> =
        found.iter().filter(|(_, s)| strings(&s["Action"]).iter().any(|a| a.starts_with("ses:"))).collect();
    let [(_, statement)] = ses.as_slice() else { panic!("one SES statement") };
    let mut resources = Vec::new();
    resource_texts(&statement["Resource"], &mut resources);
    assert!(resources[0].ends_with(":identity/${SenderIdentity}"), "{resources:?}");
    // No other function may send e-mail.
    for (id, _) in FUNCTIONS.iter().filter(|(id, _)| *id != "SendBatchFunction") {
        let mut found = Vec::new();
        statements(&resources_of(&template, id), id, &mut found);
        assert!(
            found.iter().all(|(_, s)| strings(&s["Action"]).iter().all(|a| !a.starts_with("ses:"))),
            "{id}"
        );
    }
}

fn resources_of(template: &Value, id: &str) -> Value {
    resources(template)[id].clone()
}

#[test]
fn cfn_lint_finds_no_error() {
    let template = workspace_root().join("infra").join("template.yaml");
    let output = Command::new(venv_bin("cfn-lint")).arg(&template).output().expect("run cfn-lint");
    let code = output.status.code().expect("cfn-lint exited");
    let report =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    // cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational; anything else
    // (1, or a signal) means it could not lint at all.
    assert_eq!(code & !(2 | 4 | 8), 0, "cfn-lint failed to run ({code}):\n{report}");
    assert_eq!(code & 2, 0, "cfn-lint found errors:\n{report}");
    if code != 0 {
        eprintln!("cfn-lint warnings:\n{report}");
    }
}
