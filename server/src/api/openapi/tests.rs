//! The OpenAPI document against the routers and against itself: every
//! routed API operation is documented and nothing else is, each
//! operation says what it is and how it fails, and every reference
//! resolves.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use super::openapi;
use crate::api::index::endpoints;

/// The methods an axum method router chains (`get(..).post(..)`).
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The `.route("PATH", METHOD_ROUTER)` calls in `src`: each path with the
/// methods its router chains, upper case; an error names a call this
/// reading cannot follow (a path that is not a literal, a router without
/// a method).
fn routes_in(src: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out = Vec::new();
    for (i, _) in src.match_indices(".route(") {
        let rest = &src[i + ".route(".len()..];
        let shown = || rest.lines().next().unwrap_or_default().to_string();
        let literal = rest
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("a route whose path is not a literal: `{}`", shown()))?;
        let end = literal
            .find('"')
            .ok_or_else(|| format!("an unterminated path: `{}`", shown()))?;
        let path = &literal[..end];
        let router = literal[end + 1..]
            .trim_start()
            .strip_prefix(',')
            .ok_or_else(|| format!("{path}: no method router after the path"))?;
        // The identifiers called at the top level of the router, up to
        // the `)` that closes `.route(`: `put(a).get(b).layer(..)` is PUT
        // and GET; what the calls take (`layer(X::max(1))`) is skipped.
        let (mut depth, mut ident, mut methods) = (0usize, String::new(), Vec::new());
        for c in router.chars() {
            match c {
                '(' => {
                    if depth == 0 && METHODS.contains(&ident.as_str()) {
                        methods.push(ident.to_uppercase());
                    }
                    depth += 1;
                    ident.clear();
                }
                ')' if depth == 0 => break,
                ')' => {
                    depth -= 1;
                    ident.clear();
                }
                c if c.is_alphanumeric() || c == '_' => ident.push(c),
                _ => ident.clear(),
            }
        }
        if methods.is_empty() {
            return Err(format!("{path}: no method found in its router"));
        }
        out.push((path.to_string(), methods));
    }
    Ok(out)
}

/// The non-test code of every `.rs` file under `dir`: test files
/// (`tests.rs`) are left out, and each file is cut at its inline test
/// module.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).expect("read the source directory");
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let code = text
                .split("#[cfg(test)]\nmod tests {")
                .next()
                .unwrap_or_default();
            out.push((path.display().to_string(), code.to_string()));
        }
    }
}

/// `METHOD PATH` of every operation the server's routers declare, read
/// from the server's source, and the console's paths apart.
fn routed() -> (BTreeSet<String>, BTreeSet<String>) {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 50, "found {} source files", files.len());
    let (mut api, mut console) = (BTreeSet::new(), BTreeSet::new());
    for (file, code) in &files {
        for call in [".nest(", ".route_service(", ".nest_service("] {
            assert!(
                !code.contains(call),
                "{file} routes with `{call}`, which this test does not read: teach `routes_in` how"
            );
        }
        let routes = routes_in(code).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (path, methods) in routes {
            // The console, the requester portal and the survey page are HTML for
            // browsers, outside the API's document by design.
            let html = ["/console", "/portal", "/survey"]
                .iter()
                .any(|p| path == *p || path.starts_with(&format!("{p}/")));
            let set = if html { &mut console } else { &mut api };
            for method in methods {
                set.insert(format!("{method} {path}"));
            }
        }
    }
    (api, console)
}

/// `METHOD PATH` of every operation in the document.
fn documented() -> BTreeSet<String> {
    openapi()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            super::operations(item).map(move |(method, _)| format!("{method} {path}"))
        })
        .collect()
}

#[test]
fn every_routed_api_operation_is_documented_and_no_other() {
    let (routed, console) = routed();
    assert!(
        routed.len() > 60,
        "the scan found {} operations",
        routed.len()
    );
    assert!(
        console.len() > 10 && console.contains("GET /console/tickets/{number}"),
        "the console's routes are read and set apart: {console:?}"
    );
    let documented = documented();
    let missing: Vec<&String> = routed.difference(&documented).collect();
    let unrouted: Vec<&String> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty(),
        "routed but not in the OpenAPI document (annotate the handler with #[utoipa::path] and list it in `ApiDoc`): {missing:?}"
    );
    assert!(
        unrouted.is_empty(),
        "in the OpenAPI document but not routed: {unrouted:?}"
    );
}

#[test]
fn the_route_reader_follows_chained_methods_and_refuses_what_it_cannot_read() {
    let src = r#"Router::new()
        .route("/a/{x}", put(up).get(axum::routing::get(down)).layer(Limit::max(f(1))))
        .route(
            "/b",
            routing::post(|| async { Redirect::to("/c") }),
        )"#;
    assert_eq!(
        routes_in(src),
        Ok(vec![
            (
                "/a/{x}".to_string(),
                vec!["PUT".to_string(), "GET".to_string()]
            ),
            ("/b".to_string(), vec!["POST".to_string()]),
        ])
    );
    let by_name = routes_in(r#".route(PATH, get(x))"#).expect_err("not a literal");
    assert!(by_name.contains("not a literal"), "{by_name}");
    let no_method = routes_in(r#".route("/d", handler_service(x))"#).expect_err("no method");
    assert!(no_method.contains("/d"), "{no_method}");
}

/// The document as served.
fn served() -> Value {
    serde_json::to_value(openapi()).expect("the document serializes")
}

/// Each operation of a served document: `METHOD PATH` and its object.
fn each_operation(doc: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            out.push((format!("{} {path}", method.to_uppercase()), op));
        }
    }
    out
}

#[test]
fn every_operation_has_its_own_id_a_summary_a_tag_and_its_errors() {
    let doc = served();
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "openapi {version}");
    let without_token: BTreeSet<String> = ["GET /api/v1/health", "GET /api/v1/openapi.json"]
        .map(String::from)
        .into();
    let mut open = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let operations = each_operation(&doc);
    assert!(operations.len() > 60, "{} operations", operations.len());
    for (name, op) in operations {
        // Client generators name their methods by it.
        let id = op["operationId"].as_str().unwrap_or_default();
        assert!(ids.insert(id), "{name}: operationId `{id}` twice");
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty(), "{name} has no summary");
        // `GET /api/v1` joins a path's summaries with "; ".
        assert!(!summary.contains(';'), "{name}: a `;` in its summary");
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{name} has no tag"
        );
        let in_path: BTreeSet<&str> = name
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        let declared: BTreeSet<&str> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "path")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(in_path, declared, "{name}: its path parameters");
        let responses = op["responses"].as_object().expect("responses");
        // An upgrade's success is its 101 (a remote session).
        assert!(
            responses.keys().any(|s| s.starts_with('2') || s == "101"),
            "{name} documents no success"
        );
        let bearer = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.get(super::BEARER).is_some()));
        if !bearer {
            open.insert(name.clone());
            continue;
        }
        assert!(
            responses.keys().any(|s| s.starts_with('4')),
            "{name} documents no 4xx"
        );
        for status in ["401", "429", "503"] {
            assert!(
                responses.contains_key(status),
                "{name} lacks {status}: {responses:?}"
            );
        }
        // The handlers' errors are the API's JSON error.
        let forbidden = &responses
            .get("403")
            .map(|r| &r["content"]["application/json"]);
        if let Some(json) = forbidden {
            assert_eq!(
                json["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{name}"
            );
        }
    }
    assert_eq!(open, without_token, "the operations that need no token");
    assert_eq!(
        doc["components"]["securitySchemes"][super::BEARER]["scheme"],
        "bearer"
    );
}

/// Every `$ref` value under `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let doc = served();
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 100, "{} references", found.len());
    let broken: BTreeSet<&str> = found
        .into_iter()
        .filter(|r| {
            r.strip_prefix('#')
                .and_then(|pointer| doc.pointer(pointer))
                .is_none()
        })
        .collect();
    assert!(broken.is_empty(), "references to nothing: {broken:?}");
}

/// Every tuple (`prefixItems`) under `v` that does not say it has exactly
/// as many items as it lists.
fn loose_tuples(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(items)) = map.get("prefixItems") {
                let n = Some(items.len() as u64);
                if map.get("minItems").and_then(Value::as_u64) != n
                    || map.get("maxItems").and_then(Value::as_u64) != n
                    || map.get("items") != Some(&Value::Bool(false))
                {
                    out.push(v.to_string());
                }
            }
            map.values().for_each(|v| loose_tuples(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| loose_tuples(v, out)),
        _ => {}
    }
}

/// serde reads a tuple only with all its items, so the document must
/// not call a shorter one valid (a tool generating requests from it
/// would send them: schemathesis did).
#[test]
fn tuples_have_exactly_their_items() {
    let doc = served();
    let mut loose = Vec::new();
    loose_tuples(&doc, &mut loose);
    assert!(loose.is_empty(), "tuples of no fixed length: {loose:?}");
    let args = &doc["components"]["schemas"]["RunDiag"]["properties"]["args"]["items"];
    assert_eq!(args["minItems"], 2, "{args}");
}

/// The values of a `Keyword` as the server parses them.
fn keyword_names<K: deskhand_api_types::Keyword>() -> Vec<String> {
    K::ALL.iter().map(|k| k.name().to_string()).collect()
}

/// The document's enumerated values (`sort=`, `status=`, `by`) are those
/// the server takes.
#[test]
fn enumerated_values_are_those_the_server_takes() {
    use deskhand_api_types::assets::{AssetSort, AssetStatus, CountBy};
    use deskhand_api_types::software::SoftwareSort;
    let doc = served();
    let values = |name: &str| -> Vec<String> {
        let schema = &doc["components"]["schemas"][name]["enum"];
        let values = schema
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {schema}"));
        values
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    };
    assert_eq!(values("AssetSort"), keyword_names::<AssetSort>());
    assert_eq!(values("AssetStatus"), keyword_names::<AssetStatus>());
    assert_eq!(values("CountBy"), keyword_names::<CountBy>());
    assert_eq!(values("SoftwareSort"), keyword_names::<SoftwareSort>());
    let sort = doc["paths"]["/api/v1/assets"]["get"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "sort")
        .map(|p| p["schema"].to_string())
        .unwrap_or_default();
    assert!(sort.contains("#/components/schemas/AssetSort"), "{sort}");
}

/// The schema written by hand for the protocol crate's `SignedManifest`
/// has the fields the type serializes.
#[test]
fn the_signed_manifest_schema_matches_the_type() {
    let manifest = deskhand_shared::jobs::SignedManifest {
        json: "{}".into(),
        signature: String::new(),
    };
    let value = serde_json::to_value(&manifest).expect("serialize");
    let fields: BTreeSet<&String> = value.as_object().expect("an object").keys().collect();
    let doc = served();
    let schema = &doc["components"]["schemas"]["SignedManifest"]["properties"];
    let properties: BTreeSet<&String> = schema.as_object().expect("properties").keys().collect();
    assert_eq!(fields, properties);
}

#[test]
fn the_index_lists_each_path_once_with_its_methods() {
    let list = endpoints(openapi());
    assert_eq!(list.len(), openapi().paths.paths.len());
    let tokens = list
        .iter()
        .find(|e| e.path == "/api/v1/enrollment-tokens")
        .expect("tokens listed");
    assert_eq!(tokens.methods, "GET POST");
    assert_eq!(
        tokens.about,
        "enrollment tokens; create an enrollment token"
    );
    let paths: BTreeSet<&str> = list.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths.len(), list.len(), "a path listed twice");
    for e in &list {
        assert!(
            e.about.split("; ").count() == e.methods.split(' ').count()
                && !e.about.contains("; ;")
                && !e.about.is_empty(),
            "{e:?}"
        );
    }
    assert!(paths.contains("/api/v1/openapi.json") && paths.contains("/api/v1"));
}
