//! Splitting a long list of JSON values into chunks that each fit an item.

use serde_json::Value;

/// Most bytes of JSON values in one chunk item: well under the 400 KB item limit, leaving room
/// for keys and attribute names.
pub const CHUNK_BYTES: usize = 300 * 1024;

/// Splits `values` in order into chunks of at most `budget` bytes of compact JSON each (a single
/// value larger than the budget gets a chunk of its own, and the store refuses it if it is over
/// the item limit). An empty list gives no chunk.
pub fn split_into_chunks(values: Vec<Value>, budget: usize) -> Vec<Vec<Value>> {
    let mut chunks = Vec::new();
    let mut current = Vec::new();
    let mut size = 0usize;
    for value in values {
        let len = serde_json::to_vec(&value).map(|v| v.len()).unwrap_or(0) + 1;
        if !current.is_empty() && size + len > budget {
            chunks.push(std::mem::take(&mut current));
            size = 0;
        }
        size += len;
        current.push(value);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn chunks_keep_order_and_respect_the_budget() {
        let values: Vec<Value> = (0..100).map(|i| json!({ "n": i, "pad": "x".repeat(90) })).collect();
        let chunks = split_into_chunks(values.clone(), 1000);
        assert!(chunks.len() > 10);
        for chunk in &chunks {
            assert!(serde_json::to_vec(chunk).unwrap().len() <= 1000 + 2);
        }
        let flat: Vec<Value> = chunks.into_iter().flatten().collect();
        assert_eq!(flat, values);
        assert!(split_into_chunks(vec![], 10).is_empty());
    }
}
