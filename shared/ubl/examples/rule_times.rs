//! Where validation time goes: each rule context's cost (and how many nodes it matched) and each
//! assert's cost, summed over five passes over a file or every `.xml` file of a folder, slowest
//! first. Timing each assert adds its own overhead; use it to compare rules, not as a benchmark.
//! `cargo run --release -p ledgerpost-ubl --example rule_times -- FILE|FOLDER [TOP]`
use std::collections::HashMap;
use std::time::{Duration, Instant};

use ledgerpost_ubl::rules::RuleSet;
use ledgerpost_ubl::xml::{Document, Limits, NodeId};
use ledgerpost_ubl::xpath::{BoundDocument, Evaluator, Focus};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let set = RuleSet::en16931();
    let Some(p) = args.get(1).map(std::path::Path::new) else {
        eprintln!("usage: rule_times FILE|FOLDER [TOP]");
        std::process::exit(2);
    };
    let files: Vec<_> = if p.is_dir() {
        std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect()
    } else {
        vec![p.to_path_buf()]
    };
    let top: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let mut ctx: HashMap<String, (Duration, usize)> = HashMap::new();
    let mut asr: HashMap<String, (Duration, usize, String)> = HashMap::new();
    let mut tglob = Duration::ZERO;
    for _pass in 0..5 {
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            let Ok(doc) = Document::parse(&bytes, &Limits { max_bytes: 1 << 30, max_depth: 128 }) else {
                continue;
            };
            let bound = BoundDocument::new(&doc, &set.schema.names);
            let mut ev =
                Evaluator::new(&bound, &set.schema.functions).with_cache_slots(set.schema.cache_slots);
            let root = Focus::node(NodeId::DOCUMENT);
            let t = Instant::now();
            for (name, e) in &set.schema.globals {
                let v = ev.eval(e, &root);
                ev.push_var(name.clone(), v);
            }
            ev.seal_globals();
            tglob += t.elapsed();
            for p in &set.schema.patterns {
                for r in &p.rules {
                    let t = Instant::now();
                    let matched = ev.eval(&r.context, &root).unwrap_or_default();
                    let e = ctx.entry(r.context_source.chars().take(100).collect()).or_default();
                    e.0 += t.elapsed();
                    e.1 += matched.len();
                    for item in &matched {
                        let f = Focus { item: item.clone(), pos: 1, size: 1 };
                        for a in &r.asserts {
                            let t = Instant::now();
                            let _ = ev.ebv(&a.test, &f);
                            let e = asr.entry(a.id.to_string()).or_insert((
                                Duration::ZERO,
                                0,
                                a.test_source.chars().take(160).collect(),
                            ));
                            e.0 += t.elapsed();
                            e.1 += 1;
                        }
                    }
                }
            }
        }
    }
    let tc: Duration = ctx.values().map(|v| v.0).sum();
    let ta: Duration = asr.values().map(|v| v.0).sum();
    println!("files {} x5: globals {tglob:?} contexts {tc:?} asserts {ta:?}", files.len());
    let mut c: Vec<_> = ctx.into_iter().collect();
    c.sort_by_key(|x| std::cmp::Reverse(x.1.0));
    for (k, v) in c.iter().take(top) {
        println!("CTX {:>10.3?} n={:<6} {k}", v.0, v.1);
    }
    let mut a: Vec<_> = asr.into_iter().collect();
    a.sort_by_key(|x| std::cmp::Reverse(x.1.0));
    for (k, v) in a.iter().take(top) {
        println!("ASR {:>10.3?} n={:<6} {k}: {}", v.0, v.1, v.2);
    }
}
