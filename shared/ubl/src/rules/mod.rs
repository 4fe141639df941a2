//! The official EN 16931 and Peppol BIS Billing 3.0 rule sets, run as data.
//!
//! The Schematron files published by CEN/TC 434 (EN 16931 UBL v1.3.16, EUPL-1.2) and OpenPeppol
//! (BIS Billing 3.0) are embedded unchanged and compiled once per process by [`schematron`]; a new
//! release is a file swap, checked by the corpus and oracle tests. Semantics are Schematron's:
//! a rule context is a match pattern; within a pattern a node is handled by the first rule whose
//! context matches it; an assert fails when its test's effective boolean value is false.
//!
//! A dynamic error while testing an assert (e.g. `xs:decimal('12,50')`, or two values where the
//! rule expects one) ends the official XSLT run for that rule set; the official verdict is then
//! the single fatal pseudo-rule `XSLT-RUNTIME-ERROR`, which is what this engine reports too, with
//! the rule and the error named.

pub mod schematron;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

pub use schematron::{Flag, LoadError, Schema};

use crate::xml::{Document, NodeId};
use crate::xpath::{BoundDocument, Evaluator, Focus, Item, XPathError};

const EN16931_SCH: &str = include_str!("../../rules/EN16931-UBL-validation-preprocessed.sch");
const PEPPOL_SCH: &str = include_str!("../../rules/PEPPOL-EN16931-UBL.sch");

/// The pseudo rule id the official validator reports when a rule cannot be evaluated.
pub const RUNTIME_ERROR_ID: &str = "XSLT-RUNTIME-ERROR";

/// Which rule sets to run: EN 16931 alone, or EN 16931 and Peppol BIS Billing 3.0 together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ruleset {
    #[default]
    En16931,
    Peppol,
}

impl Ruleset {
    pub fn name(self) -> &'static str {
        match self {
            Ruleset::En16931 => "en16931",
            Ruleset::Peppol => "peppol",
        }
    }
}

impl std::str::FromStr for Ruleset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "en16931" => Ok(Ruleset::En16931),
            "peppol" => Ok(Ruleset::Peppol),
            other => Err(format!("unknown rule set \"{other}\" (expected en16931 or peppol)")),
        }
    }
}

/// Where a finding's rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    En16931,
    Peppol,
}

/// One failed assert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    pub rule: String,
    pub flag: Flag,
    pub source: Source,
    /// Where in the document, e.g. `/Invoice/cac:InvoiceLine[2]/cbc:ID`.
    pub location: String,
    pub message: String,
}

/// The findings of one validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    pub ruleset: Ruleset,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn is_valid(&self) -> bool {
        self.findings.iter().all(|f| f.flag != Flag::Fatal)
    }

    fn ids(&self, flag: Flag) -> BTreeSet<&str> {
        self.findings.iter().filter(|f| f.flag == flag).map(|f| f.rule.as_str()).collect()
    }

    /// Distinct ids of fatal findings, sorted.
    pub fn fatal_ids(&self) -> BTreeSet<&str> {
        self.ids(Flag::Fatal)
    }

    /// Distinct ids of warnings, sorted.
    pub fn warning_ids(&self) -> BTreeSet<&str> {
        self.ids(Flag::Warning)
    }

    /// Ids of findings from one source only.
    pub fn ids_from(&self, source: Source, flag: Flag) -> BTreeSet<&str> {
        self.findings
            .iter()
            .filter(|f| f.source == source && f.flag == flag)
            .map(|f| f.rule.as_str())
            .collect()
    }
}

/// A loaded rule set.
#[derive(Debug)]
pub struct RuleSet {
    pub source: Source,
    pub schema: Schema,
}

impl RuleSet {
    /// The embedded EN 16931 UBL rules, compiled on first use.
    pub fn en16931() -> &'static RuleSet {
        static SET: OnceLock<RuleSet> = OnceLock::new();
        SET.get_or_init(|| RuleSet::load(EN16931_SCH, Source::En16931))
    }

    /// The embedded Peppol BIS Billing 3.0 UBL rules, compiled on first use.
    pub fn peppol() -> &'static RuleSet {
        static SET: OnceLock<RuleSet> = OnceLock::new();
        SET.get_or_init(|| RuleSet::load(PEPPOL_SCH, Source::Peppol))
    }

    fn load(text: &str, source: Source) -> RuleSet {
        // The embedded files are part of the build; the tests load both, so a failure here is a
        // defect of this build, not of any input.
        match Schema::load(text) {
            Ok(schema) => RuleSet { source, schema },
            Err(e) => panic!("embedded {source:?} rule set does not compile: {e}"),
        }
    }

    /// Compiles a rule set from Schematron text (for a newer release than the embedded one).
    pub fn from_schematron(text: &str, source: Source) -> Result<RuleSet, LoadError> {
        Ok(RuleSet { source, schema: Schema::load(text)? })
    }

    /// Runs every pattern over the document.
    pub fn check(&self, doc: &Document) -> Vec<Finding> {
        let bound = BoundDocument::new(doc, &self.schema.names);
        let mut ev = Evaluator::new(&bound, &self.schema.functions).with_cache_slots(self.schema.cache_slots);
        let root_focus = Focus::node(NodeId::DOCUMENT);
        for (name, expr) in &self.schema.globals {
            let v = ev.eval(expr, &root_focus);
            ev.push_var(name.clone(), v);
        }
        ev.seal_globals();
        let mut findings = Vec::new();
        let mut handled = vec![false; doc.len()];
        let mut handled_attrs: Vec<(u32, u32)> = Vec::new();
        for pattern in &self.schema.patterns {
            handled.iter_mut().for_each(|h| *h = false);
            handled_attrs.clear();
            for rule in &pattern.rules {
                ev.pattern_mode = true;
                let matched = ev.eval(&rule.context, &root_focus);
                ev.pattern_mode = false;
                // A pattern that cannot be evaluated matches nothing (XSLT pattern semantics).
                let Ok(matched) = matched else { continue };
                for item in matched {
                    let fresh = match &item {
                        Item::Node(n) => !std::mem::replace(&mut handled[n.index()], true),
                        Item::Attr(n, k) => {
                            let key = (n.0, *k);
                            if handled_attrs.contains(&key) {
                                false
                            } else {
                                handled_attrs.push(key);
                                true
                            }
                        }
                        Item::Atomic(_) => false,
                    };
                    if !fresh {
                        continue;
                    }
                    if let Err((assert, e)) = self.apply(&mut ev, rule, &item, &mut findings) {
                        return vec![self.runtime_error(doc, &item, assert, &e)];
                    }
                }
            }
        }
        findings
    }

    fn apply<'d>(
        &self,
        ev: &mut Evaluator<'_, 'd>,
        rule: &'d schematron::Rule,
        item: &Item<'d>,
        findings: &mut Vec<Finding>,
    ) -> Result<(), (Arc<str>, XPathError)> {
        let focus = Focus { item: item.clone(), pos: 1, size: 1 };
        let depth = ev.var_depth();
        for (name, expr) in &rule.lets {
            let v = ev.eval(expr, &focus);
            ev.push_var(name.clone(), v);
        }
        let mut outcome = Ok(());
        for a in &rule.asserts {
            match ev.ebv(&a.test, &focus) {
                Ok(true) => {}
                Ok(false) => findings.push(Finding {
                    rule: a.id.to_string(),
                    flag: a.flag,
                    source: self.source,
                    location: location(ev.doc(), item),
                    message: a.message.to_string(),
                }),
                Err(e) => {
                    outcome = Err((a.id.clone(), e));
                    break;
                }
            }
        }
        ev.truncate_vars(depth);
        outcome
    }

    fn runtime_error(&self, doc: &Document, item: &Item<'_>, assert: Arc<str>, e: &XPathError) -> Finding {
        Finding {
            rule: RUNTIME_ERROR_ID.to_owned(),
            flag: Flag::Fatal,
            source: self.source,
            location: location(doc, item),
            message: format!(
                "rule {assert} could not be evaluated here ({e}); the official validator stops on this \
                 document with a runtime error"
            ),
        }
    }
}

fn location(doc: &Document, item: &Item<'_>) -> String {
    match item {
        Item::Node(n) => doc.path(*n),
        Item::Attr(n, k) => {
            let (name, _) = doc.attribute(*n, *k as usize);
            format!("{}/@{}", doc.path(*n), doc.names()[name].local)
        }
        Item::Atomic(_) => String::new(),
    }
}

/// Validates a parsed document with the chosen rule sets. Findings are in rule-set order.
pub fn validate(doc: &Document, ruleset: Ruleset) -> Report {
    let mut findings = RuleSet::en16931().check(doc);
    if ruleset == Ruleset::Peppol {
        findings.extend(RuleSet::peppol().check(doc));
    }
    Report { ruleset, findings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Limits;

    /// A tiny schema exercising rule-set functions, variables and both flags.
    const SCHEMA: &str = r#"<?xml version="1.0"?>
<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="u" uri="utils"/>
  <function xmlns="http://www.w3.org/1999/XSL/Transform" name="u:gln" as="xs:boolean">
    <param name="val"/>
    <variable name="length" select="string-length($val) - 1"/>
    <variable name="digits" select="reverse(for $i in string-to-codepoints(substring($val, 0, $length + 1)) return $i - 48)"/>
    <variable name="weightedSum" select="sum(for $i in (0 to $length - 1) return $digits[$i + 1] * (1 + ((($i + 1) mod 2) * 2)))"/>
    <value-of select="(10 - ($weightedSum mod 10)) mod 10 = number(substring($val, $length + 1, 1))"/>
  </function>
  <pattern>
    <let name="first" value="/doc/gln[1]"/>
    <rule context="gln">
      <assert id="GLN" flag="fatal" test="u:gln(normalize-space())">bad GLN</assert>
      <assert id="W" flag="warning" test="string-length(.) = 13">not 13 digits</assert>
    </rule>
    <rule context="gln">
      <assert id="SHADOWED" test="false()">never: the first rule handles gln</assert>
    </rule>
  </pattern>
</schema>"#;

    fn run(xml: &str) -> Vec<Finding> {
        let set = RuleSet::from_schematron(SCHEMA, Source::Peppol).unwrap();
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        set.check(&doc)
    }

    #[test]
    fn rule_set_functions_run_their_xpath_bodies() {
        assert!(run("<doc><gln>7300010000001</gln><gln>5790000435951</gln></doc>").is_empty());
        let f = run("<doc><gln>7300010000002</gln><gln>124</gln></doc>");
        let ids: Vec<(&str, Flag)> = f.iter().map(|f| (f.rule.as_str(), f.flag)).collect();
        assert_eq!(ids, [("GLN", Flag::Fatal), ("GLN", Flag::Fatal), ("W", Flag::Warning)]);
        assert_eq!(f[0].location, "/doc/gln[1]");
    }

    /// The same node value in a rule context (pattern mode: an error inside a predicate is a
    /// non-match) and in an assert (an error stops the run): each mode keeps its own value.
    #[test]
    fn node_values_kept_per_node_do_not_leak_pattern_mode_into_asserts() {
        let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <pattern>
    <rule context="x[count(v[xs:decimal(.) > 0]) = 0]">
      <assert id="MATCHED" test="false()">matched</assert>
    </rule>
  </pattern>
  <pattern>
    <rule context="x">
      <assert id="POSITIVE" test="count(v[xs:decimal(.) > 0]) = 0">no positive v</assert>
      <assert id="AGAIN" test="count(v[xs:decimal(.) > 0]) = 0">no positive v</assert>
    </rule>
  </pattern>
</schema>"#;
        let set = RuleSet::from_schematron(schema, Source::Peppol).unwrap();
        let memoised =
            set.schema.asserts().filter(|(_, a)| format!("{:?}", a.test).contains("NodeMemo")).count();
        assert_eq!(memoised, 2, "the shared value is kept per node");
        let ids = |xml: &str| -> Vec<String> {
            let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
            set.check(&doc).into_iter().map(|f| f.rule).collect()
        };
        assert_eq!(ids("<doc><x><v>-1</v></x><x><v>2</v></x></doc>"), ["MATCHED", "POSITIVE", "AGAIN"]);
        // In the context the bad decimal is a non-match; in the assert it is a runtime error.
        assert_eq!(ids("<doc><x><v>1,5</v></x></doc>"), [RUNTIME_ERROR_ID]);
    }

    /// Rule contexts and root paths `//a/b/c` are matched upward from `c`: the same nodes, in
    /// document order, as walking down, with nested elements of one name, and predicates on
    /// upper steps that fail or cannot be evaluated (a non-match in a context, an error in an
    /// assert).
    #[test]
    fn paths_matched_upward_select_what_walking_down_selects() {
        let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <pattern>
    <rule context="a/b/c">
      <assert id="C" test="false()">c under a/b</assert>
    </rule>
  </pattern>
  <pattern>
    <rule context="a[xs:decimal(@v) > 0]/b/c">
      <assert id="POSITIVE" test="false()">c under a positive a</assert>
    </rule>
  </pattern>
  <pattern>
    <rule context="/doc">
      <assert id="COUNT" test="count(//a/b/c) = 4 and count(/doc/a/b/c) = 2">four, two at the top</assert>
      <assert id="UPPER" test="count(//a[@v = '2']/b/c) = 2">two under v=2</assert>
    </rule>
  </pattern>
</schema>"#;
        let set = RuleSet::from_schematron(schema, Source::Peppol).unwrap();
        let xml = r#"<doc><a v="1"><b><c/></b><a v="2"><b><c/><c/></b></a></a><b><c/></b><a v="x,5"><b><c/></b></a></doc>"#;
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        let found: Vec<(String, String)> =
            set.check(&doc).into_iter().map(|f| (f.rule, f.location)).collect();
        let expected = [
            ("C", "/doc/a[1]/b/c"),
            ("C", "/doc/a[1]/a/b/c[1]"),
            ("C", "/doc/a[1]/a/b/c[2]"),
            ("C", "/doc/a[2]/b/c"),
            ("POSITIVE", "/doc/a[1]/b/c"),
            ("POSITIVE", "/doc/a[1]/a/b/c[1]"),
            ("POSITIVE", "/doc/a[1]/a/b/c[2]"),
        ];
        let expected: Vec<(String, String)> =
            expected.iter().map(|(r, l)| (r.to_string(), l.to_string())).collect();
        assert_eq!(found, expected, "the bad decimal is a non-match in a context; COUNT and UPPER hold");

        // In an assert a bad decimal is a runtime error, as walking down raises it, even on an
        // `a` with no `c` below (which matching upward alone would never look at).
        let schema = schema.replace("count(//a[@v = '2']/b/c) = 2", "count(//a[xs:decimal(@v) > 0]/b/c) = 1");
        let set = RuleSet::from_schematron(&schema, Source::Peppol).unwrap();
        let xml = r#"<doc><a v="1"><b><c/></b></a><a v="y,5"><b/></a></doc>"#;
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        let ids: Vec<String> = set.check(&doc).into_iter().map(|f| f.rule).collect();
        assert_eq!(ids, [RUNTIME_ERROR_ID]);
    }

    /// From an element with a large subtree, relative paths are matched upward too: the same
    /// nodes as a walk down (written `a/b/(c)`, which is never matched upward).
    #[test]
    fn relative_paths_from_large_subtrees_match_upward_what_they_match_down() {
        let schema = r#"<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <pattern>
    <rule context="/doc">
      <assert id="COUNT" test="count(a/b/c) = 3 and count(a/b/c) = count(a/b/(c))">three c</assert>
      <assert id="EXISTS" test="exists(a/b/c) and not(a/b/d) and not(a/c)">c, no d</assert>
      <assert id="DEEP" test="count(descendant::b/c) = 5">five c below any b</assert>
      <assert id="PREDICATE" test="count(a/b/c[@k = '1']) = 2">two with k=1</assert>
    </rule>
  </pattern>
</schema>"#;
        let set = RuleSet::from_schematron(schema, Source::Peppol).unwrap();
        let filler = "<x><y/></x>".repeat(200);
        let xml = format!(
            r#"<doc>{filler}<a><b><c k="1"/><c/></b><x><b><c/></b></x></a><a><b><c k="1"/></b><d/></a><z><a><b><c k="1"/></b></a></z></doc>"#
        );
        let doc = Document::parse(xml.as_bytes(), &Limits::default()).unwrap();
        assert!(doc.len() > 300, "the root's subtree is large");
        let ids: Vec<String> = set.check(&doc).into_iter().map(|f| f.rule).collect();
        assert!(ids.is_empty(), "{ids:?}");
    }

    #[test]
    fn embedded_rule_sets_load_completely() {
        assert_eq!(RuleSet::en16931().schema.asserts().count(), 979);
        assert_eq!(RuleSet::peppol().schema.asserts().count(), 156);
    }
}
