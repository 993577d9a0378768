//! The Model Context Protocol server (`rmcp`, the official Rust SDK): the same pipeline as the
//! HTTP API, for agents. Streamable HTTP at `/mcp` on `rag serve` (behind the same tokens and
//! scopes: the caller's [`Access`] comes from the request the SDK hands each call), and stdio
//! for desktop agents (`rag mcp`, with the machine's own rights). Five read-only tools:
//! `search`, `ask`, `fetch_document`, `list_collections`, `list_documents`; every passage they
//! return carries its citation (document id, title, path, lines or pages).

use std::collections::BTreeMap;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::schemars::{self, JsonSchema};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::*;

/// Longest document text `fetch_document` returns at once, in characters.
pub const FETCH_CHARS: usize = 40_000;

/// Most passages `search` returns.
const MAX_PASSAGES: usize = 50;

/// Most documents `list_documents` returns.
const MAX_LISTED: usize = 1_000;

/// Collections named in a tool's description.
const NAMED_COLLECTIONS: usize = 20;

/// Filters a tool call may apply, as in `/v1/ask`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct Narrow {
    /// Collections to search (default: every collection this caller may read).
    #[serde(default)]
    pub collections: Vec<String>,
    /// Only documents in these languages (ISO 639-1 codes, e.g. "de").
    #[serde(default)]
    pub language: Vec<String>,
    /// Only documents of these formats (markdown, text, html, pdf, docx, ...).
    #[serde(default)]
    pub format: Vec<String>,
    /// Only documents whose path starts with this.
    #[serde(default)]
    pub path_prefix: Option<String>,
}

/// Arguments of `search`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What to look for, in any language.
    pub question: String,
    /// Passages to return (1 to 50; default 10).
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Where to look.
    #[serde(flatten)]
    pub narrow: Narrow,
}

/// Arguments of `ask`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct AskArgs {
    /// The question, in any language; the answer comes in the same language.
    pub question: String,
    /// Where to look.
    #[serde(flatten)]
    pub narrow: Narrow,
}

/// Arguments of `fetch_document`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// The document's id (from a citation, `search` or `list_documents`).
    pub id: i64,
    /// First line to return (1-based; default the first).
    #[serde(default)]
    pub start_line: Option<usize>,
    /// Last line to return (default the last).
    #[serde(default)]
    pub end_line: Option<usize>,
    /// Only this page (PDFs and slides).
    #[serde(default)]
    pub page: Option<usize>,
}

/// Arguments of `list_documents`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// Only this collection's documents.
    #[serde(default)]
    pub collection: Option<String>,
}

/// Arguments of `list_collections` (none).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// The MCP face of a server: one per MCP session (HTTP) or process (stdio).
#[derive(Clone)]
pub struct Mcp {
    server: AppState,
    /// The rights of a stdio session; `None`: each HTTP request's own.
    local: Option<Access>,
}

impl Mcp {
    /// The face over HTTP: each call acts with its request's token.
    pub fn http(server: AppState) -> Mcp {
        Mcp {
            server,
            local: None,
        }
    }

    /// The face over stdio: whoever runs `rag mcp` on the machine reads what the CLI reads.
    pub fn stdio(server: AppState) -> Mcp {
        Mcp {
            server,
            local: Some(Access {
                authorized: true,
                grant: rag::config::Grant::everything("stdio"),
            }),
        }
    }

    fn access(&self, context: &RequestContext<RoleServer>) -> Result<Access, ErrorData> {
        if let Some(local) = &self.local {
            return Ok(local.clone());
        }
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Access>())
            .cloned()
            .ok_or_else(|| ErrorData::invalid_request("no credentials reached this call", None))
    }

    /// The collections `access` may read, with their document counts.
    fn collections(&self, access: &Access) -> Result<BTreeMap<String, usize>, ApiError> {
        // The open index's counts (held in memory), not a read of every stored document.
        let counts = self.server.rag().open_index()?.collection_counts();
        Ok(counts
            .into_iter()
            .filter(|(name, _)| access.grant.visible.reads(name))
            .map(|(name, (documents, _chunks))| (name, documents))
            .collect())
    }

    fn tools(&self, readable: &BTreeMap<String, usize>) -> Vec<Tool> {
        let mut names: Vec<&str> = readable.keys().map(String::as_str).collect();
        let more = names.len().saturating_sub(NAMED_COLLECTIONS);
        names.truncate(NAMED_COLLECTIONS);
        let scope = if names.is_empty() {
            "No collection is readable with these credentials yet.".to_string()
        } else {
            format!(
                "Collections you may read: {}{}.",
                names.join(", "),
                if more > 0 {
                    format!(" and {more} more (list_collections)")
                } else {
                    String::new()
                }
            )
        };
        let read_only = || {
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false)
        };
        let schema = |v: schemars::Schema| -> Arc<rmcp::model::JsonObject> {
            Arc::new(
                serde_json::to_value(v)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default(),
            )
        };
        vec![
            Tool::new(
                "search",
                format!("Hybrid search (BM25 and vectors) over the organisation's own documents, in any language. Returns passages with their citation: document id, title, path and lines or pages. {scope}"),
                schema(schemars::schema_for!(SearchArgs)),
            )
            .with_title("Search the documents")
            .with_annotations(read_only()),
            Tool::new(
                "ask",
                format!("Answers a question from the documents with numbered citations [1], [2] checked against the passages, in the question's language; says \"not found\" when the documents do not answer. {scope}"),
                schema(schemars::schema_for!(AskArgs)),
            )
            .with_title("Ask the documents")
            .with_annotations(read_only()),
            Tool::new(
                "fetch_document",
                format!("The text of one document by id (from a citation or list_documents), whole or a line range or a page, at most {FETCH_CHARS} characters at once. {scope}"),
                schema(schemars::schema_for!(FetchArgs)),
            )
            .with_title("Read a document")
            .with_annotations(read_only()),
            Tool::new(
                "list_collections",
                format!("The collections you may read, with their document counts. {scope}"),
                schema(schemars::schema_for!(NoArgs)),
            )
            .with_title("List collections")
            .with_annotations(read_only()),
            Tool::new(
                "list_documents",
                format!("The documents you may read: id, title, collection, path, format, language, chunks (at most {MAX_LISTED}). {scope}"),
                schema(schemars::schema_for!(ListArgs)),
            )
            .with_title("List documents")
            .with_annotations(read_only()),
        ]
    }

    async fn call(&self, name: &str, args: Value, access: Access) -> Result<Value, ApiError> {
        let bad = |e: serde_json::Error| ApiError::bad_request(format!("{name}: {e}"));
        match name {
            "search" => {
                let a: SearchArgs = serde_json::from_value(args).map_err(bad)?;
                self.search(a, access).await
            }
            "ask" => {
                let a: AskArgs = serde_json::from_value(args).map_err(bad)?;
                self.ask(a, access).await
            }
            "fetch_document" => {
                let a: FetchArgs = serde_json::from_value(args).map_err(bad)?;
                self.fetch(a, access).await
            }
            "list_collections" => {
                let _: NoArgs = serde_json::from_value(args).map_err(bad)?;
                let c = self.collections(&access)?;
                Ok(json!({"collections": c.iter().map(|(name, n)| json!({"name": name, "documents": n})).collect::<Vec<_>>()}))
            }
            "list_documents" => {
                let a: ListArgs = serde_json::from_value(args).map_err(bad)?;
                self.list(a, access).await
            }
            other => Err(ApiError::bad_request(format!(
                "no tool {other:?}: the tools are search, ask, fetch_document, list_collections, list_documents"
            ))),
        }
    }

    fn options(&self, narrow: Narrow, access: &Access) -> Result<AskOptions, ApiError> {
        let filter: wire::Filter = serde_json::from_value(json!({
            "language": narrow.language,
            "format": narrow.format,
            "path_prefix": narrow.path_prefix,
        }))
        .map_err(|e| ApiError::bad_request(format!("filter: {e}")))?;
        Ok(super::ask::scoped_options(
            &self.server,
            access,
            &narrow.collections,
            filter,
        ))
    }

    async fn search(&self, a: SearchArgs, access: Access) -> Result<Value, ApiError> {
        let top_k = a.top_k.unwrap_or(10);
        if !(1..=MAX_PASSAGES).contains(&top_k) {
            return Err(ApiError::bad_request(format!(
                "top_k must be 1 to {MAX_PASSAGES}"
            )));
        }
        let options = AskOptions {
            top_k: Some(top_k),
            ..self.options(a.narrow, &access)?
        };
        let rag = Arc::clone(self.server.rag());
        let question = a.question;
        let r = tokio::task::spawn_blocking(move || rag.search_with(&question, &options)).await??;
        let passages: Vec<Value> = r
            .hits
            .iter()
            .take(top_k)
            .map(|h| {
                json!({
                    "document_id": h.doc_id,
                    "title": h.place.title,
                    "path": self.server.public_path(&h.place.path),
                    "heading": h.place.heading,
                    "lines": [h.place.start_line, h.place.end_line],
                    "pages": h.place.page_start.map(|a| [a, h.place.page_end.unwrap_or(a)]),
                    "score": h.score,
                    "text": h.text,
                })
            })
            .collect();
        Ok(json!({"passages": passages, "evidence": wire::Evidence::from(&r.evidence)}))
    }

    async fn ask(&self, a: AskArgs, access: Access) -> Result<Value, ApiError> {
        let options = self.options(a.narrow, &access)?;
        let id = crate::quality::new_id();
        let answer = answer(&self.server, a.question, options, &id).await?;
        let citations: Vec<Value> = answer
            .citations
            .iter()
            .map(|c| {
                json!({
                    "n": c.n,
                    "document_id": c.document_id,
                    "title": c.place.title,
                    "path": c.place.path,
                    "heading": c.place.heading,
                    "lines": [c.place.start_line, c.place.end_line],
                    "pages": c.place.page_start.map(|p| [p, c.place.page_end.unwrap_or(p)]),
                    "text": c.text,
                })
            })
            .collect();
        let mode = crate::wire_name(answer.mode);
        Ok(json!({
            "answer_id": id,
            "answer": answer.answer,
            "mode": mode,
            "found": answer.mode != AnswerMode::Refused,
            "citations": citations,
        }))
    }

    async fn fetch(&self, a: FetchArgs, access: Access) -> Result<Value, ApiError> {
        let rag = Arc::clone(self.server.rag());
        let id = a.id;
        let (doc, hits) = tokio::task::spawn_blocking(move || rag.document_passages(id)).await??;
        let readable = doc
            .as_ref()
            .is_some_and(|d| access.grant.visible.reads(&d.collection));
        let Some(doc) = doc.filter(|_| readable) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no document {id} among those you may read (list_documents shows them)"),
            ));
        };
        let first = a.start_line.unwrap_or(1);
        let last = a.end_line.unwrap_or(usize::MAX);
        if first > last {
            return Err(ApiError::bad_request("start_line is after end_line"));
        }
        let mut text = String::new();
        let mut truncated = false;
        let mut lines = (usize::MAX, 0);
        for h in hits.iter().filter(|h| {
            h.place.end_line >= first
                && h.place.start_line <= last
                && a.page.is_none_or(|p| {
                    h.place.page_start.is_some_and(|s| s <= p)
                        && h.place
                            .page_end
                            .or(h.place.page_start)
                            .is_some_and(|e| e >= p)
                })
        }) {
            if text.chars().count() + h.text.chars().count() > FETCH_CHARS {
                truncated = true;
                break;
            }
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&h.text);
            lines = (
                lines.0.min(h.place.start_line),
                lines.1.max(h.place.end_line),
            );
        }
        let public = self.server.public_doc(&doc);
        Ok(json!({
            "document": public,
            "lines": (lines.1 > 0).then_some([lines.0, lines.1]),
            "truncated": truncated,
            "text": text,
        }))
    }

    async fn list(&self, a: ListArgs, access: Access) -> Result<Value, ApiError> {
        if let Some(c) = &a.collection {
            if !access.grant.visible.reads(c) {
                return Err(ApiError::forbidden(format!(
                    "these credentials may not read collection {c:?}"
                )));
            }
        }
        let rag = Arc::clone(self.server.rag());
        let docs = tokio::task::spawn_blocking(move || rag.documents()).await??;
        let shown: Vec<Value> = docs
            .iter()
            .filter(|d| access.grant.visible.reads(&d.collection))
            .filter(|d| a.collection.as_ref().is_none_or(|c| *c == d.collection))
            .take(MAX_LISTED)
            .map(|d| {
                let p = self.server.public_doc(d);
                json!({"id": p.id, "title": p.title, "collection": p.collection, "path": p.path,
                       "format": p.format, "language": p.language, "chunks": p.chunks})
            })
            .collect();
        Ok(json!({"documents": shown}))
    }
}

impl ServerHandler for Mcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("rag", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "rag answers questions from an organisation's own documents, offline, with citations. Use search for passages, ask for a cited answer, fetch_document to read more of a cited document.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let access = self.access(&context)?;
        let readable = self
            .collections(&access)
            .map_err(|e| ErrorData::internal_error(e.body().error.message, None))?;
        Ok(ListToolsResult::with_all_items(self.tools(&readable)))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let access = self.access(&context)?;
        let args = Value::Object(request.arguments.unwrap_or_default());
        Ok(match self.call(&request.name, args, access).await {
            Ok(value) => CallToolResult::structured(value),
            // A tool's failure is its result, for the agent to read and correct.
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e.body().error.message)]),
        }
        .into())
    }
}
