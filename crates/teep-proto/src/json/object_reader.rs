//! Reading one JSON object field by field, with the path of each field for errors and a check
//! that no field was left unread.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value as Json};

use super::generic::{embedded_cbor_from_json, hex_from_json, value_from_json};
use crate::error::JsonError;
use crate::model::UnknownOptions;

/// Fields of one JSON object, remembering which ones were read.
pub(super) struct ObjectReader<'a> {
    pub(super) obj: &'a Map<String, Json>,
    path: String,
    used: Vec<&'a str>,
}

impl<'a> ObjectReader<'a> {
    pub(super) fn new(j: &'a Json, path: &str) -> Result<Self, JsonError> {
        let obj = j
            .as_object()
            .ok_or_else(|| JsonError::new(path, "expected object"))?;
        Ok(ObjectReader {
            obj,
            path: path.to_string(),
            used: Vec::new(),
        })
    }
    /// JSON path of field `key` of this object, for errors.
    pub(super) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
    /// Field `key`, marked as read.
    pub(super) fn get(&mut self, key: &'a str) -> Option<&'a Json> {
        let v = self.obj.get(key);
        if v.is_some() {
            self.used.push(key);
        }
        v
    }
    pub(super) fn bytes(&mut self, key: &'a str) -> Result<Option<Vec<u8>>, JsonError> {
        let p = self.path_of(key);
        self.get(key).map(|j| hex_from_json(j, &p)).transpose()
    }
    /// A bstr that carries CBOR: hex string or `{"hex": ...}`.
    pub(super) fn embedded_cbor(&mut self, key: &'a str) -> Result<Option<Vec<u8>>, JsonError> {
        let p = self.path_of(key);
        self.get(key)
            .map(|j| embedded_cbor_from_json(j, &p))
            .transpose()
    }
    pub(super) fn text(&mut self, key: &'a str) -> Result<Option<String>, JsonError> {
        let p = self.path_of(key);
        self.get(key)
            .map(|j| {
                j.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| JsonError::new(p, "expected string"))
            })
            .transpose()
    }
    pub(super) fn uint(&mut self, key: &'a str) -> Result<Option<u64>, JsonError> {
        let p = self.path_of(key);
        self.get(key)
            .map(|j| j.as_u64().ok_or_else(|| JsonError::new(p, "expected uint")))
            .transpose()
    }
    /// [`Self::list`] telling an absent list (`None`) from an empty one.
    pub(super) fn list_present<T>(
        &mut self,
        key: &'a str,
        f: impl Fn(&Json, &str) -> Result<T, JsonError>,
    ) -> Result<Option<Vec<T>>, JsonError> {
        if self.get(key).is_none() {
            return Ok(None);
        }
        self.list(key, f).map(Some)
    }

    pub(super) fn list<T>(
        &mut self,
        key: &'a str,
        f: impl Fn(&Json, &str) -> Result<T, JsonError>,
    ) -> Result<Vec<T>, JsonError> {
        let p = self.path_of(key);
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Json::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, j)| f(j, &format!("{p}[{i}]")))
                .collect(),
            Some(_) => Err(JsonError::new(p, "expected array")),
        }
    }
    /// Remaining keys: numeric ones are unknown options, anything else is a mistake.
    pub(super) fn unknown_options(&self) -> Result<UnknownOptions, JsonError> {
        let mut out = BTreeMap::new();
        for (k, v) in self.obj {
            if self.used.contains(&k.as_str()) {
                continue;
            }
            match k.parse::<u64>() {
                Ok(label) => {
                    out.insert(label, value_from_json(v, &self.path_of(k))?);
                }
                Err(_) => {
                    return Err(JsonError::new(
                        self.path_of(k),
                        "unknown field for this message type",
                    ))
                }
            }
        }
        Ok(out)
    }
    /// Every field must have been read.
    pub(super) fn deny_unused_fields(&self) -> Result<(), JsonError> {
        for k in self.obj.keys() {
            if !self.used.contains(&k.as_str()) {
                return Err(JsonError::new(self.path_of(k), "unknown field"));
            }
        }
        Ok(())
    }
}
