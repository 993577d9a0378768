//! Scoped tokens through the real server on loopback: a token that reads some collections never
//! sees another's documents, counts or names on any endpoint, and a kiosk reads only its own.

use serde_json::{json, Value};

use crate::collections::{hit_paths, ingest_split, source_files, PARKING};
use crate::support::{start_server, stderr, Env, Server};

/// One HTTP request with a bearer token (when given) and a content type.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
    content_type: &str,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    crate::support::http_with(addr, method, path, &headers, body)
}

pub(crate) fn json_call(
    server: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, String) {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    request(
        &server.addr,
        method,
        path,
        token,
        body.as_bytes(),
        "application/json",
    )
}

fn upload(
    server: &Server,
    token: &str,
    query: &str,
    fields: &[(&str, &str)],
    file: (&str, &str),
) -> (u16, String) {
    let boundary = "rag-scope-boundary";
    let mut body = String::new();
    for (k, v) in fields {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: text/markdown\r\n\r\n{}\r\n--{boundary}--\r\n",
        file.0, file.1
    ));
    request(
        &server.addr,
        "POST",
        &format!("/v1/documents{query}"),
        Some(token),
        body.as_bytes(),
        &format!("multipart/form-data; boundary={boundary}"),
    )
}

#[test]
fn scoped_tokens_never_show_another_collections_documents_on_any_endpoint() {
    let env = Env::new();
    ingest_split(&env);
    let reader = env.add_token(&["--collections", "hr", "--name", "hr-reader"]);
    let writer = env.add_token(&["--collections", "hr", "--write"]);
    let admin = env.add_token(&["--collections", "*", "--write"]);
    let both = env.add_token(&["--collections", "hr,eng", "--upload"]);
    // Only hashes are kept.
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    for t in [&reader, &writer, &admin, &both] {
        assert!(!config.contains(t.as_str()), "a token in clear: {config}");
    }
    assert!(config.contains("name = \"hr-reader\""), "{config}");
    let server = start_server(&env);
    // What no response to an hr token may hold: the eng documents' names or titles.
    let secret = |body: &str| {
        for leak in [
            "parking-and-transport",
            "wifi-and-phones",
            "Parking and",
            "Wi-Fi",
        ] {
            assert!(!body.contains(leak), "{leak} leaked: {body}");
        }
    };
    // No token, or a wrong one: 401 everywhere.
    for t in [
        None,
        Some("rag_0000000000000000000000000000000000000000000000000"),
    ] {
        let (status, _) = json_call(&server, "POST", "/v1/ask", t, json!({"question": PARKING}));
        assert_eq!(status, 401);
    }
    let ask_body = |path: &str, extra: Value| {
        let mut b = json!({"question": PARKING, "trace": true});
        if path == "/v1/ask" {
            b["extractive"] = json!(true);
        }
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    for token in [&reader, &writer] {
        let t = Some(token.as_str());
        // Asking, searching and chatting see hr alone, traces included.
        for path in ["/v1/ask", "/v1/search"] {
            let (status, body) = json_call(&server, "POST", path, t, ask_body(path, json!({})));
            assert_eq!(status, 200, "{body}");
            secret(&body);
            // The trace explains within hr: candidates with their ranks, nothing removed.
            let trace = &serde_json::from_str::<Value>(&body).unwrap()["trace"];
            let candidates = trace["candidates"].as_array().unwrap();
            assert!(!candidates.is_empty(), "{trace}");
            assert!(candidates.iter().all(|c| c["fused_rank"].is_u64()));
            assert_eq!(trace["removed"], json!([]), "{trace}");
            let (status, body) = json_call(
                &server,
                "POST",
                path,
                t,
                ask_body(path, json!({"filter": {"format": "markdown"}})),
            );
            assert_eq!(status, 200, "{body}");
            secret(&body);
            // Naming a collection it may not read is refused, existing or not.
            for c in ["eng", "no-such"] {
                let (status, body) = json_call(
                    &server,
                    "POST",
                    path,
                    t,
                    ask_body(path, json!({"collections": c})),
                );
                assert_eq!(status, 403, "{body}");
                assert!(body.contains("may not read collection"), "{body}");
            }
        }
        let chat = |extra: Value| {
            let mut b = json!({"messages": [{"role": "user", "content": PARKING}]});
            b.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json_call(&server, "POST", "/v1/chat/completions", t, b)
        };
        let (status, body) = chat(json!({}));
        assert_eq!(status, 200, "{body}");
        secret(&body);
        assert_eq!(chat(json!({"collection": "eng"})).0, 403);
        // The documents list holds hr's alone; another collection's is refused.
        let (status, body) = json_call(&server, "GET", "/v1/documents", t, Value::Null);
        assert_eq!(status, 200);
        secret(&body);
        let listed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(listed["documents"].as_array().unwrap().len(), 2, "{listed}");
        assert_eq!(
            json_call(
                &server,
                "GET",
                "/v1/documents?collection=eng",
                t,
                Value::Null
            )
            .0,
            403
        );
        // Whole-index views: refused, or counted within hr.
        assert_eq!(json_call(&server, "GET", "/metrics", t, Value::Null).0, 403);
        let (_, body) = json_call(&server, "GET", "/readyz", t, Value::Null);
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["documents"],
            2,
            "{body}"
        );
        let (status, body) = json_call(&server, "GET", "/v1/ingest/runs", t, Value::Null);
        assert_eq!(status, 200);
        secret(&body);
        let runs: Value = serde_json::from_str(&body).unwrap();
        assert!(!runs["runs"].as_array().unwrap().is_empty(), "{runs}");
        assert!(
            runs["runs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["collection"] == "hr"
                    && r["report"]["added"].is_number()
                    && r["report"].get("documents").is_none()
                    && r["report"].get("chunks").is_none()),
            "the runs into hr, without the whole index's totals: {runs}"
        );
        // Pinning a document of eng: as if there were none.
        let (status, body) = json_call(
            &server,
            "POST",
            "/v1/ask",
            t,
            json!({"question": "Summarize it", "pin": [eng_id(&env)], "extractive": true}),
        );
        assert_eq!(status, 404, "{body}");
        secret(&body);
    }
    // Changing things: the reader may not; the writer only within hr; an eng document is
    // answered as missing, whatever the right.
    let eng = eng_id(&env);
    for token in [&reader, &writer] {
        let t = Some(token.as_str());
        let (status, body) = json_call(
            &server,
            "DELETE",
            &format!("/v1/documents/{eng}"),
            t,
            Value::Null,
        );
        assert_eq!(status, if *token == reader { 403 } else { 404 }, "{body}");
        secret(&body);
        let (status, body) = json_call(
            &server,
            "POST",
            &format!("/v1/documents/{eng}/reingest"),
            t,
            Value::Null,
        );
        assert_eq!(status, if *token == reader { 403 } else { 404 }, "{body}");
        secret(&body);
    }
    let note = (
        "canteen.md",
        "# Canteen\n\nThe staff canteen serves breakfast from seven.\n",
    );
    assert_eq!(upload(&server, &reader, "", &[], note).0, 403);
    let (status, body) = upload(&server, &writer, "?collection=eng", &[], note);
    assert_eq!(status, 403, "{body}");
    // Uploaded into the writer's only collection, with form fields as metadata.
    let (status, body) = upload(&server, &writer, "", &[("team", "catering")], note);
    assert_eq!(status, 201, "{body}");
    secret(&body);
    let up: Value = serde_json::from_str(&body).unwrap();
    let doc = &up["files"][0]["documents"][0];
    assert_eq!(
        (doc["collection"].as_str(), doc["meta"]["team"].as_str()),
        (Some("hr"), Some("catering")),
        "{up}"
    );
    assert_eq!(up["total_documents"], 3, "counted within hr: {up}");
    // Uploads are named from the index folder, and a relative prefix finds them so (the
    // server's working folder is the checkout, the index lies elsewhere).
    let shown = doc["path"].as_str().unwrap();
    assert!(shown.starts_with("uploads/"), "{up}");
    let (status, body) = json_call(
        &server,
        "POST",
        "/v1/search",
        Some(&writer),
        json!({"question": "When does the canteen serve breakfast?", "filter": {"path_prefix": "uploads/"}}),
    );
    assert_eq!(status, 200, "{body}");
    let found: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(hit_paths(&found), [shown], "{found}");
    // A token of two collections names the one it uploads into.
    let (status, body) = upload(&server, &both, "", &[], note);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("name the one to upload into"), "{body}");
    // The same content uploaded into eng by the admin is new there, not a duplicate of hr's.
    let (status, body) = upload(&server, &admin, "?collection=eng", &[], note);
    assert_eq!(status, 201, "{body}");
    // The writer deletes its upload; the admin sees everything, metrics included.
    let id = doc["id"].as_i64().unwrap();
    let (status, body) = json_call(
        &server,
        "DELETE",
        &format!("/v1/documents/{id}"),
        Some(&writer),
        Value::Null,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        json_call(&server, "GET", "/metrics", Some(&admin), Value::Null).0,
        200
    );
    let (_, body) = json_call(&server, "GET", "/v1/documents", Some(&admin), Value::Null);
    assert!(body.contains("parking-and-transport"), "{body}");

    // Listing shows names and rights, never a token; removing one revokes it in the running
    // server, and a token added now works there.
    let listed = env.ok_json(&["token", "list", "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 4, "{listed}");
    assert_eq!(listed[0]["name"], "hr-reader");
    assert_eq!(listed[0]["collections"], json!(["hr"]));
    assert!(!listed.to_string().contains(reader.as_str()));
    let search = |token: &str| {
        json_call(
            &server,
            "POST",
            "/v1/search",
            Some(token),
            json!({"question": PARKING}),
        )
        .0
    };
    let out = env.run(&["token", "remove", "hr-reader"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("within a second"), "{}", stderr(&out));
    assert_eq!(
        env.ok_json(&["token", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let late = env.add_token(&["--collections", "eng", "--name", "late"]);
    until(|| search(&reader) == 401 && search(&late) == 200);
    assert_eq!(search(&writer), 200);
    // A settings file broken by hand leaves the tokens as they were.
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    std::fs::write(env.path("rag.toml"), format!("{config}\n[serve\n")).unwrap();
    until(|| {
        server
            .log
            .lock()
            .unwrap()
            .contains("serve.tokens not read again, the tokens stay as they were")
    });
    assert_eq!((search(&late), search(&reader)), (200, 401));
    // Every token taken out of the file: every caller refused, not an open server.
    let kept = config.split("[[serve.tokens]]").next().unwrap().to_string();
    std::fs::write(env.path("rag.toml"), kept).unwrap();
    until(|| search(&writer) == 401 && search(&admin) == 401 && search(&late) == 401);
    let (status, _) = json_call(
        &server,
        "POST",
        "/v1/search",
        None,
        json!({"question": PARKING}),
    );
    assert_eq!(status, 401);
}

/// Waits (up to 10 s) until `done` holds.
fn until(mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "not reached in 10 s");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The id of the parking page (collection eng).
fn eng_id(env: &Env) -> i64 {
    env.status()["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .ends_with("parking-and-transport.md")
        })
        .unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[test]
fn kiosk_visitors_read_only_the_kiosks_collections() {
    let env = Env::new();
    ingest_split(&env);
    env.append_config("[serve]\nkiosk_collections = [\"eng\"]\n");
    let server = crate::support::start_server_with(env.cmd().args([
        "serve",
        "--kiosk",
        "--addr",
        "127.0.0.1:0",
    ]));
    let ask = |question: &str| {
        let body = json!({"question": question, "extractive": true});
        let (status, text) = json_call(&server, "POST", "/v1/ask", None, body);
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let parking = ask(PARKING);
    assert!(
        source_files(&parking).contains(&"parking-and-transport.md".into()),
        "{parking}"
    );
    let visiting = ask("What are the visiting hours on the general wards?");
    for f in source_files(&visiting) {
        assert!(
            !["visiting-hours.md", "pharmacy.md"].contains(&f.as_str()),
            "{visiting}"
        );
    }
    let body = json!({"question": PARKING, "collections": "hr"});
    assert_eq!(json_call(&server, "POST", "/v1/ask", None, body).0, 403);
}
