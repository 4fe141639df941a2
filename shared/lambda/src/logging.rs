//! Logs: `tracing`, written to standard output, where Lambda picks them up.
//!
//! - In Lambda (or wherever `AWS_LAMBDA_LOG_FORMAT=JSON`), one JSON object per line: `timestamp`,
//!   `level`, `message` and the event's fields at the top level, `span` with the fields of the
//!   innermost span (per SQS message: `queue`, `message_id`, `receive_count`, `invoice_id`, `key`;
//!   per action or run), and `spans` with every span from the runtime's invocation span (its
//!   `requestId`) inwards. CloudWatch's JSON log format and Logs Insights read these as is.
//! - Elsewhere, plain single-line text.
//!
//! The level comes from `RUST_LOG` (full `EnvFilter` syntax), else from `AWS_LAMBDA_LOG_LEVEL`
//! (the function's application log level), else `info`.
//!
//! Tests install nothing, so they are quiet; [`init_test_tracing`] shows the logs of a test run
//! when `RUST_LOG` is set.

use tracing_subscriber::EnvFilter;

/// How the logs should look, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    pub filter: String,
}

impl LogSettings {
    /// Reads the settings through `lookup` (a variable's value, or `None`).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let in_lambda = set("AWS_LAMBDA_FUNCTION_NAME").is_some() || set("AWS_LAMBDA_RUNTIME_API").is_some();
        let json = match set("AWS_LAMBDA_LOG_FORMAT") {
            Some(format) => format.eq_ignore_ascii_case("json"),
            None => in_lambda,
        };
        let filter = set("RUST_LOG")
            .or_else(|| set("AWS_LAMBDA_LOG_LEVEL").map(|level| lambda_level(&level)))
            .unwrap_or_else(|| "info".to_owned());
        LogSettings { json, filter }
    }
}

/// Lambda's application log levels (`TRACE` … `FATAL`) as a filter directive.
fn lambda_level(level: &str) -> String {
    match level.to_ascii_lowercase().as_str() {
        "fatal" => "error".to_owned(),
        other => other.to_owned(),
    }
}

/// Installs the global subscriber for a function binary (JSON in Lambda). Call once, first thing
/// in `main`; a second call changes nothing.
pub fn init_tracing() {
    init_with(&LogSettings::from_lookup(|name| std::env::var(name).ok()), false);
}

/// Shows the logs of a test run when `RUST_LOG` is set (through the test harness's capture);
/// otherwise installs nothing. Any number of calls.
pub fn init_test_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        init_with(&LogSettings::from_lookup(|name| std::env::var(name).ok()), true);
    }
}

fn init_with(settings: &LogSettings, test: bool) {
    let filter = EnvFilter::try_new(&settings.filter).unwrap_or_else(|e| {
        // The subscriber is not there yet to log this.
        eprintln!("log filter {:?} is invalid ({e}); logging at info", settings.filter);
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // `try_init` fails only when a subscriber is installed already: keep that one.
    let _ = match (settings.json, test) {
        (true, false) => {
            builder.json().flatten_event(true).with_current_span(true).with_span_list(true).try_init()
        }
        (true, true) => builder.json().flatten_event(true).with_test_writer().try_init(),
        (false, false) => builder.with_target(false).try_init(),
        (false, true) => builder.with_target(false).with_test_writer().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> LogSettings {
        let env: HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LogSettings::from_lookup(|name| env.get(name).cloned())
    }

    #[test]
    fn json_in_lambda_or_when_asked() {
        assert_eq!(settings(&[]), LogSettings { json: false, filter: "info".into() });
        assert!(settings(&[("AWS_LAMBDA_FUNCTION_NAME", "ledgerpost-ingest")]).json);
        assert!(settings(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
        // The function's log format wins over the guess.
        assert!(
            !settings(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), ("AWS_LAMBDA_LOG_FORMAT", "Text")])
                .json
        );
    }

    #[test]
    fn the_level_comes_from_rust_log_then_lambda() {
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG")]).filter, "debug");
        assert_eq!(settings(&[("AWS_LAMBDA_LOG_LEVEL", "FATAL")]).filter, "error");
        let both = settings(&[("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "ledgerpost_pipeline=trace")]);
        assert_eq!(both.filter, "ledgerpost_pipeline=trace");
    }
}
