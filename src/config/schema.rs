//! The JSON Schema of configuration files, generated from the Rust types.
//!
//! Where serde's shape is custom (string matchers, durations, "one or a
//! list"), the schema is written here by hand to say exactly what the
//! deserializer accepts. The schema is as strict as parsing plus
//! [`Config::validate`] on single fields (ranges, enums, non-empty names,
//! a file's `rules` key); rules that tie several fields together (one delay
//! shape, `percentage` or `every`), the contents of strings (cron
//! expressions, hours, time zones), the lower bounds of durations
//! (`window`, `cooldown`, `for`) and the number of an abort's headers (64)
//! are only checked by the loader.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::{Config, Door, StrMatch};

/// The JSON Schema (draft 2020-12) of a configuration file, whatever its
/// format: TOML and YAML files have the same structure as JSON ones.
///
/// The copy checked in at `schema/mischief.schema.json` is kept equal to
/// this by a test; point an editor at it for completion and checks (for
/// example with a `# yaml-language-server: $schema=...` comment, or
/// taplo's `#:schema` directive in TOML).
///
/// ```
/// let schema = serde_json::to_value(mischief::config::json_schema())?;
/// assert_eq!(schema["title"], "mischief configuration");
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn json_schema() -> Schema {
    let mut schema = SchemaGenerator::default().into_root_schema_for::<Config>();
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
                { "type": "number", "minimum": 0 }
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
                "properties": { key: { "type": "string" } },
                "required": [key],
                "additionalProperties": false
            })
        };
        json_schema!({
            "description": "A string matcher. A plain string is an exact match, or a glob if it contains `*` \
                            (which matches any run of characters). Or one of { exact }, { prefix }, { glob }.",
            "anyOf": [
                { "type": "string" },
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

/// `method`: one string or a list of strings.
pub(crate) fn one_or_many(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "description": "HTTP methods (GET, POST, ...): one or a list. Empty means any method.",
        "anyOf": [ { "type": "string" }, { "type": "array", "items": { "type": "string" } } ]
    })
}
