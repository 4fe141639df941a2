//! # ledgerpost-aws-tests
//!
//! The harness of the integration tests in `tests/`: they run the AWS adapters with the real
//! AWS SDK against moto_server, a local AWS emulator from PyPI, and lint the infrastructure
//! template with cfn-lint from the same place.
//!
//! - [`venv`] finds or makes `target/moto-venv`, a Python virtual environment holding the
//!   pinned [`MOTO`] and [`CFN_LINT`]. It is made once (`python3 -m venv`, `pip install`) and
//!   recognised afterwards by a marker file listing the pins; a lock file makes two test
//!   binaries starting at once wait for one installation instead of racing.
//! - [`moto`] starts moto_server (`moto_server -H 127.0.0.1 -p <free port>`, under a small
//!   watchdog that stops it if the test process dies) and waits until `/moto-api/` answers.
//!   The server is shared by the tests of one binary that run at the same time and is killed
//!   when the last of them drops it. Tests stay apart by using their own resource names
//!   ([`TestEnv`]), so no reset is needed between them; [`Moto::reset`] exists for a test that
//!   wants a clean server to itself.
//! - [`TestEnv`] builds the SDK configuration exactly as production does
//!   ([`ledgerpost_aws::config::config_loader`]), with the endpoint set to the emulator,
//!   path-style S3 and static credentials, and creates the bucket, table and queues a test
//!   asks for.
//!
//! Set `LEDGERPOST_PYTHON` to use another Python 3 than `python3` on the PATH.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Event, FilterRule, FilterRuleName,
    NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use ledgerpost_aws::{AwsClients, AwsSettings};

/// The moto release the tests are written against.
pub const MOTO: &str = "moto[server]==5.2.5";
/// The cfn-lint release that lints infra/template.yaml.
pub const CFN_LINT: &str = "cfn-lint==1.58.0";
/// The region every test uses.
pub const REGION: &str = "eu-west-1";
/// The account moto uses by default.
pub const ACCOUNT: &str = "123456789012";

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..")
}

/// Cargo's target folder: `CARGO_TARGET_DIR` when set, else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("target"),
    }
}

/// `target/moto-venv`, with moto and cfn-lint installed. Panics with the installer's output
/// when the installation fails (no Python, no network).
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let target = target_dir();
        let dir = target.join("moto-venv");
        let marker = dir.join("ledgerpost-pins.txt");
        let pins = format!("{MOTO}\n{CFN_LINT}\n");
        let installed = || fs::read_to_string(&marker).is_ok_and(|text| text == pins);
        if installed() {
            return dir;
        }
        fs::create_dir_all(&target).expect("create the target folder");
        let lock = File::create(target.join("moto-venv.lock")).expect("create the venv lock file");
        // Another test binary may be installing right now: wait for it, then look again.
        lock.lock().expect("lock the venv lock file");
        if !installed() {
            let started = Instant::now();
            let python = std::env::var("LEDGERPOST_PYTHON").unwrap_or_else(|_| "python3".to_owned());
            run(Command::new(&python).args(["-m", "venv", "--clear"]).arg(&dir), "create the moto venv");
            run(
                Command::new(dir.join("bin").join("python")).args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    MOTO,
                    CFN_LINT,
                ]),
                "install moto and cfn-lint",
            );
            let partial = marker.with_extension("partial");
            fs::write(&partial, &pins).expect("write the venv marker");
            fs::rename(&partial, &marker).expect("write the venv marker");
            eprintln!("installed {MOTO} and {CFN_LINT} into {} in {:?}", dir.display(), started.elapsed());
        }
        drop(lock);
        dir
    })
}

/// A program of the venv, e.g. `cfn-lint`.
pub fn venv_bin(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

fn run(command: &mut Command, what: &str) {
    let output = command.output().unwrap_or_else(|err| panic!("cannot {what}: {command:?}: {err}"));
    assert!(
        output.status.success(),
        "cannot {what}: {command:?} exited with {}\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs moto's `moto_server` entry point, and exits when the process that started it is gone
/// (a test binary killed by a timeout must not leave servers behind).
const LAUNCHER: &str = r#"
import os, sys, threading, time
parent = os.getppid()
def watch():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
sys.argv[0] = "moto_server"
main()
"#;

/// A running moto_server on a loopback port.
pub struct Moto {
    port: u16,
    child: Mutex<Child>,
    log: PathBuf,
    /// From spawning the process to `/moto-api/` answering.
    pub start_time: Duration,
}

/// The moto_server shared by the tests of this binary that run now; started when none runs.
pub fn moto() -> Arc<Moto> {
    static SHARED: Mutex<Weak<Moto>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(moto) = shared.upgrade() {
        return moto;
    }
    let moto = Arc::new(Moto::start());
    *shared = Arc::downgrade(&moto);
    moto
}

impl Moto {
    /// Starts a server of its own on a free port (a few tries, should the port be taken
    /// between finding it and binding it).
    pub fn start() -> Moto {
        let python = venv().join("bin").join("python");
        let logs = target_dir().join("moto-logs");
        fs::create_dir_all(&logs).expect("create the moto log folder");
        let mut failures = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            let log = logs.join(format!("moto-{port}.log"));
            let started = Instant::now();
            let child = Command::new(&python)
                .args(["-c", LAUNCHER, "-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(File::create(&log).expect("create the moto log"))
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start moto_server with {}: {err}", python.display()));
            let mut moto = Moto { port, child: Mutex::new(child), log, start_time: Duration::ZERO };
            match moto.wait_ready(Duration::from_secs(60)) {
                Ok(()) => {
                    moto.start_time = started.elapsed();
                    eprintln!("moto_server ready on port {port} in {:?}", moto.start_time);
                    return moto;
                }
                Err(reason) => failures.push(format!("port {port}: {reason}")),
            }
        }
        panic!("moto_server did not start:\n{}", failures.join("\n"));
    }

    fn wait_ready(&self, limit: Duration) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = http(self.port, "GET", "/moto-api/") {
                return Ok(());
            }
            let exited = self.child.lock().unwrap_or_else(PoisonError::into_inner).try_wait().ok().flatten();
            if let Some(status) = exited {
                let log = fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("exited with {status}:\n{log}"));
            }
            if started.elapsed() > limit {
                return Err(format!("no answer on /moto-api/ after {limit:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Empties every service (`POST /moto-api/reset`). Only for a test with a server to itself.
    pub fn reset(&self) {
        let (status, body) = http(self.port, "POST", "/moto-api/reset").expect("reset moto");
        assert_eq!(status, 200, "reset moto: {}", String::from_utf8_lossy(&body));
    }

    /// Everything moto holds, as `GET /moto-api/data.json` shows it.
    pub fn data(&self) -> serde_json::Value {
        let (status, body) = http(self.port, "GET", "/moto-api/data.json").expect("read moto's data");
        assert_eq!(status, 200, "read moto's data: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).expect("moto's data.json is JSON")
    }

    /// The raw e-mails SES "sent": `ses.RawMessage` of [`Moto::data`], each with `id` (the
    /// MessageId), `source`, `destinations` and `raw_data`.
    pub fn sent_raw_emails(&self) -> Vec<serde_json::Value> {
        match self.data().pointer("/ses/RawMessage") {
            Some(serde_json::Value::Array(messages)) => messages.clone(),
            _ => Vec::new(),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
        let _ = fs::remove_file(&self.log);
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("read the bound port").port()
}

/// A minimal HTTP/1.0 exchange with the emulator's own API: status and body.
fn http(port: u16, method: &str, path: &str) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(invalid)?;
    let head = String::from_utf8_lossy(&response[..end]);
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or_else(invalid)?;
    Ok((status, response[end + 4..].to_vec()))
}

/// A name no other test of this run uses: `<tag>-<process>-<n>`, lower case (bucket names).
pub fn unique_name(tag: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{tag}-{}-{n}", std::process::id()).to_lowercase()
}

/// One test's resources on the shared emulator, with clients configured as in production.
pub struct TestEnv {
    pub moto: Arc<Moto>,
    pub clients: AwsClients,
}

impl TestEnv {
    /// Settings with fresh names for `tag` on the shared server; nothing is created yet.
    pub async fn new(tag: &str) -> TestEnv {
        Self::on(moto(), tag).await
    }

    /// [`TestEnv::new`] on a given server (e.g. one of its own, from [`Moto::start`]).
    pub async fn on(moto: Arc<Moto>, tag: &str) -> TestEnv {
        let name = unique_name(tag);
        let settings = AwsSettings {
            bucket: format!("{name}-docs"),
            table: format!("{name}-table"),
            ingest_queue: format!("{name}-ingest"),
            match_queue: format!("{name}-match"),
            journal_queue: format!("{name}-journal"),
            sender: format!("ledgerpost@{name}.example").parse().expect("a valid sender"),
            ses_configuration_set: None,
            endpoint_url: Some(moto.endpoint()),
            s3_force_path_style: true,
        };
        TestEnv { clients: clients(settings).await, moto }
    }

    pub fn settings(&self) -> &AwsSettings {
        &self.clients.settings
    }

    /// Creates the bucket.
    pub async fn create_bucket(&self) {
        let location = CreateBucketConfiguration::builder()
            .location_constraint(BucketLocationConstraint::from(REGION))
            .build();
        self.clients
            .s3
            .create_bucket()
            .bucket(&self.settings().bucket)
            .create_bucket_configuration(location)
            .send()
            .await
            .expect("create the bucket");
    }

    /// Creates the table as infra/template.yaml does: `pk`/`sk`, indexes gsi1..gsi3.
    pub async fn create_table(&self) {
        let string = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("an attribute definition")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("a key element")
        };
        let mut table = self
            .clients
            .dynamodb
            .create_table()
            .table_name(&self.settings().table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(string("pk"))
            .attribute_definitions(string("sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range));
        for n in 1..=3 {
            let (pk, sk) = (format!("gsi{n}pk"), format!("gsi{n}sk"));
            table = table
                .attribute_definitions(string(&pk))
                .attribute_definitions(string(&sk))
                .global_secondary_indexes(
                    GlobalSecondaryIndex::builder()
                        .index_name(format!("gsi{n}"))
                        .key_schema(key(&pk, KeyType::Hash))
                        .key_schema(key(&sk, KeyType::Range))
                        .projection(Projection::builder().projection_type(ProjectionType::All).build())
                        .build()
                        .expect("an index"),
                );
        }
        table.send().await.expect("create the table");
    }

    /// Creates the three stage queues, each with a dead-letter queue `<name>-dlq` after
    /// `max_receive_count` receives. Returns nothing: the adapter finds the URLs by name.
    pub async fn create_queues(&self, max_receive_count: u32) {
        for (_, name) in self.settings().queues() {
            self.create_queue_with_dlq(name, max_receive_count).await;
        }
    }

    /// Creates `name` with a dead-letter queue `<name>-dlq`; returns (queue URL, queue ARN).
    pub async fn create_queue_with_dlq(&self, name: &str, max_receive_count: u32) -> (String, String) {
        let (_, dlq_arn) = self.create_queue(&format!("{name}-dlq"), None).await;
        let policy = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": max_receive_count.to_string(),
        });
        self.create_queue(name, Some(policy.to_string())).await
    }

    async fn create_queue(&self, name: &str, redrive_policy: Option<String>) -> (String, String) {
        let sqs = &self.clients.sqs;
        let mut create = sqs.create_queue().queue_name(name);
        if let Some(policy) = redrive_policy {
            create = create.attributes(QueueAttributeName::RedrivePolicy, policy);
        }
        let url = create.send().await.expect("create a queue").queue_url().expect("a queue URL").to_owned();
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("read the queue ARN");
        let arn = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .expect("a queue ARN")
            .clone();
        (url, arn)
    }

    /// Sends every `s3:ObjectCreated:*` event under `prefix` to the queue with ARN `queue_arn`.
    pub async fn notify_queue(&self, prefix: &str, queue_arn: &str) {
        let filter = NotificationConfigurationFilter::builder()
            .key(
                S3KeyFilter::builder()
                    .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value(prefix).build())
                    .build(),
            )
            .build();
        let queue = QueueConfiguration::builder()
            .queue_arn(queue_arn)
            .events(Event::from("s3:ObjectCreated:*"))
            .filter(filter)
            .build()
            .expect("a queue configuration");
        self.clients
            .s3
            .put_bucket_notification_configuration()
            .bucket(&self.settings().bucket)
            .notification_configuration(
                NotificationConfiguration::builder().queue_configurations(queue).build(),
            )
            .send()
            .await
            .expect("configure the bucket notification");
    }

    /// Makes the sender an SES identity (SES refuses to send from anything else).
    pub async fn verify_sender(&self) {
        self.verify_identity(self.settings().sender.as_str()).await;
    }

    /// Makes `identity` (an address or a domain) an SES identity, e.g. the `from` address of a
    /// pipeline configuration.
    pub async fn verify_identity(&self, identity: &str) {
        self.clients
            .ses
            .create_email_identity()
            .email_identity(identity)
            .send()
            .await
            .unwrap_or_else(|err| panic!("create the SES identity {identity}: {err}"));
    }
}

/// The clients for `settings`, loaded through the production configuration path with static
/// credentials and the test region.
pub async fn clients(settings: AwsSettings) -> AwsClients {
    let credentials = aws_sdk_s3::config::Credentials::new("test", "test", None, None, "moto");
    let sdk = ledgerpost_aws::config::config_loader(&settings)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(credentials)
        .load()
        .await;
    AwsClients::new(&sdk, settings)
}
