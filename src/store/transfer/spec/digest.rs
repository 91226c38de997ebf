//! Digests for validation: a row's hash, and a JSON value's hash that does not depend on
//! key order or number spelling (SQLite keeps text, PostgreSQL's jsonb normalises it).

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use xxhash_rust::xxh3::Xxh3;

use super::Cell;

/// A digest of JSON text that both sides agree on: object keys in any order (the last of
/// duplicate keys wins, as in jsonb), numbers by value (jsonb keeps `1.50` but turns `1e2`
/// into `100`), whitespace ignored. Computed while parsing, without building a tree.
pub fn json_digest(text: &str) -> Result<u64, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let d = de.deserialize_any(Digest).map_err(|e| format!("not valid JSON ({e})"))?;
    de.end().map_err(|e| format!("not valid JSON ({e})"))?;
    Ok(d)
}

fn tagged(tag: u8, bytes: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&[tag]);
    h.update(bytes);
    h.digest()
}

fn number(x: f64) -> u64 {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        tagged(b'i', &(x as i64).to_le_bytes())
    } else {
        tagged(b'f', &x.to_bits().to_le_bytes())
    }
}

struct Digest;

impl<'de> Visitor<'de> for Digest {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }
    fn visit_unit<E>(self) -> Result<u64, E> {
        Ok(tagged(b'n', &[]))
    }
    fn visit_bool<E>(self, b: bool) -> Result<u64, E> {
        Ok(tagged(b'b', &[b as u8]))
    }
    fn visit_i64<E>(self, i: i64) -> Result<u64, E> {
        Ok(if i.unsigned_abs() < 9_000_000_000_000_000 / 1000 {
            tagged(b'i', &i.to_le_bytes())
        } else {
            number(i as f64)
        })
    }
    fn visit_u64<E>(self, u: u64) -> Result<u64, E> {
        Ok(if u < 9_000_000_000_000_000 / 1000 { tagged(b'i', &(u as i64).to_le_bytes()) } else { number(u as f64) })
    }
    fn visit_f64<E>(self, x: f64) -> Result<u64, E> {
        Ok(number(x))
    }
    fn visit_str<E>(self, s: &str) -> Result<u64, E> {
        Ok(tagged(b's', s.as_bytes()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut h = Xxh3::new();
        h.update(b"[");
        while let Some(d) = seq.next_element_seed(Digest)? {
            h.update(&d.to_le_bytes());
        }
        Ok(h.digest())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut members: Vec<(Cow<'de, str>, u64)> = Vec::new();
        while let Some(k) = map.next_key_seed(Key)? {
            members.push((k, map.next_value_seed(Digest)?));
        }
        // Stable sort keeps duplicates in input order; the last one wins.
        members.sort_by(|a, b| a.0.cmp(&b.0));
        let mut h = Xxh3::new();
        h.update(b"{");
        for (i, (k, d)) in members.iter().enumerate() {
            if members.get(i + 1).is_some_and(|n| n.0 == *k) {
                continue;
            }
            h.update(&(k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update(&d.to_le_bytes());
        }
        Ok(h.digest())
    }
}

impl<'de> DeserializeSeed<'de> for Digest {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key;

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

/// A row's 64-bit content hash; tables are summed (wrapping), so the total does not depend
/// on row order.
pub fn row_hash(row: &[Cell]) -> u64 {
    let mut h = Xxh3::new();
    for c in row {
        match c {
            Cell::Null => h.update(&[0]),
            Cell::Int(i) => {
                h.update(&[1]);
                h.update(&i.to_le_bytes())
            }
            Cell::Float(x) => {
                h.update(&[2]);
                h.update(&x.to_bits().to_le_bytes())
            }
            Cell::Text(s) | Cell::Json(s) => {
                h.update(&[3]);
                h.update(&(s.len() as u64).to_le_bytes());
                h.update(s.as_bytes())
            }
            Cell::Bool(b) => h.update(&[4, *b as u8]),
            Cell::Ts(t) => {
                h.update(&[5]);
                h.update(&t.timestamp_micros().to_le_bytes())
            }
            Cell::Digest(d) => {
                h.update(&[6]);
                h.update(&d.to_le_bytes())
            }
            Cell::Bytes(b) => {
                h.update(&[7]);
                h.update(&(b.len() as u64).to_le_bytes());
                h.update(b)
            }
        };
    }
    h.digest()
}
