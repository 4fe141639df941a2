//! Explains one rule on one file: which nodes its context matches and what its test gives.
//! `cargo run -p ledgerpost-ubl --example explain -- FILE RULE-ID [en16931|peppol]`

use ledgerpost_ubl::rules::RuleSet;
use ledgerpost_ubl::xml::{Document, Limits, NodeId};
use ledgerpost_ubl::xpath::{BoundDocument, Evaluator, Focus};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(file), Some(rule_id)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: explain FILE RULE-ID [en16931|peppol]");
        std::process::exit(2);
    };
    let set = if args.get(3).map(String::as_str) == Some("peppol") {
        RuleSet::peppol()
    } else {
        RuleSet::en16931()
    };
    let bytes = std::fs::read(file).expect("readable file");
    let doc = Document::parse(&bytes, &Limits::default()).expect("parsable XML");
    let bound = BoundDocument::new(&doc, &set.schema.names);
    let mut ev = Evaluator::new(&bound, &set.schema.functions);
    let root = Focus::node(NodeId::DOCUMENT);
    for (name, e) in &set.schema.globals {
        let v = ev.eval(e, &root);
        println!("${name} = {v:?}");
        ev.push_var(name.clone(), v);
    }
    ev.seal_globals();
    for (rule, a) in set.schema.asserts() {
        if &*a.id != rule_id.as_str() {
            continue;
        }
        println!("context: {}\ntest: {}", rule.context_source, a.test_source);
        let matched = ev.eval(&rule.context, &root);
        println!("matched: {matched:?}");
        for item in matched.unwrap_or_default() {
            let f = Focus { item: item.clone(), pos: 1, size: 1 };
            for (name, e) in &rule.lets {
                let v = ev.eval(e, &f);
                ev.push_var(name.clone(), v);
            }
            println!("  {item:?} -> {:?}", ev.ebv(&a.test, &f));
        }
    }
}
