//! OpenAPI links from what creates a thing to the operations on it, so a client (or a
//! stateful fuzzer) knows that `POST /api/devices` answers the `id` that
//! `GET /api/devices/{id}` takes.

use serde_json::{Map, Value, json};

/// Adds to every collection's `201` answer a link to each operation under `{collection}/{id}`,
/// where the created thing's schema has an `id`.
pub fn link_created_things(document: &mut Value) {
    let links = created_links(document);
    for (path, link_set) in links {
        let created = &mut document["paths"][&path]["post"]["responses"]["201"];
        if let Some(response) = created.as_object_mut() {
            response.insert("links".to_owned(), Value::Object(link_set));
        }
    }
}

/// For each collection path whose `POST` answers 201 with an `id`, its links.
fn created_links(document: &Value) -> Vec<(String, Map<String, Value>)> {
    let Some(paths) = document["paths"].as_object() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (path, item) in paths {
        let schema = &item["post"]["responses"]["201"]["content"]["application/json"]["schema"];
        if !has_id(document, schema) {
            continue;
        }
        let prefix = format!("{path}/{{id}}");
        let mut links = Map::new();
        for (target, target_item) in paths {
            if target != &prefix && !target.starts_with(&format!("{prefix}/")) {
                continue;
            }
            let operations = target_item.as_object().into_iter().flatten();
            for (_, operation) in operations {
                if let Some(id) = operation["operationId"].as_str() {
                    links.insert(
                        id.to_owned(),
                        json!({ "operationId": id, "parameters": { "id": "$response.body#/id" } }),
                    );
                }
            }
        }
        if !links.is_empty() {
            found.push((path.clone(), links));
        }
    }
    found
}

fn has_id(document: &Value, schema: &Value) -> bool {
    let Some(name) = schema["$ref"]
        .as_str()
        .and_then(|reference| reference.strip_prefix("#/components/schemas/"))
    else {
        return false;
    };
    document["components"]["schemas"][name]["properties"]
        .get("id")
        .is_some()
}
