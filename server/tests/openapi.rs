//! The API description a real node serves at /api/openapi.json: every
//! route of the REST API is in it, with the error shape, the sessions it
//! takes, and the answers every operation may get. (scripts/fuzz-api.sh
//! then holds a real cluster to it.)

mod common;

use common::start_node;
use serde_json::Value;

const OPERATIONS: &[(&str, &str)] = &[
    ("get", "/api/movies"),
    ("post", "/api/movies"),
    ("get", "/api/seats"),
    ("get", "/api/bookings"),
    ("post", "/api/bookings"),
    ("delete", "/api/bookings"),
    ("post", "/api/sessions"),
    ("post", "/api/operator/session"),
    ("get", "/api/operator/session"),
    ("delete", "/api/operator/session"),
    ("get", "/api/health"),
    ("get", "/api/election"),
    ("post", "/api/election"),
    ("get", "/api/sync"),
    ("get", "/api/replicas"),
    ("get", "/api/replication"),
    ("put", "/api/replication"),
    ("get", "/api/replication/progress"),
    ("get", "/api/faults"),
    ("post", "/api/faults"),
    ("delete", "/api/faults"),
    ("post", "/api/faults/clock"),
];

const OPERATORS_ONLY: &[(&str, &str)] = &[
    ("post", "/api/movies"),
    ("post", "/api/election"),
    ("put", "/api/replication"),
    ("post", "/api/faults"),
    ("delete", "/api/faults"),
    ("post", "/api/faults/clock"),
];

#[tokio::test]
async fn the_description_covers_every_operation_and_its_answers() {
    let node = start_node("openapi").await;
    let response = reqwest::get(node.url("/api/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let description: Value = response.json().await.unwrap();
    assert_eq!(description["openapi"], "3.1.0");

    let paths = description["paths"].as_object().unwrap();
    let described: usize = paths
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(described, OPERATIONS.len(), "{:?}", paths.keys());
    for (method, path) in OPERATIONS {
        let operation = &paths[*path][*method];
        let answers = operation["responses"].as_object().unwrap_or_else(|| {
            panic!("{method} {path} is not described");
        });
        for status in ["429", "503"] {
            assert!(
                answers.contains_key(status),
                "{method} {path} lacks {status}"
            );
        }
        if operation.get("requestBody").is_some() {
            for status in ["400", "413"] {
                assert!(
                    answers.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
        }
        for (status, answer) in answers {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    answer["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
    }
    for (method, path) in OPERATORS_ONLY {
        let operation = &paths[*path][*method];
        assert_eq!(operation["security"], serde_json::json!([{"operator": []}]));
        for status in ["401", "403"] {
            assert!(
                operation["responses"].get(status).is_some(),
                "{method} {path}"
            );
        }
    }

    let schemas = &description["components"]["schemas"];
    assert_eq!(
        schemas["ErrorBody"]["properties"]["error"]["$ref"],
        "#/components/schemas/ApiError"
    );
    let codes = schemas["ErrorCode"]["enum"].as_array().unwrap();
    assert!(codes.contains(&Value::from("invalid_input")), "{codes:?}");
    let schemes = &description["components"]["securitySchemes"];
    assert_eq!(schemes["moviegoer"]["scheme"], "bearer");
    assert_eq!(schemes["operator"]["scheme"], "bearer");
}
