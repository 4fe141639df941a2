//! Splitting a long list of values into chunk items that each fit the store's item limit.

use ledgerpost_ports::Body;
use serde::Serialize;
use serde_json::value::RawValue;

/// Most bytes of JSON values in one chunk item: well under the 400 KB item limit, leaving room
/// for keys and attribute names.
pub const CHUNK_BYTES: usize = 300 * 1024;

/// The bodies of the chunks holding `values` in order, each `{"<field>": [...]}` with at most
/// `budget` bytes of compact JSON values (a single value larger than the budget gets a chunk of
/// its own, and the store refuses it if it is over the item limit). An empty list gives no chunk.
///
/// Each value is serialized once: its text is measured and then copied into its chunk as it is.
pub fn chunk_bodies<T: Serialize>(
    field: &str,
    values: &[T],
    budget: usize,
) -> Result<Vec<Body>, serde_json::Error> {
    let texts = values.iter().map(serde_json::value::to_raw_value).collect::<Result<Vec<_>, _>>()?;
    split_into_chunks(texts, budget).iter().map(|chunk| Body::of(&Chunk { field, values: chunk })).collect()
}

/// Splits texts in order into groups of at most `budget` bytes each (counting a separator each).
fn split_into_chunks(texts: Vec<Box<RawValue>>, budget: usize) -> Vec<Vec<Box<RawValue>>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut size = 0usize;
    for text in texts {
        let len = text.get().len() + 1;
        if !current.is_empty() && size + len > budget {
            chunks.push(std::mem::take(&mut current));
            size = 0;
        }
        size += len;
        current.push(text);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// `{"<field>": [values…]}` with the values' texts copied as they are.
struct Chunk<'a> {
    field: &'a str,
    values: &'a [Box<RawValue>],
}

impl Serialize for Chunk<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.field, self.values)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn chunks_keep_order_and_respect_the_budget() {
        let values: Vec<Value> = (0..100).map(|i| json!({ "n": i, "pad": "x".repeat(90) })).collect();
        let bodies = chunk_bodies("values", &values, 1000).unwrap();
        assert!(bodies.len() > 10);
        let mut flat = Vec::new();
        for body in &bodies {
            assert!(body.len() <= 1000 + r#"{"values":[]}"#.len());
            let chunk: Value = body.to_value().unwrap();
            flat.extend(chunk["values"].as_array().unwrap().iter().cloned());
        }
        assert_eq!(flat, values);
        assert!(chunk_bodies::<Value>("values", &[], 10).unwrap().is_empty());
    }

    #[test]
    fn a_value_over_the_budget_gets_a_chunk_of_its_own() {
        let values = vec![json!("a"), json!("x".repeat(50)), json!("b")];
        let bodies = chunk_bodies("lines", &values, 20).unwrap();
        let texts: Vec<&str> = bodies.iter().map(|b| b.as_str()).collect();
        assert_eq!(
            texts,
            [r#"{"lines":["a"]}"#, &format!(r#"{{"lines":["{}"]}}"#, "x".repeat(50)), r#"{"lines":["b"]}"#]
        );
    }
}
