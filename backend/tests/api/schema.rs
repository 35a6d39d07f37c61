//! Just enough JSON Schema (as OpenAPI 3.1 uses it) to check that what the server answers is
//! what its OpenAPI document says: references, types, required and undocumented properties,
//! enums, arrays and the `oneOf`/`allOf` utoipa writes for options and generics.

use serde_json::Value;

pub fn check(document: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference
            .strip_prefix("#/components/schemas/")
            .ok_or_else(|| format!("{at}: unsupported reference {reference}"))?;
        let target = &document["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: the document has no schema {name}"));
        }
        return check(document, target, value, at);
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        let failures: Vec<String> = options
            .iter()
            .filter_map(|option| check(document, option, value, at).err())
            .collect();
        return if failures.len() < options.len() {
            Ok(())
        } else {
            Err(failures.join("; "))
        };
    }
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            check(document, part, value, at)?;
        }
        return Ok(());
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {allowed:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        // `{}` (anything) is the one schema without a type the document may hold.
        _ if schema.as_object().is_some_and(|object| object.is_empty()) => return Ok(()),
        _ => return Err(format!("{at}: a schema without a type: {schema}")),
    };
    if !types.iter().any(|kind| is_of_type(kind, value)) {
        return Err(format!("{at}: {value} is not of type {types:?}"));
    }
    match value {
        Value::Object(object) => {
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !object.contains_key(name) {
                    return Err(format!("{at}: required property `{name}` is missing"));
                }
            }
            if let Some(properties) = schema["properties"].as_object() {
                for (name, item) in object {
                    let Some(property) = properties.get(name) else {
                        return Err(format!("{at}: property `{name}` is not documented"));
                    };
                    check(document, property, item, &format!("{at}.{name}"))?;
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check(document, &schema["items"], item, &format!("{at}[{index}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn is_of_type(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

#[test]
fn the_checker_itself_catches_drift() {
    let document = serde_json::json!({ "components": { "schemas": {
        "Thing": { "type": "object", "required": ["id"], "properties": {
            "id": { "type": "integer" },
            "note": { "type": ["string", "null"] },
            "kind": { "$ref": "#/components/schemas/Kind" },
        }},
        "Kind": { "type": "string", "enum": ["a", "b"] },
    }}});
    let thing = serde_json::json!({ "$ref": "#/components/schemas/Thing" });
    let ok = serde_json::json!({ "id": 1, "note": null, "kind": "a" });
    assert_eq!(check(&document, &thing, &ok, "$"), Ok(()));
    assert!(check(&document, &serde_json::json!({ "format": "x" }), &ok, "$").is_err());
    for bad in [
        serde_json::json!({ "note": "x" }),
        serde_json::json!({ "id": "1" }),
        serde_json::json!({ "id": 1, "kind": "c" }),
        serde_json::json!({ "id": 1, "extra": true }),
    ] {
        assert!(check(&document, &thing, &bad, "$").is_err(), "{bad}");
    }
}
