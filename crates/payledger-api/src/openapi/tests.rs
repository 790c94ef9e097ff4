//! The document converts, and it and the router's registrations describe
//! the same routes (see the module's doc for how the routes are found).

use super::{DOCUMENT_YAML, document_json};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Documented before the route exists: issue 15 registers `GET /metrics`
/// beside this. Once registered it is checked like every other route.
const DOCUMENTED_AHEAD: &[(&str, &str)] = &[("GET", "/metrics")];

/// The sources whose `.route(` calls make the HTTP server's router: this
/// crate and the binary, less the admin socket's router (a Unix socket
/// server of its own, not described by the document).
const ROUTED_SOURCES: &[&str] = &["src", "../payledger/src"];
const NOT_HTTP: &[&str] = &["admin.rs", "admin"];

const METHODS: &[&str] = &["get", "head", "post", "put", "delete", "patch", "options"];

/// One method on one path template, e.g. `("POST", "/{pk}/payments")`.
type Route = (String, String);

fn document() -> Value {
    let json = document_json(DOCUMENT_YAML).expect("deploy/openapi.yaml converts");
    serde_json::from_slice(&json).expect("the converted document is JSON")
}

/// Every `.route(` registration of `source` as (method, path template);
/// comment lines are skipped.
fn registrations(source: &str) -> Vec<Route> {
    let code: String = (source.lines())
        .filter(|line| !line.trim_start().starts_with("//"))
        .flat_map(|line| [line, "\n"])
        .collect();
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        let Some(open) = rest.find('"') else { break };
        let after = &rest[open + 1..];
        let Some(close) = after.find('"') else { break };
        let path = &after[..close];
        let handlers = top_level_calls(&after[close + 1..]);
        for method in handlers {
            found.push((method.to_uppercase(), path.to_owned()));
        }
    }
    found
}

/// The method-router calls (`get(`, `.post(`, `axum::routing::delete(`)
/// at the top level of a `.route("…", <expr>)` expression, i.e. up to the
/// parenthesis closing `.route(`.
fn top_level_calls(text: &str) -> Vec<String> {
    let mut calls = Vec::new();
    let mut depth = 0usize;
    let mut word = String::new();
    for c in text.chars() {
        match c {
            '(' => {
                if depth == 0 && METHODS.contains(&word.as_str()) {
                    calls.push(word.clone());
                }
                depth += 1;
                word.clear();
            }
            ')' => {
                if depth == 0 {
                    return calls;
                }
                depth -= 1;
                word.clear();
            }
            c if c.is_alphanumeric() || c == '_' => word.push(c),
            _ => word.clear(),
        }
    }
    calls
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if NOT_HTTP.contains(&name) || name == "tests.rs" || name == "tests" {
            continue;
        }
        if path.is_dir() {
            source_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn registered_routes() -> BTreeSet<Route> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ROUTED_SOURCES {
        source_files(&root.join(dir), &mut files);
    }
    files
        .iter()
        .flat_map(|file| registrations(&std::fs::read_to_string(file).expect("read source")))
        .collect()
}

fn documented_routes(document: &Value) -> BTreeSet<Route> {
    let paths = document["paths"]
        .as_object()
        .expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(|m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

/// A path's segments with every whole-segment parameter written `{}`.
fn segments(path: &str) -> Vec<String> {
    (path.split('/'))
        .map(|s| {
            if s.starts_with('{') && s.ends_with('}') && s.matches('{').count() == 1 {
                "{}".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect()
}

/// Whether the registered template `router` serves the documented `path`
/// (a `{}` segment of the router's takes any segment, `key={key}` too).
fn serves(router: &str, path: &str) -> bool {
    let (router, path) = (segments(router), segments(path));
    router.len() == path.len() && router.iter().zip(&path).all(|(r, p)| r == p || r == "{}")
}

/// The registered routes the document lacks, and the documented ones no
/// registration serves.
fn drift(registered: &BTreeSet<Route>, documented: &BTreeSet<Route>) -> (Vec<Route>, Vec<Route>) {
    let undocumented = (registered.iter())
        .filter(|(method, path)| {
            !documented
                .iter()
                .any(|(m, p)| m == method && segments(p) == segments(path))
        })
        .cloned()
        .collect();
    let unserved = (documented.iter())
        .filter(|(method, path)| {
            !registered
                .iter()
                .any(|(m, r)| (m == method || (method == "HEAD" && m == "GET")) && serves(r, path))
        })
        .filter(|(method, path)| !DOCUMENTED_AHEAD.contains(&(method.as_str(), path.as_str())))
        .cloned()
        .collect();
    (undocumented, unserved)
}

#[test]
fn the_document_converts_without_merge_keys_left() {
    let text = String::from_utf8(document_json(DOCUMENT_YAML).unwrap()).unwrap();
    assert!(!text.contains("\"<<\""), "a merge key was not applied");
    let document = document();
    assert_eq!(document["openapi"], "3.0.3");
    assert!(document["components"]["schemas"]["Payment"].is_object());
}

#[test]
fn every_registered_route_is_documented_and_every_documented_route_is_registered() {
    let registered = registered_routes();
    // A scanner that finds nothing would pass vacuously.
    assert!(
        registered.contains(&("POST".into(), "/{pk}/payments".into()))
            && registered.contains(&("GET".into(), "/openapi.json".into()))
            && registered.len() > 40,
        "the route scan found too little: {registered:?}"
    );
    let (undocumented, unserved) = drift(&registered, &documented_routes(&document()));
    assert!(
        undocumented.is_empty(),
        "routes the router registers but deploy/openapi.yaml does not document: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "routes deploy/openapi.yaml documents but the router does not register: {unserved:?}"
    );
}

#[test]
fn the_scan_reads_chained_and_qualified_method_routers() {
    let source = r#"
        Router::new()
            .route("/{pk}/types", get(query::<Types>).head(exists::<Types>).post(create::<Types>))
            .route("/x/{id}", axum::routing::post(add_key))
            .route_layer(layer(get(nothing)))
            .route("/y", delete(f(g(h))).layer(x))
    "#;
    let found = registrations(source);
    let found: Vec<(&str, &str)> = found
        .iter()
        .map(|(m, p)| (m.as_str(), p.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("GET", "/{pk}/types"),
            ("HEAD", "/{pk}/types"),
            ("POST", "/{pk}/types"),
            ("POST", "/x/{id}"),
            ("DELETE", "/y"),
        ]
    );
}

#[test]
fn drift_is_found_in_both_directions() {
    let route = |m: &str, p: &str| (m.to_owned(), p.to_owned());
    let registered: BTreeSet<Route> = [
        route("GET", "/{pk}/payments/{id}"),
        route("POST", "/{pk}/payments/{id}"),
    ]
    .into();
    let documented: BTreeSet<Route> = [
        route("GET", "/{projectKey}/payments/{id}"),
        route("HEAD", "/{projectKey}/payments/key={key}"),
        route("DELETE", "/{projectKey}/payments/{id}"),
        route("GET", "/metrics"),
    ]
    .into();
    let (undocumented, unserved) = drift(&registered, &documented);
    assert_eq!(undocumented, [route("POST", "/{pk}/payments/{id}")]);
    assert_eq!(unserved, [route("DELETE", "/{projectKey}/payments/{id}")]);
}
