//! The OpenAPI document (`GET /openapi.json`), generated from the handlers and the wire types:
//! every response's media types (answers as JSON or as server-sent events, each event's
//! schema), and the errors every route can give (the guards' as well as its own), each with the
//! error body and an example.

use utoipa::openapi::response::{Response as SpecResponse, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, HttpMethod, Ref, RefOr};

use super::*;

/// What the document says before the routes.
const DESCRIPTION: &str = "Offline question answering over local documents, with cited answers from a local Qwen 3.5 model.

**Tokens.** With `serve.tokens` set, every route but `/healthz`, `/readyz` and this document needs `Authorization: Bearer TOKEN` (401 without); a token's scopes limit the collections it reads and whether it uploads or deletes (403). A kiosk leaves asking open to its visitors. Without tokens the server answers only requests naming this machine (403 for another host name) and takes requests that change or cost anything only from its own pages (403 for a cross-origin request).

**Answers as events.** `/v1/ask` with `\"stream\": true` answers `text/event-stream`: each message's `event:` line names it and its `data:` line holds the JSON its schema gives (`AskStreamEvent`: `retrieval`, then `draft` while a model reads, `token`..., `citation`..., `done`, or `error`). Each source is sent once, whole, in `retrieval`; later events name sources by number (`{\"n\": 2}`). `/v1/chat/completions` with `\"stream\": true` sends OpenAI `chat.completion.chunk`s as `data:` lines (`ChatStreamEvent`), the sources whole on the first, ending with `data: [DONE]`. Comments (`:`) keep a slow answer's connection alive.

**Errors.** Every error is `{\"error\": {\"code\", \"message\"}}` with its status: the code is stable, the message says what to do. An error before a stream's first event is plain JSON with its status; after it, an `error` event ends the stream. A busy model answers 503 with `Retry-After` (the server never answers 429: it sheds load itself, to the sources or to remote models); a request past `serve.request_timeout_seconds` answers 504.

**Beside this API.** `/mcp` serves the same questions to agents over the Model Context Protocol (streamable HTTP, behind the same tokens; tools `search`, `ask`, `fetch_document`, `list_collections`, `list_documents`, each described by its own JSON schema); `/` is the kiosk page and `/admin` the operator page. `top_k` on `/v1/chat/completions` is the deprecated name of `sample_top_k` (answered with `Deprecation` and `Warning` headers).";

#[derive(OpenApi)]
#[openapi(
    info(title = "rag", description = DESCRIPTION),
    paths(
        ask,
        search,
        chat_completions,
        list_models,
        embeddings,
        upload,
        list_documents,
        delete_document,
        reingest_document,
        ingest_runs,
        feedback,
        quality,
        stats,
        healthz,
        readyz,
        metrics,
        openapi
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth, &CommonErrors)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// An error status's code and an example message, as the server says them.
fn error_example(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("bad_request", "question is empty: send the question to answer"),
        401 => ("unauthorized", super::super::guard::UNAUTHORIZED),
        403 => ("forbidden", "this token reads only the collections hr; ask within them"),
        404 => ("not_found", "no document 42: GET /v1/documents lists them"),
        413 => ("too_large", "the body is larger than serve.max_body_bytes"),
        415 => ("unsupported_media_type", "send the body as JSON with `Content-Type: application/json`"),
        422 => ("unprocessable", "the file could not be read: it is not a PDF"),
        503 => ("busy", "every model slot is answering: ask again in a moment (Retry-After)"),
        504 => ("timeout", "the request took longer than serve.request_timeout_seconds = 120; ask with a smaller max_tokens or raise the limit"),
        _ => ("internal", "something went wrong inside the server; the log has the details"),
    }
}

/// Every route's errors, from the guards in front of it as well as its own.
struct CommonErrors;

impl CommonErrors {
    /// The statuses a route can answer whatever it does: `(status, description)`.
    fn statuses(path: &str, method: &HttpMethod, takes_query: bool) -> Vec<(u16, &'static str)> {
        let mut out = Vec::new();
        let sends_body = matches!(method, HttpMethod::Post);
        if sends_body || takes_query {
            out.push((
                400,
                "Bad request: a body or query string of the wrong shape",
            ));
        }
        if !super::super::guard::is_public(path) {
            out.push((
                401,
                "No token, or an unknown one (when `serve.tokens` are set)",
            ));
        }
        out.push((403, "The token may not do this, or, without tokens, another host name or a cross-origin request"));
        if sends_body {
            out.push((413, "The body is larger than the server takes"));
            out.push((415, "The body's media type is not the one this route reads"));
        }
        out.push((
            500,
            "Something went wrong inside the server (the log says what)",
        ));
        if path.starts_with("/v1/") || path == "/readyz" {
            out.push((503, "No index yet, the index is locked, the model is busy (`Retry-After`), or the server is stopping"));
        }
        out.push((504, "The request ran past `serve.request_timeout_seconds`"));
        out
    }

    fn error_response(status: u16, description: &str) -> SpecResponse {
        let (code, message) = error_example(status);
        let content = ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .example(Some(json!({"error": {"code": code, "message": message}})))
            .build();
        let mut response = ResponseBuilder::new()
            .description(description)
            .content("application/json", content);
        if status == 503 {
            response = response.header(
                "Retry-After",
                utoipa::openapi::HeaderBuilder::new()
                    .schema(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::Type::Integer),
                    )
                    .description(Some("Seconds to wait before asking again (a busy model)"))
                    .build(),
            );
        }
        response.build()
    }
}

impl utoipa::Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, operation) in operations {
                let Some(op) = operation.as_mut() else {
                    continue;
                };
                let takes_query = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter().any(|p| {
                        matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)
                    })
                });
                let responses = &mut op.responses.responses;
                for (status, description) in Self::statuses(path, &method, takes_query) {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(Self::error_response(status, description)));
                }
                // A route's own error descriptions get the example too.
                for (status, response) in responses.iter_mut() {
                    let status: u16 = status.parse().unwrap_or(0);
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if status < 400 {
                        continue;
                    }
                    if let Some(content) = response.content.get_mut("application/json") {
                        let (code, message) = error_example(status);
                        let error_body = matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/ErrorBody"));
                        if error_body && content.example.is_none() && content.examples.is_empty() {
                            content.example =
                                Some(json!({"error": {"code": code, "message": message}}));
                        }
                    }
                }
            }
        }
    }
}

/// The OpenAPI document of this server, generated from the code.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI 3.1 description of this API.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn openapi() -> Response {
    match openapi_document().to_json() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => {
            ApiError::internal(format!("cannot encode the OpenAPI document: {e}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_declares_its_errors_with_the_error_body_and_an_example() {
        let doc = serde_json::to_value(openapi_document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut operations = 0;
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                operations += 1;
                let responses = op["responses"].as_object().unwrap();
                let mut expected = vec!["403", "500", "504"];
                if !super::super::super::guard::is_public(path) {
                    expected.push("401");
                }
                if method == "post" {
                    expected.extend(["400", "413", "415"]);
                }
                for status in expected {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                for (status, r) in responses {
                    if status.as_str() < "400" || status == "422" && path == "/v1/documents" {
                        continue;
                    }
                    let json = &r["content"]["application/json"];
                    assert_eq!(
                        json["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                    let code = json["example"]["error"]["code"].as_str().unwrap();
                    assert_eq!(code, error_example(status.parse().unwrap()).0);
                }
            }
        }
        assert_eq!(operations, 17);
        std::fs::write(
            "/tmp/openapi.json",
            serde_json::to_string_pretty(&doc).unwrap(),
        )
        .ok();
    }

    #[test]
    fn request_examples_are_requests_the_server_takes() {
        let doc = serde_json::to_value(openapi_document()).unwrap();
        let example = |name: &str| {
            let e = doc["components"]["schemas"][name]["example"].clone();
            assert!(e.is_object(), "{name} has no example");
            e
        };
        serde_json::from_value::<AskRequest>(example("AskRequest")).unwrap();
        serde_json::from_value::<SearchRequest>(example("SearchRequest")).unwrap();
        serde_json::from_value::<ChatRequest>(example("ChatRequest")).unwrap();
        serde_json::from_value::<FeedbackRequest>(example("FeedbackRequest")).unwrap();
        serde_json::from_value::<EmbeddingsRequest>(example("EmbeddingsRequest")).unwrap();
        // And the stream examples are events of their streams.
        for path in ["/v1/ask", "/v1/chat/completions"] {
            let stream = &doc["paths"][path]["post"]["responses"]["200"]["content"]
                ["text/event-stream"]["example"];
            assert!(stream["data"].is_object(), "{path}");
        }
    }

    #[test]
    fn answers_declare_their_event_streams() {
        let doc = serde_json::to_value(openapi_document()).unwrap();
        for (path, event) in [
            ("/v1/ask", "AskStreamEvent"),
            ("/v1/chat/completions", "ChatStreamEvent"),
        ] {
            let content = &doc["paths"][path]["post"]["responses"]["200"]["content"];
            assert!(content["application/json"]["schema"].is_object(), "{path}");
            let stream = &content["text/event-stream"];
            assert_eq!(
                stream["schema"]["$ref"],
                format!("#/components/schemas/{event}")
            );
            assert!(stream["example"].is_object(), "{path}");
        }
        // One schema per event of /v1/ask, named as the event.
        let events = doc["components"]["schemas"]["AskStreamEvent"]["oneOf"]
            .as_array()
            .unwrap();
        let names: Vec<&str> = events
            .iter()
            .map(|e| e["properties"]["event"]["enum"][0].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "retrieval",
                "draft",
                "token",
                "progress",
                "citation",
                "done",
                "error"
            ]
        );
    }
}
