//! What the whole-flow tests share: the deployment of infra/template.yaml on moto_server, the
//! pipeline built as the function binaries build it, the delivery of queue messages to the
//! handlers as Lambda's SQS event source mapping delivers them, and the sent e-mails read back.
//!
//! - [`Deployment::new`] creates the bucket (notifying the ingest queue of `s3:ObjectCreated:*`
//!   under the template's prefix), the three stage queues with their dead-letter queues, the
//!   template's `maxReceiveCount` and visibility timeouts, the table (`pk`/`sk`, gsi1..gsi3) and
//!   the SES sender; puts the configuration at `config/ledgerpost.toml` and the text rules under
//!   `imports/` (imported through the actions function); and starts the pipeline with
//!   `ledgerpost_lambda::aws::pipeline`, as `functions/*/src/main.rs` do.
//! - [`Deployment::deliver_once`] receives up to ten messages, wraps them as an `SqsEvent`
//!   (`messageId`, `receiptHandle`, `body`, `attributes`, `md5OfBody`, `eventSourceARN`, …),
//!   invokes the handler in process and deletes what it did not list in `batchItemFailures`.
//!   Nothing is filtered by hand: S3's `s3:TestEvent` goes to the ingest handler too.
//! - [`SentEmail`] parses what moto's SES recorded (`GET /moto-api/data.json` → `ses.RawMessage`).

// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use ledgerpost_aws_tests::{REGION, TestEnv, workspace_root};
use ledgerpost_domain::ids::AdministrationId;
use ledgerpost_lambda::{Pipeline, SqsBatchResponse, SqsEvent};
use ledgerpost_pipeline::repository::{InvoiceRecord, StatusKey};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::{Value, json};

/// The corpus of real UBL files beside the repository.
pub fn corpus(relative: &str) -> Vec<u8> {
    let path = workspace_root().join("../shared/corpus/ubl").join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("corpus file {} is missing: {e}", path.display()))
}

/// A corpus file with its invoice number (the first `<cbc:ID>`, BT-1) replaced: another invoice
/// of the same parties.
pub fn renumbered(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).expect("a UTF-8 corpus file");
    let from = format!("<cbc:ID>{from}</cbc:ID>");
    assert!(text.contains(&from), "the corpus file has no {from}");
    text.replacen(&from, &format!("<cbc:ID>{to}</cbc:ID>"), 1).into_bytes()
}

pub const EXAMPLE1: &str = "valid/en16931__ubl-examples__ubl-tc434-example1.xml";
pub const EXAMPLE2: &str = "valid/en16931__ubl-examples__ubl-tc434-example2.xml";
pub const PEPPOL_BASE: &str = "valid/peppol-bis3__examples__base-example.xml";
pub const VAT_Z: &str = "valid/peppol-bis3__examples__vat-category-Z.xml";
pub const BR_CO_10: &str = "invalid/en16931__Invoice-unit-UBL__BR-CO-10__test8.xml";

/// Three administrations the corpus invoices name as they are (the idea of the reliability
/// harness): `koksmaat` (NL8200.98.395.B.01) sells in EN 16931 example 1, `nordic`
/// (NO123456789MVA) sells in example 2 (which embeds a PDF), `buyer-as` (SE4598375937) buys in
/// the Peppol BIS examples. Every other party is a stranger. Sales go out as XML and PDF,
/// purchases as XML only. `{from}` is the deployment's sender, `{sales_cap}` the cap of sales
/// e-mails per run.
pub const CONFIG: &str = r#"
[[administrations]]
id = "koksmaat"
name = "De Koksmaat"
vat_ids = ["NL8200.98.395.B.01"]
[administrations.accounts]
payables = "1600"
receivables = "1300"
goods_received_clearing = "1610"
obligations = "1620"
default_expense = "4999"
default_revenue = "8000"
rounding = "4990"
prepayments = "1650"
input_vat = { rates = { "21" = "1510", "6" = "1511" }, fallback = "1519" }
output_vat = { rates = { "21" = "1520", "6" = "1521" }, fallback = "1529" }

[[administrations]]
id = "buyer-as"
name = "Buyer AS"
vat_ids = ["SE4598375937"]
[administrations.accounts]
payables = "2400"
receivables = "1500"
goods_received_clearing = "2410"
obligations = "2420"
default_expense = "6999"
default_revenue = "3000"
rounding = "6990"
prepayments = "1650"
input_vat = { rates = { "25" = "2640" }, fallback = "2649" }
output_vat = { rates = { "25" = "2610" }, fallback = "2619" }

[[administrations]]
id = "nordic"
name = "Nordic Seller AS"
vat_ids = ["NO123456789MVA"]
[administrations.accounts]
payables = "2400"
receivables = "1500"
goods_received_clearing = "2410"
obligations = "2420"
default_expense = "6999"
default_revenue = "3000"
rounding = "6990"
prepayments = "1650"
input_vat = { rates = { "25" = "2640" }, fallback = "2649" }
output_vat = { rates = { "25" = "2610" }, fallback = "2619" }

[export]
from = "{from}"
send_rate = 1000
[export.attachments]
sales = "both"
purchases = "xml"
[export.max_emails_per_run]
sales = {sales_cap}
purchases = 50
[export.addresses]
sales = "sales@books.example"
credit_notes = "credits@books.example"
purchases = "purchases@books.example"
reports = "reports@firm.example"
"#;

pub const SALES_TO: &str = "sales@books.example";
pub const PURCHASES_TO: &str = "purchases@books.example";
pub const REPORTS_TO: &str = "reports@firm.example";

/// A text rule that codes both lines of the Peppol base example (supplier GB1232434, "item
/// name"), so that the purchase is matched, journaled and sent without a person.
pub const RULES: &str = "administration,supplier,search_text,account,vat_group,cost_centre,project\n\
                     buyer-as,GB1232434,item name,6100,H25,KITCHEN,\n";

/// The three queue consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Function {
    Ingest,
    MatchLines,
    Journal,
}

impl Function {
    pub const ALL: [Function; 3] = [Function::Ingest, Function::MatchLines, Function::Journal];

    /// The queue's logical id in infra/template.yaml.
    pub fn template_queue(self) -> &'static str {
        match self {
            Function::Ingest => "IngestQueue",
            Function::MatchLines => "MatchQueue",
            Function::Journal => "JournalQueue",
        }
    }

    pub async fn invoke(self, pipeline: &Pipeline, event: SqsEvent) -> SqsBatchResponse {
        match self {
            Function::Ingest => ledgerpost_lambda::ingest(pipeline, event).await,
            Function::MatchLines => ledgerpost_lambda::match_lines(pipeline, event).await,
            Function::Journal => ledgerpost_lambda::journal(pipeline, event).await,
        }
    }
}

/// One stage queue as deployed.
pub struct StageQueue {
    pub url: String,
    pub arn: String,
    pub dead_letter_url: String,
}

/// What the template says about the resources the tests create.
pub struct Template {
    pub max_receive_count: u32,
    /// The bucket notification: event and key prefix.
    pub notification_event: String,
    pub notification_prefix: String,
    pub visibility_timeouts: HashMap<&'static str, String>,
}

pub fn template() -> Template {
    let path = workspace_root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path).expect("read infra/template.yaml");
    let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("infra/template.yaml is YAML");
    let max_receive_count = yaml["Parameters"]["MaxReceiveCount"]["Default"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .expect("MaxReceiveCount has a default");
    let queue_config = &yaml["Resources"]["DocumentBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        [0];
    let notification_event = queue_config["Event"].as_str().expect("the notification's event").to_owned();
    let rule = &queue_config["Filter"]["S3Key"]["Rules"][0];
    assert_eq!(rule["Name"].as_str(), Some("prefix"), "the notification filters on a prefix");
    let notification_prefix = rule["Value"].as_str().expect("the notification's prefix").to_owned();
    let visibility_timeouts = Function::ALL
        .iter()
        .map(|f| {
            let timeout = &yaml["Resources"][f.template_queue()]["Properties"]["VisibilityTimeout"];
            let seconds =
                timeout.as_u64().unwrap_or_else(|| panic!("{} has a VisibilityTimeout", f.template_queue()));
            (f.template_queue(), seconds.to_string())
        })
        .collect();
    Template { max_receive_count, notification_event, notification_prefix, visibility_timeouts }
}

/// The deployed resources, the pipeline as a function binary builds it, and what was delivered.
pub struct Deployment {
    pub env: TestEnv,
    pub pipeline: Pipeline,
    pub queues: BTreeMap<Function, StageQueue>,
    /// Ingest messages naming objects (every message but S3's test event), handled so far.
    pub object_messages: usize,
    /// S3 test events handed to the ingest handler.
    pub test_events: usize,
    /// The bodies of every ingest message handed to the handler.
    pub ingest_bodies: Vec<String>,
}

impl Deployment {
    /// Creates the resources of infra/template.yaml, puts `config` at config/ledgerpost.toml and
    /// the text rules under imports/ (imported through the actions function), and builds the
    /// pipeline as the function binaries do.
    pub async fn new(tag: &str, sales_cap: u32) -> Deployment {
        let template = template();
        let env = TestEnv::new(tag).await;
        env.create_bucket().await;
        env.create_table().await;
        env.verify_sender().await;
        let sqs = &env.clients.sqs;
        let mut queues = BTreeMap::new();
        for (function, (_, name)) in Function::ALL.into_iter().zip(env.settings().queues()) {
            let (url, arn) = env.create_queue_with_dlq(name, template.max_receive_count).await;
            sqs.set_queue_attributes()
                .queue_url(&url)
                .attributes(
                    QueueAttributeName::VisibilityTimeout,
                    template.visibility_timeouts[function.template_queue()].clone(),
                )
                .send()
                .await
                .expect("set the visibility timeout");
            let dead_letter_url = sqs
                .get_queue_url()
                .queue_name(format!("{name}-dlq"))
                .send()
                .await
                .expect("find the dead-letter queue")
                .queue_url()
                .expect("a queue URL")
                .to_owned();
            queues.insert(function, StageQueue { url, arn, dead_letter_url });
        }
        assert_eq!(template.notification_event, "s3:ObjectCreated:*");
        env.notify_queue(&template.notification_prefix, &queues[&Function::Ingest].arn).await;

        let config = CONFIG
            .replace("{from}", env.settings().sender.as_str())
            .replace("{sales_cap}", &sales_cap.to_string());
        put(&env, ledgerpost_lambda::startup::CONFIG_KEY, config.into_bytes(), "application/toml").await;
        let pipeline = ledgerpost_lambda::aws::pipeline(&env.clients).await.expect("the function starts");

        put(&env, "imports/rules.csv", RULES.as_bytes().to_vec(), "text/csv").await;
        let imported = ledgerpost_lambda::actions(
            &pipeline,
            json!({"action": "import", "kind": "rules", "key": "imports/rules.csv"}),
        )
        .await;
        assert!(imported.is_ok(), "import the text rules: {imported:?}");
        Deployment { env, pipeline, queues, object_messages: 0, test_events: 0, ingest_bodies: Vec::new() }
    }

    pub fn sqs(&self) -> &aws_sdk_sqs::Client {
        &self.env.clients.sqs
    }

    /// Receives one batch of `function`'s queue as the event source mapping does and invokes the
    /// handler with it; the messages it did not report failed are deleted. Returns the number
    /// of records delivered and the bodies of the failed ones.
    pub async fn deliver_once(&mut self, function: Function) -> (usize, Vec<String>) {
        let (url, arn) = (self.queues[&function].url.clone(), self.queues[&function].arn.clone());
        let received = self
            .sqs()
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive from a stage queue");
        let messages = received.messages();
        if messages.is_empty() {
            return (0, Vec::new());
        }
        let event = sqs_event(messages, &arn);
        assert_eq!(event.records.len(), messages.len());
        if function == Function::Ingest {
            for message in messages {
                let text = message.body().unwrap_or_default();
                self.ingest_bodies.push(text.to_owned());
                let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                if body["Event"] == "s3:TestEvent" {
                    self.test_events += 1;
                } else {
                    self.object_messages += 1;
                }
            }
        }
        let response = function.invoke(&self.pipeline, event).await;
        let failed: BTreeSet<&str> =
            response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        let mut failed_bodies = Vec::new();
        let mut entries = Vec::new();
        for (n, message) in messages.iter().enumerate() {
            let id = message.message_id().expect("SQS gives every message an id");
            if failed.contains(id) {
                failed_bodies.push(message.body().unwrap_or_default().to_owned());
                continue;
            }
            entries.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(message.receipt_handle().expect("a receipt handle"))
                    .build()
                    .expect("a delete entry"),
            );
        }
        if !entries.is_empty() {
            let deleted = self
                .sqs()
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("delete the handled messages");
            assert!(deleted.failed().is_empty(), "deletes failed: {:?}", deleted.failed());
        }
        (messages.len(), failed_bodies)
    }

    /// Messages on a queue, visible, in flight or delayed.
    pub async fn depth(&self, url: &str) -> u64 {
        let attributes = self
            .sqs()
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .expect("read the queue depth");
        attributes
            .attributes()
            .map(|a| a.values().map(|v| v.parse::<u64>().expect("a count")).sum())
            .unwrap_or(0)
    }

    /// Every stage queue and dead-letter queue with its depth.
    pub async fn depths(&self) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for (function, queue) in &self.queues {
            out.push((format!("{function:?}"), self.depth(&queue.url).await));
            out.push((format!("{function:?} DLQ"), self.depth(&queue.dead_letter_url).await));
        }
        out
    }

    /// Delivers every queue in stage order until the ingest handler has had `objects` S3
    /// notifications and every queue is empty. A failed record stops the test at once (nothing
    /// here should fail). Polls with a generous deadline: S3 notifications are asynchronous.
    pub async fn run_queues(&mut self, objects: usize) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let mut delivered = 0;
            for function in Function::ALL {
                loop {
                    let (count, failed) = self.deliver_once(function).await;
                    assert!(failed.is_empty(), "{function:?} reported failed records: {failed:?}");
                    if count == 0 {
                        break;
                    }
                    delivered += count;
                }
            }
            if delivered == 0 && self.object_messages >= objects {
                let depths = self.depths().await;
                if depths.iter().all(|(_, n)| *n == 0) {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the queues did not empty: {} of {objects} notifications handled, depths {:?}",
                self.object_messages,
                self.depths().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Runs the send-batch function on the sample scheduled event.
    pub async fn scheduled_run(&self) -> ledgerpost_lambda::SendBatchSummary {
        let path = workspace_root().join("events/eventbridge-scheduled.json");
        let event: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read the scheduled event")).expect("JSON");
        ledgerpost_lambda::send_batch(&self.pipeline, event).await.expect("the scheduled run")
    }

    /// The e-mails this deployment's sender sent, parsed, in the order moto holds them.
    pub fn sent(&self) -> Vec<SentEmail> {
        let sender = self.env.settings().sender.as_str();
        self.env
            .moto
            .sent_raw_emails()
            .iter()
            .filter(|m| m["source"] == sender)
            .map(SentEmail::parse)
            .collect()
    }

    /// The invoices of `administration` in `status`.
    pub async fn invoices(&self, administration: &str, status: StatusKey) -> Vec<InvoiceRecord> {
        let administration = AdministrationId::parse(administration).expect("an administration id");
        let records = self
            .pipeline
            .repository()
            .invoices_in_status(&administration, status)
            .await
            .expect("read the status index");
        records.into_iter().map(|r| r.value).collect()
    }

    /// The journal entry header items (`ENTRY`) of an invoice, read strongly consistent.
    pub async fn entries(&self, invoice: &InvoiceRecord) -> usize {
        let out = self
            .env
            .clients
            .dynamodb
            .query()
            .table_name(&self.env.settings().table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :entry)")
            .expression_attribute_values(":pk", AttributeValue::S(InvoiceRecord::pk(&invoice.id)))
            .expression_attribute_values(":entry", AttributeValue::S("ENTRY".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("query the entry items");
        out.items().iter().filter(|item| item.get("sk") == Some(&AttributeValue::S("ENTRY".into()))).count()
    }

    /// The keys under `prefix`.
    pub async fn keys(&self, prefix: &str) -> BTreeSet<String> {
        let out = self
            .env
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.env.settings().bucket)
            .prefix(prefix)
            .send()
            .await
            .expect("list the bucket");
        out.contents().iter().filter_map(|o| o.key()).map(str::to_owned).collect()
    }

    pub async fn object(&self, key: &str) -> Vec<u8> {
        let out = self
            .env
            .clients
            .s3
            .get_object()
            .bucket(&self.env.settings().bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e:?}"));
        out.body.collect().await.expect("read the object").into_bytes().to_vec()
    }
}

/// The first embedded attachment of a UBL file (`cbc:EmbeddedDocumentBinaryObject`), decoded.
pub fn embedded_document(xml: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let text = std::str::from_utf8(xml).expect("a UTF-8 corpus file");
    let start = text.find("<cbc:EmbeddedDocumentBinaryObject").expect("an embedded document");
    let body = &text[start..];
    let body = &body[body.find('>').expect("a start tag") + 1..body.find("</cbc:").expect("an end tag")];
    let clean: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).expect("base64")
}

/// Puts an object with the real S3 client.
pub async fn put(env: &TestEnv, key: &str, bytes: Vec<u8>, content_type: &str) {
    env.clients
        .s3
        .put_object()
        .bucket(&env.settings().bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

/// An SQS event as Lambda's event source mapping builds it from received messages: the
/// message's id, receipt handle, body, MD5 and system attributes, plus the queue's ARN and region.
pub fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> SqsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .into_iter()
                .flatten()
                .map(|(name, value)| (name.as_str().to_owned(), Value::String(value.clone())))
                .collect();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": m.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("an SqsEvent")
}

/// One e-mail as moto holds it, parsed.
#[derive(Debug)]
pub struct SentEmail {
    pub envelope_to: Vec<String>,
    pub header_to: Vec<String>,
    pub subject: String,
    pub batch: Option<String>,
    pub text: String,
    /// (file name, content type, bytes).
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

impl SentEmail {
    pub fn parse(message: &Value) -> SentEmail {
        let raw = message["raw_data"].as_str().expect("raw_data");
        let parsed = MessageParser::default().parse(raw.as_bytes()).expect("a parsable e-mail");
        let addresses = |header: Option<&mail_parser::Address>| -> Vec<String> {
            header
                .map(|h| h.iter().filter_map(|a| a.address()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let header_to = addresses(parsed.to());
        let header_recipients = [header_to.clone(), addresses(parsed.cc()), addresses(parsed.bcc())].concat();
        let mut envelope_to: Vec<String> = message["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .map(|d| d.as_str().expect("an address").to_owned())
            .collect();
        // moto records the request's Destination followed by the To/Cc/Bcc of the raw message
        // (SES itself sends to the Destination only): take the header part off again.
        let split = envelope_to
            .len()
            .checked_sub(header_recipients.len())
            .expect("moto appends the header recipients");
        assert_eq!(
            envelope_to[split..],
            header_recipients[..],
            "moto's destinations end with the header recipients"
        );
        envelope_to.truncate(split);
        let attachments = parsed
            .attachments()
            .map(|a| {
                let content_type = a
                    .content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()))
                    .unwrap_or_default();
                (a.attachment_name().unwrap_or_default().to_owned(), content_type, a.contents().to_vec())
            })
            .collect();
        SentEmail {
            envelope_to,
            header_to,
            subject: parsed.subject().unwrap_or_default().to_owned(),
            batch: parsed.header_raw("X-Ledgerpost-Batch").map(|b| b.trim().to_owned()),
            text: parsed.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            attachments,
        }
    }

    pub fn is_report(&self) -> bool {
        self.batch.is_none()
    }

    pub fn names(&self) -> BTreeSet<&str> {
        self.attachments.iter().map(|(name, _, _)| name.as_str()).collect()
    }

    pub fn attachment(&self, name: &str) -> &[u8] {
        let found = self.attachments.iter().find(|(n, _, _)| n == name);
        &found.unwrap_or_else(|| panic!("no attachment {name} in {:?}", self.names())).2
    }

    /// A count of the report's TOTALS block, e.g. "E-mails sent".
    pub fn total(&self, label: &str) -> u64 {
        let line = self
            .text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(label) && l[label.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("the report has no {label:?} line:\n{}", self.text));
        line[label.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count on {line:?}"))
    }
}
