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
    /// Note: the evidence is below the refusal threshold (`{score}`, `{threshold}`).
    pub note_refused: &'static str,
    /// Note: the request asked for an extractive answer.
    pub note_extractive: &'static str,
    /// Note: no GGUF model is configured (`{dir}`).
    pub note_no_model: &'static str,
    /// Note: the reader left before the answer began.
    pub note_cancelled: &'static str,
    /// Note: a whole-document answer read only the first parts (`{read}`, `{parts}`).
    pub note_partly_read: &'static str,
    /// Note: only BM25 retrieved (`{reason}`).
    pub note_bm25_only: &'static str,
    /// Why only BM25 retrieved: the embedder did not load (`{error}`).
    pub note_embedder_failed: &'static str,
    /// The extractive answer when no sentence answers the question.
    pub no_direct_answer: &'static str,
    /// A source's page (`{n}`).
    pub page: &'static str,
    /// A source's pages (`{a}`, `{b}`).
    pub pages: &'static str,
    /// A source's lines (`{a}`, `{b}`).
    pub lines: &'static str,
    /// The button that makes the page's text smaller.
    pub smaller: &'static str,
    /// The button that makes the page's text larger.
    pub larger: &'static str,
    /// The heading of the example questions on the empty page.
    pub examples: &'static str,
    /// The button that clears the conversation.
    pub start_over: &'static str,
    /// A passage read by OCR from a scanned page or image.
    pub scanned: &'static str,
}

/// Why an answer is extractive, refused or cut short: said in the question's language by
/// [`Messages::note`]. Technical details (setting names, paths, error text) stay as they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// The evidence score is below `retrieval.refuse_below`.
    Refused {
        /// The question's evidence score.
        score: f32,
        /// `retrieval.refuse_below` in force.
        threshold: f32,
    },
    /// The request asked for an extractive answer.
    ExtractiveRequested,
    /// No GGUF model is configured.
    NoModel {
        /// Where models are looked for.
        dir: String,
    },
    /// The reader left before the answer began.
    Cancelled,
    /// A whole-document answer read only the first parts of a long text.
    PartlyRead {
        /// Parts read.
        read: usize,
        /// Parts in all.
        parts: usize,
    },
}

impl Messages {
    /// `note` in these words.
    pub fn note(&self, note: &Note) -> String {
        match note {
            Note::Refused { score, threshold } => fill(
                self.note_refused,
                &[
                    ("score", &format!("{score:.3}")),
                    ("threshold", &format!("{threshold:.3}")),
                ],
            ),
            Note::ExtractiveRequested => self.note_extractive.to_string(),
            Note::NoModel { dir } => fill(self.note_no_model, &[("dir", dir)]),
            Note::Cancelled => self.note_cancelled.to_string(),
            Note::PartlyRead { read, parts } => fill(
                self.note_partly_read,
                &[("read", &read.to_string()), ("parts", &parts.to_string())],
            ),
        }
    }

    /// The note saying only BM25 retrieved, and why.
    pub fn bm25_only(&self, reason: &str) -> String {
        fill(self.note_bm25_only, &[("reason", reason)])
    }

    /// Why only BM25 retrieved when the embedder failed to load with `error`.
    pub fn embedder_failed(&self, error: &str) -> String {
        fill(self.note_embedder_failed, &[("error", error)])
    }
}

/// `template` with each `{name}` replaced by its value, in one pass (a value's own braces
/// are left alone).
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let named = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (v, close))
        });
        match named {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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
        note_refused: "the evidence score {score} is below retrieval.refuse_below = {threshold}: the documents do not seem to say; the closest passages are listed",
        note_extractive: "extractive mode was requested",
        note_no_model: "no language model is configured (no .gguf in {dir}; see README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "the reader left before the answer began",
        note_partly_read: "the documents are long: only the first {read} of {parts} parts were read",
        note_bm25_only: "BM25 alone retrieved ({reason})",
        note_embedder_failed: "the embedding model could not be loaded: {error}",
        no_direct_answer: "The documents do not answer this directly; the closest passages are listed below.",
        page: "p. {n}",
        pages: "pp. {a}-{b}",
        lines: "lines {a}-{b}",
        smaller: "Smaller text",
        larger: "Larger text",
        examples: "You could ask:",
        start_over: "Start over",
        scanned: "Read from a scanned image",
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
        note_refused: "der Evidenzwert {score} liegt unter retrieval.refuse_below = {threshold}: die Dokumente scheinen dazu nichts zu sagen; die nächstliegenden Abschnitte sind aufgeführt",
        note_extractive: "der extraktive Modus wurde angefordert",
        note_no_model: "kein Sprachmodell ist konfiguriert (keine .gguf-Datei in {dir}; siehe README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "der Leser ist gegangen, bevor die Antwort begann",
        note_partly_read: "die Dokumente sind lang: nur die ersten {read} von {parts} Teilen wurden gelesen",
        note_bm25_only: "nur BM25 wurde für die Suche verwendet ({reason})",
        note_embedder_failed: "das Embedding-Modell konnte nicht geladen werden: {error}",
        no_direct_answer: "Die Dokumente beantworten dies nicht direkt; die nächstliegenden Abschnitte sind unten aufgeführt.",
        page: "S. {n}",
        pages: "S. {a}–{b}",
        lines: "Zeilen {a}–{b}",
        smaller: "Kleinere Schrift",
        larger: "Größere Schrift",
        examples: "Sie könnten fragen:",
        start_over: "Neu beginnen",
        scanned: "Aus einem gescannten Bild gelesen",
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
        note_refused: "le score de preuve {score} est inférieur à retrieval.refuse_below = {threshold} : les documents ne semblent pas le dire ; les passages les plus proches sont listés",
        note_extractive: "le mode extractif a été demandé",
        note_no_model: "aucun modèle de langue n'est configuré (aucun .gguf dans {dir} ; voir le README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "le lecteur est parti avant le début de la réponse",
        note_partly_read: "les documents sont longs : seules les {read} premières parties sur {parts} ont été lues",
        note_bm25_only: "seul BM25 a servi à la recherche ({reason})",
        note_embedder_failed: "le modèle d'embedding n'a pas pu être chargé : {error}",
        no_direct_answer: "Les documents ne répondent pas directement à cette question ; les passages les plus proches sont listés ci-dessous.",
        page: "p. {n}",
        pages: "p. {a}-{b}",
        lines: "lignes {a}-{b}",
        smaller: "Texte plus petit",
        larger: "Texte plus grand",
        examples: "Vous pourriez demander :",
        start_over: "Recommencer",
        scanned: "Lu sur une image numérisée",
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
        note_refused: "la puntuación de evidencia {score} está por debajo de retrieval.refuse_below = {threshold}: los documentos no parecen decirlo; se listan los pasajes más cercanos",
        note_extractive: "se pidió el modo extractivo",
        note_no_model: "no hay ningún modelo de lenguaje configurado (ningún .gguf en {dir}; véase el README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "el lector se fue antes de que empezara la respuesta",
        note_partly_read: "los documentos son largos: solo se leyeron las primeras {read} de {parts} partes",
        note_bm25_only: "la búsqueda usó solo BM25 ({reason})",
        note_embedder_failed: "no se pudo cargar el modelo de embeddings: {error}",
        no_direct_answer: "Los documentos no responden a esto directamente; abajo se listan los pasajes más cercanos.",
        page: "pág. {n}",
        pages: "págs. {a}-{b}",
        lines: "líneas {a}-{b}",
        smaller: "Texto más pequeño",
        larger: "Texto más grande",
        examples: "Puede preguntar:",
        start_over: "Empezar de nuevo",
        scanned: "Leído de una imagen escaneada",
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
        note_refused: "il punteggio di evidenza {score} è sotto retrieval.refuse_below = {threshold}: i documenti non sembrano dirlo; sono elencati i passaggi più vicini",
        note_extractive: "è stata richiesta la modalità estrattiva",
        note_no_model: "nessun modello linguistico è configurato (nessun .gguf in {dir}; vedi il README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "il lettore se n'è andato prima che iniziasse la risposta",
        note_partly_read: "i documenti sono lunghi: sono state lette solo le prime {read} parti su {parts}",
        note_bm25_only: "la ricerca ha usato solo BM25 ({reason})",
        note_embedder_failed: "non è stato possibile caricare il modello di embedding: {error}",
        no_direct_answer: "I documenti non rispondono direttamente a questa domanda; i passaggi più vicini sono elencati qui sotto.",
        page: "p. {n}",
        pages: "pp. {a}-{b}",
        lines: "righe {a}-{b}",
        smaller: "Testo più piccolo",
        larger: "Testo più grande",
        examples: "Potresti chiedere:",
        start_over: "Ricomincia",
        scanned: "Letto da un'immagine scansionata",
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
        note_refused: "a pontuação de evidência {score} está abaixo de retrieval.refuse_below = {threshold}: os documentos não parecem dizê-lo; os trechos mais próximos estão listados",
        note_extractive: "o modo extrativo foi pedido",
        note_no_model: "nenhum modelo de linguagem está configurado (nenhum .gguf em {dir}; veja o README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "o leitor saiu antes de a resposta começar",
        note_partly_read: "os documentos são longos: só foram lidas as primeiras {read} de {parts} partes",
        note_bm25_only: "a pesquisa usou apenas BM25 ({reason})",
        note_embedder_failed: "não foi possível carregar o modelo de embeddings: {error}",
        no_direct_answer: "Os documentos não respondem a isto diretamente; os trechos mais próximos estão listados abaixo.",
        page: "p. {n}",
        pages: "pp. {a}-{b}",
        lines: "linhas {a}-{b}",
        smaller: "Texto menor",
        larger: "Texto maior",
        examples: "Pode perguntar:",
        start_over: "Recomeçar",
        scanned: "Lido de uma imagem digitalizada",
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
        note_refused: "de bewijsscore {score} ligt onder retrieval.refuse_below = {threshold}: de documenten lijken het niet te zeggen; de dichtstbijzijnde passages staan erbij",
        note_extractive: "de extractieve modus is gevraagd",
        note_no_model: "er is geen taalmodel geconfigureerd (geen .gguf in {dir}; zie de README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "de lezer vertrok voordat het antwoord begon",
        note_partly_read: "de documenten zijn lang: alleen de eerste {read} van {parts} delen zijn gelezen",
        note_bm25_only: "alleen BM25 heeft gezocht ({reason})",
        note_embedder_failed: "het embeddingmodel kon niet worden geladen: {error}",
        no_direct_answer: "De documenten beantwoorden dit niet rechtstreeks; de dichtstbijzijnde passages staan hieronder.",
        page: "p. {n}",
        pages: "pp. {a}-{b}",
        lines: "regels {a}-{b}",
        smaller: "Kleinere tekst",
        larger: "Grotere tekst",
        examples: "U kunt bijvoorbeeld vragen:",
        start_over: "Opnieuw beginnen",
        scanned: "Gelezen uit een gescande afbeelding",
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
        note_refused: "wynik dowodowy {score} jest poniżej retrieval.refuse_below = {threshold}: dokumenty chyba tego nie mówią; wymieniono najbliższe fragmenty",
        note_extractive: "zażądano trybu ekstrakcyjnego",
        note_no_model: "nie skonfigurowano modelu językowego (brak pliku .gguf w {dir}; zob. README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "czytelnik odszedł, zanim zaczęła się odpowiedź",
        note_partly_read: "dokumenty są długie: przeczytano tylko pierwsze {read} z {parts} części",
        note_bm25_only: "wyszukiwano tylko przez BM25 ({reason})",
        note_embedder_failed: "nie udało się wczytać modelu osadzeń: {error}",
        no_direct_answer: "Dokumenty nie odpowiadają na to wprost; najbliższe fragmenty wymieniono poniżej.",
        page: "s. {n}",
        pages: "s. {a}-{b}",
        lines: "wiersze {a}-{b}",
        smaller: "Mniejszy tekst",
        larger: "Większy tekst",
        examples: "Możesz zapytać:",
        start_over: "Zacznij od nowa",
        scanned: "Odczytane ze zeskanowanego obrazu",
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
        note_refused: "оценка доказательности {score} ниже retrieval.refuse_below = {threshold}: в документах, похоже, об этом не сказано; приведены ближайшие фрагменты",
        note_extractive: "был запрошен экстрактивный режим",
        note_no_model: "языковая модель не настроена (нет файла .gguf в {dir}; см. README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "читатель ушёл до начала ответа",
        note_partly_read: "документы длинные: прочитаны только первые {read} из {parts} частей",
        note_bm25_only: "поиск выполнен только через BM25 ({reason})",
        note_embedder_failed: "не удалось загрузить модель эмбеддингов: {error}",
        no_direct_answer: "Документы не отвечают на это напрямую; ближайшие фрагменты приведены ниже.",
        page: "с. {n}",
        pages: "с. {a}–{b}",
        lines: "строки {a}–{b}",
        smaller: "Уменьшить текст",
        larger: "Увеличить текст",
        examples: "Можно спросить:",
        start_over: "Начать заново",
        scanned: "Распознано со сканированного изображения",
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
        note_refused: "kanıt puanı {score}, retrieval.refuse_below = {threshold} değerinin altında: belgeler bunu söylemiyor gibi görünüyor; en yakın bölümler listelendi",
        note_extractive: "alıntılama modu istendi",
        note_no_model: "yapılandırılmış bir dil modeli yok ({dir} içinde .gguf yok; bkz. README, 'Adding a Qwen 3.5 model')",
        note_cancelled: "okuyucu yanıt başlamadan ayrıldı",
        note_partly_read: "belgeler uzun: {parts} bölümden yalnızca ilk {read} bölüm okundu",
        note_bm25_only: "arama yalnızca BM25 ile yapıldı ({reason})",
        note_embedder_failed: "gömme modeli yüklenemedi: {error}",
        no_direct_answer: "Belgeler bunu doğrudan yanıtlamıyor; en yakın bölümler aşağıda listelendi.",
        page: "s. {n}",
        pages: "s. {a}-{b}",
        lines: "satır {a}-{b}",
        smaller: "Daha küçük yazı",
        larger: "Daha büyük yazı",
        examples: "Şunu sorabilirsiniz:",
        start_over: "Baştan başla",
        scanned: "Taranmış bir görüntüden okundu",
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
        note_refused: "درجة الدليل {score} أقل من retrieval.refuse_below = {threshold}: لا يبدو أن المستندات تذكر ذلك؛ أُدرجت أقرب المقاطع",
        note_extractive: "طُلب الوضع الاستخراجي",
        note_no_model: "لم يُضبط أي نموذج لغوي (لا يوجد ملف .gguf في {dir}؛ راجع README، 'Adding a Qwen 3.5 model')",
        note_cancelled: "غادر القارئ قبل أن تبدأ الإجابة",
        note_partly_read: "المستندات طويلة: قُرئت أول {read} أجزاء فقط من أصل {parts}",
        note_bm25_only: "استُخدم BM25 وحده في البحث ({reason})",
        note_embedder_failed: "تعذّر تحميل نموذج التضمين: {error}",
        no_direct_answer: "لا تجيب المستندات عن هذا مباشرة؛ أقرب المقاطع مدرجة أدناه.",
        page: "ص. {n}",
        pages: "ص. {a}-{b}",
        lines: "الأسطر {a}-{b}",
        smaller: "تصغير النص",
        larger: "تكبير النص",
        examples: "يمكنك أن تسأل:",
        start_over: "البدء من جديد",
        scanned: "مقروء من صورة ممسوحة ضوئياً",
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
        note_refused: "证据分数 {score} 低于 retrieval.refuse_below = {threshold}：文档中似乎没有相关内容；已列出最接近的段落",
        note_extractive: "已请求摘录模式",
        note_no_model: "未配置语言模型（{dir} 中没有 .gguf 文件；参见 README 的 'Adding a Qwen 3.5 model'）",
        note_cancelled: "读者在回答开始前离开了",
        note_partly_read: "文档较长：{parts} 个部分中只读取了前 {read} 个",
        note_bm25_only: "仅使用 BM25 检索（{reason}）",
        note_embedder_failed: "无法加载嵌入模型：{error}",
        no_direct_answer: "文档没有直接回答这个问题；下面列出了最接近的段落。",
        page: "第 {n} 页",
        pages: "第 {a}-{b} 页",
        lines: "第 {a}-{b} 行",
        smaller: "缩小文字",
        larger: "放大文字",
        examples: "您可以问：",
        start_over: "重新开始",
        scanned: "从扫描图像中识别",
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
        note_refused: "根拠スコア {score} が retrieval.refuse_below = {threshold} を下回っています：文書には記載がないようです。最も近い箇所を示します",
        note_extractive: "抽出モードが指定されました",
        note_no_model: "言語モデルが設定されていません（{dir} に .gguf がありません。README の 'Adding a Qwen 3.5 model' を参照）",
        note_cancelled: "回答が始まる前に読者が離れました",
        note_partly_read: "文書が長いため、{parts} 部分のうち最初の {read} 部分だけを読みました",
        note_bm25_only: "BM25 のみで検索しました（{reason}）",
        note_embedder_failed: "埋め込みモデルを読み込めませんでした：{error}",
        no_direct_answer: "文書はこの質問に直接答えていません。最も近い箇所を下に示します。",
        page: "{n} ページ",
        pages: "{a}-{b} ページ",
        lines: "{a}-{b} 行",
        smaller: "文字を小さく",
        larger: "文字を大きく",
        examples: "たとえば次のように質問できます：",
        start_over: "最初からやり直す",
        scanned: "スキャン画像から読み取り",
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
        note_refused: "근거 점수 {score}이(가) retrieval.refuse_below = {threshold}보다 낮습니다: 문서에 해당 내용이 없는 것 같습니다. 가장 가까운 구절을 나열합니다",
        note_extractive: "추출 모드가 요청되었습니다",
        note_no_model: "언어 모델이 설정되지 않았습니다({dir}에 .gguf 파일 없음, README의 'Adding a Qwen 3.5 model' 참조)",
        note_cancelled: "답변이 시작되기 전에 읽는 사람이 떠났습니다",
        note_partly_read: "문서가 길어 {parts}개 부분 중 처음 {read}개만 읽었습니다",
        note_bm25_only: "BM25만으로 검색했습니다({reason})",
        note_embedder_failed: "임베딩 모델을 불러올 수 없습니다: {error}",
        no_direct_answer: "문서가 이 질문에 직접 답하지 않습니다. 가장 가까운 구절을 아래에 나열합니다.",
        page: "{n}쪽",
        pages: "{a}-{b}쪽",
        lines: "{a}-{b}행",
        smaller: "글자 작게",
        larger: "글자 크게",
        examples: "이렇게 물어보세요:",
        start_over: "처음부터 다시",
        scanned: "스캔한 이미지에서 읽음",
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

    /// The `{name}` placeholders of a template, sorted.
    fn placeholders(s: &str) -> Vec<String> {
        let mut names: Vec<String> = s
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_string()))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn every_translation_keeps_the_english_placeholders() {
        let english = serde_json::to_value(&CATALOG[0]).unwrap();
        for m in &CATALOG[1..] {
            let v = serde_json::to_value(m).unwrap();
            for (key, value) in english.as_object().unwrap() {
                if let (Some(en), Some(s)) = (value.as_str(), v[key].as_str()) {
                    assert_eq!(placeholders(s), placeholders(en), "{} {key}", m.lang);
                }
            }
        }
        assert_eq!(placeholders(CATALOG[0].pages), ["a", "b"]);
    }

    #[test]
    fn notes_are_filled_in_the_chosen_language() {
        let refused = Note::Refused {
            score: 0.3121,
            threshold: 0.41,
        };
        assert_eq!(
            for_code("en").note(&refused),
            "the evidence score 0.312 is below retrieval.refuse_below = 0.410: the documents do not seem to say; the closest passages are listed"
        );
        let de = for_code("de").note(&refused);
        assert!(de.starts_with("der Evidenzwert 0.312 liegt unter"), "{de}");
        let zh = for_code("zh").bm25_only("嵌入失败 {x}");
        assert_eq!(zh, "仅使用 BM25 检索（嵌入失败 {x}）");
        let no_model = for_code("ar").note(&Note::NoModel {
            dir: "models".into(),
        });
        assert!(
            no_model.contains(" models؛") && !no_model.contains("{dir}"),
            "{no_model}"
        );
        assert_eq!(
            fill("{a}-{b} {c} {", &[("a", "1"), ("b", "{a}")]),
            "1-{a} {c} {"
        );
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
