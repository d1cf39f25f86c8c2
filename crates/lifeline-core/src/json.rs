//! Strict JSON: one object, no duplicate members at any depth, bounded nesting, nothing after
//! the closing brace. serde_json alone keeps the last of two duplicate members silently,
//! which would let two parsers of one token disagree about its claims.

use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// How deep objects and arrays may nest (the top-level object is depth 1).
pub(crate) const MAX_DEPTH: usize = 16;

/// Parses `bytes` as one strict JSON object: duplicate members at any depth, nesting
/// deeper than 16 levels and trailing bytes are refused. The error says what was wrong.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue { depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err("expected a JSON object".to_owned()),
    }
}

/// A seed that builds a [`Value`] while refusing duplicates and deep nesting.
struct StrictValue {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl StrictValue {
    fn nested<E: de::Error>(&self) -> Result<Self, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(E::custom(format_args!(
                "nesting deeper than {MAX_DEPTH} levels"
            )));
        }
        Ok(Self { depth })
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue { depth: inner.depth })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate member {key:?}")));
            }
            let value = map.next_value_seed(StrictValue { depth: inner.depth })?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_plain_object() {
        let map = parse_object(br#"{"a":1,"b":[true,null,"x",{"c":-2.5}]}"#).unwrap();
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn refuses_duplicates_at_any_depth() {
        assert!(
            parse_object(br#"{"a":1,"a":2}"#)
                .unwrap_err()
                .contains("duplicate")
        );
        assert!(
            parse_object(br#"{"a":{"b":1,"b":1}}"#)
                .unwrap_err()
                .contains("duplicate")
        );
    }

    #[test]
    fn refuses_deep_nesting() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH - 1), "]".repeat(MAX_DEPTH - 1));
        assert!(parse_object(format!("{{\"a\":{ok}}}").as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        let err = parse_object(format!("{{\"a\":{deep}}}").as_bytes()).unwrap_err();
        assert!(err.contains("nesting"), "{err}");
    }

    #[test]
    fn refuses_non_objects_and_trailing_bytes() {
        assert!(parse_object(b"[1]").is_err());
        assert!(parse_object(b"\"x\"").is_err());
        assert!(parse_object(b"{} {}").is_err());
        assert!(parse_object(b"{\"a\":1}x").is_err());
        assert!(parse_object(b"").is_err());
        assert!(parse_object(b"{\"a\":\xff}").is_err());
    }
}
