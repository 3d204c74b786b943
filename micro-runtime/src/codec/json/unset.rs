//! `null` for a message's field reads as the field not set, as in the proto3 JSON mapping.
//!
//! pbjson takes `null` only for the fields it holds as an `Option` (messages, `optional` scalars,
//! oneof members) and refuses it for a plain scalar, a repeated field or a map. Go's protojson
//! skips a field whose value is `null` whatever its type (bar `google.protobuf.Value`, which
//! micro holds as an `Option` anyway), so go-micro takes `{"count":null}` as an empty message.
//! [`Fields`] wraps the fields of a message (what pbjson reads with `deserialize_struct`) and
//! reads each value as an option: `null` gives the field [`Unset`], its default, anything else is
//! read as before. Only a field's own value: `null` inside a list or as a map's value is still
//! refused, as protojson refuses it.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Unexpected, Visitor};

/// Wraps the map access over a message's fields.
pub(super) struct Fields<A>(pub(super) A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Fields<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(NullIsUnset(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// Reads a field's value, or its default for `null`.
struct NullIsUnset<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for NullIsUnset<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        // serde_json's deserialize_option consumes a `null` and hands anything else on untouched.
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for NullIsUnset<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field's value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<S::Value, E> {
        self.0.deserialize(Unset(PhantomData))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(d)
    }
}

/// A deserializer that gives whatever asks it the proto3 default of its kind: 0, false, "", no
/// bytes, no elements, no entries. What has no proto3 default is refused as `null` is.
struct Unset<E>(PhantomData<E>);

// Methods whose kind has no default in proto3: `null` stays an error.
macro_rules! refuse {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $ty,)* visitor: V) -> Result<V::Value, E> {
            Err(E::invalid_type(Unexpected::Other("null"), &visitor))
        }
    )*};
}

// Methods whose default is one visitor call.
macro_rules! default {
    ($($method:ident => $visit:ident($($value:expr)?);)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
            visitor.$visit($($value)?)
        }
    )*};
}

impl<'de, E: de::Error> Deserializer<'de> for Unset<E> {
    type Error = E;

    default! {
        // pbjson reads numbers (NumberDeserialize) and enums this way; 0 is the default of both.
        deserialize_any => visit_u64(0);
        deserialize_bool => visit_bool(false);
        deserialize_i8 => visit_i64(0); deserialize_i16 => visit_i64(0);
        deserialize_i32 => visit_i64(0); deserialize_i64 => visit_i64(0);
        deserialize_i128 => visit_i64(0);
        deserialize_u8 => visit_u64(0); deserialize_u16 => visit_u64(0);
        deserialize_u32 => visit_u64(0); deserialize_u64 => visit_u64(0);
        deserialize_u128 => visit_u64(0);
        deserialize_f32 => visit_f64(0.0); deserialize_f64 => visit_f64(0.0);
        deserialize_str => visit_str(""); deserialize_string => visit_str("");
        deserialize_bytes => visit_bytes(&[]); deserialize_byte_buf => visit_bytes(&[]);
        deserialize_option => visit_none(); deserialize_unit => visit_unit();
        deserialize_ignored_any => visit_unit();
    }

    refuse! {
        deserialize_char(); deserialize_identifier();
        deserialize_unit_struct(name: &'static str);
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_seq(SeqDeserializer::new(std::iter::empty::<()>()))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_map(MapDeserializer::new(std::iter::empty::<((), ())>()))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, E> {
        visitor.visit_newtype_struct(self)
    }

    fn is_human_readable(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pbjson::private::{BytesDeserialize, NumberDeserialize};
    use serde::{Deserialize, Deserializer, Serialize};

    use super::super::decode;

    /// Fields of each kind, read the way pbjson's generated code reads them.
    #[derive(Clone, PartialEq, prost::Message, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase", default)]
    struct Plain {
        #[prost(int64, tag = "1")]
        #[serde(deserialize_with = "number")]
        count: i64,
        #[prost(double, tag = "2")]
        #[serde(deserialize_with = "number")]
        ratio: f64,
        #[prost(string, tag = "3")]
        name: String,
        #[prost(bool, tag = "4")]
        flag: bool,
        #[prost(bytes = "vec", tag = "5")]
        #[serde(deserialize_with = "bytes")]
        data: Vec<u8>,
        #[prost(string, repeated, tag = "6")]
        many: Vec<String>,
        #[prost(map = "string, string", tag = "7")]
        named: HashMap<String, String>,
        #[prost(int64, optional, tag = "8")]
        maybe: Option<i64>,
        #[prost(message, optional, boxed, tag = "9")]
        inner: Option<Box<Plain>>,
    }

    fn number<'de, D: Deserializer<'de>, T>(d: D) -> Result<T, D::Error>
    where
        T: std::str::FromStr + Deserialize<'de>,
        T::Err: std::error::Error,
    {
        Ok(NumberDeserialize::<T>::deserialize(d)?.0)
    }

    fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        Ok(BytesDeserialize::<Vec<u8>>::deserialize(d)?.0)
    }

    // Go's protojson.Unmarshal takes every one of these as an empty message.
    #[test]
    fn null_for_any_field_reads_as_not_set() {
        for field in [
            "count", "ratio", "name", "flag", "data", "many", "named", "maybe", "inner",
        ] {
            let json = format!(r#"{{"{field}":null}}"#);
            let plain = decode::<Plain>(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(plain, Plain::default(), "{json}");
        }
        let plain = decode::<Plain>(
            br#"{"count":null,"name":"n","inner":{"ratio":null,"flag":true,"many":null}}"#,
        )
        .unwrap();
        let inner = Plain {
            flag: true,
            ..Plain::default()
        };
        let expected = Plain {
            name: "n".into(),
            inner: Some(Box::new(inner)),
            ..Plain::default()
        };
        assert_eq!(plain, expected);
    }

    #[test]
    fn null_inside_a_list_or_map_and_other_bad_values_are_still_a_400() {
        for json in [
            r#"{"many":[null]}"#,
            r#"{"named":{"a":null}}"#,
            r#"{"count":nul}"#,
            r#"{"count":"x"}"#,
            r#"{"count":{}}"#,
            r#"{"inner":5}"#,
            r#"{"count":null,"count":1}"#,
            "null",
        ] {
            let error = decode::<Plain>(json.as_bytes()).expect_err(json);
            assert_eq!(error.code, 400, "{json}: {error:?}");
        }
        let values = decode::<Plain>(br#"{"count":"7","ratio":"NaN","many":["a"]}"#).unwrap();
        assert_eq!((values.count, values.many), (7, vec!["a".to_string()]));
        assert!(values.ratio.is_nan());
    }
}
