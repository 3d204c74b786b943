//! A guard around serde_json's deserializer for the well-known types whose JSON pbjson-types parses.
//!
//! pbjson-types 0.9 negates a Duration's seconds unchecked, so `"--9223372036854775808s"` panics
//! in a debug build and wraps in a release one; it also takes what proto3 JSON does not (`"--5s"`,
//! `"+5s"`, more than 10,000 years). Its Timestamp takes a leap second as a billion nanoseconds
//! and dates outside years 1 to 9999. [`Guarded`] passes everything through, but shows each string
//! a `google.protobuf.Duration` or `Timestamp` is about to parse to [`check`] first, which refuses
//! it unless it is in the proto3 JSON mapping's form and range. Go's protojson refuses the same.
//!
//! It also hands a message's fields to [`Fields`], so `null` for one reads as not set.
//!
//! The two types are told by their visitor's `expecting` text, the only thing serde shows of it;
//! the codec tests fail if a pbjson-types upgrade changes it.

use std::fmt;

use serde::Deserialize as _;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};

use super::unset::Fields;

/// Wraps a deserializer, and whatever it hands out (maps, sequences, seeds, visitors), so every
/// value inside is guarded too.
pub(super) struct Guarded<T>(pub(super) T);

/// The well-known types whose strings are checked.
#[derive(Clone, Copy)]
enum WellKnown {
    Duration,
    Timestamp,
}

impl WellKnown {
    /// Which one `visitor` parses, from what it expects (pbjson-types' texts).
    fn of<'de, V: Visitor<'de>>(visitor: &V) -> Option<Self> {
        struct Expecting<'a, V>(&'a V);
        impl<'de, V: Visitor<'de>> fmt::Display for Expecting<'_, V> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.expecting(f)
            }
        }
        match Expecting(visitor).to_string().as_str() {
            "a duration string" => Some(Self::Duration),
            "a date string" => Some(Self::Timestamp),
            _ => None,
        }
    }
}

/// A Duration's seconds may not pass ±315,576,000,000 (10,000 years), as protobuf defines it.
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;
/// A Timestamp spans 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
const TIMESTAMP_SECONDS: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;

/// Refuses `text` unless it is `kind`'s proto3 JSON form, within the type's range.
fn check<E: de::Error>(kind: WellKnown, text: &str) -> Result<(), E> {
    let why = match kind {
        WellKnown::Duration => duration_problem(text),
        WellKnown::Timestamp => timestamp_problem(text),
    };
    match why {
        None => Ok(()),
        Some(why) => Err(E::custom(why)),
    }
}

fn duration_problem(text: &str) -> Option<String> {
    let bad = |why: &str| Some(format!("google.protobuf.Duration {text:?} {why}"));
    let Some(number) = text.strip_suffix('s') else {
        return bad("has no 's' suffix");
    };
    let unsigned = number.strip_prefix('-').unwrap_or(number);
    let (seconds, fraction) = match unsigned.split_once('.') {
        Some((seconds, fraction)) => (seconds, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(seconds) || fraction.is_some_and(|f| !digits(f) || f.len() > 9) {
        return bad(
            "is not seconds in the form -12.345s (an optional '-', digits, up to 9 decimals)",
        );
    }
    // Digits only, so the parse fails only past u64; leading zeros are fine.
    match seconds.parse::<u64>() {
        Ok(seconds) if seconds <= MAX_DURATION_SECONDS => None,
        _ => bad("is out of range: at most 315576000000 seconds either way"),
    }
}

fn timestamp_problem(text: &str) -> Option<String> {
    let parsed = pbjson_types::Timestamp::deserialize(
        de::value::StrDeserializer::<de::value::Error>::new(text),
    );
    // What does not parse is left to pbjson-types, whose error says why.
    let timestamp = parsed.ok()?;
    let bad = |why: &str| Some(format!("google.protobuf.Timestamp {text:?} {why}"));
    if !TIMESTAMP_SECONDS.contains(&timestamp.seconds) {
        return bad("is out of range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z");
    }
    if !(0..1_000_000_000).contains(&timestamp.nanos) {
        return bad("is a leap second, which a Timestamp cannot hold");
    }
    None
}

// Forwards deserializer methods, wrapping the visitor.
macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method($($arg,)* Checked::new(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Guarded<D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any(); deserialize_bool(); deserialize_i8(); deserialize_i16();
        deserialize_i32(); deserialize_i64(); deserialize_i128(); deserialize_u8();
        deserialize_u16(); deserialize_u32(); deserialize_u64(); deserialize_u128();
        deserialize_f32(); deserialize_f64(); deserialize_char(); deserialize_string();
        deserialize_bytes(); deserialize_byte_buf(); deserialize_option(); deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq(); deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier(); deserialize_ignored_any();
    }

    // pbjson-types' Duration and Timestamp ask for a str; nothing pbjson generates does.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        let kind = WellKnown::of(&visitor);
        self.0.deserialize_str(Checked {
            kind,
            ..Checked::new(visitor)
        })
    }

    // pbjson reads a message this way: its fields take `null` as not set (see unset.rs).
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let visitor = Checked {
            fields: true,
            ..Checked::new(visitor)
        };
        self.0.deserialize_struct(name, fields, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor passing everything on: strings after [`check`] when it parses a well-known type,
/// maps, sequences and the rest guarded, a message's fields through [`Fields`].
struct Checked<V> {
    inner: V,
    kind: Option<WellKnown>,
    /// The map is a message's fields.
    fields: bool,
}

impl<V> Checked<V> {
    fn new(inner: V) -> Self {
        Self {
            inner,
            kind: None,
            fields: false,
        }
    }

    fn check<E: de::Error>(&self, text: &str) -> Result<(), E> {
        self.kind.map_or(Ok(()), |kind| check(kind, text))
    }
}

// Forwards visitor methods that carry a plain value.
macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Checked<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool); visit_i8(i8); visit_i16(i16); visit_i32(i32); visit_i64(i64);
        visit_i128(i128); visit_u8(u8); visit_u16(u16); visit_u32(u32); visit_u64(u64);
        visit_u128(u128); visit_f32(f32); visit_f64(f64); visit_char(char);
        visit_bytes(&[u8]); visit_borrowed_bytes(&'de [u8]); visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.check(v)?;
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.check(v)?;
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.check(&v)?;
        self.inner.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Guarded(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Guarded(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(Guarded(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        if self.fields {
            self.inner.visit_map(Fields(Guarded(map)))
        } else {
            self.inner.visit_map(Guarded(map))
        }
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Guarded(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Guarded<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Guarded(d))
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Guarded<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Guarded(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Guarded(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Guarded<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Guarded(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Guarded<A> {
    type Error = A::Error;
    type Variant = Guarded<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Guarded(seed))?;
        Ok((value, Guarded(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Guarded<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Guarded(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = Checked::new(visitor);
        self.0.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = Checked::new(visitor);
        self.0.struct_variant(fields, visitor)
    }
}
