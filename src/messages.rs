//! The words `rag` itself says to people: the refusal answer and the kiosk page's labels and
//! states, in 14 languages. An answer's refusal text follows the question's language; the
//! kiosk page follows `serve.kiosk_lang`, else the browser's languages. English is the fallback.

use serde::Serialize;

/// One language's messages.
#[derive(Debug, Serialize)]
pub struct Messages {
    /// ISO 639-1 code.
    pub lang: &'static str,
    /// Written right to left.
    pub rtl: bool,
    /// The page title and heading.
    pub title: &'static str,
    /// The question box's placeholder.
    pub placeholder: &'static str,
    /// The question box's accessible name.
    pub question_label: &'static str,
    /// The ask button.
    pub ask: &'static str,
    /// The sources heading.
    pub sources: &'static str,
    /// The heading of the sources an answer cites.
    pub sources_cited: &'static str,
    /// The heading of the closest passages shown with a refusal.
    pub closest: &'static str,
    /// The answer when the documents do not answer the question.
    pub not_found: &'static str,
    /// The status line shown with a refusal.
    pub not_found_status: &'static str,
    /// The status line of an extractive answer.
    pub quoted: &'static str,
    /// The status line while retrieving.
    pub searching: &'static str,
    /// The status line while the model answers.
    pub answering: &'static str,
    /// The service answered 503.
    pub busy: &'static str,
    /// The question failed (the HTTP status follows).
    pub failed: &'static str,
    /// The answer's stream broke off.
    pub lost: &'static str,
    /// The passage panel's close button.
    pub close: &'static str,
}

/// Every language with messages; the first is the fallback.
pub static CATALOG: [Messages; 14] = [
    Messages {
        lang: "en",
        rtl: false,
        title: "Ask the documents",
        placeholder: "Type your question",
        question_label: "Question",
        ask: "Ask",
        sources: "Sources",
        sources_cited: "Sources cited",
        closest: "Closest passages",
        not_found: "Not found in the documents.",
        not_found_status: "The documents do not seem to answer this. The closest passages:",
        quoted: "Quoted from the documents.",
        searching: "Searching the documents\u{2026}",
        answering: "Answering\u{2026}",
        busy: "The service is busy. Please try again in a moment.",
        failed: "The question could not be answered",
        lost: "The connection to the service was lost.",
        close: "Close",
    },
    Messages {
        lang: "de",
        rtl: false,
        title: "Fragen Sie die Dokumente",
        placeholder: "Geben Sie Ihre Frage ein",
        question_label: "Frage",
        ask: "Fragen",
        sources: "Quellen",
        sources_cited: "Zitierte Quellen",
        closest: "Nächstliegende Abschnitte",
        not_found: "In den Dokumenten nicht gefunden.",
        not_found_status: "Die Dokumente scheinen darauf keine Antwort zu geben. Die nächstliegenden Abschnitte:",
        quoted: "Aus den Dokumenten zitiert.",
        searching: "Die Dokumente werden durchsucht\u{2026}",
        answering: "Die Antwort wird erstellt\u{2026}",
        busy: "Der Dienst ist ausgelastet. Bitte versuchen Sie es gleich noch einmal.",
        failed: "Die Frage konnte nicht beantwortet werden",
        lost: "Die Verbindung zum Dienst ist abgebrochen.",
        close: "Schließen",
    },
    Messages {
        lang: "fr",
        rtl: false,
        title: "Interrogez les documents",
        placeholder: "Tapez votre question",
        question_label: "Question",
        ask: "Demander",
        sources: "Sources",
        sources_cited: "Sources citées",
        closest: "Passages les plus proches",
        not_found: "Introuvable dans les documents.",
        not_found_status: "Les documents ne semblent pas répondre à cette question. Les passages les plus proches :",
        quoted: "Cité d'après les documents.",
        searching: "Recherche dans les documents\u{2026}",
        answering: "Réponse en cours\u{2026}",
        busy: "Le service est occupé. Veuillez réessayer dans un instant.",
        failed: "La question n'a pas pu recevoir de réponse",
        lost: "La connexion au service a été perdue.",
        close: "Fermer",
    },
    Messages {
        lang: "es",
        rtl: false,
        title: "Pregunte a los documentos",
        placeholder: "Escriba su pregunta",
        question_label: "Pregunta",
        ask: "Preguntar",
        sources: "Fuentes",
        sources_cited: "Fuentes citadas",
        closest: "Pasajes más cercanos",
        not_found: "No se encuentra en los documentos.",
        not_found_status: "Los documentos no parecen responder a esto. Los pasajes más cercanos:",
        quoted: "Citado de los documentos.",
        searching: "Buscando en los documentos\u{2026}",
        answering: "Respondiendo\u{2026}",
        busy: "El servicio está ocupado. Inténtelo de nuevo en un momento.",
        failed: "No se pudo responder a la pregunta",
        lost: "Se perdió la conexión con el servicio.",
        close: "Cerrar",
    },
    Messages {
        lang: "it",
        rtl: false,
        title: "Chiedi ai documenti",
        placeholder: "Scrivi la tua domanda",
        question_label: "Domanda",
        ask: "Chiedi",
        sources: "Fonti",
        sources_cited: "Fonti citate",
        closest: "Passaggi più vicini",
        not_found: "Non trovato nei documenti.",
        not_found_status: "I documenti non sembrano rispondere. I passaggi più vicini:",
        quoted: "Citato dai documenti.",
        searching: "Ricerca nei documenti\u{2026}",
        answering: "Risposta in corso\u{2026}",
        busy: "Il servizio è occupato. Riprova tra un momento.",
        failed: "Non è stato possibile rispondere alla domanda",
        lost: "La connessione al servizio si è interrotta.",
        close: "Chiudi",
    },
    Messages {
        lang: "pt",
        rtl: false,
        title: "Pergunte aos documentos",
        placeholder: "Escreva a sua pergunta",
        question_label: "Pergunta",
        ask: "Perguntar",
        sources: "Fontes",
        sources_cited: "Fontes citadas",
        closest: "Passagens mais próximas",
        not_found: "Não encontrado nos documentos.",
        not_found_status: "Os documentos não parecem responder a isto. As passagens mais próximas:",
        quoted: "Citado dos documentos.",
        searching: "A procurar nos documentos\u{2026}",
        answering: "A responder\u{2026}",
        busy: "O serviço está ocupado. Tente novamente daqui a pouco.",
        failed: "Não foi possível responder à pergunta",
        lost: "A ligação ao serviço perdeu-se.",
        close: "Fechar",
    },
    Messages {
        lang: "nl",
        rtl: false,
        title: "Vraag het de documenten",
        placeholder: "Typ uw vraag",
        question_label: "Vraag",
        ask: "Vragen",
        sources: "Bronnen",
        sources_cited: "Geciteerde bronnen",
        closest: "Dichtstbijzijnde passages",
        not_found: "Niet gevonden in de documenten.",
        not_found_status: "De documenten lijken hier geen antwoord op te geven. De dichtstbijzijnde passages:",
        quoted: "Geciteerd uit de documenten.",
        searching: "De documenten worden doorzocht\u{2026}",
        answering: "Bezig met antwoorden\u{2026}",
        busy: "De dienst is bezet. Probeer het zo meteen opnieuw.",
        failed: "De vraag kon niet worden beantwoord",
        lost: "De verbinding met de dienst is verbroken.",
        close: "Sluiten",
    },
    Messages {
        lang: "pl",
        rtl: false,
        title: "Zapytaj dokumenty",
        placeholder: "Wpisz swoje pytanie",
        question_label: "Pytanie",
        ask: "Zapytaj",
        sources: "Źródła",
        sources_cited: "Cytowane źródła",
        closest: "Najbliższe fragmenty",
        not_found: "Nie znaleziono w dokumentach.",
        not_found_status: "Dokumenty chyba nie odpowiadają na to pytanie. Najbliższe fragmenty:",
        quoted: "Cytat z dokumentów.",
        searching: "Przeszukiwanie dokumentów\u{2026}",
        answering: "Przygotowywanie odpowiedzi\u{2026}",
        busy: "Usługa jest zajęta. Spróbuj ponownie za chwilę.",
        failed: "Nie udało się odpowiedzieć na pytanie",
        lost: "Utracono połączenie z usługą.",
        close: "Zamknij",
    },
    Messages {
        lang: "ru",
        rtl: false,
        title: "Спросите документы",
        placeholder: "Введите ваш вопрос",
        question_label: "Вопрос",
        ask: "Спросить",
        sources: "Источники",
        sources_cited: "Цитируемые источники",
        closest: "Ближайшие фрагменты",
        not_found: "В документах не найдено.",
        not_found_status: "Похоже, документы не отвечают на этот вопрос. Ближайшие фрагменты:",
        quoted: "Цитата из документов.",
        searching: "Поиск в документах\u{2026}",
        answering: "Готовится ответ\u{2026}",
        busy: "Сервис занят. Пожалуйста, повторите попытку чуть позже.",
        failed: "Не удалось ответить на вопрос",
        lost: "Соединение с сервисом потеряно.",
        close: "Закрыть",
    },
    Messages {
        lang: "tr",
        rtl: false,
        title: "Belgelere sorun",
        placeholder: "Sorunuzu yazın",
        question_label: "Soru",
        ask: "Sor",
        sources: "Kaynaklar",
        sources_cited: "Alıntılanan kaynaklar",
        closest: "En yakın bölümler",
        not_found: "Belgelerde bulunamadı.",
        not_found_status: "Belgeler bu soruyu yanıtlamıyor gibi görünüyor. En yakın bölümler:",
        quoted: "Belgelerden alıntılandı.",
        searching: "Belgelerde aranıyor\u{2026}",
        answering: "Yanıtlanıyor\u{2026}",
        busy: "Hizmet meşgul. Lütfen birazdan tekrar deneyin.",
        failed: "Soru yanıtlanamadı",
        lost: "Hizmetle bağlantı kesildi.",
        close: "Kapat",
    },
    Messages {
        lang: "ar",
        rtl: true,
        title: "اسأل المستندات",
        placeholder: "اكتب سؤالك",
        question_label: "السؤال",
        ask: "اسأل",
        sources: "المصادر",
        sources_cited: "المصادر المستشهد بها",
        closest: "أقرب المقاطع",
        not_found: "لم يُعثر على ذلك في المستندات.",
        not_found_status: "لا يبدو أن المستندات تجيب عن هذا. أقرب المقاطع:",
        quoted: "مقتبس من المستندات.",
        searching: "جارٍ البحث في المستندات\u{2026}",
        answering: "جارٍ إعداد الإجابة\u{2026}",
        busy: "الخدمة مشغولة. يُرجى المحاولة مرة أخرى بعد قليل.",
        failed: "تعذّرت الإجابة عن السؤال",
        lost: "انقطع الاتصال بالخدمة.",
        close: "إغلاق",
    },
    Messages {
        lang: "zh",
        rtl: false,
        title: "查询文档",
        placeholder: "请输入您的问题",
        question_label: "问题",
        ask: "提问",
        sources: "来源",
        sources_cited: "引用的来源",
        closest: "最相关的段落",
        not_found: "文档中未找到相关内容。",
        not_found_status: "文档似乎没有回答这个问题。最相关的段落：",
        quoted: "摘自文档。",
        searching: "正在搜索文档\u{2026}",
        answering: "正在回答\u{2026}",
        busy: "服务繁忙，请稍后再试。",
        failed: "无法回答该问题",
        lost: "与服务的连接已断开。",
        close: "关闭",
    },
    Messages {
        lang: "ja",
        rtl: false,
        title: "文書に質問する",
        placeholder: "質問を入力してください",
        question_label: "質問",
        ask: "質問する",
        sources: "出典",
        sources_cited: "引用した出典",
        closest: "最も近い箇所",
        not_found: "文書には見つかりませんでした。",
        not_found_status: "文書にはこの質問への答えがないようです。最も近い箇所：",
        quoted: "文書からの引用です。",
        searching: "文書を検索しています\u{2026}",
        answering: "回答を作成しています\u{2026}",
        busy: "サービスが混み合っています。しばらくしてからもう一度お試しください。",
        failed: "質問に回答できませんでした",
        lost: "サービスとの接続が切れました。",
        close: "閉じる",
    },
    Messages {
        lang: "ko",
        rtl: false,
        title: "문서에 질문하기",
        placeholder: "질문을 입력하세요",
        question_label: "질문",
        ask: "질문",
        sources: "출처",
        sources_cited: "인용된 출처",
        closest: "가장 가까운 구절",
        not_found: "문서에서 찾을 수 없습니다.",
        not_found_status: "문서에 이 질문에 대한 답이 없는 것 같습니다. 가장 가까운 구절:",
        quoted: "문서에서 인용했습니다.",
        searching: "문서를 검색하는 중\u{2026}",
        answering: "답변하는 중\u{2026}",
        busy: "서비스가 혼잡합니다. 잠시 후 다시 시도하세요.",
        failed: "질문에 답할 수 없습니다",
        lost: "서비스와의 연결이 끊어졌습니다.",
        close: "닫기",
    },
];

/// The messages for a language code (`de`, `de-AT`, `zh-Hans-CN`: the primary subtag counts),
/// when there are any.
pub fn find(code: &str) -> Option<&'static Messages> {
    let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    CATALOG.iter().find(|m| m.lang == primary)
}

/// The messages for a language code, else English.
pub fn for_code(code: &str) -> &'static Messages {
    find(code).unwrap_or(&CATALOG[0])
}

/// The messages in the language of `question`, told among the languages of `sources`; English
/// when it cannot be told or has no messages.
pub fn for_question<'a>(
    question: &str,
    sources: impl IntoIterator<Item = &'a str>,
) -> &'static Messages {
    crate::analysis::question_language(question, sources)
        .map_or(&CATALOG[0], |l| for_code(l.code()))
}

/// The first language of an `Accept-Language` header that has messages, by the browser's order
/// of preference (q-values), else English.
pub fn from_accept_language(header: &str) -> &'static Messages {
    let mut ranked: Vec<(f32, usize, &str)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (!tag.is_empty() && q > 0.0).then_some((q, i, tag))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked
        .iter()
        .find_map(|(_, _, tag)| find(tag))
        .unwrap_or(&CATALOG[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_message() {
        for m in &CATALOG {
            let v = serde_json::to_value(m).unwrap();
            for (key, value) in v.as_object().unwrap() {
                if let Some(s) = value.as_str() {
                    assert!(!s.trim().is_empty(), "{} {key}", m.lang);
                }
            }
        }
        let codes: Vec<&str> = CATALOG.iter().map(|m| m.lang).collect();
        for code in [
            "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ru", "tr", "ar", "zh", "ja", "ko",
        ] {
            assert!(codes.contains(&code), "{code}");
        }
        assert!(for_code("ar").rtl && !for_code("zh").rtl);
    }

    #[test]
    fn browser_languages_are_taken_in_order_of_preference() {
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8").lang, "zh");
        assert_eq!(
            from_accept_language("sw;q=1, de-AT;q=0.7, en;q=0.5").lang,
            "de"
        );
        assert_eq!(from_accept_language("en;q=0.2, ar;q=0.9").lang, "ar");
        assert_eq!(from_accept_language("").lang, "en");
        assert_eq!(from_accept_language("xx, yy;q=0").lang, "en");
    }

    #[test]
    fn a_refusal_speaks_the_question_s_language() {
        let source = "Besucher parken im Parkhaus B, Einfahrt über die Mill Road.";
        assert_eq!(
            for_question("Wo können Besucher parken und was kostet es?", [source]).not_found,
            "In den Dokumenten nicht gefunden."
        );
        assert_eq!(for_question("访客应该在哪里停车？", [source]).lang, "zh");
        assert_eq!(for_question("?", []).lang, "en");
    }
}
