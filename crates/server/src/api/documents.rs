//! `/v1/documents`: uploads (multipart), the list, and deletion.

use super::*;

/// The documents in the index.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DocumentList {
    /// Every indexed document.
    pub documents: Vec<wire::StoredDoc>,
    /// Ids of the documents uploaded over HTTP (the others came from `rag ingest`).
    pub uploaded: Vec<i64>,
    /// The caller may upload and re-ingest (not on a kiosk).
    pub can_upload: bool,
    /// The caller may delete uploaded documents (not on a kiosk).
    pub can_delete: bool,
    /// `serve.delete_ingested`: documents from `rag ingest` may be deleted over HTTP too.
    pub delete_ingested: bool,
}

/// One uploaded file and what became of it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// The file name the client sent (never used on disk).
    pub filename: String,
    /// The documents it produced (a JSONL file gives several), or the documents already
    /// indexed with the same content.
    pub documents: Vec<wire::StoredDoc>,
    /// True when the same content was already indexed: nothing new was stored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// Why it was not indexed, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Answer of `POST /v1/documents`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadResponse {
    /// Each file, in the order sent.
    pub files: Vec<Uploaded>,
    /// Documents in the index afterwards.
    pub total_documents: usize,
}

/// Answer of `DELETE /v1/documents/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Removed {
    /// The document removed.
    pub removed: wire::StoredDoc,
}

fn kiosk_refuses(s: &Server, what: &str) -> Result<(), ApiError> {
    if s.config.kiosk {
        return Err(ApiError::forbidden(format!(
            "{what} is turned off on a kiosk; run `rag ingest` or `rag rm` on the machine instead"
        )));
    }
    Ok(())
}

/// The folder uploads are written to.
fn uploads_dir(s: &Server) -> PathBuf {
    s.rag().config().index.join(UPLOADS)
}

/// Removes files, ignoring those already gone.
fn remove_files(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
        // Each upload has a folder of its own (see `upload_path`); it goes with its file.
        if let Some(folder) = p.parent() {
            let _ = std::fs::remove_dir(folder);
        }
    }
}

/// Where an upload is stored: a folder of its own (a random name) under the uploads folder,
/// holding the file under the name the client sent, made safe: its last path component,
/// without control characters or `#`, at most 120 characters, its extension kept. So the
/// document is titled and labelled by the name its author gave it, and two uploads of the
/// same name never meet.
fn upload_path(dir: &FsPath, sent: &str, format: rag::Format) -> PathBuf {
    let base = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let mut name: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '#')
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .to_string();
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_string())
        .filter(|e| rag::Format::from_file_name(&format!("x.{e}")) == Some(format))
        .unwrap_or_else(|| format.extension().to_string());
    let stem = name
        .rsplit_once('.')
        .map_or(name.clone(), |(s, _)| s.to_string());
    let stem: String = stem.chars().take(120).collect();
    name = if stem.trim().is_empty() {
        format!("upload.{ext}")
    } else {
        format!("{}.{ext}", stem.trim())
    };
    dir.join(uuid::Uuid::new_v4().simple().to_string())
        .join(name)
}

/// Uploads documents (multipart/form-data, one or more file parts) and ingests them like
/// `rag ingest`, into a collection the token may read (it needs the upload right); text
/// fields other than `collection` become every file's metadata. Each file is stored under the
/// index folder, in a folder of its own, under the name the client sent (made safe): the name
/// chooses the format by its extension and titles the document when it has no title of its own. A file
/// whose content is already indexed is not stored again: its entry names the documents that
/// hold it, with `"duplicate": true`.
#[utoipa::path(post, path = "/v1/documents", params(("collection" = Option<String>, Query, description = "The collection the files go into (else a `collection` form field, else the token's only collection, else `default`)")), request_body(content_type = "multipart/form-data", description = "One or more file parts in any format rag ingests (text, markdown, HTML, PDF, DOCX, ODT, EPUB, CSV/TSV, XLSX/XLS/ODS, PPTX/ODP, EML/MBOX, JSONL, PNG/JPEG/TIFF images); other text fields are metadata for every file"), responses(
    (status = 201, description = "Ingested", body = UploadResponse),
    (status = 200, description = "Every file was already indexed", body = UploadResponse),
    (status = 403, description = "Kiosk mode, or the token may not upload into that collection", body = ErrorBody),
    (status = 413, description = "Larger than serve.max_upload_bytes", body = ErrorBody),
    (status = 415, description = "Unsupported file type", body = ErrorBody),
    (status = 422, description = "No file could be read", body = UploadResponse)
))]
pub async fn upload(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    axum::extract::Query(query): axum::extract::Query<CollectionQuery>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    kiosk_refuses(&s, "document upload")?;
    if !access.grant.upload {
        return Err(ApiError::forbidden("this token may not upload documents"));
    }
    let mut collection = query.collection;
    let mut meta = std::collections::BTreeMap::new();
    let mut multipart = multipart.map_err(|e| ApiError::rejected(e.status(), e.body_text()))?;
    let dir = uploads_dir(&s);
    tokio::fs::create_dir_all(&dir).await.map_err(|e| {
        tracing::error!(dir = %dir.display(), error = %e, "cannot create the uploads folder");
        ApiError::internal("cannot store uploads (the server log says why)")
    })?;
    let cannot_write = |e: std::io::Error| {
        tracing::error!(error = %e, "cannot write an upload");
        ApiError::internal("cannot store the upload (the server log says why)")
    };
    let mut saved: Vec<Saved> = Vec::new();
    let outcome: Result<(), ApiError> = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::rejected(e.status(), e.body_text()))?
        {
            let Some(name) = field.file_name().map(String::from) else {
                // A form field without a file: the collection, or metadata for every file.
                let key = field.name().unwrap_or_default().to_string();
                let value = field
                    .text()
                    .await
                    .map_err(|e| ApiError::rejected(e.status(), e.body_text()))?;
                if key == "collection" {
                    collection = Some(value);
                } else if !key.is_empty() {
                    meta.insert(key, value);
                }
                continue;
            };
            let Some(format) = rag::Format::from_file_name(&name) else {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!(
                        "{name:?}: not a supported document; send one of {}",
                        rag::Format::EXTENSIONS
                            .map(|(e, _)| format!(".{e}"))
                            .join(" ")
                    ),
                ));
            };
            let path = upload_path(&dir, &name, format);
            if let Some(folder) = path.parent() {
                tokio::fs::create_dir_all(folder)
                    .await
                    .map_err(cannot_write)?;
            }
            saved.push(Saved {
                name,
                path: path.clone(),
                hashes: Vec::new(),
                duplicate: false,
            });
            let mut file = tokio::fs::File::create(&path).await.map_err(cannot_write)?;
            let mut bytes = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| ApiError::rejected(e.status(), e.body_text()))?
            {
                file.write_all(&chunk).await.map_err(cannot_write)?;
                bytes.extend_from_slice(&chunk);
            }
            file.flush().await.map_err(cannot_write)?;
            if let Some(last) = saved.last_mut() {
                last.hashes = rag::content_hashes(format, &bytes);
            }
        }
        Ok(())
    }
    .await;
    let paths: Vec<PathBuf> = saved.iter().map(|f| f.path.clone()).collect();
    if let Err(e) = outcome {
        remove_files(&paths);
        return Err(e);
    }
    if saved.is_empty() {
        return Err(ApiError::bad_request(
            "no file part: send multipart/form-data with a part like `file=@notes.md`",
        ));
    }
    let collection = match upload_collection(&access, collection, &meta) {
        Ok(c) => c,
        Err(e) => {
            remove_files(&paths);
            return Err(e);
        }
    };
    let rag = Arc::clone(s.rag());
    let target = collection.clone();
    let visible = access.grant.visible.clone();
    let before = tokio::task::spawn_blocking(move || match rag.documents() {
        Ok(docs) => Ok(docs),
        Err(rag::Error::User(UserError::NoIndex(_))) => Ok(Vec::new()),
        Err(e) => Err(e),
    })
    .await??;
    // Duplicates are looked for in the collection uploaded to only: content in a collection
    // the caller cannot read must not show.
    let before: Vec<StoredDoc> = before
        .into_iter()
        .filter(|d| d.collection == target)
        .collect();
    // Content already indexed (or sent twice in this request) is not stored again.
    let mut known: std::collections::HashSet<String> =
        before.iter().map(|d| d.hash.clone()).collect();
    for f in &mut saved {
        f.duplicate = !f.hashes.is_empty() && f.hashes.iter().all(|h| known.contains(h));
        if !f.duplicate {
            known.extend(f.hashes.iter().cloned());
        }
    }
    let to_ingest: Vec<PathBuf> = saved
        .iter()
        .filter(|f| !f.duplicate)
        .map(|f| f.path.clone())
        .collect();
    let (report, docs) = if to_ingest.is_empty() {
        (None, before)
    } else {
        let rag = Arc::clone(s.rag());
        let ingested = tokio::task::spawn_blocking(move || {
            let options = IngestOptions {
                origin: "upload",
                collection: Some(collection),
                meta,
                ..IngestOptions::default()
            };
            let report = rag.ingest(&to_ingest, &options, &mut |_| {})?;
            let docs = rag
                .documents()?
                .into_iter()
                .filter(|d| visible.reads(&d.collection))
                .collect();
            Ok::<_, rag::Error>((report, docs))
        })
        .await?;
        match ingested {
            Ok((report, docs)) => (Some(report), docs),
            Err(e) => {
                remove_files(&paths);
                return Err(e.into());
            }
        }
    };
    let mut files = Vec::new();
    for f in saved {
        if f.duplicate {
            remove_files(std::slice::from_ref(&f.path));
            let documents = docs
                .iter()
                .filter(|d| f.hashes.contains(&d.hash))
                .map(|d| s.public_doc(d))
                .collect();
            files.push(Uploaded {
                filename: f.name,
                documents,
                duplicate: true,
                skipped: None,
            });
            continue;
        }
        let canonical = std::fs::canonicalize(&f.path).unwrap_or(f.path.clone());
        let key = canonical.to_string_lossy().into_owned();
        let documents: Vec<wire::StoredDoc> = docs
            .iter()
            .filter(|d| d.path == key || d.path.starts_with(&format!("{key}#")))
            .map(|d| s.public_doc(d))
            .collect();
        let skipped = report.as_ref().and_then(|r| {
            r.skipped
                .iter()
                .find(|k| FsPath::new(&k.path) == f.path || FsPath::new(&k.path) == canonical)
                .map(|k| super::super::without_paths(&k.reason))
        });
        if documents.is_empty() {
            remove_files(std::slice::from_ref(&f.path));
        }
        let skipped = match (&skipped, documents.is_empty()) {
            (None, true) => Some("no text could be read from it".to_string()),
            _ => skipped,
        };
        files.push(Uploaded {
            filename: f.name,
            documents,
            duplicate: false,
            skipped,
        });
    }
    let status = if files
        .iter()
        .any(|f| !f.documents.is_empty() && !f.duplicate)
    {
        StatusCode::CREATED
    } else if files.iter().any(|f| f.duplicate) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((
        status,
        Json(UploadResponse {
            files,
            total_documents: docs.len(),
        }),
    )
        .into_response())
}

/// A file part written to the uploads folder.
struct Saved {
    /// The name the client sent.
    name: String,
    /// Where it was written.
    path: PathBuf,
    /// Its content hashes ([`rag::content_hashes`]).
    hashes: Vec<String>,
    /// Its content is already indexed (or came earlier in the same request).
    duplicate: bool,
}

/// The document a path's id names: the id, every document, and its place among them; 400 for
/// an id that is not a number, 404 for one no document has.
async fn document_by_id(
    s: &AppState,
    access: &Access,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<(i64, Vec<StoredDoc>, usize), ApiError> {
    let Path(id) = id.map_err(|e| {
        ApiError::bad_request(format!("{}: the document id is a number", e.body_text()))
    })?;
    let id = parse_id(&id)?;
    let rag = Arc::clone(s.rag());
    let docs = tokio::task::spawn_blocking(move || rag.documents()).await??;
    // A document the caller may not read is answered as one that does not exist.
    let Some(at) = docs
        .iter()
        .position(|d| d.id == id && access.grant.visible.reads(&d.collection))
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no document with id {id}; GET /v1/documents lists them"),
        ));
    };
    Ok((id, docs, at))
}

/// What a re-ingest did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reingested {
    /// The document afterwards (its new id when it was cut again).
    pub documents: Vec<wire::StoredDoc>,
    /// The run's report: updated, skipped (the file is gone or unreadable) and so on.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
}

/// Reads a document's file again and cuts and embeds it anew, whether or not its content
/// changed (after a chunking or OCR change, say). The file must still be there. Not on a kiosk.
#[utoipa::path(post, path = "/v1/documents/{id}/reingest", params(("id" = i64, Path, description = "Document id")), responses(
    (status = 200, description = "Read again", body = Reingested),
    (status = 404, description = "No such document", body = ErrorBody),
    (status = 403, description = "On a kiosk", body = ErrorBody),
    (status = 422, description = "The file is gone or could not be read", body = ErrorBody)
))]
pub async fn reingest_document(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<Reingested>, ApiError> {
    kiosk_refuses(&s, "re-ingesting")?;
    if !access.grant.upload {
        return Err(ApiError::forbidden(
            "this token may not re-ingest documents",
        ));
    }
    let (id, docs, at) = document_by_id(&s, &access, id).await?;
    let doc = &docs[at];
    let file = PathBuf::from(doc.source_file());
    if !file.is_file() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_gone",
            format!(
                "the file of document {id} ({}) is gone: restore it, or delete the document",
                s.public_path(doc.source_file())
            ),
        ));
    }
    let rag = Arc::clone(s.rag());
    let source = doc.source_file().to_string();
    // It stays in its collection, with its metadata.
    let (collection, meta) = (doc.collection.clone(), doc.meta.clone());
    let (report, documents) = tokio::task::spawn_blocking(move || -> rag::Result<_> {
        let options = IngestOptions {
            rechunk: true,
            origin: "reingest",
            collection: Some(collection),
            meta,
            ..IngestOptions::default()
        };
        let report = rag.ingest(&[file], &options, &mut |_| {})?;
        let documents = rag.documents()?;
        Ok((report, documents))
    })
    .await??;
    if let Some(skip) = report.skipped.first() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable",
            format!("document {id} could not be read again: {}", skip.reason),
        ));
    }
    let documents = documents
        .iter()
        .filter(|d| d.source_file() == source)
        .map(|d| s.public_doc(d))
        .collect();
    Ok(Json(Reingested {
        documents,
        report: serde_json::to_value(&report).unwrap_or_default(),
    }))
}

/// The last ingest runs.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunList {
    /// Newest first (at most 20).
    pub runs: Vec<wire::IngestRun>,
}

/// The last ingest runs, newest first (`rag ingest`, uploads, watched folders): what each
/// added, changed and removed, and the files it skipped with their reasons. Not on a kiosk.
#[utoipa::path(get, path = "/v1/ingest/runs", responses(
    (status = 200, description = "The runs", body = RunList),
    (status = 403, description = "On a kiosk", body = ErrorBody),
    (status = 503, description = "No index", body = ErrorBody)
))]
pub async fn ingest_runs(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
) -> Result<Json<RunList>, ApiError> {
    kiosk_refuses(&s, "the ingest log")?;
    let rag = Arc::clone(s.rag());
    let mut runs = tokio::task::spawn_blocking(move || rag.runs()).await??;
    // A scoped token sees the runs into its collections only (a golden-question check
    // covers every collection: not shown to it).
    runs.retain(|r| {
        access.grant.reads_all()
            || r.collection
                .as_deref()
                .is_some_and(|c| access.grant.visible.reads(c))
    });
    for run in &mut runs {
        // The index's totals after a run count every collection: not for a scoped token.
        if !access.grant.reads_all() {
            if let Some(report) = run.report.as_object_mut() {
                report.remove("documents");
                report.remove("chunks");
            }
        }
        // Paths as responses show paths, in the skips and the per-file outcomes alike.
        for list in ["skipped", "files"] {
            let Some(entries) = run.report.get_mut(list).and_then(|v| v.as_array_mut()) else {
                continue;
            };
            for entry in entries.iter_mut() {
                public_entry(&s, entry);
            }
        }
    }
    Ok(Json(RunList {
        runs: wire::all(&runs),
    }))
}

/// A skip or a file outcome of a recorded run, with its path and message as responses show
/// paths. Runs recorded before skips were structured hold `"path: reason"` strings.
fn public_entry(s: &AppState, entry: &mut serde_json::Value) {
    if let Some((path, reason)) = entry.as_str().and_then(|t| t.split_once(": ")) {
        *entry = serde_json::Value::String(format!("{}: {reason}", s.public_path(path)));
        return;
    }
    let Some(fields) = entry.as_object_mut() else {
        return;
    };
    if let Some(path) = fields.get("path").and_then(|p| p.as_str()) {
        let public = s.public_path(path);
        fields.insert("path".into(), public.into());
    }
    if let Some(message) = fields.get("message").and_then(|m| m.as_str()) {
        if s.shows_paths() {
            return;
        }
        let public = super::super::without_paths(message);
        fields.insert("message".into(), public.into());
    }
}

/// Every indexed document the caller may read (`?collection=NAME`: of that collection).
#[utoipa::path(get, path = "/v1/documents", params(("collection" = Option<String>, Query, description = "Only this collection's documents")), responses(
    (status = 200, description = "The documents", body = DocumentList),
    (status = 403, description = "The token may not read that collection", body = ErrorBody),
    (status = 503, description = "No index", body = ErrorBody)
))]
pub async fn list_documents(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    axum::extract::Query(query): axum::extract::Query<CollectionQuery>,
) -> Result<Json<DocumentList>, ApiError> {
    if let Some(c) = &query.collection {
        if !access.grant.visible.reads(c) {
            return Err(ApiError::forbidden(format!(
                "this token may not read collection {c:?}"
            )));
        }
    }
    let rag = Arc::clone(s.rag());
    let documents = tokio::task::spawn_blocking(move || rag.documents()).await??;
    let shown: Vec<&StoredDoc> = documents
        .iter()
        .filter(|d| access.grant.visible.reads(&d.collection))
        .filter(|d| query.collection.as_ref().is_none_or(|c| *c == d.collection))
        .collect();
    let uploads = std::fs::canonicalize(uploads_dir(&s)).ok();
    let uploaded = shown
        .iter()
        .filter(|d| is_uploaded(uploads.as_deref(), d.source_file()))
        .map(|d| d.id)
        .collect();
    Ok(Json(DocumentList {
        documents: shown.iter().map(|d| s.public_doc(d)).collect(),
        uploaded,
        can_upload: access.grant.upload && !s.config.kiosk,
        can_delete: access.grant.delete && !s.config.kiosk,
        delete_ingested: s.config.delete_ingested,
    }))
}

/// Whether `file` was uploaded over HTTP: directly in the uploads folder (before uploads kept
/// their names) or in a folder of its own there.
fn is_uploaded(uploads: Option<&FsPath>, file: &str) -> bool {
    uploads.is_some_and(|u| {
        let parent = FsPath::new(file).parent();
        parent == Some(u) || parent.and_then(FsPath::parent) == Some(u)
    })
}

/// `?collection=NAME`.
#[derive(Debug, Deserialize)]
pub struct CollectionQuery {
    /// The collection.
    collection: Option<String>,
}

/// The collection an upload goes into: the one named (which the caller must read), else the
/// caller's only collection, else `default`. Its metadata is checked too.
fn upload_collection(
    access: &Access,
    named: Option<String>,
    meta: &std::collections::BTreeMap<String, String>,
) -> Result<String, ApiError> {
    rag::check_meta(meta)?;
    let collection = match (named, &access.grant.visible) {
        (Some(c), _) => c,
        (None, rag::types::Visible::Only(only)) if only.len() == 1 => only[0].clone(),
        (None, rag::types::Visible::Only(_)) => {
            return Err(ApiError::bad_request(
                "this token reads several collections: name the one to upload into (?collection=NAME or a form field collection)",
            ))
        }
        (None, rag::types::Visible::All) => rag::types::DEFAULT_COLLECTION.to_string(),
    };
    rag::types::check_collection(&collection).map_err(ApiError::bad_request)?;
    if !access.grant.visible.reads(&collection) {
        return Err(ApiError::forbidden(format!(
            "this token may not upload into collection {collection:?}"
        )));
    }
    Ok(collection)
}

/// Removes a document from all three stores in one commit (and its file, when it was
/// uploaded). Documents ingested with `rag ingest` are the operator's: removing them over
/// HTTP needs `serve.delete_ingested = true`.
#[utoipa::path(delete, path = "/v1/documents/{id}", params(("id" = i64, Path, description = "Document id")), responses(
    (status = 200, description = "Removed", body = Removed),
    (status = 400, description = "Not a document id", body = ErrorBody),
    (status = 403, description = "Kiosk mode, or a document not uploaded over HTTP", body = ErrorBody),
    (status = 404, description = "No such document", body = ErrorBody)
))]
pub async fn delete_document(
    State(s): State<AppState>,
    Extension(access): Extension<Access>,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Json<Removed>, ApiError> {
    kiosk_refuses(&s, "document deletion")?;
    if !access.grant.delete {
        return Err(ApiError::forbidden("this token may not delete documents"));
    }
    let (id, docs, at) = document_by_id(&s, &access, id).await?;
    let doc = &docs[at];
    // An uploaded file goes with its last document (a JSONL file holds several); files
    // elsewhere are the operator's.
    let uploads = std::fs::canonicalize(uploads_dir(&s)).ok();
    let file = doc.source_file().to_string();
    let in_uploads = is_uploaded(uploads.as_deref(), &file);
    if !in_uploads && !s.config.delete_ingested {
        return Err(ApiError::forbidden(
            format!("document {id} was ingested on the server, not uploaded: remove it with `rag rm` there, or set serve.delete_ingested = true to allow it over HTTP"),
        ));
    }
    // Only uploads share a file (the records of one JSONL), and only this request removes one.
    let still_used = docs.iter().any(|d| d.id != id && d.source_file() == file);
    let rag = Arc::clone(s.rag());
    let removed = tokio::task::spawn_blocking(move || rag.remove_ids(&[id])).await??;
    let Some(removed) = removed.into_iter().next() else {
        return Err(ApiError::internal("nothing was removed"));
    };
    if in_uploads && !still_used {
        remove_files(&[PathBuf::from(&file)]);
    }
    Ok(Json(Removed {
        removed: s.public_doc(&removed),
    }))
}

/// A document id as the path gives it: decimal digits only (no sign, no spaces).
fn parse_id(text: &str) -> Result<i64, ApiError> {
    let digits = !text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| text.parse::<i64>().ok())
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{:?} is not a document id: ids are whole numbers as GET /v1/documents lists them",
                text.chars().take(40).collect::<String>()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_keep_their_names_made_safe_in_folders_of_their_own() {
        let dir = FsPath::new("/idx/uploads");
        let stored = |sent: &str, format| {
            let p = upload_path(dir, sent, format);
            assert_eq!(p.parent().and_then(FsPath::parent), Some(dir), "{p:?}");
            p.file_name().unwrap().to_string_lossy().into_owned()
        };
        use rag::Format;
        assert_eq!(
            stored("Travel rules 2026.xlsx", Format::Spreadsheet),
            "Travel rules 2026.xlsx"
        );
        assert_eq!(stored("../../etc/passwd.md", Format::Markdown), "passwd.md");
        assert_eq!(
            stored("C:\\Users\\ann\\report.docx", Format::Docx),
            "report.docx"
        );
        assert_eq!(stored("a#b.jsonl", Format::Jsonl), "ab.jsonl");
        assert_eq!(stored("\u{0}\u{7}x.md", Format::Markdown), "x.md");
        assert_eq!(stored(".hidden.md", Format::Markdown), "hidden.md");
        assert_eq!(stored("...", Format::Markdown), "upload.md");
        let long = format!("{}.pdf", "ä".repeat(500));
        assert_eq!(stored(&long, Format::Pdf).chars().count(), 124);
        // Two uploads of one name never meet.
        assert_ne!(
            upload_path(dir, "a.md", Format::Markdown),
            upload_path(dir, "a.md", Format::Markdown)
        );
    }
}
