//! `ledgerpost validate`: checks files against the official rules and reports per file, as text
//! for a person or as one JSON object per line for a program.

use std::io::Write;
use std::path::{Path, PathBuf};

use ledgerpost_ubl::model::DocumentKind;
use ledgerpost_ubl::rules::{Finding, Flag, Ruleset, validate};
use ledgerpost_ubl::xml::Limits;
use serde::Serialize;

/// The outcome for one file.
#[derive(Debug, Serialize)]
pub struct FileResult {
    pub file: String,
    pub document: Option<&'static str>,
    pub ruleset: &'static str,
    pub valid: bool,
    pub fatal: Vec<String>,
    pub warnings: Vec<String>,
    pub error: Option<String>,
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// Expands the arguments: files as given, folders recursively (their `.xml` files, sorted).
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out).map_err(|e| format!("cannot read folder {}: {e}", p.display()))?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(format!("no such file or folder: {}", p.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("xml")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Validates one file.
pub fn check_file(path: &Path, ruleset: Ruleset, limits: &Limits) -> FileResult {
    let mut result = FileResult {
        file: path.display().to_string(),
        document: None,
        ruleset: ruleset.name(),
        valid: false,
        fatal: Vec::new(),
        warnings: Vec::new(),
        error: None,
        findings: Vec::new(),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            result.error = Some(format!("cannot read the file: {e}"));
            return result;
        }
    };
    let doc = match ledgerpost_ubl::read(&bytes, limits) {
        Ok(d) => d,
        Err(e) => {
            result.error = Some(e.to_string());
            return result;
        }
    };
    result.document = Some(match doc.kind {
        DocumentKind::Invoice => "Invoice",
        DocumentKind::CreditNote => "CreditNote",
    });
    let report = validate(&doc.tree, ruleset);
    result.valid = report.is_valid();
    result.fatal = report.fatal_ids().into_iter().map(str::to_owned).collect();
    result.warnings = report.warning_ids().into_iter().map(str::to_owned).collect();
    result.findings = report.findings;
    result
}

/// Writes one result: a JSON line, or a summary line followed by the findings.
pub fn write_result(out: &mut impl Write, r: &FileResult, json: bool) -> std::io::Result<()> {
    if json {
        let line = serde_json::to_string(r).map_err(std::io::Error::other)?;
        return writeln!(out, "{line}");
    }
    if let Some(e) = &r.error {
        return writeln!(out, "ERROR    {}: {e}", r.file);
    }
    let status = if r.valid { "OK" } else { "INVALID" };
    let mut line = format!("{status:<8} {}", r.file);
    if !r.fatal.is_empty() {
        line.push_str(&format!("  fatal: {}", r.fatal.join(", ")));
    }
    if !r.warnings.is_empty() {
        line.push_str(&format!("  warnings: {}", r.warnings.join(", ")));
    }
    writeln!(out, "{line}")?;
    for f in &r.findings {
        let flag = if f.flag == Flag::Fatal { "fatal" } else { "warning" };
        writeln!(out, "    [{}] {flag} at {}: {}", f.rule, f.location, f.message)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/ubl")
    }

    #[test]
    fn folder_is_walked_recursively_and_sorted() {
        let files = collect_files(&[corpus()]).unwrap();
        assert_eq!(files.len(), 61);
        assert!(files.windows(2).all(|w| w[0] <= w[1]));
        assert!(collect_files(&[PathBuf::from("no/such/place")]).is_err());
    }

    #[test]
    fn results_name_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("scan.xml");
        std::fs::write(&pdf, b"%PDF-1.7 binary").unwrap();
        let r = check_file(&pdf, Ruleset::En16931, &Limits::default());
        assert!(!r.valid && r.document.is_none());
        assert!(r.error.as_deref().unwrap().contains("PDF"));
        let order = dir.path().join("order.xml");
        std::fs::write(&order, br#"<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>"#)
            .unwrap();
        let r = check_file(&order, Ruleset::En16931, &Limits::default());
        assert!(r.error.as_deref().unwrap().contains("Order"));

        let invalid = corpus().join("invalid/en16931__Invoice-unit-UBL__BR-CO-10__test8.xml");
        let r = check_file(&invalid, Ruleset::En16931, &Limits::default());
        assert_eq!(r.document, Some("Invoice"));
        assert!(!r.valid && r.fatal.contains(&"BR-CO-10".to_owned()));
        let mut json = Vec::new();
        write_result(&mut json, &r, true).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["valid"], false);
        assert_eq!(v["ruleset"], "en16931");
        assert!(v["error"].is_null());
        assert_eq!(json.iter().filter(|b| **b == b'\n').count(), 1);
    }
}
