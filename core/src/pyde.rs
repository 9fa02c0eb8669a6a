//! A serde `Deserializer` over plain Python data: dicts, lists, tuples, str, int, float, bool, None.
//!
//! Why not pythonize's `Depythonizer`: before reading any map it probes the object for
//! `__dataclass_fields__`. On CPython 3.11 (the abi3 floor) a failed attribute lookup builds an
//! `AttributeError`, message and all, so every dict in a purchase or a member snapshot paid for an
//! exception: a sixth of the writer's time under load. kimia's inputs are never dataclasses, so
//! this reader dispatches on the object's type and nothing else. Ints are read as serde_json reads
//! numbers (non-negative → u64, negative → i64); bool is checked before int (it is a subclass).

use std::fmt;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString, PyTuple};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};

/// A shape error: the message serde builds ("invalid type: ..., expected ...").
#[derive(Debug)]
pub struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

impl From<PyErr> for DeError {
    fn from(e: PyErr) -> Self {
        DeError(e.to_string())
    }
}

type Result<T> = std::result::Result<T, DeError>;

/// Reads one Python object.
pub struct PyDe<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
}

impl<'a, 'py> PyDe<'a, 'py> {
    pub fn new(obj: &'a Bound<'py, PyAny>) -> Self {
        PyDe { obj }
    }

    fn unexpected(&self) -> String {
        self.obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "object".into())
    }
}

fn visit_int<'de, V: Visitor<'de>>(obj: &Bound<'_, PyAny>, visitor: V) -> Result<V::Value> {
    if let Ok(v) = obj.extract::<i64>() {
        if v >= 0 {
            visitor.visit_u64(v as u64)
        } else {
            visitor.visit_i64(v)
        }
    } else if let Ok(v) = obj.extract::<u64>() {
        visitor.visit_u64(v)
    } else {
        Err(de::Error::custom(format!("integer {obj} is out of range")))
    }
}

impl<'de> de::Deserializer<'de> for &mut PyDe<'_, '_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let obj = self.obj;
        if let Ok(s) = obj.cast::<PyString>() {
            return visitor.visit_str(s.to_str()?);
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            return visitor.visit_map(DictAccess::new(d));
        }
        if obj.is_exact_instance_of::<PyBool>() {
            return visitor.visit_bool(obj.is_truthy()?);
        }
        if obj.is_instance_of::<PyInt>() {
            return visit_int(obj, visitor);
        }
        if let Ok(l) = obj.cast::<PyList>() {
            return visitor.visit_seq(SeqAccess { items: l.iter().collect(), next: 0 });
        }
        if let Ok(t) = obj.cast::<PyTuple>() {
            return visitor.visit_seq(SeqAccess { items: t.iter().collect(), next: 0 });
        }
        if obj.is_none() {
            return visitor.visit_unit();
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return visitor.visit_f64(f.value());
        }
        if let Ok(m) = obj.cast::<PyMapping>() {
            // Any other mapping (a MappingProxy, a custom Mapping): read through a dict copy.
            let d = PyDict::new(obj.py());
            for item in m.items()?.iter() {
                let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
                d.set_item(k, v)?;
            }
            return visitor.visit_map(DictAccess::new(&d));
        }
        Err(de::Error::invalid_type(Unexpected::Other(&self.unexpected()), &visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if self.obj.is_none() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(self, _name: &'static str, _variants: &'static [&'static str], visitor: V) -> Result<V::Value> {
        let obj = self.obj;
        if let Ok(s) = obj.cast::<PyString>() {
            // A unit variant by name.
            return visitor.visit_enum(IntoDeserializer::<DeError>::into_deserializer(s.to_str()?));
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            // `{variant: value}`, as serde's externally tagged form.
            if d.len() == 1 {
                let (k, v) = d.iter().next().expect("one item");
                let variant = k.cast::<PyString>().map_err(|_| DeError("an enum's variant must be a string".into()))?.to_str()?.to_owned();
                return visitor.visit_enum(EnumAccess { variant, value: v });
            }
            return Err(de::Error::invalid_length(d.len(), &"a map of one variant"));
        }
        Err(de::Error::invalid_type(Unexpected::Other(&self.unexpected()), &"a variant name"))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct DictAccess<'py> {
    iter: pyo3::types::iter::BoundDictIterator<'py>,
    value: Option<Bound<'py, PyAny>>,
}

impl<'py> DictAccess<'py> {
    fn new(d: &Bound<'py, PyDict>) -> Self {
        DictAccess { iter: d.iter(), value: None }
    }
}

impl<'de> de::MapAccess<'de> for DictAccess<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(&mut PyDe::new(&k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let v = self.value.take().ok_or_else(|| DeError("a value without its key".into()))?;
        seed.deserialize(&mut PyDe::new(&v))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct SeqAccess<'py> {
    items: Vec<Bound<'py, PyAny>>,
    next: usize,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(item) = self.items.get(self.next) else { return Ok(None) };
        self.next += 1;
        seed.deserialize(&mut PyDe::new(item)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct EnumAccess<'py> {
    variant: String,
    value: Bound<'py, PyAny>,
}

impl<'de, 'py> de::EnumAccess<'de> for EnumAccess<'py> {
    type Error = DeError;
    type Variant = VariantAccess<'py>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant)> {
        let name = seed.deserialize(IntoDeserializer::<DeError>::into_deserializer(self.variant))?;
        Ok((name, VariantAccess { value: self.value }))
    }
}

struct VariantAccess<'py> {
    value: Bound<'py, PyAny>,
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'_> {
    type Error = DeError;

    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(&mut PyDe::new(&self.value))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(&mut PyDe::new(&self.value))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(&mut PyDe::new(&self.value), visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _fields: &'static [&'static str], visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_map(&mut PyDe::new(&self.value), visitor)
    }
}
