use super::*;

#[test]
fn an_index_from_another_schema_version_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rag.sqlite3");
    let old = Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE documents (id INTEGER PRIMARY KEY);",
    )
    .unwrap();
    drop(old);
    let err = Db::open(&path).err().unwrap().to_string();
    assert!(err.contains("written by an older rag"), "{err}");
    assert!(
        err.contains("remove the index folder and run `rag ingest` again"),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
    let db = Db::open(&path).unwrap();
    db.conn
        .execute("UPDATE meta SET value = '99' WHERE key = 'schema'", [])
        .unwrap();
    drop(db);
    let err = Db::open(&path).err().unwrap().to_string();
    assert!(err.contains("schema version 99"), "{err}");
}

#[test]
fn version_2_3_and_4_indexes_are_brought_up_in_place() {
    for from in ["2", "3", "4"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rag.sqlite3");
        let old = Connection::open(&path).unwrap();
        let mut schema = SCHEMA.replace(",\n    encoding TEXT", "");
        assert!(!schema.contains("encoding"), "{schema}");
        if from == "4" {
            schema.push_str(RUNS_TABLE);
        }
        let mut schema = if from == "4" {
            schema
        } else {
            schema
            .replace(
                ",\n    collection TEXT NOT NULL DEFAULT 'default',\n    language TEXT,\n    meta TEXT NOT NULL DEFAULT '{}'",
                "",
            )
            .replace(
                "CREATE INDEX IF NOT EXISTS documents_by_collection ON documents(collection);",
                "",
            )
        };
        if from == "2" {
            schema = schema.replace("    ocr INTEGER NOT NULL DEFAULT 0,\n", "");
        } else if from == "3" {
            // Version 3 had the runs log, without its collection.
            schema.push_str(&RUNS_TABLE.replace(",\n    collection TEXT\n", "\n"));
        }
        assert_eq!(schema.contains("collection"), from == "4", "{schema}");
        old.execute_batch(&schema).unwrap();
        old.execute_batch(&format!(
            "INSERT INTO meta VALUES ('schema', '{from}');
             INSERT INTO documents (path, title, hash, format, bytes, ingested_at) VALUES ('/a.md', 'A', 'h', 'markdown', 1, 0);
             INSERT INTO chunks (doc_id, ord, heading, context, start_line, end_line, tokens, text) VALUES (1, 0, '', '', 1, 1, 1, 'Die Besuchszeiten sind täglich von zehn bis achtzehn Uhr, und der Parkplatz liegt hinter dem Haus.');"
        ))
        .unwrap();
        drop(old);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.meta("schema").unwrap().as_deref(), Some("5"));
        let hits = db.hits(&[1]).unwrap();
        assert!(!hits[0].place.ocr);
        let docs = db.documents().unwrap();
        assert_eq!(docs[0].collection, "default");
        // Detected once, stored (version 4 had stored it already).
        let detected = if from == "4" { None } else { Some("de") };
        assert_eq!(docs[0].language.as_deref(), detected);
        assert!(docs[0].meta.is_empty());
        assert_eq!(docs[0].encoding, None, "unknown before version 5");
        drop(db);
        // Opened again: nothing more to do.
        let db = Db::open(&path).unwrap();
        db.record_run("ingest", Some("default"), "{}").unwrap();
        assert_eq!(db.runs().unwrap()[0].3.as_deref(), Some("default"));
        // An index without the runs table lists none.
        db.conn.execute_batch("DROP TABLE runs").unwrap();
        assert!(db.runs().unwrap().is_empty());
    }
}

#[test]
fn vectors_round_trip_through_blobs() {
    let v = vec![0.25f32, -1.5, 3.0e-7];
    assert_eq!(vector_from_bytes(&vector_bytes(&v)), v);
}
