//! The JSON Schema of configuration files, generated from the Rust types.
//!
//! Where serde's shape is custom (string matchers, durations, "one or a
//! list"), the schema is written here by hand to say exactly what the
//! deserializer accepts. The schema is as strict as parsing plus
//! [`Config::validate`] on single fields where JSON Schema can say it:
//! ranges, enums, gRPC code names and numbers (in any case, as text too),
//! names that are not blank, string matchers that are not empty, durations
//! a `Duration` holds, `schedule.active` and `for` longer than 0, a file's
//! `rules` key, optional fields left out rather than `null`, `exclude`
//! entries with a condition, a cron expression's number of fields, an abort
//! condition's threshold by its metric. Only the loader checks:
//!
//! - rules that tie several fields together (one delay shape, `percentage`
//!   or `every`, `min` not above `max`, unique rule names);
//! - the syntax inside strings: durations (`"2 parsecs"`), cron expressions,
//!   hours, days, dates, time zones, HTTP methods, header names and values;
//! - the bounds of durations other than the above (the lower ones of
//!   `window` and `cooldown`, the upper one of `schedule.active`);
//! - the number of an abort's headers (64).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::{Config, Door, GrpcCode, GrpcStatus, StrMatch};

/// The JSON Schema (draft 2020-12) of a configuration file, whatever its
/// format: TOML and YAML files have the same structure as JSON ones.
///
/// The copy checked in at `schema/mischief.schema.json` is kept equal to
/// this by a test; point an editor at it for completion and checks (for
/// example with a `# yaml-language-server: $schema=...` comment, or
/// taplo's `#:schema` directive in TOML).
///
/// It rejects what the loader rejects in a single field where JSON Schema
/// can say it (ranges, enums, gRPC codes, blank names, empty matchers, zero
/// `schedule.active` and `for`, durations too long, `null` for an optional
/// field, an empty `exclude` entry, a cron expression with a year, an
/// abort condition's threshold out of its metric's range). Only the loader checks
/// fields against each other (one delay shape, `percentage` or `every`,
/// unique names), the syntax inside strings (durations, cron expressions,
/// hours, days, dates, time zones, methods, headers) and a few bounds (the
/// lowest `window` and `cooldown`, the longest `schedule.active`, at most
/// 64 abort headers).
///
/// ```
/// let schema = serde_json::to_value(mischief::config::json_schema())?;
/// assert_eq!(schema["title"], "mischief configuration");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn json_schema() -> Schema {
    let mut schema = SchemaGenerator::default().into_root_schema_for::<Config>();
    // An optional field is left out, never given as `null` (the loader
    // rejects that: see `present`).
    if let Some(root) = schema.as_object_mut() {
        for value in root.values_mut() {
            without_null(value);
        }
    }
    schema.insert("title".to_owned(), "mischief configuration".into());
    schema.insert(
        "description".to_owned(),
        "Fault-injection rules for mischief, read from TOML, YAML or JSON (CHAOS_CONFIG, Chaos::watch). \
         Rules are evaluated in order; the first whose `match` holds decides."
            .into(),
    );
    // A file must have `rules` (the loader's check against truncated files),
    // though code may leave it out (serde's default).
    schema.insert("required".to_owned(), serde_json::json!(["rules"]));
    if let Some(rules) = schema.get_mut("properties").and_then(|p| p.get_mut("rules")).and_then(|r| r.as_object_mut()) {
        rules.remove("default");
    }
    schema
}

/// Takes `null` out of every property's schema: schemars allows it for an
/// `Option` field (`"type": ["integer", "null"]`, or `anyOf` with
/// `{"type": "null"}`).
fn without_null(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    map.insert("type".to_owned(), only);
                }
            }
            let null = serde_json::json!({ "type": "null" });
            let other = match map.get("anyOf") {
                Some(Value::Array(any)) if any.len() == 2 && any.contains(&null) => {
                    any.iter().find(|s| **s != null).and_then(|s| s.as_object()).cloned()
                }
                _ => None,
            };
            if let Some(other) = other {
                map.remove("anyOf");
                map.extend(other);
            }
            map.values_mut().for_each(without_null);
        }
        Value::Array(items) => items.iter_mut().for_each(without_null),
        _ => {}
    }
}

/// The first number of milliseconds a `Duration` cannot hold (2^64 s).
const MAX_MILLIS: f64 = 18_446_744_073_709_551_616_000.0;

/// A duration: `"150ms"`, `"2s"`, `"1m 30s"`, or a number of milliseconds.
pub(crate) struct DurationSchema;

impl JsonSchema for DurationSchema {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: a string such as \"150ms\", \"2s\" or \"1m 30s\" (humantime syntax: \
                            ns, us, ms, s, m, h, d, ...), or a number of milliseconds.",
            "anyOf": [
                { "type": "string", "minLength": 1, "examples": ["150ms", "2s", "1m 30s"] },
                { "type": "number", "minimum": 0, "exclusiveMaximum": MAX_MILLIS }
            ]
        })
    }
}

/// A duration longer than 0 (`schedule.active`, `for`).
pub(crate) struct PositiveDurationSchema;

impl JsonSchema for PositiveDurationSchema {
    fn schema_name() -> Cow<'static, str> {
        "PositiveDuration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration longer than 0: a string such as \"5m\" or \"2h\" (humantime syntax: \
                            ns, us, ms, s, m, h, d, ...), or a number of milliseconds.",
            "anyOf": [
                // A duration's text is 0 when it has no digit but 0.
                { "type": "string", "pattern": "[1-9]", "examples": ["5m", "2h"] },
                { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": MAX_MILLIS }
            ]
        })
    }
}

impl JsonSchema for GrpcStatus {
    fn schema_name() -> Cow<'static, str> {
        "GrpcStatus".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = (1..=16).filter_map(GrpcCode::from_i64).map(GrpcCode::name).collect();
        // As `GrpcCode::from_name` reads a name: any case, underscores
        // anywhere or nowhere, blanks around; or a number 1 to 16 as text.
        let spelled: Vec<String> = names
            .iter()
            .map(|n| {
                n.chars()
                    .filter(|c| *c != '_')
                    .map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()))
                    .collect::<Vec<_>>()
                    .join("_*")
            })
            .collect();
        let pattern = format!("^\\s*(?:_*(?:{})_*|\\+?0*(?:[1-9]|1[0-6]))\\s*$", spelled.join("|"));
        json_schema!({
            "description": "A gRPC status code other than OK: a name (\"UNAVAILABLE\", in any case) or a number \
                            from 1 to 16 (also as text, \"14\").",
            "anyOf": [
                { "type": "integer", "minimum": 1, "maximum": 16 },
                { "enum": names },
                { "type": "string", "pattern": pattern }
            ]
        })
    }
}

impl JsonSchema for StrMatch {
    fn schema_name() -> Cow<'static, str> {
        "StrMatch".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let explicit = |key: &str, what: &str| {
            serde_json::json!({
                "type": "object",
                "description": what,
                "properties": { key: { "type": "string", "minLength": 1 } },
                "required": [key],
                "additionalProperties": false
            })
        };
        json_schema!({
            "description": "A string matcher. A plain string is an exact match, or a glob if it contains `*` \
                            (which matches any run of characters). Or one of { exact }, { prefix }, { glob }.",
            "anyOf": [
                { "type": "string", "minLength": 1 },
                explicit("exact", "The whole string equals this."),
                explicit("prefix", "The string starts with this."),
                explicit("glob", "The string matches this glob (`*` is any run of characters).")
            ]
        })
    }
}

/// `door`: one door or a list of doors, case-insensitive.
pub(crate) fn doors(_: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = Door::ALL.iter().map(|d| d.as_str()).collect();
    // Any case, surrounding blanks allowed, as `Door::from_str` reads it.
    let pattern = format!(
        "^\\s*({})\\s*$",
        names
            .iter()
            .map(|n| n.chars().map(|c| format!("[{}{}]", c, c.to_ascii_uppercase())).collect::<String>())
            .collect::<Vec<_>>()
            .join("|")
    );
    let door = serde_json::json!({ "anyOf": [ { "enum": names }, { "type": "string", "pattern": pattern } ] });
    json_schema!({
        "description": "The doors the call may enter by (http, service, client, point; any case): one or a list. \
                        Empty means any door.",
        "anyOf": [ door, { "type": "array", "items": door } ]
    })
}

/// `schedule.cron`: five fields, or six with seconds first (a seventh, a
/// year, is an error), or a nickname such as `@hourly`.
pub(crate) fn cron(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "The cron expression: five fields (minute hour day-of-month month day-of-week), or six \
                        with seconds first.",
        "type": "string",
        "pattern": "^\\s*(@[A-Za-z]+|\\S+(\\s+\\S+){4,5})\\s*$",
        "examples": ["*/10 9-17 * * 1-5"]
    })
}

/// `guardrails.exclude`: matches with at least one condition each.
pub(crate) fn exclude(generator: &mut SchemaGenerator) -> Schema {
    let entry = generator.subschema_for::<super::Match>();
    json_schema!({
        "description": "Calls that are never faulted, whatever the rules say. Each entry needs at least one \
                        condition: an empty one would match every call, and is an error.",
        "type": "array",
        "items": { "allOf": [entry], "minProperties": 1 }
    })
}

/// An abort condition's threshold, by its metric: a fraction `0 <= x < 1`
/// for `error_rate`; a duration longer than 0 for `latency_p99`.
pub(crate) fn threshold_by_metric(schema: &mut Schema) {
    schema.insert(
        "if".to_owned(),
        serde_json::json!({ "properties": { "metric": { "const": "error_rate" } }, "required": ["metric"] }),
    );
    schema.insert(
        "then".to_owned(),
        serde_json::json!({ "properties": { "threshold": { "type": "number", "minimum": 0, "exclusiveMaximum": 1 } } }),
    );
    schema.insert(
        "else".to_owned(),
        serde_json::json!({ "properties": { "threshold": { "anyOf": [
            { "type": "number", "exclusiveMinimum": 0 },
            { "type": "string", "pattern": "[1-9]" }
        ] } } }),
    );
}

/// `method`: one string or a list of strings.
pub(crate) fn one_or_many(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "HTTP methods (GET, POST, ...): one or a list. Empty means any method.",
        "anyOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" } } ]
    })
}
