//! The kiosk and operator pages in headless Chromium, driven as a visitor and an operator
//! would: streaming, citations, the conversation, the idle warning and reset, the quoted draft,
//! four languages on a portrait screen with measured touch targets and contrast, the language
//! switcher, ratings, and the operator's uploads, charts and quality view. With
//! `RAG_KIOSK_SCREENSHOTS=DIR` the screens are saved there (docs/screenshots/ holds the
//! committed ones).

use std::path::Path;

use serde_json::{json, Value};

use crate::support::{http, http_with, root, start_server_with, stderr, Env};

use crate::support::browser::{audit, Browser};

/// The last turn of the conversation, in page scripts.
const LAST: &str = "document.querySelector('.turn:last-child')";

/// Saves a screenshot as `name` when `RAG_KIOSK_SCREENSHOTS` names a folder; checks it is a
/// real picture either way.
fn save(browser: &Browser, name: &str) {
    let png = browser.screenshot();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{name}: {} bytes",
        png.len()
    );
    if let Ok(dir) = std::env::var("RAG_KIOSK_SCREENSHOTS") {
        std::fs::write(Path::new(&dir).join(name), &png).unwrap();
    }
}

/// Types `question` and asks it; waits until the answer (or refusal) is complete.
fn ask(browser: &Browser, question: &str) {
    let before = browser.js("return document.querySelectorAll('.turn').length");
    browser.type_into("#question", question);
    browser.click("#ask");
    browser.wait_for(
        &format!(
            "return document.querySelectorAll('.turn').length === {before} + 1 && !document.getElementById('ask').disabled \
             && ({LAST}.querySelector('.rate button') !== null || !{LAST}.querySelector('.reason').hidden)"
        ),
        "a finished answer",
    );
}

fn text(browser: &Browser, script: &str) -> String {
    browser
        .js(&format!("return {script}"))
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_kiosk_page_streams_an_answer_opens_a_citation_and_warns_before_the_idle_reset() {
    let env = Env::new();
    env.ingest_corpora();
    env.append_config("[serve]\nkiosk_idle_seconds = 6\n[serve.kiosk_handoff]\nen = \"Please ask at the reception desk, ground floor.\"\n");
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    let browser = Browser::start();
    portrait(&browser, &server.addr);
    assert_eq!(
        browser.js("return document.title"),
        json!("Ask the documents")
    );
    // A kiosk logs no questions unless told to, and so shows no notice.
    assert_eq!(
        browser.js("return document.getElementById('notice').hidden"),
        json!(true)
    );

    ask(&browser, "How do I borrow a wheelchair?");
    let answer = text(
        &browser,
        &format!("{LAST}.querySelector('.answer').textContent"),
    );
    assert!(answer.len() > 20, "{answer}");
    // One source cited: it is [1] and listed as 1, whatever its number among those retrieved.
    let numbers = browser.js(&format!(
        "return [Array.from({LAST}.querySelectorAll('.answer .cite')).map(b => b.textContent), \
         Array.from({LAST}.querySelectorAll('.sources li')).map(li => li.value)]"
    ));
    assert_eq!(numbers[0][0], "[1]", "{numbers}");
    assert_eq!(numbers[1][0], 1, "{numbers}");
    // The question asked stays on screen; the box is empty for the next one.
    assert_eq!(
        text(
            &browser,
            &format!("{LAST}.querySelector('.asked').textContent")
        ),
        "You: How do I borrow a wheelchair?"
    );
    assert_eq!(
        browser.js("return document.getElementById('question').value"),
        json!("")
    );
    // The marker opens the passage it cites.
    let n = text(
        &browser,
        &format!("{LAST}.querySelector('.answer .cite').dataset.n"),
    );
    browser.click(".turn:last-child .answer .cite");
    browser.wait_for(
        "return !document.getElementById('passage').hidden",
        "the passage panel",
    );
    let title = text(
        &browser,
        "document.getElementById('passage-title').textContent",
    );
    assert!(title.starts_with("[1] "), "{title}");
    // The passage is the cited chunk, rendered: its words without the markdown around them.
    let passage = text(
        &browser,
        "document.getElementById('passage-text').textContent",
    );
    let cited = env.ask_extractive("How do I borrow a wheelchair?");
    let k: usize = n.parse().unwrap();
    let raw = cited["sources"][k - 1]["text"].as_str().unwrap();
    let words = |t: &str| -> String { t.chars().filter(|c| c.is_alphanumeric()).collect() };
    assert_eq!(words(&passage), words(raw));
    browser.click("#close");
    assert_eq!(
        browser.js("return document.getElementById('passage').hidden"),
        json!(true)
    );

    // Not found: the refusal first, then the site's hand-off, then the closest passages;
    // Start over is there, and the earlier answer is still shown above.
    ask(&browser, "What is the capital of Mongolia?");
    let refusal = browser.js(&format!(
        "const t = {LAST}; return [t.querySelector('.answer').className, t.querySelector('.answer').textContent, \
         t.querySelector('.handoff').textContent, t.querySelector('.sources h3').textContent, \
         Array.from(t.children).filter(c => !c.hidden && c.textContent).map(c => c.className), \
         document.getElementById('start-over').hidden, document.querySelectorAll('.turn').length]"
    ));
    assert_eq!(
        refusal,
        json!([
            "answer notfound",
            "Not found in the documents.",
            "Please ask at the reception desk, ground floor.",
            "Closest passages",
            ["asked", "answer notfound", "handoff", "sources", "rate"],
            false,
            2
        ])
    );
    assert_eq!(
        browser.js("return document.getElementById('status').textContent"),
        json!("")
    );

    // Typed text can be cleared with one touch.
    browser.type_into("#question", "half a question");
    browser.click("#clear");
    assert_eq!(
        browser.js("return [document.getElementById('question').value, document.getElementById('clear').hidden]"),
        json!(["", true])
    );

    // Left alone, a warning counts down first (a third of the idle time); a touch keeps the
    // conversation; left alone again, the screen clears itself.
    let warn = browser.js("return window.ragKiosk.warnSeconds");
    assert_eq!(warn, json!(2));
    browser.wait_for(
        "return !document.getElementById('idle').hidden",
        "the idle warning",
    );
    let warning = text(&browser, "document.getElementById('idle-text').textContent");
    assert!(
        warning.starts_with("No one there? Starting over in "),
        "{warning}"
    );
    browser.click("#keep-going");
    assert_eq!(
        browser.js("return [document.getElementById('idle').hidden, document.querySelectorAll('.turn').length]"),
        json!([true, 2])
    );
    browser.wait_for(
        "return document.querySelectorAll('.turn').length === 0 && document.getElementById('question').value === ''",
        "the idle reset",
    );
    assert_eq!(
        browser.js("return document.getElementById('start-over').hidden"),
        json!(true)
    );

    // A follow-up is read with the question before it, until the reset forgets both.
    let sources = || {
        text(
            &browser,
            &format!("{LAST}.querySelector('.sources').textContent"),
        )
    };
    ask(&browser, "Where can visitors park?");
    ask(&browser, "How much does it cost?");
    let followed = sources();
    assert!(followed.contains("Parking and Getting Here"), "{followed}");
    browser.js("window.ragKiosk.reset()");
    ask(&browser, "How much does it cost?");
    assert!(
        !sources().contains("Parking and Getting Here"),
        "the reset forgot the conversation"
    );
}

/// The draft as a visitor sees it. The stream is fed by hand (the page's `fetch` replaced), so
/// the order of events is what matters here; the real server's draft stream is tested in
/// serve.rs.
#[test]
fn the_kiosk_keeps_the_draft_until_the_model_says_as_much_and_when_the_model_fails() {
    let env = Env::new();
    env.ingest_corpora();
    env.append_config("[serve]\nkiosk_lang = \"de\"\n");
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    let browser = Browser::start();
    portrait(&browser, &server.addr);
    let feed = "delete window.__send; window.fetch = () => Promise.resolve(new Response(new ReadableStream({ start(c) { \
           const enc = new TextEncoder(); \
           window.__send = (name, data) => c.enqueue(enc.encode('event: ' + name + '\\ndata: ' + JSON.stringify(data) + '\\n\\n')); \
           window.__end = () => c.close(); } }), \
           { status: 200, headers: { 'content-type': 'text/event-stream' } }));";
    let source = json!({"n": 2, "doc_id": 1, "chunk_id": 1, "path": "guide.md", "title": "Guide",
        "heading": "Wheelchairs", "format": "markdown", "start_line": 3, "end_line": 4,
        "text": "Wheelchairs are lent at the main desk. Ask the porter."});
    let send = |name: &str, data: Value| browser.js(&format!("window.__send('{name}', {data})"));
    let words = rag::messages::for_code("de");
    let draft = "Rollstühle werden am Hauptschalter verliehen [2]. Fragen Sie den Pförtner [2].";

    for fails in [false, true] {
        browser.js(feed);
        browser.type_into("#question", "Wo leihe ich einen Rollstuhl?");
        browser.click("#ask");
        browser.wait_for("return typeof window.__send === 'function'", "the stream");
        send(
            "retrieval",
            json!({"sources": [source], "evidence": {}, "refused": false}),
        );
        send("draft", json!({"text": draft, "citations": [source]}));
        browser.wait_for(
            &format!("return {LAST}.querySelector('.answer').className === 'answer draft' && {LAST}.querySelectorAll('.answer .cite').length === 2"),
            "the draft with its citations",
        );
        // Source 2 is the first cited: shown as [1].
        assert_eq!(
            text(
                &browser,
                &format!("{LAST}.querySelector('.answer .cite').textContent")
            ),
            "[1]"
        );
        assert_eq!(
            text(&browser, "document.getElementById('status').textContent"),
            format!("{} {}", words.quoted, words.answering)
        );
        // The model's first words do not replace two sentences with half of one.
        send("token", json!({"text": "Am Hauptschalter"}));
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(
            text(
                &browser,
                &format!("{LAST}.querySelector('.answer').className")
            ),
            "answer draft"
        );
        if fails {
            // The model server is down: the draft stays as the answer, with its sources, and
            // the reason is said in the page's language (never an error code).
            send(
                "error",
                json!({"error": {"code": "busy", "message": "all remote models failed"}}),
            );
            browser.wait_for(
                &format!("return !{LAST}.querySelector('.reason').hidden"),
                "the reason",
            );
            let kept = browser.js(&format!(
                "const t = {LAST}; return [t.querySelector('.answer').className, t.querySelectorAll('.answer .cite').length, \
                 t.querySelectorAll('.sources li').length, t.querySelector('.reason').textContent, document.body.innerText.includes('busy')]"
            ));
            assert_eq!(
                kept,
                json!(["answer draft", 2, 1, words.model_failed, false])
            );
            save(&browser, "kiosk-model-failed.png");
        } else {
            send(
                "token",
                json!({"text": " werden Rollstühle verliehen, fragen Sie dort nach einem"}),
            );
            browser.wait_for(
                &format!("return {LAST}.querySelector('.answer').className === 'answer'"),
                "the model's words once as long as the draft",
            );
            send(
                "done",
                json!({"id": "ans_1", "answer": "Am Hauptschalter [2].", "mode": "generated", "sources": [source],
                       "citations": [source], "sentences": []}),
            );
            browser.wait_for(
                &format!("return {LAST}.querySelectorAll('.answer .cite').length === 1 && document.getElementById('status').textContent === ''"),
                "the written answer with its citation",
            );
        }
        browser.js("window.__end()");
    }
}

/// Opens the kiosk at `addr` on a 1080 x 1920 portrait screen.
fn portrait(browser: &Browser, addr: &str) {
    browser.viewport(1080, 1920);
    browser.open(&format!("http://{addr}/"));
    browser.wait_for("return !!window.ragKiosk", "the kiosk script");
}

/// Audits the page: every control at least 60 px, the docked controls in the lower half,
/// every visible text at WCAG AA contrast. Prints and returns the worst contrast ratio.
fn accessible(browser: &Browser, what: &str) -> f64 {
    let a = browser.js(&audit(
        60,
        "#dock button, #dock textarea, #close, #keep-going, #languages-close",
    ));
    assert_eq!(a["small"], json!([]), "{what}: small controls");
    assert_eq!(a["high"], json!([]), "{what}: controls out of reach");
    assert_eq!(a["contrast"], json!([]), "{what}: low contrast");
    assert!(a["controls"].as_u64().unwrap() >= 6, "{what}: {a}");
    eprintln!(
        "{what}: {} controls, the smallest side {} px, worst text contrast {:.2}:1",
        a["controls"],
        a["smallest"],
        a["worst"].as_f64().unwrap()
    );
    a["worst"].as_f64().unwrap()
}

/// The kiosk in English, German, Arabic (right to left) and Chinese on a portrait screen, each
/// answering a question in its own language, with the site's own title; touch targets,
/// reach and contrast measured in each. Saved as `kiosk-LANG.png`.
#[test]
fn the_kiosk_in_four_languages_on_a_portrait_screen() {
    let env = Env::multilingual();
    env.ingest_corpora();
    let browser = Browser::start();
    let cases = [
        (
            "en",
            "Where can visitors park?",
            "Parking and Getting Here",
            "ltr",
        ),
        (
            "de",
            "Wo parken Besucher?",
            "Besucherinformation auf Deutsch",
            "ltr",
        ),
        (
            "ar",
            "أين تقع غرفة الصلاة؟",
            "معلومات الزوار باللغة العربية",
            "rtl",
        ),
        ("zh", "访客应该在哪里停车？", "访客须知（中文）", "ltr"),
    ];
    let mut worst = 99.0f64;
    for (lang, question, doc_title, dir) in cases {
        env.append_config(&format!(
            "[serve]\nkiosk_lang = \"{lang}\"\nlog_questions = \"all\"\n[serve.kiosk_title]\n{lang} = \"City Hospital ({lang})\"\n"
        ));
        let server =
            start_server_with(
                env.cmd()
                    .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
            );
        portrait(&browser, &server.addr);
        let words = rag::messages::for_code(lang);
        assert_eq!(
            browser.js("return [document.title, document.getElementById('title').textContent, document.documentElement.lang, document.documentElement.dir]"),
            json!([format!("City Hospital ({lang})"), format!("City Hospital ({lang})"), lang, dir])
        );
        // Questions are logged here: visitors are told so, in their language.
        assert_eq!(
            text(&browser, "document.getElementById('notice').textContent"),
            rag::messages::fill(words.logging_notice, &[("days", "30")])
        );
        worst = worst.min(accessible(&browser, &format!("{lang}, empty")));
        ask(&browser, question);
        let t = browser.js(&format!(
            "const t = {LAST}; return [t.querySelectorAll('.answer .cite').length > 0, t.querySelector('.sources').textContent, \
             t.querySelector('.sources h3').textContent, document.getElementById('status').textContent, \
             Array.from(t.querySelectorAll('.rate button')).map(b => b.textContent)]"
        ));
        assert_eq!(t[0], json!(true), "{lang}: {t}");
        assert!(t[1].as_str().unwrap().contains(doc_title), "{lang}: {t}");
        assert_eq!(t[2], json!(words.sources_cited));
        assert_eq!(t[3], json!(words.quoted));
        assert_eq!(t[4], json!([words.helpful, words.not_helpful]));
        worst = worst.min(accessible(&browser, &format!("{lang}, answered")));
        save(&browser, &format!("kiosk-{lang}.png"));
        // The cited passage is named by its title; its Close button is within reach.
        browser.click(".turn:last-child .answer .cite");
        let title = text(
            &browser,
            "document.getElementById('passage-title').textContent",
        );
        assert!(title.contains(doc_title), "{title}");
        accessible(&browser, &format!("{lang}, passage"));
        browser.click("#close");
        let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
        let cut = config.rfind("[serve]").unwrap();
        std::fs::write(env.path("rag.toml"), &config[..cut]).unwrap();
    }
    assert!(worst >= 4.5, "worst contrast {worst:.2}");
}

/// The kiosk as a visitor with other needs meets it: text that grows everywhere, a high
/// contrast mode, a focus order that follows the screen, reduced motion honoured, the language
/// switcher, and a rating with a reason that reaches the operator.
#[test]
fn the_kiosk_a_visitor_trusts() {
    let env = Env::new();
    env.ingest_corpora();
    let extra = tempfile::tempdir().unwrap();
    std::fs::write(
        extra.path().join("lifts.md"),
        "# Lifts\n\n## Codes\n\nThe staff lift code is 4711 on every floor. \
         <img src=x onerror=\"window.pwned=1\"> <script>window.pwned=2</script> \
         [call us](javascript:window.pwned=3)\n",
    )
    .unwrap();
    std::fs::copy(
        root().join("tests/fixtures/scan-de.png"),
        extra.path().join("kantine_menu.png"),
    )
    .unwrap();
    let out = env.run(&["ingest", extra.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    env.append_config(
        "[serve]\nlog_questions = \"refused\"\n[serve.kiosk_examples]\nen = [\"Where can visitors park?\", \"Do I need to fast before a blood test?\"]\n",
    );
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    let browser = Browser::start();
    portrait(&browser, &server.addr);

    // The empty screen offers the configured questions; the focus order follows the screen:
    // examples, the question box, Ask, then the tools.
    let examples = browser.js(
        "return Array.from(document.querySelectorAll('#example-list button')).map(b => b.textContent)",
    );
    assert_eq!(
        examples,
        json!([
            "Where can visitors park?",
            "Do I need to fast before a blood test?"
        ])
    );
    // Tab from the page's title, as from the top of the page.
    browser.js("const h = document.getElementById('title'); h.tabIndex = -1; h.focus();");
    let mut order = Vec::new();
    for _ in 0..7 {
        browser.press("\u{E004}");
        order.push(browser.js(
            "const e = document.activeElement; const s = getComputedStyle(e); \
             return [e.id || e.className, s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 3]",
        ));
    }
    assert_eq!(
        order,
        [
            json!(["example", true]),
            json!(["example", true]),
            json!(["question", true]),
            json!(["ask", true]),
            json!(["smaller", true]),
            json!(["larger", true]),
            json!(["contrast", true]),
        ]
    );
    save(&browser, "kiosk-empty.png");

    // Touch alone: an example asks, a marker opens its passage, rendered and marked.
    browser.click("#example-list button");
    browser.wait_for(
        &format!("return document.querySelector('.turn') && {LAST}.querySelectorAll('.rate button').length === 2"),
        "an answer to the example",
    );
    assert_eq!(
        browser.js("return document.getElementById('examples').hidden"),
        json!(true)
    );
    // No server folder anywhere: not on the page, not in what the API told it.
    let page = text(&browser, "document.body.innerText");
    assert!(
        !page.contains(root().to_str().unwrap()) && !page.contains("corpora/"),
        "{page}"
    );
    let sources = text(
        &browser,
        &format!("{LAST}.querySelector('.sources').textContent"),
    );
    assert!(sources.contains("Parking and Getting Here"), "{sources}");
    assert!(
        !sources.contains("Parking and Getting Here \u{2014} Parking and Getting Here"),
        "{sources}"
    );
    browser.click(".turn:last-child .answer .cite");
    let rendered = browser.js("const t = document.getElementById('passage-text'); \
         return [t.textContent.includes('## '), t.querySelectorAll('h2, h3, p').length > 0, \
                 t.querySelectorAll('mark').length > 0]");
    assert_eq!(
        rendered,
        json!([false, true, true]),
        "markdown rendered, quote marked"
    );
    let visible = browser.js(
        "const m = document.querySelector('#passage-text mark').getBoundingClientRect(); \
         const p = document.getElementById('passage-text').getBoundingClientRect(); \
         return m.top >= p.top && m.bottom <= p.bottom",
    );
    assert_eq!(visible, json!(true));
    save(&browser, "kiosk-passage.png");
    browser.click("#close");

    // Larger text grows everything, the answer and its sources included, and controls stay
    // in reach and large.
    let sizes = "const t = document.querySelector('.turn'); return [t.querySelector('.answer'), t.querySelector('.sources button'), \
         document.getElementById('status'), document.getElementById('ask')].map(e => parseFloat(getComputedStyle(e).fontSize))";
    let before: Vec<f64> = serde_json::from_value(browser.js(sizes)).unwrap();
    browser.click("#larger");
    browser.click("#larger");
    browser.click("#larger");
    assert_eq!(
        browser.js("return [document.documentElement.style.fontSize, document.getElementById('larger').disabled]"),
        json!(["200%", true])
    );
    let after: Vec<f64> = serde_json::from_value(browser.js(sizes)).unwrap();
    for (b, a) in before.iter().zip(&after) {
        assert!((a / b - 1.6).abs() < 0.02, "{before:?} -> {after:?}");
    }
    accessible(&browser, "200%");
    save(&browser, "kiosk-larger.png");
    browser.click("#smaller");
    assert_eq!(
        browser.js("return document.documentElement.style.fontSize"),
        json!("175%")
    );

    // High contrast: every text still passes, now against black.
    browser.click("#contrast");
    assert_eq!(
        browser.js("return [getComputedStyle(document.body).backgroundColor, document.getElementById('contrast').getAttribute('aria-pressed')]"),
        json!(["rgb(0, 0, 0)", "true"])
    );
    let worst = accessible(&browser, "high contrast");
    assert!(worst >= 7.0, "high contrast reaches AAA: {worst:.2}");
    save(&browser, "kiosk-contrast.png");

    // Start over restores everything: size, contrast, conversation, examples.
    browser.click("#start-over");
    assert_eq!(
        browser.js(
            "return [document.querySelectorAll('.turn').length, document.getElementById('examples').hidden, \
             document.documentElement.style.fontSize, document.body.classList.contains('contrast')]"
        ),
        json!([0, false, "125%", false])
    );

    // Motion: answers slide in, unless the visitor's system asks for less motion.
    ask(&browser, "Do I need to fast before a blood test?");
    assert_eq!(
        browser.js(&format!("return getComputedStyle({LAST}).animationName")),
        json!("appear")
    );
    browser.cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]}),
    );
    assert_eq!(
        browser.js(&format!("return getComputedStyle({LAST}).animationName")),
        json!("none")
    );
    // A PDF's passage says its page.
    let place = browser.js(&format!(
        "const b = Array.from({LAST}.querySelectorAll('.sources button')).find(b => b.textContent.startsWith('Blood Tests')); \
         b.click(); return document.getElementById('passage-where').textContent"
    ));
    assert!(place.as_str().unwrap().contains("p. 1"), "{place}");
    browser.click("#close");

    // A scan is named by its humanized file name, and its passage says OCR read it.
    ask(&browser, "Was kostet ein Mittagessen in der Kantine?");
    let place = browser.js(&format!(
        "const b = Array.from({LAST}.querySelectorAll('.sources button')).find(b => b.textContent.startsWith('Kantine menu')); \
         if (!b) return {LAST}.querySelector('.sources').textContent; \
         b.click(); return document.getElementById('passage-where').textContent"
    ));
    assert!(
        place
            .as_str()
            .unwrap()
            .contains(rag::messages::for_code("en").scanned),
        "{place}"
    );
    browser.click("#close");

    // A document's own HTML is shown as text and never runs; its links are plain words.
    ask(&browser, "What is the staff lift code?");
    browser.click(".turn:last-child .answer .cite");
    let safe = browser.js(
        "const t = document.getElementById('passage-text'); \
         return [typeof window.pwned, t.querySelectorAll('img, script, a').length, t.textContent.includes('<img src=x')]",
    );
    assert_eq!(safe, json!(["undefined", 0, true]));
    browser.click("#close");

    // The language switcher: every language in its own name; German labels, right-to-left
    // Arabic, Ukrainian too; the reset brings the kiosk's own language back.
    browser.click("#language");
    let names = browser.js(
        "return Array.from(document.querySelectorAll('#language-list button')).map(b => b.textContent)",
    );
    for name in ["English", "Deutsch", "العربية", "中文", "Українська"] {
        assert!(names.as_array().unwrap().contains(&json!(name)), "{names}");
    }
    accessible(&browser, "language list");
    save(&browser, "kiosk-languages.png");
    browser.click("#language-list button[data-lang='ar']");
    let ar = rag::messages::for_code("ar");
    assert_eq!(
        browser.js("return [document.documentElement.dir, document.getElementById('ask').textContent, document.getElementById('question').placeholder, document.getElementById('autonym').textContent]"),
        json!(["rtl", ar.ask, ar.placeholder, "العربية"])
    );
    // Words already on screen follow the switch too.
    assert_eq!(
        text(
            &browser,
            &format!("{LAST}.querySelector('.rate button').textContent")
        ),
        ar.helpful
    );
    browser.js("window.ragKiosk.reset()");
    assert_eq!(
        browser.js("return document.documentElement.lang"),
        json!("en")
    );

    // A refusal rated unhelpful, with a reason: the visitor is thanked, and the operator's
    // view has the question and the reason (this kiosk logs refusals).
    ask(&browser, "What is the capital of Mongolia?");
    browser.click(".turn:last-child .rate .not-helpful");
    browser.wait_for(
        &format!("return {LAST}.querySelector('.rate textarea') !== null"),
        "the reason box",
    );
    browser.type_into(".turn:last-child .rate textarea", "Nothing about Mongolia");
    browser.click(".turn:last-child .rate .send");
    browser.wait_for(
        &format!("return {LAST}.querySelector('.rate textarea') === null"),
        "the reason sent",
    );
    assert_eq!(
        text(
            &browser,
            &format!("{LAST}.querySelector('.rate .thanks').textContent")
        ),
        rag::messages::for_code("en").feedback_thanks
    );
    let report = env.ok_json(&["questions", "report", "--json"]);
    assert_eq!(
        report["unhelpful_answers"][0]["question"],
        json!("What is the capital of Mongolia?"),
        "{report}"
    );
    assert_eq!(
        report["unhelpful_answers"][0]["reason"],
        json!("Nothing about Mongolia")
    );
    // The kiosk itself never serves the log.
    let (status, body) = http(&server.addr, "GET", "/v1/quality", "");
    assert_eq!(status, 403, "{body}");

    // The API a kiosk serves names documents by file name alone, and every answer has an id.
    let (status, body) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        &json!({"question": "Where can visitors park?", "extractive": true}).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    let a: Value = serde_json::from_str(&body).unwrap();
    assert!(a["id"].as_str().unwrap().starts_with("ans_"), "{a}");
    for s in a["sources"].as_array().unwrap() {
        assert!(!s["path"].as_str().unwrap().contains('/'), "{s}");
    }
}

/// The quality loop over HTTP: every answer carries an id; feedback on it is checked and
/// recorded as `serve.log_questions` says; the operator's view lists refused questions
/// (grouped), answers marked unhelpful with their reasons and the most asked; scoped tokens
/// and kiosks do not see it; `rag questions` reports and purges it on the machine.
#[test]
fn feedback_reaches_the_operators_view_and_the_log_keeps_only_what_it_may() {
    let env = Env::new();
    env.ingest_corpora();
    env.append_config("[serve]\nlog_questions = \"refused\"\n");
    let token = |args: &[&str]| -> String {
        let out = env.run(&[&["token", "add"], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find(|w| w.starts_with("rag_"))
            .unwrap()
            .to_string()
    };
    let admin = token(&["--collections", "*", "--write", "--name", "operator"]);
    let scoped = token(&["--collections", "catering", "--name", "team"]);
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let auth = format!("Bearer {admin}");
    let call = |method: &str, path: &str, body: Value| -> (u16, Value) {
        let (status, text) = http_with(
            &server.addr,
            method,
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            body.to_string().as_bytes(),
        );
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let asked = |q: &str| -> Value {
        let (status, a) = call("POST", "/v1/ask", json!({ "question": q }));
        assert_eq!(status, 200, "{a}");
        assert!(a["id"].as_str().unwrap().starts_with("ans_"), "{a}");
        a
    };
    let refused = asked("What is the capital of Mongolia?");
    assert_eq!(refused["mode"], "refused");
    asked("what is the capital of mongolia");
    asked("What's the capital city of Mongolia?");
    let answered = asked("Where can visitors park?");
    let other = asked("How do I borrow a wheelchair?");

    // Rated: unhelpful with a reason (kept with its text: refusals are logged by default),
    // helpful (the verdict alone).
    let (status, r) = call(
        "POST",
        "/v1/feedback",
        json!({"answer_id": answered["id"], "helpful": false, "reason": "It did not say the price"}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["kept"], "with_text");
    let (status, r) = call(
        "POST",
        "/v1/feedback",
        json!({"answer_id": other["id"], "helpful": true}),
    );
    assert_eq!((status, r["kept"].clone()), (200, json!("verdict")));
    // Hostile or mistaken feedback is refused with a reason.
    for (body, want) in [
        (json!({"answer_id": "ans_nope", "helpful": true}), 404),
        (
            json!({"answer_id": "x'; DROP TABLE asked; --", "helpful": true}),
            400,
        ),
        (
            json!({"answer_id": refused["id"], "helpful": false, "reason": "x".repeat(501)}),
            400,
        ),
        (json!({"answer_id": refused["id"], "helpful": "yes"}), 400),
        (
            json!({"answer_id": refused["id"], "helpful": true, "who": "me"}),
            400,
        ),
    ] {
        let (status, r) = call("POST", "/v1/feedback", body.clone());
        assert_eq!(status, want, "{body}: {r}");
        assert!(r["error"]["message"].as_str().is_some(), "{r}");
    }

    let (status, q) = call("GET", "/v1/quality?hours=24", Value::Null);
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["logging"], "refused");
    let report = &q["report"];
    assert_eq!(report["answers"]["refused"], 3, "{report}");
    assert_eq!(
        (report["helpful"].clone(), report["unhelpful"].clone()),
        (json!(1), json!(1))
    );
    // The three wordings of one question are one group.
    assert_eq!(report["refused"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["refused"][0]["count"], 3);
    let unhelpful = &report["unhelpful_answers"][0];
    assert_eq!(unhelpful["question"], "Where can visitors park?");
    assert_eq!(unhelpful["reason"], "It did not say the price");
    assert!(unhelpful["answer"].as_str().unwrap().len() > 10);
    // Only what the setting allows: the helpful answer's question is not kept.
    let top = report["top"].to_string();
    assert!(!top.contains("wheelchair"), "{top}");
    for bad in [
        "/v1/quality?hours=0",
        "/v1/quality?hours=x",
        "/v1/stats?minutes=7",
    ] {
        let (status, r) = call("GET", bad, Value::Null);
        assert_eq!(status, 400, "{bad}: {r}");
    }
    let (status, st) = call("GET", "/v1/stats?minutes=1", Value::Null);
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["answers"], 5, "{st}");
    assert_eq!(st["points"].as_array().unwrap().len(), 6);
    // A token that reads one collection sees neither the log nor the charts.
    for path in ["/v1/quality", "/v1/stats"] {
        let (status, _) = http_with(
            &server.addr,
            "GET",
            path,
            &[("Authorization", &format!("Bearer {scoped}"))],
            b"",
        );
        assert_eq!(status, 403, "{path}");
    }
    drop(server);

    // On the machine: the report, then purged.
    let report = env.ok_json(&["questions", "report", "--json", "--hours", "1"]);
    assert_eq!(report["refused"][0]["count"], 3, "{report}");
    let out = env.run(&["questions", "purge", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("deleted 5 logged answers"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report = env.ok_json(&["questions", "report", "--json"]);
    assert_eq!(report["answers"], json!({}));

    // Logging off: a rating is counted, and no text of any kind is kept.
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    std::fs::write(
        env.path("rag.toml"),
        config.replace("log_questions = \"refused\"", "log_questions = \"off\""),
    )
    .unwrap();
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let (status, text) = http_with(
        &server.addr,
        "POST",
        "/v1/ask",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        json!({"question": "What is the capital of Mongolia?"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    let id = serde_json::from_str::<Value>(&text).unwrap()["id"].clone();
    let (status, text) = http_with(
        &server.addr,
        "POST",
        "/v1/feedback",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        json!({"answer_id": id, "helpful": false, "reason": "private words"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"kept\":\"verdict\""), "{text}");
    drop(server);
    let report = env.ok_json(&["questions", "report", "--json"]);
    assert_eq!(report["unhelpful"], 1, "{report}");
    let all = report.to_string();
    assert!(
        !all.contains("Mongolia") && !all.contains("private words"),
        "{all}"
    );
    // The log lives beside the index, never inside it (snapshots do not carry it).
    assert!(env.path("index.questions.sqlite3").is_file());
}

/// The operator page: the documents with multi-file upload, search, sort, re-ingest and
/// delete (impossible actions off, with the reason; confirmations that time out), charts with
/// axes over a chosen window, the quality view with one click to ask again, the token a
/// guarded server needs asked for alone; never on a kiosk.
#[test]
fn the_operator_page_lists_uploads_deletes_and_charts() {
    let env = Env::new();
    env.ingest_corpora();
    // The golden-question gate, recorded for the page.
    let out = env.run(&[
        "ingest",
        "corpora",
        "--check",
        "tests/golden/questions.jsonl",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A run that skips a file, for the ingest log.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("zeros.txt"), b"\0\0\0\x01data\0\0").unwrap();
    // (Every file skipped: the command says so and exits 0; the run is recorded all the same.)
    env.run(&["ingest", bad.path().to_str().unwrap()]);
    // A document whose file then goes away.
    let gone = bad.path().join("gone.md");
    std::fs::write(&gone, "# Gone\n\nThis file will be deleted.\n").unwrap();
    let out = env.run(&["ingest", gone.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_file(&gone).unwrap();
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    let browser = Browser::start();
    browser.call(
        "POST",
        "/window/rect",
        json!({"width": 1280, "height": 1100}),
    );
    browser.open(&format!("http://{}/admin", server.addr));
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 24",
        "the document list",
    );
    // A server without tokens shows the dashboard, never the token form.
    assert_eq!(
        browser.js("return [document.getElementById('dashboard').hidden, document.getElementById('token-form').hidden]"),
        json!([false, true])
    );
    // Each document's language and last ingest.
    let row = |title: &str| {
        browser.js(&format!(
            "return Array.from(Array.from(document.querySelectorAll('#documents tbody tr')).find(r => r.cells[0].textContent === {title:?}).cells).map(c => c.textContent)"
        ))
    };
    let de = row("Besucherinformation auf Deutsch");
    assert_eq!(de[1], "default", "{de}");
    assert_eq!(de[4], "de", "{de}");
    assert!(de[6].as_str().unwrap().ends_with(" UTC"), "{de}");
    assert_eq!(row("معلومات الزوار باللغة العربية")[4], "ar");
    assert_eq!(row("Parking and Getting Here")[4], "en");
    // Upload two files at once through the page's form: a new one, and one whose content is
    // indexed already, each with its progress and its outcome.
    let upload = tempfile::tempdir().unwrap();
    let file = upload.path().join("canteen.md");
    std::fs::write(
        &file,
        "# Canteen\n\nThe staff canteen serves lunch from 11:30 to 14:00.\n",
    )
    .unwrap();
    let again = upload.path().join("canteen-copy.md");
    std::fs::copy(&file, &again).unwrap();
    browser.type_into("#file", &format!("{}\n{}", file.display(), again.display()));
    browser.type_into("#upload-collection", "catering");
    browser.click("#upload-form button[type=submit]");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 25 && \
         Array.from(document.querySelectorAll('#uploads li span')).every(s => s.className)",
        "the uploaded documents",
    );
    let uploads = browser.js(
        "return Array.from(document.querySelectorAll('#uploads li')).map(li => [li.querySelector('strong').textContent, \
         li.querySelector('progress').value, li.querySelector('span').textContent])",
    );
    assert_eq!(uploads[0], json!(["canteen.md", 1, "Ingested: Canteen."]));
    assert_eq!(uploads[1][0], "canteen-copy.md");
    assert!(
        uploads[1][2]
            .as_str()
            .unwrap()
            .starts_with("Already indexed, unchanged"),
        "{uploads}"
    );
    // Files dropped on the page are uploaded the same way (into the default collection here).
    browser.js("document.getElementById('upload-collection').value = ''");
    browser.js(
        "const dt = new DataTransfer(); \
         dt.items.add(new File(['# Dropped note\\n\\nThe lost and found desk is in the lobby.\\n'], 'dropped.md')); \
         document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));",
    );
    browser.wait_for(
        "return document.querySelector('#uploads li span')?.textContent === 'Ingested: Dropped note.'",
        "the dropped file",
    );
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 26",
        "the dropped document listed",
    );
    let (status, text) = http(&server.addr, "GET", "/v1/documents", "");
    assert_eq!(status, 200);
    let dropped = serde_json::from_str::<Value>(&text).unwrap()["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["title"] == "Dropped note")
        .unwrap()["id"]
        .clone();
    let (status, text) = http(
        &server.addr,
        "DELETE",
        &format!("/v1/documents/{dropped}"),
        "",
    );
    assert_eq!(status, 200, "{text}");
    browser.js("window.ragAdmin.refresh()");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 25",
        "the list without the dropped document",
    );

    // The page shows one collection at a time when asked: documents and runs.
    browser.js("const s = document.getElementById('collection'); s.value = 'catering'; s.dispatchEvent(new Event('change'))");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 1",
        "the catering collection",
    );
    let runs = browser.js(
        "return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => r.cells[2].textContent)",
    );
    assert_eq!(runs, json!(["catering"]), "{runs}");
    browser.js("const s = document.getElementById('collection'); s.value = ''; s.dispatchEvent(new Event('change'))");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 25",
        "every collection again",
    );
    // The ingest log: newest first, the two uploads (dropped, then canteen.md), gone.md's run,
    // then the run that skipped a file, with its reason and no server folder.
    let runs = browser.js(
        "return Array.from(document.querySelectorAll('#runs tbody tr')).map(r => [r.cells[1].textContent, r.cells[6].textContent])",
    );
    let gate = browser.js("return document.getElementById('gate').textContent");
    assert!(
        gate.as_str().unwrap().starts_with("Passed: Recall@20")
            && gate.as_str().unwrap().contains("questions.jsonl"),
        "{gate}"
    );
    assert_eq!(runs[0][0], "upload", "{runs}");
    assert_eq!(runs[1][0], "upload", "{runs}");
    assert_eq!(runs[3][0], "ingest", "{runs}");
    let skipped = runs[3][1].as_str().unwrap();
    assert!(skipped.starts_with("zeros.txt: binary file"), "{skipped}");
    assert!(!skipped.contains(bad.path().to_str().unwrap()), "{skipped}");
    // Re-ingest: the uploaded file is read and cut again; the row says so.
    let canteen = "Array.from(document.querySelectorAll('#documents tbody tr')).find(r => r.cells[0].textContent === 'Canteen')";
    browser.js(&format!(
        "{canteen}.querySelector('.actions button').click()"
    ));
    browser.wait_for(
        &format!(
            "return {canteen}.querySelector('.actions .note')?.textContent === 'Re-ingested.'"
        ),
        "the re-ingest",
    );
    let last = browser.js(
        "const r = document.querySelector('#runs tbody tr'); return [r.cells[1].textContent, r.cells[4].textContent]",
    );
    assert_eq!(last, json!(["reingest", "1"]));
    // A document whose file is gone says so.
    let (_, list) = http(&server.addr, "GET", "/v1/documents", "");
    let list: Value = serde_json::from_str(&list).unwrap();
    let id = list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"].as_str().unwrap().ends_with("gone.md"))
        .unwrap()["id"]
        .clone();
    let (status, text) = http(
        &server.addr,
        "POST",
        &format!("/v1/documents/{id}/reingest"),
        "",
    );
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("is gone: restore it, or delete the document"),
        "{text}"
    );
    let (status, text) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        &json!({"question": "When does the staff canteen serve lunch?", "extractive": true})
            .to_string(),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("11:30"), "{text}");
    // The charts: axes with units and a time scale, over the window chosen; the big number is
    // the window's, and a dash where nothing happened.
    browser.js("window.ragAdmin.sample()");
    browser.wait_for(
        "return document.querySelector('#modes tr[data-mode=\"extractive\"]') !== null && document.getElementById('now-qpm').textContent.includes('/min')",
        "the answer modes and the rate",
    );
    let charts = browser.js(
        "return [document.querySelectorAll('svg line.axis').length, document.querySelector('#chart-qpm .x-label').textContent, \
         document.querySelector('#chart-qpm circle, #chart-qpm polyline') !== null, document.getElementById('now-latency').textContent, \
         document.getElementById('now-tps').textContent]",
    );
    assert_eq!(charts[0], json!(6), "{charts}");
    assert_eq!(charts[1], json!("\u{2212}15 min"), "{charts}");
    assert_eq!(charts[2], json!(true), "{charts}");
    assert!(charts[3].as_str().unwrap().ends_with(" s"), "{charts}");
    assert_eq!(charts[4], json!("\u{2013}"), "no model ran: {charts}");
    browser.click(".window button[data-minutes='60']");
    browser.wait_for(
        "return document.querySelector('#chart-qpm .x-label').textContent === '\u{2212}60 min'",
        "the hour's chart",
    );

    // The quality view: a refused question, listed and asked again with one click.
    let (status, text) = http(
        &server.addr,
        "POST",
        "/v1/ask",
        &json!({"question": "Is there a swimming pool for patients?"}).to_string(),
    );
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"mode\":\"refused\""), "{text}");
    browser.js("window.ragAdmin.loadQuality()");
    browser.wait_for(
        "return Array.from(document.querySelectorAll('#refused tbody tr')).some(r => r.cells[0].textContent.startsWith('Is there a swimming pool'))",
        "the refused question",
    );
    browser.click("#refused tbody tr .actions button");
    browser.wait_for(
        "return document.querySelector('#refused tbody tr .note').textContent === 'Still not found.'",
        "the question asked again",
    );
    browser.viewport(1280, 1900);
    browser.js("window.scrollTo(0, 0)");
    save(&browser, "admin.png");
    browser.viewport(1280, 1000);

    // Search and sort.
    browser.type_into("#search", "blood");
    assert_eq!(
        browser.js("return [document.querySelectorAll('#documents tbody tr').length, document.getElementById('doc-count').textContent]"),
        json!([1, "(1 of 25)"])
    );
    browser.js("const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input'))");
    browser.click("#documents th button[data-sort='chunks']");
    browser.click("#documents th button[data-sort='chunks']");
    let chunks: Vec<u64> = serde_json::from_value(browser.js(
        "return Array.from(document.querySelectorAll('#documents tbody tr')).map(r => Number(r.cells[5].textContent))",
    ))
    .unwrap();
    assert!(chunks.windows(2).all(|w| w[0] >= w[1]), "{chunks:?}");
    assert_eq!(
        browser.js("return document.querySelector('#documents th button[data-sort=chunks]').parentElement.getAttribute('aria-sort')"),
        json!("descending")
    );

    // Delete: a first press arms it for five seconds, then it disarms by itself; pressed
    // twice in time, it removes.
    let delete = format!("{canteen}.querySelector('button.danger').click()");
    browser.js(&delete);
    assert_eq!(
        browser.js(&format!(
            "return {canteen}.querySelector('button.danger').textContent"
        )),
        json!("Confirm delete")
    );
    std::thread::sleep(std::time::Duration::from_millis(5500));
    assert_eq!(
        browser.js(&format!(
            "return {canteen}.querySelector('button.danger').textContent"
        )),
        json!("Delete")
    );
    browser.js(&delete);
    browser.js(&delete);
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 24",
        "the deletion",
    );
    // A document ingested by the operator cannot be deleted over HTTP: its button is off, and
    // the page says why.
    let off = browser.js(
        "const b = document.querySelector('#documents tbody tr button.danger'); \
         return [b.disabled, b.title.includes('delete_ingested'), document.getElementById('delete-note').hidden]",
    );
    assert_eq!(off, json!([true, true, false]));
    drop(server);

    // With tokens, the page asks for one and then shows the documents.
    let token = "operator-token-0123456789";
    env.append_config(&format!("[serve]\ntokens = [\"{token}\"]\n"));
    let server = start_server_with(env.cmd().args(["serve", "--addr", "127.0.0.1:0"]));
    browser.open(&format!("http://{}/admin", server.addr));
    browser.wait_for(
        "return !document.getElementById('token-form').hidden",
        "the token form",
    );
    // The token form alone: no empty dashboard beneath it; a wrong token is said as such.
    assert_eq!(
        browser.js("return document.getElementById('dashboard').hidden"),
        json!(true)
    );
    browser.type_into("#token", "not-the-token-0123456789");
    browser.click("#token-form button");
    browser.wait_for(
        "return document.getElementById('token-error').textContent.includes('did not accept')",
        "the wrong token said",
    );
    browser.js("document.getElementById('token').value = ''");
    browser.type_into("#token", token);
    browser.click("#token-form button");
    browser.wait_for(
        "return document.querySelectorAll('#documents tbody tr').length === 24",
        "the documents with the token",
    );
    drop(server);

    // A kiosk has no operator page (and, without tokens, refuses the ingest log itself).
    let config = std::fs::read_to_string(env.path("rag.toml")).unwrap();
    let cut = config.rfind("[serve]").unwrap();
    std::fs::write(env.path("rag.toml"), &config[..cut]).unwrap();
    let server = start_server_with(
        env.cmd()
            .args(["serve", "--kiosk", "--addr", "127.0.0.1:0"]),
    );
    for path in ["/admin", "/admin.js", "/admin.css"] {
        let (status, _) = http(&server.addr, "GET", path, "");
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = http(&server.addr, "GET", "/v1/ingest/runs", "");
    assert_eq!(status, 403);
}
