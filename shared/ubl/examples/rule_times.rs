//! Times each rule of a rule set on one file (context match + asserts), slowest first.
//! `cargo run --release -p ledgerpost-ubl --example rule_times -- FILE [peppol]`
use std::time::Instant;

use ledgerpost_ubl::rules::RuleSet;
use ledgerpost_ubl::xml::{Document, Limits, NodeId};
use ledgerpost_ubl::xpath::{BoundDocument, Evaluator, Focus};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args.get(1) else {
        eprintln!("usage: rule_times FILE [peppol]");
        std::process::exit(2);
    };
    let set = if args.get(2).map(String::as_str) == Some("peppol") {
        RuleSet::peppol()
    } else {
        RuleSet::en16931()
    };
    let bytes = std::fs::read(file).expect("readable file");
    let t = Instant::now();
    let doc = Document::parse(&bytes, &Limits::default()).expect("parsable XML");
    println!("parse {:?}", t.elapsed());
    let t = Instant::now();
    let bound = BoundDocument::new(&doc, &set.schema.names);
    println!("bind {:?}", t.elapsed());
    let mut ev = Evaluator::new(&bound, &set.schema.functions);
    let root = Focus::node(NodeId::DOCUMENT);
    let t = Instant::now();
    for (name, e) in &set.schema.globals {
        let v = ev.eval(e, &root);
        ev.push_var(name.clone(), v);
    }
    println!("globals {:?}", t.elapsed());
    ev.seal_globals();
    let mut times = Vec::new();
    for p in &set.schema.patterns {
        for r in &p.rules {
            let t = Instant::now();
            let matched = ev.eval(&r.context, &root).unwrap_or_default();
            let tc = t.elapsed();
            for item in &matched {
                let f = Focus { item: item.clone(), pos: 1, size: 1 };
                for a in &r.asserts {
                    let t = Instant::now();
                    let _ = ev.ebv(&a.test, &f);
                    times.push((t.elapsed(), a.id.to_string()));
                }
            }
            times.push((tc, format!("context {}", &r.context_source.chars().take(60).collect::<String>())));
        }
    }
    for _ in 0..3 {
        let t = Instant::now();
        let r = ledgerpost_ubl::rules::validate(&doc, ledgerpost_ubl::rules::Ruleset::En16931);
        println!("validate() {:?} ({} findings)", t.elapsed(), r.findings.len());
    }
    times.sort_by_key(|t| std::cmp::Reverse(t.0));
    let total: std::time::Duration = times.iter().map(|t| t.0).sum();
    println!("rules total {total:?}");
    let mut fam: std::collections::BTreeMap<String, std::time::Duration> = Default::default();
    for (d, id) in &times {
        let f = if id.starts_with("context") {
            "context".to_owned()
        } else {
            id.rsplit_once('-').map(|x| x.0.to_owned()).unwrap_or(id.clone())
        };
        *fam.entry(f).or_default() += *d;
    }
    let mut fam: Vec<_> = fam.into_iter().collect();
    fam.sort_by_key(|f| std::cmp::Reverse(f.1));
    println!("by family: {:?}", &fam[..fam.len().min(8)]);
    for (d, id) in times.iter().take(15) {
        println!("{d:>12?} {id}");
    }
}
