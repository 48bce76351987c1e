//! Config files: the three formats read the same, the README's examples load
//! and validate, the checked-in JSON Schema is current, and it accepts what
//! the loader accepts and rejects what it rejects.

use std::path::{Path, PathBuf};

use mischief::config::{Config, Format};
use mischief::{Chaos, ConfigError};
use serde_json::Value;

const SCHEMA_FILE: &str = "schema/mischief.schema.json";
const UPDATE_VAR: &str = "MISCHIEF_UPDATE_SCHEMA";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn checked_in_schema_is_current() {
    let generated = serde_json::to_string_pretty(&mischief::config::json_schema()).unwrap() + "\n";
    let path = repo(SCHEMA_FILE);
    if std::env::var_os(UPDATE_VAR).is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "{SCHEMA_FILE} is out of date with the config types; regenerate it with\n    \
         {UPDATE_VAR}=1 cargo test --all-features --test config_files checked_in_schema_is_current"
    );
}

/// The code blocks of the README in this language.
fn readme_blocks(lang: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```") && line.trim_start()[3..].trim() == lang => {
                current = Some(String::new())
            }
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

fn to_json(text: &str, format: Format) -> Value {
    match format {
        Format::Toml => toml::from_str(text).unwrap(),
        Format::Yaml => serde_saphyr::from_str(text).unwrap(),
        Format::Json => serde_json::from_str(text).unwrap(),
        _ => unreachable!(),
    }
}

#[test]
fn readme_examples_parse_validate_and_agree() {
    let schema = serde_json::to_value(mischief::config::json_schema()).unwrap();
    let mut full = Vec::new();
    for (lang, format) in [("toml", Format::Toml), ("yaml", Format::Yaml), ("json", Format::Json)] {
        let blocks = readme_blocks(lang);
        assert!(!blocks.is_empty(), "the README has no {lang} example");
        for block in blocks {
            let config =
                Config::parse(&block, format).unwrap_or_else(|e| panic!("README {lang} example: {e}\n{block}"));
            config.validate().unwrap_or_else(|e| panic!("README {lang} example: {e}\n{block}"));
            let errors = validate(&schema, &schema, &to_json(&block, format), "");
            assert!(errors.is_empty(), "README {lang} example fails the schema: {errors:?}\n{block}");
            if config.rules.len() > 3 {
                full.push((lang, config));
            }
        }
    }
    // The full annotated example is the same configuration in each format.
    assert_eq!(full.len(), 3, "one full example per format expected");
    assert_eq!(full[0].1, full[1].1, "TOML and YAML examples differ");
    assert_eq!(full[0].1, full[2].1, "TOML and JSON examples differ");
}

#[test]
fn schema_rejects_what_the_loader_rejects_and_accepts_the_rest() {
    let schema = serde_json::to_value(mischief::config::json_schema()).unwrap();
    let accepted = [
        r#"{"rules": []}"#,
        r#"{"seed": 1, "rules": [{"name": "a", "abort": {"status": 503, "percentage": 0.5}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"door": "HTTP", "method": "get", "path": "/x/*"}, "delay": {"fixed": 250, "every": 3}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"door": [" point ", "service"], "name": {"glob": "pay*"}, "host": {"prefix": "api."}}, "delay": {"min": "1ms", "max": "1s", "percentage": 100}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"headers": [{"name": "x-canary", "present": false}], "grpc_method": {"exact": "Get"}}, "abort": {"grpc_status": "resource_exhausted", "every": 1, "headers": {"retry-after": "1"}}, "abort_first": true, "max_injections": 10}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": 14, "percentage": 100}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": " 14 ", "percentage": 100}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": "Resource_Exhausted", "percentage": 100}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": " resourceexhausted", "percentage": 100}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": "16", "percentage": 100}}]}"#,
        r#"{"rules": [{"name": " a ", "match": {"path": "/"}, "delay": {"fixed": 0, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "schedule": {"cron": "* * * * *", "active": "10ms"}, "for": 1, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "delay": {"fixed": 1e20, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "schedule": {"cron": "0 */10 9-17 * * 1-5", "active": "5m"}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "schedule": {"cron": "@hourly", "active": "5m"}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [], "guardrails": {"exclude": [{"path": "/health"}], "abort_conditions": [{"metric": "error_rate", "threshold": 0}, {"metric": "latency_p99", "threshold": "2s"}, {"metric": "latency_p99", "threshold": 5000}]}}"#,
    ];
    for doc in accepted {
        let config = Config::parse(doc, Format::Json).unwrap_or_else(|e| panic!("{doc}: {e}"));
        config.validate().unwrap_or_else(|e| panic!("{doc}: {e}"));
        let errors = validate(&schema, &schema, &serde_json::from_str(doc).unwrap(), "");
        assert!(errors.is_empty(), "{doc}: {errors:?}");
    }
    let rejected = [
        r#"{"rules": [{"abort": {"status": 503, "percentage": 5}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"status": 503, "percent": 5}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"status": 99, "percentage": 5}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"status": 503, "percentage": 101}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"status": 503, "every": 0}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": 17, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"door": "htp"}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"path": {"exakt": "/"}}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "delay": {"fixed": -5, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "delay": {"fixed": "1s", "every": 1}}], "rulez": []}"#,
        r#"{"seed": 1}"#,
        r#"{"rules": [{"name": "", "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [], "guardrails": {"min_samples": 0, "abort_conditions": [{"metric": "error_rate", "threshold": 0.5}]}}"#,
        r#"{"rules": [], "guardrails": {"max_pods_killed": 1}}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": "BOGUS", "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": "OK", "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": "17", "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "abort": {"grpc_status": "0", "every": 1}}]}"#,
        r#"{"rules": [{"name": " ", "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"path": ""}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"host": {"prefix": ""}}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"grpc_method": {"glob": ""}}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "schedule": {"cron": "* * * * *", "active": 0}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "schedule": {"cron": "* * * * *", "active": "0s"}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "for": "0ms", "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "delay": {"fixed": 1e300, "every": 1}}]}"#,
        // No value for an optional field: an error, not "unset".
        r#"{"rules": [{"name": "a", "match": {"door": "http", "path": null}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "match": {"headers": [{"name": "x-canary", "equals": null}]}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "delay": {"fixed": null, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "max_injections": null, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [{"name": "a", "schedule": null, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [], "guardrails": null}"#,
        r#"{"rules": [], "guardrails": {"max_percentage_affected": null}}"#,
        r#"{"rules": [], "seed": null}"#,
        // What only the loader checked before.
        r#"{"rules": [], "guardrails": {"exclude": [{}]}}"#,
        r#"{"rules": [{"name": "a", "schedule": {"cron": "* * * * * * 2030", "active": "5m"}, "abort": {"status": 503, "every": 1}}]}"#,
        r#"{"rules": [], "guardrails": {"abort_conditions": [{"metric": "error_rate", "threshold": 1.0}]}}"#,
        r#"{"rules": [], "guardrails": {"abort_conditions": [{"metric": "error_rate", "threshold": -0.1}]}}"#,
        r#"{"rules": [], "guardrails": {"abort_conditions": [{"metric": "error_rate", "threshold": "5%"}]}}"#,
        r#"{"rules": [], "guardrails": {"abort_conditions": [{"metric": "latency_p99", "threshold": 0}]}}"#,
        r#"{"rules": [], "guardrails": {"abort_conditions": [{"metric": "latency_p99", "threshold": "0s"}]}}"#,
    ];
    let mut wrong = Vec::new();
    for doc in rejected {
        let loader = Config::parse(doc, Format::Json).and_then(|c| c.validate());
        if loader.is_ok() {
            wrong.push(format!("the loader accepts {doc}"));
        }
        if validate(&schema, &schema, &serde_json::from_str(doc).unwrap(), "").is_empty() {
            wrong.push(format!("the schema accepts {doc}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_three_formats_read_the_same_config() {
    let toml = r#"
seed = 9
[[rules]]
name = "a"
match = { door = ["http", "client"], path = { prefix = "/api" }, headers = [{ name = "x-canary", equals = "1" }] }
abort = { status = 500, percentage = 2.5, headers = { "retry-after" = "3" } }
delay = { base = "100ms", jitter = "20ms", every = 4 }
"#;
    let yaml = r#"
seed: 9
rules:
  - name: a
    match:
      door: [http, client]
      path: { prefix: /api }
      headers:
        - { name: x-canary, equals: "1" }
    abort: { status: 500, percentage: 2.5, headers: { retry-after: "3" } }
    delay: { base: 100ms, jitter: 20ms, every: 4 }
"#;
    let json = r#"{"seed": 9, "rules": [{"name": "a",
        "match": {"door": ["http", "client"], "path": {"prefix": "/api"}, "headers": [{"name": "x-canary", "equals": "1"}]},
        "abort": {"status": 500, "percentage": 2.5, "headers": {"retry-after": "3"}},
        "delay": {"base": "100ms", "jitter": "20ms", "every": 4}}]}"#;
    let a = Config::parse(toml, Format::Toml).unwrap();
    assert_eq!(a, Config::parse(yaml, Format::Yaml).unwrap());
    assert_eq!(a, Config::parse(json, Format::Json).unwrap());
    a.validate().unwrap();
}

#[test]
fn parse_errors_name_the_field_in_every_format() {
    let cases = [
        (
            Format::Toml,
            "[[rules]]\nname = \"a\"\nabort = { status = \"abc\", percentage = 5 }\n",
            "rules[0].abort.status",
        ),
        (Format::Yaml, "rules:\n  - name: a\n    abort: { status: abc, percentage: 5 }\n", "rules[0].abort.status"),
        (Format::Json, r#"{"rules":[{"name":"a","abort":{"status":"abc","percentage":5}}]}"#, "rules[0].abort.status"),
        (Format::Toml, "[[rules]]\nname = \"a\"\nabort = { status = 503, percent = 5 }\n", "percent"),
        (Format::Yaml, "rules:\n  - name: a\n    delay: { fixed: soon, every: 2 }\n", "rules[0].delay.fixed"),
        (Format::Json, r#"{"rules":[{"name":"a","match":{"door":"htp"},"abort":{"status":503,"every":1}}]}"#, "htp"),
        // Values of the wrong type are shown, not only "nothing matched".
        (Format::Toml, "[[rules]]\nname = \"a\"\nabort = { status = 503, grpc_status = true, every = 2 }\n", "true"),
        (Format::Json, r#"{"rules":[{"name":"a","match":{"method":5},"abort":{"status":503,"every":1}}]}"#, "5"),
        (
            Format::Yaml,
            "rules:\n  - name: a\n    match: { path: [1, 2] }\n    abort: { status: 503, every: 1 }\n",
            "sequence",
        ),
        (
            Format::Yaml,
            "rules:\n  - name: a\n    match: { path: { exact: /a, glob: /b* } }\n    abort: { status: 503, every: 1 }\n",
            "glob",
        ),
        (
            Format::Json,
            r#"{"rules":[{"name":"a","abort":{"status":503,"every":1}}],"guardrails":{"abort_conditions":[{"metric":"error_rate","threshold":true}]}}"#,
            "true",
        ),
        // Milliseconds beyond what a `Duration` holds: an error, not a panic.
        (Format::Json, r#"{"rules":[{"name":"a","delay":{"fixed":1e23,"every":2}}]}"#, "too long"),
        (Format::Toml, "[[rules]]\nname = \"a\"\ndelay = { fixed = 1e23, every = 2 }\n", "too long"),
    ];
    for (format, text, needle) in cases {
        let err = Config::parse(text, format).unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(needle) && msg.contains(format.name()), "{format}: {msg}");
    }
}

/// A YAML value of the wrong type or out of range is named in the error, as
/// TOML and JSON name it, in flow (`{ }`) and block style alike.
#[test]
fn yaml_type_errors_name_the_value() {
    for (doc, value) in [
        ("rules:\n  - name: a\n    abort: { status: teapot, every: 1 }\n", "teapot"),
        ("rules:\n  - name: a\n    match: { port: 70000 }\n    abort: { status: 503, every: 1 }\n", "70000"),
        ("rules:\n  - name: a\n    abort: { status: 503, every: -1 }\n", "-1"),
        ("rules:\n  - name: a\n    abort: { status: 503, percentage: 5% }\n", "5%"),
    ] {
        let err = Config::parse(doc, Format::Yaml).unwrap_err().to_string();
        assert!(err.contains(value), "the error does not name {value:?}: {err}");
    }
    // Block style; plain and quoted scalars, a comment after the value, no
    // newline at the end: the value exactly as written.
    for (doc, value) in [
        ("rules:\n  - name: a\n    abort:\n      status: teapot\n      every: 1\n", "teapot"),
        (
            "rules:\n  - name: a\n    match:\n      port: 70000   # too big\n    abort:\n      status: 503\n      every: 1\n",
            "70000",
        ),
        ("rules:\n  - name: a\n    abort:\n      status: 503\n      every: -1\n", "-1"),
        ("rules:\n  - name: a\n    abort:\n      status: 503\n      percentage: 5%", "5%"),
        ("rules:\n  - name: a\n    abort:\n      status: \"I'm a teapot\"\n      every: 1\n", "I'm a teapot"),
        ("rules:\n  - name: a\n    abort:\n      status: 503\n      every: 1\n    abort_first: maybe\n", "maybe"),
        ("seed: many\nrules: []\n", "many"),
        ("rules: []\nguardrails:\n  max_active_faults: 'lots'\n", "lots"),
    ] {
        let err = Config::parse(doc, Format::Yaml).unwrap_err().to_string();
        assert!(err.contains(&format!("(found {value:?})")), "the error does not name {value:?}: {err}");
    }
    // An error about a mapping points at a key: that is not the value.
    let err = Config::parse("rules:\n  - abort:\n      status: 503\n      every: 1\n", Format::Yaml).unwrap_err();
    let err = err.to_string();
    assert!(err.contains("missing field `name`") && !err.contains("found"), "{err}");
    // A message that names the value already does not repeat it; one that
    // names only a number of the position still gets it.
    let err = Config::parse("rules: []\nguardrails: { max_pods_killed: 1 }\n", Format::Yaml).unwrap_err();
    let err = err.to_string();
    assert!(err.contains("max_pods_killed`: 1: limits") && !err.contains("found"), "{err}");
    let err = Config::parse("rules: []\nseed: 3x\n", Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("line 2") && err.contains("(found \"3x\")"), "{err}");
    let err = Config::parse("rules: []\nseed: 2\nguardrails: { max_injections: x2 }\n", Format::Yaml);
    let err = err.unwrap_err().to_string();
    assert!(err.contains("(found \"x2\")"), "{err}");
}

/// The seed's guardrails file, as the guide prints it, with `rules: []`.
const SEED_GUARDRAILS: &str = r#"rules: []
guardrails:
  # Time-based
  allowed_hours: "09:00-16:00"
  allowed_days: ["Monday", "Tuesday", "Wednesday", "Thursday"]
  blackout_dates:
    - "2026-12-24"  # Holiday freeze
    - "2026-12-25"

  # Scope limits
  max_pods_killed: 1
  max_percentage_affected: 10
  excluded_namespaces:
    - kube-system
    - monitoring

  # Automatic abort
  abort_conditions:
    - metric: "error_rate"
      threshold: 0.05  # Abort if error rate > 5%
    - metric: "latency_p99"
      threshold: 5000  # Abort if p99 > 5s
"#;

/// The seed's guardrails file reads as the `guardrails` section, but for
/// its two pod-level fields, which are errors naming the field, the value
/// and what to use instead (not a bare "unknown field"); without them it
/// loads and means what it says.
#[test]
fn the_seeds_guardrails_file_reads_but_for_its_pod_level_fields() {
    let err = Config::parse(SEED_GUARDRAILS, Format::Yaml).unwrap_err().to_string();
    assert!(
        err.contains("guardrails.max_pods_killed") && err.contains("1: ") && err.contains("max_active_faults"),
        "{err}"
    );
    let without_pods = SEED_GUARDRAILS.replace("  max_pods_killed: 1\n", "");
    let err = Config::parse(&without_pods, Format::Yaml).unwrap_err().to_string();
    assert!(
        err.contains("guardrails.excluded_namespaces")
            && err.contains(r#"["kube-system", "monitoring"]"#)
            && err.contains("`exclude`"),
        "{err}"
    );
    let in_process = without_pods.replace("  excluded_namespaces:\n    - kube-system\n    - monitoring\n", "");
    let config = Config::parse(&in_process, Format::Yaml).unwrap();
    config.validate().unwrap();
    let g = config.guardrails.as_ref().unwrap();
    assert_eq!(g.allowed_hours.as_deref(), Some("09:00-16:00"));
    assert_eq!(g.allowed_days, ["Monday", "Tuesday", "Wednesday", "Thursday"]);
    assert_eq!(g.blackout_dates, ["2026-12-24", "2026-12-25"]);
    assert_eq!(g.max_percentage_affected, Some(10.0));
    assert_eq!(g.abort_conditions.len(), 2);
    // A misspelt field is still the plain "unknown field".
    let typo = in_process.replace("max_percentage_affected", "max_percent_affected");
    let err = Config::parse(&typo, Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("unknown field `max_percent_affected`"), "{err}");
}

/// An `exclude` entry without a condition would match every call and so
/// keep every call from being faulted, without a word: an error naming the
/// entry, in every format.
#[test]
fn an_empty_exclude_entry_is_an_error_in_every_format() {
    let cases = [
        (Format::Toml, "rules = []\n[guardrails]\nexclude = [{}]\n", "guardrails.exclude[0]"),
        (Format::Yaml, "rules: []\nguardrails:\n  exclude: [ {} ]\n", "guardrails.exclude[0]"),
        (
            Format::Json,
            r#"{"rules": [], "guardrails": {"exclude": [{"path": "/health"}, {}]}}"#,
            "guardrails.exclude[1]",
        ),
    ];
    for (format, text, field) in cases {
        let config = Config::parse(text, format).unwrap_or_else(|e| panic!("{format}: {e}"));
        let msg = config.validate().expect_err(text).to_string();
        assert!(msg.contains(field) && msg.contains("every call"), "{format}: {msg}");
    }
}

/// A field written with no value (YAML's `path:`, JSON's `null`; a value
/// forgotten, or a template that rendered empty) is an error naming the
/// field, not "unset": a rule meant for one path would match every call,
/// and a guardrail would drop its limit. TOML has no null.
#[test]
fn a_field_with_no_value_is_an_error_naming_it() {
    let cases = [
        (
            Format::Yaml,
            "rules:\n  - name: checkout\n    match: { door: http, path: }\n    abort: { status: 503, percentage: 100 }\n",
            "rules[0].match.path",
        ),
        (
            Format::Yaml,
            "rules:\n  - name: a\n    match:\n      headers: [{ name: x-canary, equals: }]\n    abort: { status: 503, every: 1 }\n",
            "rules[0].match.headers[0].equals",
        ),
        (Format::Yaml, "rules: []\nguardrails:\n  exclude: [ {path: } ]\n", "guardrails.exclude[0].path"),
        (Format::Yaml, "rules: []\nguardrails:\n  max_percentage_affected:\n", "guardrails.max_percentage_affected"),
        (Format::Yaml, "rules: []\nguardrails:\n  window: ~\n", "guardrails.window"),
        (Format::Yaml, "rules: []\nguardrails:\n", "guardrails"),
        (
            Format::Json,
            r#"{"rules": [{"name": "a", "schedule": null, "abort": {"status": 503, "every": 1}}]}"#,
            "rules[0].schedule",
        ),
        (Format::Json, r#"{"rules": [], "guardrails": {"timezone": null}}"#, "guardrails.timezone"),
    ];
    for (format, text, field) in cases {
        let err = Config::parse(text, format).expect_err(text).to_string();
        assert!(err.contains(field) && err.contains("no value"), "{format}: {err}");
    }
}

/// The seed prints its guardrails file without a `rules` key. That stays an
/// error (a truncated file must not load as "no rules"), but one that says
/// what to add, in the file's own syntax, and that comes with the first
/// error of the file rather than after all the others are fixed.
#[test]
fn a_guardrails_file_without_rules_says_to_add_an_empty_list() {
    let as_printed = SEED_GUARDRAILS.strip_prefix("rules: []\n").unwrap();
    let err = Config::parse(as_printed, Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("guardrails.max_pods_killed") && err.contains("add `rules: []`"), "{err}");
    let in_process = as_printed
        .replace("  max_pods_killed: 1\n", "")
        .replace("  excluded_namespaces:\n    - kube-system\n    - monitoring\n", "");
    let err = Config::parse(&in_process, Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("no `rules` key") && err.contains("guardrails") && err.contains("add `rules: []`"), "{err}");
    Config::parse(&format!("rules: []\n{in_process}"), Format::Yaml).unwrap().validate().unwrap();

    let toml = "[guardrails]\nallowed_hours = \"09:00-16:00\"\n";
    let err = Config::parse(toml, Format::Toml).unwrap_err().to_string();
    assert!(err.contains("add `rules = []` (at the top"), "{err}");
    Config::parse(&format!("rules = []\n{toml}"), Format::Toml).unwrap().validate().unwrap();
    let err = Config::parse(r#"{"guardrails": {"max_injections": 10}}"#, Format::Json).unwrap_err().to_string();
    assert!(err.contains(r#"add `"rules": []`"#), "{err}");
    // The README shows the seed's file with these changes, and it reads.
    let changed = SEED_GUARDRAILS
        .replace("  max_pods_killed: 1\n", "  max_active_faults: 1\n")
        .replace("  excluded_namespaces:\n    - kube-system\n    - monitoring\n", "  exclude: [{ path: /health }]\n");
    let readme = readme_blocks("yaml").into_iter().find(|b| b.contains("was max_pods_killed")).expect("README block");
    assert_eq!(Config::parse(&readme, Format::Yaml).unwrap(), Config::parse(&changed, Format::Yaml).unwrap());
    // Without guardrails: the plain message, in the format's syntax.
    let err = Config::parse("seed: 4\n", Format::Yaml).unwrap_err().to_string();
    assert!(err.contains("no `rules` key (a truncated") && err.contains("add `rules: []`"), "{err}");
    // An error in a file that has `rules`, or that is not a table: no word about it.
    for (text, format) in [
        ("rules: []\nguardrails: { max_pods_killed: 1 }\n", Format::Yaml),
        ("- just\n- a list\n", Format::Yaml),
        ("[guardrails\n", Format::Toml),
    ] {
        let err = Config::parse(text, format).unwrap_err().to_string();
        assert!(!err.contains("no `rules` key"), "{text}: {err}");
    }
}

#[test]
fn from_file_names_the_file_field_and_value() {
    let dir = std::env::temp_dir().join(format!("mischief-config-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.yaml");
    std::fs::write(&path, "rules:\n  - name: a\n    abort: { status: 503, percentage: 120 }\n").unwrap();
    let err = Config::from_file(&path).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(&err, ConfigError::File { error, .. } if matches!(**error, ConfigError::Field { .. })), "{err:?}");
    assert!(msg.contains("bad.yaml") && msg.contains("abort.percentage") && msg.contains("120"), "{msg}");

    let missing = dir.join("missing.toml");
    let err = Config::from_file(&missing).unwrap_err();
    // A caller can treat a missing file as optional by its kind.
    assert!(matches!(err, ConfigError::Read { kind: Some(std::io::ErrorKind::NotFound), .. }), "{err:?}");
    assert!(err.to_string().contains("missing.toml"), "{err}");

    let ini = dir.join("chaos.ini");
    std::fs::write(&ini, "x").unwrap();
    let err = Config::from_file(&ini).unwrap_err().to_string();
    assert!(err.contains("chaos.ini") && err.contains("unsupported extension"), "{err}");

    let good = dir.join("good.json");
    std::fs::write(&good, r#"{"rules": [{"name": "a", "abort": {"status": 503, "percentage": 1}}]}"#).unwrap();
    Chaos::new(Config::from_file(&good).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

// A small JSON Schema validator: the keywords schemars emits for our types.
fn validate(root: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let mut errors = Vec::new();
    let Value::Object(s) = schema else {
        if schema == &Value::Bool(false) {
            errors.push(format!("{at}: not allowed"));
        }
        return errors;
    };
    if let Some(Value::String(r)) = s.get("$ref") {
        let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
        errors.extend(validate(root, &root["$defs"][name], value, at));
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type {t}"),
        };
        let ok = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            other => panic!("unknown type {other}"),
        });
        if !ok {
            errors.push(format!("{at}: {value} is not {types:?}"));
            return errors;
        }
    }
    if let Some(Value::Array(e)) = s.get("enum")
        && !e.contains(value)
    {
        errors.push(format!("{at}: {value} not in {e:?}"));
    }
    if let Some(c) = s.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} != {c}"));
    }
    if let Some(n) = value.as_f64() {
        if s.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m) {
            errors.push(format!("{at}: {n} below minimum"));
        }
        if s.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m) {
            errors.push(format!("{at}: {n} above maximum"));
        }
        if s.get("exclusiveMinimum").and_then(Value::as_f64).is_some_and(|m| n <= m) {
            errors.push(format!("{at}: {n} not above the exclusive minimum"));
        }
        if s.get("exclusiveMaximum").and_then(Value::as_f64).is_some_and(|m| n >= m) {
            errors.push(format!("{at}: {n} not below the exclusive maximum"));
        }
    }
    if let Some(text) = value.as_str() {
        if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| (text.chars().count() as u64) < m) {
            errors.push(format!("{at}: too short"));
        }
        if let Some(Value::String(p)) = s.get("pattern")
            && !regex::Regex::new(p).unwrap().is_match(text)
        {
            errors.push(format!("{at}: {text:?} does not match {p}"));
        }
    }
    if let Value::Object(obj) = value {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    errors.push(format!("{at}: missing {r}"));
                }
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => errors.extend(validate(root, sub, v, &format!("{at}.{k}"))),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{at}: unknown field {k}")),
                    Some(sub @ Value::Object(_)) => errors.extend(validate(root, sub, v, &format!("{at}.{k}"))),
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, s.get("items")) {
        for (i, v) in items.iter().enumerate() {
            errors.extend(validate(root, sub, v, &format!("{at}[{i}]")));
        }
    }
    if let (Value::Object(obj), Some(min)) = (value, s.get("minProperties").and_then(Value::as_u64))
        && (obj.len() as u64) < min
    {
        errors.push(format!("{at}: fewer than {min} properties"));
    }
    if let Some(cond) = s.get("if") {
        let branch = if validate(root, cond, value, at).is_empty() { s.get("then") } else { s.get("else") };
        if let Some(branch) = branch {
            errors.extend(validate(root, branch, value, at));
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for sub in all {
            errors.extend(validate(root, sub, value, at));
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = s.get(key) {
            let passing = subs.iter().filter(|sub| validate(root, sub, value, at).is_empty()).count();
            let ok = if key == "anyOf" { passing >= 1 } else { passing == 1 };
            if !ok {
                errors.push(format!("{at}: {value} matches {passing} of the {key} alternatives"));
            }
        }
    }
    errors
}

/// A header given twice is an error in every format: TOML's and YAML's
/// parsers refuse a repeated key, and the loader refuses one that JSON's
/// parser would collapse to its last value, and one name in two cases.
#[test]
fn a_header_given_twice_is_an_error_in_every_format() {
    let cases = [
        (
            Format::Json,
            r#"{"rules": [{"name": "a", "abort": {"status": 503, "every": 1, "headers": {"retry-after": "1", "retry-after": "2"}}}]}"#,
        ),
        (
            Format::Toml,
            "[[rules]]\nname = \"a\"\nabort = { status = 503, every = 1, headers = { retry-after = \"1\", retry-after = \"2\" } }\n",
        ),
        (
            Format::Yaml,
            "rules:\n  - name: a\n    abort: { status: 503, every: 1, headers: { retry-after: \"1\", retry-after: \"2\" } }\n",
        ),
    ];
    for (format, text) in cases {
        let err = Config::parse(text, format).expect_err(text).to_string();
        assert!(err.contains("retry-after") || err.contains("duplicate"), "{format}: {err}");
    }
    let err = Config::parse(
        r#"{"rules": [{"name": "a", "abort": {"status": 503, "every": 1, "headers": {"Retry-After": "1", "retry-after": "2"}}}]}"#,
        Format::Json,
    )
    .unwrap()
    .validate()
    .unwrap_err()
    .to_string();
    assert!(err.contains("abort.headers") && err.contains("retry-after") && err.contains("twice"), "{err}");
}

/// A FIFO where the file should be is refused at once: opening one for
/// reading blocks until a writer comes, which would hang startup.
#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = std::env::temp_dir().join(format!("mischief-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("chaos.toml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo (coreutils)");
    assert!(made.success());
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || tx.send(Config::from_file(&path).map(|_| ()).map_err(|e| e.to_string())));
    let result = rx.recv_timeout(std::time::Duration::from_secs(10));
    if result.is_err() {
        // Unblock the reader, so the test ends with its failure.
        let _ = std::fs::write(&fifo, "rules = []\n");
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let err = result.expect("answered without waiting for a writer").expect_err("a FIFO is not a config file");
    assert!(err.contains("not a regular file") && err.contains("chaos.toml"), "{err}");
}
