use super::*;

#[test]
fn only_plain_relative_paths_are_accepted() {
    assert!(safe_relative("bm25/meta.json").is_some());
    for bad in ["", "/etc/passwd", "../x", "bm25/../../x", "./x"] {
        assert!(safe_relative(bad).is_none(), "{bad}");
    }
}

#[test]
fn an_index_taken_away_between_the_fallback_renames_is_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("index");
    let replaced = dir.path().join(".index.replaced-1234");
    std::fs::create_dir_all(&replaced).unwrap();
    std::fs::write(replaced.join("rag.sqlite3"), b"x").unwrap();
    recover(&index);
    assert!(index.join("rag.sqlite3").is_file());
    assert!(!replaced.exists());
    // With the index there, nothing moves.
    std::fs::create_dir_all(&replaced).unwrap();
    recover(&index);
    assert!(replaced.exists());
}

#[test]
fn keys_round_trip_and_bad_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.key");
    let public = keygen(&path).unwrap();
    let key = read_signing_key(&path).unwrap();
    assert_eq!(B64.encode(key.verifying_key().as_bytes()), public);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("fleet.key.pub"))
            .unwrap()
            .trim(),
        public
    );
    assert!(parse_public_key(&public).is_ok());
    assert!(parse_public_key("not a key")
        .unwrap_err()
        .contains("base64"));
    let again = keygen(&path).unwrap_err().to_string();
    assert!(again.contains("already exists"), "{again}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the secret is readable by others: {mode:o}"
        );
    }
}
