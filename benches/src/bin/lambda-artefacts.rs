//! Lambda artefacts: for every function crate under `functions/`, the deployment build's stripped
//! size and its start-to-ready time against a fake Lambda Runtime API on 127.0.0.1 (written here:
//! it serves one test event from `events/`, and records when the function first asks for an
//! invocation, i.e. is ready, and when it answers it).
//!
//! `lambda-artefacts` builds (`cargo build --profile function -p <crate>`, for this machine: the
//! profile the functions are deployed with, fat LTO and optimised for size) and measures
//! every crate found, and reports the size of `target/lambda/<function>/bootstrap` too where
//! `cargo lambda build` left one (the arm64 artefact that is deployed);
//! `lambda-artefacts --binary PATH --name NAME [--event FILE]` measures one binary as it is.
//! With no function crates yet, it says so and measures nothing. Target: < 8 MB stripped.
//!
//! The function gets `AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`,
//! `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (512), `AWS_LAMBDA_FUNCTION_VERSION` ($LATEST), a region,
//! obviously fake credentials, the `LEDGERPOST_*` resource variables and `AWS_ENDPOINT_URL`
//! pointing at the same fake server, which also answers the S3 read of the configuration object
//! (`config/ledgerpost.toml`) the functions make before they are ready. Any other AWS call gets
//! a 400, so what a function does with the event may fail: only the times are measured.

#[path = "../common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{CONFIG, result};

const RUNTIME: &str = "/2018-06-01/runtime";
const STRIPPED_TARGET: f64 = 8.0;
/// The Cargo profile of the deployed functions.
const PROFILE: &str = "function";

/// What the fake runtime API saw, with when.
#[derive(Debug)]
enum Seen {
    /// The first `GET …/invocation/next`: the function is ready.
    Ready,
    Response,
    Error(String),
    InitError(String),
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The event served to a function: the first file the events README lists for it.
fn event_for(function: &str) -> Option<PathBuf> {
    let events = workspace_root().join("events");
    let readme = std::fs::read_to_string(events.join("README.md")).ok()?;
    let wanted = function.trim_start_matches("ledgerpost-").trim_start_matches("fn-");
    readme.lines().find_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (file, f) = (cells.get(1)?, cells.get(2)?);
        (*f == wanted || wanted.contains(f)).then(|| events.join(file.trim_matches('`')))
    })
}

/// Serves one HTTP/1.1 connection of the runtime client (keep-alive: several requests).
fn serve(stream: TcpStream, event: &[u8], name: &str, tx: &mpsc::Sender<(Seen, Instant)>) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let now = Instant::now();
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let text = String::from_utf8_lossy(&body).into_owned();
        let reply = |w: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
            let head = format!("HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n", body.len());
            w.write_all(head.as_bytes()).and_then(|_| w.write_all(body)).and_then(|_| w.flush())
        };
        let sent = if method == "GET" && path == format!("{RUNTIME}/invocation/next") {
            let first = tx.send((Seen::Ready, now)).is_ok();
            if !first {
                return;
            }
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() + 30_000);
            let headers = format!(
                "Content-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: bench-0001\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:{name}\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000;Sampled=0\r\n"
            );
            reply(&mut writer, "200 OK", &headers, event)
        } else if method == "POST" && path.ends_with("/response") {
            let _ = tx.send((Seen::Response, now));
            reply(&mut writer, "202 Accepted", "", b"{\"status\":\"OK\"}")
        } else if method == "POST" && path.starts_with(&format!("{RUNTIME}/init/error")) {
            let _ = tx.send((Seen::InitError(text), now));
            reply(&mut writer, "202 Accepted", "", b"{\"status\":\"OK\"}")
        } else if method == "POST" && path.ends_with("/error") {
            let _ = tx.send((Seen::Error(text), now));
            reply(&mut writer, "202 Accepted", "", b"{\"status\":\"OK\"}")
        } else if path.starts_with(RUNTIME) {
            reply(&mut writer, "404 Not Found", "", b"")
        } else if (method == "GET" || method == "HEAD")
            && path.split('?').next().unwrap_or("").ends_with("/config/ledgerpost.toml")
        {
            let headers = "Content-Type: application/octet-stream\r\nETag: \"bench\"\r\n\
                           Last-Modified: Sat, 01 Mar 2025 06:00:00 GMT\r\n";
            if method == "HEAD" {
                let head = format!("HTTP/1.1 200 OK\r\n{headers}Content-Length: {}\r\n\r\n", CONFIG.len());
                writer.write_all(head.as_bytes()).and_then(|_| writer.flush())
            } else {
                reply(&mut writer, "200 OK", headers, CONFIG.as_bytes())
            }
        } else {
            reply(
                &mut writer,
                "400 Bad Request",
                "Content-Type: application/x-amz-json-1.0\r\n",
                b"{\"__type\":\"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException\",\"message\":\"not served by the benchmark\"}",
            )
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Start-to-ready and start-to-answer of one binary, or why it could not be measured.
fn start_to_ready(
    binary: &Path,
    name: &str,
    event: &[u8],
) -> Result<(Duration, Option<(Duration, String)>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no loopback port: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel();
    let event = event.to_vec();
    let function = name.to_owned();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (tx, event, function) = (tx.clone(), event.clone(), function.clone());
            std::thread::spawn(move || serve(stream, &event, &function, &tx));
        }
    });
    let log = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let stderr = log.reopen().map_err(|e| e.to_string())?;
    let endpoint = format!("http://{addr}");
    let queue = |q: &str| format!("{endpoint}/123456789012/{q}");
    let start = Instant::now();
    let mut child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCHONLY")
        .env("AWS_SECRET_ACCESS_KEY", "bench-only-not-a-secret")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("LEDGERPOST_S3_FORCE_PATH_STYLE", "true")
        .env("LEDGERPOST_BUCKET", "docs")
        .env("LEDGERPOST_TABLE", "ledgerpost")
        .env("LEDGERPOST_INGEST_QUEUE", queue("ingest"))
        .env("LEDGERPOST_MATCH_QUEUE", queue("match"))
        .env("LEDGERPOST_JOURNAL_QUEUE", queue("journal"))
        .env("LEDGERPOST_SENDER", "ledgerpost@firm.example")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let outcome = (|| {
        let mut ready = None;
        let limit = Duration::from_secs(20);
        while start.elapsed() < limit {
            let left = limit.saturating_sub(start.elapsed());
            match rx.recv_timeout(left.min(Duration::from_millis(200))) {
                Ok((Seen::Ready, at)) if ready.is_none() => ready = Some(at - start),
                Ok((Seen::Ready, _)) => {}
                Ok((Seen::InitError(text), _)) => return Err(format!("init error: {text}")),
                Ok((Seen::Response, at)) => {
                    return ready
                        .map(|r| (r, Some((at - start, "response".to_owned()))))
                        .ok_or("answered before ready".into());
                }
                Ok((Seen::Error(text), at)) => {
                    let what = format!("error: {}", text.chars().take(120).collect::<String>());
                    return ready
                        .map(|r| (r, Some((at - start, what))))
                        .ok_or("answered before ready".into());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        return match ready {
                            Some(r) => Ok((r, Some((start.elapsed(), format!("exited ({status})"))))),
                            None => Err(format!("exited before it was ready ({status})")),
                        };
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        ready.map(|r| (r, None)).ok_or_else(|| "not ready within 20 s".to_owned())
    })();
    let _ = child.kill();
    let _ = child.wait();
    outcome.map_err(|why| {
        let text = std::fs::read_to_string(log.path()).unwrap_or_default();
        let last: Vec<&str> = text.lines().rev().take(3).collect();
        format!("{why}; its last log lines: {}", last.into_iter().rev().collect::<Vec<_>>().join(" | "))
    })
}

/// The size of a binary with its symbols stripped, in MB (10^6 bytes).
fn stripped_mb(binary: &Path) -> Result<f64, String> {
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let copy = temp.path().join("fn");
    std::fs::copy(binary, &copy).map_err(|e| e.to_string())?;
    let status = Command::new("strip").arg(&copy).status().map_err(|e| format!("strip: {e}"))?;
    if !status.success() {
        return Err(format!("strip failed ({status})"));
    }
    Ok(std::fs::metadata(&copy).map_err(|e| e.to_string())?.len() as f64 / 1e6)
}

fn measure(binary: &Path, name: &str, event: Option<&Path>) {
    let size = std::fs::metadata(binary).map(|m| m.len() as f64 / 1e6);
    let stripped = stripped_mb(binary);
    match (&size, &stripped) {
        (Ok(size), Ok(stripped)) => {
            println!("{name}: {} is {size:.2} MB, {stripped:.2} MB stripped", binary.display());
            result(
                &format!("Lambda {name}: stripped size"),
                &format!("{stripped:.2} MB"),
                &format!("< {STRIPPED_TARGET} MB"),
                Some(*stripped < STRIPPED_TARGET),
            );
        }
        _ => println!("{name}: size not measured: {size:?} {stripped:?}"),
    }
    let event_bytes = event.and_then(|e| std::fs::read(e).ok()).unwrap_or_else(|| b"{}".to_vec());
    let served =
        event.map_or("{}".to_owned(), |e| e.file_name().unwrap_or_default().to_string_lossy().into_owned());
    let mut readies = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        match start_to_ready(binary, name, &event_bytes) {
            Ok((ready, answered)) => {
                readies.push(ready);
                last = answered;
            }
            Err(why) => {
                println!("{name}: start-to-ready not measured: {why}");
                result(
                    &format!("Lambda {name}: start to ready"),
                    &format!("not measured: {why}"),
                    "",
                    Some(false),
                );
                return;
            }
        }
    }
    let ready_ms = common::median_ms(&readies);
    let answer = last.map_or("no answer within 20 s".to_owned(), |(at, what)| {
        format!("answered {served} after {:.1} ms ({what})", at.as_secs_f64() * 1e3)
    });
    println!("{name}: ready after {ready_ms:.1} ms (median of 5); {answer}");
    result(&format!("Lambda {name}: start to ready"), &format!("{ready_ms:.1} ms; {answer}"), "", None);
}

/// The size of the artefact `cargo lambda build` left for a function (arm64, the deployed one),
/// if there is one: stripped when the host's `strip` reads it, else as built.
fn deployed(bootstrap: &Path, name: &str) {
    let Ok(meta) = std::fs::metadata(bootstrap) else { return };
    let (mb, how) = match stripped_mb(bootstrap) {
        Ok(mb) => (mb, "stripped"),
        Err(_) => (meta.len() as f64 / 1e6, "as built by cargo lambda"),
    };
    println!("{name}: the deployment artefact {} is {mb:.2} MB ({how})", bootstrap.display());
    result(
        &format!("Lambda {name}: deployment artefact (target/lambda, {how})"),
        &format!("{mb:.2} MB"),
        &format!("< {STRIPPED_TARGET} MB"),
        Some(mb < STRIPPED_TARGET),
    );
}

/// `[package] name` and the binary names of a crate.
fn crate_binaries(manifest: &Path) -> Option<(String, Vec<String>)> {
    let text = std::fs::read_to_string(manifest).ok()?;
    let mut package = None;
    let mut bins = Vec::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        if let Some(value) = line.strip_prefix("name").and_then(|r| r.trim_start().strip_prefix('=')) {
            let value = value.trim().trim_matches('"').to_owned();
            match section.as_str() {
                "[package]" => package = Some(value),
                "[[bin]]" => bins.push(value),
                _ => {}
            }
        }
    }
    let package = package?;
    if bins.is_empty() {
        bins.push(package.clone());
    }
    Some((package, bins))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--binary") {
        let binary = PathBuf::from(args.get(1).expect("--binary PATH"));
        let name = args
            .iter()
            .position(|a| a == "--name")
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| "function".into());
        let event = args.iter().position(|a| a == "--event").and_then(|i| args.get(i + 1)).map(PathBuf::from);
        measure(&binary, &name, event.as_deref());
        return;
    }
    println!("== Lambda artefacts (load average {})", common::loadavg());
    let root = workspace_root();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("functions"))
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path().join("Cargo.toml"))).filter(|p| p.is_file()).collect()
        })
        .unwrap_or_default();
    crates.sort();
    if crates.is_empty() {
        println!("no Lambda function crates under functions/ yet: nothing to measure");
        result(
            "Lambda artefacts",
            "skipped: no function crates under functions/ yet",
            "< 8 MB stripped; start to ready",
            None,
        );
        return;
    }
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    let found: Vec<(String, Vec<String>)> = crates.iter().filter_map(|m| crate_binaries(m)).collect();
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // The profile the functions are deployed with (see `[profile.function]` in Cargo.toml).
    build.args(["build", "--profile", PROFILE]).current_dir(&root);
    for (package, _) in &found {
        build.args(["-p", package]);
    }
    if !matches!(build.status(), Ok(s) if s.success()) {
        result(&format!("Lambda artefacts: build (profile {PROFILE})"), "failed", "", Some(false));
        return;
    }
    for (package, bins) in &found {
        for bin in bins {
            let event = event_for(bin).or_else(|| event_for(package));
            measure(&target_dir.join(PROFILE).join(bin), bin, event.as_deref());
            deployed(&target_dir.join("lambda").join(bin).join("bootstrap"), bin);
        }
    }
    println!("== load average after: {}", common::loadavg());
}
