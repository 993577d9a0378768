//! The kiosk page in headless Chromium, driven as a visitor would: streaming, citations, the
//! conversation, the idle warning and reset, the quoted draft, four languages on a portrait
//! screen with measured touch targets and contrast, the language switcher and ratings (the
//! operator's side is in operator.rs). With `RAG_KIOSK_SCREENSHOTS=DIR` the screens are saved
//! there (docs/screenshots/ holds the committed ones).

use std::path::Path;

use serde_json::{json, Value};

use crate::support::{http, root, start_server_with, stderr, Env};

use crate::support::browser::{audit, Browser};

/// The last turn of the conversation, in page scripts.
const LAST: &str = "document.querySelector('.turn:last-child')";

/// Saves a screenshot as `name` when `RAG_KIOSK_SCREENSHOTS` names a folder; checks it is a
/// real picture either way.
pub(crate) fn save(browser: &Browser, name: &str) {
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
        send("draft", json!({"text": draft, "citations": [{"n": 2}]}));
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
                json!({"id": "ans_1", "answer": "Am Hauptschalter [2].", "mode": "generated", "sources": [{"n": 2}],
                       "citations": [{"n": 2, "supported": true}], "sentences": []}),
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
